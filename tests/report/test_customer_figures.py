"""Customer-base figures and readings: RFM grid, segments, lifecycle, clusters and interest topics,
in English and Chinese, with the readings' numbers computed by hand on small inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from jingzhun.errors import InputError
from jingzhun.report.customer_figures import (
    cluster_figure,
    cluster_reading,
    cluster_table,
    lifecycle_funnel_figure,
    lifecycle_reading,
    rfm_heatmap_figure,
    rfm_heatmap_reading,
    segment_value_figure,
    segment_value_reading,
    topics_figure,
    topics_reading,
)


@pytest.fixture
def cells() -> pd.DataFrame:
    # 1,000 customers; the largest cell R1 x F1 (400); top corner R>=4, F>=4: 100 + 50 = 150 (15.0%),
    # mean spend (100*500 + 50*300) / 150 = 433.33
    return pd.DataFrame({"r_score": [5, 5, 4, 1, 2], "f_score": [5, 1, 4, 1, 1],
                         "customers": [100, 300, 50, 400, 150],
                         "monetary_mean": [500.0, 100.0, 300.0, 50.0, 60.0]})


@pytest.fixture
def segments() -> pd.DataFrame:
    return pd.DataFrame({"segment": ["champions", "hibernating", "others"],
                         "label": ["Champions", "Hibernating", "Others"], "customers": [131, 500, 369],
                         "monetary_total": [412_000.0, 100_000.0, 488_000.0 - 76_000.0 - 100_000.0],
                         "clv_mean": [1000.0, 10.0, np.nan]})


@pytest.fixture
def stages() -> pd.DataFrame:
    return pd.DataFrame({"lifecycle_stage": ["lost", "active", "new", "at_risk", "dormant", "reactivated"],
                         "customers": [180, 450, 100, 150, 70, 50]})


@pytest.fixture
def clusters() -> list[dict]:
    """Two clusters in ClusterSummary.as_dict()'s shape (the keys the report reads)."""
    def cluster(k, size, share, value_share, en, zh):
        return {"cluster": k, "size": size, "share": share, "value_share": value_share,
                "centroid": {}, "population": {}, "z": {}, "top_category": None,
                "top_category_share": None, "name_en": en, "name_zh": zh,
                "description_en": f"{en} customers", "description_zh": f"{zh}客户", "traits": []}
    return [cluster(0, 120, 0.12, 0.45, "High-value loyal", "高价值忠诚"),
            cluster(1, 880, 0.88, 0.55, "Occasional", "偶尔购买")]


@pytest.fixture
def topics() -> list[dict]:
    def tokens(*words):
        return [{"token": w, "kind": "category", "weight": 0.3 - 0.05 * i} for i, w in enumerate(words)]
    return [{"topic": 0, "label": "运动·跑鞋·瑜伽", "tag": "interest:运动·跑鞋·瑜伽",
             "top_tokens": tokens("运动", "跑鞋", "瑜伽", "水杯"), "share": 0.31, "customers": 800},
            {"topic": 1, "label": "美妆·面霜·口红", "tag": "interest:美妆·面霜·口红",
             "top_tokens": tokens("美妆", "面霜", "口红", "精华"), "share": 0.234, "customers": 1234}]


def test_rfm_heatmap_figure(cells):
    fig = rfm_heatmap_figure(cells)
    trace = fig.data[0]
    assert isinstance(trace, go.Heatmap) and list(trace.x) == [1, 2, 3, 4, 5] == list(trace.y)
    z = np.asarray(trace.z)
    assert z[0, 0] == 400 and z[0, 4] == 300 and z[4, 4] == 100 and z[2, 2] == 0  # rows F, columns R
    assert trace.text[0][4] == "300" and "500 CNY" in trace.hovertext[4][4]
    assert "mean spend" not in trace.hovertext[2][2]  # an empty cell has no spend to show
    assert fig.layout.xaxis.title.text.startswith("Recency score R")
    zh = rfm_heatmap_figure(cells, currency="USD", lang="zh")
    assert zh.layout.yaxis.title.text.startswith("购买频次评分 F") and "500 USD" in zh.data[0].hovertext[4][4]


