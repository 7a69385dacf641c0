"""Ingest benchmark: the full jingzhun ingest against DuckDB's bare load of the same file.

Run by ``make bench`` (``.venv/bin/python bench/ingest.py``); ``--help`` lists the options and
``bench/README.md`` explains what is measured. Every repetition runs in a fresh child process
(``python bench/ingest.py --child ...``) on a fresh database file, so that

* the wall time is that of one cold-ish load (fresh warehouse, warm OS page cache), measured in the
  child around the work only (interpreter start and imports excluded), and
* the peak resident memory is that child's own: the child reads its ``VmHWM`` (the kernel's
  high-water mark of its resident set) from ``/proc/self/status`` when the work is done.
  (``ru_maxrss`` from ``wait4``/``RUSAGE_CHILDREN`` is not used: Linux carries the parent's
  high-water mark at fork into the child's ``ru_maxrss`` across ``exec``, so a child of a large
  parent would report at least the parent's size. The data are generated in a child process too,
  so the parent stays small.)

Cases (``--cases``):

* ``orders``: a simulated orders CSV (``--rows``, default 10M, ~70 bytes a row) written once per
  run by DuckDB, with a little dirt spread evenly through the file: ``￥1,234.00`` amounts,
  ``2024/1/6`` and ``2024年1月6日`` dates, two kinds of bad dates (quarantined), status spellings
  (``已完成``) and appended exact duplicate rows; ingested into ``orders``. Baseline:
  ``CREATE TABLE t AS SELECT * FROM read_csv('<file>')`` (auto-detect, default settings).
* ``completejourney``: ``../shared/data/completejourney/transactions.parquet`` (1,469,307 rows)
  into ``order_lines`` with a mapping. Baseline: ``CREATE TABLE t AS SELECT * FROM
  read_parquet('<file>')``.
* ``hillstrom``: the Hillstrom CSV (64,000 rows) into ``sends`` with a mapping. Baseline as for
  ``orders``.

The shared cases are skipped, with a message, when ``../shared/data`` is absent.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
TARGET_RATIO = 3.0

RESULTS_HEADER = """\
# Ingest benchmark results

One line per case and run of `bench/ingest.py` (`make bench`); newest at the bottom. See
`bench/README.md` for what is measured.

Columns:
- **date**: UTC time the run finished. **machine**: logical cores, RAM, CPU model.
- **case**: `orders` (simulated orders CSV with a little dirt, into `orders`), `completejourney`
  (`transactions.parquet` into `order_lines`), `hillstrom` (CSV into `sends`).
- **rows**: data rows in the input file. **reps**: repetitions (each in a fresh child process
  on a fresh database file); the times are medians over them.
- **ingest s**: median wall time of `Warehouse(...)` + `ingest_file(...)` + `close()` (sniff,
  sha256, staging, cleaning, validation, dedup, pseudonyms, load, quarantine, commit).
- **baseline s**: median wall time of DuckDB's bare load into a fresh file database
  (`CREATE TABLE t AS SELECT * FROM read_csv(file)` with auto-detect, or `read_parquet(file)`)
  + `close()`.
- **ratio**: ingest s / baseline s (target: <= 3).
- **ingest rows/s**: rows / ingest s.
- **peak RSS MB**: highest `VmHWM` (the kernel's high-water mark of resident memory, read by
  each child from `/proc/self/status` at its end) over the repetitions, for the ingest and the
  baseline child.
  Includes the Python interpreter and imports (about 40 MB for the baseline, 55 MB for the
  ingest).
- **mem limit**: DuckDB `memory_limit` of the ingest's warehouse (DuckDB spills beyond it);
  the baseline runs with DuckDB's defaults (80% of RAM).
- **commit / src**: short hash of the checked-out commit (read from `.git`, `-` when unknown)
  and, after `src:`, the first 8 hex digits of a SHA-256 over `src/jingzhun/**/*.py` (tells
  apart runs on uncommitted engine changes).

