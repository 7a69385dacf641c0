"""Pareto/NBD: the published CDNOW fit, parity with lifetimes, independent checks of the
predictions, extremes, degenerate data and recovery.

Published figures (Fader & Hardie's notes on the Pareto/NBD, CDNOW 1/10 sample, 39 weeks):
r = 0.553, alpha = 10.578, s = 0.606, beta = 11.669, LL = -9595.0; for x = 26, t_x = 30.86,
T = 31: P(alive) = 0.9979 and 25.46 expected purchases in the next 52 weeks.

The accuracy of the hypergeometric functions themselves is tested in ``test_hyp2f1.py``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.special import exp1, gammaln, hyperu

from jingzhun.errors import InputError, ModelError
from jingzhun.predict.btyd import ConvergenceWarning, DataWarning
from jingzhun.predict.btyd.pareto_nbd import ParetoNBDModel, pareto_nbd_log_likelihood
from jingzhun.simulate.populations import simulate_pareto_nbd
from tests.predict.btyd.helpers import (
    EXTREME_HISTORIES,
    lifetimes_fitter,
    quiet,
    recovery_coverage,
    rel_err,
)

PUBLISHED = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
#: Parameter regions: CDNOW's (alpha < beta, z ~ 0.1), alpha << beta, alpha == beta, large r with
#: alpha > beta, alpha >> beta (z ~ 1 for recent-less customers).
PARAM_SETS = [PUBLISHED, {"r": 0.8, "alpha": 5.0, "s": 1.5, "beta": 40.0},
              {"r": 2.0, "alpha": 3.0, "s": 2.0, "beta": 3.0},
              {"r": 40.0, "alpha": 80.0, "s": 3.0, "beta": 20.0},
              {"r": 0.3, "alpha": 60.0, "s": 0.2, "beta": 2.0}]
#: More edges: recency ~ T, a history at T ~ 0, the worked example, recency = T for heavy buyers.
MORE_HISTORIES = pd.DataFrame({
    "frequency": [5, 2, 26, 100, 1000, 300, 20],
    "recency": [3.0 - 1e-9, 1e-3, 30.86, 1e4, 38.86, 38.86, 0.1],
    "T": [3.0, 1e-3, 31.0, 1e4, 38.86, 38.86, 80.0],
})
HISTORIES = pd.concat([EXTREME_HISTORIES, MORE_HISTORIES], ignore_index=True)


def _model(params):
    model = ParetoNBDModel()
    model.params_ = dict(params)
    return model


def _columns(frame):
    return frame["frequency"], frame["recency"], frame["T"]


def _arrays(frame):
    return [frame[c].to_numpy(float) for c in ("frequency", "recency", "T")]


def _lifetimes_ll(params, frame):
    from lifetimes import ParetoNBDFitter

    return quiet(ParetoNBDFitter._conditional_log_likelihood, list(params.values()), *_arrays(frame))


# --------------------------------------------------------------------------- published figures


def test_cdnow_fit_reproduces_the_published_figures(cdnow):
    """All four parameters and the LL to the published precision. beta is the flat direction (its
    standard error is 6.2): the exact maximum is beta = 11.6679, where the LL is 5e-7 above its
    value at the published 11.669, so beta is checked to the published 3 decimals +- 0.0015."""
    model = ParetoNBDModel().fit(*_columns(cdnow))
    params = model.params_
    for name in ("r", "alpha", "s"):
        assert round(params[name], 3) == PUBLISHED[name]
    assert abs(params["beta"] - PUBLISHED["beta"]) < 0.0015
    assert round(model.log_likelihood_, 1) == -9595.0
    assert round(model.probability_alive(26, 30.86, 31), 4) == 0.9979
    assert round(model.expected_purchases(52, 26, 30.86, 31), 2) == 25.46
    assert model.converged_ and model.n_customers_ == 2357
    assert model.n_rows_ < 2357  # compressed to unique (frequency, recency, T)
    published_ll = pareto_nbd_log_likelihood(np.log(list(PUBLISHED.values())), *_arrays(cdnow))[0].sum()
    assert 0 < model.log_likelihood_ - published_ll < 1e-4


def test_summary_has_intervals_around_the_estimates(cdnow):
    summary = ParetoNBDModel().fit(*_columns(cdnow)).summary()
    assert list(summary.index) == ["r", "alpha", "s", "beta"]
    assert (summary["ci_low"] < summary["estimate"]).all()
    assert (summary["estimate"] < summary["ci_high"]).all()
    assert (summary["std_error"] > 0).all()


# --------------------------------------------------------------------------- parity with lifetimes


@pytest.mark.parametrize("params", PARAM_SETS)
def test_log_likelihood_equals_lifetimes(cdnow, params):
    """Per customer, on CDNOW and the extreme histories, wherever lifetimes is finite. It is not for
    frequency 1e4 (rows 7-10 of the extremes), nor for recency = T at frequencies >= 100 (see
    ``test_lifetimes_gives_nan_for_recency_equal_to_T_with_large_frequency``)."""
    data = pd.concat([cdnow[["frequency", "recency", "T"]], HISTORIES], ignore_index=True)
    want = _lifetimes_ll(params, data)
    got, _ = pareto_nbd_log_likelihood(np.log(list(params.values())), *_arrays(data))
    finite = np.isfinite(want)
    assert finite[: len(cdnow)].all()
    assert np.all(np.abs(got - want)[finite] <= 1e-9 * np.maximum(1.0, np.abs(want[finite])))


@pytest.mark.parametrize("params", PARAM_SETS)
def test_predictions_equal_lifetimes(cdnow, params):
    model, ref = _model(params), lifetimes_fitter("ParetoNBDFitter", params)
    data = pd.concat([cdnow[["frequency", "recency", "T"]], HISTORIES], ignore_index=True)
    cols = _columns(data)
    want = quiet(ref.conditional_probability_alive, *cols)
    finite = np.isfinite(want)
    assert finite[: len(cdnow)].all()
    assert rel_err(model.probability_alive(*cols)[finite], want[finite]) < 1e-9
    for t in (1.0, 39.0, 100.0):
        want = quiet(ref.conditional_expected_number_of_purchases_up_to_time, t, *cols)
        finite = np.isfinite(want)
        assert rel_err(model.expected_purchases(t, *cols)[finite], want[finite]) < 1e-9
    horizons = np.array([0.1, 1.0, 39.0, 1000.0])
    assert rel_err(model.expected_purchases_new_customer(horizons),
                   quiet(ref.expected_number_of_purchases_up_to_time, horizons)) < 1e-9
    # lifetimes' conditional PMF subtracts two hypergeometric terms: for small probabilities its
    # rounding shows (1e-5 relative at 1e-12, see the next test), so compare where it is > 1e-6
    for n in (0, 1, 2, 7, 30):
        for t in (1.0, 39.0):
            want = quiet(ref.conditional_probability_of_n_purchases_up_to_time, n, t, *cols)
            got = model.probability_of_purchases(n, t, *cols)
            finite = np.isfinite(want)
            big = finite & (want > 1e-6)
            assert not big.any() or rel_err(got[big], want[big]) < 1e-6
            assert np.all(np.abs(got - want)[finite] < 1e-12)


def test_small_conditional_probabilities_equal_direct_quadrature_where_lifetimes_is_off():
    """P(7 purchases in the next week | x=1, t_x=5.14, T=38.43): lifetimes is 1e-5 off; adaptive
    quadrature of the defining integral (P(alive) x [survive with 7 + die after 7]) agrees."""
    params = PUBLISHED
    history = (1.0, 5.14, 38.43)
    got = _model(params).probability_of_purchases(7, 1.0, *history)
    r, alpha, s, beta = params.values()
    x, _, age = history
    a1, b1, m, n = alpha + age, beta + age, r + x, 7

    def nb(tau):
        return np.exp(gammaln(m + n) - gammaln(m) - gammaln(n + 1) + m * np.log(a1 / (a1 + tau))
                      + n * np.log(tau / (a1 + tau)))

    die = integrate.quad(lambda tau: s * b1**s * (b1 + tau) ** (-s - 1) * nb(tau), 0, 1.0,
                         epsabs=0, epsrel=1e-13)[0]
    want = _model(params).probability_alive(*history) * (nb(1.0) * (b1 / (b1 + 1.0)) ** s + die)
    assert rel_err(got, want) < 1e-10
    ref = lifetimes_fitter("ParetoNBDFitter", params)
    lifetimes_value = quiet(ref.conditional_probability_of_n_purchases_up_to_time, 7, 1.0, *history)
    assert rel_err(lifetimes_value, want) > 1e-6


def test_lifetimes_gives_nan_for_recency_equal_to_T_with_large_frequency():
    """With scipy 1.17, lifetimes' 2F1 at a first parameter in the hundreds is NaN/inf, and its
    A_0 takes the log of a difference that is exactly 0 at recency = T. The model's J is 0 there:
    the likelihood is the closed form of the "alive" term and P(alive) = 1."""
    frame = pd.DataFrame({"frequency": [100, 300, 1000, 10_000], "recency": [1e4, 38.86, 38.86, 38.86],
                          "T": [1e4, 38.86, 38.86, 38.86]})
    assert np.isnan(_lifetimes_ll(PUBLISHED, frame)).all()
    r, alpha, s, beta = PUBLISHED.values()
    x, _, age = _arrays(frame)
    closed = (gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
              - (r + x) * np.log(alpha + age) - s * np.log(beta + age))
    got, grad = pareto_nbd_log_likelihood(np.log(list(PUBLISHED.values())), *_arrays(frame))
    assert rel_err(got, closed) < 1e-14 and np.isfinite(grad).all()
    model = _model(PUBLISHED)
    assert (model.probability_alive(*_columns(frame)) == 1.0).all()
    ref = lifetimes_fitter("ParetoNBDFitter", PUBLISHED)
    assert np.isnan(quiet(ref.conditional_probability_alive, *_columns(frame))).all()


# --------------------------------------------------------------------------- independent checks


@pytest.mark.parametrize("params", PARAM_SETS)
def test_gradient_equals_finite_differences(params):
    data = _arrays(HISTORIES)
    theta = np.log(list(params.values()))
    ll, grad = pareto_nbd_log_likelihood(theta, *data)
    h = 1e-5
    numeric = np.array([pareto_nbd_log_likelihood(theta + step, *data)[0]
                        - pareto_nbd_log_likelihood(theta - step, *data)[0]
                        for step in h * np.eye(4)]) / (2 * h)
    # the rounding of ll (up to 1e5 for x = 1e4) over 2h bounds what the differences can resolve
    tolerance = 1e-6 * (1 + np.abs(numeric)) + 1e-14 * np.abs(ll) / h
    assert (np.abs(grad - numeric) <= tolerance).all()


def test_gradient_at_alpha_equal_to_beta_is_continuous():
    """alpha == beta is where the two hypergeometric branches meet: the gradient there equals the
    gradient a hair to either side."""
    data = _arrays(HISTORIES)
    theta = np.log([2.0, 3.0, 2.0, 3.0])
    at = pareto_nbd_log_likelihood(theta, *data)[1]
    for eps in (1e-9, -1e-9):
        near = pareto_nbd_log_likelihood(theta + np.array([0, 0, 0, eps]), *data)[1]
        assert np.all(np.abs(at - near) <= 1e-6 * (1 + np.abs(at)))


@pytest.mark.parametrize("history", [(0, 0.0, 38.86), (2, 30.43, 38.86), (26, 30.86, 31.0),
                                     (1000, 38.0, 38.86), (7, 38.86, 38.86)])
@pytest.mark.parametrize("params", [PUBLISHED, PARAM_SETS[4]])
def test_conditional_pmf_sums_to_one_with_the_expected_mean(history, params):
    model = _model(params)
    n = np.arange(2500)
    pmf = model.probability_of_purchases(n, 39.0, *history)
    assert np.all((pmf >= 0) & (pmf <= 1))
    assert pmf.sum() == pytest.approx(1.0, abs=1e-10)
    assert (n * pmf).sum() == pytest.approx(model.expected_purchases(39.0, *history), rel=1e-9)
    assert model.probability_of_purchases(0, 0.0, *history) == pytest.approx(1.0, abs=1e-15)


def test_new_customer_expectation_is_the_conditional_one_at_zero_age():
    model = _model(PUBLISHED)
    t = np.array([0.0, 1.0, 52.0, 1e4])
    assert rel_err(model.expected_purchases_new_customer(t), model.expected_purchases(t, 0, 0.0, 0.0)) < 1e-14
    # s = 1 is a removable singularity of r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)]
    at_one = _model(dict(PUBLISHED, s=1.0)).expected_purchases_new_customer(52.0)
    near = _model(dict(PUBLISHED, s=1.0 + 1e-9)).expected_purchases_new_customer(52.0)
    assert np.isfinite(at_one) and abs(at_one - near) < 1e-8


# --------------------------------------------------------------------------- DERT


def test_dert_equals_the_published_closed_form():
    """FHL05: DERT = alpha^r beta^s delta^(s-1) Gamma(r+x+1) U(s, s; delta(beta+T)) / (Gamma(r)
    (alpha+T)^(r+x+1) L), with scipy's Tricomi U and L = exp(LL)."""
    model = _model(PUBLISHED)
    r, alpha, s, beta = PUBLISHED.values()
    for delta in (np.log(1.15) / 52, 0.01, 0.5):
        for x, tx, age in [(0, 0.0, 38.86), (2, 30.43, 38.86), (26, 30.86, 31.0), (10, 5.0, 38.0)]:
            ll = pareto_nbd_log_likelihood(np.log([r, alpha, s, beta]), np.array([x]), np.array([tx]),
                                           np.array([age]))[0][0]
            log_want = (r * np.log(alpha) + s * np.log(beta) + (s - 1) * np.log(delta) + gammaln(r + x + 1)
                        + np.log(hyperu(s, s, delta * (beta + age))) - gammaln(r)
                        - (r + x + 1) * np.log(alpha + age) - ll)
            got = model.discounted_expected_residual_transactions(delta, x, tx, age)
            assert rel_err(got, np.exp(log_want)) < 1e-10