def test_rfm_heatmap_reading(cells):
    text = rfm_heatmap_reading(cells)
    assert text.startswith("The largest group is R 1 × F 1 with 400 customers (40.0% of 1,000);")
    assert "15.0% are in the top corner (R ≥ 4 and F ≥ 4" in text and "433 CNY each" in text
    zh = rfm_heatmap_reading(cells, currency="USD", lang="zh")
    assert zh.startswith("客户最多的格子是 R1×F1，共 400 人") and "15.0% 的客户位于右上角" in zh
    assert "433 USD" in zh
    assert "人均消费 433 元" in rfm_heatmap_reading(cells, lang="zh")  # CNY is 元 in Chinese


def test_rfm_degenerate(cells):
    empty = cells.iloc[:0]
    zeros = cells.assign(customers=0)
    for frame in (empty, zeros):
        assert len(rfm_heatmap_figure(frame).data) == 0
        assert rfm_heatmap_reading(frame) == "No customer has an RFM score yet."
    only_low = pd.DataFrame({"r_score": [1], "f_score": [2], "customers": [5], "monetary_mean": [np.nan]})
    text = rfm_heatmap_reading(only_low)
    assert "0.0% are in the top corner" in text and "nan" not in text.lower()
    unknown = cells.assign(monetary_mean=[np.nan, 100.0, np.nan, 50.0, 60.0])
    assert "mean spend" not in rfm_heatmap_figure(unknown).data[0].hovertext[4][4]  # unknown, not 0
    assert "spending" not in rfm_heatmap_reading(unknown)


def test_segment_value(segments):
    fig = segment_value_figure(segments)
    assert [t.name for t in fig.data] == ["Share of customers", "Share of spend"]
    assert list(fig.data[0].x) == ["Champions", "Others", "Hibernating"]  # by share of spend
    np.testing.assert_allclose(fig.data[1].y, [100 * 412 / 824, 100 * 312 / 824, 100 * 100 / 824])
    np.testing.assert_allclose(fig.data[0].y, [13.1, 36.9, 50.0])
    assert "mean CLV 1,000 CNY" in fig.data[0].hovertext[0] and "CLV" not in fig.data[0].hovertext[1]
    assert segment_value_reading(segments) == ("Champions are 13.1% of customers and bring 50.0% of spend "
                                               "(412,000 CNY).")
    zh = segment_value_reading(segments.assign(label=["重要价值", "沉睡", "其他"]), currency="USD", lang="zh")
    assert zh == "“重要价值”占客户的 13.1%，贡献了 50.0% 的消费额（412,000 USD）。"
    assert segment_value_figure(segments, lang="zh").data[1].name == "消费占比"


def test_segment_value_degenerate(segments):
    no_spend = segments.assign(monetary_total=0.0).drop(columns="clv_mean")
    assert len(segment_value_figure(no_spend).data) == 1
    assert segment_value_reading(no_spend).startswith("Hibernating is the largest segment with 50.0%")
    empty = segments.iloc[:0]
    assert len(segment_value_figure(empty).data) == 0
    assert segment_value_reading(empty, lang="zh") == "尚无客户被分入客群。"


def test_lifecycle(stages):
    fig = lifecycle_funnel_figure(stages)
    assert list(fig.data[0].x) == ["Prospect", "New", "Active", "Reactivated", "At risk", "Dormant", "Lost"]
    np.testing.assert_array_equal(fig.data[0].y, [0, 100, 450, 50, 150, 70, 180])
    assert fig.layout.yaxis.title.text == "Customers (count)"
    # 1,000 customers: active 600 (60.0%), lapsing 220 (22.0%), lost 180 (18.0%)
    assert lifecycle_reading(stages) == ("Of 1,000 customers, 60.0% are active (new, active or reactivated), "
                                         "22.0% are lapsing (at risk or dormant) and 18.0% are lost.")
    zh = lifecycle_funnel_figure(stages, lang="zh")
    # the stage names of the customer cards (profile.lifecycle.STAGE_LABELS)
    assert list(zh.data[0].x) == ["潜在客户", "新客", "活跃客户", "回流客户", "流失预警", "沉睡客户",
                                  "流失客户"]
    assert lifecycle_reading(stages, lang="zh") == ("在 1,000 名客户中，60.0% 处于活跃状态"
                                                    "（新客、活跃客户、回流客户），22.0% 正在流失"
                                                    "（流失预警、沉睡客户），18.0% 已流失。")


