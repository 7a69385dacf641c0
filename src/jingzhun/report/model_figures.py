"""Figures of the segmentation and churn models (Plotly), in English or Chinese: how k was chosen
for the clusters (silhouette and the elbow), and a churn model's lift by risk decile next to its
baselines'. Free functions over the JSON-ready results of ``pipeline_segment.segment_cluster`` and
``pipeline_churn.predict_churn``; each returns a new figure and touches no global Plotly setting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from jingzhun.errors import InputError

__all__ = ["churn_lift_figure", "cluster_selection_figure"]

_LABELS = {
    "en": {"sel_title": "Choosing the number of clusters", "k": "Clusters k (count)",
           "silhouette": "Silhouette (higher is better)", "inertia": "Within-cluster sum of squares",
           "chosen": "chosen k = {k}", "lift_title": "Churn by predicted risk decile",
           "decile": "Risk decile (1 = riskiest tenth)", "lift": "Churn rate / overall rate",
           "model": "model", "baseline": "BG/NBD 1 - P(alive)",
           "baseline_no_purchase": "BG/NBD P(no purchase)", "even": "no model"},
    "zh": {"sel_title": "聚类数的选择", "k": "聚类数 k（个）", "silhouette": "轮廓系数（越高越好）",
           "inertia": "簇内平方和", "chosen": "选定 k = {k}", "lift_title": "按预测风险十分位的流失情况",
           "decile": "风险十分位（1 = 风险最高的 10%）", "lift": "流失率 / 总体流失率",
           "model": "模型", "baseline": "BG/NBD 1 - 存活概率",
           "baseline_no_purchase": "BG/NBD 不购买概率", "even": "无模型"},
}


def _labels(lang: str) -> dict:
    if lang not in _LABELS:
        raise InputError(f"lang must be one of {sorted(_LABELS)}, got {lang!r}")
    return _LABELS[lang]


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
    text = _labels(lang)
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
    text = _labels(lang)
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
