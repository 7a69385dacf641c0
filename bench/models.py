"""Models benchmark: fit + predict time of jingzhun's models against a named baseline library's
equivalent on the same data and the same base estimator, in the same run.

Run as ``.venv/bin/python bench/models.py`` (``--help`` lists the options). Suites (``--suite``):

* ``uplift``: the uplift learners of ``jingzhun.predict.uplift`` against scikit-uplift 0.5.1's
  (``SoloModel`` ~ S-learner, ``TwoModels`` ~ T-learner, ``ClassTransformation`` ~ class
  transformation), every model with the same LightGBM classifier (our ``_LGBM_DEFAULTS``: 200
  trees, 15 leaves, one thread), on ``--rows`` customers from
  ``jingzhun.simulate.uplift.simulate_uplift_population`` (one-hot features, binary outcome
  ``converted``). A timed step is ``fit(X, y, treatment)`` then ``predict(X)`` on all rows; ours
  and the baseline alternate within each repetition so that drift hits both alike. The X-learner
  and the transformed-outcome regression have no scikit-uplift equivalent and are timed alone.
  Before the timing, every model is fitted once on the first 2,000 rows (imports, LightGBM's
  first call). Reported: medians, **ratio** = ours s / baseline s (below 1: ours is faster), the
  largest difference between the two predictions (S and T: the same algorithm, so ~0), and, as a
  sanity check of what was timed, the Qini coefficient of our last fitted model on a fresh
  held-out sample (100k rows, another seed) over the oracle's (ranking by the true uplift).

The structure leaves room for further suites (clustering, LDA): a suite is a function returning
its cases, each case a dict with ``case``, ``ours`` (a callable: data -> fitted model) and
``baseline`` (``(name, callable)`` or None); a timed step is the callable plus
``model.predict(data["X"])``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))
from ingest import _peak_rss_mb, add_run_args, git_commit, insert_rows, machine, src_hash  # noqa: E402

SECTION = "## Models benchmark results (`bench/models.py`)"
SECTION_HEADER = f"""
{SECTION}

One line per case and run of `bench/models.py`; newest at the bottom. **ours s** / **baseline s**:
median wall time of **reps** repetitions of fit + predict on all **rows** (same data, same base
estimator: LightGBM, 200 trees, 15 leaves, one thread); **ratio** = ours s / baseline s (below 1:
ours is faster); **max abs diff**: largest difference between our and the baseline's predicted
uplift; **qini / oracle**: our Qini coefficient on a held-out sample (100k rows) over the one
of the true uplift; **load avg**: 1-minute load average at the start / end of the timed part (2
cores: above 2 means other work shared the machine).

"""
COLUMNS = ("date", "machine", "suite", "case", "rows", "reps", "ours s", "baseline", "baseline s",
           "ratio", "max abs diff", "qini / oracle", "peak RSS MB", "load avg", "commit / src")
ALIGN = ("---", "---", "---", "---", "---:", "---:", "---:", "---", "---:", "---:", "---:", "---:",
         "---:", "---", "---")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_1min() -> str:
    return f"{os.getloadavg()[0]:.2f}"


# -- uplift suite -------------------------------------------------------------------------------
HOLDOUT_ROWS = 100_000
WARMUP_ROWS = 2_000


def uplift_data(rows: int, seed: int) -> dict:
    from jingzhun.simulate.uplift import model_matrix, simulate_uplift_population

    frame, truth = simulate_uplift_population(rows, seed=seed)
    return {"X": model_matrix(frame), "y": frame["converted"].to_numpy(),
            "t": frame["treatment"].to_numpy(), "tau": truth.tau}


@functools.cache
def _uplift_holdout(seed: int) -> dict:
    return uplift_data(HOLDOUT_ROWS, seed + 1)


def _head(d: dict, n: int) -> dict:
    return {k: v.iloc[:n] if hasattr(v, "iloc") else v[:n] for k, v in d.items()}


def _lgbm():
    import lightgbm as lgb

    from jingzhun.predict.uplift import _LGBM_DEFAULTS

    return lgb.LGBMClassifier(random_state=0, **_LGBM_DEFAULTS)


def _ours(key: str):
    def run(d: dict):
        from jingzhun.predict.uplift import make_learner

        return make_learner(key, "binary").fit(d["X"], d["y"], d["t"])
    return run


def _sklift(name: str):
    def run(d: dict):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            from sklift import models

            model = {"SoloModel": lambda: models.SoloModel(_lgbm()),
                     "TwoModels": lambda: models.TwoModels(_lgbm(), _lgbm()),
                     "ClassTransformation": lambda: models.ClassTransformation(_lgbm())}[name]()
            return model.fit(d["X"], d["y"], d["t"])
    return run


def uplift_cases() -> list[dict]:
    return [
        {"case": "S-learner", "ours": _ours("s"), "baseline": ("sklift SoloModel", _sklift("SoloModel"))},
        {"case": "T-learner", "ours": _ours("t"), "baseline": ("sklift TwoModels", _sklift("TwoModels"))},
        {"case": "X-learner", "ours": _ours("x"), "baseline": None},
        {"case": "class transformation", "ours": _ours("ct"),
         "baseline": ("sklift ClassTransformation", _sklift("ClassTransformation"))},
        {"case": "transformed outcome", "ours": _ours("to"), "baseline": None},
    ]


def uplift_quality(model, seed: int) -> float:
    """Qini coefficient of ``model`` on a fresh sample over the oracle's (the true uplift)."""
    from jingzhun.predict.uplift import qini_auc_score

    d = _uplift_holdout(seed)
    u = model.predict(d["X"])
    return qini_auc_score(d["y"], u, d["t"]) / qini_auc_score(d["y"], d["tau"], d["t"])


