"""MBG/NBD: the CDNOW fit matches BTYDplus (r = 0.525, alpha = 6.183, a = 0.891, b = 1.614), and
what sets it apart from BG/NBD. Parity with lifetimes, the independent checks, extremes and
recovery run for both models in ``test_beta_geo.py`` (they share the code)."""

from __future__ import annotations

import numpy as np
import pytest

from jingzhun.predict.btyd import BetaGeoModel, ModifiedBetaGeoModel
from tests.predict.btyd.helpers import lifetimes_fitter, quiet, rel_err

BTYDPLUS = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}


def test_cdnow_fit_matches_btydplus(cdnow):
    model = ModifiedBetaGeoModel().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    assert {k: round(v, 3) for k, v in model.params_.items()} == BTYDPLUS
    assert model.converged_
    # one parameter more of freedom where it matters: at least as good a fit as BG/NBD's
    assert model.log_likelihood_ > BetaGeoModel().fit(cdnow["frequency"], cdnow["recency"],
                                                      cdnow["T"]).log_likelihood_


@pytest.mark.shared
def test_fit_on_the_summary_built_from_the_raw_sample(cdnow_built):
    model = ModifiedBetaGeoModel().fit(cdnow_built["frequency"], cdnow_built["recency"], cdnow_built["T"])
    assert {k: round(v, 3) for k, v in model.params_.items()} == BTYDPLUS


def test_customers_without_repeat_purchases_may_be_gone():
    """MBG/NBD's P(alive) at x = 0 is ``1 / (1 + a/b ((alpha+T)/alpha)^r)`` (BG/NBD's is 1),
    equal to lifetimes', and falls with age."""
    model = ModifiedBetaGeoModel()
    model.params_ = dict(BTYDPLUS)
    ages = np.array([0.0, 1.0, 38.86, 1e4])
    alive = model.probability_alive(0, 0.0, ages)
    r, alpha, a, b = BTYDPLUS.values()
    assert rel_err(alive, 1 / (1 + a / b * ((alpha + ages) / alpha) ** r)) < 1e-12
    ref = lifetimes_fitter("ModifiedBetaGeoFitter", BTYDPLUS)
    assert rel_err(alive, quiet(ref.conditional_probability_alive, 0, 0.0, ages)) < 1e-12
    assert np.all(np.diff(alive) < 0) and alive[0] == pytest.approx(b / (a + b))
    # a new customer may drop out at once: P(no repeat purchase in t) > the BG/NBD one's
    bg = BetaGeoModel()
    bg.params_ = dict(BTYDPLUS)
    assert model.probability_of_purchases(0, 39.0, 0, 0, 0) > bg.probability_of_purchases(0, 39.0, 0, 0, 0)
    assert model.expected_purchases_new_customer(39.0) < bg.expected_purchases_new_customer(39.0)
