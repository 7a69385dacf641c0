"""The discrete-time BG/BB model (Fader, Hardie & Shang 2010): at each transaction opportunity an
alive customer transacts with probability ``p ~ Beta(alpha, beta)`` and, at the start of each
opportunity, drops out for good with probability ``theta ~ Beta(gamma, delta)``.

Time is counted in transaction opportunities ("periods": a yearly campaign, a weekly event, ...):
``frequency`` is the number of the ``n_periods`` opportunities after the first transaction in
which the customer transacted, ``recency`` the last such opportunity (0 when none).

References
----------
Fader, P. S., Hardie, B. G. S. & Shang, J. (2010). Customer-base analysis in a discrete-time
noncontractual setting. *Marketing Science* 29(6), 1086-1108. (FHS)
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, digamma, gammaln

from jingzhun.errors import ModelError
from jingzhun.predict.btyd._base import (
    BTYDModel,
    check_integer,
    check_nonnegative,
    check_repeat_buyers,
    fail_where,
    unique_rows,
)

__all__ = ["BetaGeoBetaBinomModel", "bgbb_log_likelihood"]

#: Horizons up to this many periods sum FHS eq. 13's terms one by one; longer ones use its closed
#: form.
_DIRECT_SUM_PERIODS = 256
#: Likelihood terms per chunk of rows (memory: a few arrays of this many floats).
_CHUNK_TERMS = 1 << 21


def bgbb_log_likelihood(log_params: np.ndarray, frequency: np.ndarray, recency: np.ndarray,
                        n_periods: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-customer BG/BB log-likelihood (FHS eq. 5) and its gradient over ``log alpha, log beta,
    log gamma, log delta``.

    ``L = B(a+x, b+n-x)/B(a,b) B(g, d+n)/B(g,d) + sum_{j=t_x}^{n-1} B(a+x, b+j-x)/B(a,b)
    B(g+1, d+j)/B(g,d)``: "alive through n" plus "dropped out at the start of opportunity j+1".
    All ``n - t_x + 1`` terms of every row are laid out in one flat array and combined with a
    per-row log-sum-exp (in chunks of rows, so memory stays bounded); the gamma functions of the
    terms are looked up in tables over ``0..max(n)+1``, so one evaluation costs O(sum of
    n - t_x + 1) gathers.

    Parameters
    ----------
    log_params : ndarray, shape (4,)
    frequency, recency, n_periods : ndarray, shape (n,)
        ``x``, ``t_x`` and ``n`` (whole numbers, ``x <= t_x <= n``).

    Returns
    -------
    ll : ndarray, shape (n,)
    grad : ndarray, shape (4, n)
    """
    al, be, ga, de = np.exp(log_params)
    x = frequency.astype(np.int64)
    tx = recency.astype(np.int64)
    n = n_periods.astype(np.int64)
    k = np.arange(n.max(initial=0) + 2, dtype=float)
    psi_ab_k, psi_gd_k = digamma(al + be + k), digamma(ga + de + k)
    tables = (gammaln(be + k), gammaln(al + be + k), gammaln(de + k), gammaln(ga + de + k), np.log(ga),
              digamma(be + k), psi_ab_k, digamma(de + k), psi_gd_k, ga)
    log_sum, mean = np.empty(x.size), np.empty((4, x.size))
    # rows in chunks of about _CHUNK_TERMS terms: memory stays bounded for long windows
    ends = np.cumsum(n - tx + 1)
    cuts = [0, *np.searchsorted(ends, np.arange(_CHUNK_TERMS, ends[-1] if ends.size else 0, _CHUNK_TERMS)),
            x.size]
    for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
        if hi > lo:
            log_sum[lo:hi], mean[:, lo:hi] = _bgbb_sums(x[lo:hi], tx[lo:hi], n[lo:hi], tables)
    norm = betaln(al, be) + betaln(ga, de)
    ll = gammaln(al + x) + gammaln(ga) + log_sum - norm
    psi_ab, psi_gd = digamma(al + be), digamma(ga + de)
    d_al = digamma(al + x) + mean[0] - digamma(al) + psi_ab
    d_be = mean[1] - digamma(be) + psi_ab
    d_ga = mean[2] + psi_gd
    d_de = mean[3] - digamma(de) + psi_gd
    return ll, np.stack([al * d_al, be * d_be, ga * d_ga, de * d_de])


