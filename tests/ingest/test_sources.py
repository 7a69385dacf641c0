"""Built-in sources: every raw record is accounted for, the README's counts hold, re-ingest is a no-op.

The tests on the real data sets (``../shared/data``, see its README) skip when it is absent; the
small synthetic files below exercise the edge cases (repeats, 0 CDs, overlapping sheets, bad
prices, colliding redemptions) everywhere.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from jingzhun.errors import InputError
from jingzhun.ingest.sources import get_source, ingest_source, source_names
from jingzhun.warehouse import Warehouse

CDNOW = ("cdnow", "CDNOW_master.txt")
HILLSTROM_CSV = "Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv"
RETAIL_XLSX = ("online_retail", "subset_10_countries", "online_retail_II.xlsx")
SHEETS = ("Year 2009-2010", "Year 2010-2011")
RETAIL_HEADER = ("Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price",
                 "Customer ID", "Country")

def _one(wh, sql: str, params=()):
    return wh.con.execute(sql, list(params)).fetchone()


def _by_table(results) -> dict:
    return {r.table: r for r in results}


def _counts(r) -> tuple[int, int, int, int]:
    return r.rows_read, r.rows_loaded, r.rows_quarantined, r.rows_duplicate


def _check_accounting(wh, results) -> None:
    """rows_read = loaded + quarantined + duplicate, and the warehouse agrees with each result."""
    for r in results:
        assert r.rows_read == r.rows_loaded + r.rows_quarantined + r.rows_duplicate, r
        assert _one(wh, "SELECT count(*) FROM quarantine WHERE run_id = ?",
                    [r.run_id])[0] == r.rows_quarantined, r
        if r.status == "loaded":
            assert _one(wh, f'SELECT count(*) FROM "{r.table}" WHERE ingest_run_id = ?',
                        [r.run_id])[0] == r.rows_loaded, r
        run = _one(wh, "SELECT rows_read, rows_loaded, rows_quarantined, rows_duplicate, status "
                       "FROM ingest_runs WHERE run_id = ?", [r.run_id])
        assert run == (*_counts(r), r.status)


def _check_reingest(wh, name: str, path: Path, secrets, first) -> None:
    """A second ingest of the same bytes loads nothing and changes no table."""
    before = {r.table: wh.count(r.table) for r in first}
    again = ingest_source(name, wh, path, secrets=secrets)
    assert [r.table for r in again] == [r.table for r in first]
    for r, f in zip(again, first, strict=True):
        assert r.status == "already_loaded"
        assert (r.rows_read, r.rows_loaded, r.rows_duplicate) == (f.rows_read, 0, f.rows_read)
    _check_accounting(wh, again)
    assert {r.table: wh.count(r.table) for r in first} == before


def _check_customers_known(wh, *tables: str) -> None:
    """Every customer id of ``tables`` is a loaded customer (pseudonyms agree across feeds)."""
    for t in tables:
        orphans = _one(wh, f'SELECT count(*) FROM "{t}" x WHERE x.customer_id IS NOT NULL AND '
                           f"x.customer_id NOT IN (SELECT customer_id FROM customers)")[0]
        assert orphans == 0, t


def test_registry_lists_the_four_sources():
    assert {"cdnow", "hillstrom", "online_retail", "completejourney"} <= set(source_names())
    for name in ("cdnow", "hillstrom", "online_retail", "completejourney"):
        src = get_source(name)
        assert src.name == name and src.description and src.path_hint and callable(src.ingest)


# -- CDNOW ----------------------------------------------------------------------------------------
def _cdnow_lines(path: Path) -> list[tuple[str, ...]]:
    lines = [tuple(ln.split()) for ln in path.read_text().splitlines() if ln.strip()]
    return lines[1:] if lines[0][0] == "customer_id" else lines


def test_cdnow_synthetic_repeats_zero_cds_and_malformed_lines(wh, secrets, tmp_path):
    f = tmp_path / "CDNOW_master.txt"
    f.write_text(" customer_id  date number_of_cds  dollar_value\n"
                 " 00001 19970101  1   11.77\n"
                 " 00001 19970101  1   11.77\n"  # a second, equal purchase the same day
                 " 00001 19970102  3   11.77\n"
                 " 00002 19970112  0    5.00\n"  # 0 CDs: the amount stays on the line
                 " 00002 19970113  2    0.00\n"
                 " 00003 19970114  2\n")  # malformed
    res = _by_table(ingest_source("cdnow", wh, f, secrets=secrets))
    _check_accounting(wh, res.values())
    assert _counts(res["orders"]) == (6, 5, 1, 0)
    assert _counts(res["order_lines"]) == (6, 5, 1, 0)
    assert res["orders"].quarantine_reasons == {"malformed_row": 1}
    assert _counts(res["customers"]) == (2, 2, 0, 0)
    ids = [r[0] for r in wh.con.execute("SELECT order_id FROM orders ORDER BY 1").fetchall()]
    assert ids == ["00001-19970101-1", "00001-19970101-2", "00001-19970102-1",
                   "00002-19970112-1", "00002-19970113-1"]
    lines = dict(wh.con.execute("SELECT order_id, unit_price FROM order_lines").fetchall())
    assert lines["00001-19970102-1"] == Decimal("3.9233")
    assert lines["00002-19970112-1"] == Decimal("5")
    assert lines["00002-19970113-1"] == Decimal("0")
    signup = {s for (s,) in wh.con.execute("SELECT signup_at FROM customers").fetchall()}
    assert signup == {dt.datetime(1997, 1, 1), dt.datetime(1997, 1, 12)}
    # the sample form (no header, five columns) is recognised; its customer ids are the originals
    s = tmp_path / "CDNOW_sample.txt"
    s.write_text(" 00001 0001 19970101  1   11.77\n 00001 0001 19970101  1   11.77\n")
    again = _by_table(ingest_source("cdnow", wh, s, secrets=secrets))
    assert _counts(again["orders"]) == (2, 0, 0, 2)  # the same two purchases as in the master
    assert _counts(again["customers"]) == (1, 0, 0, 1)


def test_cdnow_rejects_another_file(wh, secrets, tmp_path):
    f = tmp_path / "other.txt"
    f.write_text("a b c\n1 2 3\n")
    with pytest.raises(InputError, match="3 fields"):
        ingest_source("cdnow", wh, f, secrets=secrets)


@pytest.mark.shared
def test_cdnow_master(wh, secrets, shared_data):
    path = shared_data.joinpath(*CDNOW)
    raw = _cdnow_lines(path)
    res = _by_table(ingest_source("cdnow", wh, path, secrets=secrets))
    _check_accounting(wh, res.values())
    assert _counts(res["orders"]) == (69_659, 69_659, 0, 0)
    assert _counts(res["order_lines"]) == (69_659, 69_659, 0, 0)
    assert _counts(res["customers"]) == (23_570, 23_570, 0, 0)
    # exact repeats are separate purchases: each gets its own sequence number
    repeats = sum(n - 1 for n in Counter(raw).values() if n > 1)
    assert repeats == 255
    assert _one(wh, "SELECT count(*) FROM orders WHERE NOT ends_with(order_id, '-1')")[0] == sum(
        n - 1 for n in Counter(r[:2] for r in raw).values())
    total, cds, usd = _one(wh, "SELECT sum(o.total_amount), sum(l.quantity), "
                               "count(*) FILTER (WHERE o.currency = 'USD') FROM orders o "
                               "JOIN order_lines l USING (order_id)")
    assert total == sum(Decimal(r[3]) for r in raw)
    assert cds == sum(int(r[2]) for r in raw) and usd == 69_659
    first, last = _one(wh, "SELECT min(ordered_at), max(ordered_at) FROM orders")
    assert (first, last) == (dt.datetime(1997, 1, 1), dt.datetime(1998, 6, 30))
    _check_customers_known(wh, "orders")
    _check_reingest(wh, "cdnow", path, secrets, list(res.values()))


@pytest.mark.shared
def test_cdnow_sample_then_master(wh, secrets, shared_data):
    sample = shared_data / "cdnow" / "CDNOW_sample.txt"
    res = _by_table(ingest_source("cdnow", wh, sample, secrets=secrets))
    _check_accounting(wh, res.values())
    assert _counts(res["orders"]) == (6_919, 6_919, 0, 0)
    assert _counts(res["order_lines"]) == (6_919, 6_919, 0, 0)
    assert _counts(res["customers"]) == (2_357, 2_357, 0, 0)
    _check_reingest(wh, "cdnow", sample, secrets, list(res.values()))
    # the sample's purchases are the master's, under the same keys and content
    master = _by_table(ingest_source("cdnow", wh, shared_data.joinpath(*CDNOW), secrets=secrets))
    _check_accounting(wh, master.values())
    assert _counts(master["orders"]) == (69_659, 69_659 - 6_919, 0, 6_919)
    assert _counts(master["customers"]) == (23_570, 23_570 - 2_357, 0, 2_357)


# -- Hillstrom --------------------------------------------------------------------------------------
HILLSTROM_ARMS = {  # arm: (customers, visits, conversions, spend of the converters)
    "mens_email": (21_307, 3_894, 267, Decimal("30311.69")),
    "womens_email": (21_387, 3_238, 189, Decimal("23038.11")),
    "control": (21_306, 2_262, 122, Decimal("13908.33")),
}


@pytest.fixture(scope="module")
def hillstrom(tmp_path_factory):
    """The Hillstrom file ingested once: (warehouse, results by table, path, secrets)."""
    from jingzhun.ingest.pseudonymise import load_secrets

    data = Path(__file__).resolve().parents[2].parent / "shared" / "data"
    path = data / "hillstrom" / HILLSTROM_CSV
    if not path.is_file():
        pytest.skip("../shared/data is absent")
    tmp = tmp_path_factory.mktemp("hillstrom")
    secrets = load_secrets(tmp / "secret.key")
    with Warehouse(tmp / "wh.duckdb") as wh:
        yield wh, _by_table(ingest_source("hillstrom", wh, path, secrets=secrets)), path, secrets


@pytest.mark.shared
def test_hillstrom_campaign_customers_and_sends(hillstrom):
    wh, res, path, secrets = hillstrom
    _check_accounting(wh, res.values())
    assert _counts(res["campaigns"]) == (1, 1, 0, 0)
    assert _counts(res["customers"]) == (64_000, 64_000, 0, 0)
    assert _counts(res["sends"]) == (64_000, 64_000, 0, 0)
    assert _one(wh, "SELECT campaign_id, channel, goal, starts_at FROM campaigns") == (
        "hillstrom_2008", "email", None, None)
    arms = dict(wh.con.execute("SELECT arm, count(*) FROM sends GROUP BY 1").fetchall())
    assert arms == {arm: v[0] for arm, v in HILLSTROM_ARMS.items()}
    assert wh.con.execute("SELECT arm, channel, cost FROM sends GROUP BY ALL ORDER BY 1").fetchall(
    ) == [("control", None, None), ("mens_email", "email", 0), ("womens_email", "email", 0)]
    attrs = json.loads(_one(wh, "SELECT attributes FROM customers WHERE customer_id = ?",
                            [secrets.pseudonym("H00001")])[0])
    assert attrs == {"recency_months": 10, "history_segment": "2) $100 - $200",
                     "history_amount": 142.44, "mens": 1, "womens": 0, "zip_code": "Surburban",
                     "newbie": 0, "purchase_channel": "Phone"}
    bands = wh.con.execute("SELECT attributes->>'history_segment' AS b, count(*) FROM customers "
                           "GROUP BY 1 ORDER BY 1").fetchall()
    assert [n for _, n in bands] == [22_970, 14_254, 12_289, 6_409, 4_911, 1_859, 1_308]
    _check_customers_known(wh, "sends")


@pytest.mark.shared
def test_hillstrom_responses_per_arm(hillstrom):
    wh, res, path, secrets = hillstrom
    assert _counts(res["responses"]) == (9_394 + 578, 9_394 + 578, 0, 0)
    got = wh.con.execute(
        "SELECT s.arm, count(*) FILTER (WHERE r.type = 'visit'), "
        "count(*) FILTER (WHERE r.type = 'conversion'), "
        "sum(r.revenue) FILTER (WHERE r.type = 'conversion') "
        "FROM responses r JOIN sends s USING (campaign_id, customer_id) GROUP BY 1").fetchall()
    assert {a: tuple(v) for a, *v in got} == {a: v[1:] for a, v in HILLSTROM_ARMS.items()}
    assert _one(wh, "SELECT count(*) FROM responses WHERE occurred_at IS NOT NULL")[0] == 0


@pytest.mark.shared
def test_hillstrom_reingest_loads_nothing(hillstrom):
    wh, res, path, secrets = hillstrom
    _check_reingest(wh, "hillstrom", path, secrets, list(res.values()))


def test_hillstrom_unknown_segment_is_quarantined(wh, secrets, tmp_path):
    f = tmp_path / "h.csv"
    f.write_text("recency,history_segment,history,mens,womens,zip_code,newbie,channel,segment,"
                 "visit,conversion,spend\n"
                 "10,2) $100 - $200,142.44,1,0,Surburban,0,Phone,Womens E-Mail,1,1,29.99\n"
                 "6,3) $200 - $350,329.08,1,1,Rural,1,Web,SMS,0,0,0\n")
    res = _by_table(ingest_source("hillstrom", wh, f, secrets=secrets))
    _check_accounting(wh, res.values())
    assert _counts(res["sends"]) == (2, 1, 1, 0)
    raw = json.loads(_one(wh, "SELECT raw_record FROM quarantine WHERE table_name = 'sends'")[0])
    assert raw["segment"] == "SMS" and raw["customer_id"] == "H00002"
    assert _counts(res["customers"]) == (2, 2, 0, 0)
    assert res["responses"].rows_read == 2  # one visit, one conversion


# -- Online Retail II ---------------------------------------------------------------------------
def _workbook(path: Path, sheets: dict[str, list[tuple]]) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        ws.append(RETAIL_HEADER)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def test_online_retail_synthetic_overlap_cancellations_and_bad_prices(wh, secrets, tmp_path):
    t = dt.datetime
    shared = [("536370", "22728", "ALARM CLOCK", 24, t(2010, 12, 1, 8, 45), 3.75, 12583.0,
               "France"),
              ("536370", "POST", "POSTAGE", 3, t(2010, 12, 1, 8, 45), 18.0, 12583.0, "France")]
    f = _workbook(tmp_path / "online_retail_II.xlsx", {
        SHEETS[0]: [
            ("489434", "85048", "OLD NAME", 12, t(2009, 12, 1, 7, 45), 6.95, 13085.0, "Spain"),
            ("489434", "85048", "OLD NAME", 12, t(2009, 12, 1, 7, 45), 6.95, 13085.0, "Spain"),
            ("C489449", "85048", "OLD NAME", -12, t(2009, 12, 1, 10, 33), 6.95, 13085.0,
             "Spain"),
            ("489500", "85048", "OLD NAME", 1, t(2009, 12, 2, 9, 0), 6.95, None, "Unspecified"),
            *shared],
        SHEETS[1]: [
            *shared,
            ("A563185", "B", "Adjust bad debt", 1, t(2011, 8, 12, 14, 50), -11062.06, None,
             "United Kingdom"),
            ("558639", "85048", "NEW NAME", 2, t(2011, 7, 1, 8, 55), 7.95, 13085.0, "Belgium"),
        ]})
    res = _by_table(ingest_source("online_retail", wh, f, secrets=secrets))
    _check_accounting(wh, res.values())
    assert _counts(res["order_lines"]) == (10, 7, 1, 2)
    assert res["order_lines"].quarantine_reasons == {"out_of_range": 1}
    assert _counts(res["orders"]) == (7, 5, 1, 1)
    assert res["orders"].quarantine_reasons == {"unknown_value": 1}
    assert _counts(res["customers"]) == (2, 2, 0, 0)
    assert _counts(res["products"]) == (4, 4, 0, 0)
    lines = wh.con.execute("SELECT line_no, quantity FROM order_lines WHERE order_id = '489434' "
                           "ORDER BY 1").fetchall()
    assert lines == [(1, 12), (2, 12)]  # an invoice's repeated line is kept
    orders = {r[0]: r[1:] for r in wh.con.execute(
        "SELECT order_id, status, total_amount, ordered_at, dq_flags, currency FROM orders"
    ).fetchall()}
    assert orders["C489449"][:2] == ("cancelled", Decimal("-83.4"))
    assert orders["489434"][1] == Decimal("166.8")
    assert orders["558639"][2] == t(2011, 7, 1, 7, 55)  # BST -> UTC
    assert orders["489434"][2] == t(2009, 12, 1, 7, 45)  # GMT = UTC
    assert orders["489500"][3] == "customer_id:missing"
    assert {o[4] for o in orders.values()} == {"GBP"}
    products = dict(wh.con.execute("SELECT product_id, name || '/' || coalesce(category, '') "
                                   "FROM products").fetchall())
    assert products["85048"] == "NEW NAME/" and products["POST"] == "POSTAGE/service"
    countries = {c for (c,) in wh.con.execute("SELECT country FROM customers").fetchall()}
    assert countries == {"Belgium", "France"}  # the latest invoice's country


@pytest.mark.shared
def test_online_retail_workbook(wh, secrets, shared_data):
    import openpyxl

    path = shared_data.joinpath(*RETAIL_XLSX)
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    rows = {s: [r for r in wb[s].iter_rows(min_row=2, values_only=True) if any(r)]
            for s in SHEETS}
    wb.close()
    invoices = {s: {r[0] for r in rows[s]} for s in SHEETS}
    both = invoices[SHEETS[0]] & invoices[SHEETS[1]]
    copies = [r for r in rows[SHEETS[1]] if r[0] in both]
    assert (len(both), len(copies)) == (23, 441)
    assert Counter(copies) == Counter(r for r in rows[SHEETS[0]] if r[0] in both)  # true copies

    res = _by_table(ingest_source("online_retail", wh, path, secrets=secrets))
    _check_accounting(wh, res.values())
    assert _counts(res["order_lines"]) == (34_766, 34_766 - 441, 0, 441)
    assert _counts(res["orders"]) == (759 + 1_006, 759 + 1_006 - 23, 0, 23)
    assert _counts(res["customers"]) == (262, 262, 0, 0)
    assert _counts(res["products"]) == (2_927, 2_927, 0, 0)
    cancelled_both = len({i for i in both if str(i).startswith("C")})
    assert _one(wh, "SELECT count(*) FROM orders WHERE status = 'cancelled'")[0] == (
        144 + 161 - cancelled_both)
    guests = {r[0] for s in SHEETS for r in rows[s] if r[6] is None}
    assert _one(wh, "SELECT count(*) FROM orders WHERE dq_flags = 'customer_id:missing' "
                    "AND customer_id IS NULL")[0] == len(guests)
    # Quantity x Price reconciles exactly: both sheets' totals, minus the duplicated copies
    copies_amount = sum(Decimal(str(r[3])) * Decimal(str(r[5])) for r in copies)
    loaded_amount = _one(wh, "SELECT sum(quantity * unit_price) FROM order_lines")[0]
    assert loaded_amount == Decimal("541177.16") + Decimal("690521.91") - copies_amount
    assert loaded_amount == _one(wh, "SELECT sum(total_amount) FROM orders")[0]
    assert _one(wh, "SELECT count(*) FROM products WHERE category = 'service'")[0] == 5
    _check_customers_known(wh, "orders")
    _check_reingest(wh, "online_retail", path, secrets, list(res.values()))


# -- The Complete Journey -------------------------------------------------------------------------
def _cj_folder(folder: Path, redemptions: list[tuple]) -> Path:
    """A tiny Complete Journey folder with the package's columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ts = dt.datetime
    folder.mkdir()
    tables = {
        "transactions": {
            "household_id": [1, 1, 2], "store_id": [9, 9, 9], "basket_id": [100, 100, 200],
            "product_id": [5, 6, 5], "quantity": [2, 0, 1], "sales_value": [3.0, 1.5, 1.49],
            "retail_disc": [0.5, 0.0, 0.0], "coupon_disc": [0.0, 0.0, 0.25],
            "coupon_match_disc": [0.0, 0.0, 0.0], "week": [1, 1, 2],
            "transaction_timestamp": [ts(2017, 1, 1, 11, 0), ts(2017, 1, 1, 11, 1),
                                      ts(2017, 1, 9, 9, 0)]},
        "demographics": {"household_id": [2, 3], **{c: ["x", None] for c in (
            "age", "income", "home_ownership", "marital_status", "household_size",
            "household_comp", "kids_count")}},
        "products": {"product_id": [5, 6], "manufacturer_id": [1, 1],
                     "department": ["GROCERY", "PRODUCE"], "brand": ["National", "Private"],
                     "product_category": ["MILK", "APPLES"],
                     "product_type": ["FLUID MILK", "GALA"], "package_size": ["1 GA", None]},
        "campaign_descriptions": {"campaign_id": [7], "campaign_type": ["Type A"],
                                  "start_date": [ts(2017, 1, 1)], "end_date": [ts(2017, 2, 1)]},
        "campaigns": {"campaign_id": [7, 7], "household_id": [1, 2]},
        "coupon_redemptions": {k: [r[i] for r in redemptions] for i, k in enumerate(
            ("household_id", "coupon_upc", "campaign_id", "redemption_date"))},
    }
    for name, cols in tables.items():
        pq.write_table(pa.table(cols), folder / f"{name}.parquet")
    return folder


