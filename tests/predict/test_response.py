"""The response model: P(conversion | contacted, x) learned from the contacted customers only."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import roc_auc_score

from jingzhun.errors import InputError
from jingzhun.predict.response import ResponseModel
from jingzhun.simulate.uplift import FEATURES, model_matrix, simulate_uplift_population


@pytest.fixture(scope="module")
def campaign():
    train, _ = simulate_uplift_population(20_000, seed=3)
    test, truth = simulate_uplift_population(10_000, seed=4)
    return train, test, truth


def test_ranks_contacted_customers_by_their_true_response(campaign):
    train, test, truth = campaign
    model = ResponseModel().fit(train[list(FEATURES)], train["converted"], train["treatment"])
    assert model.n_contacted_ == int(train["treatment"].sum())
    p = model.predict(test[list(FEATURES)])
    assert ((p >= 0) & (p <= 1)).all()
    true_response = truth.p0 + truth.tau  # P(conversion | contacted) of each test customer
    assert np.corrcoef(p, true_response)[0, 1] > 0.8
    contacted = test["treatment"].to_numpy() == 1
    assert roc_auc_score(test["converted"][contacted], p[contacted]) > 0.6
    assert abs(p[contacted].mean() - test["converted"][contacted].mean()) < 0.01


def test_control_rows_are_left_out_and_any_estimator_works(campaign):
    train, _, _ = campaign
    X, y, t = model_matrix(train), train["converted"].to_numpy(), train["treatment"].to_numpy()
    only_treated = ResponseModel(LogisticRegression(max_iter=500)).fit(X[t == 1], y[t == 1])
    with_treatment = ResponseModel(LogisticRegression(max_iter=500)).fit(X, y, t)
    np.testing.assert_allclose(only_treated.predict(X), with_treatment.predict(X))
    revenue = ResponseModel(LinearRegression(), outcome="revenue").fit(X, train["revenue_amount"], t)
    assert revenue.response_rate_ == pytest.approx(train["revenue_amount"][t == 1].mean())


def test_misuse_is_a_clear_error(campaign):
    train, _, _ = campaign
    X = train[list(FEATURES)]
    with pytest.raises(NotFittedError):
        ResponseModel().predict(X)
    with pytest.raises(InputError, match="0/1 with both values"):
        ResponseModel().fit(X, np.zeros(len(X)))
    with pytest.raises(InputError, match="treatment must be 0/1"):
        ResponseModel().fit(X, train["converted"], np.full(len(X), 2))
    with pytest.raises(InputError, match="features"):
        ResponseModel().fit(X, train["converted"]).predict(X.iloc[:, :2])
