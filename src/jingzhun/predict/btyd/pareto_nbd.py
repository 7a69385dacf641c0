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
from scipy.special import digamma, expit, gammaln, xlogy

from jingzhun.predict.btyd._base import FrequencyRecencyTModel, at_counts, fail_where, unique_rows
from jingzhun.predict.btyd._hyp2f1 import (
    DEPTH,
    LogConcave,
    log_gap_integral,
    log_integral_concave,
    log_tail_integral,
)

__all__ = ["ParetoNBDModel", "pareto_nbd_log_likelihood"]


# --------------------------------------------------------------------------- likelihood kernel


def _pair_index(frequency, start, end):
    """The points where tail integrals are needed: unique ``(x, t)`` pairs over ``t`` in ``start``
    and ``end``, and each row's pair at its start and at its end.

    Returns
    -------
    tuple of ndarray
        ``pair_x, pair_t`` (shape (p,)), ``at_start, at_end`` (shape (n,), int).
    """
    n = frequency.size
    pairs, inverse = unique_rows({"x": np.concatenate([frequency, frequency]),
                                  "t": np.concatenate([start, end])})
    return pairs["x"], pairs["t"], inverse[:n], inverse[n:]


def _gap_terms(r, alpha, s, beta, x, start, gap, pair_x, pair_t, at_start, at_end):
    """``ln J`` per row and its derivatives with respect to ``r, alpha, s, beta`` (a tuple of 4),
    ``J = int_start^{start+gap} (alpha+y)^-(r+x) (beta+y)^-(s+1) dy``.

    This is the gap integral of ``_hyp2f1`` in ``y' = min(alpha, beta) + y``: the smaller of the
    two enters as ``y'^-a``, the larger as ``(y' + d)^-b`` with ``d = |alpha - beta|`` -- the same
    choice as FH05's branches for alpha >= beta and alpha < beta. The tail integrals are computed
    once per unique ``(x, t)`` pair (``pair_x, pair_t``; rows point at theirs with ``at_start``,
    ``at_end``).
    """
    alpha_low = alpha < beta
    c, d = min(alpha, beta), abs(alpha - beta)
    if alpha_low:
        a_pair, b_pair, a_row, b_row = r + pair_x, s + 1.0, r + x, np.full(x.shape, s + 1.0)
    else:
        a_pair, b_pair, a_row, b_row = s + 1.0, r + pair_x, np.full(x.shape, s + 1.0), r + x
    tails = log_tail_integral(a_pair, b_pair, c + pair_t, d)
    log_j, d_a, d_b, d_c, d_d = log_gap_integral(
        a_row, b_row, np.full(x.shape, d), c + start, gap,
        tuple(v[at_start] for v in tails), tuple(v[at_end] for v in tails))
    if alpha_low:  # a = r + x, b = s + 1, c = alpha, d = beta - alpha
        return log_j, (d_a, d_c - d_d, d_b, d_d)
    return log_j, (d_b, d_d, d_a, d_c - d_d)  # a = s + 1, b = r + x, c = beta, d = alpha - beta


