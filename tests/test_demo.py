"""The demo path end to end: simulate a retailer, ingest its raw files, match the recorded dirt."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from jingzhun.cli import app
from jingzhun.pipeline import simulate_and_ingest
from jingzhun.warehouse import Warehouse


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from jingzhun.ingest.pseudonymise import load_secrets

    out = tmp_path_factory.mktemp("demo")
    db, results = simulate_and_ingest(out, n_customers=400, seed=7,
                                      secrets=load_secrets(out / "secret.key"))
    truth = json.loads((out / "data" / "truth.json").read_text())
    return db, results, truth


def test_ingest_accounting_equals_the_simulators_recorded_dirt(demo):
    db, results, truth = demo
    by_table = {r.table: r for r in results}
    for table, dirt in truth["files"].items():
        r = by_table[table]
        assert r.rows_read == dirt["rows"], table
        assert r.rows_duplicate == dirt["exact_duplicates"], table
        assert r.rows_quarantined == dirt["key_conflicts"] + len(dirt["bad_rows"]), table
        assert r.rows_loaded == dirt["rows_loaded"], table
    with Warehouse(db) as wh:
        quarantined = set(wh.con.execute(
            "SELECT table_name, row_number, reason_code FROM quarantine").fetchall())
    expected = {(t, b["row_number"], b["reason_code"])
                for t, d in truth["files"].items() for b in d["bad_rows"]}
    expected |= {(t, n, "duplicate_key_conflict")
                 for t, d in truth["files"].items() for n in d["conflict_rows"]}
    assert quarantined == expected


def test_demo_command_prints_the_accounting(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "d"), "--customers", "150",
                                      "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["rows_read"] == (summary["rows_loaded"] + summary["rows_quarantined"]
                                    + summary["rows_duplicate"])
    assert (tmp_path / "d" / "jingzhun.duckdb").exists()
