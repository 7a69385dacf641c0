"""The Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, JMR).

A customer's transactions are ``Gamma(p, nu)`` (mean ``p / nu``), with ``nu ~ Gamma(q, v)`` across
customers; the model sees each customer's number of transactions ``x`` and their mean value
``m_x``. It assumes spend is independent of the purchase process -- the fit warns when the data
say otherwise. Money is in whatever unit ``monetary_value`` is in (``v`` too).

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using iso-value curves for
customer base analysis. *Journal of Marketing Research* 42(4), 415-430.
Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value.
brucehardie.com/notes/025 (the marginal density of ``m_x``, eq. 1a as lifetimes cites it, and
the conditional expectation, eq. 5).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import digamma, gammaln

from jingzhun.errors import ModelError
from jingzhun.predict.btyd._base import (
    BTYDModel,
    DataWarning,
    as_float_arrays,
    at_counts,
    check_integer,
    check_nonnegative,
    fail_where,
)

__all__ = ["CORRELATION_WARNING", "GammaGammaModel", "gamma_gamma_log_likelihood"]

#: |Pearson r| between frequency and mean spend above which ``fit`` warns (``DataWarning``).
CORRELATION_WARNING = 0.3


def gamma_gamma_log_likelihood(log_params: np.ndarray, frequency: np.ndarray,
                               monetary_value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-customer log-density of the mean spend and its gradient over ``log p, log q, log v``.

    Note 025, eq. 1a: ``f(m | p, q, v, x) = Gamma(px+q) / (Gamma(px) Gamma(q)) v^q m^(px-1) x^px
    / (v + m x)^(px+q)``, written with ``log1p`` so that neither ``v >> m x`` nor ``v << m x``
    loses digits.

    Parameters
    ----------
    log_params : ndarray, shape (3,)
    frequency : ndarray, shape (n,)
        Number of transactions ``x`` behind each mean (>= 1).
    monetary_value : ndarray, shape (n,)
        Mean value ``m`` of those transactions (> 0).

    Returns
    -------
    ll : ndarray, shape (n,)
    grad : ndarray, shape (3, n)
    """
    p, q, v = np.exp(log_params)
    x, m = frequency, monetary_value
    px = p * x
    mx = m * x
    log1p_v_mx, log1p_mx_v = np.log1p(v / mx), np.log1p(mx / v)
    psi_pxq = at_counts(digamma, q, x, p)
    ll = (at_counts(gammaln, q, x, p) - at_counts(gammaln, 0.0, x, p) - gammaln(q) - px * log1p_v_mx
          - q * log1p_mx_v - np.log(m))
    d_p = x * (psi_pxq - at_counts(digamma, 0.0, x, p) - log1p_v_mx)
    d_q = psi_pxq - digamma(q) - log1p_mx_v
    d_v = q / v - (px + q) / (v + mx)
    return ll, np.stack([p * d_p, q * d_q, v * d_v])


