"""Where campaign evaluation meets storage: per-arm sufficient statistics are computed in the
warehouse (one SQL pass over ``sends``, ``responses`` and ``orders``: counts, sums, sums of squares
and cross-products per arm), and only those reach Python (``evaluate.stats``), so the work does not
grow with recipients.

An arm's outcomes, per recipient (one ``sends`` row): ``delivered``, ``open``, ``click``,
``visit`` -- 1 when the customer has such a response of the campaign within the attribution
window -- and the conversion and its revenue, attributed either by **orders** (the recipient's
non-cancelled orders placed within the window: 1 when there is one, revenue = their
``total_amount``; what the control group shows too, the default where orders and send times
exist) or by **responses** (the campaign's ``conversion`` responses and their ``revenue``: sources
such as Hillstrom publish no times and no orders; their whole response period is the window, and
a response or send without a time counts).

Each treated arm is compared with the ``control`` arm: conversion and visit rates (visits only
when the control group has some: a visit through a message's link has no counterfactual) by the
two-proportion z-test (Fisher's exact test when small); revenue per recipient by Welch's t-test,
with a percentile bootstrap interval where the recipients are few enough to read their rows, and
by CUPED with each recipient's spend in the ``pre_days`` before the send as covariate (orders
attribution only); Holm's correction across the treated arms of each metric; a chi-square
sample-ratio-mismatch check against the designed shares (given, or the ``plans`` table's arms when
the campaign was planned here, else equal shares -- said in the result). Money: the orders' or
responses' revenue (the orders' currency) and the sends' ``cost``; ROI = (incremental revenue x
margin - cost) / cost.
"""

from __future__ import annotations

import dataclasses
import logging

from jingzhun.errors import ConfigError
from jingzhun.evaluate import stats
from jingzhun.pipeline import jsonable
from jingzhun.predict.campaign_data import CONTROL_ARM
from jingzhun.warehouse import Warehouse

log = logging.getLogger(__name__)

_RATE_METRICS = ("conversion", "visit")


_ATTRIBUTIONS = ("auto", "orders", "responses")


def _within(column: str, window_days: float) -> str:
    """SQL: ``column`` falls in the attribution window after the send (a missing time counts)."""
    seconds = float(window_days) * 86400.0
    return (f"({column} IS NULL OR s.sent_at IS NULL OR ({column} >= s.sent_at AND "
            f"{column} <= s.sent_at + to_seconds({seconds})))")


def _outcomes_sql(window_days: float, attribution: str, pre_days: float | None) -> str:
    """``WITH ... outcomes AS (...)``: one row per recipient with the arm, the response flags, the
    attributed outcome (``converted``, ``n_orders``, revenue ``y``) and the pre-period spend ``x``
    (0 without ``pre_days``); ``$1`` is the campaign."""
    within = _within("r.occurred_at", window_days)
    flags = ", ".join(f"max(CASE WHEN r.type = '{t}' AND {within} THEN 1 ELSE 0 END) AS {t}"
                      for t in ("delivered", "open", "click", "visit", "conversion"))
    ctes = [f"""per_customer AS (
            SELECT s.arm, s.customer_id, any_value(coalesce(s.cost, 0)) AS cost, {flags},
                   coalesce(sum(CASE WHEN r.type = 'conversion' AND {within}
                                     THEN CAST(r.revenue AS DOUBLE) END), 0) AS revenue,
                   count(*) FILTER (WHERE r.type = 'conversion' AND {within}) AS orders
            FROM sends s LEFT JOIN responses r
              ON r.campaign_id = s.campaign_id AND r.customer_id = s.customer_id
            WHERE s.campaign_id = $1
            GROUP BY s.arm, s.customer_id)"""]
    outcome, pre, joins = "p.conversion AS converted, p.revenue AS y, p.orders AS n_orders", "0.0 AS x", ""
    if attribution == "orders":
        # one pass over the recipients' orders from the pre-period start to the window's end
        window = f"s.sent_at + to_seconds({float(window_days) * 86400.0})"
        start = "s.sent_at" if pre_days is None else f"s.sent_at - to_seconds({float(pre_days) * 86400.0})"
        in_window = "o.ordered_at >= s.sent_at"
        ctes.append(f"""ordered AS (
            SELECT s.arm, s.customer_id, count(o.order_id) FILTER (WHERE {in_window}) AS orders,
                   coalesce(sum(CAST(o.total_amount AS DOUBLE)) FILTER (WHERE {in_window}), 0) AS revenue,
                   coalesce(sum(CAST(o.total_amount AS DOUBLE)) FILTER (WHERE NOT {in_window}), 0) AS spend
            FROM sends s LEFT JOIN orders o
              ON o.customer_id = s.customer_id AND o.status != 'cancelled'
             AND o.ordered_at >= {start} AND o.ordered_at <= {window}
            WHERE s.campaign_id = $1
            GROUP BY s.arm, s.customer_id)""")
        joins = " JOIN ordered o USING (arm, customer_id)"
        outcome = ("CASE WHEN o.orders > 0 THEN 1 ELSE 0 END AS converted, o.revenue AS y, "
                   "o.orders AS n_orders")
        if pre_days is not None:
            pre = "o.spend AS x"
    return f"""
        WITH {", ".join(ctes)},
        outcomes AS (SELECT p.*, {outcome}, {pre} FROM per_customer p{joins})"""


