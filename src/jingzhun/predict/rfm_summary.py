"""The BTYD models' input, computed in the warehouse: one row per customer with frequency,
recency, T and monetary value, optionally split into a calibration and a holdout period.

Written once with Ibis, so it runs on DuckDB and on Spark unchanged. Grain: one row per customer
with at least one purchase on or before the end of the (calibration) period.

Choices, in plain words:

* **What is a purchase.** The profile's rule (``jingzhun.profile.state``): an order with a
  customer, a status other than ``cancelled`` and ``total_amount >= 0``. Completed and returned
  orders count (a returned order was bought, then refunded); credit notes and cancelled orders
  do not.
* **Transactions are days.** Orders are put on the customer's *local calendar day* in
  ``timezone`` (``profile._portable.local_timestamp``); all purchases of one day are one
  transaction whose value is their summed ``total_amount``. ``frequency`` is the number of
  purchase days minus one (repeat transactions only).
* **Dates, not times.** Recency and T are differences of calendar days, divided by 7 for
  ``unit="W"``: ``recency = last day - first day``, ``T = end day - first day``, where the end
  day is ``calibration_end`` (or ``observation_end``) itself. A purchase on the end day is
  included. This is lifetimes' ``summary_data_from_transaction_data(..., freq="D",
  freq_multiplier=7)``, the convention that reproduces the published CDNOW summary
  (``lifetimes.datasets.load_cdnow_summary``, T = 38.86 weeks for a customer who first bought on
  1997-01-01 with a calibration end of 1997-09-30). A first purchase on the end day gives T = 0.
* **Money.** ``monetary_value`` is the mean value of the *repeat* purchase days (the first day
  excluded, as the Gamma-Gamma model wants), 0.0 when ``frequency`` is 0; a float in the
  orders' currency (a mix of currencies is not converted).
* **Holdout.** With ``calibration_end``: the columns above describe purchases up to and including
  ``calibration_end``; ``frequency_holdout`` counts the purchase days in ``(calibration_end,
  observation_end]`` (every one is a repeat transaction), ``monetary_value_holdout`` is their
  mean value (0.0 when none) and ``duration_holdout = observation_end - calibration_end`` in
  ``unit``. A customer whose first purchase is after ``calibration_end`` is not in the table,
  as in lifetimes' ``calibration_and_holdout_data``.
"""

from __future__ import annotations

from datetime import date, datetime

import ibis

from jingzhun.errors import ConfigError
from jingzhun.profile._portable import backend_name, ratio
from jingzhun.profile.state import classify_orders, epoch_day

#: Days per time unit.
UNIT_DAYS = {"D": 1.0, "W": 7.0}


def rfm_summary(orders: ibis.Table, *, observation_end: date, unit: str = "W",
                calibration_end: date | None = None, timezone: str = "UTC") -> ibis.Table:
    """Frequency, recency, T and monetary value per customer (the BTYD models' input).

    Parameters
    ----------
    orders : ibis.Table
        The canonical ``orders`` table (``contract.py``): ``customer_id``, ``ordered_at`` (naive
        UTC), ``status``, ``total_amount``, ``discount_amount``, ``ingest_run_id``.
    observation_end : datetime.date
        Last local day of the observation (included).
    unit : {"W", "D"}
        Time unit of ``recency``, ``T`` and ``duration_holdout``: weeks (days / 7) or days.
    calibration_end : datetime.date, optional
        Last local day of the calibration period (included), before ``observation_end``; when
        given, the summary describes the calibration period and holdout columns are added.
    timezone : str
        IANA time zone whose calendar days are the transactions (``"UTC"``, ``"Asia/Shanghai"``).

    Returns
    -------
    ibis.Table
        One row per customer with a purchase on or before the (calibration) end: ``customer_id``,
        ``frequency`` (int64, repeat purchase days), ``recency`` and ``T`` (float64, in
        ``unit``), ``monetary_value`` (float64, mean value of the repeat purchase days, 0.0 when
        none), ``first_purchase_at`` (naive UTC timestamp of the first purchase order); with
        ``calibration_end`` also ``frequency_holdout`` (int64), ``monetary_value_holdout``
        (float64) and ``duration_holdout`` (float64, in ``unit``).
    """
    end = _check_day(observation_end, "observation_end")
    if unit not in UNIT_DAYS:
        raise ConfigError(f"unit must be one of {sorted(UNIT_DAYS)}, got {unit!r}")
    cal = None if calibration_end is None else _check_day(calibration_end, "calibration_end")
    if cal is not None and cal >= end:
        raise ConfigError(f"calibration_end ({cal}) must be before observation_end ({end})")
    days = _purchase_days(orders, epoch_day(end), timezone)
    cal_day = epoch_day(cal if cal is not None else end)
    summary = _summary(days.filter(days.day <= cal_day), cal_day, UNIT_DAYS[unit])
    if cal is None:
        return summary
    return _with_holdout(summary, days.filter(days.day > cal_day), (end - cal).days / UNIT_DAYS[unit])


def _check_day(value, name: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ConfigError(f"{name} must be a datetime.date (a local calendar day), got {value!r}")
    return value


def _purchase_days(orders: ibis.Table, end_day: int, timezone: str) -> ibis.Table:
    """One row per (customer, local purchase day) up to ``end_day``: the day's summed value and
    its first order time."""
    o = classify_orders(orders, timezone, backend_name(orders))
    o = o.filter(o.is_purchase & (o.day <= end_day))
    return o.group_by(["customer_id", "day"]).aggregate(
        value=o.total.sum(), first_at=o.ordered_at.min())


def _summary(days: ibis.Table, end_day: int, unit_days: float) -> ibis.Table:
    agg = days.group_by("customer_id").aggregate(
        n_days=days.count(), first_day=days.day.min(), last_day=days.day.max(),
        total=days.value.sum(), first_value=days.value.argmin(days.day),
        first_purchase_at=days.first_at.min())
    repeat = agg.n_days - 1
    return agg.select(
        "customer_id",
        frequency=repeat.cast("int64"),
        recency=(agg.last_day - agg.first_day).cast("float64") / unit_days,
        T=(end_day - agg.first_day).cast("float64") / unit_days,
        monetary_value=ratio(agg.total - agg.first_value, repeat).fill_null(0.0),
        first_purchase_at=agg.first_purchase_at,
    )


def _with_holdout(summary: ibis.Table, days: ibis.Table, duration: float) -> ibis.Table:
    hold = days.group_by("customer_id").aggregate(n_hold=days.count(), total_hold=days.value.sum())
    joined = summary.left_join(hold, summary.customer_id == hold.customer_id)
    return joined.select(
        *[summary[c] for c in summary.columns if c != "first_purchase_at"],
        frequency_holdout=joined.n_hold.fill_null(0).cast("int64"),
        monetary_value_holdout=ratio(joined.total_hold, joined.n_hold).fill_null(0.0),
        duration_holdout=ibis.literal(duration, "float64"),
        first_purchase_at=summary.first_purchase_at,
    )
