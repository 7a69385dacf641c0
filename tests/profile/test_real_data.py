"""The profile, tags and RFM segments on the shared real data sets with orders (issue 4).

CDNOW: every one of the 23,570 customers is profiled and the profile's spend equals the raw file's
``dollar_value`` to the cent; likewise Online Retail II (10-country subset) and Complete Journey
against their ingested order totals. RFM segment sizes sum to the customer count in both schemes.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from jingzhun import pipeline
from jingzhun.ingest.sources import ingest_source

pytestmark = pytest.mark.shared


def _one(wh, sql: str):
    return wh.con.execute(sql).fetchall()[0]


def _check_profile_and_segments(wh, customers: int) -> None:
    """One profile row per customer; RFM segments of both schemes cover every customer once."""
    assert wh.count("customer_profile") == customers
    assert _one(wh, "SELECT count(DISTINCT customer_id) FROM customer_profile")[0] == customers
    for scheme in ("11", "5"):
        result = pipeline.segment_rfm(wh, scheme=scheme)
        assert sum(s["customers"] for s in result["segments"]) == customers
        assert sum(s["share"] for s in result["segments"]) == pytest.approx(1.0)
        assert _one(wh, f"SELECT count(*) FROM segments WHERE scheme = '{scheme}'")[0] == customers


def _net_spend(wh) -> tuple[Decimal, float]:
    """The exact (DECIMAL state) and stored (float64 profile) sums of net spend."""
    exact = _one(wh, "SELECT sum(gross_amount) - sum(credit_amount) - sum(returned_order_amount) "
                     "- sum(line_refund_amount) FROM profile_state_customer")[0]
    return exact, _one(wh, "SELECT sum(monetary_net) FROM customer_profile")[0]


def test_cdnow_master(wh, secrets, shared_data):
    path = shared_data / "cdnow" / "CDNOW_master.txt"
    lines = path.read_text().splitlines()[1:]
    raw_dollars = sum(Decimal(line.split()[3]) for line in lines)
    raw_days = len({tuple(line.split()[:2]) for line in lines})
    ingest_source("cdnow", wh, path, secrets=secrets)
    status = pipeline.profile_build(wh)
    assert status["as_of"] == "1998-06-30" and status["customers"] == 23_570
    exact, stored = _net_spend(wh)
    assert exact == raw_dollars  # to the cent: 2,500,315.63 dollars
    assert round(stored, 2) == float(raw_dollars)
    orders, days, cds = _one(wh, "SELECT sum(orders), sum(purchase_days), sum(items) "
                                 "FROM customer_profile")
    assert orders == len(lines) and days == raw_days
    assert cds == sum(int(line.split()[2]) for line in lines)
    first: dict[str, str] = {}
    for line in lines:
        cust, day = line.split()[:2]
        first[cust] = min(first.get(cust, day), day)
    tenures = [(date(1998, 6, 30) - date(int(d[:4]), int(d[4:6]), int(d[6:]))).days
               for d in first.values()]
    assert _one(wh, "SELECT sum(tenure_days), max(tenure_days) FROM customer_profile") == (
        sum(tenures), 545)  # the cohort bought first from 1997-01-01 on
    _check_profile_and_segments(wh, 23_570)


def test_online_retail_workbook(wh, secrets, shared_data):
    path = shared_data / "online_retail" / "subset_10_countries" / "online_retail_II.xlsx"
    ingest_source("online_retail", wh, path, secrets=secrets)
    pipeline.profile_build(wh, timezone="Europe/London")
    # guests' invoices have no customer; cancellations (C invoices, negative totals) are refunds
    want = _one(wh, "SELECT sum(total_amount) FROM orders WHERE customer_id IS NOT NULL")[0]
    exact, stored = _net_spend(wh)
    assert exact == want
    assert round(stored, 2) == float(want)
    _check_profile_and_segments(wh, 262)


@pytest.mark.slow
def test_completejourney(wh, secrets, shared_data):
    ingest_source("completejourney", wh, shared_data / "completejourney", secrets=secrets)
    pipeline.profile_build(wh)
    exact, stored = _net_spend(wh)
    assert exact == Decimal("4596039.58")  # the sum of sales_value, as ingested
    assert round(stored, 2) == 4596039.58
    _check_profile_and_segments(wh, 2_469)
