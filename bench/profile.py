"""Profile benchmark: the full profile build and the incremental update against a pandas groupby of
the same RFM + value features and against DuckDB's bare ``GROUP BY`` (the floor), in one run.

Run as ``.venv/bin/python bench/profile.py`` (``--help`` lists the options; ``bench/README.md``
explains what is measured). The data are simulated canonical rows (not CSVs through ingest, which
would take far longer than the benchmark itself), generated with numpy and written once as Parquet
into a cache folder (``bench/out/profile-data/<size>-<seed>/``, reused by later runs of the same
size and seed):

* customers (``--customers``, default 1M as in issue 4) with 32-hex-digit pseudonymous ids like
  ingest's, ~68% of them buyers in the window; signup, gender, birth year, city/province,
  acquisition channel;
* ~5k products in 10 categories (Zipf-like popularity) and 50 brands;
* orders (``--lines`` / 2.5, so 4M by default): each buyer's first purchase, then repeat purchases
  from the BG/NBD sampler of ``jingzhun.simulate._btyd`` (CDNOW's r, a, b with a faster purchase
  rate, alpha = 0.6), so counts are as skewed as real ones (median 1-2 orders, a tail of hundreds),
  trimmed at random to the target count; over 2023-01-01 .. 2024-12-31 with a daily rhythm; 4
  channels, 3% cancelled, 0.2% credit notes (negative totals), coupons on 15% of orders and
  markdown discounts on another 10%;
* order lines (``--lines``, default 10M): 1-4 per order (exactly ``--lines`` in all), products
  mostly from the customer's favourite category; ~4% of orders carry a return line (negative
  quantity) and some of those are ``returned``; order totals are the sums of their lines;
* events (``--events``, default = ``--lines``): views, page views, add-to-carts, searches, clicks
  ...; 60% in the day before one of the customer's orders, 30% at random times of random customers,
  10% anonymous.

The latest 1% of orders (by time), their lines, and the events after the first of them form a
second ingest run (``bench-run-2``); everything else is ``bench-run-1``.

Every measured step runs in a fresh child process (``python bench/profile.py --child ...``) on a
fresh copy of a prepared warehouse file, so that the wall time is measured around the work only
(interpreter start, imports and the file copy excluded) and the peak memory is the child's own
``VmHWM`` (see ``bench/ingest.py`` for why not ``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(BENCH) in sys.path:  # this file is called profile.py: keep it from shadowing the stdlib's
    sys.path.remove(str(BENCH))
sys.path.insert(0, str(BENCH))  # ... but reach ingest.py's helpers
from ingest import (  # noqa: E402
    _peak_rss_mb,
    _proc_status_mb,
    add_run_args,
    git_commit,
    insert_rows,
    machine,
    run_script_child,
    src_hash,
)

sys.path.remove(str(BENCH))

RESULTS = BENCH / "RESULTS.md"
DEFAULT_CACHE = BENCH / "out" / "profile-data"
RUN1, RUN2 = "bench-run-1", "bench-run-2"
START = dt.datetime(2023, 1, 1)
DAYS = 731  # 2023-01-01 .. 2024-12-31
AS_OF = (START + dt.timedelta(days=DAYS - 1)).date()
NEW_SHARE = 0.01
LINES_PER_ORDER = 2.5
DATA_VERSION = 1  # bump when the generator changes, so that old caches are not reused
TARGETS = {"pandas_over_build": 5.0, "build_over_floor": 2.5, "build_over_update": 20.0}

FLOOR_SQL = ("CREATE TABLE floor_rfm AS SELECT customer_id, count(*) AS orders, "
             "sum(total_amount) AS monetary, min(ordered_at) AS first_order_at, "
             "max(ordered_at) AS last_order_at FROM orders GROUP BY customer_id")

SECTION = "## Profile benchmark results (`bench/profile.py`)"
SECTION_HEADER = f"""
{SECTION}

One line per run of `bench/profile.py`; newest at the bottom of this table. See `bench/README.md`
(section "Profile") for what is measured.

Columns:
- **date**, **machine**: as above. **customers / orders / lines / events**: rows in the
  warehouse (all of them; the update applies the latest 1% of the orders, their lines and the
  events after them). **reps**: repetitions, each in a fresh child process on a fresh copy of
  the warehouse file; times are medians.
- **build s**: `Warehouse(...)` + `pipeline.profile_build(wh, as_of=...)` + `close()` over
  everything (state at 4 grains, summary, `customer_profile`, meta).
- **update s**: `Warehouse(...)` + `pipeline.profile_update(wh)` + `close()` on a warehouse built
  on the first 99% of the orders, with the last 1% (a second ingest run) inserted since.
