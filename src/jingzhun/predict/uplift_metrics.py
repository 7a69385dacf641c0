"""Uplift evaluation metrics: Qini and uplift curves, their normalised areas, uplift at k, and
uplift by score decile with confidence intervals.

The curves, areas and ``uplift_at_k`` follow scikit-uplift 0.5.1's definitions exactly (the tests
compare with ``sklift.metrics`` to 1e-9): rows are ranked by descending score, rows with equal
scores enter the curve together (one point per distinct score), the curve starts at (0, 0), and
an area is normalised as (area of the model - area of the random line) / (area of the perfect
curve - area of the random line), the random line joining (0, 0) to the perfect curve's end.
The implementation is our own and vectorised: one stable sort and a few cumulative sums,
O(n log n) in the number of rows.

Outcomes may be binary (response) or real (revenue, in its currency); scikit-uplift accepts only
binary outcomes but its formulas are linear in the outcome, and ours apply them unchanged.
Where scikit-uplift's perfect ordering is defined only for binary outcomes (the uplift curve's),
:func:`perfect_uplift_curve` says how it is extended.

Public functions validate their inputs and raise :class:`~jingzhun.errors.InputError`; the
private kernels assume valid arrays.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd
from scipy.stats import norm

from jingzhun.errors import InputError

__all__ = [
    "UpliftEvaluation",
    "evaluate_uplift",
    "perfect_qini_curve",
    "perfect_uplift_curve",
    "qini_auc_score",
    "qini_coefficient",
    "qini_curve",
    "uplift_at_k",
    "uplift_auc_score",
    "uplift_by_decile",
    "uplift_curve",
]

logger = logging.getLogger(__name__)

_STRATEGIES = ("overall", "by_group")


# --------------------------------------------------------------------------- public API


def qini_curve(y_true, uplift, treatment) -> tuple[np.ndarray, np.ndarray]:
    """Qini curve: incremental outcome of targeting the top-scored customers.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Observed outcome: 0/1 response or a real amount (e.g. revenue, in its currency).
    uplift : array-like of shape (n,)
        Predicted uplift scores; higher means target first.
    treatment : array-like of shape (n,)
        1 for treated rows, 0 for control rows; both groups must be present.

    Returns
    -------
    x : numpy.ndarray of shape (m + 1,), int
        Number of customers targeted: 0, then the rank at the end of each of the ``m`` distinct
        scores (ties enter together).
    y : numpy.ndarray of shape (m + 1,), float
        ``Y_t(x) - Y_c(x) * N_t(x) / N_c(x)``: the treated outcome among the top ``x`` minus the
        control outcome scaled to the treated count (0 where no control row is yet included);
        in the outcome's unit (responders, or currency).
    """
    y, score, t = _check_inputs(y_true, uplift, treatment)
    return _qini_points(_ranked_sums(y, t, *_order_by_score(score)))


def perfect_qini_curve(y_true, treatment, negative_effect=True) -> tuple[np.ndarray, np.ndarray]:
    """The best achievable Qini curve (scikit-uplift's definition).

    Parameters
    ----------
    y_true, treatment : array-like of shape (n,)
        As in :func:`qini_curve`.
    negative_effect : bool, default True
        True: the curve of the ordering treated-with-outcome first, control-with-outcome last
        (it rises, stays flat, then falls back: negative effects included). False: the straight
        rise to the total incremental outcome ``R = Y_t - Y_c * N_t / N_c`` at ``x = R`` then
        flat, i.e. points (0, 0), (R, R), (n, R). ``x = R`` counts customers only for 0/1
        outcomes, so False with any other outcome is an ``InputError``.

    Returns
    -------
    x, y : numpy.ndarray
        Points of the curve, as in :func:`qini_curve`.
    """
    _check_bool(negative_effect, "negative_effect")
    y, _, t = _check_inputs(y_true, None, treatment)
    _check_binary_for_no_negative_effect(y, negative_effect)
    return _perfect_qini(y, t, negative_effect)


def uplift_curve(y_true, uplift, treatment) -> tuple[np.ndarray, np.ndarray]:
    """Uplift curve: difference of mean outcomes among the top-scored, times their number.

    Parameters
    ----------
    y_true, uplift, treatment : array-like of shape (n,)
        As in :func:`qini_curve`.

    Returns
    -------
    x : numpy.ndarray of shape (m + 1,), int
        Number of customers targeted, as in :func:`qini_curve`.
    y : numpy.ndarray of shape (m + 1,), float
        ``(Y_t(x) / N_t(x) - Y_c(x) / N_c(x)) * x``, a group mean taken as 0 while that group has
        no row yet; in the outcome's unit.
    """
    y, score, t = _check_inputs(y_true, uplift, treatment)
    return _uplift_points(_ranked_sums(y, t, *_order_by_score(score)))


def perfect_uplift_curve(y_true, treatment) -> tuple[np.ndarray, np.ndarray]:
    """The best-ordering uplift curve (scikit-uplift's definition, extended to real outcomes).

    Rows are put in four classes: treated responders first, then control non-responders, then
    (treated non-responders, control responders) in the order scikit-uplift picks -- control
    responders before treated non-responders when there are more of them. For binary outcomes
    this is exactly scikit-uplift's curve. For real outcomes a responder is a row with
    ``y_true > 0`` and, within a class, treated rows go by descending outcome and control rows
    by ascending outcome (largest treated amounts first, largest control amounts last).

    Parameters
    ----------
    y_true, treatment : array-like of shape (n,)
        As in :func:`qini_curve`.

    Returns
    -------
    x, y : numpy.ndarray
        Points of the curve, as in :func:`uplift_curve`.
    """
    y, _, t = _check_inputs(y_true, None, treatment)
    return _perfect_uplift(y, t)


def qini_auc_score(y_true, uplift, treatment, negative_effect=True) -> float:
    """Qini coefficient: area between the Qini curve and the random line, over the perfect one's.

    Parameters
    ----------
    y_true, uplift, treatment : array-like of shape (n,)
        As in :func:`qini_curve`.
    negative_effect : bool, default True
        Which perfect curve normalises the area (see :func:`perfect_qini_curve`); False needs a
        0/1 outcome.

    Returns
    -------
    float
        1 for the perfect ordering, about 0 for a random one, negative for a reversed one;
        unitless. NaN (with a ``RuntimeWarning``) when the perfect curve has no area above the
        random line.
    """
    _check_bool(negative_effect, "negative_effect")
    y, score, t = _check_inputs(y_true, uplift, treatment)
    _check_binary_for_no_negative_effect(y, negative_effect)
    actual = _qini_points(_ranked_sums(y, t, *_order_by_score(score)))
    return _normalised_area(actual, _perfect_qini(y, t, negative_effect))


#: The Qini coefficient is the normalised area under the Qini curve (Radcliffe 2007).
qini_coefficient = qini_auc_score


def uplift_auc_score(y_true, uplift, treatment) -> float:
    """Normalised area under the uplift curve (as :func:`qini_auc_score`, for the uplift curve).

    Parameters
    ----------
    y_true, uplift, treatment : array-like of shape (n,)
        As in :func:`qini_curve`.

    Returns
    -------
    float
        1 for the perfect ordering (:func:`perfect_uplift_curve`), about 0 for a random one;
        unitless.
    """
    y, score, t = _check_inputs(y_true, uplift, treatment)
    actual = _uplift_points(_ranked_sums(y, t, *_order_by_score(score)))
    return _normalised_area(actual, _perfect_uplift(y, t))


def uplift_at_k(y_true, uplift, treatment, strategy, k=0.3) -> float:
    """Difference of mean outcomes, treated minus control, among the top-k scored rows.

    Parameters
    ----------
    y_true, uplift, treatment : array-like of shape (n,)
        As in :func:`qini_curve`.
    strategy : {"overall", "by_group"}
        "overall": the top ``k`` rows of the whole sample, then the two groups' means among them.
        "by_group": the top ``k`` rows of each group separately (``k`` a share of each group's
        size, or the same count in each).
    k : float in (0, 1] or int >= 1, default 0.3
        Share of the rows (rounded down, as scikit-uplift) or a number of rows. scikit-uplift
        refuses ``k = 1.0`` and ``k = n``; here they mean all rows.

    Returns
    -------
    float
        In the outcome's unit (a difference of response rates for binary outcomes). NaN, with a
        ``RuntimeWarning``, when the top ``k`` holds no treated or no control row.
    """
    if strategy not in _STRATEGIES:
        raise InputError(f"strategy must be one of {list(_STRATEGIES)}, got {strategy!r}")
    y, score, t = _check_inputs(y_true, uplift, treatment)
    order, _ = _order_by_score(score)
    return _uplift_at_k(y[order], t[order], strategy, _check_k(k, y.size, t, strategy))


def uplift_by_decile(y_true, uplift, treatment, *, bins=10, alpha=0.05) -> pd.DataFrame:
    """Observed uplift in bins of equal size by score rank, with normal-approximation intervals.

    Parameters
    ----------
    y_true, uplift, treatment : array-like of shape (n,)
        As in :func:`qini_curve`.
    bins : int, default 10
        Number of bins, 1 <= bins <= n. Rows are ranked by descending score, ties in their
        input order; bin sizes differ by at most one row, the larger bins first.
    alpha : float in (0, 1), default 0.05
        Two-sided error rate of the intervals (0.05: 95 % intervals).

    Returns
    -------
    pandas.DataFrame
        One row per bin, bin 1 holding the highest scores. Columns ``bin``, ``n_treatment``,
        ``n_control`` (rows), ``mean_treatment``, ``mean_control`` (outcome unit), ``uplift``
        (difference of means), ``ci_low``, ``ci_high`` (``uplift -/+ z * se`` with the Welch
        standard error ``sqrt(v_t / n_t + v_c / n_c)``, ``v`` the plug-in variance with divisor
        ``n``, so that for 0/1 outcomes it is the two-proportion Wald interval), ``status``:
        "ok"; "no_treatment" or "no_control" (a group is absent: uplift and interval NaN, never
        0); "one_row_group" (a group has a single row: uplift given, interval NaN).
        ``attrs["alpha"]`` holds ``alpha``.
    """
    y, score, t = _check_inputs(y_true, uplift, treatment)
    if isinstance(bins, bool) or not isinstance(bins, Integral) or not 1 <= bins <= y.size:
        raise InputError(f"bins must be an integer between 1 and the number of rows ({y.size}), "
                         f"got {bins!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0.0 < alpha < 1.0:
        raise InputError(f"alpha must be a number in (0, 1), got {alpha!r}",
                         hint="0.05 gives 95 % confidence intervals")
    return _decile_table(y, score, t, int(bins), float(alpha))


@dataclass(frozen=True)
class UpliftEvaluation:
    """Summary of an uplift model on a randomised test sample.

    Attributes
    ----------
    qini_auc : float
        Qini coefficient (:func:`qini_auc_score`, negative effects included).
    uplift_auc : float
        Normalised area under the uplift curve (:func:`uplift_auc_score`).
    uplift_at_30 : float
        :func:`uplift_at_k` with ``strategy="overall"`` and ``k=0.3``, in the outcome's unit.
    n, n_treatment, n_control : int
        Rows in all, treated, control.
    """

    qini_auc: float
    uplift_auc: float
    uplift_at_30: float
    n: int
    n_treatment: int
    n_control: int


def evaluate_uplift(y_true, uplift, treatment) -> UpliftEvaluation:
    """The usual uplift metrics at once, ranking the rows a single time.

    Parameters
    ----------
    y_true, uplift, treatment : array-like of shape (n,)
        As in :func:`qini_curve`.

    Returns
    -------
    UpliftEvaluation
    """
    y, score, t = _check_inputs(y_true, uplift, treatment)
    order, ends = _order_by_score(score)
    sums = _ranked_sums(y, t, order, ends)
    n_t = int(t.sum())
    return UpliftEvaluation(
        qini_auc=_normalised_area(_qini_points(sums), _perfect_qini(y, t, True)),
        uplift_auc=_normalised_area(_uplift_points(sums), _perfect_uplift(y, t)),
        uplift_at_30=_uplift_at_k(y[order], t[order], "overall", _check_k(0.3, y.size, t, "overall")),
        n=int(y.size), n_treatment=n_t, n_control=int(y.size) - n_t,
    )


# --------------------------------------------------------------------------- validation


def _check_inputs(y_true, uplift, treatment) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Validated 1-D float arrays ``(y, score, t)``; ``uplift=None`` skips the scores."""
    named = {"y_true": y_true, "treatment": treatment}
    if uplift is not None:
        named["uplift"] = uplift
    arrays = {name: _as_1d_float(value, name) for name, value in named.items()}
    lengths = {name: a.size for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name}={size}" for name, size in lengths.items())
        raise InputError(f"y_true, uplift and treatment must have the same length; got {shown}")
    if lengths["y_true"] == 0:
        raise InputError("y_true, uplift and treatment are empty",
                         hint="pass at least one treated and one control row")
    t = arrays["treatment"]
    bad = (t != 0) & (t != 1)
    if bad.any():
        examples = np.unique(t[bad])[:5].tolist()
        raise InputError(f"treatment must hold only 0 (control) and 1 (treated); {int(bad.sum())} row(s) "
                         f"hold other values, e.g. {examples} (first at position {int(np.argmax(bad))})",
                         hint="map the arm labels to 1 = treatment, 0 = control")
    n_t = int(t.sum())
    if n_t == 0 or n_t == t.size:
        missing = "treated (1)" if n_t == 0 else "control (0)"
        raise InputError(f"treatment has no {missing} rows among its {t.size} rows; uplift needs both groups",
                         hint="evaluate on a randomised sample with a control group")
    return arrays["y_true"], arrays.get("uplift"), t


def _as_1d_float(value, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must hold numbers: {exc}") from None
    if arr.ndim != 1:
        raise InputError(f"{name} must be one-dimensional, got shape {arr.shape}")
    finite = np.isfinite(arr)
    if not finite.all():
        first = int(np.argmin(finite))
        raise InputError(f"{name} has {int((~finite).sum())} value(s) that are NaN or infinite "
                         f"(first at position {first}: {arr[first]!r})",
                         hint="drop or fill those rows before evaluating")
    return arr


def _check_bool(value, name: str) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name} must be True or False, got {value!r}")


def _check_binary_for_no_negative_effect(y: np.ndarray, negative_effect: bool) -> None:
    if not negative_effect and not np.isin(y, (0.0, 1.0)).all():
        raise InputError("negative_effect=False needs a 0/1 outcome: its perfect Qini curve rises to the "
                         "number of incremental responders at that many customers; y_true holds "
                         f"other values, e.g. {np.unique(y[~np.isin(y, (0.0, 1.0))])[:3].tolist()}",
                         hint="use negative_effect=True for revenue or other amounts")


def _check_k(k, n: int, t: np.ndarray, strategy: str) -> tuple[int, int]:
    """``k`` as row counts: ``(top rows, 0)`` for "overall", ``(treated, control)`` for "by_group"."""
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, Real):
        raise InputError(f"k must be a share in (0, 1] or a whole number of rows, got {k!r}")
    n_t = int(t.sum())
    n_c = n - n_t
    if isinstance(k, Integral):
        if not 1 <= k <= n:
            raise InputError(f"k={k} rows is not between 1 and the number of rows ({n})")
        if strategy == "by_group" and k > min(n_t, n_c):
            raise InputError(f"k={k} rows per group is more than the group sizes allow "
                             f"({n_t} treated, {n_c} control)", hint="use a share such as k=0.3")
        return (int(k), 0) if strategy == "overall" else (int(k), int(k))
    if not 0.0 < k <= 1.0:
        raise InputError(f"k={k} as a share must be in (0, 1]", hint="pass an int for a number of rows")
    # int() truncates like scikit-uplift's int(n * k)
    counts = (int(n * k), 0) if strategy == "overall" else (int(n_t * k), int(n_c * k))
    if min(counts[: 1 if strategy == "overall" else 2]) == 0:
        raise InputError(f"k={k} of {n} rows ({n_t} treated, {n_c} control) selects no row "
                         f"{'' if strategy == 'overall' else 'of a group '}once rounded down",
                         hint="use a larger share or a number of rows")
    return counts


# --------------------------------------------------------------------------- kernels


def _order_by_score(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row order by descending score and the last position of each run of equal scores.

    Reversing a stable ascending sort (as scikit-uplift) puts the later of two tied rows first;
    that decides which tied rows fall inside a top-k cut, so parity needs it.
    """
    order = np.argsort(score, kind="stable")[::-1]
    ranked = score[order]
    ends = np.r_[np.flatnonzero(ranked[1:] != ranked[:-1]), ranked.size - 1]
    return order, ends


def _ranked_sums(y, t, order, ends) -> tuple[np.ndarray, ...]:
    """Cumulative (rows, treated rows, treated outcome, control outcome) at each run's end."""
    y_r, t_r = y[order], t[order]
    n_all = ends + 1
    n_t = np.cumsum(t_r)[ends]
    y_t = np.cumsum(y_r * t_r)[ends]
    y_c = np.cumsum(y_r * (1.0 - t_r))[ends]
    return n_all, n_t, y_t, y_c


def _qini_points(sums) -> tuple[np.ndarray, np.ndarray]:
    n_all, n_t, y_t, y_c = sums
    n_c = n_all - n_t
    ratio = np.divide(n_t, n_c, out=np.zeros_like(n_t), where=n_c != 0)
    return _from_origin(n_all, y_t - y_c * ratio)


def _uplift_points(sums) -> tuple[np.ndarray, np.ndarray]:
    n_all, n_t, y_t, y_c = sums
    n_c = n_all - n_t
    mean_t = np.divide(y_t, n_t, out=np.zeros_like(y_t), where=n_t != 0)
    mean_c = np.divide(y_c, n_c, out=np.zeros_like(y_c), where=n_c != 0)
    return _from_origin(n_all, (mean_t - mean_c) * n_all)


def _from_origin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # every run holds at least one row, so x[0] >= 1 and the origin is always a new point
    return np.r_[0, x], np.r_[0.0, y]


def _perfect_qini(y, t, negative_effect: bool) -> tuple[np.ndarray, np.ndarray]:
    if negative_effect:
        score = y * t - y * (1.0 - t)
        return _qini_points(_ranked_sums(y, t, *_order_by_score(score)))
    treated = t == 1
    gain = y[treated].sum() - treated.sum() * y[~treated].sum() / (~treated).sum()
    return np.array([0.0, gain, float(y.size)]), np.array([0.0, gain, gain])


def _perfect_uplift(y, t) -> tuple[np.ndarray, np.ndarray]:
    responder = y > 0
    is_treated = t == 1
    control_responders = int((responder & ~is_treated).sum())
    treated_non_responders = int((~responder & is_treated).sum())
    tiebreak = responder if control_responders > treated_non_responders else is_treated
    klass = 2 * (responder == is_treated) + tiebreak.astype(np.int64)
    within = np.where(is_treated, y, -y)
    # descending by (class, within); only whole runs of equal keys matter for the curve
    order = np.lexsort((within, klass))[::-1]
    k_r, w_r = klass[order], within[order]
    changes = (k_r[1:] != k_r[:-1]) | (w_r[1:] != w_r[:-1])
    ends = np.r_[np.flatnonzero(changes), y.size - 1]
    return _uplift_points(_ranked_sums(y, t, order, ends))


def _normalised_area(actual, perfect) -> float:
    x_p, y_p = perfect
    random_area = 0.5 * float(x_p[-1]) * float(y_p[-1])
    best = _trapezoid(x_p, y_p) - random_area
    if best == 0.0:
        warnings.warn("the perfect curve has no area above the random line (no incremental outcome); "
                      "the normalised area is NaN", RuntimeWarning, stacklevel=3)
        return float("nan")
    return (_trapezoid(*actual) - random_area) / best


def _trapezoid(x: np.ndarray, y: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64)
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1])) / 2.0)


