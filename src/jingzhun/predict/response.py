"""The response model: who responds *when contacted* -- P(conversion | contacted, x), or the
expected amount (revenue) -- learned from the contacted customers of a past campaign.

It ranks customers by their response, not by the change the contact makes (that is uplift,
``predict/uplift.py``): a customer who would have bought anyway scores high here and near zero
there. Campaign planning needs both -- the response for the expected order value and offer cost
of a contacted customer, uplift for the incremental part -- and the response model alone where a
campaign had no control group (the classic "targeted modelling" of the field's worked examples).

Written as a thin estimator over any scikit-learn classifier / regressor (LightGBM by default,
with the uplift learners' settings and validation), so that both models see the same features.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from jingzhun.errors import InputError
from jingzhun.predict.uplift import _check_outcome, _check_X, _make_estimator, _response

__all__ = ["ResponseModel"]


class ResponseModel(BaseEstimator):
    """P(outcome | contacted, x) for ``outcome="binary"``, E[outcome | contacted, x] for
    ``"revenue"`` (in the unit of ``y``).

    Parameters
    ----------
    estimator : scikit-learn classifier (binary) or regressor (revenue), optional
        Default: LightGBM with small regularised trees on one thread.
    outcome : {"binary", "revenue"}, default "binary"
    random_state : int, default 0

    Attributes
    ----------
    model_ : fitted estimator
    n_features_in_ : int
    n_contacted_ : int
        Rows the model learned from (the treated ones when ``treatment`` was given).
    response_rate_ : float
        Mean outcome of those rows.
    """

    def __init__(self, estimator=None, *, outcome: str = "binary", random_state: int = 0):
        self.estimator = estimator
        self.outcome = outcome
        self.random_state = random_state

    def fit(self, X, y, treatment=None) -> ResponseModel:
        """Fit on the contacted customers: all rows, or those with ``treatment == 1``.

        Parameters
        ----------
        X : DataFrame or array of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            0/1 (binary) or an amount (revenue).
        treatment : array-like of shape (n_samples,), optional
            1 contacted, 0 control; control rows are left out.

        Returns
        -------
        self
        """
        outcome = _check_outcome(self.outcome)
        X = _check_X(X)
        y = np.asarray(y, dtype=float)
        if y.shape != (X.shape[0],):
            raise InputError(f"y must have one value per row of X ({X.shape[0]}); got shape {y.shape}")
        if treatment is not None:
            t = np.asarray(treatment)
            if t.shape != y.shape or not set(np.unique(t).tolist()) <= {0, 1}:
                raise InputError("treatment must be 0/1 with one value per row of X",
                                 hint="code the contacted arm 1 and the control arm 0")
            X, y = (X.loc[t == 1] if hasattr(X, "loc") else X[t == 1]), y[t == 1]
        if not np.isfinite(y).all():
            raise InputError("y has a missing or infinite value", hint="drop or fill them")
        if outcome == "binary" and (not set(np.unique(y).tolist()) <= {0.0, 1.0} or np.unique(y).size < 2):
            raise InputError(f"y must be 0/1 with both values among the contacted customers; found "
                             f"{sorted(np.unique(y).tolist())[:5]}",
                             hint="use outcome='revenue' for amounts")
        kind = "classifier" if outcome == "binary" else "regressor"
        self.model_ = _make_estimator(self.estimator, kind, self.random_state, type(self).__name__)
        self.model_.fit(X, y)
        self.n_features_in_ = X.shape[1]
        self.n_contacted_ = int(y.size)
        self.response_rate_ = float(y.mean())
        return self

    def predict(self, X) -> np.ndarray:
        """The expected response if contacted, shape (n_samples,): a probability for binary
        outcomes, an amount in ``y``'s unit for revenue."""
        check_is_fitted(self, "model_")
        X = _check_X(X)
        if X.shape[1] != self.n_features_in_:
            raise InputError(f"X has {X.shape[1]} features; ResponseModel was fitted with "
                             f"{self.n_features_in_}")
        return np.asarray(_response(self.model_, X, self.outcome), dtype=float)
