"""The report page: user text escaped, one Plotly bundle, unique figure ids, nothing loaded from the
network, English and Chinese chrome, tables cut and formatted; and, in headless Chromium, every
figure drawn without a console error, one screenshot per section."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.offline
import pytest

from jingzhun.errors import InputError
from jingzhun.report.page import MAX_TABLE_ROWS, Panel, Section, render_report, write_report

from .browser import browser_or_skip, open_report, png_size

EVIL = "<script>alert('x')</script>"


def _bar() -> go.Figure:
    fig = go.Figure(go.Bar(x=["Champions", "Loyal", "At risk", "Hibernating"], y=[1250, 3400, 2100, 5200]))
    fig.update_layout(
        title="Customers by segment", xaxis_title="Segment", yaxis_title="Customers (count)", height=380
    )
    return fig


def _heatmap() -> go.Figure:
    rng = np.random.default_rng(0)
    z = np.clip(
        np.linspace(0, 1, 12)[None, :] * np.linspace(1, 0.2, 8)[:, None] + rng.normal(0, 0.03, (8, 12)), 0, 1
    )
    fig = go.Figure(go.Heatmap(z=z, x=list(range(12)), y=list(range(8)), colorbar={"title": "P(alive)"}))
    fig.update_layout(
        title="Probability alive by frequency and recency",
        xaxis_title="Recency (weeks)",
        yaxis_title="Repeat purchases (count)",
    )
    return fig


def _scatter_with_errors() -> go.Figure:
    arms = ["Email", "SMS", "App push", "Coupon"]
    fig = go.Figure(
        go.Scatter(
            x=arms,
            y=[0.012, 0.008, -0.002, 0.021],
            error_y={"type": "data", "array": [0.004, 0.005, 0.006, 0.007]},
            mode="markers",
            marker={"size": 10},
        )
    )
    fig.update_layout(
        title="Uplift by channel, 95% CI", yaxis_title="Uplift in conversion (share)", height=360
    )
    return fig


def _report(lang: str = "en") -> list[Section]:
    segments = pd.DataFrame(
        {
            "segment": ["Champions", "Loyal", "At risk", "Hibernating"],
            "customers": [1250, 3400, 2100, 5200],
            "revenue_amount": [1_234_567.891, 845_000.5, 120_000.0, np.nan],
            "repeat_rate": [0.61234, 0.4, 0.0912, 0.00345],
        }
    )
    return [
        Section(
            "segments",
            "Segments",
            (
                Panel(
                    "Customers by segment", "Hibernating customers are the largest group.", _bar(), segments
                ),
            ),
        ),
        Section(
            "btyd",
            "Who is still a customer",
            (Panel("P(alive)", "Frequent, recent buyers are almost surely alive.", _heatmap()),),
        ),
        Section(
            "uplift",
            "Uplift by channel",
            (Panel("Uplift", "Coupons lift conversion most; push does not.", _scatter_with_errors()),),
        ),
        Section("churn", "Churn risk", note="not run yet: jz predict churn --db shop.duckdb"),
    ]


def _external_loads(html: str) -> list[str]:
    """``<script src=...>``, ``<link href=...>`` and ``@import`` that point at the network."""
    patterns = [
        r"<script\b[^>]*\bsrc\s*=\s*[\"']?\s*(?:https?:)?//",
        r"<link\b[^>]*\bhref\s*=\s*[\"']?\s*(?:https?:)?//",
        r"<img\b[^>]*\bsrc\s*=\s*[\"']?\s*(?:https?:)?//",
        r"@import\s+(?:url\()?\s*[\"']?\s*(?:https?:)?//",
    ]
    return [m.group(0) for p in patterns for m in re.finditer(p, html, flags=re.IGNORECASE)]


def _body(html: str) -> str:
    """The document without the inlined Plotly bundle (which contains '<' in its code)."""
    return html.replace(plotly.offline.get_plotlyjs(), "")


def test_user_text_is_escaped_everywhere():
    table = pd.DataFrame({EVIL: [EVIL, "ok"], "n": [1, 2]})
    fig = go.Figure(go.Bar(x=[EVIL], y=[1]), layout_title_text=EVIL)
    sections = [Section("s", EVIL, (Panel(EVIL, EVIL, fig, table),), note=EVIL)]
    html = render_report(sections, title=EVIL, subtitle=EVIL, generated_at=EVIL)
    body = _body(html)
    # The only scripts are the bundle and the figure's own call: none written by the user.
    assert "alert('x')</script>" not in body
    assert "<script>alert" not in body
    assert body.count("&lt;script&gt;") >= 9  # title x2, subtitle, time, toc, h2, note, h3, reading, table
    assert len(re.findall(r"<script\b", html)) == 2


def test_plotly_bundle_inlined_once_and_figure_ids_unique():
    sections = _report()
    html = render_report(sections, title="Report")
    bundle = plotly.offline.get_plotlyjs()
    assert html.count(bundle) == 1
    assert html.count(bundle[:300]) == 1
    ids = re.findall(r'<div id="([^"]+)" class="plotly-graph-div"', html)
    assert ids == ["fig-segments-0", "fig-btyd-0", "fig-uplift-0"]
    assert render_report(sections, title="Report") == html  # deterministic


def test_figure_ids_count_figures_within_a_section():
    panels = (
        Panel("a", "r", _bar()),
        Panel("table only", "r", table=pd.DataFrame({"x": [1]})),
        Panel("b", "r", _bar()),
    )
    html = render_report([Section("two", "Two", panels)], title="T")
    assert re.findall(r'<div id="([^"]+)" class="plotly-graph-div"', html) == ["fig-two-0", "fig-two-1"]


def test_no_external_resource_is_loaded():
    html = render_report(_report(), title="Report", subtitle="offline", generated_at="2026-11-30 12:00 UTC")
    assert _external_loads(html) == []
    assert "mathjax" not in _body(html).lower()
    assert "cdn.plot.ly" not in _body(html)
    # the checker itself does find such loads
    assert _external_loads('<script src="https://cdn.plot.ly/x.js"></script><link href="//f/x.css">') != []


def test_layout_sections_nav_and_chrome_in_english():
    html = render_report(_report(), title="Campaign report", subtitle="Spring", generated_at="2026-11-30")
    assert '<html lang="en">' in html
    assert "Contents" in html and "Generated at 2026-11-30" in html
    for key in ("segments", "btyd", "uplift", "churn"):
        assert f'<section id="{key}" class="report-section" data-section="{key}">' in html
        assert f'href="#{key}"' in html
    assert "not run yet: jz predict churn --db shop.duckdb" in html
    assert html.count('<div class="panel">') == 3
    assert "@media print" in html and "PingFang SC" in html


def test_chinese_lang_attribute_and_chrome():
    big = pd.DataFrame({"客户": [f"c{i}" for i in range(MAX_TABLE_ROWS + 7)]})
    sections = [Section("fen-qun", "分群", (Panel("客户数", "沉睡客户最多。", table=big),))]
    html = render_report(sections, title="营销活动报告", lang="zh", generated_at="2026-11-30")
    assert '<html lang="zh-CN">' in html
    assert "目录" in html and "生成时间：2026-11-30" in html
    assert "另有 7 行未显示" in html
    assert "Contents" not in _body(html) and "rows not shown" not in _body(html)


def test_table_is_cut_with_a_note_and_formatted_without_touching_the_frame():
    n = MAX_TABLE_ROWS + 25
    frame = pd.DataFrame(
        {
            "customer": [f"c{i}" for i in range(n)],
            "orders": np.arange(n) * 1000,
            "amount": np.linspace(0, 12_345.6789, n),
        }
    )
    frame.loc[0, "amount"] = np.nan
    before = frame.copy()
    html = render_report([Section("t", "T", (Panel("p", "r", table=frame),))], title="T")
    pd.testing.assert_frame_equal(frame, before)
    assert html.count("<tr>") == MAX_TABLE_ROWS  # body rows (the header row has a style)
    assert "c49" in html and "c50" not in html
    assert "Showing the first 50 of 75 rows; 25 rows not shown." in html
    assert "<td>49,000</td>" in html  # thousands separators on integers
    assert "<td>–</td>" in html  # missing value
    # floats: at most 3 decimals, separators; small numbers keep 3 significant digits
    body = _body(html)
    decimals = re.findall(r"<td>-?[\d,]+\.(\d+)</td>", body)
    assert decimals and max(len(d) for d in decimals) <= 3
    small = render_report(
        [Section("t", "T", (Panel("p", "r", table=pd.DataFrame({"x": [0.000123456, 2.5, 1e6]})),))], title="T"
    )
    assert "<td>0.000123</td>" in small and "<td>2.5</td>" in small and "<td>1,000,000</td>" in small
    # numeric columns right-aligned, text columns not
    assert "#table-t-0 td:nth-child(2)" in html and "td:nth-child(1)" not in html


@pytest.mark.parametrize("key", ["Bad", "with space", "", "a_b", 'x"><script>', "é"])
def test_invalid_section_key_raises(key):
    with pytest.raises(InputError, match="html id"):
        render_report([Section(key, "T")], title="T")


def test_repeated_key_and_bad_lang_and_bad_panel_raise():
    with pytest.raises(InputError, match="twice"):
        render_report([Section("a", "A"), Section("a", "B")], title="T")
    for lang in ("fr", "zh-CN", "EN"):
        with pytest.raises(InputError, match="language"):
            render_report([], title="T", lang=lang)
    with pytest.raises(InputError, match="Figure"):
        render_report([Section("a", "A", (Panel("p", "r", figure={"data": []}),))], title="T")
    with pytest.raises(InputError, match="DataFrame"):
        render_report([Section("a", "A", (Panel("p", "r", table=[[1]]),))], title="T")


def test_write_report_creates_parents_and_writes_utf8(tmp_path):
    html = render_report([Section("a", "分群")], title="报告", lang="zh")
    path = write_report(tmp_path / "deep" / "er" / "report.html", html)
    assert path == tmp_path / "deep" / "er" / "report.html"
    assert path.read_bytes().decode("utf-8") == html


def test_report_renders_in_headless_chromium(tmp_path):
    browser_or_skip()
    sections = _report()
    html = render_report(
        sections,
        title="Campaign report",
        subtitle="Spring sale, all channels",
        generated_at="2026-11-30 12:00 UTC",
    )
    path = write_report(tmp_path / "report.html", html)
    out_dir = Path(os.environ.get("JZ_SCREENSHOTS") or tmp_path / "screenshots")
    with open_report(path) as view:
        assert view.section_ids() == ["segments", "btyd", "uplift", "churn"]
        assert view.figures_per_section() == {"segments": 1, "btyd": 1, "uplift": 1, "churn": 0}
        shots = view.screenshot_sections(out_dir)
        assert view.errors == []
    assert [p.name for p in shots] == ["segments.png", "btyd.png", "uplift.png", "churn.png"]
    for shot in shots:
        width, height = png_size(shot)
        assert shot.stat().st_size > 5_000, shot
        assert width > 600 and height > 50, (shot, width, height)


def test_browser_harness_reports_errors_and_network_loads(tmp_path):
    browser_or_skip()
    broken = (
        "<!DOCTYPE html><html><head>"
        '<script src="https://cdn.example.invalid/x.js"></script></head><body>'
        '<section id="a" class="report-section"><p>a</p></section>'
        "<script>console.error('bad'); throw new Error('boom');</script></body></html>"
    )
    path = write_report(tmp_path / "broken.html", broken)
    with open_report(path) as view:
        errors = list(view.errors)
        assert view.figures_per_section() == {"a": 0}
    assert any("external request blocked: https://cdn.example.invalid/x.js" in e for e in errors)
    assert any("console error: bad" in e for e in errors)
    assert any("boom" in e for e in errors)
