"""Model checking tables: the calibration-vs-holdout table and the tracking table equal lifetimes'
numbers on CDNOW, the P(alive) matrix equals the model pointwise, the model beats the naive
baseline on CDNOW, and on a simulated cohort with the true parameters the expectations agree with
what happened within sampling error.

lifetimes 0.11.3's ``calibration_and_holdout_data`` and ``expected_cumulative_transactions`` run
under pandas 3 (``freq="D"``), so they are used directly as the oracle. The CDNOW transactions
come from lifetimes' own copy of ``CDNOW_sample.txt`` (the file in ``../shared`` is the same,
byte for byte); the published-figures test reads ``../shared`` and skips without it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jingzhun.errors import InputError
from jingzhun.predict.btyd import BetaGeoBetaBinomModel, BetaGeoModel, ParetoNBDModel
from jingzhun.predict.btyd.checking import (
    calibration_holdout_table,
    customer_errors,
    probability_alive_matrix,
    tracking_inputs,
    tracking_table,
)
from jingzhun.simulate._btyd import BGNBDParams, sample_bgnbd
from tests.predict.btyd.conftest import SHARED
from tests.predict.btyd.helpers import lifetimes_fitter, quiet, rel_err

START, CAL_END, OBS_END = "1997-01-01", "1997-09-30", "1998-06-30"
FITTERS = {BetaGeoModel: "BetaGeoFitter", ParetoNBDModel: "ParetoNBDFitter"}


def read_cdnow(path) -> pd.DataFrame:
    """``CDNOW_sample.txt`` as one row per purchase: ``id`` (sample id), ``date``, ``value``."""
    raw = pd.read_csv(path, sep=r"\s+", header=None, names=["original_id", "id", "date", "cds", "value"])
    return pd.DataFrame({"id": raw["id"], "date": pd.to_datetime(raw["date"].astype(str), format="%Y%m%d"),
                         "value": raw["value"]})


@pytest.fixture(scope="module")
def lifetimes_utils():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip("lifetimes.utils")


@pytest.fixture(scope="module")
def cdnow_tx() -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        datasets = pytest.importorskip("lifetimes.datasets")
    return read_cdnow(Path(datasets.__file__).parent / "CDNOW_sample.txt")


@pytest.fixture(scope="module")
def holdout(cdnow_tx, lifetimes_utils) -> pd.DataFrame:
    """lifetimes' calibration/holdout summary of CDNOW (39 + 39 weeks), in our column names (its
    holdout count needs a value column under pandas 3: without one, nothing is left to count)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lifetimes_utils.calibration_and_holdout_data(
            cdnow_tx, "id", "date", calibration_period_end=CAL_END, observation_period_end=OBS_END,
            freq="D", freq_multiplier=7, monetary_value_col="value")
    return ref.rename(columns={"frequency_cal": "frequency", "recency_cal": "recency", "T_cal": "T"})


