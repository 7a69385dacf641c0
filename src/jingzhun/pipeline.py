"""Where stages meet storage: open the warehouse from settings, run ingest, summarise runs.

The CLI calls these functions and prints; the stages themselves never import this module.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from jingzhun.config import Settings, check_timezone, load_settings
from jingzhun.errors import ConfigError
from jingzhun.ingest.load import IngestResult, ingest_file
from jingzhun.ingest.mapping import load_mapping
from jingzhun.ingest.pseudonymise import Secrets, load_secrets
from jingzhun.ingest.read import ProgressFn
from jingzhun.ingest.sources import ingest_source
from jingzhun.warehouse import Warehouse, default_db_path


def open_warehouse(db: str | Path | None = None, settings: Settings | None = None) -> Warehouse:
    """Open the warehouse at ``db``, else the configured path, else the default."""
    settings = settings or load_settings()
    ws = settings.warehouse
    path = db or ws.path or default_db_path()
    return Warehouse(path, memory_limit=ws.memory_limit, threads=ws.threads)


def open_secrets(key_file: str | Path | None = None, settings: Settings | None = None) -> Secrets:
    """The pseudonym/vault keys from ``key_file``, else the configured or default key file."""
    settings = settings or load_settings()
    return load_secrets(key_file or settings.secrets.key_file)


def ingest_paths(wh: Warehouse, paths: list[Path], *, table: str | None, mapping: Path | None,
                 source: str | None, secrets: Secrets,
                 progress: ProgressFn | None = None) -> list[IngestResult]:
    """Ingest files into ``table`` (optionally through a mapping file), or through a built-in
    ``source``; one result per (file, table)."""
    results: list[IngestResult] = []
    if source:
        for path in paths:
            results += ingest_source(source, wh, path, secrets=secrets, progress=progress)
        return results
    parsed = load_mapping(mapping, table=table) if mapping else None
    table = table or (parsed.table if parsed else None)
    if table is None:
        raise ConfigError("which table? pass --table (or a --mapping that names one, "
                          "or a built-in --source)")
    for path in paths:
        results.append(ingest_file(wh, path, table, mapping=parsed, secrets=secrets,
                                   progress=progress))
    return results


def ingest_manifest(wh: Warehouse, folder: Path, *, secrets: Secrets,
                    progress: ProgressFn | None = None) -> list[IngestResult]:
    """Ingest every file listed in ``folder/manifest.json`` (the simulator writes one):
    a list of ``{"table", "file", "mapping"}`` objects, in load order."""
    entries = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    results = []
    for entry in entries:
        mapping = load_mapping(folder / entry["mapping"]) if entry.get("mapping") else None
        results.append(ingest_file(wh, folder / entry["file"], entry["table"], mapping=mapping,
                                   secrets=secrets, progress=progress))
    return results


def ingest_report(wh: Warehouse, *, run_id: str | None = None, examples: int = 3) -> dict:
    """Counts per ingest run and quarantine reasons with example rows.

    Returns ``{"runs": [...], "reasons": [{"table", "reason_code", "rows", "examples"}]}``.
    """
    where = "WHERE run_id = ?" if run_id else ""
    params = [run_id] if run_id else []
    runs = wh.con.execute(
        f"SELECT run_id, source_file, table_name, status, rows_read, rows_loaded, "
        f"rows_quarantined, rows_duplicate, started_at FROM ingest_runs {where} "
        f"ORDER BY started_at, run_id", params).fetchall()
    cols = ["run_id", "source_file", "table", "status", "rows_read", "rows_loaded",
            "rows_quarantined", "rows_duplicate", "started_at"]
    run_dicts = [dict(zip(cols, r, strict=True)) | {"started_at": str(r[-1])} for r in runs]
    reasons = wh.con.execute(
        f"SELECT table_name, reason_code, count(*) AS n, "
        f"list({{'source': source, 'row_number': row_number, 'column': column_name, "
        f"'raw_value': raw_value, 'reason': reason}} ORDER BY row_number)[1:{int(examples)}] "
        f"FROM quarantine {where} GROUP BY 1, 2 ORDER BY 1, 3 DESC", params).fetchall()
    reason_dicts = [{"table": t, "reason_code": c, "rows": n, "examples": ex}
                    for t, c, n, ex in reasons]
    return {"runs": run_dicts, "reasons": reason_dicts}


def simulate_and_ingest(out: Path, *, n_customers: int, seed: int, secrets: Secrets,
                        progress: ProgressFn | None = None) -> tuple[Path, list[IngestResult]]:
    """The demo so far: simulate a retailer into ``out/data``, ingest it into
    ``out/jingzhun.duckdb``. Returns the warehouse path and the ingest results."""
    from jingzhun.simulate import retailer

    out.mkdir(parents=True, exist_ok=True)
    data = out / "data"
    retailer(n_customers=n_customers, seed=seed, out_dir=data)
    db = out / "jingzhun.duckdb"
    for stale in (db, Path(f"{db}.wal")):
        stale.unlink(missing_ok=True)
    with Warehouse(db) as wh:
        results = ingest_manifest(wh, data, secrets=secrets, progress=progress)
    return db, results


# -- profile -------------------------------------------------------------------------------------
PROFILE_META = "profile_meta"
PROFILE_SUMMARY = "profile_summary"
PROFILE_TABLE = "customer_profile"
_TMP = "_profile_tmp_"


def _state_table(grain: str) -> str:
    return f"profile_state_{grain}"


def _materializer(wh: Warehouse, names: dict[str, str]):
    """A ``materialize`` hook writing each checkpoint to a table and returning it: ``names`` maps
    checkpoint names to warehouse tables; the others become temporary tables (in memory, spilled
    to disk as needed, never written to the warehouse file), dropped by ``_drop_temporary``. A
    table is created with the expression's Ibis schema first, so that DuckDB stores the declared
    types (an Ibis ``int64`` sum would otherwise be stored as DuckDB's 128-bit ``HUGEINT``)."""
    def materialize(name: str, expr):
        table = names.get(name)
        if table is None:
            table = f"{_TMP}{name}"
            _insert(wh, table, expr, replace=True, temp=True)
        else:
            _insert(wh, table, expr, replace=True)
        return wh.ibis().table(table)
    return materialize


def _insert(wh: Warehouse, table: str, expr, *, replace: bool = False, temp: bool = False) -> None:
    """Insert ``expr``'s rows into ``table``, created from ``expr``'s Ibis schema when missing
    (or replaced when ``replace``); a ``temp`` table lives only as long as the connection."""
    if temp:  # Ibis' create_table(temp=True) rebuilds the table by CTAS, which DuckDB 2.0 reads
        # back empty inside a transaction; plain DDL does not
        columns = ", ".join(c.sql("duckdb") for c in expr.schema().to_sqlglot_column_defs("duckdb"))
        wh.con.execute(f'CREATE OR REPLACE TEMP TABLE "{table}" ({columns})')
    elif replace or table not in wh.table_names():
        wh.ibis().create_table(table, schema=expr.schema(), overwrite=True)
    wh.con.execute(f'INSERT INTO "{table}" BY NAME {wh.ibis().compile(expr)}')


def _drop_temporary(wh: Warehouse) -> None:
    """Drop the temporary checkpoint tables of ``_materializer``."""
    names = wh.con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary AND "
                           "starts_with(table_name, ?)", [_TMP]).fetchall()
    for (name,) in names:
        wh.con.execute(f'DROP TABLE temp."{name}"')


