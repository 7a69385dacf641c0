"""Tests of jingzhun.plan.control: hashed assignment (the design's formula; the simulator's too),
stratified shares, min_size, stability when customers are added, and the power formulas.

statsmodels is not installed in this environment, so the power functions are checked against the
closed-form normal-approximation formulas computed here with scipy.stats.norm (and against the
textbook equal-arm sample size)."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from jingzhun.errors import ConfigError, InputError
from jingzhun.plan.control import (
    assign_control,
    assignment_uniform,
    control_sizes,
    minimum_detectable_effect,
    required_control_size,
)
from jingzhun.simulate._btyd import assignment_uniform as simulator_uniform


def people(n: int, strata=("a", "b", "c"), start: int = 0) -> pd.DataFrame:
    ids = [f"U{i:06d}" for i in range(start, start + n)]
    return pd.DataFrame({"customer_id": ids,
                         "stratum": [strata[(i * 7919) % len(strata)] for i in range(start, start + n)]})


def test_uniforms_follow_the_design_formula_and_the_simulator_uses_them():
    ids = [f"U{i:06d}" for i in range(500)] + ["", "客户-1"]
    ours = assignment_uniform("camp-7", ids, "s1")
    # DESIGN.md §4: sha256(campaign|customer|salt), first 8 bytes big-endian / 2**64
    reference = np.array([int.from_bytes(hashlib.sha256(f"camp-7|{c}|s1".encode()).digest()[:8], "big")
                          / 2.0**64 for c in ids])
    np.testing.assert_array_equal(ours, reference)
    assert [simulator_uniform("camp-7", c, "s1") for c in ids[:3]] == list(ours[:3])
    assert ((ours >= 0) & (ours < 1)).all()
    assert assignment_uniform("camp-7", [], "s1").shape == (0,)


def test_control_is_the_lowest_draws_of_each_stratum():
    cust = people(1000)
    arm = assign_control(cust, campaign_id="c1", share=0.1)
    u = pd.Series(assignment_uniform("c1", cust["customer_id"], "jingzhun"), index=cust.index)
    for _, g in cust.groupby("stratum"):
        ctrl = arm[g.index] == "control"
        assert u[g.index][ctrl].max() < u[g.index][~ctrl].min()


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 60), min_size=1, max_size=5),
       share=st.floats(0, 0.99), seed=st.integers(0, 10**6))
def test_share_met_in_every_stratum(sizes, share, seed):
    rows = [(f"id{seed}-{s}-{i}", f"s{s}") for s, n in enumerate(sizes) for i in range(n)]
    cust = pd.DataFrame(rows, columns=["customer_id", "seg"])
    arm = assign_control(cust, campaign_id=f"camp{seed}", share=share, stratum="seg")
    assert arm.index.equals(cust.index) and set(arm) <= {"control", "treatment"}
    for s, n in enumerate(sizes):
        n_ctrl = int((arm[cust["seg"] == f"s{s}"] == "control").sum())
        assert abs(n_ctrl - share * n) <= 0.5 + 1e-9  # round(share * n): within one customer


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 200), share=st.floats(0, 0.5), min_size=st.integers(0, 199),
       rnd=st.randoms(use_true_random=False))
def test_same_arms_whatever_the_row_order_and_min_size_met(n, share, min_size, rnd):
    cust = people(n)
    if min_size > n - 1:
        with pytest.raises(ConfigError):
            assign_control(cust, campaign_id="c", share=share, min_size=min_size)
        return
    arm = assign_control(cust, campaign_id="c", share=share, min_size=min_size)
    order = list(cust.index)
    rnd.shuffle(order)
    again = assign_control(cust.loc[order], campaign_id="c", share=share, min_size=min_size)
    pd.testing.assert_series_equal(arm, again.loc[arm.index])
    assert (arm == "control").sum() >= min_size


def test_min_size_raises_every_stratum_alike():
    sizes = pd.Series({"a": 600, "b": 300, "c": 100})
    assert control_sizes(sizes, 0.01).tolist() == [6, 3, 1]
    assert control_sizes(sizes, 0.01, min_size=100).tolist() == [60, 30, 10]
    assert control_sizes(sizes, 0.01, min_size=101).sum() == 101


@settings(max_examples=40, deadline=None)
@given(n_old=st.integers(1, 150), n_new=st.integers(0, 150), share=st.floats(0.01, 0.6))
def test_adding_customers_moves_as_few_existing_ones_as_possible(n_old, n_new, share):
    old = people(n_old)
    both = pd.concat([old, people(n_new, start=n_old)], ignore_index=True)
    arm_old = assign_control(old, campaign_id="c9", share=share)
    arm_new = assign_control(both, campaign_id="c9", share=share)
    for _, g in both.groupby("stratum"):
        existing = g.index[g.index < n_old]
        k_old = int((arm_old[existing] == "control").sum())
        k_new = int((arm_new[g.index] == "control").sum())
        a = int((arm_new[g.index[g.index >= n_old]] == "control").sum())
        to_ctrl = int(((arm_old[existing] == "treatment") & (arm_new[existing] == "control")).sum())
        to_treat = int(((arm_old[existing] == "control") & (arm_new[existing] == "treatment")).sum())
        assert to_ctrl == 0 or to_treat == 0  # one direction only
        assert to_ctrl + to_treat == abs(k_new - a - k_old)  # the fewest moves for those sizes


def test_bad_inputs():
    cust = people(10)
    with pytest.raises(InputError, match="stratum"):
        assign_control(cust.drop(columns="stratum"), campaign_id="c", share=0.1)
    with pytest.raises(InputError, match="duplicates"):
        assign_control(pd.concat([cust, cust]), campaign_id="c", share=0.1)
    with pytest.raises(ConfigError):
        assign_control(cust, campaign_id="c", share=1.0)
    with pytest.raises(ConfigError, match="nobody to treat"):
        assign_control(cust, campaign_id="c", share=0.1, min_size=10)
    assert assign_control(cust.iloc[:0], campaign_id="c", share=0.1).empty


def reference_power(d, n_t, n_c, p, alpha):
    """Power of the two-sided z-test at lift d, normal approximation (near tail only)."""
    se = math.sqrt(p * (1 - p) / n_c + (p + d) * (1 - p - d) / n_t)
    return norm.cdf(d / se - norm.ppf(1 - alpha / 2))


@pytest.mark.parametrize(("n_t", "n_c", "p", "alpha", "power"), [
    (10_000, 1_000, 0.05, 0.05, 0.8), (50_000, 50_000, 0.02, 0.05, 0.9), (2_000, 200, 0.3, 0.01, 0.8),
])
def test_mde_has_the_stated_power(n_t, n_c, p, alpha, power):
    d = minimum_detectable_effect(n_t, n_c, p, alpha=alpha, power=power)
    assert 0 < d < 1 - p
    assert reference_power(d, n_t, n_c, p, alpha) == pytest.approx(power, abs=1e-9)


def test_equal_arms_match_the_textbook_sample_size():
    p1, d = 0.10, 0.02
    z = norm.ppf(0.975) + norm.ppf(0.8)
    n = math.ceil(z**2 * (p1 * (1 - p1) + (p1 + d) * (1 - p1 - d)) / d**2)  # 3,839 per arm
    assert n == 3839
    assert minimum_detectable_effect(n, n, p1) <= d <= minimum_detectable_effect(n - 1, n - 1, p1)


def test_required_control_size_inverts_the_mde():
    n_c = required_control_size(20_000, 0.05, 0.01)
    assert minimum_detectable_effect(20_000, int(n_c), 0.05) <= 0.01
    assert minimum_detectable_effect(20_000, int(n_c) - 1, 0.05) > 0.01
    assert required_control_size(100, 0.05, 0.01) == math.inf  # the treated alone are too few
    assert minimum_detectable_effect(0, 100, 0.05) == math.inf
    with pytest.raises(ConfigError):
        required_control_size(100, 0.05, 0.99)
