"""The profile is written once in Ibis: DuckDB and Spark give the same profile from the same rows.

The same canonical rows are loaded into a DuckDB warehouse and, through Parquet, into the shared
local Spark session; ``build`` runs on both and the profiles must agree (integers, strings,
dates and timestamps exactly, floats to 1e-9). Two data sets: a small hand-made one that touches
every feature family (returns, a credit note, cancelled orders, discounts and coupons, ties,
several categories, brands and channels, events in and out of the 30/90-day windows, the
Europe/London change to summer time, a prospect, an order-only customer), and a simulated
retailer ingested from its raw files. ``update`` on Spark, from a Spark build of part of the rows,
must equal the full DuckDB build.

Spark runs in ANSI mode (its default from 4.0): a division by zero or a bad cast raises, so these
tests also show that the profile never divides by zero on Spark.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime
from pathlib import Path

import ibis
import pandas as pd
import pytest

from jingzhun.ingest.pseudonymise import load_secrets
from jingzhun.pipeline import ingest_manifest
from jingzhun.profile.build import INPUT_TABLES, build, update
from jingzhun.profile.derive import PROFILE_COLUMNS
from jingzhun.profile.state import Watermark
from jingzhun.warehouse import Warehouse
from tests.profile.helpers import insert
from tests.profile.test_incremental import assert_same_profile

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),  # pyspark 4.0, pandas 3
]

# --------------------------------------------------------------------------- moving rows to Spark

_views = itertools.count()


def to_spark(spark_con, wh: Warehouse, folder: Path) -> dict[str, ibis.Table]:
    """The profile's input tables of ``wh`` as Spark tables, through Parquet files in ``folder``.

    DuckDB writes its naive ``TIMESTAMP`` (UTC by the contract) as a Parquet timestamp that is not
    adjusted to UTC, which Spark reads as ``TIMESTAMP_NTZ``; casting that to ``TIMESTAMP`` in a
    session whose time zone is UTC keeps the wall-clock value, so no time shifts. JSON columns
    travel as strings; DECIMAL(18,4) and BIGINT keep their types.
    """
    spark, con = spark_con
    n = next(_views)
    tables = {}
    for name in INPUT_TABLES:
        cols = wh.con.execute(f"DESCRIBE {name}").fetchall()
        select = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' if kind == "JSON" else f'"{c}"'
                           for c, kind, *_ in cols)
        path = folder / f"{name}.parquet"
        wh.con.execute(f"COPY (SELECT {select} FROM {name}) TO '{path}' (FORMAT parquet)")
        df = spark.read.parquet(str(path))
        df = df.select(*[df[c].cast("timestamp").alias(c) if kind == "timestamp_ntz" else df[c]
                         for c, kind in df.dtypes])
        view = f"parity{n}_{name}"
        df.createOrReplaceTempView(view)
        tables[name] = con.table(view)
    return tables


def spark_materialize(spark_con):
    """A ``materialize`` hook for Spark: compute each checkpoint once into a cached temporary
    view, so that the later steps do not recompute the state from the raw rows. (Spark 4.0.5's
    ``localCheckpoint`` fails on these plans: ``key not found`` in ``UnionBase.rewriteConstraints``.)
    """
    spark, con = spark_con
    n = next(_views)

    def materialize(name: str, expr: ibis.Table) -> ibis.Table:
        view = f"parity{n}_{name}"
        df = spark.sql(con.compile(expr)).cache()
        df.count()
        df.createOrReplaceTempView(view)
        return con.table(view)
    return materialize


def frame(table: ibis.Table) -> pd.DataFrame:
    return table.to_pandas().sort_values("customer_id").reset_index(drop=True)


def duckdb_tables(wh: Warehouse) -> dict[str, ibis.Table]:
    return {name: wh.table(name) for name in INPUT_TABLES}


def _only(t: ibis.Table, runs: set[str] | None) -> ibis.Table:
    """The rows of ``runs`` of an order/line/event table (customers and products: all)."""
    if runs is None or t.get_name().endswith(("customers", "products")):
        return t
    return t.filter(t.ingest_run_id.isin(sorted(runs)))


# --------------------------------------------------------------------------- hand-made rows

TZ = "Europe/London"   # summer time from 2024-03-31 01:00 UTC: local = UTC + 1 after that
AS_OF_1 = date(2024, 3, 31)
AS_OF = date(2024, 4, 10)
DST_ORDER_AT = datetime(2024, 3, 31, 1, 30)  # 02:30 local, the first hour of summer time

PRODUCTS = [
    {"product_id": "p1", "category": "shoes", "brand": "Aster", "list_price": 100},
    {"product_id": "p2", "category": "shoes", "brand": "Birch", "list_price": 80},
    {"product_id": "p3", "category": "bags", "brand": "Aster", "list_price": 200},
    {"product_id": "p4", "category": "hats", "brand": "Cedar", "list_price": 30},
    {"product_id": "p5", "category": None, "brand": None, "list_price": 75},
]
CUSTOMERS = [
    {"customer_id": "c1", "gender": "F", "birth_year": 1990, "city": "上海", "province": "上海",
     "signup_at": datetime(2023, 6, 1, 9)},
    {"customer_id": "c2", "gender": "M", "birth_year": 1958, "city": "北京", "province": "北京",
     "signup_at": datetime(2023, 1, 15)},
    {"customer_id": "c3", "gender": "F", "birth_year": 2003, "city": "杭州", "province": "浙江",
     "signup_at": datetime(2024, 3, 1, 12)},                        # prospect: events, no order
    {"customer_id": "c5", "signup_at": datetime(2024, 5, 1)},        # signs up after as_of
    {"customer_id": "c6"},                                            # no sign-up date, no age
]


def _order(oid, cid, at, status, total, *, channel="app", discount=0, coupon=None, run="r1"):
    return {"order_id": oid, "customer_id": cid, "ordered_at": at, "status": status,
            "channel": channel, "currency": "CNY", "total_amount": total,
            "discount_amount": discount, "coupon_code": coupon, "ingest_run_id": run}


ORDERS = [
    # c1: four purchases around the change to summer time, a return, a cancellation
    _order("o1", "c1", datetime(2023, 12, 1, 10), "completed", 120, channel="web"),
    _order("o2", "c1", datetime(2024, 3, 30, 23, 30), "completed", 90, discount=10,
           coupon="SPRING"),                                          # local Sat 23:30 GMT
    _order("o3", "c1", DST_ORDER_AT, "completed", 200),               # local Sun 02:30 BST
    _order("o4", "c1", datetime(2024, 4, 5, 23, 30), "returned", 100, channel="web",
           run="r2"),                                                 # local Sat 04-06 00:30
    _order("o5", "c1", datetime(2024, 4, 6, 9), "cancelled", 50, run="r2"),
    # c2: a discounted order, a credit note, a coupon order, a cancelled order
    _order("o6", "c2", datetime(2024, 2, 10, 12), "completed", 300, channel="store", discount=30),
    _order("o7", "c2", datetime(2024, 2, 20, 12), "completed", -130, channel="store"),
    _order("o8", "c2", datetime(2024, 3, 5, 8), "completed", 60, channel="web", coupon="VIP",
           run="r2"),                                                 # arrives late (run 2)
    _order("o9", "c2", datetime(2024, 3, 6, 8), "cancelled", 40, channel="web"),
    # c4: not in customers; one old order without channel, one after as_of
    _order("o10", "c4", datetime(2023, 10, 1, 14), "completed", 75, channel=None),
    _order("o11", "c4", datetime(2024, 4, 11, 10), "completed", 20, run="r2"),
    # c6: ties between categories and brands; 23:30 local on as_of is in, 00:30 the next day out
    _order("o12", "c6", datetime(2024, 4, 9, 16), "completed", 100, run="r2"),
    _order("o13", "c6", datetime(2024, 4, 10, 22, 30), "completed", 30, run="r2"),
    _order("o14", "c6", datetime(2024, 4, 10, 23, 30), "completed", 30, run="r2"),
    _order("o15", None, datetime(2024, 3, 1, 10), "completed", 10),  # no customer: ignored
]


def _line(oid, no, pid, qty, price, discount=0, run="r1"):
    return {"order_id": oid, "line_no": no, "product_id": pid, "quantity": qty,
            "unit_price": price, "discount": discount, "ingest_run_id": run}


LINES = [
    _line("o1", 1, "p1", 1, 100), _line("o1", 2, "p4", 1, 20),
    _line("o2", 1, "p2", 1, 80), _line("o2", 2, "p4", 1, 20, discount=10),
    _line("o3", 1, "p3", 1, 200),
    _line("o4", 1, "p1", 1, 100, run="r2"), _line("o4", 2, "p1", -1, 100, run="r2"),
    _line("o5", 1, "p4", 1, 50, run="r2"),
    _line("o6", 1, "p3", 1, 200), _line("o6", 2, "p1", 1, 130, discount=30),
    _line("o6", 3, "p4", 1, 0, run="r2"),                             # a late free gift line
    _line("o7", 1, "p1", -1, 130),
    _line("o8", 1, "p4", 2, 30, run="r2"),
    _line("o9", 1, "p2", 1, 40),
    _line("o10", 1, "p5", 1, 75), _line("o10", 2, "p9", 1, 0),       # p9: unknown product
    _line("o11", 1, "p4", 1, 20, run="r2"),
    _line("o12", 1, "p2", 1, 50, run="r2"), _line("o12", 2, "p3", 1, 50, run="r2"),
    _line("o13", 1, "p4", 1, 30, run="r2"),
    _line("o14", 1, "p4", 1, 30, run="r2"),
]


def _event(eid, cid, at, kind, run="r1"):
    return {"event_id": eid, "customer_id": cid, "occurred_at": at, "type": kind,
            "anonymous_id": None if cid else "anon-1", "properties": '{"page": "home"}',
            "ingest_run_id": run}


EVENTS = [
    _event("e1", "c3", datetime(2023, 12, 1, 9), "view"),            # older than 90 days
    _event("e2", "c3", datetime(2024, 2, 15, 9), "view"),            # in 90, not in 30 days
    _event("e3", "c3", datetime(2024, 3, 1, 9), "add_to_cart"),
    _event("e4", "c3", datetime(2024, 4, 1, 9), "add_to_cart", run="r2"),
    _event("e5", "c3", datetime(2024, 4, 9, 20), "view", run="r2"),
    _event("e6", "c3", datetime(2024, 4, 10, 10), "search", run="r2"),
    _event("e7", "c1", datetime(2024, 3, 20, 18), "add_to_cart"),    # a day without purchase
    _event("e8", "c1", datetime(2024, 3, 31, 0, 30), "search"),      # 00:30 GMT, before the change
    _event("e9", "c1", datetime(2024, 4, 5, 23, 10), "view", run="r2"),
    _event("e10", "c1", datetime(2024, 4, 5, 23, 20), "add_to_cart", run="r2"),  # bought that day
    _event("e11", "c1", datetime(2024, 4, 8, 7), "purchase", run="r2"),
    _event("e12", None, datetime(2024, 4, 2, 7), "view"),            # anonymous: ignored
    _event("e13", "c6", datetime(2024, 4, 10, 23, 30), "view", run="r2"),  # local 04-11: out
    _event("e14", "c7", datetime(2024, 1, 20, 7), "click"),          # only an event
    _event("e15", "c7", datetime(2024, 3, 25, 7), "search", run="r2"),
]


@pytest.fixture(scope="module")
def hand(spark_con, tmp_path_factory):
    """(DuckDB warehouse, Spark tables) holding the hand-made rows."""
    with Warehouse(":memory:") as wh:
        insert(wh, "products", PRODUCTS)
        insert(wh, "customers", CUSTOMERS)
        insert(wh, "orders", ORDERS)
        insert(wh, "order_lines", LINES)
        insert(wh, "events", EVENTS)
        yield wh, to_spark(spark_con, wh, tmp_path_factory.mktemp("hand"))


def test_timestamps_and_types_travel_to_spark_unchanged(hand):
    wh, spark = hand
    o = spark["orders"]
    got = o.filter(o.order_id == "o3").select("ordered_at", "total_amount").to_pandas()
    assert got["ordered_at"].tolist() == [pd.Timestamp(DST_ORDER_AT)]
    for name in INPUT_TABLES:
        duck = wh.table(name).schema()
        for col in ("ordered_at", "occurred_at", "signup_at", "total_amount", "unit_price",
                    "quantity", "line_no", "birth_year"):
            if col not in duck:
                continue
            got_type, want_type = spark[name].schema()[col], duck[col]
            if want_type.is_timestamp():  # Spark declares no scale (it is microseconds)
                assert got_type.is_timestamp() and got_type.timezone is None, (name, col)
            else:
                assert got_type == want_type, (name, col)


def test_hand_made_profile_is_the_same_on_spark(spark_con, hand):
    wh, spark = hand
    want = frame(build(duckdb_tables(wh), as_of=AS_OF, timezone=TZ).profile)
    got = frame(build(spark, as_of=AS_OF, timezone=TZ,
                      materialize=spark_materialize(spark_con)).profile)
    assert_same_profile(got, want)
    # the rows exercise what they are meant to: every column has a value somewhere ...
    assert list(want.columns) == list(PROFILE_COLUMNS)
    assert [c for c in PROFILE_COLUMNS if want[c].isna().all()] == []
    w = want.set_index("customer_id")
    assert list(w.index) == ["c1", "c2", "c3", "c4", "c6", "c7"]       # not c5: signs up later
    # ... and the local calendar is London's: o4 (Friday 23:30 UTC) is on Saturday the 6th, o14
    # (23:30 UTC on as_of) is on the 11th, so out; o12 (16:00 UTC in April) is at 17 local
    assert w.loc["c1", "purchase_days"] == 4 and w.loc["c1", "recency_days"] == 4
    assert w.loc["c1", "preferred_weekday"] == 5
    assert w.loc["c6", "orders"] == 2 and w.loc["c6", "recency_days"] == 0
    assert w.loc["c6", "preferred_hour"] == 17 and pd.isna(w.loc["c6", "last_event_at"])
    assert (w.loc["c6", "top_category"], w.loc["c6", "top_brand"]) == ("bags", "Aster")
    assert w.loc["c2", "returns_amount"] == 130 and w.loc["c1", "items_returned"] == 1
    assert w.loc["c3", "lifecycle_stage"] == "prospect" and w.loc["c3", "views_90d"] == 2
    assert w.loc["c1", "cart_abandonment_rate_90d"] == 0.5


def test_update_on_spark_equals_the_full_duckdb_build(spark_con, hand):
    wh, spark = hand
    want = frame(build(duckdb_tables(wh), as_of=AS_OF, timezone=TZ).profile)
    materialize = spark_materialize(spark_con)
    first = build({n: _only(t, {"r1"}) for n, t in spark.items()}, as_of=AS_OF_1, timezone=TZ,
                  materialize=materialize)
    got = update(spark, first.state, first.summary, since=Watermark(("r1",), AS_OF_1),
                 as_of=AS_OF, timezone=TZ, materialize=materialize)
    assert_same_profile(frame(got.profile), want)
    assert set(frame(got.changed)["customer_id"]) == {"c1", "c2", "c3", "c6", "c7"}


# --------------------------------------------------------------------------- a simulated retailer

SIM_TZ = "Asia/Shanghai"
SIM_AS_OF_1 = date(2025, 3, 31)
SIM_AS_OF = date(2025, 6, 30)


@pytest.fixture(scope="module")
def retailer_rows(spark_con, tmp_path_factory):
    """(DuckDB warehouse, Spark tables) of a simulated retailer ingested from its raw files."""
    from jingzhun.simulate import retailer

    out = tmp_path_factory.mktemp("retailer")
    retailer(out / "data", n_customers=300, seed=3)
    with Warehouse(out / "w.duckdb") as wh:
        ingest_manifest(wh, out / "data", secrets=load_secrets(out / "secret.key"))
        yield wh, to_spark(spark_con, wh, out)


def test_simulated_retailer_profile_is_the_same_on_spark(spark_con, retailer_rows):
    wh, spark = retailer_rows
    bounds = [spark["orders"].ordered_at.min(), spark["orders"].ordered_at.max()]
    got_bounds = spark["orders"].aggregate(lo=bounds[0], hi=bounds[1]).to_pandas().iloc[0]
    want_bounds = wh.con.execute("SELECT min(ordered_at), max(ordered_at) FROM orders").fetchone()
    assert [got_bounds["lo"], got_bounds["hi"]] == [pd.Timestamp(t) for t in want_bounds]

    want = frame(build(duckdb_tables(wh), as_of=SIM_AS_OF, timezone=SIM_TZ).profile)
    materialize = spark_materialize(spark_con)
    got = build(spark, as_of=SIM_AS_OF, timezone=SIM_TZ, materialize=materialize)
    assert_same_profile(frame(got.profile), want)
    assert len(want) >= 250 and want["lifecycle_stage"].nunique() >= 4
    assert (want["returns_amount"] > 0).any() and (want["discount_amount"] > 0).any()
