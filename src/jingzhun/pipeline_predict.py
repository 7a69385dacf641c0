"""Where the predict stages meet storage (the ``predict`` half of ``pipeline.py``, apart to keep
modules small): read the purchase summary from the warehouse, fit in memory, write predictions.

Tables written:

``predictions``  one row per (customer, model): ``customer_id``, ``model`` (``clv_bgnbd``,
                 ``clv_mbgnbd``, ``clv_pareto``), ``as_of``, ``horizon_weeks``, ``p_alive``,
                 ``expected_purchases`` (repeat purchases in the next ``horizon_weeks``),
                 ``expected_spend`` (per purchase, orders' currency), ``clv`` (discounted margin
                 over the horizon, orders' currency), ``run_id``; a new run of a model replaces
                 its rows. Customers without a purchase up to ``as_of`` have no row.
``model_fits``   one row per fitted model and run: ``run_id``, ``model``, ``as_of``,
                 ``fitted_at`` (UTC), ``customers``, ``params`` (JSON, the papers' names),
                 ``summary`` (JSON: estimate, std_error, ci_low, ci_high per parameter),
                 ``log_likelihood``, ``settings`` (JSON), ``warnings`` (JSON list).

The profile's ``clv`` and ``p_alive`` columns are the latest CLV run's (``pipeline._write_profile``
joins them; this module updates them in place after a run).
"""

from __future__ import annotations

import json
import uuid
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from jingzhun.errors import ConfigError
from jingzhun.warehouse import Warehouse

PREDICTIONS_TABLE = "predictions"
MODEL_FITS_TABLE = "model_fits"
#: Transaction models for CLV: CLI name -> class name in ``jingzhun.predict.btyd``.
CLV_MODELS = {"bgnbd": "BetaGeoModel", "mbgnbd": "ModifiedBetaGeoModel", "pareto": "ParetoNBDModel"}
_PREDICTION_COLUMNS = {
    "customer_id": "VARCHAR", "model": "VARCHAR", "as_of": "DATE", "horizon_weeks": "DOUBLE",
    "p_alive": "DOUBLE", "expected_purchases": "DOUBLE", "expected_spend": "DOUBLE",
    "clv": "DOUBLE", "run_id": "VARCHAR"}
_FIT_COLUMNS = {
    "run_id": "VARCHAR", "model": "VARCHAR", "as_of": "DATE", "fitted_at": "TIMESTAMP",
    "customers": "BIGINT", "params": "VARCHAR", "summary": "VARCHAR", "log_likelihood": "DOUBLE",
    "settings": "VARCHAR", "warnings": "VARCHAR"}


@dataclass(frozen=True)
class CLVSettings:
    """How CLV is computed: ``model`` (a key of ``CLV_MODELS``), ``horizon_weeks``, the annual
    discount rate (0.10 = 10% a year) and the margin (share of revenue kept as profit)."""

    model: str = "bgnbd"
    horizon_weeks: float = 52.0
    annual_discount_rate: float = 0.10
    margin: float = 1.0

    def __post_init__(self):
        if self.model not in CLV_MODELS:
            raise ConfigError(f"unknown CLV model {self.model!r}",
                              hint=f"choose one of: {', '.join(CLV_MODELS)}")


def purchase_summary(wh: Warehouse, *, as_of: date, timezone: str) -> pd.DataFrame:
    """``predict.rfm_summary`` of the warehouse's orders up to ``as_of`` (weeks), in memory."""
    from jingzhun.predict.rfm_summary import rfm_summary

    summary = rfm_summary(wh.table("orders"), observation_end=as_of, unit="W", timezone=timezone)
    return summary.to_pandas()


def fit_clv_models(summary: pd.DataFrame, settings: CLVSettings, *, with_spend: bool = True):
    """Fit the transaction model and (when ``with_spend``) Gamma-Gamma on ``summary``
    (``purchase_summary``).

    Returns ``(transaction_model, spend_model or None, warnings)``, the last a list of messages
    of the warnings the fits raised (weak data, correlated spend, ...).
    """
    from jingzhun.predict import btyd

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = getattr(btyd, CLV_MODELS[settings.model])().fit(
            summary["frequency"], summary["recency"], summary["T"])
        repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
        spend = (btyd.GammaGammaModel().fit(repeat["frequency"], repeat["monetary_value"])
                 if with_spend else None)
    return model, spend, [f"{type(w.message).__name__}: {w.message}" for w in caught]


