"""Plan benchmark: the campaign allocation of ``jingzhun.plan.allocate``.

Run as ``.venv/bin/python bench/plan.py`` (``--help`` lists the options). Two cases, in one run:

* ``greedy, large``: ``allocate(method="greedy")`` on ``--customers`` customers (1,000,000) x 3
  channels (sms / email / push) x 4 offers = 12 options each (``candidates``: a response
  propensity per customer, channel and offer lifts, order values, contact and offer costs and
  noise; about half the options have a positive value). Budget: 30% of what contacting every
  customer with a positive option at their cheapest one would cost; capacities: sms 2% and email
  10% of the customers, push unlimited. No exact baseline is possible at this size; the line
  reports the greedy's own optimality bound (``attrs["upper_bound"]``, the Lagrangian dual):
  **gap <=** = (bound - value) / bound.
* ``greedy vs MILP``: the same generator on ``--exact-customers`` customers (10,000; 120,000
  options): greedy against the named baseline ``scipy milp`` (``method="exact"``, HiGHS) on the
  same data, alternating within each repetition. **ratio** = greedy s / MILP s; **gap** = 1 -
  greedy value / MILP value (the true optimality gap).

Timed: the whole ``allocate`` call (validation, sorting, solving), medians of ``--repeat``
repetitions (5). A MILP whose first repetition takes over ``--slow-s`` seconds (120) is not
repeated (the reps column says ``greedy / MILP``). Appends one line per case to
``bench/RESULTS.md`` under "## Plan benchmark results (`bench/plan.py`)" unless ``--no-record``
(``--quick``: 100,000 and 2,000 customers, not recorded).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

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

SECTION = "## Plan benchmark results (`bench/plan.py`)"
SECTION_HEADER = f"""
{SECTION}

One line per case and run of `bench/plan.py`; newest at the bottom. **customers** x 12 options
(3 channels x 4 offers), budget 30% of contacting every positive customer at their cheapest
option, capacities sms 2% / email 10% of customers. **greedy s** / **MILP s**: median wall time of
**reps** whole `allocate` calls (greedy: `method="greedy"`; MILP: `method="exact"`,
`scipy.optimize.milp` / HiGHS, the named baseline); **ratio** = greedy s / MILP s; **gap** = 1 -
greedy value / MILP value (true optimality gap); **gap <=** = the greedy's Lagrangian bound
(bound - value) / bound; **load avg**: 1-minute load average at the start / end.

