"""The BTYD population simulators draw from the models they name: simulated moments equal the
papers' closed forms (within a few standard errors at 200k customers), the BG/BB draw matches the
paper's likelihood cell by cell, and the draws agree loosely with lifetimes' own generators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import betaln, gammaln, hyp2f1

from jingzhun.errors import ConfigError
from jingzhun.simulate import (
    simulate_bgbb,
    simulate_bgnbd,
    simulate_gamma_gamma,
    simulate_mbgnbd,
    simulate_pareto_nbd,
)

N = 200_000
T = 38.86  # weeks, CDNOW's calibration period
BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # FHL 2005 on CDNOW
PARETO = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
BGBB = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}  # FHS 2010, donations


def assert_mean(x: np.ndarray, expected: float, z: float = 4.0) -> None:
    """The sample mean of ``x`` is within ``z`` standard errors of ``expected``."""
    se = x.std(ddof=1) / np.sqrt(x.size)
    assert abs(x.mean() - expected) < z * se, (x.mean(), expected, se)


def bgnbd_mean(t: float, r: float, alpha: float, a: float, b: float) -> float:
    """E[X(t)] for a new customer, FHL 2005 eq. 9."""
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


def mbgnbd_mean(t: float, r: float, alpha: float, a: float, b: float) -> float:
    """E[X(t)] for MBG/NBD: E_p[(1-p)/p (1 - (alpha/(alpha+pt))^r)], by Euler's integral and
    Pfaff's transformation, as eq. 9 is derived for BG/NBD."""
    z = t / (alpha + t)
    return b / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b + 1, a + b, z))


def test_bgnbd_moments():
    df = simulate_bgnbd(N, **BG, T=T, seed=1)
    assert list(df.columns) == ["frequency", "recency", "T"]
    assert df["frequency"].dtype == np.int64 and len(df) == N
    assert_mean(df["frequency"].to_numpy(), bgnbd_mean(T, **BG))
    # P(X(t) = 0) = (alpha / (alpha + t))^r: no purchase at all, whatever p (FHL 2005 eq. 8)
    p0 = (BG["alpha"] / (BG["alpha"] + T)) ** BG["r"]
    assert_mean((df["frequency"] == 0).to_numpy(float), p0)
    buyers = df[df["frequency"] > 0]
    assert (buyers["recency"] > 0).all() and (buyers["recency"] <= T).all()
    assert (df.loc[df["frequency"] == 0, "recency"] == 0).all()


def test_bgnbd_frequency_distribution():
    """P(X(t) = x) of FHL 2005 eq. 8 against the simulated counts, x = 0..7 and the rest."""
    r, alpha, a, b = BG.values()
    df = simulate_bgnbd(N, **BG, T=T, seed=2)
    x = np.arange(8)
    lead = (betaln(a, b + x) - betaln(a, b) + gammaln(r + x) - gammaln(r) - gammaln(x + 1)
            + r * np.log(alpha / (alpha + T)) + x * np.log(T / (alpha + T)))
    tail = np.array([1 - (alpha / (alpha + T)) ** r * sum(
        np.exp(gammaln(r + j) - gammaln(r) - gammaln(j + 1)) * (T / (alpha + T)) ** j
        for j in range(k)) for k in x])
    pmf = np.exp(lead) + np.where(x > 0, np.exp(betaln(a + 1, b + x - 1) - betaln(a, b)), 0) * tail
    observed = np.bincount(np.minimum(df["frequency"], 8), minlength=9)
    expected = N * np.append(pmf, 1 - pmf.sum())
    assert stats.chisquare(observed, expected).pvalue > 1e-3


def test_mbgnbd_more_zeros_and_its_moments():
    bg = simulate_bgnbd(N, **BG, T=T, seed=4)
    mbg = simulate_mbgnbd(N, **BG, T=T, seed=4)
    zero_bg, zero_mbg = (bg["frequency"] == 0).mean(), (mbg["frequency"] == 0).mean()
    assert zero_mbg > zero_bg + 0.05
    r, alpha, a, b = BG.values()
    # dropout at time 0 (E[p] = a/(a+b)) or no purchase in (0, T]
    p0 = a / (a + b) + b / (a + b) * (alpha / (alpha + T)) ** r
    assert_mean((mbg["frequency"] == 0).to_numpy(float), p0)
    assert_mean(mbg["frequency"].to_numpy(), mbgnbd_mean(T, **BG))