def _profile_inputs(wh: Warehouse) -> dict:
    from jingzhun.profile.build import INPUT_TABLES

    return {name: wh.table(name) for name in INPUT_TABLES}


def _ingest_runs_in_inputs(wh: Warehouse) -> list[str]:
    rows = wh.con.execute(
        "SELECT DISTINCT coalesce(ingest_run_id, '(none)') FROM (SELECT ingest_run_id FROM orders "
        "UNION ALL SELECT ingest_run_id FROM order_lines UNION ALL SELECT ingest_run_id FROM events)"
    ).fetchall()
    return sorted(r[0] for r in rows)


def latest_activity_date(wh: Warehouse, timezone: str = "UTC") -> date | None:
    """The local date of the latest order or event in the warehouse (None when there is none)."""
    row = wh.con.execute(
        "SELECT max(t) FROM (SELECT max(ordered_at) AS t FROM orders "
        "UNION ALL SELECT max(occurred_at) FROM events)").fetchall()[0]
    if row[0] is None:
        return None
    from zoneinfo import ZoneInfo

    return row[0].replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(timezone)).date()


def _profile_meta(wh: Warehouse) -> dict | None:
    if PROFILE_META not in wh.table_names():
        return None
    rows = wh.con.execute(
        f"SELECT as_of, timezone, runs, lifecycle, tags_file FROM {PROFILE_META}").fetchall()
    if not rows:
        return None
    as_of, timezone, runs, lifecycle, tags_file = rows[0]
    from jingzhun.profile.lifecycle import LifecycleConfig

    return {"as_of": as_of, "timezone": timezone, "runs": json.loads(runs),
            "lifecycle": LifecycleConfig(**json.loads(lifecycle)), "tags_file": tags_file}


