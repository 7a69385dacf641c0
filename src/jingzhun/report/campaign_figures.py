"""Figures and one-sentence readings of a campaign's plan and results (Plotly), English or Chinese.

Free functions over the JSON-ready results of ``pipeline_plan.plan_campaign`` (``plan``) and
``pipeline_evaluate.evaluate_campaign`` (``evaluation``). Each ``xxx_figure`` returns a new Figure
(title, axis labels with units; no global Plotly setting touched) and its ``xxx_reading`` says in
one sentence, from the same input, what a marketer should take from it. ``lang`` is "en" or "zh"
(else ``InputError``); ``currency`` (default "CNY", "元" in Chinese) is the unit of all money.
Missing pieces (no control arm, None p-values or intervals, zero cost, empty lists) give a figure
with a note and a reading that says so, never an exception, "nan" or "None". Choices: the control
group is a note beside the funnel (a split of its last step, not a filter); rate lifts are in
percentage points; significant = Holm-adjusted p (else p) below ``alpha`` (default 0.05). Numbers are
written by ``report._text`` as in the whole report: money as "1,235 CNY", "12.50 CNY", "1,235 元"
(cents below 100, and always for per-recipient amounts), negatives with a true minus sign.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from jingzhun.report._text import (
    currency_unit,
    finite_or_none,
    format_amount,
    format_money,
    format_percent,
    labels_for,
    no_data_figure,
    signed,
)

__all__ = ["arm_table", "lift_figure", "lift_reading", "plan_budget_figure", "plan_budget_reading",
           "plan_forecast_figure", "plan_forecast_reading", "plan_funnel_figure", "plan_funnel_reading",
           "roi_figure", "roi_reading"]

_SIGNIFICANT, _NOT_SIGNIFICANT, _PLAN, _MASS = "#d62728", "#7f7f7f", "#1f77b4", "#bbbbbb"
_RATE_METRICS = ("conversion", "visit", "click", "open", "delivered")
_PRIMARY = ("conversion", "visit", "revenue_per_recipient_cuped", "revenue_per_recipient")
_SPLIT = ("treatment", "control")

_LABELS = {
    "en": {
        "steps": {"treatment": "treatment (contacted)", "control": "control (held out)"},
        "why": {"has consent": " because they have not consented to marketing on the campaign's channels",
                "not suppressed": " because they are on a suppression list",
                "under frequency cap": " because they were already contacted too often",
                "not in quiet period": " because they bought too recently",
                "positive value": " because contacting them is not expected to pay",
                "within budget": " because the budget ran out"},
        "channels": {"sms": "SMS", "wechat": "WeChat"}, "arms": {}, "na": "n/a",
        "funnel_title": "Who the plan contacts: customers left after each step",
        "customers": "Customers (count)", "step": "Step", "excluded": "left out",
        "held_out": "plus {n} held out as a control group",
        "funnel_read": "Of {a} customers in the audience, {c} will be contacted ({p}){drop}{held}.",
        "drop": "; the biggest drop is at “{s}”, where {n} were left out{why}",
        "no_drop": "; nobody was left out along the way", "held": ", and {n} are held out as a control group",
        "funnel_none": "The plan has no funnel of customers to show.",
        "budget_title": "Budget use: the plan's cost against its budget",
        "money_axis": "Money ({c})", "plan": "Plan", "contact_cost": "Contact cost",
        "contact_channel": "Contact cost: {ch}", "offer_cost": "Offer cost", "cost": "Cost",
        "unspent": "Unspent budget", "budget": "budget {v}", "no_budget": "no budget cap",
        "budget_read": "The plan spends {cost} of its {budget} budget ({p}) on {n} contacts{ch}.",
        "budget_free": "The plan spends {cost} on {n} contacts{ch}, with no budget cap.",
        "ch_list": " ({items})", "ch_item": "{n} {ch}", "ch_sep": ", ",
        "forecast_title": "Forecast: targeted plan against contacting everyone",
        "counts": "Customers and conversions (count)", "mass": "Contact everyone", "contacts": "Contacts",
        "inc_conv": "Incremental conversions", "inc_rev": "Incremental revenue",
        "inc_profit": "Incremental profit", "roi_plan": "ROI (profit / cost): {p}",
        "roi_line": "ROI (profit / cost): plan {p}, contact everyone {m}",
        "forecast_read": ("Targeting {n} customers instead of all {m} is expected to earn {p} of "
                          "incremental profit against {q} for contacting everyone, {cost}."),
        "less": "at {v} less cost", "more": "at {v} more cost", "same": "at the same cost",
        "cost_vs": "for {a} of cost against {b}",
        "forecast_alone": ("The plan's {n} contacts are expected to bring {r} of incremental revenue "
                           "and {p} of incremental profit (ROI {roi})."),
        "forecast_none": "The plan has no forecast to show.",
        "lift_title": "Lift over the control group, with {level}% confidence intervals",
        "lift_axis_rate": "Lift (percentage points)", "lift_axis_money": "Lift ({c} per recipient)",
        "lift_axis": "Lift", "arm": "Arm", "sig": "significant (p < {a:g})", "not_sig": "not significant",
        "metrics": {"conversion": "conversion", "visit": "visits", "click": "clicks", "open": "opens",
                    "revenue_per_recipient": "revenue per recipient",
                    "revenue_per_recipient_cuped": "revenue per recipient (CUPED)"},
        "lift_none": "No arm was compared with a control group, so the campaign's effect cannot be measured.",
        "lift_nan": "The {arm} arm's effect on {m} could not be estimated from the data.",
        "subject": "The {arm} arm", "subject_best": "The best of {k} arms, the {arm} arm,",
        "raised": "raised {m}", "lowered": "lowered {m}", "unchanged": "did not change {m}",
        "lift_read": "{subj} {verb}{by}{paren}{cost}.", "by": " by {v}", "points": "{v} points",
        "ci": "{level}% CI {lo} to {hi}", "p": "p = {p}", "p_small": "p < 0.001",
        "is_sig": "significant", "is_not_sig": "not significant", "no_test": "no test possible",
        "per_extra": " at a cost of {v} per extra {what}", "free": " at no contact cost",
        "no_extra": " with no extra {what}s for its {v} of cost",
        "what": {"conversion": "conversion", "visit": "visit"},
        "roi_title": "Incremental profit per arm: revenue × margin, minus cost",
        "roi_sub": "ROI (profit / cost): {r}", "rev_margin": "Incremental revenue × margin ({m})",
        "minus_cost": "Cost", "profit": "Incremental profit",
        "roi_none": "There is no treated arm with economics to report.",
        "roi_read": ("{subj} brought {r} of incremental revenue and {p} of incremental profit "
                     "{cost}{caution}."),
        "roi_cost": "for {c} of cost (ROI {roi})", "roi_free": "at no cost",
        "caution": (", but the revenue lift's {level}% CI ({lo} to {hi} {c} per recipient) includes 0, "
                    "so it may be chance"),
        "caution_no_ci": ", but the revenue lift has no confidence interval, so chance cannot be ruled out",
        "table": {"arm": "Arm", "recipients": "Recipients", "delivered_rate": "Delivered rate (%)",
                  "click_rate": "Click rate (%)", "conversion_rate": "Conversion rate (%)",
                  "visit_rate": "Visit rate (%)", "orders": "Orders",
                  "revenue_per_recipient": "Revenue per recipient ({c})", "cost": "Cost ({c})"},
    },
    "zh": {
        "steps": {"in audience": "目标人群", "has consent": "已授权营销", "not suppressed": "未被屏蔽",
                  "under frequency cap": "未超触达频次上限", "not in quiet period": "不在静默期",
                  "positive value": "预期价值为正", "within budget": "在预算内",
                  "treatment": "实验组（触达）", "control": "对照组（不触达）"},
        "why": {"has consent": "，因为未授权该渠道的营销消息", "not suppressed": "，因为在屏蔽名单上",
                "under frequency cap": "，因为近期已被触达过多", "not in quiet period": "，因为刚刚购买过",
                "positive value": "，因为预计触达不划算", "within budget": "，因为预算不足"},
        "channels": {"sms": "短信", "email": "邮件", "wechat": "微信", "push": "推送"},
        "arms": {"control": "对照组", "treatment": "实验组"}, "na": "无",
        "funnel_title": "计划触达谁：每一步后剩余的客户", "customers": "客户数（人）", "step": "步骤",
        "excluded": "排除", "held_out": "另有 {n} 人留作对照组",
        "funnel_read": "目标人群 {a} 人中将触达 {c} 人（{p}）{drop}{held}。",
        "drop": "；排除最多的一步是“{s}”，共排除 {n} 人{why}", "no_drop": "；各步均未排除客户",
        "held": "，另有 {n} 人留作对照组", "funnel_none": "该计划没有可展示的客户筛选漏斗。",
        "budget_title": "预算使用：计划成本与预算", "money_axis": "金额（{c}）", "plan": "计划",
        "contact_cost": "触达成本", "contact_channel": "触达成本：{ch}", "offer_cost": "优惠成本",
        "cost": "成本", "unspent": "未使用预算", "budget": "预算 {v}", "no_budget": "未设预算上限",
        "budget_read": "该计划在 {budget}预算中花费 {cost}（{p}），触达 {n} 人{ch}。",
        "budget_free": "该计划花费 {cost}触达 {n} 人{ch}，未设预算上限。",
        "ch_list": "（{items}）", "ch_item": "{ch} {n}", "ch_sep": "、",
        "forecast_title": "预测：精准投放与全量触达对比", "counts": "客户与转化（人/次）",
        "mass": "全量触达", "contacts": "触达人数", "inc_conv": "增量转化", "inc_rev": "增量收入",
        "inc_profit": "增量利润", "roi_line": "ROI（利润 / 成本）：计划 {p}，全量触达 {m}",
        "roi_plan": "ROI（利润 / 成本）：{p}",
        "forecast_read": "只触达 {n} 人而非全部 {m} 人，预计带来 {p}增量利润（全量触达为 {q}），{cost}。",
        "less": "成本低 {v}", "more": "成本高 {v}", "same": "成本相同",
        "cost_vs": "成本为 {a}（全量触达为 {b}）",
        "forecast_alone": "该计划触达 {n} 人，预计带来 {r}增量收入和 {p}增量利润（ROI {roi}）。",
        "forecast_none": "该计划没有可展示的预测。",
        "lift_title": "相对对照组的提升及 {level}% 置信区间", "lift_axis_rate": "提升（百分点）",
        "lift_axis_money": "提升（{c}/人）", "lift_axis": "提升", "arm": "方案",
        "sig": "显著（p < {a:g}）", "not_sig": "不显著",
        "metrics": {"conversion": "转化率", "visit": "访问率", "click": "点击率", "open": "打开率",
                    "revenue_per_recipient": "人均收入",
                    "revenue_per_recipient_cuped": "人均收入（CUPED 调整）"},
        "lift_none": "没有与对照组比较的方案，因此无法衡量活动效果。",
        "lift_nan": "{arm}对{m}的效果无法从数据中估计。",
        "subject": "{arm}", "subject_best": "在 {k} 个方案中效果最好的是{arm}，它",
        "raised": "使{m}提高了", "lowered": "使{m}降低了", "unchanged": "未改变{m}",
        "lift_read": "{subj}{verb}{by}{paren}{cost}。", "by": " {v}", "points": "{v} 个百分点",
        "ci": "{level}% 置信区间 {lo} 至 {hi}", "p": "p = {p}", "p_small": "p < 0.001",
        "is_sig": "显著", "is_not_sig": "不显著", "no_test": "无法检验",
        "per_extra": "，每多一次{what}的成本为 {v}", "free": "，且没有触达成本",
        "no_extra": "，花费 {v}却没有带来额外{what}", "what": {"conversion": "转化", "visit": "访问"},
        "roi_title": "各方案的增量利润：增量收入 × 毛利率，减去成本", "roi_sub": "ROI（利润 / 成本）：{r}",
        "rev_margin": "增量收入 × 毛利率（{m}）", "minus_cost": "成本", "profit": "增量利润",
        "roi_none": "没有可报告经济效益的实验方案。",
        "roi_read": "{subj}带来 {r}增量收入和 {p}增量利润，{cost}{caution}。",
        "roi_cost": "成本 {c}（ROI {roi}）", "roi_free": "且没有成本",
        "caution": "；但收入提升的 {level}% 置信区间（每人 {lo} 至 {hi} {c}）包含 0，可能只是偶然",
        "caution_no_ci": "；但收入提升没有置信区间，无法排除偶然",
        "table": {"arm": "方案", "recipients": "触达人数", "delivered_rate": "送达率（%）",
                  "click_rate": "点击率（%）", "conversion_rate": "转化率（%）", "visit_rate": "访问率（%）",
                  "orders": "订单数", "revenue_per_recipient": "人均收入（{c}）", "cost": "成本（{c}）"},
    },
}


# --------------------------------------------------------------------------- the plan


def plan_funnel_figure(plan: Mapping, *, lang: str = "en") -> go.Figure:
    """``go.Funnel`` of the customers left after each step of ``plan["funnel"]`` (``step``,
    ``customers``, ``excluded``) up to the treated contacts, x in customers; hover shows how many
    each step left out; the control group's size in a note; known steps named in ``lang``."""
    text = labels_for(_LABELS, lang)
    steps = _funnel_steps(plan)
    flow = [s for s in steps if s["step"] != "control"]
    if not flow:
        return no_data_figure(text["funnel_title"], text["funnel_none"])
    fig = go.Figure(go.Funnel(
        y=[_name("steps", s["step"], text) for s in flow], x=[s["customers"] for s in flow],
        customdata=[s["excluded"] for s in flow], textinfo="value+percent initial", marker={"color": _PLAN},
        hovertemplate=f"%{{y}}: %{{x:,}}<br>{text['excluded']}: %{{customdata:,}}<extra></extra>"))
    control = next((s for s in steps if s["step"] == "control"), None)
    if control is not None:
        fig.add_annotation(text=text["held_out"].format(n=f"{control['customers']:,}"), xref="paper",
                           yref="paper", x=1, y=0, xanchor="right", yanchor="top", showarrow=False)
    fig.update_layout(title={"text": text["funnel_title"]}, xaxis_title=text["customers"],
                      yaxis_title=text["step"])
    return fig


