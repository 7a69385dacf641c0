"""The HTML page of a report: sections of panels (a figure, a reading, a small table) in one file.

Why hand-assembled: Plotly writes one figure (``Figure.to_html``) and no library lays out a
multi-section report that must open offline (no CDN, no web font, no MathJax), so the page is a
jinja2 template (autoescaping every piece of user text) around Plotly's own figure snippets, with
Plotly's JavaScript bundle inlined exactly once.

* :class:`Panel` -- a titled panel: one plain-text sentence saying what to read in it, an optional
  figure and an optional small table.
* :class:`Section` -- a titled group of panels with an html id (``key``) and an optional note (e.g.
  why it is empty).
* :func:`render_report` -- the whole HTML document, as a string (deterministic: the same input gives
  the same bytes; the time of generation is whatever the caller passes).
* :func:`write_report` -- writes it as UTF-8.

Tables are formatted for reading, on a copy (the caller's frame is not changed): at most
``MAX_TABLE_ROWS`` rows, then a note of how many were cut; integers and floats get thousands
separators; floats keep at most 3 decimals (trailing zeros dropped), and numbers below 1 keep 3
significant digits; missing values show as "–"; numeric columns are right-aligned.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2
import pandas as pd
import plotly.graph_objects as go
import plotly.offline
from markupsafe import Markup

from jingzhun.errors import InputError

__all__ = ["MAX_TABLE_ROWS", "Panel", "Section", "render_report", "write_report"]

#: Rows of a panel's table that are rendered; the rest are cut, with a note saying how many.
MAX_TABLE_ROWS = 50

_KEY = re.compile(r"[a-z0-9-]+")
_NA = "–"
_FIGURE_CONFIG = {"displaylogo": False, "responsive": True}
#: Height of a figure whose layout sets none (Plotly.js' own default height).
_DEFAULT_FIGURE_HEIGHT = "450px"

_CHROME = {
    "en": {
        "html_lang": "en",
        "contents": "Contents",
        "generated_at": "Generated at {}",
        "rows_cut": "Showing the first {shown:,} of {total:,} rows; {cut:,} rows not shown.",
        "empty": "Nothing to show in this section.",
        "note": "Note:",
    },
    "zh": {
        "html_lang": "zh-CN",
        "contents": "目录",
        "generated_at": "生成时间：{}",
        "rows_cut": "仅显示前 {shown:,} 行（共 {total:,} 行），另有 {cut:,} 行未显示。",
        "empty": "本节暂无内容。",
        "note": "说明：",
    },
}


@dataclass(frozen=True)
class Panel:
    """One panel of a section: a title, one sentence on what to read in it, a figure, a table.

    Parameters
    ----------
    title : str
        Shown as the panel's heading (plain text; escaped).
    reading : str
        One plain-text sentence shown under the title: what the figure says (escaped).
    figure : plotly.graph_objects.Figure, optional
        Shown full width; its layout height is kept, 450 px when it sets none.
    table : pandas.DataFrame, optional
        A small table shown under the figure, without its index; at most ``MAX_TABLE_ROWS`` rows
        are rendered and a note says how many more there were.
    """

    title: str
    reading: str
    figure: go.Figure | None = None
    table: pd.DataFrame | None = None


@dataclass(frozen=True)
class Section:
    """A titled group of panels, one entry of the table of contents.

    Parameters
    ----------
    key : str
        The section's html id, ``[a-z0-9-]+``, unique within a report; links go to ``#key``.
    title : str
        Shown as the section's heading and in the table of contents (escaped).
    panels : tuple of Panel
        In the order shown.
    note : str, optional
        Shown in a visible box under the heading, e.g. why the section is empty:
        ``"not run yet: jz predict churn --db X"`` (escaped).
    """

    key: str
    title: str
    panels: tuple[Panel, ...] = ()
    note: str | None = None


def render_report(
    sections: Sequence[Section],
    *,
    title: str,
    subtitle: str = "",
    lang: str = "en",
    generated_at: str = "",
) -> str:
    """Render a whole report as one self-contained, offline HTML document.

    Parameters
    ----------
    sections : sequence of Section
        In the order shown; keys must be unique.
    title, subtitle : str
        The page's heading and the line under it (escaped); an empty subtitle is left out.
    lang : {"en", "zh"}
        Language of the page's fixed text ("Contents", "Generated at", the cut-rows note) and of the
        ``lang`` attribute (``zh-CN`` for Chinese). The figures and text passed in are used as
        they are.
    generated_at : str
        When the report was made, shown in the header as given (e.g. ``"2026-11-30 14:05 UTC"``);
        left out when empty. No clock is read here, so the output is reproducible.

    Returns
    -------
    str
        The HTML document: Plotly's JavaScript inlined once, each figure in a ``div`` with the id
        ``fig-{section.key}-{i}`` (``i`` counts the figures of the section from 0), and no
        reference to any external resource.

    Raises
    ------
    InputError
        For an unknown ``lang``, a key that is not ``[a-z0-9-]+`` or is repeated, or a panel
        whose figure or table has the wrong type.
    """
    if lang not in _CHROME:
        raise InputError(f"report language must be 'en' or 'zh', got {lang!r}")
    sections = tuple(sections)
    _check_sections(sections)
    chrome = _CHROME[lang]
    context = {
        "lang": chrome["html_lang"],
        "chrome": chrome,
        "title": title,
        "subtitle": subtitle,
        "generated_at": chrome["generated_at"].format(generated_at) if generated_at else "",
        "sections": [_section_context(s, chrome) for s in sections],
        "css": Markup(_CSS),
        "plotlyjs": Markup(plotly.offline.get_plotlyjs()),
    }
    return _template().render(**context)


def write_report(path: str | Path, html: str) -> Path:
    """Write a rendered report as UTF-8, creating the parent folders.

    Parameters
    ----------
    path : str or Path
        The file to write (replaced if it exists).
    html : str
        The document, from :func:`render_report`.

    Returns
    -------
    Path
        ``path``, as a ``Path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path


