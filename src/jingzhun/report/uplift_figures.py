"""Figures of uplift model evaluation (Plotly), in English or Chinese.

Each function returns a new ``plotly.graph_objects.Figure`` with a title, axis labels with units
and a legend; nothing is read or written and no global Plotly setting (template, renderer) is
touched, so the figures work offline.

* :func:`qini_figure` -- the Qini curves of one or more models on the same test sample, with the
  random line and the perfect curve, each model's Qini coefficient in the legend.
* :func:`qini_curve_points` -- the same curves as JSON-ready, thinned points (pure; for a report
  or for ``predict_uplift``'s result), drawn by :func:`qini_curves_figure` and read by
  :func:`qini_reading`.
* :func:`uplift_by_decile_figure` -- observed uplift per score bin with its confidence interval,
  from :func:`jingzhun.predict.uplift_metrics.uplift_by_decile`; :func:`uplift_deciles_reading`
  reads its records.

Each ``*_reading`` returns one sentence a marketer understands, with the key numbers, computed from
the same input; degenerate input gives a sentence that says so, never an exception.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from jingzhun.errors import InputError
from jingzhun.predict.curves import thin_curve
from jingzhun.predict.uplift_metrics import perfect_qini_curve, qini_auc_score, qini_curve
from jingzhun.report._text import finite_or_none, format_money, format_percent, labels_for, signed

__all__ = ["qini_curve_points", "qini_curves_figure", "qini_figure", "qini_reading",
           "uplift_by_decile_figure", "uplift_deciles_reading"]

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
        "na": "n/a", "no_models": "no model to show",
        "qini_none": "No model could be scored on the held-out customers.",
        "qini_read": ("The best model, {name}, has a Qini coefficient of {q}{random}{capture}."),
        "no_better": " (no better than random targeting)",
        "capture": "; targeting its top 30% of customers captures {share} of the total incremental effect",
        "no_effect": ", but the campaign had no positive incremental effect overall ({total}) to capture",
        "dec_none": ("No score bin has both treated and control customers, so the observed uplift cannot "
                     "be read."),
        "dec_read": ("Customers in {top} showed an observed uplift of {u_top} against {u_bottom} in "
                     "{bottom}, so the ranking {verdict} on held-out customers."),
        "dec_one": "Only {top} can be read: its observed uplift is {u_top}.",
        "holds": "holds up", "fails": "does not hold up", "top10": "the model's top tenth",
        "bottom10": "its bottom tenth", "bin": "score bin {b} of {k}", "points": "{v} points",
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
        "na": "无", "no_models": "没有可展示的模型",
        "qini_none": "没有模型能在留出客户上评分。",
        "qini_read": "最佳模型 {name} 的 Qini 系数为 {q}{random}{capture}。",
        "no_better": "（不比随机投放好）",
        "capture": "；按其得分触达前 30% 的客户可获得全部增量效果的 {share}",
        "no_effect": "，但活动整体没有正的增量效果（{total}）可供获取",
        "dec_none": "没有同时包含实验组和对照组客户的得分分组，因此无法解读实际增量。",
        "dec_read": ("模型{top}的客户实际增量为 {u_top}，而{bottom}的客户为 {u_bottom}，"
                     "说明模型排序在留出客户上{verdict}。"),
        "dec_one": "只能解读模型{top}的客户：其实际增量为 {u_top}。",
        "holds": "成立", "fails": "不成立", "top10": "得分最高的 10% ", "bottom10": "得分最低的 10% ",
        "bin": "第 {b} 组（共 {k} 组）", "points": "{v} 个百分点",
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
    labels_for(_LABELS, lang)
    return qini_curves_figure(qini_curve_points(y_true, treatment, scores, max_points=max_points), lang=lang)


def qini_curve_points(y_true, treatment, scores: Mapping[str, object], *, max_points: int = 200) -> dict:
    """The Qini curves of several models on one test sample, with the random line and the perfect
    curve, as JSON-ready points.

    Parameters
    ----------
    y_true, treatment : array-like of shape (n,)
        As in :func:`qini_figure`.
    scores : mapping of str to array-like of shape (n,)
        Model name -> its predicted uplift scores for the same rows; at least one model.
    max_points : int, default 200
        Most points kept per curve (evenly spaced, first and last kept); the Qini coefficients are
        computed on the full curves.

    Returns
    -------
    dict
        ``{"learners": {name: {"x": [...], "y": [...], "qini_auc": float or None}},
        "perfect": {"x": [...], "y": [...]}, "random": {"x": [0, n], "y": [0.0, total]}}``: x in
        customers targeted by descending score (ints), y the incremental outcome in the outcome's
        unit (:func:`~jingzhun.predict.uplift_metrics.qini_curve`), ``total`` the whole sample's
        incremental outcome; ``qini_auc`` is None where the coefficient is undefined (NaN).
    """
    if not isinstance(scores, Mapping) or not scores:
        raise InputError("scores must be a non-empty mapping of model name to uplift scores, "
                         f"got {type(scores).__name__}", hint='e.g. {"two-model": scores_a}')
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 2:
        raise InputError(f"max_points must be an integer of at least 2, got {max_points!r}")
    learners = {}
    for name, score in scores.items():
        try:
            x, y = qini_curve(y_true, score, treatment)
            coefficient = float(qini_auc_score(y_true, score, treatment))
        except InputError as exc:
            raise InputError(f"model {name!r}: {exc}", hint=exc.hint) from None
        learners[str(name)] = _points(*thin_curve(x, y, max_points)) | {
            "qini_auc": coefficient if math.isfinite(coefficient) else None}
    x_best, y_best = perfect_qini_curve(y_true, treatment)
    random = {"x": [0, int(x_best[-1])], "y": [0.0, float(y_best[-1])]}
    perfect = _points(*thin_curve(x_best, y_best, max_points))
    return {"learners": learners, "perfect": perfect, "random": random}


def qini_curves_figure(points: Mapping, *, lang: str = "en") -> go.Figure:
    """Draw :func:`qini_curve_points`' output: one line per model (named "model (Qini = 0.123)", in
    the order given), then the random line and the perfect curve; x in customers, y in the
    outcome's unit. A model without a coefficient reads "n/a"; without models, a note."""
    text = labels_for(_LABELS, lang)
    if not isinstance(points, Mapping):
        raise InputError(f"points must be the mapping made by qini_curve_points, got {type(points).__name__}")
    fig = go.Figure()
    hover = "%{x:,}: %{y:,.2f}<extra>%{fullData.name}</extra>"
    for i, (name, curve) in enumerate((points.get("learners") or {}).items()):
        q = curve.get("qini_auc")
        label = f"{q:.3f}" if finite_or_none(q) is not None else text["na"]
        fig.add_trace(go.Scatter(x=list(curve.get("x") or []), y=list(curve.get("y") or []), mode="lines",
                                 name=f"{name} ({text['qini']} = {label})", hovertemplate=hover,
                                 line={"color": _MODEL_COLORS[i % len(_MODEL_COLORS)]}))
    if not fig.data:
        fig.add_annotation(text=text["no_models"], xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False)
    for key, color, dash in (("random", _RANDOM_COLOR, "dash"), ("perfect", _PERFECT_COLOR, "dot")):
        curve = points.get(key) or {}
        if curve.get("x"):
            how = {"hoverinfo": "skip"} if key == "random" else {"hovertemplate": hover}
            fig.add_trace(go.Scatter(x=list(curve["x"]), y=list(curve["y"]), mode="lines", name=text[key],
                                     line={"color": color, "dash": dash}, **how))
    fig.update_layout(title={"text": text["qini_title"]}, xaxis_title=text["qini_x"],
                      yaxis_title=text["qini_y"], showlegend=True, legend={"x": 0.02, "y": 0.98})
    return fig


