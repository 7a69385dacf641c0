"""A randomised campaign on a simulated customer base, with the true uplift of every customer.

One row per customer: RFM-like features, a segment label (8 RFM-style segments, a function of
recency, frequency and order value), a random treatment flag, and two outcomes in the two weeks
after the campaign: ``converted`` (0/1) and ``revenue_amount`` (currency units). The truth behind
them -- baseline conversion probability ``p0(x)``, true uplift ``tau(x)`` in probability points,
true revenue uplift -- is returned next to the frame, per customer and per segment, so uplift
learners can be scored against it.

Model (all draws from one ``numpy`` generator seeded by ``seed``):

* ``p0(x) = expit(a + b . features)``: recent, frequent customers and members buy more;
* ``tau(x) = SEGMENT_UPLIFT[segment] + 0.01 * channel shift`` (app +1 point, store -1 point),
  so the uplift is positive for lapsed frequent buyers (persuadables), about zero for recent
  high-value ones (sure things) and negative for some (sleeping dogs);
* ``y ~ Bernoulli(p0 + t * tau)`` (the sum is clipped to [0.001, 0.999]; the returned ``tau`` is
  the clipped difference, so it is exactly what the treatment does);
* revenue: a converter spends ``Gamma(shape 4, mean basket(x))`` with ``basket(x)`` proportional
  to the customer's average order value, independent of the treatment, so the true revenue uplift
  is ``tau(x) * basket(x)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from jingzhun.errors import InputError

__all__ = ["FEATURES", "SEGMENT_UPLIFT", "UpliftTruth", "model_matrix", "simulate_uplift_population"]

# Designed uplift per segment, in probability points of conversion (before the channel shift).
SEGMENT_UPLIFT: dict[str, float] = {
    "champions": 0.00,            # recent, frequent, high value: buy anyway (sure things)
    "loyal": 0.02,                # recent, frequent, low value
    "promising_high_value": 0.06,  # recent, occasional, high value
    "new_low_value": 0.03,        # recent, occasional, low value
    "at_risk_high_value": 0.12,   # lapsed, frequent, high value: persuadables
    "at_risk": 0.08,              # lapsed, frequent, low value
    "hibernating": 0.01,          # lapsed, occasional, high value
    "lost": -0.03,                # lapsed, occasional, low value: contact annoys (sleeping dogs)
}
FEATURES = ("recency_days", "frequency", "monetary_amount", "tenure_days", "channel", "city_tier",
            "is_member")
CHANNELS = ("app", "web", "store")
_CHANNEL_SHIFT = {"app": 0.01, "web": 0.0, "store": -0.01}
RECENT_DAYS, FREQUENT_ORDERS, HIGH_VALUE_AMOUNT = 90, 4, 120.0


@dataclass(frozen=True)
class UpliftTruth:
    """What generated the outcomes.

    Attributes
    ----------
    tau : ndarray (n,)
        True conversion uplift per customer, P(y=1|t=1,x) - P(y=1|t=0,x), probability points.
    p0 : ndarray (n,)
        Baseline (untreated) conversion probability per customer.
    revenue_uplift : ndarray (n,)
        True revenue uplift per customer, E[revenue|t=1,x] - E[revenue|t=0,x], currency units.
    segment_tau : Series
        Mean of ``tau`` over each segment's customers (index: segment label).
    segment_revenue_uplift : Series
        Mean of ``revenue_uplift`` over each segment's customers.
    segment_design : dict
        The designed per-segment uplift (``SEGMENT_UPLIFT``).
    treated_share : float
        The configured probability of treatment.
    """

    tau: np.ndarray
    p0: np.ndarray
    revenue_uplift: np.ndarray
    segment_tau: pd.Series
    segment_revenue_uplift: pd.Series
    segment_design: dict
    treated_share: float


def _segment(recency_days, frequency, monetary_amount) -> np.ndarray:
    recent = recency_days < RECENT_DAYS
    frequent = frequency >= FREQUENT_ORDERS
    high = monetary_amount >= HIGH_VALUE_AMOUNT
    names = np.array(list(SEGMENT_UPLIFT))  # order: (recent, frequent, high) = TTT, TTF, TFT, ...
    code = 4 * (~recent) + 2 * (~frequent) + (~high)
    return names[code]


def _features(rng: np.random.Generator, n: int) -> dict:
    tenure_days = np.round(rng.uniform(30, 1500, n)).astype(np.int64)
    recency_days = np.minimum(np.round(rng.gamma(1.2, 110.0, n)).astype(np.int64) + 1, tenure_days)
    frequency = 1 + rng.negative_binomial(1.5, 0.3, n)
    monetary_amount = np.round(rng.lognormal(np.log(90.0), 0.6, n), 2)
    channel = rng.choice(CHANNELS, n, p=(0.45, 0.40, 0.15))
    city_tier = rng.choice(("tier1", "tier2", "tier3"), n, p=(0.3, 0.4, 0.3))
    is_member = rng.random(n) < 0.35
    return {"recency_days": recency_days, "frequency": frequency,
            "monetary_amount": monetary_amount, "tenure_days": tenure_days, "channel": channel,
            "city_tier": city_tier, "is_member": is_member}


def _baseline_prob(f: dict) -> np.ndarray:
    z = (-2.2 - 0.004 * f["recency_days"] + 0.12 * np.minimum(f["frequency"], 10)
         + 0.4 * f["is_member"] + 0.2 * (f["channel"] == "app"))
    return 1.0 / (1.0 + np.exp(-z))


def simulate_uplift_population(n: int, *, seed=0, treated_share: float = 0.5,
                               uplift_scale: float = 1.0) -> tuple[pd.DataFrame, UpliftTruth]:
    """Simulate a randomised campaign on ``n`` customers with known uplift.

    Parameters
    ----------
    n : int
        Customers (rows).
    seed : int or numpy Generator, default 0
    treated_share : float in (0, 1), default 0.5
        Probability that a customer is treated (independent draws).
    uplift_scale : float, default 1.0
        Multiplies every designed uplift (0 gives a campaign without effect).

    Returns
    -------
    frame : DataFrame, one row per customer
        ``customer_id``, the features in ``FEATURES`` (``channel`` and ``city_tier`` as
        ``category``), ``segment`` (category), ``treatment`` (0/1), ``converted`` (0/1) and
        ``revenue_amount`` (currency units, 0 for non-converters).
    truth : UpliftTruth
        Per-customer and per-segment true uplift.
    """
    if not (isinstance(n, (int, np.integer)) and n > 0):
        raise InputError(f"n must be a positive integer; got {n!r}")
    if not 0.0 < treated_share < 1.0:
        raise InputError(f"treated_share must lie in (0, 1); got {treated_share!r}")
    rng = np.random.default_rng(seed)
    f = _features(rng, n)
    segment = _segment(f["recency_days"], f["frequency"], f["monetary_amount"])
    p0 = _baseline_prob(f)
    tau_design = uplift_scale * (pd.Series(segment).map(SEGMENT_UPLIFT).to_numpy()
                                 + pd.Series(f["channel"]).map(_CHANNEL_SHIFT).to_numpy())
    p1 = np.clip(p0 + tau_design, 0.001, 0.999)
    tau = p1 - p0
    t = (rng.random(n) < treated_share).astype(np.int8)
    converted = (rng.random(n) < np.where(t == 1, p1, p0)).astype(np.int8)
    basket = 0.8 * f["monetary_amount"] + 10.0  # expected spend of a converter
    spend = np.round(rng.gamma(4.0, basket / 4.0), 2)
    revenue = np.where(converted == 1, spend, 0.0)
    frame = pd.DataFrame({"customer_id": [f"U{i:08d}" for i in range(n)], **f,
                          "segment": segment, "treatment": t, "converted": converted,
                          "revenue_amount": revenue})
    for col in ("channel", "city_tier"):
        frame[col] = frame[col].astype("category")
    frame["segment"] = pd.Categorical(segment, categories=list(SEGMENT_UPLIFT))
    revenue_uplift = tau * basket
    by_segment = pd.DataFrame({"segment": frame["segment"], "tau": tau, "rev": revenue_uplift})
    grouped = by_segment.groupby("segment", observed=True)
    truth = UpliftTruth(tau=tau, p0=p0, revenue_uplift=revenue_uplift,
                        segment_tau=grouped["tau"].mean(),
                        segment_revenue_uplift=grouped["rev"].mean(),
                        segment_design=dict(SEGMENT_UPLIFT), treated_share=float(treated_share))
    return frame, truth


def model_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """The features of ``frame`` as a numeric matrix (one-hot channel and city tier), for
    estimators that need numbers; LightGBM can take ``frame[list(FEATURES)]`` directly."""
    X = frame[list(FEATURES)].copy()
    X["is_member"] = X["is_member"].astype(int)
    return pd.get_dummies(X, columns=["channel", "city_tier"], dtype=float)