def test_lifecycle_unknown_stage_and_prospects(stages):
    more = pd.concat([stages, pd.DataFrame({"lifecycle_stage": ["vip", "prospect"], "customers": [0, 250]})])
    assert list(lifecycle_funnel_figure(more).data[0].x)[-1] == "vip"
    text = lifecycle_reading(more)
    assert text.startswith("Of 1,250 customers, 48.0% are active") and "20.0% have not bought yet" in text
    empty = stages.assign(customers=0)
    assert len(lifecycle_funnel_figure(empty).data) == 0
    assert lifecycle_reading(empty) == "No customer has a lifecycle stage yet."


def test_clusters(clusters):
    fig = cluster_figure(clusters)
    assert list(fig.data[0].x) == ["High-value loyal", "Occasional"]
    np.testing.assert_allclose(fig.data[0].y, [12.0, 88.0])
    np.testing.assert_allclose(fig.data[1].y, [45.0, 55.0])
    assert list(cluster_figure(clusters, lang="zh").data[0].x) == ["高价值忠诚", "偶尔购买"]
    want = ("“High-value loyal” is the most valuable cluster per customer: 12.0% of customers bring "
            "45.0% of the value, 3.8 times their share.")
    assert cluster_reading(clusters) == want
    assert "“高价值忠诚”" in cluster_reading(clusters, lang="zh")
    table = cluster_table(clusters)
    assert list(table.columns) == ["Cluster", "Customers", "Share of customers (%)", "Share of value (%)",
                                   "Description"]
    assert table.iloc[0].tolist() == ["High-value loyal", 120, 12.0, 45.0, "High-value loyal customers"]
    zh = cluster_table(clusters, lang="zh")
    assert list(zh.columns)[0] == "客户群" and zh.iloc[1, -1] == "偶尔购买客户"


def test_clusters_degenerate(clusters):
    no_value = [c | {"value_share": None} for c in clusters]
    assert len(cluster_figure(no_value).data) == 1
    assert cluster_reading(no_value) == "“Occasional” is the largest cluster with 88.0% of customers."
    assert np.isnan(cluster_table(no_value).iloc[0, 3])
    assert len(cluster_figure([]).data) == 0 and cluster_reading([]) == "No cluster."
    same = [c | {"name_en": "Loyal"} for c in clusters]
    assert list(cluster_figure(same).data[0].x) == ["Loyal (#0)", "Loyal (#1)"]
    with pytest.raises(InputError, match="name_en"):
        cluster_figure([{"cluster": 0, "size": 1, "share": 1.0, "value_share": 1.0}])


def test_topics(topics):
    fig = topics_figure(topics)
    assert list(fig.data[0].y) == ["美妆·面霜·口红", "运动·跑鞋·瑜伽"]  # most customers on top
    np.testing.assert_array_equal(fig.data[0].x, [1234, 800])
    assert fig.data[0].text[0] == "美妆 · 面霜 · 口红"  # the three heaviest tokens
    assert fig.layout.xaxis.title.text == "Customers with this interest (count)"
    assert topics_reading(topics) == ("The largest interest is “美妆·面霜·口红”: 1,234 customers count it "
                                      "among their interests and it makes up 23.4% of the customers' "
                                      "interest mix.")
    assert topics_reading(topics, lang="zh") == ("最大的兴趣主题是“美妆·面霜·口红”：1,234 名客户以其为兴趣，"
                                                 "占全部客户兴趣构成的 23.4%。")
    assert topics_figure(topics, lang="zh").layout.yaxis.title.text == "兴趣主题"


def test_topics_degenerate(topics):
    nobody = [t | {"customers": 0} for t in topics]
    assert len(topics_figure(nobody).data) == 0 and topics_reading(nobody) == "No interest topic."
    assert topics_reading([], lang="zh") == "暂无兴趣主题。"
    with pytest.raises(InputError, match="topics"):
        topics_figure({"topics": topics})


def test_bad_lang(cells, segments, stages, clusters, topics):
    for call in (lambda: rfm_heatmap_figure(cells, lang="fr"),
                 lambda: segment_value_reading(segments, lang="fr"),
                 lambda: lifecycle_reading(stages, lang="fr"), lambda: cluster_table(clusters, lang="fr"),
                 lambda: topics_reading(topics, lang="fr")):
        with pytest.raises(InputError, match="lang"):
            call()
    with pytest.raises(InputError, match="monetary_mean"):
        rfm_heatmap_figure(cells.drop(columns="monetary_mean"))
