"""Uplift metrics: parity with scikit-uplift (binary and revenue outcomes, ties, a Hillstrom-sized
sample), uplift by decile (interval coverage, a hand-computed case, empty groups), and readable
InputErrors for bad inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from jingzhun.errors import InputError
from jingzhun.predict.uplift_metrics import (
    UpliftEvaluation,
    evaluate_uplift,
    perfect_qini_curve,
    perfect_uplift_curve,
    qini_auc_score,
    qini_coefficient,
    qini_curve,
    uplift_at_k,
    uplift_auc_score,
    uplift_by_decile,
    uplift_curve,
)

sm = pytest.importorskip("sklift.metrics")
sklift_impl = pytest.importorskip("sklift.metrics.metrics")

RTOL = 1e-9


@pytest.fixture
def sklift_any_outcome(monkeypatch):
    """scikit-uplift with its binary-outcome check off: its formulas are linear in the outcome, so
    they define the revenue case too (the perfect uplift curve excepted)."""
    monkeypatch.setattr(sklift_impl, "check_is_binary", lambda array: None)
    return sm


def _sample(n: int, seed: int, *, revenue: bool = False, n_scores: int = 50):
    """Random outcome, treatment and scores with many ties (``n_scores`` distinct values)."""
    rng = np.random.default_rng(seed)
    t = rng.binomial(1, 0.5, n)
    score = rng.integers(0, n_scores, n) / n_scores - 0.3
    y = rng.binomial(1, 0.1 + 0.1 * t * (score > 0), n).astype(float)
    if revenue:
        y = np.round(y * rng.gamma(2.0, 40.0, n), 2)
    return y, score, t


def _quiet(fn, *args, **kwargs):
    # sklift calls sklearn's deprecated stable_cumsum; that warning is not ours
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


CASES = [(500, 1, False), (2_000, 2, False), (1_000, 3, True), (64_000, 4, False), (64_000, 5, True)]


@pytest.mark.parametrize(("n", "seed", "revenue"), CASES)
def test_scores_and_qini_curves_match_sklift(sklift_any_outcome, n, seed, revenue):
    y, s, t = _sample(n, seed, revenue=revenue)
    for negative_effect in (True,) if revenue else (True, False):
        np.testing.assert_allclose(qini_auc_score(y, s, t, negative_effect),
                                   _quiet(sm.qini_auc_score, y, s, t, negative_effect), rtol=RTOL)
        for ours, theirs in zip(perfect_qini_curve(y, t, negative_effect),
                                _quiet(sm.perfect_qini_curve, y, t, negative_effect), strict=True):
            np.testing.assert_allclose(ours, theirs, rtol=RTOL)
    for ours, theirs in zip(qini_curve(y, s, t), _quiet(sm.qini_curve, y, s, t), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=RTOL)
    for ours, theirs in zip(uplift_curve(y, s, t), _quiet(sm.uplift_curve, y, s, t), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=RTOL)
    # one point per distinct score plus the origin: ties enter the curve together
    assert qini_curve(y, s, t)[0].size == np.unique(s).size + 1


@pytest.mark.parametrize(("n", "seed", "revenue"), CASES)
@pytest.mark.parametrize("strategy", ["overall", "by_group"])
def test_uplift_at_k_matches_sklift(sklift_any_outcome, n, seed, revenue, strategy):
    y, s, t = _sample(n, seed, revenue=revenue)
    for k in (0.05, 0.1, 0.3, 0.5, 0.99, 7, 100):
        np.testing.assert_allclose(uplift_at_k(y, s, t, strategy, k),
                                   _quiet(sm.uplift_at_k, y, s, t, strategy, k), rtol=RTOL, err_msg=f"k={k}")


@pytest.mark.parametrize(("n", "seed"), [(500, 1), (3_000, 6), (64_000, 4)])
def test_uplift_auc_and_perfect_uplift_curve_match_sklift_on_binary_outcomes(n, seed):
    y, s, t = _sample(n, seed)
    np.testing.assert_allclose(uplift_auc_score(y, s, t), _quiet(sm.uplift_auc_score, y, s, t), rtol=RTOL)
    for ours, theirs in zip(perfect_uplift_curve(y, t), _quiet(sm.perfect_uplift_curve, y, t), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=RTOL)


def test_continuous_scores_without_ties_match_sklift():
    rng = np.random.default_rng(11)
    y, t, s = rng.binomial(1, 0.3, 5_000).astype(float), rng.binomial(1, 0.3, 5_000), rng.normal(size=5_000)
    np.testing.assert_allclose(qini_auc_score(y, s, t), _quiet(sm.qini_auc_score, y, s, t), rtol=RTOL)
    np.testing.assert_allclose(uplift_auc_score(y, s, t), _quiet(sm.uplift_auc_score, y, s, t), rtol=RTOL)


def test_perfect_orderings_score_one_and_random_scores_about_zero():
    y, _, t = _sample(20_000, 7)
    perfect = y * t - y * (1 - t)
    assert qini_auc_score(y, perfect, t) == pytest.approx(1.0)
    noise = np.random.default_rng(8).normal(size=y.size)
    assert abs(qini_auc_score(y, noise, t)) < 0.2
    assert qini_coefficient is qini_auc_score


def test_perfect_uplift_curve_on_revenue_orders_large_treated_amounts_first():
    y, _, t = _sample(2_000, 9, revenue=True)
    x, curve = perfect_uplift_curve(y, t)
    # the first point after the origin is the single largest treated amount
    first_treated = np.sort(y[t == 1])[::-1]
    assert x[1] == 1 and curve[1] == pytest.approx(first_treated[0])
    noise = np.random.default_rng(10).normal(size=y.size)
    assert uplift_auc_score(y, noise, t) < 1.0


def test_uplift_at_k_accepts_all_rows_and_warns_on_a_one_group_top():
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    t = np.array([1, 1, 0, 0, 1, 0])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    assert uplift_at_k(y, s, t, "overall", k=1.0) == pytest.approx(2 / 3 - 1 / 3)
    assert uplift_at_k(y, s, t, "overall", k=6) == pytest.approx(2 / 3 - 1 / 3)
    with pytest.warns(RuntimeWarning, match="0 control"):
        assert np.isnan(uplift_at_k(y, s, t, "overall", k=2))


def test_evaluate_uplift_agrees_with_the_single_metrics():
    y, s, t = _sample(3_000, 12)
    ev = evaluate_uplift(y, s, t)
    assert isinstance(ev, UpliftEvaluation)
    assert ev.qini_auc == pytest.approx(qini_auc_score(y, s, t), rel=1e-12)
    assert ev.uplift_auc == pytest.approx(uplift_auc_score(y, s, t), rel=1e-12)
    assert ev.uplift_at_30 == pytest.approx(uplift_at_k(y, s, t, "overall", 0.3), rel=1e-12)
    assert (ev.n, ev.n_treatment + ev.n_control, ev.n_treatment) == (3_000, 3_000, int(t.sum()))
    with pytest.raises(AttributeError):
        ev.n = 1  # frozen


# --------------------------------------------------------------------------- uplift by decile


def test_uplift_by_decile_hand_computed():
    # 8 rows, 2 bins of 4; bin 1 = the four highest scores
    s = np.array([8, 7, 6, 5, 4, 3, 2, 1], dtype=float)
    t = np.array([1, 1, 0, 0, 1, 0, 0, 0])
    y = np.array([1, 0, 0, 0, 1, 1, 0, 1], dtype=float)
    table = uplift_by_decile(y, s, t, bins=2, alpha=0.05)
    assert list(table.columns) == ["bin", "n_treatment", "n_control", "mean_treatment", "mean_control",
                                   "uplift", "ci_low", "ci_high", "status"]
    first = table.iloc[0]
    assert (first["bin"], first["n_treatment"], first["n_control"]) == (1, 2, 2)
    assert first["uplift"] == pytest.approx(0.5 - 0.0)
    # Wald: se = sqrt(0.5 * 0.5 / 2 + 0 / 2) = 0.35355..., z = 1.959964
    half = 1.959963984540054 * np.sqrt(0.25 / 2)
    assert (first["ci_low"], first["ci_high"]) == pytest.approx((0.5 - half, 0.5 + half))
    assert first["status"] == "ok"
    second = table.iloc[1]
    assert (second["n_treatment"], second["n_control"]) == (1, 3)
    assert second["uplift"] == pytest.approx(1.0 - 2 / 3)
    assert second["status"] == "one_row_group" and np.isnan(second["ci_low"])


def test_uplift_by_decile_ties_keep_input_order_and_sizes_differ_by_one():
    s = np.zeros(11)
    t = np.array([1, 0] * 5 + [1])
    y = np.arange(11, dtype=float)
    table = uplift_by_decile(y, s, t, bins=3)
    assert table["n_treatment"].add(table["n_control"]).tolist() == [4, 4, 3]
    # all scores tie: bin 1 is rows 0..3 (y 0, 2 treated; 1, 3 control)
    assert table.loc[0, ["mean_treatment", "mean_control"]].tolist() == [1.0, 2.0]


def test_uplift_by_decile_marks_a_bin_without_a_group():
    s = np.arange(20, dtype=float)[::-1]
    t = np.array([1] * 10 + [0, 1] * 5)
    y = np.ones(20)
    table = uplift_by_decile(y, s, t, bins=2)
    assert table.loc[0, "status"] == "no_control"
    assert np.isnan(table.loc[0, ["uplift", "ci_low", "ci_high"]].to_numpy(dtype=float)).all()
    assert table.loc[1, "status"] == "ok" and table.loc[1, "uplift"] == 0.0
    table = uplift_by_decile(y, s, 1 - t, bins=2)
    assert table.loc[0, "status"] == "no_treatment" and np.isnan(table.loc[0, "uplift"])


@pytest.mark.parametrize("revenue", [False, True])
def test_uplift_by_decile_intervals_cover_the_true_uplift(revenue):
    """Simulated true uplift per bin; 95 % intervals over 10 bins x 40 replications cover ~95 %."""
    bins, n = 10, 20_000
    true_uplift_prob = np.linspace(0.10, -0.02, bins)  # bin 1 highest
    covered = []
    for rep in range(40):
        rng = np.random.default_rng(100 + rep)
        score = rng.permutation(n).astype(float)  # rank n-1 .. 0 -> bins of 2000
        bin_of = (n - 1 - score).astype(int) * bins // n
        t = rng.binomial(1, 0.5, n)
        p = 0.2 + t * true_uplift_prob[bin_of]
        y = rng.binomial(1, p).astype(float)
        truth = true_uplift_prob
        if revenue:
            y = y * rng.exponential(50.0, n)  # mean spend 50 among buyers
            truth = true_uplift_prob * 50.0
        table = uplift_by_decile(y, score, t, bins=bins)
        assert (table["status"] == "ok").all()
        covered.append((table["ci_low"] <= truth) & (truth <= table["ci_high"]))
    rate = float(np.mean(covered))
    assert 0.90 <= rate <= 0.99, rate


def test_uplift_by_decile_alpha_widens_intervals():
    y, s, t = _sample(5_000, 13)
    wide = uplift_by_decile(y, s, t, alpha=0.01)
    narrow = uplift_by_decile(y, s, t, alpha=0.2)
    assert ((wide["ci_high"] - wide["ci_low"]) > (narrow["ci_high"] - narrow["ci_low"])).all()
    assert isinstance(wide, pd.DataFrame) and len(wide) == 10 and wide["bin"].tolist() == list(range(1, 11))


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(("args", "match"), [
    (([1, 0, 1], [0.1, 0.2], [1, 0, 1]), r"same length.*y_true=3.*treatment=3.*uplift=2"),
    (([1, 0, 1], [0.1, 0.2, 0.3], [1, 2, 0]), r"treatment must hold only 0.*1 row.*\[2\.0\]"),
    (([1, 0, 1], [0.1, 0.2, 0.3], [1, 1, 1]), r"no control \(0\) rows"),
    (([1, 0, 1], [0.1, 0.2, 0.3], [0, 0, 0]), r"no treated \(1\) rows"),
    (([1, np.nan, 1], [0.1, 0.2, 0.3], [1, 0, 1]), r"y_true has 1 value.*NaN or infinite.*position 1"),
    (([1, 0, 1], [0.1, np.inf, 0.3], [1, 0, 1]), r"uplift has 1 value.*position 1"),
    (([1, "a", 1], [0.1, 0.2, 0.3], [1, 0, 1]), r"y_true must hold numbers"),
    (([], [], []), r"empty"),
    ((np.ones((2, 2)), [0.1, 0.2], [1, 0]), r"y_true must be one-dimensional"),
])
def test_bad_inputs_raise_readable_input_errors(args, match):
    for fn in (qini_auc_score, uplift_auc_score, qini_curve, uplift_curve, evaluate_uplift, uplift_by_decile):
        with pytest.raises(InputError, match=match):
            fn(*args)


def test_bad_options_raise_input_errors():
    y, s, t = _sample(100, 14)
    with pytest.raises(InputError, match="strategy must be one of"):
        uplift_at_k(y, s, t, "top", 0.3)
    for k, match in ((0.0, r"share must be in \(0, 1\]"), (1.5, "share"), (0, "between 1 and"),
                     (101, "between 1 and"), ("0.3", "share"), (True, "share")):
        with pytest.raises(InputError, match=match):
            uplift_at_k(y, s, t, "overall", k)
    with pytest.raises(InputError, match="selects no row"):
        uplift_at_k(y, s, t, "overall", 0.001)
    with pytest.raises(InputError, match="selects no row of a group"):
        uplift_at_k(y, s, t, "by_group", 0.01)
    with pytest.raises(InputError, match="per group"):
        uplift_at_k(y, s, t, "by_group", 99)
    with pytest.raises(InputError, match="negative_effect must be True or False"):
        qini_auc_score(y, s, t, negative_effect="yes")
    with pytest.raises(InputError, match="negative_effect=False needs a 0/1 outcome"):
        qini_auc_score(y * 12.5, s, t, negative_effect=False)
    with pytest.raises(InputError, match=r"bins must be an integer between 1 and .*100"):
        uplift_by_decile(y, s, t, bins=101)
    with pytest.raises(InputError, match="alpha"):
        uplift_by_decile(y, s, t, alpha=1.0)


def test_boolean_and_pandas_inputs_are_accepted():
    y, s, t = _sample(400, 15)
    expected = qini_auc_score(y, s, t)
    assert qini_auc_score(pd.Series(y), pd.Series(s), pd.Series(t.astype(bool))) == pytest.approx(expected)