def test_completejourney_synthetic_folder(wh, secrets, tmp_path):
    day = dt.datetime(2017, 1, 5)
    folder = _cj_folder(tmp_path / "cj", [(1, 11, 7, day), (1, 12, 7, day),
                                          (1, 13, 7, day + dt.timedelta(days=1))])
    res = _by_table(ingest_source("completejourney", wh, folder, secrets=secrets))
    _check_accounting(wh, res.values())
    assert {t: r.rows_loaded for t, r in res.items()} == {
        "customers": 3, "products": 2, "orders": 2, "order_lines": 3, "campaigns": 1,
        "sends": 2, "responses": 3}
    # two coupons redeemed the same day are two responses (offer_id is part of the key)
    assert _counts(res["responses"]) == (3, 3, 0, 0)
    lines = wh.con.execute("SELECT order_id, line_no, quantity, unit_price, discount "
                           "FROM order_lines ORDER BY 1, 2").fetchall()
    assert lines == [("100", 1, 2, Decimal("1.5"), Decimal("0.5")),
                     ("100", 2, 0, Decimal("1.5"), Decimal("0")),
                     ("200", 1, 1, Decimal("1.49"), Decimal("0.25"))]
    assert wh.con.execute("SELECT order_id, total_amount, discount_amount, ordered_at, channel "
                          "FROM orders ORDER BY 1").fetchall() == [
        ("100", Decimal("4.5"), Decimal("0.5"), dt.datetime(2017, 1, 1, 11), "store"),
        ("200", Decimal("1.49"), Decimal("0.25"), dt.datetime(2017, 1, 9, 9), "store")]
    attrs = {a for (a,) in wh.con.execute("SELECT attributes FROM customers").fetchall()}
    assert None in attrs and len(attrs) == 3  # household 1 has no demographics
    _check_reingest(wh, "completejourney", folder, secrets, list(res.values()))


