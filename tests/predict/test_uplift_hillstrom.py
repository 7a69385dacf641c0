"""Hillstrom's e-mail test (2008): our learners against scikit-uplift 0.5.1's on the same split.

"Womens E-Mail" (treated) vs "No E-Mail" (control), 42,693 customers, outcome ``visit``; features
one-hot encoded (recency, history, mens, womens, zip_code, newbie, channel; history_segment
only bands history); a 70/30 split stratified by treatment and outcome, seed 42. Every model
uses the same base estimator: LightGBM with our defaults (``_LGBM_DEFAULTS``). Scores on the test
part: Qini coefficient and uplift@30% ("by_group" as scikit-uplift's tutorial, and "overall").

Measured (2026-12-06): uplift@30% by_group -- ours s 0.0802, x 0.0750, to 0.0635, t 0.0562,
ct 0.0510; scikit-uplift SoloModel 0.0802, TwoModels 0.0562, TwoModels ddr_control 0.0609,
ClassTransformation 0.0531. Our S- and T-learners give the same predictions as SoloModel and
TwoModels (asserted); scikit-uplift's tutorial reports 0.0661 with CatBoost on its own split.

Tolerance of the best-of comparison: 0.005 (half a point). The standard error of an uplift@30%
on this test part is about 0.013 (~1,900 customers per arm in the top 30%, visit rates
0.1-0.25), so the assertion reads "ours is at least as good, up to well under half a standard
error"; only the learners that differ from scikit-uplift's (X, CT, TO) can move it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from jingzhun.predict.uplift import (
    _LGBM_DEFAULTS,
    LEARNERS,
    make_learner,
    qini_auc_score,
    uplift_at_k,
)

pytestmark = pytest.mark.shared

HILLSTROM = "hillstrom/Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv"
FEATURES = ["recency", "history", "mens", "womens", "zip_code", "newbie", "channel"]
TOLERANCE = 0.005
K = 0.3


@pytest.fixture
def split(shared_data):
    path = shared_data / HILLSTROM
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    df = pd.read_csv(path)
    df = df[df["segment"].isin(["Womens E-Mail", "No E-Mail"])].reset_index(drop=True)
    t = (df["segment"] == "Womens E-Mail").astype(int).to_numpy()
    y = df["visit"].to_numpy()
    X = pd.get_dummies(df[FEATURES], columns=["zip_code", "channel"], dtype=float)
    X_tr, X_te, y_tr, y_te, t_tr, t_te = train_test_split(
        X, y, t, test_size=0.3, stratify=2 * t + y, random_state=42)
    return X_tr, X_te, y_tr, y_te, t_tr, t_te


def _lgbm():
    import lightgbm as lgb

    return lgb.LGBMClassifier(random_state=0, **_LGBM_DEFAULTS)


def _theirs() -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        from sklift.models import ClassTransformation, SoloModel, TwoModels
    return {"SoloModel": lambda: SoloModel(_lgbm()),
            "TwoModels": lambda: TwoModels(_lgbm(), _lgbm()),
            "TwoModels ddr_control": lambda: TwoModels(_lgbm(), _lgbm(), method="ddr_control"),
            "ClassTransformation": lambda: ClassTransformation(_lgbm())}


def _scores(y, u, t) -> dict:
    return {"qini": qini_auc_score(y, u, t),
            "u@30 by_group": uplift_at_k(y, u, t, strategy="by_group", k=K),
            "u@30 overall": uplift_at_k(y, u, t, strategy="overall", k=K)}


def test_hillstrom_ours_vs_scikit_uplift(split):
    X_tr, X_te, y_tr, y_te, t_tr, t_te = split
    assert len(X_tr) + len(X_te) == 42_693
    ours = {k: make_learner(k, "binary").fit(X_tr, y_tr, t_tr).predict(X_te) for k in LEARNERS}
    theirs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        for name, make in _theirs().items():
            theirs[name] = np.asarray(make().fit(X_tr, y_tr, t_tr).predict(X_te), dtype=float)
    table = pd.DataFrame(
        [{"model": f"ours {k}", **_scores(y_te, u, t_te)} for k, u in ours.items()]
        + [{"model": f"sklift {k}", **_scores(y_te, u, t_te)} for k, u in theirs.items()]
    ).set_index("model")
    print("\nHillstrom, Womens E-Mail vs No E-Mail, visit, 30% test part (LightGBM in every model)")
    print(table.round(4).to_string())

    # the same algorithm on the same estimator gives the same predictions
    np.testing.assert_allclose(ours["s"], theirs["SoloModel"], atol=1e-9)
    np.testing.assert_allclose(ours["t"], theirs["TwoModels"], atol=1e-9)

    col = "u@30 by_group"
    best_ours = table.loc[[f"ours {k}" for k in ours], col].max()
    best_theirs = table.loc[[f"sklift {k}" for k in theirs], col].max()
    assert best_ours >= best_theirs - TOLERANCE, table
    assert table.loc[[f"ours {k}" for k in ours], "qini"].max() > 0
