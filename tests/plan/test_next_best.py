import time

import numpy as np
import pandas as pd
import pytest

from jingzhun.errors import ConfigError, InputError
from jingzhun.plan.next_best import AFFINITY_COLUMNS, category_affinity, next_best_category


def _baskets() -> pd.DataFrame:
    """100 customers: 40 buy 母婴+食品, 10 only 母婴, 20 only 食品, 30 only 服装, plus 1 with
    母婴+服装 who lacks 食品 (the one to recommend to)."""
    rows = []
    cid = 0
    for cats, n in ((["母婴", "食品"], 40), (["母婴"], 10), (["食品"], 20), (["服装"], 29),
                    (["母婴", "服装"], 1)):
        for _ in range(n):
            rows += [(f"c{cid:03d}", c) for c in cats]
            cid += 1
    return pd.DataFrame(rows, columns=["customer_id", "category"])


def test_affinity_numbers_on_a_hand_example():
    aff = category_affinity(_baskets(), min_customers=20)
    assert list(aff.columns) == AFFINITY_COLUMNS
    r = aff[(aff.antecedent == "母婴") & (aff.consequent == "食品")].iloc[0]
    # 51 bought 母婴, 60 bought 食品, 40 both, N = 100
    assert r.customers == 40
    assert r.support == pytest.approx(0.40)
    assert r.confidence == pytest.approx(40 / 51)
    assert r.lift == pytest.approx((40 / 51) / 0.60)
    assert r.lift > 1
    # only the 母婴/食品 pair reaches 20 customers (母婴+服装 has 1)
    assert set(zip(aff.antecedent, aff.consequent, strict=True)) == {("母婴", "食品"), ("食品", "母婴")}


def test_min_customers_respected():
    b = _baskets()
    assert len(category_affinity(b, min_customers=41)) == 0
    assert (category_affinity(b, min_customers=1)["customers"] >= 1).all()
    assert len(category_affinity(b, min_customers=1)) == 4  # 母婴<->食品, 母婴<->服装
    # with a threshold no pair reaches, every recommendation is the popular fallback
    rec = next_best_category(b, min_customers=41)
    assert (rec.source == "popular").all()
    with pytest.raises(ConfigError) as e:
        category_affinity(b, min_customers=0)
    assert e.value.hint


def test_recommends_co_purchased_category_to_a_mother_and_baby_buyer_who_lacks_it():
    rec = next_best_category(_baskets(), min_customers=20)
    assert list(rec.columns) == ["customer_id", "rank", "category", "score", "because", "source"]
    only_baby = rec[rec.customer_id == "c040"].iloc[0]  # bought only 母婴
    assert (only_baby.category, only_baby.because, only_baby.source) == ("食品", "母婴", "co-purchase")
    aff = category_affinity(_baskets())
    r = aff[(aff.antecedent == "母婴") & (aff.consequent == "食品")].iloc[0]
    assert only_baby.score == pytest.approx(r.lift * r.confidence)
    mixed = rec[rec.customer_id == "c099"].iloc[0]  # 母婴 + 服装, lacks 食品
    assert (mixed.category, mixed.because) == ("食品", "母婴")


def test_already_bought_categories_never_recommended():
    b = _baskets()
    rec = next_best_category(b, top_n=3, min_customers=1)
    bought = set(zip(b.customer_id, b.category, strict=True))
    assert not any((c, k) in bought for c, k in zip(rec.customer_id, rec.category, strict=True))
    # nobody bought all three categories, so everybody gets something; no duplicate rank
    assert rec.customer_id.nunique() == b.customer_id.nunique()
    assert not rec.duplicated(["customer_id", "rank"]).any()


def test_popular_fallback_is_labelled():
    rec = next_best_category(_baskets(), min_customers=20)
    clothes = rec[rec.customer_id == "c070"].iloc[0]  # only 服装: no rule from 服装 qualifies
    # 食品 is the most popular (60%) category the customer lacks
    assert (clothes.category, clothes.source, clothes.because) == ("食品", "popular", "popular")
    assert clothes.score == pytest.approx(0.60)
    both = rec[rec.customer_id == "c000"].iloc[0]  # 母婴 + 食品: only 服装 left, popular
    assert (both.category, both.source) == ("服装", "popular")


def test_top_n_ranks_and_customers_with_everything_get_no_row():
    b = pd.concat([_baskets(), pd.DataFrame({"customer_id": ["all"] * 3,
                                             "category": ["母婴", "食品", "服装"]})])
    rec = next_best_category(b, top_n=2, min_customers=20)
    assert "all" not in set(rec.customer_id)
    r = rec[rec.customer_id == "c040"].sort_values("rank")  # only 母婴: 食品 by rule, then 服装
    assert list(r["rank"]) == [1, 2]
    assert list(r.category) == ["食品", "服装"]
    assert list(r.source) == ["co-purchase", "popular"]
    # a customer with one category left gets one row only
    assert list(rec[rec.customer_id == "c000"]["rank"]) == [1]
    assert rec["rank"].between(1, 2).all()
    with pytest.raises(ConfigError):
        next_best_category(b, top_n=0)


def test_given_affinity_is_used_and_rules_with_lift_at_most_one_ignored():
    b = _baskets()
    aff = pd.DataFrame({"antecedent": ["服装"], "consequent": ["母婴"], "support": [0.1],
                        "confidence": [0.9], "lift": [3.0], "customers": [10]})
    rec = next_best_category(b, affinity=aff)
    r = rec[rec.customer_id == "c070"].iloc[0]
    assert (r.category, r.because, r.score) == ("母婴", "服装", pytest.approx(2.7))
    weak = aff.assign(lift=0.8)
    assert (next_best_category(b, affinity=weak).source == "popular").all()


def test_errors_and_empty_input():
    with pytest.raises(InputError) as e:
        next_best_category(pd.DataFrame({"customer_id": [1]}))
    assert "category" in str(e.value) and e.value.hint
    empty = next_best_category(pd.DataFrame({"customer_id": [], "category": []}))
    assert len(empty) == 0 and "source" in empty.columns


def test_vectorised_on_many_customers():
    rng = np.random.default_rng(0)
    n, k = 200_000, 10
    cats = np.array([f"cat{i}" for i in range(k)])
    per = rng.integers(1, 4, n)
    cust = np.repeat(np.arange(n), per)
    b = pd.DataFrame({"customer_id": cust, "category": cats[rng.integers(0, k, len(cust))]})
    t = time.perf_counter()
    rec = next_best_category(b, top_n=2)
    assert time.perf_counter() - t < 10
    assert rec.customer_id.nunique() == n
