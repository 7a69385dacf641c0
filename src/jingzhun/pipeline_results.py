"""The results of the model stages, kept for the report: ``stage_results`` has one row per run of
a stage (``stage``, ``key`` -- e.g. the campaign -- ``run_id``, ``as_of``, ``recorded_at`` and
the JSON result the command printed). The tables a stage writes (``predictions``, ``segments``,
``customer_topics`` ...) hold its per-customer output; this table holds what describes the run
as a whole (a backtest's ROC curve, the learners' Qini curves, the clusters' descriptions), which
``jz report`` draws without refitting anything.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from jingzhun.pipeline import jsonable
from jingzhun.warehouse import Warehouse

STAGE_RESULTS_TABLE = "stage_results"


def record_result(wh: Warehouse, stage: str, result: dict, *, key: str = "",
                  as_of: date | str | None = None, run_id: str | None = None) -> None:
    """Append one run's JSON-ready ``result`` of ``stage`` (e.g. ``"churn"``, ``"uplift"``)."""
    wh.con.execute(f"""CREATE TABLE IF NOT EXISTS {STAGE_RESULTS_TABLE} (
        stage VARCHAR, key VARCHAR, run_id VARCHAR, as_of DATE, recorded_at TIMESTAMP,
        result JSON)""")
    wh.con.execute(f"INSERT INTO {STAGE_RESULTS_TABLE} VALUES (?, ?, ?, ?, ?, ?)",
                   [stage, key, run_id or result.get("run_id"), as_of or result.get("as_of"),
                    datetime.now(UTC).replace(tzinfo=None),
                    json.dumps(jsonable(result), ensure_ascii=False, default=str)])


def latest_result(wh: Warehouse, stage: str, key: str | None = None) -> dict | None:
    """The newest recorded result of ``stage`` (of ``key`` when given), or None."""
    if STAGE_RESULTS_TABLE not in wh.table_names():
        return None
    where, params = "stage = ?", [stage]
    if key is not None:
        where, params = where + " AND key = ?", params + [key]
    row = wh.con.execute(f"SELECT result FROM {STAGE_RESULTS_TABLE} WHERE {where} "
                         "ORDER BY recorded_at DESC LIMIT 1", params).fetchone()
    return None if row is None else json.loads(row[0])