@pytest.fixture(scope="module")
def fitted(cdnow) -> dict:
    """BG/NBD and Pareto/NBD fitted on lifetimes' shipped CDNOW summary."""
    return {cls: cls().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"]) for cls in FITTERS}


# --------------------------------------------------------------------------- calibration vs holdout


@pytest.mark.parametrize("cls", list(FITTERS), ids=lambda c: c.__name__)
def test_calibration_holdout_table_equals_lifetimes(cls, fitted, holdout):
    model = fitted[cls]
    table = calibration_holdout_table(model, holdout)
    fitter = lifetimes_fitter(FITTERS[cls], model.params_)
    theirs = quiet(fitter.conditional_expected_number_of_purchases_up_to_time, 39.0,
                   holdout["frequency"], holdout["recency"], holdout["T"])
    group = np.minimum(holdout["frequency"].to_numpy(), 7)
    want = pd.DataFrame({"expected": theirs, "actual": holdout["frequency_holdout"].to_numpy(),
                         "group": group}).groupby("group").agg(["mean", "size"])
    assert list(table.index) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert rel_err(table["expected_purchases_mean"], want[("expected", "mean")]) < 1e-6
    np.testing.assert_allclose(table["actual_purchases_mean"], want[("actual", "mean")], rtol=1e-12)
    np.testing.assert_array_equal(table["n_customers"], want[("actual", "size")])
    assert table["n_customers"].sum() == 2357
    # the holdout purchases: 1882 repeat transaction days in weeks 40-78
    assert (table["actual_purchases_mean"] * table["n_customers"]).sum() == pytest.approx(1882)


def test_calibration_holdout_table_buckets_and_empty_groups():
    model = BetaGeoModel()
    model.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    summary = pd.DataFrame({"frequency": [0, 0, 2, 9, 12], "recency": [0, 0, 5, 30, 31.0],
                            "T": [38.0, 20, 30, 35, 38], "frequency_holdout": [0, 1, 2, 3, 5],
                            "duration_holdout": 39.0})
    table = calibration_holdout_table(model, summary, max_frequency=3)
    assert list(table.index) == ["0", "2", "3+"]  # no customer with frequency 1: no row, no NaN
    assert list(table["n_customers"]) == [2, 1, 2]
    assert table.loc["3+", "actual_purchases_mean"] == 4.0
    expected = model.expected_purchases(39.0, summary["frequency"], summary["recency"], summary["T"])
    assert table.loc["3+", "expected_purchases_mean"] == pytest.approx(expected.iloc[3:].mean(), rel=1e-12)
    with pytest.raises(InputError, match="frequency_holdout"):
        calibration_holdout_table(model, summary.drop(columns="frequency_holdout"))
    with pytest.raises(InputError, match="max_frequency"):
        calibration_holdout_table(model, summary, max_frequency=0)
    with pytest.raises(InputError, match="BetaGeoBetaBinomModel"):
        calibration_holdout_table(BetaGeoBetaBinomModel(), summary)


# --------------------------------------------------------------------------- customer errors


def test_model_beats_the_naive_baseline_on_cdnow(fitted, holdout):
    for model in fitted.values():
        errors = customer_errors(model, holdout)
        assert errors.n_customers == 2357
        assert errors.mae_ratio < 1 and errors.rmse_ratio < 1, errors
        frame = errors.to_frame()
        assert frame.loc["baseline", "mae"] == errors.baseline_mae
    # the baseline by hand: calibration rate x 39 weeks
    errors = customer_errors(fitted[BetaGeoModel], holdout)
    baseline = holdout["frequency"] / holdout["T"] * 39.0
    assert errors.baseline_mae == pytest.approx(np.mean(np.abs(baseline - holdout["frequency_holdout"])))


# --------------------------------------------------------------------------- P(alive) matrix


@pytest.mark.parametrize("cls", list(FITTERS), ids=lambda c: c.__name__)
def test_probability_alive_matrix_equals_the_model_and_lifetimes(cls, fitted):
    model = fitted[cls]
    matrix = probability_alive_matrix(model, max_frequency=12, max_recency=30, T=38.86)
    assert matrix.shape == (13, 31) and matrix.attrs["T"] == 38.86
    for x in range(1, 13):
        for t_x in range(31):
            assert matrix.loc[x, float(t_x)] == model.probability_alive(x, float(t_x), 38.86)
    assert (matrix.loc[0] == model.probability_alive(0, 0.0, 38.86)).all()
    assert ((matrix >= 0) & (matrix <= 1)).all().all()
    # lifetimes' matrix: [recency, frequency] at T = max_recency
    square = probability_alive_matrix(model, max_frequency=10, max_recency=20, T=20)
    theirs = quiet(lifetimes_fitter(FITTERS[cls], model.params_).conditional_probability_alive_matrix, 10, 20)
    assert rel_err(square.to_numpy()[1:], theirs.T[1:]) < 1e-6


def test_probability_alive_matrix_rejects_recency_beyond_age(fitted):
    with pytest.raises(InputError, match="max_recency"):
        probability_alive_matrix(fitted[BetaGeoModel], max_frequency=3, max_recency=40, T=38.86)
    assert probability_alive_matrix(fitted[BetaGeoModel], max_frequency=3, T=38.86).shape == (4, 39)


# --------------------------------------------------------------------------- tracking


def test_tracking_table_equals_lifetimes_expected_cumulative_transactions(fitted, cdnow_tx, lifetimes_utils):
    model = fitted[BetaGeoModel]
    first, repeat = tracking_inputs(cdnow_tx, start=START, customer_col="id")
    table = tracking_table(model, first, repeat, periods=78, calibration_periods=39)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lifetimes_utils.expected_cumulative_transactions(
            lifetimes_fitter("BetaGeoFitter", model.params_), cdnow_tx, "date", "id", 78 * 7,
            freq="D", freq_multiplier=7)
    assert rel_err(table["expected_cumulative"], ref["predicted"]) < 1e-6
    np.testing.assert_array_equal(table["actual_cumulative"], ref["actual"])
    np.testing.assert_allclose(table["expected_transactions"].cumsum(), table["expected_cumulative"])
    assert table["is_calibration"].sum() == 39 and table["is_calibration"].iloc[38]


@pytest.mark.shared
def test_cdnow_tracking_figures_of_the_paper(fitted):
    """FHL 2005's tracking plots on the 1/10 sample: 2,457 repeat transactions in weeks 1-39,
    4,339 by week 78 (1,882 in the holdout); BG/NBD at the published estimates tracks them."""
    path = SHARED / "data" / "cdnow" / "CDNOW_sample.txt"
    if not path.is_file():
        pytest.skip("../shared/data/cdnow is absent")
    first, repeat = tracking_inputs(read_cdnow(path), start=START, customer_col="id")
    assert len(first) == 2357
    table = tracking_table(fitted[BetaGeoModel], first, repeat, periods=78, calibration_periods=39)
    actual, expected = table["actual_cumulative"], table["expected_cumulative"]
    assert (actual[39], actual[78]) == (2457, 4339)
    assert expected[39] == pytest.approx(2501.54, abs=0.01)  # +1.8% over the calibration period
    assert expected[78] == pytest.approx(4165.69, abs=0.01)  # -4.0% by week 78
    # the weekly series: from week 13 on (all customers acquired) the model is within 25
    # transactions a week on average
    weekly = table.loc[13:, ["actual_transactions", "expected_transactions"]]
    assert (weekly["actual_transactions"] - weekly["expected_transactions"]).abs().mean() < 25


def test_tracking_inputs_merge_days_and_count_from_the_start_of_the_day():
    purchases = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b", "b"],
        "date": pd.to_datetime(["2020-01-01 09:00", "2020-01-01 18:00", "2020-01-08 10:00",
                                "2020-01-10 23:00", "2020-01-03 12:00", "2020-01-17 00:00"]),
    })
    first, repeat = tracking_inputs(purchases, start="2020-01-01")
    assert first.to_dict() == {"a": 0.0, "b": 2 / 7}
    np.testing.assert_allclose(np.sort(repeat), [1.0, 9 / 7, 16 / 7])
    daily_first, _ = tracking_inputs(purchases, start="2020-01-01", unit="D")
    assert daily_first["b"] == 2.0
    with pytest.raises(InputError, match="before start"):
        tracking_inputs(purchases, start="2020-01-02")


