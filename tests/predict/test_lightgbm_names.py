"""Any feature name reaches LightGBM: the estimators rename JSON-special characters on the way in
(``predict._lightgbm``) and report importances under the caller's names."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jingzhun.plan.lookalike import LookalikeModel
from jingzhun.predict._lightgbm import lightgbm_names, lightgbm_safe
from jingzhun.predict.churn import ChurnModel
from jingzhun.predict.uplift import make_learner

NAMES = ['city=北京:朝阳', 'history[$]', 'tags{"vip"}', "city=北京_朝阳"]


def _frame(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, len(NAMES))), columns=NAMES)
    return X, rng


def test_names_are_one_to_one_and_stable():
    names = lightgbm_names(NAMES)
    assert names == ["city=北京_朝阳", "history_$_", "tags__vip__", "city=北京_朝阳__2"]
    assert lightgbm_names(NAMES) == names and len(set(names)) == len(NAMES)
    X, _ = _frame(5)
    assert list(lightgbm_safe(X).columns) == names and list(X.columns) == NAMES  # caller's frame kept
    safe = X.set_axis(names, axis=1)
    assert lightgbm_safe(safe) is safe


def test_uplift_churn_and_lookalike_fit_on_such_names():
    X, rng = _frame()
    t = (rng.random(len(X)) < 0.5).astype(int)
    y = (rng.random(len(X)) < 0.2 + 0.2 * t * (X[NAMES[1]] > 0)).astype(int)
    for name in ("s", "t", "x"):
        learner = make_learner(name, "binary", random_state=0).fit(X, y, t)
        assert np.isfinite(learner.predict(X)).all() and list(learner.feature_names_in_) == NAMES
    churn = ChurnModel(random_state=0).fit(X, y)
    assert np.isfinite(churn.predict_churn_prob(X)).all()
    assert set(churn.feature_importances().index) <= set(NAMES)


def test_lookalike_fits_on_such_names():
    X, rng = _frame()
    value = pd.Series(np.exp(X[NAMES[0]] + rng.normal(size=len(X))))
    model = LookalikeModel(features=NAMES, random_state=0).fit(X, value)
    assert model.features_ == NAMES
    assert np.isfinite(model.score(X)).all() and model.auc_ > 0.6