def _write_profile_meta(wh: Warehouse, *, as_of: date, timezone: str, runs: list[str],
                        lifecycle, tags_file: str | None, kind: str) -> None:
    import dataclasses

    wh.con.execute(f"CREATE OR REPLACE TABLE {PROFILE_META} (as_of DATE, timezone VARCHAR, "
                   "runs VARCHAR, lifecycle VARCHAR, tags_file VARCHAR, kind VARCHAR)")
    wh.con.execute(f"INSERT INTO {PROFILE_META} VALUES (?, ?, ?, ?, ?, ?)",
                   [as_of, timezone, json.dumps(runs), json.dumps(dataclasses.asdict(lifecycle)),
                    tags_file, kind])


def _write_derived(wh: Warehouse, *, as_of: date, timezone: str, lifecycle,
                   tags_file: str | None) -> None:
    """Everything derived from the stored state: the profile, its tags and stored segments."""
    _write_profile(wh, as_of=as_of, timezone=timezone, lifecycle=lifecycle)
    _write_tags(wh, _load_tag_rules(tags_file), as_of)
    _refresh_segments(wh, as_of)


def _write_profile(wh: Warehouse, *, as_of: date, timezone: str, lifecycle) -> None:
    """Derive ``customer_profile`` from the stored state and summary, with the latest CLV run's
    ``clv`` and ``p_alive`` (null before the first run)."""
    from jingzhun.profile.derive import derive_profile
    from jingzhun.profile.state import STATE_KEYS

    state = {g: wh.table(_state_table(g)) for g in STATE_KEYS}
    profile = derive_profile(state, wh.table(PROFILE_SUMMARY), wh.table("customers"),
                             as_of=as_of, timezone=timezone, lifecycle=lifecycle)
    _materializer(wh, {"profile": PROFILE_TABLE})("profile", _with_clv(wh, profile))


def _with_clv(wh: Warehouse, profile):
    import ibis

    from jingzhun.pipeline_predict import PREDICTIONS_TABLE, current_clv_model
    from jingzhun.profile._portable import attach

    model = current_clv_model(wh)
    if model is None or PREDICTIONS_TABLE not in wh.table_names():
        return profile.mutate(clv=ibis.null("float64"), p_alive=ibis.null("float64"))
    p = wh.table(PREDICTIONS_TABLE)
    return attach(profile, p.filter(p.model == model).select("customer_id", "clv", "p_alive"))


def _refresh_profile_clv(wh: Warehouse, *, as_of: date) -> None:
    """Put the latest CLV run's ``clv``/``p_alive`` into the stored profile (in place), then
    re-apply the tags and refresh stored segments (their ``avg_clv``)."""
    from jingzhun.pipeline_predict import PREDICTIONS_TABLE, current_clv_model

    for col in ("clv", "p_alive"):
        wh.con.execute(f"ALTER TABLE {PROFILE_TABLE} ADD COLUMN IF NOT EXISTS {col} DOUBLE")
    wh.con.execute(f"UPDATE {PROFILE_TABLE} SET clv = NULL, p_alive = NULL")
    wh.con.execute(
        f"UPDATE {PROFILE_TABLE} SET clv = p.clv, p_alive = p.p_alive FROM {PREDICTIONS_TABLE} AS p "
        f"WHERE p.model = ? AND p.customer_id = {PROFILE_TABLE}.customer_id",
        [current_clv_model(wh)])
    _write_tags(wh, _load_tag_rules(_profile_meta(wh)["tags_file"]), as_of)
    _refresh_segments(wh, as_of)


