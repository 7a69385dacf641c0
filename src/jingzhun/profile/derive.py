"""The customer profile (客户画像) as of a date: one row per customer.

``derive_profile`` combines the mergeable state, the per-customer summary and the ``customers``
table into the features of ``PROFILE_COLUMNS``. What depends on the date (recency, tenure, the
30/90-day engagement windows, lifecycle stage, age band) or on the whole population (price index
against category averages, the median gap of one-time buyers) is computed here, every time.

Definitions (days are local calendar days in the profile's time zone; money in the orders'
currency):

* ``orders`` purchase orders; ``repeat_orders`` = orders - 1 (0 without orders);
  ``purchase_days`` distinct days with a purchase; ``cancelled_orders``; ``items`` units bought;
  ``items_returned`` units on return lines;
* ``monetary_gross`` sum of purchase totals (paid, after discount); ``returns_amount`` refunds
  (returned orders + return lines of other purchases + credit notes); ``monetary_net`` = gross -
  returns (exact: computed in DECIMAL, then stored as float64);
  ``avg_order_value`` = gross / orders; ``max_order_value``; ``discount_amount`` total order
  discounts; ``return_rate`` = returns / gross;
* ``recency_days`` = as_of - last purchase day; ``tenure_days`` = as_of - first purchase day;
  ``ipt_*_days`` gaps between purchase days; ``ipt_cv`` = std / mean of the gaps;
* ``discount_order_share`` share of orders with a discount or a coupon;
  ``discount_depth_mean`` = their discounts / (their totals + discounts) (value-weighted);
  ``price_index`` = what the customer paid at unit price / what the same items cost at their
  categories' average unit price (1 = average, < 1 buys cheaper items);
* ``views_30d`` ... ``searches_90d`` events on the last 30/90 days up to and including as_of;
  ``cart_abandonment_rate_90d`` share of those 90 days with an add-to-cart and no purchase;
* ``new_product_share`` share of items bought on the first day the customer bought that product;
* ``age_band`` from ``birth_year`` as of the profile year (``<25``, ``25-34`` ... ``65+``).
"""

from __future__ import annotations

from datetime import date

import ibis

from jingzhun.profile._portable import attach, backend_name, local_timestamp, ratio
from jingzhun.profile.lifecycle import LifecycleConfig, expected_gap_days, lifecycle_stage
from jingzhun.profile.state import EVENT_DAYS, epoch_day

#: Columns of ``customer_profile``, in order.
PROFILE_COLUMNS = (
    "customer_id", "as_of",
    "orders", "repeat_orders", "purchase_days", "cancelled_orders", "items", "items_returned",
    "monetary_gross", "returns_amount", "monetary_net", "avg_order_value", "max_order_value",
    "discount_amount", "return_rate",
    "first_order_at", "last_order_at", "recency_days", "tenure_days", "ipt_mean_days",
    "ipt_median_days", "ipt_cv", "preferred_weekday", "preferred_hour",
    "top_category", "top_category_share", "top_brand", "top_brand_share", "category_count",
    "category_entropy", "new_product_share",
    "discount_order_share", "discount_depth_mean", "price_index",
    "preferred_channel", "views_30d", "views_90d", "carts_30d", "carts_90d", "searches_30d",
    "searches_90d", "cart_abandonment_rate_90d", "last_event_at",
    "lifecycle_stage", "expected_gap_days",
    "gender", "age_band", "city", "province", "signup_at",
)

AGE_BANDS = ((25, "<25"), (35, "25-34"), (45, "35-44"), (55, "45-54"), (65, "55-64"))


def derive_profile(state: dict[str, ibis.Table], summary: ibis.Table, customers: ibis.Table, *,
                   as_of: date, timezone: str = "UTC",
                   lifecycle: LifecycleConfig | None = None) -> ibis.Table:
    """One row per customer (registered by ``as_of`` or with any order or event in the state).

    Parameters
    ----------
    state : dict of grain -> Ibis table
        The profile state (``profile.state``), including everything up to ``as_of``.
    summary : Ibis table
        ``profile.summary.summarise(state)``.
    customers : Ibis table
        The canonical ``customers`` table (demographics are passed through).
    as_of : date
        The profile date (a local date in ``timezone``).
    """
    cfg = lifecycle or LifecycleConfig()
    day = epoch_day(as_of)
    c = state["customer"]
    reg = _registered(customers, day, timezone)
    ids = ibis.union(reg.select("customer_id"), c.select("customer_id"), distinct=True)
    t = ids
    for part in (c, summary, _engagement(state["day"], day), _price_index(state["dim"]), reg):
        t = attach(t, part)
    t = t.mutate(**_value(t), **_timing(t, day), **_prices(t), **_counts(t))
    population_gap = summary.ipt_median_days.median()
    t = t.mutate(
        expected_gap_days=expected_gap_days(t.ipt_median_days, population_gap, cfg),
        prior_gap_days=expected_gap_days(t.prior_gap_median_days, population_gap, cfg),
    )
    t = t.mutate(
        as_of=ibis.date(as_of),
        lifecycle_stage=lifecycle_stage(orders=t.orders, purchase_days=t.purchase_days,
                                        recency_days=t.recency_days,
                                        last_gap_days=t.last_gap_days, gap_days=t.expected_gap_days,
                                        prior_gap_days=t.prior_gap_days, cfg=cfg),
        age_band=_age_band(as_of.year - t.birth_year),
        new_product_share=ratio(t.new_items, t.product_items),
        ipt_cv=ratio(t.ipt_std_days, t.ipt_mean_days),
    )
    return t.select(*PROFILE_COLUMNS)


