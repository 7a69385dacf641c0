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
    assert summary["report"]["path"] == str(tmp_path / "d" / "report.html")
    assert (tmp_path / "d" / "report.html").stat().st_size > 1_000_000  # plotly.js inlined


@pytest.mark.shared
def test_demo_on_a_real_data_set_skips_what_its_tables_cannot_carry(tmp_path):
    """Hillstrom has customers, sends and responses but no orders: the campaign is evaluated and
    its uplift learned; the profile-based steps are skipped with the reason; the report says why."""
    from tests.conftest import HILLSTROM_CSV

    out = tmp_path / "h"
    result = CliRunner().invoke(app, ["demo", "--data", str(HILLSTROM_CSV.parent), "--source",
                                      "hillstrom", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    assert "skipped" not in run["evaluation"] and "skipped" not in run["uplift"]
    assert "no orders" in run["profile"]["skipped"] and "skipped" in run["churn"]
    arms = {a["arm"]: a["recipients"] for a in run["evaluation"]["arms"]}
    assert arms == {"control": 21_306, "mens_email": 21_307, "womens_email": 21_387}
    notes = {s["key"]: s["note"] for s in run["report"]["sections"]}
    assert notes["results"] is None and "no orders or events" in notes["customers"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "USD" in html and (out / "jingzhun.duckdb").exists()
    bad = CliRunner().invoke(app, ["demo", "--data", str(HILLSTROM_CSV.parent), "--out", str(out)])
    assert bad.exit_code == 2 and "--source" in bad.output