def profile_build(wh: Warehouse, *, as_of: date | None = None, timezone: str = "UTC",
                  lifecycle=None, tags_file: str | Path | None = None) -> dict:
    """Rebuild the profile state, summary and ``customer_profile`` from all canonical rows up to
    ``as_of`` (default: the latest order/event date), with ``lifecycle`` thresholds (a
    ``LifecycleConfig``; default thresholds when None); apply the tag rules of ``tags_file``
    (default: the packaged rules) and refresh stored segments. Returns ``profile_status``."""
    from jingzhun.profile.build import build
    from jingzhun.profile.lifecycle import LifecycleConfig
    from jingzhun.profile.state import STATE_KEYS

    lifecycle = lifecycle or LifecycleConfig()
    check_timezone(timezone)
    as_of = as_of or latest_activity_date(wh, timezone)
    if as_of is None:
        raise ConfigError(f"the warehouse {wh.path} has no orders or events to profile",
                          hint="ingest orders first (jz ingest ...)")
    names = {f"state_{g}": _state_table(g) for g in STATE_KEYS} | {"summary": PROFILE_SUMMARY}
    with wh.transaction():
        runs = _ingest_runs_in_inputs(wh)
        build(_profile_inputs(wh), as_of=as_of, timezone=timezone,
              materialize=_materializer(wh, names))
        tags_file = str(tags_file) if tags_file else None
        _write_derived(wh, as_of=as_of, timezone=timezone, lifecycle=lifecycle, tags_file=tags_file)
        _write_profile_meta(wh, as_of=as_of, timezone=timezone, runs=runs, lifecycle=lifecycle,
                            tags_file=tags_file, kind="build")
        _drop_temporary(wh)
    return profile_status(wh) | {"changed_customers": None}


def profile_update(wh: Warehouse, *, as_of: date | None = None) -> dict:
    """Apply the orders, lines and events not yet in the stored profile state (new ingest runs,
    or rows dated after the stored profile date) up to ``as_of`` (default: the later of the
    stored date and the latest order/event date) and re-derive ``customer_profile``."""
    from jingzhun.profile.build import update
    from jingzhun.profile.state import STATE_KEYS, Watermark

    meta = _profile_meta(wh)
    if meta is None:
        raise ConfigError(f"the warehouse {wh.path} has no profile to update",
                          hint="run `jz profile build` first")
    tz = meta["timezone"]
    as_of = as_of or max(meta["as_of"], latest_activity_date(wh, tz) or meta["as_of"])
    since = Watermark(tuple(meta["runs"]), meta["as_of"])
    with wh.transaction():
        runs = sorted(set(meta["runs"]) | set(_ingest_runs_in_inputs(wh)))
        state = {g: wh.table(_state_table(g)) for g in STATE_KEYS}
        update(_profile_inputs(wh), state, wh.table(PROFILE_SUMMARY), since=since, as_of=as_of,
               timezone=tz, materialize=_materializer(wh, {}))
        for table, part in [*((_state_table(g), f"merged_{g}") for g in STATE_KEYS),
                            (PROFILE_SUMMARY, "merged_summary")]:
            wh.con.execute(f'DELETE FROM "{table}" WHERE customer_id IN '
                           f'(SELECT customer_id FROM "{_TMP}changed")')
            wh.con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM "{_TMP}{part}"')
        _expire_events(wh, since=meta["as_of"], as_of=as_of)
        changed = wh.count(f"{_TMP}changed")
        _write_derived(wh, as_of=as_of, timezone=tz, lifecycle=meta["lifecycle"],
                       tags_file=meta["tags_file"])
        _write_profile_meta(wh, as_of=as_of, timezone=tz, runs=runs, lifecycle=meta["lifecycle"],
                            tags_file=meta["tags_file"], kind="update")
        _drop_temporary(wh)
    return profile_status(wh) | {"changed_customers": changed}


def _expire_events(wh: Warehouse, *, since: date, as_of: date) -> None:
    """``profile.state.expire_events`` in place: only the days that passed out of the event
    window since the stored profile date (``since``) hold counts to clear."""
    from jingzhun.profile.state import EVENT_COUNTS, EVENT_DAYS, epoch_day

    days = [epoch_day(since) - EVENT_DAYS, epoch_day(as_of) - EVENT_DAYS]
    table, in_days = _state_table("day"), "day > ? AND day <= ?"
    wh.con.execute(f'DELETE FROM "{table}" WHERE {in_days} AND orders = 0', days)
    cleared = ", ".join(f"{c} = 0" for c in EVENT_COUNTS)
    wh.con.execute(f'UPDATE "{table}" SET {cleared} WHERE {in_days}', days)


def profile_status(wh: Warehouse) -> dict:
    """As-of date, time zone, customers and lifecycle-stage counts of the stored profile."""
    meta = _require_profile(wh)
    stages = dict(wh.con.execute(f"SELECT lifecycle_stage, count(*) FROM {PROFILE_TABLE} "
                                 "GROUP BY 1 ORDER BY 2 DESC").fetchall())
    return {"as_of": str(meta["as_of"]), "timezone": meta["timezone"],
            "customers": wh.count(PROFILE_TABLE), "stages": stages}


