"""The warehouse: a DuckDB file by default (``./jingzhun.duckdb``), read back as Ibis tables.

Writes happen in one transaction (``Warehouse.transaction``): an error inside leaves nothing
half-written. Canonical and system tables are created from ``contract.py`` on open.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import duckdb

from jingzhun import contract
from jingzhun.errors import ConfigError, ContractError

DEFAULT_DB = "jingzhun.duckdb"
DB_ENV_VAR = "JINGZHUN_DB"


def default_db_path() -> Path:
    """The warehouse path: ``$JINGZHUN_DB`` if set, else ``./jingzhun.duckdb``."""
    return Path(os.environ.get(DB_ENV_VAR, DEFAULT_DB))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_ddl(name: str) -> str:
    """``CREATE TABLE IF NOT EXISTS`` statement for a canonical or system table."""
    if name in contract.SYSTEM_TABLE_COLUMNS:
        cols = contract.SYSTEM_TABLE_COLUMNS[name]
    else:
        table = contract.get_table(name)
        cols = tuple((c.name, c.sql_type) for c in table.columns) + contract.LINEAGE_COLUMNS
    body = ", ".join(f"{_quote(n)} {t}" for n, t in cols)
    return f"CREATE TABLE IF NOT EXISTS {_quote(name)} ({body})"


class Warehouse:
    """An open warehouse.

    Parameters
    ----------
    path : str or Path, optional
        DuckDB file; ``":memory:"`` for a throw-away warehouse. Default: ``default_db_path()``.
    memory_limit : str, optional
        DuckDB memory limit (e.g. ``"2GB"``); beyond it DuckDB spills to ``<path>.tmp/``.
    threads : int, optional
        DuckDB worker threads (default: all cores).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        memory_limit: str | None = None,
        threads: int | None = None,
    ):
        self.path = str(path if path is not None else default_db_path())
        if self.path != ":memory:":
            parent = Path(self.path).parent
            if not parent.exists():
                raise ConfigError(f"warehouse folder {parent} does not exist",
                                  hint="create it or pass another --db path")
        try:
            self.con = duckdb.connect(self.path)
        except duckdb.Error as exc:
            raise ConfigError(f"cannot open warehouse {self.path}: {exc}",
                              hint="is it a DuckDB file, and not open in another program?") from exc
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar = false")  # the CLI draws its own
        if memory_limit:
            self.con.execute(f"SET memory_limit = '{memory_limit}'")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        if self.path != ":memory:":
            self.con.execute(f"SET temp_directory = '{self.path}.tmp'")
        self._ibis = None
        self.create_tables()

    # -- schema -----------------------------------------------------------------------------
    def create_tables(self) -> None:
        """Create every canonical and system table that does not exist yet."""
        for name in (*contract.TABLES, *contract.SYSTEM_TABLE_COLUMNS):
            self.con.execute(table_ddl(name))

    def table_names(self) -> list[str]:
        """Names of the tables in the warehouse (main schema)."""
        rows = self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "ORDER BY table_name"
        ).fetchall()
        return [r[0] for r in rows]

    # -- writes -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Run the block in one transaction: commit on success, roll back on any error."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        else:
            self.con.execute("COMMIT")

    # -- reads ------------------------------------------------------------------------------
    def ibis(self):
        """An Ibis DuckDB backend over this warehouse's connection."""
        if self._ibis is None:
            import ibis

            self._ibis = ibis.duckdb.from_connection(self.con)
        return self._ibis

    def table(self, name: str):
        """The table ``name`` as an Ibis table expression."""
        if name not in self.table_names():
            raise ContractError(f"the warehouse {self.path} has no table {name!r}",
                                hint=f"tables: {', '.join(self.table_names())}")
        return self.ibis().table(name)

    def count(self, name: str) -> int:
        """Number of rows in table ``name``."""
        return self.con.execute(f"SELECT count(*) FROM {_quote(name)}").fetchall()[0][0]

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with contextlib.suppress(duckdb.Error):
            self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
