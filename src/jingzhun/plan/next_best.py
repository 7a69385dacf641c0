"""Next-best category for a ``grow`` campaign: what a customer has not bought yet but is likely to.

Co-purchase rules are mined from the customers' baskets, where a basket is the *set of categories a
customer has ever bought* (non-cancelled purchases; one row per customer and category), not a
single order: "customers who buy 母婴 also buy 食品" over their whole history.

For an antecedent category ``a`` and a consequent ``c`` over ``N`` customers:

* ``customers`` = number of customers who bought both ``a`` and ``c``;
* ``support`` = customers / N;
* ``confidence`` = P(c | a) = customers / (customers who bought ``a``);
* ``lift`` = confidence / P(c), where P(c) = (customers who bought ``c``) / N. Lift > 1 means that
  buying ``a`` makes ``c`` more likely than it is in general.

A customer's score for a category ``c`` they have not bought is ``max over their bought categories
a of lift(a, c) x confidence(a, c)`` (dimensionless), and ``because`` is the ``a`` that attains the
maximum. Why the product: lift alone favours rare categories (a small P(c) inflates it even when
P(c | a) is tiny), confidence alone favours the categories everybody buys whatever ``a`` is;
``lift x confidence = P(c | a)^2 / P(c)`` rewards a consequent that is both likely after ``a`` and
made more likely by it. The maximum (not a sum) keeps a customer with many categories from
collecting points over weak rules, and names one reason a marketer can read. Only pairs with at
least ``min_customers`` customers and lift > 1 are used as reasons (a pair with lift <= 1 is no
evidence for the consequent).

Fallback: where fewer than ``top_n`` co-purchase recommendations exist for a customer (in
particular where no rule applies at all), the remaining ranks are filled with the most popular
categories the customer has not bought, ``score`` = the category's share of customers (0..1),
``because`` = ``"popular"``, ``source`` = ``"popular"``; co-purchase recommendations always rank
before popular ones. A customer who has bought every category gets no row. Categories are those
appearing in ``baskets``.

The computation is vectorised over a customer x category indicator matrix (co-occurrence counts
by a sparse matrix product; scores by a loop over the antecedent *categories*, never over
customers, in chunks of customers to bound memory).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy import sparse

from jingzhun.errors import ConfigError, InputError

log = logging.getLogger(__name__)

AFFINITY_COLUMNS = ["antecedent", "consequent", "support", "confidence", "lift", "customers"]
RESULT_COLUMNS = ["customer_id", "rank", "category", "score", "because", "source"]
_CHUNK_CELLS = 20_000_000  # customer x category cells scored at once


def _indicator(baskets: pd.DataFrame) -> tuple[sparse.csr_matrix, pd.Index, pd.Index]:
    """Customer x category 0/1 matrix (CSR) with its customer and category labels."""
    missing = [c for c in ("customer_id", "category") if c not in baskets.columns]
    if missing:
        raise InputError(f"baskets lacks column(s) {missing}",
                         hint="pass one row per customer and category bought: customer_id, category")
    b = baskets[["customer_id", "category"]].dropna().drop_duplicates()
    cust_codes, customers = pd.factorize(b["customer_id"], sort=False)
    cat_codes, categories = pd.factorize(b["category"], sort=True)
    m = sparse.csr_matrix((np.ones(len(b), dtype=np.float64), (cust_codes, cat_codes)),
                          shape=(len(customers), len(categories)))
    return m, pd.Index(customers), pd.Index(categories)


def _check_min_customers(min_customers: int) -> None:
    if int(min_customers) < 1:
        raise ConfigError(f"min_customers must be at least 1, got {min_customers}",
                          hint="use e.g. 20 so that a rule rests on enough customers")


def _affinity_from_matrix(m: sparse.csr_matrix, categories: pd.Index,
                          min_customers: int) -> pd.DataFrame:
    n = m.shape[0]
    if n == 0 or len(categories) == 0:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            AFFINITY_COLUMNS, [object, object, float, float, float, "int64"], strict=True)})
    both = np.asarray((m.T @ m).todense())  # both[a, c] = customers with a and c
    per_cat = np.diag(both).copy()
    a_idx, c_idx = np.nonzero((both >= min_customers) & ~np.eye(len(categories), dtype=bool))
    k = both[a_idx, c_idx]
    confidence = k / per_cat[a_idx]
    out = pd.DataFrame({
        "antecedent": categories[a_idx], "consequent": categories[c_idx],
        "support": k / n, "confidence": confidence,
        "lift": confidence / (per_cat[c_idx] / n), "customers": k.astype("int64")})
    return out.sort_values(["antecedent", "lift"], ascending=[True, False], kind="stable",
                           ignore_index=True)


def category_affinity(baskets: pd.DataFrame, *, min_customers: int = 20) -> pd.DataFrame:
    """Category co-purchase rules (antecedent -> consequent) over customers' category sets.

    Parameters
    ----------
    baskets : DataFrame
        ``customer_id``, ``category``: one row per customer and category bought (non-cancelled
        purchases); duplicates and missing values are dropped.
    min_customers : int, default 20
        Keep pairs bought together by at least this many customers.

    Returns
    -------
    DataFrame
        ``antecedent``, ``consequent``, ``support`` (customers with both / all customers, 0..1),
        ``confidence`` (P(consequent | antecedent), 0..1), ``lift`` (confidence / P(consequent),
        dimensionless) and ``customers`` (count with both); both directions of each pair, sorted by
        antecedent then lift descending.
    """
    _check_min_customers(min_customers)
    m, _, categories = _indicator(baskets)
    return _affinity_from_matrix(m, categories, int(min_customers))


def _rule_matrix(affinity: pd.DataFrame, categories: pd.Index) -> np.ndarray:
    """K x K matrix of lift x confidence for usable rules (lift > 1), NaN elsewhere."""
    missing = [c for c in ("antecedent", "consequent", "confidence", "lift")
               if c not in affinity.columns]
    if missing:
        raise InputError(f"affinity lacks column(s) {missing}",
                         hint="pass the output of category_affinity")
    k = len(categories)
    s = np.full((k, k), np.nan)
    a = categories.get_indexer(affinity["antecedent"])
    c = categories.get_indexer(affinity["consequent"])
    score = affinity["lift"].to_numpy(float) * affinity["confidence"].to_numpy(float)
    ok = (a >= 0) & (c >= 0) & (a != c) & (affinity["lift"].to_numpy(float) > 1) & (score > 0)
    # several rows for one pair (a hand-made table): keep the highest score
    for ai, ci, si in zip(a[ok], c[ok], score[ok], strict=True):
        s[ai, ci] = si if np.isnan(s[ai, ci]) else max(s[ai, ci], si)
    return s


def _score_chunk(bought: np.ndarray, rules: np.ndarray, share: np.ndarray,
                 top_n: int) -> tuple[np.ndarray, ...]:
    """Top ``top_n`` (category, score, because, is_popular) per customer row of ``bought``."""
    n, k = bought.shape
    best = np.full((n, k), -np.inf)
    because = np.full((n, k), -1, dtype=np.int64)
    for a in range(k):
        row = rules[a]
        if np.isnan(row).all():
            continue
        cand = np.where(bought[:, [a]], np.nan_to_num(row, nan=-np.inf)[None, :], -np.inf)
        better = cand > best
        best[better] = cand[better]
        because[better] = a
    best[bought] = -np.inf
    co = np.isfinite(best)
    # co-purchase scores are > 0; popular keys share - 1 lie in (-1, 0]: co-purchase ranks first
    key = np.where(co, best, np.where(bought, -np.inf, share[None, :] - 1.0))
    top = np.argsort(-key, axis=1, kind="stable")[:, :top_n]
    rows = np.arange(n)[:, None]
    k_top = key[rows, top]
    is_co = co[rows, top]
    score = np.where(is_co, k_top, k_top + 1.0)
    return top, score, because[rows, top], is_co, np.isfinite(k_top)


def next_best_category(baskets: pd.DataFrame, *, affinity: pd.DataFrame | None = None,
                       top_n: int = 1, min_customers: int = 20) -> pd.DataFrame:
    """The categories each customer has not bought, ranked by co-purchase evidence.

    Parameters
    ----------
    baskets : DataFrame
        ``customer_id``, ``category``: one row per customer and category bought (non-cancelled
        purchases).
    affinity : DataFrame, optional
        Rules from :func:`category_affinity` (e.g. mined on a larger history); mined from
        ``baskets`` with ``min_customers`` when not given. Only rules with lift > 1 are used.
    top_n : int, default 1
        Recommendations per customer (ranks 1..top_n).
    min_customers : int, default 20
        Minimum customers with both categories for a rule (only when ``affinity`` is mined here).

    Returns
    -------
    DataFrame
        ``customer_id``, ``rank`` (1..top_n), ``category``, ``score`` (co-purchase: max over the
        customer's bought categories of lift x confidence, dimensionless; popular: the category's
        share of customers, 0..1), ``because`` (the bought category giving the score, or
        ``"popular"``) and ``source`` (``"co-purchase"`` / ``"popular"``). Customers with nothing
        left to recommend get no row. See the module docstring for the rules.
    """
    if int(top_n) < 1:
        raise ConfigError(f"top_n must be at least 1, got {top_n}", hint="use top_n=1 or more")
    _check_min_customers(min_customers)
    m, customers, categories = _indicator(baskets)
    if affinity is None:
        affinity = _affinity_from_matrix(m, categories, int(min_customers))
    k = len(categories)
    if m.shape[0] == 0 or k == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in RESULT_COLUMNS}).astype(
            {"rank": "int64", "score": float})
    rules = _rule_matrix(affinity, categories)
    share = np.asarray(m.sum(axis=0)).ravel() / m.shape[0]
    top_n = min(int(top_n), k)
    chunk = max(1, _CHUNK_CELLS // k)
    parts = []
    for start in range(0, m.shape[0], chunk):
        bought = m[start:start + chunk].toarray() > 0
        top, score, because, is_co, valid = _score_chunk(bought, rules, share, top_n)
        cust = np.repeat(np.arange(start, start + len(bought)), top_n)
        ranks = np.tile(np.arange(1, top_n + 1), len(bought))
        v = valid.ravel()
        parts.append((cust[v], ranks[v], top.ravel()[v], score.ravel()[v], because.ravel()[v],
                      is_co.ravel()[v]))
    cust, ranks, cat, score, bec, is_co = (np.concatenate(x) for x in zip(*parts, strict=True))
    labels = np.asarray(categories, dtype=object)
    out = pd.DataFrame({
        "customer_id": customers.take(cust),
        "rank": ranks.astype("int64"),
        "category": labels[cat],
        "score": score.astype(float),
        "because": np.where(is_co, labels[np.maximum(bec, 0)], "popular").astype(object),
        "source": np.where(is_co, "co-purchase", "popular").astype(object),
    })
    log.info("next-best category: %d customers, %d categories, %d rules, %d rows (%d popular)",
             len(customers), k, int(np.isfinite(rules).sum()), len(out), int((~is_co).sum()))
    return out
