"""Figures of uplift model evaluation (Plotly), in English or Chinese.

Each function returns a new ``plotly.graph_objects.Figure`` with a title, axis labels with units
and a legend; nothing is read or written and no global Plotly setting (template, renderer) is
touched, so the figures work offline.

* :func:`qini_figure` -- the Qini curves of one or more models on the same test sample, with the
  random line and the perfect curve, each model's Qini coefficient in the legend.
* :func:`uplift_by_decile_figure` -- observed uplift per score bin with its confidence interval,
  from :func:`jingzhun.predict.uplift_metrics.uplift_by_decile`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from jingzhun.errors import InputError
from jingzhun.predict.uplift_metrics import perfect_qini_curve, qini_auc_score, qini_curve

__all__ = ["qini_figure", "uplift_by_decile_figure"]

_RANDOM_COLOR, _PERFECT_COLOR, _BAR_COLOR = "grey", "#2ca02c", "#1f77b4"
#: Plotly's default qualitative colours, named here so the figure does not depend on a template.
_MODEL_COLORS = ("#1f77b4", "#d62728", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22")

_LABELS = {
    "en": {
        "qini_title": "Qini curves: incremental outcome by number of customers targeted",
        "qini_x": "Customers targeted, by descending score (count)",
        "qini_y": "Incremental outcome (responders, or the outcome's unit)",
        "random": "Random targeting", "perfect": "Perfect model", "qini": "Qini",
        "decile_title": "Observed uplift by score bin (treated mean minus control mean)",
        "decile_x": "Score bin (1 = highest predicted uplift)",
        "decile_y": "Uplift: treated minus control mean (outcome's unit)",
        "uplift": "Uplift", "ci": "{level:g} % interval", "treated": "treated", "control": "control",
        "status": {"no_treatment": "no treated rows", "no_control": "no control rows",
                   "one_row_group": "one row in a group: no interval"},
    },
    "zh": {
        "qini_title": "Qini 曲线：按目标客户数的增量结果",
        "qini_x": "目标客户数，按得分从高到低（人）",
        "qini_y": "增量结果（响应人数，或结果变量的单位）",
        "random": "随机投放", "perfect": "完美模型", "qini": "Qini 系数",
        "decile_title": "按得分分组的实际增量（实验组均值减对照组均值）",
        "decile_x": "得分分组（1 = 预测增量最高）",
        "decile_y": "增量：实验组减对照组均值（结果变量的单位）",
        "uplift": "增量", "ci": "{level:g}% 置信区间", "treated": "实验组", "control": "对照组",
        "status": {"no_treatment": "无实验组样本", "no_control": "无对照组样本",
                   "one_row_group": "某组仅一个样本：无置信区间"},
    },
}

_DECILE_COLUMNS = ("bin", "n_treatment", "n_control", "uplift", "ci_low", "ci_high")


def qini_figure(y_true, treatment, scores: Mapping[str, object], *, lang: str = "en",
                max_points: int = 1000) -> go.Figure:
    """Qini curves of several models on one test sample, with the random and perfect curves.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Observed outcome: 0/1 response or a real amount (revenue, in its currency).
    treatment : array-like of shape (n,)
        1 for treated rows, 0 for control rows.
    scores : mapping of str to array-like of shape (n,)
        Model name -> its predicted uplift scores for the same rows; at least one model.
    lang : {"en", "zh"}
        Language of the title, axis labels and legend.
    max_points : int, default 1000
        Most points drawn per curve; longer curves are thinned to evenly spaced points (first
        and last kept), which keeps a report light and does not change the Qini coefficients,
        computed on the full curves.

    Returns
    -------
    plotly.graph_objects.Figure
        One line trace per model (named "model (Qini = 0.123)", in the order of ``scores``), then
        the random line and the perfect curve (:func:`perfect_qini_curve`, negative effects
        included); x in customers, y in the outcome's unit.
    """
    text = _labels(lang)
    if not isinstance(scores, Mapping) or not scores:
        raise InputError("scores must be a non-empty mapping of model name to uplift scores, "
                         f"got {type(scores).__name__}", hint='e.g. {"two-model": scores_a}')
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 2:
        raise InputError(f"max_points must be an integer of at least 2, got {max_points!r}")
    fig = go.Figure()
    for i, (name, score) in enumerate(scores.items()):
        try:
            x, y = qini_curve(y_true, score, treatment)
            coefficient = qini_auc_score(y_true, score, treatment)
        except InputError as exc:
            raise InputError(f"model {name!r}: {exc}", hint=exc.hint) from None
        x, y = _thin(x, y, max_points)
        fig.add_trace(go.Scatter(
            x=x, y=y, mode="lines", name=f"{name} ({text['qini']} = {coefficient:.3f})",
            line={"color": _MODEL_COLORS[i % len(_MODEL_COLORS)]},
            hovertemplate="%{x:,}: %{y:,.2f}<extra>%{fullData.name}</extra>"))
    x_best, y_best = perfect_qini_curve(y_true, treatment)
    fig.add_trace(go.Scatter(x=[0, x_best[-1]], y=[0.0, y_best[-1]], mode="lines", name=text["random"],
                             line={"color": _RANDOM_COLOR, "dash": "dash"}, hoverinfo="skip"))
    x_best, y_best = _thin(x_best, y_best, max_points)
    fig.add_trace(go.Scatter(x=x_best, y=y_best, mode="lines", name=text["perfect"],
                             line={"color": _PERFECT_COLOR, "dash": "dot"},
                             hovertemplate="%{x:,}: %{y:,.2f}<extra>%{fullData.name}</extra>"))
    fig.update_layout(title={"text": text["qini_title"]}, xaxis_title=text["qini_x"],
                      yaxis_title=text["qini_y"], showlegend=True, legend={"x": 0.02, "y": 0.98})
    return fig


def uplift_by_decile_figure(table: pd.DataFrame, *, lang: str = "en") -> go.Figure:
    """Bars of the observed uplift per score bin with their confidence intervals.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`~jingzhun.predict.uplift_metrics.uplift_by_decile`'s output: columns ``bin``,
        ``n_treatment``, ``n_control``, ``uplift``, ``ci_low``, ``ci_high`` and optionally
        ``status``; ``table.attrs["alpha"]``, when present, names the interval's level.
    lang : {"en", "zh"}
        Language of the title, axis labels, legend and the notes on bins without an uplift.

    Returns
    -------
    plotly.graph_objects.Figure
        One bar trace over the bins (a categorical axis, bin 1 first) with asymmetric error bars
        from ``ci_low`` to ``ci_high``; a bin with a NaN uplift has no bar but an annotation
        saying why (its ``status``); a line at zero uplift.
    """
    text = _labels(lang)
    if not isinstance(table, pd.DataFrame) or table.empty:
        raise InputError("table must be a non-empty DataFrame from uplift_by_decile")
    missing = [c for c in _DECILE_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"table lacks column(s) {missing}; it has {list(table.columns)}",
                         hint="pass the table made by jingzhun.predict.uplift_metrics.uplift_by_decile")
    x = [str(b) for b in table["bin"]]
    uplift = table["uplift"].to_numpy(dtype=float)
    status = (table["status"].astype(str).to_numpy() if "status" in table.columns
              else np.where(np.isnan(uplift), "no_treatment", "ok"))
    alpha = float(table.attrs.get("alpha", 0.05))
    fig = go.Figure(go.Bar(
        x=x, y=uplift, name=text["uplift"], marker={"color": _BAR_COLOR},
        error_y={"type": "data", "symmetric": False, "visible": True,
                 "array": table["ci_high"].to_numpy(dtype=float) - uplift,
                 "arrayminus": uplift - table["ci_low"].to_numpy(dtype=float)},
        customdata=np.column_stack([table["n_treatment"], table["n_control"],
                                    table["ci_low"], table["ci_high"]]),
        hovertemplate=(f"%{{x}}: %{{y:.4g}} [%{{customdata[2]:.4g}}, %{{customdata[3]:.4g}}]<br>"
                       f"%{{customdata[0]:,}} {text['treated']}, %{{customdata[1]:,}} {text['control']}"
                       "<extra></extra>")))
    # an invisible trace puts the interval's level in the legend next to the bars
    level = round(100 * (1 - alpha), 1)
    fig.add_trace(go.Scatter(x=[x[0]], y=[None], mode="markers", hoverinfo="skip",
                             marker={"color": "black", "symbol": "line-ns-open"},
                             name=text["ci"].format(level=level)))
    for label, code in zip(x, status, strict=True):
        if code in text["status"]:
            fig.add_annotation(x=label, y=0, text=text["status"][code], showarrow=False, textangle=-90,
                               yanchor="bottom", font={"size": 10, "color": "grey"})
    fig.add_hline(y=0, line={"color": "black", "width": 1})
    fig.update_layout(title={"text": text["decile_title"]}, xaxis_title=text["decile_x"],
                      yaxis_title=text["decile_y"], showlegend=True, bargap=0.2)
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=x)
    return fig


# --------------------------------------------------------------------------- helpers


def _labels(lang: str) -> dict:
    if lang not in _LABELS:
        raise InputError(f"lang must be one of {sorted(_LABELS)}, got {lang!r}")
    return _LABELS[lang]


def _thin(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` evenly spaced points of a curve, first and last kept."""
    if x.size <= max_points:
        return x, y
    keep = np.unique(np.round(np.linspace(0, x.size - 1, max_points)).astype(np.int64))
    return x[keep], y[keep]
