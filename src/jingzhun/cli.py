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
from datetime import datetime
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


profile_app = typer.Typer(
    add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
    help="The customer profile (客户画像): one row per customer in the table customer_profile "
         "(value, timing, preferences, price sensitivity, channel, engagement, lifecycle stage, "
         "demographics), with tags. `build` recomputes it from all orders and events; `update` "
         "applies only what was ingested since (same result, faster).")
tags_app = typer.Typer(
    add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
    help="Declarative customer tags: rules in a YAML file (name, description, expression over "
         "profile columns, e.g. `discount_order_share > 0.5 and orders >= 3`).")
segment_app = typer.Typer(
    add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
    help="Segments: RFM scores and named segments.")
predict_app = typer.Typer(
    add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
    help="Predictions: customer lifetime value and P(alive) from the BTYD models.")
app.add_typer(profile_app, name="profile")
app.add_typer(tags_app, name="tags")
app.add_typer(segment_app, name="segment")
app.add_typer(predict_app, name="predict")

AsOfOpt = Annotated[datetime | None, typer.Option(
    "--as-of", formats=["%Y-%m-%d"], show_default=False,
    help="Profile date YYYY-MM-DD, a local date in the profile's time zone (default: the date "
         "of the latest order or event).")]
RulesOpt = Annotated[Path | None, typer.Option(
    "--rules", help="Tag rule file (YAML); default: the profile's, else the packaged rules.")]


def _lifecycle(settings):
    """The lifecycle thresholds of ``[profile]`` (the settings carry every LifecycleConfig field)."""
    import dataclasses

    from jingzhun.profile.lifecycle import LifecycleConfig

    names = [f.name for f in dataclasses.fields(LifecycleConfig)]
    return LifecycleConfig(**settings.profile.model_dump(include=set(names)))


def _print_status(status: dict, title: str) -> None:
    from jingzhun.profile.lifecycle import STAGE_LABELS

    out.print(f"{title}: {status['customers']:,} customers as of {status['as_of']} "
              f"({status['timezone']})" + (f", {status['changed_customers']:,} changed"
                                           if status.get("changed_customers") is not None else ""))
    t = Table("lifecycle stage", "阶段", "customers", title_justify="left")
    for stage, n in status["stages"].items():
        en, zh = STAGE_LABELS.get(stage, (stage, ""))
        t.add_row(en, zh, f"{n:,}")
    out.print(t)