def qini_reading(points: Mapping, *, lang: str = "en") -> str:
    """One sentence: the best model by Qini coefficient, its coefficient, and the share of the
    sample's total incremental outcome captured by targeting its top 30% of customers (read off its
    curve, linearly between the kept points); reads :func:`qini_curve_points`' output."""
    text = labels_for(_LABELS, lang)
    learners = {name: c for name, c in ((points or {}).get("learners") or {}).items()
                if finite_or_none(c.get("qini_auc")) is not None and len(c.get("x") or []) >= 2}
    if not learners:
        return text["qini_none"]
    name = max(learners, key=lambda k: learners[k]["qini_auc"])
    curve, q = learners[name], float(learners[name]["qini_auc"])
    x, y = np.asarray(curve["x"], dtype=float), np.asarray(curve["y"], dtype=float)
    total = float(((points.get("random") or {}).get("y") or [0.0, y[-1]])[-1])
    if total > 0:
        share = float(np.interp(0.3 * x[-1], x, y)) / total
        capture = text["capture"].format(share=format_percent(share))
    else:
        capture = text["no_effect"].format(total=signed(f"{total:,.2f}"))
    return text["qini_read"].format(name=name, q=signed(f"{q:.2f}"), capture=capture,
                                    random=text["no_better"] if q <= 0 else "")