def _bgbb_sums(x, tx, n, tables):
    """Per row, ln of the sum of its terms (without the row constants) and the share-weighted
    means of their derivatives; ``tables`` are the gamma/digamma functions over ``0..max(n)+1``."""
    g_b, g_ab, g_d, g_gd, log_ga, p_b, p_ab, p_d, p_gd, ga = tables
    counts = n - tx + 1
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    row = np.repeat(np.arange(x.size), counts)
    j = tx[row] + np.arange(row.size) - starts[row]  # opportunity index of each term
    e = (j < n[row]).astype(np.int64)  # 1: dropout term B(g+1, d+j); 0: alive term B(g, d+n)
    jx = j - x[row]
    log_term = g_b[jx] - g_ab[j] + e * log_ga + g_d[j] - g_gd[j + e]
    top = np.maximum.reduceat(log_term, starts)
    share = np.exp(log_term - top[row])
    total = np.add.reduceat(share, starts)
    share /= total[row]
    mean = [np.add.reduceat(share * d, starts) for d in (
        -p_ab[j], p_b[jx] - p_ab[j], e / ga - p_gd[j + e], p_d[j] - p_gd[j + e])]
    return top + np.log(total), np.stack(mean)


def _alive_sum(ga, de, n, m):
    """``sum_{i=1}^{m} B(g, d+n+i) / B(g, d)``: the expected number of opportunities among
    ``n+1..n+m`` a customer is alive in, given alive through ``n``, times ``P(alive through n)``
    -- FHS eq. 13's last factor.

    Up to ``_DIRECT_SUM_PERIODS`` terms are summed directly. Beyond, the telescoped closed form
    ``d/(g-1) Gamma(g+d)/Gamma(1+d) [Gamma(1+d+n)/Gamma(g+d+n) - Gamma(1+d+n+m)/Gamma(g+d+n+m)]``
    is used, its gamma ratios computed without cancellation (``_log_gamma_shift``).
    """
    n, m = np.broadcast_arrays(np.asarray(n, dtype=float), np.asarray(m, dtype=float))
    if m.size == 0 or m.max() <= _DIRECT_SUM_PERIODS:
        out = np.zeros(n.shape)
        for i in range(1, int(m.max(initial=0)) + 1):
            out += np.where(i <= m, np.exp(betaln(ga, de + n + i) - betaln(ga, de)), 0.0)
        return out
    eps = ga - 1.0
    # ln [Gamma(1+d+y) / Gamma(g+d+y)] = -(g-1) * slope(y); the bracket over (g-1) is then
    # (1 - exp(-(g-1) [slope(n+m) - slope(n)] ... )) / (g-1), finite as g -> 1
    slope_n, slope_nm = _log_gamma_shift(1.0 + de + n, eps), _log_gamma_shift(1.0 + de + n + m, eps)
    head = np.log(de) + gammaln(ga + de) - gammaln(1.0 + de) - eps * slope_n
    rate = slope_nm - slope_n
    ratio = -np.expm1(-eps * rate) / eps if eps != 0 else rate
    return np.exp(head) * ratio


