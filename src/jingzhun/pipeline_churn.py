"""Where the churn model meets storage: read the canonical tables, backtest, fit, score, write.

``predict_churn`` (what ``jz predict churn`` calls), with ``H = horizon_days``:

1. **Backtest.** Train on the features as of ``T1 = as_of - 2H`` with labels from ``(T1, T2]``,
   test on the features as of ``T2 = as_of - H`` with labels from ``(T2, as_of]`` -- the test
   window does not overlap the training labels. The model's metrics are reported next to two
   BG/NBD baselines fitted on the purchases up to ``T2``: ``1 - P(alive)`` and P(no purchase in
   the horizon) (``predict.churn.btyd_churn_baselines``).
2. **Fit and score.** Fit on the latest full window (features as of ``T2``, labels from
   ``(T2, as_of]``) and score every buyer as of ``as_of``: the probability of no purchase in
   ``(as_of, as_of + H]``.

Table written:

``churn_predictions``  one row per (customer, model): ``customer_id``, ``model`` (``churn_lgbm``
                       by default), ``as_of``, ``horizon_days``, ``churn_prob`` (no purchase in
                       the next ``horizon_days``), ``risk_decile`` (1 = the riskiest tenth),
                       ``run_id``; a new run of a model replaces its rows. Customers without a
                       purchase up to ``as_of`` have no row.

Churn has its own table rather than rows in ``predictions``: that table's columns are fixed for
CLV (``horizon_weeks``, ``p_alive``, ``expected_purchases``, ``expected_spend``, ``clv``) and none
of them is a churn probability (``p_alive`` is not: a customer alive now may still not buy within
the horizon).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from jingzhun.errors import ConfigError
from jingzhun.pipeline_results import record_result
from jingzhun.warehouse import Warehouse

log = logging.getLogger(__name__)

CHURN_TABLE = "churn_predictions"
DEFAULT_MODEL_NAME = "churn_lgbm"
_CHURN_COLUMNS = {
    "customer_id": "VARCHAR", "model": "VARCHAR", "as_of": "DATE", "horizon_days": "INTEGER",
    "churn_prob": "DOUBLE", "risk_decile": "INTEGER", "run_id": "VARCHAR"}


def predict_churn(wh: Warehouse, *, as_of: date | None = None, horizon_days: int = 90,
                  estimator=None, model_name: str | None = None, top_features: int = 10,
                  random_state: int = 0, write: bool = True) -> dict:
    """Backtest the churn model, fit it on the latest full window, score every buyer as of
    ``as_of`` and (``write``) replace the model's rows in ``churn_predictions``.

    Parameters
    ----------
    wh : Warehouse
        With the canonical ``customers``, ``orders``, ``order_lines``, ``products``, ``events``.
    as_of : date, optional
        Scoring date (local, in the profile's time zone). Default: the profile's date, else the
        latest order or event. The data must reach it (the last label window ends there).
    horizon_days : int, default 90
        Churn = no purchase in the next ``horizon_days`` days.
    estimator : scikit-learn classifier, optional
        Passed to ``predict.churn.ChurnModel`` (default LightGBM).
    model_name : str, optional
        The ``model`` column; default ``churn_lgbm``, or ``churn_<estimator class, lower case>``.
    top_features : int, default 10
        How many feature importances to return.
    random_state : int, default 0
        Seed of the model.
    write : bool, default True
        Whether to write ``churn_predictions`` (False: a dry run that only reports).

    Returns
    -------
    dict (JSON-serialisable)
        ``run_id``, ``model``, ``as_of``, ``timezone``, ``horizon_days``, ``table`` (None on a
        dry run), ``customers`` (scored), ``churn_prob_mean``, ``expected_churners`` (sum of
        probabilities), ``score_deciles`` (per risk decile of today's scores: ``decile``, ``n``,
        ``churn_prob_mean``, ``churn_prob_min``), ``fit`` (``as_of``, ``customers``,
        ``churn_rate`` of the final training window), ``backtest`` (``train_as_of``,
        ``test_as_of``, ``train_customers``, ``train_churn_rate`` and the metrics of ``model``,
        ``baseline`` = BTYD 1 - P(alive) and ``baseline_no_purchase``: ``status``, ``n``,
        ``churners``, ``base_rate``, ``roc_auc``, ``pr_auc``, ``brier``, ``calibration``,
        ``lift``), ``lift`` (the backtest model's lift by decile), ``feature_importance`` (list
        of ``{"feature", "importance"}`` of the final model, shares of total gain) and
        ``warnings``.
    """
    from jingzhun import pipeline
    from jingzhun.pipeline_predict import _date_and_zone
    from jingzhun.predict import churn

    horizon_days = churn.check_horizon(horizon_days)
    meta = pipeline._profile_meta(wh)
    as_of, timezone = _date_and_zone(wh, as_of, meta)
    lifecycle = meta["lifecycle"] if meta else None
    horizon = timedelta(days=horizon_days)
    test_as_of = as_of - horizon
    train_as_of = test_as_of - horizon
    last = pipeline.latest_activity_date(wh, timezone)
    if last is None or last < as_of:
        raise ConfigError(f"the data end on {last}, before the churn date {as_of}: the last "
                          f"label window ({test_as_of}, {as_of}] is not fully observed",
                          hint=f"use --as-of {last} or earlier" if last else "ingest orders first")
    tables = pipeline._profile_inputs(wh)

    def dataset(day: date, *, with_labels: bool = True):
        ds = churn.churn_dataset(tables, as_of=day, horizon_days=horizon_days, timezone=timezone,
                                 lifecycle=lifecycle, with_labels=with_labels)
        if ds.n_customers == 0:
            raise ConfigError(
                f"no purchases on or before {day}: the churn backtest trains on the buyers as of "
                f"as_of - 2 x {horizon_days} days = {train_as_of} and tests on those as of "
                f"{test_as_of}", hint="use a shorter --horizon-days or a later --as-of")
        return ds

    train, test = dataset(train_as_of), dataset(test_as_of)
    baselines = churn.btyd_churn_baselines(tables["orders"], as_of=test_as_of,
                                           horizon_days=horizon_days, timezone=timezone)
    template = churn.ChurnModel(estimator, random_state=random_state)
    result, _ = churn.backtest(train, test, baselines, model=template)
    caught = _weak_data_warnings(result, train, test)
    final = churn.ChurnModel(estimator, random_state=random_state).fit(test.X, test.y)
    now = dataset(as_of, with_labels=False)
    prob = final.predict_churn_prob(now.X)
    decile = churn.risk_deciles(prob)
    name = model_name or (DEFAULT_MODEL_NAME if estimator is None
                          else f"churn_{type(estimator).__name__.lower()}")
    run_id = f"churn-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    if write:
        rows = pd.DataFrame({"customer_id": now.X.index.to_numpy(), "model": name, "as_of": as_of,
                             "horizon_days": horizon_days, "churn_prob": prob,
                             "risk_decile": decile, "run_id": run_id})
        with wh.transaction():
            _write(wh, rows, name)
    importance = final.feature_importances().head(top_features)
    backtest = result.as_dict()
    backtest.pop("feature_importance")
    for w in caught:
        log.warning("churn: %s", w)
    result = {
        "run_id": run_id, "model": name, "as_of": str(as_of), "timezone": timezone,
        "horizon_days": horizon_days, "table": CHURN_TABLE if write else None,
        "customers": len(prob), "churn_prob_mean": float(prob.mean()),
        "expected_churners": float(prob.sum()),
        "score_deciles": _score_deciles(prob, decile),
        "fit": {"as_of": str(test_as_of), "customers": test.n_customers,
                "churn_rate": float(test.y.mean())},
        "backtest": backtest, "lift": backtest["model"]["lift"],
        "feature_importance": [{"feature": k, "importance": float(v)}
                               for k, v in importance.items()],
        "warnings": caught,
    }
    if write:
        record_result(wh, "churn", result)
    return result


def _weak_data_warnings(result, train, test) -> list[str]:
    """Messages for data the backtest can say little about (not errors: the scores stand)."""
    out = []
    for label, ds in (("training", train), ("test", test)):
        churners = int(ds.y.sum())
        if min(churners, ds.n_customers - churners) < 30:
            out.append(f"the {label} window as of {ds.as_of} has {churners} churners among "
                       f"{ds.n_customers} buyers: its metrics are uncertain")
    if result.model.status != "ok":
        out.append(f"backtest metrics: {result.model.status}")
    return out


def _score_deciles(prob: np.ndarray, decile: np.ndarray) -> list[dict]:
    return [{"decile": int(k), "n": int((decile == k).sum()),
             "churn_prob_mean": float(prob[decile == k].mean()),
             "churn_prob_min": float(prob[decile == k].min())}
            for k in np.unique(decile)]


def _write(wh: Warehouse, rows: pd.DataFrame, name: str) -> None:
    cols = ", ".join(f'"{c}" {t}' for c, t in _CHURN_COLUMNS.items())
    wh.con.execute(f'CREATE TABLE IF NOT EXISTS "{CHURN_TABLE}" ({cols})')
    wh.con.execute(f'DELETE FROM "{CHURN_TABLE}" WHERE model = ?', [name])
    wh.con.register("_churn_rows", rows[list(_CHURN_COLUMNS)])
    try:
        wh.con.execute(f'INSERT INTO "{CHURN_TABLE}" BY NAME SELECT * FROM _churn_rows')
    finally:
        wh.con.unregister("_churn_rows")
