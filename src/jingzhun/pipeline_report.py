"""Where the report meets storage: ``build_report`` reads what the stages left in the warehouse
and lays it out as six sections of figures, each with a one-sentence reading
(``report.page``), in English or Chinese:

1. **data health** -- ``ingest_runs`` and ``quarantine``: row accounting, quarantine reasons with
   examples;
2. **customer base** -- ``segments`` (RFM), ``customer_profile`` (lifecycle), the latest cluster and
   topic runs (``stage_results``);
3. **value** -- the profile's CLV; BG/NBD's P(alive) matrix, calibration-vs-holdout and weekly
   tracking, refitted here on the orders (cheap: seconds for a million customers);
4. **models** -- the latest churn backtest (ROC, lift) and uplift comparison (Qini curves, uplift
   by decile) from ``stage_results``;
5. **campaign plan** -- the latest ``plan_runs`` row: funnel, budget use, forecast vs mass contact;
6. **campaign results** -- ``evaluate_campaign`` on the evaluated campaign (given, else the latest
   with a control arm): lift with intervals per arm, ROI, the arms' table.

A section whose inputs are missing says which command makes them, and a section that fails to
draw says why; neither stops the others.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from jingzhun.errors import ConfigError, JingzhunError
from jingzhun.pipeline_results import latest_result
from jingzhun.warehouse import Warehouse

log = logging.getLogger(__name__)

_TEXT = {
    "en": {
        "title": "jingzhun report", "subtitle": "{db} · data as of {as_of}",
        "health": "Data health", "customers": "Customer base", "value": "Customer value",
        "models": "Models", "plan": "Campaign plan", "results": "Campaign results",
        "accounting": "Every input row accounted for", "quarantine": "Why rows were quarantined",
        "examples": "Quarantined rows (examples)", "rfm": "Recency × frequency",
        "segments": "RFM segments: size and value", "lifecycle": "Lifecycle stages",
        "clusters": "Customer clusters", "cluster_table": "What the clusters are",
        "topics": "Interest topics", "clv": "Predicted customer lifetime value",
        "calibration": "Calibration vs hold-out", "tracking": "Repeat purchases tracked",
        "alive": "Who is still active: P(alive)", "roc": "Churn model: ROC",
        "lift": "Churn model: lift by risk decile", "k": "How many clusters",
        "qini": "Uplift models: Qini curves", "deciles": "Uplift by score decile",
        "funnel": "From audience to contacts", "budget": "Budget use",
        "forecast": "Targeted plan vs contacting everyone", "lift_ci": "Lift against control",
        "roi": "Incremental profit and ROI", "arms": "Arms",
        "missing": "Not run yet: {command}",
        "no_activity": "The data have no orders or events, so there is no customer profile to draw.",
        "failed": "Could not draw this section: {error}",
        "campaign": "Campaign {campaign} ({attribution} within {window:g} days)",
    },
    "zh": {
        "title": "精准营销报告", "subtitle": "{db} · 数据截至 {as_of}",
        "health": "数据健康", "customers": "客户基础", "value": "客户价值", "models": "模型",
        "plan": "营销计划", "results": "活动效果",
        "accounting": "每一行输入都有去向", "quarantine": "隔离原因", "examples": "被隔离的行（示例）",
        "rfm": "最近购买 × 购买频次", "segments": "RFM 分群：规模与价值", "lifecycle": "生命周期阶段",
        "clusters": "客户聚类", "cluster_table": "各聚类的特征", "topics": "兴趣主题",
        "clv": "预测客户终身价值", "calibration": "校准期与留出期对比", "tracking": "重复购买跟踪",
        "alive": "仍然活跃的客户：存活概率", "roc": "流失模型：ROC 曲线",
        "lift": "流失模型：按风险十分位的提升", "k": "聚类数的选择", "qini": "增益模型：Qini 曲线",
        "deciles": "按得分十分位的增益", "funnel": "从受众到触达", "budget": "预算使用",
        "forecast": "精准计划与全量触达对比", "lift_ci": "相对对照组的提升",
        "roi": "增量利润与投资回报率", "arms": "各组数据",
        "missing": "尚未运行：{command}",
        "no_activity": "数据中没有订单或行为事件，因此没有可展示的客户画像。",
        "failed": "本节无法绘制：{error}",
        "campaign": "活动 {campaign}（{attribution}，{window:g} 天内）",
    },
}


#: the uplift learners' codes (``predict.uplift.LEARNERS``) as a reader knows them
_LEARNER_NAMES = {
    "en": {"s": "S-learner", "t": "T-learner", "x": "X-learner", "ct": "class transformation",
           "to": "transformed outcome"},
    "zh": {"s": "S 学习器", "t": "T 学习器", "x": "X 学习器", "ct": "类别转换", "to": "转换结果"},
}


def build_report(wh: Warehouse, out_dir: str | Path, *, lang: str = "en",
                 campaign_id: str | None = None, window_days: float = 14.0, margin: float = 1.0,
                 control_share: float | None = None, holdout_weeks: float = 26.0,
                 currency: str | None = None, evaluation: dict | None = None) -> dict:
    """Write ``out_dir/report.html`` from the warehouse.

    Parameters
    ----------
    out_dir : path
        Folder of the report (created).
    lang : {"en", "zh"}
    campaign_id : str, optional
        The campaign of the results section; default the latest campaign with a control arm.
    window_days, margin, control_share
        Passed to ``pipeline_evaluate.evaluate_campaign`` (attribution window in days, share of
        revenue kept as profit, designed control share).
    holdout_weeks : float, default 26
        Hold-out of the BG/NBD calibration check, in weeks.
    currency : str, optional
        Currency of the money shown; default the orders' most common one.
    evaluation : dict, optional
        A result of ``evaluate_campaign`` the caller already has, drawn as it is (then
        ``campaign_id``, ``window_days``, ``margin`` and ``control_share`` are not used).

    Returns
    -------
    dict
        ``path`` (the HTML file), ``lang``, ``as_of``, ``sections`` (per section: ``key``,
        ``title``, ``panels``, ``note``).
    """
    from jingzhun.report.page import render_report, write_report

    if lang not in _TEXT:
        raise ConfigError(f"lang must be one of {sorted(_TEXT)}, got {lang!r}")
    text = _TEXT[lang]
    as_of = _as_of(wh)
    currency = currency or _currency(wh)
    builders = (("data-health", "health", lambda: _health(wh, lang, text)),
                ("customers", "customers", lambda: _customers(wh, lang, text, currency)),
                ("value", "value", lambda: _value(wh, lang, text, currency, holdout_weeks)),
                ("models", "models", lambda: _models(wh, lang, text)),
                ("plan", "plan", lambda: _plan(wh, lang, text, currency)),
                ("results", "results", lambda: _results(
                    lang, text, currency, evaluation or _evaluate(wh, campaign_id, window_days,
                                                                  margin, control_share))))
    sections = [_section(key, text[name], build, text) for key, name, build in builders]
    html = render_report(sections, title=text["title"], lang=lang,
                         subtitle=text["subtitle"].format(db=Path(str(wh.path)).name,
                                                          as_of=as_of or "–"),
                         generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    path = write_report(Path(out_dir) / "report.html", html)
    return {"path": str(path), "lang": lang, "as_of": None if as_of is None else str(as_of),
            "sections": [{"key": s.key, "title": s.title, "panels": len(s.panels), "note": s.note}
                         for s in sections]}


def _section(key: str, title: str, build, text: dict):
    """Build one section; missing inputs (``_Missing``) or a failure become its note."""
    from jingzhun.report.page import Section

    try:
        panels = tuple(build())
    except _Missing as missing:
        note = (text["missing"].format(command=missing.command) if missing.command
                else text["no_activity"])
        return Section(key=key, title=title, note=note)
    except (JingzhunError, ValueError, KeyError) as exc:
        log.warning("report section %s: %s", key, exc)
        return Section(key=key, title=title, note=text["failed"].format(error=exc))
    return Section(key=key, title=title, panels=panels)


class _Missing(Exception):
    """A section's inputs are not in the warehouse; ``command`` makes them (None: no command can,
    the data have no orders or events)."""

    def __init__(self, command: str | None):
        super().__init__(command)
        self.command = command


def _panel(title: str, figure, reading: str, table: pd.DataFrame | None = None):
    from jingzhun.report.page import Panel

    return Panel(title=title, reading=reading, figure=figure, table=table)


def _df(wh: Warehouse, sql: str, params: list | None = None) -> pd.DataFrame:
    return wh.con.execute(sql, params or []).fetchdf()


def _require(wh: Warehouse, table: str, command: str) -> None:
    if table not in wh.table_names():
        raise _Missing(command)


def _require_profile(wh: Warehouse) -> None:
    tables = wh.table_names()
    if "customer_profile" not in tables:
        activity = sum(wh.con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                       for t in ("orders", "events") if t in tables)
        raise _Missing("jz profile build --db DB" if activity else None)


def _as_of(wh: Warehouse) -> date | None:
    from jingzhun import pipeline

    meta = pipeline._profile_meta(wh)
    return meta["as_of"] if meta else None


def _currency(wh: Warehouse) -> str:
    """The orders' most common currency; a neutral word where no order says it."""
    row = (wh.con.execute("SELECT mode(currency) FROM orders").fetchone()
           if "orders" in wh.table_names() else None)
    return row[0] if row and row[0] else "money"


