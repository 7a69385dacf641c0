"""Uplift (heterogeneous treatment effect) learners for randomised campaigns.

Each learner estimates, per customer, the effect of the treatment (a campaign contact) on the
outcome:

* ``outcome="binary"`` (0/1, e.g. converted): ``P(y=1 | t=1, x) - P(y=1 | t=0, x)``, a difference
  of probabilities in [-1, 1] (classifiers' ``predict_proba``);
* ``outcome="revenue"`` (e.g. spend in the campaign window): ``E[y | t=1, x] - E[y | t=0, x]``, in
  the outcome's unit (regressors' ``predict``).

Learners (Kunzel et al. 2019, "Metalearners for estimating heterogeneous treatment effects",
PNAS 116(10); Jaskowski & Jaroszewicz 2012 for the class transformation; Athey & Imbens 2015 for
the transformed outcome):

==========================  =====  ==========================================================
class                       key    idea
==========================  =====  ==========================================================
:class:`SLearner`           ``s``  one model on (x, t); uplift = m(x, 1) - m(x, 0)
:class:`TLearner`           ``t``  one model per arm; uplift = m1(x) - m0(x)
:class:`XLearner`           ``x``  T-learner, then models of the imputed effects per arm,
                                   blended by the propensity
:class:`ClassTransformation` ``ct`` one classifier of z = [y == t]; uplift = 2 P(z=1|x) - 1
                                   (binary outcomes only)
:class:`TransformedOutcome`  ``to`` one regressor of y* = y (t - p) / (p (1 - p))
==========================  =====  ==========================================================

``p`` -- the probability of treatment that ClassTransformation, TransformedOutcome and (by
default) XLearner use -- is the **treated share of the training sample**, the right value for a
randomised experiment with a fixed treated share. It is stored as ``treated_share_``.

``estimator=None`` means LightGBM (``LGBMClassifier`` / ``LGBMRegressor``, small and regularised
defaults, ``verbose=-1``, one thread: see ``_LGBM_DEFAULTS``); any scikit-learn classifier /
regressor may be passed and is cloned, never modified. ``X`` is a pandas DataFrame (numeric,
bool or ``category`` columns) or a 2-D numeric array; encode strings first (``pandas.get_dummies``).

The scores ``qini_auc_score``, ``uplift_auc_score`` and ``uplift_at_k`` (scikit-uplift's
definitions, arguments ``y_true, uplift, treatment``) are re-exported from
:mod:`jingzhun.predict.uplift_metrics`.
"""

from __future__ import annotations

import logging
import numbers
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone, is_classifier, is_regressor
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from jingzhun.errors import ConfigError, InputError
from jingzhun.predict._lightgbm import lightgbm_safe
from jingzhun.predict.uplift_metrics import qini_auc_score, uplift_at_k, uplift_auc_score

log = logging.getLogger(__name__)

__all__ = ["LEARNERS", "ClassTransformation", "SLearner", "TLearner", "TransformedOutcome",
           "XLearner", "make_learner", "qini_auc_score", "uplift_at_k", "uplift_auc_score"]

OUTCOMES = ("binary", "revenue")
_TREATMENT_COLUMN = "__treatment__"
_CT_UNWEIGHTED_TOLERANCE = 0.01  # |treated share - 0.5| tolerated without sample weights
# Small, regularised trees: uplift signals are a few points on top of noisy outcomes. One thread:
# on campaign-sized data (1e4-1e6 rows) LightGBM's OpenMP threads gain at most ~2x on an idle
# machine but slow down 5-20x when the cores are shared with other work (measured on 2 cores);
# pass your own LGBMClassifier(n_jobs=...) for more.
_LGBM_DEFAULTS = {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 15,
                  "min_child_samples": 100, "reg_lambda": 1.0, "n_jobs": 1, "verbose": -1}


# -- validation (public methods validate, private kernels assume valid data) --------------------
def _check_outcome(outcome, supported=OUTCOMES) -> str:
    if outcome not in supported:
        raise ConfigError(f"outcome={outcome!r} is not supported; expected one of {supported}",
                          hint='"binary" for 0/1 outcomes (conversion), "revenue" for amounts')
    return outcome


