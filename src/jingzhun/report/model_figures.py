"""Figures of the segmentation and churn models (Plotly), in English or Chinese: how k was chosen
for the clusters (silhouette and the elbow), a churn model's lift by risk decile and its ROC curve
next to its baselines'. Free functions over the JSON-ready results of
``pipeline_segment.segment_cluster`` and ``pipeline_churn.predict_churn``; each figure function
returns a new figure and touches no global Plotly setting, and each ``*_reading`` returns one
sentence a marketer understands, with the key numbers, computed from the same input (never an
exception on degenerate input, only on a bad ``lang``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from jingzhun.errors import InputError
from jingzhun.report._text import MISSING, finite_or_none, format_percent, labels_for

__all__ = ["churn_lift_figure", "churn_lift_reading", "churn_roc_figure", "churn_roc_reading",
           "cluster_selection_figure", "cluster_selection_reading"]

_LABELS = {
    "en": {"sel_title": "Choosing the number of clusters", "k": "Clusters k (count)",
           "silhouette": "Silhouette (higher is better)", "inertia": "Within-cluster sum of squares",
           "chosen": "chosen k = {k}", "lift_title": "Churn by predicted risk decile",
           "decile": "Risk decile (1 = riskiest tenth)", "lift": "Churn rate / overall rate",
           "model": "model", "baseline": "BG/NBD 1 - P(alive)",
           "baseline_no_purchase": "BG/NBD P(no purchase)", "even": "no model",
           "roc_title": "Who churns: churners caught against stayers flagged (ROC)",
           "fpr": "Stayers flagged as at risk (false positive rate, share)",
           "tpr": "Churners caught (true positive rate, share)", "random": "random ranking (AUC = 0.50)",
           "no_roc": "no ROC curve to show", "roc_none": "There is no ROC curve to read.",
           "roc_read": ("The churn model ranks customers with an AUC of {auc} (0.5 is a coin toss, 1 is "
                        "perfect){others}{verdict}."),
           "roc_vs": ", against {items}", "roc_item": "{auc} for {name}", "and": " and ",
           "roc_beats": ", so it beats its baselines", "roc_loses": ", so {name} ranks churners better",
           "roc_no_model": "There is no churn model curve; the best baseline, {name}, has an AUC of {auc}.",
           "lift_none": "The churn model could not be backtested, so its lift cannot be read.",
           "lift_read": ("In the backtest, the {top} churned at {rate}, {lift} times the overall rate of "
                         "{base}{capture}."),
           "top10": "tenth of customers with the highest predicted risk",
           "top_k": "riskiest of {k} equal groups of customers", "sep": ", ",
           "capture": ", and the riskiest 30% held {share} of all churners",
           "sel_none": "No number of clusters was tried.",
           "sel_best": ("{k} clusters were chosen, where customers separate best (silhouette {s}, against "
                        "{lo} to {hi} for the other k tried, {kmin} to {kmax})."),
           "sel_only": "{k} clusters were chosen (silhouette {s}), the only number tried.",
           "sel_other": ("{k} clusters were chosen (silhouette {s}), although k = {bk} separated customers "
                         "best (silhouette {bs})."),
           "sel_untried": "{k} clusters were chosen, a number not among those tried ({ks})."},
    "zh": {"sel_title": "聚类数的选择", "k": "聚类数 k（个）", "silhouette": "轮廓系数（越高越好）",
           "inertia": "簇内平方和", "chosen": "选定 k = {k}", "lift_title": "按预测风险十分位的流失情况",
           "decile": "风险十分位（1 = 风险最高的 10%）", "lift": "流失率 / 总体流失率",
           "model": "模型", "baseline": "BG/NBD 1 - 存活概率",
           "baseline_no_purchase": "BG/NBD 不购买概率", "even": "无模型",
           "roc_title": "谁会流失：识别出的流失客户与误报的留存客户（ROC）",
           "fpr": "被误判为有风险的留存客户（假阳性率，比例）", "tpr": "识别出的流失客户（真阳性率，比例）",
           "random": "随机排序（AUC = 0.50）", "no_roc": "没有可展示的 ROC 曲线",
           "roc_none": "没有可解读的 ROC 曲线。",
           "roc_read": "流失模型对客户排序的 AUC 为 {auc}（0.5 相当于随机，1 为完美）{others}{verdict}。",
           "roc_vs": "，而 {items}", "roc_item": "{name}为 {auc}", "and": "、",
           "roc_beats": "，因此优于各基线", "roc_loses": "，因此{name}对流失客户的排序更好",
           "roc_no_model": "没有流失模型的曲线；最佳基线 {name} 的 AUC 为 {auc}。",
           "lift_none": "流失模型无法回测，因此无法解读其提升度。",
           "lift_read": ("回测中，预测风险最高的{top}客户流失率为 {rate}，"
                         "是总体流失率 {base} 的 {lift} 倍{capture}。"),
           "top10": " 10% ", "top_k": "一组（共 {k} 组）", "sep": "、",
           "capture": "；风险最高的 30% 客户占全部流失客户的 {share}",
           "sel_none": "没有尝试任何聚类数。",
           "sel_best": ("选定 {k} 个客户群，此时客户区分最清楚（轮廓系数 {s}，"
                        "其他 k（{kmin} 至 {kmax}）为 {lo} 至 {hi}）。"),
           "sel_only": "选定 {k} 个客户群（轮廓系数 {s}），这是唯一尝试的聚类数。",
           "sel_other": "选定 {k} 个客户群（轮廓系数 {s}），但 k = {bk} 时客户区分最清楚（轮廓系数 {bs}）。",
           "sel_untried": "选定 {k} 个客户群，但该数目不在尝试过的聚类数（{ks}）之中。"},
}


def cluster_selection_figure(selection: Sequence[Mapping], *, chosen_k: int | None = None,
                             lang: str = "en") -> go.Figure:
    """Silhouette (left axis) and inertia, the elbow (right axis), against k.

    Parameters
    ----------
    selection : sequence of mappings
        ``segment_cluster``'s ``selection``: ``k``, ``silhouette``, ``inertia`` per k tried.
    chosen_k : int, optional
        Marked with a vertical line.
    lang : {"en", "zh"}
    """
    text = labels_for(_LABELS, lang)
    if not selection or any(not {"k", "silhouette", "inertia"} <= set(row) for row in selection):
        raise InputError("selection needs k, silhouette and inertia for each k tried",
                         hint="pass segment_cluster(...)['selection'] (k chosen by silhouette)")
    ks = [row["k"] for row in selection]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=ks, y=[row["silhouette"] for row in selection], name=text["silhouette"],
                             mode="lines+markers"), secondary_y=False)
    fig.add_trace(go.Scatter(x=ks, y=[row["inertia"] for row in selection], name=text["inertia"],
                             mode="lines+markers", line={"dash": "dot"}), secondary_y=True)
    if chosen_k is not None:
        fig.add_vline(x=chosen_k, line_dash="dash", annotation_text=text["chosen"].format(k=chosen_k))
    fig.update_layout(title={"text": text["sel_title"]}, xaxis_title=text["k"])
    fig.update_yaxes(title_text=text["silhouette"], secondary_y=False)
    fig.update_yaxes(title_text=text["inertia"], secondary_y=True)
    return fig


def churn_lift_figure(backtest: Mapping, *, lang: str = "en") -> go.Figure:
    """Lift by risk decile (churn rate in the decile over the overall rate) of the model and of
    the BG/NBD baselines, from ``predict_churn``'s ``backtest``; a line at 1 marks no model."""
    text = labels_for(_LABELS, lang)
    fig = go.Figure()
    for key in ("model", "baseline", "baseline_no_purchase"):
        metrics = backtest.get(key)
        if not metrics or metrics.get("status") != "ok":
            continue
        rows = metrics["lift"]
        fig.add_trace(go.Bar(x=[r["decile"] for r in rows], y=[r["lift"] for r in rows], name=text[key]))
    if not fig.data:
        raise InputError("the backtest has no scored model with lift by decile",
                         hint="pass predict_churn(...)['backtest']")
    fig.add_hline(y=1.0, line_dash="dot", annotation_text=text["even"])
    fig.update_layout(title={"text": text["lift_title"]}, xaxis_title=text["decile"],
                      yaxis_title=text["lift"], barmode="group")
    return fig


