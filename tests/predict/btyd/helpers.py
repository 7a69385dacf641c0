"""Helpers of the BTYD model tests: the CDNOW summary builder, lifetimes fitters with given
parameters, a history grid of extremes, the recovery check and a 50-digit Gauss series of 2F1."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import date
from decimal import Decimal, localcontext

import numpy as np
import pandas as pd

CALIBRATION_END = date(1997, 9, 30)
#: Digits of the Decimal oracles.
DIGITS = 50


def to_decimal(v) -> Decimal:
    """A float (or Decimal) as a Decimal, exactly as the float's shortest repr."""
    return v if isinstance(v, Decimal) else Decimal(repr(float(v)))


def decimal_log_hyp2f1(a, b, c, z) -> float:
    """``ln 2F1(a, b; c; z)`` by Gauss's series in 50-digit arithmetic (|z| < 1, positive sum)."""
    with localcontext() as ctx:
        ctx.prec = DIGITS
        a, b, c, z = (to_decimal(v) for v in (a, b, c, z))
        term, total, k = Decimal(1), Decimal(1), 0
        tol = Decimal(10) ** -40
        while True:
            term = term * (a + k) * (b + k) / ((c + k) * (k + 1)) * z
            total += term
            k += 1
            if k > 20 and abs(term) < tol * abs(total):
                return float(total.ln())


#: Histories at the edges: frequency 0..1e4, T up to 1e4 periods, recency 0 and recency = T.
EXTREME_HISTORIES = pd.DataFrame({
    "frequency": [0, 0, 1, 1, 2, 50, 1000, 10_000, 10_000, 10_000, 10_000, 3],
    "recency": [0.0, 0.0, 0.0, 1e4, 30.43, 38.86, 38.0, 38.86, 1e4, 0.5, 1e4, 1e-9],
    "T": [0.0, 1e4, 38.86, 1e4, 38.86, 38.86, 38.86, 38.86, 1e4, 1e4, 1e4, 1e4],
})


def build_cdnow_summary(path) -> pd.DataFrame:
    """The 39-week calibration summary of ``CDNOW_sample.txt`` (no header: original id, sample
    id, YYYYMMDD date, CDs, dollars): purchases on one day merged, time in weeks from each
    customer's first purchase, ``monetary_value`` the mean dollar value of the repeat purchase
    days (0 without any). One row per customer, indexed by sample id."""
    raw = pd.read_csv(path, sep=r"\s+", header=None, names=["original_id", "id", "date", "cds", "value"])
    raw["date"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d")
    days = raw.groupby(["id", "date"], as_index=False)["value"].sum()
    days["first"] = days.groupby("id")["date"].transform("min")
    cal = days[days["date"] <= pd.Timestamp(CALIBRATION_END)]
    cal = cal.assign(weeks=(cal["date"] - cal["first"]).dt.days / 7.0, repeat=cal["date"] > cal["first"])
    per = cal.groupby("id")
    out = pd.DataFrame({
        "frequency": per["repeat"].sum().astype(np.int64),
        "recency": per["weeks"].max(),
        "T": (pd.Timestamp(CALIBRATION_END) - per["first"].min()).dt.days / 7.0,
        "monetary_value": cal[cal["repeat"]].groupby("id")["value"].mean(),
    })
    out["monetary_value"] = out["monetary_value"].fillna(0.0)
    out.index.name = "customer_id"
    return out


def rel_err(got, want) -> float:
    """Largest relative difference (absolute where ``want`` is 0)."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    return float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-300)))


def lifetimes_fitter(name: str, params: dict[str, float]):
    """A lifetimes fitter (``BetaGeoFitter``, ...) set to ``params``, without fitting."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lifetimes
    fitter = getattr(lifetimes, name)()
    fitter.params_ = pd.Series(params, dtype=float)
    return fitter


def quiet(fn: Callable, *args):
    """``fn(*args)`` with lifetimes' pandas/numpy warnings silenced, as a float array."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return np.asarray(fn(*args), dtype=float)


def recovery_coverage(fit: Callable[[pd.DataFrame], object], draw: Callable[[int], pd.DataFrame],
                      true: dict[str, float], seeds) -> np.ndarray:
    """For each seed, whether each true parameter lies in the fitted 95% interval.

    Returns a bool array of shape (len(seeds), len(true))."""
    inside = []
    for seed in seeds:
        summary = fit(draw(seed)).summary()
        inside.append([summary.loc[k, "ci_low"] <= v <= summary.loc[k, "ci_high"] for k, v in true.items()])
    return np.array(inside)