def _check_X(X, name: str = "X"):
    """``X`` as a DataFrame (kept, for LightGBM's categories; names LightGBM accepts) or a 2-D
    float array."""
    if isinstance(X, pd.DataFrame):
        bad = [c for c in X.columns if not (pd.api.types.is_numeric_dtype(X[c])
                                            or pd.api.types.is_bool_dtype(X[c])
                                            or isinstance(X[c].dtype, pd.CategoricalDtype))]
        if bad:
            raise InputError(f"{name}: column {bad[0]!r} has dtype {X[bad[0]].dtype}; features must "
                             "be numeric, bool or category",
                             hint="one-hot encode text columns (pandas.get_dummies) first")
        return lightgbm_safe(X)
    try:
        arr = np.asarray(X, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numeric: {exc}",
                         hint="pass a DataFrame or a 2-D numeric array") from exc
    if arr.ndim != 2:
        raise InputError(f"{name} must be 2-D (n_samples, n_features); got shape {arr.shape}",
                         hint="reshape a single feature with X.reshape(-1, 1)")
    return arr


def _check_fit_inputs(X, y, treatment, outcome: str):
    """Validated ``(X, y float (n,), t int (n,))``; errors name the argument and the bad value."""
    X = _check_X(X)
    y = np.asarray(y)
    t = np.asarray(treatment)
    for name, arr in (("y", y), ("treatment", t)):
        if arr.ndim != 1:
            raise InputError(f"{name} must be 1-D; got shape {arr.shape}")
    n = X.shape[0]
    if not (y.shape[0] == t.shape[0] == n):
        raise InputError(f"X, y and treatment must have equal length; got X: {n}, y: {y.shape[0]}, "
                         f"treatment: {t.shape[0]}")
    try:
        y = y.astype(float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"y must be numeric: {exc}") from exc
    if not np.isfinite(y).all():
        bad = y[~np.isfinite(y)][0]
        raise InputError(f"y has a missing or infinite value: {bad!r}", hint="drop or fill them")
    t_values = pd.unique(t)
    if not set(t_values.tolist()) <= {0, 1}:
        bad = next(v for v in t_values.tolist() if v not in (0, 1))
        raise InputError(f"treatment must be 0/1; found {bad!r}",
                         hint="code the treated arm 1 and the control arm 0")
    t = t.astype(np.int8)
    if t.min() == t.max():
        raise InputError(f"treatment has only one group (all {int(t[0])}); uplift needs both "
                         "treated (1) and control (0) customers")
    if outcome == "binary":
        bad = y[(y != 0) & (y != 1)]
        if bad.size:
            raise InputError(f"y must be 0/1 for outcome='binary'; found {bad[0]!r}",
                             hint="use outcome='revenue' for amounts")
        for arm in (0, 1):
            if np.unique(y[t == arm]).size < 2:
                raise InputError(f"y has a single value in the {'treated' if arm else 'control'} "
                                 "group; cannot model a binary outcome there")
    return X, y, t


def _with_treatment(X, value):
    """``X`` plus one column holding the treatment (a scalar or an array)."""
    if isinstance(X, pd.DataFrame):
        return X.assign(**{_TREATMENT_COLUMN: np.broadcast_to(value, (X.shape[0],)).astype(float)})
    col = np.broadcast_to(np.asarray(value, dtype=float), (X.shape[0],))
    return np.column_stack([X, col])


def _rows(X, mask):
    return X.loc[mask] if isinstance(X, pd.DataFrame) else X[mask]


def _default_estimator(kind: str, random_state):
    import lightgbm as lgb

    cls = lgb.LGBMClassifier if kind == "classifier" else lgb.LGBMRegressor
    return cls(random_state=random_state, **_LGBM_DEFAULTS)


def _make_estimator(estimator, kind: str, random_state, owner: str):
    """A fresh estimator of ``kind`` ('classifier' / 'regressor'): a clone of ``estimator`` with
    ``random_state`` set where it has one, or LightGBM's when ``None``."""
    if estimator is None:
        return _default_estimator(kind, random_state)
    ok = is_classifier(estimator) if kind == "classifier" else is_regressor(estimator)
    if not ok:
        raise ConfigError(f"{owner}: estimator {estimator!r} is not a scikit-learn {kind}",
                          hint=f"pass a {kind} (binary outcome: classifier with predict_proba; "
                               "revenue: regressor), or None for LightGBM")
    est = clone(estimator)
    if "random_state" in est.get_params() and est.get_params()["random_state"] is None:
        est.set_params(random_state=random_state)
    return est