class GammaGammaModel(BTYDModel):
    """Gamma-Gamma spend model (Fader, Hardie & Lee 2005, JMR) fitted by maximum likelihood.

    Fit it on customers with at least one repeat purchase: ``frequency`` their number of repeat
    transactions and ``monetary_value`` the mean value of those transactions.

    ``fit`` warns (``DataWarning``) when the weighted Pearson correlation between frequency and
    mean spend exceeds ``CORRELATION_WARNING`` (0.3) in absolute value -- the model assumes the
    two are independent, and its CLV would then be biased -- and when the fitted ``q <= 1`` (the
    population's mean spend ``p v / (q - 1)`` is then infinite).

    Parameters
    ----------
    initial_params : dict, optional
        Start ``{"p": ..., "q": ..., "v": ...}``; default: a data-driven start.
    max_iter : int, default 2000

    Attributes
    ----------
    params_ : dict
        ``p``, ``q``, ``v`` (``v`` in the money unit of ``monetary_value``).
    correlation_ : float
        Weighted Pearson correlation of frequency and mean spend in the fitted data.
    log_likelihood_, n_customers_, n_rows_, converged_, covariance_, n_iter_
        See :class:`BTYDModel`.

    Notes
    -----
    Parity with lifetimes 0.11.3 (``GammaGammaFitter``): the same log-likelihood (lifetimes'
    per-customer average times the weight total) and ``conditional_expected_average_profit``.
    """

    _param_names = ("p", "q", "v")
    _data_names = ("frequency", "monetary_value")
    _log_likelihood_rows = staticmethod(gamma_gamma_log_likelihood)

    def fit(self, frequency, monetary_value, weights=None):
        """Fit the model.

        Parameters
        ----------
        frequency : array_like of int, shape (n,)
            Repeat transactions of each customer (>= 1).
        monetary_value : array_like, shape (n,)
            Mean value of those transactions (> 0), in a money unit.
        weights : array_like, shape (n,), optional
            Number of customers with each row (default 1 each).

        Returns
        -------
        self
        """
        arrays, _ = as_float_arrays({"frequency": frequency, "monetary_value": monetary_value})
        self._check_data(arrays)
        x, m = arrays["frequency"], arrays["monetary_value"]
        fail_where(x < 1, lambda i: f"frequency[{i}] = {x[i]:g}: the Gamma-Gamma model is fitted on "
                                    "customers with at least one repeat purchase",
                   hint="select the customers with frequency > 0")
        fail_where(m <= 0, lambda i: f"monetary_value[{i}] = {m[i]:g} is not positive",
                   hint="the mean value of repeat transactions must be > 0; drop refunds-only customers")
        self._fit(arrays, weights)
        self.correlation_ = _weighted_correlation(x, m, self._fit_weights(weights, x.size))
        if abs(self.correlation_) > CORRELATION_WARNING:
            warnings.warn(f"GammaGammaModel: frequency and mean spend correlate (Pearson r = "
                          f"{self.correlation_:.2f}); the model assumes they are independent, so "
                          "expected spend and CLV will be biased", DataWarning, stacklevel=2)
        if self.params_["q"] <= 1:
            warnings.warn(f"GammaGammaModel: q = {self.params_['q']:.3g} <= 1, so the population's mean "
                          "spend per transaction is infinite (heavy-tailed spend); expected spend is "
                          "finite only for customers with p x + q > 1", DataWarning, stacklevel=2)
        return self

    @staticmethod
    def _fit_weights(weights, n):
        return np.ones(n) if weights is None else np.broadcast_to(
            as_float_arrays({"weights": weights})[0]["weights"], (n,))

    def _check_data(self, data):
        check_nonnegative(data)
        if "frequency" in data:
            check_integer({"frequency": data["frequency"]})

    def _default_log_params(self, data, weights):
        # E[m] = p v / (q - 1): start at p = 1, q = 3 and the weighted mean spend
        mean_m = float(weights @ data["monetary_value"] / weights.sum())
        return np.log([1.0, 3.0, 2.0 * max(mean_m, 1e-12)])

    def expected_spend(self, frequency, monetary_value):
        """Expected value of a future transaction given the customer's history (note 025, eq. 5):
        ``p (v + x m_x) / (p x + q - 1)``, a weighted average of the population mean ``p v /
        (q - 1)`` and the customer's own mean ``m_x``.

        Parameters
        ----------
        frequency : array_like of int or int
            Repeat transactions ``x`` (>= 0; 0 gives the population mean).
        monetary_value : array_like or float
            Their mean value ``m_x`` (>= 0; ignored where ``x = 0``), in the money unit fitted.

        Returns
        -------
        ndarray, pandas.Series or float
            Expected spend per transaction, in the money unit of the fitted data.

        Raises
        ------
        ModelError
            Where ``p x + q <= 1``: the expectation is infinite (only possible when ``q <= 1``).
        """
        arrays, index, scalar = self._prediction_inputs(
            {"frequency": frequency, "monetary_value": monetary_value})
        p, q, v = (self.params_[k] for k in self._param_names)
        x, m = arrays["frequency"], arrays["monetary_value"]
        denom = p * x + q - 1.0
        bad = denom <= 0
        if bad.any():
            i = int(np.argmax(bad))
            raise ModelError(f"expected spend is infinite for frequency[{i}] = {x[i]:g}: p x + q - 1 = "
                             f"{denom[i]:.3g} <= 0 with p = {p:.4g}, q = {q:.4g}",
                             hint="the fitted spend distribution is too heavy-tailed; check for "
                                  "outliers in monetary_value")
        return self._output(p * (v + x * m) / denom, index, scalar)


def _weighted_correlation(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Weighted Pearson correlation; 0 when either variable is constant."""
    w = w / w.sum()
    dx, dy = x - w @ x, y - w @ y
    sxx, syy = w @ (dx * dx), w @ (dy * dy)
    if sxx <= 0 or syy <= 0:
        return 0.0
    return float(w @ (dx * dy) / np.sqrt(sxx * syy))
