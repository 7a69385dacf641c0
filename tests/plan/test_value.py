"""Expected incremental profit per (customer, channel, offer): hand-computed per offer type."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from jingzhun.errors import ContractError, InputError
from jingzhun.plan.spec import ChannelSpec, ContentSpec, OfferSpec
from jingzhun.plan.value import (
    COLUMNS,
    SOURCE_FALLBACK,
    SOURCE_MODEL,
    SOURCE_MODEL_NO_BASELINE,
    SOURCE_NO_ORDER_VALUE,
    SOURCE_NONE,
    expected_profit,
)

SMS = ChannelSpec(name="sms", cost_per_contact=0.5)
EMAIL = ChannelSpec(name="email", cost_per_contact=0.1, uplift_factor=0.5)
NONE = OfferSpec(offer_id="none")
PCT = OfferSpec(offer_id="pct10", type="percent", value=0.10, redemption_rate=0.5, uplift_factor=2.0)
FIXED = OfferSpec(offer_id="fixed20", type="fixed", value=20, min_order=150, uplift_factor=1.5)
SHIP = OfferSpec(offer_id="ship", type="free_shipping", value=8, redemption_rate=0.8, uplift_factor=1.2)
POINTS = OfferSpec(offer_id="points", type="points", value=5, redemption_rate=0.6)
OFFERS = [NONE, PCT, FIXED, SHIP, POINTS]
DEFAULT = [ContentSpec(content_id="default")]


def _customers(rows, language=None) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["customer_id", "uplift", "response", "order_value", "segment"])
    if language is not None:
        df["language"] = language
    return df


def _value(df, **kw) -> pd.DataFrame:
    kw = {"channels": [SMS, EMAIL], "offers": OFFERS, "contents": DEFAULT, "margin_rate": 0.4} | kw
    return expected_profit(df, **kw)


def _row(out, cid, channel, offer) -> pd.Series:
    hit = out[(out["customer_id"] == cid) & (out["channel"] == channel) & (out["offer_id"] == offer)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_hand_computed_per_offer_type():
    # uplift 0.05, response 0.25 -> baseline 0.20; order value 200; margin 40%
    out = _value(_customers([("a", 0.05, 0.25, 200.0, "loyal")]))
    assert list(out.columns) == list(COLUMNS)
    assert len(out) == 2 * 5
    expected = {  # offer: (uplift, revenue, offer cost, value) on sms (0.5 per contact)
        "none": (0.05, 10.0, 0.0, 10 * 0.4 - 0.5),
        "pct10": (0.10, 20.0, (0.20 + 0.10) * 0.5 * 20, 20 * 0.4 - 0.5 - 3.0),            # 4.5
        "fixed20": (0.075, 15.0, (0.20 + 0.075) * 1.0 * 20, 15 * 0.4 - 0.5 - 5.5),        # 0.0
        "ship": (0.06, 12.0, (0.20 + 0.06) * 0.8 * 8, 12 * 0.4 - 0.5 - 1.664),           # 2.636
        "points": (0.05, 10.0, (0.20 + 0.05) * 0.6 * 5, 10 * 0.4 - 0.5 - 0.75),          # 2.75
    }
    for offer, (uplift, revenue, offer_cost, value) in expected.items():
        r = _row(out, "a", "sms", offer)
        assert r["baseline_prob"] == pytest.approx(0.20)
        assert r["expected_uplift"] == pytest.approx(uplift)
        assert r["expected_incremental_conversions"] == pytest.approx(uplift)
        assert r["expected_incremental_revenue"] == pytest.approx(revenue)
        assert r["contact_cost"] == pytest.approx(0.5)
        assert r["expected_offer_cost"] == pytest.approx(offer_cost)
        assert r["value"] == pytest.approx(value)
        assert r["cost"] == pytest.approx(0.5 + offer_cost)
        assert r["value_source"] == SOURCE_MODEL
        assert r["option"] == f"sms|{offer}|default" and r["content_id"] == "default"
    # the channel's uplift factor halves the uplift on email
    r = _row(out, "a", "email", "none")
    assert r["expected_uplift"] == pytest.approx(0.025) and r["value"] == pytest.approx(5 * 0.4 - 0.1)
    r = _row(out, "a", "email", "pct10")  # uplift 0.05, cost (0.2 + 0.05) x 0.5 x 20 = 2.5
    assert r["value"] == pytest.approx(10 * 0.4 - 0.1 - 2.5)


def test_discount_to_would_buy_anyway_lowers_value():
    # same uplift, more customers who would have bought anyway: the discount costs more
    out = _value(_customers([("low", 0.05, 0.10, 200.0, "s"), ("high", 0.05, 0.85, 200.0, "s")]))
    lo, hi = _row(out, "low", "sms", "pct10"), _row(out, "high", "sms", "pct10")
    assert lo["expected_incremental_revenue"] == hi["expected_incremental_revenue"]
    assert hi["value"] == pytest.approx(lo["value"] - 0.5 * 20 * (0.80 - 0.05))
    assert hi["value"] < 0 < lo["value"]
    # without an offer the baseline does not matter
    assert _row(out, "low", "sms", "none")["value"] == _row(out, "high", "sms", "none")["value"]


def test_min_order_and_clipping():
    out = _value(_customers([("small", 0.05, 0.25, 100.0, "s"), ("sure", 0.5, 0.9, 200.0, "s")]))
    # a 100-yuan order cannot reach the 150 minimum: no cost, no extra lift (same as no offer)
    r = _row(out, "small", "sms", "fixed20")
    assert r["expected_offer_cost"] == 0 and r["expected_uplift"] == pytest.approx(0.05)
    assert r["value"] == pytest.approx(_row(out, "small", "sms", "none")["value"])
    # baseline 0.4 + uplift 0.5 x 2 would exceed 1: the uplift is clipped to 0.6
    r = _row(out, "sure", "sms", "pct10")
    assert r["expected_uplift"] == pytest.approx(0.6)
    assert r["expected_offer_cost"] == pytest.approx(1.0 * 0.5 * 20)


def test_negative_uplift_is_kept_and_bounded_by_baseline():
    out = _value(_customers([("dog", -0.3, 0.1, 100.0, "s")]))
    r = _row(out, "dog", "sms", "none")
    assert r["baseline_prob"] == pytest.approx(0.4)  # 0.1 - (-0.3)
    assert r["expected_uplift"] == pytest.approx(-0.3) and r["value"] < 0
    r = _row(out, "dog", "sms", "pct10")  # -0.6 clipped at -baseline = -0.4
    assert r["expected_uplift"] == pytest.approx(-0.4)


def test_content_by_segment_then_language_then_default():
    contents = [ContentSpec(content_id="vip_zh", segment="loyal", language="zh"),
                ContentSpec(content_id="vip", segment="loyal"),
                ContentSpec(content_id="en", language="en"),
                ContentSpec(content_id="default")]
    df = _customers([("a", 0.1, 0.2, 100.0, "loyal"), ("b", 0.1, 0.2, 100.0, "loyal"),
                     ("c", 0.1, 0.2, 100.0, "new"), ("d", 0.1, 0.2, 100.0, "new"),
                     ("e", 0.1, 0.2, 100.0, None)], language=["zh", "en", "en", "zh", None])
    out = _value(df, contents=contents)
    got = out.drop_duplicates("customer_id").set_index("customer_id")["content_id"].to_dict()
    assert got == {"a": "vip_zh", "b": "vip", "c": "en", "d": "default", "e": "default"}
    assert (out.groupby("customer_id")["content_id"].nunique() == 1).all()
    # without a language column: by segment, else the default; without a default: the first listed
    out = _value(df.drop(columns="language"), contents=contents[1:])
    got = out.drop_duplicates("customer_id").set_index("customer_id")["content_id"].to_dict()
    assert got == {"a": "vip", "b": "vip", "c": "default", "d": "default", "e": "default"}
    out = _value(df.drop(columns="language"), contents=[ContentSpec(content_id="only", segment="x")])
    assert set(out["content_id"]) == {"only"}


def test_fallback_rows_labelled_and_no_model_rows_marked():
    df = _customers([("m", 0.05, 0.25, 200.0, "new"), ("f", math.nan, math.nan, 200.0, "new"),
                     ("fr", math.nan, 0.12, 200.0, "new"), ("x", math.nan, math.nan, 200.0, "other"),
                     ("nr", 0.05, math.nan, 200.0, "other"), ("nov", 0.05, 0.2, math.nan, "new")])
    out = _value(df, fallback_rates={"new": 0.02})
    src = out.drop_duplicates("customer_id").set_index("customer_id")["value_source"].to_dict()
    assert src == {"m": SOURCE_MODEL, "f": SOURCE_FALLBACK, "fr": SOURCE_FALLBACK, "x": SOURCE_NONE,
                   "nr": SOURCE_MODEL_NO_BASELINE, "nov": SOURCE_NO_ORDER_VALUE}
    r = _row(out, "f", "sms", "none")  # fallback uplift 0.02, baseline unknown -> 0
    assert r["expected_uplift"] == pytest.approx(0.02) and r["value"] == pytest.approx(4 * 0.4 - 0.5)
    assert _row(out, "fr", "sms", "none")["baseline_prob"] == pytest.approx(0.10)
    # no model: the rows are there (so the plan can say why) but their value is NaN
    x = out[out["customer_id"] == "x"]
    assert len(x) == 10 and x["value"].isna().all() and x["expected_uplift"].isna().all()
    assert (x["contact_cost"] > 0).all()
    assert (x.loc[x["offer_id"] == "none", "expected_offer_cost"] == 0).all()
    assert out.loc[out["customer_id"] == "nov", "value"].isna().all()
    # without fallback rates the fallback customers have no model either
    out = _value(df)
    assert out.loc[out["customer_id"] == "f", "value_source"].eq(SOURCE_NONE).all()


def test_row_order_shape_and_errors():
    df = _customers([("b", 0.1, 0.2, 50.0, "s"), ("a", 0.1, 0.2, 50.0, "s")])
    out = _value(df, channels=[SMS], offers=[NONE, PCT])
    assert list(zip(out["customer_id"], out["offer_id"], strict=True)) == [
        ("b", "none"), ("b", "pct10"), ("a", "none"), ("a", "pct10")]
    empty = _value(df.iloc[:0])
    assert empty.empty and list(empty.columns) == list(COLUMNS)
    assert np.isfinite(out["value"]).all()
    with pytest.raises(ContractError):
        _value(df.drop(columns="order_value"))
    with pytest.raises(InputError):
        _value(pd.concat([df, df]))
    with pytest.raises(InputError):
        _value(df.assign(response=1.5))
    with pytest.raises(InputError):
        _value(df, margin_rate=2.0)
    with pytest.raises(InputError):
        _value(df, offers=[])


def test_conversion_value_prices_the_extra_conversion_but_not_the_offer():
    """A retention campaign values a kept customer at their CLV; the coupon still costs a share
    of one order."""
    df = _customers([("a", 0.05, 0.25, 200.0, "loyal"), ("b", 0.05, 0.25, 200.0, "loyal")])
    df["conversion_value"] = [1000.0, np.nan]  # b: NaN falls back to the order value
    out = _value(df)
    a, b = _row(out, "a", "sms", "pct10"), _row(out, "b", "sms", "pct10")
    assert a["expected_incremental_revenue"] == pytest.approx(0.10 * 1000.0)
    assert a["expected_offer_cost"] == pytest.approx(b["expected_offer_cost"]) == pytest.approx(3.0)
    assert a["value"] == pytest.approx(100 * 0.4 - 0.5 - 3.0)
    assert b["expected_incremental_revenue"] == pytest.approx(20.0)