def _registered(customers: ibis.Table, day: int, tz: str) -> ibis.Table:
    signup_day = local_timestamp(customers.signup_at, tz, backend_name(customers)).date().epoch_days()
    return customers.filter(customers.signup_at.isnull() | (signup_day <= day)).select(
        "customer_id", "gender", "birth_year", "city", "province", "signup_at")


def _money(x: ibis.Value) -> ibis.Value:
    return x.fill_null(0).cast("float64")


def _value(t: ibis.Table) -> dict[str, ibis.Value]:
    orders = t.orders.fill_null(0)
    gross = _money(t.gross_amount)
    refunds = (t.line_refund_amount.fill_null(0) + t.credit_amount.fill_null(0)
               + t.returned_order_amount.fill_null(0))
    returns = refunds.cast("float64")
    return {
        "orders": orders,
        "repeat_orders": (orders - 1).clip(lower=0),
        "purchase_days": t.purchase_days.fill_null(0),
        "cancelled_orders": t.cancelled_orders.fill_null(0),
        "items": t["items"].fill_null(0),
        "items_returned": t.items_returned.fill_null(0),
        "monetary_gross": gross,
        "returns_amount": returns,
        "monetary_net": (t.gross_amount.fill_null(0) - refunds).cast("float64"),
        "avg_order_value": ratio(gross, orders),
        "max_order_value": t.max_order_amount.cast("float64"),
        "discount_amount": _money(t.discount_amount),
        "return_rate": ratio(returns, gross),
    }


def _timing(t: ibis.Table, day: int) -> dict[str, ibis.Value]:
    return {
        "recency_days": (day - t.last_day).cast("int64"),
        "tenure_days": (day - t.first_day).cast("int64"),
    }


def _prices(t: ibis.Table) -> dict[str, ibis.Value]:
    return {
        "discount_order_share": ratio(t.discounted_orders, t.orders),
        "discount_depth_mean": ratio(
            t.discounted_discount_amount,
            t.discounted_paid_amount + t.discounted_discount_amount),
    }


def _counts(t: ibis.Table) -> dict[str, ibis.Value]:
    return {
        "views_30d": t.views_30d.fill_null(0), "views_90d": t.views_90d.fill_null(0),
        "carts_30d": t.carts_30d.fill_null(0), "carts_90d": t.carts_90d.fill_null(0),
        "searches_30d": t.searches_30d.fill_null(0), "searches_90d": t.searches_90d.fill_null(0),
    }


def _engagement(day_state: ibis.Table, day: int) -> ibis.Table:
    d = day_state.filter((day_state.day <= day) & (day_state.day > day - EVENT_DAYS))
    in30 = d.day > day - 30
    cart_day = d.carts > 0
    return d.group_by("customer_id").aggregate(
        views_30d=d.views.sum(where=in30).fill_null(0).cast("int64"),
        views_90d=d.views.sum().fill_null(0).cast("int64"),
        carts_30d=d.carts.sum(where=in30).fill_null(0).cast("int64"),
        carts_90d=d.carts.sum().fill_null(0).cast("int64"),
        searches_30d=d.searches.sum(where=in30).fill_null(0).cast("int64"),
        searches_90d=d.searches.sum().fill_null(0).cast("int64"),
        cart_abandonment_rate_90d=ratio((cart_day & (d.orders.fill_null(0) == 0)).sum(),
                                        cart_day.sum()),
    )


def _price_index(dim: ibis.Table) -> ibis.Table:
    cat = dim.filter((dim.dim == "category") & (dim["items"] > 0))
    avg = cat.group_by("value").aggregate(
        avg_price=ratio(cat.price_amount.sum(), cat["items"].sum()))
    j = cat.join(avg, "value")
    return j.group_by("customer_id").aggregate(
        price_index=ratio(j.price_amount.sum(), (j["items"].cast("float64") * j.avg_price).sum()))


def _age_band(age: ibis.Value) -> ibis.Value:
    branches = [(age < upper, label) for upper, label in AGE_BANDS]
    return ibis.cases((age.isnull(), ibis.null("string")), *branches, else_="65+")