def clv_predictions(summary: pd.DataFrame, model, spend, settings: CLVSettings) -> pd.DataFrame:
    """Per customer of ``summary``: ``p_alive``, ``expected_purchases`` in the horizon,
    ``expected_spend`` and ``clv`` (see ``predict.clv``)."""
    from jingzhun.predict.clv import customer_lifetime_value

    x, t_x, age = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    money = summary["monetary_value"].to_numpy(float)
    return pd.DataFrame({
        "customer_id": summary["customer_id"].to_numpy(),
        "p_alive": np.asarray(model.probability_alive(x, t_x, age), dtype=float),
        "expected_purchases": np.asarray(
            model.expected_purchases(settings.horizon_weeks, x, t_x, age), dtype=float),
        "expected_spend": np.asarray(spend.expected_spend(x, money), dtype=float),
        "clv": customer_lifetime_value(
            model, spend, x, t_x, age, money, horizon=settings.horizon_weeks,
            annual_discount_rate=settings.annual_discount_rate, margin=settings.margin),
    })


def predict_clv(wh: Warehouse, *, as_of: date | None = None, settings: CLVSettings | None = None,
                ) -> dict:
    """Fit the CLV models on the purchases up to ``as_of`` (default: the profile's date, else the
    latest order or event), write ``predictions`` and ``model_fits``, and refresh the profile's
    ``clv``/``p_alive`` columns, tags and segments. Returns the fits and totals."""
    from jingzhun import pipeline

    settings = settings or CLVSettings()
    meta = pipeline._profile_meta(wh)
    as_of, timezone = _date_and_zone(wh, as_of, meta)
    summary = purchase_summary(wh, as_of=as_of, timezone=timezone)
    if summary.empty:
        raise ConfigError(f"no purchases on or before {as_of} in {wh.path}",
                          hint="check --as-of, or ingest orders first")
    model, spend, caught = fit_clv_models(summary, settings)
    scores = clv_predictions(summary, model, spend, settings)
    run_id = f"clv-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    name = f"clv_{settings.model}"
    with wh.transaction():
        _write_predictions(wh, scores, name=name, as_of=as_of, settings=settings, run_id=run_id)
        fits = [_fit_row(m, n, as_of, settings, caught, run_id)
                for m, n in ((model, name), (spend, "gamma_gamma"))]
        _append(wh, MODEL_FITS_TABLE, _FIT_COLUMNS, pd.DataFrame(fits))
        if meta is not None:
            pipeline._refresh_profile_clv(wh, as_of=meta["as_of"])
    return {"run_id": run_id, "model": name, "as_of": str(as_of), "settings": vars(settings),
            "customers": len(scores), "fits": [_fit_result(f) for f in fits],
            "clv_total": float(scores["clv"].sum()), "clv_mean": float(scores["clv"].mean()),
            "p_alive_mean": float(scores["p_alive"].mean()), "warnings": caught}


@dataclass(frozen=True)
class CalibrationFit:
    """The transaction model fitted on a calibration period: ``summary`` (``rfm_summary`` with
    the hold-out columns), ``calibration_end`` and ``as_of`` (the hold-out's end), the profile's
    ``timezone`` and the fit's ``warnings``."""

    model: object
    summary: pd.DataFrame
    calibration_end: date
    as_of: date
    timezone: str
    warnings: list


def calibration_fit(wh: Warehouse, *, holdout_weeks: float, as_of: date | None = None,
                    settings: CLVSettings | None = None) -> CalibrationFit:
    """Fit the transaction model on the purchases up to ``as_of - holdout_weeks`` (``as_of``
    default: the profile's date, else the latest order or event), keeping the hold-out's
    purchases in the summary for the checks of ``predict.btyd.checking``."""
    from jingzhun import pipeline
    from jingzhun.predict.rfm_summary import rfm_summary

    settings = settings or CLVSettings()
    if not holdout_weeks > 0:
        raise ConfigError(f"a holdout of {holdout_weeks} weeks: it must be more than 0",
                          hint="give e.g. --holdout-weeks 26")
    as_of, timezone = _date_and_zone(wh, as_of, pipeline._profile_meta(wh))
    calibration_end = as_of - timedelta(days=round(holdout_weeks * 7))
    summary = rfm_summary(wh.table("orders"), observation_end=as_of, unit="W", timezone=timezone,
                          calibration_end=calibration_end).to_pandas()
    if summary.empty:
        raise ConfigError(f"no purchases on or before the calibration end {calibration_end}",
                          hint="use a shorter --holdout-weeks")
    model, _, caught = fit_clv_models(summary, settings, with_spend=False)
    return CalibrationFit(model, summary, calibration_end, as_of, timezone, caught)


