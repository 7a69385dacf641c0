"""Interest topics: tokenising Chinese and English product text, customer token counts from
orders and events, LDA topics that separate planted interest groups, perplexity-chosen k."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from jingzhun.errors import ConfigError, InputError
from jingzhun.segment.topics import (
    InterestTopics,
    customer_tokens,
    product_tokens,
    tokenize,
    topic_weights,
)

# two disjoint worlds of categories, subcategories and brands
WORLDS = {
    "beauty_baby": [("美妆", ("面霜", "口红", "精华液"), ("花漾集", "玉容坊")),
                    ("母婴", ("纸尿裤", "奶粉", "婴儿湿巾"), ("贝安", "小禾"))],
    "tech_sport": [("数码", ("蓝牙耳机", "充电宝", "智能手表"), ("极光", "芯动")),
                   ("运动", ("跑步鞋", "瑜伽垫", "哑铃"), ("疾风", "元力"))],
}
STYLES = ("经典款", "新款", "礼盒装", "家庭装")


def planted_tables(n_per_group: int = 60, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Products of two disjoint worlds; each customer buys and views only in its world."""
    rng = np.random.default_rng(seed)
    products, world_of = [], {}
    for world, cats in WORLDS.items():
        for cat, subs, brands in cats:
            for sub in subs:
                for brand in brands:
                    pid = f"P{len(products):03d}"
                    style = STYLES[len(products) % len(STYLES)]
                    products.append({"product_id": pid, "name": f"{brand} {sub} {style}",
                                     "category": cat, "subcategory": sub, "brand": brand})
                    world_of[pid] = world
    products = pd.DataFrame(products)
    orders, lines, events, truth = [], [], [], {}
    for world in WORLDS:
        pids = products["product_id"][products["product_id"].map(world_of) == world].to_numpy()
        for i in range(n_per_group):
            cid = f"{world}-{i:03d}"
            truth[cid] = world
            for o in range(rng.integers(1, 4)):
                oid = f"{cid}-o{o}"
                orders.append({"order_id": oid, "customer_id": cid, "status": "completed",
                               "ordered_at": pd.Timestamp("2026-03-01") + pd.Timedelta(days=int(o))})
                for n, pid in enumerate(rng.choice(pids, rng.integers(1, 3), replace=False)):
                    lines.append({"order_id": oid, "line_no": n + 1, "product_id": pid, "quantity": 1})
            for e in range(rng.integers(0, 4)):
                events.append({"customer_id": cid, "type": "view", "product_id": rng.choice(pids),
                               "occurred_at": pd.Timestamp("2026-03-10") + pd.Timedelta(hours=e)})
    return {"products": products, "orders": pd.DataFrame(orders), "order_lines": pd.DataFrame(lines),
            "events": pd.DataFrame(events), "truth": pd.Series(truth)}


@pytest.fixture(scope="module")
def planted():
    return planted_tables()


@pytest.fixture(scope="module")
def tokens(planted):
    return customer_tokens(planted["order_lines"], planted["orders"], planted["products"],
                           planted["events"])


def test_jieba_cuts_a_chinese_product_name_into_words():
    assert tokenize("女士真丝连衣裙夏季新款") == ["女士", "真丝", "连衣裙", "夏季", "新款"]
    assert tokenize("蓝牙耳机 降噪") == ["蓝牙", "耳机", "降噪"]


def test_english_words_lower_case_without_stop_words_or_numbers():
    assert tokenize("The Classic Running Shoes for Men 2024 v2") == \
        ["classic", "running", "shoes", "men", "v2"]
    assert tokenize("NIKE 跑步鞋 经典款") == ["nike", "跑步", "鞋", "经典"]  # 款 is a stop character
    assert tokenize(None) == [] and tokenize("") == []


def test_product_tokens_keep_category_subcategory_brand_whole():
    p = pd.DataFrame([{"product_id": "p1", "name": "花漾集 面霜 礼盒装", "category": "美妆",
                       "subcategory": "面霜", "brand": "花漾集"}])
    toks = set(product_tokens(p)["token"])
    assert toks == {"cat:美妆", "sub:面霜", "brand:花漾集", "礼盒装"}  # brand not cut into 花漾/集