# -- 1. data health ------------------------------------------------------------------------------
def _health(wh: Warehouse, lang: str, text: dict):
    from jingzhun.report import health_figures as f

    _require(wh, "ingest_runs", "jz ingest FILES --db DB")
    runs = _df(wh, """SELECT table_name, sum(rows_read) AS rows_read, sum(rows_loaded) AS rows_loaded,
                          sum(rows_quarantined) AS rows_quarantined,
                          sum(rows_duplicate) AS rows_duplicate
                      FROM ingest_runs WHERE status = 'loaded' GROUP BY table_name ORDER BY 1""")
    if runs.empty:
        raise _Missing("jz ingest FILES --db DB")
    panels = [_panel(text["accounting"], f.ingest_accounting_figure(runs, lang=lang),
                     f.ingest_accounting_reading(runs, lang=lang))]
    if "quarantine" in wh.table_names():
        reasons = _df(wh, "SELECT table_name, reason_code, count(*) AS rows FROM quarantine "
                          "GROUP BY ALL ORDER BY rows DESC")
        # row numbers as text: a file's row 4742 is a place, not an amount ("4,742")
        examples = _df(wh, """SELECT table_name, reason_code, CAST(row_number AS VARCHAR) AS row_number,
                                     column_name, raw_value, reason
                              FROM quarantine QUALIFY row_number() OVER (
                                  PARTITION BY table_name, reason_code ORDER BY row_number) <= 3
                              ORDER BY table_name, reason_code, row_number""")
        panels.append(_panel(text["quarantine"], f.quarantine_figure(reasons, lang=lang),
                             f.quarantine_reading(reasons, lang=lang),
                             f.quarantine_examples_table(examples, lang=lang)))
    return panels


