"""The demo, end to end: raw files -> ingest -> profile -> segment -> predict -> plan ->
evaluate -> report, on a simulated retailer (``run_demo``) or on a real data set through a
built-in source mapping (``run_demo_on_data``).

Every model step runs through ``_step``: when the data cannot carry it (too few customers, no
campaign with a control group, no consents for a plan...) the step is ``{"skipped": why}`` and the
demo goes on, so a real data set with only orders still gets its report.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from jingzhun import pipeline
from jingzhun.errors import InputError, JingzhunError
from jingzhun.ingest.pseudonymise import Secrets
from jingzhun.warehouse import Warehouse

log = logging.getLogger(__name__)

DEMO_PLAN = Path(__file__).parent / "plan" / "examples" / "winback_demo.yaml"
DEMO_TOPICS = 6


def run_demo(out: Path, *, n_customers: int, seed: int, secrets: Secrets, lang: str = "en") -> dict:
    """Simulate a retailer into ``out``, ingest it, build the profile (in the simulator's time
    zone) with the default tags and both RFM schemes, fit BG/NBD + Gamma-Gamma for CLV, backtest
    churn, cluster, find interest topics, learn the uplift of the simulated SMS campaign, plan the
    demo campaign, evaluate the SMS campaign against its control group and write
    ``out/report.html``.

    Returns ``{"db", "results", "profile", "segments", "tags", "clv", "true_params", "churn",
    "clusters", "topics", "uplift", "plan", "evaluation", "report", "seconds"}``; the true
    parameters are the simulator's, with Gamma-Gamma's scale ``v`` in the orders' CNY; a model
    step is ``{"skipped": why}`` when the data are too small for it.
    """
    from jingzhun.simulate.retailer import TIMEZONE

    started = time.perf_counter()
    db, results = pipeline.simulate_and_ingest(out, n_customers=n_customers, seed=seed, secrets=secrets)
    truth = json.loads((out / "data" / "truth.json").read_text(encoding="utf-8"))
    campaign = truth["campaign"]
    with Warehouse(db) as wh:
        run = analyse_warehouse(wh, out, timezone=TIMEZONE, campaign_id=campaign["campaign_id"],
                       control_share=campaign["control_share"], lang=lang)
    # a spend Z in USD is Gamma(p, nu), so Z * usd_to_cny is Gamma(p, nu / usd_to_cny): the rate
    # nu / k of Gamma(q, v) rates is Gamma(q, k v)
    spend = truth["gamma_gamma"] | {"v": truth["gamma_gamma"]["gamma"] * truth["usd_to_cny"]}
    true_params = {"clv_bgnbd": {k: truth["bgnbd"][k] for k in ("r", "alpha", "a", "b")},
                   "gamma_gamma": {k: spend[k] for k in ("p", "q", "v")}}
    return {"db": db, "results": results, "true_params": true_params, **run,
            "seconds": time.perf_counter() - started}


def run_demo_on_data(out: Path, *, data: Path, source: str, secrets: Secrets,
                     lang: str = "en") -> dict:
    """The same pipeline on a real data set: ingest ``data`` with the built-in ``source``
    mapping into ``out/jingzhun.duckdb`` and run every step its tables allow.

    ``data`` is what the source expects (a file or a folder); a folder given where the source
    wants a file stands for its largest file. Returns the keys of :func:`run_demo` but the
    simulator's true parameters.
    """
    from jingzhun.ingest.sources import get_source
    from jingzhun.pipeline_evaluate import latest_campaign_with_control

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    db = out / "jingzhun.duckdb"
    spec = get_source(source)
    with Warehouse(db) as wh:
        results = _ingest_source(wh, spec, Path(data), secrets)
        campaign = latest_campaign_with_control(wh)
        run = analyse_warehouse(wh, out, timezone="UTC", campaign_id=campaign, control_share=None,
                                lang=lang, currency=spec.currency)
    return {"db": db, "results": results, "true_params": None, **run,
            "seconds": time.perf_counter() - started}


def _ingest_source(wh: Warehouse, spec, data: Path, secrets: Secrets) -> list:
    try:
        return spec.ingest(wh, data, secrets=secrets)
    except InputError:
        files = sorted((p for p in data.iterdir() if p.is_file()), key=lambda p: p.stat().st_size) \
            if data.is_dir() else []
        if not files:
            raise
        log.info("%s is a folder; ingesting its largest file %s", data, files[-1].name)
        return spec.ingest(wh, files[-1], secrets=secrets)


def analyse_warehouse(wh: Warehouse, out: Path, *, timezone: str, campaign_id: str | None,
                      control_share: float | None, lang: str, currency: str | None = None) -> dict:
    """Profile, segment, predict, plan, evaluate and report on an ingested warehouse."""
    from jingzhun.pipeline_churn import predict_churn
    from jingzhun.pipeline_evaluate import evaluate_campaign
    from jingzhun.pipeline_predict import predict_clv
    from jingzhun.pipeline_report import build_report
    from jingzhun.pipeline_segment import segment_cluster, segment_topics
    from jingzhun.pipeline_uplift import predict_uplift

    status = _step(lambda: pipeline.profile_build(wh, timezone=timezone))
    segments = ([] if "skipped" in status else
                [pipeline.segment_rfm(wh, scheme=scheme) for scheme in ("11", "5")])
    no_campaign = "the data have no campaign with a control group"
    run = {
        "profile": status, "segments": segments, "tags": pipeline.tags_list(wh),
        "clv": _step(lambda: predict_clv(wh)),
        "churn": _step(lambda: predict_churn(wh)),
        "clusters": _step(lambda: segment_cluster(wh)),
        # a fixed number of topics: choosing it by perplexity fits 7 models (a minute here)
        "topics": _step(lambda: segment_topics(wh, n_topics=DEMO_TOPICS)),
        "uplift": (_step(lambda: predict_uplift(wh, campaign_id=campaign_id, outcome="conversion"))
                   if campaign_id else {"skipped": no_campaign}),
        "plan": _step(lambda: _plan_demo_campaign(wh)),
        "evaluation": (_step(lambda: evaluate_campaign(wh, campaign_id, control_share=control_share))
                       if campaign_id else {"skipped": no_campaign}),
    }
    evaluated = None if "skipped" in run["evaluation"] else run["evaluation"]
    run["report"] = build_report(wh, out, lang=lang, campaign_id=campaign_id,
                                 control_share=control_share, currency=currency, evaluation=evaluated)
    return run


def _step(step) -> dict:
    """A model step of the demo, or ``{"skipped": why}`` when the data cannot carry it -- the
    demo goes on and says so rather than failing."""
    try:
        return step()
    except JingzhunError as exc:
        log.info("demo step skipped: %s", exc)
        return {"skipped": str(exc)}


def _plan_demo_campaign(wh: Warehouse) -> dict:
    """Plan the packaged demo campaign (``plan/examples/winback_demo.yaml``) on the warehouse."""
    from jingzhun.pipeline_plan import plan_campaign
    from jingzhun.plan.spec import load_spec

    return plan_campaign(wh, load_spec(DEMO_PLAN))
