"""The ``jz`` sub-commands of the models beyond CLV -- uplift of a past campaign, churn, customer
clusters, interest topics -- and of campaign planning (``jz plan``). Kept apart from ``cli.py`` to
keep modules small; they register on ``cli``'s groups when ``cli`` imports this module. Like
``cli.py``: parse, call a pipeline function, print -- no logic of their own.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from typer.core import TyperGroup

from jingzhun.cli import (
    DbOpt,
    JsonOpt,
    KeyOpt,
    _emit,
    _errors_exit_2,
    _spinner,
    app,
    out,
    predict_app,
    segment_app,
)


@predict_app.command("uplift")
def predict_uplift(
    campaign: Annotated[str, typer.Option(
        "--campaign", help="A past campaign in the warehouse's sends, with a control arm.")],
    outcome: Annotated[str, typer.Option(
        "--outcome", help="conversion (any purchase in the response window), visit, or revenue "
                          "(the conversions' amount).")] = "conversion",
    arm: Annotated[str | None, typer.Option(
        "--arm", show_default=False,
        help="Treated arm to compare with control (default: the only one, or all pooled).")] = None,
    learner: Annotated[str | None, typer.Option(
        "--learner", show_default=False,
        help="s (S-learner), t (T-learner), x (X-learner), ct (class transformation, 0/1 "
             "outcomes) or to (transformed outcome, revenue); default: the best by Qini "
             "coefficient on the held-out part.")] = None,
    test_share: Annotated[float, typer.Option(
        "--test-share", help="Share of customers held out to compare the learners.")] = 0.3,
    seed: Annotated[int, typer.Option(help="Seed of the split and the learners.")] = 42,
    as_of: Annotated[datetime | None, typer.Option(
        "--as-of", formats=["%Y-%m-%d"], show_default=False,
        help="Date the scores describe, YYYY-MM-DD (default: the day after the send; a source "
             "without send times has none unless given).")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Learn from a past campaign whom the contact changes: compare uplift learners (LightGBM)
    on a held-out part by Qini coefficient and uplift at 30%, refit the best on every customer
    and write each customer's predicted uplift to the table predictions (model uplift_<learner>).
    Features are what was known before the send: the source's customer attributes and the
    profile as of the day before it."""
    from jingzhun import pipeline
    from jingzhun.pipeline_uplift import predict_uplift as run

    with _errors_exit_2(), pipeline.open_warehouse(db) as wh, _spinner("fitting uplift models", as_json):
        result = run(wh, campaign_id=campaign, outcome=outcome, arm=arm, learner=learner,
                     test_share=test_share, seed=seed, as_of=as_of.date() if as_of else None)
    _emit(result, as_json, print_uplift)


def print_uplift(result: dict) -> None:
    """The comparison and the chosen learner's deciles of ``pipeline_uplift.predict_uplift``."""
    obs = result["observed"]
    money = result["outcome"] == "revenue"
    fmt = (lambda v: f"{v:,.3f}") if money else (lambda v: f"{v:.2%}")
    out.print(f"{result['campaign_id']}: {' + '.join(result['arms'])} ({result['treatment']:,}) vs "
              f"control ({result['control']:,}), outcome {result['outcome']}: "
              f"{fmt(obs['mean_treatment'])} vs {fmt(obs['mean_control'])}, difference "
              f"{fmt(obs['difference'])} (95% CI {fmt(obs['ci_low'])} – {fmt(obs['ci_high'])})")
    t = Table("learner", "Qini coefficient", "uplift AUC", "uplift@30%",
              title=f"learners on the held-out {result['test_share']:.0%}", title_justify="left")
    for row in result["learners"]:
        mark = " ← chosen" if row["learner"] == result["chosen"] else ""
        t.add_row(row["learner"] + mark, f"{row['qini_auc']:.4f}", f"{row['uplift_auc']:.4f}",
                  f"{row['uplift_at_30']:.4f}")
    out.print(t)
    d = Table("decile", "treated", "control", "mean treated", "mean control", "uplift", "95% CI",
              title="held-out customers by predicted uplift (1 = highest)", title_justify="left")
    for row in result["deciles"]:
        lift = "—" if row["uplift"] is None else fmt(row["uplift"])
        ci = "—" if row["ci_low"] is None else f"{fmt(row['ci_low'])} – {fmt(row['ci_high'])}"
        d.add_row(str(row["bin"]), f"{row['n_treatment']:,}", f"{row['n_control']:,}",
                  "—" if row["mean_treatment"] is None else fmt(row["mean_treatment"]),
                  "—" if row["mean_control"] is None else fmt(row["mean_control"]), lift, ci)
    out.print(d)
    r = result["response"]
    auc = "" if r["roc_auc"] is None else f", ROC-AUC {r['roc_auc']:.3f} on the held-out contacted"
    out.print(f"response model (contacted customers only): mean {fmt(r['rate'])}{auc}")
    out.print(f"{result['rows_written']:,} scores (uplift and response) written to predictions "
              f"(model uplift_{result['chosen']})")


