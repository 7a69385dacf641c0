"""Gamma-Gamma: the published CDNOW fit (Fader, Hardie & Lee 2005, JMR: p = 6.25, q = 3.74,
v = 15.44 on the 946 customers with repeat purchases), parity with lifetimes, warnings, bad input,
extremes and recovery."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from jingzhun.errors import InputError, ModelError
from jingzhun.predict.btyd import DataWarning, GammaGammaModel
from jingzhun.predict.btyd.gamma_gamma import gamma_gamma_log_likelihood
from jingzhun.simulate.populations import simulate_gamma_gamma
from tests.predict.btyd.helpers import lifetimes_fitter, quiet, recovery_coverage, rel_err

PUBLISHED = {"p": 6.25, "q": 3.74, "v": 15.44}


def _repeaters(frame):
    rows = frame[frame["frequency"] > 0]
    return rows["frequency"], rows["monetary_value"]


def _assert_published(model):
    assert round(model.params_["p"], 2) == PUBLISHED["p"]
    assert round(model.params_["q"], 2) == PUBLISHED["q"]
    # the paper prints v = 15.44; the estimate is 15.4477 (lifetimes gets the same), so this is
    # a truncation in print: held to the paper's last digit
    assert abs(model.params_["v"] - PUBLISHED["v"]) < 0.01


def test_cdnow_fit_reproduces_the_published_figures(cdnow):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # CDNOW's correlation is 0.11: no warning
        model = GammaGammaModel().fit(*_repeaters(cdnow))
    _assert_published(model)
    assert model.n_customers_ == 946 and model.converged_
    assert model.correlation_ == pytest.approx(0.1139, abs=1e-3)


@pytest.mark.shared
def test_fit_on_the_summary_built_from_the_raw_sample(cdnow_built):
    _assert_published(GammaGammaModel().fit(*_repeaters(cdnow_built)))


def test_log_likelihood_and_expected_spend_equal_lifetimes(cdnow):
    frequency, spend = (c.to_numpy(float) for c in _repeaters(cdnow))
    for params in (PUBLISHED, {"p": 0.5, "q": 1.5, "v": 300.0}, {"p": 40.0, "q": 20.0, "v": 2.0}):
        ref = lifetimes_fitter("GammaGammaFitter", params)
        theta = np.log(list(params.values()))
        ll, _ = gamma_gamma_log_likelihood(theta, frequency, spend)
        want = -quiet(ref._negative_log_likelihood, theta, frequency, spend, np.ones(spend.size), 0.0)
        assert rel_err(ll.mean(), want) < 1e-12
        model = GammaGammaModel()
        model.params_ = dict(params)
        assert rel_err(model.expected_spend(frequency, spend),
                       quiet(ref.conditional_expected_average_profit, frequency, spend)) < 1e-12


def test_gradient_equals_finite_differences():
    frequency = np.array([1.0, 1, 2, 50, 10_000, 3])
    spend = np.array([0.01, 35.0, 1e6, 20.0, 19.5, 1e-6])
    for params in ({"p": 6.25, "q": 3.74, "v": 15.44}, {"p": 0.1, "q": 0.8, "v": 1e4}):
        theta = np.log(list(params.values()))
        ll, grad = gamma_gamma_log_likelihood(theta, frequency, spend)
        assert np.isfinite(ll).all() and np.isfinite(grad).all()
        for i in range(3):  # a wide step: ll of x = 1e4 is a difference of gammaln ~ 1e6
            step = np.eye(3)[i] * 1e-4
            numeric = (gamma_gamma_log_likelihood(theta + step, frequency, spend)[0]
                       - gamma_gamma_log_likelihood(theta - step, frequency, spend)[0]) / 2e-4
            assert np.allclose(grad[i], numeric, rtol=1e-5, atol=1e-6)


def test_expected_spend_is_a_weighted_average():
    """x = 0 gives the population mean p v / (q - 1); many transactions give the own mean."""
    model = GammaGammaModel()
    model.params_ = dict(PUBLISHED)
    p, q, v = PUBLISHED.values()
    assert model.expected_spend(0, 0.0) == pytest.approx(p * v / (q - 1))
    assert model.expected_spend(10_000, 42.0) == pytest.approx(42.0, rel=1e-3)
    assert isinstance(model.expected_spend(1, 30.0), float)


def test_correlated_frequency_and_spend_warns():
    rng = np.random.default_rng(0)
    frequency = rng.integers(1, 30, 2000)
    spend = simulate_gamma_gamma(frequency, **PUBLISHED, seed=1) * (1 + frequency / 3)
    with pytest.warns(DataWarning, match="correlate"):
        model = GammaGammaModel().fit(frequency, spend)
    assert model.correlation_ > 0.3


def test_bad_input_names_the_value_and_its_position():
    with pytest.raises(InputError, match=r"frequency\[2\] = 0: .*at least one repeat purchase"):
        GammaGammaModel().fit([1, 2, 0], [10.0, 20.0, 0.0])
    with pytest.raises(InputError, match=r"monetary_value\[1\] = 0 is not positive"):
        GammaGammaModel().fit([1, 2], [10.0, 0.0])
    with pytest.raises(InputError, match=r"monetary_value\[0\] = -1 is negative"):
        GammaGammaModel().fit([1], [-1.0])
    with pytest.raises(InputError, match=r"frequency\[0\] = 1.5 is not a whole number"):
        GammaGammaModel().fit([1.5], [3.0])


def test_infinite_expected_spend_is_a_model_error():
    model = GammaGammaModel()
    model.params_ = {"p": 0.1, "q": 0.8, "v": 10.0}  # q <= 1: the population mean is infinite
    with pytest.raises(ModelError, match=r"infinite for frequency\[0\] = 0"):
        model.expected_spend([0, 5], [0.0, 20.0])
    assert np.isfinite(model.expected_spend(5, 20.0))


def _draw(n):
    def draw(seed):
        frequency = np.random.default_rng(seed).integers(1, 10, n)
        return frequency, simulate_gamma_gamma(frequency, **PUBLISHED, seed=seed + 1000)
    return draw


def test_recovers_simulated_parameters():
    inside = recovery_coverage(lambda d: GammaGammaModel().fit(*d), _draw(10_000), PUBLISHED, range(4))
    assert (inside.sum(axis=0) >= 3).all(), inside


@pytest.mark.slow
def test_recovers_simulated_parameters_at_scale():
    inside = recovery_coverage(lambda d: GammaGammaModel().fit(*d), _draw(100_000), PUBLISHED, range(20))
    assert (inside.mean(axis=0) >= 0.9).all(), inside.mean(axis=0)
