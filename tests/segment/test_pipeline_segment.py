"""`segment_cluster` and `segment_topics` on a simulated retailer: tables written next to RFM
segments, JSON-ready results, a rerun replacing its rows, clear errors."""

from __future__ import annotations

import json
import shutil

import pytest

from jingzhun import pipeline
from jingzhun.errors import ConfigError
from jingzhun.ingest.pseudonymise import load_secrets
from jingzhun.pipeline_segment import segment_cluster, segment_topics
from jingzhun.simulate.retailer import TIMEZONE
from jingzhun.warehouse import Warehouse


@pytest.fixture(scope="module")
def retailer_db(tmp_path_factory):
    """A simulated retailer (800 customers), ingested and profiled, with RFM segments."""
    out = tmp_path_factory.mktemp("retailer")
    db, _ = pipeline.simulate_and_ingest(out, n_customers=800, seed=5,
                                         secrets=load_secrets(out / "secret.key"))
    with Warehouse(db) as wh:
        pipeline.profile_build(wh, timezone=TIMEZONE)
        pipeline.segment_rfm(wh, scheme="5")
    return db


@pytest.fixture
def wh(retailer_db, tmp_path):
    path = tmp_path / "w.duckdb"
    shutil.copy(retailer_db, path)
    with Warehouse(path) as w:
        yield w


def _rows(wh, sql, params=()):
    return wh.con.execute(sql, list(params)).fetchall()


def test_segment_cluster_writes_membership_and_clusters(wh):
    result = segment_cluster(wh, seed=0, k_range=(2, 6))
    json.dumps(result, ensure_ascii=False, allow_nan=False)
    buyers = _rows(wh, "SELECT count(*) FROM customer_profile WHERE orders > 0")[0][0]
    assert result["customers"] == buyers and result["k_chosen_by"] == "silhouette"
    assert 2 <= result["k"] <= 6 and set(result["silhouette"]) == {"2", "3", "4", "5", "6"}
    assert result["k"] == int(max(result["silhouette"], key=result["silhouette"].get))
    assert _rows(wh, "SELECT count(*), count(DISTINCT customer_id), count(label_en), count(label_zh) "
                     "FROM segments WHERE scheme = 'cluster'")[0] == (buyers, buyers, buyers, buyers)
    # the RFM rows are untouched, with their scores; cluster rows have none
    assert _rows(wh, "SELECT count(*) FROM segments WHERE scheme = '5' AND r_score IS NULL "
                     "AND segment <> 'prospect'")[0][0] == 0
    assert _rows(wh, "SELECT count(r_score) FROM segments WHERE scheme = 'cluster'")[0][0] == 0
    clusters = wh.con.execute("SELECT * FROM segment_clusters ORDER BY cluster").df()
    assert list(clusters["cluster"]) == list(range(result["k"]))
    assert clusters["size"].sum() == buyers
    assert clusters["share"].sum() == pytest.approx(1) and clusters["value_share"].sum() == pytest.approx(1)
    assert clusters["description_en"].str.len().min() > 10 and clusters["description_zh"].str.len().min() > 5
    assert (clusters["run_id"] == result["run_id"]).all() and (clusters["method"] == "kmeans").all()
    sizes = dict(_rows(wh, "SELECT segment, count(*) FROM segments WHERE scheme = 'cluster' GROUP BY 1"))
    assert sizes == {f"cluster_{c}": s for c, s in zip(clusters["cluster"], clusters["size"], strict=True)}
    for c in result["clusters"]:
        assert c["name_en"] and c["name_zh"] and c["description_en"] and c["description_zh"]
    # the retailer's profile summary works on the stored cluster rows too
    assert pipeline.segment_rfm(wh, scheme="5")["scheme"] == "5"
    assert _rows(wh, "SELECT count(*) FROM segments WHERE scheme = 'cluster'")[0][0] == buyers


