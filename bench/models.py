"""Models benchmark: fit + predict time of jingzhun's models against a named baseline library's
equivalent on the same data (and the same base estimator), in the same run.

Run as ``.venv/bin/python bench/models.py`` (``--help`` lists the options). Suites (``--suite``):

* ``uplift``: the uplift learners of ``jingzhun.predict.uplift`` against scikit-uplift 0.5.1's
  (``SoloModel`` ~ S-learner, ``TwoModels`` ~ T-learner, ``ClassTransformation`` ~ class
  transformation), every model with the same LightGBM classifier (our ``_LGBM_DEFAULTS``: 200
  trees, 15 leaves, one thread), on ``--rows`` customers from
  ``jingzhun.simulate.uplift.simulate_uplift_population`` (one-hot features, binary outcome
  ``converted``). A timed step is ``fit(X, y, treatment)`` then ``predict(X)`` on all rows; ours
  and the baseline alternate within each repetition so that drift hits both alike. The X-learner
  and the transformed-outcome regression have no scikit-uplift equivalent and are timed alone.
  Before the timing, every model is fitted once on the first 2,000 rows (imports, LightGBM's
  first call). Reported: medians, **ratio** = ours s / baseline s (below 1: ours is faster), the
  largest difference between the two predictions (S and T: the same algorithm, so ~0), and, as a
  sanity check of what was timed, the Qini coefficient of our last fitted model on a fresh
  held-out sample (100k rows, another seed) over the oracle's (ranking by the true uplift).

* ``cluster``: ``jingzhun.segment.cluster.CustomerClusters`` on ``--rows`` simulated customer
  profiles of five planted groups (``cluster_data``), with k given (5) and with k chosen by
  silhouette (2-10); timed step: ``fit(frame)`` + ``predict(frame)``. Baseline: scikit-learn's
  bare ``KMeans(5, n_init=10, random_state=0)`` fit + predict on the same features already scaled
  as ours scales them (the floor: what our preprocessing, ordering and descriptions add).
  Quality: adjusted Rand index vs the planted groups, ours and the baseline's.
* ``topics``: ``jingzhun.segment.topics.InterestTopics`` on ``--rows`` simulated customers' token
  counts (six planted interest groups over 300 tokens, ~5 tokens each; ``topics_data``), with
  the number of topics given (6) and chosen by perplexity (2-8); timed step: ``fit(tokens)``,
  which fits LDA on a 20k sample and infers every customer's mix (``topic_mix_``). Baseline:
  scikit-learn's ``LatentDirichletAllocation`` with the same n_components / max_iter / seed,
  fitted on all rows of the CSR matrix + ``transform``. Quality: share of customers whose
  dominant topic is their planted group after the best one-to-one matching.

A "k by ..." case has no baseline run of its own; its ratio is against the "k given" case's
baseline from the same run. A step (ours or the baseline) whose first repetition takes over
``--slow-s`` seconds (180) is not repeated; the reps column then says ``ours / baseline``.

A suite (``SUITES``) is a data builder, its cases, a quality measure, a comparison of our and the
baseline's outputs and its RESULTS.md layout; a case is a dict with ``case``, ``ours`` (a
callable: data -> fitted model), optionally ``score`` ((model, data) -> output; default
``model.predict(data["X"])``), and ``baseline`` (``(name, fit, score)`` or None).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))
from ingest import (  # noqa: E402
    _peak_rss_mb,
    add_run_args,
    git_commit,
    insert_rows,
    load_1min,
    log,
    machine,
    src_hash,
)

SECTION = "## Models benchmark results (`bench/models.py`)"
SECTION_HEADER = f"""
{SECTION}

One line per case and run of `bench/models.py`; newest at the bottom. **ours s** / **baseline s**:
median wall time of **reps** repetitions of fit + predict on all **rows** (same data, same base
estimator: LightGBM, 200 trees, 15 leaves, one thread); **ratio** = ours s / baseline s (below 1:
ours is faster); **max abs diff**: largest difference between our and the baseline's predicted
uplift; **qini / oracle**: our Qini coefficient on a held-out sample (100k rows) over the one
of the true uplift; **load avg**: 1-minute load average at the start / end of the timed part (2
cores: above 2 means other work shared the machine).

