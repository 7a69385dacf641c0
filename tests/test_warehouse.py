"""The warehouse: canonical tables from the contract, atomic writes, Ibis reads."""

from __future__ import annotations

import pytest

from jingzhun import contract
from jingzhun.errors import ConfigError, ContractError
from jingzhun.warehouse import Warehouse


def test_creates_every_canonical_and_system_table(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        names = set(wh.table_names())
    assert set(contract.TABLES) | set(contract.SYSTEM_TABLE_COLUMNS) <= names


def test_a_failed_transaction_leaves_nothing(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        with pytest.raises(RuntimeError), wh.transaction() as con:
            con.execute("INSERT INTO products (product_id) VALUES ('P1')")
            raise RuntimeError("boom")
        assert wh.count("products") == 0


def test_reads_back_as_ibis_with_contract_types(tmp_path):
    path = tmp_path / "w.duckdb"
    with Warehouse(path) as wh:
        wh.con.execute("INSERT INTO orders (order_id, customer_id, ordered_at, status, currency, "
                       "total_amount) VALUES ('O1', 'c', TIMESTAMP '2024-01-01', 'completed', "
                       "'CNY', 12.5)")
    with Warehouse(path) as wh:  # persisted
        t = wh.table("orders")
        assert t.schema()["total_amount"].is_decimal()
        assert t.schema()["ordered_at"].is_timestamp()
        assert float(t.total_amount.sum().execute()) == 12.5
        with pytest.raises(ContractError, match="no table 'nope'"):
            wh.table("nope")


def test_missing_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        Warehouse(tmp_path / "no" / "such" / "w.duckdb")


def test_contract_declares_keys_that_are_columns():
    for table in contract.TABLES.values():
        assert set(table.key) <= set(table.column_names), table.name
        for col in table.columns:
            if col.kind == "enum":
                assert col.allowed, col.name
