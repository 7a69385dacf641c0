"""Where campaign evaluation meets storage: per-arm sufficient statistics are computed in the
warehouse (one SQL pass over ``sends`` and ``responses``: counts, sums and sums of squares per
arm), and only those reach Python (``evaluate.stats``), so the work does not grow with recipients.

An arm's outcomes, per recipient (one ``sends`` row): ``delivered``, ``open``, ``click``,
``visit``, ``conversion`` -- 1 when the customer has such a response of the campaign within the
attribution window -- and ``revenue``, the sum of the conversions' revenue. The window: responses
up to ``window_days`` after the customer's ``sent_at``; a response or send without a time counts
(sources such as Hillstrom publish no times: their whole response period is the window).

Each treated arm is compared with the ``control`` arm: conversion and visit rates (visits only
when the control group has some: a visit through a message's link has no counterfactual) by the
two-proportion z-test (Fisher's exact test when small), revenue per recipient by Welch's t-test;
Holm's correction across the treated arms of each metric; a chi-square sample-ratio-mismatch
check against the planned shares (the ``plans`` table's arms when the campaign was planned here,
else equal shares -- said in the result). Money: the responses' ``revenue`` (the orders'
currency) and the sends' ``cost``; ROI = (incremental revenue x margin - cost) / cost.
"""

from __future__ import annotations

import dataclasses
import logging

from jingzhun.errors import ConfigError
from jingzhun.pipeline import jsonable
from jingzhun.predict.campaign_data import CONTROL_ARM
from jingzhun.warehouse import Warehouse

log = logging.getLogger(__name__)

_RATE_METRICS = ("conversion", "visit")


def _arm_sums_sql(window_days: float) -> str:
    seconds = float(window_days) * 86400.0
    within = (f"(r.occurred_at IS NULL OR s.sent_at IS NULL OR (r.occurred_at >= s.sent_at AND "
              f"r.occurred_at <= s.sent_at + to_seconds({seconds})))")
    flags = ", ".join(f"max(CASE WHEN r.type = '{t}' AND {within} THEN 1 ELSE 0 END) AS {t}"
                      for t in ("delivered", "open", "click", "visit", "conversion"))
    return f"""
        WITH per_customer AS (
            SELECT s.arm, s.customer_id, any_value(coalesce(s.cost, 0)) AS cost, {flags},
                   coalesce(sum(CASE WHEN r.type = 'conversion' AND {within}
                                     THEN CAST(r.revenue AS DOUBLE) END), 0) AS revenue
            FROM sends s LEFT JOIN responses r
              ON r.campaign_id = s.campaign_id AND r.customer_id = s.customer_id
            WHERE s.campaign_id = ?
            GROUP BY s.arm, s.customer_id)
        SELECT arm, count(*) AS n, sum(cost) AS cost, sum(delivered) AS delivered, sum(open) AS opened,
               sum(click) AS clicked, sum(visit) AS visits, sum(conversion) AS conversions,
               sum(revenue) AS revenue, sum(revenue * revenue) AS revenue_sq,
               count(*) FILTER (WHERE visit = 1) > 0 AS has_visits
        FROM per_customer GROUP BY arm ORDER BY arm"""