"""
COLUMNS = ("date", "machine", "suite", "case", "rows", "reps", "ours s", "baseline", "baseline s",
           "ratio", "max abs diff", "qini / oracle", "peak RSS MB", "load avg", "commit / src")
ALIGN = ("---", "---", "---", "---", "---:", "---:", "---:", "---", "---:", "---:", "---:", "---:",
         "---:", "---", "---")


# -- uplift suite -------------------------------------------------------------------------------
HOLDOUT_ROWS = 100_000
WARMUP_ROWS = 2_000


def uplift_data(rows: int, seed: int) -> dict:
    from jingzhun.simulate.uplift import model_matrix, simulate_uplift_population

    frame, truth = simulate_uplift_population(rows, seed=seed)
    return {"X": model_matrix(frame), "y": frame["converted"].to_numpy(),
            "t": frame["treatment"].to_numpy(), "tau": truth.tau}


@functools.cache
def _uplift_holdout(seed: int) -> dict:
    return uplift_data(HOLDOUT_ROWS, seed + 1)


def _head(d: dict, n: int) -> dict:
    return {k: v.iloc[:n] if hasattr(v, "iloc") else v[:n] for k, v in d.items()}


def _lgbm():
    import lightgbm as lgb

    from jingzhun.predict.uplift import _LGBM_DEFAULTS

    return lgb.LGBMClassifier(random_state=0, **_LGBM_DEFAULTS)


def _ours(key: str):
    def run(d: dict):
        from jingzhun.predict.uplift import make_learner

        return make_learner(key, "binary").fit(d["X"], d["y"], d["t"])
    return run


def _sklift(name: str):
    def run(d: dict):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            from sklift import models

            model = {"SoloModel": lambda: models.SoloModel(_lgbm()),
                     "TwoModels": lambda: models.TwoModels(_lgbm(), _lgbm()),
                     "ClassTransformation": lambda: models.ClassTransformation(_lgbm())}[name]()
            return model.fit(d["X"], d["y"], d["t"])
    return run


def uplift_cases() -> list[dict]:
    return [
        {"case": "S-learner", "ours": _ours("s"), "baseline": ("sklift SoloModel", _sklift("SoloModel"))},
        {"case": "T-learner", "ours": _ours("t"), "baseline": ("sklift TwoModels", _sklift("TwoModels"))},
        {"case": "X-learner", "ours": _ours("x"), "baseline": None},
        {"case": "class transformation", "ours": _ours("ct"),
         "baseline": ("sklift ClassTransformation", _sklift("ClassTransformation"))},
        {"case": "transformed outcome", "ours": _ours("to"), "baseline": None},
    ]


def uplift_quality(model, out, data: dict, seed: int) -> float:
    """Qini coefficient of ``model`` on a fresh sample over the oracle's (the true uplift)."""
    from jingzhun.predict.uplift import qini_auc_score

    d = _uplift_holdout(seed)
    u = model.predict(d["X"])
    return qini_auc_score(d["y"], u, d["t"]) / qini_auc_score(d["y"], d["tau"], d["t"])


def uplift_compare(ours, base, data: dict) -> float:
    """Largest difference between our and the baseline's predicted uplift."""
    import numpy as np

    return float(np.abs(np.asarray(ours, dtype=float) - np.asarray(base, dtype=float)).max())


# -- cluster suite ------------------------------------------------------------------------------
# group -> (share, orders mean, spend per order, recency days, tenure days, discount share,
#           category entropy, price index, views, carts, main category, share of the main category)
# (tests/segment/test_cluster.py's four groups plus a fifth, with unequal sizes)
CLUSTER_GROUPS = {
    "vip": (0.10, 9.0, 450.0, 10, 700, 0.10, 1.6, 1.4, 30, 8, "女装", 0.4),
    "deal_beauty": (0.25, 4.0, 90.0, 40, 400, 0.85, 0.3, 0.7, 10, 4, "美妆", 0.95),
    "lapsed": (0.30, 1.0, 120.0, 400, 420, 0.30, 0.0, 1.0, 0, 0, "食品", 0.3),
    "new_browser": (0.20, 1.2, 200.0, 8, 10, 0.20, 0.1, 1.0, 45, 10, "数码", 0.3),
    "family_bulk": (0.15, 5.0, 260.0, 25, 550, 0.40, 1.0, 0.9, 12, 5, "母婴", 0.7),
}
CATEGORIES = ("女装", "男装", "美妆", "食品", "母婴", "数码", "家居", "运动")
CLUSTER_K = len(CLUSTER_GROUPS)
KMEANS_N_INIT = 10  # CustomerClusters' k-means: n_init=10, random_state=0


