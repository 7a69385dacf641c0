"""Customer lifetime value (CLV) from a fitted transaction model and a fitted spend model.

``CLV = margin x expected spend per transaction x discounted expected transactions``, per
customer, in the money unit of the spend model. The transaction model is one of the
(frequency, recency, T) BTYD models (``BetaGeoModel``, ``ModifiedBetaGeoModel``,
``ParetoNBDModel``); the spend model a fitted ``GammaGammaModel``.

Choices, in plain words:

* **Time** is the unit of the fitted data (weeks for ``rfm_summary(unit="W")``); ``unit_days``
  says how many days that is, so that an **annual** discount rate ``i`` can be given: a step of
  ``s`` units is discounted by ``(1 + i) ** (s * unit_days / 365.25)``.
* **Finite horizon**: period by period. The transactions expected in step ``k`` (``E[X(k s)] -
  E[X((k-1) s)]`` from ``expected_purchases``) are discounted at the end of the step, as
  lifetimes' ``customer_lifetime_value`` does with months; the last step is shortened to end at
  the horizon.
* **Infinite horizon** (``horizon=None``): the closed form where the model has one -- Pareto/NBD's
  discounted expected residual transactions (Fader, Hardie & Lee 2005, JMR 42(4), eq. 2) with the
  continuous rate ``ln(1 + i) * unit_days / 365.25``. Other models need a finite horizon.
* **Spend**: Gamma-Gamma's conditional expectation (the population mean for a customer without
  a repeat purchase).
* The period sums run over the *unique* (frequency, recency, T) rows only, so a million customers
  cost what their few thousand distinct histories cost.
"""

from __future__ import annotations

import math

import numpy as np

from jingzhun.errors import ConfigError
from jingzhun.predict.btyd._base import unique_rows

DAYS_PER_YEAR = 365.25


def step_discount(annual_discount_rate: float, step_days: float) -> float:
    """Discount factor ``1 / (1 + i) ** (step_days / 365.25)`` of one step of ``step_days``
    days at the annual rate ``i`` (0.10 = 10% a year)."""
    _check_rate(annual_discount_rate)
    return float((1.0 + annual_discount_rate) ** (-step_days / DAYS_PER_YEAR))


def discounted_expected_transactions(model, frequency, recency, T, *, horizon: float | None = 52.0,
                                     annual_discount_rate: float = 0.10, unit_days: float = 7.0,
                                     step: float = 1.0) -> np.ndarray:
    """Expected repeat transactions in the next ``horizon`` time units, each discounted to today.

    Parameters
    ----------
    model : fitted BetaGeoModel, ModifiedBetaGeoModel or ParetoNBDModel
    frequency, recency, T : array_like, shape (n,)
        Histories in the model's time unit, as in its ``fit``.
    horizon : float or None, default 52
        In the model's time unit; ``None`` for the whole remaining lifetime (Pareto/NBD only).
    annual_discount_rate : float, default 0.10
    unit_days : float, default 7
        Days per time unit of the model (7 for weeks).
    step : float, default 1
        Length of a discounting step, in the model's time unit.

    Returns
    -------
    numpy.ndarray of float64, shape (n,)
        Discounted expected transactions (>= 0).
    """
    frequency, recency, T = (np.asarray(v, dtype=float).ravel() for v in (frequency, recency, T))
    if horizon is None:
        return _lifetime_transactions(model, frequency, recency, T, annual_discount_rate, unit_days)
    _check_horizon(horizon, step)
    rows, inverse = unique_rows({"x": frequency, "t_x": recency, "age": T})
    x, t_x, age = rows["x"], rows["t_x"], rows["age"]
    ends = np.append(np.arange(1, math.ceil(horizon / step - 1e-9)) * step, horizon)
    total = np.zeros(x.size)
    before = np.zeros(x.size)
    for end in ends:
        upto = np.asarray(model.expected_purchases(end, x, t_x, age), dtype=float)
        total += (upto - before) * step_discount(annual_discount_rate, end * unit_days)
        before = upto
    return total[inverse]


def customer_lifetime_value(transaction_model, spend_model, frequency, recency, T, monetary_value, *,
                            horizon: float | None = 52.0, annual_discount_rate: float = 0.10,
                            margin: float = 1.0, unit_days: float = 7.0,
                            step: float = 1.0) -> np.ndarray:
    """CLV of each customer: ``margin`` x expected spend x discounted expected transactions.

    Parameters
    ----------
    transaction_model : fitted BetaGeoModel, ModifiedBetaGeoModel or ParetoNBDModel
    spend_model : fitted GammaGammaModel
    frequency, recency, T : array_like, shape (n,)
        Histories in the transaction model's time unit.
    monetary_value : array_like, shape (n,)
        Mean value of the repeat transactions (ignored where ``frequency`` is 0).
    horizon, annual_discount_rate, unit_days, step
        As in ``discounted_expected_transactions``.
    margin : float, default 1.0
        Share of spend kept as profit (1.0 gives discounted revenue).

    Returns
    -------
    numpy.ndarray of float64, shape (n,)
        Value in the money unit of the spend model's data.
    """
    if not (0.0 <= margin <= 1.0):
        raise ConfigError(f"margin = {margin!r} is not a share between 0 and 1",
                          hint="give the profit margin as a share of revenue, e.g. 0.3")
    transactions = discounted_expected_transactions(
        transaction_model, frequency, recency, T, horizon=horizon,
        annual_discount_rate=annual_discount_rate, unit_days=unit_days, step=step)
    spend = np.asarray(spend_model.expected_spend(np.asarray(frequency, dtype=float),
                                                  np.asarray(monetary_value, dtype=float)), dtype=float)
    return margin * spend * transactions


def _lifetime_transactions(model, frequency, recency, T, annual_discount_rate, unit_days):
    if not hasattr(model, "discounted_expected_residual_transactions"):
        raise ConfigError(f"{type(model).__name__} has no closed form for the whole lifetime",
                          hint="give a finite horizon (e.g. 52 weeks), or use the Pareto/NBD model")
    _check_rate(annual_discount_rate)
    if annual_discount_rate <= 0:
        raise ConfigError("a lifetime value needs a positive discount rate",
                          hint="e.g. annual_discount_rate = 0.10")
    delta = math.log1p(annual_discount_rate) * unit_days / DAYS_PER_YEAR
    return np.asarray(model.discounted_expected_residual_transactions(delta, frequency, recency, T),
                      dtype=float)


def _check_rate(rate: float) -> None:
    if not (math.isfinite(rate) and rate >= 0):
        raise ConfigError(f"annual discount rate = {rate!r} is not a rate >= 0",
                          hint="give it as a share per year, e.g. 0.10 for 10%")


def _check_horizon(horizon: float, step: float) -> None:
    if not (math.isfinite(horizon) and horizon > 0):
        raise ConfigError(f"horizon = {horizon!r} is not a positive number of time units",
                          hint="e.g. 52 (weeks) for a year")
    if not (math.isfinite(step) and step > 0):
        raise ConfigError(f"step = {step!r} is not a positive number of time units")