def _uplift_at_k(y_r, t_r, strategy: str, counts: tuple[int, int]) -> float:
    """Kernel of :func:`uplift_at_k` on rows already in descending score order."""
    treated = t_r == 1
    if strategy == "overall":
        top_y, top_t = y_r[: counts[0]], treated[: counts[0]]
        treated_y, control_y = top_y[top_t], top_y[~top_t]
    else:
        treated_y, control_y = y_r[treated][: counts[0]], y_r[~treated][: counts[1]]
    if treated_y.size == 0 or control_y.size == 0:
        warnings.warn(f"uplift_at_k: the top rows hold {treated_y.size} treated and {control_y.size} control "
                      "rows; the uplift is NaN", RuntimeWarning, stacklevel=3)
        return float("nan")
    # mean() over the same rows in the same order as scikit-uplift: the same pairwise sums
    return float(treated_y.mean() - control_y.mean())


def _decile_table(y, score, t, bins: int, alpha: float) -> pd.DataFrame:
    n = y.size
    order = np.argsort(-score, kind="stable")
    sizes = np.full(bins, n // bins)
    sizes[: n % bins] += 1
    bin_of = np.empty(n, dtype=np.int64)
    bin_of[order] = np.repeat(np.arange(bins), sizes)
    # cell = 2 * bin + treated: additive statistics per (bin, group) in one pass each
    cell = 2 * bin_of + t.astype(np.int64)
    count = np.bincount(cell, minlength=2 * bins).astype(np.float64)
    total = np.bincount(cell, weights=y, minlength=2 * bins)
    mean = np.divide(total, count, out=np.full_like(total, np.nan), where=count > 0)
    # squared deviations from the cell mean, not E[y^2] - mean^2, which cancels badly for revenue
    sq_dev = np.bincount(cell, weights=(y - mean[cell]) ** 2, minlength=2 * bins)
    var = np.divide(sq_dev, count, out=np.full_like(sq_dev, np.nan), where=count > 0)
    n_c, n_t = count[0::2], count[1::2]
    diff = mean[1::2] - mean[0::2]
    se = np.sqrt(var[1::2] / np.where(n_t > 0, n_t, np.nan) + var[0::2] / np.where(n_c > 0, n_c, np.nan))
    z = float(norm.ppf(1.0 - alpha / 2.0))
    status = np.where(n_t == 0, "no_treatment",
                      np.where(n_c == 0, "no_control",
                               np.where((n_t == 1) | (n_c == 1), "one_row_group", "ok")))
    se = np.where(status == "ok", se, np.nan)
    if (status != "ok").any():
        logger.info("uplift_by_decile: %d of %d bins without an interval (%s)", int((status != "ok").sum()),
                    bins, ", ".join(sorted(set(status[status != "ok"]))))
    table = pd.DataFrame({
        "bin": np.arange(1, bins + 1),
        "n_treatment": n_t.astype(np.int64),
        "n_control": n_c.astype(np.int64),
        "mean_treatment": mean[1::2],
        "mean_control": mean[0::2],
        "uplift": diff,
        "ci_low": diff - z * se,
        "ci_high": diff + z * se,
        "status": status,
    })
    table.attrs["alpha"] = alpha
    return table