def cluster_data(rows: int, seed: int) -> dict:
    """``rows`` customer profiles (the clustering features + ``top_category``) drawn from the
    planted groups, vectorised; ``truth``: the group of each row; ``Z``: the features as
    ``CustomerClusters`` scales them (signed log1p of the skewed ones, standardised)."""
    import numpy as np
    import pandas as pd

    from jingzhun.segment.cluster import DEFAULT_FEATURES, _log_transform

    rng = np.random.default_rng(seed)
    p = np.array([g[1:] for g in CLUSTER_GROUPS.values()], dtype=object)
    share = np.array([g[0] for g in CLUSTER_GROUPS.values()])
    g = rng.choice(len(share), rows, p=share / share.sum())
    col = {name: np.asarray(p[:, i][g], dtype=float) for i, name in enumerate(
        ("orders", "aov", "rec", "ten", "disc", "ent", "pidx", "views", "carts"))}
    orders = np.where(col["orders"] > 1.5, np.maximum(1, rng.poisson(col["orders"])), 1)
    aov = col["aov"] * rng.lognormal(0, 0.25, rows)
    main = np.array([CATEGORIES.index(c) for c in p[:, 9]])[g]
    top = np.where(rng.random(rows) < np.asarray(p[:, 10], dtype=float)[g], main,
                   rng.integers(0, len(CATEGORIES), rows))
    frame = pd.DataFrame({
        "orders": orders.astype("int64"), "avg_order_value": aov, "monetary_net": orders * aov,
        "recency_days": np.maximum(0, rng.normal(col["rec"], col["rec"] * 0.25 + 2)).round()
        .astype("int64"),
        "tenure_days": np.maximum(0, rng.normal(col["ten"], col["ten"] * 0.2 + 2)).round()
        .astype("int64"),
        "discount_order_share": np.clip(rng.normal(col["disc"], 0.08), 0, 1),
        "category_entropy": np.clip(rng.normal(col["ent"], 0.15), 0, None),
        "price_index": rng.lognormal(np.log(col["pidx"]), 0.12),
        "views_90d": rng.poisson(col["views"]), "carts_90d": rng.poisson(col["carts"]),
        "top_category": pd.Categorical.from_codes(top, CATEGORIES),
    })
    logged = _log_transform(frame[list(DEFAULT_FEATURES)].astype(float))
    Z = ((logged - logged.mean()) / logged.std(ddof=0)).to_numpy(float)
    return {"X": frame, "Z": Z, "truth": g}


def _clusters(k):
    def run(d: dict):
        from jingzhun.segment.cluster import CustomerClusters

        return CustomerClusters(k, random_state=0).fit(d["X"])
    return run


def _kmeans(d: dict):
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=CLUSTER_K, n_init=KMEANS_N_INIT, random_state=0).fit(d["Z"])


def cluster_cases() -> list[dict]:
    base = ("sklearn KMeans (scaled)", _kmeans, lambda m, d: m.predict(d["Z"]))
    return [
        {"case": f"k given ({CLUSTER_K})", "ours": _clusters(CLUSTER_K), "baseline": base},
        {"case": "k by silhouette (2-10)", "ours": _clusters(None),
         "same_baseline_as": f"k given ({CLUSTER_K})", "note": lambda m: f"k={m.n_clusters_}"},
    ]


def cluster_quality(model, out, data: dict, seed: int) -> float:
    """Adjusted Rand index of the labels against the planted groups."""
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(data["truth"], out))


def cluster_compare(ours, base, data: dict) -> float:
    """Adjusted Rand index between our and the baseline's labels (1: the same partition)."""
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(ours, base))


