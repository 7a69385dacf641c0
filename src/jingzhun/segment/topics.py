"""Interest topics: LDA over what customers bought, viewed and carted.

Grain: ``customer_tokens`` gives one row per (customer, token) with a weighted count;
``InterestTopics.fit`` learns topics from it; ``topic_mix_`` has one row per customer and one
column per topic; ``topics_`` one ``Topic`` per topic; ``interest_tags`` one row per (customer,
topic) whose weight reaches the threshold.

Tokens
------
Each product gives whole tokens for its category (``cat:女装``), subcategory (``sub:连衣裙``) and
brand (``brand:云裳``), plus the words of its name once those three are taken out of it: Chinese
runs are cut by jieba (its bundled dictionary, loaded on first use, quietly), Latin text by a
lower-case regex tokenizer without English stop words; numbers, single Latin letters and single
Chinese particles/packaging words (的, 款, 装 ...) are dropped.
A customer's document counts each product token once per purchase line (``purchase_weight``, lines
of completed or returned orders with a positive quantity up to ``as_of``) and once per view or
add-to-cart event (``event_weight``).

Topics
------
``LatentDirichletAllocation`` (batch variational Bayes, fixed ``random_state``). Without
``n_topics``, each k of ``topic_range`` is fitted on a fixed-seed 80 % of (a sample of at most
``sample_size``) customers and scored by the perplexity of the other 20 %; the lowest wins and is
refitted on everyone. A topic's label joins its three most relevant tokens
(``"美妆·面霜·口红"``; relevance as in LDAvis, Sievert & Shirley 2014:
``0.6 log p(token|topic) + 0.4 log(p(token|topic) / p(token))``, so that a word every topic uses
does not name one); a customer's interest tags are ``interest:<label>`` for every topic with
weight >= ``tag_threshold`` in their mix.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import LatentDirichletAllocation
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from sklearn.utils.validation import check_is_fitted

from jingzhun.errors import ConfigError, InputError, ModelError

log = logging.getLogger(__name__)

TOKEN_KINDS = {"cat": "category", "sub": "subcategory", "brand": "brand"}
EVENT_TYPES = ("view", "add_to_cart")
_LAMBDA = 0.6  # weight of a token's probability vs its lift in topic labels
_CJK = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+"
#: Single Chinese characters that carry no interest (particles, packaging and edition words); other
#: single characters stay: 鞋, 茶, 裙 are interests.
_CJK_STOP = frozenset("的了和与及或之在为是有无等款版装件个只套型号送包")
_RUNS = re.compile(rf"({_CJK})|([A-Za-z0-9]+(?:['’][A-Za-z]+)?)")


# --------------------------------------------------------------------------- tokenising
@functools.cache
def _jieba():
    """A jieba tokenizer with its bundled dictionary, built on first use with its log quietened."""
    import jieba

    jlog = logging.getLogger("jieba")
    level = jlog.level
    jlog.setLevel(logging.WARNING)
    try:
        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
    finally:
        jlog.setLevel(level)
    return tokenizer


def tokenize(text: str | None) -> list[str]:
    """Words of ``text``: Chinese runs cut by jieba, Latin words lower-cased; English stop words,
    single letters, pure numbers and single Chinese particles (``_CJK_STOP``) dropped.

    >>> tokenize("女士真丝连衣裙 Summer Dress")  # doctest: +SKIP
    ['女士', '真丝', '连衣裙', 'summer', 'dress']
    """
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return []
    words = []
    for cjk, latin in _RUNS.findall(str(text)):
        if cjk:
            words.extend(w for w in _jieba().lcut(cjk) if w not in _CJK_STOP)
        else:
            w = latin.lower()
            if len(w) > 1 and not w.isdigit() and w not in ENGLISH_STOP_WORDS:
                words.append(w)
    return words


def product_tokens(products: pd.DataFrame) -> pd.DataFrame:
    """Tokens of each product: ``product_id, token, count`` (one row per distinct token).

    Parameters
    ----------
    products : DataFrame
        ``product_id, name, category, subcategory, brand`` (text columns may be null).
    """
    _require(products, ("product_id", "name", "category", "subcategory", "brand"), "products")
    rows = []
    for pid, name, cat, sub, brand in products[
            ["product_id", "name", "category", "subcategory", "brand"]].itertuples(index=False):
        whole = {k: str(v).strip() for k, v in (("cat", cat), ("sub", sub), ("brand", brand))
                 if isinstance(v, str) and v.strip()}
        counts: Counter[str] = Counter(f"{k}:{v}" for k, v in whole.items())
        rest = str(name) if isinstance(name, str) else ""
        for v in sorted(whole.values(), key=len, reverse=True):  # already whole tokens
            rest = rest.replace(v, " ")
        counts.update(tokenize(rest))
        rows.extend((pid, tok, n) for tok, n in counts.items())
    return pd.DataFrame(rows, columns=["product_id", "token", "count"])


def display(token: str) -> str:
    """A token without its kind prefix (``"cat:美妆"`` -> ``"美妆"``)."""
    kind, sep, value = token.partition(":")
    return value if sep and kind in TOKEN_KINDS else token


def token_kind(token: str) -> str:
    """``category``, ``subcategory``, ``brand`` or ``word``."""
    kind, sep, _ = token.partition(":")
    return TOKEN_KINDS.get(kind, "word") if sep else "word"


def customer_tokens(order_lines: pd.DataFrame, orders: pd.DataFrame, products: pd.DataFrame,
                    events: pd.DataFrame | None = None, *, as_of: date | None = None,
                    purchase_weight: float = 2.0, event_weight: float = 1.0,
                    event_types: Sequence[str] = EVENT_TYPES) -> pd.DataFrame:
    """Weighted token counts per customer from purchases and product events.

    Parameters
    ----------
    order_lines : DataFrame
        ``order_id, product_id, quantity``.
    orders : DataFrame
        ``order_id, customer_id, ordered_at, status``; cancelled orders are left out.
    products : DataFrame
        ``product_id, name, category, subcategory, brand``.
    events : DataFrame, optional
        ``customer_id, occurred_at, type, product_id``; rows without a customer or product, or of
        a type not in ``event_types``, are left out.
    as_of : date, optional
        Last day (inclusive, in the timestamps' clock) of purchases and events used.
    purchase_weight, event_weight : float
        Count added per purchase line / per event for each of the product's tokens.

    Returns
    -------
    DataFrame
        ``customer_id, token, count`` (float), one row per pair with a positive count, sorted.
    """
    _require(order_lines, ("order_id", "product_id", "quantity"), "order_lines")
    _require(orders, ("order_id", "customer_id", "ordered_at", "status"), "orders")
    end = None if as_of is None else datetime.combine(as_of + timedelta(days=1), time())
    o = orders[orders["status"].astype(str) != "cancelled"]
    if end is not None:
        o = o[pd.to_datetime(o["ordered_at"]) < end]
    lines = order_lines[pd.to_numeric(order_lines["quantity"], errors="coerce") > 0]
    bought = lines.merge(o[["order_id", "customer_id"]], on="order_id")[["customer_id", "product_id"]]
    parts = [bought.assign(w=float(purchase_weight))]
    if events is not None and len(events):
        _require(events, ("customer_id", "occurred_at", "type", "product_id"), "events")
        e = events[events["type"].isin(list(event_types)) & events["customer_id"].notna()
                   & events["product_id"].notna()]
        if end is not None:
            e = e[pd.to_datetime(e["occurred_at"]) < end]
        parts.append(e[["customer_id", "product_id"]].assign(w=float(event_weight)))
    acts = pd.concat(parts, ignore_index=True)
    acts = acts.groupby(["customer_id", "product_id"], as_index=False)["w"].sum()
    toks = product_tokens(products)
    j = acts.merge(toks, on="product_id")
    j["count"] = j["w"] * j["count"]
    out = j.groupby(["customer_id", "token"], as_index=False)["count"].sum()
    out = out[out["count"] > 0].sort_values(["customer_id", "token"], ignore_index=True)
    out["customer_id"] = out["customer_id"].astype(str)
    return out


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{what} has no column {missing[0]!r}; "
                         f"columns: {', '.join(map(str, frame.columns))}")


# --------------------------------------------------------------------------- topics
@dataclass(frozen=True)
class Topic:
    """One topic: ``label`` (its three most relevant tokens, e.g. ``"美妆·面霜·口红"``), ``tag``
    (``interest:<label>``), ``top_tokens`` (list of ``{"token", "kind", "weight"}``, weight =
    the token's probability in the topic, heaviest first) and ``share`` (mean weight of the topic
    over customers, 0..1)."""

    topic: int
    label: str
    tag: str
    top_tokens: list[dict]
    share: float

    def as_dict(self) -> dict:
        """A JSON-serialisable dict of the topic."""
        return asdict(self)


class InterestTopics(TransformerMixin, BaseEstimator):
    """Interest topics of customers by LDA over their token counts (``customer_tokens``).

    Parameters
    ----------
    n_topics : int, optional
        Number of topics; None chooses it in ``topic_range`` by held-out perplexity.
    topic_range : (int, int), default (2, 8)
        Inclusive range tried when ``n_topics`` is None.
    random_state : int, default 0
        Seed of LDA and of the held-out split.
    tag_threshold : float, default 0.35
        A topic whose weight in a customer's mix is at least this becomes an interest tag.
    min_customers : int, default 2
        Tokens used by fewer customers are dropped (rare names add noise, not interests).
    top_n : int, default 10
        Tokens listed per topic.
    max_iter : int, default 10
        LDA passes over the data (scikit-learn's default; each pass updates every document in
        Python, so passes cost about 0.1 ms per customer).
    sample_size : int, default 5_000
        Most customers used to choose the number of topics (80 % to fit, 20 % held out).
    fit_size : int, default 20_000
        Most customers the final model is fitted on (a fixed-seed sample); every customer's
        mix is then inferred with it, so large customer bases cost one pass, not ``max_iter``.

    Attributes
    ----------
    n_topics_ : int
    k_chosen_by_ : str
        ``"given"`` or ``"perplexity"``.
    selection_ : DataFrame
        ``k, perplexity`` (held-out) per k tried; empty when given.
    vocabulary_ : ndarray of str
    topic_word_ : ndarray, shape (n_topics, n_tokens)
        Token probabilities per topic (rows sum to 1).
    topic_mix_ : DataFrame
        Customers (index ``customer_id``) x topics, rows sum to 1.
    token_share_ : ndarray, shape (n_tokens,)
        Share of each token in all the fitted counts.
    topics_ : list of Topic
    """

    def __init__(self, n_topics: int | None = None, *, topic_range: tuple[int, int] = (2, 8),
                 random_state: int = 0, tag_threshold: float = 0.35, min_customers: int = 2,
                 top_n: int = 10, max_iter: int = 10, sample_size: int = 5_000,
                 fit_size: int = 20_000):
        self.n_topics = n_topics
        self.topic_range = topic_range
        self.random_state = random_state
        self.tag_threshold = tag_threshold
        self.min_customers = min_customers
        self.top_n = top_n
        self.max_iter = max_iter
        self.sample_size = sample_size
        self.fit_size = fit_size

    def fit(self, tokens: pd.DataFrame, y=None) -> InterestTopics:
        """Fit on ``tokens`` (``customer_id, token, count``: ``customer_tokens``' output).

        Returns
        -------
        self
        """
        self._check_params()
        _require(tokens, ("customer_id", "token", "count"), "customer tokens")
        keep = tokens.groupby("token")["customer_id"].nunique()
        vocab = np.array(sorted(keep.index[keep >= self.min_customers]), dtype=object)
        if len(vocab) < 2:
            raise ModelError(f"only {len(vocab)} tokens are used by at least {self.min_customers} "
                             "customers: too little to find topics",
                             hint="ingest order lines, products and events, or lower min_customers")
        self.vocabulary_ = vocab
        customers, X = self._matrix(tokens)
        n = X.shape[0]
        if n < 4:
            raise ModelError(f"{n} customers with tokens: at least 4 are needed for topics")
        if self.n_topics is None:
            k, self.selection_ = self._select_k(X)
            self.k_chosen_by_ = "perplexity"
        else:
            k, self.selection_ = self.n_topics, pd.DataFrame(columns=["k", "perplexity"])
            self.k_chosen_by_ = "given"
        self.n_topics_ = k
        rng = np.random.default_rng(self.random_state)
        fit_rows = X if n <= self.fit_size else X[np.sort(rng.choice(n, self.fit_size, replace=False))]
        self.model_ = self._lda(k).fit(fit_rows)
        self.topic_word_ = self.model_.components_ / self.model_.components_.sum(axis=1, keepdims=True)
        mix = self.model_.transform(X)
        self.topic_mix_ = pd.DataFrame(mix, index=pd.Index(customers, name="customer_id"),
                                       columns=range(k))
        freq = np.asarray(X.sum(axis=0)).ravel()
        self.token_share_ = freq / freq.sum()
        self.topics_ = self._topics(mix)
        return self

    def transform(self, tokens: pd.DataFrame) -> pd.DataFrame:
        """Topic mix of each customer in ``tokens``: customers x topics, rows sum to 1."""
        check_is_fitted(self, "model_")
        customers, X = self._matrix(tokens)
        return pd.DataFrame(self.model_.transform(X), index=pd.Index(customers, name="customer_id"),
                            columns=range(self.n_topics_))

    def interest_tags(self, mix: pd.DataFrame | None = None) -> pd.DataFrame:
        """``customer_id, topic, weight, tag`` for each topic with weight >= ``tag_threshold``
        in a customer's mix (default: the fitted ``topic_mix_``), heaviest first per customer."""
        check_is_fitted(self, "model_")
        mix = self.topic_mix_ if mix is None else mix
        long = _long(mix)
        long = long[long["weight"] >= self.tag_threshold]
        tags = {t.topic: t.tag for t in self.topics_}
        long = long.assign(tag=long["topic"].map(tags))
        return long.sort_values(["customer_id", "weight"], ascending=[True, False], ignore_index=True)

    def dominant_topic(self) -> pd.Series:
        """The heaviest topic of each fitted customer (index ``customer_id``)."""
        check_is_fitted(self, "model_")
        return pd.Series(self.topic_mix_.to_numpy().argmax(axis=1), index=self.topic_mix_.index,
                         name="topic")

    # ------------------------------------------------------------------ internals
    def _check_params(self) -> None:
        if self.n_topics is not None and (isinstance(self.n_topics, bool)
                                          or not isinstance(self.n_topics, int | np.integer)
                                          or self.n_topics < 2):
            raise ConfigError(f"n_topics must be a whole number >= 2, not {self.n_topics!r}")
        lo, hi = self.topic_range
        if not 2 <= lo <= hi:
            raise ConfigError(f"topic_range must satisfy 2 <= min <= max, not {self.topic_range!r}")
        if not 0 < self.tag_threshold <= 1:
            raise ConfigError(f"tag_threshold must be in (0, 1], not {self.tag_threshold!r}")

    def _lda(self, k: int) -> LatentDirichletAllocation:
        return LatentDirichletAllocation(n_components=k, learning_method="batch",
                                         max_iter=self.max_iter, random_state=self.random_state)

    def _matrix(self, tokens: pd.DataFrame) -> tuple[np.ndarray, sparse.csr_matrix]:
        customers = np.array(sorted(tokens["customer_id"].astype(str).unique()), dtype=object)
        col = pd.Index(self.vocabulary_).get_indexer(tokens["token"])
        row = pd.Index(customers).get_indexer(tokens["customer_id"].astype(str))
        ok = col >= 0
        X = sparse.csr_matrix((tokens["count"].to_numpy(float)[ok], (row[ok], col[ok])),
                              shape=(len(customers), len(self.vocabulary_)))
        return customers, X

    def _select_k(self, X: sparse.csr_matrix) -> tuple[int, pd.DataFrame]:
        rng = np.random.default_rng(self.random_state)
        if X.shape[0] > self.sample_size:
            X = X[np.sort(rng.choice(X.shape[0], self.sample_size, replace=False))]
        held = np.zeros(X.shape[0], dtype=bool)
        held[rng.choice(X.shape[0], max(1, X.shape[0] // 5), replace=False)] = True
        train, test = X[~held], X[held]
        rows = []
        for k in range(self.topic_range[0], self.topic_range[1] + 1):
            lda = self._lda(k).fit(train)
            rows.append({"k": k, "perplexity": float(lda.perplexity(test))})
        table = pd.DataFrame(rows, columns=["k", "perplexity"])
        best = int(table.loc[table["perplexity"].idxmin(), "k"])
        log.info("topics: k = %d chosen by held-out perplexity (%s)", best,
                 ", ".join(f"{r.k}: {r.perplexity:.1f}" for r in table.itertuples()))
        return best, table

    def _topics(self, mix: np.ndarray) -> list[Topic]:
        out, seen = [], set()
        for t, weights in enumerate(self.topic_word_):
            top = np.argsort(-weights, kind="stable")[:self.top_n]
            tokens = [{"token": display(self.vocabulary_[i]), "kind": token_kind(self.vocabulary_[i]),
                       "weight": float(weights[i])} for i in top]
            # the label takes the most *relevant* tokens (Sievert & Shirley 2014, lambda = 0.6),
            # so that a word every topic uses (礼盒装) does not name one
            relevance = (_LAMBDA * np.log(weights + 1e-12)
                         + (1 - _LAMBDA) * np.log((weights + 1e-12) / (self.token_share_ + 1e-12)))
            ranked = np.argsort(-relevance, kind="stable")[:self.top_n]
            words = list(dict.fromkeys(display(self.vocabulary_[i]) for i in ranked))[:3]
            label = "·".join(words)
            if label in seen:
                label = f"{label}#{t}"
            seen.add(label)
            out.append(Topic(topic=t, label=label, tag=f"interest:{label}", top_tokens=tokens,
                             share=float(mix[:, t].mean())))
        return out


def _long(mix: pd.DataFrame) -> pd.DataFrame:
    """customers x topics -> ``customer_id, topic, weight``."""
    long = mix.rename_axis("customer_id").reset_index().melt(
        id_vars="customer_id", var_name="topic", value_name="weight")
    long["topic"] = long["topic"].astype("int64")
    return long


def topic_weights(mix: pd.DataFrame) -> pd.DataFrame:
    """``customer_id, topic, weight`` rows of a topic mix (one per customer and topic), sorted."""
    return _long(mix).sort_values(["customer_id", "topic"], ignore_index=True)
