"""Mergeable profile state: additive aggregates of orders, order lines and events.

The state is four tables at four grains. Every column is a count, a DECIMAL sum, a min or a max,
so two states (or a state and the aggregate of new rows) merge by a ``GROUP BY`` of their union;
nothing here depends on the profile date beyond which rows are included. Grains:

``customer``  (customer_id) -- purchase orders, credit notes, money sums, first/last purchase and
              event time, items bought and returned;
``day``       (customer_id, day) -- per local calendar day (``day`` = days since 1970-01-01 in the
              profile's time zone): purchase orders, views, add-to-carts, searches; the event
              counts only for the last ``EVENT_DAYS`` days up to the profile date (the longest
              engagement window), so that old browsing does not fill the table: older days
              keep their purchase counts (``expire_events``);
``dim``       (customer_id, dim, value) -- per channel, weekday (``"00"`` = Monday) and local
              hour (``"00"``..``"23"``):
              purchase orders and their paid amount; per category and brand: items, paid amount
              (after line discounts) and amount at unit price;
``product``   (customer_id, product_id) -- first purchase day, items bought that day, all items.

What counts (documented choices):

* an order *purchase* is an order with a customer, status other than ``cancelled`` and
  ``total_amount >= 0`` (completed and returned orders: a returned order was bought, then
  refunded); an order with ``total_amount < 0`` is a *credit note* (e.g. Online Retail's ``C``
  invoices) and refunds ``-total_amount``; a cancelled order with a non-negative total is only
  counted (``cancelled_orders``);
* order-level money: gross = ``total_amount`` (paid, after the order's discount); an order with
  status ``returned`` refunds its whole total (``returned_order_amount``);
* a line with ``quantity < 0`` is a return: of a purchase that is not ``returned`` it refunds
  ``-quantity * unit_price - discount`` (the line's discount is the part of the price not paid);
  of a returned order or a credit note it only counts returned items (their order-level refund
  already covers it);
* a row is included when its local day is on or before the profile date, and -- in an update --
  when it was not included before (``Watermark``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.datatypes as dt

from jingzhun.profile._portable import backend_name, local_timestamp

MONEY = dt.Decimal(38, 4)
EPOCH = date(1970, 1, 1)

#: Key columns of each state table.
STATE_KEYS: dict[str, tuple[str, ...]] = {
    "customer": ("customer_id",),
    "day": ("customer_id", "day"),
    "dim": ("customer_id", "dim", "value"),
    "product": ("customer_id", "product_id"),
}

#: How each non-key column of a state table merges.
STATE_MERGE: dict[str, dict[str, str]] = {
    "customer": {
        "orders": "sum", "cancelled_orders": "sum", "credit_notes": "sum", "gross_amount": "sum",
        "credit_amount": "sum", "returned_order_amount": "sum", "line_refund_amount": "sum",
        "discount_amount": "sum", "discounted_orders": "sum",
        "discounted_paid_amount": "sum", "discounted_discount_amount": "sum",
        "max_order_amount": "max", "first_order_at": "min", "last_order_at": "max",
        "items": "sum", "items_returned": "sum", "events": "sum", "last_event_at": "max",
    },
    "day": {"orders": "sum", "views": "sum", "carts": "sum", "searches": "sum"},
    "dim": {"orders": "sum", "items": "sum", "amount": "sum", "price_amount": "sum"},
    "product": {"first_day": "min", "items_first_day": "sum", "items": "sum"},
}

#: Days up to the profile date whose event counts the ``day`` grain keeps.
EVENT_DAYS = 90
#: The event counts of the ``day`` grain.
EVENT_COUNTS = ("views", "carts", "searches")


def epoch_day(d: date) -> int:
    """Days since 1970-01-01 of a calendar date."""
    return (d - EPOCH).days


@dataclass(frozen=True)
class Watermark:
    """What a stored state already includes: rows of ``runs`` (ingest run ids) dated on or before
    ``as_of`` (local date)."""

    runs: tuple[str, ...]
    as_of: date


def _run(col: ibis.Value) -> ibis.Value:
    return col.fill_null("(none)")


def _is_new(run: ibis.Value, day: ibis.Value, as_of_day: int, since: Watermark | None) -> ibis.Value:
    """Whether a row (ingest run, local day) belongs in the delta up to ``as_of_day``."""
    upto = day <= as_of_day
    if since is None:
        return upto
    seen = run.isin(list(since.runs)) & (day <= epoch_day(since.as_of))
    return upto & ~seen


def _local_parts(table: ibis.Table, column: str, tz: str, backend: str) -> dict[str, ibis.Value]:
    local = local_timestamp(table[column], tz, backend)
    return {"day": local.date().epoch_days(), "weekday": local.day_of_week.index(),
            "hour": local.hour()}


def _number_key(value: ibis.Value) -> ibis.Value:
    """A small non-negative integer as a two-digit string, so that text order is number order."""
    return value.cast("string").lpad(2, "0")


def classify_orders(orders: ibis.Table, tz: str, backend: str) -> ibis.Table:
    """Orders with a customer, with their local ``day`` (days since 1970-01-01), ``weekday`` and
    ``hour`` in time zone ``tz``, and the flags ``is_purchase``, ``is_credit``, ``is_cancelled``,
    ``is_returned`` of the rules in this module's docstring (shared by ``predict.rfm_summary``)."""
    o = orders.filter(orders.customer_id.notnull())
    total = o.total_amount.cast(MONEY)
    return o.mutate(
        **_local_parts(o, "ordered_at", tz, backend),
        run=_run(o.ingest_run_id),
        total=total,
        discount=o.discount_amount.fill_null(0).cast(MONEY),
        is_purchase=(o.status != "cancelled") & (total >= 0),
        is_credit=total < 0,
        is_cancelled=(o.status == "cancelled") & (total >= 0),
        is_returned=(o.status == "returned") & (total >= 0),
    )


