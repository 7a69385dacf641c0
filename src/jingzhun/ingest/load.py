"""Ingest one file into one canonical table: stage -> clean -> validate -> deduplicate ->
pseudonymise -> load + quarantine, in one transaction, with every input row accounted for.

Accounting (DESIGN.md §3): ``rows_read = rows_loaded + rows_quarantined + rows_duplicate``, where

* ``rows_duplicate`` counts rows that add nothing: an exact copy of an earlier row of the file
  (same raw text in every column), a row whose cleaned content equals the kept row of its key (in
  the file or already in the warehouse), and -- only under a mapping's ``keep: latest`` rule --
  older versions of a key that a later row replaced;
* ``rows_quarantined`` counts rows written to ``quarantine`` with a reason code, the raw value
  of the offending column and the whole raw record: unparseable or missing values, values outside
  the vocabulary or range, malformed lines, and (under the default ``keep: first``) later rows of
  a key with other content (``duplicate_key_conflict``).

Re-ingesting a file whose bytes (sha256) were already loaded into the same table loads nothing:
the run is recorded with status ``already_loaded``.

Why hand-written: the validation libraries (pandera, Great Expectations) check DataFrames in
memory and report; none parses dirty text under a contract, quarantines row by row with the raw
record and accounts for every row at the speed of the warehouse. Here the work is SQL generated
from ``contract.py`` and run by DuckDB in a few passes (staging, ``_typed``, ``_status``, write),
so memory is bounded by DuckDB's ``memory_limit`` (it spills beyond). Two rows of one key count
as "the same content" when a 64-bit hash of their canonical values is equal.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from jingzhun import contract
from jingzhun.contract import Column, Table
from jingzhun.errors import InputError
from jingzhun.ingest import clean
from jingzhun.ingest.mapping import ColumnSpec, Mapping, default_mapping
from jingzhun.ingest.pseudonymise import Secrets, load_secrets
from jingzhun.ingest.read import ProgressFn, StagedFile, iter_chunks, sniff, stage
from jingzhun.warehouse import Warehouse

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    """The accounting of one ingest run (one file or sheet set into one table)."""

    run_id: str
    source_file: str
    table: str
    sha256: str
    status: str  # loaded | already_loaded
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    source_name: str | None = None

    def to_dict(self) -> dict:
        """Plain-JSON form (for ``--json``)."""
        return asdict(self)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def normalise_header(name: str) -> str:
    """Header matching key: lower case, blanks/dashes/dots -> ``_`` (``'Customer ID'`` -> ``customer_id``)."""
    return re.sub(r"[\s\-./]+", "_", name.strip().lstrip("\ufeff").lower()).strip("_")


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    for chunk in iter_chunks(path):
        h.update(chunk)
    return h.hexdigest()


# -- column resolution --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Resolved:
    name: str
    raw_sql: str  # SQL of the trimmed raw text (NULL when absent)
    raw_label: str  # what the user calls it (source column or a description)
    spec: ColumnSpec | None


def _resolve_columns(table: Table, mapping: Mapping, staged: StagedFile) -> list[_Resolved]:
    by_norm: dict[str, int] = {}
    for i, h in enumerate(staged.columns):
        by_norm.setdefault(normalise_header(h), i)

    def source_ref(src: str) -> str:
        i = by_norm.get(normalise_header(src))
        if i is None:
            raise _missing_column(staged, src, table)
        return f"r{i}"

    out: list[_Resolved] = []
    for name in (*table.column_names, *table.personal_fields):
        spec = mapping.columns.get(name)
        if spec is None:
            i = by_norm.get(name)
            if i is None:
                col = table.column_map.get(name)
                if col is not None and not col.nullable:
                    raise _missing_column(staged, name, table)
                out.append(_Resolved(name, "NULL", name, None))
            else:
                out.append(_Resolved(name, f"r{i}", staged.columns[i], None))
        elif spec.source is not None:
            out.append(_Resolved(name, source_ref(spec.source), spec.source, spec))
        elif spec.const is not None:
            out.append(_Resolved(name, clean.lit(spec.const), f"const {spec.const}", spec))
        elif spec.number_within is not None:
            within = ", ".join(source_ref(c) for c in spec.number_within) or "1"
            expr = f"CAST(row_number() OVER (PARTITION BY {within} ORDER BY _rid) AS VARCHAR)"
            out.append(_Resolved(name, expr, "number within " + "+".join(spec.number_within), spec))
        else:
            parts = [f"coalesce({source_ref(c)}, '')" for c in spec.concat]
            within = ", ".join(source_ref(c) for c in spec.concat)
            if spec.sequence:
                seq = f"CAST(row_number() OVER (PARTITION BY {within or 1} ORDER BY _rid) AS VARCHAR)"
                parts = [*parts, seq] if parts else [seq]
            sep = clean.lit(spec.separator)
            expr = f" || {sep} || ".join(parts) if parts else "NULL"
            out.append(_Resolved(name, expr, "+".join(spec.concat) or "row order", spec))
    return out


def _missing_column(staged: StagedFile, name: str, table: Table) -> InputError:
    found = ", ".join(staged.columns) or "(none)"
    hint = (f"map it in a mapping file (columns: {{{name}: <source column>}}), "
            f"or give a constant ({{{name}: {{const: ...}}}})")
    header = " ".join(staged.columns)
    for d, label in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe"), (",", "comma")):
        if len(staged.columns) == 1 and d in header:
            hint = f"the header contains a {label}: is the file {label}-separated? Pass --delimiter"
    return InputError(
        f"{staged.path}: missing required column {name!r} for table {table.name}; "
        f"columns found: {found}", hint=hint)


# -- typed select ---------------------------------------------------------------------------
def _typed_expr(col: Column, r: str, spec: ColumnSpec | None) -> str:
    formats = spec.formats if spec else []
    if col.kind == "timestamp":
        return clean.parse_timestamp(r, formats)  # local -> UTC later, in _localise
    if col.kind == "decimal":
        return clean.parse_decimal(r)
    if col.kind == "integer":
        return clean.parse_integer(r)
    if col.kind == "boolean":
        return clean.parse_boolean(r)
    if col.kind == "json":
        return clean.parse_json(r)
    if col.kind == "enum":
        return clean.map_values(r, spec.values if spec else {}, col.name)
    return r


_BAD_CODE = {"timestamp": "bad_date", "decimal": "bad_number", "integer": "bad_number",
             "boolean": "bad_boolean", "json": "bad_json"}


def _problem(column: str, code: str, raw: str, cond: str) -> str:
    return (f"CASE WHEN {cond} THEN {{'column': {clean.lit(column)}, 'code': {clean.lit(code)}, "
            f"'raw': CAST({raw} AS VARCHAR)}} END")


def _column_sql(col: Column, res: _Resolved, spec: ColumnSpec | None,
                secrets: Secrets) -> tuple[str, str, list[str], list[str]]:
    """SQL of one canonical column: (typed value over its raw text ``_r_<name>``, the stored
    value over the typed ``<name>``, problem expressions, flag expressions)."""
    r, v = _q("_r_" + col.name), _q(col.name)
    typed = _typed_expr(col, r, spec)
    problems: list[str] = []
    flags: list[str] = []
    if col.kind in _BAD_CODE:
        problems.append(_problem(col.name, _BAD_CODE[col.kind], r, f"{r} IS NOT NULL AND {v} IS NULL"))
    if col.kind == "timestamp":
        problems.append(_problem(col.name, "out_of_range", r, f"NOT ({v} BETWEEN TIMESTAMP '1900-01-01' "
                                                              f"AND TIMESTAMP '2100-12-31')"))
    if col.allowed:
        problems.append(_problem(col.name, "unknown_value", r,
                                 f"NOT {clean.one_of(v, col.allowed)}"))
    if col.min_value is not None:
        problems.append(_problem(col.name, "out_of_range", r, f"{v} < {col.min_value}"))
    if col.max_value is not None:
        problems.append(_problem(col.name, "out_of_range", r, f"{v} > {col.max_value}"))
    # a nullable key part may be empty (responses.occurred_at when the source has no time)
    policy = spec.missing if spec and spec.missing else ("quarantine" if not col.nullable else None)
    if policy == "fill":
        fill_typed = _typed_expr(col, clean.lit(spec.fill), spec)
        typed = f"CASE WHEN {r} IS NULL THEN {fill_typed} ELSE {typed} END"
    elif policy == "flag":
        flags.append(f"CASE WHEN {r} IS NULL THEN {clean.lit(col.name + ':missing')} END")
    elif policy == "quarantine":
        problems.append(_problem(col.name, "missing_required", "NULL", f"{r} IS NULL"))
    stored = f"{_q('_pseudo_' + col.name)}._pid" if col.pseudonymised else v
    return typed, stored, problems, flags


def _raw_columns_in(sql: str) -> set[int]:
    """Indexes ``i`` of the cleaned raw columns ``r<i>`` an expression reads."""
    return {int(i) for i in re.findall(r"\br(\d+)\b", sql)}


def _cleaned_raw(staged: StagedFile, only: set[int] | None = None) -> str:
    """``_raw`` plus ``_rid`` (the staged row's id) and ``r<i>``: the trimmed, null-token-free
    text of each ``c<i>`` (or of those in ``only``), computed once in two nested steps (every
    parse and check of a column reads it; repeating the expression cost 4x the time)."""
    n = [i for i in range(len(staged.columns)) if only is None or i in only]
    trims = "".join(f", {clean.trimmed(f'c{i}')} AS t{i}" for i in n)
    nulls = "".join(f", {clean.null_tokens_to_null(f't{i}')} AS r{i}" for i in n)
    return f"(SELECT *{nulls} FROM (SELECT rowid AS _rid, *{trims} FROM _raw))"


def _build_typed(con, table: Table, mapping: Mapping, staged: StagedFile,
                 secrets: Secrets) -> list[_Resolved]:
    """Create ``_typed``: raw columns, typed canonical values, personal fields, problems, flags.

    Three nested steps so each expression runs once per row: the raw text of each canonical
    column (``_r_<name>``), its typed value, then checks and pseudonyms over those.
    """
    resolved = _resolve_columns(table, mapping, staged)
    raw_texts = [f"{res.raw_sql} AS {_q('_r_' + res.name)}" for res in resolved]
    typed_cols, stored, problems, flags, pseudonymised = [], [], [], [], []
    for res in resolved:
        r = _q("_r_" + res.name)
        if res.name in table.personal_fields:
            stored.append(f"{r} AS {_q('_p_' + res.name)}")
            continue
        col = table.column(res.name)
        typed, value, probs, fl = _column_sql(col, res, res.spec, secrets)
        typed_cols.append(f"{typed} AS {_q(col.name)}")
        if col.pseudonymised:
            ids = (f"SELECT {res.raw_sql} AS {_q('_r_' + col.name)} "
                   f"FROM {_cleaned_raw(staged, only=_raw_columns_in(res.raw_sql))}")
            pseudonymised.append((col.name, typed, ids))
        stored.append(f"{value} AS {_q(col.name)}")
        if col.kind == "timestamp" and _is_local(mapping):
            stored.append(f"NOT coalesce({clean.has_offset(r)}, false) AS {_q('_local_' + col.name)}")
        problems += probs
        flags += fl
    if table.one_of:
        cond = " AND ".join(f"{_q('_r_' + n)} IS NULL" for n in table.one_of)
        problems.append(_problem("/".join(table.one_of), "missing_identity", "NULL", cond))
    raw_cols = [f"c{i}" for i in range(len(staged.columns))]
    bad_enc = " OR ".join(f"contains({c}, '\ufffd')" for c in raw_cols) or "false"
    problems.append(_problem("(row)", "bad_encoding", "NULL", "_bad_enc"))
    src_id = _q("_r_customer_id") if "customer_id" in table.column_map else "NULL"
    problem_list = "list_filter([" + ", ".join(problems) + "], lambda p: p IS NOT NULL)"
    flag_sql = (f"NULLIF(concat_ws(',', {', '.join(flags)}), '')" if flags else "NULL")
    raw_list = ", ".join(raw_cols) or "NULL"
    inner = (f"SELECT _rid, _row, _source, hash({raw_list}) AS _rawhash, "
             f"{_order_key(table, mapping, staged)} AS _order_key, {bad_enc} AS _bad_enc, "
             f"{', '.join(raw_texts)} FROM {_cleaned_raw(staged)}")
    mid = f"SELECT *, {', '.join(typed_cols)} FROM ({inner})"
    joins = "".join(_pseudonym_map(con, col, typed, ids, secrets)
                    for col, typed, ids in pseudonymised)
    con.execute("DROP TABLE IF EXISTS _typed")
    con.execute(
        f"CREATE TEMP TABLE _typed AS SELECT _rid, _row, _source, _rawhash, _order_key, "
        f"{', '.join(stored)}, {src_id} AS _source_customer_id, {problem_list} AS _problems, "
        f"{flag_sql} AS dq_flags FROM ({mid}) m{joins}"
    )
    for col, _, _ in pseudonymised:
        con.execute(f"DROP TABLE {_q('_pseudo_' + col)}")
    if _is_local(mapping):
        for col in table.columns:
            if col.kind == "timestamp":
                _localise(con, col.name, mapping.timezone)
    return resolved


def _pseudonym_map(con, column: str, typed: str, ids: str, secrets: Secrets) -> str:
    """Create ``_pseudo_<column>`` (``_pv`` source id -> ``_pid`` pseudonym) over the distinct
    ids of the file (``typed`` over the query ``ids``) and return the join that reads it. Ids
    repeat (a customer's many orders): hashing each distinct id once instead of every row saves
    ~3 s per 3 million rows."""
    table = _q("_pseudo_" + column)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT _pv, "
                f"{secrets.pseudonym_sql('_pv')} AS _pid FROM (SELECT DISTINCT {typed} AS _pv "
                f"FROM ({ids}))")
    return f" LEFT JOIN {table} ON {table}._pv = m.{_q(column)}"


def _is_local(mapping: Mapping) -> bool:
    return mapping.timezone.upper() != "UTC"


def _localise(con, column: str, timezone: str) -> None:
    """Convert ``_typed.<column>`` from local time in ``timezone`` to UTC where the raw value had
    no offset of its own.

    The zone's offset is looked up once per distinct quarter-hour of the data (ICU's time-zone
    conversion per row cost ~3 s per million rows; offsets change only at transitions, which
    fall on quarter-hours).
    """
    c, local = _q(column), _q("_local_" + column)
    bucket = f"time_bucket(INTERVAL 15 MINUTE, {c})"
    con.execute("DROP TABLE IF EXISTS _tz")
    con.execute(f"CREATE TEMP TABLE _tz AS SELECT q, timezone('UTC', timezone({clean.lit(timezone)}, q)) "
                f"- q AS shift FROM (SELECT DISTINCT {bucket} AS q FROM _typed "
                f"WHERE {local} AND {c} IS NOT NULL)")
    con.execute(f"UPDATE _typed SET {c} = {c} + _tz.shift FROM _tz "
                f"WHERE {local} AND {bucket} = _tz.q")
    con.execute(f"ALTER TABLE _typed DROP COLUMN {local}")
    con.execute("DROP TABLE _tz")


# -- classification -------------------------------------------------------------------------
def _order_key(table: Table, mapping: Mapping, staged: StagedFile) -> str:
    """SQL of what ``keep: latest`` orders a key's rows by (NULL when file order decides)."""
    ob = mapping.dedupe.order_by
    if mapping.dedupe.keep != "latest" or not ob:
        return "NULL"
    if ob in table.column_names:
        return _typed_expr(table.column(ob), _q("_r_" + ob), mapping.columns.get(ob))
    by_norm = {normalise_header(h): i for i, h in enumerate(staged.columns)}
    i = by_norm.get(normalise_header(ob))
    if i is None:
        raise _missing_column(staged, ob, table)
    return f"r{i}"


def _classify(con, table: Table, mapping: Mapping, staged: StagedFile) -> None:
    """Fill ``_status`` (``_rid`` -- the staged row's id --, ``_status``, ``_conflict``) for every
    staged row that is not simply loaded: duplicate | quarantine | replace (loaded, replacing a
    warehouse row).

    Each step looks only at the rows that can be affected (rows sharing a raw hash, keys seen
    twice, keys already in the warehouse), so a clean file costs a few hash aggregates.
    """
    key_cols = [_q(k) for k in table.key]
    key = ", ".join(key_cols)
    content = ", ".join(_q(c) for c in table.column_names)
    latest = mapping.dedupe.keep == "latest"
    on_key = " AND ".join(f"a.{k} IS NOT DISTINCT FROM b.{k}" for k in key_cols)
    open_rows = "FROM _typed WHERE _rid NOT IN (SELECT _rid FROM _status)"
    con.execute("DROP TABLE IF EXISTS _status")
    con.execute("CREATE TEMP TABLE _status (_rid BIGINT, _status VARCHAR, _conflict VARCHAR)")
    raw_cols = ", ".join(f"c{i}" for i in range(len(staged.columns)))
    if mapping.dedupe.exact_duplicates == "drop" and raw_cols:
        # exact copies: same raw text in every column (hash first, then the text itself)
        con.execute(f"""
            INSERT INTO _status SELECT _rid, 'duplicate', NULL FROM (
                SELECT rowid AS _rid,
                       row_number() OVER (PARTITION BY {raw_cols} ORDER BY rowid) AS n
                FROM _raw WHERE rowid IN (SELECT _rid FROM _typed WHERE _rawhash IN (
                    SELECT _rawhash FROM _typed GROUP BY 1 HAVING count(*) > 1)))
            WHERE n > 1""")
    con.execute(f"INSERT INTO _status SELECT _rid, 'quarantine', NULL {open_rows} "
                f"AND len(_problems) > 0")
    order = "_order_key DESC NULLS LAST, _rid DESC" if latest else "_rid"
    conflict = "'duplicate'" if latest else "'quarantine'"
    conflict_code = "NULL" if latest else "'duplicate_key_conflict'"
    con.execute(f"""
        INSERT INTO _status
        WITH multi AS (SELECT {key} FROM _typed WHERE len(_problems) = 0
                       GROUP BY ALL HAVING count(*) > 1),
             v AS (SELECT * FROM _typed a SEMI JOIN multi b ON {on_key}
                   WHERE _rid NOT IN (SELECT _rid FROM _status)),
             ranked AS (
                SELECT _rid, row_number() OVER w AS rank, hash({content}) AS h,
                       first_value(hash({content})) OVER w AS kept_h
                FROM v WINDOW w AS (PARTITION BY {key} ORDER BY {order}))
        SELECT _rid, CASE WHEN h = kept_h THEN 'duplicate' ELSE {conflict} END,
               CASE WHEN h <> kept_h THEN {conflict_code} END
        FROM ranked WHERE rank > 1""")
    if con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {_q(table.name)} LIMIT 1)").fetchone()[0]:
        same = " AND ".join(f"a.{_q(c)} IS NOT DISTINCT FROM b.{_q(c)}" for c in table.column_names)
        con.execute(f"""
            INSERT INTO _status
            SELECT a._rid, CASE WHEN {same} THEN 'duplicate' WHEN {str(latest).lower()}
                                THEN 'replace' ELSE 'quarantine' END,
                   CASE WHEN NOT ({same}) THEN {conflict_code} END
            FROM (SELECT * {open_rows}) a JOIN {_q(table.name)} b ON {on_key}""")


