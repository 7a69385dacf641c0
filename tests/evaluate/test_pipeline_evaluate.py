"""`jz evaluate` (issue 8): per-arm rates from sufficient statistics computed in the warehouse,
lifts against control with intervals and p-values; Hillstrom's published per-segment means;
the simulated retailer's SMS campaign against its known uplift; the JSON interface."""

from __future__ import annotations

import json

import pytest
from scipy import stats as scipy_stats
from typer.testing import CliRunner

from jingzhun.cli import app
from jingzhun.errors import ConfigError
from jingzhun.pipeline_evaluate import evaluate_campaign
from jingzhun.warehouse import Warehouse
from tests.conftest import HILLSTROM_CSV, copy_warehouse

#: ../shared/data/README.md: rows, visit rate, conversion rate, mean spend per segment.
PUBLISHED = {"mens_email": (21_307, 0.182757, 0.012531, 1.422617),
             "womens_email": (21_387, 0.151400, 0.008837, 1.077202),
             "control": (21_306, 0.106167, 0.005726, 0.652789)}


@pytest.mark.shared
def test_hillstrom_arms_match_the_published_means(hillstrom_warehouse):
    with Warehouse(hillstrom_warehouse) as wh:
        result = evaluate_campaign(wh, "hillstrom_2008")
    arms = {a["arm"]: a for a in result["arms"]}
    for arm, (n, visit, conversion, spend) in PUBLISHED.items():
        a = arms[arm]
        assert a["recipients"] == n and a["is_control"] == (arm == "control")
        assert (round(a["visit_rate"], 6), round(a["conversion_rate"], 6),
                round(a["revenue_per_recipient"], 6)) == (visit, conversion, spend)
    lifts = {(c["arm"], c["metric"]): c for c in result["comparisons"]}
    visit = lifts["womens_email", "visit"]
    assert visit["lift_abs"] == pytest.approx(0.151400 - 0.106167, abs=2e-6)  # +4.52 points
    assert visit["ci_low"] < visit["lift_abs"] < visit["ci_high"] and visit["p_value"] < 1e-10
    assert lifts["mens_email", "revenue_per_recipient"]["lift_abs"] == pytest.approx(0.770, abs=5e-4)
    assert all(c["p_adjusted"] >= c["p_value"] for c in result["comparisons"])
    assert not result["srm"]["mismatch"]  # three equal thirds, as designed
    json.dumps(result)


@pytest.mark.shared
def test_welch_on_hillstrom_spend_equals_scipy_on_the_raw_rows(hillstrom_warehouse):
    import pandas as pd

    raw = pd.read_csv(HILLSTROM_CSV)
    mens = raw.loc[raw["segment"] == "Mens E-Mail", "spend"]
    none = raw.loc[raw["segment"] == "No E-Mail", "spend"]
    with Warehouse(hillstrom_warehouse) as wh:
        result = evaluate_campaign(wh, "hillstrom_2008")
    spend = next(c for c in result["comparisons"]
                 if c["arm"] == "mens_email" and c["metric"] == "revenue_per_recipient")
    want = scipy_stats.ttest_ind(mens, none, equal_var=False)
    assert spend["p_value"] == pytest.approx(want.pvalue, rel=1e-9)


def test_the_simulated_sms_campaign_and_the_cli(simulated_retailer, tmp_path):
    source, truth = simulated_retailer(3000, 5)
    db = copy_warehouse(source, tmp_path)
    campaign = truth["campaign"]["campaign_id"]
    with Warehouse(db) as wh:
        result = evaluate_campaign(wh, campaign, window_days=14, margin=0.35)
        with pytest.raises(ConfigError, match="no sends"):
            evaluate_campaign(wh, "NOPE")
    arms = {a["arm"]: a for a in result["arms"]}
    segments = truth["campaign"]["segments"]
    assert arms["treatment"]["recipients"] == sum(s["n_treatment"] for s in segments.values())
    assert arms["control"]["recipients"] == sum(s["n_control"] for s in segments.values())
    conversion = next(c for c in result["comparisons"] if c["metric"] == "conversion")
    true_uplift = (sum(s["mean_true_uplift_prob"] * s["n_eligible"] for s in segments.values())
                   / truth["campaign"]["n_eligible"])
    assert conversion["ci_low"] < true_uplift < conversion["ci_high"]
    assert "visit_rate" not in arms["control"] or arms["control"]["visit_rate"] == 0
    cli = CliRunner().invoke(app, ["evaluate", campaign, "--db", str(db), "--json"])
    assert cli.exit_code == 0, cli.output
    data = json.loads(cli.stdout)
    wanted = {"arm", "is_control", "recipients", "conversion_rate", "revenue_per_recipient"}
    assert wanted <= set(data["arms"][0])
    assert {"arm", "metric", "lift_abs", "ci_low", "ci_high", "p_value"} <= set(data["comparisons"][0])
    table = CliRunner().invoke(app, ["evaluate", campaign, "--db", str(db)])
    assert table.exit_code == 0 and "against control" in table.output