def check_clv(wh: Warehouse, *, holdout_weeks: float, as_of: date | None = None,
              settings: CLVSettings | None = None) -> dict:
    """Calibration-vs-holdout check of the transaction model: fit on the purchases up to
    ``as_of - holdout_weeks``, predict the holdout's repeat purchases, and compare per
    calibration frequency and per customer (MAE/RMSE against the naive rate baseline of
    ``predict.btyd.checking``). Writes nothing. Returns the table and the errors."""
    from jingzhun.predict.btyd.checking import calibration_holdout_table, customer_errors

    settings = settings or CLVSettings()
    fit = calibration_fit(wh, holdout_weeks=holdout_weeks, as_of=as_of, settings=settings)
    table = calibration_holdout_table(fit.model, fit.summary)
    errors = customer_errors(fit.model, fit.summary)
    return {"model": f"clv_{settings.model}", "calibration_end": str(fit.calibration_end),
            "observation_end": str(fit.as_of), "customers": len(fit.summary),
            "params": fit.model.params_,
            "by_frequency": table.reset_index().to_dict(orient="records"),
            "errors": errors.as_dict(),
            "warnings": fit.warnings}


def _date_and_zone(wh: Warehouse, as_of: date | None, meta: dict | None) -> tuple[date, str]:
    """``as_of`` (default: the profile's date, else the latest order or event) and the profile's
    time zone (UTC without a profile)."""
    from jingzhun import pipeline

    timezone = meta["timezone"] if meta else "UTC"
    as_of = as_of or (meta["as_of"] if meta else pipeline.latest_activity_date(wh, timezone))
    if as_of is None:
        raise ConfigError(f"the warehouse {wh.path} has no orders to predict from",
                          hint="ingest orders first (jz ingest ...)")
    return as_of, timezone


def current_clv_model(wh: Warehouse) -> str | None:
    """The model name of the latest CLV run (None before the first)."""
    if MODEL_FITS_TABLE not in wh.table_names():
        return None
    rows = wh.con.execute(f"SELECT model FROM {MODEL_FITS_TABLE} WHERE starts_with(model, 'clv_') "
                          "ORDER BY fitted_at DESC LIMIT 1").fetchall()
    return rows[0][0] if rows else None


def _write_predictions(wh: Warehouse, scores: pd.DataFrame, *, name: str, as_of: date,
                       settings: CLVSettings, run_id: str) -> None:
    rows = scores.assign(model=name, as_of=as_of, horizon_weeks=settings.horizon_weeks,
                         run_id=run_id)
    _create(wh, PREDICTIONS_TABLE, _PREDICTION_COLUMNS)
    wh.con.execute(f"DELETE FROM {PREDICTIONS_TABLE} WHERE model = ?", [name])
    _append(wh, PREDICTIONS_TABLE, _PREDICTION_COLUMNS, rows)


def _fit_row(model, name: str, as_of: date, settings: CLVSettings, caught: list[str],
             run_id: str) -> dict:
    return {"run_id": run_id, "model": name, "as_of": as_of,
            "fitted_at": datetime.now(UTC).replace(tzinfo=None),
            "customers": int(round(model.n_customers_)),
            "params": json.dumps(model.params_), "summary": model.summary().to_json(orient="index"),
            "log_likelihood": float(model.log_likelihood_), "settings": json.dumps(vars(settings)),
            "warnings": json.dumps(caught, ensure_ascii=False)}


def _fit_result(row: dict) -> dict:
    return {"model": row["model"], "customers": row["customers"], "params": json.loads(row["params"]),
            "summary": json.loads(row["summary"]), "log_likelihood": row["log_likelihood"]}


def _create(wh: Warehouse, table: str, columns: dict[str, str]) -> None:
    cols = ", ".join(f'"{c}" {t}' for c, t in columns.items())
    wh.con.execute(f'CREATE TABLE IF NOT EXISTS "{table}" ({cols})')


def _append(wh: Warehouse, table: str, columns: dict[str, str], rows: pd.DataFrame) -> None:
    _create(wh, table, columns)
    wh.con.register("_new_rows", rows[list(columns)])
    try:
        wh.con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM _new_rows')
    finally:
        wh.con.unregister("_new_rows")
