"""The uplift figures: one Qini trace per model with its coefficient in the legend plus the random
and perfect curves, bars with interval error bars per score bin, titled axes in English and
Chinese, and no global Plotly setting changed."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from jingzhun.errors import InputError
from jingzhun.predict.uplift_metrics import perfect_qini_curve, qini_auc_score, qini_curve, uplift_by_decile
from jingzhun.report.uplift_figures import (
    qini_curve_points,
    qini_curves_figure,
    qini_figure,
    qini_reading,
    uplift_by_decile_figure,
    uplift_deciles_reading,
)


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(3)
    n = 4_000
    t = rng.binomial(1, 0.5, n)
    true_uplift = rng.uniform(-0.05, 0.15, n)
    y = rng.binomial(1, 0.2 + t * true_uplift).astype(float)
    scores = {"oracle": true_uplift, "noisy": true_uplift + rng.normal(0, 0.1, n),
              "random": rng.normal(size=n)}
    return y, t, scores


def _has_cjk(s: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in s)


def test_qini_figure_has_a_trace_per_model_and_the_reference_curves(sample):
    y, t, scores = sample
    fig = qini_figure(y, t, scores)
    assert isinstance(fig, go.Figure)
    names = [trace.name for trace in fig.data]
    assert len(names) == 5
    for name, trace in zip(scores, fig.data[:3], strict=True):
        assert trace.name == f"{name} (Qini = {qini_auc_score(y, scores[name], t):.3f})"
        assert trace.x[0] == 0 and trace.x[-1] == y.size
    assert names[3:] == ["Random targeting", "Perfect model"]
    x_best, y_best = perfect_qini_curve(y, t)
    assert list(fig.data[3].x) == [0, y.size] and fig.data[3].y[-1] == pytest.approx(y_best[-1])
    np.testing.assert_allclose(fig.data[4].y, y_best)
    assert "count" in fig.layout.xaxis.title.text and fig.layout.title.text


def test_qini_figure_one_model_thins_long_curves(sample):
    y, t, scores = sample
    fig = qini_figure(y, t, {"noisy": scores["noisy"]}, max_points=100)
    assert len(fig.data) == 3
    assert len(fig.data[0].x) <= 100 and fig.data[0].x[0] == 0 and fig.data[0].x[-1] == y.size


def test_qini_figure_in_chinese(sample):
    y, t, scores = sample
    fig = qini_figure(y, t, scores, lang="zh")
    assert _has_cjk(fig.layout.title.text)
    assert _has_cjk(fig.layout.xaxis.title.text) and "人" in fig.layout.xaxis.title.text
    assert _has_cjk(fig.layout.yaxis.title.text)
    assert fig.data[-2].name == "随机投放" and fig.data[-1].name == "完美模型"
    assert "Qini 系数" in fig.data[0].name


def test_qini_figure_errors_name_the_model(sample):
    y, t, scores = sample
    with pytest.raises(InputError, match="model 'short'.*same length"):
        qini_figure(y, t, {"short": scores["noisy"][:-1]})
    with pytest.raises(InputError, match="non-empty mapping"):
        qini_figure(y, t, {})
    with pytest.raises(InputError, match="lang"):
        qini_figure(y, t, scores, lang="fr")


def test_uplift_by_decile_figure_bars_with_interval_error_bars(sample):
    y, t, scores = sample
    table = uplift_by_decile(y, scores["oracle"], t, alpha=0.1)
    fig = uplift_by_decile_figure(table)
    bars = fig.data[0]
    assert bars.type == "bar" and list(bars.x) == [str(b) for b in range(1, 11)]
    np.testing.assert_allclose(bars.y, table["uplift"])
    np.testing.assert_allclose(np.asarray(bars.y) + np.asarray(bars.error_y.array), table["ci_high"])
    np.testing.assert_allclose(np.asarray(bars.y) - np.asarray(bars.error_y.arrayminus), table["ci_low"])
    assert fig.data[1].name == "90 % interval"
    assert "1 = highest" in fig.layout.xaxis.title.text and "unit" in fig.layout.yaxis.title.text


def test_uplift_by_decile_figure_marks_bins_without_an_uplift_in_chinese():
    s = np.arange(20, dtype=float)[::-1]
    t = np.array([1] * 10 + [0, 1] * 5)
    table = uplift_by_decile(np.ones(20), s, t, bins=2)
    fig = uplift_by_decile_figure(table, lang="zh")
    assert [a.text for a in fig.layout.annotations] == ["无对照组样本"]
    assert _has_cjk(fig.layout.title.text) and _has_cjk(fig.layout.xaxis.title.text)
    assert fig.data[0].name == "增量"


def test_uplift_by_decile_figure_rejects_other_tables():
    import pandas as pd

    with pytest.raises(InputError, match="lacks column"):
        uplift_by_decile_figure(pd.DataFrame({"bin": [1], "uplift": [0.1]}))
    with pytest.raises(InputError, match="non-empty DataFrame"):
        uplift_by_decile_figure(pd.DataFrame())


def test_no_global_plotly_setting_changes(sample):
    y, t, scores = sample
    template, renderer = pio.templates.default, pio.renderers.default
    qini_figure(y, t, scores)
    uplift_by_decile_figure(uplift_by_decile(y, scores["oracle"], t))
    assert (pio.templates.default, pio.renderers.default) == (template, renderer)


def test_qini_curve_points_agree_with_the_metrics_at_the_kept_points(sample):
    import json

    y, t, scores = sample
    points = qini_curve_points(y, t, scores, max_points=50)
    json.dumps(points)  # JSON-ready: plain ints, floats and None
    assert list(points["learners"]) == list(scores)
    for name, curve in points["learners"].items():
        x_full, y_full = qini_curve(y, scores[name], t)
        assert len(curve["x"]) <= 50 and curve["x"][0] == 0 and curve["x"][-1] == y.size
        index = np.searchsorted(x_full, curve["x"])
        np.testing.assert_array_equal(x_full[index], curve["x"])
        np.testing.assert_allclose(y_full[index], curve["y"])
        assert curve["qini_auc"] == pytest.approx(qini_auc_score(y, scores[name], t))
    x_best, y_best = perfect_qini_curve(y, t)
    assert points["random"] == {"x": [0, y.size], "y": [0.0, pytest.approx(y_best[-1])]}
    assert points["perfect"]["x"][-1] == y.size and len(points["perfect"]["x"]) <= 50


def test_qini_curves_figure_draws_the_points_like_qini_figure(sample):
    y, t, scores = sample
    points = qini_curve_points(y, t, scores, max_points=1000)
    drawn, direct = qini_curves_figure(points), qini_figure(y, t, scores)
    assert [tr.name for tr in drawn.data] == [tr.name for tr in direct.data]
    for a, b in zip(drawn.data, direct.data, strict=True):
        np.testing.assert_allclose(a.y, b.y)
    points["learners"]["random"]["qini_auc"] = None
    zh = qini_curves_figure(points, lang="zh")
    assert zh.data[2].name == "random (Qini 系数 = 无)" and zh.data[-1].name == "完美模型"
    empty = qini_curves_figure({"learners": {}, "random": points["random"], "perfect": points["perfect"]})
    assert [tr.name for tr in empty.data] == ["Random targeting", "Perfect model"]
    with pytest.raises(InputError, match="points"):
        qini_curves_figure([1, 2])
    with pytest.raises(InputError, match="non-empty mapping"):
        qini_curve_points(y, t, {})


POINTS = {"learners": {"a": {"x": [0, 5, 10], "y": [0.0, 3.0, 4.0], "qini_auc": 0.25},
                       "b": {"x": [0, 5, 10], "y": [0.0, 1.0, 4.0], "qini_auc": 0.1}},
          "perfect": {"x": [0, 4, 10], "y": [0.0, 4.0, 4.0]}, "random": {"x": [0, 10], "y": [0.0, 4.0]}}


def test_qini_reading_reads_the_share_captured_by_the_top_30_percent():
    # top 30% = 3 of 10 customers: 3 / 5 * 3.0 = 1.8 of the total 4.0
    assert qini_reading(POINTS) == ("The best model, a, has a Qini coefficient of 0.25; targeting its top "
                                    "30% of customers captures 45.0% of the total incremental effect.")
    assert qini_reading(POINTS, lang="zh") == ("最佳模型 a 的 Qini 系数为 0.25；"
                                               "按其得分触达前 30% 的客户可获得全部增量效果的 45.0%。")
    worse = {**POINTS, "learners": {"c": {"x": [0, 10], "y": [0.0, -2.0], "qini_auc": -0.2}},
             "random": {"x": [0, 10], "y": [0.0, -2.0]}}
    assert qini_reading(worse) == ("The best model, c, has a Qini coefficient of \u22120.20 (no better than "
                                   "random targeting), but the campaign had no positive incremental effect "
                                   "overall (\u22122.00) to capture.")
    assert qini_reading({"learners": {"d": {"x": [0, 1], "y": [0, 0], "qini_auc": None}}}) == (
        "No model could be scored on the held-out customers.")
    with pytest.raises(InputError, match="lang"):
        qini_reading(POINTS, lang="fr")


def test_uplift_deciles_reading_compares_the_top_and_bottom_bins():
    uplifts = np.linspace(0.12, -0.03, 10)
    deciles = [{"bin": b, "uplift": u} for b, u in zip(range(1, 11), uplifts, strict=True)]
    assert uplift_deciles_reading(deciles) == (
        "Customers in the model's top tenth showed an observed uplift of +12.0 points against \u22123.0 "
        "points in its bottom tenth, so the ranking holds up on held-out customers.")
    assert "说明模型排序在留出客户上成立" in uplift_deciles_reading(deciles, lang="zh")
    money = [{"bin": 1, "uplift": -0.5}, {"bin": 2, "uplift": None}, {"bin": 3, "uplift": 1.25}]
    assert uplift_deciles_reading(money, outcome="revenue", currency="USD") == (
        "Customers in score bin 1 of 3 showed an observed uplift of \u22120.50 USD against +1.25 USD in "
        "score bin 3 of 3, so the ranking does not hold up on held-out customers.")
    table = uplift_by_decile(np.ones(20), np.arange(20.0)[::-1], np.array([1] * 10 + [0, 1] * 5), bins=2)
    assert uplift_deciles_reading(table).startswith("Only score bin 2 of 2 can be read")
    assert uplift_deciles_reading([]) == ("No score bin has both treated and control customers, so the "
                                          "observed uplift cannot be read.")
    with pytest.raises(InputError, match="lang"):
        uplift_deciles_reading([], lang="fr")