# -- 2. customer base ----------------------------------------------------------------------------
def _customers(wh: Warehouse, lang: str, text: dict, currency: str):
    from jingzhun.report import customer_figures as f

    _require_profile(wh)
    panels = []
    if "segments" in wh.table_names():
        cells = _df(wh, """SELECT s.r_score, s.f_score, count(*) AS customers,
                                  avg(p.monetary_net) AS monetary_mean
                           FROM segments s JOIN customer_profile p USING (customer_id)
                           WHERE s.scheme = '11' AND s.r_score IS NOT NULL GROUP BY ALL""")
        label = "label_zh" if lang == "zh" else "label_en"
        segments = _df(wh, f"""SELECT s.segment, any_value(s.{label}) AS label, count(*) AS customers,
                                     coalesce(sum(p.monetary_net), 0) AS monetary_total,
                                     avg(p.clv) AS clv_mean
                              FROM segments s JOIN customer_profile p USING (customer_id)
                              WHERE s.scheme = '11' GROUP BY s.segment ORDER BY customers DESC""")
        if not cells.empty:
            panels.append(_panel(text["rfm"], f.rfm_heatmap_figure(cells, currency=currency, lang=lang),
                                 f.rfm_heatmap_reading(cells, currency=currency, lang=lang)))
        panels.append(_panel(text["segments"], f.segment_value_figure(segments, currency=currency, lang=lang),
                             f.segment_value_reading(segments, currency=currency, lang=lang)))
    stages = _df(wh, "SELECT lifecycle_stage, count(*) AS customers FROM customer_profile GROUP BY 1")
    panels.append(_panel(text["lifecycle"], f.lifecycle_funnel_figure(stages, lang=lang),
                         f.lifecycle_reading(stages, lang=lang)))
    clusters = latest_result(wh, "cluster")
    if clusters and clusters.get("clusters"):
        found = clusters["clusters"]
        panels.append(_panel(text["clusters"], f.cluster_figure(found, lang=lang),
                             f.cluster_reading(found, lang=lang), f.cluster_table(found, lang=lang)))
    topics = latest_result(wh, "topics")
    if topics and topics.get("topics"):
        panels.append(_panel(text["topics"], f.topics_figure(topics["topics"], lang=lang),
                             f.topics_reading(topics["topics"], lang=lang)))
    return panels