def _require_profile(wh: Warehouse) -> dict:
    meta = _profile_meta(wh)
    if meta is None or PROFILE_TABLE not in wh.table_names():
        raise ConfigError(f"the warehouse {wh.path} has no customer profile yet",
                          hint="run `jz profile build` first")
    return meta


# -- segments ------------------------------------------------------------------------------------
SEGMENTS_TABLE = "segments"


def _replace_rows(wh: Warehouse, table: str, expr, where_sql: str, params: list) -> None:
    """Delete the rows of ``table`` matching ``where_sql`` and insert ``expr``'s rows (the table
    is created from ``expr``'s schema when missing)."""
    if table in wh.table_names():
        wh.con.execute(f'DELETE FROM "{table}" WHERE {where_sql}', params)
    _insert(wh, table, expr)


def _write_segments(wh: Warehouse, scheme, as_of: date) -> None:
    import ibis

    from jingzhun.segment.rfm import assign_segments

    rows = assign_segments(wh.table(PROFILE_TABLE), scheme).mutate(as_of=ibis.literal(as_of))
    _replace_rows(wh, SEGMENTS_TABLE, rows, "scheme = ?", [scheme.name])


def _refresh_segments(wh: Warehouse, as_of: date) -> None:
    """Recompute the stored RFM schemes from the (new) profile, so segments stay current."""
    from jingzhun.segment.rfm import BUILTIN_SCHEMES, load_scheme

    if SEGMENTS_TABLE not in wh.table_names():
        return
    for (name,) in wh.con.execute(f"SELECT DISTINCT scheme FROM {SEGMENTS_TABLE}").fetchall():
        if name in BUILTIN_SCHEMES:
            _write_segments(wh, load_scheme(name), as_of)
        else:  # a custom scheme's file is not remembered: its rows would be stale
            wh.con.execute(f"DELETE FROM {SEGMENTS_TABLE} WHERE scheme = ?", [name])


def segment_rfm(wh: Warehouse, *, scheme: str | Path = "11") -> dict:
    """Score R, F, M on the stored profile, assign ``scheme``'s segments (``"11"``, ``"5"`` or a
    YAML file), store them in ``segments`` and return ``{"scheme", "as_of", "segments": [...]}``
    (size, share, revenue share per segment)."""
    from jingzhun.segment.rfm import load_scheme, segment_summary

    meta = _require_profile(wh)
    parsed = load_scheme(scheme)
    with wh.transaction():
        _write_segments(wh, parsed, meta["as_of"])
    segs = wh.table(SEGMENTS_TABLE)
    summary = segment_summary(segs.filter(segs.scheme == parsed.name), wh.table(PROFILE_TABLE),
                              scheme=parsed).to_pandas()
    return {"scheme": parsed.name, "as_of": str(meta["as_of"]),
            "segments": json.loads(summary.to_json(orient="records", force_ascii=False))}


# -- one customer ----------------------------------------------------------------------------------
def profile_card(wh: Warehouse, customer: str, *, secrets: Secrets | None = None) -> dict:
    """One customer's profile row, current tags, segments and top preferences.

    ``customer`` is the stored pseudonym or the source's customer id (pseudonymised with
    ``secrets``, the key the data was ingested with)."""
    _require_profile(wh)
    customer_id = customer
    if not _exists(wh, PROFILE_TABLE, customer_id) and secrets is not None:
        customer_id = secrets.pseudonym(customer)
    if not _exists(wh, PROFILE_TABLE, customer_id):
        raise ConfigError(f"no customer {customer!r} in the profile of {wh.path}",
                          hint="give the source's customer id (with the --key-file it was "
                               "ingested with) or the stored pseudonym")
    card = {"profile": _records(wh, f"SELECT * FROM {PROFILE_TABLE} WHERE customer_id = ?",
                                [customer_id])[0]}
    if TAG_HISTORY_TABLE in wh.table_names():
        card["tags"] = _records(wh, f"SELECT tag, tagged_since FROM {TAG_HISTORY_TABLE} WHERE "
                                    "customer_id = ? AND untagged_at IS NULL ORDER BY tag",
                                [customer_id])
    if SEGMENTS_TABLE in wh.table_names():
        card["segments"] = _records(
            wh, f"SELECT scheme, segment, label_en, label_zh, rfm_cell FROM {SEGMENTS_TABLE} "
                "WHERE customer_id = ? ORDER BY scheme", [customer_id])
    card["preferences"] = _records(
        wh, "SELECT dim, value, orders, items, CAST(amount AS DOUBLE) AS amount FROM "
            f"{_state_table('dim')} WHERE customer_id = ? AND dim IN ('category', 'brand', "
            "'channel') QUALIFY row_number() OVER (PARTITION BY dim ORDER BY amount DESC, "
            "orders DESC, value) <= 3 ORDER BY dim, amount DESC", [customer_id])
    return card