"""
RESULTS_COLUMNS = ("date", "machine", "case", "rows", "reps", "ingest s", "baseline s", "ratio",
                   "ingest rows/s", "peak RSS MB ingest", "peak RSS MB baseline", "mem limit",
                   "duckdb", "commit / src")
RESULTS_ALIGN = ("---", "---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:",
                 "---:", "---", "---", "---")


# -- data ---------------------------------------------------------------------------------------
def orders_sql(rows: int, path: Path) -> str:
    """``COPY`` statement writing the simulated orders CSV with ``rows`` generated rows.

    Dirt (by row number i, so spread evenly and inside any sniffer's sample): every 2000th row
    has a ``￥1,234.00`` total (quoted in the file), another every 2000th a ``2024/1/6`` date, one
    every 4000th a ``2024年1月6日`` date, one every 5000th an impossible date (``2024-02-30``) and
    one every 5000th ``unknown`` (both quarantined as bad_date), one every 1000th the status
    ``已完成``, and a copy of every 3000th row is appended at the end (exact duplicates).
    """
    p = str(path).replace("'", "''")
    return f"""
    COPY (
      WITH g AS (
        SELECT i, hash(i) AS h,
               TIMESTAMP '2023-01-01' + to_seconds(CAST(hash(i + 1) % 63072000 AS BIGINT)) AS ts
        FROM range({int(rows)}) t(i)
      ), r AS (
        SELECT i,
          'O' || lpad(CAST(i AS VARCHAR), 10, '0') AS order_id,
          'C' || lpad(CAST(h % 1000000 AS VARCHAR), 7, '0') AS customer_id,
          CASE WHEN i % 2000 = 3 THEN strftime(ts, '%Y/%-m/%-d')
               WHEN i % 4000 = 5 THEN strftime(ts, '%Y年%-m月%-d日')
               WHEN i % 5000 = 7 THEN '2024-02-30'
               WHEN i % 5000 = 9 THEN 'unknown'
               ELSE strftime(ts, '%Y-%m-%d %H:%M:%S') END AS ordered_at,
          ['app', 'web', 'store', 'wechat', 'tmall'][CAST(1 + (h >> 8) % 5 AS BIGINT)] AS channel,
          CASE WHEN i % 1000 = 13 THEN '已完成'
               WHEN (h >> 16) % 100 < 90 THEN 'completed'
               WHEN (h >> 16) % 100 < 96 THEN 'cancelled' ELSE 'returned' END AS status,
          'CNY' AS currency,
          CASE WHEN i % 2000 = 1
               THEN '￥' || (1 + i % 9) || ',' || lpad(CAST(i % 1000 AS VARCHAR), 3, '0') || '.00'
               ELSE printf('%.2f', ((h >> 24) % 50000) / 100.0) END AS total_amount,
          CASE WHEN (h >> 40) % 10 = 0 THEN printf('%.2f', ((h >> 44) % 2000) / 100.0)
               ELSE '0.00' END AS discount_amount,
          CASE WHEN (h >> 40) % 10 = 0 THEN 'SPRING' || ((h >> 50) % 100) END AS coupon_code
        FROM g
      )
      SELECT * EXCLUDE (i) FROM r
      UNION ALL
      SELECT * EXCLUDE (i) FROM r WHERE i % 3000 = 11
    ) TO '{p}' (HEADER, DELIMITER ',')
    """


def make_orders_csv(rows: int, path: Path) -> tuple[int, float]:
    """Write the orders CSV; (data rows, seconds)."""
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(orders_sql(rows, path))
    con.close()
    n = rows + len(range(11, rows, 3000))
    return n, time.perf_counter() - t0


def order_lines_mapping() -> dict:
    """Complete Journey transactions -> order_lines; line_no numbers the lines of each basket."""
    from jingzhun.ingest.mapping import ColumnSpec

    if "number_within" in ColumnSpec.model_fields:
        line_no = {"number_within": ["basket_id"]}  # 1, 2, ... within each basket
    else:  # older engines: the record's number in the file (an integer, unique per basket)
        line_no = {"concat": [], "sequence": True}
    return {
        "table": "order_lines",
        "columns": {
            "order_id": "basket_id",
            "line_no": line_no,
            "product_id": "product_id",
            "quantity": "quantity",
            "unit_price": "sales_value",  # the line's value, not per unit: fine for timing
            "discount": "retail_disc",
        },
    }


def sends_mapping() -> dict:
    return {
        "table": "sends",
        "columns": {
            "campaign_id": {"const": "hillstrom-2008"},
            "customer_id": {"concat": [], "sequence": True},
            "arm": "segment",
            "channel": {"const": "email"},
        },
        # one row per customer and no customer id in the file: equal lines are distinct people
        "dedupe": {"exact_duplicates": "keep"},
    }


def cases(args, tmp: Path) -> list[dict]:
    """The cases to run: name, file, table, mapping, rows, bytes and the baseline's reader."""
    out = []
    wanted = args.cases
    if "orders" in wanted:
        path = tmp / f"orders_{args.rows}.csv"
        print(f"generating {args.rows:,} orders into {path} ...", flush=True)
        gen = run_child({"kind": "generate", "case": "orders", "rows": args.rows,
                         "file": str(path)}, tmp)
        n, secs = gen["rows"], gen["seconds"]
        size = path.stat().st_size
        print(f"  {n:,} rows, {size / 1e6:,.0f} MB in {secs:.1f} s", flush=True)
        out.append({"case": "orders", "file": str(path), "table": "orders", "mapping": None,
                    "rows": n, "bytes": size, "reader": "read_csv"})
    shared_cases = [c for c in ("completejourney", "hillstrom") if c in wanted]
    if shared_cases and not SHARED.is_dir():
        print(f"skipping {', '.join(shared_cases)}: {SHARED} is absent", flush=True)
        return out
    if "completejourney" in wanted:
        path = SHARED / "completejourney" / "transactions.parquet"
        if path.exists():
            out.append({"case": "completejourney", "file": str(path), "table": "order_lines",
                        "mapping": order_lines_mapping(), "rows": _parquet_rows(path),
                        "bytes": path.stat().st_size, "reader": "read_parquet"})
        else:
            print(f"skipping completejourney: {path} is absent", flush=True)
    if "hillstrom" in wanted:
        folder = SHARED / "hillstrom"
        found = sorted(folder.glob("*.csv")) if folder.is_dir() else []
        if found:
            path = found[0]
            with open(path, "rb") as fh:
                n = sum(1 for line in fh if line.strip()) - 1
            out.append({"case": "hillstrom", "file": str(path), "table": "sends",
                        "mapping": sends_mapping(), "rows": n, "bytes": path.stat().st_size,
                        "reader": "read_csv"})
        else:
            print("skipping hillstrom: no CSV under ../shared/data/hillstrom", flush=True)
    return out


def _parquet_rows(path: Path) -> int:
    import duckdb

    con = duckdb.connect()
    try:
        return con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()[0]
    finally:
        con.close()


# -- child side ---------------------------------------------------------------------------------
def _proc_status_mb(field: str) -> float:
    """A memory field (``VmRSS``, ``VmHWM``) of this process from /proc, in MiB (NaN if none)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _peak_rss_mb() -> float:
    """This process's peak resident set: VmHWM, else ru_maxrss (not on Linux: see module doc)."""
    hwm = _proc_status_mb("VmHWM")
    if hwm == hwm:  # not NaN
        return hwm
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def _sql_str(s: str) -> str:
    return s.replace("'", "''")


def child_baseline(spec: dict) -> dict:
    import duckdb

    db = Path(spec["workdir"]) / "baseline.duckdb"
    rss0 = _proc_status_mb("VmRSS")
    t0 = time.perf_counter()
    con = duckdb.connect(str(db))
    con.execute(f"CREATE TABLE t AS SELECT * FROM {spec['reader']}('{_sql_str(spec['file'])}')")
    n = con.execute("SELECT count(*) FROM t").fetchone()[0]
    con.close()
    secs = time.perf_counter() - t0
    return {"seconds": secs, "rows_loaded": n, "rss_start_mb": rss0,
            "db_mb": db.stat().st_size / 1e6}


class _TimedCon:
    """Wraps a DuckDB connection and times every ``execute`` (for ``--profile``).

    (DuckDB finds Python objects named in SQL -- Arrow tables the engine passes by name, as for
    the identity vault -- in the calling frame; the bench's cases have no personal fields.)
    """

    def __init__(self, con, log: list):
        self._con = con
        self._log = log

    def execute(self, sql, *args, **kw):
        t0 = time.perf_counter()
        try:
            return self._con.execute(sql, *args, **kw)
        finally:
            self._log.append((time.perf_counter() - t0, " ".join(str(sql).split())))

    def __getattr__(self, name):
        return getattr(self._con, name)


_PROFILED = (  # (module, function, label): the ingest's stages, in order
    ("load", "sniff", "sniff (format, encoding, delimiter)"),
    ("load", "file_sha256", "sha256 of the file"),
    ("load", "already_loaded", "already-loaded check"),
    ("load", "stage", "stage: file -> _raw (all VARCHAR)"),
    ("read", "_read_csv_into_raw", "  of which read_csv -> _read -> _raw"),
    ("read", "_stage_parquet", "  of which read_parquet -> _raw"),
    ("load", "_build_typed", "typed: parse/validate -> _typed"),
    ("load", "_classify", "classify: dedup/keys -> _classified"),
    ("load", "_write", "write: insert table + quarantine"),
    ("load", "_counts", "counts"),
    ("load", "record_run", "record run (ingest_runs)"),
)


def child_ingest(spec: dict) -> dict:
    from jingzhun.ingest import load as load_mod
    from jingzhun.ingest import read as read_mod
    from jingzhun.ingest.load import ingest_file
    from jingzhun.ingest.mapping import parse_mapping
    from jingzhun.ingest.pseudonymise import load_secrets
    from jingzhun.warehouse import Warehouse

    work = Path(spec["workdir"])
    secrets = load_secrets(work / "key")
    mapping = parse_mapping(spec["mapping"], origin="bench") if spec["mapping"] else None
    profile = spec.get("profile", False)
    stages: dict[str, float] = {}  # label -> seconds, in _PROFILED order
    statements: list = []
    if profile:
        mods = {"load": load_mod, "read": read_mod}
        for mod_name, fn_name, label in _PROFILED:
            mod = mods[mod_name]
            fn = getattr(mod, fn_name, None)
            if fn is None:  # renamed in the engine: that stage is not broken out
                continue

            def timed(*a, _fn=fn, _label=label, **kw):
                t = time.perf_counter()
                try:
                    return _fn(*a, **kw)
                finally:
                    stages[_label] = stages.get(_label, 0.0) + time.perf_counter() - t

            setattr(mod, fn_name, timed)
    db = work / "warehouse.duckdb"
    rss0 = _proc_status_mb("VmRSS")
    t0 = time.perf_counter()
    wh = Warehouse(db, memory_limit=spec["memory_limit"])
    t_open = time.perf_counter() - t0
    if profile:
        wh.con = _TimedCon(wh.con, statements)
    res = ingest_file(wh, spec["file"], spec["table"], mapping=mapping, secrets=secrets)
    t_close = time.perf_counter()
    wh.close() if not profile else wh.con._con.close()
    t_close = time.perf_counter() - t_close
    secs = time.perf_counter() - t0
    out = {"seconds": secs, "rows_read": res.rows_read, "rows_loaded": res.rows_loaded,
           "rows_quarantined": res.rows_quarantined, "rows_duplicate": res.rows_duplicate,
           "quarantine_reasons": res.quarantine_reasons, "status": res.status,
           "rss_start_mb": rss0, "db_mb": db.stat().st_size / 1e6}
    if profile:
        ordered = {label: stages[label] for _, _, label in _PROFILED if label in stages}
        stages = {"open warehouse (create tables)": t_open, **ordered,
                  "close (checkpoint)": t_close}
        out["stages"] = stages
        out["statements"] = sorted(statements, reverse=True)[:15]
    return out


def child_generate(spec: dict) -> dict:
    n, secs = make_orders_csv(spec["rows"], Path(spec["file"]))
    return {"rows": n, "seconds": secs}


def child_main(spec_json: str) -> None:
    spec = json.loads(spec_json)
    run = {"ingest": child_ingest, "baseline": child_baseline, "generate": child_generate}
    result = run[spec["kind"]](spec)
    result["peak_rss_mb"] = _peak_rss_mb()
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    sys.stdout.flush()


# -- parent side --------------------------------------------------------------------------------
def run_child(spec: dict, base: Path) -> dict:
    """Run one repetition (or the data generation) in a child process; its JSON result."""
    work = Path(tempfile.mkdtemp(prefix=f"{spec['kind']}-", dir=base))
    try:
        return run_script_child(Path(__file__), {**spec, "workdir": str(work)})
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_script_child(script: Path, spec: dict, *, show_stderr: bool = False) -> dict:
    """Run ``script --child SPEC`` in a fresh interpreter and return the JSON of its last stdout
    line. Its stderr (progress) is passed through when ``show_stderr``, else kept and shown only
    if the child fails; an interrupted parent kills the child."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, str(Path(script).resolve()), "--child",
                                 json.dumps(spec, default=str)],
                                stdout=out, stderr=None if show_stderr else err)
        try:
            proc.wait()
        except BaseException:  # interrupted: do not leave the child running
            proc.kill()
            proc.wait()
            raise
        out.seek(0)
        err.seek(0)
        text, errors = out.read().decode(), err.read().decode(errors="replace")
    if proc.returncode != 0:
        what = f"{spec['kind']} child" + (f" for {spec['case']}" if "case" in spec else "")
        raise RuntimeError(f"{what} failed (exit {proc.returncode}):\n{errors[-4000:]}")
    return json.loads(text.strip().splitlines()[-1])


def log(msg: str) -> None:
    """Progress of a benchmark, on stderr (stdout carries the report)."""
    print(msg, file=sys.stderr, flush=True)


def load_1min() -> str:
    """The 1-minute load average, two decimals (2 cores: above 2 means shared)."""
    return f"{os.getloadavg()[0]:.2f}"


def machine() -> str:
    ram = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 ** 2:.0f} GiB"
    except OSError:
        pass
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {ram}, {model}"


def git_commit() -> str:
    """Short hash of HEAD, read from ``.git`` without running git; ``-`` when unknown."""
    git = ROOT / ".git"
    try:
        if git.is_file():  # a worktree: "gitdir: <path>"
            git = Path(git.read_text().split(":", 1)[1].strip())
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head[:8]
        ref = head.split(":", 1)[1].strip()
        for gitdir in (git, git.parent.parent if git.parent.name == "worktrees" else git):
            if (gitdir / ref).exists():
                return (gitdir / ref).read_text().strip()[:8]
            packed = gitdir / "packed-refs"
            if packed.exists():
                for line in packed.read_text().splitlines():
                    if line.endswith(" " + ref):
                        return line.split()[0][:8]
    except (OSError, IndexError):
        pass
    return "-"


def src_hash() -> str:
    """First 8 hex digits of a SHA-256 over the engine's Python sources (path + bytes)."""
    h = hashlib.sha256()
    for f in sorted((ROOT / "src" / "jingzhun").rglob("*.py")):
        h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:8]


