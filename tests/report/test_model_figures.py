"""Figures of the cluster selection and the churn lift: traces, marks, both languages."""

from __future__ import annotations

import pytest

from jingzhun.errors import InputError
from jingzhun.report.model_figures import churn_lift_figure, cluster_selection_figure

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