def plan_funnel_reading(plan: Mapping, *, lang: str = "en") -> str:
    """Audience size, contacts chosen (share of the audience), the step that left out the most
    customers and why, and the control group's size; reads ``plan["funnel"]``."""
    text = labels_for(_LABELS, lang)
    steps = _funnel_steps(plan)
    if not steps:
        return text["funnel_none"]
    audience = steps[0]["customers"]
    by_name = {s["step"]: s for s in steps}
    chosen = by_name["treatment"]["customers"] if "treatment" in by_name else steps[-1]["customers"]
    worst = max((s for s in steps[1:] if s["step"] not in _SPLIT), key=lambda s: s["excluded"], default=None)
    if worst is None or worst["excluded"] <= 0:
        drop = text["no_drop"]
    else:
        drop = text["drop"].format(s=_name("steps", worst["step"], text), n=f"{worst['excluded']:,}",
                                   why=text["why"].get(worst["step"], ""))
    held = text["held"].format(n=f"{by_name['control']['customers']:,}") if "control" in by_name else ""
    share = _pct(chosen / audience if audience else None, text)
    return text["funnel_read"].format(a=f"{audience:,}", c=f"{chosen:,}", p=share, drop=drop, held=held)


def plan_budget_figure(plan: Mapping, *, currency: str = "CNY", lang: str = "en") -> go.Figure:
    """One horizontal stacked bar of the plan's cost -- contact cost (by channel when
    ``forecast.contact_cost_by_channel`` is there), offer cost -- then the unspent budget, with a
    dashed line at ``plan["budget"]`` ("no budget cap" in the title when it is absent); x in
    ``currency``. Reads ``budget`` and ``forecast`` (``cost``, ``contact_cost``, ``offer_cost``,
    ``contacts_by_channel``)."""
    text = labels_for(_LABELS, lang)
    fc = plan.get("forecast") or {}
    budget, cost = _budget(plan), _plan_cost(fc)
    by_channel = fc.get("contact_cost_by_channel")
    segments = []
    if isinstance(by_channel, Mapping) and by_channel:
        segments += [(text["contact_channel"].format(ch=_name("channels", ch, text)), finite_or_none(v))
                     for ch, v in by_channel.items()]
    elif finite_or_none(fc.get("contact_cost")) is not None:
        segments.append((text["contact_cost"], finite_or_none(fc.get("contact_cost"))))
    if finite_or_none(fc.get("offer_cost")) is not None:
        segments.append((text["offer_cost"], finite_or_none(fc.get("offer_cost"))))
    counts = _channel_counts(fc.get("contacts_by_channel"), text)
    hover = f"<br>{counts}" if counts else ""
    fig = go.Figure()
    unit = currency_unit(currency, lang)
    for name, value in segments or [(text["cost"], cost)]:
        fig.add_trace(go.Bar(x=[value or 0.0], y=[text["plan"]], orientation="h", name=name,
                             hovertemplate=f"{name}: %{{x:,.2f}} {unit}{hover}<extra></extra>"))
    title = text["budget_title"] + (f" ({text['no_budget']})" if budget is None else "")
    if budget is not None:
        if budget > cost:
            fig.add_trace(go.Bar(x=[budget - cost], y=[text["plan"]], orientation="h", name=text["unspent"],
                                 marker={"color": "#e5e5e5"}, hovertemplate="%{x:,.2f}<extra></extra>"))
        fig.add_vline(x=budget, line_dash="dash",
                      annotation_text=text["budget"].format(v=_money(budget, currency, lang)))
    fig.update_layout(title={"text": title}, barmode="stack", showlegend=True,
                      xaxis_title=text["money_axis"].format(c=currency_unit(currency, lang)))
    return fig