def test_pareto_nbd_moments():
    r, alpha, s, beta = PARETO.values()
    df = simulate_pareto_nbd(N, **PARETO, T=T, seed=6)
    # Schmittlein, Morrison & Colombo 1987: E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)]
    expected = r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + T)) ** (s - 1))
    assert_mean(df["frequency"].to_numpy(), expected)
    buyers = df[df["frequency"] > 0]
    assert (buyers["recency"] > 0).all() and (buyers["recency"] <= T).all()


@pytest.mark.parametrize("theirs, ours, params", [
    ("beta_geometric_nbd_model", simulate_bgnbd, BG),
    ("modified_beta_geometric_nbd_model", simulate_mbgnbd, BG),
    ("pareto_nbd_model", simulate_pareto_nbd, PARETO),
])
def test_matches_lifetimes_generator(theirs, ours, params):
    """Frequency, and recency (which rests on the order-statistics shortcut), against lifetimes'
    event-by-event walk -- loosely: its generator loops in Python, so few customers."""
    gen = pytest.importorskip("lifetimes.generate_data")
    state = np.random.get_state()  # lifetimes draws from numpy's global generator
    try:
        np.random.seed(3)
        ref = getattr(gen, theirs)(T, **params, size=4000)
    finally:
        np.random.set_state(state)
    df = ours(100_000, **params, T=T, seed=3)
    assert stats.ks_2samp(ref["frequency"].astype(float), df["frequency"]).pvalue > 1e-3
    a, b = ref.loc[ref["frequency"] > 0, "recency"], df.loc[df["frequency"] > 0, "recency"]
    assert stats.ks_2samp(a.astype(float), b).pvalue > 1e-3


def bgbb_cell_prob(x: int, t_x: int, n: int, alpha, beta, gamma, delta) -> float:
    """P(frequency = x, recency = t_x) in n opportunities: the number of sequences with that
    pattern times the likelihood of one (FHS 2010 eq. 5)."""
    one = np.exp(betaln(alpha + x, beta + n - x) - betaln(alpha, beta)
                 + betaln(gamma, delta + n) - betaln(gamma, delta))
    one += sum(np.exp(betaln(alpha + x, beta + t_x - x + i) - betaln(alpha, beta)
                      + betaln(gamma + 1, delta + t_x + i) - betaln(gamma, delta))
               for i in range(n - t_x))
    ways = 1.0 if x == 0 else np.exp(gammaln(t_x) - gammaln(x) - gammaln(t_x - x + 1))
    return ways * one


def test_bgbb_moments_and_likelihood_cells():
    n = 6
    df = simulate_bgbb(N, **BGBB, n_periods=n, seed=8)
    assert list(df.columns) == ["frequency", "recency", "n_periods"]
    assert (df["frequency"] <= df["recency"]).all() and (df["recency"] <= n).all()
    assert ((df["frequency"] == 0) == (df["recency"] == 0)).all()
    alpha, beta, gamma, delta = BGBB.values()
    # FHS 2010 eq. 7
    expected = alpha / (alpha + beta) * delta / (gamma - 1) * (1 - np.exp(
        gammaln(gamma + delta) - gammaln(gamma + delta + n) + gammaln(1 + delta + n)
        - gammaln(1 + delta)))
    assert_mean(df["frequency"].to_numpy(), expected)
    cells = [(0, 0)] + [(x, t) for t in range(1, n + 1) for x in range(1, t + 1)]
    prob = np.array([bgbb_cell_prob(x, t, n, **BGBB) for x, t in cells])
    assert prob.sum() == pytest.approx(1.0, abs=1e-12)
    counts = df.groupby(["frequency", "recency"]).size()
    observed = np.array([counts.get((x, t), 0) for x, t in cells])
    assert observed.sum() == N
    assert stats.chisquare(observed, N * prob).pvalue > 1e-3


