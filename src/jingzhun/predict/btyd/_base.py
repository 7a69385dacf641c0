"""Shared machinery of the BTYD ("buy till you die") models: input checks, compression of the
inputs to unique rows, the maximum-likelihood loop, the Hessian, standard errors, ``summary()``.

A model is a subclass of :class:`BTYDModel` that supplies its likelihood as a pure function over
log-parameters (see the class docstring for the exact contract). Everything else -- validation
helpers, compression, optimisation, convergence checks and the errors they raise -- lives here,
so that every model fits, fails and reports the same way.

Choices (written down because several are judgement calls):

* Parameters are estimated on the log scale (every BTYD parameter is positive). The optimiser is
  L-BFGS-B with the analytic gradient, boxed to ``|log param| <= LOG_PARAM_BOUND``; the box only
  turns a run-away parameter into a diagnosable event instead of an overflow.
* After L-BFGS-B, up to ``_NEWTON_STEPS`` Newton steps with the numerical Hessian (central
  differences of the analytic gradient) polish the optimum, so the estimates are reproducible to
  far more digits than the papers print. A model whose Hessian is analytic and cheap (BG/NBD,
  MBG/NBD) first tries Newton's method from the start alone -- half the likelihood passes where
  it works -- and falls back to the L-BFGS-B path where it does not. The fit is *converged* when
  the last Newton step is below ``_STEP_TOL`` in every log-parameter and the Hessian is positive
  definite.
* Standard errors come from the inverse Hessian of the total negative log-likelihood on the log
  scale, carried to the parameters by the delta method (``se(theta) = theta * se(log theta)``);
  the 95% intervals are ``exp(log theta +- 1.96 se(log theta))`` -- positive and asymmetric, the
  usual choice for positive parameters (they agree with ``theta +- 1.96 se`` to first order).
* Weights are customer counts (any finite non-negative numbers are accepted); standard errors
  treat them as counts of independent customers.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.stats import norm
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from jingzhun.errors import InputError, ModelError

__all__ = ["BTYDModel", "ConvergenceWarning", "DataWarning", "FrequencyRecencyTModel", "LOG_PARAM_BOUND",
           "as_float_arrays",
           "check_finite", "check_frequency_recency_T", "check_integer", "check_nonnegative",
           "check_repeat_buyers", "at_counts", "bridge_removable", "fail_where", "unique_rows"]

#: The optimiser's box on every log-parameter: parameters live in [e^-25, e^25] ~ [1e-11, 7e10].
LOG_PARAM_BOUND = 25.0
_Z95 = float(norm.ppf(0.975))
_NEWTON_STEPS = 8
_STEP_TOL = 1e-6  # largest Newton step (log scale) accepted as converged
_HESSIAN_STEP = 1e-5  # central-difference step on the log scale
_REUSE_HESSIAN_BELOW = 1e-3  # Newton steps (log scale) after which the Hessian is not recomputed
_NEWTON_FIRST_STEPS = 25  # Newton from the start (analytic Hessians): at most this many steps,
_NEWTON_MAX_STEP = 2.0  # each at most this long on the log scale,
_NEWTON_HALVINGS = 12  # halved at most this often in the line search
#: Keys are ranked through a dense table (a byte and an int32 per possible key) when there are
#: at most 16 possible keys a row (and at most 2^25 in all; always up to 2^20): for a million
#: rows 4x faster than hashing them.
_DENSE_KEYS_MIN, _DENSE_KEYS_PER_ROW, _DENSE_KEYS_MAX = 2**20, 16, 2**25
_PULL_BACK = 5.0  # a parameter at the box's edge moved back by e^5 ~ 150x ...
_FLAT_TOL = 1e-9  # ... changing the mean log-likelihood by less than this: a flat ridge


class ConvergenceWarning(UserWarning):
    """The fit ended somewhere it cannot vouch for: a parameter ran to the edge of the box, or the
    Hessian is singular (the data do not identify every parameter). ``converged_`` is False."""


class DataWarning(UserWarning):
    """The data are weak or break a model assumption (few repeat buyers, spend correlated with
    frequency, ...): the fit is done, but read it with care."""


# --------------------------------------------------------------------------- input checks


def as_float_arrays(named: dict[str, object]) -> tuple[dict[str, np.ndarray], pd.Index | None]:
    """Convert the named inputs to broadcast 1-d float arrays.

    Parameters
    ----------
    named : dict of str to array_like or scalar
        Inputs in the order they are to be reported.

    Returns
    -------
    arrays : dict of str to numpy.ndarray of float64, shape (n,)
        Every input, broadcast against the others (a scalar becomes ``n`` copies).
    index : pandas.Index or None
        The index of the first pandas Series of length ``n`` among the inputs, for outputs.

    Raises
    ------
    InputError
        An input that is not numeric, not 1-d, or whose length differs from the others'.
    """
    arrays, index = {}, None
    for name, value in named.items():
        if isinstance(value, pd.DataFrame):
            raise InputError(f"{name} must be a 1-d array or a Series, got a DataFrame")
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{name} must be numeric, got {type(value).__name__}: {exc}") from None
        if arr.ndim > 1:
            raise InputError(f"{name} must be 1-d, got shape {arr.shape}")
        arrays[name] = arr
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        sizes = ", ".join(f"{k} has {a.size}" for k, a in arrays.items() if a.ndim)
        raise InputError(f"inputs differ in length: {sizes}") from None
    n = shape[0] if shape else 1
    out = {k: np.array(np.broadcast_to(a, (n,)), dtype=np.float64) for k, a in arrays.items()}
    for value in named.values():
        if isinstance(value, pd.Series) and len(value) == n:
            index = value.index
            break
    return out, index


def fail_where(bad: np.ndarray, message: Callable[[int], str], hint: str | None = None) -> None:
    """Raise ``InputError(message(i))`` for the first position ``i`` where ``bad`` is True.

    The message gets the count of bad positions appended, so one error tells how widespread the
    problem is.
    """
    if bad.any():
        i = int(np.argmax(bad))
        n_bad = int(bad.sum())
        more = f" ({n_bad} positions in all)" if n_bad > 1 else ""
        raise InputError(f"{message(i)}{more}", hint=hint)


def check_finite(arrays: dict[str, np.ndarray]) -> None:
    """Every value finite (no NaN, no infinity)."""
    for name, a in arrays.items():
        fail_where(~np.isfinite(a), lambda i, a=a, name=name: f"{name}[{i}] = {a[i]} is not finite",
                   hint="drop or fill missing values before fitting")


def check_nonnegative(arrays: dict[str, np.ndarray]) -> None:
    """Every value finite and >= 0."""
    check_finite(arrays)
    for name, a in arrays.items():
        fail_where(a < 0, lambda i, a=a, name=name: f"{name}[{i}] = {a[i]:g} is negative")


def check_integer(arrays: dict[str, np.ndarray]) -> None:
    """Every value a whole number (the arrays are already known finite)."""
    for name, a in arrays.items():
        fail_where(a != np.floor(a),
                   lambda i, a=a, name=name: f"{name}[{i}] = {a[i]:g} is not a whole number",
                   hint=f"{name} counts events; it must be integer-valued")


def check_frequency_recency_T(data: dict[str, np.ndarray]) -> None:
    """The continuous-time inputs: ``frequency`` a whole number >= 0, ``0 <= recency <= T``, and
    ``recency == 0`` where ``frequency == 0``. Any of the three keys may be absent."""
    check_nonnegative(data)
    if "frequency" in data:
        check_integer({"frequency": data["frequency"]})
    if "recency" in data and "T" in data:
        rec, age = data["recency"], data["T"]
        fail_where(rec > age, lambda i: f"recency[{i}] = {rec[i]:g} is greater than T[{i}] = {age[i]:g}",
                   hint="recency (time of the last repeat purchase) and T (age) are both measured "
                        "from the first purchase, in the same unit")
    if "recency" in data and "frequency" in data:
        rec, freq = data["recency"], data["frequency"]
        fail_where((freq == 0) & (rec != 0),
                   lambda i: f"recency[{i}] = {rec[i]:g} but frequency[{i}] = 0",
                   hint="a customer without repeat purchases has recency 0")


def check_repeat_buyers(model: str, frequency: np.ndarray, weights: np.ndarray, *,
                        few: float = 10) -> None:
    """``ModelError`` when no customer (of positive weight) made a repeat purchase; ``DataWarning``
    when fewer than ``few`` did -- the purchase rate cannot be told apart from the dropout."""
    repeaters = float(weights[frequency > 0].sum())
    if repeaters == 0:
        raise ModelError(f"{model}: no customer made a repeat purchase, so the purchase and dropout "
                         "processes cannot be estimated",
                         hint="fit on a longer calibration period or a larger cohort")
    if repeaters < few:
        warnings.warn(f"{model}: only {repeaters:g} customer(s) made a repeat purchase; the estimates "
                      "will be imprecise", DataWarning, stacklevel=5)


# --------------------------------------------------------------------------- the base class


class BTYDModel(BaseEstimator, ABC):
    """Base of the maximum-likelihood BTYD models (scikit-learn estimator conventions).

    Parameters
    ----------
    initial_params : dict of str to float, optional
        Starting values keyed by the model's parameter names; by default a data-driven start of the
        model (with a few deterministic fall-back starts if it does not converge).
    max_iter : int, default 2000
        Iteration limit of each L-BFGS-B run.

    Attributes
    ----------
    params_ : dict of str to float
        Maximum-likelihood estimates, keyed by the paper's parameter names.
    log_likelihood_ : float
        Total (weighted) log-likelihood at ``params_``.
    n_customers_ : float
        Number of customers fitted (the sum of the weights).
    n_rows_ : int
        Number of unique input rows the likelihood was evaluated on.
    converged_ : bool
        True when the optimum is interior and the Hessian there is positive definite.
    covariance_ : pandas.DataFrame
        Delta-method covariance of the parameters (NaN where the Hessian is singular).
    n_iter_ : int
        Likelihood evaluations of the winning optimiser run (a Hessian counts as one).

    Notes
    -----
    A subclass provides:

    ``_param_names`` : tuple of str (class attribute)
        The paper's parameter names, in the order of the log-parameter vector.
    ``_data_names`` : tuple of str (class attribute)
        Names of the per-customer inputs of ``fit``, e.g. ``("frequency", "recency", "T")``.
    ``_log_likelihood_rows`` : staticmethod ``(log_params, *data) -> (ll, grad)``
        The likelihood kernel, a pure function: ``log_params`` of shape (k,), ``data`` the arrays
        returned by ``_prepare_data`` (by default the unique input rows, in ``_data_names`` order,
        each of shape (n,)); returns the per-row log-likelihood ``ll`` of shape (n,) and its
        gradient with respect to ``log_params``, shape (k, n). Both must be finite everywhere in
        the box ``|log_params| <= LOG_PARAM_BOUND``.
    ``_check_data(self, data)``
        Raise ``InputError`` (via :func:`fail_where` and the ``check_*`` helpers) for impossible
        values; ``data`` is a dict of float arrays keyed by ``_data_names``. Also used on the
        inputs of the predictions.
    ``_default_log_params(self, data, weights) -> ndarray``
        A sound data-driven start (log scale), from the unique rows and their weights.

    and may override:

    ``_check_identifiable(self, data, weights)``
        Raise ``ModelError`` for data that cannot identify the parameters (e.g. nobody made a
        repeat purchase) and warn ``DataWarning`` on weak data. Default: nothing.
    ``_prepare_data(self, data) -> tuple``
        Turn the unique rows (a dict keyed by ``_data_names``) into the kernel's ``*data``
        (precomputed indices, ...). Default: the arrays in ``_data_names`` order.
    ``_summed_log_likelihood(self, data, weights) -> callable``
        The objective of the fit, ``(log_params, hessian=False) -> (sum_i w_i ll_i, gradient[,
        Hessian])``. Default: the row kernel on ``_prepare_data(data)``, summed with the weights,
        and central differences of its gradient for the Hessian; a model overrides it with a
        kernel on sufficient statistics and an analytic Hessian when that is much faster (BG/NBD),
        and tests that the two agree.
    ``_analytic_hessian`` : bool (class attribute)
        True when ``_summed_log_likelihood``'s Hessian costs about one likelihood pass: the fit
        then tries Newton's method from the start first (a handful of passes where the
        likelihood is well curved) before L-BFGS-B. Default False.

    The subclass's ``fit(...)`` names its inputs and calls ``self._fit({name: value}, weights)``
    (:class:`FrequencyRecencyTModel` does that, and the checks, for ``frequency, recency, T``);
    its predictions call ``self._prediction_inputs(...)`` and ``self._output(...)``.
    """

    _param_names: ClassVar[tuple[str, ...]] = ()
    _data_names: ClassVar[tuple[str, ...]] = ()
    _analytic_hessian: ClassVar[bool] = False

    def __init__(self, *, initial_params: dict[str, float] | None = None, max_iter: int = 2000):
        self.initial_params = initial_params
        self.max_iter = max_iter

    # ---------------------------------------------------------------- subclass hooks

    @staticmethod
    @abstractmethod
    def _log_likelihood_rows(log_params: np.ndarray, *data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-row log-likelihood, shape (n,), and its gradient over log-parameters, (k, n)."""

    @abstractmethod
    def _check_data(self, data: dict[str, np.ndarray]) -> None:
        """Raise ``InputError`` for impossible values."""

    @abstractmethod
    def _default_log_params(self, data: dict[str, np.ndarray], weights: np.ndarray) -> np.ndarray:
        """A data-driven start on the log scale."""

    def _check_identifiable(self, data: dict[str, np.ndarray], weights: np.ndarray) -> None:
        return None

    def _prepare_data(self, data: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
        return tuple(data[name] for name in self._data_names)

    def _summed_log_likelihood(self, data: dict[str, np.ndarray],
                               weights: np.ndarray) -> Callable[..., tuple]:
        """The function the fit maximises: ``(log_params, hessian=False) -> (ll, grad)``, or
        ``(ll, grad, hess)`` with ``hessian=True`` -- the weighted total log-likelihood over the
        unique rows, its gradient (k,) and Hessian (k, k) over the log-parameters. Default: the
        row kernel, summed; the Hessian by central differences of that gradient."""
        prepared = self._prepare_data(data)

        def summed(log_params, hessian=False):
            ll, grad = self._log_likelihood_rows(log_params, *prepared)
            total, total_grad = float(weights @ ll), grad @ weights
            if not hessian:
                return total, total_grad
            return total, total_grad, _numerical_hessian(lambda t: summed(t)[1], log_params)
        return summed

    # ---------------------------------------------------------------- fitting

    def _fit(self, named: dict[str, object], weights=None):
        """Validate, compress, maximise the likelihood and set the fitted attributes."""
        data, weights = self._validated(named, weights)
        data, weights = _compress(data, weights)
        self._check_identifiable(data, weights)
        summed = self._summed_log_likelihood(data, weights)
        total = float(weights.sum())

        def objective(theta, hessian=False):  # the mean negative log-likelihood, per customer
            return tuple(-v / total for v in summed(theta, hessian=hessian))

        best = None
        for start in self._starts(data, weights):
            run = _maximise(objective, start, self.max_iter, newton_first=self._analytic_hessian)
            if best is None or run["f"] < best["f"]:
                best = run
            if run["converged"] or run["at_bound"]:
                break
        if best is None or not np.isfinite(best["f"]):
            raise ModelError(f"{type(self).__name__}: the likelihood could not be evaluated at any start",
                             hint="check the inputs' time unit and pass initial_params")
        if not (best["converged"] or best["at_bound"]):
            raise self._no_maximum_error(best)
        if best["at_bound"] and _flat_towards_the_edge(objective, best["theta"]):
            # a ridge, not a limit: the parameters at the edge could be anywhere along it
            raise self._no_maximum_error(best | {"step": np.inf})
        theta = best["theta"]
        hessian = best["hessian"] * total
        self.params_ = dict(zip(self._param_names, np.exp(theta).tolist(), strict=True))
        self.log_likelihood_ = -best["f"] * total
        self.n_customers_ = total
        self.n_rows_ = int(weights.size)
        self.n_iter_ = int(best["nfev"])
        self._log_params = theta
        # at the box's edge the Hessian describes the box, not the likelihood: no standard errors
        self._log_covariance = (np.full_like(hessian, np.nan) if best["at_bound"]
                                else _inverse_or_nan(hessian))
        self.converged_ = bool(best["converged"] and np.isfinite(self._log_covariance).all())
        p = np.exp(theta)
        self.covariance_ = pd.DataFrame(self._log_covariance * np.outer(p, p),
                                        index=list(self._param_names), columns=list(self._param_names))
        if best["at_bound"]:
            names = [n for n, t in zip(self._param_names, theta, strict=True)
                     if abs(t) >= LOG_PARAM_BOUND - 1e-3]
            warnings.warn(f"{type(self).__name__}: {', '.join(names)} ran to the edge of the parameter "
                          f"range ({self._format_params()}); the data do not pin "
                          f"{'it' if len(names) == 1 else 'them'} down -- the fit is a limiting case "
                          "and its standard errors are not available", ConvergenceWarning, stacklevel=3)
        elif not self.converged_:
            warnings.warn(f"{type(self).__name__}: the Hessian at the optimum is singular; the data "
                          "do not identify every parameter and standard errors are not available",
                          ConvergenceWarning, stacklevel=3)
        return self

    def _no_maximum_error(self, best: dict) -> ModelError:
        """The error for a fit without an interior maximum, naming the parameters along which the
        likelihood is flat or still rising (the weakest direction of the Hessian)."""
        name = type(self).__name__
        theta = best["theta"]
        found = ", ".join(f"{k}={v:.4g}" for k, v in zip(self._param_names, np.exp(theta), strict=True))
        if np.isfinite(best["step"]):  # a proper maximum, approached too slowly
            return ModelError(f"{name} did not converge: the last Newton step was {best['step']:.2g} on the "
                              f"log scale after {best['nfev']} likelihood evaluations (at {found})",
                              hint="pass initial_params near a plausible answer or a larger max_iter")
        hessian = best["hessian"]
        drifting = np.abs(theta) > 10  # beyond e^10 ~ 2e4 or below e^-10 ~ 5e-5
        if np.isfinite(hessian).all():
            weakest = np.abs(np.linalg.eigh(hessian)[1][:, 0])
            drifting |= weakest >= 0.3 * weakest.max()
        names = [n for n, d in zip(self._param_names, drifting, strict=True) if d] or list(self._param_names)
        return ModelError(
            f"{name}: the log-likelihood has no interior maximum -- it is flat or still rising along "
            f"{', '.join(names)} (best point found: {found})",
            hint=f"the data cannot pin down {', '.join(names)}: typically too few customers, or no sign "
                 "of dropout (everyone still buying) or of heterogeneity; fit more customers or a longer "
                 "period, or use a simpler model")

    def _validated(self, named, weights) -> tuple[dict[str, np.ndarray], np.ndarray]:
        data, _ = as_float_arrays(named)
        n = next(iter(data.values())).size
        if weights is None:
            w = np.ones(n)
        else:
            w = as_float_arrays({"weights": weights})[0]["weights"]
            if w.size == 1:
                w = np.full(n, w[0])
            if w.size != n:
                raise InputError(f"weights has {w.size} values for {n} customers")
            check_nonnegative({"weights": w})
        if n == 0:
            raise InputError(f"{type(self).__name__}.fit got no customers")
        self._check_data(data)
        if not w.sum() > 0:
            raise InputError("the weights sum to 0: there is no customer to fit")
        return data, w

    def _starts(self, data, weights) -> list[np.ndarray]:
        k = len(self._param_names)
        if self.initial_params is not None:
            missing = set(self._param_names) - set(self.initial_params)
            bad = {n: v for n, v in self.initial_params.items() if not (np.isfinite(v) and v > 0)}
            if missing or bad:
                raise InputError(f"initial_params needs a positive number for each of "
                                 f"{', '.join(self._param_names)}; missing {sorted(missing)}, bad {bad}")
            first = np.log([float(self.initial_params[n]) for n in self._param_names])
        else:
            first = np.asarray(self._default_log_params(data, weights), dtype=float)
        first = np.clip(first, -LOG_PARAM_BOUND + 1, LOG_PARAM_BOUND - 1)
        # deterministic fall-backs: the start scaled up and down, then all parameters at 1
        return [first, first + 1.0, first - 1.0, np.zeros(k)]

    # ---------------------------------------------------------------- reporting

    def summary(self) -> pd.DataFrame:
        """The estimates with standard errors and 95% confidence intervals.

        Returns
        -------
        pandas.DataFrame
            Index: the parameter names; columns ``estimate``, ``std_error`` (delta method from the
            log scale), ``ci_low`` and ``ci_high`` (``exp(log estimate -+ 1.96 se(log))``). NaN
            where the Hessian is singular (see ``converged_``).
        """
        check_is_fitted(self, "params_")
        theta = self._log_params
        se_log = np.sqrt(np.where(np.diag(self._log_covariance) >= 0, np.diag(self._log_covariance), np.nan))
        est = np.exp(theta)
        return pd.DataFrame({"estimate": est, "std_error": est * se_log,
                             "ci_low": np.exp(theta - _Z95 * se_log),
                             "ci_high": np.exp(theta + _Z95 * se_log)},
                            index=pd.Index(list(self._param_names), name="parameter"))

    def _format_params(self) -> str:
        return ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())

    # ---------------------------------------------------------------- predictions

    def _prediction_inputs(self, named: dict[str, object], *, horizons: tuple[str, ...] = (),
                           counts: tuple[str, ...] = ()
                           ) -> tuple[dict[str, np.ndarray], pd.Index | None, bool]:
        """Check fitted; convert and broadcast the inputs; validate the model's data columns, the
        ``horizons`` (>= 0) and the ``counts`` (whole numbers >= 0).

        Returns the arrays, the index of the first Series input (or None), and whether every
        input was a scalar (then the output is a float).
        """
        check_is_fitted(self, "params_")
        arrays, index = as_float_arrays(named)
        self._check_data({k: arrays[k] for k in self._data_names if k in arrays})
        check_nonnegative({k: arrays[k] for k in (*horizons, *counts)})
        check_integer({k: arrays[k] for k in counts})
        scalar = all(np.ndim(v) == 0 and not isinstance(v, pd.Series) for v in named.values())
        return arrays, index, scalar

    @staticmethod
    def _output(values: np.ndarray, index: pd.Index | None, scalar: bool):
        """``values`` as a Series on ``index``, a float for scalar inputs, else an array."""
        if index is not None:
            return pd.Series(values, index=index)
        if scalar:
            return float(values[0])
        return values