@pytest.mark.parametrize("kappa", [1e-9, 1e-3, 0.115, 30.0])
def test_dert_discounted_lifetime_matches_exponential_integrals(kappa):
    """At s = 1 and s = 2, E[1/(kappa + G)] (G ~ Gamma(s, 1)) is e^kappa E1(kappa) and
    1 - kappa e^kappa E1(kappa); with beta + T = 1 and x = 0 at alpha + T = r, DERT is exactly that."""
    for s, want in ((1.0, np.exp(kappa) * exp1(kappa)), (2.0, 1 - kappa * np.exp(kappa) * exp1(kappa))):
        model = _model({"r": 1.0, "alpha": 1.0, "s": s, "beta": 1.0})
        got = model.discounted_expected_residual_transactions(kappa, 0, 0.0, 0.0)  # alive, E[lambda] = 1
        assert rel_err(got, want) < 1e-12


def test_dert_is_decreasing_in_the_discount_rate_with_the_undiscounted_limit():
    """As delta -> 0 with s > 1, DERT tends to P(alive) E[lambda] E[1/mu] = P(alive) (r+x)/(alpha+T)
    (beta+T)/(s-1), the expected number of all future purchases."""
    params = dict(PUBLISHED, s=2.5)
    model = _model(params)
    history = (2, 30.43, 38.86)
    rates = np.array([1e-9, 1e-4, 0.003, 0.1, 10.0])
    dert = model.discounted_expected_residual_transactions(rates, *history)
    assert np.all(np.diff(dert) < 0)
    r, alpha, s, beta = params.values()
    limit = model.probability_alive(*history) * (r + 2) / (alpha + 38.86) * (beta + 38.86) / (s - 1)
    assert rel_err(dert[0], limit) < 1e-6


