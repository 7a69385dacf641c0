"""The Pareto/NBD model (Schmittlein, Morrison & Colombo 1987): while alive, a customer buys as a
Poisson process with rate ``lambda ~ Gamma(r, alpha)``; the lifetime is exponential with rate
``mu ~ Gamma(s, beta)``.

Time is whatever unit the fitted ``recency`` and ``T`` are in (weeks in the papers); ``alpha``,
``beta`` and every horizon ``t`` are in that unit, the discount rate ``delta`` is per unit.

The likelihood (Fader & Hardie 2005, eq. 22) is written here as

    L = Gamma(r+x) alpha^r beta^s / Gamma(r) * [ (alpha+T)^-(r+x) (beta+T)^-s  +  s J ],
    J = int_{t_x}^{T} (alpha+y)^-(r+x) (beta+y)^-(s+1) dy,

the integral form of the note's ``s/(r+s+x) A_0`` (its eq. 23-24 are ``J`` through Gaussian
hypergeometric functions). ``J`` and its derivatives come from ``_hyp2f1``, which is accurate in
every parameter region (alpha > beta, alpha < beta, alpha == beta, x up to 1e4, arguments near 1)
and never takes the difference of two nearly equal numbers, so ``recency == T`` is exact (``J =
0``) where lifetimes returns NaN.

References
----------
Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). Counting your customers: who are they and
what will they do next? *Management Science* 33(1), 1-24.
Fader, P. S. & Hardie, B. G. S. (2005). A note on deriving the Pareto/NBD model and related
expressions. brucehardie.com/notes/009. (FH05)
Fader, P. S. & Hardie, B. G. S. (2006). Deriving the conditional PMF of the Pareto/NBD model.
brucehardie.com/notes/028.
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using iso-value curves for customer
base analysis. *Journal of Marketing Research* 42(4), 415-430. (FHL05)
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

from jingzhun.predict.btyd._hyp2f1 import log_gap_integral, log_tail_integral

__all__ = ["pareto_nbd_log_likelihood"]


# --------------------------------------------------------------------------- likelihood kernel


def _pair_index(frequency, recency, T):
    """Unique ``(x, t)`` pairs over ``t`` in recency and T -- the points where the tail integrals
    are needed -- and each row's pair for its recency and its age; and the unique ``x``.

    Returns
    -------
    tuple of ndarray
        ``pair_x, pair_t`` (shape (p,)), ``at_recency, at_age`` (shape (n,), int), ``unique_x``
        (shape (q,)), ``at_x`` (shape (n,), int).
    """
    n = frequency.size
    pair_x, pair_t, inverse = _unique_pairs(np.concatenate([frequency, frequency]),
                                            np.concatenate([recency, T]))
    unique_x, at_x = np.unique(frequency, return_inverse=True)
    return pair_x, pair_t, inverse[:n], inverse[n:], unique_x, at_x.ravel()


def _unique_pairs(first, second):
    """Sorted unique ``(first, second)`` pairs and each input's position among them (a lexsort:
    several times faster than ``np.unique(axis=0)``)."""
    order = np.lexsort((second, first))
    f, s = first[order], second[order]
    new = np.r_[True, (f[1:] != f[:-1]) | (s[1:] != s[:-1])]
    inverse = np.empty(first.size, dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    return f[new], s[new], inverse


def _gap_terms(r, alpha, s, beta, pair_x, pair_t, x, tx, age, at_recency, at_age):
    """``ln J`` per row and its derivatives with respect to ``r, alpha, s, beta`` (shape (4, n)).

    ``J = int_{t_x}^T (alpha+y)^-(r+x) (beta+y)^-(s+1) dy`` is the gap integral of ``_hyp2f1``
    with ``y' = min(alpha, beta) + y``: the smaller of the two enters as ``y'^-a``, the larger as
    ``(y' + d)^-b`` with ``d = |alpha - beta|``; FH05 choose their 2F1 branch the same way.
    """
    alpha_low = alpha < beta
    c, d = min(alpha, beta), abs(alpha - beta)
    if alpha_low:
        a_pair, b_pair, a_row, b_row = r + pair_x, s + 1.0, r + x, np.full(x.shape, s + 1.0)
    else:
        a_pair, b_pair, a_row, b_row = s + 1.0, r + pair_x, np.full(x.shape, s + 1.0), r + x
    tails = log_tail_integral(a_pair, b_pair, c + pair_t, d)
    tail1 = tuple(v[at_recency] for v in tails)
    tail2 = tuple(v[at_age] for v in tails)
    log_j, d_a, d_b, d_c, d_d = log_gap_integral(a_row, b_row, np.full(x.shape, d), c + tx, age - tx,
                                                 tail1, tail2)
    if alpha_low:  # a = r + x, b = s + 1, c = alpha, d = beta - alpha
        grad = np.stack([d_a, d_c - d_d, d_b, d_d])
    else:  # a = s + 1, b = r + x, c = beta, d = alpha - beta
        grad = np.stack([d_b, d_d, d_a, d_c - d_d])
    return log_j, grad


def _log_likelihood_prepared(log_params, x, tx, age, pair_x, pair_t, at_recency, at_age, unique_x, at_x):
    """FH05 eq. (22) per row and its gradient over the log-parameters, on prepared rows."""
    r, alpha, s, beta = np.exp(np.asarray(log_params, dtype=float))
    log_j, d_j = _gap_terms(r, alpha, s, beta, pair_x, pair_t, x, tx, age, at_recency, at_age)
    log_alpha_t, log_beta_t = np.log(alpha + age), np.log(beta + age)
    log_a = -(r + x) * log_alpha_t - s * log_beta_t
    log_sj = np.log(s) + log_j
    log_bracket = np.logaddexp(log_a, log_sj)
    w_a, w_j = np.exp(log_a - log_bracket), np.exp(log_sj - log_bracket)
    ll = (gammaln(r + unique_x)[at_x] - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
          + log_bracket)
    d_r = (digamma(r + unique_x)[at_x] - digamma(r) + np.log(alpha) - w_a * log_alpha_t
           + w_j * d_j[0])
    d_alpha = r / alpha - w_a * (r + x) / (alpha + age) + w_j * d_j[1]
    d_s = np.log(beta) - w_a * log_beta_t + w_j * (1.0 / s + d_j[2])
    d_beta = s / beta - w_a * s / (beta + age) + w_j * d_j[3]
    return ll, np.stack([r * d_r, alpha * d_alpha, s * d_s, beta * d_beta])


def pareto_nbd_log_likelihood(log_params, frequency, recency, T):
    """Per-customer Pareto/NBD log-likelihood (FH05 eq. 22) and its gradient.

    Parameters
    ----------
    log_params : array_like, shape (4,)
        ``log r, log alpha, log s, log beta``.
    frequency, recency, T : ndarray, shape (n,)
        Repeat purchases ``x``, time of the last one ``t_x`` and age ``T`` (one time unit).

    Returns
    -------
    ll : ndarray, shape (n,)
    grad : ndarray, shape (4, n)
        d ll / d log-parameter.
    """
    x, tx, age = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    return _log_likelihood_prepared(log_params, x, tx, age, *_pair_index(x, tx, age))
