"""Hand-computed profile features, one test per feature family or case (issue 4).

Every expected value is worked out by hand in the comments, from the definitions in the module
docstrings of ``profile/state.py``, ``summary.py``, ``derive.py`` and ``lifecycle.py``. Stored
times are naive UTC; "day" is a local calendar day in the profile's time zone.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from jingzhun import pipeline
from jingzhun.warehouse import Warehouse
from tests.profile.helpers import insert, profile_frame

AS_OF = date(2024, 6, 30)  # a Sunday
PRODUCTS = [
    {"product_id": "p1", "category": "shoes", "brand": "X"},
    {"product_id": "p2", "category": "bags", "brand": "Y"},
    {"product_id": "p3", "category": "hats", "brand": "Z"},
    {"product_id": "t1", "category": "tea", "brand": "T"},
    {"product_id": "k1", "category": "coffee", "brand": "K"},
]


def _at(days_before: int, hour: int = 12, minute: int = 0) -> datetime:
    """Naive UTC time ``days_before`` days before ``AS_OF`` at ``hour:minute``."""
    d = AS_OF - timedelta(days=days_before)
    return datetime(d.year, d.month, d.day, hour, minute)


def _order(oid: str, cid: str | None, at: datetime, total: float, *, status: str = "completed",
           discount: float = 0, coupon: str | None = None, channel: str = "web",
           run: str = "r1") -> dict:
    return {"order_id": oid, "customer_id": cid, "ordered_at": at, "total_amount": total,
            "status": status, "discount_amount": discount, "coupon_code": coupon,
            "channel": channel, "currency": "CNY", "ingest_run_id": run}


def _line(oid: str, no: int, pid: str, qty: int, unit: float, discount: float = 0,
          run: str = "r1") -> dict:
    return {"order_id": oid, "line_no": no, "product_id": pid, "quantity": qty,
            "unit_price": unit, "discount": discount, "ingest_run_id": run}


def _event(eid: str, cid: str, at: datetime, kind: str, run: str = "r1") -> dict:
    return {"event_id": eid, "customer_id": cid, "occurred_at": at, "type": kind,
            "ingest_run_id": run}


def _load(wh: Warehouse, *, customers=(), orders=(), lines=(), events=(), products=True) -> None:
    insert(wh, "customers", list(customers))
    insert(wh, "orders", list(orders))
    insert(wh, "order_lines", list(lines))
    insert(wh, "events", list(events))
    if products:
        insert(wh, "products", PRODUCTS)


def _profile(wh: Warehouse, as_of: date = AS_OF, tz: str = "UTC") -> pd.DataFrame:
    pipeline.profile_build(wh, as_of=as_of, timezone=tz)
    return profile_frame(wh).set_index("customer_id")


def _check(row: pd.Series, **expected) -> None:
    for col, want in expected.items():
        got = row[col]
        if want is None:
            assert pd.isna(got), f"{col}: expected null, got {got!r}"
        elif isinstance(want, float):
            assert got == pytest.approx(want, rel=1e-9), f"{col}: expected {want}, got {got!r}"
        else:
            assert got == want, f"{col}: expected {want!r}, got {got!r}"


# -- value ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def value():
    """One build of the value cases, a customer each (their values do not interact)."""
    with Warehouse(":memory:") as wh:
        _load(wh, customers=[{"customer_id": "c5"}], orders=[
            _order("o1", "c1", _at(29, 10), 100, discount=10),     # 60 + (50 - 10) = 100 paid
            _order("o2", "c1", _at(20, 10), 50, coupon="SPRING"),  # 30 + 20 = 50 paid
            _order("o3", "c2", _at(29), 80),
            _order("n1", "c2", _at(25), -30),  # a credit note (Online Retail's "C" invoice)
            _order("o4", "c3", _at(3), 60, status="returned"),
            _order("o5", "c4", _at(3), 60, status="returned"),
            _order("o6", "c5", _at(3), 99, status="cancelled"),
            _order("o7", "c6", _at(3), 99, status="cancelled"),
            _order("o8", "c7", _at(5), 36),
        ], lines=[
            _line("o1", 1, "p1", 2, 30), _line("o1", 2, "p2", 1, 50, discount=10),
            _line("o2", 1, "p1", 1, 30), _line("o2", 2, "p3", 1, 20),
            _line("o2", 3, "p3", -1, 20),  # the hat comes back: refund -(-1 * 20 - 0) = 20
            _line("o3", 1, "p1", 2, 40),
            _line("n1", 1, "p1", -1, 30),  # an item returned; the note's total is the refund
            _line("o4", 1, "p1", 1, 60), _line("o4", 2, "p1", -1, 60),
            _line("o5", 1, "p1", 1, 60),   # returned, but no return line
            _line("o6", 1, "p1", 1, 99),
            _line("o8", 1, "p1", 2, 20, discount=4), _line("o8", 2, "p1", -1, 20, discount=2),
        ])
        yield _profile(wh)


def test_value_with_a_returned_line(value):
    _check(value.loc["c1"],
           orders=2, repeat_orders=1, purchase_days=2,
           items=5,                      # 2 + 1 (o1) + 1 + 1 (o2); the return line is not bought
           items_returned=1,
           monetary_gross=150.0,         # 100 + 50: order totals, paid after discount
           returns_amount=20.0, monetary_net=130.0,    # 150 - 20
           avg_order_value=75.0,         # 150 / 2
           max_order_value=100.0, discount_amount=10.0,
           return_rate=20 / 150)


def test_credit_note_refunds_and_is_not_an_order(value):
    _check(value.loc["c2"],
           orders=1, purchase_days=1, items=2, items_returned=1,
           monetary_gross=80.0,
           returns_amount=30.0,          # -(-30), not 60: the line does not refund twice
           monetary_net=50.0, avg_order_value=80.0, return_rate=30 / 80,
           recency_days=29,              # the credit note's day is not a purchase day
           last_order_at=pd.Timestamp(_at(29)))


def test_returned_order_still_counts_as_an_order(value):
    # bought (an order, 60 gross), then refunded by its return line: net 60 - 60 = 0; one-time
    # buyers' gap is the population median (c1's 29 - 20 = 9): recency 3 <= 1.5 * 9 -> new
    _check(value.loc["c3"], orders=1, items=1, items_returned=1, monetary_gross=60.0,
           returns_amount=60.0, monetary_net=0.0, return_rate=1.0, expected_gap_days=9.0,
           lifecycle_stage="new")


def test_return_line_discount_reduces_the_refund(value):
    # 2 x 20 less 4 = 36 paid; the returned unit was sold at 20 less 2: refund 18, net 36 - 18
    _check(value.loc["c7"], returns_amount=18.0, monetary_net=18.0)


def test_returned_order_without_return_lines_is_refunded(value):
    _check(value.loc["c4"], orders=1, returns_amount=60.0, monetary_net=0.0)


def test_only_cancelled_orders_is_a_prospect(value):
    # a cancelled order is ignored: no purchase, so "prospect" (lifecycle.py)
    _check(value.loc["c5"], orders=0, repeat_orders=0, items=0, monetary_gross=0.0,
           monetary_net=0.0, avg_order_value=None, return_rate=None, recency_days=None,
           first_order_at=None, lifecycle_stage="prospect")


def test_only_cancelled_orders_without_customers_row_is_profiled(value):
    assert value.loc["c6", "lifecycle_stage"] == "prospect"


# -- timing ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def timing():
    with Warehouse(":memory:") as wh:
        _load(wh, orders=[
            _order("a1", "one", _at(10, 14), 10),
            _order("b1", "three", _at(39, 10), 10),    # 2024-05-22 Wednesday (2)
            _order("b2", "three", _at(29, 10), 10),    # 2024-06-01 Saturday (5), gap 10
            _order("b3", "three", _at(9, 15), 10),     # 2024-06-21 Friday (4), gap 20
            _order("c1", "same", _at(5, 9), 10),       # two orders on 2024-06-25: one day
            _order("c2", "same", _at(5, 18), 10),
            _order("d1", "old", _at(29), 10),
            _order("e1", "tie", _at(2, 9), 10),        # one order at 09:00, one at 10:00
            _order("e2", "tie", _at(2, 10), 10),
            _order("f1", "two", _at(35), 10),          # one gap of 5 days
            _order("f2", "two", _at(30), 10),
        ])
        yield _profile(wh)


def test_purchase_gaps(timing):
    _check(timing.loc["three"], purchase_days=3, recency_days=9, tenure_days=39,
           ipt_mean_days=15.0,                  # (10 + 20) / 2 = 39 - 9 over 3 - 1 gaps
           ipt_median_days=15.0,                # median of 10, 20
           ipt_cv=5 / 15,                       # population std sqrt(25) = 5 over the mean 15
           preferred_hour=10,                   # two orders at 10:00, one at 15:00
           preferred_weekday=2,                 # 2, 5, 4 once each: tie to the smallest
           expected_gap_days=15.0,
           lifecycle_stage="active")            # 9 <= 1.5 * 15; last gap 20 <= 3 * 15


def test_one_order(timing):
    # one-time buyers' gap: the population median of the customers' median gaps, 15 ("three")
    # and 5 ("two") -> (5 + 15) / 2 = 10
    _check(timing.loc["one"], orders=1, purchase_days=1, recency_days=10, tenure_days=10,
           ipt_mean_days=None, ipt_median_days=None, ipt_cv=None, expected_gap_days=10.0,
           preferred_hour=14, lifecycle_stage="new")               # 10 <= 1.5 * 10
    _check(timing.loc["old"], recency_days=29, lifecycle_stage="at_risk")  # 15 < 29 <= 30
    # "two": g = 5 clamped to 7; 3 * 7 = 21 < recency 30 <= 6 * 7 = 42
    _check(timing.loc["two"], ipt_median_days=5.0, ipt_cv=0.0, expected_gap_days=7.0,
           lifecycle_stage="dormant")


def test_orders_on_the_same_day(timing):
    _check(timing.loc["same"], orders=2, repeat_orders=1, purchase_days=1, ipt_mean_days=None,
           ipt_median_days=None, recency_days=5, tenure_days=5, lifecycle_stage="new")


def test_preferred_hour_tie_goes_to_the_smallest_hour(timing):
    assert timing.loc["tie", "preferred_hour"] == 9


# -- time zones ------------------------------------------------------------------------------------

def test_dst_change_in_london(mem_wh):
    # London goes from GMT to BST at 2024-03-31 01:00 UTC
    _load(mem_wh, orders=[
        _order("o1", "c1", datetime(2024, 3, 31, 0, 30), 10),   # 00:30 GMT, Sunday 31 March
        _order("o2", "c1", datetime(2024, 3, 31, 23, 30), 10),  # 00:30 BST, Monday 1 April
    ])
    london = _profile(mem_wh, date(2024, 4, 1), "Europe/London").loc["c1"]
    _check(london, purchase_days=2, ipt_median_days=1.0, recency_days=0, tenure_days=1,
           preferred_hour=0,              # both at 00:30 local
           preferred_weekday=0)           # Sunday (6) and Monday (0) once each: tie to 0
    utc = _profile(mem_wh, date(2024, 4, 1), "UTC").loc["c1"]
    _check(utc, purchase_days=1, ipt_median_days=None, recency_days=1, tenure_days=1,
           preferred_weekday=6)           # both on Sunday 31 March in UTC


def test_shanghai_local_day_moves_orders_and_signups(mem_wh):
    _load(mem_wh, customers=[
        {"customer_id": "late", "signup_at": datetime(2024, 3, 10, 17, 0)},  # 3-11 01:00 local
    ], orders=[
        _order("o1", "c1", datetime(2024, 3, 9, 20, 0), 10),   # 2024-03-10 04:00 in Shanghai
        _order("o2", "c1", datetime(2024, 3, 10, 17, 0), 20),  # 2024-03-11 01:00: after as_of
    ])
    sh = _profile(mem_wh, date(2024, 3, 10), "Asia/Shanghai")
    assert "late" not in sh.index
    _check(sh.loc["c1"], orders=1, monetary_gross=10.0, recency_days=0, preferred_hour=4,
           preferred_weekday=6,                     # Sunday 10 March locally
           last_order_at=pd.Timestamp("2024-03-09 20:00"))  # stored in UTC
    utc = _profile(mem_wh, date(2024, 3, 10), "UTC")
    assert "late" in utc.index
    _check(utc.loc["c1"], orders=2, monetary_gross=30.0, purchase_days=2, recency_days=0,
           tenure_days=1, preferred_weekday=5)      # Sat 9 and Sun 10 March: tie to 5


# -- preference ------------------------------------------------------------------------------------

def test_category_brand_shares_entropy_and_new_products(mem_wh):
    _load(mem_wh, orders=[
        _order("o1", "q1", _at(20), 120, discount=20),
        _order("o2", "q1", _at(10), 120),
        _order("o3", "q2", _at(1), 100),
    ], lines=[
        _line("o1", 1, "p1", 2, 30), _line("o1", 2, "p2", 2, 40, discount=20),
        _line("o2", 1, "p1", 2, 30), _line("o2", 2, "p3", 2, 30),
        _line("o3", 1, "p1", 1, 50), _line("o3", 2, "p2", 1, 50),
    ])
    p = _profile(mem_wh)
    # paid after line discounts: shoes 60 + 60 = 120, bags 80 - 20 = 60, hats 60; total 240
    # shares 0.5 / 0.25 / 0.25 -> entropy 0.5 * 1 + 2 * 0.25 * 2 = 1.5 bits
    # brands: X 120, Y 60, Z 60 -> X with 0.5
    # products: p1 2 on its first day + 2 later (repeat), p2 2 new, p3 2 new -> 6 / 8 new
    _check(p.loc["q1"], items=8, top_category="shoes", top_category_share=0.5,
           category_count=3, category_entropy=1.5, top_brand="X", top_brand_share=0.5,
           new_product_share=0.75)
    # shoes 50, bags 50: -2 * 0.5 * log2(0.5) = 1 bit; the tie goes to "bags" (smallest)
    _check(p.loc["q2"], category_count=2, category_entropy=1.0, top_category="bags",
           top_category_share=0.5, new_product_share=1.0)


# -- price sensitivity -----------------------------------------------------------------------------

def test_discount_share_depth_and_price_index(mem_wh):
    _load(mem_wh, orders=[
        _order("d1", "y1", _at(30), 100, discount=10),
        _order("d2", "y1", _at(20), 50, coupon="C5"),   # a coupon counts, even at 0 discount
        _order("d3", "y1", _at(10), 50),
        _order("x1", "x1", _at(5), 5), _order("x2", "x2", _at(5), 40),
        _order("x3", "x3", _at(5), 20),
    ], lines=[
        _line("x1", 1, "t1", 1, 10, discount=5),        # tea 1 @ 10; line discount ignored
        _line("x2", 1, "t1", 1, 30), _line("x2", 2, "k1", 2, 5),  # tea 1 @ 30, coffee 2 @ 5
        _line("x3", 1, "k1", 1, 20),                    # coffee 1 @ 20
    ])
    p = _profile(mem_wh)
    # 2 of 3 orders discounted; depth = 10 / ((100 + 50) + (10 + 0)) = 1/16 (value-weighted,
    # not the mean of 10/110 and 0/50)
    _check(p.loc["y1"], discount_order_share=2 / 3, discount_depth_mean=1 / 16,
           discount_amount=10.0, price_index=None)
    # category averages by items: tea (10 + 30) / 2 = 20, coffee (2 * 5 + 20) / 3 = 10
    _check(p.loc["x1"], price_index=0.5, discount_order_share=0.0,   # 10 / 20
           discount_depth_mean=None)
    _check(p.loc["x2"], price_index=1.0)   # (30 + 10) / (1 * 20 + 2 * 10)
    _check(p.loc["x3"], price_index=2.0)   # 20 / 10


# -- channel and engagement ------------------------------------------------------------------------

def test_channel_and_engagement_windows(mem_wh):
    ev = [("view", 0), ("view", 29), ("view", 30), ("view", 89), ("view", 90), ("view", -1),
          ("add_to_cart", 20), ("add_to_cart", 15), ("add_to_cart", 15), ("add_to_cart", 5),
          ("add_to_cart", 121), ("search", 10), ("search", 60)]
    _load(mem_wh, orders=[
        _order("o1", "e1", _at(20, 9), 10, channel="web"),   # on the day of a cart
        _order("o2", "e1", _at(10), 10, channel="web"),
        _order("o3", "e1", _at(60), 500, channel="app"),     # more money, fewer orders
        _order("o4", "e1", _at(5), 10, status="cancelled"),  # not a purchase on its cart day
    ], events=[_event(f"e{i}", "e1", _at(d, 8), k) for i, (k, d) in enumerate(ev)]
       + [_event("x", "e2", _at(3), "view")])
    p = _profile(mem_wh)
    # 30 days = as_of-29 .. as_of: views at 0 and 29 (30 is out); 90 days = as_of-89 .. as_of
    # cart days in 90 days: 20 (bought), 15 and 5 (no purchase) -> 2 / 3 abandoned
    _check(p.loc["e1"], preferred_channel="web", views_30d=2, views_90d=4, carts_30d=4,
           carts_90d=4, searches_30d=1, searches_90d=2, cart_abandonment_rate_90d=2 / 3,
           last_event_at=pd.Timestamp(_at(0, 8)))   # the view after as_of is not included
    # events only, no customers row: profiled as a prospect
    _check(p.loc["e2"], orders=0, views_30d=1, carts_90d=0, cart_abandonment_rate_90d=None,
           preferred_channel=None, lifecycle_stage="prospect")


# -- lifecycle -------------------------------------------------------------------------------------

def _days_before(cid: str, *days: int) -> list[dict]:
    return [_order(f"{cid}-{d}", cid, _at(d), 10) for d in days]


@pytest.fixture(scope="module")
def stages():
    orders = [
        *_days_before("active", 35, 25, 15),      # gaps 10, 10 -> g = 10; r = 15 <= 15
        *_days_before("at_risk", 50, 40, 30),     # r = 30 <= 3 * 10
        *_days_before("dormant", 80, 70, 60),     # r = 60 <= 6 * 10
        *_days_before("lost", 81, 71, 61),        # r = 61 > 60
        *_days_before("back", 65, 55, 45, 5),     # gaps 10, 10, 40: g = 10, last 40 > 30
        *_days_before("new", 15),                 # one day: population g = 10; 15 <= 15
        *_days_before("new_late", 16),            # 15 < 16 <= 30
        *_days_before("fast", 12, 11, 10),        # g = median(1, 1) = 1 -> 7; r 10 <= 10.5
        *_days_before("slow", 1600, 1100, 600),   # g = 500 -> 365; 547.5 < 600 <= 1095
        *_days_before("back2", 112, 102, 2),      # gaps 10, 100: g = 55; recency 2
    ]
    with Warehouse(":memory:") as wh:
        _load(wh, customers=[{"customer_id": "prospect"}], orders=orders)
        yield _profile(wh)


def test_lifecycle_stages_with_clamped_gaps(stages):
    # population median of the medians 10, 10, 10, 10, 10, 1, 500, 55 -> 10 (raw, not clamped)
    p = stages.drop(index="back2")
    want = {"active": "active", "at_risk": "at_risk", "dormant": "dormant", "lost": "lost",
            "back": "reactivated", "new": "new", "new_late": "at_risk", "fast": "active",
            "slow": "at_risk", "prospect": "prospect"}
    assert p["lifecycle_stage"].to_dict() == want
    assert p["expected_gap_days"].to_dict() == pytest.approx({
        "active": 10, "at_risk": 10, "dormant": 10, "lost": 10, "back": 10, "new": 10,
        "new_late": 10, "fast": 7, "slow": 365, "prospect": 10})


def test_reactivated_after_one_long_gap(stages):
    # before coming back the customer's rhythm was 10 days and 100 > 3 * 10
    assert stages.loc["back2", "lifecycle_stage"] == "reactivated"


# -- demographics ----------------------------------------------------------------------------------

def test_demographics_and_who_is_profiled(mem_wh):
    signed = datetime(2020, 1, 1)
    _load(mem_wh, customers=[
        {"customer_id": "m1", "birth_year": 2000, "gender": "female", "city": "杭州",
         "province": "浙江", "signup_at": signed},      # 2024 - 2000 = 24
        {"customer_id": "m2", "birth_year": 1990, "signup_at": signed},   # 34
        {"customer_id": "m3", "birth_year": 1960, "signup_at": signed},   # 64
        {"customer_id": "m4", "birth_year": 1959, "signup_at": signed},   # 65
        {"customer_id": "m5", "signup_at": None},                         # no sign-up date
        {"customer_id": "future", "birth_year": 1990, "signup_at": datetime(2024, 7, 1)},
        {"customer_id": "guest", "birth_year": 1990, "signup_at": datetime(2024, 7, 1)},
    ], orders=[_order("o1", "g1", _at(500), 10), _order("o2", "guest", _at(3), 10)])
    p = _profile(mem_wh)
    # signed up after as_of: not profiled, unless they bought before (then no demographics yet)
    assert sorted(p.index) == ["g1", "guest", "m1", "m2", "m3", "m4", "m5"]
    _check(p.loc["m1"], age_band="<25", gender="female", city="杭州", province="浙江",
           signup_at=pd.Timestamp(signed), orders=0, lifecycle_stage="prospect")
    assert p.loc[["m2", "m3", "m4"], "age_band"].tolist() == ["25-34", "55-64", "65+"]
    _check(p.loc["m5"], age_band=None, signup_at=None)
    # nobody has a gap: one-time buyers' g = max_gap_days 365; 500 <= 1.5 * 365 = 547.5
    _check(p.loc["g1"], orders=1, gender=None, age_band=None, expected_gap_days=365.0,
           lifecycle_stage="new")
    _check(p.loc["guest"], orders=1, age_band=None, signup_at=None)


# -- incremental -----------------------------------------------------------------------------------

def _history() -> dict[str, list[dict]]:
    """Rows of two ingest runs; r2 adds a new order and a late line to an r1 order."""
    return {
        "orders": [
            _order("o1", "c1", datetime(2024, 6, 1, 18), 100, discount=10, run="r1"),
            _order("o2", "c1", datetime(2024, 6, 24, 17), 40, coupon="C", run="r2"),
            _order("o3", "c2", datetime(2024, 6, 5, 9), 30, run="r1"),
            _order("o4", "c2", datetime(2024, 6, 20, 9), 60, run="r1"),  # after the first as_of
            _order("o5", "c3", datetime(2024, 6, 10, 9), 25, run="r2"),  # late, before it
        ],
        "order_lines": [
            _line("o1", 1, "p1", 2, 30, run="r1"), _line("o1", 2, "p2", 1, 50, 10, run="r1"),
            _line("o1", 3, "p2", -1, 40, run="r2"),  # a return recorded later
            _line("o2", 1, "p1", 1, 40, run="r2"),
            _line("o3", 1, "p3", 1, 30, run="r1"), _line("o4", 1, "p3", 2, 30, run="r1"),
            _line("o5", 1, "t1", 1, 25, run="r2"),
        ],
        "events": [
            _event("v1", "c1", datetime(2024, 6, 3, 8), "add_to_cart", run="r1"),
            _event("v2", "c1", datetime(2024, 6, 24, 18), "add_to_cart", run="r2"),
            _event("v3", "c4", datetime(2024, 6, 25, 8), "view", run="r2"),
        ],
    }


def test_update_equals_build(mem_wh):
    tz, first, last = "Asia/Shanghai", date(2024, 6, 15), date(2024, 6, 30)
    rows = _history()
    r1 = {t: [r for r in rs if r["ingest_run_id"] == "r1"] for t, rs in rows.items()}
    r2 = {t: [r for r in rs if r["ingest_run_id"] == "r2"] for t, rs in rows.items()}
    _load(mem_wh, customers=[{"customer_id": "c1", "birth_year": 1990}], orders=r1["orders"],
          lines=r1["order_lines"], events=r1["events"])
    pipeline.profile_build(mem_wh, as_of=first, timezone=tz)
    _load(mem_wh, orders=r2["orders"], lines=r2["order_lines"], events=r2["events"],
          products=False)
    status = pipeline.profile_update(mem_wh, as_of=last)
    updated = profile_frame(mem_wh)
    with Warehouse(":memory:") as full:
        _load(full, customers=[{"customer_id": "c1", "birth_year": 1990}], orders=rows["orders"],
              lines=rows["order_lines"], events=rows["events"])
        pipeline.profile_build(full, as_of=last, timezone=tz)
        built = profile_frame(full)
    assert status["timezone"] == tz and status["changed_customers"] == 4
    pd.testing.assert_frame_equal(updated, built, check_exact=False, rtol=1e-12)
    c1 = built.set_index("customer_id").loc["c1"]
    # gross 100 + 40; refund of the late line -(-1 * 40) = 40; local purchase days 6-02 (o1 is
    # 02:00 in Shanghai) and 6-25 (o2 01:00): gap 23, recency 5; carts on 6-03 (no purchase)
    # and 6-25 (o2) -> 1 / 2 abandoned
    _check(c1, orders=2, monetary_gross=140.0, returns_amount=40.0, monetary_net=100.0,
           purchase_days=2, ipt_median_days=23.0, cart_abandonment_rate_90d=0.5,
           recency_days=5, age_band="25-34")
    assert math.isclose(built.set_index("customer_id").loc["c2", "monetary_gross"], 90.0)