def _arm_sums_sql(window_days: float, attribution: str, pre_days: float | None) -> str:
    """Per arm, the sums (and sums of squares and cross-products, for Welch and CUPED) of the
    recipients' outcomes: everything Python needs, whatever the number of recipients."""
    return _outcomes_sql(window_days, attribution, pre_days) + """
        SELECT arm, count(*) AS n, sum(cost) AS cost, sum(delivered) AS delivered, sum(open) AS opened,
               sum(click) AS clicked, sum(visit) AS visits, sum(converted) AS conversions,
               sum(n_orders) AS orders, sum(y) AS revenue, sum(y * y) AS revenue_sq,
               sum(x) AS pre_spend, sum(x * x) AS pre_spend_sq, sum(x * y) AS pre_spend_revenue,
               count(*) FILTER (WHERE visit = 1) > 0 AS has_visits
        FROM outcomes GROUP BY arm ORDER BY arm"""


def _per_recipient_revenue_sql(window_days: float, attribution: str) -> str:
    """Each recipient's attributed revenue with its arm (for the bootstrap interval)."""
    return _outcomes_sql(window_days, attribution, None) + " SELECT arm, y FROM outcomes"


def latest_campaign_with_control(wh: Warehouse) -> str | None:
    """The campaign with a ``control`` and a treated arm whose sends are the latest (by send
    time, then id): what ``jz plan`` learns uplift from and ``jz report`` evaluates by default."""
    if "sends" not in wh.table_names():
        return None
    rows = wh.con.execute("SELECT campaign_id FROM sends GROUP BY campaign_id "
                          f"HAVING bool_or(arm = '{CONTROL_ARM}') AND bool_or(arm != '{CONTROL_ARM}') "
                          "ORDER BY max(sent_at) DESC NULLS LAST, campaign_id LIMIT 1").fetchall()
    return rows[0][0] if rows else None


def _choose_attribution(wh: Warehouse, campaign_id: str, attribution: str) -> str:
    """``auto``: orders when the warehouse has them and the sends have times, else responses."""
    if attribution not in _ATTRIBUTIONS:
        raise ConfigError(f"attribution must be one of {', '.join(_ATTRIBUTIONS)}, got {attribution!r}")
    timed = (wh.con.execute("SELECT count(*) FILTER (WHERE sent_at IS NOT NULL) > 0 FROM sends "
                            "WHERE campaign_id = ?", [campaign_id]).fetchone()[0])
    has_orders = "orders" in wh.table_names()
    if attribution == "orders" and not (timed and has_orders):
        why = "the warehouse has no orders" if not has_orders else "its sends have no sent_at"
        raise ConfigError(f"campaign {campaign_id!r} cannot be attributed by orders: {why}",
                          hint="use --attribution responses")
    if attribution == "auto":
        return "orders" if timed and has_orders else "responses"
    return attribution


