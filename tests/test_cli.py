"""`jz` as a user meets it: exit codes, --json, one-line errors naming file/key/line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from jingzhun.cli import app

HEADER = "order_id,customer_id,ordered_at,status,currency,total_amount"


@pytest.fixture
def run(tmp_path):
    db = tmp_path / "w.duckdb"

    def _run(*args):
        return CliRunner().invoke(app, [*args, "--db", str(db)] if args[0] == "ingest" else args)

    return _run


def test_clean_file_exits_0_with_json_accounting(run, tmp_path):
    f = tmp_path / "o.csv"
    f.write_text(f"{HEADER}\nO1,U1,2024-01-01,completed,CNY,5\n")
    r = run("ingest", str(f), "--table", "orders", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert {k: out[k] for k in ("rows_read", "rows_loaded", "rows_quarantined",
                                "rows_duplicate")} == {"rows_read": 1, "rows_loaded": 1,
                                                       "rows_quarantined": 0, "rows_duplicate": 0}
    assert out["quarantine_reasons"] == {}


def test_quarantined_rows_exit_1_and_show_in_the_report(run, tmp_path):
    f = tmp_path / "o.csv"
    f.write_text(f"{HEADER}\nO1,U1,2024-01-01,completed,CNY,5\nO2,U1,someday,completed,CNY,5\n")
    r = run("ingest", str(f), "--table", "orders", "--json")
    assert r.exit_code == 1
    assert json.loads(r.output)["quarantine_reasons"] == {"bad_date": 1}
    rep = run("ingest", "report", "--json")
    assert rep.exit_code == 0, rep.output
    report = json.loads(rep.output)
    assert report["reasons"][0]["reason_code"] == "bad_date"
    assert report["reasons"][0]["examples"][0]["raw_value"] == "someday"
    text = run("ingest", "report")
    assert "someday" in text.output and "row 2" in text.output


@pytest.mark.parametrize("content, args, message", [
    ("", ["--table", "orders"], "e.csv: the file is empty"),
    (f"{HEADER}\n", ["--table", "ordres"], "unknown table 'ordres'"),
    ("order_id\nO1\n", ["--table", "orders"], "missing required column 'customer_id'"),
])
def test_errors_exit_2_with_one_line_and_no_traceback(run, tmp_path, content, args, message):
    f = tmp_path / "e.csv"
    f.write_text(content)
    r = run("ingest", str(f), *args)
    assert r.exit_code == 2
    assert message in r.output
    assert "Traceback" not in r.output


def test_mapping_typo_names_the_key_and_line(run, tmp_path):
    f = tmp_path / "o.csv"
    f.write_text(f"{HEADER}\nO1,U1,2024-01-01,completed,CNY,5\n")
    m = tmp_path / "m.yaml"
    m.write_text("table: orders\ncolumns:\n  order_id: order_id\n  ordered_at:\n"
                 "    from: ordered_at\n    fromats: ['%Y-%m-%d']\n")
    r = run("ingest", str(f), "--mapping", str(m))
    assert r.exit_code == 2
    assert "line 6" in r.output and "fromats" in r.output and "formats" in r.output


def test_missing_file_and_binary_file(run, tmp_path):
    r = run("ingest", str(tmp_path / "nope.csv"), "--table", "orders")
    assert r.exit_code == 2 and "nope.csv: no such file" in r.output
    b = tmp_path / "b.csv"
    b.write_bytes(b"\x00\x01\x02\x03" * 1000)
    r = run("ingest", str(b), "--table", "orders")
    assert r.exit_code == 2 and "binary" in r.output


def test_help_explains_the_commands():
    r = CliRunner().invoke(app, ["--help"])
    assert r.exit_code == 0 and "ingest" in r.output and "demo" in r.output
    r = CliRunner().invoke(app, ["ingest", "load", "--help"])
    assert r.exit_code == 0 and "--mapping" in r.output and "--source" in r.output
