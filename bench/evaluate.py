"""Evaluation benchmark: ``jingzhun.pipeline_evaluate.evaluate_campaign`` on a large campaign.

Run as ``.venv/bin/python bench/evaluate.py`` (``--help`` lists the options). One synthetic
campaign of ``--recipients`` recipients (default 2,000,000; 20% control) is written straight into
a DuckDB warehouse with SQL: ``sends`` (one row per recipient, sent over two hours, cost 0.05 for
treated recipients), ``responses`` (delivered / click for treated recipients, a conversion response
per converter) and ``orders`` (about 1.5 orders per recipient over the 90 days before the send,
and the converters' orders in the 14 days after, with a true lift of one point).

Two cases, alternating within each repetition, on the same warehouse:

* **ours**: ``evaluate_campaign(..., attribution="orders", pre_days=90,
  bootstrap_max_recipients=0)`` -- the per-arm sums in one SQL pass, then Python on those sums
  (z-test, Welch, CUPED, SRM, Holm);
* **baseline** ``pandas rows``: the same evaluation without the sufficient statistics -- every
  recipient's outcomes (the same SQL up to the per-recipient rows) fetched into pandas, then
  per-arm rates and means, scipy's ``ttest_ind`` (Welch) and CUPED on the rows: what moving the
  rows to Python instead of their sums costs.

The line reports the medians of ``--repeat`` repetitions (5), **ratio** = ours s / baseline s,
the peak RSS of the process and the difference between the two Welch p-values (they must agree).
Appends one line to ``bench/RESULTS.md`` under "## Evaluation benchmark results
(`bench/evaluate.py`)" unless ``--no-record`` (``--quick``: 200,000 recipients, not recorded).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))
from ingest import (  # noqa: E402
    _peak_rss_mb,
    add_run_args,
    git_commit,
    insert_rows,
    load_1min,
    log,
    machine,
    src_hash,
)

CAMPAIGN = "BENCH"
SECTION = "## Evaluation benchmark results (`bench/evaluate.py`)"
COLUMNS = ["date", "machine", "recipients", "orders", "reps", "ours s", "baseline", "baseline s",
           "ratio", "Welch p ours / baseline", "peak RSS MB", "load avg", "commit / src"]
ALIGN = ["---", "---", "---:", "---:", "---:", "---:", "---", "---:", "---:", "---", "---:", "---",
         "---"]
SECTION_HEADER = f"""
{SECTION}

One line per run of `bench/evaluate.py`; newest at the bottom. A synthetic campaign of
**recipients** (20% control) with **orders** in the 90 days before and 14 days after the send.
**ours s**: median wall time of **reps** `evaluate_campaign` calls (attribution by orders, CUPED
with 90 days of pre-period spend, no bootstrap); **baseline s**: the named baseline, the same
per-recipient outcomes fetched into pandas, then the same tests with pandas and scipy;
**ratio** = ours s / baseline s (below 1:
ours is faster). **Welch p**: the revenue comparison's p-value by each (they must agree).
**load avg**: 1-minute load average at the start / end.

"""


def build_warehouse(path: Path, recipients: int, seed: int = 0) -> int:
    """Write the synthetic campaign into a new warehouse at ``path``; returns the orders."""
    import duckdb

    con = duckdb.connect(str(path))
    con.execute(f"SELECT setseed({(seed % 1000) / 1000})")
    con.execute(f"""
        CREATE TABLE sends AS
        SELECT '{CAMPAIGN}' AS campaign_id, 'c' || i AS customer_id,
               CASE WHEN hash(i, 'arm') % 5 = 0 THEN 'control' ELSE 'treatment' END AS arm,
               TIMESTAMP '2025-06-02 02:00:00' + to_seconds(CAST(i % 7200 AS DOUBLE)) AS sent_at,
               CAST(CASE WHEN hash(i, 'arm') % 5 = 0 THEN 0 ELSE 0.05 END AS DECIMAL(18, 4)) AS cost,
               random() AS u, random() * 3 AS habit
        FROM range({recipients}) t(i)""")
    con.execute("""
        CREATE TABLE pre AS
        SELECT customer_id, sent_at - to_seconds(1 + random() * 89 * 86400) AS ordered_at,
               CAST(round(20 + random() * 200, 2) AS DECIMAL(18, 2)) AS total_amount
        FROM sends, range(3) r(k) WHERE random() < habit / 2""")
    # converters: 3% base + the habit's pull + one point of lift for the treated
    con.execute("""
        CREATE TABLE post AS
        SELECT customer_id, sent_at + to_seconds(3600 + random() * 13 * 86400) AS ordered_at,
               CAST(round(30 + random() * 150 + habit * 20, 2) AS DECIMAL(18, 2)) AS total_amount
        FROM sends WHERE u < 0.03 + 0.01 * habit + CASE WHEN arm = 'treatment' THEN 0.01 ELSE 0 END""")
    con.execute("""
        CREATE TABLE orders AS
        SELECT 'o' || row_number() OVER () AS order_id, customer_id, ordered_at, 'completed' AS status,
               'CNY' AS currency, total_amount
        FROM (SELECT * FROM pre UNION ALL SELECT * FROM post)""")
    con.execute(f"""
        CREATE TABLE responses AS
        SELECT '{CAMPAIGN}' AS campaign_id, customer_id, 'delivered' AS type,
               sent_at + INTERVAL 1 MINUTE AS occurred_at, CAST(NULL AS DECIMAL(18, 2)) AS revenue
        FROM sends WHERE arm = 'treatment'
        UNION ALL
        SELECT '{CAMPAIGN}', p.customer_id, 'conversion', min(p.ordered_at), sum(p.total_amount)
        FROM post p GROUP BY p.customer_id""")
    orders = con.execute("SELECT count(*) FROM orders").fetchone()[0]
    con.execute("DROP TABLE pre; DROP TABLE post; ALTER TABLE sends DROP COLUMN u; "
                "ALTER TABLE sends DROP COLUMN habit")
    con.close()
    return int(orders)


def ours(path: Path) -> float:
    """The revenue comparison's Welch p-value by ``evaluate_campaign``."""
    from jingzhun.pipeline_evaluate import evaluate_campaign
    from jingzhun.warehouse import Warehouse

    with Warehouse(path) as wh:
        result = evaluate_campaign(wh, CAMPAIGN, attribution="orders", pre_days=90,
                                   bootstrap_max_recipients=0)
    return next(c["p_value"] for c in result["comparisons"] if c["metric"] == "revenue_per_recipient")


