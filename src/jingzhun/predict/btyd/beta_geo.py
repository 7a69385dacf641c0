"""The BG/NBD model (Fader, Hardie & Lee 2005): Poisson purchases at a gamma-distributed rate,
a beta-distributed chance of dropping out after each repeat purchase.

Time is whatever unit the fitted ``recency`` and ``T`` are in (weeks in the papers); ``alpha``
and every horizon ``t`` are in that unit.

The modified model (MBG/NBD, ``modified_beta_geo.py``) differs only in allowing a dropout at the
first purchase too; both share the kernels below, switched by ``dropout_at_start``.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way: an
alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284. (FHL)
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2008). Computing P(alive) using the BG/NBD model.
brucehardie.com/notes/021.
Fader, P. S., Hardie, B. G. S. & Lee, K. L. Deriving the conditional PMF of the BG/NBD model.
brucehardie.com/notes.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betainc, betaln, digamma, expit, gammaln, hyp2f1, xlogy

from jingzhun.predict.btyd._base import FrequencyRecencyTModel, at_counts, bridge_removable

__all__ = ["BetaGeoModel", "bgnbd_log_likelihood", "beta_geo_family_log_likelihood"]

# Half-widths of the bridges over the removable singularities of the conditional expectation:
# the closed form loses ~1e-16/width relative digits there, the bridge ~width^2.
_BRIDGE_A = 1e-5  # a == 1
_BRIDGE_C = 1e-6  # a + b + x - 1 == 0 (BG/NBD, x = 0, a + b == 1)


def beta_geo_family_log_likelihood(log_params: np.ndarray, frequency: np.ndarray, recency: np.ndarray,
                                   T: np.ndarray, dropout_at_start: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-customer log-likelihood of the BG/NBD (``dropout_at_start=False``, FHL eq. 6) or the
    MBG/NBD (``True``, Batislam et al. 2007, appendix) model, and its gradient.

    Parameters
    ----------
    log_params : ndarray, shape (4,)
        ``log r, log alpha, log a, log b``.
    frequency, recency, T : ndarray, shape (n,)
        Repeat purchases ``x``, time of the last one ``t_x`` and age ``T`` (one time unit).
    dropout_at_start : bool
        MBG/NBD: the customer may drop out at the first purchase as well.

    Returns
    -------
    ll : ndarray, shape (n,)
    grad : ndarray, shape (4, n)
        d ll / d log-parameter.
    """
    r, alpha, a, b = np.exp(log_params)
    x, tx, age = frequency, recency, T
    s = 1.0 if dropout_at_start else 0.0
    # FHL eq. 6 in the log form of Hardie's note 004: ln L = A1 + A2 + ln(e^A3 + d e^A4), where
    # d = [x > 0] for BG/NBD; MBG/NBD has B(a, b+x+1)/B(a, b) in A2 and keeps A4 at x = 0.
    a1 = at_counts(gammaln, r, x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + at_counts(gammaln, b + s, x) - gammaln(b) - at_counts(gammaln, a + b + s, x)
    log_age, log_tx = np.log(alpha + age), np.log(alpha + tx)
    a3 = -(r + x) * log_age
    has_a4 = (x > 0) | dropout_at_start
    b_x = np.where(has_a4, b + x + s - 1, 1.0)  # b + x - 1 (BG) / b + x (MBG); unused where absent
    a4 = np.log(a) - np.log(b_x) - (r + x) * log_tx
    log_odds = np.where(has_a4, a4 - a3, -np.inf)
    ll = a1 + a2 + a3 + np.logaddexp(0.0, log_odds)
    w4 = expit(log_odds)  # share of the "dropped out after t_x" term
    w3 = 1.0 - w4
    d_r = at_counts(digamma, r, x) - digamma(r) + np.log(alpha) - w3 * log_age - w4 * log_tx
    d_alpha = r / alpha - (r + x) * (w3 / (alpha + age) + w4 / (alpha + tx))
    psi_ab, psi_abx = digamma(a + b), at_counts(digamma, a + b + s, x)
    d_a = psi_ab - psi_abx + w4 / a
    d_b = psi_ab + at_counts(digamma, b + s, x) - digamma(b) - psi_abx - w4 / b_x
    return ll, np.stack([r * d_r, alpha * d_alpha, a * d_a, b * d_b])


def bgnbd_log_likelihood(log_params: np.ndarray, frequency: np.ndarray, recency: np.ndarray,
                         T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BG/NBD per-customer log-likelihood (FHL eq. 6) and gradient over ``log r, log alpha, log a,
    log b``; see :func:`beta_geo_family_log_likelihood`."""
    return beta_geo_family_log_likelihood(log_params, frequency, recency, T, dropout_at_start=False)


def _log_odds_dead(r, alpha, a, b, x, tx, age, s):
    """ln P(dead at T) / P(alive at T) (note 021 for BG/NBD; -inf where BG/NBD has x = 0)."""
    has = (x > 0) | (s > 0)
    lo = (np.log(a) - np.log(np.where(has, b + x + s - 1, 1.0))
          + (r + x) * np.log1p((age - tx) / (alpha + tx)))
    return np.where(has, lo, -np.inf)


def _expected_if_alive(t, big_a, alpha_post, a, b_post):
    """E[purchases in (T, T+t]] of a customer alive at T whose purchase rate is Gamma(big_a,
    alpha_post) and dropout chance Beta(a, b_post) -- the bracket of FHL eq. 10 with its prefactor.

    FHL write it as ``C/(a-1) [1 - (1-z)^A 2F1(A, b'; C; z)]`` with ``C = a + b' - 1``,
    ``z = t/(alpha'+t)``. Euler's transformation turns the 2F1 into ``(1-z)^(a-1-A)
    2F1(C-A, a-1; C; z)``, whose first two parameters stay O(1) however large ``x`` grows (no
    overflow, a few series terms), so ``E = C [(1 - (1-z)^(a-1))/(a-1) - (1-z)^(a-1) G]`` with
    ``G = (2F1(C-A, a-1; C; z) - 1)/(a-1)``. Its removable singularities at ``a = 1`` and ``C = 0``
    (BG/NBD, ``x = 0``, ``a + b = 1``) are bridged (``bridge_removable``).
    """
    t, big_a, alpha_post, b_post = np.broadcast_arrays(t, big_a, alpha_post, b_post)
    a = np.full(t.shape, a, dtype=float)

    def at_c(c):  # hold a, move b' so that a + b' - 1 = c
        b_c = c + 1.0 - a
        return bridge_removable(lambda a_: _euler_form(t, big_a, alpha_post, a_, b_c), a, 1.0, _BRIDGE_A)

    return bridge_removable(at_c, a + b_post - 1.0, 0.0, _BRIDGE_C)


def _euler_form(t, big_a, alpha_post, a, b_post):
    c = a + b_post - 1.0
    z = t / (alpha_post + t)
    log_1mz = -np.log1p(t / alpha_post)
    am1 = a - 1.0
    head = -np.expm1(am1 * log_1mz) / am1
    g = (hyp2f1(c - big_a, am1, c, z) - 1.0) / am1
    return np.maximum(c * (head - np.exp(am1 * log_1mz) * g), 0.0)


class BetaGeoModel(FrequencyRecencyTModel):
    """BG/NBD model (Fader, Hardie & Lee 2005) fitted by maximum likelihood.

    While alive, a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``;
    after each repeat purchase they drop out with probability ``p ~ Beta(a, b)``.

    Parameters
    ----------
    initial_params : dict, optional
        Start ``{"r": ..., "alpha": ..., "a": ..., "b": ...}``; default: a data-driven start.
    max_iter : int, default 2000
        L-BFGS-B iteration limit per start.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha`` (in the time unit of the data), ``a``, ``b``.
    log_likelihood_, n_customers_, n_rows_, converged_, covariance_, n_iter_
        See :class:`BTYDModel`.

    Notes
    -----
    Parity with lifetimes 0.11.3 (``BetaGeoFitter``): the same log-likelihood, conditional
    expectation, P(alive) and new-customer expectation to 1e-6 relative wherever lifetimes is
    finite. lifetimes' conditional expectation fails (NaN/inf from ``hyp2f1`` overflow when the
    alternative form overflows too, and 0/0 at ``a = 1``); here the Euler form is used throughout.
    """

    _param_names = ("r", "alpha", "a", "b")
    _log_likelihood_rows = staticmethod(bgnbd_log_likelihood)
    #: 1 for MBG/NBD: dropout possible at the first purchase (shifts b by one in the posterior).
    _dropout_shift = 0.0

    def _default_log_params(self, data, weights):
        # mean rate r/alpha = repeat purchases per unit of age, with r = 1; a moderate dropout
        mean_x = float(weights @ data["frequency"] / weights.sum())
        mean_age = float(weights @ data["T"] / weights.sum())
        alpha = max(mean_age, 1e-6) / max(mean_x, 1e-6)
        return np.log([1.0, alpha, 1.0, 3.0])

    # ---------------------------------------------------------------- predictions

    def _history(self, named, **checks):
        """Validated inputs (``checks`` as in ``_prediction_inputs``) and the posterior of a
        customer alive at ``T``: purchase rate Gamma(r+x, alpha+T), dropout Beta(a, b+x+shift),
        and the ln-odds of being dead."""
        arrays, index, scalar = self._prediction_inputs(named, **checks)
        x, tx, age = arrays["frequency"], arrays["recency"], arrays["T"]
        r, alpha, a, b = (self.params_[k] for k in self._param_names)
        s = self._dropout_shift
        posterior = (r + x, alpha + age, a, b + x + s, _log_odds_dead(r, alpha, a, b, x, tx, age, s))
        return arrays, index, scalar, posterior

    def probability_alive(self, frequency, recency, T):
        """Probability that a customer with this history is alive at ``T`` (note 021).

        Parameters
        ----------
        frequency, recency, T : array_like or scalar
            Repeat purchases, time of the last one and age, in the time unit of the fitted data.

        Returns
        -------
        ndarray, pandas.Series (when an input is a Series) or float
            Probabilities in [0, 1].
        """
        _, index, scalar, (*_, log_odds) = self._history({"frequency": frequency, "recency": recency, "T": T})
        return self._output(expit(-log_odds), index, scalar)

    def expected_purchases(self, t, frequency, recency, T):
        """Expected number of repeat purchases in the next ``t`` time units, ``(T, T + t]``, of a
        customer with this history (FHL eq. 10).

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
        arrays, index, scalar, (big_a, alpha_post, a, b_post, log_odds) = self._history(
            {"t": t, "frequency": frequency, "recency": recency, "T": T}, horizons=("t",))
        alive = expit(-log_odds)
        return self._output(alive * _expected_if_alive(arrays["t"], big_a, alpha_post, a, b_post),
                            index, scalar)

    def expected_purchases_new_customer(self, t):
        """Expected number of repeat purchases in ``(0, t]`` of a customer just acquired (FHL
        eq. 9 -- eq. 10 at ``x = t_x = T = 0``).

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
        """Probability of exactly ``n`` repeat purchases in ``(T, T + t]`` given the history.

        ``P(n) = [n = 0] P(dead) + P(alive) P_alive(n)``, where ``P_alive`` is FHL eq. 8 with the
        posterior parameters ``r + x, alpha + T, a, b + x`` (Fader, Hardie & Lee, "Deriving the
        conditional PMF of the BG/NBD model"); the NBD tail in eq. 8 is the regularised incomplete
        beta function, so no sum over ``j`` is needed.

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
            Probabilities in [0, 1].
        """
        arrays, index, scalar, (big_a, alpha_post, a, b_post, log_odds) = self._history(
            {"n": n, "t": t, "frequency": frequency, "recency": recency, "T": T},
            horizons=("t",), counts=("n",))
        k, horizon = arrays["n"], arrays["t"]
        with np.errstate(divide="ignore"):
            z = horizon / (alpha_post + horizon)
            first = (betaln(a, b_post + k) - betaln(a, b_post) + gammaln(big_a + k) - gammaln(big_a)
                     - gammaln(k + 1) - big_a * np.log1p(horizon / alpha_post) + xlogy(k, z))
            tail = betainc(np.maximum(k, 1), big_a, z)  # P(NBD count >= k)
            second = np.where(k > 0, betaln(a + 1, b_post + k - 1) - betaln(a, b_post) + np.log(tail),
                              -np.inf)
        if_alive = np.exp(np.logaddexp(first, second))
        prob = expit(-log_odds) * if_alive + np.where(k == 0, expit(log_odds), 0.0)
        return self._output(np.clip(prob, 0.0, 1.0), index, scalar)
