"""Readable customer clusters: k-means (or a Gaussian mixture) on profile features, with each
cluster described in words, in English and Chinese.

Grain: ``CustomerClusters.fit`` takes one row per customer (the ``customer_profile`` columns,
usually only customers with at least one order); ``labels_`` gives one cluster per row and
``clusters_`` one ``ClusterSummary`` per cluster.

Features
--------
``DEFAULT_FEATURES`` covers value (``monetary_net``, ``avg_order_value``), frequency (``orders``),
recency and tenure (days), discount use (``discount_order_share``), breadth
(``category_entropy``), price level (``price_index``) and engagement (``views_90d``,
``carts_90d``). Money, counts and day spans are skewed and non-negative (``monetary_net`` may be
slightly negative after returns), so they go through a signed ``log1p``; then every feature is
standardised. A missing value is filled with the feature's median (counted in ``n_missing_``).

Choosing k
----------
Without ``n_clusters`` every k of ``k_range`` (inclusive) is fitted on a fixed-seed sample of at
most ``sample_size`` rows and scored by the silhouette on that sample; the best k is then fitted on
all rows. ``selection_`` keeps silhouette and inertia (within-cluster sum of squares in the scaled
space, on the sample: the elbow chart) per k.

Labels
------
Clusters are ordered by mean ``monetary_net`` (descending; by size when the frame has no
``monetary_net``), so cluster 0 is the most valuable, and the same data and ``random_state``
always give the same labels.

Descriptions
------------
Each feature's cluster mean is compared with the population's as a z-score in the scaled space
(the mean of the standardised feature over the cluster). The 2 to 4 features with the largest
``|z|`` (at least ``0.5``, or the best two) are phrased with numbers, e.g. ``"frequent (8.2 orders
vs 2.1 overall)"``; the cluster's dominant ``top_category`` is added when it is distinctive. The
name combines the value level (value share vs size share) and the most distinctive trait, e.g.
``"High-value loyal / 高价值忠诚"``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from jingzhun.errors import ConfigError, ModelError

log = logging.getLogger(__name__)

DEFAULT_FEATURES = (
    "monetary_net", "orders", "avg_order_value", "recency_days", "tenure_days",
    "discount_order_share", "category_entropy", "price_index", "views_90d", "carts_90d",
)
#: Skewed money/count/day features that get a signed log1p before scaling.
LOG_FEATURES = frozenset({
    "monetary_net", "monetary_gross", "orders", "repeat_orders", "purchase_days", "items",
    "avg_order_value", "max_order_value", "discount_amount", "returns_amount", "recency_days",
    "tenure_days", "ipt_mean_days", "ipt_median_days", "views_30d", "views_90d", "carts_30d",
    "carts_90d", "searches_30d", "searches_90d", "category_count", "expected_gap_days",
})
METHODS = ("kmeans", "gmm")
_Z_MIN = 0.5  # a feature at least half a standard deviation away from the population is a trait
# Below this many rows k-means runs on one thread: its OpenMP threads gain little on small data and,
# on a busy machine, spin-wait for each other (seen: 0.16 s on one thread, 22 s on two busy cores).
_SERIAL_BELOW = 100_000


@dataclass(frozen=True)
class ClusterSummary:
    """One cluster: ``size`` (customers), ``share`` (of customers, 0..1), ``value_share`` (of the
    population's ``monetary_net``, 0..1; None without that column), ``centroid`` (feature -> mean
    in original units), ``population`` (feature -> population mean), ``z`` (feature -> z-score of
    the cluster mean in the scaled space), the dominant ``top_category`` and the share of the
    cluster having it, and the bilingual name and description."""

    cluster: int
    size: int
    share: float
    value_share: float | None
    centroid: dict[str, float]
    population: dict[str, float]
    z: dict[str, float]
    top_category: str | None
    top_category_share: float | None
    name_en: str
    name_zh: str
    description_en: str
    description_zh: str
    traits: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """A JSON-serialisable dict of the summary."""
        return asdict(self)


class CustomerClusters(ClusterMixin, BaseEstimator):
    """Cluster customers on profile features and describe each cluster in words.

    Parameters
    ----------
    n_clusters : int, optional
        Number of clusters; None chooses k in ``k_range`` by silhouette.
    features : sequence of str, optional
        Numeric profile columns to cluster on; default ``DEFAULT_FEATURES``.
    method : {"kmeans", "gmm"}, default "kmeans"
        k-means, or a Gaussian mixture (full covariance) whose hard assignments are the labels.
    k_range : (int, int), default (2, 10)
        Inclusive range of k tried when ``n_clusters`` is None.
    random_state : int, default 0
        Seed of the model and of the selection sample.
    sample_size : int, default 10_000
        Most rows used to choose k (silhouette is quadratic in rows).
    currency_symbol : str, default "¥"
        Shown before money in descriptions.

    Attributes
    ----------
    labels_ : ndarray of int, shape (n_customers,)
        Cluster of each row, 0 = highest mean ``monetary_net``.
    n_clusters_ : int
        The k used.
    k_chosen_by_ : str
        ``"given"`` or ``"silhouette"``.
    selection_ : pandas.DataFrame
        Per k tried: ``k``, ``silhouette``, ``inertia`` (empty when k was given).
    clusters_ : list of ClusterSummary
        One per cluster, in label order.
    n_missing_ : dict
        Feature -> number of missing values filled with the median.
    features_ : tuple of str
        Features used.
    """

    def __init__(self, n_clusters: int | None = None, *, features: Sequence[str] | None = None,
                 method: str = "kmeans", k_range: tuple[int, int] = (2, 10), random_state: int = 0,
                 sample_size: int = 10_000, currency_symbol: str = "¥"):
        self.n_clusters = n_clusters
        self.features = features
        self.method = method
        self.k_range = k_range
        self.random_state = random_state
        self.sample_size = sample_size
        self.currency_symbol = currency_symbol

    # ------------------------------------------------------------------ fit / predict
    def fit(self, X: pd.DataFrame, y=None) -> CustomerClusters:
        """Fit on ``X``, one row per customer with the feature columns (a profile frame).

        Returns
        -------
        self
        """
        self._check_params()
        features = tuple(self.features) if self.features is not None else DEFAULT_FEATURES
        raw = _numeric_frame(X, features)
        n = len(raw)
        if n < 3:
            raise ModelError(f"cannot cluster {n} customers: at least 3 are needed",
                             hint="build the profile on more data")
        self.features_ = features
        self.medians_ = raw.median().fillna(0.0)
        self.n_missing_ = {c: int(v) for c, v in raw.isna().sum().items()}
        for col, count in self.n_missing_.items():
            if count:
                log.info("clustering: %d missing values of %s filled with the median %g",
                         count, col, self.medians_[col])
        filled = raw.fillna(self.medians_)
        logged = _log_transform(filled)
        self.mean_ = logged.mean()
        self.scale_ = logged.std(ddof=0).replace(0.0, 1.0)
        Z = ((logged - self.mean_) / self.scale_).to_numpy(float)

        if self.n_clusters is not None and self.n_clusters >= n:
            raise ConfigError(f"n_clusters = {self.n_clusters} for {n} customers: it must be "
                              "less than the number of customers")
        with threadpool_limits(limits=1 if n < _SERIAL_BELOW else None, user_api="openmp"):
            if self.n_clusters is None:
                k, self.selection_ = self._select_k(Z)
                self.k_chosen_by_ = "silhouette"
            else:
                k = self.n_clusters
                self.selection_ = pd.DataFrame(columns=["k", "silhouette", "inertia"])
                self.k_chosen_by_ = "given"
            self.model_ = self._model(k).fit(Z)
            raw_labels = self.model_.predict(Z)
        self.n_clusters_ = k
        self.order_ = self._ordering(X, raw_labels, k)
        self.labels_ = self.order_[raw_labels]
        self.clusters_ = self._summaries(X, filled, Z, self.labels_)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Cluster of each row of ``X`` (same columns as in ``fit``), shape (n_rows,)."""
        check_is_fitted(self, "model_")
        raw = _numeric_frame(X, self.features_).fillna(self.medians_)
        Z = ((_log_transform(raw) - self.mean_) / self.scale_).to_numpy(float)
        return self.order_[self.model_.predict(Z)]

    def fit_predict(self, X: pd.DataFrame, y=None) -> np.ndarray:
        """``fit(X).labels_``."""
        return self.fit(X).labels_

    # ------------------------------------------------------------------ internals
    def _check_params(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown clustering method {self.method!r}",
                              hint=f"choose one of: {', '.join(METHODS)}")
        if self.n_clusters is not None and (isinstance(self.n_clusters, bool)
                                            or not isinstance(self.n_clusters, int | np.integer)
                                            or self.n_clusters < 2):
            raise ConfigError(f"n_clusters must be a whole number >= 2, not {self.n_clusters!r}")
        lo, hi = self.k_range
        if not 2 <= lo <= hi:
            raise ConfigError(f"k_range must satisfy 2 <= min <= max, not {self.k_range!r}")
        if self.features is not None and (isinstance(self.features, str) or not self.features):
            raise ConfigError(f"features must be a non-empty list of column names, not {self.features!r}")

    def _model(self, k: int):
        if self.method == "gmm":
            return GaussianMixture(n_components=k, covariance_type="full", n_init=2,
                                   random_state=self.random_state)
        return KMeans(n_clusters=k, n_init=10, random_state=self.random_state)

    def _select_k(self, Z: np.ndarray) -> tuple[int, pd.DataFrame]:
        rng = np.random.default_rng(self.random_state)
        sample = Z if len(Z) <= self.sample_size else \
            Z[np.sort(rng.choice(len(Z), self.sample_size, replace=False))]
        rows = []
        for k in range(self.k_range[0], min(self.k_range[1], len(sample) - 1) + 1):
            labels = self._model(k).fit(sample).predict(sample)
            inertia = _inertia(sample, labels)
            score = (silhouette_score(sample, labels) if 2 <= len(np.unique(labels)) < len(sample)
                     else np.nan)
            rows.append({"k": k, "silhouette": float(score), "inertia": inertia})
        table = pd.DataFrame(rows, columns=["k", "silhouette", "inertia"])
        if table.empty or table["silhouette"].isna().all():
            raise ModelError("no k in k_range gives at least two distinct clusters",
                             hint="the features hardly vary: choose other features or give n_clusters")
        best = int(table.loc[table["silhouette"].idxmax(), "k"])
        log.info("clustering: k = %d chosen by silhouette (%s)", best,
                 ", ".join(f"{r.k}: {r.silhouette:.3f}" for r in table.itertuples()))
        return best, table

    def _ordering(self, X: pd.DataFrame, raw_labels: np.ndarray, k: int) -> np.ndarray:
        """Map model label -> ordered label (by mean monetary_net desc, then size desc)."""
        sizes = np.bincount(raw_labels, minlength=k)
        if "monetary_net" in X.columns:
            money = pd.to_numeric(X["monetary_net"], errors="coerce").to_numpy(float)
            means = np.array([np.nanmean(money[raw_labels == j]) if sizes[j] else -np.inf
                              for j in range(k)])
            means = np.nan_to_num(means, nan=-np.inf)
        else:
            means = np.zeros(k)
        ranked = sorted(range(k), key=lambda j: (-means[j], -sizes[j], j))
        order = np.empty(k, dtype=int)
        order[ranked] = np.arange(k)
        return order

    def _summaries(self, X: pd.DataFrame, filled: pd.DataFrame, Z: np.ndarray,
                   labels: np.ndarray) -> list[ClusterSummary]:
        n = len(labels)
        money = (pd.to_numeric(X["monetary_net"], errors="coerce").fillna(0.0).to_numpy(float)
                 if "monetary_net" in X.columns else None)
        total = float(money.sum()) if money is not None else 0.0
        cats = X["top_category"].astype(object).where(X["top_category"].notna(), None).to_numpy() \
            if "top_category" in X.columns else None
        pop_means = {c: float(v) for c, v in filled.mean().items()}
        out, seen_names = [], set()
        for j in range(self.n_clusters_):
            mask = labels == j
            size = int(mask.sum())
            centroid = {c: float(v) for c, v in filled[mask].mean().items()}
            z = {c: float(v) for c, v in zip(self.features_, Z[mask].mean(axis=0), strict=True)} \
                if size else dict.fromkeys(self.features_, 0.0)
            value_share = (float(money[mask].sum()) / total if money is not None and total else None)
            cat, cat_share, cat_pop = _dominant(cats, mask)
            traits = _pick_traits(z)
            text = _Describer(self.currency_symbol)
            en = [text.phrase(c, z[c], centroid[c], pop_means[c], "en") for c in traits]
            zh = [text.phrase(c, z[c], centroid[c], pop_means[c], "zh") for c in traits]
            cat_distinct = cat is not None and cat_share >= 0.4 and cat_share >= 1.5 * cat_pop
            if cat_distinct:
                en.append(f"buys mostly {cat} (top category {cat} for {cat_share:.0%} vs "
                          f"{cat_pop:.0%} overall)")
                zh.append(f"主要购买{cat}({cat_share:.0%} 的客户首选品类为{cat},整体 {cat_pop:.0%})")
            name_en, name_zh = _name(z, size / n, value_share, traits,
                                     cat if cat_distinct else None)
            if name_en in seen_names:
                name_en, name_zh = f"{name_en} #{j}", f"{name_zh} #{j}"
            seen_names.add(name_en)
            out.append(ClusterSummary(
                cluster=j, size=size, share=size / n, value_share=value_share, centroid=centroid,
                population=pop_means, z=z, top_category=cat, top_category_share=cat_share,
                name_en=name_en, name_zh=name_zh, description_en=", ".join(en),
                description_zh=",".join(zh), traits=list(traits)))
        return out