def plan_budget_reading(plan: Mapping, *, currency: str = "CNY", lang: str = "en") -> str:
    """The plan's cost, its budget and the share spent, and the contacts (by channel); reads
    ``budget`` and ``forecast`` (``cost`` or its parts, ``contacts``, ``contacts_by_channel``)."""
    text = labels_for(_LABELS, lang)
    fc = plan.get("forecast") or {}
    if not fc:
        return text["forecast_none"]
    cost, budget = _plan_cost(fc), _budget(plan)
    n = f"{int(finite_or_none(fc.get('contacts')) or 0):,}"
    counts = _channel_counts(fc.get("contacts_by_channel"), text)
    ch = text["ch_list"].format(items=counts) if counts else ""
    if budget is None:
        return text["budget_free"].format(cost=_money(cost, currency, lang), n=n, ch=ch)
    # "36.00 of its 50.00 CNY budget": the unit once in English
    spent = format_amount(cost, missing=text["na"]) if lang == "en" else _money(cost, currency, lang)
    return text["budget_read"].format(cost=spent, budget=_money(budget, currency, lang),
                                      p=_pct(cost / budget, text), n=n, ch=ch)


def plan_forecast_figure(plan: Mapping, *, currency: str = "CNY", lang: str = "en") -> go.Figure:
    """Grouped bars of ``plan["forecast"]`` next to ``plan["mass_baseline"]`` (contacting
    everyone; left out when absent): counts on the left (``contacts``,
    ``expected_incremental_conversions``), money in ``currency`` on the right (``cost``,
    ``incremental_revenue``, ``incremental_profit``); both ``roi`` in the subtitle."""
    text = labels_for(_LABELS, lang)
    fc, mass = plan.get("forecast") or {}, plan.get("mass_baseline") or {}
    if not fc:
        return no_data_figure(text["forecast_title"], text["forecast_none"])
    money_title = text["money_axis"].format(c=currency_unit(currency, lang))
    panels = ((1, [("contacts", "contacts"), ("inc_conv", "expected_incremental_conversions")]), (2, [
        ("cost", "cost"), ("inc_rev", "incremental_revenue"), ("inc_profit", "incremental_profit")]))
    fig = make_subplots(rows=1, cols=2, subplot_titles=[text["counts"], money_title])
    for name, totals, color in ((text["plan"], fc, _PLAN), (text["mass"], mass, _MASS)):
        for col, keys in panels if totals else ():
            fig.add_trace(go.Bar(x=[text[k] for k, _ in keys],
                                 y=[finite_or_none(totals.get(key)) for _, key in keys],
                                 name=name, legendgroup=name, showlegend=col == 1, marker={"color": color},
                                 hovertemplate="%{x}: %{y:,.2f}<extra>" + name + "</extra>"), row=1, col=col)
    roi = _pct(finite_or_none(fc.get("roi")), text)
    sub = (text["roi_line"].format(p=roi, m=_pct(finite_or_none(mass.get("roi")), text)) if mass
           else text["roi_plan"].format(p=roi))
    fig.update_layout(title={"text": f"{text['forecast_title']}<br><sup>{sub}</sup>"}, barmode="group")
    fig.update_yaxes(title_text=text["counts"], row=1, col=1)
    fig.update_yaxes(title_text=money_title, row=1, col=2)
    return fig