def _proba1(model, X) -> np.ndarray:
    """P(class 1 | X) of a fitted classifier, shape (n,)."""
    return model.predict_proba(X)[:, list(model.classes_).index(1)]


def _response(model, X, outcome: str) -> np.ndarray:
    return _proba1(model, X) if outcome == "binary" else model.predict(X)


class _UpliftLearner(BaseEstimator):
    """Shared fit/predict plumbing: validation, feature bookkeeping, the fitted check."""

    _supports = OUTCOMES

    def _outcome(self) -> str:
        return _check_outcome(getattr(self, "outcome", "binary"), self._supports)

    def _kind(self) -> str:
        return "classifier" if self._outcome() == "binary" else "regressor"

    def _fresh(self, kind=None):
        return _make_estimator(self.estimator, kind or self._kind(), self.random_state,
                               type(self).__name__)

    def fit(self, X, y, treatment):
        """Fit on a randomised experiment.

        Parameters
        ----------
        X : DataFrame or array of shape (n_samples, n_features)
            Customer features before the treatment.
        y : array-like of shape (n_samples,)
            Outcome: 0/1 for ``outcome="binary"``, an amount (e.g. revenue) for ``"revenue"``.
        treatment : array-like of shape (n_samples,)
            1 = treated (contacted), 0 = control; both groups must be present.

        Returns
        -------
        self
        """
        outcome = self._outcome()
        names = list(X.columns) if isinstance(X, pd.DataFrame) else None  # the caller's names
        X, y, t = _check_fit_inputs(X, y, treatment, outcome)
        self.n_features_in_ = X.shape[1]
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):  # a refit on an array: no stale names
            del self.feature_names_in_
        self.treated_share_ = float(t.mean())
        log.debug("%s: fitting on %d rows (%d treated), %d features", type(self).__name__,
                  len(t), int(t.sum()), X.shape[1])
        self._fit(X, y, t)
        return self

    def predict(self, X) -> np.ndarray:
        """Estimated uplift per row, shape (n_samples,).

        Binary outcome: difference of conversion probabilities (treated minus control), in
        [-1, 1] for the meta-learners. Revenue: difference of expected outcome, in the unit of
        the ``y`` the learner was fitted on.
        """
        check_is_fitted(self, "treated_share_")
        X = _check_X(X)
        if X.shape[1] != self.n_features_in_:
            raise InputError(f"X has {X.shape[1]} features; {type(self).__name__} was fitted "
                             f"with {self.n_features_in_}")
        return np.asarray(self._predict(X), dtype=float)


class SLearner(_UpliftLearner):
    """S-learner: one model of the outcome on the features plus the treatment flag.

    Parameters
    ----------
    estimator : scikit-learn classifier (binary) or regressor (revenue), default None (LightGBM)
    outcome : {"binary", "revenue"}, default "binary"
    random_state : int, default 0
        Seed of the default LightGBM (and of a passed estimator whose ``random_state`` is None).

    Attributes
    ----------
    model_ : the fitted estimator on ``[X, treatment]``.
    treated_share_ : float, the training sample's treated share.
    """

    def __init__(self, estimator=None, *, outcome="binary", random_state=0):
        self.estimator = estimator
        self.outcome = outcome
        self.random_state = random_state

    def _fit(self, X, y, t):
        self.model_ = self._fresh().fit(_with_treatment(X, t), y)

    def _predict(self, X):
        outcome = self._outcome()
        return (_response(self.model_, _with_treatment(X, 1.0), outcome)
                - _response(self.model_, _with_treatment(X, 0.0), outcome))


