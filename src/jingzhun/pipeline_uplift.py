"""Where the uplift stage meets storage: a past campaign's sends and responses and what was known
of its customers before the send go in; the learners are compared on a held-out part, the best
(or the one asked for) is refitted on everyone, and its scores are written to ``predictions``.

Rows written to ``predictions`` (the table of ``pipeline_predict``, with five columns added the
first time: ``campaign_id``, ``arm``, ``outcome``, ``uplift``, ``response``): one per customer of
the compared arms, ``model`` = ``uplift_<learner>`` (e.g. ``uplift_t``), ``uplift`` = the
predicted change in the outcome from the contact (a probability for conversion/visit, money for
revenue), ``response`` = the expected outcome if contacted (``predict.response.ResponseModel``
on the contacted customers), ``as_of``
= the day of the send (or the run's date when the source has no send time). A new run of the same
campaign, outcome and arm replaces its rows; the other columns are null.

Choices: the held-out part is a 30% split stratified by treatment (and by outcome for 0/1
outcomes) with a fixed seed, so that the comparison is reproducible; the Qini coefficient on it
picks the learner; the final scores come from a refit on all rows (the comparison says how good
the method is, the refit uses every customer).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from jingzhun.errors import ConfigError
from jingzhun.pipeline import jsonable
from jingzhun.pipeline_results import record_result
from jingzhun.warehouse import Warehouse

log = logging.getLogger(__name__)

#: Columns ``predictions`` gains for uplift scores.
_UPLIFT_COLUMNS = {"campaign_id": "VARCHAR", "arm": "VARCHAR", "outcome": "VARCHAR", "uplift": "DOUBLE",
                   "response": "DOUBLE"}
#: Learners tried by default, by outcome kind (``jingzhun.predict.uplift.LEARNERS`` keys).
DEFAULT_LEARNERS = {"binary": ("s", "t", "x", "ct"), "revenue": ("s", "t", "x", "to")}


def campaign_dataset(wh: Warehouse, campaign_id: str, *, outcome: str, arm: str | None = None):
    """The campaign's modelling table (``predict.campaign_data.CampaignData``) and the date its
    features describe (the day before the send; None when the source has no send time)."""
    from jingzhun.predict import campaign_data as cd

    sends = _frame(wh, "SELECT customer_id, arm, sent_at FROM sends WHERE campaign_id = ?", [campaign_id])
    if sends.empty:
        known = [r[0] for r in wh.con.execute("SELECT DISTINCT campaign_id FROM sends ORDER BY 1")
                 .fetchall()] if "sends" in wh.table_names() else []
        raise ConfigError(f"campaign {campaign_id!r} has no sends in {wh.path}",
                          hint=f"known campaigns: {', '.join(known) or 'none (ingest sends first)'}")
    responses = _frame(wh, "SELECT customer_id, type, revenue FROM responses WHERE campaign_id = ?",
                       [campaign_id])
    outcomes = cd.campaign_outcomes(sends, responses, outcome=outcome, arm=arm, campaign_id=campaign_id)
    arms = tuple(sorted(set(outcomes["arm"]) - {cd.CONTROL_ARM}))
    customers = _frame(wh, "SELECT customer_id, CAST(attributes AS VARCHAR) AS attributes FROM customers "
                           "WHERE customer_id IN (SELECT customer_id FROM sends WHERE campaign_id = ?)",
                       [campaign_id])
    features = [cd.attribute_features(customers)] if not customers.empty else []
    feature_day = _feature_day(sends)
    if feature_day is not None and _has_orders(wh):
        features.append(cd.profile_features(_profile_as_of(wh, feature_day, outcomes["customer_id"])))
    return cd.join_features(outcomes, *features, outcome=outcome, arms=arms), feature_day


def _frame(wh: Warehouse, sql: str, params: list) -> pd.DataFrame:
    return wh.con.execute(sql, params).fetchdf()


def _feature_day(sends: pd.DataFrame) -> date | None:
    """The day before the first send (features must predate it); None without send times."""
    sent = pd.to_datetime(sends["sent_at"]).dropna()
    return None if sent.empty else sent.min().date() - timedelta(days=1)


def _has_orders(wh: Warehouse) -> bool:
    return "orders" in wh.table_names() and wh.con.execute("SELECT count(*) FROM orders").fetchone()[0] > 0


def _profile_as_of(wh: Warehouse, day: date, customers: pd.Series) -> pd.DataFrame:
    """The customer profile as of ``day`` (the stored profile's time zone), built from the canonical
    tables for the campaign's customers only -- whatever happened after ``day`` is left out."""
    from jingzhun import pipeline
    from jingzhun.profile.build import build

    meta = pipeline._profile_meta(wh)
    timezone = meta["timezone"] if meta else "UTC"
    lifecycle = meta["lifecycle"] if meta else None
    profile = build(pipeline._profile_inputs(wh), as_of=day, timezone=timezone, lifecycle=lifecycle).profile
    frame = profile.to_pandas()
    return frame[frame["customer_id"].isin(set(customers))]


def predict_uplift(wh: Warehouse, *, campaign_id: str, outcome: str = "conversion",
                   arm: str | None = None, learner: str | None = None, test_share: float = 0.3,
                   seed: int = 42, as_of: date | None = None) -> dict:
    """Compare the uplift learners on a held-out part of a past campaign, refit the best (or
    ``learner``) on all of it and write its scores to ``predictions``.

    Parameters
    ----------
    campaign_id : str
        A campaign in ``sends`` with a ``control`` arm.
    outcome : {"conversion", "visit", "revenue"}
    arm : str, optional
        Treated arm compared with control (default: the only one, or all pooled).
    learner : str, optional
        One of ``jingzhun.predict.uplift.LEARNERS`` (``s``, ``t``, ``x``, ``ct``, ``to``); default:
        the best of the defaults by Qini coefficient on the held-out part.
    test_share : float, default 0.3
        Share of customers held out for the comparison, in (0, 1).
    seed : int, default 42
        Seed of the split and the learners.
    as_of : date, optional
        The date the written scores describe; default the day after the send (the features'
        date). A source without send times (Hillstrom) has no such date: give one, or the scores
        carry none (``as_of`` NULL) -- never the clock's date.

    Returns
    -------
    dict
        JSON-serialisable: ``campaign_id``, ``arms``, ``outcome``, ``customers``, ``treatment``,
        ``control``, ``features`` (names), ``features_as_of``, ``observed`` (means per group and
        their difference with a 95% interval), ``learners`` (per learner: qini_auc, uplift_auc,
        uplift_at_30), ``chosen``, ``deciles`` (the chosen learner on the held-out part),
        ``response`` (the response model's ROC-AUC on the held-out contacted customers, 0/1
        outcomes), ``rows_written``, ``run_id``, ``as_of``, ``qini_curves`` (the learners' Qini
        curves on the held-out part, thinned for drawing: ``report.uplift_figures``). Also
        recorded in ``stage_results`` (stage ``uplift``, key = the campaign) for the report.
    """
    from jingzhun.predict.response import ResponseModel
    from jingzhun.predict.uplift import make_learner
    from jingzhun.predict.uplift_metrics import evaluate_uplift, uplift_by_decile
    from jingzhun.report.uplift_figures import qini_curve_points

    if not 0 < test_share < 1:
        raise ConfigError(f"test_share must be in (0, 1), got {test_share!r}")
    data, feature_day = campaign_dataset(wh, campaign_id, outcome=outcome, arm=arm)
    kind = "binary" if data.is_binary else "revenue"
    names = (learner,) if learner else DEFAULT_LEARNERS[kind]
    train, test = _split(data, test_share, seed)
    scores, compared = {}, []
    for name in names:
        model = make_learner(name, kind, random_state=seed)
        model.fit(data.X.iloc[train], data.y[train], data.treatment[train])
        scores[name] = model.predict(data.X.iloc[test])
        ev = evaluate_uplift(data.y[test], scores[name], data.treatment[test])
        compared.append({"learner": name, "qini_auc": ev.qini_auc, "uplift_auc": ev.uplift_auc,
                         "uplift_at_30": ev.uplift_at_30})
    chosen = max(compared, key=lambda r: r["qini_auc"])["learner"]
    deciles = uplift_by_decile(data.y[test], scores[chosen], data.treatment[test])
    final = make_learner(chosen, kind, random_state=seed).fit(data.X, data.y, data.treatment)
    response_auc = _response_auc(data, train, test, kind, seed)
    response = ResponseModel(outcome=kind, random_state=seed).fit(data.X, data.y, data.treatment)
    run_id = uuid.uuid4().hex
    as_of = as_of or ((feature_day + timedelta(days=1)) if feature_day else None)
    written = _write_scores(wh, data, final.predict(data.X), response.predict(data.X),
                            model=f"uplift_{chosen}", campaign_id=campaign_id, as_of=as_of, run_id=run_id)
    log.info("uplift %s/%s: %s chosen of %s; %d scores written", campaign_id, outcome, chosen, names, written)
    result = {"campaign_id": campaign_id, "arms": list(data.arms), "outcome": outcome,
            "customers": int(data.y.size), "treatment": int(data.treatment.sum()),
            "control": int((data.treatment == 0).sum()), "features": list(data.X.columns),
            "features_as_of": None if feature_day is None else str(feature_day),
            "observed": _observed(data), "learners": compared, "chosen": chosen,
            "test_share": test_share, "seed": seed,
            "deciles": jsonable(deciles.to_dict(orient="records")),
            "response": {"roc_auc": response_auc, "contacted": response.n_contacted_,
                         "rate": response.response_rate_},
            "rows_written": written, "run_id": run_id, "as_of": None if as_of is None else str(as_of),
            "qini_curves": qini_curve_points(data.y[test], data.treatment[test], scores)}
    record_result(wh, "uplift", result, key=campaign_id)
    return result


def _response_auc(data, train: np.ndarray, test: np.ndarray, kind: str, seed: int) -> float | None:
    """ROC-AUC of the response model on the held-out contacted customers (0/1 outcomes only)."""
    from sklearn.metrics import roc_auc_score

    from jingzhun.predict.response import ResponseModel

    test_treated = test[data.treatment[test] == 1]
    if kind != "binary" or np.unique(data.y[test_treated]).size < 2:
        return None
    model = ResponseModel(outcome=kind, random_state=seed)
    model.fit(data.X.iloc[train], data.y[train], data.treatment[train])
    return float(roc_auc_score(data.y[test_treated], model.predict(data.X.iloc[test_treated])))


def _split(data, test_share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of the training and held-out parts, stratified by treatment (and outcome)."""
    from sklearn.model_selection import train_test_split

    strata = data.treatment.astype(str)
    if data.is_binary:
        strata = np.char.add(strata, data.y.astype(int).astype(str))
    rows = np.arange(data.y.size)
    try:
        return train_test_split(rows, test_size=test_share, random_state=seed, stratify=strata)
    except ValueError as exc:  # a stratum with a single row
        raise ConfigError(f"the campaign is too small to hold out {test_share:.0%} of it: {exc}",
                          hint="use a larger campaign or a smaller --test-share") from None


def _observed(data) -> dict:
    """Means of the outcome per group and their difference with a 95% Welch interval
    (``evaluate.stats.compare_means``, as ``jz evaluate`` reports it)."""
    from jingzhun.evaluate.stats import ArmStats, compare_means

    treated, control = (ArmStats.from_values(data.y[data.treatment == arm]) for arm in (1, 0))
    c = compare_means(treated, control, metric=data.outcome)
    return {"mean_treatment": c.mean_treatment, "mean_control": c.mean_control,
            "difference": c.lift_abs, "ci_low": c.ci_low, "ci_high": c.ci_high}


def _write_scores(wh: Warehouse, data, uplift: np.ndarray, response: np.ndarray, *, model: str,
                  campaign_id: str, as_of: date | None, run_id: str) -> int:
    from jingzhun.pipeline_predict import _PREDICTION_COLUMNS, PREDICTIONS_TABLE, _append, _create

    _create(wh, PREDICTIONS_TABLE, _PREDICTION_COLUMNS)
    for column, sql_type in _UPLIFT_COLUMNS.items():
        wh.con.execute(f'ALTER TABLE {PREDICTIONS_TABLE} ADD COLUMN IF NOT EXISTS "{column}" {sql_type}')
    arm = "+".join(data.arms)
    rows = pd.DataFrame({"customer_id": data.customer_id, "model": model, "as_of": as_of,
                         "run_id": run_id, "campaign_id": campaign_id, "arm": arm,
                         "outcome": data.outcome, "uplift": uplift, "response": response})
    with wh.transaction():
        wh.con.execute(f"DELETE FROM {PREDICTIONS_TABLE} WHERE starts_with(model, 'uplift_') AND "
                       "campaign_id = ? AND outcome = ? AND arm = ?", [campaign_id, data.outcome, arm])
        _append(wh, PREDICTIONS_TABLE, {"customer_id": "VARCHAR", "model": "VARCHAR", "as_of": "DATE",
                                        "run_id": "VARCHAR"} | _UPLIFT_COLUMNS, rows)
    return len(rows)


@dataclass(frozen=True)
class CampaignModels:
    """An uplift learner and a response model fitted on every customer of a past campaign, and
    the feature columns they expect (``score_customers`` builds them for other customers)."""

    campaign_id: str
    outcome: str
    learner_name: str
    learner: object
    response: object
    columns: tuple[str, ...]


def fit_campaign_models(wh: Warehouse, campaign_id: str, *, outcome: str = "conversion",
                        learner: str = "t", seed: int = 42) -> CampaignModels:
    """Fit ``learner`` (a key of ``predict.uplift.LEARNERS``) and the response model on all of a
    past campaign's customers, for scoring others (campaign planning)."""
    from jingzhun.predict.response import ResponseModel
    from jingzhun.predict.uplift import make_learner

    data, _ = campaign_dataset(wh, campaign_id, outcome=outcome)
    kind = "binary" if data.is_binary else "revenue"
    model = make_learner(learner, kind, random_state=seed).fit(data.X, data.y, data.treatment)
    response = ResponseModel(outcome=kind, random_state=seed).fit(data.X, data.y, data.treatment)
    return CampaignModels(campaign_id, outcome, learner, model, response, tuple(data.X.columns))


def score_customers(wh: Warehouse, models: CampaignModels, customer_ids) -> pd.DataFrame:
    """``customer_id, uplift, response`` of ``customer_ids`` from what is known of them now: the
    stored profile (as of its date) and their attributes, in the columns the models learned from
    (a feature they lack is missing, which LightGBM handles)."""
    from jingzhun.predict import campaign_data as cd

    ids = pd.DataFrame({"customer_id": pd.unique(pd.Series(customer_ids, dtype=object))})
    wh.con.register("_scored_ids", ids)
    try:
        customers = _frame(wh, "SELECT customer_id, CAST(attributes AS VARCHAR) AS attributes FROM customers "
                               "WHERE customer_id IN (SELECT customer_id FROM _scored_ids)", [])
        frames = [cd.attribute_features(customers)] if not customers.empty else []
        if "customer_profile" in wh.table_names():
            profile = _frame(wh, "SELECT * FROM customer_profile WHERE customer_id IN "
                                 "(SELECT customer_id FROM _scored_ids)", [])
            frames.append(cd.profile_features(profile))
    finally:
        wh.con.unregister("_scored_ids")
    X = ids.set_index("customer_id")
    for frame in frames:
        X = X.join(frame, how="left")
    X = X.reindex(columns=list(models.columns)).astype(float)
    return pd.DataFrame({"customer_id": ids["customer_id"],
                         "uplift": models.learner.predict(X), "response": models.response.predict(X)})
