"""BTYD benchmark (issue 5): fit and scoring times of the BTYD models on 1M simulated customers
against lifetimes 0.11.3 on the same inputs in the same run, and the fit against the time just to
build the models' input from the orders (``rfm_summary`` on DuckDB: the floor).

Run as ``.venv/bin/python bench/btyd.py`` (``--help`` lists the options; ``bench/README.md``,
section "BTYD", explains the columns). The data, per model, from the true parameters below:

* a cohort like CDNOW's but larger: first purchases uniform over the first 39 weeks of a 78-week
  window (so ages T spread over 39-78 weeks), ``jingzhun.simulate`` draws of (x, t_x) in weeks;
* each customer's orders: the first, the last repeat at t_x, the other x - 1 repeats uniform in
  (0, t_x) (the conditional law of a Poisson process); then, as ``rfm_summary`` does with real
  orders, **whole days**: same-day orders merge into one transaction and recency and T are
  calendar-day differences / 7. The fitted rows are therefore what real data give (a few hundred
  thousand unique (x, t_x, T) rows for 1M customers), and the fits land a few percent from the
  true parameters (merged same-day repeats, day rounding) -- both are printed;
* spends (Gamma-Gamma) per order, rounded to cents; the model sees the mean repeat-day value;
* BG/BB: discrete-time draws, 10 opportunities each.

The BG/NBD population's orders (a few million rows) are loaded into an in-memory DuckDB
``orders`` table; ``rfm_summary(...).to_pyarrow()`` on it is the floor, and its result is checked
against the numpy summary that the fits use. Our fits run in this process (median of
``--repeat``); each lifetimes fit runs in a child process (``--child``) with a timeout, repeated
while the total stays under 10 s (one run when a fit takes longer).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))
from ingest import _peak_rss_mb, add_run_args, git_commit, insert_rows, machine, src_hash  # noqa: E402

START = dt.datetime(2025, 1, 1)
WINDOW_DAYS, COHORT_DAYS = 546, 273  # 78 weeks of observation, first purchases in the first 39
OBSERVATION_END = (START + dt.timedelta(days=WINDOW_DAYS - 1)).date()
BGBB_PERIODS = 10
HORIZON_WEEKS = 52
DISCOUNT_WEEKLY = math.log(1.1) / 52  # 10% a year, continuous, per week
LIFETIMES_BUDGET_S = 10.0  # lifetimes repeats a fit while its total stays below this
TRUE = {  # published estimates (CDNOW; BTYDplus for MBG/NBD; FHS 2010's donations for BG/BB)
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "mbgnbd": {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614},
    "pareto": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},
    "gg": {"p": 6.25, "q": 3.74, "v": 15.44},
    "bgbb": {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783},
}
MODELS = {  # key: (our class, lifetimes' fitter, lifetimes' parameter names)
    "bgnbd": ("BetaGeoModel", "BetaGeoFitter", ("r", "alpha", "a", "b")),
    "mbgnbd": ("ModifiedBetaGeoModel", "ModifiedBetaGeoFitter", ("r", "alpha", "a", "b")),
    "pareto": ("ParetoNBDModel", "ParetoNBDFitter", ("r", "alpha", "s", "beta")),
    "gg": ("GammaGammaModel", "GammaGammaFitter", ("p", "q", "v")),
    "bgbb": ("BetaGeoBetaBinomModel", "BetaGeoBetaBinomFitter", ("alpha", "beta", "gamma", "delta")),
}

SECTION = "## BTYD benchmark results (`bench/btyd.py`)"
SECTION_HEADER = f"""
{SECTION}

One line per model case and run of `bench/btyd.py`; newest at the bottom. See `bench/README.md`
(section "BTYD") for the data and the columns. Times are medians of **reps** in seconds;
**lifetimes s (runs)** is the median of that many lifetimes fits in a child process (one run when
a fit takes over 10 s), on the same rows; **ratio** = lifetimes s / fit s; **floor s** =
`rfm_summary(...).to_pyarrow()` on DuckDB over the orders behind the 1M-customer summary, and
**fit/floor** = fit s / floor s; **vs true** / **vs lifetimes**: largest relative difference of
our parameters from the simulator's / from lifetimes' fit; **load avg**: 1-minute load average at
the start / end of the timed part (2 cores: above 2 means other work shared the machine).

