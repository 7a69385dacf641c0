"""Mapping files: validation errors name the key and the line."""

from __future__ import annotations

import pytest

from jingzhun.errors import ConfigError
from jingzhun.ingest.mapping import load_mapping, parse_mapping


def test_shorthand_and_full_specs(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("table: customers\ntimezone: Asia/Shanghai\ncolumns:\n  customer_id: 客户编号\n"
                 "  gender: {from: 性别, values: {男: male}}\n  country: {const: CN}\n",
                 encoding="utf-8")
    m = load_mapping(p)
    assert m.columns["customer_id"].source == "客户编号"
    assert m.columns["gender"].values == {"男": "male"}
    assert m.columns["country"].const == "CN" and m.timezone == "Asia/Shanghai"


@pytest.mark.parametrize("text, needle", [
    ("table: orders\ncolumns:\n  order_idd: x\n", "line 3: columns.order_idd: not a column of "
                                                   "orders (did you mean 'order_id'?)"),
    ("table: orders\nfile:\n  delimeter: ';'\n", "line 3: file.delimeter: unknown key "
                                                  "'delimeter' (did you mean 'delimiter'?)"),
    ("table: orders\ndedupe: {keep: newest}\n", "line 2: dedupe.keep"),
    ("table: order\n", "line 1: table: unknown table 'order'"),
    ("table: orders\ncolumns:\n  order_id: {from: a, const: b}\n", "exactly one of"),
    ("table: orders\ncolumns: [\n", "not valid YAML"),
])
def test_errors_name_key_and_line(tmp_path, text, needle):
    p = tmp_path / "m.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_mapping(p)
    assert needle in str(exc.value)


def test_mapping_for_another_table_is_refused():
    with pytest.raises(ConfigError, match="mapping is for table 'orders'"):
        parse_mapping({"table": "orders"}, table="customers")