class TLearner(_UpliftLearner):
    """T-learner: one outcome model per arm; uplift = m1(x) - m0(x).

    Parameters are as for :class:`SLearner`.

    Attributes
    ----------
    model_treated_, model_control_ : the fitted per-arm estimators.
    treated_share_ : float
    """

    def __init__(self, estimator=None, *, outcome="binary", random_state=0):
        self.estimator = estimator
        self.outcome = outcome
        self.random_state = random_state

    def _fit(self, X, y, t):
        self.model_treated_ = self._fresh().fit(_rows(X, t == 1), y[t == 1])
        self.model_control_ = self._fresh().fit(_rows(X, t == 0), y[t == 0])

    def _predict(self, X):
        outcome = self._outcome()
        return _response(self.model_treated_, X, outcome) - _response(self.model_control_, X, outcome)


class XLearner(_UpliftLearner):
    """X-learner (Kunzel et al. 2019).

    Stage 1 fits per-arm outcome models m1, m0; stage 2 regresses the imputed effects
    ``D1 = y - m0(x)`` on the treated and ``D0 = m1(x) - y`` on the controls (models tau1, tau0);
    the uplift is ``g(x) tau0(x) + (1 - g(x)) tau1(x)`` with ``g`` the propensity.

    Parameters
    ----------
    estimator : scikit-learn classifier (binary) or regressor (revenue), default None (LightGBM)
        Stage-1 outcome models. The stage-2 effect models are regressors: clones of
        ``estimator`` for revenue, LightGBM regressors when the stage-1 models are classifiers.
    outcome : {"binary", "revenue"}, default "binary"
    propensity : None, float in (0, 1), or a scikit-learn classifier, default None
        P(treated | x). None: the training sample's treated share (a randomised experiment);
        a float: that constant; a classifier: fitted on (X, treatment), its P(t=1 | x) is used.
    random_state : int, default 0

    Attributes
    ----------
    model_treated_, model_control_ : stage-1 models.
    effect_treated_, effect_control_ : stage-2 models (tau1, tau0).
    propensity_model_ : the fitted propensity classifier, or None.
    treated_share_ : float
    """

    def __init__(self, estimator=None, *, outcome="binary", propensity=None, random_state=0):
        self.estimator = estimator
        self.outcome = outcome
        self.propensity = propensity
        self.random_state = random_state

    def _effect_model(self):
        if self.estimator is not None and is_regressor(self.estimator):
            return self._fresh("regressor")
        return _default_estimator("regressor", self.random_state)

    def _fit(self, X, y, t):
        outcome = self._outcome()
        prop = self.propensity
        if isinstance(prop, numbers.Real) and not isinstance(prop, bool):
            if not 0.0 < prop < 1.0:
                raise ConfigError(f"XLearner: propensity={prop!r} must lie in (0, 1)")
        elif prop is not None and not is_classifier(prop):
            raise ConfigError(f"XLearner: propensity={prop!r} must be None, a float in (0, 1) or "
                              "a scikit-learn classifier")
        treated, control = _rows(X, t == 1), _rows(X, t == 0)
        self.model_treated_ = self._fresh().fit(treated, y[t == 1])
        self.model_control_ = self._fresh().fit(control, y[t == 0])
        d1 = y[t == 1] - _response(self.model_control_, treated, outcome)
        d0 = _response(self.model_treated_, control, outcome) - y[t == 0]
        self.effect_treated_ = self._effect_model().fit(treated, d1)
        self.effect_control_ = self._effect_model().fit(control, d0)
        self.propensity_model_ = (clone(prop).fit(X, t) if prop is not None
                                  and not isinstance(prop, numbers.Real) else None)

    def _propensity(self, X) -> np.ndarray | float:
        if self.propensity_model_ is not None:
            return np.clip(_proba1(self.propensity_model_, X), 0.01, 0.99)
        return self.treated_share_ if self.propensity is None else float(self.propensity)

    def _predict(self, X):
        g = self._propensity(X)
        return g * self.effect_control_.predict(X) + (1.0 - g) * self.effect_treated_.predict(X)


