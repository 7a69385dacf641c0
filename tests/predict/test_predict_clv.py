"""`jz predict clv` on a simulated retailer (issue 5): predictions per buyer, the profile's clv
and p_alive columns, segments' average CLV, fits recorded, a rerun replacing its rows; the
BG/NBD fit near the simulator's true parameters; clear errors."""

from __future__ import annotations

import json
import math
import shutil

import pytest
from typer.testing import CliRunner

from jingzhun import pipeline
from jingzhun.cli import app
from jingzhun.errors import ConfigError
from jingzhun.ingest.pseudonymise import load_secrets
from jingzhun.pipeline_predict import CLVSettings, predict_clv
from jingzhun.simulate.retailer import TIMEZONE
from jingzhun.warehouse import Warehouse


@pytest.fixture(scope="module")
def retailer_db(tmp_path_factory):
    """A simulated retailer (3,000 customers), ingested and profiled."""
    out = tmp_path_factory.mktemp("retailer")
    db, _ = pipeline.simulate_and_ingest(out, n_customers=3000, seed=11,
                                         secrets=load_secrets(out / "secret.key"))
    with Warehouse(db) as wh:
        pipeline.profile_build(wh, timezone=TIMEZONE)
        pipeline.segment_rfm(wh, scheme="5")
    truth = json.loads((out / "data" / "truth.json").read_text(encoding="utf-8"))
    return db, truth


@pytest.fixture
def db(retailer_db, tmp_path):
    path = tmp_path / "w.duckdb"
    shutil.copy(retailer_db[0], path)
    return path


def _one(wh, sql: str, params=()):
    return wh.con.execute(sql, list(params)).fetchall()[0]


def test_predictions_profile_columns_segments_and_fits(db):
    with Warehouse(db) as wh:
        result = predict_clv(wh, settings=CLVSettings(margin=0.3))
        buyers = _one(wh, "SELECT count(*) FROM customer_profile WHERE orders > 0")[0]
        assert result["customers"] == buyers
        assert _one(wh, "SELECT count(*), count(DISTINCT customer_id) FROM predictions "
                        "WHERE model = 'clv_bgnbd'") == (buyers, buyers)
        lo, hi, bad = _one(wh, "SELECT min(p_alive), max(p_alive), count(*) FILTER (WHERE NOT "
                               "isfinite(clv) OR clv < 0 OR expected_purchases < 0) FROM predictions")
        assert 0 <= lo <= hi <= 1 and bad == 0
        # the profile carries the run's clv for buyers only
        assert _one(wh, "SELECT count(clv), count(*) FILTER (WHERE orders = 0 AND clv IS NOT NULL) "
                        "FROM customer_profile") == (buyers, 0)
        assert math.isclose(_one(wh, "SELECT sum(clv) FROM customer_profile")[0],
                            result["clv_total"], rel_tol=1e-9)
        segments = pipeline.segment_rfm(wh, scheme="5")["segments"]
        gold = next(s for s in segments if s["segment"] == "gold")
        lost = next(s for s in segments if s["segment"] == "lost")
        assert gold["avg_clv"] > lost["avg_clv"] > 0
        assert [r[0] for r in wh.con.execute("SELECT model FROM model_fits ORDER BY model")
                .fetchall()] == ["clv_bgnbd", "gamma_gamma"]
        # a rerun with another model: its own rows, and the profile follows the latest run
        again = predict_clv(wh, settings=CLVSettings(model="pareto", margin=0.3))
        assert _one(wh, "SELECT count(*) FROM predictions")[0] == 2 * buyers
        assert math.isclose(_one(wh, "SELECT sum(clv) FROM customer_profile")[0],
                            again["clv_total"], rel_tol=1e-9)
        # a rebuilt profile keeps the latest run's clv
        pipeline.profile_build(wh, timezone=TIMEZONE)
        assert math.isclose(_one(wh, "SELECT sum(clv) FROM customer_profile")[0],
                            again["clv_total"], rel_tol=1e-9)


def test_bgnbd_recovers_the_simulators_mean_purchase_rate(retailer_db, db):
    """The simulated orders are BG/NBD purchases plus a campaign's extra orders, cancellations
    and ingest dirt, so parameters are compared loosely: the mean rate r / alpha within 15% and
    the mean dropout a / (a + b) within 0.1 of the truth."""
    truth = retailer_db[1]["bgnbd"]
    with Warehouse(db) as wh:
        fit = next(f for f in predict_clv(wh)["fits"] if f["model"] == "clv_bgnbd")["params"]
    assert fit["r"] / fit["alpha"] == pytest.approx(truth["r"] / truth["alpha"], rel=0.15)
    assert fit["a"] / (fit["a"] + fit["b"]) == pytest.approx(
        truth["a"] / (truth["a"] + truth["b"]), abs=0.1)


def test_cli_json_and_errors(db, tmp_path):
    r = CliRunner().invoke(app, ["predict", "clv", "--db", str(db), "--horizon-weeks", "26",
                                 "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["settings"]["horizon_weeks"] == 26 and {f["model"] for f in out["fits"]} == {
        "clv_bgnbd", "gamma_gamma"}
    assert set(out["fits"][0]["summary"]["r"]) == {"estimate", "std_error", "ci_low", "ci_high"}
    r = CliRunner().invoke(app, ["predict", "clv", "--db", str(db), "--model", "nope"])
    assert r.exit_code == 2 and "unknown CLV model 'nope'" in r.output
    r = CliRunner().invoke(app, ["predict", "clv", "--db", str(db), "--as-of", "2001-01-01"])
    assert r.exit_code == 2 and "no purchases on or before 2001-01-01" in r.output
    with Warehouse(tmp_path / "empty.duckdb") as wh, pytest.raises(ConfigError, match="no orders"):
        predict_clv(wh)


def test_holdout_check_beats_the_naive_baseline_and_writes_nothing(db):
    r = CliRunner().invoke(app, ["predict", "clv", "--db", str(db), "--holdout-weeks", "26",
                                 "--json"])
    assert r.exit_code == 0, r.output
    check = json.loads(r.output)
    groups = check["by_frequency"]
    assert sum(g["n_customers"] for g in groups) == check["customers"]
    assert [g["calibration_frequency"] for g in groups][:2] == ["0", "1"]
    assert check["errors"]["mae_ratio"] < 0.9 and check["errors"]["rmse_ratio"] < 0.9
    with Warehouse(db) as wh:
        assert "predictions" not in wh.table_names()
    r = CliRunner().invoke(app, ["predict", "clv", "--db", str(db), "--holdout-weeks", "0"])
    assert r.exit_code == 2 and "holdout" in r.output
