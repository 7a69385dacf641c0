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
    metric = ibis.ifelse(dim.dim.isin(["category", "brand"]), dim.amount.cast("float64"),
                         dim.orders.cast("float64"))
    d = dim.mutate(metric=metric)
    by_dim = ibis.window(group_by=["customer_id", "dim"])
    d = d.mutate(
        rank=ibis.row_number().over(ibis.window(group_by=["customer_id", "dim"],
                                                order_by=[ibis.desc("metric"), "value"])),
        share=ratio(d.metric, d.metric.sum().over(by_dim)),
    )
    p = d.share
    cat = d.dim == "category"
    top = d.rank == 0
    return d.group_by("customer_id").aggregate(
        top_category=d.value.max(where=cat & top),
        top_category_share=d.share.max(where=cat & top),
        top_brand=d.value.max(where=(d.dim == "brand") & top),
        top_brand_share=d.share.max(where=(d.dim == "brand") & top),
        category_count=cat.sum().cast("int64"),
        category_entropy=(-(p * p.log2())).sum(where=cat & (p > 0)).cast("float64"),
        preferred_channel=d.value.max(where=(d.dim == "channel") & top),
        preferred_weekday=d.value.max(where=(d.dim == "weekday") & top).cast("int64"),
        preferred_hour=d.value.max(where=(d.dim == "hour") & top).cast("int64"),
    )


def _products(product: ibis.Table) -> ibis.Table:
    return product.group_by("customer_id").aggregate(
        new_items=product.items_first_day.sum().cast("int64"),
        product_items=product["items"].sum().cast("int64"),
    )