def test_tracking_table_periods_and_checks():
    model = BetaGeoModel()
    model.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    first = np.array([0.0, 0.5, 3.5])
    table = tracking_table(model, first, [0.7, 1.0, 2.5, 3.9, 4.0], periods=4)
    assert list(table["actual_transactions"]) == [1, 1, 1, 1]  # [0,1), [1,2), [2,3), [3,4); 4.0 is out
    assert table["expected_transactions"].iloc[0] == pytest.approx(
        model.expected_purchases_new_customer(1.0) + model.expected_purchases_new_customer(0.5))
    assert not table["is_calibration"].any()
    two_weekly = tracking_table(model, first, [0.7, 1.0, 2.5, 3.9], periods=2, period_length=2.0)
    assert list(two_weekly["actual_transactions"]) == [2, 2]
    np.testing.assert_allclose(two_weekly["expected_cumulative"], table["expected_cumulative"].iloc[[1, 3]])
    bad = ({"periods": 0}, {"periods": 4, "calibration_periods": 5}, {"periods": 2, "period_length": 0})
    for kwargs in bad:
        with pytest.raises(InputError):
            tracking_table(model, first, [], **kwargs)
    with pytest.raises(InputError, match="negative"):
        tracking_table(model, [-1.0], [], periods=2)


# --------------------------------------------------------------------------- simulated cohort


@pytest.fixture(scope="module")
def simulated():
    """20,000 BG/NBD customers (CDNOW's parameters) acquired over 12 weeks, observed to week 78;
    the model set to the true parameters."""
    rng = np.random.default_rng(20260)
    params = BGNBDParams()
    first = rng.integers(0, 84, 20_000) / 7.0  # first purchases at the start of one of 84 days
    purchases = sample_bgnbd(rng, params, first, 78.0)
    model = BetaGeoModel()
    model.params_ = {"r": params.r, "alpha": params.alpha, "a": params.a, "b": params.b}
    return model, first, purchases


def test_simulated_calibration_holdout_agrees_within_sampling_error(simulated):
    model, first, purchases = simulated
    n = first.size
    cal = purchases.week <= 39.0
    frequency = np.bincount(purchases.customer[cal], minlength=n)
    last = np.full(n, -np.inf)
    np.maximum.at(last, purchases.customer[cal], purchases.week[cal])
    summary = pd.DataFrame({"frequency": frequency,
                            "recency": np.where(frequency > 0, last - first, 0.0),
                            "T": 39.0 - first,
                            "frequency_holdout": np.bincount(purchases.customer[~cal], minlength=n),
                            "duration_holdout": 39.0})
    table = calibration_holdout_table(model, summary)
    expected = model.expected_purchases(39.0, summary["frequency"], summary["recency"], summary["T"])
    error = summary["frequency_holdout"] - expected
    group = np.minimum(summary["frequency"], 7).astype(str).replace("7", "7+")
    se = error.groupby(group.to_numpy()).std() / np.sqrt(table["n_customers"])
    z = (table["actual_purchases_mean"] - table["expected_purchases_mean"]) / se.loc[table.index]
    assert (z.abs() < 4).all(), z
    assert customer_errors(model, summary).mae_ratio < 1


def test_simulated_tracking_agrees_within_sampling_error(simulated):
    model, first, purchases = simulated
    table = tracking_table(model, first, purchases.week, periods=78, calibration_periods=39)
    per_customer = np.bincount(purchases.customer, minlength=first.size)
    expected = model.expected_purchases_new_customer(78.0 - first)
    se = np.sqrt(np.sum((per_customer - expected) ** 2))
    assert table["expected_cumulative"].iloc[-1] == pytest.approx(expected.sum(), rel=1e-12)
    assert table["actual_cumulative"].iloc[-1] == purchases.week.size
    assert abs(purchases.week.size - expected.sum()) < 4 * se