def plan_forecast_reading(plan: Mapping, *, currency: str = "CNY", lang: str = "en") -> str:
    """The plan's expected incremental profit against contacting everyone and how much less (more)
    it costs; reads ``forecast`` and ``mass_baseline`` as the figure does."""
    text = labels_for(_LABELS, lang)
    fc, mass = plan.get("forecast") or {}, plan.get("mass_baseline") or {}
    if not fc:
        return text["forecast_none"]
    n = f"{int(finite_or_none(fc.get('contacts')) or 0):,}"
    profit = _money(finite_or_none(fc.get("incremental_profit")), currency, lang)
    if not mass:
        revenue = _money(finite_or_none(fc.get("incremental_revenue")), currency, lang)
        roi = _pct(finite_or_none(fc.get("roi")), text)
        return text["forecast_alone"].format(n=n, r=revenue, p=profit, roi=roi)
    cost, mass_cost = _plan_cost(fc), _plan_cost(mass)
    if mass_cost <= 0:
        change = text["cost_vs"].format(a=_money(cost, currency, lang), b=_money(mass_cost, currency, lang))
    else:
        ratio = cost / mass_cost - 1
        change = text["same" if abs(ratio) < 0.0005 else "less" if ratio < 0 else "more"].format(
            v=_pct(abs(ratio), text))
    everyone = f"{int(finite_or_none(mass.get('contacts')) or 0):,}"
    return text["forecast_read"].format(
        n=n, m=everyone, p=profit, q=_money(finite_or_none(mass.get("incremental_profit")), currency, lang),
        cost=change)


