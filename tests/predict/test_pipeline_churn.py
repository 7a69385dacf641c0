"""`predict_churn` on a simulated retailer: a backtest whose windows do not overlap, the model
against the BTYD baseline, one scored row per buyer in ``churn_predictions``, a rerun replacing
its rows, a JSON-serialisable result; clear errors where the data cannot carry a backtest."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from jingzhun.errors import ConfigError, ModelError
from jingzhun.pipeline_churn import CHURN_TABLE, predict_churn
from jingzhun.simulate.retailer import TIMEZONE
from jingzhun.warehouse import Warehouse
from tests.conftest import copy_warehouse

END = date(2025, 6, 30)  # the simulator's last day


@pytest.fixture
def db(simulated_retailer, tmp_path):
    """A copy of a simulated retailer (3,000 customers), ingested and profiled as of its last day."""
    return copy_warehouse(simulated_retailer(3000, 5)[0], tmp_path)


def _buyers(wh, as_of: date) -> int:
    """Customers with a non-cancelled purchase on a local day up to ``as_of`` (Asia/Shanghai)."""
    return wh.con.execute(
        "SELECT count(DISTINCT customer_id) FROM orders WHERE customer_id IS NOT NULL AND "
        "status != 'cancelled' AND total_amount >= 0 AND "
        "CAST(ordered_at + INTERVAL 8 HOUR AS DATE) <= ?", [as_of]).fetchone()[0]


def test_backtest_scores_and_table(db):
    with Warehouse(db) as wh:
        result = predict_churn(wh)
        json.dumps(result)
        assert result["as_of"] == str(END) and result["timezone"] == TIMEZONE
        assert result["model"] == "churn_lgbm" and result["table"] == CHURN_TABLE
        bt = result["backtest"]
        assert bt["train_as_of"] == str(END - timedelta(days=180))
        assert bt["test_as_of"] == result["fit"]["as_of"] == str(END - timedelta(days=90))
        assert bt["model"]["n"] == bt["baseline"]["n"] == _buyers(wh, END - timedelta(days=90))
        assert bt["model"]["roc_auc"] > bt["baseline"]["roc_auc"]
        assert bt["model"]["roc_auc"] > 0.7 and bt["model"]["brier"] < bt["baseline"]["brier"]
        assert [r["decile"] for r in result["lift"]] == list(range(1, 11))
        assert result["lift"] == bt["model"]["lift"] and result["lift"][0]["lift"] > 1
        assert len(bt["model"]["calibration"]) == 10
        feats = [f["feature"] for f in result["feature_importance"]]
        assert len(feats) == 10 and "recency_days" in feats

        buyers = _buyers(wh, END)
        assert result["customers"] == buyers
        n, distinct, lo, hi, deciles = wh.con.execute(
            f"SELECT count(*), count(DISTINCT customer_id), min(churn_prob), max(churn_prob), "
            f"count(DISTINCT risk_decile) FROM {CHURN_TABLE} WHERE model = 'churn_lgbm' AND "
            f"as_of = ? AND horizon_days = 90 AND run_id = ?",
            [END, result["run_id"]]).fetchone()
        assert (n, distinct, deciles) == (buyers, buyers, 10) and 0 <= lo <= hi <= 1
        riskiest = wh.con.execute(f"SELECT min(churn_prob) FROM {CHURN_TABLE} "
                                  "WHERE risk_decile = 1").fetchone()[0]
        assert riskiest == pytest.approx(result["score_deciles"][0]["churn_prob_min"])
        assert sum(d["n"] for d in result["score_deciles"]) == buyers
        # everyone scored is in the profile as a buyer; nobody else is
        assert wh.con.execute(f"SELECT count(*) FROM {CHURN_TABLE} c JOIN customer_profile p "
                              "USING (customer_id) WHERE p.orders > 0").fetchone()[0] == buyers

        # a rerun replaces the model's rows; another estimator keeps its own
        again = predict_churn(wh)
        assert again["backtest"]["model"]["roc_auc"] == pytest.approx(bt["model"]["roc_auc"])
        from sklearn.linear_model import LogisticRegression

        other = predict_churn(wh, estimator=LogisticRegression(max_iter=300))
        assert other["model"] == "churn_logisticregression"
        rows = dict(wh.con.execute(f"SELECT model, count(*) FROM {CHURN_TABLE} GROUP BY 1")
                    .fetchall())
        assert rows == {"churn_lgbm": buyers, "churn_logisticregression": buyers}
        assert wh.con.execute(f"SELECT count(DISTINCT run_id) FROM {CHURN_TABLE} WHERE model = "
                              "'churn_lgbm'").fetchone()[0] == 1


def test_dry_run_and_an_earlier_date(db):
    with Warehouse(db) as wh:
        result = predict_churn(wh, as_of=date(2025, 5, 31), horizon_days=60, write=False)
        assert result["table"] is None and CHURN_TABLE not in wh.table_names()
        assert result["backtest"]["train_as_of"] == "2025-01-31"
        assert result["customers"] == _buyers(wh, date(2025, 5, 31))


def test_clear_errors(db, tmp_path):
    with Warehouse(db) as wh:
        with pytest.raises(ConfigError, match="no purchases on or before") as err:
            predict_churn(wh, horizon_days=300)  # T1 = as_of - 600 days, before the first order
        assert "horizon" in err.value.hint
        with pytest.raises(ConfigError, match="not fully observed"):
            predict_churn(wh, as_of=END + timedelta(days=10))
        with pytest.raises(ConfigError, match="horizon"):
            predict_churn(wh, horizon_days=0)
        # a window in which nobody buys: one class only
        wh.con.execute("DELETE FROM orders WHERE ordered_at > '2025-01-01'")
        wh.con.execute("INSERT INTO events (event_id, customer_id, occurred_at, type, "
                       "ingest_run_id) VALUES ('late', NULL, '2025-06-30 01:00:00', 'view', 'x')")
        with pytest.raises(ModelError, match="only the class") as err:
            predict_churn(wh)
        assert err.value.hint
    with Warehouse(tmp_path / "empty.duckdb") as wh:
        with pytest.raises(ConfigError, match="no orders"):
            predict_churn(wh)
