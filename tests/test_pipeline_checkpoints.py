"""The profile's checkpoints (``pipeline._materializer``): what is written is what is read back.

DuckDB 2.0 read back a temporary table made by Ibis' ``create_table(temp=True)`` (a CTAS) as
empty once more than one row group had been inserted into it inside a transaction on a file-backed
warehouse; the in-memory warehouses of the feature tests never showed it.
"""

from __future__ import annotations

from jingzhun import pipeline
from jingzhun.warehouse import Warehouse

ROWS = 300_000  # more than two of DuckDB's row groups (122,880 rows)


def test_a_large_temporary_checkpoint_reads_back_in_a_transaction(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.con.execute(f"CREATE TABLE numbers AS SELECT range AS n, range % 7 = 0 AS is_seventh "
                       f"FROM range({ROWS})")
        materialize = pipeline._materializer(wh, {"kept": "kept_numbers"})
        with wh.transaction():
            numbers = wh.ibis().table("numbers")
            tmp = materialize("numbers", numbers.mutate(twice=numbers.n * 2))
            kept = materialize("kept", tmp.filter(tmp.is_seventh).select("n", "twice"))
            assert tmp.count().to_pyarrow().as_py() == ROWS
            assert kept.twice.sum().to_pyarrow().as_py() == 2 * sum(range(0, ROWS, 7))
        assert wh.con.execute("SELECT count(*) FROM kept_numbers").fetchall() == [(len(range(0, ROWS, 7)),)]
        pipeline._drop_temporary(wh)
        assert wh.con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall() == [(0,)]
