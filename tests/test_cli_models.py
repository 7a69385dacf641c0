"""The model commands of ``jz`` (cli_models.py): churn, clusters and interest topics print their
tables, ``--json`` prints one object, and errors exit 2 with one line and a hint. (`jz predict
uplift` is tested with its pipeline, tests/predict/test_pipeline_uplift.py.)"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from jingzhun.cli import app
from jingzhun.warehouse import Warehouse
from tests.conftest import copy_warehouse


@pytest.fixture
def db(simulated_retailer, tmp_path):
    return str(copy_warehouse(simulated_retailer(3000, 5)[0], tmp_path))


def _run(*args):
    return CliRunner().invoke(app, list(args))


def test_churn_prints_the_backtest_against_both_baselines(db):
    res = _run("predict", "churn", "--db", db, "--dry-run")
    assert res.exit_code == 0, res.output
    for text in ("ROC-AUC", "BG/NBD 1 - P(alive)", "BG/NBD P(no purchase)", "risk decile",
                 "not written: dry run"):
        assert text in res.output
    with Warehouse(db) as wh:
        assert "churn_predictions" not in wh.table_names()
    data = json.loads(_run("predict", "churn", "--db", db, "--json").stdout)
    assert data["table"] == "churn_predictions" and data["customers"] > 0
    bad = _run("predict", "churn", "--db", db, "--horizon-days", "400")
    assert bad.exit_code == 2 and "hint" in bad.output.lower()


def test_cluster_names_and_describes_clusters_in_both_languages(db):
    res = _run("segment", "cluster", "--k", "3", "--db", db)
    assert res.exit_code == 0, res.output
    assert "3 clusters (given)" in res.output and "整体" in res.output and " vs " in res.output
    data = json.loads(_run("segment", "cluster", "--db", db, "--json", "--seed", "1").stdout)
    assert data["k_chosen_by"] == "silhouette" and len(data["clusters"]) == data["k"]
    bad = _run("segment", "cluster", "--features", "orders,no_such_column", "--db", db)
    assert bad.exit_code == 2 and "no_such_column" in bad.output


def test_topics_show_top_words_and_tag_customers(db):
    res = _run("segment", "topics", "--topics", "4", "--db", db)
    assert res.exit_code == 0, res.output
    assert "4 interest topics (given)" in res.output and "customers tagged" in res.output
    with Warehouse(db) as wh:
        assert wh.con.execute("SELECT count(DISTINCT topic) FROM interest_topics").fetchone()[0] == 4
