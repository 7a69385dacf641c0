"""Figures of the BTYD model checks (Plotly), in English or Chinese.

Each function takes a table from ``jingzhun.predict.btyd.checking`` and returns a new
``plotly.graph_objects.Figure``: titles, axis labels with units, a legend (a colour bar for the
heat map). Nothing is read or written and no global Plotly setting (template, renderer) is
touched; a figure object needs no external resource, so it works offline.

* :func:`calibration_holdout_figure` -- from ``calibration_holdout_table``.
* :func:`tracking_figure` -- from ``tracking_table``, cumulative or per period, with the end of
  the calibration period marked.
* :func:`probability_alive_heatmap` -- from ``probability_alive_matrix``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from jingzhun.errors import InputError
from jingzhun.predict.btyd.checking import require_columns
from jingzhun.report._text import labels_for, time_unit

__all__ = ["calibration_holdout_figure", "probability_alive_heatmap", "tracking_figure"]

_ACTUAL_COLOR, _MODEL_COLOR = "#1f77b4", "#d62728"

_LABELS = {
    "en": {
        "actual": "Actual", "model": "Model",
        "cal_title": "Holdout purchases by calibration purchases: actual vs model",
        "cal_x": "Repeat purchases in the calibration period (count)",
        "cal_y": "Mean repeat purchases per customer in the holdout period (count)",
        "customers": "customers",
        "track_title_cum": "Cumulative repeat transactions: actual vs model",
        "track_title_inc": "Repeat transactions per period: actual vs model",
        "track_x": "Time since the start ({unit})",
        "track_y_cum": "Cumulative repeat transactions (count)",
        "track_y_inc": "Repeat transactions in the period (count)",
        "cal_end": "End of calibration",
        "alive_title": "Probability alive by frequency and recency",
        "alive_title_T": "Probability alive by frequency and recency (age T = {T:g} {unit})",
        "alive_x": "Recency: time of the last repeat purchase since the first ({unit})",
        "alive_y": "Repeat purchases (count)",
        "alive_bar": "P(alive)",
    },
    "zh": {
        "actual": "实际值", "model": "预测值",
        "cal_title": "验证期购买次数与校准期购买次数：实际值与预测值",
        "cal_x": "校准期购买次数（次）",
        "cal_y": "验证期人均购买次数（次）",
        "customers": "客户数",
        "track_title_cum": "累计重复购买次数：实际值与预测值",
        "track_title_inc": "每期重复购买次数：实际值与预测值",
        "track_x": "距起始时间（{unit}）",
        "track_y_cum": "累计重复购买次数（次）",
        "track_y_inc": "本期重复购买次数（次）",
        "cal_end": "校准期结束",
        "alive_title": "按购买次数与最近购买时间的存活概率",
        "alive_title_T": "按购买次数与最近购买时间的存活概率（客户年龄 T = {T:g} {unit}）",
        "alive_x": "最近一次重复购买距首次购买的时间（{unit}）",
        "alive_y": "重复购买次数（次）",
        "alive_bar": "存活概率",
    },
}


def calibration_holdout_figure(table: pd.DataFrame, *, lang: str = "en") -> go.Figure:
    """Mean actual and expected holdout purchases per customer by calibration frequency.

    Parameters
    ----------
    table : pandas.DataFrame
        ``calibration_holdout_table``'s output: index of calibration-frequency labels
        (``"0"``, ..., ``"7+"``), columns ``n_customers``, ``actual_purchases_mean``,
        ``expected_purchases_mean``.
    lang : {"en", "zh"}
        Language of the titles, axis labels and legend.

    Returns
    -------
    plotly.graph_objects.Figure
        Two line traces, actual then model, over the frequency groups (a categorical axis);
        the hover shows each group's number of customers.
    """
    text = labels_for(_LABELS, lang)
    _require(table, ("n_customers", "actual_purchases_mean", "expected_purchases_mean"), "table")
    x = [str(v) for v in table.index]
    hover = f"%{{x}}: %{{y:.3f}} (%{{customdata}} {text['customers']})<extra>%{{fullData.name}}</extra>"
    n = table["n_customers"].to_numpy()
    fig = go.Figure()
    for column, name, color, dash in (("actual_purchases_mean", "actual", _ACTUAL_COLOR, "solid"),
                                      ("expected_purchases_mean", "model", _MODEL_COLOR, "dash")):
        fig.add_trace(go.Scatter(x=x, y=_require_finite(table[column], column), name=text[name],
                                 mode="lines+markers", line={"color": color, "dash": dash}, customdata=n,
                                 hovertemplate=hover))
    fig.update_layout(title={"text": text["cal_title"]}, xaxis_title=text["cal_x"], yaxis_title=text["cal_y"],
                      showlegend=True, legend={"x": 0.02, "y": 0.98})
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=x)
    fig.update_yaxes(rangemode="tozero")
    return fig


def tracking_figure(table: pd.DataFrame, *, cumulative: bool = True, unit: str = "W",
                    lang: str = "en") -> go.Figure:
    """Actual and expected repeat transactions of the cohort over time (the papers' tracking
    figure), cumulative or per period, with a dashed line at the end of the calibration period.

    Parameters
    ----------
    table : pandas.DataFrame
        ``tracking_table``'s output: columns ``period_end``, ``actual_transactions``,
        ``expected_transactions``, ``actual_cumulative``, ``expected_cumulative``,
        ``is_calibration``.
    cumulative : bool, default True
        Cumulative counts or counts per period (FHL 2005's two tracking plots).
    unit : {"W", "D"}
        The model's time unit, for the time axis.
    lang : {"en", "zh"}
        Language of the titles, axis labels and legend.

    Returns
    -------
    plotly.graph_objects.Figure
        Two line traces, actual then model, against the end of each period (model time units
        since the start); the calibration end is a layout shape with its annotation (absent when
        no row is in the calibration period).
    """
    text = labels_for(_LABELS, lang)
    unit_name = time_unit(unit, lang)
    kind = "cumulative" if cumulative else "transactions"
    columns = ("period_end", f"actual_{kind}", f"expected_{kind}", "is_calibration")
    _require(table, columns, "table")
    x = _require_finite(table["period_end"], "period_end")
    fig = go.Figure()
    for column, name, color, dash in ((f"actual_{kind}", "actual", _ACTUAL_COLOR, "solid"),
                                      (f"expected_{kind}", "model", _MODEL_COLOR, "dash")):
        fig.add_trace(go.Scatter(x=x, y=_require_finite(table[column], column), name=text[name], mode="lines",
                                 line={"color": color, "dash": dash},
                                 hovertemplate="%{x:g}: %{y:,.1f}<extra>%{fullData.name}</extra>"))
    in_cal = table["is_calibration"].to_numpy(dtype=bool)
    if in_cal.any():
        fig.add_vline(x=float(x[in_cal].max()), line={"dash": "dot", "color": "grey"},
                      annotation_text=text["cal_end"], annotation_position="top left")
    suffix = "cum" if cumulative else "inc"
    fig.update_layout(title={"text": text[f"track_title_{suffix}"]},
                      xaxis_title=text["track_x"].format(unit=unit_name),
                      yaxis_title=text[f"track_y_{suffix}"], showlegend=True,
                      legend={"x": 0.02, "y": 0.98})
    fig.update_yaxes(rangemode="tozero")
    return fig


def probability_alive_heatmap(matrix: pd.DataFrame, *, unit: str = "W", lang: str = "en") -> go.Figure:
    """Heat map of P(alive) over frequency (rows) and recency (columns).

    Parameters
    ----------
    matrix : pandas.DataFrame
        ``probability_alive_matrix``'s output: index ``frequency``, columns ``recency`` (model
        time units), values in [0, 1]; its ``attrs["T"]`` (the customers' age), when present,
        goes into the title.
    unit : {"W", "D"}
        The model's time unit, for the recency axis and the age.
    lang : {"en", "zh"}
        Language of the title, axis labels and colour-bar title.

    Returns
    -------
    plotly.graph_objects.Figure
        One heat-map trace on the fixed colour range [0, 1], with a titled colour bar as its legend.
    """
    text = labels_for(_LABELS, lang)
    unit_name = time_unit(unit, lang)
    if not isinstance(matrix, pd.DataFrame) or matrix.empty:
        raise InputError("matrix must be a non-empty DataFrame from probability_alive_matrix")
    z = _require_finite(matrix.to_numpy(dtype=float).ravel(), "matrix").reshape(matrix.shape)
    age = matrix.attrs.get("T")
    title = (text["alive_title"] if age is None
             else text["alive_title_T"].format(T=round(float(age), 2), unit=unit_name))
    fig = go.Figure(go.Heatmap(
        z=z, x=np.asarray(matrix.columns, dtype=float), y=np.asarray(matrix.index, dtype=float),
        zmin=0.0, zmax=1.0, colorscale="Viridis", name=text["alive_bar"],
        colorbar={"title": {"text": text["alive_bar"]}},
        hovertemplate="x=%{y:g}, t_x=%{x:g}: %{z:.3f}<extra></extra>"))
    fig.update_layout(title={"text": title}, xaxis_title=text["alive_x"].format(unit=unit_name),
                      yaxis_title=text["alive_y"])
    return fig


# --------------------------------------------------------------------------- helpers


def _require(table: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    require_columns(table, columns, name,
                    hint="pass the table made by the matching function of predict.btyd.checking")


def _require_finite(values, name: str) -> np.ndarray:
    """The values as floats; ``InputError`` on NaN or infinity (a figure would silently gap)."""
    arr = np.asarray(values, dtype=float)
    if not np.isfinite(arr).all():
        raise InputError(f"{name} has {int((~np.isfinite(arr)).sum())} value(s) that are NaN or infinite")
    return arr
