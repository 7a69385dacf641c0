"""Customer-value figures of the report (Plotly) and one-sentence readings of the value models, in
English or Chinese.

* :func:`clv_distribution_figure` / :func:`clv_reading` -- predicted CLV per customer: a
  histogram on an axis clipped at the 99th percentile with the median marked; the reading gives
  median, mean and the share of the total held by the top 20% of customers.
* :func:`calibration_holdout_reading`, :func:`tracking_reading`, :func:`probability_alive_reading`
  -- the sentences that go under ``report.btyd_figures``' three figures, from the same tables
  (``predict.btyd.checking``).

Each reading is ONE sentence for a marketer with the key numbers (``12,345``, ``99.1%``,
``1,234 CNY``, written by ``report._text``), computed from the same input as its figure. Nothing
is read or written and no global Plotly setting is touched. Empty or all-zero inputs give a "no
data" figure or sentence.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from jingzhun.errors import InputError
from jingzhun.report._text import (
    currency_unit,
    format_count,
    format_money,
    format_percent,
    labels_for,
    no_data_figure,
    require_frame,
    time_unit,
)

__all__ = ["calibration_holdout_reading", "clv_distribution_figure", "clv_reading",
           "probability_alive_reading", "tracking_reading"]

_BAR_COLOR, _MEDIAN_COLOR = "#1f77b4", "#d62728"
#: Most histogram bars; the top of the axis is the 99th percentile.
MAX_BINS = 40
#: The "top customers" of the concentration figure in the reading: the top 20% by predicted CLV.
TOP_SHARE = 0.2

_LABELS = {
    "en": {
        "clv_title": "Predicted customer value over the next {h:g} weeks",
        "clv_x": "Predicted CLV over the next {h:g} weeks ({currency})", "clv_y": "Customers (count)",
        "customers": "customers", "median": "Median {money}",
        "clv_tail": "The last bar includes the top 1% (up to {money})",
        "clv_none": "No customer has a predicted value.",
        "clv_reading": ("Over the next {h:g} weeks the median customer is predicted to bring {median} and "
                        "the average one {mean}; the top 20% of customers hold {top} of the total "
                        "predicted value of {total}."),
        "clv_zero": "Over the next {h:g} weeks no customer is predicted to bring any value.",
        "over": "{pct} over", "under": "{pct} under", "rel": " ({})",
        "cal_reading": ("In the hold-out period customers made {actual} repeat purchases each on average "
                        "against {expected} predicted{rel}{gap}."),
        "cal_gap": ("; the largest gap is among the {n} customers with {label} calibration purchases: "
                    "{actual} actual vs {expected} predicted"),
        "cal_none": "No customer is in the hold-out comparison.",
        "track_reading": ("Over the whole {length:g} {unit} the model predicted {expected} repeat purchases "
                          "against {actual} observed{rel}{holdout}."),
        "track_holdout": ("; after the first {cal:g} {unit} (the hold-out period) it predicted {expected} "
                          "against {actual}{rel}"),
        "track_none": "No period to compare.",
        "alive_reading": ("A customer with {f} repeat purchases{age} is {p1} likely to still be active if "
                          "the last came {r1:g} {unit} after the first, {but} {p0} if it came after "
                          "{r0:g} {unit}."),
        "alive_one": ("A customer with {f} repeat purchases{age} whose last came {r1:g} {unit} after the "
                      "first is {p1} likely to still be active."),
        "alive_zero": "A customer without repeat purchases{age} is {p1} likely to still be active.",
        "alive_age": " (first purchase {T:g} {unit} ago)", "but": "but", "and": "and",
        "alive_none": "No probability to read.",
    },
    "zh": {
        "clv_title": "未来 {h:g} 周的客户预测价值",
        "clv_x": "未来 {h:g} 周预测客户价值（{currency}）", "clv_y": "客户数（人）",
        "customers": "名客户", "median": "中位数 {money}",
        "clv_tail": "最后一根柱子包含价值最高的 1% 客户（最高 {money}）",
        "clv_none": "尚无客户的预测价值。",
        "clv_reading": ("未来 {h:g} 周，客户预测价值的中位数为 {median}，平均为 {mean}；价值最高的 20% "
                        "客户贡献了总预测价值 {total} 的 {top}。"),
        "clv_zero": "未来 {h:g} 周，预计没有客户带来价值。",
        "over": "高估 {pct}", "under": "低估 {pct}", "rel": "（{}）",
        "cal_reading": "验证期内客户人均实际重复购买 {actual} 次，模型预测 {expected} 次{rel}{gap}。",
        "cal_gap": "；差距最大的是校准期购买 {label} 次的 {n} 名客户：实际 {actual} 次，预测 {expected} 次",
        "cal_none": "没有可用于验证期对比的客户。",
        "track_reading": ("在整个 {length:g} {unit}内，模型预测重复购买 {expected} 次，实际 {actual} 次"
                          "{rel}{holdout}。"),
        "track_holdout": "；其中前 {cal:g} {unit}之后的验证期预测 {expected} 次，实际 {actual} 次{rel}",
        "track_none": "没有可对比的时段。",
        "alive_reading": ("有 {f} 次重复购买的客户{age}，若最后一次购买在首次购买后第 {r1:g} {unit}，"
                          "仍活跃的概率为 {p1}；若在第 {r0:g} {unit}，则为 {p0}。"),
        "alive_one": ("有 {f} 次重复购买、最后一次购买在首次购买后第 {r1:g} {unit}的客户{age}，"
                      "仍活跃的概率为 {p1}。"),
        "alive_zero": "没有重复购买的客户{age}仍活跃的概率为 {p1}。",
        "alive_age": "（首次购买在 {T:g} {unit}前）", "but": "", "and": "",
        "alive_none": "没有可解读的存活概率。",
    },
}


# --------------------------------------------------------------------------- CLV distribution


def clv_distribution_figure(clv, *, currency: str = "CNY", horizon_weeks: float = 52.0,
                            lang: str = "en") -> go.Figure:
    """Histogram of predicted CLV per customer on an axis clipped at the 99th percentile, with a
    dashed line and note at the median.

    Parameters
    ----------
    clv : array_like of float, shape (n_customers,)
        Predicted value of each customer over ``horizon_weeks`` (``currency``); NaN and infinite
        values are dropped.
    currency : str, default "CNY"
    horizon_weeks : float, default 52.0
        The prediction horizon (weeks), for the title and the axis.
    lang : {"en", "zh"}

    Returns
    -------
    plotly.graph_objects.Figure
        One bar trace of customers per value bin (at most :data:`MAX_BINS` bins from
        ``min(0, min CLV)`` to the 99th percentile; values above it are counted in the last bar,
        which a note says); a "no data" note without values.
    """
    text = labels_for(_LABELS, lang)
    values = _finite_values(clv, "clv")
    title = text["clv_title"].format(h=horizon_weeks)
    if values.size == 0:
        return no_data_figure(title, text["clv_none"])
    low, high = min(float(values.min()), 0.0), float(np.percentile(values, 99))
    if high <= low:
        high = low + 1.0  # one value for everyone (all zeros): one bar
    counts, edges = np.histogram(np.clip(values, low, high), bins=MAX_BINS, range=(low, high))
    who = text["customers"]

    def money(amount: float) -> str:
        return format_money(amount, currency, lang=lang)

    hover = [f"{money(a)} – {money(b)}: {format_count(n)} {who}"
             for a, b, n in zip(edges[:-1], edges[1:], counts, strict=True)]
    fig = go.Figure(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, width=np.diff(edges),
                           marker={"color": _BAR_COLOR}, name=text["clv_y"], hovertext=hover,
                           hoverinfo="text"))
    median = float(np.median(values))
    fig.add_vline(x=median, line={"dash": "dash", "color": _MEDIAN_COLOR},
                  annotation_text=text["median"].format(money=money(median)),
                  annotation_position="top right")
    if values.max() > high:
        fig.add_annotation(text=text["clv_tail"].format(money=money(values.max())),
                           x=1.0, y=1.06, xref="paper", yref="paper", xanchor="right", showarrow=False)
    fig.update_layout(title={"text": title}, yaxis_title=text["clv_y"], showlegend=False, bargap=0.02,
                      xaxis_title=text["clv_x"].format(h=horizon_weeks,
                                                       currency=currency_unit(currency, lang)))
    return fig


def clv_reading(clv, *, currency: str = "CNY", horizon_weeks: float = 52.0, lang: str = "en") -> str:
    """One sentence: median and mean predicted CLV and the share of the total held by the top 20%
    of customers (the ``ceil(0.2 n)`` highest values).

    ``clv``, ``currency``, ``horizon_weeks`` and ``lang`` as in :func:`clv_distribution_figure`.
    """
    text = labels_for(_LABELS, lang)
    values = _finite_values(clv, "clv")
    if values.size == 0:
        return text["clv_none"]
    total = float(values.sum())
    if total <= 0:
        return text["clv_zero"].format(h=horizon_weeks)
    top = np.sort(values)[::-1][:math.ceil(TOP_SHARE * values.size)].sum()
    def money(amount: float) -> str:
        return format_money(amount, currency, lang=lang)

    return text["clv_reading"].format(h=horizon_weeks, median=money(np.median(values)),
                                      mean=money(values.mean()), top=format_percent(top / total),
                                      total=money(total))


def _finite_values(values, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numbers (money per customer): {exc}") from None
    return arr[np.isfinite(arr)]


# --------------------------------------------------------------------------- BTYD model checks


def calibration_holdout_reading(table: pd.DataFrame, *, lang: str = "en") -> str:
    """One sentence: the mean actual and predicted hold-out repeat purchases per customer over
    all customers, and the calibration-frequency group that contributes most to the gap
    (customers x |actual - predicted|).

    Parameters
    ----------
    table : pandas.DataFrame
        ``calibration_holdout_table``'s output (as for ``btyd_figures.calibration_holdout_figure``):
        index of calibration-frequency labels, columns ``n_customers``, ``actual_purchases_mean``,
        ``expected_purchases_mean`` (repeat purchases per customer in the hold-out period).
    lang : {"en", "zh"}

    Returns
    -------
    str
        E.g. ``"In the hold-out period customers made 1.23 repeat purchases each on average against
        1.18 predicted (4.1% under); the largest gap is among the 52 customers with 7+ calibration
        purchases: 3.10 actual vs 2.50 predicted."``
    """
    text = labels_for(_LABELS, lang)
    frame = require_frame(table, ("n_customers", "actual_purchases_mean", "expected_purchases_mean"), "table")
    n = pd.to_numeric(frame["n_customers"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    actual = frame["actual_purchases_mean"].to_numpy(dtype=float)
    expected = frame["expected_purchases_mean"].to_numpy(dtype=float)
    keep = (n > 0) & np.isfinite(actual) & np.isfinite(expected)
    if not keep.any():
        return text["cal_none"]
    labels = np.asarray([str(v) for v in frame.index], dtype=object)[keep]
    n, actual, expected = n[keep], actual[keep], expected[keep]
    mean_actual, mean_expected = (n * actual).sum() / n.sum(), (n * expected).sum() / n.sum()
    gap = ""
    if n.size > 1:
        worst = int(np.argmax(n * np.abs(actual - expected)))
        gap = text["cal_gap"].format(n=format_count(n[worst]), label=labels[worst],
                                     actual=f"{actual[worst]:.2f}", expected=f"{expected[worst]:.2f}")
    return text["cal_reading"].format(actual=f"{mean_actual:.2f}", expected=f"{mean_expected:.2f}",
                                      rel=_relative(mean_expected, mean_actual, text), gap=gap)


def tracking_reading(table: pd.DataFrame, *, unit: str = "W", lang: str = "en") -> str:
    """One sentence: predicted vs observed repeat purchases over the whole tracked period and,
    when the table marks a calibration period, over the hold-out period after it.

    Parameters
    ----------
    table : pandas.DataFrame
        ``tracking_table``'s output: columns ``period_end``, ``actual_cumulative``,
        ``expected_cumulative``, ``is_calibration`` (one row per period, in time order).
    unit : {"W", "D"}
        The model's time unit.
    lang : {"en", "zh"}

    Returns
    -------
    str
        E.g. ``"Over the whole 30 weeks the model predicted 5,432 repeat purchases against 5,301
        observed (2.5% over); after the first 20 weeks (the hold-out period) it predicted 1,234
        against 1,200 (2.8% over)."``
    """
    text = labels_for(_LABELS, lang)
    unit_name = time_unit(unit, lang)
    frame = require_frame(table, ("period_end", "actual_cumulative", "expected_cumulative", "is_calibration"),
                          "table")
    data = frame.loc[:, ["period_end", "actual_cumulative", "expected_cumulative"]].astype(float)
    finite = np.isfinite(data.to_numpy()).all(axis=1)
    if not finite.any():
        return text["track_none"]
    if not finite.all():
        raise InputError(f"table has {int((~finite).sum())} row(s) with NaN or infinite values")
    last = data.iloc[-1]
    in_cal = frame["is_calibration"].to_numpy(dtype=bool)
    holdout = ""
    if in_cal.any() and not in_cal.all():
        cal = data[in_cal].iloc[-1]
        actual = last["actual_cumulative"] - cal["actual_cumulative"]
        expected = last["expected_cumulative"] - cal["expected_cumulative"]
        holdout = text["track_holdout"].format(cal=float(cal["period_end"]), unit=unit_name,
                                               expected=format_count(expected), actual=format_count(actual),
                                               rel=_relative(expected, actual, text))
    return text["track_reading"].format(
        length=float(last["period_end"]), unit=unit_name, expected=format_count(last["expected_cumulative"]),
        actual=format_count(last["actual_cumulative"]),
        rel=_relative(last["expected_cumulative"], last["actual_cumulative"], text), holdout=holdout)


def probability_alive_reading(matrix: pd.DataFrame, *, unit: str = "W", frequency: int | None = None,
                              lang: str = "en") -> str:
    """One sentence: how P(alive) of a customer with a given number of repeat purchases drops when
    the last purchase came early rather than late -- at the matrix's largest recency and at the
    recency nearest a quarter of it.

    Parameters
    ----------
    matrix : pandas.DataFrame
        ``probability_alive_matrix``'s output: index ``frequency``, columns ``recency`` (model time
        units), values in [0, 1]; ``attrs["T"]`` (the age), when present, is named.
    unit : {"W", "D"}
        The model's time unit.
    frequency : int, optional
        The row read; default the largest frequency from 1 to 5 in the matrix (frequency 0 when it
        has no other row).
    lang : {"en", "zh"}

    Returns
    -------
    str
        E.g. ``"A customer with 5 repeat purchases (first purchase 38.9 weeks ago) is 95.0% likely
        to still be active if the last came 38 weeks after the first, but 12.0% if it came after
        10 weeks."``
    """
    text = labels_for(_LABELS, lang)
    unit_name = time_unit(unit, lang)
    if not isinstance(matrix, pd.DataFrame):
        raise InputError(f"matrix must be a pandas DataFrame from probability_alive_matrix, "
                         f"got {type(matrix).__name__}")
    if matrix.empty:
        return text["alive_none"]
    freqs = [int(f) for f in matrix.index]
    if frequency is None:
        usual = [f for f in freqs if 1 <= f <= 5]
        frequency = max(usual) if usual else min(freqs)
    if frequency not in freqs:
        raise InputError(f"frequency {frequency!r} is not a row of the matrix (rows {freqs[0]}..{freqs[-1]})")
    row = matrix.iloc[freqs.index(frequency)]
    recency = np.asarray(matrix.columns, dtype=float)
    p = row.to_numpy(dtype=float)
    if not np.isfinite(p).all() or not np.isfinite(recency).all():
        raise InputError("matrix has NaN or infinite values")
    age = matrix.attrs.get("T")
    age_text = "" if age is None else text["alive_age"].format(T=round(float(age), 1), unit=unit_name)
    late = int(np.argmax(recency))
    if frequency == 0:
        return text["alive_zero"].format(age=age_text, p1=format_percent(p[late]))
    early = int(np.argmin(np.abs(recency - recency[late] / 4)))
    if early == late:
        return text["alive_one"].format(f=frequency, age=age_text, r1=recency[late], unit=unit_name,
                                        p1=format_percent(p[late]))
    return text["alive_reading"].format(f=format_count(frequency), age=age_text, p1=format_percent(p[late]),
                                        r1=recency[late], unit=unit_name, p0=format_percent(p[early]),
                                        r0=recency[early], but=text["but" if p[early] < p[late] else "and"])


# --------------------------------------------------------------------------- helpers


def _relative(expected: float, actual: float, text: dict) -> str:
    """`` (4.1% over)`` / ``（高估 4.1%）``: the model's error relative to the actual; empty when
    the actual is 0 (no base)."""
    if not actual > 0:
        return ""
    error = (expected - actual) / actual
    return text["rel"].format(text["over" if error >= 0 else "under"].format(pct=format_percent(abs(error))))

