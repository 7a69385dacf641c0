"""Data-health figures and readings: row accounting and quarantine reasons, in English and Chinese,
with the numbers of the reading computed from the same input and degenerate inputs handled."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from jingzhun.errors import InputError
from jingzhun.report.health_figures import (
    ingest_accounting_figure,
    ingest_accounting_reading,
    quarantine_examples_table,
    quarantine_figure,
    quarantine_reading,
)


@pytest.fixture
def runs() -> pd.DataFrame:
    # 12,000 rows read; 11,890 loaded (99.1%), 96 quarantined (0.8%), 14 duplicates (0.1%)
    return pd.DataFrame({"table_name": ["orders", "customers"], "rows_read": [10_000, 2_000],
                         "rows_loaded": [9_900, 1_990], "rows_quarantined": [90, 6],
                         "rows_duplicate": [10, 4]})


@pytest.fixture
def reasons() -> pd.DataFrame:
    return pd.DataFrame({"table_name": ["orders", "orders", "customers", "orders"],
                         "reason_code": ["bad_date", "negative_amount", "bad_email", "bad_date"],
                         "rows": [40, 30, 6, 20]})


def test_ingest_accounting_figure(runs):
    fig = ingest_accounting_figure(runs)
    assert [t.name for t in fig.data] == ["Loaded", "Quarantined", "Exact duplicate"]
    assert fig.layout.barmode == "stack"
    assert list(fig.data[0].y) == ["orders", "customers"]
    np.testing.assert_array_equal(fig.data[0].x, [9_900, 1_990])
    np.testing.assert_array_equal(fig.data[1].x, [90, 6])
    np.testing.assert_array_equal(fig.data[2].customdata, [10_000, 2_000])
    assert fig.layout.xaxis.title.text == "Rows (count)" and fig.layout.title.text
    zh = ingest_accounting_figure(runs, lang="zh")
    assert [t.name for t in zh.data] == ["已入库", "已隔离", "完全重复"]
    assert zh.layout.xaxis.title.text == "行数（行）"


def test_ingest_accounting_reading(runs):
    text = ingest_accounting_reading(runs)
    assert text == ("12,000 rows were read: 11,890 loaded (99.1%), 96 quarantined and 14 dropped as "
                    "exact duplicates; every row is accounted for.")
    zh = ingest_accounting_reading(runs, lang="zh")
    assert zh.startswith("共读取 12,000 行，其中 11,890 行已入库（99.1%），96 行被隔离")
    assert "每一行都有去处" in zh


def test_ingest_accounting_names_tables_that_do_not_add_up(runs):
    bad = runs.assign(rows_read=[10_000, 2_001])
    text = ingest_accounting_reading(bad)
    assert "do not add up" in text and text.rstrip(".").endswith("customers") and "orders" not in text
    assert "customers 的行数对不上" in ingest_accounting_reading(bad, lang="zh")


def test_ingest_accounting_sums_rows_of_a_table(runs):
    doubled = pd.concat([runs, runs], ignore_index=True)
    fig = ingest_accounting_figure(doubled)
    np.testing.assert_array_equal(fig.data[0].x, [19_800, 3_980])
    assert ingest_accounting_reading(doubled).startswith("24,000 rows were read: 23,780 loaded (99.1%)")


@pytest.mark.parametrize("frame", [
    pd.DataFrame(columns=["table_name", "rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate"]),
    pd.DataFrame({"table_name": ["orders"], "rows_read": [0], "rows_loaded": [0], "rows_quarantined": [0],
                  "rows_duplicate": [0]}),
])
def test_ingest_accounting_without_rows(frame):
    fig = ingest_accounting_figure(frame)
    assert len(fig.data) == 0 and fig.layout.annotations[0].text == "No data"
    assert ingest_accounting_reading(frame) == "No rows were read."
    assert ingest_accounting_reading(frame, lang="zh") == "未读取到任何数据行。"


def test_quarantine_figure_and_reading(reasons):
    fig = quarantine_figure(reasons)
    assert list(fig.data[0].y) == ["orders: bad_date", "orders: negative_amount", "customers: bad_email"]
    np.testing.assert_array_equal(fig.data[0].x, [60, 30, 6])
    assert fig.layout.yaxis.autorange == "reversed"  # the largest on top
    assert fig.layout.xaxis.title.text == "Quarantined rows (count)"
    text = quarantine_reading(reasons)
    assert "“orders: bad_date” with 60 rows, 62.5% of the 96 quarantined rows" in text
    zh = quarantine_reading(reasons, lang="zh")
    assert zh == "最常见的隔离原因是“orders: bad_date”，共 60 行，占全部 96 条隔离行的 62.5%。"
    assert quarantine_figure(reasons, lang="zh").layout.xaxis.title.text == "隔离行数（行）"


def test_quarantine_nothing():
    empty = pd.DataFrame({"table_name": ["orders"], "reason_code": ["bad_date"], "rows": [0]})
    assert quarantine_reading(empty) == "No row was quarantined."
    assert quarantine_reading(empty, lang="zh") == "没有数据行被隔离。"
    fig = quarantine_figure(empty.iloc[:0])
    assert isinstance(fig, go.Figure) and len(fig.data) == 0 and fig.layout.annotations


def test_quarantine_examples_table():
    examples = pd.DataFrame({
        "table_name": ["orders"] * 5 + ["customers"],
        "reason_code": ["bad_date"] * 4 + ["negative_amount", "bad_email"],
        "row_number": [9, 3, 7, 5, 2, 4], "column_name": ["ordered_at"] * 4 + ["total_amount", "email"],
        "raw_value": ["x", "y", "z", "w", "-1", "a@"], "reason": ["not a date"] * 4 + ["negative", "bad"]})
    before = examples.copy()
    table = quarantine_examples_table(examples)
    pd.testing.assert_frame_equal(examples, before)  # the input is not mutated
    assert list(table.columns) == ["Table", "Reason", "Row", "Column", "Value", "Why"]
    assert len(table) == 5
    assert list(table.loc[table["Reason"] == "bad_date", "Row"]) == [3, 5, 7]  # first three by row
    zh = quarantine_examples_table(examples, lang="zh")
    assert list(zh.columns) == ["表", "原因代码", "行号", "列", "原始值", "说明"]
    empty = quarantine_examples_table(examples.iloc[:0])
    assert empty.empty and list(empty.columns)[0] == "Table"


def test_bad_input_raises(runs, reasons):
    with pytest.raises(InputError, match="lang"):
        ingest_accounting_reading(runs, lang="fr")
    with pytest.raises(InputError, match="lang"):
        quarantine_figure(reasons, lang="de")
    with pytest.raises(InputError, match="rows_duplicate"):
        ingest_accounting_figure(runs.drop(columns="rows_duplicate"))
    with pytest.raises(InputError, match="DataFrame"):
        quarantine_reading([1, 2])