def _check_sections(sections: tuple[Section, ...]) -> None:
    seen: set[str] = set()
    for section in sections:
        if not isinstance(section, Section):
            raise InputError(f"a report section must be a Section, got {type(section).__name__}")
        if not isinstance(section.key, str) or not _KEY.fullmatch(section.key):
            raise InputError(
                f"section key {section.key!r} is not a valid html id",
                hint="use lower-case letters, digits and '-' only, e.g. 'churn-risk'",
            )
        if section.key in seen:
            raise InputError(f"section key {section.key!r} is used twice; keys must be unique")
        seen.add(section.key)
        for panel in section.panels:
            if not isinstance(panel, Panel):
                raise InputError(
                    f"section {section.key!r}: a panel must be a Panel, got {type(panel).__name__}"
                )
            if panel.figure is not None and not isinstance(panel.figure, go.Figure):
                raise InputError(
                    f"section {section.key!r}, panel {panel.title!r}: figure must be a "
                    f"plotly.graph_objects.Figure, got {type(panel.figure).__name__}"
                )
            if panel.table is not None and not isinstance(panel.table, pd.DataFrame):
                raise InputError(
                    f"section {section.key!r}, panel {panel.title!r}: table must be a "
                    f"pandas.DataFrame, got {type(panel.table).__name__}"
                )


def _section_context(section: Section, chrome: dict[str, str]) -> dict:
    panels = []
    n_figures = 0
    for i, panel in enumerate(section.panels):
        figure_html = None
        if panel.figure is not None:
            figure_html = _figure_html(panel.figure, f"fig-{section.key}-{n_figures}")
            n_figures += 1
        table = None
        if panel.table is not None:
            table = _table_context(panel.table, f"table-{section.key}-{i}", chrome)
        panels.append({"title": panel.title, "reading": panel.reading, "figure": figure_html, "table": table})
    return {"key": section.key, "title": section.title, "note": section.note, "panels": panels}


