"""Figures of the cluster selection and the churn lift: traces, marks, both languages."""

from __future__ import annotations

import pytest

from jingzhun.errors import InputError
from jingzhun.report.model_figures import (
    churn_lift_figure,
    churn_lift_reading,
    churn_roc_figure,
    churn_roc_reading,
    cluster_selection_figure,
    cluster_selection_reading,
)

SELECTION = [{"k": 2, "silhouette": 0.49, "inertia": 900.0}, {"k": 3, "silhouette": 0.58, "inertia": 500.0},
             {"k": 4, "silhouette": 0.70, "inertia": 210.0}, {"k": 5, "silhouette": 0.60, "inertia": 190.0}]


def _metrics(lifts):
    return {"status": "ok", "lift": [{"decile": i + 1, "lift": v} for i, v in enumerate(lifts)]}


def test_cluster_selection_shows_silhouette_and_elbow_with_the_chosen_k():
    fig = cluster_selection_figure(SELECTION, chosen_k=4, lang="zh")
    assert [list(t.y) for t in fig.data] == [[0.49, 0.58, 0.70, 0.60], [900.0, 500.0, 210.0, 190.0]]
    assert fig.layout.title.text == "聚类数的选择"
    assert [a.text for a in fig.layout.annotations] == ["选定 k = 4"]
    with pytest.raises(InputError, match="silhouette"):
        cluster_selection_figure([{"k": 3}])


def test_churn_lift_groups_the_model_and_the_baselines():
    backtest = {"model": _metrics([1.6, 1.2, 0.2]), "baseline": _metrics([1.0, 1.0, 1.0]),
                "baseline_no_purchase": {"status": "single_class"}}
    fig = churn_lift_figure(backtest)
    assert [t.name for t in fig.data] == ["model", "BG/NBD 1 - P(alive)"]
    assert list(fig.data[0].y) == [1.6, 1.2, 0.2] and fig.layout.barmode == "group"
    with pytest.raises(InputError, match="no scored model"):
        churn_lift_figure({"model": {"status": "single_class"}})


ROC = {"model": {"fpr": [0.0, 0.2, 1.0], "tpr": [0.0, 0.7, 1.0], "auc": 0.78},
       "baseline": {"fpr": [0.0, 0.5, 1.0], "tpr": [0.0, 0.3, 1.0], "auc": None},
       "baseline_no_purchase": {"fpr": [0.0, 0.1, 1.0], "tpr": [0.0, 0.6, 1.0], "auc": 0.79}}


def test_churn_roc_draws_each_curve_with_its_auc_and_the_diagonal():
    fig = churn_roc_figure(ROC)
    names = [t.name for t in fig.data]
    # the baseline's missing AUC is the trapezoid area: 0.5 * 0.3 / 2 + 0.5 * 1.3 / 2 = 0.4
    assert names == ["model (AUC = 0.780)", "BG/NBD 1 - P(alive) (AUC = 0.400)",
                     "BG/NBD P(no purchase) (AUC = 0.790)", "random ranking (AUC = 0.50)"]
    assert list(fig.data[0].x) == [0.0, 0.2, 1.0] and list(fig.data[0].y) == [0.0, 0.7, 1.0]
    assert list(fig.data[-1].x) == [0, 1] and "share" in fig.layout.xaxis.title.text
    zh = churn_roc_figure(ROC, lang="zh")
    assert zh.data[0].name.startswith("模型") and "假阳性率" in zh.layout.xaxis.title.text
    empty = churn_roc_figure({"model": {"fpr": [], "tpr": []}})
    assert len(empty.data) == 1 and empty.layout.annotations[0].text == "no ROC curve to show"


def test_churn_roc_reading_compares_the_model_with_its_baselines():
    assert churn_roc_reading(ROC) == (
        "The churn model ranks customers with an AUC of 0.78 (0.5 is a coin toss, 1 is perfect), against "
        "0.40 for BG/NBD 1 - P(alive) and 0.79 for BG/NBD P(no purchase), so BG/NBD P(no purchase) ranks "
        "churners better.")
    better = {**ROC, "model": {**ROC["model"], "auc": 0.9}}
    assert churn_roc_reading(better).endswith("so it beats its baselines.")
    assert "AUC 为 0.90" in churn_roc_reading(better, lang="zh")
    assert churn_roc_reading({"baseline": ROC["baseline"]}) == (
        "There is no churn model curve; the best baseline, BG/NBD 1 - P(alive), has an AUC of 0.40.")
    assert churn_roc_reading({}) == "There is no ROC curve to read."


def test_churn_lift_reading_reads_the_riskiest_tenth():
    rows = [{"decile": d, "n": 100, "churn_rate": r, "lift": r / 0.5}
            for d, r in zip(range(1, 11), [0.9, 0.8, 0.7, 0.6, 0.5, 0.5, 0.4, 0.3, 0.2, 0.1], strict=True)]
    backtest = {"model": {"status": "ok", "base_rate": 0.5, "lift": rows}}
    # the riskiest 30% hold (90 + 80 + 70) / 500 churners
    assert churn_lift_reading(backtest) == (
        "In the backtest, the tenth of customers with the highest predicted risk churned at 90.0%, 1.80 "
        "times the overall rate of 50.0%, and the riskiest 30% held 48.0% of all churners.")
    zh = churn_lift_reading(backtest, lang="zh")
    assert "90.0%" in zh and "1.80 倍" in zh and "48.0%" in zh
    three = {"model": {"status": "ok", "lift": [{"decile": 1, "n": 10, "churn_rate": 0.6},
                                                {"decile": 2, "n": 10, "churn_rate": 0.2}]}}
    assert churn_lift_reading(three) == ("In the backtest, the riskiest of 2 equal groups of customers "
                                         "churned at 60.0%, 1.50 times the overall rate of 40.0%.")
    assert churn_lift_reading({"model": {"status": "single_class"}}).startswith("The churn model could not")


def test_cluster_selection_reading_says_why_k_was_chosen():
    assert cluster_selection_reading(SELECTION, 4) == (
        "4 clusters were chosen, where customers separate best (silhouette 0.70, against 0.49 to 0.60 for "
        "the other k tried, 2 to 5).")
    assert cluster_selection_reading(SELECTION) == cluster_selection_reading(SELECTION, 4)
    assert cluster_selection_reading(SELECTION, 3) == (
        "3 clusters were chosen (silhouette 0.58), although k = 4 separated customers best "
        "(silhouette 0.70).")
    assert cluster_selection_reading(SELECTION, 4, lang="zh").startswith("选定 4 个客户群")
    assert cluster_selection_reading(SELECTION[:1]) == ("2 clusters were chosen (silhouette 0.49), the only "
                                                        "number tried.")
    assert cluster_selection_reading([]) == "No number of clusters was tried."
    assert "not among those tried (2, 3, 4, 5)" in cluster_selection_reading(SELECTION, 9)


def test_new_model_functions_reject_a_bad_lang():
    for call in (lambda: churn_roc_figure(ROC, lang="fr"), lambda: churn_roc_reading(ROC, lang="fr"),
                 lambda: churn_lift_reading({}, lang="fr"),
                 lambda: cluster_selection_reading(SELECTION, lang="fr")):
        with pytest.raises(InputError, match="lang"):
            call()