"""
COLUMNS = ("date", "machine", "case", "customers", "unique rows", "reps", "fit s", "lifetimes s (runs)",
           "ratio", "target", "met", "expected s", "P(alive) s", "DERT s", "floor s", "fit/floor",
           "vs true (exact draws)", "vs lifetimes", "peak RSS MB (lifetimes)", "load avg", "commit / src")
ALIGN = ("---", "---", "---") + ("---:",) * 6 + ("---", "---") + ("---:",) * 8 + ("---", "---")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_1min() -> str:
    return f"{os.getloadavg()[0]:.2f}"


# -- data ---------------------------------------------------------------------------------------
def _orders(rng, x, recency_weeks, first_day):
    """Each customer's purchase times (days since START): the first, then the x repeats of which
    the last is at t_x and the others uniform before it. Returns (customer index, time)."""
    import numpy as np

    n = x.size
    rep = np.repeat(np.arange(n), x)
    u = rng.random(rep.size)
    u[np.cumsum(x)[x > 0] - 1] = 1.0  # the last repeat of each customer is at t_x
    t = first_day[rep] + 7.0 * recency_weeks[rep] * u
    cust = np.concatenate([np.arange(n), rep])
    time_days = np.minimum(np.concatenate([first_day, t]), WINDOW_DAYS - 1e-6)
    return cust, time_days


def _day_summary(cust, time_days, n, amount=None):
    """``rfm_summary``'s rules in numpy: purchase days, frequency = days - 1, recency and T in
    weeks from calendar days, monetary value = mean value of the repeat days."""
    import numpy as np

    day = np.floor(time_days).astype(np.int64)
    keys, inv = np.unique(cust * WINDOW_DAYS + day, return_inverse=True)
    k_cust, k_day = keys // WINDOW_DAYS, keys % WINDOW_DAYS
    first = np.full(n, WINDOW_DAYS, np.int64)
    last = np.zeros(n, np.int64)
    np.minimum.at(first, k_cust, k_day)
    np.maximum.at(last, k_cust, k_day)
    freq = np.bincount(k_cust, minlength=n) - 1
    out = {"frequency": freq, "recency": (last - first) / 7.0,
           "T": (WINDOW_DAYS - 1 - first) / 7.0}
    if amount is not None:
        value = np.bincount(inv, amount, minlength=keys.size)
        first_value = np.where(k_day == first[k_cust], value, 0.0)
        repeat_total = np.bincount(k_cust, value - first_value, minlength=n)
        out["monetary_value"] = np.where(freq > 0, repeat_total / np.maximum(freq, 1), 0.0)
    return out


def simulate(n: int, seed: int) -> dict:
    """The populations (numpy summaries per model, BG/NBD's orders, BG/BB's draws)."""
    import numpy as np

    from jingzhun.simulate import populations as sims

    rng = np.random.default_rng(seed)
    out = {}
    for key, sim in (("bgnbd", sims.simulate_bgnbd), ("mbgnbd", sims.simulate_mbgnbd),
                     ("pareto", sims.simulate_pareto_nbd)):
        first_day = rng.uniform(0.0, COHORT_DAYS, n)
        draw = sim(n, *TRUE[key].values(), T=(WINDOW_DAYS - first_day) / 7.0, seed=rng)
        cust, t = _orders(rng, draw["frequency"].to_numpy(), draw["recency"].to_numpy(), first_day)
        amount = None
        if key == "bgnbd":  # spends: nu ~ Gamma(q, rate v) per customer, Gamma(p, rate nu) per order
            gg = TRUE["gg"]
            nu = rng.gamma(gg["q"], 1.0 / gg["v"], n)
            amount = np.maximum(np.round(rng.gamma(gg["p"], 1.0 / nu[cust]), 2), 0.01)
            out["orders"] = {"cust": cust, "time_days": t, "amount": amount}
        out[key] = _day_summary(cust, t, n, amount)
        out.setdefault("exact", {})[key] = {c: draw[c].to_numpy() for c in ("frequency", "recency", "T")}
        merged = int((draw["frequency"].to_numpy() != out[key]["frequency"]).sum())
        log(f"  {key}: {n:,} customers, {cust.size:,} orders, {merged:,} customers with "
            f"same-day orders merged")
    out["gg"] = {k: v[out["bgnbd"]["frequency"] > 0] for k, v in out["bgnbd"].items()
                 if k in ("frequency", "monetary_value")}
    draw = sims.simulate_bgbb(n, *TRUE["bgbb"].values(), n_periods=BGBB_PERIODS, seed=rng)
    out["bgbb"] = {c: draw[c].to_numpy() for c in ("frequency", "recency", "n_periods")}
    table = draw.value_counts().reset_index(name="weights")
    out["bgbb_table"] = {c: table[c].to_numpy() for c in ("frequency", "recency", "n_periods",
                                                           "weights")}
    return out


def orders_table(orders: dict):
    """The BG/NBD population's orders as a canonical ``orders`` table in in-memory DuckDB."""
    import ibis
    import pyarrow as pa

    from jingzhun.warehouse import table_ddl

    con = ibis.duckdb.connect()
    con.raw_sql(table_ddl("orders"))
    arrow = pa.table({"cust": orders["cust"], "us": (orders["time_days"] * 86400e6).astype("int64"),
                      "amount": orders["amount"]})
    raw = con.con
    raw.register("orders_a", arrow)
    raw.execute(f"""INSERT INTO orders SELECT printf('O%09d', row_number() OVER ()),
        printf('C%08d', cust), TIMESTAMP '{START}' + to_microseconds(us), 'web', 'completed',
        'USD', amount::DECIMAL(18,4), 0, NULL, 'bench', NULL FROM orders_a""")
    raw.unregister("orders_a")
    return con, con.table("orders")


