"""Campaign economics (the issue's worked example), the plan forecast and the mass baseline."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from jingzhun.errors import ContractError, InputError
from jingzhun.plan.forecast import Economics, campaign_economics, forecast, mass_baseline
from jingzhun.plan.spec import ChannelSpec

# -- the worked example: targeted modelling vs rule-based mass contact ---------------------------

def test_worked_example_mass_contact():
    e = campaign_economics(20_000, 5.0, 474, 210.0)
    assert isinstance(e, Economics)
    assert e.cost == 100_000
    assert e.revenue == 99_540
    assert round(e.response_rate * 100, 2) == 2.37
    assert e.revenue_to_cost == pytest.approx(0.9954)
    assert f"{e.revenue_to_cost:.0%}" == "100%"  # the field truncates to "99%"
    assert math.floor(e.revenue_to_cost * 100) == 99
    assert e.profit is None and e.roi is None


def test_worked_example_model_targeting():
    e = campaign_economics(2_000, 12.5, 222, 210.0)
    assert e.cost == 25_000
    assert e.revenue == 46_620
    assert round(e.response_rate * 100, 2) == 11.10
    assert e.revenue_to_cost == pytest.approx(1.8648)
    assert math.floor(e.revenue_to_cost * 100) == 186


def test_worked_example_profit_based_roi():
    # with a 30% gross margin neither campaign pays for itself: the revenue ratio hides it
    mass = campaign_economics(20_000, 5.0, 474, 210.0, margin_rate=0.3)
    model = campaign_economics(2_000, 12.5, 222, 210.0, margin_rate=0.3)
    assert mass.profit == pytest.approx(99_540 * 0.3 - 100_000)  # -70,138
    assert mass.roi == pytest.approx(-70_138 / 100_000)
    assert model.profit == pytest.approx(46_620 * 0.3 - 25_000)  # -11,014
    assert model.roi == pytest.approx(-11_014 / 25_000)
    assert model.roi > mass.roi
    # at a 60% margin the model's campaign is profitable, the mass contact is not
    assert campaign_economics(2_000, 12.5, 222, 210.0, margin_rate=0.6).profit == pytest.approx(2_972)
    assert campaign_economics(20_000, 5.0, 474, 210.0, margin_rate=0.6).profit < 0


def test_fixed_cost_and_degenerate_inputs():
    e = campaign_economics(100, 1.0, 10, 50.0, margin_rate=0.5, fixed_cost=400.0)
    assert e.cost == 500 and e.profit == pytest.approx(250 - 500) and e.roi == pytest.approx(-0.5)
    zero = campaign_economics(0, 5.0, 0, 210.0, margin_rate=0.3)
    assert math.isnan(zero.response_rate) and math.isnan(zero.revenue_to_cost) and zero.roi is None
    with pytest.raises(InputError):
        campaign_economics(-1, 5.0, 0, 210.0)
    with pytest.raises(InputError):
        campaign_economics(10, 5.0, 11, 210.0)
    with pytest.raises(InputError):
        campaign_economics(10, 5.0, 1, 210.0, margin_rate=1.5)


# -- forecast and mass baseline on a small frame ------------------------------------------------

def _options() -> pd.DataFrame:
    # customer, channel, offer, conversions, revenue, contact cost, offer cost
    rows = [
        ("a", "sms", "none", 0.10, 20.0, 0.5, 0.0),
        ("a", "sms", "pct10", 0.20, 40.0, 0.5, 6.0),
        ("a", "email", "none", 0.05, 10.0, 0.1, 0.0),
        ("a", "email", "pct10", 0.15, 30.0, 0.1, 5.0),
        ("b", "sms", "none", 0.02, 4.0, 0.5, 0.0),
        ("b", "sms", "pct10", 0.04, 8.0, 0.5, 1.0),
        ("c", "sms", "none", 0.30, 90.0, 0.5, 0.0),
    ]
    df = pd.DataFrame(rows, columns=["customer_id", "channel", "offer_id",
                                     "expected_incremental_conversions",
                                     "expected_incremental_revenue", "contact_cost",
                                     "expected_offer_cost"])
    df["cost"] = df["contact_cost"] + df["expected_offer_cost"]
    df["value"] = df["expected_incremental_revenue"] * 0.5 - df["cost"]
    return df


def test_forecast_totals_by_hand():
    df = _options()
    chosen = df.iloc[[1, 5, 6]]  # a sms|pct10, b sms|pct10, c sms|none
    f = forecast(chosen, margin_rate=0.5)
    assert f["contacts"] == 3
    assert f["contacts_by_channel"] == {"sms": 3}
    assert f["contact_cost"] == pytest.approx(1.5)
    assert f["offer_cost"] == pytest.approx(7.0)
    assert f["cost"] == pytest.approx(8.5)
    assert f["expected_incremental_conversions"] == pytest.approx(0.54)
    assert f["incremental_revenue"] == pytest.approx(138.0)
    assert f["incremental_profit"] == pytest.approx(69.0 - 8.5)
    assert f["incremental_profit"] == pytest.approx(chosen["value"].sum())
    assert f["roi"] == pytest.approx(60.5 / 8.5)
    assert f["revenue_to_cost"] == pytest.approx(138.0 / 8.5)
    assert f["contacts_without_estimate"] == 0


def test_forecast_empty_and_missing_columns():
    f = forecast(_options().iloc[:0], margin_rate=0.5)
    assert f["contacts"] == 0 and f["cost"] == 0 and f["roi"] is None and f["revenue_to_cost"] is None
    with pytest.raises(ContractError):
        forecast(_options().drop(columns="contact_cost"), margin_rate=0.5)


def test_forecast_counts_rows_without_estimate():
    df = _options().iloc[[0, 4]].copy()
    df.loc[df.index[1], ["expected_incremental_conversions", "expected_incremental_revenue"]] = math.nan
    f = forecast(df, margin_rate=0.5)
    assert f["contacts"] == 2 and f["contacts_without_estimate"] == 1
    assert f["incremental_revenue"] == pytest.approx(20.0)


def _channels():
    return [ChannelSpec(name="sms", cost_per_contact=0.5), ChannelSpec(name="email", cost_per_contact=0.1)]


def test_mass_baseline_cheapest_channel_no_offer():
    channels = _channels()
    b = mass_baseline(_options(), channels=channels, margin_rate=0.5)
    # a -> email|none (email is cheaper); b and c -> sms|none (their only channel)
    assert b["contacts"] == 3
    assert b["contacts_by_channel"] == {"email": 1, "sms": 2}
    assert b["contact_cost"] == pytest.approx(1.1)
    assert b["offer_cost"] == 0
    assert b["expected_incremental_conversions"] == pytest.approx(0.37)
    assert b["incremental_revenue"] == pytest.approx(104.0)
    assert b["incremental_profit"] == pytest.approx(52.0 - 1.1)
    assert b["roi"] == pytest.approx(50.9 / 1.1)


def test_mass_baseline_without_none_offer_takes_cheapest_offer():
    df = _options()
    df = df[df["offer_id"] != "none"].copy()
    extra = df.iloc[[0]].assign(offer_id="fixed5", expected_offer_cost=2.0)
    df = pd.concat([df, extra], ignore_index=True)
    channels = _channels()
    b = mass_baseline(df, channels=channels, margin_rate=0.5)
    # a -> email|pct10 (cost 5), b -> sms|pct10 (its only offer: cost 1)
    assert b["contacts"] == 2
    assert b["offer_cost"] == pytest.approx(6.0)
    with pytest.raises(ContractError):
        mass_baseline(df, channels=channels[:1], margin_rate=0.5)
