"""`jz profile`, `jz tags` and `jz segment rfm` as a user meets them: --json, exit codes, errors."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from typer.testing import CliRunner

from jingzhun.cli import app
from jingzhun.ingest.pseudonymise import load_secrets
from jingzhun.warehouse import Warehouse
from tests.profile.helpers import insert


@pytest.fixture
def db(tmp_path):
    """A warehouse with two customers: U1 (two orders), U2 (one), pseudonymised like ingest."""
    path = tmp_path / "w.duckdb"
    key = load_secrets(tmp_path / "secret.key")
    u1, u2 = key.pseudonym("U1"), key.pseudonym("U2")
    with Warehouse(path) as wh:
        insert(wh, "orders", [
            {"order_id": "O1", "customer_id": u1, "ordered_at": datetime(2024, 3, 1, 9),
             "status": "completed", "currency": "CNY", "total_amount": 120, "channel": "app"},
            {"order_id": "O2", "customer_id": u1, "ordered_at": datetime(2024, 3, 20, 9),
             "status": "completed", "currency": "CNY", "total_amount": 80, "channel": "app"},
            {"order_id": "O3", "customer_id": u2, "ordered_at": datetime(2024, 3, 25, 9),
             "status": "completed", "currency": "CNY", "total_amount": 30, "channel": "web"}])
    return path


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_build_update_show_and_segments(db, tmp_path):
    r = _run("profile", "build", "--db", str(db), "--as-of", "2024-03-31", "--json")
    assert r.exit_code == 0, r.output
    status = json.loads(r.output)
    assert (status["as_of"], status["customers"]) == ("2024-03-31", 2)

    with Warehouse(db) as wh:
        u2 = load_secrets(tmp_path / "secret.key").pseudonym("U2")
        insert(wh, "orders", [{"order_id": "O4", "customer_id": u2, "currency": "CNY",
                               "ordered_at": datetime(2024, 4, 2, 9), "status": "completed",
                               "total_amount": 10, "channel": "web"}], run="r2")
    r = _run("profile", "update", "--db", str(db), "--json")
    assert r.exit_code == 0, r.output
    status = json.loads(r.output)
    assert (status["as_of"], status["changed_customers"]) == ("2024-04-02", 1)

    r = _run("profile", "show", "U2", "--db", str(db), "--key-file", str(tmp_path / "secret.key"),
             "--json")
    assert r.exit_code == 0, r.output
    card = json.loads(r.output)
    assert card["profile"]["orders"] == 2 and card["profile"]["monetary_net"] == 40.0
    assert card["preferences"] == [{"dim": "channel", "value": "web", "orders": 2, "items": 0,
                                    "amount": 40.0}]
    r = _run("profile", "show", "U2", "--db", str(db), "--key-file", str(tmp_path / "secret.key"))
    assert r.exit_code == 0 and "lifecycle_stage" in r.output

    r = _run("segment", "rfm", "--scheme", "5", "--db", str(db), "--json")
    assert r.exit_code == 0, r.output
    seg = json.loads(r.output)
    assert sum(s["customers"] for s in seg["segments"]) == 2 and seg["scheme"] == "5"


def test_update_before_build_is_one_line_with_a_hint(db):
    r = _run("profile", "update", "--db", str(db))
    assert r.exit_code == 2
    assert "no profile to update" in r.output and "jz profile build" in r.output
    assert "Traceback" not in r.output


def test_unknown_customer_is_named(db, tmp_path):
    assert _run("profile", "build", "--db", str(db)).exit_code == 0
    r = _run("profile", "show", "nobody", "--db", str(db), "--key-file",
             str(tmp_path / "secret.key"))
    assert r.exit_code == 2 and "no customer 'nobody'" in r.output


def test_a_bad_tag_rule_names_the_rule_the_line_and_the_column(tmp_path):
    rules = tmp_path / "tags.yaml"
    rules.write_text("tags:\n  big_spender:\n    description: spends a lot\n"
                     "    expression: monetary > 100\n", encoding="utf-8")
    r = _run("tags", "list", "--rules", str(rules))
    assert r.exit_code == 2
    flat = " ".join(r.output.split())
    assert "big_spender" in flat and "line 2" in flat and "unknown column 'monetary'" in flat
    assert "monetary_net" in flat  # did you mean / the known columns


def test_tags_apply_counts_members(db, tmp_path):
    assert _run("profile", "build", "--db", str(db), "--as-of", "2024-03-31").exit_code == 0
    rules = tmp_path / "tags.yaml"
    rules.write_text("tags:\n  repeat_buyer: orders >= 2\n", encoding="utf-8")
    r = _run("tags", "apply", "--rules", str(rules), "--db", str(db), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["rules"][0]["customers"] == 1


def test_an_unknown_time_zone_is_one_line_with_a_hint(db):
    r = _run("profile", "build", "--db", str(db), "--timezone", "Mars/Base")
    assert r.exit_code == 2
    assert "unknown time zone 'Mars/Base'" in r.output and "Asia/Shanghai" in r.output
    assert "internal error" not in r.output
