"""The campaign figures and their readings: numbers computed right on small hand-made plans and
evaluations, interval bars equal to the inputs, both languages, degenerate inputs never raising."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import plotly.io as pio
import pytest

from jingzhun.errors import InputError
from jingzhun.report import campaign_figures as cf

M = "\u2212"  # the readings write negative numbers with a minus sign

FORECAST = {"contacts": 500, "contacts_by_channel": {"sms": 300, "email": 200}, "contact_cost": 30.0,
            "offer_cost": 6.0, "cost": 36.0, "expected_incremental_conversions": 5.0,
            "incremental_revenue": 900.0, "incremental_profit": 250.0, "roi": 6.9444}
PLAN = {
    "funnel": [{"step": "in audience", "customers": 2000, "excluded": 0},
               {"step": "has consent", "customers": 1600, "excluded": 400},
               {"step": "not in quiet period", "customers": 1500, "excluded": 100},
               {"step": "positive value", "customers": 625, "excluded": 875},
               {"step": "within budget", "customers": 625, "excluded": 0},
               {"step": "treatment", "customers": 500, "excluded": 0},
               {"step": "control", "customers": 125, "excluded": 0}],
    "forecast": FORECAST,
    "mass_baseline": {"contacts": 1500, "contacts_by_channel": {"sms": 900, "email": 600},
                      "contact_cost": 40.0, "offer_cost": 0.0, "cost": 40.0,
                      "expected_incremental_conversions": 6.0, "incremental_revenue": 800.0,
                      "incremental_profit": 200.0, "roi": 5.0},
    "budget": 50.0,
}


def _comparison(arm, metric, lift, low, high, p):
    return {"arm": arm, "metric": metric, "lift_abs": lift, "ci_low": low, "ci_high": high,
            "p_value": p, "p_adjusted": p, "status": "ok"}


EVALUATION = {
    "alpha": 0.05, "margin": 0.5,
    "arms": [{"arm": "control", "is_control": True, "recipients": 200, "delivered_rate": 0.0,
              "click_rate": 0.0, "conversion_rate": 0.04, "revenue_per_recipient": 10.0, "cost": 0.0},
             {"arm": "treatment", "is_control": False, "recipients": 800, "delivered_rate": 0.95,
              "click_rate": 0.05, "conversion_rate": 0.05, "revenue_per_recipient": 12.0, "cost": 40.0}],
    "comparisons": [_comparison("treatment", "conversion", 0.01, -0.02, 0.04, 0.5243),
                    _comparison("treatment", "revenue_per_recipient", 2.0, -1.5, 5.5, 0.26)],
    "economics": [{"arm": "treatment", "incremental_conversions": 8.0, "incremental_revenue": 1600.0,
                   "incremental_profit": 760.0, "cost": 40.0, "roi": 19.0,
                   "cost_per_incremental_conversion": 5.0}],
}


def _has_cjk(s: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in s)


# --------------------------------------------------------------------------- the plan


def test_funnel_draws_the_steps_up_to_the_contacts_and_notes_the_control_group():
    fig = cf.plan_funnel_figure(PLAN)
    assert fig.data[0].type == "funnel"
    assert list(fig.data[0].x) == [2000, 1600, 1500, 625, 625, 500]
    assert list(fig.data[0].customdata) == [0, 400, 100, 875, 0, 0]
    assert "125" in fig.layout.annotations[0].text
    zh = cf.plan_funnel_figure(PLAN, lang="zh")
    assert list(zh.data[0].y)[:4] == ["目标人群", "已授权营销", "不在静默期", "预期价值为正"]
    assert _has_cjk(zh.layout.title.text)


def test_funnel_reading_names_the_biggest_drop_and_why():
    assert cf.plan_funnel_reading(PLAN) == (
        "Of 2,000 customers in the audience, 500 will be contacted (25.0%); the biggest drop is at "
        "“positive value”, where 875 were left out because contacting them is not expected to pay, "
        "and 125 are held out as a control group.")
    zh = cf.plan_funnel_reading(PLAN, lang="zh")
    assert "2,000" in zh and "“预期价值为正”" in zh and "875" in zh and zh.endswith("。")


def test_funnel_unknown_steps_and_missing_excluded_are_shown_as_given():
    plan = {"funnel": [{"step": "in audience", "customers": 10}, {"step": "vip only", "customers": 4}]}
    fig = cf.plan_funnel_figure(plan, lang="zh")
    assert list(fig.data[0].y) == ["目标人群", "vip only"] and list(fig.data[0].customdata) == [0, 6]
    assert "“vip only”, where 6 were left out." in cf.plan_funnel_reading(plan)


def test_budget_figure_stacks_the_costs_under_the_budget_line():
    fig = cf.plan_budget_figure(PLAN)
    assert [t.name for t in fig.data] == ["Contact cost", "Offer cost", "Unspent budget"]
    assert [t.x[0] for t in fig.data] == [30.0, 6.0, 14.0]
    assert fig.layout.shapes[0].x0 == 50.0 and "CNY" in fig.layout.xaxis.title.text
    by_channel = {**PLAN, "forecast": {**FORECAST, "contact_cost_by_channel": {"sms": 21.0, "email": 9.0}}}
    names = [t.name for t in cf.plan_budget_figure(by_channel, lang="zh").data]
    assert names == ["触达成本：短信", "触达成本：邮件", "优惠成本", "未使用预算"]


def test_budget_reading_says_what_share_of_the_budget_is_spent():
    assert cf.plan_budget_reading(PLAN) == ("The plan spends 36.00 of its 50.00 CNY budget (72.0%) on 500 "
                                            "contacts (300 SMS, 200 email).")
    assert cf.plan_budget_reading(PLAN, lang="zh") == ("该计划在 50.00 元预算中花费 36.00 元（72.0%），"
                                                       "触达 500 人（短信 300、邮件 200）。")
    no_cap = {**PLAN, "budget": None}
    assert cf.plan_budget_reading(no_cap, currency="USD").endswith("with no budget cap.")
    assert "no budget cap" in cf.plan_budget_figure(no_cap).layout.title.text
    free = {"forecast": {"contacts": 3, "cost": 0.0}, "budget": 10}
    assert cf.plan_budget_reading(free) == ("The plan spends 0.00 of its 10.00 CNY budget (0.0%) on "
                                            "3 contacts.")


def test_forecast_figure_puts_counts_and_money_in_two_panels():
    fig = cf.plan_forecast_figure(PLAN)
    assert [t.name for t in fig.data] == ["Plan", "Plan", "Contact everyone", "Contact everyone"]
    assert list(fig.data[0].y) == [500, 5.0] and list(fig.data[3].y) == [40.0, 800.0, 200.0]
    assert "694.4%" in fig.layout.title.text and "500.0%" in fig.layout.title.text
    assert len(cf.plan_forecast_figure({"forecast": FORECAST}).data) == 2


def test_forecast_reading_compares_with_contacting_everyone():
    assert cf.plan_forecast_reading(PLAN) == (
        "Targeting 500 customers instead of all 1,500 is expected to earn 250 CNY of incremental profit "
        "against 200 CNY for contacting everyone, at 10.0% less cost.")
    assert "成本低 10.0%" in cf.plan_forecast_reading(PLAN, lang="zh")
    alone = cf.plan_forecast_reading({"forecast": FORECAST})
    assert alone == ("The plan's 500 contacts are expected to bring 900 CNY of incremental revenue and "
                     "250 CNY of incremental profit (ROI 694.4%).")
    no_roi = cf.plan_forecast_reading({"forecast": {**FORECAST, "roi": None}, "mass_baseline": None})
    assert "ROI n/a" in no_roi


# --------------------------------------------------------------------------- the results


def test_lift_figure_bars_equal_the_intervals_in_points_and_money():
    fig = cf.lift_figure(EVALUATION)
    conv, revenue = fig.data[0], fig.data[1]
    assert conv.x[0] == pytest.approx(1.0)
    assert conv.x[0] + conv.error_x.array[0] == pytest.approx(4.0)
    assert conv.x[0] - conv.error_x.arrayminus[0] == pytest.approx(-2.0)
    assert revenue.x[0] + revenue.error_x.array[0] == pytest.approx(5.5)
    assert revenue.x[0] - revenue.error_x.arrayminus[0] == pytest.approx(-1.5)
    assert fig.layout.xaxis.title.text == "Lift (percentage points)"
    assert fig.layout.xaxis2.title.text == "Lift (CNY per recipient)"
    assert [t.name for t in fig.data[2:]] == ["significant (p < 0.05)", "not significant"]


def test_lift_figure_highlights_significant_arms():
    evaluation = {"comparisons": [_comparison("sms", "conversion", 0.03, 0.01, 0.05, 0.001),
                                  _comparison("email", "conversion", 0.01, -0.01, 0.03, 0.3)]}
    fig = cf.lift_figure(evaluation, lang="zh")
    assert list(fig.data[0].marker.color) == ["#d62728", "#7f7f7f"]
    assert _has_cjk(fig.layout.title.text) and fig.layout.xaxis.title.text == "提升（百分点）"


def test_lift_reading_as_in_the_issue():
    assert cf.lift_reading(EVALUATION) == (
        f"The treatment arm raised conversion by 1.0 points (95% CI {M}2.0 to 4.0, p = 0.52, "
        "not significant) at a cost of 5.00 CNY per extra conversion.")
    assert cf.lift_reading(EVALUATION, lang="zh") == (
        f"实验组使转化率提高了 1.0 个百分点（95% 置信区间 {M}2.0 至 4.0，p = 0.52，不显著），"
        "每多一次转化的成本为 5.00 元。")


def test_lift_reading_names_the_best_of_several_arms():
    evaluation = {"comparisons": [_comparison("sms", "conversion", 0.03, 0.01, 0.05, 0.0004),
                                  _comparison("email", "conversion", -0.01, -0.03, 0.01, 0.3)],
                  "economics": [{"arm": "sms", "cost": 0.0, "incremental_conversions": 3.0,
                                 "cost_per_incremental_conversion": None}]}
    assert cf.lift_reading(evaluation) == (
        "The best of 2 arms, the sms arm, raised conversion by 3.0 points (95% CI 1.0 to 5.0, p < 0.001, "
        "significant) at no contact cost.")


def test_lift_reading_without_a_test_or_an_extra_conversion():
    evaluation = {"comparisons": [_comparison("treatment", "conversion", -0.005, None, None, None)],
                  "economics": [{"arm": "treatment", "cost": 46.05, "incremental_conversions": -1.0,
                                 "cost_per_incremental_conversion": None}]}
    text = cf.lift_reading(evaluation)
    assert text == ("The treatment arm lowered conversion by 0.5 points (no test possible) with no extra "
                    "conversions for its 46.05 CNY of cost.")
    assert "nan" not in text.lower() and "none" not in text.lower()
    fig = cf.lift_figure(evaluation)
    assert list(fig.data[0].error_x.array) == [0.0]


def test_roi_waterfall_adds_up_to_the_incremental_profit():
    fig = cf.roi_figure(EVALUATION)
    wf = fig.data[0]
    assert wf.type == "waterfall" and list(wf.measure) == ["relative", "relative", "total"]
    assert list(wf.y[:2]) == [800.0, -40.0] and sum(wf.y[:2]) == 760.0
    assert "treatment 1,900.0%" in fig.layout.title.text and "CNY" in fig.layout.yaxis.title.text
    assert "50.0%" in wf.x[1][0]


def test_roi_reading_cautions_when_the_revenue_interval_includes_zero():
    assert cf.roi_reading(EVALUATION) == (
        "The treatment arm brought 1,600 CNY of incremental revenue and 760 CNY of incremental profit for "
        f"40.00 CNY of cost (ROI 1,900.0%), but the revenue lift's 95% CI ({M}1.50 to 5.50 CNY per "
        "recipient) includes 0, so it may be chance.")
    sure = {**EVALUATION, "comparisons": [
        _comparison("treatment", "revenue_per_recipient", 2.0, 0.5, 3.5, 0.01),
        _comparison("treatment", "revenue_per_recipient_cuped", 2.0, None, None, None)]}
    assert cf.roi_reading(sure).endswith(
        "but the revenue lift has no confidence interval, so chance cannot be ruled out.")
    sure["comparisons"] = sure["comparisons"][:1]
    assert cf.roi_reading(sure).endswith("(ROI 1,900.0%).")
    zh = cf.roi_reading(EVALUATION, lang="zh")
    assert zh.startswith("实验组带来 1,600 元增量收入和 760 元增量利润") and "包含 0" in zh


def test_roi_reading_at_zero_cost_and_with_several_arms():
    evaluation = {"economics": [{"arm": "a", "incremental_revenue": 10.0, "incremental_profit": 10.0,
                                 "cost": 0.0, "roi": None},
                                {"arm": "b", "incremental_revenue": 5.0, "incremental_profit": 2.0,
                                 "cost": 3.0, "roi": 0.6667}]}
    assert cf.roi_reading(evaluation) == ("The best of 2 arms, the a arm, brought 10.00 CNY of incremental "
                                          "revenue and 10.00 CNY of incremental profit at no cost.")
    assert "a n/a" in cf.roi_figure(evaluation).layout.title.text


def test_arm_table_has_localised_headers_and_percent_rates():
    table = cf.arm_table(EVALUATION)
    assert list(table.columns) == ["Arm", "Recipients", "Delivered rate (%)", "Click rate (%)",
                                   "Conversion rate (%)", "Revenue per recipient (CNY)", "Cost (CNY)"]
    assert table["Conversion rate (%)"].tolist() == pytest.approx([4.0, 5.0])
    assert table["Recipients"].tolist() == [200, 800]
    arms = [{**a, "visit_rate": 0.1} for a in EVALUATION["arms"]]
    arms[1]["orders"] = 44
    zh = cf.arm_table({"arms": arms}, lang="zh")
    assert list(zh.columns)[5:7] == ["访问率（%）", "订单数"] and zh["方案"].tolist() == ["对照组", "实验组"]
    assert zh["订单数"].isna().tolist() == [True, False] and zh["人均收入（元）"].tolist() == [10.0, 12.0]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_degenerate_inputs_give_a_figure_and_a_sentence(lang):
    empties = [{}, {"funnel": [], "forecast": None, "mass_baseline": None, "budget": None}]
    for plan in empties:
        for name in ("plan_funnel", "plan_budget", "plan_forecast"):
            assert isinstance(getattr(cf, f"{name}_figure")(plan, lang=lang), go.Figure)
            _check_sentence(getattr(cf, f"{name}_reading")(plan, lang=lang))
    nothing = {"arms": [{"arm": "treatment", "recipients": 5}], "comparisons": [], "economics": []}
    nan_test = {"comparisons": [_comparison("t", "conversion", math.nan, None, None, None)],
                "economics": [{"arm": "t", "incremental_revenue": None, "incremental_profit": None,
                               "cost": None, "roi": None}]}
    for evaluation in ({}, nothing, nan_test):
        for name in ("lift", "roi"):
            assert isinstance(getattr(cf, f"{name}_figure")(evaluation, lang=lang), go.Figure)
            _check_sentence(getattr(cf, f"{name}_reading")(evaluation, lang=lang))
        assert len(cf.arm_table(evaluation, lang=lang).columns) == 7


def _check_sentence(text: str) -> None:
    assert text and "nan" not in text.lower() and "none" not in text.lower()
    assert text.endswith((".", "。"))


def test_bad_lang_raises_and_no_global_plotly_setting_changes():
    template, renderer = pio.templates.default, pio.renderers.default
    for name in ("plan_funnel", "plan_budget", "plan_forecast"):
        with pytest.raises(InputError, match="lang"):
            getattr(cf, f"{name}_figure")(PLAN, lang="fr")
        with pytest.raises(InputError, match="lang"):
            getattr(cf, f"{name}_reading")(PLAN, lang="fr")
    for name in ("lift", "roi"):
        with pytest.raises(InputError, match="lang"):
            getattr(cf, f"{name}_figure")(EVALUATION, lang="fr")
        with pytest.raises(InputError, match="lang"):
            getattr(cf, f"{name}_reading")(EVALUATION, lang="fr")
    with pytest.raises(InputError, match="lang"):
        cf.arm_table(EVALUATION, lang="fr")
    assert (pio.templates.default, pio.renderers.default) == (template, renderer)
