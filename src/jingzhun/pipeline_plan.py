"""Where campaign planning meets storage: the profile, consents, past sends and orders, the CLV
and uplift models go in; a plan (who gets which channel, offer and content, who is held out)
comes out, with the audience funnel and the forecast next to the mass-contact baseline.

Flow (``plan_campaign``): audience (the spec's expression over ``customer_profile``) ->
eligibility (consent per channel and purpose, suppression, frequency cap, quiet period) ->
expected incremental profit per (customer, channel, offer) -> allocation under the budget and
channel capacities -> a hashed, stratified control group among the chosen -> ``plans``.

Where the numbers come from (the judgement calls, stated):

* **uplift and response**: a T-learner (or the learner of the latest ``jz predict uplift`` run)
  and the response model refitted on the spec's ``uplift_campaign`` -- default: the latest
  campaign in ``sends`` with a control arm -- and applied to the audience's stored profile;
  without a usable campaign, uplift is missing and the fallback applies: per stratum (the
  control's ``stratify_by`` column), the contacted minus the control conversion rate of past
  controlled campaigns; with neither, no contact;
* **order value**: Gamma-Gamma's expected spend per purchase from the latest CLV run where the
  customer has one, else the profile's average order value, else the audience's median;
* **what an extra conversion is worth**: one order -- except for ``retain``, where a kept
  customer keeps their future: their CLV (the latest CLV run; one order without it). This is the
  issue's "P(churn) x CLV x uplift" with the uplift read as the fall in P(churn) the contact buys;
* **acquire**: prospects were in no campaign; a lookalike score (similarity to the most valuable
  buyers, from what prospects have too: demographics, channel, browsing) times the spec's
  ``acquire_conversion_rate`` stands for their uplift, the buyers' median order for the order;
* **plan date**: the profile's date; consents, sends and orders are read up to the end of it.

Tables written: ``plans`` (DESIGN.md §3, one row per audience customer: arm ``treatment`` /
``control`` / ``excluded``, channel, offer, content, expected uplift, expected incremental
profit, cost, reason; plus ``as_of``, ``run_id`` and, for a ``grow`` campaign,
``recommended_category`` -- the next-best category to feature, from co-purchases); a new plan
of the same campaign replaces its rows -- and ``plan_runs`` (one row per run: the spec, funnel
and forecast as JSON).
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from jingzhun.errors import ConfigError, JingzhunError
from jingzhun.pipeline_evaluate import latest_campaign_with_control
from jingzhun.warehouse import Warehouse

log = logging.getLogger(__name__)

PLANS_TABLE = "plans"
PLAN_RUNS_TABLE = "plan_runs"
_EXTRA_PLAN_COLUMNS = {"as_of": "DATE", "run_id": "VARCHAR", "recommended_category": "VARCHAR"}
_AUDIENCE_VIEW = "_plan_audience_base"
_FALLBACK_MIN = 30  # customers per arm and stratum for a fallback response rate


def plan_campaign(wh: Warehouse, spec, *, as_of: date | None = None, write: bool = True) -> dict:
    """Plan the campaign ``spec`` (``plan.spec.CampaignSpec``) on the warehouse.

    Returns
    -------
    dict
        JSON-serialisable: ``campaign_id``, ``as_of``, ``goal``, ``audience`` (expression),
        ``funnel`` (steps with customers and exclusions), ``forecast`` and ``mass_baseline``
        (contacts, cost, expected incremental conversions, revenue, profit, ROI),
        ``control`` (sizes, share, minimum detectable effect, warning), ``value_source`` (counts
        by source), ``uplift_model``, ``budget``, ``warnings``, ``run_id``.
    """
    from jingzhun import pipeline
    from jingzhun.plan import allocate, control, eligibility, forecast, value

    meta = pipeline._require_profile(wh)
    as_of = as_of or meta["as_of"]
    cutoff = datetime.combine(as_of + timedelta(days=1), time())  # end of the plan day, naive UTC
    audience = _audience(_audience_base(wh), spec)
    if audience.empty:
        raise ConfigError(f"the audience of {spec.campaign_id} is empty: nobody matches "
                          f"{spec.audience_expression()!r}", hint="loosen the audience expression")
    elig = eligibility.eligibility(
        audience["customer_id"], channels=spec.channels, consents=_table(wh, "consents"),
        sends=_table(wh, "sends"), orders=_table(wh, "orders"), suppressed=_suppressed(wh, spec),
        frequency_cap=spec.frequency_cap, quiet_days_after_purchase=spec.quiet_days_after_purchase,
        as_of=cutoff)
    customers, model_info = _customer_values(wh, spec, audience)
    fallback = _fallback_rates(wh, spec, audience)
    candidates = value.expected_profit(customers, channels=spec.channels, offers=spec.offers,
                                       contents=spec.contents, margin_rate=spec.margin_rate,
                                       fallback_rates=fallback)
    allowed = candidates.merge(elig.pairs[["customer_id", "channel"]], on=["customer_id", "channel"])
    positive = allowed[allowed["value"] > 0]
    capacity = {c.name: c.capacity for c in spec.channels}
    chosen = allocate.allocate(positive, budget=spec.budget, capacity=capacity)
    strata = audience.set_index("customer_id")["stratum"]
    warnings = []
    min_size = min(spec.control.min_size, len(chosen) // 2)
    if min_size < spec.control.min_size:  # the minimum cannot hold: at most half are held out
        warnings.append(f"control.min_size {spec.control.min_size:,} cannot be met with "
                        f"{len(chosen):,} customers chosen: at most half ({min_size:,}) are held out")
    arms = control.assign_control(
        pd.DataFrame({"customer_id": chosen["customer_id"].to_numpy(),
                      "stratum": strata.reindex(chosen["customer_id"]).fillna("(none)").to_numpy()}),
        campaign_id=spec.campaign_id, share=spec.control.share, min_size=min_size, salt=spec.control.salt)
    chosen = chosen.assign(arm=arms.to_numpy())
    treated = chosen[chosen["arm"] == "treatment"]
    plan_rows = _plan_rows(audience, elig, allowed, positive, chosen)
    if spec.goal == "grow":  # what to grow them into: the category their baskets point to next
        plan_rows = plan_rows.merge(_next_best(wh, as_of=cutoff), on="customer_id", how="left")
    result = pipeline.jsonable({
        "campaign_id": spec.campaign_id, "name": spec.name, "goal": spec.goal, "as_of": str(as_of),
        "audience": spec.audience_expression(),
        "funnel": _funnel(elig, allowed, positive, chosen),
        "forecast": forecast.forecast(treated, margin_rate=spec.margin_rate),
        "mass_baseline": forecast.mass_baseline(allowed, channels=spec.channels,
                                                margin_rate=spec.margin_rate),
        "control": _control_summary(chosen, spec),
        "value_source": candidates.drop_duplicates("customer_id")["value_source"].value_counts().to_dict(),
        "uplift_model": model_info, "fallback_rates": fallback, "budget": spec.budget,
        "warnings": warnings,
        "run_id": f"plan-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"})
    if write:
        _write(wh, plan_rows.assign(campaign_id=spec.campaign_id, as_of=as_of, run_id=result["run_id"]),
               result, spec)
    log.info("plan %s: %d in audience, %d treated, %d control", spec.campaign_id, len(audience),
             len(treated), len(chosen) - len(treated))
    return result


def _audience_base(wh: Warehouse):
    """``customer_profile`` with what audiences may also name: ``tag_<name>`` (true while the
    customer has the tag, ``customer_tags``) and ``segment_<scheme>`` (the customer's segment in
    each stored scheme, e.g. ``segment_11 in ('champions', 'loyal')``, ``segment_cluster``), as an
    Ibis table."""
    names = set(wh.table_names())
    tags = ([r[0] for r in wh.con.execute("SELECT DISTINCT tag FROM customer_tags ORDER BY 1").fetchall()]
            if "customer_tags" in names else [])
    schemes = ([r[0] for r in wh.con.execute("SELECT DISTINCT scheme FROM segments ORDER BY 1").fetchall()]
               if "segments" in names else [])
    select, joins = ["p.*"], []
    if tags:
        flags = ", ".join(f'bool_or(tag = {_sql_text(t)}) AS "tag_{_identifier(t)}"' for t in tags)
        joins.append(f"LEFT JOIN (SELECT customer_id, {flags} FROM customer_tags GROUP BY customer_id) t "
                     "USING (customer_id)")
        select += [f'coalesce(t."tag_{_identifier(t)}", false) AS "tag_{_identifier(t)}"' for t in tags]
    for i, scheme in enumerate(schemes):
        joins.append(f"LEFT JOIN (SELECT customer_id, segment FROM segments "
                     f"WHERE scheme = {_sql_text(scheme)}) s{i} USING (customer_id)")
        select.append(f's{i}.segment AS "segment_{_identifier(scheme)}"')
    # a temporary view, not Ibis' .sql(): that path calls a method DuckDB 2.0 no longer has
    wh.con.execute(f"CREATE OR REPLACE TEMP VIEW {_AUDIENCE_VIEW} AS SELECT {', '.join(select)} "
                   f"FROM customer_profile p {' '.join(joins)}")
    return wh.ibis().table(_AUDIENCE_VIEW)


def _identifier(name: str) -> str:
    """``name`` as a column-name suffix: letters, digits and underscores only."""
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in str(name))


def _sql_text(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _audience(profile, spec) -> pd.DataFrame:
    """``customer_id, stratum`` of the profile rows matching the spec's audience expression."""
    from jingzhun.profile.expr import compile_expression

    condition = compile_expression(spec.audience_expression(), profile,
                                   name=f"audience of {spec.campaign_id}", boolean=True)
    stratum_col = spec.control.stratify_by
    if stratum_col not in profile.columns:
        raise ConfigError(f"control.stratify_by names {stratum_col!r}, which is not a profile column",
                          hint="use a column of customer_profile, e.g. lifecycle_stage")
    rows = profile.filter(condition).select("customer_id", stratum=profile[stratum_col].cast("string"))
    return rows.to_pandas().sort_values("customer_id", ignore_index=True)