def test_dert_needs_a_positive_discount_rate():
    with pytest.raises(InputError, match="delta"):
        _model(PUBLISHED).discounted_expected_residual_transactions(0.0, 2, 30.43, 38.86)


# --------------------------------------------------------------------------- extremes, bad data


@pytest.mark.parametrize("params", [*PARAM_SETS, {"r": 0.553, "alpha": 11.669, "s": 0.606, "beta": 11.669},
                                    {"r": 1e-3, "alpha": 1e3, "s": 1e-3, "beta": 1e-3},
                                    {"r": 50.0, "alpha": 1e-3, "s": 30.0, "beta": 5e3}])
def test_predictions_stay_finite_at_the_extremes(params):
    """frequency 0..1e4, T up to 1e4, recency 0 and recency = T, alpha == beta exactly, z ~ 1;
    every history at every horizon and count in one vectorised call."""
    model = _model(params)
    horizons = [0.0, 1.0, 39.0, 1e4]
    grid = HISTORIES.merge(pd.DataFrame({"t": horizons}), how="cross")
    expected = model.expected_purchases(grid["t"], *_columns(grid)).to_numpy().reshape(-1, len(horizons))
    assert np.isfinite(expected).all() and (np.diff(expected, axis=1) >= 0).all()
    grid = grid.merge(pd.DataFrame({"n": [0, 1, 100, 10_000]}), how="cross")
    pmf = model.probability_of_purchases(grid["n"], grid["t"], *_columns(grid))
    assert np.isfinite(pmf).all() and pmf.between(0, 1).all()
    cols = _columns(HISTORIES)
    alive = model.probability_alive(*cols)
    assert np.isfinite(alive).all() and alive.between(0, 1).all()
    dert = model.discounted_expected_residual_transactions(np.log(1.1) / 52, *cols)
    assert np.isfinite(dert).all() and (dert >= 0).all()
    assert np.isfinite(model.expected_purchases_new_customer(np.array([0.0, 1.0, 1e4]))).all()
    ll, grad = pareto_nbd_log_likelihood(np.log(list(params.values())), *_arrays(HISTORIES))
    assert np.isfinite(ll).all() and np.isfinite(grad).all()


