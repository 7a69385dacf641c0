"""Model checking for the continuous-time BTYD models (BG/NBD, MBG/NBD, Pareto/NBD): the tables
behind the papers' diagnostic figures, and customer-level errors against a naive baseline.

Every function is pure: a fitted model and pandas/numpy inputs in, a DataFrame or a frozen
dataclass out. Time is in the model's unit (the unit of the ``recency`` and ``T`` it was fitted
on, weeks in the papers) everywhere.

* :func:`calibration_holdout_table` -- mean actual vs expected holdout purchases by calibration
  frequency (FHL 2005's conditional-expectation plot; lifetimes'
  ``plot_calibration_purchases_vs_holdout_purchases``).
* :func:`tracking_table` -- actual vs expected repeat transactions of a cohort per period and
  cumulated (FHL 2005's weekly and cumulative tracking plots; Hardie's note 008; lifetimes'
  ``expected_cumulative_transactions``), with :func:`tracking_inputs` to build its inputs from
  dated purchases.
* :func:`probability_alive_matrix` -- P(alive) over frequency x recency at a given age.
* :func:`customer_errors` -- MAE and RMSE of the customer-level holdout predictions, for the
  model and for a naive baseline.

The figures are drawn by ``jingzhun.report.btyd_figures``.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way: an
alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284. (FHL)
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). A note on implementing the Pareto/NBD model in
MATLAB. brucehardie.com/notes/008.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from jingzhun.errors import InputError
from jingzhun.predict.btyd._base import FrequencyRecencyTModel, as_float_arrays, check_nonnegative, fail_where
from jingzhun.predict.rfm_summary import UNIT_DAYS

__all__ = ["HoldoutErrors", "calibration_holdout_table", "customer_errors", "probability_alive_matrix",
           "tracking_inputs", "tracking_table"]

_HOLDOUT_COLUMNS = ("frequency", "recency", "T", "frequency_holdout", "duration_holdout")


# --------------------------------------------------------------------------- calibration vs holdout


def calibration_holdout_table(model: FrequencyRecencyTModel, summary: pd.DataFrame, *,
                              max_frequency: int = 7) -> pd.DataFrame:
    """Mean actual and expected holdout purchases per customer, by calibration frequency.

    The expected value of a customer is ``model.expected_purchases(duration_holdout, frequency,
    recency, T)``: the model's conditional expectation of repeat purchases in the holdout period
    given the calibration history (FHL eq. 10 for BG/NBD).

    Parameters
    ----------
    model : BetaGeoModel, ModifiedBetaGeoModel or ParetoNBDModel
        Fitted on the calibration period.
    summary : pandas.DataFrame
        One row per customer with ``frequency``, ``recency``, ``T`` (calibration period, in the
        model's time unit), ``frequency_holdout`` (repeat purchases in the holdout period) and
        ``duration_holdout`` (its length, same unit) -- ``rfm_summary(..., calibration_end=...)``
        gives exactly these columns.
    max_frequency : int, default 7
        Customers with this many calibration repeat purchases or more share the last group,
        labelled ``"7+"`` for the default.

    Returns
    -------
    pandas.DataFrame
        One row per calibration frequency ``0, 1, ..., max_frequency`` that has customers (empty
        groups are left out, so no value is NaN); index ``calibration_frequency`` (str labels,
        ``"0"``, ..., ``"7+"``); columns ``n_customers`` (int64), ``actual_purchases_mean`` and
        ``expected_purchases_mean`` (repeat purchases per customer in the holdout period).
    """
    _check_model(model)
    _check_int(max_frequency, "max_frequency", 1)
    data = _holdout_data(summary)
    expected = np.asarray(model.expected_purchases(data["duration_holdout"], data["frequency"],
                                                   data["recency"], data["T"]), dtype=float)
    group = np.minimum(data["frequency"], max_frequency).astype(np.int64)
    n = np.bincount(group, minlength=max_frequency + 1)
    actual_sum = np.bincount(group, weights=data["frequency_holdout"], minlength=max_frequency + 1)
    expected_sum = np.bincount(group, weights=expected, minlength=max_frequency + 1)
    labels = [str(k) for k in range(max_frequency)] + [f"{max_frequency}+"]
    has = n > 0
    return pd.DataFrame({"n_customers": n[has].astype(np.int64),
                         "actual_purchases_mean": actual_sum[has] / n[has],
                         "expected_purchases_mean": expected_sum[has] / n[has]},
                        index=pd.Index(np.array(labels, dtype=object)[has], name="calibration_frequency"))


# --------------------------------------------------------------------------- customer-level errors


@dataclass(frozen=True)
class HoldoutErrors:
    """Customer-level errors of the holdout purchase predictions (see :func:`customer_errors`).

    Attributes
    ----------
    n_customers : int
        Customers scored.
    model_mae, model_rmse : float
        Mean absolute error and root mean squared error of the model's expected holdout purchases
        against the actual ones (purchases per customer).
    baseline_mae, baseline_rmse : float
        The same for the naive baseline (calibration purchase rate x holdout length).
    mae_ratio, rmse_ratio : float
        Model error / baseline error: below 1 the model beats the baseline. NaN when the
        baseline's error is 0 (nothing to beat).
    """

    n_customers: int
    model_mae: float
    model_rmse: float
    baseline_mae: float
    baseline_rmse: float
    mae_ratio: float
    rmse_ratio: float

    def to_frame(self) -> pd.DataFrame:
        """The errors as a table: rows ``model`` and ``baseline``, columns ``mae`` and ``rmse``
        (holdout purchases per customer)."""
        return pd.DataFrame({"mae": [self.model_mae, self.baseline_mae],
                             "rmse": [self.model_rmse, self.baseline_rmse]},
                            index=pd.Index(["model", "baseline"], name="predictor"))

    def as_dict(self) -> dict[str, float]:
        """All fields, for JSON output."""
        return asdict(self)


def customer_errors(model: FrequencyRecencyTModel, summary: pd.DataFrame) -> HoldoutErrors:
    """MAE and RMSE of each customer's predicted holdout purchases, for the model and a naive
    baseline.

    The model predicts ``expected_purchases(duration_holdout, frequency, recency, T)``. The naive
    baseline carries the customer's calibration purchase rate forward: ``frequency / T x
    duration_holdout`` (repeat purchases per unit of age, times the holdout length) -- the
    "no dropout, no shrinkage" forecast the BTYD models are meant to improve on. A customer of
    age ``T = 0`` has no observed rate; the baseline predicts 0 for them.

    Parameters
    ----------
    model : BetaGeoModel, ModifiedBetaGeoModel or ParetoNBDModel
        Fitted on the calibration period.
    summary : pandas.DataFrame
        As in :func:`calibration_holdout_table`.

    Returns
    -------
    HoldoutErrors
        Errors in repeat purchases per customer over the holdout period.
    """
    _check_model(model)
    data = _holdout_data(summary)
    actual = data["frequency_holdout"]
    expected = np.asarray(model.expected_purchases(data["duration_holdout"], data["frequency"],
                                                   data["recency"], data["T"]), dtype=float)
    age = data["T"]
    rate = np.divide(data["frequency"], age, out=np.zeros_like(age), where=age > 0)
    baseline = rate * data["duration_holdout"]
    model_mae, model_rmse = _mae_rmse(expected - actual)
    base_mae, base_rmse = _mae_rmse(baseline - actual)
    return HoldoutErrors(n_customers=int(actual.size), model_mae=model_mae, model_rmse=model_rmse,
                         baseline_mae=base_mae, baseline_rmse=base_rmse,
                         mae_ratio=_ratio(model_mae, base_mae), rmse_ratio=_ratio(model_rmse, base_rmse))


def _mae_rmse(error: np.ndarray) -> tuple[float, float]:
    return float(np.mean(np.abs(error))), float(np.sqrt(np.mean(error * error)))


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else float("nan")


# --------------------------------------------------------------------------- P(alive) matrix


def probability_alive_matrix(model: FrequencyRecencyTModel, *, max_frequency: int,
                             max_recency: int | None = None, T: float) -> pd.DataFrame:
    """P(alive at ``T``) of a customer of age ``T`` for every frequency ``0..max_frequency`` and
    recency ``0, 1, ..., max_recency`` (whole time units).

    Parameters
    ----------
    model : BetaGeoModel, ModifiedBetaGeoModel or ParetoNBDModel
        Fitted.
    max_frequency : int
        Largest number of repeat purchases (rows), >= 0.
    max_recency : int, optional
        Largest recency (columns), in the model's time unit; at most ``T``. Default: ``floor(T)``.
    T : float
        The customers' age (time since the first purchase), in the model's time unit.

    Returns
    -------
    pandas.DataFrame of float, shape (max_frequency + 1, max_recency + 1)
        Index ``frequency`` (int), columns ``recency`` (float, time units since the first
        purchase); values in [0, 1], each equal to ``model.probability_alive(frequency,
        recency, T)``. A customer without repeat purchases has no last repeat purchase (its
        recency is 0 by definition), so the ``frequency = 0`` row repeats the value at recency 0
        across the columns. ``attrs["T"]`` holds ``T``.
    """
    _check_model(model)
    _check_int(max_frequency, "max_frequency", 0)
    age = float(T)
    if not (np.isfinite(age) and age >= 0):
        raise InputError(f"T must be a finite number >= 0, got {T!r}")
    top = int(np.floor(age)) if max_recency is None else max_recency
    _check_int(top, "max_recency", 0, age,
               hint="T is the age: a customer's last repeat purchase cannot be later than it")
    freq, rec = np.meshgrid(np.arange(max_frequency + 1.0), np.arange(top + 1.0), indexing="ij")
    rec = np.where(freq == 0, 0.0, rec)
    values = np.asarray(model.probability_alive(freq.ravel(), rec.ravel(), age), dtype=float)
    out = pd.DataFrame(values.reshape(freq.shape),
                       index=pd.Index(np.arange(max_frequency + 1), name="frequency"),
                       columns=pd.Index(np.arange(top + 1.0), name="recency"))
    out.attrs["T"] = age
    return out


# --------------------------------------------------------------------------- tracking


def tracking_table(model: FrequencyRecencyTModel, first_purchase_period, repeat_purchase_periods, *,
                   periods: int, period_length: float = 1.0,
                   calibration_periods: int | None = None) -> pd.DataFrame:
    """Actual and expected repeat transactions of a cohort, per period and cumulated -- the
    weekly and cumulative tracking plots of the papers (FHL 2005).

    Period ``k`` (``k = 1..periods``) is the interval ``[(k-1) L, k L)`` with ``L =
    period_length``, in the model's time unit since a start date. The expected cumulative
    repeat transactions at its end are ``sum_i E[X(k L - t0_i)]`` over the customers whose first
    purchase time ``t0_i < k L``, where ``E[X(t)]`` is ``model.expected_purchases_new_customer``
    (Hardie's note 008, p. 8); the per-period expectation is its difference. The model is
    evaluated once per period and *distinct* first-purchase time, so give first purchases as
    days (a cohort acquired over a quarter has about 90 distinct times, whatever its size).

    Parameters
    ----------
    model : BetaGeoModel, ModifiedBetaGeoModel or ParetoNBDModel
        Fitted (typically on the calibration period).
    first_purchase_period : array_like of float, shape (n,)
        Each customer's first purchase time, in the model's time unit since the start (>= 0).
    repeat_purchase_periods : array_like of float, shape (m,)
        The time of every repeat transaction of these customers, same unit and start (one entry
        per transaction; same-day purchases merged beforehand when transactions are days).
        Transactions at or after ``periods * period_length`` are outside the table.
    periods : int
        Number of periods (>= 1).
    period_length : float, default 1.0
        Length of a period in the model's time unit (1.0: weekly tracking of a weekly model).
    calibration_periods : int, optional
        Number of periods in the calibration window; marks the rows in ``is_calibration``.

    Returns
    -------
    pandas.DataFrame
        One row per period, index ``period`` (1..periods); columns ``period_end`` (end of the
        period, model time units since the start), ``actual_transactions``,
        ``expected_transactions`` (repeat transactions in the period), ``actual_cumulative``,
        ``expected_cumulative`` (since the start) and ``is_calibration`` (bool).

    Notes
    -----
    How to get the inputs: :func:`tracking_inputs` turns dated purchases (one row per customer
    and day, e.g. the ``orders`` table grouped by customer and local day, as ``rfm_summary``
    does) into both arrays. It puts a purchase on day ``d`` of the window at time ``d / 7``
    weeks (the start of its day), the convention of lifetimes' ``expected_cumulative_transactions``
    and of R's BTYD (``T.cal`` counted from the day after); ``rfm_summary``'s ``T`` counts one day
    less (end day minus first day), so a customer's age here is one day longer than its ``T``.
    """
    _check_model(model)
    _check_int(periods, "periods", 1)
    length = float(period_length)
    if not (np.isfinite(length) and length > 0):
        raise InputError(f"period_length must be a finite number > 0, got {period_length!r}")
    if calibration_periods is not None:
        _check_int(calibration_periods, "calibration_periods", 0, periods)
    first = _nonnegative_times(first_purchase_period, "first_purchase_period")
    repeat = _nonnegative_times(repeat_purchase_periods, "repeat_purchase_periods")
    ends = length * np.arange(1, periods + 1)
    bins = np.floor(repeat / length).astype(np.int64)
    actual = np.bincount(bins[bins < periods], minlength=periods).astype(np.int64)
    expected_cum = _expected_cumulative(model, first, ends)
    k = np.arange(1, periods + 1)
    return pd.DataFrame({
        "period_end": ends,
        "actual_transactions": actual,
        "expected_transactions": np.diff(expected_cum, prepend=0.0),
        "actual_cumulative": np.cumsum(actual),
        "expected_cumulative": expected_cum,
        "is_calibration": k <= (calibration_periods if calibration_periods is not None else 0),
    }, index=pd.Index(k, name="period"))


def _expected_cumulative(model: FrequencyRecencyTModel, first: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``sum_i E[X(end - t0_i)]`` for every ``end``, over the unique first-purchase times."""
    starts, counts = np.unique(first, return_counts=True)
    ages = np.maximum(ends[:, None] - starts[None, :], 0.0)  # not yet acquired: E[X(0)] = 0
    per_start = np.asarray(model.expected_purchases_new_customer(ages.ravel()), dtype=float)
    return per_start.reshape(ages.shape) @ counts.astype(float)


def tracking_inputs(purchases: pd.DataFrame, *, start, unit: str = "W",
                    customer_col: str = "customer_id", date_col: str = "date"
                    ) -> tuple[pd.Series, np.ndarray]:
    """The inputs of :func:`tracking_table` from dated purchases.

    Purchases of one customer on one calendar day are one transaction; the customer's first day
    is their first purchase and every later day a repeat transaction. A day ``d`` days after
    ``start`` is at time ``d / 7`` weeks (``unit="W"``) or ``d`` days (``"D"``).

    Parameters
    ----------
    purchases : pandas.DataFrame
        One row per purchase (or per customer and day): ``customer_col`` and ``date_col``
        (datetime-like; the time of day is ignored).
    start : date-like
        Day 0 of the tracking window (e.g. the cohort's first acquisition day); no purchase may
        be earlier.
    unit : {"W", "D"}
        The model's time unit.
    customer_col, date_col : str
        Column names.

    Returns
    -------
    first_purchase_period : pandas.Series of float
        Indexed by customer: time of the first purchase since ``start``, in ``unit``.
    repeat_purchase_periods : numpy.ndarray of float
        Time of every repeat transaction since ``start``, in ``unit``.
    """
    if unit not in UNIT_DAYS:
        raise InputError(f"unit must be one of {sorted(UNIT_DAYS)}, got {unit!r}")
    missing = [c for c in (customer_col, date_col) if c not in purchases.columns]
    if missing:
        raise InputError(f"purchases lacks column(s) {missing}; it has {list(purchases.columns)}")
    day = pd.to_datetime(purchases[date_col]).dt.normalize()
    fail_where(day.isna().to_numpy(), lambda i: f"{date_col}[{i}] is missing")
    origin = pd.Timestamp(start).normalize()
    days = pd.DataFrame({"customer": purchases[customer_col].to_numpy(),
                         "day": (day - origin).dt.days.to_numpy(dtype=np.int64)}).drop_duplicates()
    fail_where((days["day"] < 0).to_numpy(),
               lambda i: f"a purchase on day {days['day'].iloc[i]} before start ({origin.date()})",
               hint="start must be on or before the earliest purchase")
    first_day = days.groupby("customer")["day"].min()
    is_repeat = days["day"].to_numpy() > first_day.reindex(days["customer"]).to_numpy()
    scale = UNIT_DAYS[unit]
    first = (first_day / scale).astype(float).rename("first_purchase_period")
    first.index.name = customer_col
    return first, days["day"].to_numpy(dtype=float)[is_repeat] / scale


# --------------------------------------------------------------------------- input checks


def _check_model(model) -> None:
    if not isinstance(model, FrequencyRecencyTModel):
        raise InputError(f"model must be a BetaGeoModel, ModifiedBetaGeoModel or ParetoNBDModel, "
                         f"got {type(model).__name__}",
                         hint="the discrete-time BG/BB model has its own period-based predictions")


def _check_int(value, name: str, low: int, high: float = np.inf, hint: str | None = None) -> None:
    """``InputError`` unless ``value`` is an integer (not a bool) in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not low <= value <= high:
        bounds = f">= {low}" if high == np.inf else f"in [{low}, {high:g}]"
        raise InputError(f"{name} must be an integer {bounds}, got {value!r}", hint=hint)


def require_columns(table: pd.DataFrame, columns, name: str, hint: str) -> None:
    """``InputError`` unless ``table`` is a DataFrame with rows and every one of ``columns`` (the
    message lists the missing ones; ``hint`` says where the right table comes from). Shared with
    ``jingzhun.report.btyd_figures``, whose inputs are this module's tables."""
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"{name} must be a pandas DataFrame, got {type(table).__name__}", hint=hint)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(f"{name} lacks column(s) {missing}; it has {list(table.columns)}", hint=hint)
    if table.empty:
        raise InputError(f"{name} has no rows", hint=hint)


def _holdout_data(summary: pd.DataFrame) -> dict[str, np.ndarray]:
    require_columns(summary, _HOLDOUT_COLUMNS, "summary",
                    hint="rfm_summary(orders, ..., calibration_end=...) gives the holdout columns")
    data, _ = as_float_arrays({c: summary[c] for c in _HOLDOUT_COLUMNS})
    check_nonnegative({c: data[c] for c in ("frequency_holdout", "duration_holdout")})
    return data


def _nonnegative_times(values, name: str) -> np.ndarray:
    arr = as_float_arrays({name: values})[0][name]
    check_nonnegative({name: arr})
    return arr
