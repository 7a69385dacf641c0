"""Where stages meet storage: open the warehouse from settings, run ingest, summarise runs.

The CLI calls these functions and prints; the stages themselves never import this module.
"""

from __future__ import annotations

import json
from pathlib import Path

from jingzhun.config import Settings, load_settings
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