def delta_state(orders: ibis.Table, order_lines: ibis.Table, products: ibis.Table,
                events: ibis.Table, *, as_of: date, timezone: str = "UTC",
                since: Watermark | None = None,
                materialize: Callable[[str, ibis.Table], ibis.Table] | None = None,
                ) -> dict[str, ibis.Table]:
    """State of the rows not in ``since`` and dated on or before ``as_of`` (local dates in
    ``timezone``); with ``since=None``, the state of everything up to ``as_of``.

    ``materialize(name, expr)``, when given, is called once with ``"lines"`` and the new order
    lines joined to their orders and products (read by three grains), so that the join is
    computed once. Returns a dict grain -> Ibis table (see ``STATE_KEYS`` and ``STATE_MERGE``).
    """
    backend = backend_name(orders)
    day_max = epoch_day(as_of)
    o = classify_orders(orders, timezone, backend)
    o_new = o.filter(_is_new(o.run, o.day, day_max, since))
    lines = _lines(o, order_lines, products, day_max, since)
    if materialize is not None:
        lines = materialize("lines", lines)
    ev = _events(events, day_max, since, timezone, backend)
    return {
        "customer": _customer_state(o_new, lines, ev),
        "day": _day_state(o_new, ev.filter(ev.day > day_max - EVENT_DAYS)),
        "dim": _dim_state(o_new, lines),
        "product": _product_state(lines),
    }


def _lines(o: ibis.Table, order_lines: ibis.Table, products: ibis.Table, day_max: int,
           since: Watermark | None) -> ibis.Table:
    """New order lines with their order's customer, day and kind, and the product's category."""
    ol = order_lines.mutate(line_run=_run(order_lines.ingest_run_id))
    j = ol.join(o.select("order_id", "customer_id", "day", "run", "is_purchase", "is_credit",
                         "is_returned"), "order_id")
    run_seen = j.run if since is None else ibis.ifelse(
        j.line_run.isin(list(since.runs)), j.run, "(not applied)")
    j = j.filter(_is_new(run_seen, j.day, day_max, since))
    p = products.select("product_id", "category", "brand")
    j = j.left_join(p, j.product_id == p.product_id).drop("product_id_right")
    qty = j.quantity
    price_amount = (qty * j.unit_price).cast(MONEY)
    discount = j.discount.fill_null(0)
    return j.select(
        "customer_id", "day", "product_id", "category", "brand", "quantity",
        price_amount=price_amount,
        amount=(price_amount - discount).cast(MONEY),
        refund=(-price_amount - discount).cast(MONEY),
        is_bought=j.is_purchase & (qty > 0),
        is_return=(j.is_purchase | j.is_credit) & (qty < 0),
        refunds_here=j.is_purchase & ~j.is_returned & (qty < 0),
    )