class FrequencyRecencyTModel(BTYDModel):
    """Base of the continuous-time models fitted on ``(frequency, recency, T)`` (BG/NBD, MBG/NBD,
    Pareto/NBD): their ``fit``, input checks and the "somebody repeated" requirement."""

    _data_names = ("frequency", "recency", "T")

    def fit(self, frequency, recency, T, weights=None):
        """Fit the model to per-customer summaries.

        Parameters
        ----------
        frequency : array_like of int, shape (n,)
            Repeat purchases in ``(0, T]`` (purchases after the first one).
        recency : array_like, shape (n,)
            Time of the last repeat purchase since the first purchase (0 when ``frequency`` is 0).
        T : array_like or float, shape (n,)
            Age: time from the first purchase to the end of the calibration period, in the same
            unit as ``recency`` (the model's time unit).
        weights : array_like, shape (n,), optional
            Number of customers with each row (default 1 each).

        Returns
        -------
        self
        """
        return self._fit({"frequency": frequency, "recency": recency, "T": T}, weights)

    def _check_data(self, data):
        check_frequency_recency_T(data)

    def _check_identifiable(self, data, weights):
        check_repeat_buyers(type(self).__name__, data["frequency"], weights)


# --------------------------------------------------------------------------- private kernels


def unique_rows(data: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The unique rows of the equal-length columns ``data`` (sorted lexicographically, in the
    order of ``data``'s keys) and, for every input row, the position of its unique row.

    Each column gets sorted codes (whole numbers in ``[0, n)``, such as frequencies, are their
    own codes; other columns are factorised with a hash table), the codes are combined into one
    integer key per row that keeps the lexicographic order, and the keys are ranked -- through a
    table over all possible keys when there are few (a bit per key: no hashing, no sort), else by
    factorising them: about 45 ms for a million rows of three columns.

    Returns
    -------
    unique : dict of str to ndarray, shape (u,)
    inverse : ndarray of int64, shape (n,)
        ``unique[name][inverse] == data[name]``.
    """
    columns = [np.asarray(values) for values in data.values()]
    n = columns[0].size
    key, size = np.zeros(n, dtype=np.int64), 1
    for values in columns:
        codes, n_levels = _sorted_codes(values)
        if size * n_levels >= 2**62:  # the combined key would overflow: renumber it first
            key, size = _rank(key, size)
        key = key * n_levels + codes
        size *= n_levels
    inverse, n_unique = _rank(key, size)
    some_row = np.empty(n_unique, dtype=np.int64)
    some_row[inverse] = np.arange(n)  # any row of each group: its values are the group's
    return {name: values.astype(np.float64, copy=False)[some_row]
            for name, values in zip(data, columns, strict=True)}, inverse


def _sorted_codes(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes of ``values`` in the order of the values, and how many codes there may be."""
    n = values.size
    if n and values.dtype.kind in "iuf" and 0 <= values.min() and values.max() < n:
        whole = values.astype(np.int64)
        if np.array_equal(whole, values):  # counts: their own codes (a few unused ones do no harm)
            return whole, int(whole.max()) + 1
    codes, levels = pd.factorize(values, sort=True)
    return codes.astype(np.int64, copy=False), len(levels)


def _rank(key: np.ndarray, size: int) -> tuple[np.ndarray, int]:
    """Each of ``key``'s values (integers in ``[0, size)``) replaced by its rank among the distinct
    values, and the number of distinct values."""
    if size <= max(_DENSE_KEYS_MIN, min(_DENSE_KEYS_PER_ROW * key.size, _DENSE_KEYS_MAX)):
        present = np.zeros(size, dtype=bool)
        present[key] = True
        distinct = np.flatnonzero(present)
        rank = np.empty(size, dtype=np.int32 if distinct.size < 2**31 else np.int64)
        rank[distinct] = np.arange(distinct.size, dtype=rank.dtype)
        return rank[key].astype(np.int64), int(distinct.size)
    codes, levels = pd.factorize(key, sort=True)
    return codes.astype(np.int64, copy=False), len(levels)


def at_counts(fn: Callable[[np.ndarray], np.ndarray], base, counts: np.ndarray,
              scale: float = 1.0) -> np.ndarray:
    """``fn(base + scale * counts)`` for whole-number ``counts >= 0`` of shape (n,), through a
    table over ``0..max(counts)`` when that is not longer than ``counts`` (the usual case:
    frequencies are few and small), so a special function is evaluated once per distinct count.
    The arguments are the same numbers either way, so the values are identical."""
    top = int(counts.max(initial=0))
    if top <= counts.size:
        return fn(base + scale * np.arange(top + 1.0))[counts.astype(np.int64)]
    return fn(base + scale * counts)


def bridge_removable(fn: Callable[[np.ndarray], np.ndarray], u: np.ndarray, at: float,
                     width: float) -> np.ndarray:
    """``fn(u)``, with the values where ``|u - at| < width`` replaced by the straight line between
    ``fn(at - 2 width)`` and ``fn(at + 2 width)``.

    For closed forms with a removable singularity at ``u = at`` (a ``0/0``): near it the closed
    form cancels catastrophically, the line is off by ``O(width^2)`` only. ``fn`` maps an array
    shaped like ``u`` to an array of the same shape.
    """
    u = np.asarray(u, dtype=float)
    near = np.abs(u - at) < width
    if not near.any():
        return fn(u)
    lo, hi = at - 2 * width, at + 2 * width
    out = fn(np.where(near, hi, u))
    f_lo, f_hi = fn(np.full_like(u, lo)), fn(np.full_like(u, hi))
    return np.where(near, f_lo + (u - lo) * (f_hi - f_lo) / (hi - lo), out)


def _compress(data: dict[str, np.ndarray], weights: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The unique rows of ``data`` with the weights of their duplicates summed; rows of weight 0
    dropped."""
    keep = weights > 0
    unique, inverse = unique_rows({k: v[keep] for k, v in data.items()})
    return unique, np.bincount(inverse, weights=weights[keep], minlength=next(iter(unique.values())).size)


def _numerical_hessian(gradient: Callable[[np.ndarray], np.ndarray], theta: np.ndarray) -> np.ndarray:
    """Central differences of the analytic gradient, symmetrised."""
    k = theta.size
    hess = np.empty((k, k))
    for i in range(k):
        step = np.zeros(k)
        step[i] = _HESSIAN_STEP
        hess[:, i] = (gradient(theta + step) - gradient(theta - step)) / (2 * _HESSIAN_STEP)
    return (hess + hess.T) / 2


def _flat_towards_the_edge(objective, theta: np.ndarray) -> bool:
    """Whether the mean log-likelihood at ``theta`` (a point at the box's edge) is within
    ``_FLAT_TOL`` of that at the point pulled back by ``_PULL_BACK`` (log scale) in the coordinates
    at the edge: then the run reached the edge along a flat ridge (the data identify none of the
    points on it), not because the likelihood keeps rising towards a limiting model."""
    at_edge = np.abs(theta) >= LOG_PARAM_BOUND - 1e-3
    pulled_back = np.where(at_edge, theta - np.sign(theta) * _PULL_BACK, theta)
    return bool(objective(pulled_back)[0] - objective(theta)[0] < _FLAT_TOL)


def _inverse_or_nan(hessian: np.ndarray) -> np.ndarray:
    """The inverse of a positive-definite matrix; all-NaN when it is not positive definite."""
    try:
        chol = np.linalg.cholesky(hessian)
    except np.linalg.LinAlgError:
        return np.full_like(hessian, np.nan)
    inv_chol = np.linalg.inv(chol)
    return inv_chol.T @ inv_chol


def _maximise(objective, start: np.ndarray, max_iter: int, newton_first: bool = False) -> dict:
    """One L-BFGS-B run from ``start`` plus Newton polishing -- or, with ``newton_first``, Newton's
    method from ``start`` when it gets to an interior maximum on its own; ``objective`` is the
    mean negative log-likelihood and its gradient (and Hessian with ``hessian=True``). Returns
    the end point and its diagnostics."""
    # L-BFGS-B calls BLAS on vectors of 4 numbers; a multi-threaded BLAS spends 10x the work in
    # waking its threads, so the optimisation runs with one BLAS thread (restored on exit)
    with np.errstate(all="ignore"), threadpool_limits(limits=1, user_api="blas"):
        spent = 0
        if newton_first:
            newton = _newton_from_start(objective, start)
            if newton["converged"]:
                return newton
            spent = newton["nfev"]
        run = _maximise_quietly(objective, start, max_iter)
        return run | {"nfev": run["nfev"] + spent}


def _newton_from_start(objective, start: np.ndarray) -> dict:
    """Newton's method with a backtracking line search and a fresh Hessian each step; where the
    Hessian is not positive definite (far from the optimum), its eigenvalues are taken in
    absolute value (a descent direction that still follows the curvature). It converges only at a
    positive-definite Hessian, and gives up (``converged`` False) when a step would leave the box,
    no step length helps or the steps run out -- the cases L-BFGS-B and its diagnoses are there
    for."""
    theta = np.asarray(start, dtype=float)
    point = objective(theta, hessian=True)
    nfev = 1
    for _ in range(_NEWTON_FIRST_STEPS):
        f, grad, hessian = point
        if not (np.isfinite(f) and np.isfinite(hessian).all()):
            break
        curvature, axes = np.linalg.eigh(hessian)
        scale = np.abs(curvature).max()
        if not scale > 0:
            break
        step = axes @ ((axes.T @ grad) / np.maximum(np.abs(curvature), 1e-8 * scale))
        step_size = float(np.max(np.abs(step)))
        if step_size < _STEP_TOL and curvature.min() > 0:
            # the last step too, as the L-BFGS-B path takes it (the Hessian barely moves)
            f_last = objective(theta - step)[0]
            if f_last <= f:
                theta, f = theta - step, f_last
            return {"theta": theta, "f": f, "nfev": nfev + 1, "hessian": hessian, "step": step_size,
                    "converged": True, "at_bound": False}
        step *= min(1.0, _NEWTON_MAX_STEP / step_size)
        theta, point, used = _backtrack(objective, theta, f, grad, step)
        nfev += used
        if point is None:
            break
    return {"theta": theta, "f": np.inf, "nfev": nfev, "hessian": None, "step": np.inf,
            "converged": False, "at_bound": False}


def _backtrack(objective, theta, f, grad, step):
    """``(theta - length * step, objective there with the Hessian, passes used)`` for the first
    length 1, 1/2, 1/4, ... with Armijo's sufficient decrease; ``(theta, None, passes)`` when none
    within ``_NEWTON_HALVINGS`` has it or a step would leave the box."""
    used = 0
    for length in 0.5 ** np.arange(_NEWTON_HALVINGS):
        candidate = theta - length * step
        if np.any(np.abs(candidate) >= LOG_PARAM_BOUND - 1e-3):
            break
        point = objective(candidate, hessian=True)
        used += 1
        # room for rounding once the steps are tiny
        if point[0] <= f - 1e-4 * length * (grad @ step) + 1e-15 * max(1.0, abs(f)):
            return candidate, point, used
    return theta, None, used


def _maximise_quietly(objective, start: np.ndarray, max_iter: int) -> dict:
    # L-BFGS-B to a moderate tolerance and Newton from there is the fast path; where Newton
    # cannot finish (no interior maximum, a flat direction), the start is run again with a tight
    # tolerance, so that the diagnosis sees how far the likelihood leads
    fast = _lbfgs_then_newton(objective, start, max_iter, ftol=1e-12, gtol=1e-7)
    if fast["converged"] or fast["at_bound"]:
        return fast
    slow = _lbfgs_then_newton(objective, start, max_iter, ftol=1e-15, gtol=1e-10)
    return slow | {"nfev": slow["nfev"] + fast["nfev"]}


def _lbfgs_then_newton(objective, start: np.ndarray, max_iter: int, *, ftol: float,
                       gtol: float) -> dict:
    bounds = [(-LOG_PARAM_BOUND, LOG_PARAM_BOUND)] * start.size
    res = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": max_iter, "ftol": ftol, "gtol": gtol, "maxcor": 20})
    theta, f, nfev = np.asarray(res.x, dtype=float), float(res.fun), int(res.nfev)
    grad = np.asarray(res.jac, dtype=float)
    step_size, hessian = np.inf, np.full((start.size, start.size), np.nan)
    for _ in range(_NEWTON_STEPS):
        if not np.isfinite(f):
            break
        # a fresh Hessian only while the steps are large: near the optimum the last one is
        # accurate enough (a chord step), which saves 2k likelihood passes per step
        if not step_size < _REUSE_HESSIAN_BELOW:
            hessian = objective(theta, hessian=True)[2]
            nfev += 1
        try:
            np.linalg.cholesky(hessian)
            step = np.linalg.solve(hessian, grad)
        except np.linalg.LinAlgError:
            step_size = np.inf
            break
        step_size = float(np.max(np.abs(step)))
        if step_size < _STEP_TOL * 1e-3:
            break
        candidate = np.clip(theta - step, -LOG_PARAM_BOUND, LOG_PARAM_BOUND)
        f_new, grad_new = objective(candidate)
        nfev += 1
        if not (np.isfinite(f_new) and f_new <= f + 1e-15 * max(1.0, abs(f))):
            break  # the quadratic model no longer helps: we are at machine precision
        theta, f, grad = candidate, f_new, np.asarray(grad_new, dtype=float)
    at_bound = bool(np.any(np.abs(theta) >= LOG_PARAM_BOUND - 1e-3))
    return {"theta": theta, "f": f, "nfev": nfev, "hessian": hessian, "step": step_size,
            "converged": bool(np.isfinite(f) and step_size < _STEP_TOL), "at_bound": at_bound}