def test_one_row_and_scalar_inputs():
    model = _model(PUBLISHED)
    scalar = model.probability_alive(2, 30.43, 38.86)
    assert isinstance(scalar, float)
    assert model.probability_alive([2], [30.43], [38.86])[0] == scalar
    series = model.expected_purchases(39.0, pd.Series([2], index=["c1"]), 30.43, 38.86)
    assert list(series.index) == ["c1"] and np.isfinite(series.iloc[0])


def test_bad_histories_are_input_errors():
    with pytest.raises(InputError, match="recency"):
        _model(PUBLISHED).probability_alive(2, 40.0, 38.86)
    with pytest.raises(InputError, match="recency"):
        ParetoNBDModel().fit([1, 2], [3.0, 50.0], [39.0, 39.0])


def test_nobody_repeats_is_a_model_error():
    with pytest.raises(ModelError, match="no customer made a repeat purchase") as err:
        ParetoNBDModel().fit(np.zeros(50), np.zeros(50), np.full(50, 39.0))
    assert err.value.hint


@pytest.mark.parametrize("data", [([3], [20.0], [39.0]), ([3, 3], [20.0, 20.0], [39.0, 39.0]),
                                  ([10_000], [1e4], [1e4]), ([0, 5], [0.0, 20.0], [30.0, 30.0])])