def churn_roc_figure(roc_curves: Mapping, *, lang: str = "en") -> go.Figure:
    """ROC curves of the churn model and its BG/NBD baselines, each with its AUC in the legend,
    and the diagonal of a random ranking.

    Parameters
    ----------
    roc_curves : mapping of str to mapping
        Name -> ``{"fpr": [...], "tpr": [...], "auc": float}``; the names ``model``, ``baseline``
        (BG/NBD 1 - P(alive)) and ``baseline_no_purchase`` (BG/NBD P(no purchase)) are named in
        ``lang``, others shown as given. A missing or None ``auc`` is the trapezoid area under the
        points; a curve without points is left out.
    lang : {"en", "zh"}

    Returns
    -------
    plotly.graph_objects.Figure
        One line per curve (false positive rate on x, true positive rate on y, both shares in
        [0, 1]), then the diagonal; a note when no curve could be drawn.
    """
    text = labels_for(_LABELS, lang)
    fig = go.Figure()
    for key, curve in _roc_curves(roc_curves):
        fig.add_trace(go.Scatter(x=curve["fpr"], y=curve["tpr"], mode="lines",
                                 name=f"{text.get(key, key)} (AUC = {curve['auc']:.3f})"))
    if not fig.data:
        fig.add_annotation(text=text["no_roc"], x=0.5, y=0.5, showarrow=False, font={"color": "grey"})
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name=text["random"], hoverinfo="skip",
                             line={"color": "grey", "dash": "dash"}))
    fig.update_layout(title={"text": text["roc_title"]}, xaxis_title=text["fpr"], yaxis_title=text["tpr"],
                      showlegend=True)
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1])
    return fig


