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


def test_orders_attribution_counts_the_simulated_campaign_orders(simulated_retailer, tmp_path):
    """By orders, an arm's converters are the recipients with a non-cancelled order in the window:
    the simulator's own count per arm (a natural purchase in the window or one the campaign
    caused); the responses agree (the simulator
    writes the first such order as a conversion response, for both arms)."""
    import pandas as pd

    source, truth = simulated_retailer(3000, 5)
    campaign = truth["campaign"]["campaign_id"]
    customers = pd.read_csv(source.parent / "data" / "truth_customers.csv")
    eligible = customers[customers["is_eligible"]]
    bought = eligible["has_natural_purchase_in_window"] | eligible["has_campaign_order"]
    want = bought.groupby(eligible["arm"]).sum().to_dict()
    with Warehouse(source) as wh:
        by_orders = evaluate_campaign(wh, campaign, control_share=truth["campaign"]["control_share"])
        by_responses = evaluate_campaign(wh, campaign, attribution="responses")
    assert by_orders["attribution"] == "orders" and by_responses["attribution"] == "responses"
    arms = {a["arm"]: a for a in by_orders["arms"]}
    assert {arm: arms[arm]["conversions"] for arm in want} == want
    for a, b in zip(by_orders["arms"], by_responses["arms"], strict=True):
        assert a["conversions"] == b["conversions"]
        assert a["orders"] >= a["conversions"] and a["revenue"] >= b["revenue"] - 1e-6
    assert not by_orders["srm"]["mismatch"] and "0.2" in by_orders["srm"]["expected_from"]


def test_cuped_and_bootstrap_on_the_recipients_rows(simulated_retailer):
    """CUPED's theta is the pooled regression slope of window revenue on pre-period spend,
    recomputed here from the orders with pandas; the bootstrap interval lies near Welch's."""
    import numpy as np
    import pandas as pd

    source, truth = simulated_retailer(3000, 5)
    campaign = truth["campaign"]["campaign_id"]
    with Warehouse(source) as wh:
        result = evaluate_campaign(wh, campaign, pre_days=90)
        sends = wh.con.execute("SELECT customer_id, arm, sent_at FROM sends WHERE campaign_id = ?",
                               [campaign]).fetchdf()
        orders = wh.con.execute("SELECT customer_id, ordered_at, CAST(total_amount AS DOUBLE) AS "
                                "amount FROM orders WHERE status != 'cancelled'").fetchdf()
    joined = sends.merge(orders, on="customer_id", how="left")
    lag = joined["ordered_at"] - joined["sent_at"]
    joined["y"] = joined["amount"].where((lag >= pd.Timedelta(0)) & (lag <= pd.Timedelta(days=14)), 0)
    joined["x"] = joined["amount"].where((lag < pd.Timedelta(0)) & (lag >= -pd.Timedelta(days=90)), 0)
    per = joined.fillna({"y": 0, "x": 0}).groupby("customer_id")[["x", "y"]].sum()
    slope = np.cov(per["x"], per["y"])[0, 1] / per["x"].var()
    assert result["cuped"]["ran"] and result["cuped"]["theta"] == pytest.approx(slope, rel=1e-9)
    comparisons = {c["metric"]: c for c in result["comparisons"]}
    plain, adjusted = comparisons["revenue_per_recipient"], comparisons["revenue_per_recipient_cuped"]
    width = plain["ci_high"] - plain["ci_low"]
    assert adjusted["ci_high"] - adjusted["ci_low"] < width
    assert 0 < result["cuped"]["variance_reduction"] < 1
    assert abs(plain["bootstrap_ci_low"] - plain["ci_low"]) < 0.25 * width
    assert abs(plain["bootstrap_ci_high"] - plain["ci_high"]) < 0.25 * width


@pytest.mark.shared
def test_hillstrom_has_no_orders_so_responses_carry_the_conversions(hillstrom_warehouse):
    with Warehouse(hillstrom_warehouse) as wh:
        result = evaluate_campaign(wh, "hillstrom_2008", bootstrap_max_recipients=0)
        assert result["attribution"] == "responses"
        with pytest.raises(ConfigError, match="cannot be attributed by orders"):
            evaluate_campaign(wh, "hillstrom_2008", attribution="orders")


def test_power_before_a_campaign_and_the_mde_after_it(simulated_retailer):
    """``jz power`` gives the minimum detectable lift of arms of given sizes and the power at a
    lift; the evaluation reports the same MDE for the arms it measured."""
    from statsmodels.stats.power import normal_power_het

    source, truth = simulated_retailer(3000, 5)
    with Warehouse(source) as wh:
        result = evaluate_campaign(wh, truth["campaign"]["campaign_id"])
    arms = {a["arm"]: a for a in result["arms"]}
    conversion = next(c for c in result["comparisons"] if c["metric"] == "conversion")
    n_t, n_c = arms["treatment"]["recipients"], arms["control"]["recipients"]
    base = arms["control"]["conversion_rate"]
    cli = CliRunner().invoke(app, ["power", "--base-rate", str(base), "--treatment", str(n_t),
                                   "--control", str(n_c), "--effect", "0.05", "--json"])
    assert cli.exit_code == 0, cli.output
    data = json.loads(cli.stdout)
    assert data["mde_abs"] == pytest.approx(conversion["mde_abs"], rel=1e-12)
    mde, p_t = data["mde_abs"], base + data["mde_abs"]
    std = (base * (1 - base) / n_c + p_t * (1 - p_t) / n_t) ** 0.5
    assert normal_power_het(mde, 1, 0.05, std_null=std, std_alternative=std) == pytest.approx(0.8, abs=1e-4)
    p_t = base + 0.05
    std = (base * (1 - base) / n_c + p_t * (1 - p_t) / n_t) ** 0.5
    want = normal_power_het(0.05, 1, 0.05, std_null=std, std_alternative=std)
    assert data["power_at_effect"] == pytest.approx(want, rel=1e-9)
    bad = CliRunner().invoke(app, ["power", "--base-rate", "0", "--treatment", "10", "--control", "10"])
    assert bad.exit_code == 2 and "base-rate" in bad.output