- **floor s**: DuckDB's bare `CREATE TABLE AS SELECT customer_id, count(*), sum(total_amount),
  min(ordered_at), max(ordered_at) FROM orders GROUP BY customer_id` + `close()`, same file,
  same memory limit and threads.
- **pandas s**: a pandas groupby of the same RFM + value features (orders, purchase days, gross,
  returns, net, average and largest order, first/last order, recency, tenure, discount share,
  items, items returned) from orders + order lines already in pandas; the read into pandas is
  **read s**, not included.
- **spark s**: `jingzhun.profile.build.build` on Ibis tables over Spark local mode (Parquet
  files, each checkpoint and the profile written as Spark tables); median of **spark reps**.
- **build/floor** (target <= 2.5), **pandas/build** (target >= 5), **build/update** (target >= 20).
- **peak RSS MB**: highest `VmHWM` over the repetitions of the build, update, floor and pandas
  children (Spark: the Python driver plus the JVM).
- **mem limit / threads**: DuckDB `memory_limit` and `threads` of the build, update and floor.
- **load avg**: the machine's 1-minute load average at the start and the end of the timed
  repetitions (from `/proc/loadavg`); above the 2 cores means other work shared the machine.
- **commit / src**: as above.

"""
RESULTS_COLUMNS = ("date", "machine", "customers", "orders", "lines", "events", "reps", "build s",
                   "update s", "floor s", "pandas s", "read s", "spark s", "spark reps",
                   "build/floor", "pandas/build", "build/update", "peak RSS MB build", "update",
                   "floor", "pandas", "spark", "mem limit / threads", "load avg", "duckdb",
                   "commit / src")
RESULTS_ALIGN = ("---", "---") + ("---:",) * 20 + ("---",) * 4


def loadavg() -> str:
    """The 1-minute load average, from /proc/loadavg ('?' when unknown)."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except (OSError, IndexError):
        return "?"


def log(msg: str) -> None:
    """Progress, on stderr (children's stdout carries their JSON result)."""
    print(msg, file=sys.stderr, flush=True)


# -- data ---------------------------------------------------------------------------------------
CATEGORIES = ("服装", "鞋靴", "美妆", "母婴", "食品", "数码", "家居", "运动", "图书", "宠物")
GENDERS = ("female", "male", "other", "unknown")
CITIES = (("上海", "上海"), ("北京", "北京"), ("广州", "广东"), ("深圳", "广东"), ("杭州", "浙江"),
          ("成都", "四川"), ("武汉", "湖北"), ("南京", "江苏"), ("苏州", "江苏"), ("重庆", "重庆"),
          ("西安", "陕西"), ("长沙", "湖南"), ("天津", "天津"), ("郑州", "河南"), ("青岛", "山东"),
          ("宁波", "浙江"), ("厦门", "福建"), ("合肥", "安徽"), ("昆明", "云南"), ("沈阳", "辽宁"))
ACQUISITION = ("search", "social", "referral", "store", "ads", "organic")
ORDER_CHANNELS = ("app", "mini_program", "web", "store")
COUPONS = ("NEW10", "SPRING20", "DOUBLE11", "VIP50", "MEMBER5", "618SALE")
EVENT_TYPES = ("view", "page_view", "add_to_cart", "search", "click", "open", "login", "wishlist")
EVENT_P = (0.62, 0.10, 0.09, 0.09, 0.04, 0.02, 0.03, 0.01)


def data_key(args) -> str:
    return f"v{DATA_VERSION}-c{args.customers}-l{args.lines}-e{args.events}-s{args.seed}"


def _sql_list(values) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _fill_lines(rng, n_orders: int, n_lines: int):
    """1-4 lines per order, exactly ``n_lines`` in all (needs n_orders <= n_lines <= 4 n_orders)."""
    import numpy as np

    mean = n_lines / n_orders
    p = np.array([0.35, 0.3, 0.2, 0.15])  # mean 2.15; shifted below to hit the target
    k = rng.choice(4, n_orders, p=p) + 1
    diff = n_lines - int(k.sum())
    while diff != 0:
        can = np.flatnonzero(k < 4) if diff > 0 else np.flatnonzero(k > 1)
        pick = rng.choice(can, min(abs(diff), can.size), replace=False)
        k[pick] += 1 if diff > 0 else -1
        diff = n_lines - int(k.sum())
    assert abs(k.mean() - mean) < 1e-9
    return k


def generate(spec: dict) -> dict:
    """Write the canonical tables as Parquet into ``spec['dir']``; returns their row counts."""
    import duckdb
    import numpy as np
    import pyarrow as pa

    from jingzhun.simulate._btyd import BGNBDParams, GammaGammaParams, sample_bgnbd, sample_nu

    t_start = time.perf_counter()
    out = Path(spec["dir"])
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec["seed"])
    n_c, n_l, n_e = spec["customers"], spec["lines"], spec["events"]
    n_o = int(round(n_l / LINES_PER_ORDER))
    end_week = DAYS / 7.0
    start_us = np.datetime64(START, "us")

    def to_ts(week):
        return start_us + (week * 7 * 86400e6).astype("int64").astype("timedelta64[us]")

    # customers
    log(f"  customers: {n_c:,}")
    signup_week = rng.uniform(-26.0, end_week, n_c)
    is_buyer = rng.random(n_c) < 0.85
    first_week = signup_week + rng.exponential(2.0, n_c)
    is_buyer &= (first_week < end_week) & (first_week > 0)
    first_week = np.clip(first_week, 0, end_week - 1e-6)
    birth = rng.integers(1955, 2006, n_c)
    birth = np.where(rng.random(n_c) < 0.1, -1, birth)
    customers = pa.table({
        "idx": np.arange(n_c), "signup_at": to_ts(signup_week),
        "gender_i": rng.choice(4, n_c, p=[0.55, 0.40, 0.01, 0.04]),
        "birth_year": birth, "city_i": rng.integers(0, len(CITIES), n_c),
        "acq_i": rng.integers(0, len(ACQUISITION), n_c)})

    # products: popularity falls with the index within a category
    n_p = spec.get("products", 5000)
    cat_w = 1.0 / np.arange(1, len(CATEGORIES) + 1) ** 0.7
    p_cat = np.sort(rng.choice(len(CATEGORIES), n_p, p=cat_w / cat_w.sum()))
    cat_start = np.searchsorted(p_cat, np.arange(len(CATEGORIES)))
    cat_size = np.bincount(p_cat, minlength=len(CATEGORIES))
    cat_price = np.exp(rng.uniform(np.log(20), np.log(600), len(CATEGORIES)))
    list_price = np.round(cat_price[p_cat] * np.exp(rng.normal(0, 0.6, n_p)), 1) + 0.9
    products = pa.table({"idx": np.arange(n_p), "cat_i": p_cat,
                         "sub_i": rng.integers(0, 5, n_p), "brand_i": rng.integers(0, 50, n_p),
                         "list_price": list_price})

    # orders: first purchase + BG/NBD repeats, trimmed to n_o
    log(f"  orders: BG/NBD repeat purchases of {int(is_buyer.sum()):,} buyers ...")
    buyers = np.flatnonzero(is_buyer)
    purch = sample_bgnbd(rng, BGNBDParams(alpha=0.6), first_week[buyers], end_week)
    o_cust = np.concatenate([buyers, buyers[purch.customer]])
    o_week = np.concatenate([first_week[buyers], purch.week])
    if o_cust.size > n_o:  # drop random repeat purchases (first purchases stay)
        drop = rng.choice(np.arange(buyers.size, o_cust.size), o_cust.size - n_o, replace=False)
        keep = np.ones(o_cust.size, bool)
        keep[drop] = False
        o_cust, o_week = o_cust[keep], o_week[keep]
    elif o_cust.size < n_o:  # top up: more repeats of customers in proportion to their orders
        extra = rng.choice(o_cust, n_o - o_cust.size)
        w = first_week[extra] + rng.random(extra.size) * (end_week - first_week[extra])
        o_cust, o_week = np.concatenate([o_cust, extra]), np.concatenate([o_week, w])
    order = np.lexsort((o_cust, o_week))
    o_cust, o_week = o_cust[order], o_week[order]
    n_o = o_cust.size
    nu = sample_nu(rng, GammaGammaParams(), n_c)  # per-customer spend level
    del purch

    # order lines
    log(f"  order lines: {n_l:,} in {n_o:,} orders ...")
    k = _fill_lines(rng, n_o, n_l)
    l_order = np.repeat(np.arange(n_o), k)
    first_line = np.cumsum(k) - k
    line_no = np.arange(n_l) - first_line[l_order] + 1
    fav = rng.choice(len(CATEGORIES), n_c, p=cat_w / cat_w.sum())
    l_cust = o_cust[l_order]
    cat = np.where(rng.random(n_l) < 0.6, fav[l_cust],
                   rng.choice(len(CATEGORIES), n_l, p=cat_w / cat_w.sum()))
    prod = cat_start[cat] + np.floor(cat_size[cat] * rng.random(n_l) ** 2).astype(np.int64)
    qty = rng.choice([1, 2, 3], n_l, p=[0.8, 0.15, 0.05])
    # spend-level tilt: customers with a low nu (big spenders) pay more per unit (premium lines)
    tilt = np.clip(np.sqrt(6.25 / nu[l_cust] / 25.0), 0.5, 2.0)
    markdown = rng.choice([0.0, 0.1, 0.2], n_l, p=[0.6, 0.3, 0.1])
    unit = np.round(list_price[prod] * tilt * (1 - markdown), 2)
    coupon_i = np.where(rng.random(n_o) < 0.15, rng.integers(0, len(COUPONS), n_o), -1)
    disc_rate = np.where(coupon_i >= 0, 0.1, np.where(rng.random(n_o) < 0.12, 0.05, 0.0))
    line_disc = np.round(unit * qty * disc_rate[l_order], 2)
    # returns: the last line of ~4% of the multi-line orders returns the order's first line
    has_ret = (k >= 2) & (rng.random(n_o) < 0.04 / 0.65)
    ret_line = (first_line + k - 1)[has_ret]
    src_line = first_line[has_ret]
    prod[ret_line] = prod[src_line]
    qty[ret_line] = -qty[src_line]
    unit[ret_line] = unit[src_line]
    line_disc[ret_line] = 0.0
    paid = np.where(qty > 0, unit * qty - line_disc, 0.0)
    total = np.round(np.bincount(l_order, paid, minlength=n_o), 2)
    discount = np.round(np.bincount(l_order, line_disc, minlength=n_o), 2)
    status_i = np.zeros(n_o, np.int8)  # 0 completed, 1 cancelled, 2 returned
    status_i[rng.random(n_o) < 0.03] = 1
    status_i[has_ret & (rng.random(n_o) < 0.3)] = 2
    credit = rng.random(n_o) < 0.002  # credit notes: negative totals
    total = np.where(credit, -np.round(total * rng.uniform(0.1, 1.0, n_o), 2), total)
    status_i[credit] = 2
    channel_i = rng.choice(len(ORDER_CHANNELS), n_o, p=[0.45, 0.25, 0.2, 0.1])
    o_ts = to_ts(o_week)
    cut = n_o - max(1, int(round(n_o * NEW_SHARE)))  # orders[cut:] are the new 1%
    cut_ts = o_ts[cut]
    o_run = np.arange(n_o) >= cut
    orders = pa.table({"idx": np.arange(n_o), "cust": o_cust, "ordered_at": o_ts,
                       "channel_i": channel_i, "status_i": status_i, "total": total,
                       "discount": discount, "coupon_i": coupon_i, "new": o_run})
    lines = pa.table({"ord": l_order, "line_no": line_no, "prod": prod, "qty": qty,
                      "unit": unit, "disc": line_disc, "new": o_run[l_order]})
    del l_cust, cat, markdown, paid

    # events
    log(f"  events: {n_e:,} ...")
    kind = rng.choice(3, n_e, p=[0.6, 0.3, 0.1])  # before an order, at random, anonymous
    e_ord = rng.integers(0, n_o, n_e)
    e_cust = np.where(kind == 0, o_cust[e_ord], rng.integers(0, n_c, n_e))
    lo = np.maximum(signup_week[e_cust], 0.0)
    rand_week = lo + rng.random(n_e) * (end_week - lo)
    near = np.maximum(o_week[e_ord] - rng.exponential(1.0 / 7, n_e), 0.0)
    e_week = np.where(kind == 0, near, rand_week)
    e_ts = to_ts(e_week)
    e_type = rng.choice(len(EVENT_TYPES), n_e, p=EVENT_P)
    e_prod = np.where(np.isin(e_type, [0, 2, 7]), rng.integers(0, n_p, n_e), -1)
    e_sess = (e_cust.astype(np.int64) << 20) + (e_week * 7).astype(np.int64)
    events = pa.table({"idx": np.arange(n_e), "cust": np.where(kind == 2, -1, e_cust),
                       "anon": np.where(kind == 2, e_cust, -1), "occurred_at": e_ts,
                       "type_i": e_type, "prod": e_prod, "sess": e_sess, "new": e_ts >= cut_ts})
    del e_ord, e_cust, lo, rand_week, near, e_week

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("customers_a", customers)
    con.register("products_a", products)
    con.register("orders_a", orders)
    con.register("lines_a", lines)
    con.register("events_a", events)
    cid = "md5('jz-bench-c' || {0})"  # 32 hex digits, like ingest's pseudonyms
    run = f"CASE WHEN new THEN '{RUN2}' ELSE '{RUN1}' END"
    queries = {
        "customers": f"""
            SELECT {cid.format('idx')} AS customer_id, signup_at::TIMESTAMP AS signup_at,
              {_sql_list(GENDERS)}[gender_i + 1] AS gender, nullif(birth_year, -1) AS birth_year,
              {_sql_list(c for c, _ in CITIES)}[city_i + 1] AS city,
              {_sql_list(p for _, p in CITIES)}[city_i + 1] AS province, 'CN' AS country,
              {_sql_list(ACQUISITION)}[acq_i + 1] AS acquisition_channel, NULL::JSON AS attributes,
              '{RUN1}' AS ingest_run_id, NULL::VARCHAR AS dq_flags
            FROM customers_a ORDER BY idx""",
        "products": f"""
            SELECT printf('P%05d', idx) AS product_id, printf('商品 %d', idx) AS name,
              {_sql_list(CATEGORIES)}[cat_i + 1] AS category,
              {_sql_list(CATEGORIES)}[cat_i + 1] || '-' || sub_i AS subcategory,
              printf('品牌%02d', brand_i) AS brand, list_price::DECIMAL(18,4) AS list_price,
              '{RUN1}' AS ingest_run_id, NULL::VARCHAR AS dq_flags
            FROM products_a ORDER BY idx""",
        "orders": f"""
            SELECT printf('O%010d', idx) AS order_id, {cid.format('cust')} AS customer_id,
              ordered_at::TIMESTAMP AS ordered_at, {_sql_list(ORDER_CHANNELS)}[channel_i + 1]
              AS channel, ['completed', 'cancelled', 'returned'][status_i + 1] AS status,
              'CNY' AS currency, total::DECIMAL(18,4) AS total_amount,
              discount::DECIMAL(18,4) AS discount_amount,
              CASE WHEN coupon_i >= 0 THEN {_sql_list(COUPONS)}[coupon_i + 1] END AS coupon_code,
              {run} AS ingest_run_id, NULL::VARCHAR AS dq_flags
            FROM orders_a ORDER BY idx""",
        "order_lines": f"""
            SELECT printf('O%010d', ord) AS order_id, line_no::BIGINT AS line_no,
              printf('P%05d', prod) AS product_id, qty::BIGINT AS quantity,
              unit::DECIMAL(18,4) AS unit_price, disc::DECIMAL(18,4) AS discount,
              {run} AS ingest_run_id, NULL::VARCHAR AS dq_flags
            FROM lines_a ORDER BY ord, line_no""",
        "events": f"""
            SELECT printf('E%011d', idx) AS event_id,
              CASE WHEN cust >= 0 THEN {cid.format('cust')} END AS customer_id,
              CASE WHEN anon >= 0 THEN 'anon-' || anon END AS anonymous_id,
              occurred_at::TIMESTAMP AS occurred_at, {_sql_list(EVENT_TYPES)}[type_i + 1] AS type,
              CASE WHEN prod >= 0 THEN printf('P%05d', prod) END AS product_id,
              printf('S%x', sess) AS session_id,
              CASE WHEN type_i = 3 THEN '{{"query": "' || {_sql_list(CATEGORIES)}[idx % 10 + 1]
                   || '"}}' END::JSON AS properties,
              {run} AS ingest_run_id, NULL::VARCHAR AS dq_flags
            FROM events_a ORDER BY occurred_at""",
    }
    counts = {}
    for name, sql in queries.items():
        t0 = time.perf_counter()
        path = out / f"{name}.parquet"
        con.execute(f"COPY ({sql}) TO '{path}' (FORMAT parquet, COMPRESSION zstd)")
        counts[name] = con.execute(f"SELECT count(*) FROM '{path}'").fetchone()[0]
        log(f"  wrote {name}: {counts[name]:,} rows, {path.stat().st_size / 1e6:,.0f} MB "
            f"in {time.perf_counter() - t0:.1f} s")
    new = {n: con.execute(f"SELECT count(*) FROM '{out / n}.parquet' WHERE ingest_run_id = "
                          f"'{RUN2}'").fetchone()[0] for n in ("orders", "order_lines", "events")}
    con.close()
    per_cust = np.bincount(o_cust, minlength=n_c)[buyers]
    meta = {"counts": counts, "new": new, "as_of": str(AS_OF),
            "cut_at": str(cut_ts.astype("datetime64[s]")), "seed": spec["seed"],
            "orders_per_buyer": {"mean": float(per_cust.mean()),
                                 "median": float(np.median(per_cust)),
                                 "p99": float(np.percentile(per_cust, 99)),
                                 "max": int(per_cust.max())},
            "returns": int(has_ret.sum()), "seconds": time.perf_counter() - t_start}
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    return meta


# -- warehouses ---------------------------------------------------------------------------------
def _load(wh, data: Path, *, run: str | None) -> None:
    """Insert the cached Parquet rows (of ingest run ``run``, or all) into the canonical tables."""
    for name in ("customers", "products", "orders", "order_lines", "events"):
        where = ""
        if run and name in ("orders", "order_lines", "events"):
            where = f" WHERE ingest_run_id = '{run}'"
        wh.con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM read_parquet('{data / name}"
                       f".parquet'){where}")


def prepare(spec: dict) -> dict:
    """``full.duckdb`` (all rows) and ``pre_update.duckdb`` (the first run built, then the second
    run's rows inserted)."""
    from jingzhun import pipeline
    from jingzhun.warehouse import Warehouse

    data, work = Path(spec["data"]), Path(spec["workdir"])
    t0 = time.perf_counter()
    with Warehouse(work / "full.duckdb", memory_limit=spec["memory_limit"],
                   threads=spec["threads"]) as wh:
        _load(wh, data, run=None)
    log(f"  full.duckdb: all rows loaded in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    with Warehouse(work / "pre_update.duckdb", memory_limit=spec["memory_limit"],
                   threads=spec["threads"]) as wh:
        _load(wh, data, run=RUN1)
        t1 = time.perf_counter()
        pipeline.profile_build(wh)  # as of the first run's latest day
        t_build = time.perf_counter() - t1
        for name, table in (("orders", "orders"), ("order_lines", "order_lines"),
                            ("events", "events")):
            wh.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet("
                           f"'{data / name}.parquet') WHERE ingest_run_id = '{RUN2}'")
        pre_as_of = str(pipeline._profile_meta(wh)["as_of"])
    log(f"  pre_update.duckdb: first run loaded and built as of {pre_as_of} ({t_build:.1f} s), "
        f"second run inserted; {time.perf_counter() - t0:.1f} s")
    return {"full_mb": (work / "full.duckdb").stat().st_size / 1e6,
            "pre_mb": (work / "pre_update.duckdb").stat().st_size / 1e6,
            "pre_as_of": pre_as_of, "pre_build_s": t_build}


# -- children: the measured work ----------------------------------------------------------------
def child_floor(spec: dict) -> dict:
    import duckdb

    db = spec["db"]
    rss0 = _proc_status_mb("VmRSS")
    t0 = time.perf_counter()
    con = duckdb.connect(db)
    con.execute(f"SET memory_limit = '{spec['memory_limit']}'")
    con.execute(f"SET threads = {int(spec['threads'])}")
    con.execute(f"SET temp_directory = '{db}.tmp'")
    con.execute(FLOOR_SQL)
    con.close()
    secs = time.perf_counter() - t0
    con = duckdb.connect(db, read_only=True)
    n = con.execute("SELECT count(*) FROM floor_rfm").fetchone()[0]
    con.close()
    return {"seconds": secs, "rows": n, "rss_start_mb": rss0}


class _Timer:
    """Times every statement of a DuckDB connection (``--profile``); with ``plans``, also keeps
    a summary of DuckDB's JSON profile (``enable_profiling = 'json'``) of every ``INSERT``."""

    def __init__(self, con, log_: list, plans: dict | None = None, plan_file: str | None = None):
        self._con, self._log, self._plans, self._plan_file = con, log_, plans, plan_file

    def execute(self, sql, *a, **kw):
        t0 = time.perf_counter()
        try:
            return self._con.execute(sql, *a, **kw)
        finally:
            text = " ".join(str(sql).split())
            self._log.append((time.perf_counter() - t0, text))
            if self._plans is not None and text.startswith("INSERT INTO"):
                target = text.split()[2].strip('"')
                try:
                    self._plans[target] = _plan_summary(json.loads(Path(self._plan_file)
                                                                   .read_text()))
                except (OSError, ValueError):
                    pass

    def __getattr__(self, name):
        return getattr(self._con, name)


def _plan_summary(prof: dict, top: int = 8) -> dict:
    """The slowest operators of a DuckDB JSON profile, with their output rows and key details."""
    ops = []

    def walk(node, depth):
        info = node.get("extra_info") or {}
        detail = "; ".join(f"{k}: {v if isinstance(v, str) else ', '.join(map(str, v))}"
                           for k, v in info.items()
                           if k in ("Groups", "Aggregates", "Join Type", "Conditions", "Table",
                                    "Function", "Partitions", "Orders"))
        ops.append((node.get("timing", 0.0), node.get("type", "?"),
                    node.get("intermediate_rows", 0), depth, detail[:160]))
        for c in node.get("children", []):
            walk(c, depth + 1)

    for root in prof.get("operator", []):
        walk(root, 0)
    system, query = prof.get("system", {}), prof.get("query", {})
    return {"seconds": query.get("total_time"), "cpu_seconds": query.get("cpu_time"),
            "peak_buffer_mb": system.get("peak_buffer_memory", 0) / 1e6,
            "peak_temp_mb": system.get("peak_temp_dir_size", 0) / 1e6,
            "operators": len(ops), "top": sorted(ops, reverse=True)[:top]}


def _instrument(pipeline, steps: dict):
    """Wrap ``pipeline._materializer`` so that each checkpoint is timed."""
    original = pipeline._materializer

    def materializer(wh, names):
        inner = original(wh, names)

        def materialize(name, expr):
            t0 = time.perf_counter()
            out = inner(name, expr)
            steps[name] = steps.get(name, 0.0) + time.perf_counter() - t0
            return out
        return materialize

    pipeline._materializer = materializer


def child_profile(spec: dict) -> dict:
    """``profile_build`` (``spec['what'] == 'build'``) or ``profile_update`` on ``spec['db']``."""
    from jingzhun import pipeline
    from jingzhun.warehouse import Warehouse

    steps: dict[str, float] = {}
    statements: list = []
    plans: dict | None = {} if spec.get("explain") else None
    if spec.get("profile"):
        _instrument(pipeline, steps)
    rss0 = _proc_status_mb("VmRSS")
    t0 = time.perf_counter()
    wh = Warehouse(spec["db"], memory_limit=spec["memory_limit"], threads=spec["threads"])
    t_open = time.perf_counter() - t0
    if spec.get("profile"):
        plan_file = f"{spec['db']}.profile.json"
        if plans is not None:
            wh.con.execute("SET enable_profiling = 'json'")
            wh.con.execute(f"SET profiling_output = '{plan_file}'")
        wh.con = _Timer(wh.con, statements, plans, plan_file)
    as_of = dt.date.fromisoformat(spec["as_of"])
    if spec["what"] == "build":
        status = pipeline.profile_build(wh, as_of=as_of)
    else:
        status = pipeline.profile_update(wh, as_of=as_of)
    t_close = time.perf_counter()
    (wh.con._con if spec.get("profile") else wh.con).close()
    t_close = time.perf_counter() - t_close
    secs = time.perf_counter() - t0
    out = {"seconds": secs, "customers": status["customers"],
           "changed": status.get("changed_customers"), "rss_start_mb": rss0}
    if spec.get("profile"):
        out["steps"] = {"open warehouse": t_open, **steps, "close (checkpoint)": t_close}
        out["statements"] = sorted(statements, reverse=True)[:12]
        out["sql_seconds"] = sum(t for t, _ in statements)
        out["sql_count"] = len(statements)
        if plans is not None:
            out["plans"] = plans
    return out


def pandas_features(orders, lines, as_of: dt.date):
    """The RFM + value features of the profile, by a pandas groupby (one row per customer with
    a purchase or a credit note). Same rules as ``jingzhun.profile.state``: a purchase is a
    non-cancelled order with a total >= 0, a credit note an order with a negative total (refunds
    ``-total``); a purchase with status ``returned`` refunds its whole total; a return line
    (quantity < 0) of another purchase refunds ``-quantity * unit_price - discount``."""
    import numpy as np
    import pandas as pd

    day = orders["ordered_at"].dt.normalize()
    upto = pd.Timestamp(as_of)
    o = orders[orders["customer_id"].notna() & (day <= upto)]
    day = day[o.index]
    total = o["total"]
    purchase = (o["status"] != "cancelled") & (total >= 0)
    credit = total < 0
    keep = purchase | credit
    o, day, purchase, credit, total = o[keep], day[keep], purchase[keep], credit[keep], total[keep]
    returned = purchase & (o["status"] == "returned")
    disc = purchase & ((o["discount"] > 0) | o["coupon_code"].notna())
    f = pd.DataFrame({
        "customer_id": o["customer_id"],
        "is_purchase": purchase,
        "line_refunds": purchase & ~returned,
        "gross": total.where(purchase, 0.0),
        "order_refund": (-total).where(credit, 0.0) + total.where(returned, 0.0),
        "p_total": total.where(purchase),
        "p_discount": o["discount"].where(purchase, 0.0),
        "p_at": o["ordered_at"].where(purchase),
        "p_day": day.where(purchase),
        "discounted": disc,
    })
    g = f.groupby("customer_id", sort=False)
    per = g.agg(orders=("is_purchase", "sum"), gross=("gross", "sum"),
                order_refund=("order_refund", "sum"), max_order_value=("p_total", "max"),
                discount_amount=("p_discount", "sum"), first_order_at=("p_at", "min"),
                last_order_at=("p_at", "max"), first_day=("p_day", "min"),
                last_day=("p_day", "max"), purchase_days=("p_day", "nunique"),
                discounted_orders=("discounted", "sum"))
    ol = lines.merge(f.loc[:, ["customer_id", "is_purchase", "line_refunds"]]
                     .set_index(o["order_id"].to_numpy()),
                     left_on="order_id", right_index=True, how="inner")
    qty = ol["quantity"]
    lf = pd.DataFrame({
        "customer_id": ol["customer_id"],
        "line_refund": (-qty * ol["unit_price"] - ol["discount"]).where(
            ol["line_refunds"] & (qty < 0), 0.0),
        "items": qty.where(ol["is_purchase"] & (qty > 0), 0),
        "items_returned": (-qty).where(qty < 0, 0)})
    per = per.join(lf.groupby("customer_id", sort=False).sum(), how="left")
    cols = ["line_refund", "items", "items_returned"]
    per[cols] = per[cols].fillna(0)
    orders_n = per["orders"].replace(0, np.nan)
    returns = per["line_refund"] + per["order_refund"]
    per["monetary_gross"] = per["gross"]
    per["returns_amount"] = returns
    per["monetary_net"] = per["gross"] - returns
    per["avg_order_value"] = per["gross"] / orders_n
    per["recency_days"] = (upto - per["last_day"]).dt.days
    per["tenure_days"] = (upto - per["first_day"]).dt.days
    per["discount_order_share"] = per["discounted_orders"] / orders_n
    per["return_rate"] = returns / per["gross"].replace(0, np.nan)
    return per.drop(columns=["gross", "order_refund", "line_refund", "first_day", "last_day"])


_SUMS = ("orders", "purchase_days", "items", "items_returned", "monetary_gross",
         "returns_amount", "monetary_net", "max_order_value", "discount_amount",
         "recency_days", "tenure_days", "discount_order_share", "return_rate")


def child_pandas(spec: dict) -> dict:
    import duckdb

    rss0 = _proc_status_mb("VmRSS")
    t0 = time.perf_counter()
    con = duckdb.connect(spec["db"], read_only=True)
    orders = con.execute(
        "SELECT order_id, customer_id, ordered_at, status, total_amount::DOUBLE AS total, "
        "coalesce(discount_amount, 0)::DOUBLE AS discount, coupon_code FROM orders").df()
    lines = con.execute(
        "SELECT order_id, quantity, unit_price::DOUBLE AS unit_price, "
        "coalesce(discount, 0)::DOUBLE AS discount FROM order_lines").df()
    con.close()
    t_read = time.perf_counter() - t0
    rss_read = _proc_status_mb("VmRSS")
    t0 = time.perf_counter()
    per = pandas_features(orders, lines, dt.date.fromisoformat(spec["as_of"]))
    secs = time.perf_counter() - t0
    buyers = per[per["orders"] > 0]
    sums = {c: float(buyers[c].sum()) for c in _SUMS}
    sums["customers"] = int(len(buyers))
    return {"seconds": secs, "read_seconds": t_read, "rows": len(per), "rss_start_mb": rss0,
            "rss_after_read_mb": rss_read, "sums": sums}


def profile_sums(con, table: str = "customer_profile") -> dict:
    """Sums of the pandas baseline's columns over ``table``'s buyers (orders > 0)."""
    cols = ", ".join(f"sum({c})::DOUBLE" for c in _SUMS)
    row = con.execute(f"SELECT {cols}, count(*) FROM {table} WHERE orders > 0").fetchone()
    out = dict(zip(_SUMS, row[:-1], strict=True))
    out["customers"] = int(row[-1])
    return out


def child_check(spec: dict) -> dict:
    """Compare the update's ``customer_profile`` with the full build's, column by column."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"ATTACH '{spec['build_db']}' AS b (READ_ONLY)")
    con.execute(f"ATTACH '{spec['update_db']}' AS u (READ_ONLY)")
    cols = [r[0] for r in con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = 'b' AND "
        "table_name = 'customer_profile' ORDER BY column_index").fetchall()]
    types = dict(con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = 'b' AND "
        "table_name = 'customer_profile'").fetchall())
    # floats may differ in the last bits (sums in another order), so 1e-9 relative, and per
    # column, so that a difference says where it is
    def differs(c: str) -> str:
        if types[c] in ("DOUBLE", "FLOAT"):
            return (f"(b.{c} IS NULL) <> (u.{c} IS NULL) OR abs(b.{c} - u.{c}) > "
                    f"1e-9 * greatest(1, abs(b.{c}))")
        return f"b.{c} IS DISTINCT FROM u.{c}"
    compared = [c for c in cols if c not in ("customer_id", "as_of")]
    counts = con.execute(
        "SELECT " + ", ".join(f"count(*) FILTER (WHERE {differs(c)})" for c in compared)
        + ", count(*) FILTER (WHERE b.customer_id IS NULL OR u.customer_id IS NULL) FROM "
        "b.customer_profile AS b FULL JOIN u.customer_profile AS u USING (customer_id)").fetchone()
    by_column = {c: k for c, k in zip([*compared, "(missing row)"], counts, strict=True) if k}
    diff = con.execute(
        "SELECT count(*) FROM b.customer_profile AS b FULL JOIN u.customer_profile AS u USING "
        "(customer_id) WHERE b.customer_id IS NULL OR u.customer_id IS NULL OR "
        + " OR ".join(f"({differs(c)})" for c in compared)).fetchone()[0]
    n = con.execute("SELECT count(*) FROM b.customer_profile").fetchone()[0]
    sums = profile_sums(con, "b.customer_profile")
    con.close()
    return {"differing_rows": diff, "rows": n, "sums": sums, "differing_columns": by_column}


def _tree_rss_mb(pid: int) -> float:
    """Sum of ``VmHWM`` of ``pid``'s descendants (the Spark JVM), from /proc."""
    children: dict[int, list[int]] = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(p.name))
    total, todo = 0.0, list(children.get(pid, []))
    while todo:
        q = todo.pop()
        todo += children.get(q, [])
        try:
            for line in Path(f"/proc/{q}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def child_spark(spec: dict) -> dict:
    """``profile.build.build`` on Spark local mode over the Parquet files, ``spec['repeat']``
    times in one session (each checkpoint and the profile written as Spark tables).

    The JVM's log goes to ``<workdir>/spark.log`` (fd 2 is redirected); progress lines go to the
    original stderr. A failure is returned as ``{"error": ...}`` rather than raised, so that the
    rest of the benchmark is still reported."""
    import os

    work = Path(spec["workdir"])
    progress = os.fdopen(os.dup(2), "w")
    with open(work / "spark.log", "w") as logf:
        os.dup2(logf.fileno(), 2)
    steps: dict[str, float] = {}
    try:
        return _spark_builds(spec, work, progress, steps)
    except Exception as exc:  # noqa: BLE001 -- reported, not fatal
        import traceback

        traceback.print_exc()  # into spark.log
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return {"error": f"{type(exc).__name__}: {first[:400]}", "steps": steps}


def _spark_builds(spec: dict, work: Path, progress, steps: dict) -> dict:
    import logging
    import os

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    import ibis
    from pyspark.sql import SparkSession

    from jingzhun.profile.build import INPUT_TABLES, build

    logging.getLogger("py4j").setLevel(logging.ERROR)
    t0 = time.perf_counter()
    spark = (SparkSession.builder.master(f"local[{spec['threads']}]")
             .appName("jz-bench-profile")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.driver.memory", spec["spark_memory"])
             .config("spark.sql.shuffle.partitions", str(spec["spark_partitions"]))
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.warehouse.dir", str(work / "spark-warehouse"))
             .config("spark.local.dir", str(work / "spark-tmp"))
             .config("spark.driver.extraJavaOptions", f"-Djava.io.tmpdir={work}")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    con = ibis.pyspark.connect(spark)
    t_start = time.perf_counter() - t0
    data = Path(spec["data"])
    times = []
    try:
        for rep in range(spec["repeat"]):
            t0 = time.perf_counter()
            for name in INPUT_TABLES:
                spark.read.parquet(str(data / f"{name}.parquet")).createOrReplaceTempView(name)
            tables = {name: con.table(name) for name in INPUT_TABLES}

            def materialize(name, expr):
                t = time.perf_counter()
                out = con.create_table(f"bench_{name}", expr, overwrite=True)
                steps[name] = time.perf_counter() - t
                return out

            res = build(tables, as_of=dt.date.fromisoformat(spec["as_of"]), timezone="UTC",
                        materialize=materialize)
            materialize("customer_profile", res.profile)
            times.append(time.perf_counter() - t0)
            print(f"    spark build {rep + 1}: {times[-1]:.1f} s ("
                  + ", ".join(f"{k} {v:.0f} s" for k, v in steps.items()) + ")",
                  file=progress, flush=True)
        n = spark.table("bench_customer_profile").count()
        sums = spark.sql("SELECT " + ", ".join(f"CAST(sum({c}) AS DOUBLE)" for c in _SUMS)
                         + ", count(*) FROM bench_customer_profile WHERE orders > 0").collect()[0]
        jvm_mb = _tree_rss_mb(os.getpid())
    finally:
        spark.stop()
    out_sums = dict(zip(_SUMS, [float(v) for v in sums[:-1]], strict=True))
    out_sums["customers"] = int(sums[-1])
    return {"seconds": statistics.median(times), "all": times, "start_seconds": t_start,
            "rows": n, "sums": out_sums, "jvm_peak_rss_mb": jvm_mb, "steps": steps}


def child_generate(spec: dict) -> dict:
    return generate(spec)


def child_main(spec_json: str) -> None:
    spec = json.loads(spec_json)
    run = {"generate": child_generate, "prepare": prepare, "floor": child_floor,
           "build": child_profile, "update": child_profile, "pandas": child_pandas,
           "check": child_check, "spark": child_spark}
    result = run[spec["kind"]](spec)
    result["peak_rss_mb"] = _peak_rss_mb()
    sys.stdout.write("\n" + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()


# -- parent side --------------------------------------------------------------------------------
def run_child(spec: dict, *, show_stderr: bool = False) -> dict:
    """Run one step of this benchmark in a child process; its JSON result."""
    return run_script_child(Path(__file__), spec, show_stderr=show_stderr)


def copy_db(src: Path, dst: Path) -> None:
    for p in (dst, Path(f"{dst}.wal")):
        p.unlink(missing_ok=True)
    shutil.rmtree(f"{dst}.tmp", ignore_errors=True)
    shutil.copyfile(src, dst)


def compare_sums(label: str, got: dict, want: dict, rtol: float = 1e-6) -> bool:
    bad = [k for k in want if not math.isclose(got.get(k, math.nan), want[k], rel_tol=rtol,
                                               abs_tol=1e-6)]
    if bad:
        print(f"  WARNING: {label} differs from the build in: "
              + ", ".join(f"{k} {got.get(k)!r} vs {want[k]!r}" for k in bad), flush=True)
    else:
        print(f"  {label} matches the build (sums of {len(want)} columns over the buyers, "
              f"rel. tol. {rtol:g})", flush=True)
    return not bad


def print_profile(prof: dict, label: str, median_s: float) -> None:
    total = prof["seconds"]
    print(f"\nwhere the time goes: one more instrumented {label}, {total:.1f} s "
          f"(median of the timed runs {median_s:.1f} s)")
    if prof["steps"]:
        print("  checkpoints (pipeline._materializer):")
    for name, secs in prof["steps"].items():
        print(f"  {name:<28} {secs:8.2f} s  {100 * secs / total:5.1f} %")
    if "sql_seconds" in prof:
        print(f"  {prof['sql_count']} SQL statements took {prof['sql_seconds']:.2f} s in all; the "
              f"remaining {total - prof['sql_seconds']:.2f} s is Python (Ibis expression building "
              f"and compiling)")
    print("  slowest statements:")
    for secs, sql in prof["statements"][:10]:
        print(f"  {secs:8.2f} s  {sql[:120]}")
    for table, plan in prof.get("plans", {}).items():
        if (plan["seconds"] or 0) < 0.05 * total:
            continue
        print(f"\n  INSERT INTO {table}: {plan['seconds']:.2f} s wall, {plan['cpu_seconds']:.2f} s "
              f"CPU, {plan['operators']} operators, peak buffer {plan['peak_buffer_mb']:,.0f} MB, "
              f"spilled {plan['peak_temp_mb']:,.0f} MB; slowest operators (CPU s, output rows):")
        for secs, op, rows, depth, detail in plan["top"]:
            print(f"    {secs:7.2f} s  {op:<22} {rows:>12,}  depth {depth:<3} {detail}")


def fmt_s(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def print_table(r: dict, args) -> None:
    print("\n" + "=" * 100)
    print(f"{r['customers']:,} customers, {r['orders']:,} orders, {r['lines']:,} order lines, "
          f"{r['events']:,} events; update applies {r['new_orders']:,} orders, "
          f"{r['new_lines']:,} lines, {r['new_events']:,} events")
    print(f"DuckDB memory_limit {args.memory_limit}, threads {args.threads}; medians of "
          f"{args.repeat} repetition(s); load average {r['load']} (start / end)")
    rows = [("build (profile_build)", r["build_s"], r["build_all"], r["rss_build"]),
            ("update 1% (profile_update)", r["update_s"], r["update_all"], r["rss_update"]),
            ("floor (DuckDB GROUP BY)", r["floor_s"], r["floor_all"], r["rss_floor"]),
            ("pandas groupby", r["pandas_s"], r["pandas_all"], r["rss_pandas"]),
            ("  (read into pandas)", r["read_s"], r["read_all"], None)]
    if r.get("spark_s") is not None:
        rows.append((f"spark local[{args.threads}] build", r["spark_s"], r["spark_all"],
                     r["rss_spark"]))
    print(f"{'':<28} {'median s':>9} {'peak RSS MB':>12}   all runs (s)")
    for label, med, allr, rss in rows:
        rss_s = "" if rss is None else f"{rss:,.0f}"
        print(f"{label:<28} {med:>9.2f} {rss_s:>12}   {', '.join(f'{x:.2f}' for x in allr)}")
    print()
    for key, label, target, higher in (
            ("build_over_floor", "build / floor", TARGETS["build_over_floor"], False),
            ("pandas_over_build", "pandas / build", TARGETS["pandas_over_build"], True),
            ("build_over_update", "build / update", TARGETS["build_over_update"], True)):
        v = r[key]
        ok = v >= target if higher else v <= target
        print(f"  {label:<16} {v:6.2f}x   target {'>=' if higher else '<='} {target:g}x   "
              f"{'ok' if ok else 'MISSED'}")
    if r.get("spark_error"):
        print(f"  spark: failed ({r['spark_error'][:200]})")
    if r.get("spark_s") is not None:
        print(f"  spark / build    {r['spark_s'] / r['build_s']:6.2f}x   (reported, no target)")


def record(r: dict, args, src_at_start: str) -> None:
    import duckdb

    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    commit = f"{git_commit()} src:{src_at_start}"
    if src_hash() != src_at_start:
        commit += " (src changed during the run!)"
    spark = r.get("spark_s")
    spark_rss = "-" if spark is None else f"{r['rss_spark']:,.0f}"
    spark_s = "failed" if r.get("spark_error") else fmt_s(spark)
    line = (f"| {now} | {machine()} | {r['customers']:,} | {r['orders']:,} | {r['lines']:,} | "
            f"{r['events']:,} | {args.repeat} | {r['build_s']:.2f} | {r['update_s']:.2f} | "
            f"{r['floor_s']:.2f} | {r['pandas_s']:.2f} | {r['read_s']:.2f} | {spark_s} | "
            f"{r.get('spark_reps', 0)} | {r['build_over_floor']:.2f} | "
            f"{r['pandas_over_build']:.2f} | {r['build_over_update']:.1f} | "
            f"{r['rss_build']:,.0f} | {r['rss_update']:,.0f} | {r['rss_floor']:,.0f} | "
            f"{r['rss_pandas']:,.0f} | {spark_rss} | {args.memory_limit} / {args.threads} | "
            f"{r['load']} | {duckdb.__version__} | {commit} |")
    insert_rows(SECTION, SECTION_HEADER.lstrip("\n") + "| " + " | ".join(RESULTS_COLUMNS)
                + " |\n|" + "|".join(RESULTS_ALIGN) + "|\n", [line])


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark the profile build and update against a pandas groupby of the same "
                    "RFM + value features and DuckDB's bare GROUP BY (the floor), and Spark local "
                    "mode; medians, ratios and peak RSS; appended to bench/RESULTS.md.")
    p.add_argument("--customers", type=int, default=None,
                   help="customers (default 1,000,000; 50,000 with --quick)")
    p.add_argument("--lines", type=int, default=None,
                   help="order lines (default 10,000,000; 500,000 with --quick); orders = lines / 2.5")
    p.add_argument("--events", type=int, default=None,
                   help="events (default: as many as order lines; 0 for none)")
    p.add_argument("--repeat", type=int, default=None,
                   help="repetitions of each measurement; medians are reported (default 5; 3 "
                        "with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 50k customers, 500k lines, 3 repetitions, not recorded "
                        "(unless --record)")
    p.add_argument("--spark", action=argparse.BooleanOptionalAction, default=True,
                   help="also time the build on Spark local mode (default: on when pyspark and "
                        "java are available)")
    p.add_argument("--spark-repeat", type=int, default=None,
                   help="Spark builds, in one session; the median is reported (default 3; 1 with "
                        "more than 2M lines, to keep the run short)")
    p.add_argument("--spark-memory", default="6g",
                   help="spark.driver.memory of the local-mode session (default 6g)")
    p.add_argument("--memory-limit", default="4GB",
                   help="DuckDB memory_limit of the build, update and floor (default 4GB)")
    p.add_argument("--threads", type=int, default=2,
                   help="DuckDB threads, and Spark's local[N] (default 2)")
    p.add_argument("--seed", type=int, default=20261123, help="seed of the data generator")
    p.add_argument("--profile", action="store_true",
                   help="after the timed runs, one more build and update with a timer on every "
                        "checkpoint and SQL statement (not part of the medians)")
    p.add_argument("--explain", action="store_true",
                   help="with --profile: DuckDB's JSON profile of every INSERT (slowest operators, "
                        "peak buffer memory, spill)")
    p.add_argument("--cache", default=str(DEFAULT_CACHE),
                   help=f"folder of the generated Parquet data, reused across runs of the same "
                        f"size and seed (default {DEFAULT_CACHE.relative_to(ROOT)})")
    p.add_argument("--regenerate", action="store_true", help="generate the data even if cached")
    p.add_argument("--workdir", default=None,
                   help="folder for the warehouse files (default: a new temporary folder, "
                        "removed at the end)")
    add_run_args(p)
    args = p.parse_args(argv)
    if args.customers is None:
        args.customers = 50_000 if args.quick else 1_000_000
    if args.lines is None:
        args.lines = 500_000 if args.quick else 10_000_000
    if args.events is None:
        args.events = args.lines
    if args.repeat is None:
        args.repeat = 3 if args.quick else 5
    if args.spark_repeat is None:
        args.spark_repeat = 1 if args.lines > 2_000_000 else 3
    if args.record is None:
        args.record = not args.quick
    if args.repeat < 1 or args.customers < 1 or args.lines < 1 or args.events < 0:
        p.error("--customers, --lines and --repeat must be positive, --events >= 0")
    n_orders = round(args.lines / LINES_PER_ORDER)
    if n_orders < 100:
        p.error("--lines too small (need at least 250)")
    return args


def have_spark() -> bool:
    import importlib.util

    return importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        child_main(args.child)
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    src_at_start = src_hash()
    print(f"machine: {machine()}; python {platform.python_version()}; commit {git_commit()}, "
          f"src {src_at_start}", flush=True)
    t_run = time.perf_counter()

    data = Path(args.cache) / data_key(args)
    if args.regenerate or not (data / "meta.json").exists():
        shutil.rmtree(data, ignore_errors=True)
        print(f"generating {args.customers:,} customers, {args.lines:,} order lines, "
              f"{args.events:,} events into {data} ...", flush=True)
        meta = run_child({"kind": "generate", "dir": str(data), "customers": args.customers,
                          "lines": args.lines, "events": args.events, "seed": args.seed},
                         show_stderr=True)
        print(f"  generated in {meta['seconds']:.1f} s", flush=True)
    else:
        meta = json.loads((data / "meta.json").read_text())
        print(f"data: {data} (cached)", flush=True)
    counts, new = meta["counts"], meta["new"]
    opb = meta["orders_per_buyer"]
    print(f"  {counts['customers']:,} customers, {counts['products']:,} products, "
          f"{counts['orders']:,} orders (per buyer: mean {opb['mean']:.1f}, median "
          f"{opb['median']:.0f}, p99 {opb['p99']:.0f}, max {opb['max']:,}), "
          f"{counts['order_lines']:,} lines, {counts['events']:,} events; new run: "
          f"{new['orders']:,} orders from {meta['cut_at']}, {new['order_lines']:,} lines, "
          f"{new['events']:,} events; as of {meta['as_of']}", flush=True)

    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
        base = Path(tempfile.mkdtemp(prefix="jz-bench-profile-", dir=args.workdir))
    else:
        base = Path(tempfile.mkdtemp(prefix="jz-bench-profile-"))
    common = {"memory_limit": args.memory_limit, "threads": args.threads, "as_of": meta["as_of"]}
    try:
        print(f"preparing the warehouses in {base} ...", flush=True)
        prep = run_child({"kind": "prepare", "data": str(data), "workdir": str(base), **common},
                         show_stderr=True)
        print(f"  full.duckdb {prep['full_mb']:,.0f} MB; pre_update.duckdb {prep['pre_mb']:,.0f} "
              f"MB (first run built as of {prep['pre_as_of']} in {prep['pre_build_s']:.1f} s)",
              flush=True)
        full, pre, work = base / "full.duckdb", base / "pre_update.duckdb", base / "rep.duckdb"
        keep_build, keep_update = base / "last_build.duckdb", base / "last_update.duckdb"
        res: dict[str, list[dict]] = {"floor": [], "build": [], "update": [], "pandas": []}
        load_start = loadavg()
        print(f"\n{args.repeat} repetition(s) of floor, build, update, pandas (interleaved; "
              f"load average {load_start}):", flush=True)
        for rep in range(args.repeat):
            copy_db(full, work)
            f = run_child({"kind": "floor", "db": str(work), **common})
            copy_db(full, work)
            b = run_child({"kind": "build", "what": "build", "db": str(work), **common})
            if rep == args.repeat - 1:
                shutil.move(work, keep_build)
            copy_db(pre, work)
            u = run_child({"kind": "update", "what": "update", "db": str(work), **common})
            if rep == args.repeat - 1:
                shutil.move(work, keep_update)
            pd_ = run_child({"kind": "pandas", "db": str(full), **common})
            for k, v in (("floor", f), ("build", b), ("update", u), ("pandas", pd_)):
                res[k].append(v)
            print(f"  rep {rep + 1}: build {b['seconds']:7.2f} s ({b['peak_rss_mb']:,.0f} MB)  "
                  f"update {u['seconds']:6.2f} s ({u['peak_rss_mb']:,.0f} MB)  "
                  f"floor {f['seconds']:6.2f} s ({f['peak_rss_mb']:,.0f} MB)  "
                  f"pandas {pd_['seconds']:6.2f} s + read {pd_['read_seconds']:5.2f} s "
                  f"({pd_['peak_rss_mb']:,.0f} MB)", flush=True)
        load_end = loadavg()
        b, u = res["build"][-1], res["update"][-1]
        print(f"  build: {b['customers']:,} profiles; update: {u['changed']:,} customers changed; "
              f"floor: {res['floor'][-1]['rows']:,} rows; pandas: {res['pandas'][-1]['rows']:,} "
              f"rows", flush=True)
        print(f"  RSS before the timed work: build {b['rss_start_mb']:,.0f} MB, pandas after "
              f"the read {res['pandas'][-1]['rss_after_read_mb']:,.0f} MB", flush=True)
        chk = run_child({"kind": "check", "build_db": str(keep_build),
                         "update_db": str(keep_update)})
        if chk["differing_rows"]:
            print(f"  WARNING: the update's customer_profile differs from the full build's in "
                  f"{chk['differing_rows']:,} rows (of {chk['rows']:,}); rows per column: "
                  f"{chk['differing_columns']}", flush=True)
        else:
            print(f"  update == full build: customer_profile identical ({chk['rows']:,} rows; "
                  f"floats to 1e-9 relative)", flush=True)
        compare_sums("pandas", res["pandas"][-1]["sums"], chk["sums"])

        med = {k: statistics.median(r["seconds"] for r in v) for k, v in res.items()}
        row = {"customers": counts["customers"], "orders": counts["orders"],
               "lines": counts["order_lines"], "events": counts["events"],
               "new_orders": new["orders"], "new_lines": new["order_lines"],
               "new_events": new["events"],
               **{f"{k}_s": v for k, v in med.items()},
               **{f"{k}_all": [r["seconds"] for r in v] for k, v in res.items()},
               **{f"rss_{k}": max(r["peak_rss_mb"] for r in v) for k, v in res.items()},
               "read_s": statistics.median(r["read_seconds"] for r in res["pandas"]),
               "read_all": [r["read_seconds"] for r in res["pandas"]],
               "build_over_floor": med["build"] / med["floor"],
               "pandas_over_build": med["pandas"] / med["build"],
               "build_over_update": med["build"] / med["update"],
               "load": f"{load_start} / {load_end}"}

        if args.spark and not have_spark():
            print("\nskipping Spark: pyspark or java is not available", flush=True)
        elif args.spark:
            print(f"\nSpark local[{args.threads}] ({args.spark_repeat} build(s), driver memory "
                  f"{args.spark_memory}):", flush=True)
            sw = Path(tempfile.mkdtemp(prefix="spark-", dir=base))
            s = run_child({"kind": "spark", "data": str(data), "workdir": str(sw),
                           "repeat": args.spark_repeat, "spark_memory": args.spark_memory,
                           "spark_partitions": 8, **common}, show_stderr=True)
            shutil.rmtree(sw, ignore_errors=True)
            if "error" in s:
                done = ", ".join(f"{k} {v:.1f} s" for k, v in s["steps"].items())
                print(f"  Spark FAILED (reported as 'failed'): {s['error']}\n  checkpoints "
                      f"written before the failure: {done or 'none'}", flush=True)
                row |= {"spark_error": s["error"]}
            else:
                print(f"  session start {s['start_seconds']:.1f} s (not counted); builds "
                      f"{', '.join(f'{x:.1f}' for x in s['all'])} s; {s['rows']:,} profiles; "
                      f"peak RSS driver {s['peak_rss_mb']:,.0f} MB + JVM "
                      f"{s['jvm_peak_rss_mb']:,.0f} MB", flush=True)
                compare_sums("spark", s["sums"], chk["sums"])
                row |= {"spark_s": s["seconds"], "spark_all": s["all"],
                        "spark_reps": len(s["all"]),
                        "rss_spark": s["peak_rss_mb"] + s["jvm_peak_rss_mb"]}

        if args.profile:
            copy_db(full, work)
            prof = run_child({"kind": "build", "what": "build", "db": str(work), "profile": True,
                              "explain": args.explain, **common})
            print_profile(prof, "build", med["build"])
            copy_db(pre, work)
            prof = run_child({"kind": "update", "what": "update", "db": str(work),
                              "profile": True, "explain": args.explain, **common})
            print_profile(prof, "update", med["update"])
    finally:
        shutil.rmtree(base, ignore_errors=True)

    print_table(row, args)
    print(f"(whole run {time.perf_counter() - t_run:.0f} s)")
    if src_hash() != src_at_start:
        print("WARNING: the engine's sources (src/jingzhun) changed during the run")
    if args.record:
        record(row, args, src_at_start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
