"""Fixtures shared by the report tests: a BG/NBD model at the published CDNOW estimates and the
checking tables made from it (``predict.btyd.checking``), for the BTYD figures and their readings."""

from __future__ import annotations

import numpy as np
import pytest

from jingzhun.predict.btyd import BetaGeoModel
from jingzhun.predict.btyd.checking import calibration_holdout_table, probability_alive_matrix, tracking_table
from jingzhun.simulate import simulate_bgnbd


@pytest.fixture(scope="module")
def model() -> BetaGeoModel:
    """BG/NBD at the published CDNOW estimates (weeks)."""
    m = BetaGeoModel()
    m.params_ = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    return m


@pytest.fixture(scope="module")
def tables(model) -> dict:
    """``calibration``, ``tracking`` and ``alive`` tables of 500 simulated customers (weeks)."""
    rng = np.random.default_rng(5)
    summary = simulate_bgnbd(500, **model.params_, T=rng.uniform(27, 39, 500), seed=rng)
    summary["frequency_holdout"] = rng.poisson(1.0, 500)
    summary["duration_holdout"] = 39.0
    first = rng.integers(0, 84, 300) / 7.0
    repeat = rng.uniform(0, 30, 600)
    return {"calibration": calibration_holdout_table(model, summary),
            "tracking": tracking_table(model, first, repeat, periods=30, calibration_periods=20),
            "alive": probability_alive_matrix(model, max_frequency=15, T=38.86)}
