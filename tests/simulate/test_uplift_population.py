"""The uplift simulator: shape and types, reproducibility, the configured treated share, and
that the outcomes it draws agree with the truth it returns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jingzhun.errors import InputError
from jingzhun.simulate.uplift import (
    FEATURES,
    SEGMENT_UPLIFT,
    model_matrix,
    simulate_uplift_population,
)


@pytest.fixture(scope="module")
def big():
    return simulate_uplift_population(200_000, seed=3)


def test_frame_shape_and_types(big):
    frame, truth = big
    assert list(frame.columns) == ["customer_id", *FEATURES, "segment", "treatment", "converted",
                                   "revenue_amount"]
    assert frame["customer_id"].is_unique
    for col in ("channel", "city_tier", "segment"):
        assert isinstance(frame[col].dtype, pd.CategoricalDtype)
    assert set(frame["segment"].unique()) == set(SEGMENT_UPLIFT)
    assert set(frame["treatment"].unique()) == {0, 1}
    assert set(frame["converted"].unique()) == {0, 1}
    assert (frame["recency_days"] <= frame["tenure_days"]).all()
    assert ((frame["revenue_amount"] > 0) == (frame["converted"] == 1)).all()
    n = len(frame)
    assert truth.tau.shape == truth.p0.shape == truth.revenue_uplift.shape == (n,)
    assert ((truth.p0 > 0) & (truth.p0 < 1)).all()
    assert list(truth.segment_tau.index) == list(SEGMENT_UPLIFT)
    X = model_matrix(frame)
    assert all(pd.api.types.is_numeric_dtype(X[c]) for c in X.columns)


def test_reproducible_and_seeded():
    a, ta = simulate_uplift_population(1_000, seed=5)
    b, tb = simulate_uplift_population(1_000, seed=5)
    c, _ = simulate_uplift_population(1_000, seed=6)
    pd.testing.assert_frame_equal(a, b)
    np.testing.assert_array_equal(ta.tau, tb.tau)
    assert not a["converted"].equals(c["converted"]) or not a["recency_days"].equals(c["recency_days"])


def test_segment_truth_is_the_design(big):
    _, truth = big
    for seg, design in SEGMENT_UPLIFT.items():  # design +- the channel shift (1 point)
        assert abs(truth.segment_tau[seg] - design) <= 0.0101
    assert (truth.segment_tau < 0).any() and (truth.segment_tau.abs() < 0.01).any()
    assert truth.segment_tau.idxmax() == "at_risk_high_value"


def test_outcomes_follow_the_truth(big):
    """Difference in conversion (and revenue) between arms, per segment, within 4 standard errors
    of the true mean uplift."""
    frame, truth = big
    frame = frame.assign(tau=truth.tau, rev_uplift=truth.revenue_uplift)
    for seg, grp in frame.groupby("segment", observed=True):
        tr, co = grp[grp["treatment"] == 1], grp[grp["treatment"] == 0]
        for col, true in (("converted", truth.segment_tau[seg]),
                          ("revenue_amount", truth.segment_revenue_uplift[seg])):
            diff = tr[col].mean() - co[col].mean()
            se = np.sqrt(tr[col].var() / len(tr) + co[col].var() / len(co))
            assert abs(diff - true) < 4 * se, (seg, col, diff, true, se)
    # baseline: the control arm converts at the mean p0 of its customers
    control = frame["treatment"] == 0
    assert frame.loc[control, "converted"].mean() == pytest.approx(truth.p0[control].mean(), abs=0.004)


def test_treated_share_and_scale():
    frame, truth = simulate_uplift_population(50_000, seed=1, treated_share=0.2)
    assert frame["treatment"].mean() == pytest.approx(0.2, abs=0.01)
    assert truth.treated_share == 0.2
    _, flat = simulate_uplift_population(1_000, seed=1, uplift_scale=0.0)
    assert np.all(flat.tau == 0) and np.all(flat.revenue_uplift == 0)


@pytest.mark.parametrize("kwargs, match", [({"n": 0}, "n must be"), ({"n": 10, "treated_share": 1.0},
                                                                         "treated_share")])
def test_errors(kwargs, match):
    n = kwargs.pop("n")
    with pytest.raises(InputError, match=match):
        simulate_uplift_population(n, **kwargs)