# --------------------------------------------------------------------------- the results


def lift_figure(evaluation: Mapping, *, currency: str = "CNY", lang: str = "en") -> go.Figure:
    """Forest plot of ``evaluation["comparisons"]`` (``arm``, ``metric``, ``lift_abs``, ``ci_low``,
    ``ci_high``, ``p_value``, ``p_adjusted``): a panel per metric, a marker trace over the arms (y),
    x the lift (points for rates, ``currency`` per recipient for money) with error bars from
    ``ci_low`` to ``ci_high`` (0 without one); significant lifts red (``alpha``); a line at 0."""
    text = labels_for(_LABELS, lang)
    alpha = _alpha(evaluation)
    title = text["lift_title"].format(level=_level(alpha))
    rows = [c for c in evaluation.get("comparisons") or [] if finite_or_none(c.get("lift_abs")) is not None]
    metrics = list(dict.fromkeys(c.get("metric", "") for c in rows))
    if not metrics:
        return no_data_figure(title, text["lift_none"])
    fig = make_subplots(rows=1, cols=len(metrics), shared_yaxes=True,
                        subplot_titles=[(t := _name("metrics", m, text))[:1].upper() + t[1:]
                                        for m in metrics])
    for col, metric in enumerate(metrics, start=1):
        mine = [c for c in rows if c.get("metric", "") == metric]
        scale = 100.0 if metric in _RATE_METRICS else 1.0
        lift = [finite_or_none(c["lift_abs"]) * scale for c in mine]
        high, low = ([finite_or_none(c.get(k)) for c in mine] for k in ("ci_high", "ci_low"))
        colors = [_SIGNIFICANT if (p := _p(c)) is not None and p < alpha else _NOT_SIGNIFICANT for c in mine]
        fig.add_trace(go.Scatter(
            x=lift, y=[_name("arms", c.get("arm", ""), text) for c in mine], mode="markers", showlegend=False,
            marker={"size": 11, "color": colors},
            error_x={"type": "data", "symmetric": False, "color": "black",
                     "array": [0.0 if h is None else h * scale - v for h, v in zip(high, lift, strict=True)],
                     "arrayminus": [0.0 if o is None else v - o * scale
                                    for o, v in zip(low, lift, strict=True)]},
            hovertemplate="%{y}: %{x:.3g}<extra></extra>"), row=1, col=col)
        fig.add_vline(x=0, line={"color": "black", "width": 1}, row=1, col=col)
        fig.update_xaxes(title_text=_lift_axis(metric, currency, text, lang), row=1, col=col)
    for name, color in ((text["sig"].format(a=alpha), _SIGNIFICANT), (text["not_sig"], _NOT_SIGNIFICANT)):
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name, hoverinfo="skip",
                                 marker={"color": color, "size": 11}), row=1, col=1)
    fig.update_yaxes(title_text=text["arm"], type="category", row=1, col=1)
    fig.update_layout(title={"text": title}, showlegend=True)
    return fig


