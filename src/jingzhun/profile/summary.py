"""Per-customer summaries of the profile state that do not depend on the profile date.

One row per customer of the state: purchase rhythm (from the ``day`` grain), favourite category,
brand, channel, weekday and hour (from ``dim``), and new-product items (from ``product``). An
update recomputes them only for the customers whose state changed.

Choices: gaps are whole days between consecutive local purchase *days* (several orders on one
day are one purchase day); the coefficient of variation is the population standard deviation of
the gaps over their mean; "top" is the value with the largest paid amount (category, brand) or
the most orders (channel, weekday, hour), ties going to the smallest value; category entropy is
Shannon's, in bits, over the paid amount by category. ``prior_gap_median_days`` is the median gap
before the last purchase day (null with fewer than three purchase days): the rhythm a customer
had before their latest purchase, against which a long last gap means "came back".
"""

from __future__ import annotations

import ibis

from jingzhun.profile._portable import attach, ratio

#: Columns of the summary table, in order.
SUMMARY_COLUMNS = (
    "customer_id", "purchase_days", "first_day", "last_day", "ipt_mean_days", "ipt_median_days",
    "ipt_std_days", "last_gap_days", "prior_gap_median_days", "top_category", "top_category_share",
    "top_brand", "top_brand_share", "category_count", "category_entropy", "preferred_channel",
    "preferred_weekday", "preferred_hour", "new_items", "product_items",
)


def summarise(state: dict[str, ibis.Table]) -> ibis.Table:
    """The summary (``SUMMARY_COLUMNS``) of every customer in ``state["customer"]``."""
    ids = state["customer"].select("customer_id")
    for part in (_rhythm(state["day"]), _favourites(state["dim"]), _products(state["product"])):
        ids = attach(ids, part)
    return ids.select(*SUMMARY_COLUMNS)


def _rhythm(day: ibis.Table) -> ibis.Table:
    d = day.filter(day.orders > 0)
    w = ibis.window(group_by="customer_id", order_by="day")
    d = d.mutate(gap=(d.day - d.day.lag().over(w)).cast("float64"),
                 is_last=d.day == d.day.max().over(ibis.window(group_by="customer_id")))
    agg = d.group_by("customer_id").aggregate(
        purchase_days=d.count().cast("int64"),
        first_day=d.day.min(),
        last_day=d.day.max(),
        ipt_median_days=d.gap.median().cast("float64"),
        ipt_std_days=d.gap.std(how="pop").cast("float64"),
        last_gap_days=d.gap.max(where=d.is_last).cast("float64"),
        # a null instead of median(where=...): Ibis wraps the 0.5 of Spark's percentile in the
        # condition too, and Spark requires it to be a constant
        prior_gap_median_days=ibis.ifelse(d.is_last, ibis.null("float64"), d.gap).median()
        .cast("float64"),
    )
    span = (agg.last_day - agg.first_day).cast("float64")
    return agg.mutate(ipt_mean_days=ratio(span, (agg.purchase_days - 1).cast("float64")))


def _favourites(dim: ibis.Table) -> ibis.Table:
    # no window: the top value of each (customer, dim) is the smallest value whose metric equals
    # the group's largest (a join back), and the entropy comes from per-group sums through
    # H = log2(T) - sum(m log2 m) / T over the positive metrics m with total T
    metric = ibis.ifelse(dim.dim.isin(["category", "brand"]), dim.amount.cast("float64"),
                         dim.orders.cast("float64"))
    d = dim.select("customer_id", "dim", "value", metric=metric)
    groups = d.group_by("customer_id", "dim").aggregate(
        best=d.metric.max(), total=d.metric.sum(),
        values=d.count(), m_log_m=(d.metric * d.metric.log2()).sum(where=d.metric > 0))
    top = d.join(groups, ["customer_id", "dim"]).filter(lambda t: t.metric == t.best)
    top = top.group_by("customer_id", "dim").aggregate(
        value=top.value.min(), share=ratio(top.best.max(), top.total.max()))
    g = groups
    cat = g.dim == "category"
    entropy = g.total.log2() - ratio(g.m_log_m, g.total)
    spread = g.group_by("customer_id").aggregate(
        category_count=g["values"].sum(where=cat).fill_null(0).cast("int64"),
        category_entropy=ibis.greatest(entropy, 0.0).max(where=cat & (g.total > 0)).cast("float64"))

    def pick(name: str, what: str):
        return getattr(top, what).max(where=top.dim == name)

    tops = top.group_by("customer_id").aggregate(
        top_category=pick("category", "value"), top_category_share=pick("category", "share"),
        top_brand=pick("brand", "value"), top_brand_share=pick("brand", "share"),
        preferred_channel=pick("channel", "value"),
        preferred_weekday=pick("weekday", "value").cast("int64"),
        preferred_hour=pick("hour", "value").cast("int64"),
    )
    return attach(tops, spread)


def _products(product: ibis.Table) -> ibis.Table:
    return product.group_by("customer_id").aggregate(
        new_items=product.items_first_day.sum().cast("int64"),
        product_items=product["items"].sum().cast("int64"),
    )
