"""Canonical rows written straight into a throw-away warehouse, for profile tests."""

from __future__ import annotations

import pandas as pd

from jingzhun import contract
from jingzhun.warehouse import Warehouse


def insert(wh: Warehouse, table: str, rows: list[dict], *, run: str = "r1") -> None:
    """Append ``rows`` (dicts of canonical column -> value; missing columns null) to ``table``."""
    if not rows:
        return
    cols = contract.get_table(table).column_names
    df = pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols).astype(object)
    df["ingest_run_id"] = [r.get("ingest_run_id", run) for r in rows]
    wh.con.register("_rows", df)
    try:
        wh.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
    finally:
        wh.con.unregister("_rows")


def profile_frame(wh: Warehouse) -> pd.DataFrame:
    """``customer_profile`` sorted by customer, index reset."""
    return wh.con.execute("SELECT * FROM customer_profile ORDER BY customer_id").df()