def churn_roc_reading(roc_curves: Mapping, *, lang: str = "en") -> str:
    """One sentence: the model's AUC against each baseline's and which ranks churners best; reads
    the same mapping as :func:`churn_roc_figure`."""
    text = labels_for(_LABELS, lang)
    curves = dict(_roc_curves(roc_curves))
    if not curves:
        return text["roc_none"]
    names = {key: text.get(key, key) for key in curves}
    best = max(curves, key=lambda key: curves[key]["auc"])
    if "model" not in curves:
        return text["roc_no_model"].format(name=names[best], auc=f"{curves[best]['auc']:.2f}")
    others = [text["roc_item"].format(auc=f"{c['auc']:.2f}", name=names[key])
              for key, c in curves.items() if key != "model"]
    verdict = ("" if not others else text["roc_beats"] if best == "model"
               else text["roc_loses"].format(name=names[best]))
    versus = text["roc_vs"].format(items=text["and"].join(others)) if others else ""
    return text["roc_read"].format(auc=f"{curves['model']['auc']:.2f}", others=versus, verdict=verdict)


def churn_lift_reading(backtest: Mapping, *, lang: str = "en") -> str:
    """One sentence: the churn rate of the riskiest tenth in the backtest, its lift over the overall
    rate, and the share of all churners in the riskiest 30%; reads ``backtest["model"]``
    (``status``, ``base_rate``, ``lift`` rows: ``decile``, ``n``, ``churn_rate``, ``lift``,
    ``cumulative_capture``)."""
    text = labels_for(_LABELS, lang)
    metrics = backtest.get("model") if isinstance(backtest, Mapping) else None
    rows = sorted((r for r in (metrics or {}).get("lift") or []
                   if isinstance(r, Mapping) and finite_or_none(r.get("churn_rate")) is not None),
                  key=lambda r: r.get("decile", 0))
    if not metrics or metrics.get("status", "ok") != "ok" or not rows:
        return text["lift_none"]
    n = np.array([float(r.get("n") or 0) for r in rows])
    churners = n * np.array([float(r["churn_rate"]) for r in rows])
    base = finite_or_none(metrics.get("base_rate"))
    if base is None:
        base = churners.sum() / n.sum() if n.sum() else math.nan
    top = rows[0]
    lift = finite_or_none(top.get("lift"))
    if lift is None:
        lift = top["churn_rate"] / base if base else math.nan
    capture = ""
    if len(rows) == 10 and churners.sum() > 0:
        share = finite_or_none(rows[2].get("cumulative_capture"))
        share = churners[:3].sum() / churners.sum() if share is None else share
        capture = text["capture"].format(share=format_percent(share))
    return text["lift_read"].format(
        top=text["top10"] if len(rows) == 10 else text["top_k"].format(k=len(rows)),
        rate=format_percent(top["churn_rate"]), lift=f"{lift:.2f}" if math.isfinite(lift) else MISSING,
        base=format_percent(base), capture=capture)


