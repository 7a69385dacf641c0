"""Evaluation statistics on additive sufficient statistics (gbstats style, DESIGN.md §7).

The warehouse reduces each arm of a campaign to an :class:`ArmStats` -- ``n``, the sum and the sum
of squares of the outcome (and, for CUPED, of a pre-period covariate ``x``); Python sees only
those. Every result is a :class:`Comparison`; degenerate inputs (an empty arm, no variance) give
an explicit ``status`` and NaN statistics, never a silent 0.

Formulas (all two-sided; ``alpha`` is the two-sided level of the ``1 - alpha`` interval):

* :func:`compare_proportions` -- two-proportion z-test. The p-value uses the *pooled* standard
  error ``sqrt(p (1 - p) (1/n_t + 1/n_c))`` (equal to ``statsmodels`` ``proportions_ztest``); the
  confidence interval of ``p_t - p_c`` uses the *unpooled* (Wald) standard error
  ``sqrt(p_t (1 - p_t)/n_t + p_c (1 - p_c)/n_c)``. When any expected cell of the 2x2 table is
  below ``exact_below`` the p-value is Fisher's exact test (``scipy.stats.fisher_exact``) and the
  interval stays the Wald one.
* :func:`compare_means` -- Welch's t-test with Welch-Satterthwaite degrees of freedom (equal to
  ``scipy.stats.ttest_ind(equal_var=False)`` on the raw values); the interval uses the same df.
* Relative lift ``m_t / m_c - 1`` with the delta method:
  ``se^2 = v_t / m_c^2 + m_t^2 v_c / m_c^4`` (``v`` = variance of the mean), normal interval.
  NaN when the control mean is 0 (the status stays that of the absolute comparison).
* :func:`cuped` -- Deng, Xu, Kohavi & Walker (2013), "Improving the sensitivity of online
  controlled experiments by utilizing pre-experiment data", eq. (3)-(4).
* :func:`power_two_proportions` / :func:`mde_two_proportions` -- normal approximation with
  unpooled variances, the formula of :mod:`jingzhun.plan.control` (whose
  ``minimum_detectable_effect`` is reused: evaluate comes after plan in the flow, so importing it
  is not an upward import, DESIGN.md §2).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

from jingzhun.errors import ConfigError, InputError
from jingzhun.plan.control import minimum_detectable_effect

NAN = math.nan


@dataclass(frozen=True)
class ArmStats:
    """Additive sufficient statistics of one arm (or stratum, or batch) for one metric.

    Parameters
    ----------
    n : int
        Recipients.
    sum, sum_sq : float
        Sum and sum of squares of the outcome per recipient (conversions for 0/1 outcomes,
        revenue in currency units for amounts).
    sum_x, sum_x_sq, sum_xy : float, default 0.0
        Sums of the pre-period covariate ``x``, of ``x**2`` and of ``x * y`` (CUPED only).

    Notes
    -----
    ``a + b`` is the statistics of the union of the two groups of recipients.
    """

    n: int
    sum: float
    sum_sq: float
    sum_x: float = 0.0
    sum_x_sq: float = 0.0
    sum_xy: float = 0.0

    def __post_init__(self) -> None:
        if int(self.n) != self.n or self.n < 0:
            raise InputError(f"ArmStats: n must be an integer >= 0, got {self.n!r}")
        if self.sum_sq < 0 or self.sum_x_sq < 0:
            raise InputError(f"ArmStats: sums of squares must be >= 0, got sum_sq={self.sum_sq!r}, "
                             f"sum_x_sq={self.sum_x_sq!r}")

    def __add__(self, other: ArmStats) -> ArmStats:
        if not isinstance(other, ArmStats):
            return NotImplemented
        return ArmStats(self.n + other.n, self.sum + other.sum, self.sum_sq + other.sum_sq,
                        self.sum_x + other.sum_x, self.sum_x_sq + other.sum_x_sq,
                        self.sum_xy + other.sum_xy)

    @property
    def mean(self) -> float:
        """Mean outcome per recipient; NaN when ``n == 0``."""
        return self.sum / self.n if self.n > 0 else NAN

    @property
    def variance(self) -> float:
        """Sample variance of the outcome (ddof=1); NaN when ``n < 2``."""
        return _var(self.n, self.sum, self.sum_sq)

    @classmethod
    def from_values(cls, y, x=None) -> ArmStats:
        """Sufficient statistics of raw outcomes ``y`` (and covariate ``x``), each shape (n,)."""
        y = np.asarray(y, dtype=float)
        if y.ndim != 1:
            raise InputError(f"ArmStats.from_values: y must be 1-d, got shape {y.shape}")
        if not np.isfinite(y).all():
            raise InputError("ArmStats.from_values: y has missing or infinite values")
        if x is None:
            return cls(int(y.size), float(y.sum()), float(y @ y))
        x = np.asarray(x, dtype=float)
        if x.shape != y.shape or not np.isfinite(x).all():
            raise InputError(f"ArmStats.from_values: x must be finite with y's shape {y.shape}, "
                             f"got {x.shape}")
        return cls(int(y.size), float(y.sum()), float(y @ y), float(x.sum()), float(x @ x),
                   float(x @ y))


@dataclass(frozen=True)
class Comparison:
    """Treatment vs control for one metric.

    Attributes
    ----------
    metric, test : str
        The metric's name; ``"z-test"``, ``"fisher-exact"`` or ``"welch"``.
    mean_treatment, mean_control : float
        Mean outcome per recipient of each arm.
    lift_abs, ci_low, ci_high : float
        ``mean_treatment - mean_control`` and its ``1 - alpha`` interval.
    lift_rel, rel_ci_low, rel_ci_high : float
        ``mean_treatment / mean_control - 1`` (0.1 = +10 %) and its delta-method interval.
    p_value : float
        Two-sided p-value; NaN unless ``status == "ok"``.
    p_adjusted : float or None
        Holm-adjusted p-value, set by :func:`holm`.
    status : str
        ``"ok"``, ``"no_control"``, ``"no_treatment"``, ``"too_small"`` (an arm with < 2
        recipients, Welch) or ``"zero_variance"`` (no variance in either arm).
    statistic : float
        z or t statistic (NaN for Fisher's test).
    df : float
        Welch-Satterthwaite degrees of freedom (Welch only; NaN otherwise).
    """

    metric: str
    test: str
    mean_treatment: float
    mean_control: float
    lift_abs: float
    ci_low: float
    ci_high: float
    lift_rel: float
    rel_ci_low: float
    rel_ci_high: float
    p_value: float
    p_adjusted: float | None = None
    status: str = "ok"
    statistic: float = NAN
    df: float = NAN


def compare_proportions(treatment: ArmStats, control: ArmStats, *, metric: str,
                        alpha: float = 0.05, exact_below: int = 5) -> Comparison:
    """Compare two conversion rates: z-test, or Fisher's exact test when cells are small.

    Parameters
    ----------
    treatment, control : ArmStats
        ``sum`` = number of converters (a whole number in [0, n]).
    metric : str
    alpha : float, default 0.05
        Two-sided level; intervals are ``1 - alpha``.
    exact_below : int, default 5
        Use Fisher's exact test when any expected cell count of the 2x2 table is below this.

    Returns
    -------
    Comparison
        Rates are fractions (0.031 = 3.1 %); module doc gives the formulas.
    """
    _check_alpha(alpha)
    for name, arm in (("treatment", treatment), ("control", control)):
        if not (0 <= arm.sum <= arm.n) or arm.sum != round(arm.sum):
            raise InputError(f"compare_proportions: {name} conversions must be a whole number in "
                             f"[0, n={arm.n}], got {arm.sum!r}",
                             hint="use compare_means for amounts")
    status = _empty_status(treatment, control)
    if status:
        return _degenerate(metric, "z-test", treatment, control, status)
    n_t, n_c = treatment.n, control.n
    x_t, x_c = round(treatment.sum), round(control.sum)
    p_t, p_c = x_t / n_t, x_c / n_c
    var_t, var_c = p_t * (1 - p_t) / n_t, p_c * (1 - p_c) / n_c
    table = np.array([[x_t, n_t - x_t], [x_c, n_c - x_c]], dtype=float)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    if (expected < exact_below).any():
        p_value = float(_st.fisher_exact(table.astype(np.int64)).pvalue)
        test, statistic = "fisher-exact", NAN
    else:
        pooled = (x_t + x_c) / (n_t + n_c)
        se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
        if se0 == 0:
            return _degenerate(metric, "z-test", treatment, control, "zero_variance")
        statistic = (p_t - p_c) / se0
        p_value = float(2 * _st.norm.sf(abs(statistic)))
        test = "z-test"
    z = float(_st.norm.ppf(1 - alpha / 2))
    return _comparison(metric, test, p_t, p_c, var_t, var_c, z, p_value, statistic, NAN)


def compare_means(treatment: ArmStats, control: ArmStats, *, metric: str,
                  alpha: float = 0.05) -> Comparison:
    """Compare two means (e.g. revenue per recipient) by Welch's t-test.

    Parameters
    ----------
    treatment, control : ArmStats
    metric : str
    alpha : float, default 0.05

    Returns
    -------
    Comparison
        ``test="welch"``; the interval of the difference uses the Welch-Satterthwaite ``df``.
    """
    _check_alpha(alpha)
    status = _empty_status(treatment, control)
    if not status and (treatment.n < 2 or control.n < 2):
        status = "too_small"
    if status:
        return _degenerate(metric, "welch", treatment, control, status)
    vm_t = treatment.variance / treatment.n
    vm_c = control.variance / control.n
    se2 = vm_t + vm_c
    if se2 <= 0:
        return _degenerate(metric, "welch", treatment, control, "zero_variance")
    df = se2**2 / (vm_t**2 / (treatment.n - 1) + vm_c**2 / (control.n - 1))
    statistic = (treatment.mean - control.mean) / math.sqrt(se2)
    p_value = float(2 * _st.t.sf(abs(statistic), df))
    q = float(_st.t.ppf(1 - alpha / 2, df))
    return _comparison(metric, "welch", treatment.mean, control.mean, vm_t, vm_c, q, p_value,
                       statistic, df, z_rel=float(_st.norm.ppf(1 - alpha / 2)))


def bootstrap_mean_difference_ci(y_treatment, y_control, *, alpha: float = 0.05,
                                 n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``mean(y_treatment) - mean(y_control)``.

    For skewed amounts (revenue) of moderate size: it needs the raw values and does
    ``n_boot * (n_t + n_c)`` draws (in chunks, so memory stays bounded); for millions of
    recipients use :func:`compare_means` on sufficient statistics instead.

    Parameters
    ----------
    y_treatment, y_control : array-like of float, shapes (n_t,), (n_c,)
    alpha : float, default 0.05
    n_boot : int, default 2000
        Bootstrap replicates; each arm is resampled with replacement within itself.
    seed : int, default 0

    Returns
    -------
    (float, float)
        The ``alpha/2`` and ``1 - alpha/2`` quantiles of the replicated differences.
    """
    _check_alpha(alpha)
    y_t = np.asarray(y_treatment, dtype=float).ravel()
    y_c = np.asarray(y_control, dtype=float).ravel()
    if y_t.size == 0 or y_c.size == 0:
        raise InputError(f"bootstrap_mean_difference_ci: an arm is empty (n_t={y_t.size}, "
                         f"n_c={y_c.size})", hint="check the arm names in the sends table")
    if not (np.isfinite(y_t).all() and np.isfinite(y_c).all()):
        raise InputError("bootstrap_mean_difference_ci: values must be finite")
    if int(n_boot) != n_boot or n_boot < 1:
        raise ConfigError(f"bootstrap_mean_difference_ci: n_boot must be an integer >= 1, "
                          f"got {n_boot!r}")
    rng = np.random.default_rng(seed)
    diffs = np.empty(int(n_boot))
    chunk = max(1, 2_000_000 // (y_t.size + y_c.size))
    for start in range(0, int(n_boot), chunk):
        k = min(chunk, int(n_boot) - start)
        m_t = y_t[rng.integers(0, y_t.size, size=(k, y_t.size))].mean(axis=1)
        m_c = y_c[rng.integers(0, y_c.size, size=(k, y_c.size))].mean(axis=1)
        diffs[start:start + k] = m_t - m_c
    low, high = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def cuped(treatment: ArmStats, control: ArmStats) -> tuple[ArmStats, ArmStats, float]:
    """CUPED-adjust both arms with a pre-period covariate (Deng et al. 2013).

    ``theta = cov(x, y) / var(x)`` over the two arms pooled (one data set, as in the paper), and
    every recipient's outcome becomes ``y_adj = y - theta * (x - mean_x)`` with ``mean_x`` the
    pooled mean of ``x``. The difference of the adjusted means is an unbiased estimate of the
    same effect (``x`` is measured before assignment) with variance reduced by ``1 - rho**2``.

    Parameters
    ----------
    treatment, control : ArmStats
        With ``sum_x``, ``sum_x_sq`` and ``sum_xy`` filled (e.g. pre-period spend as ``x``).

    Returns
    -------
    treatment_adj, control_adj : ArmStats
        The statistics of ``y_adj`` (``sum``, ``sum_sq``, ``sum_xy``; ``n``, ``sum_x`` and
        ``sum_x_sq`` unchanged), computed from the sums alone -- pass them to
        :func:`compare_means` for the CUPED comparison.
    theta : float
        The adjustment coefficient (units of y per unit of x). 0.0, with a ``RuntimeWarning``,
        when ``x`` has no variance (no covariate given): the arms are then returned unadjusted.
    """
    pooled = treatment + control
    var_x = _var(pooled.n, pooled.sum_x, pooled.sum_x_sq)
    if not var_x > 0:
        warnings.warn("cuped: the covariate x has no variance over both arms; no adjustment "
                      "(theta = 0)", RuntimeWarning, stacklevel=2)
        return treatment, control, 0.0
    cov_xy = (pooled.sum_xy - pooled.sum_x * pooled.sum / pooled.n) / (pooled.n - 1)
    theta = cov_xy / var_x
    mean_x = pooled.sum_x / pooled.n
    return _adjust(treatment, theta, mean_x), _adjust(control, theta, mean_x), float(theta)


def srm_check(observed: Mapping[str, int], expected_shares: Mapping[str, float], *,
              alpha: float = 0.001) -> dict:
    """Sample-ratio-mismatch check: chi-square goodness of fit of arm sizes to planned shares.

    Parameters
    ----------
    observed : mapping arm -> int
        Recipients per arm.
    expected_shares : mapping arm -> float
        Planned share (or weight: they are normalised to sum to 1) per arm; same keys.
    alpha : float, default 0.001
        A p-value below it flags a mismatch (strict, as several checks run per campaign).

    Returns
    -------
    dict
        ``chi2``, ``p_value`` (equal to ``scipy.stats.chisquare``), ``mismatch`` (bool),
        ``observed`` and ``expected`` (dicts arm -> count), ``df`` and ``status`` (``"ok"``;
        ``"no_data"`` when no one was observed, ``"one_arm"`` with a single arm -- then
        ``chi2``/``p_value`` are NaN and ``mismatch`` is False).
    """
    _check_alpha(alpha)
    if set(observed) != set(expected_shares):
        raise InputError(f"srm_check: arms differ: observed {sorted(observed)}, expected "
                         f"{sorted(expected_shares)}", hint="give a share for every arm")
    arms = list(expected_shares)
    obs = np.array([observed[a] for a in arms], dtype=float)
    shares = np.array([expected_shares[a] for a in arms], dtype=float)
    if (obs < 0).any() or (shares < 0).any() or not shares.sum() > 0:
        raise InputError(f"srm_check: counts and shares must be >= 0 with a positive total, got "
                         f"{dict(observed)} and {dict(expected_shares)}")
    exp = shares / shares.sum() * obs.sum()
    out = {"observed": {a: int(observed[a]) for a in arms},
           "expected": dict(zip(arms, exp.tolist(), strict=True)), "df": len(arms) - 1}
    status = "no_data" if obs.sum() == 0 else "one_arm" if len(arms) < 2 else "ok"
    if status != "ok":
        return {**out, "chi2": NAN, "p_value": NAN, "mismatch": False, "status": status}
    if ((exp == 0) & (obs > 0)).any():  # someone in an arm planned at 0 %
        chi2, p_value = math.inf, 0.0
    else:
        keep = exp > 0
        chi2 = float((((obs - exp) ** 2)[keep] / exp[keep]).sum())
        p_value = float(_st.chi2.sf(chi2, len(arms) - 1))
    return {**out, "chi2": chi2, "p_value": p_value, "mismatch": bool(p_value < alpha),
            "status": status}


def holm(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """Holm's step-down adjustment over a family of comparisons.

    Comparisons with a NaN p-value (degenerate status) are left out of the family and get
    ``p_adjusted = NaN``.

    Returns
    -------
    list of Comparison
        Same order, with ``p_adjusted`` set (equal to statsmodels ``multipletests(method="holm")``).
    """
    p = np.array([c.p_value for c in comparisons], dtype=float)
    valid = np.flatnonzero(~np.isnan(p))
    adjusted = np.full(p.size, NAN)
    m = valid.size
    if m:
        order = valid[np.argsort(p[valid], kind="mergesort")]
        steps = np.minimum(1.0, (m - np.arange(m)) * p[order])
        adjusted[order] = np.maximum.accumulate(steps)
    return [dataclasses.replace(c, p_adjusted=float(a)) for c, a in zip(comparisons, adjusted,
                                                                        strict=True)]


def power_two_proportions(n_treatment: int, n_control: int, base_rate: float, effect: float,
                          alpha: float = 0.05) -> float:
    """Power of the two-sided two-proportion z-test to detect an absolute lift ``effect``.

    ``power = Phi(|d|/s - z) + Phi(-|d|/s - z)``, ``z = z_{1-alpha/2}``,
    ``s = sqrt(p_c (1 - p_c)/n_c + p_t (1 - p_t)/n_t)``, ``p_c = base_rate``,
    ``p_t = base_rate + effect`` -- the normal approximation with unpooled variances of
    :mod:`jingzhun.plan.control` (both tails counted), equal to statsmodels
    ``normal_power_het(effect, nobs=1, alpha, std_null=s)``.

    Parameters
    ----------
    n_treatment, n_control : int
    base_rate : float
        Control conversion rate, in (0, 1).
    effect : float
        Absolute lift ``p_t - p_c`` (0.01 = one point); ``p_t`` must be in [0, 1].
    alpha : float, default 0.05

    Returns
    -------
    float
        Probability in [0, 1]; NaN when an arm is empty.
    """
    _check_alpha(alpha)
    if not 0 < base_rate < 1 or not 0 <= base_rate + effect <= 1:
        raise ConfigError(f"power_two_proportions: need 0 < base_rate < 1 and 0 <= base_rate + "
                          f"effect <= 1, got base_rate={base_rate!r}, effect={effect!r}")
    if n_treatment <= 0 or n_control <= 0:
        return NAN
    p_t = base_rate + effect
    s = math.sqrt(base_rate * (1 - base_rate) / n_control + p_t * (1 - p_t) / n_treatment)
    z = float(_st.norm.isf(alpha / 2))
    d = abs(effect) / s
    return float(_st.norm.cdf(d - z) + _st.norm.cdf(-d - z))


def mde_two_proportions(n_treatment: int, n_control: int, base_rate: float, *,
                        alpha: float = 0.05, power: float = 0.8) -> float:
    """Minimum detectable absolute lift in a conversion rate.

    Delegates to :func:`jingzhun.plan.control.minimum_detectable_effect` (same formula as
    :func:`power_two_proportions`, ignoring the far tail, which is below 1e-5 at the usual
    ``alpha`` and ``power``).

    Returns
    -------
    float
        ``p_t - p_c`` (0.01 = one point); ``inf`` when an arm is empty or nothing is detectable.
    """
    return minimum_detectable_effect(n_treatment, n_control, base_rate, alpha=alpha, power=power)


# -- private --------------------------------------------------------------------------------------
def _var(n: int, s: float, ss: float) -> float:
    if n < 2:
        return NAN
    return max(0.0, (ss - s * s / n) / (n - 1))  # rounding can push a zero variance below 0


def _adjust(arm: ArmStats, theta: float, mean_x: float) -> ArmStats:
    # y' = y - theta x + k, k = theta mean_x; every sum of y' follows from the sums of y and x
    k = theta * mean_x
    s = arm.sum - theta * arm.sum_x + arm.n * k
    ss = (arm.sum_sq + theta**2 * arm.sum_x_sq + arm.n * k**2 - 2 * theta * arm.sum_xy
          + 2 * k * arm.sum - 2 * theta * k * arm.sum_x)
    sxy = arm.sum_xy - theta * arm.sum_x_sq + k * arm.sum_x
    return ArmStats(arm.n, s, max(0.0, ss), arm.sum_x, arm.sum_x_sq, sxy)


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be in (0, 1), got {alpha!r}")


def _empty_status(treatment: ArmStats, control: ArmStats) -> str:
    if control.n == 0:
        return "no_control"
    if treatment.n == 0:
        return "no_treatment"
    return ""


def _degenerate(metric: str, test: str, treatment: ArmStats, control: ArmStats,
                status: str) -> Comparison:
    m_t, m_c = treatment.mean, control.mean
    diff = m_t - m_c if treatment.n and control.n else NAN
    rel = m_t / m_c - 1 if treatment.n and control.n and m_c != 0 else NAN
    return Comparison(metric, test, m_t, m_c, diff, NAN, NAN, rel, NAN, NAN, NAN, status=status)


def _comparison(metric: str, test: str, m_t: float, m_c: float, vm_t: float, vm_c: float,
                q: float, p_value: float, statistic: float, df: float,
                z_rel: float | None = None) -> Comparison:
    diff = m_t - m_c
    half = q * math.sqrt(vm_t + vm_c)
    if m_c != 0:
        rel = m_t / m_c - 1
        se_rel = math.sqrt(vm_t / m_c**2 + m_t**2 * vm_c / m_c**4)
        half_rel = (q if z_rel is None else z_rel) * se_rel
        rel_lo, rel_hi = rel - half_rel, rel + half_rel
    else:
        rel = rel_lo = rel_hi = NAN
    return Comparison(metric, test, m_t, m_c, diff, diff - half, diff + half, rel, rel_lo, rel_hi,
                      p_value, statistic=statistic, df=df)