def _loaded(con) -> str:
    """SQL condition on ``_typed`` of the rows that load (all of them in a clean file)."""
    if con.execute("SELECT count(*) FROM _status WHERE _status <> 'replace'").fetchall()[0][0]:
        return "_rid NOT IN (SELECT _rid FROM _status WHERE _status <> 'replace')"
    return "true"


def _record_json(staged: StagedFile) -> str:
    pairs = ", ".join(f"{clean.lit(h)}, r.c{i}" for i, h in enumerate(staged.columns))
    return f"json_object({pairs})" if pairs else "'{}'"


def _write(con, table: Table, staged: StagedFile, run_id: str, secrets: Secrets,
           resolved: list[_Resolved]) -> None:
    cols = ", ".join(_q(c) for c in table.column_names)
    keys = " AND ".join(f"t.{_q(k)} IS NOT DISTINCT FROM r.{_q(k)}" for k in table.key)
    con.execute(f"DELETE FROM {_q(table.name)} t WHERE EXISTS (SELECT 1 FROM _typed r "
                f"JOIN _status s USING (_rid) WHERE s._status = 'replace' AND {keys})")
    con.execute(f"INSERT INTO {_q(table.name)} ({cols}, ingest_run_id, dq_flags) "
                f"SELECT {cols}, {clean.lit(run_id)}, dq_flags FROM _typed WHERE {_loaded(con)}")
    record = _record_json(staged)
    reason_of = "CASE " + " ".join(
        f"WHEN p.code = {clean.lit(code)} THEN {clean.lit(text)}"
        for code, text in contract.REASON_CODES.items()) + " END"
    label = {r.name: r.raw_label for r in resolved}
    label_case = "CASE p.column " + " ".join(
        f"WHEN {clean.lit(k)} THEN {clean.lit(v)}" for k, v in label.items()) + " ELSE p.column END"
    key_text = " || '/' || ".join(f"coalesce(CAST({_q(k)} AS VARCHAR), '')" for k in table.key)
    con.execute(f"""
        INSERT INTO quarantine
        SELECT {clean.lit(run_id)}, t._source, t._row, {clean.lit(table.name)},
               CASE WHEN _conflict IS NOT NULL THEN {clean.lit('/'.join(table.key))}
                    ELSE {label_case} END,
               CASE WHEN _conflict IS NOT NULL THEN {key_text} ELSE p.raw END,
               coalesce(_conflict, p.code),
               CASE WHEN _conflict IS NOT NULL
                    THEN 'another row with key ' || {key_text} || ' and other content was kept'
                    ELSE {reason_of} || ' (column ' || {label_case} || ')'
                         || CASE WHEN len(_problems) > 1 THEN '; also: ' || array_to_string(
                              list_transform(_problems[2:], lambda x: x.code || ' in ' || x.column),
                              ', ') ELSE '' END END,
               {record}
        FROM (SELECT *, _problems[1] AS p FROM _typed JOIN _status USING (_rid)
              WHERE _status = 'quarantine') t JOIN _raw r ON r.rowid = t._rid
    """)
    con.execute(f"""
        INSERT INTO quarantine
        SELECT {clean.lit(run_id)}, _source, _row, {clean.lit(table.name)}, '(row)',
               trim(line_text, chr(13) || chr(10)),
               CASE WHEN error ILIKE '%encoding%' OR error ILIKE '%unicode%' THEN 'bad_encoding'
                    ELSE 'malformed_row' END,
               'the line could not be split into {len(staged.columns)} columns: ' || error,
               json_object('line', trim(line_text, chr(13) || chr(10)))
        FROM _malformed
    """)
    personal = [r.name for r in resolved if r.name in table.personal_fields and r.raw_sql != "NULL"]
    if personal:
        _write_vault(con, run_id, secrets, ["source_customer_id", *personal])