def evaluate_campaign(wh: Warehouse, campaign_id: str, *, window_days: float = 14.0,
                      margin: float = 1.0, alpha: float = 0.05) -> dict:
    """Evaluate a campaign with a ``control`` arm.

    Parameters
    ----------
    campaign_id : str
    window_days : float, default 14
        Attribution window after each send, in days.
    margin : float, default 1.0
        Share of revenue kept as profit, for the incremental profit and ROI.
    alpha : float, default 0.05
        1 - the confidence level of the intervals.

    Returns
    -------
    dict
        JSON-serialisable: ``campaign_id``, ``window_days``, ``arms`` (per arm: ``arm``,
        ``is_control``, ``recipients``, ``delivered_rate``, ``open_rate``, ``click_rate``,
        ``conversion_rate``, ``visit_rate`` (where the data have visits), ``revenue``,
        ``revenue_per_recipient``, ``cost``), ``comparisons`` (per treated arm and metric:
        ``arm``, ``metric``, ``test``, ``lift_abs``, ``ci_low``, ``ci_high``, ``lift_rel``,
        ``rel_ci_low``, ``rel_ci_high``, ``p_value``, ``p_adjusted`` (Holm), ``status``),
        ``economics`` (per treated arm: incremental conversions, revenue, profit, cost, ROI),
        ``srm`` (the sample-ratio check and the shares it assumed).
    """
    from jingzhun.evaluate import stats

    if "sends" not in wh.table_names():
        raise ConfigError(f"the warehouse {wh.path} has no sends", hint="ingest sends and responses first")
    rows = wh.con.execute(_arm_sums_sql(window_days), [campaign_id]).fetchdf()
    if rows.empty:
        known = [r[0] for r in wh.con.execute("SELECT DISTINCT campaign_id FROM sends ORDER BY 1").fetchall()]
        raise ConfigError(f"campaign {campaign_id!r} has no sends in {wh.path}",
                          hint=f"known campaigns: {', '.join(known) or 'none'}")
    by_arm = {r.arm: r for r in rows.itertuples(index=False)}
    if CONTROL_ARM not in by_arm:
        raise ConfigError(f"campaign {campaign_id!r} has no '{CONTROL_ARM}' arm: its effect cannot be "
                          "measured", hint="a campaign needs a random control group (arm = 'control')")
    control = by_arm[CONTROL_ARM]
    # visits only where the control group can show them too (not a click through an SMS link)
    has_visits = bool(control.has_visits)
    arms = [_arm_row(r, has_visits) for r in rows.itertuples(index=False)]
    comparisons, economics = [], []
    for arm, r in by_arm.items():
        if arm == CONTROL_ARM:
            continue
        for metric in (m for m in _RATE_METRICS if m != "visit" or has_visits):
            column = "conversions" if metric == "conversion" else "visits"
            treated, held = (stats.ArmStats(int(x.n), float(getattr(x, column)), float(getattr(x, column)))
                             for x in (r, control))
            comparisons.append((arm, stats.compare_proportions(treated, held, metric=metric, alpha=alpha)))
        treated, held = (stats.ArmStats(int(x.n), float(x.revenue), float(x.revenue_sq))
                         for x in (r, control))
        revenue = stats.compare_means(treated, held, metric="revenue_per_recipient", alpha=alpha)
        comparisons.append((arm, revenue))
        economics.append(_economics(arm, r, control, margin))
    comparisons = _holm_per_metric(comparisons, stats)
    return {"campaign_id": campaign_id, "window_days": window_days, "margin": margin, "alpha": alpha,
            "arms": arms, "comparisons": comparisons, "economics": economics,
            "srm": _srm(wh, campaign_id, {a: int(r.n) for a, r in by_arm.items()}, stats)}


def _arm_row(r, has_visits: bool) -> dict:
    n = int(r.n)
    row = {"arm": r.arm, "is_control": r.arm == CONTROL_ARM, "recipients": n,
           "delivered_rate": r.delivered / n, "open_rate": r.opened / n, "click_rate": r.clicked / n,
           "conversion_rate": r.conversions / n, "conversions": int(r.conversions),
           "revenue": float(r.revenue), "revenue_per_recipient": float(r.revenue) / n, "cost": float(r.cost)}
    if has_visits:
        row["visit_rate"] = r.visits / n
    return row


def _economics(arm: str, r, control, margin: float) -> dict:
    """What the arm added beyond its control: per recipient differences times its recipients."""
    n = int(r.n)
    extra_conversions = (r.conversions / n - control.conversions / control.n) * n
    extra_revenue = (r.revenue / n - control.revenue / control.n) * n
    cost = float(r.cost)
    profit = extra_revenue * margin - cost
    return {"arm": arm, "incremental_conversions": float(extra_conversions),
            "incremental_revenue": float(extra_revenue), "incremental_profit": float(profit),
            "cost": cost, "roi": None if cost <= 0 else float(profit / cost),
            "cost_per_incremental_conversion": (None if cost <= 0 or extra_conversions <= 0
                                                else float(cost / extra_conversions))}


def _holm_per_metric(pairs, stats) -> list[dict]:
    """Holm's correction across the treated arms of each metric; the comparisons as dicts."""
    out = []
    for metric in dict.fromkeys(c.metric for _, c in pairs):
        chosen = [(arm, c) for arm, c in pairs if c.metric == metric]
        adjusted = stats.holm([c for _, c in chosen])
        out += [{"arm": arm} | jsonable(dataclasses.asdict(c))
                for (arm, _), c in zip(chosen, adjusted, strict=True)]
    return out


def _srm(wh: Warehouse, campaign_id: str, observed: dict[str, int], stats) -> dict:
    """Sample-ratio check against the plan's arm shares (equal shares without a plan)."""
    expected, source = None, "equal shares (no plan of this campaign in the warehouse)"
    if "plans" in wh.table_names():
        planned = wh.con.execute("SELECT arm, count(*) FROM plans WHERE campaign_id = ? AND "
                                 "arm != 'excluded' GROUP BY arm", [campaign_id]).fetchall()
        if planned and {a for a, _ in planned} == set(observed):
            total = sum(n for _, n in planned)
            expected, source = {a: n / total for a, n in planned}, "the plan's arm sizes"
    if expected is None:
        expected = {a: 1 / len(observed) for a in observed}
    return stats.srm_check(observed, expected) | {"expected_from": source}
