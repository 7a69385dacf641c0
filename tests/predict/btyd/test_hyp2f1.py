"""The Gaussian hypergeometric functions and integrals behind the Pareto/NBD likelihood, against
an independent oracle: Gauss's series summed in 50-digit decimal arithmetic (for |z| < 1), and
closed forms where the series would need millions of terms (z within 1e-6 of +-1).

Regions of the Pareto/NBD: alpha > beta (``2F1(r+s+x, s+1; r+s+x+1; z)``), alpha < beta
(``2F1(r+s+x, r+x; r+s+x+1; z)``), alpha == beta and alpha ~ beta (z ~ 0), heavy buyers (x up to
1e4, so the first parameter is ~1e4), z near 1 (one of alpha, beta much the larger), z near -1.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

import numpy as np
import pytest
from scipy.special import gammaln

from jingzhun.predict.btyd._hyp2f1 import (
    log_gap_integral,
    log_hyp2f1_1bc,
    log_hyp2f1_ca1,
    log_tail_integral,
)
from tests.predict.btyd.helpers import DIGITS, decimal_log_hyp2f1, to_decimal


def _dec_log_tail(a, b, w, d) -> Decimal:
    """``ln int_w^inf y^-a (y+d)^-b dy = ln[(w+d)^-b w^(1-a) / k 2F1(1, b; k+1; d/(w+d))]``, the series
    in 50-digit arithmetic (its terms are positive)."""
    with localcontext() as ctx:
        ctx.prec = DIGITS
        a, b, w, d = (to_decimal(v) for v in (a, b, w, d))
        k = a + b - 1
        z = d / (w + d)
        term, total, j = Decimal(1), Decimal(1), 0
        while True:
            term = term * z * (b + j) / (k + 1 + j)
            total += term
            j += 1
            if term < Decimal(10) ** -40 * total:
                break
        return -b * (w + d).ln() + (1 - a) * w.ln() - k.ln() + total.ln()


def _dec_log_gap(a, b, d, w1, gap) -> float:
    """``ln(I(w1) - I(w1 + gap))`` in 50-digit arithmetic (the gap added in decimal)."""
    with localcontext() as ctx:
        ctx.prec = DIGITS
        w2 = to_decimal(w1) + to_decimal(gap)
        i1, i2 = _dec_log_tail(a, b, w1, d), _dec_log_tail(a, b, w2, d)
        return float(i1 + (1 - (i2 - i1).exp()).ln())


def _close(got, want, rel=1e-12):
    """Log values: absolute error below ``rel`` times max(1, |value|) -- a relative error of the
    function itself, or of the log where the log is large."""
    return abs(got - want) <= rel * max(1.0, abs(want))


# --------------------------------------------------------------------------- 2F1 by name

#: (a, b, z) of ``2F1(a, b; a+1; z)``: CDNOW's alpha > beta and alpha < beta branches, z ~ 0
#: (alpha ~ beta), large a (x = 1e4), z up to 0.99 and down to -0.99.
CA1_CASES = [
    (1.159, 1.606, 0.0), (1.159, 1.606, 1e-12), (1.159, 1.606, 0.0934), (1.159, 1.553, 0.0934),
    (27.16, 1.606, 0.0344), (27.16, 26.55, 0.0344), (1.159, 1.606, 0.5), (1.159, 1.606, 0.6),
    (3.2, 1.5, 0.9), (3.2, 2.8, 0.9), (0.7, 1.2, 0.99), (0.7, 0.35, 0.99), (10_001.16, 1.606, 0.5),
    (10_001.16, 1.606, 0.9), (10_001.16, 10_000.55, 0.05), (1.159, 1.606, -0.5), (3.2, 1.5, -0.9),
    (0.7, 1.2, -0.99), (10_001.16, 1.606, -0.9),
]


@pytest.mark.parametrize(("a", "b", "z"), CA1_CASES)
def test_hyp2f1_c_equal_a_plus_one_matches_the_decimal_series(a, b, z):
    assert _close(float(log_hyp2f1_ca1(a, b, z)), decimal_log_hyp2f1(a, b, a + 1, z))


@pytest.mark.parametrize(("b", "c", "z"), [(0.5, 1.7, 0.3), (2.5, 30.0, 0.95), (25.0, 25.3, 0.7),
                                           (0.05, 1.06, 0.999), (1.5, 2.2, -0.7), (1.5, 2.2, -0.999)])
def test_hyp2f1_first_parameter_one_matches_the_decimal_series(b, c, z):
    assert _close(float(log_hyp2f1_1bc(b, c, z)), decimal_log_hyp2f1(1, b, c, z))


@pytest.mark.parametrize("z", [-1e6, -1 + 1e-9, -1e-9, 1e-9, 0.5, 1 - 1e-6, 1 - 1e-12])
def test_hyp2f1_near_plus_and_minus_one_matches_closed_forms(z):
    """``2F1(1, 1; 2; z) = -ln(1-z)/z`` and ``2F1(1, b; 2; z) = (1 - (1-z)^(1-b)) / ((1-b) z)``."""
    assert _close(float(log_hyp2f1_1bc(1.0, 2.0, z)), float(np.log(-np.log1p(-z) / z)))
    for b in (0.05, 0.5, 1.5, 1.99):
        want = np.log(-np.expm1((1 - b) * np.log1p(-z)) / ((1 - b) * z))
        assert _close(float(log_hyp2f1_1bc(b, 2.0, z)), float(want))


# --------------------------------------------------------------------------- the integrals


@pytest.mark.parametrize("ratio", [1e-12, 1e-6, 0.3, 1.0, 1.7, 1e6])
@pytest.mark.parametrize("a", [0.3, 1.6, 1.999])
def test_tail_integral_matches_its_closed_form_at_b_equal_two_minus_a(ratio, a):
    """``int_w^inf y^-a (y+d)^(a-2) dy = (1 - (w/(w+d))^(1-a)) / (d (1-a))`` for every ``w/d``,
    ``w/d -> 0`` being ``z -> 1``."""
    d = 3.0
    w = ratio * d
    want = np.log(-np.expm1((1 - a) * -np.log1p(d / w)) / (d * (1 - a)))
    assert _close(float(log_tail_integral(a, 2.0 - a, w, d)[0]), float(want))


def test_tail_integral_at_alpha_equal_beta_is_a_power():
    a, b, w = 1.6, 27.5, 41.0
    want = (1 - a - b) * np.log(w) - np.log(a + b - 1)
    assert _close(float(log_tail_integral(a, b, w, 0.0)[0]), want, rel=1e-14)


def _pareto_gap_args(r, alpha, s, beta, x, tx, T):
    """The Pareto/NBD ``J`` as a gap integral (``pareto_nbd._gap_terms``'s mapping)."""
    if alpha < beta:
        return r + x, s + 1, beta - alpha, alpha + tx, T - tx
    return s + 1, r + x, alpha - beta, beta + tx, T - tx


#: (r, alpha, s, beta, x, t_x, T): both branches, alpha == beta and alpha ~ beta, heavy buyers,
#: recency = 0 and recency ~ T, long and short ages, z at t_x up to 0.99.
GAP_CASES = [
    (0.553, 10.578, 0.606, 11.669, 0, 0.0, 38.86), (0.553, 10.578, 0.606, 11.669, 26, 30.86, 31.0),
    (0.553, 11.669, 0.606, 10.578, 2, 30.43, 38.86), (2.0, 3.0, 2.0, 3.0, 5, 10.0, 39.0),
    (2.0, 3.0, 2.0, 3.0 * (1 + 1e-12), 5, 10.0, 39.0),
    (0.553, 10.578, 0.606, 11.669, 10_000, 38.0, 38.86), (0.553, 11.669, 0.606, 10.578, 10_000, 38.0, 38.86),
    (0.553, 10.578, 0.606, 11.669, 7, 38.86 - 1e-9, 38.86),
    (0.553, 10.578, 0.606, 11.669, 3, 1e4 - 1e-6, 1e4), (0.553, 10.578, 0.606, 11.669, 1, 1e-9, 1e4),
    (0.3, 60.0, 0.2, 2.0, 0, 0.0, 38.86), (0.3, 2.0, 0.2, 60.0, 0, 0.0, 38.86),
    (0.3, 2.0, 0.2, 60.0, 1, 0.5, 38.86), (1.5, 0.4, 4.0, 40.0, 0, 0.0, 0.01),
    (0.9, 400.0, 1.3, 3.7, 0, 0.0, 1e4), (0.9, 40.0, 1.3, 0.37, 12, 0.5, 2.0),
]


@pytest.mark.parametrize("case", GAP_CASES)
def test_pareto_gap_integral_matches_the_decimal_series(case):
    a, b, d, w1, gap = _pareto_gap_args(*case)
    assert d / (w1 + d) <= 0.991  # the decimal series' reach
    got = float(log_gap_integral(*(np.array([v], dtype=float) for v in (a, b, d, w1, gap)))[0][0])
    assert _close(got, _dec_log_gap(a, b, d, w1, gap))


def test_gap_integral_of_an_empty_interval_is_zero():
    out = log_gap_integral(*(np.array([v]) for v in (1.6, 27.5, 1.1, 31.0, 0.0)))
    assert out[0][0] == -np.inf and all(o[0] == 0.0 for o in out[1:])


def test_results_do_not_depend_on_the_rest_of_the_batch():
    """Each row's quadrature (range, panels) is its own: a row alone and inside a batch of very
    different rows agree to the last bit."""
    a = np.array([25.0, 10_000.5, 1.1, 3.0, 0.7])
    b = np.array([1.1, 1.6, 30.0, 3.0, 0.8])
    w = np.array([0.11, 1e-3, 5.0, 1e4, 0.02])
    d = np.array([99.99, 2.0, 80.0, 1e3, 50.0])
    batch = log_tail_integral(a, b, w, d)
    for i in range(a.size):
        alone = log_tail_integral(a[i:i + 1], b[i:i + 1], w[i:i + 1], d[i:i + 1])
        for got, want in zip(batch, alone, strict=True):
            assert got[i] == want[0]


@pytest.mark.parametrize("case", GAP_CASES[:4] + GAP_CASES[10:])
def test_gap_integral_derivatives_equal_differences_of_the_decimal_series(case):
    """d ln J / d(a, b, shift of both limits, d) against central differences of the oracle."""
    a, b, d, w1, gap = _pareto_gap_args(*case)
    got = [float(v[0]) for v in log_gap_integral(*(np.array([v], dtype=float) for v in (a, b, d, w1, gap)))]
    h = 1e-7
    for k, (da, db, dc, dd) in enumerate([(h, 0, 0, 0), (0, h, 0, 0), (0, 0, h, 0), (0, 0, 0, h)]):
        up = _dec_log_gap(a + da, b + db, d + dd, w1 + dc, gap)
        down = _dec_log_gap(a - da, b - db, d - dd, w1 - dc, gap)
        numeric = (up - down) / (2 * h)
        assert abs(got[k + 1] - numeric) <= 1e-6 * max(1.0, abs(numeric)), (k, got[k + 1], numeric)


def test_tail_integral_of_a_heavy_buyer_has_the_leading_behaviour():
    """x = 1e4 (a ~ 1e4 at alpha < beta): the tail is dominated by the lower limit, I ~ w^(1-a)
    (w+d)^-b / (a - 1) to relative order 1/a."""
    a, b, w, d = 10_000.55, 1.606, 30.0, 1.09
    got = float(log_tail_integral(a, b, w, d)[0])
    lead = (1 - a) * np.log(w) - b * np.log(w + d) - np.log(a - 1)
    assert abs(got - lead) < 1e-3
    assert np.isfinite(gammaln(a)) and _close(got, float(_dec_log_tail(a, b, w, d)))