# -- topics suite -------------------------------------------------------------------------------
TOPIC_GROUPS = 6          # planted interest groups (= n_topics given)
TOPIC_GROUP_TOKENS = 40   # tokens of each group: 1 category, 6 subcategories, 8 brands, 25 words
TOPIC_SHARED_TOKENS = 60  # words every group uses (packaging, editions, ...)
TOPIC_OWN_SHARE = 0.8     # share of a customer's token draws from their group's tokens
TOPIC_MAX_ITER = 10       # InterestTopics' default max_iter


def _topic_vocabulary() -> list[str]:
    names = []
    for g in range(TOPIC_GROUPS):
        names += [f"cat:c{g}"] + [f"sub:s{g}-{j}" for j in range(6)] + \
            [f"brand:b{g}-{j}" for j in range(8)] + [f"w{g}-{j:02d}" for j in range(25)]
    return names + [f"common-{j:02d}" for j in range(TOPIC_SHARED_TOKENS)]


def topics_data(rows: int, seed: int) -> dict:
    """``rows`` customers' token counts: each customer belongs to a planted group and draws
    2 + Poisson(3) tokens, 80% from the group's 40 tokens (Zipf-like weights), 20% from 60 shared
    ones. ``tokens``: the long frame ``InterestTopics`` takes (``customer_id, token, count``);
    ``X``: the same counts as a CSR matrix (customers and tokens in sorted order, as
    ``InterestTopics`` builds it); ``truth``: the group of each row of ``X``."""
    import numpy as np
    import pandas as pd
    from scipy import sparse

    rng = np.random.default_rng(seed)
    vocab = np.array(_topic_vocabulary(), dtype=object)
    rank = np.empty(len(vocab), dtype=np.int64)
    rank[np.argsort(vocab, kind="stable")] = np.arange(len(vocab))  # token id -> sorted column
    g = rng.integers(0, TOPIC_GROUPS, rows)
    m = 2 + rng.poisson(3, rows)
    row = np.repeat(np.arange(rows), m)
    w = 1.0 / np.arange(1, TOPIC_GROUP_TOKENS + 1) ** 0.8
    own = rng.choice(TOPIC_GROUP_TOKENS, row.size, p=w / w.sum()) + g[row] * TOPIC_GROUP_TOKENS
    shared = TOPIC_GROUPS * TOPIC_GROUP_TOKENS + rng.integers(0, TOPIC_SHARED_TOKENS, row.size)
    tok = rank[np.where(rng.random(row.size) < TOPIC_OWN_SHARE, own, shared)]
    key, count = np.unique(row * len(vocab) + tok, return_counts=True)
    r, c = key // len(vocab), key % len(vocab)
    X = sparse.csr_matrix((count.astype(float), (r, c)), shape=(rows, len(vocab)))
    ids = np.array([f"c{i:07d}" for i in range(rows)], dtype=object)  # sorted = row order
    tokens = pd.DataFrame({"customer_id": ids[r], "token": np.sort(vocab)[c],
                           "count": count.astype(float)})
    return {"tokens": tokens, "X": X, "truth": g}


def _topics(k):
    def run(d: dict):
        from jingzhun.segment.topics import InterestTopics

        return InterestTopics(k, random_state=0).fit(d["tokens"])
    return run


def _sk_lda(d: dict):
    from sklearn.decomposition import LatentDirichletAllocation

    return LatentDirichletAllocation(n_components=TOPIC_GROUPS, learning_method="batch",
                                     max_iter=TOPIC_MAX_ITER, random_state=0).fit(d["X"])


def topics_cases() -> list[dict]:
    # our fit already infers every customer's mix (topic_mix_): no second transform is timed
    ours_score = lambda m, d: m.topic_mix_.to_numpy()  # noqa: E731
    base = ("sklearn LDA, all rows", _sk_lda, lambda m, d: m.transform(d["X"]))
    return [
        {"case": f"k given ({TOPIC_GROUPS})", "ours": _topics(TOPIC_GROUPS), "score": ours_score,
         "baseline": base},
        {"case": "k by perplexity (2-8)", "ours": _topics(None), "score": ours_score,
         "same_baseline_as": f"k given ({TOPIC_GROUPS})", "note": lambda m: f"k={m.n_topics_}"},
    ]


