"""Churn dataset, model and backtest (predict/churn.py): labels from the purchases after as_of,
features that use nothing after it, a model that follows scikit-learn's conventions, metrics
that say when they are undefined, and on a simulated retailer with known dropout an AUC at least
the BTYD baseline's."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from jingzhun import pipeline
from jingzhun.errors import ConfigError, InputError, ModelError
from jingzhun.ingest.pseudonymise import load_secrets
from jingzhun.predict import churn
from jingzhun.simulate.retailer import TIMEZONE
from jingzhun.warehouse import Warehouse

#: The simulator's window is 2024-01-01 .. 2025-06-30 (local).
END = date(2025, 6, 30)
H = 90
T2 = END - timedelta(days=H)
T1 = T2 - timedelta(days=H)


@pytest.fixture(scope="module")
def retailer_db(tmp_path_factory):
    """A simulated retailer (4,000 customers), ingested (no profile needed): the warehouse, the
    raw data folder (with the truth) and the keys that pseudonymised its ids."""
    out = tmp_path_factory.mktemp("churn_retailer")
    secrets = load_secrets(out / "secret.key")
    db, _ = pipeline.simulate_and_ingest(out, n_customers=4000, seed=7, secrets=secrets)
    return db, out / "data", secrets


@pytest.fixture
def db(retailer_db, tmp_path):
    path = tmp_path / "w.duckdb"
    shutil.copy(retailer_db[0], path)
    return path


def _utc(local: datetime) -> datetime:
    """Naive UTC of a naive Asia/Shanghai wall-clock time (UTC+8, no DST)."""
    return local - timedelta(hours=8)


def test_labels_follow_the_window_and_features_use_nothing_after_as_of(db):
    with Warehouse(db) as wh:
        tables = pipeline._profile_inputs(wh)
        before = churn.churn_dataset(tables, as_of=T1, horizon_days=H, timezone=TIMEZONE)
        X, y = before.X, before.y
        assert X.index.is_unique and X.index.is_monotonic_increasing
        assert (X["orders"] > 0).all() and y.index.equals(X.index)
        assert set(churn.CATEGORICAL_FEATURES) <= set(X.columns)
        assert 0 < y.mean() < 1
        # the label by hand: any non-cancelled purchase on a local day in (T1, T1 + H]
        o = wh.con.execute("SELECT customer_id, ordered_at, status, total_amount FROM orders "
                           "WHERE customer_id IS NOT NULL").df()
        day = (o["ordered_at"] + pd.Timedelta(hours=8)).dt.date
        bought = set(o.loc[(day > T1) & (day <= T1 + timedelta(days=H))
                           & (o["status"] != "cancelled") & (o["total_amount"] >= 0),
                           "customer_id"])
        assert y.to_dict() == {c: int(c not in bought) for c in X.index}

        churner = y[y == 1].index[0]
        stayers = [c for c in y[y == 0].index
                   if wh.con.execute("SELECT count(*) FROM orders WHERE customer_id = ? AND "
                                     "status != 'cancelled' AND ordered_at > ?",
                                     [c, _utc(datetime(2025, 6, 29))]).fetchone()[0] == 0]
        stayer = stayers[0]
        after = datetime.combine(T1, datetime.min.time()) + timedelta(days=1, hours=9)
        # the churner buys on the first day after as_of; the stayer's purchases in the window
        # are cancelled; everyone gets events after as_of, and a late order changes its total
        wh.con.execute("INSERT INTO orders (order_id, customer_id, ordered_at, channel, status, "
                       "currency, total_amount, discount_amount, ingest_run_id) VALUES "
                       "('X1', ?, ?, 'app', 'completed', 'CNY', 99, 0, 'late')",
                       [churner, _utc(after)])
        wh.con.execute("INSERT INTO order_lines (order_id, line_no, product_id, quantity, "
                       "unit_price, discount, ingest_run_id) VALUES "
                       "('X1', 1, (SELECT min(product_id) FROM products), 1, 99, 0, 'late')")
        wh.con.execute("UPDATE orders SET status = 'cancelled' WHERE customer_id = ? AND "
                       "ordered_at > ?", [stayer, _utc(after - timedelta(hours=9))])
        wh.con.execute("INSERT INTO events (event_id, customer_id, occurred_at, type, product_id, "
                       "session_id, ingest_run_id) SELECT 'late-' || customer_id, customer_id, "
                       "?, 'view', 'P0001', 'late', 'late' FROM customers",
                       [_utc(after)])
        wh.con.execute("UPDATE orders SET total_amount = total_amount + 1000 WHERE ordered_at > ?",
                       [_utc(after + timedelta(days=5))])
        tables = pipeline._profile_inputs(wh)
        again = churn.churn_dataset(tables, as_of=T1, horizon_days=H, timezone=TIMEZONE)
    pd.testing.assert_frame_equal(again.X, X)
    changed = again.y[again.y != y]
    assert changed.to_dict() == {churner: 0, stayer: 1}


def test_backtest_on_a_simulated_retailer_with_known_dropout(retailer_db, db):
    """Trained as of T1 on labels in (T1, T2], tested as of T2 on labels in (T2, T2 + 90 days].

    The simulated purchases *are* BG/NBD (plus a small campaign), so BG/NBD's own P(no purchase
    in the horizon) is close to the best possible score and the model is only asked to come near
    it; the usual baseline ``1 - P(alive)`` ignores the purchase rate and holds every one-time
    buyer alive, and the model must beat it. The truth's dropout times and purchase rates give
    the ceiling: P(churn) = 1 for a customer dead at T2, else exp(-lambda * 90 days).
    """
    _, data, secrets = retailer_db
    with Warehouse(db) as wh:
        tables = pipeline._profile_inputs(wh)
        train = churn.churn_dataset(tables, as_of=T1, horizon_days=H, timezone=TIMEZONE)
        test = churn.churn_dataset(tables, as_of=T2, horizon_days=H, timezone=TIMEZONE)
        baselines = churn.btyd_churn_baselines(tables["orders"], as_of=T2, horizon_days=H,
                                               timezone=TIMEZONE)
    result, model = churn.backtest(train, test, baselines)
    m, alive, none = result.model, result.baseline, result.baseline_no_purchase
    assert m.status == alive.status == "ok" and m.n == test.n_customers

    truth = pd.read_csv(data / "truth_customers.csv")
    truth = truth[truth["is_buyer"]].assign(
        customer_id=lambda t: t["customer_id"].map(secrets.pseudonym)).set_index("customer_id")
    truth = truth.reindex(test.X.index)
    assert truth["lambda_per_week"].notna().all()
    dead = pd.to_datetime(truth["death_at"]) < pd.Timestamp(T2 + timedelta(days=1))
    oracle = np.where(dead, 1.0, np.exp(-truth["lambda_per_week"] * H / 7))
    ceiling = churn.evaluate(test.y, oracle).roc_auc

    summary = {k: round(v, 4) for k, v in dict(
        model=m.roc_auc, baseline=alive.roc_auc, baseline_no_purchase=none.roc_auc,
        oracle=ceiling).items()}
    logging.getLogger(__name__).info("ROC-AUC %s", summary)  # --log-cli-level=INFO shows it
    assert m.roc_auc >= alive.roc_auc + 0.2
    assert m.roc_auc >= none.roc_auc - 0.03
    assert m.roc_auc <= ceiling + 0.01
    assert m.brier < alive.brier and m.brier <= none.brier + 0.005
    # calibrated on average, and the riskiest decile churns more than the safest
    assert abs(np.mean([r["mean_predicted"] for r in m.calibration]) - m.base_rate) < 0.03
    assert m.lift[0]["churn_rate"] > m.lift[-1]["churn_rate"]
    assert m.lift[-1]["cumulative_capture"] == 1.0
    assert "recency_days" in list(result.feature_importance)[:5]
    json.dumps(result.as_dict())
    # a test window overlapping the training labels is refused
    with pytest.raises(ConfigError, match="inside the training"):
        churn.backtest(test, train, baselines)


def test_horizon_must_be_a_positive_whole_number(db):
    with Warehouse(db) as wh:
        for bad in (0, -5, 1.5):
            with pytest.raises(ConfigError, match="horizon"):
                churn.churn_dataset(pipeline._profile_inputs(wh), as_of=T1, horizon_days=bad)


def _toy(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"recency_days": rng.uniform(0, 300, n), "orders": rng.integers(1, 8, n),
                      "gender": rng.choice(["female", "male", None], n),
                      "lifecycle_stage": rng.choice(["active", "lost"], n)},
                     index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))
    logit = (X["recency_days"] - 150) / 40 + (X["lifecycle_stage"] == "lost")
    y = pd.Series((rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int), index=X.index)
    return X.astype({"orders": float}), y


@pytest.mark.parametrize("estimator", [None, "logistic"])
def test_model_follows_sklearn_conventions(estimator):
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LogisticRegression

    est = LogisticRegression(max_iter=1000) if estimator == "logistic" else None
    X, y = _toy()
    model = churn.ChurnModel(est, random_state=3)
    with pytest.raises(NotFittedError):
        model.predict_churn_prob(X)
    assert model.fit(X, y) is model
    p = model.predict_churn_prob(X)
    assert p.shape == (len(X),) and ((p >= 0) & (p <= 1)).all()
    np.testing.assert_allclose(model.predict_proba(X)[:, 1], p)
    assert churn.evaluate(y, p).roc_auc > 0.8
    # unseen category levels and column order do not matter; a refit is reproducible
    X2 = X.iloc[:, ::-1].assign(gender="unknown")
    assert np.isfinite(model.predict_churn_prob(X2)).all()
    np.testing.assert_allclose(clone(model).fit(X, y).predict_churn_prob(X), p)
    imp = model.feature_importances()
    assert set(imp.index) <= set(X.columns) and abs(imp.sum() - 1) < 1e-9
    if estimator is None:  # gain is comparable across columns; raw coefficients are not
        assert imp.index[0] == "recency_days"


def test_degenerate_data_is_an_error_or_an_explicit_status():
    X, y = _toy()
    with pytest.raises(ModelError, match="only the class"):
        churn.ChurnModel().fit(X, np.ones(len(X)))
    with pytest.raises(InputError):
        churn.ChurnModel().fit(X.iloc[:0], y.iloc[:0])
    m = churn.evaluate(np.ones(20), np.linspace(0, 1, 20))
    assert m.status == "single_class" and m.roc_auc is None and m.pr_auc is None
    assert m.lift[0]["lift"] == 1.0 and m.brier > 0
    json.dumps(m.as_dict())
    with pytest.raises(InputError):
        churn.evaluate([0, 1], [0.5, 1.5])


def test_metrics_tables():
    y = np.array([0] * 50 + [1] * 50)
    p = np.linspace(0.01, 0.99, 100)  # perfectly ranked
    m = churn.evaluate(y, p)
    assert m.status == "ok" and m.roc_auc == 1.0 and m.pr_auc == pytest.approx(1.0)
    assert [r["n"] for r in m.lift] == [10] * 10
    assert [r["lift"] for r in m.lift[:5]] == [2.0] * 5 and m.lift[5]["lift"] == 0.0
    assert m.lift[4]["cumulative_capture"] == 1.0
    assert [r["observed_rate"] for r in m.calibration] == [0.0] * 5 + [1.0] * 5
    assert m.brier == pytest.approx(np.mean((p - y) ** 2))
    small = churn.evaluate([0, 1, 1], [0.1, 0.5, 0.9])
    assert len(small.lift) == 3


def test_the_roc_curve_kept_for_the_report_has_the_auc_as_its_area():
    rng = np.random.default_rng(4)
    y = rng.random(5000) < 0.3
    p = np.clip(0.3 + 0.2 * (y - 0.3) + rng.normal(0, 0.2, y.size), 0, 1)
    m = churn.evaluate(y, p, max_roc_points=201)
    fpr, tpr = np.array(m.roc_curve["fpr"]), np.array(m.roc_curve["tpr"])
    assert len(fpr) <= 201 and (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert np.trapezoid(tpr, fpr) == pytest.approx(m.roc_auc, abs=0.01)
    assert churn.evaluate(np.ones(20), np.linspace(0, 1, 20)).roc_curve == {}