# --------------------------------------------------------------------------- helpers
def _numeric_frame(X: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """The feature columns of ``X`` as float64 (nulls as NaN); ConfigError names a missing or
    non-numeric column."""
    if not isinstance(X, pd.DataFrame):
        raise ConfigError(f"clustering needs a DataFrame of profile columns, not {type(X).__name__}")
    missing = [c for c in features if c not in X.columns]
    if missing:
        raise ConfigError(f"clustering feature {missing[0]!r} is not a column of the profile",
                          hint=f"columns: {', '.join(map(str, X.columns))}")
    out = {}
    for col in features:
        s = X[col]
        if s.dtype == bool or pd.api.types.is_bool_dtype(s):
            s = s.astype("float64")
        if not pd.api.types.is_numeric_dtype(s):
            raise ConfigError(f"clustering feature {col!r} must be numeric, not {s.dtype}",
                              hint="choose numeric profile columns")
        out[col] = s.astype("float64").to_numpy(dtype=float, na_value=np.nan)
    return pd.DataFrame(out, index=X.index)


def _log_transform(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if col in LOG_FEATURES:
            v = out[col].to_numpy(float)
            out[col] = np.sign(v) * np.log1p(np.abs(v))
    return out


def _inertia(Z: np.ndarray, labels: np.ndarray) -> float:
    return float(sum(((Z[labels == j] - Z[labels == j].mean(axis=0)) ** 2).sum()
                     for j in np.unique(labels)))


def _dominant(cats: np.ndarray | None, mask: np.ndarray) -> tuple[str | None, float | None, float]:
    """(most common top_category in the cluster, its share there, its share overall)."""
    if cats is None or not mask.any():
        return None, None, 0.0
    members = pd.Series(cats[mask]).dropna()
    if members.empty:
        return None, None, 0.0
    counts = members.value_counts()
    best = sorted(counts.index[counts == counts.iloc[0]])[0]  # ties by name: deterministic
    return str(best), float(counts[best] / mask.sum()), float(np.mean(cats == best))


def _pick_traits(z: dict[str, float]) -> list[str]:
    ranked = sorted(z, key=lambda c: (-abs(z[c]), c))
    strong = [c for c in ranked if abs(z[c]) >= _Z_MIN]
    return (strong if len(strong) >= 2 else ranked[:2])[:4]


def _num(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.1f}"


class _Describer:
    """Phrases for a feature's cluster mean vs the population's, per direction and language."""

    def __init__(self, currency: str):
        self.cur = currency

    def phrase(self, col: str, z: float, value: float, pop: float, lang: str) -> str:
        up = z >= 0
        c = self.cur
        v, p = _num(value), _num(pop)
        m_en, m_zh = f"{c}{value:,.0f} vs {c}{pop:,.0f}", f"{c}{value:,.0f},整体 {c}{pop:,.0f}"
        d_en, d_zh = f"{value:.0f} days ago vs {pop:.0f}", f"{value:.0f} 天前,整体 {pop:.0f} 天"
        table = {
            "orders": ((f"frequent ({v} orders vs {p} overall)", f"高频购买({v} 单,整体 {p} 单)"),
                       (f"infrequent ({v} orders vs {p} overall)", f"低频购买({v} 单,整体 {p} 单)")),
            "monetary_net": ((f"high spend ({m_en})", f"高消费({m_zh})"),
                             (f"low spend ({m_en})", f"低消费({m_zh})")),
            "avg_order_value": ((f"big baskets ({m_en} per order)", f"客单价高({m_zh})"),
                                (f"small baskets ({m_en} per order)", f"客单价低({m_zh})")),
            "recency_days": ((f"lapsed (last order {d_en})", f"久未购买(最近一单在 {d_zh})"),
                             (f"recently active (last order {d_en})",
                              f"近期活跃(最近一单在 {d_zh})")),
            "tenure_days": ((f"long-standing (first order {d_en})", f"老客户(首单在 {d_zh})"),
                            (f"new (first order {d_en})", f"新客户(首单在 {d_zh})")),
            "discount_order_share": (
                (f"uses coupons on {value:.0%} of orders (vs {pop:.0%} overall)",
                 f"{value:.0%} 的订单使用优惠券(整体 {pop:.0%})"),
                (f"rarely uses coupons ({value:.0%} of orders vs {pop:.0%} overall)",
                 f"很少使用优惠券({value:.0%} 的订单,整体 {pop:.0%})")),
            "category_entropy": ((f"shops across many categories (entropy {v} vs {p})",
                                  f"跨品类购买(品类熵 {v},整体 {p})"),
                                 (f"sticks to few categories (entropy {v} vs {p})",
                                  f"品类集中(品类熵 {v},整体 {p})")),
            "price_index": ((f"buys premium items (price index {value:.2f} vs {pop:.2f})",
                             f"偏好高价商品(价格指数 {value:.2f},整体 {pop:.2f})"),
                            (f"buys cheaper items (price index {value:.2f} vs {pop:.2f})",
                             f"偏好低价商品(价格指数 {value:.2f},整体 {pop:.2f})")),
            "views_90d": ((f"browses a lot ({v} views in 90 days vs {p})",
                           f"浏览活跃(90 天浏览 {v} 次,整体 {p} 次)"),
                          (f"rarely browses ({v} views in 90 days vs {p})",
                           f"很少浏览(90 天浏览 {v} 次,整体 {p} 次)")),
            "carts_90d": ((f"adds to cart often ({v} times in 90 days vs {p})",
                           f"常加购(90 天加购 {v} 次,整体 {p} 次)"),
                          (f"rarely adds to cart ({v} times in 90 days vs {p})",
                           f"很少加购(90 天加购 {v} 次,整体 {p} 次)")),
        }
        if col in table:
            return table[col][0 if up else 1][0 if lang == "en" else 1]
        if lang == "en":
            return f"{'high' if up else 'low'} {col} ({v} vs {p})"
        return f"{col} {'偏高' if up else '偏低'}({v},整体 {p})"


#: (feature, direction) -> (English trait, Chinese trait) for cluster names.
_NAME_TRAITS = {
    ("orders", True): ("loyal", "忠诚"), ("orders", False): ("occasional", "偶购"),
    ("recency_days", False): ("active", "活跃"), ("recency_days", True): ("lapsed", "沉睡"),
    ("tenure_days", False): ("new", "新客"), ("tenure_days", True): ("long-standing", "老客"),
    ("discount_order_share", True): ("deal-seeking", "爱用券"),
    ("discount_order_share", False): ("full-price", "原价购买"),
    ("category_entropy", True): ("multi-category", "多品类"),
    ("category_entropy", False): ("focused", "品类专一"),
    ("price_index", True): ("premium", "高端"), ("price_index", False): ("budget", "平价"),
    ("views_90d", True): ("browsing", "爱浏览"), ("views_90d", False): ("quiet", "少浏览"),
    ("carts_90d", True): ("cart-heavy", "爱加购"), ("carts_90d", False): ("few-carts", "少加购"),
    ("avg_order_value", True): ("big-basket", "大单"), ("avg_order_value", False): ("small-basket", "小单"),
}

#: Traits that name a cluster before any other distinctive trait (stable sort keeps z order after).
_NAME_FIRST = (("recency_days", True), ("tenure_days", False), ("orders", True),
               ("discount_order_share", True))


def _name(z: dict[str, float], share: float, value_share: float | None, traits: list[str],
          category: str | None) -> tuple[str, str]:
    if value_share is None or share == 0:
        level = ("", "")
    elif value_share / share >= 1.5:
        level = ("High-value", "高价值")
    elif value_share / share <= 0.5:
        level = ("Low-value", "低价值")
    else:
        level = ("Mid-value", "中价值")
    named = [(c, z[c] >= 0) for c in traits
             if (c, z[c] >= 0) in _NAME_TRAITS and abs(z[c]) >= _Z_MIN]
    named.sort(key=lambda key: _NAME_FIRST.index(key) if key in _NAME_FIRST else len(_NAME_FIRST))
    trait = _NAME_TRAITS[named[0]] if named else ("typical", "普通")
    en = " ".join(p for p in (level[0], trait[0]) if p)
    en = en[:1].upper() + en[1:]
    zh = level[1] + trait[1]
    if category:
        en, zh = f"{en} · {category}", f"{zh}·{category}"
    return en, zh