"""
COLUMNS = ("date", "machine", "case", "customers", "options", "reps", "greedy s", "baseline",
           "MILP s", "ratio", "gap", "gap <=", "contacts", "budget used", "peak RSS MB",
           "load avg", "commit / src")
ALIGN = ("---", "---", "---", "---:", "---:", "---:", "---:", "---", "---:", "---:", "---:",
         "---:", "---:", "---:", "---:", "---", "---")
CHANNELS = np.array(["sms", "email", "push"])
OFFERS = np.array(["none", "c5", "c10", "ship"])


def candidates(n: int, seed: int) -> tuple[pd.DataFrame, float, dict]:
    """n customers x 12 options, the budget and the capacities of a case (module doc)."""
    rng = np.random.default_rng(seed)
    ch = np.repeat(CHANNELS, 4)
    of = np.tile(OFFERS, 3)
    option = np.char.add(np.char.add(ch, "|"), np.char.add(of, "|default"))
    contact = np.repeat([0.5, 0.05, 0.01], 4)
    offer_unit = np.tile([0.0, 5.0, 10.0, 3.0], 3)
    lift = np.repeat([1.0, 0.4, 0.3], 4) * np.tile([1.0, 1.5, 2.0, 1.3], 3)
    offer = offer_unit[None, :] * rng.uniform(0, 0.3, (n, 12))
    resp = rng.beta(1, 20, n)[:, None] * lift[None, :]
    value = resp * rng.lognormal(4, 0.7, n)[:, None] * 0.3 - contact - offer \
        + rng.normal(0, 0.3, (n, 12))
    cost = contact[None, :] + offer
    ids = np.char.add("C", np.char.zfill(np.arange(n).astype(str), 8))
    frame = pd.DataFrame({"customer_id": np.repeat(ids, 12), "option": np.tile(option, n),
                          "channel": np.tile(ch, n), "value": value.ravel(), "cost": cost.ravel()})
    cheapest = np.where(value > 0, cost, np.inf).min(axis=1)
    budget = 0.3 * float(cheapest[np.isfinite(cheapest)].sum())
    return frame, budget, {"sms": n // 50, "email": n // 10, "push": None}


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def run_case(label: str, n: int, args, with_milp: bool) -> dict:
    from jingzhun.plan.allocate import allocate

    log(f"{label}: building {n:,} customers x 12 options ...")
    frame, budget, caps = candidates(n, args.seed)
    allocate(frame.head(1200), budget=budget, capacity=caps)  # imports, first calls
    load0 = load_1min()
    g_times, m_times, greedy, exact = [], [], None, None
    for rep in range(args.repeat):
        secs, greedy = timed(lambda: allocate(frame, budget=budget, capacity=caps))
        g_times.append(secs)
        if with_milp and (rep == 0 or m_times[0] <= args.slow_s):
            secs, exact = timed(lambda: allocate(frame, budget=budget, capacity=caps, method="exact"))
            m_times.append(secs)
        log(f"  rep {rep + 1}: greedy {g_times[-1]:.3f} s"
            + (f", MILP {m_times[-1]:.3f} s" if with_milp else ""))
    value, bound = float(greedy["value"].sum()), float(greedy.attrs["upper_bound"])
    row = {"case": label, "customers": n, "options": len(frame),
           "reps": f"{len(g_times)}" if not with_milp or len(m_times) == len(g_times)
           else f"{len(g_times)} / {len(m_times)}",
           "greedy s": statistics.median(g_times), "baseline": "-", "MILP s": None, "ratio": None,
           "gap": None, "gap <=": (bound - value) / bound if bound > 0 else 0.0,
           "contacts": len(greedy), "budget used": float(greedy["cost"].sum()) / budget,
           "peak RSS MB": _peak_rss_mb(), "load avg": f"{load0} / {load_1min()}"}
    if with_milp:
        opt = float(exact["value"].sum())
        row.update({"baseline": "scipy milp (HiGHS)", "MILP s": statistics.median(m_times),
                    "gap": 1 - value / opt if opt > 0 else 0.0})
        row["ratio"] = row["greedy s"] / row["MILP s"]
    return row


def fmt(row: dict, key: str) -> str:
    v = row.get(key)
    if v is None:
        return "-"
    if key in ("customers", "options", "contacts"):
        return f"{v:,}"
    if key in ("greedy s", "MILP s"):
        return f"{v:.3g}"
    if key == "ratio":
        return f"{v:.2g}"
    if key in ("gap", "gap <="):
        return f"{100 * v:.3f}%"
    if key == "budget used":
        return f"{100 * v:.1f}%"
    if key == "peak RSS MB":
        return f"{v:,.0f}"
    return str(v)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark jingzhun.plan.allocate: the greedy solver on 1M customers x 12 "
                    "options, and greedy vs the exact MILP (scipy milp) on 10k customers, in the "
                    "same run (median times, ratio, optimality gap); appends to bench/RESULTS.md.")
    p.add_argument("--customers", type=int, default=1_000_000, help="customers of the large case")
    p.add_argument("--exact-customers", type=int, default=10_000,
                   help="customers of the greedy-vs-MILP case (at 10,000 the MILP alone ran over 8 "
                        "minutes on 2 shared cores, 2026-12-06: 2,000 is what RESULTS.md has)")
    p.add_argument("--repeat", type=int, default=5, help="repetitions per case (median; >= 5)")
    p.add_argument("--slow-s", type=float, default=120.0,
                   help="do not repeat a MILP whose first run takes longer than this")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true",
                   help="small sizes (100,000 and 2,000 customers), not recorded by default")
    add_run_args(p)
    args = p.parse_args(argv)
    if args.quick:
        args.customers, args.exact_customers = min(args.customers, 100_000), \
            min(args.exact_customers, 2_000)
    if args.record is None:
        args.record = not args.quick
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    src0 = src_hash()
    rows = [run_case("greedy vs MILP", args.exact_customers, args, with_milp=True),
            run_case("greedy, large", args.customers, args, with_milp=False)]
    src1 = src_hash()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    commit = f"{git_commit()} src:{src1}" + ("" if src0 == src1 else " (src changed during the run!)")
    lines = []
    for row in rows:
        row.update({"date": stamp, "machine": machine(), "commit / src": commit})
        lines.append("| " + " | ".join(fmt(row, k) for k in COLUMNS) + " |")
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "|".join(ALIGN) + "|")
    print("\n".join(lines))
    if args.record:
        header = SECTION_HEADER + "| " + " | ".join(COLUMNS) + " |\n|" + "|".join(ALIGN) + "|\n"
        insert_rows(SECTION, header, lines)


if __name__ == "__main__":
    main()