def _matched_share(a, b) -> float:
    """Share of rows whose ``a`` label maps to their ``b`` label under the best one-to-one
    matching of the labels (Hungarian algorithm on the contingency table)."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    na, nb = int(a.max()) + 1, int(b.max()) + 1
    table = np.bincount(a * nb + b, minlength=na * nb).reshape(na, nb)
    i, j = linear_sum_assignment(table, maximize=True)
    return float(table[i, j].sum() / len(a))


def topics_quality(model, out, data: dict, seed: int) -> float:
    """Share of customers whose dominant topic is their planted group's, after best matching."""
    return _matched_share(out.argmax(axis=1), data["truth"])


def topics_compare(ours, base, data: dict) -> float:
    """Share of customers with the same dominant topic in our and the baseline's mix, after
    best matching of the topics."""
    return _matched_share(ours.argmax(axis=1), base.argmax(axis=1))


# -- suites and their tables in RESULTS.md --------------------------------------------------------
class Layout(NamedTuple):
    section: str     # heading line in RESULTS.md
    header: str      # heading + explanation
    columns: tuple   # table columns
    align: tuple
    step: str        # what a timed step is, for the printed report
    measure: str     # the quality measure
    cells: Callable  # row -> {column: text}, "case" first, for the columns between reps and RSS


class Suite(NamedTuple):
    build: Callable    # (rows, seed) -> data dict
    cases: Callable    # () -> list of case dicts
    quality: Callable  # (model, output, data, seed) -> float
    compare: Callable  # (our output, baseline output, data) -> float
    layout: Layout
    baseline_quality: bool  # also the baseline's quality (uplift: no, its held-out Qini only ours)


def _fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def uplift_cells(r: dict) -> dict:
    return {"case": r["case"], "ours s": _fmt(r["ours s"], ".3g"), "baseline": r["baseline"],
            "baseline s": _fmt(r["baseline s"], ".3g"), "ratio": _fmt(r["ratio"], ".2f"),
            "max abs diff": _fmt(r["diff"], ".1e"), "qini / oracle": _fmt(r["quality"], ".3f")}


def segment_cells(measure: str):
    def cells(r: dict) -> dict:
        return {"case": r["case"], "ours s": _fmt(r["ours s"], ".3g"), "baseline": r["baseline"],
                "baseline s": _fmt(r["baseline s"], ".3g"), "ratio": _fmt(r["ratio"], ".2f"),
                "quality": measure, "ours q": _fmt(r["quality"], ".3f"),
                "baseline q": _fmt(r["baseline quality"], ".3f"),
                "agreement": _fmt(r["diff"], ".3f"), "note": r["note"] or "-"}
    return cells


UPLIFT_LAYOUT = Layout(SECTION, SECTION_HEADER, COLUMNS, ALIGN, "fit + predict", "qini / oracle",
                       uplift_cells)
SEGMENT_SECTION = "## Segmentation models benchmark results (`bench/models.py`: cluster, topics)"
SEGMENT_HEADER = f"""
{SEGMENT_SECTION}

One line per case and run of `bench/models.py --suite cluster` / `--suite topics` on simulated
customers with planted groups; newest at the bottom. **ours s** / **baseline s**: median wall time
of the repetitions (**reps**: ours / baseline where they differ: a step that took over 180 s in its
first repetition is not repeated) of fit + labelling all **rows** (cluster: `CustomerClusters` fit
+ predict on the profile frame vs scikit-learn's bare `KMeans(5, n_init=10)` fit + predict on the
already-scaled matrix; topics: `InterestTopics` fit on the token frame, which fits LDA on a 20k
sample and infers every customer's mix, vs scikit-learn's `LatentDirichletAllocation` with the
same n_components / max_iter / seed fitted on all rows + transform). A "k by ..." case reuses the
"k given" case's baseline times from the same run. **ratio** = ours s / baseline s (below 1: ours
is faster). **quality**: ARI = adjusted Rand index of the labels vs the planted groups; topic
match = share of customers whose dominant topic is their planted group (best one-to-one
matching). **agreement**: the same measure between our and the baseline's labels. **note**: the k
chosen. **load avg**: 1-minute load average at the start / end of the timed part (2 cores: above 2
means other work shared the machine).

"""
SEGMENT_COLUMNS = ("date", "machine", "suite", "case", "rows", "reps", "ours s", "baseline",
                   "baseline s", "ratio", "quality", "ours q", "baseline q", "agreement", "note",
                   "peak RSS MB", "load avg", "commit / src")
