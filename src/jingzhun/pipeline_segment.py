"""Where clustering and interest topics meet storage (the ``segment`` half of ``pipeline.py`` beyond
RFM, apart to keep modules small): read the profile or the purchase and event tables, fit in
memory (``segment.cluster``, ``segment.topics``), write tables, return a JSON-ready summary.

Tables written (a rerun replaces the previous run's rows):

``segments``          rows with ``scheme = 'cluster'``: one per purchasing customer
                      (``customer_profile.orders > 0``): ``customer_id, scheme, segment``
                      (``cluster_<n>``), ``label_en, label_zh`` (the cluster's name), ``as_of``;
                      the RFM score columns stay null. (``pipeline._refresh_segments`` drops these
                      rows on a profile rebuild, as for any non-built-in scheme: rerun.)
``segment_clusters``  one row per cluster: ``cluster`` (0 = highest mean net spend), ``name_en,
                      name_zh, description_en, description_zh``, ``size`` (customers), ``share``
                      (of customers), ``value_share`` (of net spend), ``centroid`` (JSON, feature ->
                      mean in original units), ``z`` (JSON, feature -> z-score), ``top_category``,
                      ``top_category_share``, ``as_of``, and the run: ``run_id, method, k,
                      k_chosen_by, features`` (JSON), ``seed``, ``fitted_at`` (UTC).
``customer_topics``   one row per (customer with tokens, topic): ``customer_id, topic, weight``
                      (0..1, a customer's weights sum to 1), ``is_interest`` (weight >= the tag
                      threshold), ``tag`` (``interest:<label>`` when ``is_interest``), ``as_of,
                      run_id``.
``interest_topics``   one row per topic: ``topic, label, tag, top_tokens`` (JSON list of
                      ``{token, kind, weight}``), ``share`` (mean weight over customers),
                      ``customers`` (with the topic as an interest), ``as_of, run_id, k_chosen_by,
                      seed, fitted_at``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import pandas as pd

from jingzhun.errors import ConfigError
from jingzhun.pipeline import jsonable
from jingzhun.pipeline_results import record_result
from jingzhun.warehouse import Warehouse

SEGMENTS_TABLE = "segments"
CLUSTER_SCHEME = "cluster"
CLUSTERS_TABLE = "segment_clusters"
CUSTOMER_TOPICS_TABLE = "customer_topics"
TOPICS_TABLE = "interest_topics"
# the RFM rows' types (pipeline._write_segments creates the table from assign_segments' schema)
_SEGMENT_COLUMNS = {
    "customer_id": "VARCHAR", "scheme": "VARCHAR", "segment": "VARCHAR", "label_en": "VARCHAR",
    "label_zh": "VARCHAR", "r_score": "BIGINT", "f_score": "BIGINT", "m_score": "BIGINT",
    "rfm_cell": "VARCHAR", "as_of": "DATE"}
_CLUSTER_COLUMNS = {
    "cluster": "BIGINT", "name_en": "VARCHAR", "name_zh": "VARCHAR", "description_en": "VARCHAR",
    "description_zh": "VARCHAR", "size": "BIGINT", "share": "DOUBLE", "value_share": "DOUBLE",
    "centroid": "VARCHAR", "z": "VARCHAR", "top_category": "VARCHAR", "top_category_share": "DOUBLE",
    "as_of": "DATE", "run_id": "VARCHAR", "method": "VARCHAR", "k": "BIGINT",
    "k_chosen_by": "VARCHAR", "features": "VARCHAR", "seed": "BIGINT", "fitted_at": "TIMESTAMP"}
_CUSTOMER_TOPIC_COLUMNS = {
    "customer_id": "VARCHAR", "topic": "BIGINT", "weight": "DOUBLE", "is_interest": "BOOLEAN",
    "tag": "VARCHAR", "as_of": "DATE", "run_id": "VARCHAR"}
_TOPIC_COLUMNS = {
    "topic": "BIGINT", "label": "VARCHAR", "tag": "VARCHAR", "top_tokens": "VARCHAR",
    "share": "DOUBLE", "customers": "BIGINT", "as_of": "DATE", "run_id": "VARCHAR",
    "k_chosen_by": "VARCHAR", "seed": "BIGINT", "fitted_at": "TIMESTAMP"}


# -- clusters --------------------------------------------------------------------------------------
def segment_cluster(wh: Warehouse, *, n_clusters: int | None = None,
                    features: Sequence[str] | None = None, method: str = "kmeans", seed: int = 0,
                    k_range: tuple[int, int] = (2, 10)) -> dict:
    """Cluster the purchasing customers of the stored profile and store clusters and membership.

    Parameters
    ----------
    wh : Warehouse
        With a built ``customer_profile``.
    n_clusters : int, optional
        k; None chooses it in ``k_range`` by silhouette.
    features : sequence of str, optional
        Profile columns; default ``segment.cluster.DEFAULT_FEATURES``.
    method : {"kmeans", "gmm"}
    seed : int
        ``random_state`` of the model and of the selection sample.

    Returns
    -------
    dict
        JSON-serialisable: ``run_id, as_of, method, features, seed, customers, k, k_chosen_by``
        (``"given"``/``"silhouette"``), ``selection`` (list of ``{k, silhouette, inertia}``),
        ``silhouette`` and ``inertia`` (``{str(k): value}``), ``n_missing`` (feature -> values
        filled with the median) and ``clusters`` (list of ``ClusterSummary.as_dict()``: cluster,
        size, share, value_share, centroid, population, z, top_category, top_category_share,
        name_en, name_zh, description_en, description_zh, traits).
    """
    from jingzhun import pipeline
    from jingzhun.segment.cluster import CustomerClusters

    meta = pipeline._require_profile(wh)
    as_of = meta["as_of"]
    profile = wh.con.execute(f"SELECT * FROM {pipeline.PROFILE_TABLE} WHERE orders > 0 "
                             "ORDER BY customer_id").df()
    if profile.empty:
        raise ConfigError(f"the profile in {wh.path} has no customer with an order to cluster",
                          hint="ingest orders and rebuild the profile (jz profile build)")
    model = CustomerClusters(n_clusters, features=features, method=method, k_range=k_range,
                             random_state=seed).fit(profile)
    run_id = _run_id("cluster")
    fitted_at = datetime.now(UTC).replace(tzinfo=None)
    names = {c.cluster: (c.name_en, c.name_zh) for c in model.clusters_}
    members = pd.DataFrame({
        "customer_id": profile["customer_id"].astype(str).to_numpy(), "scheme": CLUSTER_SCHEME,
        "segment": [f"cluster_{j}" for j in model.labels_],
        "label_en": [names[j][0] for j in model.labels_],
        "label_zh": [names[j][1] for j in model.labels_], "as_of": as_of})
    clusters = pd.DataFrame([{
        "cluster": c.cluster, "name_en": c.name_en, "name_zh": c.name_zh,
        "description_en": c.description_en, "description_zh": c.description_zh, "size": c.size,
        "share": c.share, "value_share": c.value_share, "top_category": c.top_category,
        "top_category_share": c.top_category_share,
        "centroid": json.dumps(jsonable(c.centroid), ensure_ascii=False),
        "z": json.dumps(jsonable(c.z), ensure_ascii=False), "as_of": as_of, "run_id": run_id,
        "method": method, "k": model.n_clusters_, "k_chosen_by": model.k_chosen_by_,
        "features": json.dumps(list(model.features_)), "seed": seed, "fitted_at": fitted_at,
    } for c in model.clusters_])
    with wh.transaction():
        _create(wh, SEGMENTS_TABLE, _SEGMENT_COLUMNS)
        wh.con.execute(f'DELETE FROM "{SEGMENTS_TABLE}" WHERE scheme = ?', [CLUSTER_SCHEME])
        _append(wh, SEGMENTS_TABLE, members)
        _replace_all(wh, CLUSTERS_TABLE, _CLUSTER_COLUMNS, clusters)
    selection = _records(model.selection_)
    result = {"run_id": run_id, "as_of": str(as_of), "method": method,
              "features": list(model.features_), "seed": seed, "customers": len(profile),
              "k": model.n_clusters_, "k_chosen_by": model.k_chosen_by_, "selection": selection,
              "silhouette": {str(r["k"]): r["silhouette"] for r in selection},
              "inertia": {str(r["k"]): r["inertia"] for r in selection},
              "n_missing": model.n_missing_,
              "clusters": [jsonable(c.as_dict()) for c in model.clusters_]}
    record_result(wh, "cluster", result)
    return result


# -- topics ----------------------------------------------------------------------------------------
def segment_topics(wh: Warehouse, *, n_topics: int | None = None, seed: int = 0,
                   topic_range: tuple[int, int] = (2, 8), tag_threshold: float = 0.35) -> dict:
    """Learn interest topics from purchases (order lines) and product views/add-to-carts up to the
    profile's date (else the latest activity date), and store each customer's topic mix.

    Parameters
    ----------
    wh : Warehouse
        With ``orders``, ``order_lines``, ``products`` and (optionally filled) ``events``.
    n_topics : int, optional
        Number of topics; None chooses it in ``topic_range`` by held-out perplexity.
    seed : int
        ``random_state`` of LDA and of the held-out split.
    tag_threshold : float
        Topic weight (0..1) from which a topic is one of a customer's interests.

    Returns
    -------
    dict
        JSON-serialisable: ``run_id, as_of, seed, customers`` (with tokens), ``tokens``
        (vocabulary size), ``k, k_chosen_by`` (``"given"``/``"perplexity"``), ``selection``
        (list of ``{k, perplexity}``), ``perplexity`` (``{str(k): value}``), ``tag_threshold``,
        ``tagged_customers`` (with at least one interest) and ``topics`` (list of ``{topic, label,
        tag, top_tokens: [{token, kind, weight}], share, customers}``).
    """
    from jingzhun import pipeline
    from jingzhun.segment.topics import InterestTopics, customer_tokens, topic_weights

    meta = pipeline._profile_meta(wh)
    timezone = meta["timezone"] if meta else "UTC"
    as_of = meta["as_of"] if meta else pipeline.latest_activity_date(wh, timezone)
    if as_of is None:
        raise ConfigError(f"the warehouse {wh.path} has no orders or events to learn interests from",
                          hint="ingest orders, order lines and products first (jz ingest ...)")
    tables = _topic_inputs(wh, timezone)
    tokens = customer_tokens(tables["order_lines"], tables["orders"], tables["products"],
                             tables["events"], as_of=as_of)
    if tokens.empty:
        raise ConfigError(f"no purchase or product event on or before {as_of} has a known product",
                          hint="ingest order_lines and products (jz ingest ...)")
    model = InterestTopics(n_topics, topic_range=topic_range, random_state=seed,
                           tag_threshold=tag_threshold).fit(tokens)
    run_id = _run_id("topics")
    fitted_at = datetime.now(UTC).replace(tzinfo=None)
    tags = {t.topic: t.tag for t in model.topics_}
    weights = topic_weights(model.topic_mix_)
    weights["is_interest"] = weights["weight"] >= tag_threshold
    weights["tag"] = weights["topic"].map(tags).where(weights["is_interest"], None)
    weights = weights.assign(as_of=as_of, run_id=run_id)
    interested = weights[weights["is_interest"]].groupby("topic")["customer_id"].nunique()
    topics = [t.as_dict() | {"customers": int(interested.get(t.topic, 0))} for t in model.topics_]
    rows = pd.DataFrame([{
        "topic": t["topic"], "label": t["label"], "tag": t["tag"],
        "top_tokens": json.dumps(t["top_tokens"], ensure_ascii=False), "share": t["share"],
        "customers": t["customers"], "as_of": as_of, "run_id": run_id,
        "k_chosen_by": model.k_chosen_by_, "seed": seed, "fitted_at": fitted_at} for t in topics])
    with wh.transaction():
        _replace_all(wh, CUSTOMER_TOPICS_TABLE, _CUSTOMER_TOPIC_COLUMNS, weights)
        _replace_all(wh, TOPICS_TABLE, _TOPIC_COLUMNS, rows)
    selection = _records(model.selection_)
    result = {"run_id": run_id, "as_of": str(as_of), "seed": seed,
              "customers": len(model.topic_mix_), "tokens": len(model.vocabulary_),
              "k": model.n_topics_, "k_chosen_by": model.k_chosen_by_, "selection": selection,
              "perplexity": {str(r["k"]): r["perplexity"] for r in selection},
              "tag_threshold": tag_threshold,
              "tagged_customers": int(weights.loc[weights["is_interest"], "customer_id"].nunique()),
              "topics": topics}
    record_result(wh, "topics", result)
    return result


def _topic_inputs(wh: Warehouse, timezone: str) -> dict[str, pd.DataFrame]:
    """The columns ``customer_tokens`` needs; timestamps as naive local times in ``timezone``
    (the profile's calendar, so that ``as_of`` means the same day as in the profile)."""
    from jingzhun.segment.topics import EVENT_TYPES

    names = set(wh.table_names())
    for table in ("orders", "order_lines", "products"):
        if table not in names:
            raise ConfigError(f"the warehouse {wh.path} has no table {table!r}",
                              hint="ingest orders, order lines and products first (jz ingest ...)")
    q = wh.con.execute
    orders = q("SELECT order_id, customer_id, ordered_at, status FROM orders").df()
    lines = q("SELECT order_id, product_id, quantity FROM order_lines WHERE quantity > 0").df()
    products = q("SELECT product_id, name, category, subcategory, brand FROM products").df()
    if "events" in names:
        types = ", ".join(f"'{t}'" for t in EVENT_TYPES)
        events = q("SELECT customer_id, occurred_at, type, product_id FROM events WHERE customer_id "
                   f"IS NOT NULL AND product_id IS NOT NULL AND type IN ({types})").df()
    else:
        events = pd.DataFrame(columns=["customer_id", "occurred_at", "type", "product_id"])
    orders["ordered_at"] = _local(orders["ordered_at"], timezone)
    events["occurred_at"] = _local(events["occurred_at"], timezone)
    return {"orders": orders, "order_lines": lines, "products": products, "events": events}


def _local(stamps: pd.Series, timezone: str) -> pd.Series:
    """Naive UTC timestamps -> naive local times in ``timezone``."""
    s = pd.to_datetime(stamps)
    if s.dt.tz is None:
        s = s.dt.tz_localize("UTC")
    return s.dt.tz_convert(timezone).dt.tz_localize(None)


# -- storage helpers -------------------------------------------------------------------------------
def _run_id(kind: str) -> str:
    return f"{kind}-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def _create(wh: Warehouse, table: str, columns: dict[str, str]) -> None:
    cols = ", ".join(f'"{c}" {t}' for c, t in columns.items())
    wh.con.execute(f'CREATE TABLE IF NOT EXISTS "{table}" ({cols})')


def _append(wh: Warehouse, table: str, rows: pd.DataFrame) -> None:
    if rows.empty:
        return
    wh.con.register("_segment_rows", rows)
    try:
        wh.con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM _segment_rows')
    finally:
        wh.con.unregister("_segment_rows")


def _replace_all(wh: Warehouse, table: str, columns: dict[str, str], rows: pd.DataFrame) -> None:
    """Make ``table`` (created with ``columns`` when missing) hold exactly ``rows``."""
    _create(wh, table, columns)
    wh.con.execute(f'DELETE FROM "{table}"')
    _append(wh, table, rows[list(columns)])


def _records(frame: pd.DataFrame) -> list[dict]:
    return [jsonable({k: (int(v) if k == "k" else float(v)) for k, v in row.items()})
            for row in frame.to_dict(orient="records")]
