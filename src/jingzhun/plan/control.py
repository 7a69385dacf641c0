"""Control groups: deterministic hashed assignment, stratified, and the power they give.

Assignment (DESIGN.md §4): every customer gets the uniform draw
``u = int(sha256(f"{campaign_id}|{customer_id}|{salt}")[:8], big-endian) / 2**64`` in [0, 1) --
the same formula as the simulator's -- and, within each stratum, the customers with the lowest
``u`` are the control group. No stateful random generator decides who is treated, so any plan
can be re-derived and audited from the ids alone.

Sizes: in a stratum of ``n`` customers the control holds exactly ``round_half_up(share * n)``
customers, so the share is met in every stratum (to the nearest customer). When those sizes add
up to less than ``min_size``, ``min_size`` is apportioned over the strata in proportion to their
sizes (largest remainders; ties by stratum name), i.e. every stratum's share is raised alike.
``min_size`` larger than the number of customers minus one (nobody left to treat) is a
``ConfigError``: a plan that treats no one is a spec mistake, not something to warn about.

Stability (tested): the control of a stratum is always the set of its lowest draws. So when
customers are added and the plan is re-derived, the existing customers of a stratum move in one
direction only (treatment -> control, or control -> treatment, never both), and exactly
``|k_new - a - k_old|`` of them move, where ``k_old``/``k_new`` are the stratum's control sizes
before and after and ``a`` is the number of new customers whose draws land in the new control --
the fewest moves possible for those sizes. Row order never matters.

Power: :func:`minimum_detectable_effect` and :func:`required_control_size` use the two-sided
two-proportion z-test with the normal approximation and unpooled variances::

    d = (z_{1 - alpha/2} + z_{power}) * sqrt(p_c (1 - p_c) / n_c + p_t (1 - p_t) / n_t),
    p_c = base_rate, p_t = base_rate + d

(the textbook sample-size formula, e.g. Chow, Shao & Wang, *Sample Size Calculations in Clinical
Research*, §4.2, ignoring the far tail of the two-sided test).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from jingzhun.errors import ConfigError, InputError

log = logging.getLogger(__name__)

CONTROL, TREATMENT = "control", "treatment"


def assignment_uniform(campaign_id: str, customer_ids: Sequence[str], salt: str) -> np.ndarray:
    """The assignment draw of each customer, in [0, 1).

    Parameters
    ----------
    campaign_id, salt : str
    customer_ids : sequence of str, length n

    Returns
    -------
    ndarray of float, shape (n,)
        ``int.from_bytes(sha256(f"{campaign_id}|{customer_id}|{salt}")[:8], "big") / 2**64``.
    """
    raw = np.array([hashlib.sha256(f"{campaign_id}|{c}|{salt}".encode()).digest()[:8]
                    for c in customer_ids], dtype="S8")
    if raw.size == 0:
        return np.zeros(0)
    return raw.view(">u8").astype(np.float64) / 2.0**64


def assign_control(customers: pd.DataFrame, *, campaign_id: str, share: float, min_size: int = 0,
                   salt: str = "jingzhun", stratum: str = "stratum") -> pd.Series:
    """Split customers into a control and a treatment arm, stratified, by hashed draws.

    Parameters
    ----------
    customers : DataFrame, one row per customer
        Columns ``customer_id`` (unique) and ``stratum`` (any hashable; e.g. the segment).
    campaign_id : str
    share : float
        Control share in [0, 1) of every stratum.
    min_size : int, default 0
        Smallest total control size; when the shares give fewer, every stratum's share is raised
        alike (module doc). Must leave at least one customer to treat.
    salt : str, default "jingzhun"
    stratum : str, default "stratum"
        Name of the stratum column.

    Returns
    -------
    Series of str, aligned with ``customers.index``, named ``"arm"``
        ``"control"`` or ``"treatment"``.
    """
    _validate_customers(customers, stratum)
    if not (isinstance(share, int | float) and 0 <= share < 1):
        raise ConfigError(f"assign_control: share must be in [0, 1), got {share!r}")
    if int(min_size) != min_size or min_size < 0:
        raise ConfigError(f"assign_control: min_size must be an integer >= 0, got {min_size!r}")
    n = len(customers)
    if n == 0:
        return pd.Series([], index=customers.index, dtype=object, name="arm")
    if min_size > n - 1:
        raise ConfigError(f"assign_control: min_size {min_size} leaves nobody to treat among "
                          f"{n} customers", hint="lower the minimum control size or widen the audience")
    u = assignment_uniform(campaign_id, customers["customer_id"].astype(str).tolist(), salt)
    return _assign(customers["customer_id"].astype(str).to_numpy(), customers[stratum].to_numpy(),
                   u, float(share), int(min_size), customers.index)


def control_sizes(stratum_sizes: pd.Series, share: float, min_size: int = 0) -> pd.Series:
    """Control size per stratum: ``round_half_up(share * n)``, raised to ``min_size`` in total.

    Parameters
    ----------
    stratum_sizes : Series of int, index = stratum
    share : float
    min_size : int

    Returns
    -------
    Series of int, same index
    """
    sizes = stratum_sizes.astype(np.int64)
    k = np.floor(share * sizes.to_numpy() + 0.5).astype(np.int64)
    total = int(sizes.sum())
    if k.sum() >= min_size or total == 0:
        return pd.Series(k, index=sizes.index)
    quota = min_size * sizes.to_numpy() / total
    k = np.floor(quota).astype(np.int64)
    short = min_size - int(k.sum())
    names = np.array([str(s) for s in sizes.index])
    order = np.lexsort((names, -(quota - k)))  # largest remainder first, ties by name
    k[order[:short]] += 1
    return pd.Series(np.minimum(k, sizes.to_numpy()), index=sizes.index)


def minimum_detectable_effect(n_treatment: int, n_control: int, base_rate: float, *,
                              alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest absolute lift in a conversion rate the two arms can detect (module doc formula).

    Parameters
    ----------
    n_treatment, n_control : int
        Customers per arm.
    base_rate : float
        Expected conversion rate of the control, in (0, 1).
    alpha : float, default 0.05
        Two-sided significance level.
    power : float, default 0.8

    Returns
    -------
    float
        The detectable difference ``p_t - p_c`` (0.01 = one percentage point); ``inf`` when an
        arm is empty or no lift up to ``1 - base_rate`` can be detected.
    """
    _check_rates(base_rate, alpha, power)
    if n_treatment <= 0 or n_control <= 0:
        return math.inf
    z = _z_sum(alpha, power)

    def excess(d: float) -> float:
        p_t = base_rate + d
        return z * math.sqrt(base_rate * (1 - base_rate) / n_control
                             + p_t * (1 - p_t) / n_treatment) - d

    hi = 1.0 - base_rate
    if excess(hi) > 0:
        return math.inf
    from scipy.optimize import brentq

    return float(brentq(excess, 0.0, hi, xtol=1e-12, rtol=1e-12))


