"""The ``jz`` command: parses arguments, calls ``pipeline``, prints. No logic of its own.

Exit codes: 0 ok, 1 findings (some rows quarantined), 2 error. Errors print one line and a hint;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from typer.core import TyperGroup

from jingzhun import __version__
from jingzhun.errors import JingzhunError

PROGRESS_MIN_BYTES = 4 * 1024 * 1024

out = Console()
err = Console(stderr=True)
_state = {"debug": False}


class _DefaultToLoad(TyperGroup):
    """``jz ingest FILE...`` runs the hidden ``load`` command; ``jz ingest report`` the report."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["load", *args]
        elif not args:
            args = ["load"]
        return super().parse_args(ctx, args)


app = typer.Typer(
    help="jingzhun (精准): precision marketing for online retailers.\n\n"
         "Ingest a retailer's raw exports into a warehouse under a data contract, then profile, "
         "segment, predict, plan and evaluate campaigns. Start with `jz demo`.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
ingest_app = typer.Typer(
    cls=_DefaultToLoad, add_completion=False, pretty_exceptions_enable=False,
    help="Load raw files into the warehouse: `jz ingest FILE... --table T`, or "
         "`jz ingest report`. Every row is loaded, quarantined with a reason, or counted as a "
         "duplicate. Exit 0 all loaded, 1 some rows quarantined, 2 error. "
         "Options of the load (--table, --mapping, --source, --db, --json): "
         "`jz ingest load --help`.",
)
app.add_typer(ingest_app, name="ingest")

DbOpt = Annotated[Path | None, typer.Option(
    "--db", help="Warehouse file (default: jingzhun.toml's [warehouse] path, $JINGZHUN_DB, "
                 "or ./jingzhun.duckdb).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
KeyOpt = Annotated[Path | None, typer.Option(
    "--key-file", help="Pseudonym/vault key file, kept outside the warehouse (default: "
                       "$JINGZHUN_KEY_FILE or ~/.jingzhun/secret.key; created with mode 0600).")]


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version.")] = False,
) -> None:
    _state["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if version:
        out.print(f"jingzhun {__version__}")
        raise typer.Exit(0)


@contextmanager
def _errors_exit_2():
    """One clear line (and a hint) for any error; a traceback only with --debug."""
    try:
        yield
    except (typer.Exit, typer.Abort, SystemExit, KeyboardInterrupt):
        raise
    except JingzhunError as exc:
        if _state["debug"]:
            err.print_exception()
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        if exc.hint:
            err.print(f"[yellow]hint:[/] {exc.hint}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except Exception as exc:  # anything unforeseen is still one line without --debug
        if _state["debug"]:
            err.print_exception()
        err.print(f"[bold red]internal error:[/] {type(exc).__name__}: {exc}", highlight=False,
                  soft_wrap=True)
        err.print("[yellow]hint:[/] run again with `jz --debug ...` and report the traceback")
        raise typer.Exit(2) from None


@contextmanager
def _progress(total_bytes: int, enabled: bool):
    """A progress bar over bytes read, when the input is large enough to wait for."""
    if not enabled or total_bytes < PROGRESS_MIN_BYTES:
        yield None
        return
    # DuckDB parses a file in one call, so bytes advance file by file; the spinner and the
    # elapsed time show that a large file is still being worked on
    bar = Progress(SpinnerColumn(), TextColumn("[progress.description]{task.description}"),
                   BarColumn(), DownloadColumn(), TimeElapsedColumn(), console=err, transient=True)
    with bar:
        task = bar.add_task("ingesting", total=total_bytes)
        advance: Callable[[int], None] = lambda n: bar.advance(task, n)  # noqa: E731
        yield advance


def _size(paths: list[Path]) -> int:
    total = 0
    for p in paths:
        if p.is_file():
            total += p.stat().st_size
        elif p.is_dir():
            total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return total


def _summary(results) -> dict:
    keys = ("rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate")
    total = {k: sum(getattr(r, k) for r in results) for k in keys}
    reasons: dict[str, int] = {}
    for r in results:
        for code, n in r.quarantine_reasons.items():
            reasons[code] = reasons.get(code, 0) + n
    return {**total, "quarantine_reasons": reasons, "runs": [r.to_dict() for r in results]}


def _print_results(results, title: str) -> None:
    t = Table(title=title, title_justify="left")
    for col in ("file", "table", "status", "read", "loaded", "quarantined", "duplicate"):
        numeric = col in ("read", "loaded", "quarantined", "duplicate")
        t.add_column(col, justify="right" if numeric else "left",
                     overflow="fold", no_wrap=numeric)
    for r in results:
        t.add_row(Path(r.source_file).name, r.table, r.status, f"{r.rows_read:,}",
                  f"{r.rows_loaded:,}", f"{r.rows_quarantined:,}", f"{r.rows_duplicate:,}")
    out.print(t)
    s = _summary(results)
    if s["quarantine_reasons"]:
        reasons = ", ".join(f"{k} {v:,}" for k, v in s["quarantine_reasons"].items())
        out.print(f"quarantined by reason: {reasons}  (details: jz ingest report)")


@ingest_app.command("load", hidden=True)
def ingest_load(
    files: Annotated[list[Path], typer.Argument(
        help="Files to load: CSV/TSV/whitespace text (optionally .gz), .xlsx, Parquet; "
             "for --source, the data set's file or folder.", show_default=False)] = None,
    table: Annotated[str | None, typer.Option(
        "--table", "-t", help="Canonical table: customers, orders, order_lines, products, events, "
                              "consents, campaigns, sends, responses.")] = None,
    mapping: Annotated[Path | None, typer.Option(
        "--mapping", "-m", help="YAML mapping of source columns to the table (renames, date "
                                "formats, time zone, constants, derived keys, vocabularies).")] = None,
    source: Annotated[str | None, typer.Option(
        "--source", "-s", help="Built-in mapping of a known data set: cdnow, hillstrom, "
                               "online_retail, completejourney.")] = None,
    db: DbOpt = None,
    key_file: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load FILE... into the warehouse under the data contract."""
    from jingzhun import pipeline

    with _errors_exit_2():
        if not files:
            raise typer.BadParameter("give at least one FILE (see jz ingest --help)")
        with pipeline.open_warehouse(db) as wh, _progress(_size(files), not as_json) as progress:
            secrets = pipeline.open_secrets(key_file)
            results = pipeline.ingest_paths(wh, files, table=table, mapping=mapping,
                                            source=source, secrets=secrets, progress=progress)
        summary = _summary(results)
        if as_json:
            print(json.dumps(summary, ensure_ascii=False, default=str))
        else:
            _print_results(results, f"ingest into {wh.path}")
    raise typer.Exit(1 if summary["rows_quarantined"] else 0)


@ingest_app.command("report")
def ingest_report(
    db: DbOpt = None,
    run: Annotated[str | None, typer.Option("--run", help="Only this run id.")] = None,
    examples: Annotated[int, typer.Option(help="Example rows per quarantine reason.")] = 3,
    as_json: JsonOpt = False,
) -> None:
    """Counts per ingest run, and quarantine reasons with example rows."""
    from jingzhun import pipeline

    with _errors_exit_2(), pipeline.open_warehouse(db) as wh:
        report = pipeline.ingest_report(wh, run_id=run, examples=examples)
    if as_json:
        print(json.dumps(report, ensure_ascii=False, default=str))
        return
    t = Table(title="ingest runs", title_justify="left")
    for col in ("run", "file", "table", "status", "read", "loaded", "quarantined", "duplicate"):
        t.add_column(col)
    for r in report["runs"]:
        t.add_row(r["run_id"], Path(r["source_file"]).name, r["table"], r["status"],
                  *(f"{r[k]:,}" for k in ("rows_read", "rows_loaded", "rows_quarantined",
                                          "rows_duplicate")))
    out.print(t)
    for reason in report["reasons"]:
        out.print(f"[bold]{reason['table']}: {reason['reason_code']}[/] — {reason['rows']:,} rows")
        for ex in reason["examples"]:
            out.print(f"  {ex['source']} row {ex['row_number']}, column {ex['column']}: "
                      f"{ex['raw_value']!r} — {ex['reason']}", highlight=False)


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the data, warehouse and "
                                                        "key file.")] = Path("demo-output"),
    customers: Annotated[int, typer.Option(help="Customers to simulate.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed of the simulator.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Simulate a retailer's raw exports (with realistic dirt), ingest them, print the accounting."""
    from jingzhun import pipeline

    with _errors_exit_2():
        secrets = pipeline.open_secrets(out_dir / "secret.key")
        db, results = pipeline.simulate_and_ingest(out_dir, n_customers=customers, seed=seed,
                                                   secrets=secrets)
    if as_json:
        print(json.dumps({"db": str(db), **_summary(results)}, ensure_ascii=False, default=str))
        return
    _print_results(results, f"demo: simulated retailer ingested into {db}")
    out.print(f"warehouse: {db}   raw files: {out_dir / 'data'}   "
              f"details: jz ingest report --db {db}")


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
