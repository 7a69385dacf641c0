"""Property: for random dirty inputs every row is loaded, quarantined with a reason, or a duplicate."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jingzhun.ingest.load import ingest_file
from jingzhun.ingest.pseudonymise import load_secrets
from jingzhun.warehouse import Warehouse

ids = st.sampled_from(["O1", "O2", "O3", "O4", "", " O5 ", "o1"])
customers = st.sampled_from(["U1", "U2", "", "NULL", "客户3"])
dates = st.sampled_from(["2024-01-06", "2024/1/6", "20240107", "2024年1月8日", "45299",
                         "2024-01-06T08:00:00+08:00", "2024-13-45", "", "yesterday"])
amounts = st.sampled_from(["1,234.00", "￥88.00", "(12.50)", "5", "abc", "", "-3"])
statuses = st.sampled_from(["completed", "已完成", "cancelled", "REFUNDED", "lost", ""])
rows = st.lists(st.tuples(ids, customers, dates, statuses, amounts), min_size=1, max_size=25)
junk = st.lists(st.sampled_from(["", "a,b", "x,y,z,w,v,u,t,s", "\"open quote"]), max_size=3,
                unique=True)


def _csv(data, extra) -> str:
    lines = ["order_id,customer_id,ordered_at,status,currency,total_amount"]
    lines += [",".join([i, c, d, s, "CNY", f'"{a}"']) for i, c, d, s, a in data]
    # an unterminated quote swallows the lines after it into its record (CSV's rule), so it
    # goes last, as in a file cut off mid-record
    lines += sorted(extra, key=lambda e: e.startswith('"'))
    return "\n".join(lines) + "\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=rows, extra=junk, twice=st.booleans())
def test_every_row_is_accounted_for(tmp_path_factory, data, extra, twice):
    folder = tmp_path_factory.mktemp("prop")
    path = folder / "orders.csv"
    path.write_text(_csv(data, extra), encoding="utf-8")
    secrets = load_secrets(folder / "key")
    with Warehouse(folder / "w.duckdb") as wh:
        results = [ingest_file(wh, path, "orders", secrets=secrets)]
        if twice:  # a second file overlapping the first: cross-file duplicates and conflicts
            path2 = folder / "orders2.csv"
            path2.write_text(_csv(list(reversed(data)), []), encoding="utf-8")
            results.append(ingest_file(wh, path2, "orders", secrets=secrets))
        for r in results:
            assert r.rows_read == r.rows_loaded + r.rows_quarantined + r.rows_duplicate
            q = wh.con.execute("SELECT count(*) FROM quarantine WHERE run_id = ?",
                               [r.run_id]).fetchone()[0]
            assert q == r.rows_quarantined
        assert sum(r.rows_loaded for r in results) == wh.count("orders")
        assert results[0].rows_read == len(data) + sum(1 for e in extra if e.strip())
        for code, reason, record in wh.con.execute(
                "SELECT reason_code, reason, raw_record FROM quarantine").fetchall():
            assert code and reason
            assert json.loads(record)  # the raw values are kept
        keys = wh.con.execute("SELECT count(*) - count(DISTINCT order_id) FROM orders").fetchone()
        assert keys == (0,)