# -- 3. value ------------------------------------------------------------------------------------
def _value(wh: Warehouse, lang: str, text: dict, currency: str, holdout_weeks: float):
    from jingzhun.report import btyd_figures, value_figures

    _require_profile(wh)
    clv = _df(wh, "SELECT clv FROM customer_profile WHERE clv IS NOT NULL")["clv"].to_numpy(float)
    if clv.size == 0:
        raise _Missing("jz predict clv --db DB")
    panels = [_panel(text["clv"], value_figures.clv_distribution_figure(clv, currency=currency, lang=lang),
                     value_figures.clv_reading(clv, currency=currency, lang=lang))]
    checks = _btyd_checks(wh, holdout_weeks)
    if checks is None:
        return panels
    alive, calibration, tracking = checks
    panels += [
        _panel(text["alive"], btyd_figures.probability_alive_heatmap(alive, lang=lang),
               value_figures.probability_alive_reading(alive, lang=lang)),
        _panel(text["calibration"], btyd_figures.calibration_holdout_figure(calibration, lang=lang),
               value_figures.calibration_holdout_reading(calibration, lang=lang)),
        _panel(text["tracking"], btyd_figures.tracking_figure(tracking, lang=lang),
               value_figures.tracking_reading(tracking, lang=lang))]
    return panels