@predict_app.command("churn")
def predict_churn(
    as_of: Annotated[datetime | None, typer.Option(
        "--as-of", formats=["%Y-%m-%d"], show_default=False,
        help="Score every buyer as of this local date (default: the profile's date, else the "
             "latest order or event).")] = None,
    horizon_days: Annotated[int, typer.Option(
        "--horizon-days", help="Churn = no purchase in this many days after the date.")] = 90,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Backtest and score, but write nothing.")] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Backtest a LightGBM churn model on the customer profile (train as of the date minus two
    horizons, test as of the date minus one, next to the BG/NBD baselines 1 - P(alive) and
    P(no purchase in the horizon)), then fit it on the latest full window and write every buyer's
    churn probability to the table churn_predictions."""
    from jingzhun import pipeline
    from jingzhun.pipeline_churn import predict_churn as run

    with _errors_exit_2(), pipeline.open_warehouse(db) as wh, _spinner("backtesting churn", as_json):
        result = run(wh, as_of=as_of.date() if as_of else None, horizon_days=horizon_days,
                     write=not dry_run)
    _emit(result, as_json, print_churn)


def print_churn(result: dict) -> None:
    """The backtest, lift and scoring summary of ``pipeline_churn.predict_churn``."""
    bt = result["backtest"]
    t = Table("scores", "ROC-AUC", "PR-AUC", "Brier", "top-decile lift",
              title=f"churn in {result['horizon_days']} days: trained as of {bt['train_as_of']}, "
                    f"tested as of {bt['test_as_of']} ({bt['model']['n']:,} buyers, "
                    f"{bt['model']['base_rate']:.1%} churned)", title_justify="left")
    rows = (("model", bt["model"]), ("BG/NBD 1 - P(alive)", bt["baseline"]),
            ("BG/NBD P(no purchase)", bt["baseline_no_purchase"]))
    for name, m in rows:
        if m["status"] != "ok":
            t.add_row(name, m["status"], "", "", "")
            continue
        t.add_row(name, f"{m['roc_auc']:.3f}", f"{m['pr_auc']:.3f}", f"{m['brier']:.3f}",
                  f"{m['lift'][0]['lift']:.2f}")
    out.print(t)
    d = Table("risk decile", "buyers", "churn rate", "lift", "cumulative capture",
              title="test customers by predicted risk (1 = riskiest)", title_justify="left")
    for row in result["lift"]:
        d.add_row(str(row["decile"]), f"{row['n']:,}", f"{row['churn_rate']:.1%}",
                  f"{row['lift']:.2f}", f"{row['cumulative_capture']:.1%}")
    out.print(d)
    top = ", ".join(f"{f['feature']} {f['importance']:.0%}" for f in result["feature_importance"][:5])
    out.print(f"top features: {top}")
    written = f"written to {result['table']}" if result["table"] else "not written: dry run"
    out.print(f"{result['customers']:,} buyers scored as of {result['as_of']} ({written}); mean churn "
              f"probability {result['churn_prob_mean']:.1%}, {result['expected_churners']:,.0f} "
              f"expected churners")
    for warning in result["warnings"]:
        out.print(f"[yellow]warning:[/] {warning}")


@segment_app.command("cluster")
def segment_cluster(
    k: Annotated[int | None, typer.Option(
        "--k", show_default=False, help="Number of clusters (default: chosen by silhouette, 2-10).")] = None,
    features: Annotated[str | None, typer.Option(
        "--features", show_default=False,
        help="Comma-separated profile columns (default: value, frequency, recency, tenure, "
             "discount use, category entropy, engagement).")] = None,
    method: Annotated[str, typer.Option("--method", help="kmeans or gmm (Gaussian mixture).")] = "kmeans",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same clusters).")] = 0,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cluster the buyers on their profile (log and standard scaling), name each cluster and
    describe what sets it apart, in English and Chinese; store membership as segment scheme
    'cluster' and the clusters in the table segment_clusters."""
    from jingzhun import pipeline
    from jingzhun.pipeline_segment import segment_cluster as run

    columns = [c.strip() for c in features.split(",") if c.strip()] if features else None
    with _errors_exit_2(), pipeline.open_warehouse(db) as wh, _spinner("clustering", as_json):
        result = run(wh, n_clusters=k, features=columns, method=method, seed=seed)
    _emit(result, as_json, print_clusters)