def _figure_html(figure: go.Figure, div_id: str) -> Markup:
    html = figure.to_html(
        full_html=False,
        include_plotlyjs=False,
        include_mathjax=False,
        div_id=div_id,
        config=dict(_FIGURE_CONFIG),
        default_width="100%",
        default_height=_DEFAULT_FIGURE_HEIGHT,
    )
    # Plotly escapes '<' in the figure's JSON as \u003c, so user text cannot close the script.
    return Markup(html)


def _table_context(frame: pd.DataFrame, table_id: str, chrome: dict[str, str]) -> dict:
    total = len(frame)
    shown = frame.iloc[:MAX_TABLE_ROWS]
    numeric = [j for j in range(shown.shape[1]) if _is_numeric(shown.iloc[:, j])]
    formatted = pd.DataFrame(
        {j: _format_column(shown.iloc[:, j]) for j in range(shown.shape[1])}, index=shown.index
    )
    formatted.columns = shown.columns
    html = formatted.to_html(
        index=False,
        classes="data-table",
        na_rep=_NA,
        escape=True,
        border=0,
        table_id=table_id,
    )
    align = ", ".join(
        f"#{table_id} td:nth-child({j + 1}), #{table_id} th:nth-child({j + 1})" for j in numeric
    )
    cut = total - len(shown)
    return {
        "html": Markup(html),
        "align_css": Markup(f"{align} {{ text-align: right; white-space: nowrap; }}") if numeric else None,
        "cut_note": chrome["rows_cut"].format(shown=len(shown), total=total, cut=cut) if cut else None,
    }


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _format_column(column: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
        return column
    if pd.api.types.is_integer_dtype(column):
        return pd.Series(
            [_NA if pd.isna(v) else f"{int(v):,}" for v in column], index=column.index, dtype=object
        )
    return pd.Series([_format_float(v) for v in column], index=column.index, dtype=object)


def _format_float(value: float) -> str:
    """Thousands separators, at most 3 decimals (trailing zeros dropped); below 1, 3 significant digits."""
    if value is None or pd.isna(value):
        return _NA
    value = float(value)
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if abs(value) >= 1:
        text = f"{value:,.3f}".rstrip("0").rstrip(".")
    else:
        text = f"{value:.3g}"
    return "0" if text in ("-0", "0.0", "-0.0") else text


@functools.cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    return env.from_string(_TEMPLATE)


_CSS = """
:root {
  --text: #1f2933; --muted: #5f6b7a; --line: #e3e7ed; --accent: #1d4ed8;
  --bg: #f6f7f9; --card: #ffffff; --note-bg: #fff8e6; --note-line: #f0b429;
}
* { box-sizing: border-box; }
html { scroll-behavior: smooth; }
body {
  margin: 0; background: var(--bg); color: var(--text); line-height: 1.55; font-size: 15px;
  font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", "PingFang SC", "Hiragino Sans GB",
    "Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans", Roboto,
    "Helvetica Neue", Arial, sans-serif;
}
.wrap { max-width: 1100px; margin: 0 auto; padding: 0 24px; }
header.report-header { background: var(--card); border-bottom: 1px solid var(--line); padding: 28px 0 20px; }
header.report-header h1 { margin: 0 0 6px; font-size: 28px; line-height: 1.25; }
header.report-header .subtitle { margin: 0 0 6px; font-size: 17px; color: var(--muted); }
header.report-header .generated { margin: 0; font-size: 13px; color: var(--muted); }
nav.toc {
  position: sticky; top: 0; z-index: 10; background: rgba(255, 255, 255, 0.96);
  border-bottom: 1px solid var(--line); box-shadow: 0 1px 4px rgba(15, 23, 42, 0.05);
}
nav.toc .wrap { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 18px; padding-top: 10px;
  padding-bottom: 10px; }
nav.toc .toc-label { font-weight: 600; font-size: 13px; color: var(--muted); text-transform: uppercase;
  letter-spacing: 0.04em; }
nav.toc ol { display: flex; flex-wrap: wrap; gap: 4px 18px; margin: 0; padding: 0; list-style: none; }
nav.toc a { color: var(--accent); text-decoration: none; font-size: 14px; }
nav.toc a:hover { text-decoration: underline; }
main { padding: 8px 0 48px; }
section.report-section { padding-top: 24px; scroll-margin-top: 56px; }
section.report-section h2 { margin: 0 0 14px; font-size: 22px; padding-bottom: 6px;
  border-bottom: 2px solid var(--line); }
.note { background: var(--note-bg); border-left: 4px solid var(--note-line); padding: 10px 14px;
  margin: 0 0 16px; border-radius: 4px; font-size: 14px; }
.note .note-label { font-weight: 600; margin-right: 6px; }
.empty { color: var(--muted); font-style: italic; }
.panel { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 18px 20px;
  margin: 0 0 18px; box-shadow: 0 1px 2px rgba(15, 23, 42, 0.04); }
.panel h3 { margin: 0 0 4px; font-size: 17px; }
.panel .reading { margin: 0 0 12px; color: var(--muted); }
.figure { width: 100%; margin: 4px 0 8px; }
.table-wrap { overflow-x: auto; margin-top: 8px; }
table.data-table { border-collapse: collapse; font-size: 13.5px; font-variant-numeric: tabular-nums;
  min-width: 40%; }
table.data-table th, table.data-table td { padding: 5px 12px; border-bottom: 1px solid var(--line);
  text-align: left; vertical-align: top; }
table.data-table th { white-space: nowrap; }
table.data-table td { overflow-wrap: anywhere; }
table.data-table thead th { background: #f0f3f7; font-weight: 600; border-bottom: 2px solid #d5dbe3; }
table.data-table tbody tr:nth-child(even) { background: #fafbfc; }
.rows-cut { margin: 6px 0 0; font-size: 13px; color: var(--muted); }
@media print {
  body { background: #fff; font-size: 12px; }
  nav.toc { display: none; }
  header.report-header { border: 0; padding-top: 0; }
  .panel { break-inside: avoid; page-break-inside: avoid; box-shadow: none; border-color: #ccc; }
  section.report-section h2 { break-after: avoid; page-break-after: avoid; }
  .table-wrap { overflow: visible; }
}
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>{{ css }}
{% for section in sections %}{% for panel in section.panels %}\
{% if panel.table and panel.table.align_css %}{{ panel.table.align_css }}
{% endif %}{% endfor %}{% endfor %}</style>
<script type="text/javascript">{{ plotlyjs }}</script>
</head>
<body>
<header class="report-header"><div class="wrap">
<h1>{{ title }}</h1>
{% if subtitle %}<p class="subtitle">{{ subtitle }}</p>
{% endif %}
{% if generated_at %}<p class="generated">{{ generated_at }}</p>
{% endif %}
</div></header>
<nav class="toc" aria-label="{{ chrome.contents }}"><div class="wrap">
<span class="toc-label">{{ chrome.contents }}</span>
<ol>
{% for section in sections %}<li><a href="#{{ section.key }}">{{ section.title }}</a></li>
{% endfor %}
</ol>
</div></nav>
<main class="wrap">
{% for section in sections %}
<section id="{{ section.key }}" class="report-section" data-section="{{ section.key }}">
<h2>{{ section.title }}</h2>
{% if section.note %}<div class="note" role="note"><span class="note-label">{{ chrome.note }}</span>\
{{ section.note }}</div>
{% endif %}
{% if not section.panels and not section.note %}<p class="empty">{{ chrome.empty }}</p>
{% endif %}
{% for panel in section.panels %}
<div class="panel">
<h3>{{ panel.title }}</h3>
<p class="reading">{{ panel.reading }}</p>
{% if panel.figure %}<div class="figure">{{ panel.figure }}</div>
{% endif %}
{% if panel.table %}<div class="table-wrap">{{ panel.table.html }}</div>
{% if panel.table.cut_note %}<p class="rows-cut">{{ panel.table.cut_note }}</p>
{% endif %}
{% endif %}
</div>
{% endfor %}
</section>
{% endfor %}
</main>
</body>
</html>
"""
