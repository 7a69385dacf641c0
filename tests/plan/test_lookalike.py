from datetime import date

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

from jingzhun.errors import InputError, ModelError
from jingzhun.plan.lookalike import (
    DEFAULT_FEATURES,
    ORDER_DERIVED,
    LookalikeModel,
    lookalike_features,
)
from jingzhun.warehouse import Warehouse


def _planted(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
    """Buyers whose value is high mostly when they came by referral and view a lot; the
    features also carry order-derived columns that a default model must not use."""
    rng = np.random.default_rng(seed)
    good = rng.random(n) < 0.2
    channel = np.where(good, rng.choice(["referral", "search"], n, p=[0.8, 0.2]),
                       rng.choice(["referral", "search", "ads"], n, p=[0.1, 0.4, 0.5]))
    views = rng.poisson(np.where(good, 12, 3))
    x = pd.DataFrame({
        "gender": rng.choice(["F", "M"], n),
        "acquisition_channel": channel,
        "views_30d": views,
        "views_90d": views + rng.poisson(5, n),
        "days_since_signup": rng.uniform(1, 900, n),
        "monetary_net": rng.normal(0, 1, n),  # order-derived noise: must be ignored by default
        "orders": rng.integers(1, 5, n),
    }, index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))
    value = pd.Series(np.where(good, rng.gamma(5, 200, n), rng.gamma(2, 50, n)), index=x.index)
    return x, value, good


def test_scores_rank_held_out_planted_seeds_above_others():
    x, value, _ = _planted(3000, 1)
    model = LookalikeModel(seed_share=0.2).fit(x.iloc[:2000], value.iloc[:2000])
    assert model.n_seeds_ == 400
    assert model.seed_threshold_ == pytest.approx(value.iloc[:2000].nlargest(400).min())
    assert model.auc_ > 0.8
    hold = x.iloc[2000:]
    hold_seed = (value.iloc[2000:] >= model.seed_threshold_).to_numpy()
    s = model.score(hold)
    assert s.shape == (1000,) and ((s >= 0) & (s <= 1)).all()
    assert roc_auc_score(hold_seed, s) > 0.8


def test_default_features_exclude_order_derived_columns():
    x, value, _ = _planted(500, 2)
    model = LookalikeModel().fit(x, value)
    assert set(model.features_) == {"gender", "acquisition_channel", "views_30d", "views_90d",
                                    "days_since_signup"}
    assert not set(DEFAULT_FEATURES) & set(ORDER_DERIVED)
    for col in ("monetary_net", "monetary_gross", "orders", "recency_days", "tenure_days",
                "avg_order_value", "top_category", "clv"):
        assert col in ORDER_DERIVED and col not in model.features_
    # prospects have no order columns at all: scoring works without them
    assert model.score(x.drop(columns=["monetary_net", "orders"])).shape == (500,)


def test_sklearn_conventions():
    model = LookalikeModel(seed_share=0.3, random_state=7)
    with pytest.raises(NotFittedError):
        model.score(pd.DataFrame({"views_30d": [1]}))
    c = clone(model)
    assert c.get_params()["seed_share"] == 0.3 and c.get_params()["random_state"] == 7
    assert not hasattr(c, "features_")
    x, value, _ = _planted(400, 3)
    a = LookalikeModel(random_state=7).fit(x, value).score(x)
    b = clone(LookalikeModel(random_state=7)).fit(x, value).score(x)
    np.testing.assert_allclose(a, b)


def test_unknown_categories_and_custom_estimator():
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, value, _ = _planted(600, 4)
    model = LookalikeModel(
        estimator=HistGradientBoostingClassifier(categorical_features="from_dtype", max_iter=10),
        features=["acquisition_channel", "views_30d"]).fit(x, value)
    assert model.features_ == ["acquisition_channel", "views_30d"]
    new = pd.DataFrame({"acquisition_channel": ["tv", None], "views_30d": [3, np.nan]})
    s = model.score(new)
    assert s.shape == (2,) and ((s >= 0) & (s <= 1)).all()


def test_errors():
    x, value, _ = _planted(300, 5)
    with pytest.raises(InputError) as e:
        LookalikeModel().fit(x, value.iloc[:-1])
    assert "aligned" in str(e.value) and e.value.hint
    with pytest.raises(InputError):
        LookalikeModel().fit(x, value.set_axis([f"z{i}" for i in range(300)]))
    with pytest.raises(ModelError) as e:
        LookalikeModel(seed_share=0.2).fit(x.iloc[:30], value.iloc[:30])  # 6 seeds
    assert "seeds" in str(e.value) and e.value.hint
    model = LookalikeModel().fit(x, value)
    with pytest.raises(InputError) as e:
        model.score(x.drop(columns=["views_30d"]))
    assert "views_30d" in str(e.value)


def test_lookalike_features_from_profile():
    profile = pd.DataFrame({
        "customer_id": ["a", "b"], "gender": ["F", None], "age_band": ["25-34", "<25"],
        "city": ["杭州", "上海"], "province": ["浙江", "上海"],
        "signup_at": pd.to_datetime(["2024-12-31 00:00", None]).tz_localize("UTC"),
        "views_30d": [3, 0], "monetary_net": [10.0, 0.0], "orders": [1, 0],
        "recency_days": [5, None], "top_category": ["食品", None]})
    customers = pd.DataFrame({"customer_id": ["b", "a"], "acquisition_channel": ["ads", "seo"]})
    f = lookalike_features(profile, customers, as_of=date(2025, 1, 1))
    assert list(f.index) == ["a", "b"]
    assert f.loc["a", "days_since_signup"] == pytest.approx(2.0)  # to the end of 2025-01-01
    assert np.isnan(f.loc["b", "days_since_signup"])
    assert list(f.acquisition_channel) == ["seo", "ads"]
    assert not set(f.columns) & set(ORDER_DERIVED)


def test_fits_on_simulated_buyers_and_scores_prospects(simulated_retailer):
    db, _ = simulated_retailer(3000, 5)
    with Warehouse(db) as wh:
        profile = wh.con.execute("SELECT * FROM customer_profile").fetchdf()
        customers = wh.con.execute(
            "SELECT customer_id, acquisition_channel FROM customers").fetchdf()
    as_of = pd.Timestamp(profile["as_of"].max()).date()
    feats = lookalike_features(profile, customers, as_of=as_of)
    orders = profile.set_index("customer_id")["orders"].reindex(feats.index).fillna(0)
    buyers, prospects = feats[orders > 0], feats[orders == 0]
    assert len(prospects) > 0
    value = profile.set_index("customer_id").loc[buyers.index, "monetary_net"]
    model = LookalikeModel().fit(buyers, value)
    assert "acquisition_channel" in model.features_ and "days_since_signup" in model.features_
    s = model.score(prospects)
    assert s.shape == (len(prospects),)
    assert np.isfinite(s).all() and ((s >= 0) & (s <= 1)).all()
    assert 0 <= model.auc_ <= 1
