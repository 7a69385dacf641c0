"""Customer-base figures of the report (Plotly), with a one-sentence reading each, in English or
Chinese: RFM grid, named segments, lifecycle stages, clusters and interest topics.

Each ``*_figure`` function returns a new ``plotly.graph_objects.Figure`` (title, axis labels with
units) and its ``*_reading`` twin ONE sentence for a marketer, with the key numbers, computed from
the same input. Nothing is read or written and no global Plotly setting is touched. Empty or
all-zero inputs give a figure with a "no data" note and a reading that says so.

* :func:`rfm_heatmap_figure` -- customers by recency score (x) and frequency score (y).
* :func:`segment_value_figure` -- share of customers vs share of spend per named segment.
* :func:`lifecycle_funnel_figure` -- customers per lifecycle stage, in the stages' order.
* :func:`cluster_figure`, :func:`cluster_table` -- share of customers vs share of value per
  cluster, from ``pipeline_segment.segment_cluster(...)["clusters"]``.
* :func:`topics_figure` -- customers per interest topic, from
  ``pipeline_segment.segment_topics(...)["topics"]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from jingzhun.errors import InputError
from jingzhun.profile.lifecycle import STAGE_LABELS
from jingzhun.report._text import (
    format_count,
    format_money,
    format_percent,
    labels_for,
    no_data_figure,
    require_frame,
)

__all__ = [
    "cluster_figure", "cluster_reading", "cluster_table", "lifecycle_funnel_figure", "lifecycle_reading",
    "rfm_heatmap_figure", "rfm_heatmap_reading", "segment_value_figure", "segment_value_reading",
    "topics_figure", "topics_reading",
]

_CUSTOMER_COLOR, _VALUE_COLOR = "#1f77b4", "#ff7f0e"

RFM_COLUMNS = ("r_score", "f_score", "customers", "monetary_mean")
SEGMENT_COLUMNS = ("segment", "label", "customers", "monetary_total")
LIFECYCLE_COLUMNS = ("lifecycle_stage", "customers")
#: Lifecycle stages in display order; unknown stages follow, as given.
STAGE_ORDER = ("prospect", "new", "active", "reactivated", "at_risk", "dormant", "lost")
_ACTIVE, _LAPSING, _LOST = ("new", "active", "reactivated"), ("at_risk", "dormant"), ("lost",)
#: Stage names as the customer cards write them (``profile.lifecycle.STAGE_LABELS``: (en, zh)).
_STAGE_NAMES = {"en": {stage: en for stage, (en, _) in STAGE_LABELS.items()},
                "zh": {stage: zh for stage, (_, zh) in STAGE_LABELS.items()}}
_STAGE_COLORS = {"prospect": "#9edae5", "new": "#2ca02c", "active": "#2ca02c", "reactivated": "#2ca02c",
                 "at_risk": "#ff7f0e", "dormant": "#ff7f0e", "lost": "#7f7f7f"}

_LABELS = {
    "en": {
        "no_data": "No data", "customers": "customers", "mean_spend": "mean spend",
        "rfm_title": "Customers by recency and frequency score",
        "rfm_x": "Recency score R (higher = bought more recently)",
        "rfm_y": "Frequency score F (higher = buys more often)",
        "rfm_bar": "Customers (count)",
        "rfm_reading": ("The largest group is R {r} × F {f} with {n} customers ({share} of {total}); "
                        "{top_share} are in the top corner (R ≥ {k} and F ≥ {k}: recent and frequent)"
                        "{spend}."),
        "rfm_spend": ", spending {money} each on average",
        "rfm_none": "No customer has an RFM score yet.",
        "seg_title": "Share of customers and share of spend by segment",
        "seg_x": "Segment", "seg_y": "Share (%)",
        "seg_customers": "Share of customers", "seg_spend": "Share of spend",
        "seg_hover": "{n} customers, spend {money}", "seg_clv": ", mean CLV {money}",
        "seg_reading": "{label} are {customers} of customers and bring {spend} of spend ({money}).",
        "seg_reading_nospend": ("{label} is the largest segment with {customers} of customers; "
                                "no spend is recorded."),
        "seg_none": "No customer is in a segment yet.",
        "life_title": "Customers by lifecycle stage",
        "life_x": "Lifecycle stage", "life_y": "Customers (count)",
        "life_reading": ("Of {total} customers, {active} are active ({active_stages}), "
                         "{lapsing} are lapsing ({lapsing_stages}) and {lost} are lost{prospects}."),
        "life_prospects": "; {share} have not bought yet",
        "life_none": "No customer has a lifecycle stage yet.",
        "cl_title": "Share of customers and share of value by cluster",
        "cl_x": "Cluster", "cl_value": "Share of value",
        "cl_reading": ("“{name}” is the most valuable cluster per customer: {share} of customers bring "
                       "{value} of the value, {ratio:.1f} times their share."),
        "cl_reading_novalue": "“{name}” is the largest cluster with {share} of customers.",
        "cl_none": "No cluster.",
        "cl_table": {"name": "Cluster", "customers": "Customers", "share": "Share of customers (%)",
                     "value_share": "Share of value (%)", "description": "Description"},
        "tp_title": "Customers by interest topic",
        "tp_x": "Customers with this interest (count)", "tp_y": "Interest topic",
        "tp_hover": "{n} customers; {share} of the customers' interest mix",
        "tp_reading": ("The largest interest is “{label}”: {n} customers count it among their "
                       "interests and it makes up {share} of the customers' interest mix."),
        "tp_none": "No interest topic.",
    },
    "zh": {
        "no_data": "暂无数据", "customers": "客户", "mean_spend": "平均消费",
        "rfm_title": "按最近购买与购买频次评分的客户分布",
        "rfm_x": "最近购买评分 R（越高 = 越近期购买）",
        "rfm_y": "购买频次评分 F（越高 = 购买越频繁）",
        "rfm_bar": "客户数（人）",
        "rfm_reading": ("客户最多的格子是 R{r}×F{f}，共 {n} 人（占 {total} 人的 {share}）；"
                        "{top_share} 的客户位于右上角（R ≥ {k} 且 F ≥ {k}，近期购买且购买频繁）{spend}。"),
        "rfm_spend": "，人均消费 {money}",
        "rfm_none": "尚无客户的 RFM 评分。",
        "seg_title": "各客群的客户占比与消费占比",
        "seg_x": "客群", "seg_y": "占比（%）",
        "seg_customers": "客户占比", "seg_spend": "消费占比",
        "seg_hover": "{n} 名客户，消费 {money}", "seg_clv": "，平均客户价值 {money}",
        "seg_reading": "“{label}”占客户的 {customers}，贡献了 {spend} 的消费额（{money}）。",
        "seg_reading_nospend": "“{label}”是最大的客群，占客户的 {customers}；暂无消费记录。",
        "seg_none": "尚无客户被分入客群。",
        "life_title": "各生命周期阶段的客户数",
        "life_x": "生命周期阶段", "life_y": "客户数（人）",
        "life_reading": ("在 {total} 名客户中，{active} 处于活跃状态（{active_stages}），"
                         "{lapsing} 正在流失（{lapsing_stages}），{lost} 已流失{prospects}。"),
        "life_prospects": "，另有 {share} 尚未购买",
        "life_none": "尚无客户的生命周期阶段。",
        "cl_title": "各客户群的客户占比与价值占比",
        "cl_x": "客户群", "cl_value": "价值占比",
        "cl_reading": ("人均价值最高的客户群是“{name}”：{share} 的客户贡献了 {value} 的价值，"
                       "是其人数占比的 {ratio:.1f} 倍。"),
        "cl_reading_novalue": "最大的客户群是“{name}”，占客户的 {share}。",
        "cl_none": "暂无客户群。",
        "cl_table": {"name": "客户群", "customers": "客户数", "share": "客户占比（%）",
                     "value_share": "价值占比（%）", "description": "描述"},
        "tp_title": "各兴趣主题的客户数",
        "tp_x": "有此兴趣的客户数（人）", "tp_y": "兴趣主题",
        "tp_hover": "{n} 名客户；占客户兴趣构成的 {share}",
        "tp_reading": "最大的兴趣主题是“{label}”：{n} 名客户以其为兴趣，占全部客户兴趣构成的 {share}。",
        "tp_none": "暂无兴趣主题。",
    },
}


# --------------------------------------------------------------------------- RFM grid


def rfm_heatmap_figure(cells: pd.DataFrame, *, currency: str = "CNY", lang: str = "en") -> go.Figure:
    """Heat map of customers by recency score R (x) and frequency score F (y).

    Parameters
    ----------
    cells : pandas.DataFrame
        One row per (R, F) cell: ``r_score``, ``f_score`` (integers ``1..bins``, higher = more
        recent / more frequent), ``customers`` (count) and ``monetary_mean`` (mean net spend per
        customer, ``currency``). Missing cells hold no customer; repeated cells are merged
        (counts summed, spend weighted by customers).
    currency : str, default "CNY"
        Currency of ``monetary_mean``, shown in the hover.
    lang : {"en", "zh"}

    Returns
    -------
    plotly.graph_objects.Figure
        One heat-map trace on the square grid ``1..max score``: z = customers (0 in a missing
        cell), text = the count, hover adds the mean spend. A "no data" note without customers.
    """
    text = labels_for(_LABELS, lang)
    grid = _rfm_grid(cells)
    if grid is None:
        return no_data_figure(text["rfm_title"], text["rfm_none"])
    count, spend, scores = grid
    def hover(i: int, j: int) -> str:
        line = f"R {scores[j]}, F {scores[i]}: {format_count(count[i, j])} {text['customers']}"
        if np.isfinite(spend[i, j]):
            line += f"<br>{text['mean_spend']}: {format_money(spend[i, j], currency, lang=lang)}"
        return line

    fig = go.Figure(go.Heatmap(
        z=count, x=scores, y=scores, text=[[format_count(v) for v in row] for row in count],
        texttemplate="%{text}", hoverinfo="text",
        hovertext=[[hover(i, j) for j in range(len(scores))] for i in range(len(scores))], colorscale="Blues",
        name=text["rfm_bar"], colorbar={"title": {"text": text["rfm_bar"]}}))
    fig.update_layout(title={"text": text["rfm_title"]}, xaxis_title=text["rfm_x"], yaxis_title=text["rfm_y"])
    fig.update_xaxes(dtick=1)
    fig.update_yaxes(dtick=1)
    return fig


def rfm_heatmap_reading(cells: pd.DataFrame, *, currency: str = "CNY", lang: str = "en") -> str:
    """One sentence: the cell with the most customers and its share, and the share of customers in
    the top corner (the two highest R and F scores, R ≥ 4 and F ≥ 4 with five bands) with their
    mean spend.

    ``cells``, ``currency`` and ``lang`` as in :func:`rfm_heatmap_figure`.
    """
    text = labels_for(_LABELS, lang)
    grid = _rfm_grid(cells)
    if grid is None:
        return text["rfm_none"]
    count, spend, scores = grid
    total = count.sum()
    i, j = np.unravel_index(np.argmax(count), count.shape)  # the first maximum: lowest F, then R
    k = max(scores[-1] - 1, 1)
    corner = np.ix_(np.asarray(scores) >= k, np.asarray(scores) >= k)
    top = count[corner].sum()
    known = np.isfinite(spend[corner])
    extra = ""
    if count[corner][known].sum() > 0:
        weights = count[corner][known]
        extra = text["rfm_spend"].format(
            money=format_money((spend[corner][known] * weights).sum() / weights.sum(), currency, lang=lang))
    return text["rfm_reading"].format(r=scores[j], f=scores[i], n=format_count(count[i, j]),
                                      share=format_percent(count[i, j] / total), total=format_count(total),
                                      top_share=format_percent(top / total), k=k, spend=extra)


def _rfm_grid(cells: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[int]] | None:
    """(customers, mean spend) on the grid rows F x columns R, and the scores ``1..max``; None
    without customers. The mean spend is over the customers with a known spend (NaN when none)."""
    frame = require_frame(cells, RFM_COLUMNS, "cells")
    data = frame.loc[:, list(RFM_COLUMNS)].apply(pd.to_numeric, errors="coerce")
    data = data.dropna(subset=["r_score", "f_score"])
    data["customers"] = data["customers"].fillna(0.0).clip(lower=0.0)
    data = data[data["customers"] > 0]
    if data.empty:
        return None
    if (data[["r_score", "f_score"]] < 1).to_numpy().any():
        raise InputError("cells: r_score and f_score must be scores 1, 2, ..., got a value below 1")
    top = int(max(data["r_score"].max(), data["f_score"].max()))
    scores = list(range(1, top + 1))
    r = data["r_score"].astype(int).to_numpy() - 1
    f = data["f_score"].astype(int).to_numpy() - 1
    n = data["customers"].to_numpy(dtype=float)
    money = data["monetary_mean"].to_numpy(dtype=float)
    known = np.isfinite(money)
    count, amount, counted = np.zeros((top, top)), np.zeros((top, top)), np.zeros((top, top))
    np.add.at(count, (f, r), n)
    np.add.at(amount, (f[known], r[known]), n[known] * money[known])
    np.add.at(counted, (f[known], r[known]), n[known])
    spend = np.divide(amount, counted, out=np.full_like(amount, np.nan), where=counted > 0)
    return count, spend, scores


# --------------------------------------------------------------------------- named segments


def segment_value_figure(segments: pd.DataFrame, *, currency: str = "CNY", lang: str = "en") -> go.Figure:
    """Side-by-side bars per segment: share of customers and share of spend (percent).

    Parameters
    ----------
    segments : pandas.DataFrame
        One row per segment: ``segment`` (code), ``label`` (already in the report's language),
        ``customers`` (count), ``monetary_total`` (net spend, ``currency``) and optionally
        ``clv_mean`` (mean predicted CLV, ``currency``, shown in the hover).
    currency : str, default "CNY"
    lang : {"en", "zh"}

    Returns
    -------
    plotly.graph_objects.Figure
        Two bar traces (customers, spend) in percent of the totals, segments by descending
        share of spend; the spend trace is left out when the total spend is not positive.
    """
    text = labels_for(_LABELS, lang)
    table = _segment_shares(segments)
    if table is None:
        return no_data_figure(text["seg_title"], text["seg_none"])
    hover = [text["seg_hover"].format(n=format_count(r.customers),
                                      money=format_money(r.monetary_total, currency, lang=lang))
             + (text["seg_clv"].format(money=format_money(r.clv_mean, currency, lang=lang))
                if np.isfinite(r.clv_mean) else "")
             for r in table.itertuples()]
    labels = table["label"].tolist()
    template = "%{x}: %{y:.1f}%<br>%{hovertext}<extra>%{fullData.name}</extra>"
    fig = go.Figure(go.Bar(x=labels, y=100.0 * table["customer_share"].to_numpy(), name=text["seg_customers"],
                           marker={"color": _CUSTOMER_COLOR}, hovertext=hover, hovertemplate=template))
    if table["spend_share"].notna().all():
        fig.add_trace(go.Bar(x=labels, y=100.0 * table["spend_share"].to_numpy(), name=text["seg_spend"],
                             marker={"color": _VALUE_COLOR}, hovertext=hover, hovertemplate=template))
    fig.update_layout(title={"text": text["seg_title"]}, xaxis_title=text["seg_x"], yaxis_title=text["seg_y"],
                      barmode="group", showlegend=True)
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=labels)
    return fig


def segment_value_reading(segments: pd.DataFrame, *, currency: str = "CNY", lang: str = "en") -> str:
    """One sentence on the segment with the largest share of spend: its share of customers, of
    spend and its spend, e.g. ``"Champions are 13.1% of customers and bring 41.2% of spend
    (1,234,567 CNY)."``; without positive total spend, the largest segment by customers.

    ``segments``, ``currency`` and ``lang`` as in :func:`segment_value_figure`.
    """
    text = labels_for(_LABELS, lang)
    table = _segment_shares(segments)
    if table is None:
        return text["seg_none"]
    if table["spend_share"].isna().any():
        row = table.loc[table["customer_share"].idxmax()]
        return text["seg_reading_nospend"].format(label=row["label"],
                                                  customers=format_percent(row["customer_share"]))
    row = table.iloc[0]
    return text["seg_reading"].format(label=row["label"], customers=format_percent(row["customer_share"]),
                                      spend=format_percent(row["spend_share"]),
                                      money=format_money(row["monetary_total"], currency, lang=lang))


def _segment_shares(segments: pd.DataFrame) -> pd.DataFrame | None:
    """One row per (segment, label) with customers, monetary_total, clv_mean (NaN when absent),
    customer_share and spend_share (0..1; NaN when the total spend is not positive), by
    descending spend share then customers; None without customers."""
    frame = require_frame(segments, SEGMENT_COLUMNS, "segments")
    def number(column: str) -> pd.Series:
        return pd.to_numeric(frame[column], errors="coerce")

    data = pd.DataFrame({"segment": frame["segment"].astype(str), "label": frame["label"].astype(str),
                         "customers": number("customers").fillna(0.0),
                         "monetary_total": number("monetary_total").fillna(0.0),
                         "clv_mean": number("clv_mean") if "clv_mean" in frame.columns else np.nan})
    data["clv_sum"] = data["clv_mean"] * data["customers"]
    data = data.groupby(["segment", "label"], sort=False, as_index=False).agg(
        customers=("customers", "sum"), monetary_total=("monetary_total", "sum"),
        clv_sum=("clv_sum", lambda s: s.sum(min_count=1)))
    data = data[data["customers"] > 0].copy()
    if data.empty:
        return None
    data["clv_mean"] = data["clv_sum"] / data["customers"]
    data["customer_share"] = data["customers"] / data["customers"].sum()
    spend = data["monetary_total"].sum()
    data["spend_share"] = data["monetary_total"] / spend if spend > 0 else np.nan
    order = data["spend_share"].fillna(0.0)
    data = data.assign(_order=order).sort_values(["_order", "customers"], ascending=False, kind="stable")
    return data.drop(columns=["_order", "clv_sum"]).reset_index(drop=True)


# --------------------------------------------------------------------------- lifecycle


def lifecycle_funnel_figure(stages: pd.DataFrame, *, lang: str = "en") -> go.Figure:
    """Bars of customers per lifecycle stage in the stages' order (prospect, new, active,
    reactivated, at risk, dormant, lost; unknown stages after, as given), coloured by group:
    active (green), lapsing (orange), lost (grey).

    Parameters
    ----------
    stages : pandas.DataFrame
        ``lifecycle_stage`` (code), ``customers`` (count); repeated stages are summed.
    lang : {"en", "zh"}

    Returns
    -------
    plotly.graph_objects.Figure
        One bar trace over the localized stage names, every known stage shown (0 when absent),
        text = count and share of all customers.
    """
    text = labels_for(_LABELS, lang)
    counts = _stage_counts(stages)
    total = counts.sum()
    if total <= 0:
        return no_data_figure(text["life_title"], text["life_none"])
    names = [_STAGE_NAMES[lang].get(stage, stage) for stage in counts.index]
    fig = go.Figure(go.Bar(
        x=names, y=counts.to_numpy(), name=text["life_y"],
        marker={"color": [_STAGE_COLORS.get(stage, "#bcbd22") for stage in counts.index]},
        text=[f"{format_count(v)} ({format_percent(v / total)})" for v in counts], textposition="auto",
        hovertemplate="%{x}: %{y:,}<extra></extra>"))
    fig.update_layout(title={"text": text["life_title"]}, xaxis_title=text["life_x"],
                      yaxis_title=text["life_y"], showlegend=False)
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=names)
    return fig


def lifecycle_reading(stages: pd.DataFrame, *, lang: str = "en") -> str:
    """One sentence: the shares of customers active (new + active + reactivated), lapsing
    (at risk + dormant) and lost, of all customers given (prospects, when any, named apart).

    ``stages`` and ``lang`` as in :func:`lifecycle_funnel_figure`.
    """
    text = labels_for(_LABELS, lang)
    counts = _stage_counts(stages)
    total = counts.sum()
    if total <= 0:
        return text["life_none"]

    def share(group: tuple[str, ...]) -> str:
        return format_percent(counts.reindex(list(group)).fillna(0.0).sum() / total)

    prospects = counts.get("prospect", 0.0)
    extra = text["life_prospects"].format(share=share(("prospect",))) if prospects > 0 else ""
    return text["life_reading"].format(total=format_count(total), active=share(_ACTIVE),
                                       active_stages=_stage_list(_ACTIVE, lang), lapsing=share(_LAPSING),
                                       lapsing_stages=_stage_list(_LAPSING, lang), lost=share(_LOST),
                                       prospects=extra)


def _stage_list(stages: tuple[str, ...], lang: str) -> str:
    """The stages' names as the customer cards write them, in a list: "new, active or reactivated",
    "新客、活跃客户、回流客户"."""
    names = [_STAGE_NAMES[lang][stage] for stage in stages]
    if lang == "zh":
        return "、".join(names)
    names = [name.lower() for name in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _stage_counts(stages: pd.DataFrame) -> pd.Series:
    """Customers per stage: the known stages in order (0 when absent), then unknown ones as given."""
    frame = require_frame(stages, LIFECYCLE_COLUMNS, "stages")
    counts = pd.Series(pd.to_numeric(frame["customers"], errors="coerce").fillna(0.0).to_numpy(dtype=float),
                       index=frame["lifecycle_stage"].astype(str).to_numpy())
    counts = counts.groupby(level=0, sort=False).sum().clip(lower=0.0)
    unknown = [stage for stage in counts.index if stage not in STAGE_ORDER]
    return counts.reindex(list(STAGE_ORDER) + unknown).fillna(0.0)


# --------------------------------------------------------------------------- clusters


def cluster_figure(clusters: Sequence[Mapping], *, lang: str = "en") -> go.Figure:
    """Side-by-side bars per cluster: share of customers and share of value (percent), named by
    the cluster's localized name.

    Parameters
    ----------
    clusters : sequence of mappings
        ``segment_cluster(...)["clusters"]``: per cluster ``cluster``, ``size``, ``share`` and
        ``value_share`` (0..1; None without spend), ``name_en``/``name_zh``,
        ``description_en``/``description_zh``.
    lang : {"en", "zh"}

    Returns
    -------
    plotly.graph_objects.Figure
        The customers trace and, when every cluster has a value share, the value trace; clusters
        in their label order (0 = most valuable). A "no data" note without clusters.
    """
    text = labels_for(_LABELS, lang)
    table = _cluster_frame(clusters, lang)
    if table.empty:
        return no_data_figure(text["cl_title"], text["cl_none"])
    names = table["name"].tolist()
    hover = [format_count(n) + " " + text["customers"] for n in table["size"]]
    template = "%{x}: %{y:.1f}% (%{hovertext})<extra>%{fullData.name}</extra>"
    fig = go.Figure(go.Bar(x=names, y=100.0 * table["share"].to_numpy(), name=text["seg_customers"],
                           marker={"color": _CUSTOMER_COLOR}, hovertext=hover, hovertemplate=template))
    if table["value_share"].notna().all():
        fig.add_trace(go.Bar(x=names, y=100.0 * table["value_share"].to_numpy(), name=text["cl_value"],
                             marker={"color": _VALUE_COLOR}, hovertext=hover, hovertemplate=template))
    fig.update_layout(title={"text": text["cl_title"]}, xaxis_title=text["cl_x"], yaxis_title=text["seg_y"],
                      barmode="group", showlegend=True)
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=names)
    return fig


def cluster_reading(clusters: Sequence[Mapping], *, lang: str = "en") -> str:
    """One sentence on the most valuable cluster per customer (largest value share / customer
    share): its shares and the ratio; without value shares, the largest cluster.

    ``clusters`` and ``lang`` as in :func:`cluster_figure`.
    """
    text = labels_for(_LABELS, lang)
    table = _cluster_frame(clusters, lang)
    table = table[table["share"] > 0]
    if table.empty:
        return text["cl_none"]
    if table["value_share"].isna().any():
        row = table.loc[table["share"].idxmax()]
        return text["cl_reading_novalue"].format(name=row["name"], share=format_percent(row["share"]))
    ratio = table["value_share"] / table["share"]
    row = table.loc[ratio.idxmax()]
    return text["cl_reading"].format(name=row["name"], share=format_percent(row["share"]),
                                     value=format_percent(row["value_share"]), ratio=float(ratio.max()))


def cluster_table(clusters: Sequence[Mapping], *, lang: str = "en") -> pd.DataFrame:
    """The clusters as a table for the report: name, customers, share of customers and of value
    (percent, one decimal), description, with localized headers.

    Parameters
    ----------
    clusters : sequence of mappings
        As in :func:`cluster_figure`.
    lang : {"en", "zh"}
        en headers: Cluster, Customers, Share of customers (%), Share of value (%), Description;
        zh: 客户群, 客户数, 客户占比（%）, 价值占比（%）, 描述.

    Returns
    -------
    pandas.DataFrame
        One row per cluster in label order; the value share is NaN without spend.
    """
    headers = labels_for(_LABELS, lang)["cl_table"]
    table = _cluster_frame(clusters, lang)
    out = pd.DataFrame({"name": table["name"], "customers": table["size"].astype("int64"),
                        "share": (100.0 * table["share"]).round(1),
                        "value_share": (100.0 * table["value_share"].astype(float)).round(1),
                        "description": table["description"]})
    return out.rename(columns=headers).reset_index(drop=True)


def _cluster_frame(clusters: Sequence[Mapping], lang: str) -> pd.DataFrame:
    """cluster, name (localized, made unique), size, share, value_share, description by cluster."""
    labels_for(_LABELS, lang)
    if clusters is None or isinstance(clusters, (str, Mapping)):
        raise InputError("clusters must be a list of dicts: pass segment_cluster(...)['clusters']")
    keys = ("cluster", "size", "share", "value_share", f"name_{lang}", f"description_{lang}")
    rows = []
    for item in clusters:
        missing = [k for k in keys if k not in item]
        if missing:
            raise InputError(f"a cluster lacks key(s) {missing}",
                             hint="pass segment_cluster(...)['clusters'] (ClusterSummary.as_dict())")
        rows.append({"cluster": int(item["cluster"]), "name": str(item[f"name_{lang}"]),
                     "size": float(item["size"] or 0), "share": float(item["share"] or 0),
                     "value_share": np.nan if item["value_share"] is None else float(item["value_share"]),
                     "description": str(item[f"description_{lang}"])})
    table = pd.DataFrame(rows, columns=["cluster", "name", "size", "share", "value_share", "description"])
    table = table.sort_values("cluster", kind="stable").reset_index(drop=True)
    table["name"] = _unique(table["name"], table["cluster"])
    return table


# --------------------------------------------------------------------------- interest topics


def topics_figure(topics: Sequence[Mapping], *, lang: str = "en") -> go.Figure:
    """Horizontal bars of customers per interest topic (largest on top), each labelled with the
    topic's label, its three heaviest tokens written in the bar.

    Parameters
    ----------
    topics : sequence of mappings
        ``segment_topics(...)["topics"]``: per topic ``topic``, ``label``, ``tag``, ``top_tokens``
        (list of ``{token, kind, weight}``, heaviest first), ``share`` (mean weight of the topic
        in customers' mixes, 0..1) and ``customers`` (customers having it as an interest).
    lang : {"en", "zh"}

    Returns
    -------
    plotly.graph_objects.Figure
        One bar trace; the hover adds the share of the interest mix.
    """
    text = labels_for(_LABELS, lang)
    table = _topic_frame(topics)
    if table.empty or table["customers"].sum() <= 0:
        return no_data_figure(text["tp_title"], text["tp_none"])
    labels = table["label"].tolist()
    hover = [text["tp_hover"].format(n=format_count(r.customers), share=format_percent(r.share))
             for r in table.itertuples()]
    fig = go.Figure(go.Bar(x=table["customers"].to_numpy(), y=labels, orientation="h", name=text["tp_x"],
                           marker={"color": _CUSTOMER_COLOR}, text=table["tokens"].tolist(),
                           textposition="auto", hovertext=hover,
                           hovertemplate="%{y}<br>%{text}<br>%{hovertext}<extra></extra>"))
    fig.update_layout(title={"text": text["tp_title"]}, xaxis_title=text["tp_x"], yaxis_title=text["tp_y"],
                      showlegend=False)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=labels, autorange="reversed")
    return fig


def topics_reading(topics: Sequence[Mapping], *, lang: str = "en") -> str:
    """One sentence on the largest interest topic (most customers, then largest share): its
    customers and its share of the customers' interest mix.

    ``topics`` and ``lang`` as in :func:`topics_figure`.
    """
    text = labels_for(_LABELS, lang)
    table = _topic_frame(topics)
    if table.empty or table["customers"].sum() <= 0:
        return text["tp_none"]
    row = table.iloc[0]
    return text["tp_reading"].format(label=row["label"], n=format_count(row["customers"]),
                                     share=format_percent(row["share"]))


def _topic_frame(topics: Sequence[Mapping]) -> pd.DataFrame:
    """topic, label (unique), tokens ("a · b · c"), share, customers; by descending customers, share."""
    if topics is None or isinstance(topics, (str, Mapping)):
        raise InputError("topics must be a list of dicts: pass segment_topics(...)['topics']")
    rows = []
    for item in topics:
        missing = [k for k in ("topic", "label", "top_tokens", "share", "customers") if k not in item]
        if missing:
            raise InputError(f"a topic lacks key(s) {missing}", hint="pass segment_topics(...)['topics']")
        tokens = [str(t["token"]) for t in (item["top_tokens"] or [])[:3]]
        rows.append({"topic": int(item["topic"]), "label": str(item["label"]), "tokens": " · ".join(tokens),
                     "share": float(item["share"] or 0), "customers": float(item["customers"] or 0)})
    table = pd.DataFrame(rows, columns=["topic", "label", "tokens", "share", "customers"])
    table["label"] = _unique(table["label"], table["topic"])
    return table.sort_values(["customers", "share", "topic"], ascending=[False, False, True],
                             kind="stable").reset_index(drop=True)


def _unique(names: pd.Series, ids: pd.Series) -> list[str]:
    """The names, with `` (#id)`` added to those that repeat (a categorical axis would merge them)."""
    repeated = names.duplicated(keep=False).to_numpy()
    return [f"{name} (#{i})" if twice else name for name, i, twice in zip(names, ids, repeated, strict=True)]