def _write_vault(con, run_id: str, secrets: Secrets, fields: list[str]) -> None:
    import pyarrow as pa

    selects = ", ".join(
        f"{'_source_customer_id' if f == 'source_customer_id' else _q('_p_' + f)} AS {_q(f)}"
        for f in fields)
    plain = con.sql(f"SELECT customer_id, {selects} FROM _typed WHERE {_loaded(con)}").to_arrow_table()
    ids = plain.column("customer_id").to_pylist()
    for f in fields:
        values = plain.column(f).to_pylist()
        keep = [i for i, v in enumerate(values) if v is not None]
        vault = pa.table({  # noqa: F841  (read by DuckDB by name)
            "customer_id": [ids[i] for i in keep],
            "field": [f] * len(keep),
            "ciphertext": secrets.encrypt([values[i] for i in keep]),
            "run_id": [run_id] * len(keep),
        })
        con.execute("DELETE FROM identity_vault WHERE field = ? AND customer_id IN "
                    "(SELECT customer_id FROM vault)", [f])
        con.execute("INSERT INTO identity_vault SELECT * FROM vault")


# -- entry points ---------------------------------------------------------------------------
def _counts(con) -> tuple[int, int, int]:
    """(loaded, duplicate, quarantined) rows of the current staging."""
    total = con.execute("SELECT count(*) FROM _typed").fetchone()[0]
    dup, quar = con.execute(
        "SELECT count(*) FILTER (WHERE _status = 'duplicate'), "
        "count(*) FILTER (WHERE _status = 'quarantine') FROM _status").fetchone()
    malformed = con.execute("SELECT count(*) FROM _malformed").fetchone()[0]
    return total - dup - quar, dup, quar + malformed


