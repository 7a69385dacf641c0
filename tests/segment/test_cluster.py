"""Customer clusters: recovery of planted groups (k given and chosen by silhouette), stable
ordered labels, readable bilingual descriptions, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from jingzhun.errors import ConfigError
from jingzhun.segment.cluster import DEFAULT_FEATURES, CustomerClusters

# group -> (orders mean, spend per order, recency days, tenure days, discount share, entropy,
#           price index, views, carts, main category, share of the main category)
GROUPS = {
    "vip": (9.0, 450.0, 10, 700, 0.10, 1.6, 1.4, 30, 8, "女装", 0.4),
    "deal_beauty": (4.0, 90.0, 40, 400, 0.85, 0.3, 0.7, 10, 4, "美妆", 0.95),
    "lapsed": (1.0, 120.0, 400, 420, 0.30, 0.0, 1.0, 0, 0, "食品", 0.3),
    "new_browser": (1.2, 200.0, 8, 10, 0.20, 0.1, 1.0, 45, 10, "数码", 0.3),
}
OTHER = ("女装", "男装", "美妆", "食品", "母婴", "数码", "家居", "运动")


def planted_profile(n_per_group: int = 250, seed: int = 0) -> pd.DataFrame:
    """A profile frame of four groups with distinct value/frequency/discount/category profiles;
    column ``group`` is the truth."""
    rng = np.random.default_rng(seed)
    parts = []
    for g, (orders, aov, rec, ten, disc, ent, pidx, views, carts, cat, cat_p) in GROUPS.items():
        n = n_per_group
        o = np.maximum(1, rng.poisson(orders, n)) if orders > 1.5 else np.ones(n, dtype=int)
        aov_i = aov * rng.lognormal(0, 0.25, n)
        top = np.where(rng.random(n) < cat_p, cat, rng.choice(OTHER, n))
        parts.append(pd.DataFrame({
            "customer_id": [f"{g}-{i}" for i in range(n)], "group": g,
            "orders": o.astype("int64"), "avg_order_value": aov_i, "monetary_net": o * aov_i,
            "recency_days": np.maximum(0, rng.normal(rec, rec * 0.25 + 2, n)).round().astype("int64"),
            "tenure_days": np.maximum(0, rng.normal(ten, ten * 0.2 + 2, n)).round().astype("int64"),
            "discount_order_share": np.clip(rng.normal(disc, 0.08, n), 0, 1),
            "category_entropy": np.clip(rng.normal(ent, 0.15, n), 0, None),
            "price_index": rng.lognormal(np.log(pidx), 0.12, n),
            "views_90d": rng.poisson(views, n), "carts_90d": rng.poisson(carts, n),
            "top_category": top,
        }))
    return pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=seed)\
        .reset_index(drop=True)


@pytest.fixture(scope="module")
def planted():
    return planted_profile()


@pytest.fixture(scope="module")
def chosen(planted):
    return CustomerClusters(k_range=(2, 7), random_state=0).fit(planted)


def test_recovers_planted_groups_with_k_given(planted):
    model = CustomerClusters(4, random_state=0).fit(planted)
    assert adjusted_rand_score(planted["group"], model.labels_) >= 0.9
    assert model.k_chosen_by_ == "given" and model.selection_.empty


def test_recovers_planted_groups_with_k_chosen_by_silhouette(planted, chosen):
    assert chosen.n_clusters_ == 4 and chosen.k_chosen_by_ == "silhouette"
    assert adjusted_rand_score(planted["group"], chosen.labels_) >= 0.9
    sel = chosen.selection_
    assert list(sel["k"]) == list(range(2, 8))
    assert sel.loc[sel["silhouette"].idxmax(), "k"] == 4
    assert sel["inertia"].is_monotonic_decreasing  # the elbow chart's curve


def test_gmm_recovers_planted_groups(planted):
    model = CustomerClusters(4, method="gmm", random_state=0).fit(planted)
    assert adjusted_rand_score(planted["group"], model.labels_) >= 0.9


def test_clusters_ordered_by_value_with_sizes_and_shares(planted, chosen):
    means = [planted["monetary_net"][chosen.labels_ == j].mean() for j in range(4)]
    assert means == sorted(means, reverse=True)
    # cluster 0 is the VIP group
    assert planted["group"][chosen.labels_ == 0].value_counts().index[0] == "vip"
    sums = {k: sum(getattr(c, k) for c in chosen.clusters_) for k in ("size", "share", "value_share")}
    assert sums["size"] == len(planted)
    assert sums["share"] == pytest.approx(1) and sums["value_share"] == pytest.approx(1)
    c0 = chosen.clusters_[0]
    assert set(c0.centroid) == set(DEFAULT_FEATURES)
    assert c0.centroid["orders"] == pytest.approx(planted["orders"][chosen.labels_ == 0].mean())
    assert c0.name_en.startswith("High-value") and c0.name_zh.startswith("高价值")
    json.dumps([c.as_dict() for c in chosen.clusters_], ensure_ascii=False)


def test_discount_hunters_buying_beauty_are_described_in_both_languages(planted, chosen):
    beauty = planted["group"].eq("deal_beauty").to_numpy()
    j = np.bincount(chosen.labels_[beauty]).argmax()
    c = chosen.clusters_[j]
    assert "coupons" in c.description_en and "美妆" in c.description_en
    assert "优惠券" in c.description_zh and "美妆" in c.description_zh
    assert c.top_category == "美妆" and c.top_category_share > 0.8
    assert "deal-seeking" in c.name_en and "爱用券" in c.name_zh
    assert "美妆" in c.name_en and "美妆" in c.name_zh
    # words with numbers: "uses coupons on 85% of orders (vs 36% overall)"
    assert "% of orders" in c.description_en
    assert 2 <= len(c.traits) <= 4


def test_lapsed_group_is_described_as_lapsed(planted, chosen):
    lapsed = planted["group"].eq("lapsed").to_numpy()
    c = chosen.clusters_[np.bincount(chosen.labels_[lapsed]).argmax()]
    assert "lapsed" in c.description_en and "久未购买" in c.description_zh


def test_same_seed_gives_identical_labels_and_order(planted, chosen):
    again = CustomerClusters(k_range=(2, 7), random_state=0).fit(planted.copy())
    np.testing.assert_array_equal(again.labels_, chosen.labels_)
    assert [c.name_en for c in again.clusters_] == [c.name_en for c in chosen.clusters_]
    np.testing.assert_array_equal(chosen.predict(planted), chosen.labels_)


def test_missing_values_filled_with_median_and_counted(planted):
    frame = planted.copy()
    frame.loc[:9, "price_index"] = np.nan
    frame["views_90d"] = frame["views_90d"].astype("Int64")
    frame.loc[:4, "views_90d"] = pd.NA
    model = CustomerClusters(4, random_state=0).fit(frame)
    assert model.n_missing_["price_index"] == 10 and model.n_missing_["views_90d"] == 5
    assert model.n_missing_["orders"] == 0
    assert adjusted_rand_score(frame["group"], model.labels_) >= 0.9


def test_missing_feature_is_a_config_error_naming_the_column(planted):
    with pytest.raises(ConfigError, match="'carts_90d'"):
        CustomerClusters(3).fit(planted.drop(columns="carts_90d"))
    with pytest.raises(ConfigError, match="'no_such_column'"):
        CustomerClusters(3, features=["orders", "no_such_column"]).fit(planted)
    with pytest.raises(ConfigError, match="'top_category'.*numeric"):
        CustomerClusters(3, features=["orders", "top_category"]).fit(planted)


@pytest.mark.parametrize("kwargs", [{"n_clusters": 1}, {"method": "dbscan"}, {"k_range": (1, 4)}])
def test_bad_settings_are_config_errors(planted, kwargs):
    with pytest.raises(ConfigError):
        CustomerClusters(**kwargs).fit(planted)


def test_custom_features_and_no_money_column(planted):
    frame = planted.drop(columns=["monetary_net"])
    model = CustomerClusters(4, features=["orders", "recency_days", "discount_order_share"],
                             random_state=0).fit(frame)
    assert model.features_ == ("orders", "recency_days", "discount_order_share")
    assert all(c.value_share is None for c in model.clusters_)
    sizes = [c.size for c in model.clusters_]
    assert sizes == sorted(sizes, reverse=True)