def evaluate_campaign(wh: Warehouse, campaign_id: str, *, window_days: float = 14.0,
                      margin: float = 1.0, alpha: float = 0.05, attribution: str = "auto",
                      pre_days: float | None = 90.0, control_share: float | None = None,
                      bootstrap_max_recipients: int = 200_000, seed: int = 0) -> dict:
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
    attribution : {"auto", "orders", "responses"}, default "auto"
        Where conversions and revenue come from: ``orders`` -- the recipient's non-cancelled
        orders placed in the window (what a control group can show too); ``responses`` -- the
        campaign's ``conversion`` responses and their revenue. ``auto``: orders when the warehouse
        has them and the sends have times, else responses.
    pre_days : float or None, default 90
        Pre-period for CUPED, in days before each send: the recipient's spend on non-cancelled
        orders then is the covariate of a variance-reduced revenue comparison. None, or an
        attribution by responses (sends without times, no orders), skips CUPED.
    control_share : float, optional
        The designed share of the control arm (the other arms share the rest equally), for the
        sample-ratio check; default: the plan's arm sizes when the campaign was planned here,
        else equal shares.
    bootstrap_max_recipients : int, default 200,000
        Up to this many recipients the revenue comparison also gets a percentile bootstrap
        interval (it needs every recipient's revenue, not only sums); 0 turns it off.
    seed : int, default 0
        Seed of the bootstrap.

    Returns
    -------
    dict
        JSON-serialisable: ``campaign_id``, ``window_days``, ``attribution``, ``arms`` (per arm:
        ``arm``, ``is_control``, ``recipients``, ``delivered_rate``, ``open_rate``, ``click_rate``,
        ``conversion_rate``, ``visit_rate`` (where the data have visits), ``conversions``,
        ``orders``, ``revenue``, ``revenue_per_recipient``, ``margin_amount``, ``cost``),
        ``comparisons`` (per treated arm and metric: ``arm``, ``metric``, ``test``, ``lift_abs``,
        ``ci_low``, ``ci_high``, ``lift_rel``, ``rel_ci_low``, ``rel_ci_high``, ``p_value``,
        ``p_adjusted`` (Holm), ``status``; rates also ``mde_abs``, the smallest lift the test
        had 80% power to detect; revenue also ``bootstrap_ci_low``/``_high``; metric
        ``revenue_per_recipient_cuped`` when CUPED ran), ``cuped`` (``pre_days``, ``ran``,
        ``theta``, ``variance_reduction``, or the ``reason`` it did not run), ``economics`` (per
        treated arm: incremental conversions, revenue, profit, cost, ROI), ``srm`` (the
        sample-ratio check).
    """
    if "sends" not in wh.table_names():
        raise ConfigError(f"the warehouse {wh.path} has no sends", hint="ingest sends and responses first")
    known = [r[0] for r in wh.con.execute("SELECT DISTINCT campaign_id FROM sends ORDER BY 1").fetchall()]
    if campaign_id not in known:
        raise ConfigError(f"campaign {campaign_id!r} has no sends in {wh.path}",
                          hint=f"known campaigns: {', '.join(known) or 'none'}")
    attribution = _choose_attribution(wh, campaign_id, attribution)
    pre = pre_days if attribution == "orders" else None
    rows = wh.con.execute(_arm_sums_sql(window_days, attribution, pre), [campaign_id]).fetchdf()
    by_arm = {r.arm: r for r in rows.itertuples(index=False)}
    if CONTROL_ARM not in by_arm:
        raise ConfigError(f"campaign {campaign_id!r} has no '{CONTROL_ARM}' arm: its effect cannot be "
                          "measured", hint="a campaign needs a random control group (arm = 'control')")
    control = by_arm[CONTROL_ARM]
    # visits only where the control group can show them too (not a click through an SMS link)
    has_visits = bool(control.has_visits)
    arms = [_arm_row(r, has_visits, margin) for r in rows.itertuples(index=False)]
    revenue_by_arm = (_revenue_by_arm(wh, campaign_id, window_days, attribution)
                      if int(rows["n"].sum()) <= bootstrap_max_recipients else None)
    comparisons, economics = [], []
    cuped = {"pre_days": pre, "ran": False,
             "reason": "no pre-period: " + ("turned off" if pre_days is None else
                                            "attributed by responses (no send times or no orders)")}
    for arm, r in by_arm.items():
        if arm == CONTROL_ARM:
            continue
        for metric in (m for m in _RATE_METRICS if m != "visit" or has_visits):
            column = "conversions" if metric == "conversion" else "visits"
            treated, held = (stats.ArmStats(int(x.n), float(getattr(x, column)), float(getattr(x, column)))
                             for x in (r, control))
            rate = stats.compare_proportions(treated, held, metric=metric, alpha=alpha)
            comparisons.append((arm, rate, _mde(treated, held, alpha)))
        treated, held = (_revenue_stats(x) for x in (r, control))
        revenue = stats.compare_means(treated, held, metric="revenue_per_recipient", alpha=alpha)
        comparisons.append((arm, revenue, _bootstrap(revenue_by_arm, arm, alpha, seed)))
        if pre is not None:
            adjusted, cuped = _cuped(treated, held, revenue, alpha, pre)
            if adjusted is not None:
                comparisons.append((arm, adjusted, {}))
        economics.append(_economics(arm, r, control, margin))
    return {"campaign_id": campaign_id, "window_days": window_days, "attribution": attribution,
            "margin": margin, "alpha": alpha, "arms": arms,
            "comparisons": _holm_per_metric(comparisons), "cuped": jsonable(cuped),
            "economics": economics,
            "srm": _srm(wh, campaign_id, {a: int(r.n) for a, r in by_arm.items()},
                        control_share)}


def _mde(treated, held, alpha: float) -> dict:
    """The smallest absolute lift of the rate this test had an 80% chance to detect."""
    base = held.mean
    if not 0 < base < 1:
        return {"mde_abs": None}
    return {"mde_abs": stats.mde_two_proportions(treated.n, held.n, base, alpha=alpha, power=0.8)}


def _revenue_stats(r):
    return stats.ArmStats(int(r.n), float(r.revenue), float(r.revenue_sq), float(r.pre_spend),
                          float(r.pre_spend_sq), float(r.pre_spend_revenue))


def _revenue_by_arm(wh: Warehouse, campaign_id: str, window_days: float, attribution: str) -> dict:
    frame = wh.con.execute(_per_recipient_revenue_sql(window_days, attribution), [campaign_id]).fetchdf()
    return {arm: group["y"].to_numpy(dtype=float) for arm, group in frame.groupby("arm")}


def _bootstrap(revenue_by_arm: dict | None, arm: str, alpha: float, seed: int) -> dict:
    """The percentile bootstrap interval of the revenue difference, where the rows were read."""
    if revenue_by_arm is None:
        return {}
    treated, held = revenue_by_arm.get(arm), revenue_by_arm.get(CONTROL_ARM)
    if treated is None or held is None or min(treated.size, held.size) < 2:
        return {}
    low, high = stats.bootstrap_mean_difference_ci(treated, held, alpha=alpha, seed=seed)
    return {"bootstrap_ci_low": low, "bootstrap_ci_high": high}


def _cuped(treated, held, plain, alpha: float, pre_days: float):
    """The CUPED comparison of revenue with pre-period spend, and what it did."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        adj_t, adj_c, theta = stats.cuped(treated, held)
    if theta == 0.0:
        return None, {"pre_days": pre_days, "ran": False,
                      "reason": "the recipients' pre-period spend has no variance"}
    adjusted = stats.compare_means(adj_t, adj_c, metric="revenue_per_recipient_cuped", alpha=alpha)
    half = (plain.ci_high - plain.ci_low) / 2
    half_adj = (adjusted.ci_high - adjusted.ci_low) / 2
    return adjusted, {"pre_days": pre_days, "ran": True, "theta": theta,
                      "variance_reduction": 1 - (half_adj / half) ** 2 if half > 0 else None}


def _arm_row(r, has_visits: bool, margin: float) -> dict:
    n = int(r.n)
    row = {"arm": r.arm, "is_control": r.arm == CONTROL_ARM, "recipients": n,
           "delivered_rate": r.delivered / n, "open_rate": r.opened / n, "click_rate": r.clicked / n,
           "conversion_rate": r.conversions / n, "conversions": int(r.conversions),
           "orders": int(r.orders), "revenue": float(r.revenue),
           "revenue_per_recipient": float(r.revenue) / n, "margin_amount": float(r.revenue) * margin,
           "cost": float(r.cost)}
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


def _holm_per_metric(triples) -> list[dict]:
    """Holm's correction across the treated arms of each metric; the comparisons as dicts, with
    the extra fields given beside each (the bootstrap interval)."""
    out = []
    for metric in dict.fromkeys(c.metric for _, c, _ in triples):
        chosen = [(arm, c, extra) for arm, c, extra in triples if c.metric == metric]
        adjusted = stats.holm([c for _, c, _ in chosen])
        out += [{"arm": arm} | jsonable(dataclasses.asdict(c) | extra)
                for (arm, _, extra), c in zip(chosen, adjusted, strict=True)]
    return out


def _srm(wh: Warehouse, campaign_id: str, observed: dict[str, int],
         control_share: float | None) -> dict:
    """Sample-ratio check against the given control share, else the plan's arm shares, else
    equal shares."""
    expected, source = None, "equal shares (no plan of this campaign in the warehouse)"
    if control_share is not None:
        if not 0 < control_share < 1:
            raise ConfigError(f"control_share must be in (0, 1), got {control_share!r}")
        others = (1 - control_share) / max(len(observed) - 1, 1)
        expected = {a: control_share if a == CONTROL_ARM else others for a in observed}
        source = f"the given control share {control_share:g}"
    elif "plans" in wh.table_names():
        planned = wh.con.execute("SELECT arm, count(*) FROM plans WHERE campaign_id = ? AND "
                                 "arm != 'excluded' GROUP BY arm", [campaign_id]).fetchall()
        if planned and {a for a, _ in planned} == set(observed):
            total = sum(n for _, n in planned)
            expected, source = {a: n / total for a, n in planned}, "the plan's arm sizes"
    if expected is None:
        expected = {a: 1 / len(observed) for a in observed}
    return stats.srm_check(observed, expected) | {"expected_from": source}