def load_staged(wh: Warehouse, staged: StagedFile, table_name: str, mapping: Mapping, *,
                sha256: str, run_id: str, started_at: dt.datetime, secrets: Secrets,
                source_label: str, source_name: str | None = None) -> IngestResult:
    """Clean, validate, deduplicate and load the staged ``_raw`` table (see module doc)."""
    table = contract.get_table(table_name)
    con = wh.con
    resolved = _build_typed(con, table, mapping, staged, secrets)
    _classify(con, table, mapping, staged)
    used = set().union(*(_raw_columns_in(r.raw_sql) for r in resolved))
    ignored = [h for i, h in enumerate(staged.columns) if i not in used]
    with wh.transaction():
        _write(con, table, staged, run_id, secrets, resolved)
        loaded, dup, quar = _counts(con)
        rows_read = staged.rows_staged + staged.rows_malformed
        reasons = dict(con.execute(
            "SELECT reason_code, count(*) FROM quarantine WHERE run_id = ? GROUP BY 1 "
            "ORDER BY 2 DESC", [run_id]).fetchall())
        result = IngestResult(run_id, source_label, table.name, sha256, "loaded", rows_read,
                              loaded, quar, dup, reasons, ignored, source_name)
        if rows_read != loaded + quar + dup:  # the invariant; raising here rolls back the load
            raise AssertionError(f"row accounting broken for {source_label}: {result}")
        record_run(con, result, started_at)
    for t in ("_typed", "_status", "_raw", "_malformed"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    return result


def record_run(con, r: IngestResult, started_at: dt.datetime) -> None:
    finished = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    con.execute("INSERT INTO ingest_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [r.run_id, r.source_file, r.source_name, r.table, r.sha256, r.status,
                 r.rows_read, r.rows_loaded, r.rows_quarantined, r.rows_duplicate,
                 started_at, finished])


