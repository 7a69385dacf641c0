"""`jz report` (issue 8): the warehouse after the whole pipeline as six sections of figures with
readings, in English and Chinese; it opens in headless Chromium without console errors (one
screenshot per section, kept in ``$JZ_SCREENSHOTS`` when set); missing inputs are named, not
fatal."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jingzhun.cli import app
from jingzhun.pipeline_demo import analyse_warehouse
from jingzhun.pipeline_report import build_report
from jingzhun.simulate.retailer import TIMEZONE
from jingzhun.warehouse import Warehouse
from tests.conftest import copy_warehouse
from tests.report.browser import browser_or_skip, open_report, png_size

SECTIONS = ["data-health", "customers", "value", "models", "plan", "results"]


@pytest.fixture(scope="module")
def analysed(simulated_retailer, tmp_path_factory):
    """The simulated retailer after every stage of the demo, with its English report."""
    source, truth = simulated_retailer(3000, 5)
    out = tmp_path_factory.mktemp("report")
    db = copy_warehouse(source, out)
    campaign = truth["campaign"]
    with Warehouse(db) as wh:
        run = analyse_warehouse(wh, out, timezone=TIMEZONE, campaign_id=campaign["campaign_id"],
                                control_share=campaign["control_share"], lang="en")
    return db, out, run, truth


def test_every_section_has_its_figures_and_readings(analysed):
    db, out, run, truth = analysed
    skipped = {k: v["skipped"] for k, v in run.items() if isinstance(v, dict) and "skipped" in v}
    assert not skipped
    report = run["report"]
    assert [s["key"] for s in report["sections"]] == SECTIONS
    assert all(s["note"] is None and s["panels"] >= 2 for s in report["sections"]), report
    html = Path(report["path"]).read_text(encoding="utf-8")
    assert Path(report["path"]) == out / "report.html"
    # the readings carry the evaluation's own numbers
    lift = next(c for c in run["evaluation"]["comparisons"] if c["metric"] == "conversion")
    assert f"{100 * lift['lift_abs']:.1f} points" in html
    assert f"p = {lift['p_value']:.2f}" in html
    accounted = sum(f["rows"] for f in truth["files"].values())
    assert f"{accounted:,} rows" in html
    assert html.count('class="reading"') >= 15 and "<script src=" not in html


def test_the_report_opens_in_chromium_and_each_section_is_photographed(analysed, tmp_path):
    browser_or_skip()
    _, out, run, _ = analysed
    shots = Path(os.environ.get("JZ_SCREENSHOTS") or tmp_path / "screenshots")
    with open_report(out / "report.html") as view:
        assert view.errors == []
        assert view.section_ids() == SECTIONS
        drawn = view.figures_per_section()
        assert all(drawn[s["key"]] == s["panels"] for s in run["report"]["sections"]), drawn
        paths = view.screenshot_sections(shots)
    assert [p.stem for p in paths] == SECTIONS
    for path in paths:
        width, height = png_size(path)
        assert width > 900 and height > 400 and path.stat().st_size > 20_000, path


def test_the_chinese_report(analysed, tmp_path):
    db, _, _, truth = analysed
    with Warehouse(db) as wh:
        result = build_report(wh, tmp_path, lang="zh",
                              control_share=truth["campaign"]["control_share"])
    html = Path(result["path"]).read_text(encoding="utf-8")
    assert '<html lang="zh-CN"' in html
    assert [s["title"] for s in result["sections"]] == ["数据健康", "客户基础", "客户价值", "模型",
                                                        "营销计划", "活动效果"]
    readings = re.findall(r'<p class="reading">(.*?)</p>', html, flags=re.S)
    assert len(readings) >= 15 and all(re.search(r"[\u4e00-\u9fff]", r) for r in readings)


def test_missing_inputs_are_named_and_the_cli_writes_the_report(tmp_path):
    from jingzhun.ingest.pseudonymise import load_secrets
    from jingzhun.pipeline import ingest_paths

    csv = tmp_path / "orders.csv"
    csv.write_text("order_id,customer_id,ordered_at,total_amount,currency,status\n"
                   "o1,c1,2025-01-02 10:00:00,12.5,CNY,completed\n"
                   "o2,c1,2025-02-02,not a number,CNY,completed\n", encoding="utf-8")
    db = tmp_path / "w.duckdb"
    with Warehouse(db) as wh:
        ingest_paths(wh, [csv], table="orders", mapping=None, source=None,
                     secrets=load_secrets(tmp_path / "k.key"))
    cli = CliRunner().invoke(app, ["report", "--out", str(tmp_path / "r"), "--db", str(db), "--json"])
    assert cli.exit_code == 0, cli.output
    result = json.loads(cli.stdout)
    notes = {s["key"]: s["note"] for s in result["sections"]}
    assert notes["data-health"] is None  # the ingest accounting and the quarantined row
    assert "jz profile build" in notes["customers"] and "jz plan" in notes["plan"]
    assert (tmp_path / "r" / "report.html").exists()
    with Warehouse(tmp_path / "empty.duckdb") as wh:
        empty = build_report(wh, tmp_path / "e")
    assert all(s["panels"] == 0 and s["note"] for s in empty["sections"])
    assert "jz ingest" in empty["sections"][0]["note"]


def test_a_plan_that_contacts_nobody_shows_only_where_they_were_lost(analysed, tmp_path):
    db, _, run, _ = analysed
    copy = copy_warehouse(db, tmp_path)
    plan = run["plan"] | {"forecast": run["plan"]["forecast"] | {"contacts": 0}}
    with Warehouse(copy) as wh:
        wh.con.execute("UPDATE plan_runs SET result = ?", [json.dumps(plan)])
        result = build_report(wh, tmp_path / "r")
    sections = {s["key"]: s for s in result["sections"]}
    assert sections["plan"]["panels"] == 1 and sections["plan"]["note"] is None