def test_customer_tokens_count_purchases_and_events_up_to_as_of(planted):
    orders = planted["orders"].copy()
    first = orders.index[0]
    orders.loc[first, "status"] = "cancelled"
    t = customer_tokens(planted["order_lines"], orders, planted["products"], planted["events"],
                        as_of=date(2026, 3, 9))  # before every view
    cid = orders.loc[first, "customer_id"]
    kept = orders[(orders["customer_id"] == cid) & (orders["status"] != "cancelled")]
    lines = planted["order_lines"].merge(kept, on="order_id")
    cats = planted["products"].set_index("product_id").loc[lines["product_id"], "category"]
    expected = {f"cat:{c}": 2.0 * n for c, n in cats.value_counts().items()}
    got = t[(t["customer_id"] == cid) & t["token"].str.startswith("cat:")]
    assert dict(zip(got["token"], got["count"], strict=True)) == expected
    with_views = customer_tokens(planted["order_lines"], planted["orders"], planted["products"],
                                 planted["events"])
    assert with_views["count"].sum() > t["count"].sum()


def test_topics_separate_planted_interest_groups(planted, tokens):
    model = InterestTopics(2, random_state=0).fit(tokens)
    dominant = model.dominant_topic()
    truth = planted["truth"].loc[dominant.index]
    # the topic each world lands in (majority), then the share that matches
    mapping = pd.crosstab(truth, dominant).idxmax(axis=1)
    assert mapping.nunique() == 2
    assert (dominant.to_numpy() == truth.map(mapping).to_numpy()).mean() >= 0.9
    np.testing.assert_allclose(model.topic_mix_.sum(axis=1), 1.0)
    # each topic's top tokens come from one world only
    world_tokens = {w: {x for cat, subs, brands in cats for x in (cat, *subs, *brands)}
                    for w, cats in WORLDS.items()}
    for topic in model.topics_:
        named = {d["token"] for d in topic.top_tokens[:5]} - set(STYLES) - {"经典", "新款"}
        assert any(named <= ws for ws in world_tokens.values()), topic.top_tokens
        assert topic.tag == f"interest:{topic.label}" and topic.label.count("·") == 2
    json.dumps([t.as_dict() for t in model.topics_], ensure_ascii=False)


def test_fit_on_a_sample_then_infer_every_customer(planted, tokens):
    model = InterestTopics(2, random_state=0, fit_size=50).fit(tokens)
    dominant = model.dominant_topic()
    assert len(dominant) == tokens["customer_id"].nunique()
    truth = planted["truth"].loc[dominant.index]
    mapping = pd.crosstab(truth, dominant).idxmax(axis=1)
    assert (dominant.to_numpy() == truth.map(mapping).to_numpy()).mean() >= 0.9


def test_interest_tags_from_dominant_topics(tokens):
    model = InterestTopics(2, random_state=0, tag_threshold=0.6).fit(tokens)
    tags = model.interest_tags()
    assert (tags["weight"] >= 0.6).all()
    assert tags["customer_id"].is_unique  # with threshold > 0.5 at most one tag per customer
    assert len(tags) >= 0.9 * len(model.topic_mix_)
    assert tags["tag"].str.startswith("interest:").all()
    weights = topic_weights(model.topic_mix_)
    assert len(weights) == 2 * len(model.topic_mix_)


def test_same_seed_same_topics(tokens):
    a = InterestTopics(2, random_state=0).fit(tokens)
    b = InterestTopics(2, random_state=0).fit(tokens)
    np.testing.assert_array_equal(a.topic_mix_.to_numpy(), b.topic_mix_.to_numpy())
    assert [t.label for t in a.topics_] == [t.label for t in b.topics_]


def test_perplexity_selection_returns_k_in_range(tokens):
    model = InterestTopics(topic_range=(2, 4), random_state=0, max_iter=20).fit(tokens)
    assert model.k_chosen_by_ == "perplexity"
    assert 2 <= model.n_topics_ <= 4
    assert list(model.selection_["k"]) == [2, 3, 4]
    assert np.isfinite(model.selection_["perplexity"]).all()
    best = model.selection_.loc[model.selection_["perplexity"].idxmin(), "k"]
    assert model.n_topics_ == best


def test_errors(planted, tokens):
    with pytest.raises(ConfigError):
        InterestTopics(1).fit(tokens)
    with pytest.raises(ConfigError):
        InterestTopics(topic_range=(3, 2)).fit(tokens)
    with pytest.raises(InputError, match="'status'"):
        customer_tokens(planted["order_lines"], planted["orders"].drop(columns="status"),
                        planted["products"])