def new_run_id() -> str:
    """A fresh run id (time-ordered prefix + random suffix)."""
    now = dt.datetime.now(dt.UTC)
    return now.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def already_loaded(wh: Warehouse, sha256: str, table: str) -> IngestResult | None:
    """The earlier run that loaded these bytes into ``table``, if any."""
    row = wh.con.execute(
        "SELECT run_id, source_file, rows_read FROM ingest_runs WHERE sha256 = ? AND "
        "table_name = ? AND status = 'loaded' ORDER BY started_at LIMIT 1",
        [sha256, table]).fetchone()
    if row is None:
        return None
    return IngestResult(row[0], row[1], table, sha256, "already_loaded", rows_read=row[2])


def skip_if_loaded(wh: Warehouse, sha256: str, table: str, *, source_label: str,
                   source_name: str | None = None) -> IngestResult | None:
    """If these bytes were already loaded into ``table``, record an ``already_loaded`` run (all
    rows counted as duplicates, nothing loaded) and return it; else None."""
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    previous = already_loaded(wh, sha256, table)
    if previous is None:
        return None
    result = IngestResult(new_run_id(), source_label, table, sha256, "already_loaded",
                          rows_read=previous.rows_read, rows_duplicate=previous.rows_read,
                          source_name=source_name)
    with wh.transaction():
        record_run(wh.con, result, started)
    log.info("%s: already loaded into %s by run %s", source_label, table, previous.run_id)
    return result


