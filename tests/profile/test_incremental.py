"""Incremental update == full rebuild (DESIGN.md §4), as a hypothesis property.

Random histories of orders, lines and events are cut into two ingest runs; the first run is built
as of one date, the second applied by ``profile_update`` as of a later date, and the result must
equal a full build of everything as of the later date -- profile, lifecycle stages and tags, and
the ``day`` state, whose event counts expire after 90 days.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jingzhun import pipeline
from jingzhun.warehouse import Warehouse
from tests.profile.helpers import insert

START = datetime(2024, 3, 20)  # Europe/London changes to summer time on 2024-03-31
CUSTOMERS = ("c1", "c2", "c3", "c4")
PRODUCTS = [{"product_id": f"p{i}", "category": ("shoes", "bags", None)[i % 3],
             "brand": ("X", "Y")[i % 2]} for i in range(5)]

order_st = st.fixed_dictionaries({
    "customer": st.sampled_from(CUSTOMERS),
    "minute": st.integers(0, 60 * 24 * 40),
    "status": st.sampled_from(["completed"] * 4 + ["cancelled", "returned"]),
    "total_cents": st.integers(-3000, 30000),
    "discount_cents": st.sampled_from([0, 0, 500]),
    "coupon": st.sampled_from([None, None, "C10"]),
    "channel": st.sampled_from(["app", "web", None]),
    "second_run": st.booleans(),
    "lines": st.lists(st.fixed_dictionaries({
        "product": st.integers(0, 4), "quantity": st.sampled_from([1, 1, 2, 3, -1]),
        "price_cents": st.integers(0, 9000), "second_run": st.booleans()}), max_size=3),
})
event_st = st.fixed_dictionaries({
    "customer": st.sampled_from([*CUSTOMERS, None]),
    "minute": st.integers(0, 60 * 24 * 40),
    "type": st.sampled_from(["view", "add_to_cart", "search", "purchase"]),
    "second_run": st.booleans(),
})


def _rows(orders: list[dict], events: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {"orders": [], "order_lines": [], "events": []}
    for i, o in enumerate(orders):
        oid, run = f"o{i}", "r2" if o["second_run"] else "r1"
        out["orders"].append({
            "order_id": oid, "customer_id": o["customer"], "status": o["status"],
            "ordered_at": START + timedelta(minutes=o["minute"]), "currency": "CNY",
            "total_amount": o["total_cents"] / 100, "discount_amount": o["discount_cents"] / 100,
            "coupon_code": o["coupon"], "channel": o["channel"], "ingest_run_id": run})
        for n, line in enumerate(o["lines"], start=1):
            out["order_lines"].append({
                "order_id": oid, "line_no": n, "product_id": f"p{line['product']}",
                "quantity": line["quantity"], "unit_price": line["price_cents"] / 100,
                "ingest_run_id": "r2" if run == "r2" or line["second_run"] else "r1"})
    for i, e in enumerate(events):
        out["events"].append({
            "event_id": f"e{i}", "customer_id": e["customer"], "type": e["type"],
            "anonymous_id": None if e["customer"] else "anon",
            "occurred_at": START + timedelta(minutes=e["minute"]),
            "ingest_run_id": "r2" if e["second_run"] else "r1"})
    return out


def _warehouse(rows: dict[str, list[dict]], *, runs: set[str]) -> Warehouse:
    wh = Warehouse(":memory:")
    insert(wh, "customers", [{"customer_id": c, "birth_year": 1980 + i}
                             for i, c in enumerate(CUSTOMERS[:3])])
    insert(wh, "products", PRODUCTS)
    _add(wh, rows, runs)
    return wh


def _add(wh: Warehouse, rows: dict[str, list[dict]], runs: set[str]) -> None:
    for table, table_rows in rows.items():
        insert(wh, table, [r for r in table_rows if r["ingest_run_id"] in runs])


def _profile(wh: Warehouse) -> tuple[pd.DataFrame, list, list]:
    """The profile, the current tags and the (exact, integer) ``day`` state."""
    tags = wh.con.execute("SELECT * FROM customer_tags ORDER BY ALL").fetchall()
    days = wh.con.execute("SELECT * FROM profile_state_day ORDER BY ALL").fetchall()
    return wh.con.execute("SELECT * FROM customer_profile ORDER BY customer_id").df(), tags, days


def assert_same_profile(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Equal rows; integers and strings exactly, floats to 1e-9 (relative)."""
    assert list(got.columns) == list(want.columns)
    assert got["customer_id"].tolist() == want["customer_id"].tolist()
    for col in want.columns:
        a, b = got[col], want[col]
        if pd.api.types.is_float_dtype(b):
            np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-9,
                                       atol=1e-9, err_msg=col)
        else:
            assert a.isna().tolist() == b.isna().tolist(), col
            assert a[b.notna()].tolist() == b[b.notna()].tolist(), col


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(orders=st.lists(order_st, max_size=12), events=st.lists(event_st, max_size=10),
       first_days=st.integers(0, 40),
       # days later: within the 90-day event window, or past it for some events (expiry)
       more_days=st.integers(0, 15) | st.integers(60, 140),
       tz=st.sampled_from(["UTC", "Europe/London", "Asia/Shanghai"]))
def test_update_equals_full_build(orders, events, first_days, more_days, tz):
    rows = _rows(orders, events)
    as_of_1 = date(2024, 3, 20) + timedelta(days=first_days)
    as_of_2 = as_of_1 + timedelta(days=more_days)
    with _warehouse(rows, runs={"r1", "r2"}) as full:
        if not rows["orders"] and not rows["events"]:
            return
        pipeline.profile_build(full, as_of=as_of_2, timezone=tz)
        want = _profile(full)
    with _warehouse(rows, runs={"r1"}) as inc:
        pipeline.profile_build(inc, as_of=as_of_1, timezone=tz)
        _add(inc, rows, {"r2"})
        pipeline.profile_update(inc, as_of=as_of_2)
        got = _profile(inc)
    assert_same_profile(got[0], want[0])
    assert got[1] == want[1]  # current tags
    assert got[2] == want[2]  # day state, old event counts expired alike