def lift_reading(evaluation: Mapping, *, currency: str = "CNY", lang: str = "en") -> str:
    """The (best) arm's lift on the main metric (conversion, else visit, else revenue per
    recipient) with its interval, p-value and significance, and its cost per extra conversion
    (visit); reads ``alpha``, ``comparisons`` and ``economics``."""
    text = labels_for(_LABELS, lang)
    alpha = _alpha(evaluation)
    comparisons = [c for c in evaluation.get("comparisons") or [] if c.get("metric") is not None]
    if not comparisons:
        return text["lift_none"]
    scored = [c for c in comparisons if finite_or_none(c.get("lift_abs")) is not None]
    present = list(dict.fromkeys(c["metric"] for c in scored or comparisons))
    metric = next((m for m in _PRIMARY if m in present), present[0])
    if not scored:
        return text["lift_nan"].format(arm=_name("arms", comparisons[0].get("arm", ""), text),
                                       m=_name("metrics", metric, text))
    mine = [c for c in scored if c["metric"] == metric]
    best = max(mine, key=lambda c: finite_or_none(c["lift_abs"]))
    arm, arms = _name("arms", best.get("arm", ""), text), len({c.get("arm") for c in comparisons
                                                      if c["metric"] == metric})
    subj = text["subject_best"].format(k=arms, arm=arm) if arms > 1 else text["subject"].format(arm=arm)
    lift, is_rate = finite_or_none(best["lift_abs"]), metric in _RATE_METRICS
    verb = text["raised" if lift > 0 else "lowered" if lift < 0 else "unchanged"]
    verb = verb.format(m=_name("metrics", metric, text))
    size = (text["points"].format(v=f"{abs(lift) * 100:.1f}") if is_rate
            else _money(abs(lift), currency, lang, 2))
    parts = []
    lo, hi = finite_or_none(best.get("ci_low")), finite_or_none(best.get("ci_high"))
    if lo is not None and hi is not None:
        fmt = (lambda v: signed(f"{v * 100:.1f}")) if is_rate else (lambda v: format_amount(v, digits=2))
        parts.append(text["ci"].format(level=_level(alpha), lo=fmt(lo), hi=fmt(hi)))
    p = _p(best)
    if p is None:
        parts.append(text["no_test"])
    else:
        parts.append(text["p_small"] if p < 0.001 else text["p"].format(p=f"{p:.{3 if p < 0.01 else 2}f}"))
        parts.append(text["is_sig" if p < alpha else "is_not_sig"])
    paren = f" ({', '.join(parts)})" if lang == "en" else f"（{'，'.join(parts)}）"
    cost = _cost_clause(evaluation, best.get("arm"), metric, currency, lang)
    return text["lift_read"].format(subj=subj, verb=verb, by="" if lift == 0 else text["by"].format(v=size),
                                    paren=paren, cost=cost)