def print_profile(case: dict, result: dict) -> None:
    total = result["seconds"]
    print(f"\nprofile of one ingest of {case['case']} ({case['rows']:,} rows): {total:.2f} s")
    for label, secs in result["stages"].items():
        print(f"  {label:<42} {secs:8.2f} s  {100 * secs / total:5.1f} %")
    print("  slowest statements:")
    for secs, sql in result["statements"][:10]:
        print(f"  {secs:8.2f} s  {sql[:110]}")


def run_case(case: dict, args, base: Path) -> dict:
    spec = {"case": case["case"], "file": case["file"], "table": case["table"],
            "mapping": case["mapping"], "reader": case["reader"],
            "memory_limit": args.memory_limit}
    ing, bas = [], []
    print(f"\n{case['case']}: {case['rows']:,} rows, {case['bytes'] / 1e6:,.0f} MB, "
          f"{args.repeat} repetition(s)", flush=True)
    for rep in range(args.repeat):  # interleaved, so that drift hits both alike
        b = run_child({**spec, "kind": "baseline"}, base)
        i = run_child({**spec, "kind": "ingest"}, base)
        bas.append(b)
        ing.append(i)
        print(f"  rep {rep + 1}: ingest {i['seconds']:7.2f} s ({i['peak_rss_mb']:,.0f} MB)   "
              f"baseline {b['seconds']:6.2f} s ({b['peak_rss_mb']:,.0f} MB)", flush=True)
    last = ing[-1]
    accounted = last["rows_loaded"] + last["rows_quarantined"] + last["rows_duplicate"]
    if last["rows_read"] != case["rows"] or accounted != last["rows_read"]:
        print(f"  WARNING: rows_read {last['rows_read']:,} (file {case['rows']:,}), "
              f"accounted {accounted:,}", flush=True)
    print(f"  ingest: read {last['rows_read']:,}, loaded {last['rows_loaded']:,}, quarantined "
          f"{last['rows_quarantined']:,} {last['quarantine_reasons']}, duplicate "
          f"{last['rows_duplicate']:,}; baseline loaded {bas[-1]['rows_loaded']:,}", flush=True)
    print(f"  RSS before the timed work (interpreter + imports): ingest "
          f"{last['rss_start_mb']:,.0f} MB, baseline {bas[-1]['rss_start_mb']:,.0f} MB; database "
          f"file: ingest {last['db_mb']:,.0f} MB, baseline {bas[-1]['db_mb']:,.0f} MB", flush=True)
    ti = statistics.median(r["seconds"] for r in ing)
    tb = statistics.median(r["seconds"] for r in bas)
    row = {"case": case["case"], "rows": case["rows"], "reps": args.repeat,
           "ingest_s": ti, "baseline_s": tb, "ratio": ti / tb,
           "ingest_rows_s": case["rows"] / ti, "baseline_rows_s": case["rows"] / tb,
           "rss_ingest": max(r["peak_rss_mb"] for r in ing),
           "rss_baseline": max(r["peak_rss_mb"] for r in bas),
           "ingest_all": [round(r["seconds"], 2) for r in ing],
           "baseline_all": [round(r["seconds"], 2) for r in bas]}
    if args.profile:
        prof = run_child({**spec, "kind": "ingest", "profile": True}, base)
        print_profile(case, prof)
    return row