def summary_floor(orders_t, repeat: int, expected: dict) -> dict:
    """Median time of ``rfm_summary(...).to_pyarrow()``, and its result checked against the
    numpy summary the fits use."""
    import numpy as np

    from jingzhun.predict.rfm_summary import rfm_summary

    secs, table = timed(lambda: rfm_summary(orders_t, observation_end=OBSERVATION_END, unit="W")
                        .to_pyarrow(), repeat)
    df = table.to_pandas().sort_values("customer_id")
    bad = {c: int((~np.isclose(df[c].to_numpy(), expected[c], rtol=1e-9, atol=1e-9)).sum())
           for c in ("frequency", "recency", "T", "monetary_value")}
    return {"seconds": secs, "rows": len(df), "mismatches": bad}


def timed(fn, repeat: int):
    """Median wall time of ``repeat`` calls of ``fn``, and the last call's result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


# -- our models ---------------------------------------------------------------------------------
def inputs(key: str, data: dict) -> tuple[list, object]:
    """(positional fit inputs, weights) of a case's data."""
    names = {"gg": ("frequency", "monetary_value"), "bgbb": ("frequency", "recency", "n_periods")}
    return [data[c] for c in names.get(key, ("frequency", "recency", "T"))], data.get("weights")


def fit_ours(key: str, data: dict, repeat: int) -> dict:
    import jingzhun.predict.btyd as btyd

    cls = getattr(btyd, MODELS[key][0])
    args, weights = inputs(key, data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        secs, model = timed(lambda: cls().fit(*args, weights=weights), repeat)
    return {"seconds": secs, "model": model, "params": dict(model.params_),
            "ll": model.log_likelihood_, "rows": model.n_rows_, "converged": model.converged_,
            "warnings": sorted({f"{w.category.__name__}: {w.message}" for w in caught})}


def score(key: str, model, data: dict, repeat: int) -> dict:
    """Median times of the predictions on every customer of the case."""
    if key == "gg":
        return {"expected s": timed(lambda: model.expected_spend(*inputs(key, data)[0]), repeat)[0]}
    args = inputs(key, data)[0]
    horizon = BGBB_PERIODS if key == "bgbb" else HORIZON_WEEKS
    out = {"expected s": timed(lambda: model.expected_purchases(horizon, *args), repeat)[0],
           "P(alive) s": timed(lambda: model.probability_alive(*args), repeat)[0]}
    if key == "pareto":
        out["DERT s"] = timed(lambda: model.discounted_expected_residual_transactions(
            DISCOUNT_WEEKLY, *args), repeat)[0]
    return out


# -- lifetimes, in a child process --------------------------------------------------------------
def child_lifetimes(spec: dict) -> dict:
    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes
    data = dict(np.load(spec["npz"]))
    args, weights = inputs(spec["key"], data)
    fitter_cls = getattr(lifetimes, MODELS[spec["key"]][1])
    times, fitter = [], None
    while len(times) < spec["repeat"] and sum(times) < LIFETIMES_BUDGET_S:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            fitter = fitter_cls().fit(*args, weights=weights)
            times.append(time.perf_counter() - t0)
    return {"seconds": statistics.median(times), "runs": len(times),
            "params": {k: float(fitter.params_[k]) for k in MODELS[spec["key"]][2]},
            "peak_rss_mb": _peak_rss_mb()}


def run_lifetimes(key: str, data: dict, repeat: int, timeout: float, tmp: Path) -> dict:
    """lifetimes' fit in a child process; ``{"error": ...}`` when it fails, hangs or gives NaN."""
    import numpy as np

    npz = tmp / f"{key}.npz"
    np.savez(npz, **data)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child",
           json.dumps({"key": key, "npz": str(npz), "repeat": repeat})]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s"}
    finally:
        npz.unlink(missing_ok=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": f"failed (exit {proc.returncode}): {last[:200]}"}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if not all(math.isfinite(v) and v > 0 for v in out["params"].values()):
        return {**out, "error": f"non-finite result after {out['seconds']:.1f} s: {out['params']}"}
    out["ll"] = log_likelihood_at(key, out["params"], data)
    return out


def log_likelihood_at(key: str, params: dict, data: dict) -> float:
    """Our model's total log-likelihood at ``params`` (lifetimes' estimates): its kernel equals
    lifetimes' likelihood (the parity tests), and lifetimes' own figure is on rescaled data."""
    import numpy as np

    import jingzhun.predict.btyd as btyd
    from jingzhun.predict.btyd._base import unique_rows

    model = getattr(btyd, MODELS[key][0])()
    args, weights = inputs(key, data)
    named = {k: np.asarray(v, dtype=float) for k, v in zip(model._data_names, args, strict=True)}
    unique, inverse = unique_rows(named)
    w = np.bincount(inverse, weights=weights, minlength=next(iter(unique.values())).size)
    theta = np.log([params[k] for k in model._param_names])
    ll, _ = model._log_likelihood_rows(theta, *model._prepare_data(unique))
    return float(w @ ll)


def max_rel(got: dict, want: dict) -> float:
    return max(abs(got[k] - v) / abs(v) for k, v in want.items())


# -- the run ------------------------------------------------------------------------------------
def cases(pop: dict, n: int, sub: int) -> list[dict]:
    """The measured cases: (label, model, data, whether lifetimes runs on it, target)."""
    pareto_sub = {k: v[:sub] for k, v in pop["pareto"].items()}
    exact = pop["exact"]
    return [
        {"case": "BG/NBD", "key": "bgnbd", "data": pop["bgnbd"], "lifetimes": True,
         "target": "ratio >= 50", "score": True, "floor": True, "exact": exact["bgnbd"]},
        {"case": "MBG/NBD", "key": "mbgnbd", "data": pop["mbgnbd"], "lifetimes": True,
         "target": "-", "score": True, "floor": True, "exact": exact["mbgnbd"]},
        {"case": "Pareto/NBD", "key": "pareto", "data": pop["pareto"], "lifetimes": False,
         "target": "fit < 2 s", "score": True, "floor": True, "exact": exact["pareto"]},
        {"case": f"Pareto/NBD ({sub // 1000}k)", "key": "pareto", "data": pareto_sub,
         "lifetimes": True, "target": "-", "score": False, "floor": False},
        {"case": "Gamma-Gamma", "key": "gg", "data": pop["gg"], "lifetimes": True, "target": "-",
         "score": True, "floor": True},
        {"case": f"BG/BB ({BGBB_PERIODS} periods)", "key": "bgbb", "data": pop["bgbb"],
         "lifetimes": False, "target": "-", "score": True, "floor": False},
        {"case": "BG/BB (table)", "key": "bgbb", "data": pop["bgbb_table"], "lifetimes": True,
         "target": "-", "score": False, "floor": False},
    ]


def run_case(c: dict, args, floor_s: float, tmp: Path) -> dict:
    log(f"  {c['case']}: our fit x{args.repeat} ...")
    ours = fit_ours(c["key"], c["data"], args.repeat)
    data = c["data"]
    n = int(data["weights"].sum()) if "weights" in data else int(next(iter(data.values())).size)
    row = {**c, "customers": n, "ours": ours, "lt": None, "scores": {}, "vs_true_exact": None,
           "exact_params": None}
    if c["score"]:
        row["scores"] = score(c["key"], ours["model"], data, args.repeat)
    if c["lifetimes"] and args.lifetimes:
        log(f"  {c['case']}: lifetimes ({MODELS[c['key']][1]}) ...")
        row["lt"] = run_lifetimes(c["key"], data, args.repeat, args.lifetimes_timeout, tmp)
    row["floor_ratio"] = ours["seconds"] / floor_s if c["floor"] else None
    lt = row["lt"]
    row["ratio"] = lt["seconds"] / ours["seconds"] if lt and "error" not in lt else None
    row["vs_true"] = max_rel(ours["params"], TRUE[c["key"]])
    if c.get("exact"):  # the same draws before day rounding: what the rounding moves
        row["exact_params"] = fit_ours(c["key"], c["exact"], 1)["params"]
        row["vs_true_exact"] = max_rel(row["exact_params"], TRUE[c["key"]])
    row["vs_lt"] = max_rel(ours["params"], lt["params"]) if row["ratio"] else None
    if c["target"].startswith("ratio"):
        row["met"] = None if row["ratio"] is None else row["ratio"] >= 50
    elif c["target"].startswith("fit"):
        row["met"] = ours["seconds"] < 2.0
    else:
        row["met"] = None
    ours.pop("model")
    row.pop("exact", None)
    row.pop("data")
    return row


def _fmt(v, spec=".2f", none="-") -> str:
    return none if v is None else format(v, spec)


def cells(r: dict) -> dict:
    """The table cells of one case (shared by the printed table and RESULTS.md)."""
    lt, o, s = r["lt"], r["ours"], r["scores"]
    lt_s = "-" if lt is None else (lt["error"] if "error" in lt else f"{lt['seconds']:.3g} ({lt['runs']})")
    return {"case": r["case"], "customers": f"{r['customers']:,}", "unique rows": f"{o['rows']:,}",
            "fit s": f"{o['seconds']:.3g}", "lifetimes s (runs)": lt_s,
            "ratio": _fmt(r["ratio"], ".1f"), "target": r["target"],
            "met": {True: "yes", False: "NO", None: "-"}[r["met"]],
            **{k: _fmt(s.get(k), ".3g") for k in ("expected s", "P(alive) s", "DERT s")},
            "fit/floor": _fmt(r["floor_ratio"], ".2f"), "vs true": f"{r['vs_true']:.1e}",
            "(exact draws)": _fmt(r["vs_true_exact"], ".1e"),
            "vs lifetimes": _fmt(r["vs_lt"], ".1e"),
            "lt RSS MB": _fmt(lt.get("peak_rss_mb") if lt else None, ",.0f")}


def print_report(rows: list[dict], floor: dict, n: int) -> None:
    table = [cells(r) for r in rows]
    keys = list(table[0])
    width = {k: max(len(k), *(len(t[k]) for t in table)) for k in keys}
    print("\n" + "  ".join(k.rjust(width[k]) for k in keys))
    for t in table:
        print("  ".join(t[k].rjust(width[k]) for k in keys))
    print(f"\nfloor: rfm_summary(...).to_pyarrow() on DuckDB over the BG/NBD population's orders "
          f"({n:,} customers -> {floor['rows']:,} rows): {floor['seconds']:.3f} s; numpy summary "
          f"used by the fits differs in {floor['mismatches']} values")
    print("expected s: expected_purchases(52 weeks) (BG/BB: next 10 opportunities; Gamma-Gamma: "
          "expected_spend); DERT: Pareto/NBD discounted expected residual transactions (10%/year);"
          "\nvs true: largest relative difference of our parameters from the simulator's; (exact "
          "draws): the same on the draws before day rounding")
    print("\nparameters (ours | true | exact draws | lifetimes); LL(ours) - LL(lifetimes) is our "
          "model's log-likelihood at our estimates minus at lifetimes':")
    for r in rows:
        lt = r["lt"] if r["lt"] and "error" not in r["lt"] else None
        o = r["ours"]
        print(f"  {r['case']}: converged={o['converged']}, LL {o['ll']:,.1f}"
              + (f", LL(ours) - LL(lifetimes) = {o['ll'] - lt['ll']:+.3g}" if lt else ""))
        for k, v in o["params"].items():
            other = [_fmt(r["exact_params"] and r["exact_params"][k], "12.6g", f"{'-':>12}"),
                     _fmt(lt and lt["params"][k], "12.6g", f"{'-':>12}")]
            print(f"    {k:>6} {v:12.6g} | {TRUE[r['key']][k]:8.4g} | {other[0]} | {other[1]}")
        for w in o["warnings"]:
            print(f"    warning: {w}")


def record(rows: list[dict], floor: dict, args, loads: tuple[str, str], src0: str) -> None:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    commit = f"{git_commit()} src:{src0}" + (" (src changed during the run!)"
                                             if src_hash() != src0 else "")
    head = "| " + " | ".join(COLUMNS) + " |\n|" + "|".join(ALIGN) + "|\n"
    lines = []
    for r in rows:
        c = cells(r)
        floor_s = f"{floor['seconds']:.3f}" if r["floor"] else "-"
        lines.append(
            f"| {now} | {machine()} | {c['case']} | {c['customers']} | {c['unique rows']} | "
            f"{args.repeat} | {c['fit s']} | {c['lifetimes s (runs)']} | {c['ratio']} | "
            f"{c['target']} | {c['met']} | {c['expected s']} | {c['P(alive) s']} | {c['DERT s']} | "
            f"{floor_s} | {c['fit/floor']} | {c['vs true']} ({c['(exact draws)']}) | {c['vs lifetimes']} | "
            f"{_peak_rss_mb():,.0f} ({c['lt RSS MB']}) | {loads[0]} / {loads[1]} | {commit} |")
    insert_rows(SECTION, SECTION_HEADER.lstrip("\n") + head, lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark the BTYD models' fits and predictions on simulated customers "
                    "against lifetimes on the same data, and against the time to build the "
                    "summary from the orders (the floor); append the results to bench/RESULTS.md.")
    p.add_argument("--customers", type=int, default=None,
                   help="simulated customers per model (default 1,000,000; 100,000 with --quick)")
    p.add_argument("--repeat", type=int, default=None,
                   help="repetitions of each timed step; medians are reported (default 5; 3 with "
                        "--quick)")
    p.add_argument("--seed", type=int, default=20261123, help="random seed of the simulation")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 100k customers, 3 repetitions, not recorded (unless --record)")
    p.add_argument("--no-lifetimes", dest="lifetimes", action="store_false",
                   help="skip the lifetimes baselines")
    p.add_argument("--lifetimes-timeout", type=float, default=300.0,
                   help="seconds allowed to each lifetimes child process (default 300)")
    add_run_args(p)
    args = p.parse_args(argv)
    if args.customers is None:
        args.customers = 100_000 if args.quick else 1_000_000
    if args.repeat is None:
        args.repeat = 3 if args.quick else 5
    if args.record is None:
        args.record = not args.quick
    if args.customers < 1000 or args.repeat < 1:
        p.error("--customers must be >= 1000 and --repeat >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        sys.stdout.write("\n" + json.dumps(child_lifetimes(json.loads(args.child))) + "\n")
        return 0
    src0 = src_hash()
    n = args.customers
    sub = min(236_000, round(0.236 * n))  # the lifetimes Pareto/NBD reference size
    print(f"machine: {machine()}; python {platform.python_version()}; commit {git_commit()}, "
          f"src {src0}; {n:,} customers per model, {args.repeat} repetitions, seed {args.seed}")
    t0 = time.perf_counter()
    log("simulating ...")
    pop = simulate(n, args.seed)
    log(f"  loading {pop['orders']['cust'].size:,} orders into DuckDB ...")
    con, orders_t = orders_table(pop.pop("orders"))
    log(f"data ready in {time.perf_counter() - t0:.1f} s; timing ...")
    load0 = load_1min()
    floor = summary_floor(orders_t, args.repeat, pop["bgnbd"])
    con.disconnect()
    with tempfile.TemporaryDirectory(prefix="jz-btyd-") as tmp:
        rows = [run_case(c, args, floor["seconds"], Path(tmp)) for c in cases(pop, n, sub)]
    loads = (load0, load_1min())
    print_report(rows, floor, n)
    print(f"\npeak RSS of this process {_peak_rss_mb():,.0f} MB (data, DuckDB and fits); load "
          f"average {loads[0]} -> {loads[1]}; rows are unique (frequency, recency, T) after "
          "day rounding, as real data from rfm_summary give")
    if src_hash() != src0:
        print("warning: the engine's sources changed during the run")
    if args.record:
        record(rows, floor, args, loads, src0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