SEGMENT_ALIGN = ("---", "---", "---", "---", "---:", "---:", "---:", "---", "---:", "---:", "---",
                 "---:", "---:", "---:", "---", "---:", "---", "---")


def _segment_layout(step: str, measure: str) -> Layout:
    return Layout(SEGMENT_SECTION, SEGMENT_HEADER, SEGMENT_COLUMNS, SEGMENT_ALIGN, step, measure,
                  segment_cells(measure))


SUITES = {  # name: (data builder, cases, quality, comparison, RESULTS.md layout, baseline quality)
    "uplift": Suite(uplift_data, uplift_cases, uplift_quality, uplift_compare, UPLIFT_LAYOUT, False),
    "cluster": Suite(cluster_data, cluster_cases, cluster_quality, cluster_compare,
                     _segment_layout("fit + predict", "ARI"), True),
    "topics": Suite(topics_data, topics_cases, topics_quality, topics_compare,
                    _segment_layout("fit + transform", "topic match"), True),
}


# -- the run ------------------------------------------------------------------------------------
def _predict_x(model, data: dict):
    return model.predict(data["X"])


def _timed(fit, score, data):
    """(seconds of ``fit(data)`` + ``score(model, data)``, fitted model, scores)."""
    t0 = time.perf_counter()
    model = fit(data)
    out = score(model, data)
    return time.perf_counter() - t0, model, out


def run_case(case: dict, data: dict, args, suite: Suite, done: dict) -> dict:
    """Time ``case`` (ours and its baseline alternating within each repetition). A side whose
    first repetition takes over ``args.slow_s`` seconds is not repeated. ``done``: the rows of
    the suite's earlier cases (for ``same_baseline_as``)."""
    base = case.get("baseline")
    sides = [("ours", case["ours"], case.get("score", _predict_x))]
    if base:
        sides.append(("baseline", base[1], base[2] if len(base) > 2 else _predict_x))
    warm = _head(data, WARMUP_ROWS)
    for _, fit, score in sides:
        score(fit(warm), warm)
    times = {name: [] for name, _, _ in sides}
    last, stopped = {}, set()
    for rep in range(args.repeat):
        for name, fit, score in sides:
            if name in stopped:
                continue
            log(f"  {case['case']}: {name} repetition {rep + 1}/{args.repeat}")
            secs, model, out = _timed(fit, score, data)
            times[name].append(secs)
            last[name] = (model, out)
            if rep == 0 and secs > args.slow_s and args.repeat > 1:
                stopped.add(name)
                log(f"  {case['case']}: {name} took {secs:.0f} s > {args.slow_s:.0f} s: "
                    "not repeated")
    model, out = last["ours"]
    note = case.get("note")
    row = {"case": case["case"], "ours s": statistics.median(times["ours"]),
           "ours all": times["ours"], "reps": len(times["ours"]),
           "baseline": base[0] if base else "-", "baseline s": None, "baseline all": None,
           "baseline reps": None, "ratio": None, "diff": None,
           "quality": suite.quality(model, out, data, args.seed), "baseline quality": None,
           "note": note(model) if note else None, "_out": out, "_base_out": None}
    if base:
        bmodel, bout = last["baseline"]
        row.update({"baseline s": statistics.median(times["baseline"]),
                    "baseline all": times["baseline"], "baseline reps": len(times["baseline"]),
                    "_base_out": bout})
        if suite.baseline_quality:
            row["baseline quality"] = suite.quality(bmodel, bout, data, args.seed)
    elif case.get("same_baseline_as") in done:
        prev = done[case["same_baseline_as"]]
        for key in ("baseline s", "baseline all", "baseline reps", "baseline quality", "_base_out"):
            row[key] = prev[key]
        row["baseline"] = f"{prev['baseline']} (as {prev['case']})"
    if row["baseline s"] is not None:
        row["ratio"] = row["ours s"] / row["baseline s"]
        row["diff"] = suite.compare(out, row["_base_out"], data)
    return row


def _reps(r: dict) -> str:
    b = r["baseline reps"]
    return str(r["reps"]) if b is None or b == r["reps"] else f"{r['reps']} / {b}"