def _table(wh: Warehouse, name: str) -> pd.DataFrame:
    return wh.con.execute(f'SELECT * FROM "{name}"').fetchdf() if name in wh.table_names() else pd.DataFrame()


def _suppressed(wh: Warehouse, spec) -> dict[str, set[str]]:
    """Suppression lists by reason: complaints (responses), erasures (privacy_requests, when the
    warehouse has it) and the spec's list files. Unsubscribes are consent rows (granted = false),
    which the consent step applies per channel."""
    out: dict[str, set[str]] = {}
    sup = spec.suppression
    if sup.complained and "responses" in wh.table_names():
        rows = wh.con.execute("SELECT DISTINCT customer_id FROM responses "
                              "WHERE type = 'complaint'").fetchall()
        out["complained"] = {r[0] for r in rows}
    if sup.erased and "privacy_requests" in wh.table_names():
        rows = wh.con.execute("SELECT DISTINCT customer_id FROM privacy_requests WHERE "
                              "type = 'erasure'").fetchall()
        out["erased"] = {r[0] for r in rows}
    for path in sup.lists:
        out[f"list {Path(path).name}"] = _read_list(Path(path))
    return out


def _read_list(path: Path) -> set[str]:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the suppression list {path}: {exc}",
                          hint="fix suppression.lists in the campaign spec") from None
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def _customer_values(wh: Warehouse, spec, audience: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The value inputs per audience customer (``uplift``, ``response``, ``order_value``,
    ``segment``) and a description of the uplift model used."""
    ids = audience["customer_id"]
    info: dict = {"campaign_id": None, "learner": None}
    scores = pd.DataFrame({"customer_id": ids, "uplift": np.nan, "response": np.nan})
    if spec.goal == "acquire":
        scores, info = _lookalike_scores(wh, spec, ids)
        return _with_values(wh, spec, audience, scores), info
    campaign = spec.uplift_campaign or latest_campaign_with_control(wh)
    if campaign is not None:
        from jingzhun.pipeline_uplift import fit_campaign_models, score_customers

        try:
            models = fit_campaign_models(wh, campaign, outcome="conversion",
                                         learner=_latest_learner(wh, campaign))
        except JingzhunError as exc:
            if spec.uplift_campaign:  # asked for by name: its failure is the user's to see
                raise
            # found by looking: say why it could not be used, and plan without it
            return _with_values(wh, spec, audience, scores), {"campaign_id": None, "learner": None,
                                                              "unusable": str(exc)}
        scores = score_customers(wh, models, ids)
        info = {"campaign_id": campaign, "learner": models.learner_name, "outcome": "conversion"}
    return _with_values(wh, spec, audience, scores), info


def _lookalike_scores(wh: Warehouse, spec, ids: pd.Series) -> tuple[pd.DataFrame, dict]:
    """Acquisition: prospects never bought, so no campaign measured them. A lookalike model
    (``plan.lookalike``) learns what the most valuable fifth of the buyers (by CLV, else net spend)
    looked like before their orders, and a prospect's uplift is its score times the spec's
    ``acquire_conversion_rate``; nobody is assumed to buy without the contact (baseline 0)."""
    from jingzhun.plan.lookalike import LookalikeModel, lookalike_features

    profile = wh.con.execute("SELECT * FROM customer_profile").fetchdf()
    customers = wh.con.execute("SELECT customer_id, acquisition_channel FROM customers").fetchdf()
    as_of = pd.Timestamp(profile["as_of"].max()).date()
    features = lookalike_features(profile, customers, as_of=as_of)
    buyers = profile[profile["orders"] > 0].set_index("customer_id")
    value = buyers["clv"].fillna(buyers["monetary_net"]) if "clv" in buyers else buyers["monetary_net"]
    model = LookalikeModel(random_state=0).fit(features.loc[buyers.index], value)
    score = model.score(features.reindex(ids))
    uplift = score * spec.acquire_conversion_rate
    info = {"campaign_id": None, "learner": "lookalike", "seeds": int(model.n_seeds_),
            "seed_value_from": float(model.seed_threshold_),
            "seed_auc": None if not np.isfinite(model.auc_) else float(model.auc_),
            "conversion_rate_at_score_1": spec.acquire_conversion_rate}
    return pd.DataFrame({"customer_id": ids.to_numpy(), "uplift": uplift, "response": uplift}), info


def _with_values(wh: Warehouse, spec, audience: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """The scores with each customer's order value and, for a retention campaign, what a kept
    customer is worth: their CLV (the latest ``jz predict clv`` run), else one order."""
    ids = audience["customer_id"]
    frame = audience.merge(scores, on="customer_id", how="left").merge(_order_values(wh, ids),
                                                                      on="customer_id", how="left")
    typical = wh.con.execute("SELECT median(avg_order_value) FROM customer_profile "
                             "WHERE orders > 0").fetchone()[0]
    frame["order_value"] = frame["order_value"].fillna(frame["order_value"].median()).fillna(typical)
    if spec.goal == "retain":
        frame["conversion_value"] = frame["clv"]
    return frame.drop(columns="clv").rename(columns={"stratum": "segment"})


def _next_best(wh: Warehouse, *, as_of: datetime) -> pd.DataFrame:
    """``customer_id, recommended_category``: the category each buyer has not bought that their
    categories' co-purchases (else popularity) point to (``plan.next_best``), from non-cancelled
    purchases before ``as_of`` (naive UTC)."""
    from jingzhun.plan.next_best import next_best_category

    baskets = wh.con.execute(
        "SELECT DISTINCT o.customer_id, p.category FROM orders o JOIN order_lines l USING (order_id) "
        "JOIN products p USING (product_id) WHERE o.status != 'cancelled' AND l.quantity > 0 AND "
        "o.ordered_at < ? AND p.category IS NOT NULL AND o.customer_id IS NOT NULL", [as_of]).fetchdf()
    if baskets.empty:
        return pd.DataFrame(columns=["customer_id", "recommended_category"], dtype=object)
    best = next_best_category(baskets, top_n=1)
    return best.rename(columns={"category": "recommended_category"})[["customer_id", "recommended_category"]]


def _fallback_rates(wh: Warehouse, spec, audience: pd.DataFrame) -> dict[str, float]:
    """The fallback where the uplift model gives nothing: per stratum (the spec's
    ``control.stratify_by`` value of each customer now), the conversion rate of the contacted
    minus that of the control customers in past campaigns with a control arm -- strata with at
    least ``_FALLBACK_MIN`` customers in each arm only."""
    if not {"sends", "responses"} <= set(wh.table_names()):
        return {}
    wh.con.register("_strata", audience[["customer_id", "stratum"]])
    try:
        rows = wh.con.execute(
            "WITH controlled AS (SELECT campaign_id FROM sends GROUP BY campaign_id "
            "  HAVING bool_or(arm = 'control') AND bool_or(arm != 'control')), "
            "conv AS (SELECT DISTINCT campaign_id, customer_id FROM responses WHERE type = 'conversion') "
            "SELECT st.stratum, s.arm = 'control' AS is_control, count(*) AS n, "
            "  count(c.customer_id) AS converted "
            "FROM sends s JOIN controlled USING (campaign_id) JOIN _strata st USING (customer_id) "
            "LEFT JOIN conv c ON c.campaign_id = s.campaign_id AND c.customer_id = s.customer_id "
            "GROUP BY ALL").fetchdf()
    finally:
        wh.con.unregister("_strata")
    out = {}
    for stratum, part in rows.groupby("stratum"):
        arms = part.set_index("is_control")
        if {True, False} <= set(arms.index) and (arms["n"] >= _FALLBACK_MIN).all():
            rate = arms["converted"] / arms["n"]
            out[str(stratum)] = float(rate[False] - rate[True])
    return out


def _latest_learner(wh: Warehouse, campaign: str) -> str:
    """The learner of the latest ``jz predict uplift`` run on ``campaign`` (T-learner without)."""
    from jingzhun.pipeline_predict import PREDICTIONS_TABLE

    if PREDICTIONS_TABLE in wh.table_names():
        cols = {c[0] for c in wh.con.execute(f"DESCRIBE {PREDICTIONS_TABLE}").fetchall()}
        if "campaign_id" in cols:
            rows = wh.con.execute(f"SELECT model FROM {PREDICTIONS_TABLE} WHERE campaign_id = ? AND "
                                  "outcome = 'conversion' ORDER BY as_of DESC LIMIT 1", [campaign]).fetchall()
            if rows:
                return rows[0][0].removeprefix("uplift_")
    return "t"


def _order_values(wh: Warehouse, ids: pd.Series) -> pd.DataFrame:
    """Expected value of a customer's next order: Gamma-Gamma's expected spend (latest CLV run),
    else the profile's average order value."""
    from jingzhun.pipeline_predict import PREDICTIONS_TABLE, current_clv_model

    profile = wh.con.execute("SELECT customer_id, avg_order_value, clv FROM customer_profile").fetchdf()
    model = current_clv_model(wh)
    if model is not None and PREDICTIONS_TABLE in wh.table_names():
        spend = wh.con.execute(f"SELECT customer_id, expected_spend FROM {PREDICTIONS_TABLE} WHERE model = ?",
                               [model]).fetchdf()
        profile = profile.merge(spend, on="customer_id", how="left")
        profile["avg_order_value"] = profile["expected_spend"].fillna(profile["avg_order_value"])
    out = profile.rename(columns={"avg_order_value": "order_value"})[["customer_id", "order_value", "clv"]]
    return out[out["customer_id"].isin(set(ids))]


def _plan_rows(audience, elig, allowed, positive, chosen) -> pd.DataFrame:
    """One row per audience customer: its arm and option, or why it is excluded."""
    rows = audience[["customer_id"]].merge(
        chosen[["customer_id", "arm", "channel", "offer_id", "content_id", "expected_uplift", "value",
                "cost"]],
        on="customer_id", how="left").rename(columns={"value": "expected_profit"})
    reason = pd.Series("", index=rows.index, dtype=object)
    excluded = elig.excluded.set_index("customer_id")["reason"]
    reason = reason.mask(rows["customer_id"].isin(excluded.index), rows["customer_id"].map(excluded))
    no_value = ~rows["customer_id"].isin(set(positive["customer_id"])) & (reason == "")
    no_model = ~rows["customer_id"].isin(set(allowed.loc[allowed["value"].notna(), "customer_id"]))
    reason = reason.mask(no_value & no_model, "no uplift model or fallback rate for this customer")
    reason = reason.mask(no_value & ~no_model, "expected incremental profit <= 0 on every allowed option")
    over = rows["arm"].isna() & (reason == "")
    reason = reason.mask(over, "over budget or channel capacity (lower value per cost than those chosen)")
    reason = reason.mask(rows["arm"] == "control", "held out: random control group")
    reason = reason.mask(rows["arm"] == "treatment", "highest expected incremental profit within budget")
    return rows.assign(arm=rows["arm"].fillna("excluded"), reason=reason)


def _funnel(elig, allowed, positive, chosen) -> list[dict]:
    steps = [dict(s) for s in elig.funnel]
    last = steps[-1]["customers"] if steps else 0
    for step, remaining in (("positive value", positive["customer_id"].nunique()),
                            ("within budget", chosen["customer_id"].nunique())):
        steps.append({"step": step, "customers": int(remaining), "excluded": int(last - remaining)})
        last = remaining
    treated = int((chosen["arm"] == "treatment").sum())
    steps.append({"step": "treatment", "customers": treated, "excluded": 0})
    steps.append({"step": "control", "customers": int(last - treated), "excluded": 0})
    return steps


def _control_summary(chosen: pd.DataFrame, spec) -> dict:
    from jingzhun.plan.control import minimum_detectable_effect

    n_t = int((chosen["arm"] == "treatment").sum())
    n_c = int((chosen["arm"] == "control").sum())
    treated = chosen[chosen["arm"] == "treatment"]
    base = float((treated["baseline_prob"] + treated["expected_uplift"]).mean()) if n_t else float("nan")
    mde = (minimum_detectable_effect(n_t, n_c, min(max(base, 1e-6), 1 - 1e-6))
           if n_t and n_c else float("nan"))
    expected_uplift = float(treated["expected_uplift"].mean()) if n_t else float("nan")
    warning = None
    if not n_c:
        warning = "no control group: the campaign's effect cannot be measured"
    elif np.isfinite(mde) and np.isfinite(expected_uplift) and mde > expected_uplift:
        warning = (f"the control group ({n_c:,}) is too small to detect the expected uplift "
                   f"({expected_uplift:.2%}): the smallest detectable effect is {mde:.2%} "
                   "(power 80%, alpha 5%); raise control.share or control.min_size")
    return {"treatment": n_t, "control": n_c, "share": n_c / max(n_t + n_c, 1),
            "expected_response_rate": base, "expected_uplift": expected_uplift,
            "minimum_detectable_effect": mde, "warning": warning}


def _write(wh: Warehouse, rows: pd.DataFrame, result: dict, spec) -> None:
    from jingzhun.pipeline_predict import _append
    from jingzhun.warehouse import table_ddl

    wh.con.execute(table_ddl(PLANS_TABLE))
    for column, sql_type in _EXTRA_PLAN_COLUMNS.items():
        wh.con.execute(f'ALTER TABLE {PLANS_TABLE} ADD COLUMN IF NOT EXISTS "{column}" {sql_type}')
    if "recommended_category" not in rows:
        rows = rows.assign(recommended_category=None)
    columns = {"campaign_id": "VARCHAR", "customer_id": "VARCHAR", "arm": "VARCHAR", "channel": "VARCHAR",
               "offer_id": "VARCHAR", "content_id": "VARCHAR", "expected_uplift": "DOUBLE",
               "expected_profit": "DOUBLE", "cost": "DOUBLE", "reason": "VARCHAR"} | _EXTRA_PLAN_COLUMNS
    runs = {"run_id": "VARCHAR", "campaign_id": "VARCHAR", "as_of": "DATE", "planned_at": "TIMESTAMP",
            "spec": "VARCHAR", "result": "VARCHAR"}
    run_row = pd.DataFrame([{"run_id": result["run_id"], "campaign_id": spec.campaign_id,
                             "as_of": rows["as_of"].iloc[0] if len(rows) else None,
                             "planned_at": datetime.now(UTC).replace(tzinfo=None),
                             "spec": spec.model_dump_json(), "result": json.dumps(result)}])
    with wh.transaction():
        wh.con.execute(f"DELETE FROM {PLANS_TABLE} WHERE campaign_id = ?", [spec.campaign_id])
        _append(wh, PLANS_TABLE, columns, rows)
        _append(wh, PLAN_RUNS_TABLE, runs, run_row)


#: The identity-vault field a channel's send list needs (other channels address the customer id).
CONTACT_FIELD = {"sms": "phone", "email": "email"}
AUDIT_TABLE = "audit_log"


def export_plan(wh: Warehouse, campaign_id: str, *, secrets, out: Path, actor: str) -> dict:
    """Write the treated customers of the latest plan of ``campaign_id`` to ``out`` (CSV, UTF-8
    with a byte-order mark for Excel) with the contact details their channel needs, decrypted
    from the identity vault only here, and record who exported what in ``audit_log``.

    Returns
    -------
    dict
        ``campaign_id``, ``path``, ``rows``, ``by_channel``, ``missing_contact`` (treated
        customers without the contact detail their channel needs: left in the file, flagged).
    """
    if PLANS_TABLE not in wh.table_names():
        raise ConfigError(f"no campaign has been planned in {wh.path}", hint="run `jz plan SPEC.yaml` first")
    rows = wh.con.execute(f"SELECT customer_id, channel, offer_id, content_id FROM {PLANS_TABLE} "
                          "WHERE campaign_id = ? AND arm = 'treatment' ORDER BY channel, customer_id",
                          [campaign_id]).fetchdf()
    if rows.empty:
        raise ConfigError(f"campaign {campaign_id!r} has no treated customer in the plans table",
                          hint="check the campaign id (jz plan SPEC.yaml writes the plan)")
    vault = wh.con.execute("SELECT customer_id, field, ciphertext FROM identity_vault WHERE customer_id IN "
                           f"(SELECT customer_id FROM {PLANS_TABLE} WHERE campaign_id = ? AND "
                           "arm = 'treatment')", [campaign_id]).fetchdf()
    keys = zip(vault["customer_id"], vault["field"], strict=True)
    tokens = dict(zip(keys, vault["ciphertext"], strict=True))
    contact = [_contact(tokens, secrets, cid, CONTACT_FIELD.get(ch))
               for cid, ch in zip(rows["customer_id"], rows["channel"], strict=True)]
    rows["contact"] = contact
    rows["contact_field"] = rows["channel"].map(CONTACT_FIELD).fillna("customer_id")
    missing = int(sum(c is None for c, f in zip(contact, rows["contact_field"], strict=True)
                      if f != "customer_id"))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(out, index=False, encoding="utf-8-sig")
    by_channel = rows["channel"].value_counts().to_dict()
    _audit(wh, actor=actor, action="plan_export", campaign_id=campaign_id,
           detail={"path": str(out), "rows": len(rows), "fields": sorted(set(rows["contact_field"])),
                   "by_channel": by_channel})
    return {"campaign_id": campaign_id, "path": str(out), "rows": len(rows), "by_channel": by_channel,
            "missing_contact": missing}


def _contact(tokens: dict, secrets, customer_id: str, field: str | None) -> str | None:
    """The decrypted ``field`` of the customer (None when the vault has none); the customer id
    itself for channels that address customers by id."""
    if field is None:
        return customer_id
    token = tokens.get((customer_id, field))
    return None if token is None else secrets.decrypt(token)


def _audit(wh: Warehouse, *, actor: str, action: str, campaign_id: str, detail: dict) -> None:
    """Append one row to ``audit_log`` (who did what with personal data, when)."""
    wh.con.execute(f"CREATE TABLE IF NOT EXISTS {AUDIT_TABLE} (logged_at TIMESTAMP, actor VARCHAR, "
                   "action VARCHAR, campaign_id VARCHAR, detail VARCHAR)")
    wh.con.execute(f"INSERT INTO {AUDIT_TABLE} VALUES (?, ?, ?, ?, ?)",
                   [datetime.now(UTC).replace(tzinfo=None), actor, action, campaign_id,
                    json.dumps(detail, ensure_ascii=False)])