def uplift_deciles_reading(deciles, *, outcome: str = "conversion", currency: str = "CNY",
                           lang: str = "en") -> str:
    """One sentence: the observed uplift of the top score bin against the bottom one and whether the
    ranking holds up.

    Parameters
    ----------
    deciles : sequence of mappings or pandas.DataFrame
        ``predict_uplift``'s ``deciles`` records (``bin``, ``uplift``; bin 1 = highest scores), or
        :func:`~jingzhun.predict.uplift_metrics.uplift_by_decile`'s table. Bins without an uplift
        (None or NaN) are skipped: the top and bottom bins are the first and last with one.
    outcome : str, default "conversion"
        ``predict_uplift``'s ``outcome``: "revenue" is read in ``currency`` per customer, anything
        else as a 0/1 rate in percentage points.
    currency : str, default "CNY"
    lang : {"en", "zh"}
    """
    text = labels_for(_LABELS, lang)
    records = deciles.to_dict("records") if isinstance(deciles, pd.DataFrame) else list(deciles or [])
    k = len(records)
    rows = sorted((r for r in records if isinstance(r, Mapping)
                   and finite_or_none(r.get("uplift")) is not None),
                  key=lambda r: r.get("bin", 0))
    if not rows:
        return text["dec_none"]

    def fmt(v: float) -> str:
        if outcome == "revenue":  # per customer: always with cents, and a plus sign on gains
            return ("+" if v >= 0 else "") + format_money(v, currency, lang=lang, digits=2)
        return text["points"].format(v=signed(f"{v * 100:+.1f}"))

    def where(row: Mapping, end: str) -> str:
        b = int(row.get("bin", 0))
        if k == 10 and b == (1 if end == "top" else 10):
            return text[f"{end}10"]
        return text["bin"].format(b=b, k=k)

    top, bottom = rows[0], rows[-1]
    if len(rows) == 1:
        return text["dec_one"].format(top=where(top, "top"), u_top=fmt(top["uplift"]))
    return text["dec_read"].format(top=where(top, "top"), bottom=where(bottom, "bottom"),
                                   u_top=fmt(top["uplift"]), u_bottom=fmt(bottom["uplift"]),
                                   verdict=text["holds" if top["uplift"] > bottom["uplift"] else "fails"])


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
    text = labels_for(_LABELS, lang)
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


def _points(x: np.ndarray, y: np.ndarray) -> dict:
    return {"x": [int(v) for v in x], "y": [float(v) for v in y]}

