"""Tests of jingzhun.plan.allocate: constraints (hypothesis), determinism, the greedy solver's gap
to the MILP optimum on seeded realistic instances, validation and the summary."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jingzhun.errors import ConfigError, InputError
from jingzhun.plan.allocate import MAX_EXACT_VARIABLES, allocate, allocation_summary

CHANNELS = ("sms", "email", "push")
OFFERS = ("none", "c5", "c10", "ship")


def realistic(n: int, seed: int) -> pd.DataFrame:
    """n customers x 3 channels x 4 offers: a response propensity per customer, channel and offer
    lifts, order values, contact and offer costs, noise; about half the rows have value > 0."""
    rng = np.random.default_rng(seed)
    ids = np.repeat([f"C{i:05d}" for i in range(n)], 12)
    ch = np.tile(np.repeat(CHANNELS, 4), n)
    of = np.tile(OFFERS * 3, n)
    contact = np.tile(np.repeat([0.5, 0.05, 0.01], 4), n)
    offer = np.tile([0, 5, 10, 3] * 3, n) * rng.uniform(0, 0.3, n * 12)
    resp = (np.repeat(rng.beta(1, 20, n), 12) * np.tile(np.repeat([1.0, 0.4, 0.3], 4), n)
            * np.tile([1, 1.5, 2, 1.3] * 3, n))
    value = resp * np.repeat(rng.lognormal(4, 0.7, n), 12) * 0.3 - contact - offer \
        + rng.normal(0, 0.3, n * 12)
    option = [f"{a}|{b}|default" for a, b in zip(ch, of, strict=True)]
    return pd.DataFrame({"customer_id": ids, "option": option,
                         "channel": ch, "value": value, "cost": contact + offer})


def cheapest_positive_total(c: pd.DataFrame) -> float:
    return float(c[c["value"] > 0].groupby("customer_id")["cost"].min().sum())


def check_feasible(chosen: pd.DataFrame, cands: pd.DataFrame, budget: float, capacity) -> None:
    assert set(chosen.columns) == set(cands.columns)
    assert chosen.index.isin(cands.index).all()
    pd.testing.assert_frame_equal(chosen, cands.loc[chosen.index], check_like=True)
    assert chosen["customer_id"].is_unique
    assert (chosen["value"] > 0).all()
    assert math.fsum(chosen["cost"]) <= budget
    counts = chosen["channel"].value_counts()
    for ch, cap in (capacity or {}).items():
        if cap is not None:
            assert counts.get(ch, 0) <= cap


@st.composite
def instances(draw):
    n = draw(st.integers(1, 12))
    rows = []
    for i in range(n):
        for o in draw(st.lists(st.sampled_from(range(6)), min_size=1, max_size=6, unique=True)):
            rows.append({"customer_id": f"c{i}", "option": f"o{o}", "channel": CHANNELS[o % 3],
                         "value": draw(st.floats(-5, 20, allow_nan=False)),
                         "cost": draw(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5]))
                         if draw(st.booleans())
                         else draw(st.floats(0, 10, allow_nan=False, allow_subnormal=False))})
    budget = draw(st.floats(0.01, 30))
    capacity = {ch: draw(st.one_of(st.none(), st.integers(0, 5))) for ch in CHANNELS
                if draw(st.booleans())}
    return pd.DataFrame(rows), budget, capacity


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_greedy_respects_every_constraint(inst):
    cands, budget, capacity = inst
    check_feasible(allocate(cands, budget=budget, capacity=capacity), cands, budget, capacity)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_exact_is_feasible_and_never_worse_than_greedy(inst):
    cands, budget, capacity = inst
    exact = allocate(cands, budget=budget, capacity=capacity, method="exact")
    check_feasible(exact, cands, budget, capacity)
    greedy = allocate(cands, budget=budget, capacity=capacity)
    assert greedy["value"].sum() <= exact["value"].sum() + 1e-6
    assert greedy.attrs["upper_bound"] >= exact["value"].sum() - 1e-6


@settings(max_examples=40, deadline=None)
@given(instances(), st.randoms(use_true_random=False))
def test_same_inputs_same_plan_whatever_the_row_order(inst, rnd):
    cands, budget, capacity = inst
    first = allocate(cands, budget=budget, capacity=capacity)
    order = list(cands.index)
    rnd.shuffle(order)
    again = allocate(cands.loc[order], budget=budget, capacity=capacity)
    pd.testing.assert_frame_equal(first, again)


# Measured (seeds 0-4, budget = 30% of what contacting every positive customer at their cheapest
# option would cost, with and without binding sms/email capacities): the worst greedy gap was
# 0.45% at 500 customers, <= 0.05% at 200, 1000 and 2000 (module doc: tiny adversarial instances
# can be far worse). Asserted: <= 0.5% on every instance.
GAP_CASES = [(200, 0), (200, 3), (500, 2), (500, 4), (1000, 2), (2000, 1)]


@pytest.mark.parametrize("capped", [False, True])
@pytest.mark.parametrize(("n", "seed"), GAP_CASES)
def test_greedy_within_half_a_percent_of_milp_optimum(n, seed, capped):
    cands = realistic(n, seed)
    budget = 0.3 * cheapest_positive_total(cands)
    capacity = {"sms": n // 50, "email": n // 20, "push": None} if capped else None
    exact = allocate(cands, budget=budget, capacity=capacity, method="exact")
    greedy = allocate(cands, budget=budget, capacity=capacity)
    check_feasible(greedy, cands, budget, capacity)
    opt = exact["value"].sum()
    assert greedy["value"].sum() >= (1 - 0.005) * opt
    assert greedy.attrs["upper_bound"] >= opt - 1e-6 * opt


def test_negative_values_never_chosen_and_zero_cost_options_always_taken():
    cands = pd.DataFrame({"customer_id": ["a", "a", "b", "c"], "option": ["x", "y", "x", "x"],
                          "channel": ["sms", "email", "sms", "push"],
                          "value": [-1.0, 0.0, 3.0, 2.0], "cost": [0.0, 0.0, 1.0, 0.0]})
    chosen = allocate(cands, budget=0.5)
    assert chosen["customer_id"].tolist() == ["c"]


def test_picks_the_best_option_per_customer_when_budget_is_ample():
    cands = realistic(300, 7)
    chosen = allocate(cands, budget=1e9)
    best = cands[cands["value"] > 0].sort_values(["customer_id", "value"]).groupby("customer_id").tail(1)
    assert chosen["value"].sum() == pytest.approx(best["value"].sum())


def test_ties_broken_by_customer_then_option():
    cands = pd.DataFrame({"customer_id": ["b", "a", "a"], "option": ["x", "y", "x"],
                          "channel": ["sms"] * 3, "value": [1.0] * 3, "cost": [1.0] * 3})
    chosen = allocate(cands, budget=1.0)
    assert chosen[["customer_id", "option"]].values.tolist() == [["a", "x"]]


@pytest.mark.parametrize(("change", "error", "word"), [
    (lambda c: c.drop(columns="cost"), InputError, "cost"),
    (lambda c: c.assign(value=[np.nan, 1.0]), InputError, "value"),
    (lambda c: c.assign(cost=[-1.0, 1.0]), InputError, "cost"),
    (lambda c: c.assign(option=["x", "x"], customer_id=["a", "a"]), InputError, "duplicate"),
])
def test_bad_candidates_are_named(change, error, word):
    cands = pd.DataFrame({"customer_id": ["a", "b"], "option": ["x", "x"], "channel": ["sms"] * 2,
                          "value": [1.0, 2.0], "cost": [1.0, 1.0]})
    with pytest.raises(error, match=word):
        allocate(change(cands), budget=5.0)


@pytest.mark.parametrize("kwargs", [{"budget": 0}, {"budget": -3.0}, {"budget": float("nan")},
                                    {"budget": 1.0, "method": "lp"},
                                    {"budget": 1.0, "capacity": {"sms": -1}}])
def test_bad_settings_are_config_errors(kwargs):
    cands = pd.DataFrame({"customer_id": ["a"], "option": ["x"], "channel": ["sms"],
                          "value": [1.0], "cost": [1.0]})
    with pytest.raises(ConfigError):
        allocate(cands, **kwargs)


def test_exact_refuses_large_instances():
    m = MAX_EXACT_VARIABLES + 1
    cands = pd.DataFrame({"customer_id": np.arange(m).astype(str), "option": "x", "channel": "sms",
                          "value": 1.0, "cost": 1.0})
    with pytest.raises(ConfigError, match="200,000") as err:
        allocate(cands, budget=10.0, method="exact")
    assert "greedy" in err.value.hint


def test_summary_counts_what_was_left_out_and_why():
    cands = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "d"], "option": ["x"] * 4 + ["y"],
                          "channel": ["sms", "sms", "email", "email", "push"],
                          "value": [5.0, 4.0, 3.0, 2.0, -1.0], "cost": [1.0] * 5})
    capacity = {"sms": 1}
    chosen = allocate(cands, budget=2.0, capacity=capacity)
    assert sorted(chosen["customer_id"]) == ["a", "c"]
    s = allocation_summary(chosen, cands, budget=2.0, capacity=capacity)
    assert s["spent"] == 2.0 and s["budget_used"] == 1.0 and s["value"] == 8.0
    assert s["contacts_by_channel"] == {"email": 1, "sms": 1}
    assert s["customers_positive"] == 4 and s["not_chosen"] == 2
    assert s["not_chosen_reason"] == {"over budget": 1, "over capacity": 1}