def baseline(path: Path) -> float:
    """The same evaluation from every recipient's row: the same per-recipient outcomes (the
    same SQL) fetched into pandas, then per-arm rates and means, scipy's Welch test and CUPED's
    theta on the rows."""
    import duckdb
    import numpy as np
    from scipy import stats

    from jingzhun.pipeline_evaluate import _outcomes_sql

    con = duckdb.connect(str(path), read_only=True)
    sql = _outcomes_sql(14.0, "orders", 90.0) + (
        " SELECT arm, delivered, open, click, visit, converted, n_orders, cost, y, x FROM outcomes")
    rows = con.execute(sql, [CAMPAIGN]).fetchdf()
    con.close()
    per_arm = rows.groupby("arm").agg(["mean", "sum", "var", "count"])
    assert len(per_arm) == 2
    theta = np.cov(rows["x"], rows["y"])[0, 1] / rows["x"].var()
    adjusted = rows["y"] - theta * (rows["x"] - rows["x"].mean())
    treated, held = (rows["arm"] == a for a in ("treatment", "control"))
    stats.ttest_ind(adjusted[treated], adjusted[held], equal_var=False)
    return float(stats.ttest_ind(rows.loc[treated, "y"], rows.loc[held, "y"], equal_var=False).pvalue)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipients", type=int, default=2_000_000, help="recipients (default 2,000,000)")
    p.add_argument("--repeat", type=int, default=5, help="repetitions (default 5)")
    p.add_argument("--quick", action="store_true", help="200,000 recipients, 3 repetitions, no record")
    add_run_args(p)
    args = p.parse_args(argv)
    if args.quick:
        args.recipients, args.repeat = 200_000, 3
    if args.record is None:
        args.record = not args.quick
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    src0 = src_hash()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        log(f"building a campaign of {args.recipients:,} recipients ...")
        orders = build_warehouse(path, args.recipients)
        load0 = load_1min()
        times = {"ours": [], "baseline": []}
        p_values = {}
        for rep in range(args.repeat):
            for name, fn in (("ours", ours), ("baseline", baseline)):
                start = time.perf_counter()
                p_values[name] = fn(path)
                times[name].append(time.perf_counter() - start)
            log(f"rep {rep + 1}: ours {times['ours'][-1]:.2f} s, baseline {times['baseline'][-1]:.2f} s")
        load1 = load_1min()
    src1 = src_hash()
    ours_s, base_s = (statistics.median(times[k]) for k in ("ours", "baseline"))
    row = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
           "recipients": f"{args.recipients:,}", "orders": f"{orders:,}", "reps": str(args.repeat),
           "ours s": f"{ours_s:.3g}", "baseline": "rows in pandas + scipy",
           "baseline s": f"{base_s:.3g}", "ratio": f"{ours_s / base_s:.2f}",
           "Welch p ours / baseline": f"{p_values['ours']:.6g} / {p_values['baseline']:.6g}",
           "peak RSS MB": f"{_peak_rss_mb():,.0f}", "load avg": f"{load0} / {load1}",
           "commit / src": f"{git_commit()} src:{src1}"
                           + ("" if src0 == src1 else " (src changed during the run!)")}
    line = "| " + " | ".join(row[k] for k in COLUMNS) + " |"
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "|".join(ALIGN) + "|")
    print(line)
    if args.record:
        header = SECTION_HEADER + "| " + " | ".join(COLUMNS) + " |\n|" + "|".join(ALIGN) + "|\n"
        insert_rows(SECTION, header, [line])


if __name__ == "__main__":
    main()
