"""The BTYD checking figures: the right traces, titled axes with units in English and Chinese, finite
data, the calibration end marked, and no global Plotly setting changed."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from jingzhun.errors import InputError
from jingzhun.report.btyd_figures import (
    calibration_holdout_figure,
    probability_alive_heatmap,
    tracking_figure,
)


def all_finite(fig: go.Figure) -> bool:
    """Every numeric x, y, z of every trace finite; category labels non-empty strings."""
    for trace in fig.data:
        for key in ("x", "y", "z"):
            if getattr(trace, key, None) is None:
                continue
            values = np.asarray(getattr(trace, key))
            if values.dtype.kind in "OUS":
                if not all(isinstance(v, str) and v for v in values.ravel()):
                    return False
            elif not np.isfinite(values.astype(float)).all():
                return False
    return True


def test_calibration_holdout_figure(tables):
    table = tables["calibration"]
    fig = calibration_holdout_figure(table)
    assert isinstance(fig, go.Figure) and len(fig.data) == 2
    assert [t.name for t in fig.data] == ["Actual", "Model"]
    assert list(fig.data[0].x) == list(table.index) and fig.data[0].x[-1] == "7+"
    assert fig.layout.xaxis.title.text == "Repeat purchases in the calibration period (count)"
    assert "(count)" in fig.layout.yaxis.title.text and fig.layout.showlegend
    assert fig.layout.title.text
    np.testing.assert_array_equal(fig.data[1].y, table["expected_purchases_mean"])
    assert all_finite(fig)
    zh = calibration_holdout_figure(table, lang="zh")
    assert [t.name for t in zh.data] == ["实际值", "预测值"]
    assert zh.layout.xaxis.title.text == "校准期购买次数（次）"
    assert zh.layout.yaxis.title.text == "验证期人均购买次数（次）"


@pytest.mark.parametrize("cumulative", [True, False])
def test_tracking_figure(tables, cumulative):
    table = tables["tracking"]
    fig = tracking_figure(table, cumulative=cumulative)
    assert len(fig.data) == 2 and [t.name for t in fig.data] == ["Actual", "Model"]
    column = "expected_cumulative" if cumulative else "expected_transactions"
    np.testing.assert_allclose(fig.data[1].y, table[column])
    assert fig.layout.xaxis.title.text == "Time since the start (weeks)"
    assert fig.layout.yaxis.title.text.endswith("(count)")
    assert len(fig.layout.shapes) == 1 and fig.layout.shapes[0].x0 == 20.0  # end of the calibration
    assert fig.layout.annotations[0].text == "End of calibration"
    assert all_finite(fig)
    zh = tracking_figure(table, cumulative=cumulative, unit="D", lang="zh")
    assert zh.layout.xaxis.title.text == "距起始时间（天）"
    want = "累计重复购买次数（次）" if cumulative else "本期重复购买次数（次）"
    assert zh.layout.yaxis.title.text == want
    assert [t.name for t in zh.data] == ["实际值", "预测值"]
    assert zh.layout.annotations[0].text == "校准期结束"


def test_tracking_figure_without_calibration_rows(tables):
    table = tables["tracking"].assign(is_calibration=False)
    assert len(tracking_figure(table).layout.shapes) == 0


def test_probability_alive_heatmap(tables):
    matrix = tables["alive"]
    fig = probability_alive_heatmap(matrix)
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Heatmap)
    assert (fig.data[0].zmin, fig.data[0].zmax) == (0.0, 1.0)
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), matrix.to_numpy())
    assert fig.data[0].colorbar.title.text == "P(alive)"
    assert fig.layout.xaxis.title.text.endswith("(weeks)")
    assert fig.layout.yaxis.title.text == "Repeat purchases (count)"
    assert "38.86 weeks" in fig.layout.title.text
    assert all_finite(fig)
    zh = probability_alive_heatmap(matrix, lang="zh")
    assert zh.data[0].colorbar.title.text == "存活概率"
    assert zh.layout.yaxis.title.text == "重复购买次数（次）"
    assert zh.layout.xaxis.title.text.endswith("（周）")


def test_figures_are_self_contained_and_leave_plotly_settings_alone(tables):
    template, renderer = pio.templates.default, pio.renderers.default
    figures = [calibration_holdout_figure(tables["calibration"], lang="zh"),
               tracking_figure(tables["tracking"]), probability_alive_heatmap(tables["alive"])]
    assert (pio.templates.default, pio.renderers.default) == (template, renderer)
    for fig in figures:
        assert "http" not in fig.to_json()  # nothing to fetch: the figure renders offline


def test_bad_arguments_are_input_errors(tables):
    with pytest.raises(InputError, match="lang"):
        calibration_holdout_figure(tables["calibration"], lang="fr")
    with pytest.raises(InputError, match="unit"):
        tracking_figure(tables["tracking"], unit="M")
    with pytest.raises(InputError, match="expected_cumulative"):
        tracking_figure(tables["tracking"].drop(columns="expected_cumulative"))
    with pytest.raises(InputError, match="NaN"):
        calibration_holdout_figure(tables["calibration"].assign(actual_purchases_mean=np.nan))
