"""The report's one number and language formatting (``report._text``): money in one style in English
and Chinese, true minus signs, a dash for missing values, and a clear error on an unknown language."""

from __future__ import annotations

import decimal
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from jingzhun.errors import InputError
from jingzhun.report import campaign_figures, customer_figures, value_figures
from jingzhun.report._text import (
    MISSING,
    currency_unit,
    finite_or_none,
    format_amount,
    format_count,
    format_money,
    format_percent,
    labels_for,
    no_data_figure,
    require_frame,
    signed,
    time_unit,
)

M = "\u2212"


def test_money_english_amount_then_code():
    assert format_money(1234.5, "CNY") == "1,234 CNY"  # whole units from 100 up (banker's rounding)
    assert format_money(1235.4, "CNY") == "1,235 CNY"
    assert format_money(12.5, "USD") == "12.50 USD"  # cents below 100
    assert format_money(99.994, "USD") == "99.99 USD" and format_money(100, "USD") == "100 USD"
    assert format_money(0, "CNY") == "0.00 CNY"
    assert format_money(1_234_567.8, "EUR") == "1,234,568 EUR"
    assert format_money(12.5, "USD", digits=0) == "12 USD"
    assert format_money(1234.5, "USD", digits=2) == "1,234.50 USD"


def test_money_chinese_names_cny_yuan_and_keeps_other_codes():
    assert format_money(1235, "CNY", lang="zh") == "1,235 元"
    assert format_money(12.5, "CNY", lang="zh") == "12.50 元"
    assert format_money(12.5, "USD", lang="zh") == "12.50 USD"
    assert currency_unit("CNY", "zh") == "元" and currency_unit("CNY", "en") == "CNY"
    assert currency_unit("USD", "zh") == "USD"


def test_negatives_have_a_true_minus_sign():
    assert format_money(-12.5, "USD") == f"{M}12.50 USD"
    assert format_money(-1234.5, "CNY", lang="zh") == f"{M}1,234 元"
    assert format_count(-3) == f"{M}3" and format_percent(-0.05) == f"{M}5.0%"
    assert format_amount(-1.5, digits=2) == f"{M}1.50"
    assert "-" not in format_money(-1e6, "CNY")
    # nothing rounds to a signed zero
    assert format_money(-0.001, "CNY") == "0.00 CNY" and format_count(-0.2) == "0"
    assert format_percent(-0.0000001) == "0.0%"
    assert signed("-1.5 to -0.5") == f"{M}1.5 to {M}0.5"


@pytest.mark.parametrize("bad", [None, math.nan, math.inf, -math.inf, np.nan, "n/a", pd.NA])
def test_missing_or_non_finite_is_a_dash(bad):
    assert format_money(bad, "CNY") == MISSING == "–"  # no unit after a dash
    assert format_money(bad, "CNY", lang="zh") == "–"
    assert format_count(bad) == "–" and format_percent(bad) == "–" and format_amount(bad) == "–"
    assert format_money(bad, "CNY", missing="n/a") == "n/a"
    assert format_percent(bad, missing="无") == "无"


def test_counts_and_percents():
    assert format_count(12345) == "12,345" and format_count(np.int64(7)) == "7" and format_count(2.6) == "3"
    assert format_percent(0.99123) == "99.1%" and format_percent(19) == "1,900.0%"
    assert format_money(decimal.Decimal("12.5"), "CNY") == "12.50 CNY"  # warehouse money is DECIMAL


def test_finite_or_none():
    assert finite_or_none(2) == 2.0 and isinstance(finite_or_none(np.float32(1.5)), float)
    for bad in (None, math.nan, math.inf, True, "1.0", [1]):
        assert finite_or_none(bad) is None


def test_labels_for_names_the_bad_language_and_the_known_ones():
    table = {"en": {"a": "A"}, "zh": {"a": "甲"}}
    assert labels_for(table, "zh")["a"] == "甲"
    with pytest.raises(InputError, match=r"lang must be one of \['en', 'zh'\], got 'fr'"):
        labels_for(table, "fr")
    with pytest.raises(InputError, match="got None"):
        labels_for(table, None)


def test_time_unit():
    assert time_unit("W", "en") == "weeks" and time_unit("D", "zh") == "天"
    with pytest.raises(InputError, match="unit must be one of"):
        time_unit("M", "en")
    with pytest.raises(InputError, match="lang must be one of"):
        time_unit("W", "de")


def test_no_data_figure_and_require_frame():
    fig = no_data_figure("Title", "Nothing here")
    assert isinstance(fig, go.Figure) and len(fig.data) == 0
    assert fig.layout.title.text == "Title" and fig.layout.annotations[0].text == "Nothing here"
    frame = pd.DataFrame({"a": [1], "b": [2]})
    assert require_frame(frame, ("a",), "frame") is frame
    with pytest.raises(InputError, match=r"frame lacks column\(s\) \['c'\]"):
        require_frame(frame, ("a", "c"), "frame")
    with pytest.raises(InputError, match="must be a pandas DataFrame"):
        require_frame({"a": [1]}, ("a",), "frame")


def test_every_figure_module_rejects_an_unknown_language_the_same_way():
    cells = pd.DataFrame({"r_score": [1], "f_score": [1], "customers": [1], "monetary_mean": [1.0]})
    calls = [lambda: customer_figures.rfm_heatmap_reading(cells, lang="fr"),
             lambda: value_figures.clv_reading([1.0], lang="fr"),
             lambda: campaign_figures.plan_funnel_reading({}, lang="fr")]
    for call in calls:
        with pytest.raises(InputError, match=r"lang must be one of \['en', 'zh'\], got 'fr'"):
            call()


def test_one_money_style_across_the_report():
    """The same amount reads the same in the customer, value and campaign readings."""
    segments = pd.DataFrame({"segment": ["a"], "label": ["A"], "customers": [10], "monetary_total": [1234.5]})
    assert "(1,234 CNY)" in customer_figures.segment_value_reading(segments)
    assert "1,234 CNY" in value_figures.clv_reading([1234.5])
    evaluation = {"economics": [{"arm": "treatment", "incremental_revenue": 1234.5,
                                 "incremental_profit": 12.5, "cost": 0.0}]}
    roi = campaign_figures.roi_reading(evaluation)
    assert "brought 1,234 CNY of incremental revenue and 12.50 CNY" in roi
    zh = campaign_figures.roi_reading(evaluation, lang="zh")
    assert "1,234 元" in zh and "1,234 元" in value_figures.clv_reading([1234.5], lang="zh")
