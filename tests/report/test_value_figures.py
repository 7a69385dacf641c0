"""Customer-value figure and readings: the CLV distribution, and the sentences under the BTYD checking
figures, built from tables made by ``predict.btyd.checking`` on a model at the CDNOW estimates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from jingzhun.errors import InputError
from jingzhun.report.value_figures import (
    calibration_holdout_reading,
    clv_distribution_figure,
    clv_reading,
    probability_alive_reading,
    tracking_reading,
)

# --------------------------------------------------------------------------- CLV


def test_clv_reading_numbers():
    # ten customers: total 1,500; median (50 + 60) / 2 = 55; mean 150; top 20% = 600 + 500 = 73.3%
    clv = [0, 10, 20, 40, 50, 60, 100, 120, 500, 600, np.nan]
    text = clv_reading(clv)
    assert text == ("Over the next 52 weeks the median customer is predicted to bring 55.00 CNY and the "
                    "average one 150 CNY; the top 20% of customers hold 73.3% of the total predicted "
                    "value of 1,500 CNY.")
    zh = clv_reading(clv, currency="USD", horizon_weeks=26, lang="zh")
    assert zh == ("未来 26 周，客户预测价值的中位数为 55.00 USD，平均为 150 USD；价值最高的 20% 客户贡献了"
                  "总预测价值 1,500 USD 的 73.3%。")
    assert "中位数为 55.00 元" in clv_reading(clv, lang="zh")  # CNY is 元 in Chinese


def test_clv_distribution_figure():
    rng = np.random.default_rng(0)
    clv = np.r_[rng.gamma(0.5, 200.0, 2_000), 1e6, np.nan]
    fig = clv_distribution_figure(clv)
    bar = fig.data[0]
    assert isinstance(bar, go.Bar) and int(np.sum(bar.y)) == 2_001  # NaN dropped, the outlier kept
    finite = clv[np.isfinite(clv)]
    assert max(bar.x) < np.percentile(finite, 99)  # the axis stops at the 99th percentile
    texts = [a.text for a in fig.layout.annotations]
    assert f"Median {np.median(finite):,.2f} CNY" in texts
    assert any("top 1%" in t and "1,000,000 CNY" in t for t in texts)
    assert fig.layout.xaxis.title.text == "Predicted CLV over the next 52 weeks (CNY)"
    assert fig.layout.yaxis.title.text == "Customers (count)"
    zh = clv_distribution_figure(clv, currency="USD", horizon_weeks=26, lang="zh")
    assert zh.layout.xaxis.title.text == "未来 26 周预测客户价值（USD）"
    assert zh.layout.title.text == "未来 26 周的客户预测价值"
    assert clv_distribution_figure(clv, lang="zh").layout.xaxis.title.text == "未来 52 周预测客户价值（元）"


@pytest.mark.parametrize("clv", [[], [np.nan, np.nan]])
def test_clv_empty(clv):
    assert len(clv_distribution_figure(clv).data) == 0
    assert clv_reading(clv) == "No customer has a predicted value."
    assert clv_reading(clv, lang="zh") == "尚无客户的预测价值。"


def test_clv_all_zero():
    fig = clv_distribution_figure(np.zeros(7))
    assert int(np.sum(fig.data[0].y)) == 7
    assert clv_reading(np.zeros(7)) == "Over the next 52 weeks no customer is predicted to bring any value."


# --------------------------------------------------------------------------- BTYD readings


def test_calibration_holdout_reading(tables):
    table = tables["calibration"]
    n = table["n_customers"]
    actual = (n * table["actual_purchases_mean"]).sum() / n.sum()
    expected = (n * table["expected_purchases_mean"]).sum() / n.sum()
    text = calibration_holdout_reading(table)
    assert text.startswith(f"In the hold-out period customers made {actual:.2f} repeat purchases each on "
                           f"average against {expected:.2f} predicted (")
    rel = abs(expected - actual) / actual * 100
    assert f"{rel:.1f}% {'over' if expected > actual else 'under'}" in text
    worst = (n * (table["actual_purchases_mean"] - table["expected_purchases_mean"]).abs()).idxmax()
    assert f"the {n[worst]:,} customers with {worst} calibration purchases" in text
    zh = calibration_holdout_reading(table, lang="zh")
    assert zh.startswith(f"验证期内客户人均实际重复购买 {actual:.2f} 次，模型预测 {expected:.2f} 次（")
    assert "nan" not in text.lower() + zh.lower()


def test_calibration_holdout_reading_degenerate(tables):
    one = tables["calibration"].iloc[:1]
    assert "largest gap" not in calibration_holdout_reading(one)
    zero = tables["calibration"].assign(actual_purchases_mean=0.0)
    assert "over" not in calibration_holdout_reading(zero)  # no relative error on a zero base
    assert calibration_holdout_reading(tables["calibration"].iloc[:0]) == ("No customer is in the "
                                                                           "hold-out comparison.")


def test_tracking_reading(tables):
    table = tables["tracking"]
    last, cal = table.iloc[-1], table[table["is_calibration"]].iloc[-1]
    text = tracking_reading(table)
    assert text.startswith(f"Over the whole 30 weeks the model predicted {last['expected_cumulative']:,.0f} "
                           f"repeat purchases against {last['actual_cumulative']:,} observed (")
    hold_actual = last["actual_cumulative"] - cal["actual_cumulative"]
    assert "after the first 20 weeks (the hold-out period)" in text and f"against {hold_actual:,}" in text
    zh = tracking_reading(table, unit="D", lang="zh")
    assert zh.startswith("在整个 30 天内，模型预测重复购买") and "其中前 20 天之后的验证期" in zh
    no_cal = tracking_reading(table.assign(is_calibration=False))
    assert "hold-out" not in no_cal
    assert tracking_reading(table.iloc[:0]) == "No period to compare."


def test_probability_alive_reading(tables):
    matrix = tables["alive"]
    text = probability_alive_reading(matrix)
    late, early = matrix.loc[5, 38.0], matrix.loc[5, 9.0]  # the largest recency and the nearest to 38 / 4
    assert text == (f"A customer with 5 repeat purchases (first purchase 38.9 weeks ago) is "
                    f"{100 * late:.1f}% likely to still be active if the last came 38 weeks after the "
                    f"first, but {100 * early:.1f}% if it came after 9 weeks.")
    zh = probability_alive_reading(matrix, lang="zh")
    assert zh.startswith("有 5 次重复购买的客户（首次购买在 38.9 周前），若最后一次购买在首次购买后第 38 周")
    assert f"则为 {100 * early:.1f}%" in zh
    two = probability_alive_reading(matrix, frequency=2)
    assert two.startswith("A customer with 2 repeat purchases")
    only_zero = probability_alive_reading(matrix.iloc[:1])
    assert only_zero.startswith("A customer without repeat purchases") and "nan" not in only_zero.lower()
    assert probability_alive_reading(pd.DataFrame()) == "No probability to read."


def test_bad_arguments(tables):
    with pytest.raises(InputError, match="lang"):
        clv_reading([1.0], lang="fr")
    with pytest.raises(InputError, match="lang"):
        calibration_holdout_reading(tables["calibration"], lang="fr")
    with pytest.raises(InputError, match="unit"):
        tracking_reading(tables["tracking"], unit="M")
    with pytest.raises(InputError, match="expected_cumulative"):
        tracking_reading(tables["tracking"].drop(columns="expected_cumulative"))
    with pytest.raises(InputError, match="frequency"):
        probability_alive_reading(tables["alive"], frequency=99)
    with pytest.raises(InputError, match="numbers"):
        clv_distribution_figure(["a", "b"])


def test_figures_are_self_contained_and_leave_plotly_settings_alone():
    import plotly.io as pio

    from jingzhun.report.customer_figures import lifecycle_funnel_figure
    from jingzhun.report.health_figures import quarantine_figure

    template, renderer = pio.templates.default, pio.renderers.default
    figures = [clv_distribution_figure([1.0, 2.0, 50.0], lang="zh"),
               lifecycle_funnel_figure(pd.DataFrame({"lifecycle_stage": ["new"], "customers": [3]})),
               quarantine_figure(pd.DataFrame({"table_name": ["orders"], "reason_code": ["x"], "rows": [2]}))]
    assert (pio.templates.default, pio.renderers.default) == (template, renderer)
    for fig in figures:
        assert "http" not in fig.to_json()  # nothing to fetch: the figure renders offline