def ingest_file(wh: Warehouse, path: str | Path, table: str, *, mapping: Mapping | None = None,
                secrets: Secrets | None = None, source_name: str | None = None,
                progress: ProgressFn | None = None) -> IngestResult:
    """Ingest one file into canonical table ``table``; see the module doc for the accounting.

    Parameters
    ----------
    wh : Warehouse
        Where to load.
    path : str or Path
        CSV/TSV/whitespace text (optionally .gz), .xlsx or Parquet.
    table : str
        Canonical table name (``contract.INGESTIBLE``).
    mapping : Mapping, optional
        Source mapping; default: canonical column names.
    secrets : Secrets, optional
        Keys for pseudonyms and the vault; default: ``load_secrets()``.
    progress : callable, optional
        Called with the number of bytes processed since the last call.
    """
    path = Path(path)
    contract.get_table(table)
    mapping = mapping or default_mapping(table)
    secrets = secrets or load_secrets()
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    run_id = new_run_id()
    fmt = sniff(path, encoding=mapping.file.encoding, delimiter=mapping.file.delimiter,
                header=mapping.file.header, sheets=tuple(mapping.file.sheets))
    sha = file_sha256(path)
    previous = skip_if_loaded(wh, sha, table, source_label=str(path), source_name=source_name)
    if previous is not None:
        return previous
    staged = stage(wh.con, path, fmt, progress=progress)
    if staged.rows_staged + staged.rows_malformed == 0:
        log.warning("%s: the file has a header but no data rows", path)
    return load_staged(wh, staged, table, mapping, sha256=sha, run_id=run_id, started_at=started,
                       secrets=secrets, source_label=str(path), source_name=source_name)


__all__ = ["IngestResult", "ingest_file", "load_staged", "file_sha256", "ProgressFn"]
