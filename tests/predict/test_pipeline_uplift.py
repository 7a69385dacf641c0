"""`jz predict uplift` (issue 6): a past campaign from the warehouse -- Hillstrom's e-mail test
through its built-in source, and the simulated retailer's SMS campaign with profile features as of
the day before the send -- learners compared on a held-out part, scores in ``predictions``."""

from __future__ import annotations

import json
from datetime import date

import pytest
from typer.testing import CliRunner

from jingzhun.cli import app
from jingzhun.errors import ConfigError
from jingzhun.pipeline_uplift import campaign_dataset, predict_uplift
from jingzhun.warehouse import Warehouse
from tests.conftest import copy_warehouse


@pytest.fixture
def hillstrom_db(hillstrom_warehouse, tmp_path):
    return copy_warehouse(hillstrom_warehouse, tmp_path)


@pytest.fixture
def retailer(simulated_retailer, tmp_path):
    """A copy of a simulated retailer (3,000 customers) with its past SMS campaign, and its truth."""
    db, truth = simulated_retailer(3000, 5)
    return copy_warehouse(db, tmp_path), truth


@pytest.mark.shared
@pytest.mark.slow
def test_hillstrom_womens_email_visit(hillstrom_db):
    with Warehouse(hillstrom_db) as wh:
        result = predict_uplift(wh, campaign_id="hillstrom_2008", outcome="visit", arm="womens_email")
        # the data set's README: 21,387 Womens e-mails, 21,306 without; visit 0.151400 vs 0.106167
        assert (result["treatment"], result["control"]) == (21_387, 21_306)
        obs = result["observed"]
        assert round(obs["mean_treatment"], 6) == 0.151400 and round(obs["mean_control"], 6) == 0.106167
        assert obs["ci_low"] < 0.0452 < obs["ci_high"]
        assert result["features_as_of"] is None  # Hillstrom publishes no send date
        assert result["as_of"] is None  # and the scores get no date but a given one, not today's
        assert any(f.startswith("attr_history") for f in result["features"])
        chosen = next(r for r in result["learners"] if r["learner"] == result["chosen"])
        assert chosen["qini_auc"] == max(r["qini_auc"] for r in result["learners"]) > 0
        assert len(result["deciles"]) == 10
        rows = wh.con.execute("SELECT count(*), count(DISTINCT customer_id), min(uplift) > -1, "
                              "max(uplift) < 1 FROM predictions WHERE campaign_id = 'hillstrom_2008' "
                              "AND outcome = 'visit'").fetchall()[0]
        assert rows == (42_693, 42_693, True, True)
        # a rerun replaces its rows
        predict_uplift(wh, campaign_id="hillstrom_2008", outcome="visit", arm="womens_email", learner="t",
                       as_of=date(2008, 5, 1))
        assert wh.con.execute("SELECT count(*), min(model), max(model), max(as_of) FROM predictions "
                              "WHERE outcome = 'visit'").fetchall()[0] == (42_693, "uplift_t", "uplift_t",
                                                                          date(2008, 5, 1))


def test_retailer_campaign_uses_the_profile_before_the_send(retailer):
    db, truth = retailer[0], retailer[1]["campaign"]
    with Warehouse(db) as wh:
        data, day = campaign_dataset(wh, truth["campaign_id"], outcome="conversion")
        assert str(day) < truth["send_at"][:10]
        assert len(data.y) == truth["n_eligible"]
        assert "profile_orders" in data.X.columns and "profile_recency_days" in data.X.columns
        result = predict_uplift(wh, campaign_id=truth["campaign_id"], outcome="revenue", learner="t")
        assert result["chosen"] == "t" and result["rows_written"] == truth["n_eligible"]
        # SMS clicks and visits exist only for customers who got the SMS: no counterfactual
        with pytest.raises(ConfigError, match="only recorded for contacted customers"):
            predict_uplift(wh, campaign_id=truth["campaign_id"], outcome="visit")
        with pytest.raises(ConfigError, match="has no sends"):
            predict_uplift(wh, campaign_id="NOPE")


def test_cli_prints_the_comparison_and_exits_2_on_errors(retailer):
    db, campaign = retailer[0], retailer[1]["campaign"]["campaign_id"]
    ok = CliRunner().invoke(app, ["predict", "uplift", "--campaign", campaign, "--learner", "s",
                                  "--db", str(db)])
    assert ok.exit_code == 0, ok.output
    assert "Qini coefficient" in ok.output and "written to predictions" in ok.output
    as_json = CliRunner().invoke(app, ["predict", "uplift", "--campaign", campaign, "--learner", "s",
                                       "--db", str(db), "--json"])
    assert json.loads(as_json.stdout)["chosen"] == "s"
    bad = CliRunner().invoke(app, ["predict", "uplift", "--campaign", campaign, "--outcome", "likes",
                                   "--db", str(db)])
    assert bad.exit_code == 2 and "unknown outcome" in bad.output
