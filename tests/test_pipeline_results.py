"""``stage_results``: each model run's JSON result kept for the report, newest first."""

from __future__ import annotations

from jingzhun.pipeline_results import latest_result, record_result
from jingzhun.warehouse import Warehouse


def test_the_newest_result_of_a_stage_and_key_comes_back(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        assert latest_result(wh, "uplift") is None
        record_result(wh, "uplift", {"run_id": "a", "as_of": "2025-06-01", "qini": 0.1}, key="c1")
        record_result(wh, "uplift", {"run_id": "b", "as_of": "2025-06-02", "qini": float("nan")},
                      key="c2")
        record_result(wh, "churn", {"run_id": "c", "as_of": "2025-06-03"})
        assert latest_result(wh, "uplift", "c1")["run_id"] == "a"
        newest = latest_result(wh, "uplift")
        assert newest == {"run_id": "b", "as_of": "2025-06-02", "qini": None}  # NaN -> null
        assert latest_result(wh, "churn")["run_id"] == "c" and latest_result(wh, "topics") is None