def _events(events: ibis.Table, day_max: int, since: Watermark | None, tz: str,
            backend: str) -> ibis.Table:
    e = events.filter(events.customer_id.notnull())
    e = e.mutate(day=local_timestamp(e.occurred_at, tz, backend).date().epoch_days(),
                 run=_run(e.ingest_run_id))
    return e.filter(_is_new(e.run, e.day, day_max, since))


def _money_sum(value: ibis.Value, where: ibis.Value | None = None) -> ibis.Value:
    return value.sum(where=where).fill_null(0).cast(MONEY)


def _customer_state(o: ibis.Table, lines: ibis.Table, ev: ibis.Table) -> ibis.Table:
    disc = o.is_purchase & ((o.discount > 0) | o.coupon_code.notnull())
    per_order = o.group_by("customer_id").aggregate(
        orders=o.is_purchase.sum().cast("int64"),
        cancelled_orders=o.is_cancelled.sum().cast("int64"),
        credit_notes=o.is_credit.sum().cast("int64"),
        gross_amount=_money_sum(o.total, o.is_purchase),
        credit_amount=_money_sum(-o.total, o.is_credit),
        returned_order_amount=_money_sum(o.total, o.is_returned),
        discount_amount=_money_sum(o.discount, o.is_purchase),
        discounted_orders=disc.sum().cast("int64"),
        discounted_paid_amount=_money_sum(o.total, disc),
        discounted_discount_amount=_money_sum(o.discount, disc),
        max_order_amount=o.total.max(where=o.is_purchase).cast(MONEY),
        first_order_at=o.ordered_at.min(where=o.is_purchase),
        last_order_at=o.ordered_at.max(where=o.is_purchase),
    )
    per_line = lines.group_by("customer_id").aggregate(
        line_refund_amount=_money_sum(lines.refund, lines.refunds_here),
        items=lines.quantity.sum(where=lines.is_bought).fill_null(0).cast("int64"),
        items_returned=(-lines.quantity).sum(where=lines.is_return).fill_null(0).cast("int64"),
    )
    per_event = ev.group_by("customer_id").aggregate(
        events=ev.count().cast("int64"), last_event_at=ev.occurred_at.max())
    parts = [
        _pad(per_order, "customer"), _pad(per_line, "customer"), _pad(per_event, "customer"),
    ]
    return merge_rows("customer", ibis.union(*parts))


def _day_state(o: ibis.Table, ev: ibis.Table) -> ibis.Table:
    per_order = o.filter(o.is_purchase).group_by("customer_id", "day").aggregate(
        orders=ibis._.count().cast("int64"))
    per_event = ev.group_by("customer_id", "day").aggregate(
        views=(ev.type == "view").sum().cast("int64"),
        carts=(ev.type == "add_to_cart").sum().cast("int64"),
        searches=(ev.type == "search").sum().cast("int64"),
    )
    return merge_rows("day", ibis.union(_pad(per_order, "day"), _pad(per_event, "day")))


def _dim_state(o: ibis.Table, lines: ibis.Table) -> ibis.Table:
    bought = o.filter(o.is_purchase)
    parts = []
    for dim in ("channel", "weekday", "hour"):
        value = bought[dim] if dim == "channel" else _number_key(bought[dim])
        parts.append(bought.filter(bought[dim].notnull()).group_by(
            "customer_id", value=value).aggregate(
            dim=ibis.literal(dim), orders=ibis._.count().cast("int64"),
            amount=_money_sum(ibis._.total)))
    b = lines.filter(lines.is_bought)
    for dim in ("category", "brand"):
        parts.append(b.filter(b[dim].notnull()).group_by("customer_id", value=b[dim]).aggregate(
            dim=ibis.literal(dim), items=b.quantity.sum().cast("int64"), amount=_money_sum(b.amount),
            price_amount=_money_sum(b.price_amount)))
    # each part is one dim with unique (customer, value) keys: their union is already merged
    return ibis.union(*[_pad(p, "dim") for p in parts])


def _product_state(lines: ibis.Table) -> ibis.Table:
    b = lines.filter(lines.is_bought & lines.product_id.notnull())
    per_day = b.group_by("customer_id", "product_id", first_day=b.day).aggregate(
        items=b.quantity.sum().cast("int64"))
    return _collapse_days(per_day.mutate(items_first_day=per_day["items"]))


