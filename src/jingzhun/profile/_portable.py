"""Small portable pieces Ibis lacks: local wall-clock time, and a division that never raises.

Ibis has no portable "convert to time zone" operation (casting to ``timestamp('Asia/Shanghai')``
changes the label, not the wall clock), so ``local_timestamp`` calls each backend's own function
through an Ibis builtin: DuckDB's ``timezone(tz, timezone('UTC', ts))`` and Spark's
``from_utc_timestamp(ts, tz)``. Written by hand because no library does it; two lines per backend.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt

from jingzhun.errors import ConfigError


@ibis.udf.scalar.builtin(name="timezone")
def _duckdb_timezone(tz: str, ts: dt.timestamp) -> dt.timestamp:
    """DuckDB: naive UTC -> TIMESTAMPTZ (``tz='UTC'``), TIMESTAMPTZ -> naive wall clock in ``tz``."""


@ibis.udf.scalar.builtin(name="from_utc_timestamp")
def _spark_from_utc(ts: dt.timestamp, tz: str) -> dt.timestamp:
    """Spark: the wall clock in ``tz`` of a UTC timestamp."""


def backend_name(table: ibis.Table) -> str:
    """Name of the backend ``table`` is bound to (``"duckdb"`` for unbound memtables)."""
    try:
        return table._find_backend(use_default=True).name
    except Exception:  # noqa: BLE001 -- an unbound expression runs on the default backend
        return "duckdb"


def local_timestamp(ts: ibis.Value, tz: str, backend: str) -> ibis.Value:
    """Wall-clock time in time zone ``tz`` (IANA name) of the naive UTC timestamp ``ts``."""
    if tz == "UTC":
        return ts
    if backend == "duckdb":
        return _duckdb_timezone(tz, _duckdb_timezone("UTC", ts))
    if backend == "pyspark":
        return _spark_from_utc(ts, tz)
    raise ConfigError(f"local times are not implemented for the {backend!r} backend",
                      hint="use timezone = 'UTC' in the profile settings, or DuckDB / Spark")


def ratio(numerator: ibis.Value, denominator: ibis.Value) -> ibis.Value:
    """``numerator / denominator`` as float64, null where the denominator is 0 or null (Spark's
    ANSI mode raises on division by zero; DuckDB would return null)."""
    return numerator.cast("float64") / denominator.cast("float64").nullif(0.0)


def attach(table: ibis.Table, other: ibis.Table, key: str = "customer_id") -> ibis.Table:
    """``table`` left-joined with ``other`` on ``key``, keeping ``table``'s key column once."""
    extra = [other[c] for c in other.columns if c != key]
    return table.left_join(other, table[key] == other[key]).select(table, *extra)
