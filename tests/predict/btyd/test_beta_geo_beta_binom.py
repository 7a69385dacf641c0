"""BG/BB: Fader, Hardie & Shang (2010)'s published fit on their donations data (alpha = 1.204,
beta = 0.750, gamma = 0.657, delta = 2.783, LL = -33225.6; lifetimes ships the data), parity
with lifetimes, the two evaluation paths of eq. 13, extremes, bad input and recovery."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import betaln

from jingzhun.errors import InputError, ModelError
from jingzhun.predict.btyd import BetaGeoBetaBinomModel, DataWarning
from jingzhun.predict.btyd import beta_geo_beta_binom as bgbb
from jingzhun.simulate.populations import simulate_bgbb
from tests.predict.btyd.helpers import lifetimes_fitter, quiet, recovery_coverage, rel_err

PUBLISHED = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
PARAM_SETS = [PUBLISHED, {"alpha": 0.3, "beta": 4.0, "gamma": 2.5, "delta": 0.4},
              {"alpha": 8.0, "beta": 0.2, "gamma": 1.3, "delta": 30.0}]
#: Histories at the edges: n up to 1e4, recency 0 and recency = n, every period a transaction.
EXTREMES = pd.DataFrame({"frequency": [0, 0, 1, 6, 1, 10_000, 5000, 3],
                         "recency": [0, 0, 1, 6, 10_000, 10_000, 9000, 3],
                         "n_periods": [0, 10_000, 6, 6, 10_000, 10_000, 10_000, 10_000]})


@pytest.fixture(scope="module")
def donations():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        datasets = pytest.importorskip("lifetimes.datasets")
    return datasets.load_donations()


def _columns(frame):
    """frequency, recency, n_periods (``periods`` in lifetimes' donations data)."""
    return frame["frequency"], frame["recency"], frame["n_periods" if "n_periods" in frame else "periods"]


def _model(params):
    model = BetaGeoBetaBinomModel()
    model.params_ = dict(params)
    return model


def test_donations_fit_reproduces_the_published_figures(donations):
    model = BetaGeoBetaBinomModel().fit(*_columns(donations), weights=donations["weights"])
    assert {k: round(v, 3) for k, v in model.params_.items()} == PUBLISHED
    assert round(model.log_likelihood_, 1) == -33225.6
    assert model.n_customers_ == 11_104 and model.converged_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = lifetimes_fitter("BetaGeoBetaBinomFitter", {}).fit(*_columns(donations),
                                                                 weights=donations["weights"])
    assert rel_err(list(model.params_.values()), ref.params_.to_numpy()) < 1e-4
    # expanding the weights to one row per donor gives the same fit
    expanded = donations.loc[donations.index.repeat(donations["weights"])]
    again = BetaGeoBetaBinomModel().fit(*_columns(expanded))
    assert rel_err(list(again.params_.values()), list(model.params_.values())) < 1e-8


@pytest.mark.parametrize("params", PARAM_SETS)
def test_log_likelihood_and_predictions_equal_lifetimes(donations, params):
    """On the donations histories and 300 random ones (n up to 40).

    lifetimes adds 1e-15 to the unnormalised dropout sum before its logarithm, which moves its
    L by ``1e-15 / (B(alpha, beta) B(gamma, delta))``: visible where L is that small (e.g. a
    customer who transacted in the last of many periods, with an empty sum). The comparison
    allows that shift, and the predictions (which divide by L) are compared, to 1e-6, where it is
    below 1e-8 relative."""
    model, ref = _model(params), lifetimes_fitter("BetaGeoBetaBinomFitter", params)
    rng = np.random.default_rng(7)
    n = rng.integers(0, 40, 300)
    recency = np.floor(rng.uniform(0, 1, 300) * (n + 1)).astype(int)
    frequency = np.minimum(np.where(recency > 0, 1 + np.floor(rng.uniform(0, 1, 300) * recency), 0), recency)
    cols = [np.concatenate([a, b.to_numpy()]) for a, b in
            zip((frequency.astype(int), recency, n), _columns(donations), strict=True)]
    ll, _ = bgbb.bgbb_log_likelihood(np.log(list(params.values())), *(c.astype(float) for c in cols))
    shift = 1e-15 * np.exp(-betaln(params["alpha"], params["beta"]) - betaln(params["gamma"], params["delta"])
                           - ll)
    want = quiet(ref._loglikelihood, list(params.values()), *cols)
    assert np.all(np.abs(ll - want) <= 1e-9 * np.maximum(1, np.abs(want)) + np.log1p(shift))
    clean = shift < 1e-8
    assert clean.sum() > 150
    cols = [c[clean] for c in cols]
    for m in (1, 5, 10):
        assert rel_err(model.expected_purchases(m, *cols),
                       quiet(ref.conditional_expected_number_of_purchases_up_to_time, m, *cols)) < 1e-6
    for m in (0, 1, 5):
        assert rel_err(model.probability_alive(*cols, n_future_periods=m),
                       quiet(ref.conditional_probability_alive, m, *cols)) < 1e-6


def test_lifetimes_gives_nan_at_gamma_equal_to_one_where_the_model_is_continuous():
    """Eq. 13's closed form divides by gamma - 1: lifetimes returns NaN at gamma = 1."""
    history = (np.array([3]), np.array([5]), np.array([6]))
    ref = lifetimes_fitter("BetaGeoBetaBinomFitter", dict(PUBLISHED, gamma=1.0))
    assert np.isnan(quiet(ref.conditional_expected_number_of_purchases_up_to_time, 5, *history))
    at, below, above = (_model(dict(PUBLISHED, gamma=g)).expected_purchases(5, 3, 5, 6)
                        for g in (1.0, 1 - 1e-7, 1 + 1e-7))
    assert np.isfinite(at) and abs(at - below) < 1e-6 and abs(at - above) < 1e-6


def test_new_customer_expectation_equals_lifetimes_table(donations):
    """lifetimes' P(X(n) = x) table over x = 0..6 (FHS eq. 7) gives E[X(6)] as its mean."""
    model = BetaGeoBetaBinomModel().fit(*_columns(donations), weights=donations["weights"])
    ref = lifetimes_fitter("BetaGeoBetaBinomFitter", model.params_)
    ref.data = pd.DataFrame({"frequency": donations["frequency"], "weights": donations["weights"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = ref.expected_number_of_transactions_in_first_n_periods(6)
    mean = float((table.index.to_numpy() * table["model"].to_numpy()).sum() / donations["weights"].sum())
    assert rel_err(model.expected_purchases_new_customer(6), mean) < 1e-9


@pytest.mark.parametrize("gamma", [0.05, 0.657, 1 - 1e-9, 1.0, 1 + 1e-6, 1.5, 30.0])
def test_long_horizons_closed_form_equals_the_direct_sum(monkeypatch, gamma):
    """Eq. 13 by its closed form (horizons > 256) and by summing its terms agree, gamma = 1
    (where the closed form is 0/0) included."""
    n = np.array([0.0, 6, 100, 1e4, 1e4, 0])
    m = np.array([1.0, 6, 300, 300, 1, 1e4])
    direct = [np.sum(np.exp(betaln(gamma, 2.783 + k + np.arange(1, j + 1)) - betaln(gamma, 2.783)))
              for k, j in zip(n, m.astype(int), strict=True)]
    monkeypatch.setattr(bgbb, "_DIRECT_SUM_PERIODS", 0)
    assert rel_err(bgbb._alive_sum(gamma, 2.783, n, m), direct) < 1e-9


@pytest.mark.parametrize("history", [(0, 0, 6), (3, 5, 6), (6, 6, 6), (1, 1, 10_000), (40, 60, 100)])
def test_conditional_pmf_sums_to_one_with_the_expected_mean(history):
    model = _model(PUBLISHED)
    for horizon in (0, 1, 5, 40):
        counts = np.arange(horizon + 2)  # one beyond the horizon: probability 0
        pmf = model.probability_of_purchases(counts, horizon, *history)
        assert np.all((pmf >= 0) & (pmf <= 1)) and pmf[-1] == 0
        assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
        assert (counts * pmf).sum() == pytest.approx(model.expected_purchases(horizon, *history), rel=1e-9,
                                                     abs=1e-300)


def test_gradient_equals_finite_differences():
    cols = [c.to_numpy(float) for c in _columns(EXTREMES)]
    for params in PARAM_SETS:
        theta = np.log(list(params.values()))
        ll, grad = bgbb.bgbb_log_likelihood(theta, *cols)
        for i in range(4):
            step = np.eye(4)[i] * 1e-5
            numeric = (bgbb.bgbb_log_likelihood(theta + step, *cols)[0]
                       - bgbb.bgbb_log_likelihood(theta - step, *cols)[0]) / 2e-5
            assert np.allclose(grad[i], numeric, rtol=1e-5, atol=1e-5 + 1e-14 * np.abs(ll).max() / 1e-5)


@pytest.mark.parametrize("params", PARAM_SETS)
def test_predictions_stay_finite_at_the_extremes(params):
    model = _model(params)
    cols = _columns(EXTREMES)
    previous = np.zeros(len(EXTREMES))
    for m in (0, 1, 300, 10_000):
        expected = model.expected_purchases(m, *cols)
        assert np.isfinite(expected).all() and (expected >= previous).all() and (expected <= m + 1e-9).all()
        previous = expected
        alive = model.probability_alive(*cols, n_future_periods=m)
        assert np.isfinite(alive).all() and ((alive >= 0) & (alive <= 1)).all()
    assert np.isfinite(model.expected_purchases_new_customer(np.array([0, 1, 10_000]))).all()


def test_bad_input_names_the_value_and_its_position():
    fit = BetaGeoBetaBinomModel().fit
    with pytest.raises(InputError, match=r"frequency\[1\] = 3 is greater than recency\[1\] = 2"):
        fit([1, 3], [1, 2], [6, 6])
    with pytest.raises(InputError, match=r"recency\[0\] = 7 is greater than n_periods\[0\] = 6"):
        fit([1], [7], [6])
    with pytest.raises(InputError, match=r"recency\[0\] = 2 but frequency\[0\] = 0"):
        fit([0], [2], [6])
    with pytest.raises(InputError, match=r"n_periods\[0\] = 6.5 is not a whole number"):
        fit([1], [2], [6.5])


def test_degenerate_data_are_model_errors():
    with pytest.raises(ModelError, match="no customer made a repeat purchase"):
        BetaGeoBetaBinomModel().fit([0, 0], [0, 0], [6, 6])
    with (pytest.raises(ModelError, match="dropout cannot be estimated"),
          pytest.warns(DataWarning, match="only 2")):
        BetaGeoBetaBinomModel().fit([1, 6, 0], [6, 6, 0], [6, 6, 0])


def _draw(n):
    return lambda seed: simulate_bgbb(n, **PUBLISHED, n_periods=6, seed=seed)


def test_recovers_simulated_parameters():
    inside = recovery_coverage(lambda d: BetaGeoBetaBinomModel().fit(*_columns(d)), _draw(20_000),
                               PUBLISHED, range(4))
    assert (inside.sum(axis=0) >= 3).all(), inside


@pytest.mark.slow
def test_recovers_simulated_parameters_at_scale():
    inside = recovery_coverage(lambda d: BetaGeoBetaBinomModel().fit(*_columns(d)), _draw(100_000),
                               PUBLISHED, range(20))
    assert (inside.mean(axis=0) >= 0.9).all(), inside.mean(axis=0)