def _log_gamma_shift(y, eps):
    """``(ln Gamma(y + eps) - ln Gamma(y)) / eps`` (``psi(y)`` at ``eps = 0``), for ``y > 1``,
    ``y + eps > 0``, without the cancellation of ``gammaln(y + eps) - gammaln(y)`` at large ``y``.

    ``|eps| <= 0.5``: the mean of ``psi`` over ``[y, y + eps]`` by 16-point Gauss-Legendre (the
    pole of ``psi`` at 0 is at least ``|eps|`` away, so the rule is exact to rounding). Larger
    ``eps``: the difference of Stirling's series where ``y >= 8``, of ``gammaln`` below (where the
    values are small enough to keep their digits).
    """
    y = np.asarray(y, dtype=float)
    if abs(eps) <= 0.5:
        nodes, weights = np.polynomial.legendre.leggauss(16)
        s = 0.5 * eps * (nodes + 1.0)
        return (digamma(y[..., None] + s) @ weights) / 2.0
    big = np.maximum(y, 8.0)
    z = big + eps
    stirling = ((big - 0.5) * np.log1p(eps / big) + eps * np.log(z) - eps
                + _stirling_tail(z) - _stirling_tail(big))
    return np.where(y >= 8.0, stirling, gammaln(y + eps) - gammaln(y)) / eps


def _stirling_tail(z):
    """``ln Gamma(z) - [(z - 1/2) ln z - z + ln(2 pi)/2]`` for ``z >= 7`` (error < 1e-14)."""
    inv2 = 1.0 / (z * z)
    coef = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360)
    acc = np.zeros_like(z)
    for c in reversed(coef):
        acc = acc * inv2 + c
    return acc / z