class ClassTransformation(_UpliftLearner):
    """Class transformation (Jaskowski & Jaroszewicz 2012), binary outcomes only.

    One classifier of ``z = 1`` when (treated and converted) or (control and not converted);
    uplift = ``2 P(z=1 | x) - 1``. The identity needs a treated share of 1/2: when the sample's
    share ``p`` differs, treated rows get weight ``0.5 / p`` and control rows ``0.5 / (1 - p)``
    (always, when the estimator accepts ``sample_weight``; one that does not is fitted unweighted,
    with a warning, when ``|p - 0.5| <= 0.01`` and refused otherwise). For revenue use
    :class:`TransformedOutcome`.

    Parameters
    ----------
    estimator : scikit-learn classifier, default None (LightGBM)
    random_state : int, default 0

    Attributes
    ----------
    model_ : the fitted classifier of z.
    treated_share_ : float
    """

    _supports = ("binary",)

    def __init__(self, estimator=None, *, random_state=0):
        self.estimator = estimator
        self.random_state = random_state

    def _fit(self, X, y, t):
        z = (y == t).astype(int)
        p = self.treated_share_
        model = self._fresh("classifier")
        if has_fit_parameter(model, "sample_weight"):
            self.model_ = model.fit(X, z, sample_weight=np.where(t == 1, 0.5 / p, 0.5 / (1.0 - p)))
            return
        if abs(p - 0.5) > _CT_UNWEIGHTED_TOLERANCE:
            raise ConfigError(f"ClassTransformation: the treated share is {p:.3f}, not 0.5, and "
                              f"{type(model).__name__}.fit takes no sample_weight",
                              hint="pass a classifier that accepts sample_weight, or use "
                                   "TransformedOutcome")
        # unweighted: the estimate is off by 2 (p - 0.5) (p1 + p0 - 1), at most 0.02 here
        warnings.warn(f"ClassTransformation: {type(model).__name__}.fit takes no sample_weight; "
                      f"fitted unweighted with a treated share of {p:.4f} (not exactly 0.5)",
                      UserWarning, stacklevel=3)
        self.model_ = model.fit(X, z)

    def _predict(self, X):
        return 2.0 * _proba1(self.model_, X) - 1.0


class TransformedOutcome(_UpliftLearner):
    """Transformed-outcome regression (Athey & Imbens 2015): binary or revenue outcomes.

    Regresses ``y* = y (t - p) / (p (1 - p))``, with ``p`` the training sample's treated share,
    whose conditional mean is the uplift ``E[y | t=1, x] - E[y | t=0, x]`` (in ``y``'s unit).
    Unbiased but noisy: it needs more data than the meta-learners.

    Parameters
    ----------
    estimator : scikit-learn regressor, default None (LightGBM)
    random_state : int, default 0

    Attributes
    ----------
    model_ : the fitted regressor of y*.
    treated_share_ : float
    """

    def __init__(self, estimator=None, *, random_state=0):
        self.estimator = estimator
        self.random_state = random_state

    def _outcome(self) -> str:
        return "revenue"  # any numeric y (0/1 or amounts): the regression is the same

    def _fit(self, X, y, t):
        p = self.treated_share_
        self.model_ = self._fresh("regressor").fit(X, y * (t - p) / (p * (1.0 - p)))

    def _predict(self, X):
        return self.model_.predict(X)


LEARNERS: dict[str, type] = {"s": SLearner, "t": TLearner, "x": XLearner,
                             "ct": ClassTransformation, "to": TransformedOutcome}


def make_learner(name: str, outcome: str, estimator=None, random_state=0):
    """A learner by key (see ``LEARNERS``) for ``outcome`` ("binary" or "revenue").

    Raises
    ------
    ConfigError
        For an unknown key, an unknown outcome, or a learner that does not support the outcome
        (``"ct"`` is binary only).
    """
    if name not in LEARNERS:
        raise ConfigError(f"unknown uplift learner {name!r}; expected one of {sorted(LEARNERS)}",
                          hint="s, t, x: meta-learners; ct: class transformation; to: transformed "
                               "outcome")
    _check_outcome(outcome)
    cls = LEARNERS[name]
    if outcome not in cls._supports:
        raise ConfigError(f"uplift learner {name!r} ({cls.__name__}) does not support "
                          f"outcome={outcome!r}",
                          hint="for revenue use 's', 't', 'x' or 'to'")
    if "outcome" in cls._get_param_names():
        return cls(estimator, outcome=outcome, random_state=random_state)
    return cls(estimator, random_state=random_state)