def _log_likelihood_prepared(log_params, x, tx, age, pair_x, pair_t, at_recency, at_age):
    """FH05 eq. (22) per row and its gradient over the log-parameters, on prepared rows (the
    ``BTYDModel`` kernel; ``_pair_index(x, tx, age)`` gives the trailing arrays)."""
    r, alpha, s, beta = np.exp(np.asarray(log_params, dtype=float))
    log_j, d_j = _gap_terms(r, alpha, s, beta, x, tx, age - tx, pair_x, pair_t, at_recency, at_age)
    log_alpha_t, log_beta_t = np.log(alpha + age), np.log(beta + age)
    log_a = -(r + x) * log_alpha_t - s * log_beta_t
    log_sj = np.log(s) + log_j
    log_bracket = np.logaddexp(log_a, log_sj)
    w_a, w_j = np.exp(log_a - log_bracket), np.exp(log_sj - log_bracket)
    ll = at_counts(gammaln, r, x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + log_bracket
    grad = np.empty((4, x.size))
    grad[0] = r * (at_counts(digamma, r, x) - digamma(r) + np.log(alpha) - w_a * log_alpha_t
                   + w_j * d_j[0])
    grad[1] = r - w_a * (alpha * (r + x) / (alpha + age)) + w_j * (alpha * d_j[1])
    grad[2] = s * (np.log(beta) - w_a * log_beta_t) + w_j * (1.0 + s * d_j[2])
    grad[3] = s - w_a * (beta * s / (beta + age)) + w_j * (beta * d_j[3])
    return ll, grad


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


# --------------------------------------------------------------------------- prediction kernels


def _log_gap(params, x, start, gap):
    """``ln J`` over ``[start, start + gap]`` (see :func:`_gap_terms`), values only."""
    r, alpha, s, beta = params
    return _gap_terms(r, alpha, s, beta, x, start, gap, *_pair_index(x, start, start + gap))[0]


def _log_odds_dead(params, x, tx, age):
    """``ln P(dead at T) / P(alive at T) = ln(s J) - ln[(alpha+T)^-(r+x) (beta+T)^-s]`` (FH05
    eq. 22 split into its two terms; P(alive) is FH05 eq. 36-37)."""
    r, alpha, s, beta = params
    log_a = -(r + x) * np.log(alpha + age) - s * np.log(beta + age)
    return np.log(s) + _log_gap(params, x, tx, age - tx) - log_a


def _one_minus_exp_over(a, length):
    """``(1 - exp(-a L)) / a``, equal to ``L`` at ``a = 0``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a == 0, length, -np.expm1(-a * length) / np.where(a == 0, 1.0, a))


def _expected_if_alive(params, t, x, age):
    """Expected purchases in ``(T, T + t]`` of a customer alive at ``T``: ``E[lambda] E[(1 -
    e^-mu t)/mu]`` under the posterior ``lambda ~ Gamma(r+x, alpha+T)``, ``mu ~ Gamma(s,
    beta+T)``, i.e. ``(r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)]``
    (FH05 eq. 41 without P(alive); the ``s = 1`` limit is ``ln(1 + t/(beta+T))``)."""
    r, alpha, s, beta = params
    return (r + x) / (alpha + age) * (beta + age) * _one_minus_exp_over(s - 1.0, np.log1p(t / (beta + age)))


def _log_discounted_lifetime(s, kappa):
    """``ln E[1/(kappa + G)]`` for ``G ~ Gamma(s, 1)``, ``kappa > 0``.

    ``E[1/(kappa+G)] = int_0^inf e^(-kappa v) (1+v)^-s dv`` (``E e^(-G v) = (1+v)^-s``), which is
    ``kappa^(s-1) U(s, s; kappa)`` with Tricomi's confluent hypergeometric function ``U`` of FHL05's
    DERT. Integrated in ``w = ln(1+v)``, where the integrand ``exp((1-s) w - kappa (e^w - 1))`` is
    log-concave.
    """
    s, kappa = np.broadcast_arrays(np.asarray(s, float), np.asarray(kappa, float))
    s, kappa = s.ravel(), kappa.ravel()
    n = s.size
    # beyond w0 the log-integrand falls by at least 1 per unit of w
    w0 = np.maximum(np.log((np.abs(1.0 - s) + 1.0) / kappa), 0.0)
    model = LogConcave(1.0 - s, kappa, np.zeros((n, 0)), np.zeros((n, 0)))
    zero = np.zeros(n)
    # the integrand bends where kappa e^w ~ 1: grade the panels around there too
    return log_integral_concave(model, zero, zero, w0 + DEPTH + 1.0, -np.log(kappa)[:, None])[0]


def _log_k_integral(params, n_purchases, t, x, age):
    """``ln K_n``, ``K_n = int_0^t tau^n (alpha+T+tau)^-(r+x+n) (beta+T+tau)^-(s+1) dtau``, for
    ``n >= 1`` and ``t > 0``, by quadrature in ``ln tau`` (the integrand is log-concave there)."""
    r, alpha, s, beta = params
    k = n_purchases.size
    e = np.column_stack([r + x + n_purchases, np.full(k, s + 1.0)])
    log_delta = np.column_stack([np.log(alpha + age), np.log(beta + age)])
    base = np.log(t)
    # left of `knee` the log-integrand rises by at least (n+1)/2 per unit of ln tau
    knee = np.min(log_delta, axis=1) - np.log(2.0 * (e.sum(axis=1) + 1.0) / (n_purchases + 1.0))
    lo = np.minimum(knee - base, 0.0) - 2.0 * (DEPTH + 1.0) / (n_purchases + 1.0)
    model = LogConcave(n_purchases + 1.0, np.zeros(k), e, log_delta)
    return log_integral_concave(model, base, lo, np.zeros(k), log_delta - base[:, None])[0]


def _probability_of_purchases(params, n_purchases, t, x, age, log_odds_dead):
    """``P(X(T, T+t] = n | x, t_x, T)``.

    ``[n = 0] P(dead at T) + P(alive at T) P(n | alive)``, where, with the posterior rates
    ``lambda ~ Gamma(r+x, alpha+T)`` and ``mu ~ Gamma(s, beta+T)``, ``P(n | alive)`` is the chance
    of surviving the whole horizon with ``n`` purchases, ``NB(n; t) ((beta+T)/(beta+T+t))^s``,
    plus that of dying at ``T + tau`` (``tau < t``) after ``n`` purchases,
    ``s (beta+T)^s int_0^t (beta+T+tau)^-(s+1) NB(n; tau) dtau`` -- the expression of Fader &
    Hardie's note 028 (eq. 16) before its integral is written as hypergeometric functions, whose
    difference cancels catastrophically for short horizons; here it is integrated directly.
    """
    r, alpha, s, beta = params
    m = r + x
    a1, b1 = alpha + age, beta + age
    log_nb = gammaln(m + n_purchases) - gammaln(m) - gammaln(n_purchases + 1.0)
    with np.errstate(divide="ignore"):
        log_survive = (log_nb - m * np.log1p(t / a1) + xlogy(n_purchases, t / (a1 + t))
                       - s * np.log1p(t / b1))
    log_k = np.full(t.shape, -np.inf)
    zero = (n_purchases == 0) & (t > 0)
    if zero.any():
        log_k[zero] = _log_gap(params, x[zero], age[zero], t[zero])
    more = (n_purchases > 0) & (t > 0)
    if more.any():
        keys, inverse = unique_rows({"n": n_purchases[more], "t": t[more], "x": x[more], "T": age[more]})
        log_k[more] = _log_k_integral(params, keys["n"], keys["t"], keys["x"], keys["T"])[inverse]
    log_die = np.log(s) + log_nb + m * np.log(a1) + s * np.log(b1) + log_k
    dead = np.where(n_purchases == 0, expit(log_odds_dead), 0.0)
    prob = expit(-log_odds_dead) * np.exp(np.logaddexp(log_survive, log_die)) + dead
    return np.clip(prob, 0.0, 1.0)


# --------------------------------------------------------------------------- the estimator


class ParetoNBDModel(FrequencyRecencyTModel):
    """Pareto/NBD model (Schmittlein, Morrison & Colombo 1987) fitted by maximum likelihood.

    While alive, a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``; the
    lifetime after the first purchase is exponential with rate ``mu ~ Gamma(s, beta)``.

    Parameters
    ----------
    initial_params : dict, optional
        Start ``{"r": ..., "alpha": ..., "s": ..., "beta": ...}``; default: a data-driven start.
    max_iter : int, default 2000
        L-BFGS-B iteration limit per start.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha``, ``s``, ``beta`` (``alpha`` and ``beta`` in the time unit of the data).
    log_likelihood_, n_customers_, n_rows_, converged_, covariance_, n_iter_
        See :class:`BTYDModel`.

    Notes
    -----
    The likelihood and its analytic gradient are exact in every parameter region (module
    docstring), so the fit does not depend on scipy's ``hyp2f1``. Parity with lifetimes 0.11.3
    (``ParetoNBDFitter``): the same log-likelihood, P(alive), conditional expectation, conditional
    PMF and new-customer expectation to 1e-6 relative wherever lifetimes is finite (its PMF loses
    digits below ~1e-6 to a difference of hypergeometric terms). With scipy 1.17 lifetimes returns
    NaN for ``recency == T`` at frequencies in the hundreds (its ``hyp2f1`` with a first parameter
    that large, and the log of an exact 0) and, at CDNOW's parameters, for frequency 1e4 whatever
    the recency; this model is exact there.
    """

    _param_names = ("r", "alpha", "s", "beta")
    _log_likelihood_rows = staticmethod(_log_likelihood_prepared)

    def _prepare_data(self, data):
        x, tx, age = data["frequency"], data["recency"], data["T"]
        return (x, tx, age, *_pair_index(x, tx, age))

    def _default_log_params(self, data, weights):
        # purchase rate r/alpha = repeat purchases per unit of age (r = 1); dropout rate s/beta =
        # one per mean age (s = 1)
        mean_x = float(weights @ data["frequency"] / weights.sum())
        mean_age = max(float(weights @ data["T"] / weights.sum()), 1e-6)
        return np.log([1.0, mean_age / max(mean_x, 1e-6), 1.0, mean_age])

    # ---------------------------------------------------------------- predictions

    def _history(self, named, **checks):
        """Validated inputs (``checks`` as in ``_prediction_inputs``), the parameters, and the
        ln-odds of being dead at ``T``."""
        arrays, index, scalar = self._prediction_inputs(named, **checks)
        params = tuple(self.params_[k] for k in self._param_names)
        log_odds = _log_odds_dead(params, arrays["frequency"], arrays["recency"], arrays["T"])
        return arrays, index, scalar, params, log_odds

    def probability_alive(self, frequency, recency, T):
        """Probability that a customer with this history is alive at ``T`` (FH05 eq. 36-37).

        Parameters
        ----------
        frequency, recency, T : array_like or scalar
            Repeat purchases, time of the last one and age, in the time unit of the fitted data.

        Returns
        -------
        ndarray, pandas.Series (when an input is a Series) or float
            Probabilities in [0, 1].
        """
        _, index, scalar, _, log_odds = self._history({"frequency": frequency, "recency": recency, "T": T})
        return self._output(expit(-log_odds), index, scalar)

    def expected_purchases(self, t, frequency, recency, T):
        """Expected number of repeat purchases in the next ``t`` time units, ``(T, T + t]``, of a
        customer with this history (FH05 eq. 41).

        Parameters
        ----------
        t : array_like or float
            Horizon, in the time unit of the fitted data (>= 0).
        frequency, recency, T : array_like or scalar
            History, as in ``fit``.

        Returns
        -------
        ndarray, pandas.Series or float
            Expected purchases (>= 0, finite).
        """
        arrays, index, scalar, params, log_odds = self._history(
            {"t": t, "frequency": frequency, "recency": recency, "T": T}, horizons=("t",))
        expected = _expected_if_alive(params, arrays["t"], arrays["frequency"], arrays["T"])
        return self._output(expit(-log_odds) * expected, index, scalar)

    def expected_purchases_new_customer(self, t):
        """Expected number of repeat purchases in ``(0, t]`` of a customer just acquired (FH05
        eq. 27, ``r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)]`` -- eq. 41 at ``x = t_x =
        T = 0``).

        Parameters
        ----------
        t : array_like or float
            Time since the first purchase, in the time unit of the fitted data (>= 0).

        Returns
        -------
        ndarray, pandas.Series or float
        """
        return self.expected_purchases(t, 0.0, 0.0, 0.0)

    def probability_of_purchases(self, n, t, frequency, recency, T):
        """Probability of exactly ``n`` repeat purchases in ``(T, T + t]`` given the history
        (Fader & Hardie, note 028; see :func:`_probability_of_purchases`).

        Parameters
        ----------
        n : array_like of int or int
            Number of purchases (>= 0).
        t : array_like or float
            Horizon, in the time unit of the fitted data (>= 0).
        frequency, recency, T : array_like or scalar
            History, as in ``fit``.

        Returns
        -------
        ndarray, pandas.Series or float
            Probabilities in [0, 1]; over ``n = 0, 1, ...`` they sum to 1.
        """
        arrays, index, scalar, params, log_odds = self._history(
            {"n": n, "t": t, "frequency": frequency, "recency": recency, "T": T}, horizons=("t",),
            counts=("n",))
        prob = _probability_of_purchases(params, arrays["n"], arrays["t"], arrays["frequency"], arrays["T"],
                                         log_odds)
        return self._output(prob, index, scalar)

    def discounted_expected_residual_transactions(self, delta, frequency, recency, T):
        """Discounted expected residual transactions (DERT, FHL05 eq. 2 with the Pareto/NBD
        closed form): ``E[int_T^inf e^(-delta (tau - T)) dX(tau)]`` given the history.

        ``P(alive) E[lambda] E[1/(delta + mu)]`` under the posterior ``lambda ~ Gamma(r+x,
        alpha+T)``, ``mu ~ Gamma(s, beta+T)``, which is FHL05's ``alpha^r beta^s delta^(s-1)
        Gamma(r+x+1) U(s, s; delta(beta+T)) / (Gamma(r) (alpha+T)^(r+x+1) L)`` with Tricomi's
        ``U``. Multiply by the margin per transaction for the residual value of a customer.

        Parameters
        ----------
        delta : array_like or float
            Continuous discount rate per time unit of the fitted data (> 0); an annual rate ``i``
            with weekly data is ``ln(1 + i) / 52``.
        frequency, recency, T : array_like or scalar
            History, as in ``fit``.

        Returns
        -------
        ndarray, pandas.Series or float
            Discounted number of future transactions (>= 0, finite).
        """
        arrays, index, scalar, params, log_odds = self._history(
            {"delta": delta, "frequency": frequency, "recency": recency, "T": T})
        rate = arrays["delta"]
        fail_where(~(np.isfinite(rate) & (rate > 0)), lambda i: f"delta[{i}] = {rate[i]:g} is not a positive "
                   "discount rate", hint="pass the continuous discount rate per time unit, e.g. "
                   "ln(1.1)/52 for 10% a year with weekly data")
        r, alpha, s, beta = params
        x, age = arrays["frequency"], arrays["T"]
        keys, inverse = unique_rows({"kappa": rate * (beta + age)})
        life = np.exp(_log_discounted_lifetime(np.full(keys["kappa"].shape, s), keys["kappa"]))[inverse]
        return self._output(expit(-log_odds) * (r + x) / (alpha + age) * (beta + age) * life, index, scalar)