def print_table(rows: list[dict], args) -> None:
    head = (f"{'case':<16} {'rows':>11} {'reps':>4} {'ingest s':>9} {'base s':>7} {'ratio':>6} "
            f"{'ingest rows/s':>13} {'base rows/s':>12} {'RSS MB ing':>10} {'RSS MB base':>11}")
    print("\n" + head)
    print("-" * len(head))
    for r in rows:
        flag = "" if r["ratio"] <= TARGET_RATIO else "  > target"
        print(f"{r['case']:<16} {r['rows']:>11,} {r['reps']:>4} {r['ingest_s']:>9.2f} "
              f"{r['baseline_s']:>7.2f} {r['ratio']:>5.1f}x {r['ingest_rows_s']:>13,.0f} "
              f"{r['baseline_rows_s']:>12,.0f} {r['rss_ingest']:>10,.0f} "
              f"{r['rss_baseline']:>11,.0f}{flag}")
    print(f"(medians; ratio target <= {TARGET_RATIO:g}x; ingest memory_limit {args.memory_limit}, "
          f"baseline DuckDB defaults; peak RSS = max VmHWM of the child processes)")


def insert_rows(heading: str, header: str, rows: list[str]) -> None:
    """Add table ``rows`` to RESULTS.md at the end of the table under ``heading`` (a title line),
    creating the file or the section (``header``: heading, text, table head) when missing; the
    other benchmarks' sections stay where they are."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    if heading not in text.split("\n"):
        text = (text.rstrip("\n") + "\n\n" if text else "") + header
    lines = text.rstrip("\n").split("\n")
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
    last_row = max(i for i in range(start, end) if lines[i].startswith("|"))
    lines[last_row + 1:last_row + 1] = rows
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"added {len(rows)} line(s) to {RESULTS} under {heading!r}")


def record(rows: list[dict], args, src_at_start: str) -> None:
    import duckdb

    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    mach, commit = machine(), f"{git_commit()} src:{src_at_start}"
    if src_hash() != src_at_start:
        commit += " (src changed during the run!)"
    table_head = "| " + " | ".join(RESULTS_COLUMNS) + " |\n|" + "|".join(RESULTS_ALIGN) + "|\n"
    insert_rows(RESULTS_HEADER.split("\n")[0], RESULTS_HEADER + table_head, [
        f"| {now} | {mach} | {r['case']} | {r['rows']:,} | {r['reps']} | "
        f"{r['ingest_s']:.2f} | {r['baseline_s']:.2f} | {r['ratio']:.1f} | "
        f"{r['ingest_rows_s']:,.0f} | {r['rss_ingest']:,.0f} | "
        f"{r['rss_baseline']:,.0f} | {args.memory_limit} | {duckdb.__version__} | "
        f"{commit} |" for r in rows])


def add_run_args(p: argparse.ArgumentParser) -> None:
    """Options every benchmark has: --record / --no-record (default: record unless --quick) and
    the hidden --child that runs one measured step in a fresh process."""
    rec = p.add_mutually_exclusive_group()
    rec.add_argument("--record", dest="record", action="store_true", default=None,
                     help="append to bench/RESULTS.md (default unless --quick)")
    rec.add_argument("--no-record", dest="record", action="store_false",
                     help="do not append to bench/RESULTS.md")
    p.add_argument("--child", help=argparse.SUPPRESS)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark the full jingzhun ingest against DuckDB's bare load of the same "
                    "file (median wall time, ratio, rows/s, peak RSS), and append the results "
                    "to bench/RESULTS.md.")
    p.add_argument("--rows", type=int, default=None,
                   help="rows of the simulated orders CSV (default 10,000,000; 200,000 with "
                        "--quick)")
    p.add_argument("--repeat", type=int, default=None,
                   help="repetitions per case; the median is reported (default 5; 1 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 200k orders, 1 repetition, nothing appended to RESULTS.md "
                        "(unless --record)")
    p.add_argument("--cases", default="orders,completejourney,hillstrom",
                   help="comma-separated cases: orders, completejourney, hillstrom "
                        "(default: all)")
    p.add_argument("--memory-limit", default="2GB",
                   help="DuckDB memory_limit of the ingest's warehouse (default 2GB)")
    p.add_argument("--profile", action="store_true",
                   help="after the timed repetitions, run one more ingest per case with a timer "
                        "on every stage and SQL statement and print where the time goes")
    p.add_argument("--workdir", default=None,
                   help="folder for the generated CSV and the temporary databases (default: a "
                        "new temporary folder, removed at the end)")
    add_run_args(p)
    args = p.parse_args(argv)
    if args.rows is None:
        args.rows = 200_000 if args.quick else 10_000_000
    if args.repeat is None:
        args.repeat = 1 if args.quick else 5
    if args.record is None:
        args.record = not args.quick
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = set(args.cases) - {"orders", "completejourney", "hillstrom"}
    if unknown:
        p.error(f"unknown case(s): {', '.join(sorted(unknown))}")
    if args.repeat < 1 or args.rows < 1:
        p.error("--rows and --repeat must be positive")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        child_main(args.child)
        return 0
    # on SIGTERM, unwind (killing the running child and removing the work folder)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.workdir:
        base = Path(args.workdir)
        base.mkdir(parents=True, exist_ok=True)
        base = Path(tempfile.mkdtemp(prefix="jz-bench-", dir=base))
    else:
        base = Path(tempfile.mkdtemp(prefix="jz-bench-"))
    src_at_start = src_hash()
    print(f"machine: {machine()}; python {platform.python_version()}; work folder {base}; "
          f"commit {git_commit()}, src {src_at_start}")
    try:
        rows = [run_case(case, args, base) for case in cases(args, base)]
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if not rows:
        print("nothing to run")
        return 1
    print_table(rows, args)
    if src_hash() != src_at_start:
        print("WARNING: the engine's sources (src/jingzhun) changed during the run: the "
              "repetitions may have measured different code")
    if args.record:
        record(rows, args, src_at_start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