def print_report(name: str, suite: Suite, rows: list[dict], n: int, repeat: int) -> None:
    table = [{**suite.layout.cells(r), "reps": _reps(r)} for r in rows]
    keys = list(table[0])
    width = {k: max(len(k), *(len(t[k]) for t in table)) for k in keys}
    print(f"\n{name}: {n:,} rows, median of {repeat} {suite.layout.step} runs (reps: ours / "
          f"baseline where a slow step was not repeated)")
    print("  ".join(k.rjust(width[k]) for k in keys))
    for t in table:
        print("  ".join(t[k].rjust(width[k]) for k in keys))
    for r in rows:
        runs = ", ".join(f"{s:.3g}" for s in r["ours all"])
        extra = "" if r["baseline all"] is None else \
            "; baseline: " + ", ".join(f"{s:.3g}" for s in r["baseline all"])
        print(f"  {r['case']}: ours: {runs}{extra}")
    print(f"ratio = ours s / baseline s (below 1: ours is faster); quality: {suite.layout.measure}")


def record(name: str, suite: Suite, rows: list[dict], args, loads: tuple[str, str],
           src0: str) -> None:
    lay = suite.layout
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    commit = f"{git_commit()} src:{src0}" + (" (src changed during the run!)"
                                             if src_hash() != src0 else "")
    head = "| " + " | ".join(lay.columns) + " |\n|" + "|".join(lay.align) + "|\n"
    lines = []
    for r in rows:
        c = lay.cells(r)
        middle = " | ".join(list(c.values())[1:])
        lines.append(f"| {now} | {machine()} | {name} | {c['case']} | {args.rows:,} | {_reps(r)} | "
                     f"{middle} | {_peak_rss_mb():,.0f} | {loads[0]} / {loads[1]} | {commit} |")
    insert_rows(lay.section, lay.header.lstrip("\n") + head, lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark jingzhun's models (fit + predict) against a baseline library's "
                    "equivalent on the same simulated data (uplift learners vs scikit-uplift, "
                    "customer clusters vs scikit-learn's KMeans, interest topics vs scikit-learn's "
                    "LDA on all rows); print medians and ratios and append them to "
                    "bench/RESULTS.md.")
    p.add_argument("--rows", type=int, default=None,
                   help="simulated rows (default 1,000,000; 100,000 with --quick)")
    p.add_argument("--repeat", type=int, default=None,
                   help="repetitions of each timed step; medians are reported (default 5; 3 with "
                        "--quick)")
    p.add_argument("--slow-s", type=float, default=180.0,
                   help="a step (ours or baseline) whose first repetition takes longer than this "
                        "many seconds is not repeated (default 180)")
    p.add_argument("--seed", type=int, default=20261206, help="random seed of the simulation")
    p.add_argument("--suite", choices=sorted(SUITES), action="append",
                   help="suite to run (repeatable; default: all)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 100k rows, 3 repetitions, not recorded (unless --record)")
    add_run_args(p)
    args = p.parse_args(argv)
    if args.rows is None:
        args.rows = 100_000 if args.quick else 1_000_000
    if args.repeat is None:
        args.repeat = 3 if args.quick else 5
    if args.record is None:
        args.record = not args.quick
    if args.rows < 1000 or args.repeat < 1:
        p.error("--rows must be >= 1000 and --repeat >= 1")
    args.suite = args.suite or sorted(SUITES)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    src0 = src_hash()
    print(f"machine: {machine()}; python {platform.python_version()}; commit {git_commit()}, "
          f"src {src0}; {args.rows:,} rows, {args.repeat} repetitions, seed {args.seed}")
    for name in args.suite:
        suite = SUITES[name]
        log(f"{name}: simulating {args.rows:,} rows ...")
        data = suite.build(args.rows, args.seed)
        load0 = load_1min()
        rows, done = [], {}
        for case in suite.cases():
            rows.append(run_case(case, data, args, suite, done))
            done[case["case"]] = rows[-1]
        loads = (load0, load_1min())
        print_report(name, suite, rows, args.rows, args.repeat)
        print(f"peak RSS {_peak_rss_mb():,.0f} MB; load average {loads[0]} -> {loads[1]}")
        if src_hash() != src0:
            print("warning: the engine's sources changed during the run")
        if args.record:
            record(name, suite, rows, args, loads, src0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