def test_segment_cluster_rerun_replaces_rows_and_same_seed_same_labels(wh):
    first = segment_cluster(wh, n_clusters=3, seed=1)
    labels = _rows(wh, "SELECT customer_id, segment FROM segments WHERE scheme = 'cluster' ORDER BY 1")
    again = segment_cluster(wh, n_clusters=3, seed=1)
    assert again["run_id"] != first["run_id"] and again["k_chosen_by"] == "given"
    assert _rows(wh, "SELECT customer_id, segment FROM segments WHERE scheme = 'cluster' "
                     "ORDER BY 1") == labels
    assert _rows(wh, "SELECT count(*), count(DISTINCT run_id) FROM segment_clusters")[0] == (3, 1)
    assert [c["name_en"] for c in again["clusters"]] == [c["name_en"] for c in first["clusters"]]
    gmm = segment_cluster(wh, n_clusters=2, method="gmm", features=["orders", "monetary_net"])
    assert gmm["features"] == ["orders", "monetary_net"]
    assert _rows(wh, "SELECT count(*), max(method) FROM segment_clusters")[0] == (2, "gmm")


def test_segment_cluster_first_then_rfm(wh):
    wh.con.execute("DROP TABLE segments")
    result = segment_cluster(wh, n_clusters=2)
    pipeline.segment_rfm(wh, scheme="11")  # inserts into the table the clusters created
    counts = dict(_rows(wh, "SELECT scheme, count(*) FROM segments GROUP BY 1"))
    assert counts["cluster"] == result["customers"]
    assert counts["11"] == _rows(wh, "SELECT count(*) FROM customer_profile")[0][0]
    assert _rows(wh, "SELECT count(r_score) FROM segments WHERE scheme = '11'")[0][0] > 0


def test_segment_cluster_errors(wh, tmp_path):
    with pytest.raises(ConfigError, match="'no_such'"):
        segment_cluster(wh, n_clusters=3, features=["orders", "no_such"])
    with Warehouse(tmp_path / "empty.duckdb") as empty, pytest.raises(ConfigError, match="profile"):
        segment_cluster(empty)


def test_segment_topics_writes_topics_and_mixes(wh):
    result = segment_topics(wh, n_topics=4, seed=0)
    json.dumps(result, ensure_ascii=False, allow_nan=False)
    assert result["k"] == 4 and result["k_chosen_by"] == "given" and result["tokens"] > 20
    n = result["customers"]
    assert n > 100
    assert _rows(wh, "SELECT count(*), count(DISTINCT customer_id) FROM customer_topics")[0] == (4 * n, n)
    worst = _rows(wh, "SELECT max(abs(s - 1)) FROM (SELECT sum(weight) AS s FROM customer_topics "
                      "GROUP BY customer_id)")[0][0]
    assert worst < 1e-6
    topics = wh.con.execute("SELECT * FROM interest_topics ORDER BY topic").df()
    assert list(topics["topic"]) == [0, 1, 2, 3] and topics["label"].is_unique
    tokens = json.loads(topics["top_tokens"][0])
    assert {"token", "kind", "weight"} <= set(tokens[0])
    # the simulated retailer's Chinese categories appear among the topics' tokens
    cats = {t["token"] for label in topics["top_tokens"] for t in json.loads(label)
            if t["kind"] == "category"}
    assert cats & {"女装", "男装", "美妆", "食品", "母婴", "数码", "家居", "运动"}
    tagged = _rows(wh, "SELECT count(DISTINCT customer_id), min(weight), "
                       "count(*) FILTER (WHERE NOT starts_with(tag, 'interest:')) "
                       "FROM customer_topics WHERE is_interest")[0]
    assert tagged[0] == result["tagged_customers"] > 0 and tagged[1] >= 0.35 and tagged[2] == 0
    assert sum(t["customers"] for t in result["topics"]) >= result["tagged_customers"]


def test_segment_topics_rerun_replaces_rows(wh):
    first = segment_topics(wh, n_topics=2, seed=0)
    again = segment_topics(wh, seed=0, topic_range=(2, 3))
    assert again["k_chosen_by"] == "perplexity" and 2 <= again["k"] <= 3
    assert set(again["perplexity"]) == {"2", "3"}
    assert _rows(wh, "SELECT count(*), count(DISTINCT run_id) FROM interest_topics")[0] == \
        (again["k"], 1)
    assert _rows(wh, "SELECT count(*) FROM customer_topics")[0][0] == again["k"] * again["customers"]
    assert again["customers"] == first["customers"]
