"""CLV (issue 5): equal to lifetimes' period-by-period CLV, Pareto/NBD's closed form equal to the
limit of the period sums, plain expectations without discounting, finite on extreme inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value

from jingzhun.errors import ConfigError
from jingzhun.predict.btyd import BetaGeoModel, GammaGammaModel, ParetoNBDModel
from jingzhun.predict.clv import customer_lifetime_value, discounted_expected_transactions


@pytest.fixture(scope="module")
def cdnow():
    d = load_cdnow_summary_data_with_monetary_value()
    repeat = d[d["frequency"] > 0]
    bg = BetaGeoModel().fit(d["frequency"], d["recency"], d["T"])
    gg = GammaGammaModel().fit(repeat["frequency"], repeat["monetary_value"])
    return d, bg, gg


def test_equals_lifetimes_monthly_clv(cdnow):
    d, bg, gg = cdnow
    lbg = BetaGeoFitter()
    lbg.params_ = pd.Series(bg.params_)[["r", "alpha", "a", "b"]]
    lbg.predict = lbg.conditional_expected_number_of_purchases_up_to_time  # bound at fit time
    lgg = GammaGammaFitter()
    lgg.params_ = pd.Series(gg.params_)[["p", "q", "v"]]
    # lifetimes: 12 "months" of 4.345 weeks, each discounted by 1.01 at its end
    want = lgg.customer_lifetime_value(lbg, d["frequency"], d["recency"], d["T"],
                                       d["monetary_value"], time=12, discount_rate=0.01, freq="W")
    annual = 1.01 ** (365.25 / (4.345 * 7)) - 1  # the same 1% per step, as an annual rate
    got = customer_lifetime_value(bg, gg, d["frequency"], d["recency"], d["T"], d["monetary_value"],
                                  horizon=12 * 4.345, step=4.345, annual_discount_rate=annual)
    np.testing.assert_allclose(got, want.to_numpy(), rtol=1e-9)


def test_without_discount_it_is_the_expected_purchases_times_spend_and_margin(cdnow):
    d, bg, gg = cdnow
    got = customer_lifetime_value(bg, gg, d["frequency"], d["recency"], d["T"], d["monetary_value"],
                                  horizon=39.5, annual_discount_rate=0.0, margin=0.3)
    want = (0.3 * bg.expected_purchases(39.5, d["frequency"], d["recency"], d["T"])
            * gg.expected_spend(d["frequency"], d["monetary_value"]))
    np.testing.assert_allclose(got, np.asarray(want), rtol=1e-12)


def test_pareto_lifetime_closed_form_is_the_limit_of_the_period_sums(cdnow):
    d, _, _ = cdnow
    pnbd = ParetoNBDModel().fit(d["frequency"], d["recency"], d["T"])
    x, t_x, age = d["frequency"][:20], d["recency"][:20], d["T"][:20]
    closed = discounted_expected_transactions(pnbd, x, t_x, age, horizon=None,
                                              annual_discount_rate=0.5)
    # daily steps over 20 years (what is left after them is discounted by 3e-4): end-of-day
    # discounting differs from continuous by ln(1.5) / 365 / 2 = 0.06%
    summed = discounted_expected_transactions(pnbd, x, t_x, age, horizon=20 * 52.18,
                                              step=1 / 7, annual_discount_rate=0.5)
    np.testing.assert_allclose(summed, closed, rtol=1e-3)
    assert np.all(closed > 0)


def test_more_discount_less_value_and_horizon_adds_value(cdnow):
    d, bg, _ = cdnow
    args = (d["frequency"][:100], d["recency"][:100], d["T"][:100])
    low = discounted_expected_transactions(bg, *args, annual_discount_rate=0.05)
    high = discounted_expected_transactions(bg, *args, annual_discount_rate=0.30)
    longer = discounted_expected_transactions(bg, *args, horizon=104, annual_discount_rate=0.05)
    assert np.all(high <= low) and np.all(longer >= low) and np.all(high >= 0)


def test_extreme_histories_and_one_row_are_finite(cdnow):
    _, bg, gg = cdnow
    x = np.array([0, 1e4, 1e4, 3])
    t_x = np.array([0, 1e4, 5.0, 3.0])
    age = np.array([0.0, 1e4, 1e4, 3.0])
    value = customer_lifetime_value(bg, gg, x, t_x, age, np.array([0, 50.0, 1e6, 20]),
                                    horizon=520, margin=0.2)
    assert np.all(np.isfinite(value)) and np.all(value >= 0)
    one = customer_lifetime_value(bg, gg, [2], [30.43], [38.86], [30.0], horizon=39)
    assert one.shape == (1,) and one[0] > 0


def test_bad_settings_are_config_errors(cdnow):
    d, bg, gg = cdnow
    args = (d["frequency"][:3], d["recency"][:3], d["T"][:3])
    with pytest.raises(ConfigError, match="no closed form"):
        discounted_expected_transactions(bg, *args, horizon=None)
    with pytest.raises(ConfigError, match="margin"):
        customer_lifetime_value(bg, gg, *args, d["monetary_value"][:3], margin=30)
    with pytest.raises(ConfigError, match="horizon"):
        discounted_expected_transactions(bg, *args, horizon=-1)
    with pytest.raises(ConfigError, match="discount rate"):
        discounted_expected_transactions(bg, *args, annual_discount_rate=float("nan"))