class BetaGeoBetaBinomModel(BTYDModel):
    """BG/BB model (Fader, Hardie & Shang 2010) fitted by maximum likelihood.

    Parameters
    ----------
    initial_params : dict, optional
        Start ``{"alpha": ..., "beta": ..., "gamma": ..., "delta": ...}``; default: a data-driven
        start.
    max_iter : int, default 2000

    Attributes
    ----------
    params_ : dict
        ``alpha, beta`` (transaction propensity ``p ~ Beta(alpha, beta)``) and ``gamma, delta``
        (dropout probability ``theta ~ Beta(gamma, delta)``), all dimensionless.
    log_likelihood_, n_customers_, n_rows_, converged_, covariance_, n_iter_
        See :class:`BTYDModel`.

    Notes
    -----
    The likelihood is FHS eq. 5 without the binomial normalising constants -- as the paper, R's
    BTYD and lifetimes; it is the likelihood of the observed (x, t_x) pattern, not of (x, t_x)
    as a pair (Jerath et al. note the difference), so ``log_likelihood_`` equals the paper's.
    Parity with lifetimes 0.11.3 (``BetaGeoBetaBinomFitter``) to 1e-6 relative: lifetimes adds
    1e-15 inside the logarithm of the sum term, which shifts its log-likelihood by up to
    1e-15 / L -- negligible except for rows whose likelihood is below ~1e-9.
    """

    _param_names = ("alpha", "beta", "gamma", "delta")
    _data_names = ("frequency", "recency", "n_periods")
    _log_likelihood_rows = staticmethod(bgbb_log_likelihood)

    def fit(self, frequency, recency, n_periods, weights=None):
        """Fit the model.

        Parameters
        ----------
        frequency : array_like of int, shape (n,)
            Opportunities with a transaction, among the ``n_periods`` after the first one.
        recency : array_like of int, shape (n,)
            The last opportunity with a transaction (0 when ``frequency`` is 0).
        n_periods : array_like of int or int, shape (n,)
            Transaction opportunities observed after the first transaction.
        weights : array_like, shape (n,), optional
            Number of customers with each row (default 1 each).

        Returns
        -------
        self
        """
        return self._fit({"frequency": frequency, "recency": recency, "n_periods": n_periods}, weights)

    def _check_data(self, data):
        check_nonnegative(data)
        check_integer(data)
        x, tx, n = data.get("frequency"), data.get("recency"), data.get("n_periods")
        if tx is not None and n is not None:
            fail_where(tx > n, lambda i: f"recency[{i}] = {tx[i]:g} is greater than n_periods[{i}] = "
                                         f"{n[i]:g}")
        if x is not None and tx is not None:
            fail_where(x > tx, lambda i: f"frequency[{i}] = {x[i]:g} is greater than recency[{i}] = "
                                         f"{tx[i]:g}", hint="each opportunity holds at most one transaction, "
                                                            "so frequency <= recency")
            fail_where((x == 0) & (tx != 0), lambda i: f"recency[{i}] = {tx[i]:g} but frequency[{i}] = 0",
                       hint="a customer without transactions has recency 0")

    def _check_identifiable(self, data, weights):
        check_repeat_buyers(type(self).__name__, data["frequency"], weights)
        if not np.any((data["n_periods"] > data["recency"]) & (weights > 0)):
            raise ModelError("BetaGeoBetaBinomModel: every customer transacted in the last opportunity, so "
                             "dropout cannot be estimated", hint="fit on a longer observation window")

    def _default_log_params(self, data, weights):
        # transaction propensity: transactions per opportunity up to the last one, mean 1/(1+beta)
        per = float(weights @ data["frequency"] / max(weights @ np.maximum(data["recency"], 1), 1e-12))
        per = min(max(per, 1e-3), 1 - 1e-3)
        return np.log([1.0, (1 - per) / per, 1.0, 3.0])

    # ---------------------------------------------------------------- predictions

    def _history(self, named, counts):
        """Validated inputs (``counts``: whole numbers >= 0) and, per customer, ln L (FHS eq. 5)
        computed on the unique histories."""
        arrays, index, scalar = self._prediction_inputs(named, counts=counts)
        hist = {k: arrays[k] for k in self._data_names}
        unique, inverse = unique_rows(hist)
        ll, _ = bgbb_log_likelihood(np.log([self.params_[k] for k in self._param_names]),
                                    *(unique[k] for k in self._data_names))
        return arrays, index, scalar, ll[inverse]

    def probability_alive(self, frequency, recency, n_periods, *, n_future_periods=1):
        """Probability that the customer is alive at opportunity ``n_periods + n_future_periods``
        (FHS eq. 11 for the default 1: alive in the next opportunity; 0: alive through the last
        observed one).

        Parameters
        ----------
        frequency, recency, n_periods : array_like of int or int
            History, as in ``fit`` (in opportunities).
        n_future_periods : array_like of int or int, default 1
            Opportunities ahead (>= 0).

        Returns
        -------
        ndarray, pandas.Series or float
            Probabilities in [0, 1].
        """
        arrays, index, scalar, ll = self._history(
            {"frequency": frequency, "recency": recency, "n_periods": n_periods,
             "n_future_periods": n_future_periods}, counts=("n_future_periods",))
        m = arrays["n_future_periods"]
        al, be, ga, de = (self.params_[k] for k in self._param_names)
        x, n = arrays["frequency"], arrays["n_periods"]
        log_p = (betaln(al + x, be + n - x) - betaln(al, be) + betaln(ga, de + n + m) - betaln(ga, de) - ll)
        return self._output(np.minimum(np.exp(log_p), 1.0), index, scalar)

    def expected_purchases(self, n_future_periods, frequency, recency, n_periods):
        """Expected number of transactions in the next ``n_future_periods`` opportunities,
        ``n_periods + 1 .. n_periods + n_future_periods``, given the history (FHS eq. 13).

        Parameters
        ----------
        n_future_periods : array_like of int or int
            Horizon, in transaction opportunities (>= 0).
        frequency, recency, n_periods : array_like of int or int
            History, as in ``fit``.

        Returns
        -------
        ndarray, pandas.Series or float
            Expected transactions (>= 0, finite).
        """
        arrays, index, scalar, ll = self._history(
            {"n_future_periods": n_future_periods, "frequency": frequency, "recency": recency,
             "n_periods": n_periods}, counts=("n_future_periods",))
        m = arrays["n_future_periods"]
        al, be, ga, de = (self.params_[k] for k in self._param_names)
        x, n = arrays["frequency"], arrays["n_periods"]
        log_p = betaln(al + x + 1, be + n - x) - betaln(al, be) - ll
        return self._output(np.exp(log_p) * _alive_sum(ga, de, n, m), index, scalar)

    def expected_purchases_new_customer(self, n_periods):
        """Expected number of transactions in the first ``n_periods`` opportunities after the first
        transaction, for a customer just acquired: ``alpha/(alpha+beta) * sum_{i=1}^{n} B(gamma,
        delta+i)/B(gamma, delta)`` (FHS's unconditional expectation; eq. 13 at ``x = t_x = n = 0``).

        Parameters
        ----------
        n_periods : array_like of int or int
            Number of opportunities (>= 0).

        Returns
        -------
        ndarray, pandas.Series or float
        """
        return self.expected_purchases(n_periods, 0, 0, 0)

    def probability_of_purchases(self, n, n_future_periods, frequency, recency, n_periods):
        """Probability of exactly ``n`` transactions in the next ``n_future_periods`` opportunities
        given the history (the conditional PMF of FHS's model).

        A customer alive through ``n_periods`` (``P = A / L``, ``A`` the first term of eq. 5) stays
        alive for ``d`` more opportunities with probability ``B(g+1, d'+d)/B(g, d')`` (``d < m``;
        ``B(g, d'+m)/B(g, d')`` for all ``m``) and transacts ``Binomial(d, p)`` times in them, with
        ``d' = delta + n_periods`` and ``p`` from its posterior; customers gone before make none:

        ``P(n) = [n = 0] (1 - A/L) + 1/(L B(a,b) B(g,d)) [sum_{d=n}^{m-1} C(d,n) B(a+x+n, b+n_periods-x+d-n)
        B(g+1, d'+d) + C(m,n) B(a+x+n, b+n_periods-x+m-n) B(g, d'+m)]``, summed in log space
        (O(m) per customer).

        Parameters
        ----------
        n : array_like of int or int
            Number of transactions (>= 0).
        n_future_periods : array_like of int or int
            Horizon ``m``, in transaction opportunities (>= 0).
        frequency, recency, n_periods : array_like of int or int
            History, as in ``fit``.

        Returns
        -------
        ndarray, pandas.Series or float
            Probabilities in [0, 1].
        """
        arrays, index, scalar, ll = self._history(
            {"n": n, "n_future_periods": n_future_periods, "frequency": frequency, "recency": recency,
             "n_periods": n_periods}, counts=("n", "n_future_periods"))
        k, m = arrays["n"], arrays["n_future_periods"]
        al, be, ga, de = (self.params_[name] for name in self._param_names)
        x, periods = arrays["frequency"], arrays["n_periods"]
        norm = betaln(al, be) + betaln(ga, de) + ll
        alive = np.exp(betaln(al + x, be + periods - x) + betaln(ga, de + periods) - norm)

        def log_term(d, last):  # d more opportunities alive; last: alive through all m of them
            choose = gammaln(d + 1) - gammaln(k + 1) - gammaln(d - k + 1)
            drop = np.where(last, betaln(ga, de + periods + d), betaln(ga + 1, de + periods + d))
            return choose + betaln(al + x + k, be + periods - x + d - k) + drop

        with np.errstate(invalid="ignore"):
            total = np.where(k <= m, log_term(m, True), -np.inf)
            for d in range(int(k.min(initial=0)), int(m.max(initial=0))):
                total = np.logaddexp(total, np.where((d >= k) & (d < m), log_term(np.float64(d), False),
                                                     -np.inf))
        prob = np.exp(total - norm) + np.where(k == 0, 1.0 - alive, 0.0)
        return self._output(np.clip(prob, 0.0, 1.0), index, scalar)
