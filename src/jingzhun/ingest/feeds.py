"""Feeds: one staged file (or a query over several) into several canonical tables.

A built-in source (``ingest/sources/``) stages its file(s) once with ``stage_named`` and then
loads each canonical table from a SQL query over the staged tables with ``ingest_query``. Each
query yields ``_row`` (the source record number it came from), ``_source`` (file or file#sheet)
and text columns named as the feed's mapping expects. Each feed is its own ingest run with its
own accounting; for a feed that groups rows (one order from many invoice lines) ``rows_read``
counts the groups.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from jingzhun.errors import InputError
from jingzhun.ingest.load import (
    IngestResult,
    already_loaded,
    file_sha256,
    load_staged,
    new_run_id,
    skip_if_loaded,
)
from jingzhun.ingest.mapping import Mapping, parse_mapping
from jingzhun.ingest.pseudonymise import Secrets
from jingzhun.ingest.read import FileFormat, ProgressFn, StagedFile, sniff, stage


def stage_named(con, path: Path, name: str, *, fmt: FileFormat | None = None,
                progress: ProgressFn | None = None, required: tuple[str, ...] = (),
                expected: str = "", **sniff_options) -> StagedFile:
    """Stage ``path`` into temp table ``name`` with the file's header names as columns.

    Malformed lines are kept in ``<name>_malformed`` (``_row``, ``_source``, ``line_text``,
    ``error``) so that a feed can account for them. A file without the ``required`` columns is
    an ``InputError`` saying it is not the ``expected`` file and listing the columns found.
    """
    fmt = fmt or sniff(path, **sniff_options)
    staged = stage(con, path, fmt, progress=progress)
    missing = [c for c in required if c not in staged.columns]
    if missing:
        raise InputError(f"{path}: not {expected}: missing column(s) {', '.join(missing)}; "
                         f"columns found: {', '.join(staged.columns)}")
    renames = ", ".join(f'c{i} AS "{h}"' for i, h in enumerate(staged.columns))
    con.execute(f'DROP TABLE IF EXISTS "{name}"')
    con.execute(f'CREATE TEMP TABLE "{name}" AS SELECT _row, _source, {renames} FROM _raw')
    con.execute(f'DROP TABLE IF EXISTS "{name}_malformed"')
    con.execute(f'CREATE TEMP TABLE "{name}_malformed" AS SELECT * FROM _malformed')
    con.execute("DROP TABLE IF EXISTS _raw")
    return staged


def ingest_query(wh, sql: str, table: str, mapping: Mapping, *, source_label: str,
                 sha256: str, secrets: Secrets, source_name: str | None = None,
                 malformed_sql: str | None = None) -> IngestResult:
    """Load the rows of ``sql`` (see module doc) into ``table`` through ``mapping``.

    ``malformed_sql`` (optional) selects malformed lines (``_row``, ``_source``, ``line_text``,
    ``error``) to quarantine with this feed. Loading the same ``sha256`` into the same table twice
    loads nothing the second time.
    """
    con = wh.con
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    previous = skip_if_loaded(wh, sha256, table, source_label=source_label,
                              source_name=source_name)
    if previous is not None:
        return previous
    con.execute("DROP TABLE IF EXISTS _feed")
    con.execute(f"CREATE TEMP TABLE _feed AS {sql}")
    names = [r[0] for r in con.execute("DESCRIBE _feed").fetchall()
             if r[0] not in ("_row", "_source")]
    casts = ", ".join(f'CAST("{n}" AS VARCHAR) AS c{i}' for i, n in enumerate(names))
    con.execute("DROP TABLE IF EXISTS _raw")
    con.execute(f"CREATE TEMP TABLE _raw AS SELECT _row, _source, {casts} FROM _feed")
    con.execute("DROP TABLE _feed")
    con.execute("DROP TABLE IF EXISTS _malformed")
    con.execute("CREATE TEMP TABLE _malformed (_row BIGINT, _source VARCHAR, line_text VARCHAR, "
                "error VARCHAR)")
    if malformed_sql:
        con.execute(f"INSERT INTO _malformed {malformed_sql}")
    staged = StagedFile(Path(source_label), FileFormat("query"), names)
    staged.rows_staged = con.execute("SELECT count(*) FROM _raw").fetchone()[0]
    staged.rows_malformed = con.execute("SELECT count(*) FROM _malformed").fetchone()[0]
    return load_staged(wh, staged, table, mapping, sha256=sha256, run_id=new_run_id(),
                       started_at=started, secrets=secrets, source_label=source_label,
                       source_name=source_name)


def run_feeds(wh, path: Path, feeds: list[tuple[str, str, bool]], mappings: dict[str, dict], *,
              source_name: str, staged_name: str, stage: Callable[[], None], secrets: Secrets,
              progress: ProgressFn | None = None) -> list[IngestResult]:
    """Stage one file with ``stage()`` (skipped when every feed already loaded these bytes), then
    load each feed ``(table, sql, with_malformed)`` through ``mappings[table]``.

    ``with_malformed`` feeds (one row per raw record) also quarantine the lines that could not be
    read (``<staged_name>_malformed``). The staged tables (and a view ``<staged_name>_v``) are
    dropped at the end, also on error.
    """
    sha = file_sha256(path)
    con = wh.con
    try:
        if any(already_loaded(wh, sha, table) is None for table, _, _ in feeds):
            stage()
        elif progress:
            progress(path.stat().st_size)
        malformed = f'SELECT _row, _source, line_text, error FROM "{staged_name}_malformed"'
        results = []
        for table, sql, with_malformed in feeds:
            mapping = parse_mapping({"table": table, **mappings[table]},
                                    origin=f"{source_name}:{table}")
            results.append(ingest_query(
                wh, sql, table, mapping, source_label=str(path), sha256=sha, secrets=secrets,
                source_name=source_name, malformed_sql=malformed if with_malformed else None))
    finally:
        con.execute(f'DROP VIEW IF EXISTS "{staged_name}_v"')
        con.execute(f'DROP TABLE IF EXISTS "{staged_name}"')
        con.execute(f'DROP TABLE IF EXISTS "{staged_name}_malformed"')
    return results