def _btyd_checks(wh: Warehouse, holdout_weeks: float):
    """BG/NBD on all purchases (its P(alive) matrix at the median customer age) and on the
    calibration period (its hold-out table and weekly tracking); None when the data are too
    short for a hold-out."""
    from jingzhun.pipeline_predict import CLVSettings, calibration_fit, fit_clv_models, purchase_summary
    from jingzhun.predict.btyd.checking import (
        calibration_holdout_table,
        probability_alive_matrix,
        tracking_inputs,
        tracking_table,
    )

    settings = CLVSettings(model="bgnbd")
    fit = calibration_fit(wh, holdout_weeks=holdout_weeks, settings=settings)
    as_of, calibration_end = fit.as_of, fit.calibration_end
    full = purchase_summary(wh, as_of=as_of, timezone=fit.timezone)
    model, _, _ = fit_clv_models(full, settings, with_spend=False)
    age = float(np.median(full["T"]))
    top = int(min(max(np.quantile(full["frequency"], 0.99), 1), 30))
    alive = probability_alive_matrix(model, max_frequency=top, max_recency=int(age), T=age)
    if len(fit.summary) < 50:
        return None
    purchases = _df(wh, "SELECT customer_id, ordered_at FROM orders WHERE status != 'cancelled' "
                        "AND ordered_at IS NOT NULL")
    local = (pd.to_datetime(purchases["ordered_at"]).dt.tz_localize("UTC").dt.tz_convert(fit.timezone)
             .dt.tz_localize(None).dt.normalize())
    purchases = purchases.assign(date=local)
    purchases = purchases[purchases["date"].dt.date <= as_of]
    start = purchases["date"].min()
    # the cohort: customers whose first purchase is in the calibration period
    first = purchases.groupby("customer_id")["date"].transform("min")
    cohort = purchases[first.dt.date <= calibration_end]
    first_periods, repeats = tracking_inputs(cohort, start=start, unit="W")
    weeks = int((pd.Timestamp(as_of) - start).days // 7)
    calibration_weeks = int((pd.Timestamp(calibration_end) - start).days // 7)
    tracking = tracking_table(fit.model, first_periods, repeats, periods=max(weeks, 1),
                              calibration_periods=calibration_weeks)
    return alive, calibration_holdout_table(fit.model, fit.summary), tracking


# -- 4. models -----------------------------------------------------------------------------------
def _models(wh: Warehouse, lang: str, text: dict):
    from jingzhun.report import model_figures, uplift_figures

    churn, uplift, clusters = (latest_result(wh, s) for s in ("churn", "uplift", "cluster"))
    if not (churn or uplift or clusters):
        raise _Missing("jz predict churn / jz predict uplift / jz segment cluster --db DB")
    panels = []
    if churn:
        bt = churn["backtest"]
        curves = {name: bt[name]["roc_curve"] | {"auc": bt[name]["roc_auc"]}
                  for name in ("model", "baseline", "baseline_no_purchase")
                  if bt.get(name, {}).get("roc_curve")}
        if curves:
            panels.append(_panel(text["roc"], model_figures.churn_roc_figure(curves, lang=lang),
                                 model_figures.churn_roc_reading(curves, lang=lang)))
        panels.append(_panel(text["lift"], model_figures.churn_lift_figure(bt, lang=lang),
                             model_figures.churn_lift_reading(bt, lang=lang)))
    if uplift and uplift.get("qini_curves"):
        names = _LEARNER_NAMES[lang]
        points = uplift["qini_curves"] | {"learners": {
            names.get(k, k): v for k, v in uplift["qini_curves"]["learners"].items()}}
        panels.append(_panel(text["qini"], uplift_figures.qini_curves_figure(points, lang=lang),
                             uplift_figures.qini_reading(points, lang=lang)))
        deciles = uplift["deciles"]
        panels.append(_panel(
            text["deciles"], uplift_figures.uplift_by_decile_figure(pd.DataFrame(deciles), lang=lang),
            uplift_figures.uplift_deciles_reading(deciles, outcome=uplift["outcome"], lang=lang)))
    if clusters and clusters.get("selection"):
        selection, k = clusters["selection"], clusters.get("k")
        panels.append(_panel(
            text["k"], model_figures.cluster_selection_figure(selection, chosen_k=k, lang=lang),
            model_figures.cluster_selection_reading(selection, k, lang=lang)))
    return panels


# -- 5. plan ---------------------------------------------------------------------------------------
def _plan(wh: Warehouse, lang: str, text: dict, currency: str):
    import json

    from jingzhun.report import campaign_figures as f

    _require(wh, "plan_runs", "jz plan SPEC.yaml --db DB")
    row = wh.con.execute("SELECT result FROM plan_runs ORDER BY planned_at DESC LIMIT 1").fetchone()
    if row is None:
        raise _Missing("jz plan SPEC.yaml --db DB")
    plan = json.loads(row[0])
    funnel = _panel(text["funnel"], f.plan_funnel_figure(plan, lang=lang),
                    f.plan_funnel_reading(plan, lang=lang))
    if not (plan.get("forecast") or {}).get("contacts"):
        return [funnel]  # nobody to contact: the funnel says where they were lost; no budget to show
    return [funnel,
            _panel(text["budget"], f.plan_budget_figure(plan, currency=currency, lang=lang),
                   f.plan_budget_reading(plan, currency=currency, lang=lang)),
            _panel(text["forecast"], f.plan_forecast_figure(plan, currency=currency, lang=lang),
                   f.plan_forecast_reading(plan, currency=currency, lang=lang))]


# -- 6. results ------------------------------------------------------------------------------------
def _evaluate(wh: Warehouse, campaign_id: str | None, window_days: float, margin: float,
              control_share: float | None) -> dict:
    """The evaluation of ``campaign_id``, else of the latest campaign with a control arm."""
    from jingzhun.pipeline_evaluate import evaluate_campaign, latest_campaign_with_control

    campaign_id = campaign_id or latest_campaign_with_control(wh)
    if campaign_id is None:
        raise _Missing("ingest a campaign's sends and responses with a control arm, then "
                       "jz evaluate CAMPAIGN --db DB")
    return evaluate_campaign(wh, campaign_id, window_days=window_days, margin=margin,
                             control_share=control_share)


def _results(lang: str, text: dict, currency: str, ev: dict):
    from jingzhun.report import campaign_figures as f

    heading = text["campaign"].format(campaign=ev["campaign_id"], attribution=ev["attribution"],
                                      window=ev["window_days"])
    return [_panel(f"{text['lift_ci']} · {heading}", f.lift_figure(ev, currency=currency, lang=lang),
                   f.lift_reading(ev, currency=currency, lang=lang)),
            _panel(text["roi"], f.roi_figure(ev, currency=currency, lang=lang),
                   f.roi_reading(ev, currency=currency, lang=lang),
                   f.arm_table(ev, currency=currency, lang=lang))]