def _pad(t: ibis.Table, grain: str) -> ibis.Table:
    """``t`` with every column of the grain's state, in canonical order: a missing sum is 0 (as
    ``merge_rows`` would make it), a missing min or max null."""
    def missing(c: str) -> ibis.Value:
        how = STATE_MERGE[grain][c]
        return (ibis.literal(0) if how == "sum" else ibis.null()).cast(_TYPES[grain][c]).name(c)
    return t.select(*[t[c] if c in t.columns else missing(c)
                      for c in state_columns(grain)]).cast(_TYPES[grain])


def state_columns(grain: str) -> list[str]:
    """Columns of a state table, keys first."""
    return [*STATE_KEYS[grain], *STATE_MERGE[grain]]


_TYPES: dict[str, dict[str, str | dt.DataType]] = {
    "customer": {"customer_id": "string", "orders": "int64", "cancelled_orders": "int64",
                 "credit_notes": "int64", "gross_amount": MONEY, "credit_amount": MONEY,
                 "returned_order_amount": MONEY, "line_refund_amount": MONEY,
                 "discount_amount": MONEY, "discounted_orders": "int64",
                 "discounted_paid_amount": MONEY, "discounted_discount_amount": MONEY,
                 "max_order_amount": MONEY, "first_order_at": "timestamp",
                 "last_order_at": "timestamp", "items": "int64", "items_returned": "int64",
                 "events": "int64", "last_event_at": "timestamp"},
    "day": {"customer_id": "string", "day": "int64", "orders": "int64", "views": "int64",
            "carts": "int64", "searches": "int64"},
    "dim": {"customer_id": "string", "dim": "string", "value": "string", "orders": "int64",
            "items": "int64", "amount": MONEY, "price_amount": MONEY},
    "product": {"customer_id": "string", "product_id": "string", "first_day": "int64",
                "items_first_day": "int64", "items": "int64"},
}


def merge_rows(grain: str, rows: ibis.Table) -> ibis.Table:
    """Collapse state rows with the same key (sums, mins, maxes); nulls count as absent.

    The ``product`` grain's ``items_first_day`` sums only the rows at the merged ``first_day``.
    """
    if grain == "product":
        return _merge_product(rows)
    keys = STATE_KEYS[grain]
    aggs = {}
    for col, how in STATE_MERGE[grain].items():
        agg = getattr(rows[col], how)()
        if how == "sum":
            agg = agg.fill_null(0)
        aggs[col] = agg.cast(_TYPES[grain][col])
    return rows.group_by(list(keys)).aggregate(**aggs).select(state_columns(grain))


#: ``first_day * _PACK + items_first_day``: the minimum of the packed number is the earliest day
#: and the items bought that day, in one plain ``min`` (no window, no ordered aggregate; both are
#: several times slower on DuckDB). Days are < 10^6 and items < 10^12, so it fits in an int64.
_PACK = 10**12


def _merge_product(rows: ibis.Table) -> ibis.Table:
    return _collapse_days(rows.group_by("customer_id", "product_id", "first_day").aggregate(
        items_first_day=rows.items_first_day.sum().fill_null(0).cast("int64"),
        items=rows["items"].sum().fill_null(0).cast("int64")))


def _collapse_days(per_day: ibis.Table) -> ibis.Table:
    """Product state rows from rows with unique (customer, product, first_day)."""
    packed = (per_day.first_day * _PACK + per_day.items_first_day).min()
    merged = per_day.group_by("customer_id", "product_id").aggregate(
        packed=packed, items=per_day["items"].sum().cast("int64"))
    return merged.select(
        "customer_id", "product_id", first_day=(merged.packed // _PACK).cast("int64"),
        items_first_day=(merged.packed % _PACK).cast("int64"), items=merged["items"])


def expire_events(day: ibis.Table, as_of: date) -> ibis.Table:
    """The ``day`` state as of ``as_of``: event counts cleared on days ``EVENT_DAYS`` or more
    before it, and the rows left empty dropped (what a full build as of ``as_of`` holds)."""
    old = day.day <= epoch_day(as_of) - EVENT_DAYS
    cleared = {c: ibis.ifelse(old, 0, day[c]).cast("int64") for c in EVENT_COUNTS}
    return day.mutate(**cleared).filter(~old | (day.orders > 0))


def merge_state(old: dict[str, ibis.Table], delta: dict[str, ibis.Table], *,
                grains: tuple[str, ...] = tuple(STATE_KEYS)) -> dict[str, ibis.Table]:
    """The state of ``old`` plus ``delta`` (both dicts grain -> table) for ``grains``."""
    return {g: merge_rows(g, ibis.union(_pad(old[g], g), _pad(delta[g], g))) for g in grains}