def test_bgbb_per_customer_periods_and_long_horizon():
    periods = np.repeat([0, 1, 10_000], 1000)
    df = simulate_bgbb(3000, **BGBB, n_periods=periods, seed=9)
    assert (df["n_periods"].to_numpy() == periods).all()
    assert (df.loc[periods == 0, "frequency"] == 0).all()
    assert (df["recency"] <= df["n_periods"]).all()


def test_gamma_gamma_mean_spend():
    p, q, v = 6.25, 3.74, 15.44
    x = np.full(N, 50)
    m = simulate_gamma_gamma(x, p, q, v, seed=10)
    # E[p / nu] = p v / (q - 1)
    assert_mean(m, p * v / (q - 1))
    # given nu, the mean of x values has variance p / (x nu^2): the spread shrinks with x
    m1 = simulate_gamma_gamma(np.ones(N, int), p, q, v, seed=10)
    assert m1.var() > m.var()
    assert_mean(m1, p * v / (q - 1))


def test_gamma_gamma_zero_frequency_is_zero():
    m = simulate_gamma_gamma(np.array([0, 1, 0, 5]), 6.25, 3.74, 15.44, seed=0)
    assert m[0] == 0.0 and m[2] == 0.0 and (m[[1, 3]] > 0).all()
    assert np.isfinite(m).all()


@pytest.mark.parametrize("sim, args", [
    (simulate_bgnbd, (1000, *BG.values(), T)),
    (simulate_mbgnbd, (1000, *BG.values(), T)),
    (simulate_pareto_nbd, (1000, *PARETO.values(), T)),
    (simulate_bgbb, (1000, *BGBB.values(), 6)),
])
def test_same_seed_same_draw(sim, args):
    pd.testing.assert_frame_equal(sim(*args, seed=11), sim(*args, seed=11))
    assert not sim(*args, seed=11).equals(sim(*args, seed=12))
    assert len(sim(0, *args[1:], seed=1)) == 0


def test_array_T_and_extreme_parameters_stay_finite():
    Ts = np.linspace(0, 1e4, 1000)
    for df in (simulate_bgnbd(1000, 50.0, 0.01, 1e-3, 1e3, Ts, seed=1),
               simulate_mbgnbd(1000, 1e-3, 1e3, 50.0, 1e-3, Ts, seed=1),
               simulate_pareto_nbd(1000, 50.0, 0.01, 1e-3, 1e3, Ts, seed=1)):
        assert np.isfinite(df.to_numpy(float)).all()
        assert (df["recency"] <= df["T"]).all() and (df["T"].to_numpy() == Ts).all()
        assert (df.loc[df["T"] == 0, "frequency"] == 0).all()


@pytest.mark.parametrize("call, bad", [
    (lambda: simulate_bgnbd(10, -1.0, 1, 1, 1, T), "-1.0"),
    (lambda: simulate_bgnbd(10, 1, np.nan, 1, 1, T), "nan"),
    (lambda: simulate_mbgnbd(10, 1, 1, 0.0, 1, T), "0.0"),
    (lambda: simulate_pareto_nbd(10, 1, 1, 1, np.inf, T), "inf"),
    (lambda: simulate_bgnbd(10, 1, 1, 1, 1, [1.0, 2.0]), "[1.0, 2.0]"),
    (lambda: simulate_bgnbd(10, 1, 1, 1, 1, -3.0), "-3.0"),
    (lambda: simulate_bgnbd(2, 1, 1, 1, 1, ["a", "b"]), "'a'"),
    (lambda: simulate_bgnbd(-5, 1, 1, 1, 1, T), "-5"),
    (lambda: simulate_bgbb(10, 1, 1, 1, 1, 2.5), "2.5"),
    (lambda: simulate_gamma_gamma([1, -2], 1, 1, 1), "-2"),
    (lambda: simulate_gamma_gamma([1, 2], 1, 1, "x"), "'x'"),
])
def test_bad_parameters_raise_config_error_with_the_value(call, bad):
    with pytest.raises(ConfigError, match=bad.replace("[", r"\[").replace("]", r"\]")):
        call()