def test_completejourney_names_a_missing_file(wh, secrets, tmp_path):
    folder = _cj_folder(tmp_path / "cj", [])
    (folder / "campaigns.parquet").unlink()
    with pytest.raises(InputError, match="campaigns.parquet"):
        ingest_source("completejourney", wh, folder, secrets=secrets)


@pytest.mark.shared
@pytest.mark.slow
def test_completejourney_folder(wh, secrets, shared_data):
    folder = shared_data / "completejourney"
    res = _by_table(ingest_source("completejourney", wh, folder, secrets=secrets))
    _check_accounting(wh, res.values())
    expected = {"customers": 2_469, "products": 92_331, "orders": 155_848,
                "order_lines": 1_469_307, "campaigns": 27, "sends": 6_589,
                "responses": 2_102}
    assert {t: _counts(r) for t, r in res.items()} == {t: (n, n, 0, 0) for t, n in expected.items()}
    assert _one(wh, "SELECT count(*) FROM customers WHERE attributes IS NOT NULL")[0] == 801
    assert _one(wh, "SELECT sum(total_amount), sum(discount_amount) FROM orders") == (
        Decimal("4596039.58"), Decimal("791650.64") + Decimal("26359.90") + Decimal("4542.65"))
    assert _one(wh, "SELECT count(*) FROM order_lines WHERE quantity = 0")[0] == 8_869
    assert _one(wh, "SELECT count(DISTINCT product_id) FROM order_lines")[0] == 68_509
    types = dict(wh.con.execute("SELECT name, count(*) FROM campaigns GROUP BY 1").fetchall())
    assert types == {"Type A": 4, "Type B": 17, "Type C": 6}
    assert _one(wh, "SELECT count(*) FROM sends s JOIN campaigns c USING (campaign_id) "
                    "WHERE s.sent_at = c.starts_at AND s.arm = 'treatment'")[0] == 6_589
    assert _one(wh, "SELECT count(*) FROM responses r JOIN sends s "
                    "USING (campaign_id, customer_id) WHERE r.type = 'redemption'")[0] == 2_102
    _check_customers_known(wh, "orders", "sends", "responses")
    _check_reingest(wh, "completejourney", folder, secrets, list(res.values()))


def test_a_file_of_another_shape_is_named_not_guessed(wh, secrets, tmp_path):
    f = tmp_path / "other.csv"
    f.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match=r"not the Hillstrom file.*columns found: a, b"):
        ingest_source("hillstrom", wh, f, secrets=secrets)
    assert wh.count("customers") == 0 and wh.count("ingest_runs") == 0
