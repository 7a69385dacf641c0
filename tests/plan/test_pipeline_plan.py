"""`jz plan` on a simulated retailer (issue 7): a plan within budget and consent, a control group,
one ``plans`` row per audience customer with its reason, the funnel and forecast, a rerun
replacing its rows, and the export with decrypted contacts recorded in ``audit_log``."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from jingzhun.cli import app
from jingzhun.errors import ConfigError
from jingzhun.ingest.pseudonymise import load_secrets
from jingzhun.pipeline_plan import export_plan, plan_campaign
from jingzhun.plan.spec import load_spec
from jingzhun.warehouse import Warehouse
from tests.conftest import copy_warehouse

SPEC = """\
campaign_id: P2025SUMMER
name: 夏季召回
goal: retain
audience: "orders > 0"
channels:
  - {name: sms, cost_per_contact: 0.05}
  - {name: email, cost_per_contact: 0.01, capacity: 300}
offers:
  - {offer_id: none}
  - {offer_id: C30, type: fixed, value: 30, min_order: 99, redemption_rate: 0.6, uplift_factor: 1.3}
budget: 3000
margin_rate: 0.35
control: {share: 0.2, min_size: 20}
frequency_cap: {max_contacts: 3, days: 30}
"""


@pytest.fixture
def retailer(simulated_retailer, tmp_path):
    """(copy of the warehouse, truth, spec path, the simulated retailer's key file)."""
    db, truth = simulated_retailer(3000, 5)
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(SPEC, encoding="utf-8")
    return copy_warehouse(db, tmp_path), truth, spec_path, db.parent / "secret.key"


def test_plan_respects_budget_consent_and_holds_out_a_control_group(retailer):
    db, truth, spec_path, _ = retailer
    spec = load_spec(spec_path)
    with Warehouse(db) as wh:
        result = plan_campaign(wh, spec)
        json.dumps(result)
        plans = wh.con.execute("SELECT * FROM plans WHERE campaign_id = 'P2025SUMMER'").fetchdf()
        audience = wh.con.execute("SELECT count(*) FROM customer_profile WHERE orders > 0").fetchone()[0]
        assert len(plans) == plans["customer_id"].nunique() == audience
        assert set(plans["arm"]) <= {"treatment", "control", "excluded"}
        assert plans["reason"].str.len().min() > 0
        treated = plans[plans["arm"] == "treatment"]
        assert 0 < len(treated) and treated["cost"].sum() <= spec.budget + 1e-6
        assert (treated["expected_profit"] > 0).all() and (treated["channel"] == "email").sum() <= 300
        # nobody contacted on a channel whose marketing consent is not currently granted
        consent = wh.con.execute(
            "SELECT customer_id, channel FROM (SELECT *, row_number() OVER (PARTITION BY customer_id, "
            "channel, purpose ORDER BY changed_at DESC) AS k FROM consents WHERE purpose = 'marketing') "
            "WHERE k = 1 AND granted").fetchdf()
        allowed = set(zip(consent["customer_id"], consent["channel"], strict=True))
        pairs = zip(treated["customer_id"], treated["channel"], strict=True)
        assert all(pair in allowed for pair in pairs)
        chosen = plans[plans["arm"] != "excluded"]
        assert abs((chosen["arm"] == "control").mean() - 0.2) < 0.02
        steps = [s["step"] for s in result["funnel"]]
        assert steps[:2] == ["in audience", "has consent"] and steps[-2:] == ["treatment", "control"]
        assert result["funnel"][0]["customers"] == audience
        counts = [s["customers"] for s in result["funnel"][:-2]]
        assert counts == sorted(counts, reverse=True)
        assert result["forecast"]["contacts"] == len(treated)
        assert result["uplift_model"]["campaign_id"] == truth["campaign"]["campaign_id"]
        # a rerun replaces the campaign's rows; the same inputs give the same plan
        again = plan_campaign(wh, spec)
        plans2 = wh.con.execute("SELECT * FROM plans WHERE campaign_id = 'P2025SUMMER'").fetchdf()
        assert len(plans2) == audience and again["forecast"] == result["forecast"]
        pd.testing.assert_frame_equal(
            plans.drop(columns="run_id").sort_values("customer_id", ignore_index=True),
            plans2.drop(columns="run_id").sort_values("customer_id", ignore_index=True))


def test_export_decrypts_contacts_only_for_the_treated_and_audits(retailer, tmp_path):
    db, _, spec_path, key_file = retailer
    secrets = load_secrets(key_file)
    with Warehouse(db) as wh:
        plan_campaign(wh, load_spec(spec_path))
        result = export_plan(wh, "P2025SUMMER", secrets=secrets, out=tmp_path / "send.csv", actor="tester")
        sent = pd.read_csv(tmp_path / "send.csv", encoding="utf-8-sig", dtype=str)
        treated = wh.con.execute("SELECT count(*) FROM plans WHERE arm = 'treatment'").fetchone()[0]
        assert len(sent) == result["rows"] == treated
        sms = sent[sent["channel"] == "sms"]
        assert sms["contact"].str.fullmatch(r"1\d{10}").all()  # decrypted mobile numbers
        audit = wh.con.execute("SELECT actor, action, campaign_id, detail FROM audit_log").fetchall()
        assert audit[0][:3] == ("tester", "plan_export", "P2025SUMMER")
        assert json.loads(audit[0][3])["rows"] == treated
        with pytest.raises(ConfigError, match="no treated customer"):
            export_plan(wh, "NOPE", secrets=secrets, out=tmp_path / "x.csv", actor="tester")


def test_cli_prints_funnel_and_forecast(retailer):
    db, _, spec_path, _ = retailer
    res = CliRunner().invoke(app, ["plan", str(spec_path), "--db", str(db)])
    assert res.exit_code == 0, res.output
    for text in ("audience funnel", "has consent", "within budget", "mass contact", "ROI (profit / cost)",
                 "control group:"):
        assert text in res.output
    bad = CliRunner().invoke(app, ["plan", str(spec_path.parent / "missing.yaml"), "--db", str(db)])
    assert bad.exit_code == 2


def test_a_grow_campaign_recommends_a_category_the_customer_has_not_bought(retailer):
    db, _, spec_path, _ = retailer
    spec = load_spec(spec_path).model_copy(update={"goal": "grow", "campaign_id": "GROW"})
    with Warehouse(db) as wh:
        plan_campaign(wh, spec)
        rows = wh.con.execute(
            "SELECT p.customer_id, p.recommended_category, (SELECT count(*) FROM orders o JOIN order_lines l "
            "USING (order_id) JOIN products x USING (product_id) WHERE o.customer_id = p.customer_id AND "
            "o.status != 'cancelled' AND x.category = p.recommended_category) AS bought "
            "FROM plans p WHERE campaign_id = 'GROW' AND arm = 'treatment'").fetchdf()
    assert len(rows) > 0 and rows["recommended_category"].notna().mean() > 0.9
    assert (rows["bought"] == 0).all()


def test_an_acquire_campaign_scores_prospects_by_lookalike(retailer):
    db, _, spec_path, _ = retailer
    spec = load_spec(spec_path).model_copy(update={"goal": "acquire", "campaign_id": "ACQ",
                                                   "audience": None})
    with Warehouse(db) as wh:
        result = plan_campaign(wh, spec)
        prospects = wh.con.execute("SELECT count(*) FROM customer_profile WHERE orders = 0").fetchone()[0]
        chosen = wh.con.execute("SELECT count(*), max(expected_uplift) FROM plans "
                                "WHERE campaign_id = 'ACQ' AND arm != 'excluded'").fetchone()
    assert result["funnel"][0]["customers"] == prospects  # the default acquire audience: orders == 0
    assert result["uplift_model"]["learner"] == "lookalike" and result["uplift_model"]["seeds"] > 0
    assert chosen[0] > 0 and 0 < chosen[1] <= spec.acquire_conversion_rate * 1.8 + 1e-12


def test_audiences_may_name_tags_and_segments(retailer):
    from jingzhun import pipeline

    db, _, spec_path, _ = retailer
    spec = load_spec(spec_path).model_copy(update={
        "campaign_id": "TAGS", "audience": "tag_high_value or segment_5 == 'lost'"})
    with Warehouse(db) as wh:
        pipeline.segment_rfm(wh, scheme="5")
        plan_campaign(wh, spec)
        want = wh.con.execute(
            "SELECT count(*) FROM (SELECT customer_id FROM customer_tags WHERE tag = 'high_value' UNION "
            "SELECT customer_id FROM segments WHERE scheme = '5' AND segment = 'lost')").fetchone()[0]
        got = wh.con.execute("SELECT count(*) FROM plans WHERE campaign_id = 'TAGS'").fetchone()[0]
    assert got == want > 0