@profile_app.command("build")
def profile_build(
    as_of: AsOfOpt = None,
    timezone: Annotated[str | None, typer.Option(
        "--timezone", help="IANA time zone of local days and hours (default: jingzhun.toml's "
                           "[profile] timezone, else UTC).")] = None,
    rules: RulesOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Recompute the whole profile (and its tags and stored segments) as of a date."""
    from jingzhun import pipeline
    from jingzhun.config import load_settings

    with _errors_exit_2():
        settings = load_settings()
        with pipeline.open_warehouse(db, settings) as wh, _spinner("building the profile", as_json):
            status = pipeline.profile_build(
                wh, as_of=as_of.date() if as_of else None,
                timezone=timezone or settings.profile.timezone, lifecycle=_lifecycle(settings),
                tags_file=rules or settings.profile.tags_file)
    _emit(status, as_json, lambda s: _print_status(s, "profile built"))


@profile_app.command("update")
def profile_update(as_of: AsOfOpt = None, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Apply the orders and events ingested (or dated) since the last build or update."""
    from jingzhun import pipeline

    with _errors_exit_2(), pipeline.open_warehouse(db) as wh, \
            _spinner("updating the profile", as_json):
        status = pipeline.profile_update(wh, as_of=as_of.date() if as_of else None)
    _emit(status, as_json, lambda s: _print_status(s, "profile updated"))


@profile_app.command("show")
def profile_show(
    customer: Annotated[str, typer.Argument(help="The source's customer id (pseudonymised with "
                                                 "the key file) or the stored pseudonym.")],
    db: DbOpt = None,
    key_file: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One customer's card: values, stage, tags and segments."""
    from jingzhun import pipeline

    with _errors_exit_2(), pipeline.open_warehouse(db) as wh:
        card = pipeline.profile_card(wh, customer, secrets=pipeline.open_secrets(key_file))
    _emit(card, as_json, _print_card)


_CARD_ROWS = (
    ("value 价值", ("orders", "repeat_orders", "items", "monetary_gross", "returns_amount",
                  "monetary_net", "avg_order_value", "max_order_value", "return_rate")),
    ("timing 时间", ("first_order_at", "last_order_at", "recency_days", "tenure_days",
                   "ipt_median_days", "ipt_cv", "preferred_weekday", "preferred_hour")),
    ("preference 偏好", ("top_category", "top_category_share", "top_brand", "category_count",
                       "category_entropy", "new_product_share")),
    ("price 价格敏感度", ("discount_order_share", "discount_depth_mean", "price_index")),
    ("channel 渠道", ("preferred_channel", "views_30d", "carts_30d", "searches_30d",
                    "cart_abandonment_rate_90d")),
    ("lifecycle 生命周期", ("lifecycle_stage", "expected_gap_days")),
    ("demographics 人口属性", ("gender", "age_band", "city", "province")),
)


def _print_card(card: dict) -> None:
    p = card["profile"]
    out.print(f"[bold]customer {p['customer_id']}[/] as of {str(p['as_of'])[:10]}")
    t = Table(show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    t.add_column()
    for group, cols in _CARD_ROWS:
        for i, col in enumerate(cols):
            value = p.get(col)
            shown = f"{value:,.2f}" if isinstance(value, float) else str(value)
            t.add_row(group if i == 0 else "", col, "—" if value is None else shown)
    out.print(t)
    if card.get("tags") is not None:
        tags = ", ".join(f"{x['tag']} (since {str(x['tagged_since'])[:10]})" for x in card["tags"])
        out.print(f"tags 标签: {tags or '—'}")
    for seg in card.get("segments", []):
        out.print(f"segment ({seg['scheme']}): {seg['label_en']} {seg['label_zh']} "
                  f"[RFM {seg['rfm_cell'] or '—'}]")
    prefs = "; ".join(f"{x['dim']} {x['value']} {x['amount']:,.2f}" for x in card["preferences"])
    out.print(f"top preferences: {prefs or '—'}")


@tags_app.command("list")
def tags_list(rules: RulesOpt = None, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Check a rule file and list its tags, with member counts when the warehouse has tags."""
    from jingzhun import pipeline

    with _errors_exit_2():
        if db is None and rules is not None:
            listing = pipeline.tags_list(None, tags_file=rules)
        else:
            with pipeline.open_warehouse(db) as wh:
                listing = pipeline.tags_list(wh, tags_file=rules)
    _emit(listing, as_json, _print_tags)


@tags_app.command("apply")
def tags_apply(rules: RulesOpt = None, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Apply tag rules to the stored profile (history: tagged since / untagged at)."""
    from jingzhun import pipeline

    with _errors_exit_2(), pipeline.open_warehouse(db) as wh:
        listing = pipeline.tags_apply(wh, tags_file=rules)
    _emit(listing, as_json, _print_tags)


def _print_tags(listing: dict) -> None:
    t = Table("tag", "customers", "description", "expression",
              title=f"tag rules: {listing['tags_file'] or 'packaged defaults'}", title_justify="left")
    for r in listing["rules"]:
        n = "—" if r["customers"] is None else f"{r['customers']:,}"
        t.add_row(r["name"], n, r["description_zh"] or r["description"], r["expression"])
    out.print(t)


@segment_app.command("rfm")
def segment_rfm(
    scheme: Annotated[str, typer.Option(
        "--scheme", help="11 (Champions ... Lost), 5 (重要价值/Gold ... 流失/Lost), or a YAML "
                         "file with your own map.")] = "11",
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Score R, F, M (1-5, 5 = best) on the profile and store named segments."""
    from jingzhun import pipeline

    with _errors_exit_2(), pipeline.open_warehouse(db) as wh:
        result = pipeline.segment_rfm(wh, scheme=scheme)
    _emit(result, as_json, print_segments)


def print_segments(result: dict) -> None:
    """The segment table of ``pipeline.segment_rfm``."""
    t = Table("segment", "细分", "customers", "share", "revenue share",
              title=f"RFM segments (scheme {result['scheme']}, as of {result['as_of']})",
              title_justify="left")
    for s in result["segments"]:
        rev = "—" if s["revenue_share"] is None else f"{s['revenue_share']:.1%}"
        t.add_row(s["label_en"], s["label_zh"], f"{s['customers']:,}", f"{s['share']:.1%}", rev)
    out.print(t)


@predict_app.command("clv")
def predict_clv(
    model: Annotated[str, typer.Option(
        "--model", help="Transaction model: bgnbd (BG/NBD), mbgnbd (MBG/NBD) or pareto "
                        "(Pareto/NBD); spend is always Gamma-Gamma.")] = "bgnbd",
    as_of: Annotated[datetime | None, typer.Option(
        "--as-of", formats=["%Y-%m-%d"], show_default=False,
        help="Use purchases up to this local date (default: the profile's date, else the "
             "latest order or event).")] = None,
    horizon_weeks: Annotated[float, typer.Option(
        "--horizon-weeks", help="CLV and expected purchases over this many weeks.")] = 52.0,
    discount_rate: Annotated[float, typer.Option(
        "--discount-rate", help="Annual discount rate (0.10 = 10% a year).")] = 0.10,
    margin: Annotated[float, typer.Option(
        "--margin", help="Share of revenue kept as profit (1.0: CLV in revenue).")] = 1.0,
    holdout_weeks: Annotated[float | None, typer.Option(
        "--holdout-weeks", show_default=False,
        help="Only check the model instead: fit on the purchases up to --as-of minus this many "
             "weeks, predict the weeks after, and print expected vs actual purchases by "
             "calibration frequency and the per-customer error against a naive baseline. "
             "Writes nothing.")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fit a BTYD model and Gamma-Gamma on every customer's purchases (weeks; same-day orders
    are one transaction) and write P(alive), expected purchases, expected spend and CLV per
    customer to the table predictions (and the profile's clv and p_alive columns)."""
    from jingzhun import pipeline
    from jingzhun.pipeline_predict import CLVSettings, check_clv, predict_clv

    with _errors_exit_2(), pipeline.open_warehouse(db) as wh, _spinner("fitting", as_json):
        settings = CLVSettings(model=model, horizon_weeks=horizon_weeks,
                               annual_discount_rate=discount_rate, margin=margin)
        day = as_of.date() if as_of else None
        if holdout_weeks is not None:
            result = check_clv(wh, holdout_weeks=holdout_weeks, as_of=day, settings=settings)
        else:
            result = predict_clv(wh, as_of=day, settings=settings)
    _emit(result, as_json, print_clv_check if holdout_weeks is not None else print_clv)


def print_clv_check(result: dict) -> None:
    """The calibration-vs-holdout check of ``pipeline_predict.check_clv``."""
    t = Table("calibration purchases", "customers", "actual", "expected",
              title=f"{result['model']}: repeat purchases per customer after "
                    f"{result['calibration_end']} up to {result['observation_end']}",
              title_justify="left")
    for row in result["by_frequency"]:
        t.add_row(row["calibration_frequency"], f"{row['n_customers']:,}",
                  f"{row['actual_purchases_mean']:.3f}", f"{row['expected_purchases_mean']:.3f}")
    out.print(t)
    e = result["errors"]
    out.print(f"per customer: MAE {e['model_mae']:.3f} (naive rate {e['baseline_mae']:.3f}), "
              f"RMSE {e['model_rmse']:.3f} (naive {e['baseline_rmse']:.3f})")


def print_clv(result: dict, true_params: dict | None = None) -> None:
    """The fits of ``pipeline_predict.predict_clv`` (with the simulator's truth, if given)."""
    t = Table("model", "parameter", "estimate", "std error", "95% interval",
              *(["true"] if true_params else []),
              title=f"CLV models fitted on {result['customers']:,} customers as of {result['as_of']}",
              title_justify="left")
    for fit in result["fits"]:
        for name, row in fit["summary"].items():
            truth = (true_params or {}).get(fit["model"], {}).get(name)
            t.add_row(fit["model"], name, f"{row['estimate']:.4g}", f"{row['std_error']:.3g}",
                      f"{row['ci_low']:.4g} – {row['ci_high']:.4g}",
                      *([f"{truth:.4g}"] if true_params else []))
    out.print(t)
    s = result["settings"]
    out.print(f"CLV over {s['horizon_weeks']:g} weeks (discount {s['annual_discount_rate']:.0%} a "
              f"year, margin {s['margin']:.0%}): total {result['clv_total']:,.0f}, mean "
              f"{result['clv_mean']:,.2f} per customer; mean P(alive) {result['p_alive_mean']:.2f}")
    for warning in result["warnings"]:
        err.print(f"[yellow]warning:[/] {warning}")


@contextmanager
def _spinner(text: str, quiet: bool):
    if quiet:
        yield
        return
    with err.status(text):
        yield


def _emit(result: dict, as_json: bool, printer: Callable[[dict], None]) -> None:
    if as_json:
        print(json.dumps(result, ensure_ascii=False, default=str))
    else:
        printer(result)


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the data, warehouse, key file "
                                                        "and report.html.")] = Path("demo-output"),
    customers: Annotated[int, typer.Option(help="Customers to simulate.")] = 10000,
    seed: Annotated[int, typer.Option(help="Random seed of the simulator.")] = 0,
    data: Annotated[Path | None, typer.Option(
        help="Run on a real data set instead of the simulator: the file or folder the --source "
             "mapping reads.", show_default=False)] = None,
    source: Annotated[str | None, typer.Option(
        help="Built-in source mapping of --data (cdnow, completejourney, hillstrom, online_retail).",
        show_default=False)] = None,
    lang: Annotated[str, typer.Option(help="Language of the report: en or zh.")] = "en",
    as_json: JsonOpt = False,
) -> None:
    """The whole pipeline end to end: simulate a retailer's raw exports (with realistic dirt), or
    read a real data set (--data with --source); ingest, profile and tag, RFM segments, CLV
    (BG/NBD + Gamma-Gamma), churn backtest, clusters, interest topics, the uplift of the past
    campaign, a new campaign plan and the past campaign's evaluation against its control group;
    then write OUT/report.html. Steps the data cannot carry are skipped with the reason."""
    from jingzhun import pipeline, pipeline_demo

    if (data is None) != (source is None):
        err.print("[red]error:[/] --data and --source go together (a real data set and its mapping)")
        raise typer.Exit(2)
    with _errors_exit_2():
        secrets = pipeline.open_secrets(out_dir / "secret.key")
        with _spinner("running the pipeline end to end (a minute or two)", as_json):
            if data is None:
                demo_run = pipeline_demo.run_demo(out_dir, n_customers=customers, seed=seed,
                                                  secrets=secrets, lang=lang)
            else:
                demo_run = pipeline_demo.run_demo_on_data(out_dir, data=data, source=source,
                                                          secrets=secrets, lang=lang)
    if as_json:
        steps = ("profile", "segments", "tags", "clv", "true_params", "churn", "clusters", "topics",
                 "uplift", "plan", "evaluation", "report", "seconds")
        print(json.dumps({"db": str(demo_run["db"]), **_summary(demo_run["results"]),
                          **{k: demo_run[k] for k in steps}}, ensure_ascii=False, default=str))
        return
    _print_demo(demo_run, out_dir)


def _print_demo(demo_run: dict, out_dir: Path) -> None:
    from jingzhun.cli_models import (
        print_churn,
        print_clusters,
        print_evaluation,
        print_plan,
        print_topics,
        print_uplift,
    )

    db = demo_run["db"]
    _print_results(demo_run["results"], f"demo: ingested into {db}")
    if "skipped" not in demo_run["profile"]:
        _print_status(demo_run["profile"], "profile")
        _print_tags(demo_run["tags"])
    for result in demo_run["segments"]:
        print_segments(result)
    steps = (("profile", lambda r: None), ("clv", lambda r: print_clv(r, demo_run["true_params"])),
             ("churn", print_churn),
             ("clusters", print_clusters), ("topics", print_topics), ("uplift", print_uplift),
             ("plan", print_plan), ("evaluation", print_evaluation))
    for name, printer in steps:
        result = demo_run[name]
        if "skipped" in result:
            err.print(f"[yellow]{name} skipped:[/] {result['skipped']}")
        else:
            printer(result)
    out.print(f"done in {demo_run['seconds']:.0f} s.  warehouse: {db}   report: "
              f"[bold]{demo_run['report']['path']}[/]")
    out.print(f"next: open the report in a browser, or jz profile show CUSTOMER_ID --db {db} "
              f"--key-file {out_dir / 'secret.key'}")


# the model commands beyond CLV live in their own module and register on the groups above
from jingzhun import cli_models  # noqa: E402, F401


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
