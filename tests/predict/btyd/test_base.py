"""The shared machinery of the BTYD models (``_base.py``), exercised through BG/NBD: compression to
unique rows, input errors that name the value and its position, sklearn conventions, output
types, convergence errors and warnings."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from jingzhun.errors import InputError, ModelError
from jingzhun.predict.btyd import BetaGeoModel, ConvergenceWarning, ModifiedBetaGeoModel
from jingzhun.predict.btyd import _base as base
from tests.predict.btyd.helpers import rel_err


def _fit(frame, **kwargs):
    return BetaGeoModel(**kwargs).fit(frame["frequency"], frame["recency"], frame["T"])


def test_duplicated_rows_and_weights_give_the_same_fit(cdnow):
    by_row = _fit(cdnow)
    counts = cdnow.groupby(["frequency", "recency", "T"]).size().reset_index(name="n")
    by_weight = BetaGeoModel().fit(counts["frequency"], counts["recency"], counts["T"], weights=counts["n"])
    assert rel_err(list(by_weight.params_.values()), list(by_row.params_.values())) < 1e-8
    assert by_weight.log_likelihood_ == pytest.approx(by_row.log_likelihood_, rel=1e-12)
    assert by_weight.n_rows_ == by_row.n_rows_ == len(counts)
    assert by_weight.n_customers_ == by_row.n_customers_ == len(cdnow)
    # rows of weight 0 count for nothing
    padded = BetaGeoModel().fit(list(counts["frequency"]) + [7], list(counts["recency"]) + [1.0],
                                list(counts["T"]) + [2.0], weights=list(counts["n"]) + [0])
    assert padded.params_ == pytest.approx(by_weight.params_, rel=1e-10)


def test_unique_rows_round_trip():
    data = {"a": np.array([3.0, 1.0, 3.0, 2.0, 1.0]), "b": np.array([0.5, 0.5, 0.5, 0.0, 0.25])}
    unique, inverse = base.unique_rows(data)
    assert len(unique["a"]) == 4
    for name in data:
        np.testing.assert_array_equal(unique[name][inverse], data[name])


@pytest.mark.parametrize("dense", [True, False])
def test_unique_rows_are_sorted_and_equal_pandas_groups(monkeypatch, dense):
    """Counts (their own codes), floats, negatives and huge values; the dense key table and the
    hash path give the same answer."""
    if not dense:
        monkeypatch.setattr(base, "_DENSE_KEYS_MIN", 0)
        monkeypatch.setattr(base, "_DENSE_KEYS_PER_ROW", 0)
    rng = np.random.default_rng(5)
    n = 5_000
    data = {"count": rng.poisson(3.0, n).astype(float), "weeks": np.round(rng.uniform(0, 5, n), 1),
            "signed": rng.choice([-2.5, 0.0, 1e300, 7.0], n), "int": rng.integers(0, 3, n)}
    unique, inverse = base.unique_rows(data)
    want = pd.DataFrame(data).drop_duplicates().sort_values(list(data), ignore_index=True)
    pd.testing.assert_frame_equal(pd.DataFrame(unique), want.astype(float))
    for name in data:
        np.testing.assert_array_equal(unique[name][inverse], data[name])


def test_bridge_removable_is_accurate_across_the_singularity():
    def naive(u):
        with np.errstate(all="ignore"):
            return np.expm1(u) / u
    u = np.array([-1e-3, -1e-9, 0.0, 1e-12, 1e-3])
    exact = np.array([0.999500166625008, 0.9999999995, 1.0, 1.0000000000005, 1.000500166708342])
    assert rel_err(base.bridge_removable(naive, u, 0.0, 1e-6), exact) < 1e-11


@pytest.mark.parametrize(("args", "message"), [
    (([1, 2], [3.0, 40.0], [39.0, 39.0]), r"recency\[1\] = 40 is greater than T\[1\] = 39"),
    (([1, -2], [3.0, 4.0], 39.0), r"frequency\[1\] = -2 is negative"),
    (([1, 2.5], [3.0, 4.0], 39.0), r"frequency\[1\] = 2.5 is not a whole number"),
    (([0, 0, 1], [0.0, 2.0, 1.0], 39.0), r"recency\[1\] = 2 but frequency\[1\] = 0"),
    (([1, 2], [3.0, np.nan], 39.0), r"recency\[1\] = nan is not finite"),
    (([1, 2], [3.0, 4.0], [39.0, np.inf]), r"T\[1\] = inf is not finite"),
    (([1, 2, 3], [3.0, 4.0], 39.0), r"inputs differ in length"),
    ((["a"], [3.0], 39.0), r"frequency must be numeric"),
    ((pd.DataFrame({"f": [1]}), [3.0], 39.0), r"frequency must be a 1-d array or a Series"),
    (([], [], []), r"got no customers"),
])
def test_bad_inputs_name_the_value_and_its_position(args, message):
    with pytest.raises(InputError, match=message):
        BetaGeoModel().fit(*args)


def test_bad_inputs_count_every_bad_position():
    message = r"recency\[0\] = 50 is greater than T\[0\] = 39 \(3 positions in all\)"
    with pytest.raises(InputError, match=message):
        BetaGeoModel().fit([1, 1, 1, 1], [50.0, 1.0, 60.0, 70.0], 39.0)


@pytest.mark.parametrize(("weights", "message"), [
    ([1, 2], r"weights has 2 values for 3 customers"),
    ([1, -1, 1], r"weights\[1\] = -1 is negative"),
    ([0, 0, 0], r"the weights sum to 0"),
])
def test_bad_weights(weights, message):
    with pytest.raises(InputError, match=message):
        BetaGeoModel().fit([1, 2, 0], [3.0, 4.0, 0.0], 39.0, weights=weights)


def test_initial_params_are_checked_and_used(cdnow):
    with pytest.raises(InputError, match="initial_params needs a positive number"):
        _fit(cdnow, initial_params={"r": 1.0, "alpha": 1.0, "a": -1.0})
    started = _fit(cdnow, initial_params={"r": 0.3, "alpha": 4.0, "a": 0.8, "b": 2.5})
    assert started.params_ == pytest.approx(_fit(cdnow).params_, rel=1e-7)


@pytest.mark.parametrize("cls", [BetaGeoModel, ModifiedBetaGeoModel])
def test_newton_from_the_start_finds_the_same_optimum_in_fewer_passes(cdnow, monkeypatch, cls):
    """BG/NBD's analytic Hessian lets Newton start at the default start (not positive definite
    there on CDNOW); the L-BFGS-B path is the reference."""
    args = (cdnow["frequency"], cdnow["recency"], cdnow["T"])
    newton = cls().fit(*args)
    monkeypatch.setattr(cls, "_analytic_hessian", False)
    lbfgs = cls().fit(*args)
    assert newton.converged_ and lbfgs.converged_
    assert rel_err(list(newton.params_.values()), list(lbfgs.params_.values())) < 1e-8
    assert newton.log_likelihood_ == pytest.approx(lbfgs.log_likelihood_, rel=1e-13)
    np.testing.assert_allclose(newton.covariance_, lbfgs.covariance_, rtol=1e-5)
    assert newton.n_iter_ < lbfgs.n_iter_


def test_scikit_learn_conventions(cdnow):
    model = BetaGeoModel(max_iter=500)
    assert model.get_params() == {"initial_params": None, "max_iter": 500}
    assert clone(model).set_params(max_iter=100).max_iter == 100
    with pytest.raises(NotFittedError):
        model.summary()
    with pytest.raises(NotFittedError):
        model.expected_purchases(1.0, 1, 1.0, 2.0)
    assert model.fit(cdnow["frequency"], cdnow["recency"], cdnow["T"]) is model


def test_outputs_follow_the_inputs(cdnow):
    model = _fit(cdnow)
    index = pd.Index([f"c{i}" for i in range(3)], name="customer_id")
    series = model.probability_alive(pd.Series([0, 2, 5], index=index),
                                     pd.Series([0.0, 30.0, 2.0], index=index), 38.86)
    assert isinstance(series, pd.Series) and series.index.equals(index)
    assert isinstance(model.probability_alive(2, 30.43, 38.86), float)
    array = model.expected_purchases([1.0, 39.0], 2, 30.43, 38.86)
    assert isinstance(array, np.ndarray) and array.shape == (2,) and array[1] > array[0]
    with pytest.raises(InputError, match=r"recency\[0\] = 40 is greater than T\[0\] = 38.86"):
        model.expected_purchases(1.0, 2, 40.0, 38.86)
    with pytest.raises(InputError, match=r"t\[0\] = -1 is negative"):
        model.expected_purchases(-1.0, 2, 30.0, 38.86)


def test_no_dropout_in_the_data_is_a_model_error_naming_the_dropout_parameters():
    """Pure NBD data (nobody drops out): the likelihood rises for ever towards b -> infinity."""
    rng = np.random.default_rng(0)
    rate = rng.gamma(0.5, 1 / 5.0, 20_000)
    frequency = rng.poisson(rate * 39.0)
    recency = np.where(frequency > 0, 39.0 * rng.beta(np.maximum(frequency, 1), 1.0), 0.0)
    with pytest.raises(ModelError, match=r"no interior maximum .* along a, b") as err:
        BetaGeoModel().fit(frequency, recency, 39.0)
    assert "dropout" in err.value.hint


def test_an_unfinished_optimisation_is_a_model_error(cdnow, monkeypatch):
    monkeypatch.setattr(base, "_NEWTON_STEPS", 1)
    monkeypatch.setattr(base, "_NEWTON_FIRST_STEPS", 1)  # BG/NBD's Newton from the start
    with pytest.raises(ModelError, match="did not converge: the last Newton step") as err:
        _fit(cdnow, max_iter=1)
    assert "max_iter" in err.value.hint


def test_a_parameter_at_the_edge_of_the_box_warns(cdnow, monkeypatch):
    monkeypatch.setattr(base, "LOG_PARAM_BOUND", 1.0)  # alpha = 4.4 lies beyond e^1
    with pytest.warns(ConvergenceWarning, match="alpha ran to the edge"):
        model = _fit(cdnow)
    assert not model.converged_ and model.summary()["std_error"].isna().all()
    assert np.isfinite(list(model.params_.values())).all()


def test_importing_changes_no_global_state():
    """Nothing of ours at import (scipy and scikit-learn add warning filters of their own)."""
    code = ("import warnings, numpy as np, pandas as pd, scipy.optimize, scipy.special, scipy.stats, "
            "sklearn.base, sklearn.utils.validation, threadpoolctl; f = list(warnings.filters); "
            "e = np.geterr(); o = pd.get_option('mode.copy_on_write'); "
            "import jingzhun.predict.btyd; "
            "assert warnings.filters == f and np.geterr() == e and pd.get_option('mode.copy_on_write') == o")
    subprocess.run([sys.executable, "-c", code], check=True)