def print_clusters(result: dict) -> None:
    """The clusters of ``pipeline_segment.segment_cluster``."""
    how = "given" if result["k_chosen_by"] == "given" else "chosen by silhouette"
    t = Table("cluster", "name", "名称", "customers", "share", "value share",
              title=f"{result['k']} clusters ({how}) of {result['customers']:,} buyers as of "
                    f"{result['as_of']}", title_justify="left")
    for c in result["clusters"]:
        t.add_row(str(c["cluster"]), c["name_en"], c["name_zh"], f"{c['size']:,}",
                  f"{c['share']:.1%}", f"{c['value_share']:.1%}")
    out.print(t)
    for c in result["clusters"]:  # descriptions are sentences: below the table, not squeezed in it
        out.print(f"[bold]{c['cluster']} {c['name_en']}[/]: {c['description_en']}")
        out.print(f"  {c['name_zh']}:{c['description_zh']}")
    if result["k_chosen_by"] != "given":
        scores = ", ".join(f"k={s['k']}: {s['silhouette']:.2f}" for s in result["selection"])
        out.print(f"silhouette by k: {scores}")


@segment_app.command("topics")
def segment_topics(
    topics: Annotated[int | None, typer.Option(
        "--topics", show_default=False,
        help="Number of interest topics (default: chosen by held-out perplexity, 2-8).")] = None,
    threshold: Annotated[float, typer.Option(
        "--threshold", help="A customer gets a topic's interest tag from this weight on.")] = 0.35,
    seed: Annotated[int, typer.Option(help="Random seed of the topic model.")] = 0,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Find interest topics (LDA) in what customers buy and browse -- categories, brands and the
    words of product names (Chinese cut with jieba) -- and store each customer's topic mix
    (customer_topics, with interest tags) and the topics (interest_topics)."""
    from jingzhun import pipeline
    from jingzhun.pipeline_segment import segment_topics as run

    with _errors_exit_2(), pipeline.open_warehouse(db) as wh, _spinner("finding topics", as_json):
        result = run(wh, n_topics=topics, seed=seed, tag_threshold=threshold)
    _emit(result, as_json, print_topics)


def print_topics(result: dict) -> None:
    """The topics of ``pipeline_segment.segment_topics``."""
    how = "given" if result["k_chosen_by"] == "given" else "chosen by perplexity"
    t = Table("topic", "label", "share", "customers", "top words and categories",
              title=f"{result['k']} interest topics ({how}) of {result['customers']:,} customers as "
                    f"of {result['as_of']}", title_justify="left")
    for topic in result["topics"]:
        words = " ".join(tok["token"] for tok in topic["top_tokens"][:8])
        t.add_row(str(topic["topic"]), topic["label"], f"{topic['share']:.1%}",
                  f"{topic['customers']:,}", words)
    out.print(t)
    out.print(f"{result['tagged_customers']:,} customers tagged with an interest (weight >= "
              f"{result['tag_threshold']:.2f})")


class _DefaultToMake(TyperGroup):
    """``jz plan SPEC.yaml`` runs the hidden ``make`` command; ``jz plan export`` the export."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["make", *args]
        return super().parse_args(ctx, args)


plan_app = typer.Typer(
    cls=_DefaultToMake, add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
    help="Plan a campaign: `jz plan SPEC.yaml` chooses per customer whether to contact, through "
         "which channel, with which offer and content, within budget and rules, and holds out a "
         "random control group (options: `jz plan make --help`); `jz plan export --campaign ID "
         "--out FILE` writes the send list with contact details.")
app.add_typer(plan_app, name="plan")


@plan_app.command("make", hidden=True)
def plan_make(
    spec_file: Annotated[Path, typer.Argument(help="The campaign spec (YAML).", show_default=False)],
    as_of: Annotated[datetime | None, typer.Option(
        "--as-of", formats=["%Y-%m-%d"], show_default=False,
        help="Plan date (default: the profile's date).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan and print, write nothing.")] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Plan the campaign of SPEC.yaml on the profile: audience -> consent -> suppression ->
    frequency cap -> expected incremental profit per channel and offer (uplift x order value x
    margin - contact and offer cost) -> allocation within budget -> random control group; write
    the table plans (one row per audience customer, with the reason) and print the funnel and the
    forecast next to contacting everyone on the cheapest channel."""
    from jingzhun import pipeline
    from jingzhun.pipeline_plan import plan_campaign
    from jingzhun.plan.spec import load_spec

    with _errors_exit_2(), pipeline.open_warehouse(db) as wh, _spinner("planning", as_json):
        spec = load_spec(spec_file)
        result = plan_campaign(wh, spec, as_of=as_of.date() if as_of else None, write=not dry_run)
    _emit(result, as_json, print_plan)


def print_plan(result: dict) -> None:
    """The funnel, forecast and control group of ``pipeline_plan.plan_campaign``."""
    f = Table("step", "customers", "excluded", title=f"{result['campaign_id']} ({result['goal']}) as of "
              f"{result['as_of']}: audience funnel", title_justify="left")
    for step in result["funnel"]:
        f.add_row(step["step"], f"{step['customers']:,}", f"{step['excluded']:,}" if step["excluded"] else "")
    out.print(f)
    t = Table("", "plan", "mass contact (cheapest channel, everyone allowed)",
              title=f"forecast (budget {result['budget']:,.0f})", title_justify="left")
    plan, mass = result["forecast"], result["mass_baseline"]
    rows = (("contacts", "contacts", "{:,.0f}"), ("cost", "cost", "{:,.2f}"),
            ("incremental conversions", "expected_incremental_conversions", "{:,.1f}"),
            ("incremental revenue", "incremental_revenue", "{:,.2f}"),
            ("incremental profit", "incremental_profit", "{:,.2f}"), ("ROI (profit / cost)", "roi", "{:.1%}"),
            ("revenue / cost", "revenue_to_cost", "{:.1%}"))
    for label, key, fmt in rows:
        t.add_row(label, _cell(plan.get(key), fmt), _cell(mass.get(key), fmt))
    out.print(t)
    c = result["control"]
    mde = _cell(c["minimum_detectable_effect"], "{:.2%}")
    out.print(f"control group: {c['control']:,} held out of {c['treatment'] + c['control']:,} "
              f"({c['share']:.1%}); minimum detectable effect {mde} (power 80%, alpha 5%)")
    if c["warning"]:
        out.print(f"[yellow]warning:[/] {c['warning']}")
    model = result["uplift_model"]
    if model.get("learner") == "lookalike":
        auc = "n/a" if model["seed_auc"] is None else f"{model['seed_auc']:.2f}"
        source = (f"lookalike of the {model['seeds']:,} most valuable buyers (seeds vs others AUC "
                  f"{auc}) x {model['conversion_rate_at_score_1']:.1%} assumed first-purchase rate")
    elif model.get("campaign_id"):
        source = f"uplift from campaign {model['campaign_id']} ({model['learner']}-learner)"
    else:
        why = model.get("unusable") or "no past campaign with a control group"
        rates = ", ".join(f"{k} {v:+.2%}" for k, v in result["fallback_rates"].items()) or "none"
        source = f"no uplift model ({why}); fallback rates by stratum: {rates}"
    out.print(f"value: {source}; run {result['run_id']}")
    for warning in result["warnings"]:
        out.print(f"[yellow]warning:[/] {warning}")


def _cell(value, fmt: str) -> str:
    return "—" if value is None else fmt.format(value)


@plan_app.command("export")
def plan_export(
    campaign: Annotated[str, typer.Option("--campaign", help="The planned campaign's id.")],
    out_file: Annotated[Path, typer.Option("--out", help="CSV to write (UTF-8 with BOM).")],
    key_file: KeyOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the send list of a planned campaign -- its treated customers with the channel,
    offer, content and the contact detail the channel needs (phone for sms, e-mail for email),
    decrypted from the identity vault only now -- and record the export in the table audit_log."""
    import getpass

    from jingzhun import pipeline
    from jingzhun.pipeline_plan import export_plan

    with _errors_exit_2(), pipeline.open_warehouse(db) as wh:
        result = export_plan(wh, campaign, secrets=pipeline.open_secrets(key_file), out=out_file,
                             actor=getpass.getuser())
    _emit(result, as_json, print_export)


def print_export(result: dict) -> None:
    """The summary of ``pipeline_plan.export_plan``."""
    channels = ", ".join(f"{k} {v:,}" for k, v in result["by_channel"].items())
    missing = result["missing_contact"]
    out.print(f"{result['rows']:,} customers written to {result['path']} ({channels})"
              + (f"; {missing:,} lack the contact detail their channel needs" if missing else "")
              + "; recorded in audit_log")


@app.command("evaluate")
def evaluate(
    campaign: Annotated[str, typer.Argument(help="The campaign's id (in sends, with a control arm).",
                                            show_default=False)],
    window_days: Annotated[float, typer.Option(
        "--window", help="Attribution window after each send, in days.")] = 14.0,
    margin: Annotated[float, typer.Option(
        "--margin", help="Share of revenue kept as profit (for incremental profit and ROI).")] = 1.0,
    attribution: Annotated[str, typer.Option(
        help="Where conversions and revenue come from: 'orders' (non-cancelled orders in the "
             "window, which the control group shows too), 'responses' (the campaign's conversion "
             "responses), or 'auto' (orders where the warehouse has them and sends have times).")
    ] = "auto",
    pre_days: Annotated[float, typer.Option(
        "--pre-days", help="CUPED pre-period before each send, in days (0: no CUPED).")] = 90.0,
    control_share: Annotated[float | None, typer.Option(
        "--control-share", help="Designed control share, for the sample-ratio check (default: "
                                "the plan's, else equal arms).", show_default=False)] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Measure a campaign against its control group: per arm the delivery, open, click, visit
    and conversion rates, orders and revenue per recipient; per treated arm the lift with
    confidence intervals and p-values (z-test or Fisher for rates, Welch and bootstrap for
    revenue, CUPED with pre-period spend, Holm across arms), incremental revenue, profit and ROI,
    and a sample-ratio-mismatch check."""
    from jingzhun import pipeline
    from jingzhun.pipeline_evaluate import evaluate_campaign

    with _errors_exit_2(), pipeline.open_warehouse(db) as wh:
        result = evaluate_campaign(wh, campaign, window_days=window_days, margin=margin,
                                   attribution=attribution, pre_days=pre_days or None,
                                   control_share=control_share)
    _emit(result, as_json, print_evaluation)


def print_evaluation(result: dict) -> None:
    """The arms, comparisons and economics of ``pipeline_evaluate.evaluate_campaign``."""
    visits = any("visit_rate" in a for a in result["arms"])
    t = Table("arm", "recipients", "delivered", "clicked", *(["visited"] if visits else []), "converted",
              "orders", "revenue / recipient", "cost", title=f"{result['campaign_id']}: arms "
              f"({result['attribution']} within {result['window_days']:g} days)", title_justify="left")
    for a in result["arms"]:
        t.add_row(a["arm"] + (" (control)" if a["is_control"] else ""), f"{a['recipients']:,}",
                  f"{a['delivered_rate']:.1%}", f"{a['click_rate']:.1%}",
                  *([f"{a['visit_rate']:.2%}"] if visits else []), f"{a['conversion_rate']:.2%}",
                  f"{a['orders']:,}", f"{a['revenue_per_recipient']:,.3f}", f"{a['cost']:,.2f}")
    out.print(t)
    level = 1 - result["alpha"]
    c = Table("arm", "metric", "test", "lift", f"{level:.0%} CI", "relative", "p", "p (Holm)",
              title="against control", title_justify="left")
    for row in result["comparisons"]:
        spec = "+,.3f" if row["metric"].startswith("revenue") else "+.2%"
        lift, low, high = (_num(row[k], spec) for k in ("lift_abs", "ci_low", "ci_high"))
        c.add_row(row["arm"], row["metric"], row["test"], lift, f"{low} – {high}",
                  _num(row["lift_rel"], "+.1%"), _p(row["p_value"]), _p(row["p_adjusted"]))
    out.print(c)
    cuped = result["cuped"]
    if cuped["ran"]:
        out.print(f"CUPED ({cuped['pre_days']:g} days of pre-period spend): theta {cuped['theta']:.3f}, "
                  f"variance of the revenue lift reduced by {_num(cuped['variance_reduction'], '.0%')}")
    for e in result["economics"]:
        roi = "—" if e["roi"] is None else f"{e['roi']:.1%}"
        out.print(f"{e['arm']}: {e['incremental_conversions']:+,.1f} conversions, revenue "
                  f"{e['incremental_revenue']:+,.2f}, profit {e['incremental_profit']:+,.2f} at cost "
                  f"{e['cost']:,.2f} (ROI {roi})")
    s = result["srm"]
    verdict = "[red]sample ratio mismatch[/]" if s["mismatch"] else "no sample ratio mismatch"
    out.print(f"{verdict}: chi-square {s['chi2']:.2f}, p {_p(s['p_value'])} (expected {s['expected_from']})")


def _num(value, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _p(value) -> str:
    return "—" if value is None else ("<0.0001" if value < 1e-4 else f"{value:.4f}")


@app.command("report")
def report(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder of report.html (created).")] = Path("report"),
    lang: Annotated[str, typer.Option(help="Language of the report: en or zh.")] = "en",
    campaign: Annotated[str | None, typer.Option(
        help="Campaign of the results section (default: the latest with a control arm).",
        show_default=False)] = None,
    window_days: Annotated[float, typer.Option(
        "--window", help="Attribution window of the results, in days.")] = 14.0,
    margin: Annotated[float, typer.Option(
        "--margin", help="Share of revenue kept as profit (for incremental profit and ROI).")] = 1.0,
    control_share: Annotated[float | None, typer.Option(
        "--control-share", help="Designed control share, for the sample-ratio check.",
        show_default=False)] = None,
    currency: Annotated[str | None, typer.Option(
        help="Currency of the money shown (default: the orders' own).", show_default=False)] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a self-contained HTML report (works offline) of everything in the warehouse: data
    health, customer base, customer value, models, the latest campaign plan and a campaign's
    results -- figures with a one-sentence reading each. Sections whose inputs are missing say
    which command makes them."""
    from jingzhun import pipeline
    from jingzhun.pipeline_report import build_report

    with _errors_exit_2(), pipeline.open_warehouse(db) as wh:
        with _spinner("building the report", as_json):
            result = build_report(wh, out_dir, lang=lang, campaign_id=campaign,
                                  window_days=window_days, margin=margin,
                                  control_share=control_share, currency=currency)
    _emit(result, as_json, print_report)


def print_report(result: dict) -> None:
    """Where the report is and what each section holds."""
    for s in result["sections"]:
        state = f"{s['panels']} figure(s)" if s["panels"] else f"[yellow]{s['note']}[/]"
        out.print(f"  {s['title']}: {state}")
    out.print(f"report: [bold]{result['path']}[/]")


@app.command("power")
def power(
    base_rate: Annotated[float, typer.Option(help="The control group's conversion rate, e.g. 0.05.",
                                             show_default=False)],
    treatment: Annotated[int, typer.Option(help="Recipients in the treated arm.", show_default=False)],
    control: Annotated[int, typer.Option(help="Recipients in the control group.", show_default=False)],
    effect: Annotated[float | None, typer.Option(
        help="An absolute lift to test, e.g. 0.01 for one point: prints the power to detect it.",
        show_default=False)] = None,
    alpha: Annotated[float, typer.Option(help="Significance level (two-sided).")] = 0.05,
    target_power: Annotated[float, typer.Option("--power", help="Power of the minimum detectable "
                                                                "effect.")] = 0.8,
    as_json: JsonOpt = False,
) -> None:
    """Before a campaign: the smallest lift in a conversion rate that arms of these sizes detect
    (two-proportion z-test), and the power to detect a given lift."""
    from jingzhun.errors import ConfigError
    from jingzhun.evaluate import stats
    from jingzhun.pipeline import jsonable

    with _errors_exit_2():
        if treatment < 1 or control < 1 or not 0 < base_rate < 1:
            raise ConfigError(f"need --treatment and --control >= 1 and 0 < --base-rate < 1, got "
                              f"{treatment}, {control} and {base_rate}")
        mde = stats.mde_two_proportions(treatment, control, base_rate, alpha=alpha, power=target_power)
        result = {"base_rate": base_rate, "treatment": treatment, "control": control, "alpha": alpha,
                  "power": target_power, "mde_abs": mde, "mde_rel": mde / base_rate}
        if effect is not None:
            result["effect"] = effect
            result["power_at_effect"] = stats.power_two_proportions(treatment, control, base_rate,
                                                                    effect, alpha=alpha)
    _emit(jsonable(result), as_json, print_power)


def print_power(result: dict) -> None:
    """The minimum detectable effect and, when asked, the power at an effect."""
    out.print(f"{result['treatment']:,} treated and {result['control']:,} control recipients at a "
              f"{result['base_rate']:.2%} base rate detect a lift of {_points(result['mde_abs'])} "
              f"({_num(result['mde_rel'], '.0%')} relative) with {result['power']:.0%} power "
              f"at alpha {result['alpha']:g}.")
    if "power_at_effect" in result:
        out.print(f"power to detect a lift of {_points(result['effect'])}: "
                  f"{_num(result['power_at_effect'], '.1%')}")


def _points(rate_difference: float | None) -> str:
    """A difference of two rates in percentage points ("1.48 points")."""
    return "—" if rate_difference is None else f"{100 * rate_difference:.2f} points"
