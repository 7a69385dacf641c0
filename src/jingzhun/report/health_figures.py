"""Data-health figures of the report (Plotly), with a one-sentence reading each, in English or Chinese.

Each ``*_figure`` function takes a small summary table (made by the pipeline from ``ingest_runs``
and ``quarantine``) and returns a new ``plotly.graph_objects.Figure`` with a title and axis labels
with units; its ``*_reading`` twin returns ONE sentence for a marketer, with the key numbers,
computed from the same input. Nothing is read or written and no global Plotly setting is touched.
Empty or all-zero inputs give a figure with a "no data" note and a reading that says so.

* :func:`ingest_accounting_figure` / :func:`ingest_accounting_reading` -- rows read per table,
  split into loaded, quarantined and exact duplicates; whether every row is accounted for.
* :func:`quarantine_figure` / :func:`quarantine_reading` -- quarantined rows per reason.
* :func:`quarantine_examples_table` -- up to three example rows per table and reason.

Numbers are written by ``report._text`` (``12,345``, ``99.1%``), as everywhere in the report.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from jingzhun.report._text import format_count, format_percent, labels_for, no_data_figure, require_frame

__all__ = ["ingest_accounting_figure", "ingest_accounting_reading", "quarantine_examples_table",
           "quarantine_figure", "quarantine_reading"]

_LOADED_COLOR, _QUARANTINE_COLOR, _DUPLICATE_COLOR = "#2ca02c", "#d62728", "#7f7f7f"

RUN_COLUMNS = ("table_name", "rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate")
REASON_COLUMNS = ("table_name", "reason_code", "rows")
EXAMPLE_COLUMNS = ("table_name", "reason_code", "row_number", "column_name", "raw_value", "reason")
#: Most example rows shown per (table, reason).
EXAMPLES_PER_REASON = 3

_LABELS = {
    "en": {
        "no_data": "No data",
        "acc_title": "Rows read per table: loaded, quarantined, duplicate",
        "acc_x": "Rows (count)", "acc_y": "Table",
        "loaded": "Loaded", "quarantined": "Quarantined", "duplicate": "Exact duplicate",
        "read": "read",
        "acc_none": "No rows were read.",
        "acc_reading": ("{read} rows were read: {loaded} loaded ({loaded_share}), {quarantined} "
                        "quarantined and {duplicate} dropped as exact duplicates; {check}."),
        "acc_ok": "every row is accounted for",
        "acc_bad": "rows do not add up (read ≠ loaded + quarantined + duplicate) in {tables}",
        "q_title": "Quarantined rows by reason",
        "q_x": "Quarantined rows (count)", "q_y": "Table: reason",
        "q_none": "No row was quarantined.",
        "q_reading": ("The most frequent quarantine reason is “{reason}” with {rows} rows, {share} of "
                      "the {total} quarantined rows."),
        "examples": {"table_name": "Table", "reason_code": "Reason", "row_number": "Row",
                     "column_name": "Column", "raw_value": "Value", "reason": "Why"},
    },
    "zh": {
        "no_data": "暂无数据",
        "acc_title": "各表读取行数：入库、隔离与重复",
        "acc_x": "行数（行）", "acc_y": "表",
        "loaded": "已入库", "quarantined": "已隔离", "duplicate": "完全重复",
        "read": "读取",
        "acc_none": "未读取到任何数据行。",
        "acc_reading": ("共读取 {read} 行，其中 {loaded} 行已入库（{loaded_share}），{quarantined} 行被隔离，"
                        "{duplicate} 行为完全重复已剔除；{check}。"),
        "acc_ok": "每一行都有去处",
        "acc_bad": "{tables} 的行数对不上（读取 ≠ 入库 + 隔离 + 重复）",
        "q_title": "按原因的隔离行数",
        "q_x": "隔离行数（行）", "q_y": "表：原因",
        "q_none": "没有数据行被隔离。",
        "q_reading": "最常见的隔离原因是“{reason}”，共 {rows} 行，占全部 {total} 条隔离行的 {share}。",
        "examples": {"table_name": "表", "reason_code": "原因代码", "row_number": "行号",
                     "column_name": "列", "raw_value": "原始值", "reason": "说明"},
    },
}


# --------------------------------------------------------------------------- ingest accounting


def ingest_accounting_figure(runs: pd.DataFrame, *, lang: str = "en") -> go.Figure:
    """Stacked horizontal bars per table: rows loaded, quarantined and dropped as exact duplicates.

    Parameters
    ----------
    runs : pandas.DataFrame
        One row per table (several rows of a table are summed): ``table_name``, ``rows_read``,
        ``rows_loaded``, ``rows_quarantined``, ``rows_duplicate`` (row counts; missing = 0).
    lang : {"en", "zh"}
        Language of the title, axis labels and legend.

    Returns
    -------
    plotly.graph_objects.Figure
        Three bar traces (loaded, quarantined, duplicate), one bar per table in the input's order
        (first on top); the hover shows the rows read. A "no data" note when no row was read.
    """
    text = labels_for(_LABELS, lang)
    totals = _run_totals(runs)
    if totals.empty or totals["rows_read"].sum() <= 0:
        return no_data_figure(text["acc_title"], text["no_data"])
    names = totals.index.astype(str).tolist()
    read = totals["rows_read"].to_numpy()
    hover = f"%{{y}}: %{{x:,}} (%{{customdata:,}} {text['read']})<extra>%{{fullData.name}}</extra>"
    fig = go.Figure()
    for column, key, color in (("rows_loaded", "loaded", _LOADED_COLOR),
                               ("rows_quarantined", "quarantined", _QUARANTINE_COLOR),
                               ("rows_duplicate", "duplicate", _DUPLICATE_COLOR)):
        fig.add_trace(go.Bar(x=totals[column].to_numpy(), y=names, name=text[key], orientation="h",
                             marker={"color": color}, customdata=read, hovertemplate=hover))
    fig.update_layout(title={"text": text["acc_title"]}, xaxis_title=text["acc_x"],
                      yaxis_title=text["acc_y"], barmode="stack", showlegend=True)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=names, autorange="reversed")
    return fig


def ingest_accounting_reading(runs: pd.DataFrame, *, lang: str = "en") -> str:
    """One sentence: rows read, the shares loaded, quarantined and dropped as exact duplicates, and
    whether every row is accounted for (read = loaded + quarantined + duplicate, per table).

    Parameters
    ----------
    runs : pandas.DataFrame
        As in :func:`ingest_accounting_figure`.
    lang : {"en", "zh"}

    Returns
    -------
    str
        E.g. ``"12,000 rows were read: 11,892 loaded (99.1%), 96 quarantined and 12 dropped as
        exact duplicates; every row is accounted for."``; when a table does not add up it is named.
    """
    text = labels_for(_LABELS, lang)
    totals = _run_totals(runs)
    read = float(totals["rows_read"].sum()) if not totals.empty else 0.0
    if read <= 0:
        return text["acc_none"]
    parts = totals[["rows_loaded", "rows_quarantined", "rows_duplicate"]].sum(axis=1)
    bad = totals.index[(parts - totals["rows_read"]).abs() > 0].astype(str).tolist()
    sep = ", " if lang == "en" else "、"
    check = text["acc_bad"].format(tables=sep.join(bad)) if bad else text["acc_ok"]
    # counts, not only shares: 5 quarantined rows of 70,000 must not read as "0.0%"
    return text["acc_reading"].format(
        read=format_count(read), loaded=format_count(totals["rows_loaded"].sum()),
        loaded_share=format_percent(totals["rows_loaded"].sum() / read),
        quarantined=format_count(totals["rows_quarantined"].sum()),
        duplicate=format_count(totals["rows_duplicate"].sum()), check=check)


def _run_totals(runs: pd.DataFrame) -> pd.DataFrame:
    """Counts per table (float, NaN as 0), tables in order of first appearance."""
    frame = require_frame(runs, RUN_COLUMNS, "runs")
    counts = frame[list(RUN_COLUMNS[1:])].apply(pd.to_numeric, errors="coerce").fillna(0.0)
    counts.index = frame["table_name"].astype(str).to_numpy()
    return counts.groupby(level=0, sort=False).sum()


# --------------------------------------------------------------------------- quarantine reasons


def quarantine_figure(reasons: pd.DataFrame, *, lang: str = "en") -> go.Figure:
    """Horizontal bars of quarantined rows per ``"table: reason_code"``, the largest on top.

    Parameters
    ----------
    reasons : pandas.DataFrame
        ``table_name``, ``reason_code``, ``rows`` (quarantined rows; repeated pairs are summed,
        pairs with no row left out).
    lang : {"en", "zh"}

    Returns
    -------
    plotly.graph_objects.Figure
        One bar trace, rows descending from the top; a "no data" note when nothing was quarantined.
    """
    text = labels_for(_LABELS, lang)
    counts = _reason_counts(reasons)
    if counts.empty:
        return no_data_figure(text["q_title"], text["q_none"])
    labels = counts.index.tolist()
    fig = go.Figure(go.Bar(x=counts.to_numpy(), y=labels, orientation="h", name=text["quarantined"],
                           marker={"color": _QUARANTINE_COLOR}, text=[format_count(v) for v in counts],
                           textposition="auto", hovertemplate="%{y}: %{x:,}<extra></extra>"))
    fig.update_layout(title={"text": text["q_title"]}, xaxis_title=text["q_x"], yaxis_title=text["q_y"],
                      showlegend=False)
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=labels, autorange="reversed")
    return fig


def quarantine_reading(reasons: pd.DataFrame, *, lang: str = "en") -> str:
    """One sentence naming the most frequent quarantine reason, its rows and share, or saying that
    nothing was quarantined.

    Parameters
    ----------
    reasons : pandas.DataFrame
        As in :func:`quarantine_figure`.
    lang : {"en", "zh"}

    Returns
    -------
    str
    """
    text = labels_for(_LABELS, lang)
    counts = _reason_counts(reasons)
    if counts.empty:
        return text["q_none"]
    total = float(counts.sum())
    return text["q_reading"].format(reason=counts.index[0], rows=format_count(counts.iloc[0]),
                                    share=format_percent(counts.iloc[0] / total),
                                    total=format_count(total))


def _reason_counts(reasons: pd.DataFrame) -> pd.Series:
    """Rows per ``"table: reason_code"`` label, > 0 only, descending (ties by label)."""
    frame = require_frame(reasons, REASON_COLUMNS, "reasons")
    rows = pd.to_numeric(frame["rows"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    labels = frame["table_name"].astype(str) + ": " + frame["reason_code"].astype(str)
    counts = pd.Series(rows, index=labels.to_numpy()).groupby(level=0).sum()
    counts = counts[counts > 0]
    order = sorted(counts.index, key=lambda label: (-counts[label], label))
    return counts.reindex(order)


# --------------------------------------------------------------------------- quarantine examples


def quarantine_examples_table(examples: pd.DataFrame, *, lang: str = "en") -> pd.DataFrame:
    """At most three example rows per (table, reason), with localized column headers.

    Parameters
    ----------
    examples : pandas.DataFrame
        Quarantined cells: ``table_name``, ``reason_code``, ``row_number`` (row in the source
        file), ``column_name``, ``raw_value`` (as read), ``reason`` (human-readable). Not mutated.
    lang : {"en", "zh"}
        en headers: Table, Reason, Row, Column, Value, Why; zh: 表, 原因代码, 行号, 列, 原始值, 说明.

    Returns
    -------
    pandas.DataFrame
        A new frame with the six columns (localized), sorted by table, reason and row number, the
        first :data:`EXAMPLES_PER_REASON` rows of each (table, reason) kept, index 0..n-1. Values
        are as given. Empty (with the headers) when there is no example.
    """
    headers = labels_for(_LABELS, lang)["examples"]
    frame = require_frame(examples, EXAMPLE_COLUMNS, "examples")
    out = frame.loc[:, list(EXAMPLE_COLUMNS)].sort_values(
        ["table_name", "reason_code", "row_number"], kind="stable")
    out = out.groupby(["table_name", "reason_code"], sort=False, dropna=False).head(EXAMPLES_PER_REASON)
    return out.rename(columns=headers).reset_index(drop=True)
