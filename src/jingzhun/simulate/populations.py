"""Customer populations drawn from the BTYD models with known parameters, for recovery tests.

Each simulator returns what the model's fitter consumes, one row per customer: repeat-purchase
``frequency``, ``recency`` and the observation length (``T`` or ``n_periods``), in the time unit of
the parameters (weeks by convention). Every function is vectorised (no loop over customers; 1M
customers take about a second) and takes a ``seed`` (anything ``numpy.random.default_rng``
accepts, a ``Generator`` included).

The draws use exact distributional shortcuts instead of walking each customer's purchases:

* the number of Poisson arrivals in ``(0, L]`` is ``Poisson(lambda L)`` and, given there are
  ``N`` of them, the ``k``-th is ``L`` times a ``Beta(k, N - k + 1)`` order statistic;
* a customer who drops out after each purchase with probability ``p`` makes a geometric number of
  purchases before dropping out, so the observed count is ``min(N, G)``;
* in discrete time, the last success of a Bernoulli(p) sequence of length ``m`` is ``m`` minus the
  number of failures met reading it backwards, and the earlier positions are independent of that.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way: an
alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284.
Batislam, E. P., Denizel, M. & Filiztekin, A. (2007). Empirical validation and comparison of
models for customer base analysis. *International Journal of Research in Marketing* 24(3), 201-209.
Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987). Counting your customers: who are they
and what will they do next? *Management Science* 33(1), 1-24.
Fader, P. S., Hardie, B. G. S. & Shang, J. (2010). Customer-base analysis in a discrete-time
noncontractual setting. *Marketing Science* 29(6), 1086-1108.
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using iso-value curves for
customer base analysis. *Journal of Marketing Research* 42(4), 415-430.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from jingzhun.errors import ConfigError

__all__ = ["simulate_bgbb", "simulate_bgnbd", "simulate_gamma_gamma", "simulate_mbgnbd",
           "simulate_pareto_nbd"]


def simulate_bgnbd(n: int, r: float, alpha: float, a: float, b: float, T, seed=None) -> pd.DataFrame:
    """Draw ``n`` customers from the BG/NBD model (Fader, Hardie & Lee 2005).

    ``lambda ~ Gamma(shape=r, rate=alpha)`` is the purchase rate while alive, ``p ~ Beta(a, b)``
    the probability of dropping out right after each *repeat* purchase; every customer is alive
    at their first purchase (time 0).

    Parameters
    ----------
    n : int
        Number of customers (>= 0).
    r, alpha, a, b : float
        Model parameters (> 0); ``alpha`` is in the time unit of ``T``.
    T : float or array_like of shape (n,)
        Observation length since each customer's first purchase (>= 0), same unit.
    seed : int, numpy.random.Generator or None
        Passed to ``numpy.random.default_rng``.

    Returns
    -------
    pandas.DataFrame
        ``n`` rows: ``frequency`` (int64, repeat purchases in ``(0, T]``), ``recency`` (time of the
        last repeat purchase since the first purchase; 0 when ``frequency`` is 0) and ``T``.
    """
    return _geometric_dropout(n, r, alpha, a, b, T, seed, dropout_at_start=False)


def simulate_mbgnbd(n: int, r: float, alpha: float, a: float, b: float, T, seed=None) -> pd.DataFrame:
    """Draw ``n`` customers from the MBG/NBD model (Batislam et al. 2007).

    As ``simulate_bgnbd``, except that a customer may also drop out right after the *first*
    purchase (time 0, probability ``p``), so more customers never buy again. Parameters and
    returned columns are those of ``simulate_bgnbd``.
    """
    return _geometric_dropout(n, r, alpha, a, b, T, seed, dropout_at_start=True)


def simulate_pareto_nbd(n: int, r: float, alpha: float, s: float, beta: float, T,
                        seed=None) -> pd.DataFrame:
    """Draw ``n`` customers from the Pareto/NBD model (Schmittlein, Morrison & Colombo 1987).

    ``lambda ~ Gamma(shape=r, rate=alpha)`` is the Poisson purchase rate while alive,
    ``mu ~ Gamma(shape=s, rate=beta)`` the dropout rate: the lifetime after the first purchase is
    ``Exponential(rate=mu)``.

    Parameters
    ----------
    n : int
        Number of customers (>= 0).
    r, alpha, s, beta : float
        Model parameters (> 0); ``alpha`` and ``beta`` are in the time unit of ``T``.
    T : float or array_like of shape (n,)
        Observation length since each customer's first purchase (>= 0), same unit.
    seed : int, numpy.random.Generator or None

    Returns
    -------
    pandas.DataFrame
        ``frequency``, ``recency`` and ``T`` as in ``simulate_bgnbd``.
    """
    n = _check_n(n)
    _check_positive(r=r, alpha=alpha, s=s, beta=beta)
    T = _check_T(T, n)
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    with np.errstate(divide="ignore", over="ignore"):  # tiny mu (tiny s): an endless lifetime
        active = np.minimum(rng.exponential(1.0, n) / mu, T)
    frequency = rng.poisson(lam * active)
    # the last of x uniform arrivals in (0, active] is active * Beta(x, 1)
    recency = active * rng.beta(np.maximum(frequency, 1), 1.0)
    return _frame(frequency, np.where(frequency > 0, recency, 0.0), T)


def simulate_bgbb(n: int, alpha: float, beta: float, gamma: float, delta: float, n_periods,
                  seed=None) -> pd.DataFrame:
    """Draw ``n`` customers from the discrete-time BG/BB model (Fader, Hardie & Shang 2010).

    After the initial transaction (period 0) there are ``n_periods`` transaction opportunities.
    ``theta ~ Beta(gamma, delta)`` is the probability that a living customer becomes inactive at
    the start of each opportunity (the first one included, as in the paper's likelihood);
    ``p ~ Beta(alpha, beta)`` the probability that a living customer transacts at an opportunity.

    Parameters
    ----------
    n : int
        Number of customers (>= 0).
    alpha, beta, gamma, delta : float
        Model parameters (> 0).
    n_periods : int or array_like of int, shape (n,)
        Transaction opportunities after the initial one (>= 0).
    seed : int, numpy.random.Generator or None

    Returns
    -------
    pandas.DataFrame
        ``frequency`` (int64, transactions in opportunities 1..n_periods), ``recency`` (int64,
        opportunity of the last transaction; 0 when there is none) and ``n_periods`` (int64).
    """
    n = _check_n(n)
    _check_positive(alpha=alpha, beta=beta, gamma=gamma, delta=delta)
    periods = np.broadcast_to(np.asarray(n_periods), (n,)) if np.ndim(n_periods) == 0 else \
        np.asarray(n_periods)
    if periods.shape != (n,) or (periods.size and (
            not np.all(np.isfinite(periods)) or np.any(periods < 0)
            or np.any(periods != np.floor(periods)))):
        raise ConfigError(f"n_periods must be an integer >= 0 or {n} of them, got {n_periods!r}")
    periods = periods.astype(np.int64)
    rng = np.random.default_rng(seed)
    p = rng.beta(alpha, beta, n)
    theta = rng.beta(gamma, delta, n)
    # alive through opportunities 1..m: dropout at the start of opportunity Geometric(theta)
    alive = np.minimum(_geometric(rng, theta) - 1, periods)
    # read the m Bernoulli(p) draws backwards: the first success met is the last transaction
    back = _geometric(rng, p)
    has_any = back <= alive
    recency = np.where(has_any, alive - back + 1, 0)
    frequency = np.where(has_any, 1 + rng.binomial(np.maximum(recency - 1, 0), p), 0)
    return pd.DataFrame({"frequency": frequency.astype(np.int64), "recency": recency.astype(np.int64),
                         "n_periods": periods.copy()})


def simulate_gamma_gamma(frequency, p: float, q: float, v: float, seed=None) -> np.ndarray:
    """Draw each customer's mean transaction value from the Gamma-Gamma model (FHL 2005, JMR).

    ``nu ~ Gamma(shape=q, rate=v)`` per customer; each of the ``x`` transactions is
    ``Gamma(shape=p, rate=nu)``, so their sum is ``Gamma(p x, nu)`` and the mean is that over ``x``.

    Parameters
    ----------
    frequency : array_like of int, shape (n,)
        Number of transactions ``x`` behind each mean (>= 0).
    p, q, v : float
        Model parameters (> 0); values are in the money unit implied by ``v``.
    seed : int, numpy.random.Generator or None

    Returns
    -------
    numpy.ndarray of float, shape (n,)
        Mean transaction value per customer; 0.0 where ``frequency`` is 0 (no transaction to
        average: such customers must not be fed to a Gamma-Gamma fit, which needs ``x >= 1``).
    """
    _check_positive(p=p, q=q, v=v)
    x = np.asarray(frequency)
    if x.ndim != 1 or (x.size and (not np.all(np.isfinite(x)) or np.any(x < 0)
                                   or np.any(x != np.floor(x)))):
        raise ConfigError(f"frequency must be a 1-d array of integers >= 0, got {frequency!r}")
    rng = np.random.default_rng(seed)
    nu = np.maximum(rng.gamma(q, 1.0 / v, x.size), 1e-300)  # underflow for tiny q
    has = x > 0
    total = rng.gamma(np.where(has, p * x, 1.0), 1.0 / nu)
    return np.where(has, total / np.maximum(x, 1), 0.0)


def _geometric_dropout(n, r, alpha, a, b, T, seed, *, dropout_at_start: bool) -> pd.DataFrame:
    """BG/NBD (``dropout_at_start=False``) or MBG/NBD (``True``) draw."""
    n = _check_n(n)
    _check_positive(r=r, alpha=alpha, a=a, b=b)
    T = _check_T(T, n)
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    arrivals = rng.poisson(lam * T)
    # purchases made before dropping out: Geometric on {1, 2, ...} (BG) or {0, 1, ...} (MBG)
    before_dropout = _geometric(rng, p) - (1 if dropout_at_start else 0)
    frequency = np.minimum(arrivals, before_dropout)
    k = np.maximum(frequency, 1)
    recency = T * rng.beta(k, np.maximum(arrivals - k + 1, 1))
    return _frame(frequency, np.where(frequency > 0, recency, 0.0), T)


def _geometric(rng: np.random.Generator, prob: np.ndarray) -> np.ndarray:
    """Trials up to the first success, on {1, 2, ...}; huge (not an overflow) for tiny ``prob``."""
    return rng.geometric(np.clip(prob, 1e-300, 1.0)).astype(np.int64, copy=False)


def _frame(frequency: np.ndarray, recency: np.ndarray, T: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"frequency": frequency.astype(np.int64), "recency": recency,
                         "T": T.astype(float, copy=True)})


def _check_n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ConfigError(f"n must be an integer >= 0, got {n!r}")
    return int(n)


def _check_positive(**params: float) -> None:
    for name, value in params.items():
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not (ok and np.isfinite(value) and value > 0):
            raise ConfigError(f"{name} must be a finite number > 0, got {value!r}")


def _check_T(T, n: int) -> np.ndarray:
    try:
        arr = np.asarray(T, dtype=float) if not isinstance(T, str) else np.asarray(np.nan)
    except (TypeError, ValueError):
        arr = np.asarray(np.nan)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,) or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ConfigError(f"T must be a finite number >= 0 or {n} of them, got {T!r}")
    return arr
