"""The ``jz`` sub-commands of the models beyond CLV: uplift of a past campaign, churn, customer
clusters and interest topics. Kept apart from ``cli.py`` to keep modules small; they
register on ``cli``'s ``segment`` and ``predict`` groups when ``cli`` imports this module. Like
``cli.py``: parse, call a pipeline function, print -- no logic of their own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from jingzhun.cli import DbOpt, JsonOpt, _emit, _errors_exit_2, _spinner, out, predict_app, segment_app


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
                     test_share=test_share, seed=seed)
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
