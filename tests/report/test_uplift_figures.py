"""The uplift figures: one Qini trace per model with its coefficient in the legend plus the random
and perfect curves, bars with interval error bars per score bin, titled axes in English and
Chinese, and no global Plotly setting changed."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from jingzhun.errors import InputError
from jingzhun.predict.uplift_metrics import perfect_qini_curve, qini_auc_score, uplift_by_decile
from jingzhun.report.uplift_figures import qini_figure, uplift_by_decile_figure


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