def _exists(wh: Warehouse, table: str, customer_id: str) -> bool:
    return bool(wh.con.execute(f'SELECT count(*) FROM "{table}" WHERE customer_id = ?',
                               [customer_id]).fetchall()[0][0])


def _records(wh: Warehouse, sql: str, params: list) -> list[dict]:
    df = wh.con.execute(sql, params).df()
    return json.loads(df.to_json(orient="records", date_format="iso", force_ascii=False))


# -- tags ------------------------------------------------------------------------------------------
TAGS_TABLE = "customer_tags"
TAG_HISTORY_TABLE = "customer_tag_history"


def _write_tags(wh: Warehouse, rules, as_of: date) -> None:
    """Apply ``rules`` to the stored profile: ``customer_tags`` (current members, ``as_of``) and
    ``customer_tag_history`` (spells of membership: tagged since / untagged at)."""
    import ibis

    from jingzhun.profile.tags import apply_tags, update_tag_history

    members = _materializer(wh, {})("tags_now", apply_tags(wh.table(PROFILE_TABLE), rules))
    history = wh.table(TAG_HISTORY_TABLE) if TAG_HISTORY_TABLE in wh.table_names() else None
    _materializer(wh, {})(
        "tag_history", update_tag_history(history, members, as_of=as_of))
    wh.con.execute(f'CREATE OR REPLACE TABLE {TAG_HISTORY_TABLE} AS SELECT * FROM '
                   f'"{_TMP}tag_history" ORDER BY customer_id, tag, tagged_since')
    _materializer(wh, {"tags": TAGS_TABLE})("tags", members.mutate(as_of=ibis.literal(as_of)))
    for name in ("tags_now", "tag_history"):
        wh.con.execute(f'DROP TABLE temp."{_TMP}{name}"')


def _load_tag_rules(tags_file: str | Path | None):
    from jingzhun.profile.derive import PROFILE_COLUMNS
    from jingzhun.profile.tags import load_rules, validate_rules

    rules = load_rules(tags_file)
    validate_rules(rules, PROFILE_COLUMNS)
    return rules


def tags_apply(wh: Warehouse, *, tags_file: str | Path | None = None) -> dict:
    """Apply tag rules (``tags_file``, else the profile's, else the packaged defaults) to the
    stored profile and remember the file for later updates. Returns ``tags_list``."""
    meta = _require_profile(wh)
    tags_file = str(tags_file) if tags_file else meta.get("tags_file")
    rules = _load_tag_rules(tags_file)
    with wh.transaction():
        _write_tags(wh, rules, meta["as_of"])
        wh.con.execute(f"UPDATE {PROFILE_META} SET tags_file = ?", [tags_file])
    return tags_list(wh, tags_file=tags_file)


def tags_list(wh: Warehouse | None, *, tags_file: str | Path | None = None) -> dict:
    """The rules (name, descriptions, expression) with their current member counts when the
    warehouse has tags. ``wh`` may be None to only check a rule file."""
    rules = _load_tag_rules(tags_file)
    counts: dict[str, int] = {}
    if wh is not None and TAGS_TABLE in wh.table_names():
        counts = dict(wh.con.execute(f"SELECT tag, count(*) FROM {TAGS_TABLE} GROUP BY 1").fetchall())
    return {"tags_file": str(tags_file) if tags_file else None, "rules": [
        {"name": r.name, "description": r.description, "description_zh": r.description_zh,
         "expression": r.expression, "customers": counts.get(r.name)} for r in rules]}


# -- results as JSON ------------------------------------------------------------------------------
def jsonable(value):
    """``value`` ready for JSON, recursively: NaN/inf -> None, numpy scalars -> Python, tuples ->
    lists, dict keys -> str (the pipeline functions' results go to ``--json``)."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
