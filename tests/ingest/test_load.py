"""Ingest one file into one table: cleaning, accounting, dedupe, policies, pseudonyms, vault."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jingzhun.errors import InputError
from jingzhun.ingest.load import ingest_file
from jingzhun.ingest.mapping import parse_mapping

ORDERS_HEADER = "order_id,customer_id,ordered_at,status,currency,total_amount,discount_amount"


def _write(path, text: str, encoding: str = "utf-8", bom: bool = False, crlf: bool = False):
    if crlf:
        text = text.replace("\n", "\r\n")
    data = text.encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def _accounted(r) -> bool:
    return r.rows_read == r.rows_loaded + r.rows_quarantined + r.rows_duplicate


def _rows(wh, sql: str):
    return wh.con.execute(sql).fetchall()


def test_dirty_orders_are_cleaned_and_every_row_accounted(wh, secrets, tmp_path):
    f = _write(tmp_path / "orders.csv", f"""{ORDERS_HEADER}
O1,U1,2024/1/6,completed,CNY,"1,234.00",0
O2,U2,20240107,已完成,CNY,￥88.00,
O2,U2,20240107,已完成,CNY,￥88.00,
O3,U3,2024年1月8日,completed,CNY,abc,0
O4,,2024-13-45,completed,CNY,5,0
O1,U1,2024/1/6,completed,CNY,99,0
O5,U5,45299,cancelled,CNY,(12.50),0
O6,U6,2024-01-06T08:00:00+08:00,returned,CNY,1,0
O7,U7,2024-01-06 08:00,shipped-ish,CNY,1,0
""", bom=True, crlf=True)
    r = ingest_file(wh, f, "orders", secrets=secrets)
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined, r.rows_duplicate) == (9, 4, 4, 1)
    assert r.quarantine_reasons == {"bad_number": 1, "missing_required": 1,
                                    "duplicate_key_conflict": 1, "unknown_value": 1}
    got = dict(_rows(wh, "SELECT order_id, ordered_at FROM orders"))
    assert got == {"O1": dt.datetime(2024, 1, 6), "O2": dt.datetime(2024, 1, 7),
                   "O5": dt.datetime(2024, 1, 8), "O6": dt.datetime(2024, 1, 6, 0, 0)}
    amounts = dict(_rows(wh, "SELECT order_id, total_amount FROM orders"))
    assert amounts["O1"] == Decimal("1234") and amounts["O2"] == Decimal("88")
    assert amounts["O5"] == Decimal("-12.5")
    assert _rows(wh, "SELECT status FROM orders WHERE order_id = 'O2'") == [("completed",)]
    q = {row: (code, col, raw, json.loads(rec)) for row, code, col, raw, rec in _rows(
        wh, "SELECT row_number, reason_code, column_name, raw_value, raw_record FROM quarantine")}
    assert q[4][:3] == ("bad_number", "total_amount", "abc")
    assert q[4][3]["order_id"] == "O3"  # the whole raw record is kept
    assert q[5][0] == "missing_required" and q[5][1] == "customer_id"
    assert q[6][0] == "duplicate_key_conflict" and q[6][3]["total_amount"] == "99"
    assert q[9][:3] == ("unknown_value", "status", "shipped-ish")
    reasons = _rows(wh, "SELECT reason FROM quarantine WHERE row_number = 5")[0][0]
    assert "bad_date in ordered_at" in reasons  # several problems of one row are all named


def test_reingesting_the_same_bytes_loads_nothing(wh, secrets, tmp_path):
    f = _write(tmp_path / "o.csv", f"{ORDERS_HEADER}\nO1,U1,2024-01-01,completed,CNY,5,0\n")
    first = ingest_file(wh, f, "orders", secrets=secrets)
    again = ingest_file(wh, f, "orders", secrets=secrets)
    assert first.status == "loaded" and again.status == "already_loaded"
    assert (again.rows_loaded, again.rows_duplicate) == (0, 1) and _accounted(again)
    assert wh.count("orders") == 1
    assert _rows(wh, "SELECT status FROM ingest_runs ORDER BY started_at") == [
        ("loaded",), ("already_loaded",)]


def test_a_later_file_with_a_known_key(wh, secrets, tmp_path):
    a = _write(tmp_path / "a.csv", f"{ORDERS_HEADER}\nO1,U1,2024-01-01,completed,CNY,5,0\n")
    b = _write(tmp_path / "b.csv", f"{ORDERS_HEADER}\nO1,U1,2024-01-01,completed,CNY,5,0\n"
                                   "O1,U1,2024-01-01,completed,CNY,6,0\n"
                                   "O2,U1,2024-01-02,completed,CNY,7,0\n")
    ingest_file(wh, a, "orders", secrets=secrets)
    r = ingest_file(wh, b, "orders", secrets=secrets)
    # same content -> duplicate; other content -> conflict (keep first); new key -> loaded
    assert (r.rows_loaded, r.rows_duplicate, r.rows_quarantined) == (1, 1, 1)
    assert _rows(wh, "SELECT total_amount FROM orders WHERE order_id = 'O1'") == [(Decimal(5),)]


def test_keep_latest_rule_replaces_older_versions(wh, secrets, tmp_path):
    m = parse_mapping({"table": "orders", "dedupe": {"keep": "latest", "order_by": "updated"}})
    a = _write(tmp_path / "a.csv", f"{ORDERS_HEADER},updated\n"
                                   "O1,U1,2024-01-01,completed,CNY,5,0,2024-01-01\n")
    b = _write(tmp_path / "b.csv", f"{ORDERS_HEADER},updated\n"
                                   "O1,U1,2024-01-01,returned,CNY,5,0,2024-01-03\n"
                                   "O1,U1,2024-01-01,cancelled,CNY,5,0,2024-01-02\n")
    ingest_file(wh, a, "orders", mapping=m, secrets=secrets)
    r = ingest_file(wh, b, "orders", mapping=m, secrets=secrets)
    assert (r.rows_loaded, r.rows_duplicate, r.rows_quarantined) == (1, 1, 0)
    assert _rows(wh, "SELECT status FROM orders") == [("returned",)]


def test_missing_value_policies(wh, secrets, tmp_path):
    m = parse_mapping({"table": "orders", "columns": {
        "customer_id": {"from": "customer_id", "missing": "flag"},
        "discount_amount": {"from": "discount_amount", "missing": "fill", "fill": 0},
        "currency": {"const": "GBP"},
        "status": {"from": "status", "missing": "fill", "fill": "completed"}}})
    f = _write(tmp_path / "o.csv", "order_id,customer_id,ordered_at,status,total_amount,"
                                   "discount_amount\nO1,,2024-01-01,,5,\n")
    r = ingest_file(wh, f, "orders", mapping=m, secrets=secrets)
    assert r.rows_loaded == 1
    assert _rows(wh, "SELECT customer_id, discount_amount, currency, status, dq_flags "
                     "FROM orders") == [(None, Decimal(0), "GBP", "completed",
                                         "customer_id:missing")]


def test_gbk_excel_export_with_chinese_headers_and_vault(wh, secrets, tmp_path):
    m = parse_mapping({"table": "customers", "timezone": "Asia/Shanghai", "columns": {
        "customer_id": "客户编号", "name": "姓名", "phone": "手机", "gender": "性别",
        "signup_at": "注册日期", "city": "城市"}})
    f = _write(tmp_path / "c.csv", "客户编号,姓名,手机,性别,注册日期,城市\n"
                                   "U001,张三,13800000001,男,2024/1/6,上海\n"
                                   "U002,李四,13800000002,女,2024年1月8日 09:30,北京\n",
               encoding="gbk", crlf=True)
    r = ingest_file(wh, f, "customers", mapping=m, secrets=secrets)
    assert r.rows_loaded == 2 and r.rows_quarantined == 0
    rows = _rows(wh, "SELECT customer_id, gender, signup_at, city FROM customers ORDER BY city")
    assert rows[0][1:] == ("male", dt.datetime(2024, 1, 5, 16, 0), "上海")  # Shanghai -> UTC
    assert rows[1][1:] == ("female", dt.datetime(2024, 1, 8, 1, 30), "北京")
    assert {rows[0][0], rows[1][0]} == {secrets.pseudonym("U001"), secrets.pseudonym("U002")}
    # personal fields never reach the customers table; the vault holds them encrypted
    assert "name" not in wh.table("customers").columns
    vault = _rows(wh, "SELECT customer_id, field, ciphertext FROM identity_vault")
    plain = {(c, fld): secrets.decrypt(tok) for c, fld, tok in vault}
    assert plain[(secrets.pseudonym("U001"), "phone")] == "13800000001"
    assert plain[(secrets.pseudonym("U002"), "source_customer_id")] == "U002"
    assert not any("13800000001" in tok for _, _, tok in vault)


@pytest.mark.parametrize("encoding", ["utf-16", "gb18030"])
def test_other_encodings(wh, secrets, tmp_path, encoding):
    f = _write(tmp_path / "p.csv", "product_id,name,list_price\nP1,连衣裙,￥199.00\n", encoding)
    r = ingest_file(wh, f, "products", secrets=secrets)
    assert r.rows_loaded == 1
    assert _rows(wh, "SELECT name, list_price FROM products") == [("连衣裙", Decimal(199))]


def test_gzip_tsv_xlsx_parquet_and_whitespace(wh, secrets, tmp_path):
    gz = tmp_path / "p.tsv.gz"
    gz.write_bytes(gzip.compress(b"product_id\tname\nP1\tA\nP2\tB\n"))
    ws = _write(tmp_path / "p.txt", "product_id   name    list_price\nP3   C   1.5\nP4  D  2\n")
    pq_path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"product_id": ["P5"], "list_price": [3.25]}), pq_path)
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(["Product ID", "Name", "List Price"])
    wb.active.append([6, "E", 4.5])
    xlsx = tmp_path / "p.xlsx"
    wb.save(xlsx)
    for path in (gz, ws, pq_path, xlsx):
        r = ingest_file(wh, path, "products", secrets=secrets)
        assert r.rows_quarantined == 0 and r.rows_loaded >= 1, path
    assert dict(_rows(wh, "SELECT product_id, list_price FROM products")) == {
        "P1": None, "P2": None, "P3": Decimal("1.5"), "P4": Decimal(2), "P5": Decimal("3.25"),
        "6": Decimal("4.5")}


def test_derived_keys_and_exact_duplicates_kept_as_records(wh, secrets, tmp_path):
    m = parse_mapping({"table": "order_lines", "columns": {
        "order_id": "order", "line_no": {"number_within": ["order"]},
        "product_id": {"const": "cd"}, "quantity": "qty", "unit_price": "price"},
        "dedupe": {"exact_duplicates": "keep"}})
    f = _write(tmp_path / "l.csv", "order,qty,price\nA,1,2\nA,1,2\nB,-1,3\n")
    r = ingest_file(wh, f, "order_lines", mapping=m, secrets=secrets)
    assert r.rows_loaded == 3
    assert _rows(wh, "SELECT order_id, line_no, quantity FROM order_lines ORDER BY 1, 2") == [
        ("A", 1, 1), ("A", 2, 1), ("B", 1, -1)]  # a return is a negative quantity


def test_malformed_and_truncated_lines_are_quarantined(wh, secrets, tmp_path):
    f = _write(tmp_path / "p.csv", "product_id,name\nP1,a\nP2,b,extra\nP3,c\nP4,\"unterminated")
    r = ingest_file(wh, f, "products", secrets=secrets)
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (4, 2, 2)
    assert _rows(wh, "SELECT row_number, reason_code FROM quarantine ORDER BY 1") == [
        (2, "malformed_row"), (4, "malformed_row")]
    assert _rows(wh, "SELECT product_id FROM products ORDER BY 1") == [("P1",), ("P3",)]


def test_undecodable_bytes_are_quarantined_not_lost(wh, secrets, tmp_path):
    f = tmp_path / "p.csv"
    f.write_bytes(b"product_id,name\nP1,ok\nP2,bad\xff\xfebytes\nP3,ok\n")
    r = ingest_file(wh, f, "products", secrets=secrets)
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (3, 2, 1)
    assert r.quarantine_reasons == {"bad_encoding": 1}


def test_header_only_file_loads_nothing(wh, secrets, tmp_path):
    f = _write(tmp_path / "p.csv", "product_id,name\n")
    r = ingest_file(wh, f, "products", secrets=secrets)
    assert (r.rows_read, r.rows_loaded) == (0, 0)


def test_bad_files_raise_input_errors_naming_the_file(wh, secrets, tmp_path):
    empty = _write(tmp_path / "empty.csv", "")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(InputError, match="empty.csv: the file is empty"):
        ingest_file(wh, empty, "orders", secrets=secrets)
    with pytest.raises(InputError, match="bin.csv: looks like a binary file"):
        ingest_file(wh, binary, "orders", secrets=secrets)
    missing = _write(tmp_path / "m.csv", "order_id,ordered_at\nO1,2024-01-01\n")
    with pytest.raises(InputError) as exc:
        ingest_file(wh, missing, "orders", secrets=secrets)
    assert "missing required column 'customer_id'" in str(exc.value)
    assert "columns found: order_id, ordered_at" in str(exc.value)
    semi = _write(tmp_path / "semi.csv", "product_id;name\nP1;a\n")
    m = parse_mapping({"table": "products", "file": {"delimiter": ","}})
    with pytest.raises(InputError) as exc:
        ingest_file(wh, semi, "products", mapping=m, secrets=secrets)
    assert "semicolon" in exc.value.hint
    assert wh.count("quarantine") == 0 and wh.count("ingest_runs") == 0


def test_a_failure_mid_load_leaves_nothing_written(wh, secrets, tmp_path, monkeypatch):
    from jingzhun.ingest import load

    f = _write(tmp_path / "c.csv", "customer_id,name\nU1,张三\n")

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(load, "_write_vault", boom)
    with pytest.raises(RuntimeError):
        ingest_file(wh, f, "customers", secrets=secrets)
    for table in ("customers", "identity_vault", "ingest_runs", "quarantine"):
        assert wh.count(table) == 0, table


def test_events_need_a_customer_or_an_anonymous_id(wh, secrets, tmp_path):
    f = _write(tmp_path / "e.csv", "event_id,customer_id,anonymous_id,occurred_at,type,properties\n"
                                   'E1,U1,,2024-01-01,view,"{""q"": 1}"\n'
                                   "E2,,A9,2024-01-01,search,\n"
                                   "E3,,,2024-01-01,view,\n"
                                   "E4,U1,,2024-01-01,view,{broken\n")
    r = ingest_file(wh, f, "events", secrets=secrets)
    assert r.rows_loaded == 2
    assert r.quarantine_reasons == {"missing_identity": 1, "bad_json": 1}


def test_excel_cells_beyond_the_header_are_quarantined_not_dropped(wh, secrets, tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    for row in (["product_id", "name"], ["P1", "a"], ["P2", "b", "stray"], [None, None],
                ["P3", "c"]):
        wb.active.append(row)
    xlsx = tmp_path / "p.xlsx"
    wb.save(xlsx)
    r = ingest_file(wh, xlsx, "products", secrets=secrets)
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (3, 2, 1)
    assert _rows(wh, "SELECT row_number, reason_code FROM quarantine") == [(2, "malformed_row")]
    assert "stray" in _rows(wh, "SELECT raw_value FROM quarantine")[0][0]


def test_row_numbers_follow_the_file_on_a_large_parallel_read(wh, secrets, tmp_path):
    import duckdb

    f = tmp_path / "big.csv"
    duckdb.sql(f"COPY (SELECT 'O' || i AS order_id, 'U' || (i % 997) AS customer_id, "
               f"'2024-01-01' AS ordered_at, CASE WHEN i % 100000 = 7 THEN 'x' ELSE '1' END "
               f"AS total_amount FROM range(1, 300001) t(i)) TO '{f}' (HEADER)")
    m = parse_mapping({"table": "orders", "columns": {"status": {"const": "completed"},
                                                      "currency": {"const": "CNY"}}})
    r = ingest_file(wh, f, "orders", mapping=m, secrets=secrets)
    assert (r.rows_loaded, r.rows_quarantined) == (299_997, 3)
    # the quarantined rows carry their true record numbers (i = row number)
    assert _rows(wh, "SELECT row_number, raw_value FROM quarantine ORDER BY 1") == [
        (7, "x"), (100_007, "x"), (200_007, "x")]
    assert _rows(wh, "SELECT count(DISTINCT customer_id) FROM orders") == [(997,)]