def roi_figure(evaluation: Mapping, *, currency: str = "CNY", lang: str = "en") -> go.Figure:
    """A ``go.Waterfall`` per arm of ``evaluation["economics"]`` on a two-level x axis (arm,
    step): ``incremental_revenue`` × ``margin`` (default 1), minus ``cost``, = the incremental
    profit; y in ``currency``; each arm's ``roi`` (profit / cost) in the subtitle."""
    text = labels_for(_LABELS, lang)
    economics = [e for e in evaluation.get("economics") or [] if isinstance(e, Mapping)]
    if not economics:
        return no_data_figure(text["roi_title"], text["roi_none"])
    margin = finite_or_none(evaluation.get("margin"))
    margin = 1.0 if margin is None else margin
    steps = [text["rev_margin"].format(m=_pct(margin, text)), text["minus_cost"], text["profit"]]
    fig = go.Figure()
    for e in economics:
        arm = _name("arms", e.get("arm", ""), text)
        revenue = finite_or_none(e.get("incremental_revenue")) or 0.0
        cost = finite_or_none(e.get("cost")) or 0.0
        fig.add_trace(go.Waterfall(
            x=[[arm] * 3, steps], y=[revenue * margin, -cost, 0.0], measure=["relative", "relative", "total"],
            name=arm, hovertemplate="%{x}: %{y:,.2f} " + currency_unit(currency, lang) + "<extra></extra>"))
    rois = ", ".join(_name("arms", e.get("arm", ""), text) + " " + _pct(finite_or_none(e.get("roi")), text)
                     for e in economics)
    fig.add_hline(y=0, line={"color": "black", "width": 1})
    fig.update_layout(title={"text": f"{text['roi_title']}<br><sup>{text['roi_sub'].format(r=rois)}</sup>"},
                      yaxis_title=text["money_axis"].format(c=currency_unit(currency, lang)),
                      showlegend=len(economics) > 1)
    return fig


def roi_reading(evaluation: Mapping, *, currency: str = "CNY", lang: str = "en") -> str:
    """The (most profitable) arm's incremental revenue, profit, cost and ROI, with a caution when
    its revenue lift's interval includes 0 or is missing; reads ``economics``, ``alpha`` and the
    ``comparisons`` of metric ``revenue_per_recipient_cuped`` (else ``revenue_per_recipient``)."""
    text = labels_for(_LABELS, lang)
    economics = [e for e in evaluation.get("economics") or [] if isinstance(e, Mapping)]
    if not economics:
        return text["roi_none"]
    best = max(economics, key=lambda e: finite_or_none(e.get("incremental_profit")) or -math.inf)
    arm = _name("arms", best.get("arm", ""), text)
    subj = (text["subject_best"].format(k=len(economics), arm=arm) if len(economics) > 1
            else text["subject"].format(arm=arm))
    cost = finite_or_none(best.get("cost")) or 0.0
    cost_part = text["roi_free"] if cost <= 0 else text["roi_cost"].format(
        c=_money(cost, currency, lang), roi=_pct(finite_or_none(best.get("roi")), text))
    revenue = sorted((c for c in evaluation.get("comparisons") or []
                      if c.get("arm") == best.get("arm") and c.get("metric") in _PRIMARY[2:]),
                     key=lambda c: _PRIMARY.index(c["metric"]))
    caution = ""
    if revenue:
        lo, hi = finite_or_none(revenue[0].get("ci_low")), finite_or_none(revenue[0].get("ci_high"))
        if lo is None or hi is None:
            caution = text["caution_no_ci"]
        elif lo <= 0 <= hi:
            caution = text["caution"].format(level=_level(_alpha(evaluation)), lo=format_amount(lo, digits=2),
                                             hi=format_amount(hi, digits=2), c=currency_unit(currency, lang))
    revenue_text = _money(finite_or_none(best.get("incremental_revenue")), currency, lang)
    return text["roi_read"].format(subj=subj, r=revenue_text,
                                   p=_money(finite_or_none(best.get("incremental_profit")), currency, lang),
                                   cost=cost_part, caution=caution)