def cluster_selection_reading(selection: Sequence[Mapping], chosen_k: int | None = None, *,
                              lang: str = "en") -> str:
    """One sentence: the number of clusters chosen (default: the best silhouette), its silhouette
    and those of the other k tried; reads ``k`` and ``silhouette`` of each row of ``selection``."""
    text = labels_for(_LABELS, lang)
    rows = sorted((int(r["k"]), float(r["silhouette"])) for r in selection or []
                   if isinstance(r, Mapping) and finite_or_none(r.get("k")) is not None
                   and finite_or_none(r.get("silhouette")) is not None)
    if not rows:
        return text["sel_none"] if chosen_k is None else text["sel_untried"].format(k=chosen_k, ks="-")
    best_k, best_s = max(rows, key=lambda r: r[1])
    chosen_k = best_k if chosen_k is None else int(chosen_k)
    scores = dict(rows)
    if chosen_k not in scores:
        return text["sel_untried"].format(k=chosen_k, ks=text["sep"].join(str(k) for k, _ in rows))
    s = f"{scores[chosen_k]:.2f}"
    others = [(k, v) for k, v in rows if k != chosen_k]
    if not others:
        return text["sel_only"].format(k=chosen_k, s=s)
    if scores[chosen_k] < best_s:
        return text["sel_other"].format(k=chosen_k, s=s, bk=best_k, bs=f"{best_s:.2f}")
    values = [v for _, v in others]
    return text["sel_best"].format(k=chosen_k, s=s, lo=f"{min(values):.2f}", hi=f"{max(values):.2f}",
                                   kmin=min(k for k, _ in others), kmax=max(k for k, _ in others))


def _roc_curves(roc_curves) -> list[tuple[str, dict]]:
    """(name, {"fpr", "tpr", "auc"}) of the drawable curves, model and baselines first; a missing
    AUC is the trapezoid area under the points."""
    if not isinstance(roc_curves, Mapping):
        return []
    order = [k for k in ("model", "baseline", "baseline_no_purchase") if k in roc_curves]
    out = []
    for key in order + [k for k in roc_curves if k not in order]:
        curve = roc_curves[key]
        if not isinstance(curve, Mapping):
            continue
        fpr, tpr = (np.asarray(curve.get(c) if curve.get(c) is not None else [], dtype=float)
                    for c in ("fpr", "tpr"))
        if fpr.size < 2 or fpr.size != tpr.size:
            continue
        auc = finite_or_none(curve.get("auc"))
        if auc is None:
            auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
        out.append((str(key), {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "auc": auc}))
    return out
