"""Lookalike score for an ``acquire`` campaign: prospects who resemble the best customers.

Prospects (registered, never purchased) have no purchase history, so they can be compared with
buyers only on what a prospect also has: demographics, where they live, how they came, how long
ago they registered and how they browse. ``LookalikeModel`` takes the existing buyers, calls the
top ``seed_share`` of them by value (CLV or net spend) the *seeds*, and trains a classifier to tell
seeds from the other buyers on those prospect-available features only. The score of a prospect is
the classifier's P(seed | features): a **similarity score**, not a purchase probability. It says
how much the prospect looks like a high-value buyer, given that they buy; nothing in the training
data says whether a prospect will buy at all. Its base rate is about ``seed_share`` (a score of
0.2 with seed_share 0.2 means "as seed-like as the average buyer"); rank prospects by it, or
compare it with ``seed_share``.

Anything computed from orders (orders, monetary_*, recency/tenure, top purchased category, CLV,
...) is excluded from the default features: prospects have none of it, and a model using it would
learn "has bought" instead of "looks like a good buyer". ``auc_`` (out-of-fold ROC-AUC of seeds vs
the other buyers, 3 folds) says how separable seeds are on these features: near 0.5 means the
score carries little information.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import date, datetime

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from jingzhun.errors import ConfigError, InputError, ModelError
from jingzhun.predict._lightgbm import lightgbm_safe

log = logging.getLogger(__name__)

#: Features a registered-but-never-bought customer has (used when present; see ``lookalike_features``).
DEFAULT_FEATURES = (
    "gender", "age_band", "city", "province", "acquisition_channel", "days_since_signup",
    "views_30d", "views_90d", "carts_30d", "carts_90d", "searches_30d", "searches_90d",
    "top_viewed_category",
)
#: Profile columns computed from orders: never a default feature (prospects lack them).
ORDER_DERIVED = (
    "orders", "repeat_orders", "purchase_days", "cancelled_orders", "items", "items_returned",
    "monetary_gross", "returns_amount", "monetary_net", "avg_order_value", "max_order_value",
    "discount_amount", "return_rate", "first_order_at", "last_order_at", "recency_days",
    "tenure_days", "ipt_mean_days", "ipt_median_days", "ipt_cv", "preferred_weekday",
    "preferred_hour", "top_category", "top_category_share", "top_brand", "top_brand_share",
    "category_count", "category_entropy", "new_product_share", "discount_order_share",
    "discount_depth_mean", "price_index", "preferred_channel", "cart_abandonment_rate_90d",
    "lifecycle_stage", "expected_gap_days", "clv",
)
MIN_SEEDS = 10  # fewest seeds (and fewest other buyers) a model is fitted on
_PROFILE_FEATURES = ("gender", "age_band", "city", "province", "views_30d", "views_90d",
                     "carts_30d", "carts_90d", "searches_30d", "searches_90d",
                     "top_viewed_category")


def lookalike_features(profile: pd.DataFrame, customers: pd.DataFrame | None = None, *,
                       as_of: date | datetime | str) -> pd.DataFrame:
    """The prospect-available features of customers, from ``customer_profile`` rows.

    Parameters
    ----------
    profile : DataFrame
        ``customer_profile`` rows: ``customer_id`` and whichever of gender, age_band, city,
        province, signup_at, views/carts/searches_30d/90d, top_viewed_category it has.
    customers : DataFrame, optional
        The ``customers`` table; its ``acquisition_channel`` is joined by ``customer_id``.
    as_of : date, datetime or str
        Date the features refer to; ``days_since_signup`` = as_of - signup_at in days (float,
        NaN without a signup time; a tz-aware signup_at is compared in UTC).

    Returns
    -------
    DataFrame
        One row per profile row, indexed by ``customer_id``, with the columns of
        ``DEFAULT_FEATURES`` that could be built. No order-derived column is included.
    """
    if "customer_id" not in profile.columns:
        raise InputError("profile lacks column customer_id", hint="pass customer_profile rows")
    if profile["customer_id"].duplicated().any():
        raise InputError("profile has duplicate customer_id values",
                         hint="pass one customer_profile row per customer (one as_of)")
    out = profile[["customer_id"] + [c for c in _PROFILE_FEATURES if c in profile.columns]].copy()
    if "signup_at" in profile.columns:
        signup = pd.to_datetime(profile["signup_at"])
        if getattr(signup.dt, "tz", None) is not None:
            signup = signup.dt.tz_convert("UTC").dt.tz_localize(None)
        ref = pd.Timestamp(as_of)
        ref = ref.tz_convert("UTC").tz_localize(None) if ref.tzinfo is not None else ref
        if isinstance(as_of, date) and not isinstance(as_of, datetime):
            ref = ref + pd.Timedelta(days=1)  # the end of the as_of day
        out["days_since_signup"] = ((ref - signup).dt.total_seconds() / 86400.0).to_numpy()
    if customers is not None:
        if not {"customer_id", "acquisition_channel"} <= set(customers.columns):
            raise InputError("customers lacks customer_id or acquisition_channel",
                             hint="pass the canonical customers table")
        ch = customers.drop_duplicates("customer_id").set_index("customer_id")
        out["acquisition_channel"] = out["customer_id"].map(ch["acquisition_channel"])
    out = out.set_index("customer_id")
    return out[[c for c in DEFAULT_FEATURES if c in out.columns]]


def _is_categorical(s: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s))


class LookalikeModel(BaseEstimator):
    """Similarity of prospects to the highest-value buyers (seeds vs other buyers classifier).

    Parameters
    ----------
    features : sequence of str, optional
        Feature columns. Default: those of ``DEFAULT_FEATURES`` present in the data given to
        ``fit`` (nothing computed from orders).
    seed_share : float, default 0.2
        Share of buyers, top by value, that are seeds (0 < seed_share < 1).
    estimator : classifier, optional
        A scikit-learn classifier with ``predict_proba`` that accepts pandas categorical columns
        (e.g. ``HistGradientBoostingClassifier(categorical_features="from_dtype")``); cloned.
        Default: LightGBM with one thread and small trees (15 leaves, 200 trees, learning
        rate 0.05, at least 20 customers a leaf).
    random_state : int, default 0
        Seed of the default estimator and of the folds behind ``auc_``.

    Attributes
    ----------
    features_ : list of str
        The feature columns used.
    n_seeds_ : int
        Number of seeds.
    seed_threshold_ : float
        The value cut: the lowest value among the seeds (currency of ``value``). Seeds are
        exactly the top ``ceil(seed_share x buyers)`` by value; ties at the cut are broken by row
        order.
    auc_ : float
        Out-of-fold ROC-AUC of seeds vs the other buyers (3 stratified folds); NaN when not
        computable.
    categories_ : dict
        The categories of each categorical feature, as seen in ``fit`` (unknown ones score as
        missing).
    estimator_ : classifier
        The classifier fitted on all buyers.
    """

    def __init__(self, *, features: Sequence[str] | None = None, seed_share: float = 0.2,
                 estimator=None, random_state: int = 0):
        self.features = features
        self.seed_share = seed_share
        self.estimator = estimator
        self.random_state = random_state

    def _base_estimator(self):
        if self.estimator is not None:
            return clone(self.estimator)
        from lightgbm import LGBMClassifier
        return LGBMClassifier(n_estimators=200, learning_rate=0.05, num_leaves=15,
                              min_child_samples=20, n_jobs=1, random_state=self.random_state,
                              verbose=-1)

    def _matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.features_ if c not in frame.columns]
        if missing:
            raise InputError(f"customers lack feature column(s) {missing}",
                             hint="build both buyers' and prospects' features with "
                                  "lookalike_features")
        x = pd.DataFrame(index=frame.index)
        for c in self.features_:
            if c in self.categories_:
                v = frame[c].astype(object)
                v = v.where(v.notna() & v.isin(self.categories_[c]))  # unknown -> missing
                x[c] = pd.Categorical(v, categories=self.categories_[c])
            else:
                x[c] = pd.to_numeric(frame[c], errors="coerce").astype(float)
        return lightgbm_safe(x)

    def fit(self, customers: pd.DataFrame, value: pd.Series) -> LookalikeModel:
        """Learn what distinguishes the top ``seed_share`` of buyers by value.

        Parameters
        ----------
        customers : DataFrame
            One row per existing buyer with the feature columns (see ``lookalike_features``).
        value : Series
            Each buyer's value (CLV or net spend, currency), with the same index as
            ``customers``. Buyers with a missing value are left out.

        Returns
        -------
        LookalikeModel
            self, fitted.
        """
        if not 0 < float(self.seed_share) < 1:
            raise ConfigError(f"seed_share must be between 0 and 1, got {self.seed_share}",
                              hint="e.g. 0.2 for the top 20% of buyers by value")
        if not isinstance(value, pd.Series) or len(value) != len(customers) or \
                not value.index.sort_values().equals(customers.index.sort_values()) or \
                value.index.has_duplicates:
            raise InputError("value is not aligned with customers: it needs one value per "
                             "customer row, with the same index",
                             hint="pass value=profile.set_index('customer_id').loc["
                                  "customers.index, 'clv'] or similar")
        value = pd.to_numeric(value.reindex(customers.index), errors="coerce")
        keep = value.notna().to_numpy()
        if not keep.all():
            log.info("lookalike: %d buyers without a value left out", int((~keep).sum()))
        customers, value = customers[keep], value[keep]
        if self.features is None:
            feats = [c for c in DEFAULT_FEATURES if c in customers.columns]
        else:
            feats = list(self.features)
            used = sorted(set(feats) & set(ORDER_DERIVED))
            if used:
                log.warning("lookalike features %s are computed from orders: prospects have "
                            "none of them", used)
        if not feats:
            raise InputError("no lookalike feature columns in customers",
                             hint="build them with lookalike_features or pass features=")
        self.features_ = feats
        self.categories_ = {
            c: pd.Index(sorted(customers[c].dropna().astype(object).unique(), key=str))
            for c in feats if c in customers.columns and _is_categorical(customers[c])}
        x = self._matrix(customers)
        n = len(value)
        n_seeds = int(math.ceil(float(self.seed_share) * n))
        if n_seeds < MIN_SEEDS or n - n_seeds < MIN_SEEDS:
            raise ModelError(
                f"too few buyers for a lookalike model: {n} buyers give {n_seeds} seeds and "
                f"{n - n_seeds} others (at least {MIN_SEEDS} of each needed)",
                hint="fit on more buyers or change seed_share")
        order = np.argsort(-value.to_numpy(float), kind="stable")
        y = np.zeros(n, dtype=int)
        y[order[:n_seeds]] = 1
        self.n_seeds_ = n_seeds
        self.seed_threshold_ = float(value.to_numpy(float)[order[n_seeds - 1]])
        self.auc_ = self._oof_auc(x, y)
        self.estimator_ = self._base_estimator().fit(x, y)
        log.info("lookalike: %d buyers, %d seeds (value >= %.2f), %d features, OOF AUC %.3f",
                 n, n_seeds, self.seed_threshold_, len(feats), self.auc_)
        return self

    def _oof_auc(self, x: pd.DataFrame, y: np.ndarray) -> float:
        if min(y.sum(), len(y) - y.sum()) < 3:
            return float("nan")
        oof = np.empty(len(y))
        folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=self.random_state)
        for train, test in folds.split(x, y):
            est = self._base_estimator().fit(x.iloc[train], y[train])
            oof[test] = est.predict_proba(x.iloc[test])[:, 1]
        return float(roc_auc_score(y, oof))

    def score(self, prospects: pd.DataFrame) -> np.ndarray:
        """Similarity of each prospect to the seeds.

        Parameters
        ----------
        prospects : DataFrame
            One row per prospect with the feature columns used in ``fit``.

        Returns
        -------
        ndarray of float
            P(looks like a seed | features) in [0, 1], one per row: a similarity score (base rate
            about ``seed_share``), not a probability of purchase.
        """
        check_is_fitted(self, "estimator_")
        if len(prospects) == 0:
            return np.empty(0)
        p = self.estimator_.predict_proba(self._matrix(prospects))[:, 1]
        return np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