def test_one_customer_warns_or_fails_but_never_gives_nan(data):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = ParetoNBDModel().fit(*data)
        except ModelError:
            return
    assert any(issubclass(w.category, (ConvergenceWarning, DataWarning)) for w in caught)
    assert np.isfinite(list(model.params_.values())).all() and np.isfinite(model.log_likelihood_)
    assert np.isfinite(model.expected_purchases(39.0, *data)).all()
    assert np.isfinite(model.probability_alive(*data)).all()


# --------------------------------------------------------------------------- recovery


def _recovery(n, seeds):
    fitted = []

    def fit(frame):
        fitted.append(ParetoNBDModel().fit(*_columns(frame)))
        return fitted[-1]

    inside = recovery_coverage(fit, lambda seed: simulate_pareto_nbd(n, **PUBLISHED, T=38.86, seed=seed),
                               PUBLISHED, seeds)
    return inside, [m.summary() for m in fitted]


def test_recovers_simulated_parameters():
    """Default run: 4 seeds x 20k customers. Every parameter inside its 95% interval in >= 3 seeds,
    and every interval narrower than (true/2, 2 true) -- so intervals too wide to miss cannot pass."""
    inside, summaries = _recovery(20_000, range(4))
    assert (inside.sum(axis=0) >= 3).all(), inside
    for summary in summaries:
        true = pd.Series(PUBLISHED)
        assert ((summary["ci_low"] > true / 2) & (summary["ci_high"] < 2 * true)).all(), summary


@pytest.mark.slow
def test_recovers_simulated_parameters_at_scale():
    """Issue 5: 100k customers, 20 seeds, every parameter inside its 95% interval in >= 90%."""
    inside, _ = _recovery(100_000, range(20))
    assert (inside.mean(axis=0) >= 0.9).all(), inside.mean(axis=0)
