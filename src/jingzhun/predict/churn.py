"""Churn: will a buyer make no purchase in the next ``horizon_days``? Dataset, model, backtest.

Definitions (all pure functions of the canonical tables and an explicit ``as_of``):

* **Population.** Customers with at least one purchase on or before ``as_of`` (a local date in
  the profile's time zone). A purchase is the profile's rule (``profile.state.classify_orders``):
  an order with a customer, a status other than ``cancelled`` and ``total_amount >= 0``.
* **Label.** ``churned = 1`` when the customer has no purchase on a local day in
  ``(as_of, as_of + horizon_days]``, else 0. Labels need that window to be fully observed; the
  caller (``pipeline_churn``) checks the data reach its end.
* **Features.** The customer profile as of ``as_of`` (``profile.build.build``), which reads only
  rows dated on or before ``as_of``: its numeric columns, the low-cardinality categorical ones of
  ``CATEGORICAL_FEATURES`` (high-cardinality ``city`` and ``top_brand`` are left out), and three
  ratios trees find hard to form themselves (``DERIVED_FEATURES``). Timestamps become ages in days
  before the end of ``as_of``.
* **Model.** ``ChurnModel`` wraps a LightGBM classifier (default) or any scikit-learn classifier.
* **Backtest.** ``evaluate`` scores predicted churn probabilities against observed labels:
  ROC-AUC, PR-AUC (average precision), Brier score, a calibration table (deciles of predicted
  probability) and lift by decile of predicted risk. ``btyd_churn_baselines`` gives the baseline
  ``1 - P(alive)`` of a BG/NBD fitted on the purchases up to the scoring date (weeks), and the
  same model's P(no purchase within the horizon), a stronger, horizon-aware baseline.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

import ibis
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from jingzhun.errors import ConfigError, InputError, ModelError
from jingzhun.predict._lightgbm import lightgbm_safe
from jingzhun.predict.curves import thin_curve

log = logging.getLogger(__name__)

#: Profile columns used as categories (low cardinality).
CATEGORICAL_FEATURES = ("lifecycle_stage", "top_category", "preferred_channel", "gender",
                        "age_band")
#: Profile columns never used as features: keys, dates, and high-cardinality labels.
_EXCLUDED = ("customer_id", "as_of", "first_order_at", "last_order_at", "city", "province",
             "top_brand", "last_event_at", "signup_at")
#: Features computed from profile columns: days since the last event and since sign-up (ages in
#: days before the end of ``as_of``), recency over the expected gap, purchase days per 30 days of
#: tenure, and the days from the first to the last purchase (BTYD's recency).
DERIVED_FEATURES = ("days_since_last_event", "days_since_signup", "recency_gap_ratio",
                    "purchase_days_per_30d", "active_span_days")
#: Default LightGBM settings: small trees and shrinkage for a few thousand rows; one thread
#: (OpenMP threads spin against each other on a busy machine: 2 threads were 100x slower here).
#: Chosen on two simulated retailers (4,000 customers): shallow, strongly regularised trees
#: beat the LightGBM defaults by ~0.015 AUC on the noisy 90-day label.
LGBM_DEFAULTS = dict(n_estimators=300, learning_rate=0.02, num_leaves=4, min_child_samples=100,
                     subsample=0.8, subsample_freq=1, colsample_bytree=0.8, reg_lambda=10.0,
                     verbose=-1, n_jobs=1)


# -- dataset -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChurnDataset:
    """Features (and labels) of the buyers as of ``as_of``: one row per customer.

    ``X`` is indexed by ``customer_id``; ``y`` (1 = churned: no purchase in ``(as_of, as_of +
    horizon_days]``) is aligned with it, or None when built without labels.
    """

    as_of: date
    horizon_days: int
    X: pd.DataFrame
    y: pd.Series | None = None

    @property
    def n_customers(self) -> int:
        """Number of customers (rows)."""
        return len(self.X)


def churn_features(profile: pd.DataFrame, *, as_of: date) -> pd.DataFrame:
    """The model's features from a profile (``profile.derive.PROFILE_COLUMNS``) as of ``as_of``.

    Only buyers (``orders > 0``) are kept. Returns a DataFrame indexed by ``customer_id``, sorted,
    numeric columns as float64 (days, counts, amounts in the orders' currency, shares in [0, 1])
    and ``CATEGORICAL_FEATURES`` as strings (missing as None).
    """
    missing = [c for c in ("customer_id", "orders", *CATEGORICAL_FEATURES) if c not in profile]
    if missing:
        raise InputError(f"the profile lacks the columns {missing}",
                         hint="build it with jingzhun.profile.build.build")
    p = profile[profile["orders"].fillna(0) > 0].sort_values("customer_id")
    p = p.set_index("customer_id")
    end = pd.Timestamp(as_of + timedelta(days=1))

    def age_days(col: str) -> pd.Series:
        return (end - pd.to_datetime(p[col])).dt.total_seconds() / 86400.0

    X = pd.DataFrame(index=p.index)
    for col in p.columns:
        if col in _EXCLUDED or col in CATEGORICAL_FEATURES:
            continue
        X[col] = pd.to_numeric(p[col], errors="coerce").astype("float64")
    X["days_since_last_event"] = age_days("last_event_at")
    X["days_since_signup"] = age_days("signup_at")
    X["recency_gap_ratio"] = X["recency_days"] / X["expected_gap_days"].where(
        X["expected_gap_days"] > 0)
    X["purchase_days_per_30d"] = 30.0 * X["purchase_days"] / (X["tenure_days"] + 1.0)
    X["active_span_days"] = X["tenure_days"] - X["recency_days"]
    for col in CATEGORICAL_FEATURES:
        X[col] = p[col].astype(object).where(p[col].notna(), None)
    return X


def purchasers_in_window(orders: ibis.Table, *, start: date, horizon_days: int,
                         timezone: str = "UTC") -> ibis.Table:
    """Customers with a purchase on a local day in ``(start, start + horizon_days]``: one row
    (``customer_id``) per customer."""
    from jingzhun.profile._portable import backend_name
    from jingzhun.profile.state import classify_orders, epoch_day

    o = classify_orders(orders, timezone, backend_name(orders))
    first, last = epoch_day(start) + 1, epoch_day(start) + horizon_days
    return o.filter(o.is_purchase & (o.day >= first) & (o.day <= last)).select(
        "customer_id").distinct()


def churn_labels(orders: ibis.Table, customer_ids: pd.Index, *, as_of: date, horizon_days: int,
                 timezone: str = "UTC") -> pd.Series:
    """1 for each of ``customer_ids`` without a purchase in ``(as_of, as_of + horizon_days]``,
    else 0 (int8, indexed like ``customer_ids``)."""
    bought = set(purchasers_in_window(orders, start=as_of, horizon_days=horizon_days,
                                      timezone=timezone).to_pandas()["customer_id"])
    y = np.fromiter((cid not in bought for cid in customer_ids), dtype=np.int8,
                    count=len(customer_ids))
    return pd.Series(y, index=customer_ids, name="churned")


def churn_dataset(tables: dict[str, ibis.Table], *, as_of: date, horizon_days: int = 90,
                  timezone: str = "UTC", lifecycle=None, with_labels: bool = True) -> ChurnDataset:
    """Features of every buyer as of ``as_of`` and (``with_labels``) their churn labels.

    Parameters
    ----------
    tables : dict of name -> Ibis table
        The canonical tables of ``profile.build.INPUT_TABLES``.
    as_of : date
        Feature date (local, in ``timezone``); features use only rows dated on or before it.
    horizon_days : int, default 90
        Label window length in days after ``as_of``.
    timezone : str, default "UTC"
        IANA time zone of the local dates (the profile's).
    lifecycle : profile.lifecycle.LifecycleConfig, optional
        Lifecycle-stage settings passed to the profile.
    with_labels : bool, default True
        Whether to compute ``y`` (needs orders up to ``as_of + horizon_days``).
    """
    from jingzhun.profile.build import build

    horizon_days = check_horizon(horizon_days)
    profile = build(tables, as_of=as_of, timezone=timezone, lifecycle=lifecycle).profile
    X = churn_features(profile.to_pandas(), as_of=as_of)
    y = (churn_labels(tables["orders"], X.index, as_of=as_of, horizon_days=horizon_days,
                      timezone=timezone) if with_labels else None)
    return ChurnDataset(as_of=as_of, horizon_days=horizon_days, X=X, y=y)


def check_horizon(horizon_days) -> int:
    """``horizon_days`` as an int, or a ``ConfigError`` unless it is a whole number above 0."""
    if not (isinstance(horizon_days, int | np.integer) and horizon_days > 0):
        raise ConfigError(f"a churn horizon of {horizon_days!r} days: it must be a whole number "
                          "of days above 0", hint="give e.g. --horizon-days 90")
    return int(horizon_days)


# -- model ---------------------------------------------------------------------------------------
def _is_lightgbm(estimator) -> bool:
    return type(estimator).__module__.startswith("lightgbm")


class ChurnModel(ClassifierMixin, BaseEstimator):
    """Probability that a buyer churns (makes no purchase) within the horizon of its labels.

    Parameters
    ----------
    estimator : scikit-learn classifier, optional
        Default: ``lightgbm.LGBMClassifier(**LGBM_DEFAULTS)``. LightGBM gets categorical
        columns as pandas categories (levels learned at fit; unseen levels become missing); any
        other classifier gets them one-hot encoded, and numbers centred on the training median
        (which also fills missing values, flagged in a ``<col>_missing`` indicator) and divided
        by their standard deviation, so that linear models converge.
    random_state : int, default 0
        Seed passed to the estimator (when it has ``random_state``).

    Attributes
    ----------
    estimator_ : fitted classifier
    feature_names_in_ : ndarray of str
        The input columns seen at fit.
    categories_ : dict of str -> list of str
        Levels of each categorical column seen at fit.
    """

    def __init__(self, estimator=None, random_state: int = 0):
        self.estimator = estimator
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y) -> ChurnModel:
        """Fit on features ``X`` (``churn_features``) and labels ``y`` (1 = churned)."""
        X = self._check_frame(X)
        y = np.asarray(y).astype(int).ravel()
        if len(y) != len(X):
            raise InputError(f"{len(X)} feature rows but {len(y)} labels")
        classes = np.unique(y)
        if not np.array_equal(classes, [0, 1]):
            raise ModelError(f"churn labels hold only the class(es) {classes.tolist()} "
                             f"among {len(y)} customers: no model can be fitted",
                             hint="use a longer horizon or an earlier as-of date")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.categorical_ = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        self.categories_ = {c: sorted(X[c].dropna().astype(str).unique()) for c in self.categorical_}
        if self.estimator is None:
            from lightgbm import LGBMClassifier

            est = LGBMClassifier(**LGBM_DEFAULTS)
        else:
            est = clone(self.estimator)
        if "random_state" in est.get_params():
            est.set_params(random_state=self.random_state)
        self._lightgbm = _is_lightgbm(est)
        if not self._lightgbm:
            num = X.drop(columns=self.categorical_).astype(float)
            self.medians_ = num.median().fillna(0.0)
            filled = num.fillna(self.medians_)
            self.scales_ = filled.std().where(lambda sd: sd > 0, 1.0).fillna(1.0)
        encoded, self._origin_ = self._encode(X)
        self.encoded_columns_ = list(encoded.columns)
        self.estimator_ = est.fit(encoded, y)
        self.classes_ = np.array([0, 1])
        return self

    def predict_churn_prob(self, X: pd.DataFrame) -> np.ndarray:
        """Churn probability per row of ``X`` (shape ``(n,)``), for the horizon of the labels
        the model was fitted on."""
        check_is_fitted(self, "estimator_")
        X = self._check_frame(X)
        absent = [c for c in self.feature_names_in_ if c not in X.columns]
        if absent:
            raise InputError(f"the features lack the columns {absent} seen at fit")
        proba = self.estimator_.predict_proba(self._encode(X[list(self.feature_names_in_)])[0])
        return np.asarray(proba[:, list(self.estimator_.classes_).index(1)], dtype=float)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """``[P(stay), P(churn)]`` per row (shape ``(n, 2)``)."""
        p = self.predict_churn_prob(X)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 where the churn probability is at least 0.5."""
        return (self.predict_churn_prob(X) >= 0.5).astype(int)

    def feature_importances(self) -> pd.Series:
        """Importance per input column, summing to 1, largest first: LightGBM's total gain, else
        the estimator's ``feature_importances_`` or absolute ``coef_`` (one-hot columns summed
        back to their input column); empty when the estimator has neither."""
        check_is_fitted(self, "estimator_")
        est = self.estimator_
        if self._lightgbm:
            raw = est.booster_.feature_importance(importance_type="gain")
        elif hasattr(est, "feature_importances_"):
            raw = est.feature_importances_
        elif hasattr(est, "coef_"):
            raw = np.abs(np.ravel(est.coef_))
        else:
            return pd.Series(dtype=float, name="importance")
        imp = pd.Series(np.asarray(raw, dtype=float), index=self.encoded_columns_)
        imp = imp.groupby(self._origin_).sum()
        total = imp.sum()
        imp = imp / total if total > 0 else imp
        return imp.sort_values(ascending=False).rename("importance")

    # -- encoding --------------------------------------------------------------------------------
    def _check_frame(self, X) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise InputError(f"churn features must be a pandas DataFrame, got {type(X).__name__}",
                             hint="build them with jingzhun.predict.churn.churn_features")
        if X.empty:
            raise InputError("no rows to fit or score", hint="check the as-of date")
        return X

    def _encode(self, X: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
        """The estimator's input and, per its column, the input column it comes from."""
        X = X.copy()
        if self._lightgbm:
            for c in self.categorical_:
                known = X[c].astype(object).isin(self.categories_[c])
                X[c] = pd.Categorical(X[c].astype(object).where(known, None),
                                      categories=self.categories_[c])
            origin = list(X.columns)
        else:
            parts, origin = [], []
            for c in X.columns:
                if c in self.categorical_:
                    for level in self.categories_[c]:
                        parts.append((X[c].astype(str) == level).astype(float).rename(
                            f"{c}={level}"))
                        origin.append(c)
                else:
                    col = X[c].astype(float)
                    parts.append(((col.fillna(self.medians_[c]) - self.medians_[c])
                                  / self.scales_[c]).rename(c))
                    parts.append(col.isna().astype(float).rename(f"{c}_missing"))
                    origin += [c, c]
            X = pd.concat(parts, axis=1)
        return lightgbm_safe(X), origin


# -- evaluation ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChurnMetrics:
    """How well churn probabilities rank and match observed churn.

    ``status`` is ``"ok"``, or ``"single_class"`` when the labels hold one class only: then
    ``roc_auc``, ``pr_auc`` and ``lift`` ratios are None (undefined), never 0. ``base_rate`` is
    the observed churn share; ``brier`` the mean squared error of the probabilities.
    ``calibration``: per decile of predicted probability (1 = lowest), ``n``, ``mean_predicted``,
    ``observed_rate``. ``lift``: per decile of predicted risk (1 = highest), ``n``,
    ``churn_rate``, ``lift`` (= churn_rate / base_rate) and ``cumulative_capture`` (share of all
    churners in deciles 1..k). ``roc_curve``: ``fpr`` and ``tpr`` lists of the ROC curve, at
    most ``max_roc_points`` points (empty when single-class).
    """

    status: str
    n: int
    churners: int
    base_rate: float
    roc_auc: float | None
    pr_auc: float | None
    brier: float
    calibration: tuple[dict, ...] = field(default=())
    lift: tuple[dict, ...] = field(default=())
    roc_curve: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Plain, JSON-serialisable dict."""
        d = asdict(self)
        d["calibration"], d["lift"] = list(self.calibration), list(self.lift)
        return d


def evaluate(y_true, churn_prob, *, bins: int = 10, max_roc_points: int = 201) -> ChurnMetrics:
    """Metrics of churn probabilities ``churn_prob`` (shape ``(n,)``, in [0, 1]) against
    observed labels ``y_true`` (1 = churned). ``bins`` quantile groups (fewer when there are
    fewer customers); the ROC curve thinned to ``max_roc_points`` evenly spaced thresholds (the
    first and last kept), for drawing."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score, roc_curve

    y = np.asarray(y_true).astype(int).ravel()
    p = np.asarray(churn_prob, dtype=float).ravel()
    if len(y) != len(p) or len(y) == 0:
        raise InputError(f"{len(y)} labels and {len(p)} probabilities: they must match and be "
                         "more than 0")
    if not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
        raise InputError("churn probabilities must be finite and in [0, 1]")
    churners = int(y.sum())
    single = churners in (0, len(y))
    bins = max(1, min(int(bins), len(y)))
    return ChurnMetrics(
        status="single_class" if single else "ok", n=len(y), churners=churners,
        base_rate=churners / len(y),
        roc_auc=None if single else float(roc_auc_score(y, p)),
        pr_auc=None if single else float(average_precision_score(y, p)),
        brier=float(brier_score_loss(y, p, labels=[0, 1])),
        calibration=_calibration(y, p, bins), lift=_lift(y, p, bins, churners),
        roc_curve={} if single else _roc_points(*roc_curve(y, p)[:2], max_roc_points))


def _roc_points(fpr: np.ndarray, tpr: np.ndarray, max_points: int) -> dict:
    fpr, tpr = thin_curve(fpr, tpr, max_points)
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist()}


def _groups(p: np.ndarray, bins: int, descending: bool) -> np.ndarray:
    """0-based equal-count group of each row by rank of ``p`` (ties split by position, so groups
    stay equal-sized; order is stable)."""
    order = np.argsort(-p if descending else p, kind="stable")
    groups = np.empty(len(p), dtype=int)
    groups[order] = np.arange(len(p)) * bins // len(p)
    return groups


def risk_deciles(churn_prob, bins: int = 10) -> np.ndarray:
    """Equal-count risk group of each probability, 1 = the riskiest (``bins`` groups, fewer when
    there are fewer rows; ties are split by position)."""
    p = np.asarray(churn_prob, dtype=float).ravel()
    return _groups(p, max(1, min(int(bins), len(p))), descending=True) + 1


def _calibration(y: np.ndarray, p: np.ndarray, bins: int) -> tuple[dict, ...]:
    g = _groups(p, bins, descending=False)
    return tuple({"decile": k + 1, "n": int((g == k).sum()),
                  "mean_predicted": float(p[g == k].mean()),
                  "observed_rate": float(y[g == k].mean())} for k in range(bins))


def _lift(y: np.ndarray, p: np.ndarray, bins: int, churners: int) -> tuple[dict, ...]:
    g = _groups(p, bins, descending=True)
    base = churners / len(y)
    rows, captured = [], 0
    for k in range(bins):
        yk = y[g == k]
        captured += int(yk.sum())
        rows.append({"decile": k + 1, "n": len(yk), "churn_rate": float(yk.mean()),
                     "lift": float(yk.mean() / base) if base > 0 else None,
                     "cumulative_capture": captured / churners if churners else None})
    return tuple(rows)


# -- BTYD baselines ------------------------------------------------------------------------------
#: Baseline columns of ``btyd_churn_baselines``.
BASELINES = ("btyd_1_minus_p_alive", "btyd_p_no_purchase")


def btyd_churn_baselines(orders: ibis.Table, *, as_of: date, horizon_days: int,
                         timezone: str = "UTC") -> pd.DataFrame:
    """BTYD churn scores per buyer as of ``as_of``, from a BG/NBD fitted on the purchases up to
    ``as_of`` (``predict.rfm_summary`` in weeks). Indexed by ``customer_id``, sorted.

    Columns: ``btyd_1_minus_p_alive`` = 1 - P(alive), the usual baseline, blind to the horizon
    (a customer alive now may still not buy within it, and BG/NBD holds every one-time buyer
    alive); ``btyd_p_no_purchase`` = P(no repeat purchase in the next ``horizon_days``), the
    model's own answer to the churn question.
    """
    from jingzhun.predict.btyd import BetaGeoModel
    from jingzhun.predict.rfm_summary import rfm_summary

    s = rfm_summary(orders, observation_end=as_of, unit="W", timezone=timezone).to_pandas()
    if s.empty:
        raise ConfigError(f"no purchases on or before {as_of} for the BG/NBD baseline",
                          hint="choose a later as-of date")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = BetaGeoModel().fit(s["frequency"], s["recency"], s["T"])
    for w in caught:
        log.warning("BG/NBD baseline as of %s: %s", as_of, w.message)
    x, t_x, age = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    alive = np.asarray(model.probability_alive(x, t_x, age), dtype=float)
    none = np.asarray(model.probability_of_purchases(0, horizon_days / 7.0, x, t_x, age),
                      dtype=float)
    return pd.DataFrame({"btyd_1_minus_p_alive": np.clip(1.0 - alive, 0.0, 1.0),
                         "btyd_p_no_purchase": np.clip(none, 0.0, 1.0)},
                        index=pd.Index(s["customer_id"].to_numpy(), name="customer_id")
                        ).sort_index()


# -- backtest ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChurnBacktest:
    """A time-based backtest: trained as of ``train_as_of`` (labels up to ``test_as_of``),
    tested as of ``test_as_of``; metrics on the same customers of the ``model``, of the
    ``baseline`` (BTYD ``1 - P(alive)``) and of ``baseline_no_purchase`` (BG/NBD's P(no purchase
    in the horizon)); ``feature_importance`` of the trained model (input column -> share)."""

    train_as_of: date
    test_as_of: date
    horizon_days: int
    train_customers: int
    train_churn_rate: float
    model: ChurnMetrics
    baseline: ChurnMetrics
    baseline_no_purchase: ChurnMetrics
    feature_importance: dict

    def as_dict(self) -> dict:
        """Plain, JSON-serialisable dict (dates as ISO strings)."""
        return {"train_as_of": str(self.train_as_of), "test_as_of": str(self.test_as_of),
                "horizon_days": self.horizon_days, "train_customers": self.train_customers,
                "train_churn_rate": self.train_churn_rate, "model": self.model.as_dict(),
                "baseline": self.baseline.as_dict(),
                "baseline_no_purchase": self.baseline_no_purchase.as_dict(),
                "feature_importance": dict(self.feature_importance)}


def backtest(train: ChurnDataset, test: ChurnDataset, baselines: pd.DataFrame, *,
             model: ChurnModel | None = None, bins: int = 10) -> tuple[ChurnBacktest, ChurnModel]:
    """Fit ``model`` (default ``ChurnModel()``) on ``train``, score ``test``, and compare with
    ``baselines`` (``btyd_churn_baselines`` as of ``test.as_of``).

    The test's label window must start where the training labels end or later (no overlap):
    ``test.as_of >= train.as_of + train.horizon_days``. Returns the backtest and the fitted model.
    """
    if train.y is None or test.y is None:
        raise ConfigError("a backtest needs labelled datasets", hint="build with with_labels=True")
    if test.as_of < train.as_of + timedelta(days=train.horizon_days):
        raise ConfigError(f"the test date {test.as_of} is inside the training labels' window "
                          f"({train.as_of}, {train.as_of + timedelta(days=train.horizon_days)}]",
                          hint="test on an as-of date at least one horizon after training")
    fitted = clone(model) if model is not None else ChurnModel()
    fitted.fit(train.X, train.y)
    prob = fitted.predict_churn_prob(test.X)
    base = baselines.reindex(test.X.index)[list(BASELINES)]
    if base.isna().any().any():
        raise ModelError(f"the BTYD baselines lack {int(base.isna().any(axis=1).sum())} of the "
                         "test's customers", hint="compute them on the same orders and as-of date")
    result = ChurnBacktest(
        train_as_of=train.as_of, test_as_of=test.as_of, horizon_days=test.horizon_days,
        train_customers=train.n_customers, train_churn_rate=float(train.y.mean()),
        model=evaluate(test.y, prob, bins=bins),
        baseline=evaluate(test.y, base["btyd_1_minus_p_alive"], bins=bins),
        baseline_no_purchase=evaluate(test.y, base["btyd_p_no_purchase"], bins=bins),
        feature_importance={k: float(v) for k, v in fitted.feature_importances().items()})
    return result, fitted