def required_control_size(n_treatment: int, base_rate: float, effect: float, alpha: float = 0.05,
                          power: float = 0.8) -> float:
    """Smallest control size that detects ``effect`` against ``n_treatment`` treated customers.

    Parameters
    ----------
    n_treatment : int
    base_rate : float
        Control conversion rate, in (0, 1).
    effect : float
        Absolute lift to detect, ``0 < effect < 1 - base_rate``.
    alpha, power : float

    Returns
    -------
    float
        Customers needed in the control, rounded up (a whole number as float); ``inf`` when the
        treatment arm alone is too small for any control size to suffice.
    """
    _check_rates(base_rate, alpha, power)
    if not 0 < effect < 1 - base_rate:
        raise ConfigError(f"required_control_size: effect must be in (0, 1 - base_rate), got {effect!r}")
    p_t = base_rate + effect
    room = (effect / _z_sum(alpha, power)) ** 2 - (p_t * (1 - p_t) / n_treatment if n_treatment > 0
                                                   else math.inf)
    if room <= 0:
        return math.inf
    return float(math.ceil(base_rate * (1 - base_rate) / room - 1e-9))


# -- private --------------------------------------------------------------------------------------
def _assign(ids: np.ndarray, strata: np.ndarray, u: np.ndarray, share: float, min_size: int,
            index: pd.Index) -> pd.Series:
    frame = pd.DataFrame({"id": ids, "s": strata, "u": u})
    sizes = frame.groupby("s", sort=True, dropna=False).size()
    k = control_sizes(sizes, share, min_size)
    frame = frame.sort_values(["s", "u", "id"], kind="mergesort")
    rank = frame.groupby("s", sort=False, dropna=False).cumcount().to_numpy()
    limit = k.reindex(frame["s"]).to_numpy()
    arm = np.where(rank < limit, CONTROL, TREATMENT)
    out = pd.Series(arm, index=frame.index).sort_index()
    out.index = index[out.index]
    log.info("assign_control: %d control of %d customers in %d strata", int(k.sum()), len(ids),
             len(sizes))
    return out.rename("arm")


def _validate_customers(customers: pd.DataFrame, stratum: str) -> None:
    if not isinstance(customers, pd.DataFrame):
        raise InputError(f"assign_control: customers must be a DataFrame, got {type(customers).__name__}")
    for col in ("customer_id", stratum):
        if col not in customers.columns:
            raise InputError(f"assign_control: customers lack column {col!r}",
                             hint="pass stratum= to name the stratum column")
    if customers["customer_id"].isna().any():
        raise InputError("assign_control: column 'customer_id' has missing values")
    if customers["customer_id"].astype(str).duplicated().any():
        dup = customers["customer_id"][customers["customer_id"].astype(str).duplicated()].iloc[0]
        raise InputError(f"assign_control: column 'customer_id' has duplicates (e.g. {dup!r})")


def _check_rates(base_rate: float, alpha: float, power: float) -> None:
    if not 0 < base_rate < 1:
        raise ConfigError(f"base_rate must be in (0, 1), got {base_rate!r}")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be in (0, 1), got {alpha!r}")
    if not 0 < power < 1:
        raise ConfigError(f"power must be in (0, 1), got {power!r}")


def _z_sum(alpha: float, power: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(1 - alpha / 2) + norm.ppf(power))