def arm_table(evaluation: Mapping, *, currency: str = "CNY", lang: str = "en") -> pd.DataFrame:
    """One row per arm of ``evaluation["arms"]`` with headers in ``lang``: arm, recipients,
    delivered/click/conversion rate (and visit rate, orders where any arm has them) in percent
    (rates × 100), revenue per recipient and cost in ``currency``. Numbers stay numbers; a missing
    value is NaN (counts as pandas' nullable Int64)."""
    text = labels_for(_LABELS, lang)
    arms = [a for a in evaluation.get("arms") or [] if isinstance(a, Mapping)]
    keys = ["arm", "recipients", "delivered_rate", "click_rate", "conversion_rate"]
    keys += [k for k in ("visit_rate", "orders") if any(k in a for a in arms)]
    keys += ["revenue_per_recipient", "cost"]
    table = pd.DataFrame([{k: _name("arms", a.get(k, ""), text) if k == "arm" else finite_or_none(a.get(k))
                           for k in keys} for a in arms], columns=keys, dtype=object)
    for k in keys[1:]:
        table[k] = pd.to_numeric(table[k]) * (100 if k.endswith("_rate") else 1)
    for k in ("recipients", "orders"):
        if k in table:
            table[k] = pd.to_numeric(table[k]).round().astype("Int64")
    return table.rename(columns={k: text["table"][k].format(c=currency_unit(currency, lang)) for k in keys})


# --------------------------------------------------------------------------- helpers


def _money(v: float | None, currency: str, lang: str, digits: int | None = None) -> str:
    """:func:`format_money` with this module's wording ("n/a", "无") for a missing amount."""
    return format_money(v, currency, lang=lang, digits=digits, missing=_LABELS[lang]["na"])


def _pct(share: float | None, text: Mapping) -> str:
    """:func:`format_percent` with this module's wording for a missing share."""
    return format_percent(share, missing=text["na"])


def _funnel_steps(plan: Mapping) -> list[dict]:
    """The funnel's steps with int counts; a missing ``excluded`` is the drop from the previous
    step (0 for the first step and the treatment/control split)."""
    out, last = [], None
    for s in plan.get("funnel") or []:
        if not isinstance(s, Mapping):
            continue
        customers, excluded = int(finite_or_none(s.get("customers")) or 0), finite_or_none(s.get("excluded"))
        if excluded is None:
            excluded = 0 if s.get("step") in _SPLIT or last is None else max(last - customers, 0)
        out.append({"step": str(s.get("step", "")), "customers": customers, "excluded": int(excluded)})
        last = customers
    return out


def _budget(plan: Mapping) -> float | None:
    return budget if (budget := finite_or_none(plan.get("budget"))) is not None and budget > 0 else None


def _plan_cost(totals: Mapping) -> float:
    if (cost := finite_or_none(totals.get("cost"))) is not None:  # else contact plus offer cost
        return cost
    return ((finite_or_none(totals.get("contact_cost")) or 0.0)
            + (finite_or_none(totals.get("offer_cost")) or 0.0))


def _channel_counts(by_channel, text: Mapping) -> str:
    """"341 SMS, 206 email", largest first; "" without counts."""
    if not isinstance(by_channel, Mapping):
        return ""
    items = sorted(((ch, int(finite_or_none(n) or 0)) for ch, n in by_channel.items()), key=lambda p: -p[1])
    return text["ch_sep"].join(text["ch_item"].format(n=f"{n:,}", ch=_name("channels", ch, text))
                               for ch, n in items)


def _name(kind: str, key, text: Mapping) -> str:
    """``key`` (a step, channel, arm or metric) in the labels' language, else as given."""
    return text[kind].get(str(key), str(key))


def _alpha(evaluation: Mapping) -> float:
    return alpha if (alpha := finite_or_none(evaluation.get("alpha"))) is not None and 0 < alpha < 1 else 0.05


def _level(alpha: float) -> str:
    return f"{100 * (1 - alpha):g}"


def _p(comparison: Mapping) -> float | None:
    """The Holm-adjusted p-value, else the raw one, else None."""
    p = finite_or_none(comparison.get("p_adjusted"))
    return p if p is not None else finite_or_none(comparison.get("p_value"))


def _lift_axis(metric: str, currency: str, text: Mapping, lang: str) -> str:
    if metric in _RATE_METRICS:
        return text["lift_axis_rate"]
    if metric.startswith(("revenue", "margin")):
        return text["lift_axis_money"].format(c=currency_unit(currency, lang))
    return text["lift_axis"]


def _cost_clause(evaluation: Mapping, arm, metric: str, currency: str, lang: str) -> str:
    """The cost per extra conversion (visit) of ``arm`` from ``economics``, or why there is none;
    "" for other metrics or without economics."""
    text = _LABELS[lang]
    econ = next((e for e in evaluation.get("economics") or [] if e.get("arm") == arm), None)
    if econ is None or metric not in text["what"]:
        return ""
    what, cost = text["what"][metric], finite_or_none(econ.get("cost"))
    per = finite_or_none(econ.get(f"cost_per_incremental_{metric}"))
    if per is not None:
        return text["per_extra"].format(v=_money(per, currency, lang), what=what)
    if cost is not None and cost <= 0:
        return text["free"]
    extra = finite_or_none(econ.get(f"incremental_{metric}s"))
    if cost is not None and extra is not None and extra <= 0:
        return text["no_extra"].format(v=_money(cost, currency, lang), what=what)
    return ""