SUITES = {  # name: (data builder, cases, quality of our predictions)
    "uplift": (uplift_data, uplift_cases, uplift_quality),
}


# -- the run ------------------------------------------------------------------------------------
def _timed(fit, data):
    """(seconds of fit + predict on ``data["X"]``, fitted model, predictions)."""
    import numpy as np

    t0 = time.perf_counter()
    model = fit(data)
    out = model.predict(data["X"])
    return time.perf_counter() - t0, model, np.asarray(out, dtype=float)


def run_case(case: dict, data: dict, args, quality) -> dict:
    base = case.get("baseline")
    warm = _head(data, WARMUP_ROWS)
    for fit in (case["ours"], base[1] if base else None):
        if fit is not None:
            fit(warm).predict(warm["X"])
    ours_t, base_t, base_u = [], [], None
    for rep in range(args.repeat):
        log(f"  {case['case']}: repetition {rep + 1}/{args.repeat}")
        secs, model, ours_u = _timed(case["ours"], data)
        ours_t.append(secs)
        if base:
            secs, _, base_u = _timed(base[1], data)
            base_t.append(secs)
    row = {"case": case["case"], "ours s": statistics.median(ours_t), "ours all": ours_t,
           "baseline": base[0] if base else "-", "baseline s": None, "ratio": None, "diff": None,
           "quality": quality(model, args.seed)}
    if base:
        row["baseline s"] = statistics.median(base_t)
        row["baseline all"] = base_t
        row["ratio"] = row["ours s"] / row["baseline s"]
        row["diff"] = float(abs(ours_u - base_u).max())
    return row


def _fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def cells(r: dict) -> dict:
    return {"case": r["case"], "ours s": _fmt(r["ours s"], ".3g"), "baseline": r["baseline"],
            "baseline s": _fmt(r["baseline s"], ".3g"), "ratio": _fmt(r["ratio"], ".2f"),
            "max abs diff": _fmt(r["diff"], ".1e"), "qini / oracle": _fmt(r["quality"], ".3f")}


def print_report(suite: str, rows: list[dict], n: int, repeat: int) -> None:
    table = [cells(r) for r in rows]
    keys = list(table[0])
    width = {k: max(len(k), *(len(t[k]) for t in table)) for k in keys}
    print(f"\n{suite}: {n:,} rows, median of {repeat} fit + predict runs")
    print("  ".join(k.rjust(width[k]) for k in keys))
    for t in table:
        print("  ".join(t[k].rjust(width[k]) for k in keys))
    print("ratio = ours s / baseline s (below 1: ours is faster)")


def record(suite: str, rows: list[dict], args, loads: tuple[str, str], src0: str) -> None:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    commit = f"{git_commit()} src:{src0}" + (" (src changed during the run!)"
                                             if src_hash() != src0 else "")
    head = "| " + " | ".join(COLUMNS) + " |\n|" + "|".join(ALIGN) + "|\n"
    lines = []
    for r in rows:
        c = cells(r)
        lines.append(f"| {now} | {machine()} | {suite} | {c['case']} | {args.rows:,} | {args.repeat} | "
                     f"{c['ours s']} | {c['baseline']} | {c['baseline s']} | {c['ratio']} | "
                     f"{c['max abs diff']} | {c['qini / oracle']} | {_peak_rss_mb():,.0f} | "
                     f"{loads[0]} / {loads[1]} | {commit} |")
    insert_rows(SECTION, SECTION_HEADER.lstrip("\n") + head, lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark jingzhun's models (fit + predict) against a baseline library's "
                    "equivalent on the same simulated data and base estimator (uplift learners "
                    "vs scikit-uplift); print medians and ratios and append them to "
                    "bench/RESULTS.md.")
    p.add_argument("--rows", type=int, default=None,
                   help="simulated rows (default 1,000,000; 100,000 with --quick)")
    p.add_argument("--repeat", type=int, default=None,
                   help="repetitions of each timed step; medians are reported (default 5; 3 with "
                        "--quick)")
    p.add_argument("--seed", type=int, default=20261206, help="random seed of the simulation")
    p.add_argument("--suite", choices=sorted(SUITES), action="append",
                   help="suite to run (repeatable; default: all)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 100k rows, 3 repetitions, not recorded (unless --record)")
    add_run_args(p)
    args = p.parse_args(argv)
    if args.rows is None:
        args.rows = 100_000 if args.quick else 1_000_000
    if args.repeat is None:
        args.repeat = 3 if args.quick else 5
    if args.record is None:
        args.record = not args.quick
    if args.rows < 1000 or args.repeat < 1:
        p.error("--rows must be >= 1000 and --repeat >= 1")
    args.suite = args.suite or sorted(SUITES)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    src0 = src_hash()
    print(f"machine: {machine()}; python {platform.python_version()}; commit {git_commit()}, "
          f"src {src0}; {args.rows:,} rows, {args.repeat} repetitions, seed {args.seed}")
    for suite in args.suite:
        build, cases, quality = SUITES[suite]
        log(f"{suite}: simulating {args.rows:,} rows ...")
        data = build(args.rows, args.seed)
        load0 = load_1min()
        rows = [run_case(c, data, args, quality) for c in cases()]
        loads = (load0, load_1min())
        print_report(suite, rows, args.rows, args.repeat)
        print(f"peak RSS {_peak_rss_mb():,.0f} MB; load average {loads[0]} -> {loads[1]}")
        if src_hash() != src0:
            print("warning: the engine's sources changed during the run")
        if args.record:
            record(suite, rows, args, loads, src0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
