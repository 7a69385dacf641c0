"""Open a rendered report in headless Chromium (Debian's ``chromium``, driven by Playwright).

A helper for the report tests, not a test module. Playwright never downloads a browser here: it
drives the system's Chromium through ``executable_path``. When Chromium or the ``playwright``
package is missing, :func:`browser_or_skip` skips the calling test with the command to install them.

Every request that is not for a local file (``file:``, ``data:``, ``blob:``) is aborted and
recorded as an error, so a report that tries to load anything from the network fails its test
instead of hanging on this closed network.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

#: Flags needed on a closed network: no sandbox (containers), no GPU, and no background traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
#: Milliseconds to wait for the browser to start, the page to load and every figure to draw.
TIMEOUT_MS = 20_000

_SKIP_REASON = (
    "headless Chromium tests need Debian's chromium and the playwright package: "
    "apt-get install chromium; pip install -e '.[dev]'"
)
_LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")

_ALL_DRAWN = """() => Array.from(document.querySelectorAll('.plotly-graph-div'))
    .every(d => d.querySelector('.main-svg') !== null)"""
_FIGURES_PER_SECTION = """() => Object.fromEntries(
    Array.from(document.querySelectorAll('section.report-section')).map(s => [s.id,
        Array.from(s.querySelectorAll('.js-plotly-plot'))
            .filter(d => d.querySelector('.main-svg')).length]))"""


def chromium_available() -> bool:
    """Whether both the Chromium binary and the ``playwright`` package are present."""
    return os.access(CHROMIUM, os.X_OK) and importlib.util.find_spec("playwright") is not None


def browser_or_skip() -> None:
    """Skip the calling test unless headless Chromium can be driven."""
    if not chromium_available():
        pytest.skip(_SKIP_REASON)


class ReportView:
    """A report opened in Chromium, every figure drawn.

    Attributes
    ----------
    page : playwright.sync_api.Page
        The open page (1280 x 900 viewport).
    errors : list of str
        Console errors and warnings, uncaught page errors, failed requests and blocked
        non-local requests, in the order they happened.
    """

    def __init__(self, page, errors: list[str]):
        self.page = page
        self.errors = errors

    def section_ids(self) -> list[str]:
        """The ids of the ``section.report-section`` elements, in page order."""
        return self.page.eval_on_selector_all("section.report-section", "els => els.map(e => e.id)")

    def figures_per_section(self) -> dict[str, int]:
        """Number of drawn Plotly figures (a ``.js-plotly-plot`` holding a ``.main-svg``) by section id."""
        return self.page.evaluate(_FIGURES_PER_SECTION)

    def screenshot_sections(self, out_dir: str | Path) -> list[Path]:
        """Write one PNG per section, ``{key}.png``, into ``out_dir`` (created); return the paths."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        # The sticky contents bar would otherwise be painted over the top of each section.
        self.page.add_style_tag(content="nav.toc { position: static !important; }")
        paths = []
        for key in self.section_ids():
            path = out_dir / f"{key}.png"
            self.page.locator(f"section.report-section#{key}").screenshot(
                path=str(path), animations="disabled", timeout=TIMEOUT_MS
            )
            paths.append(path)
        return paths


@contextlib.contextmanager
def open_report(path: str | Path) -> Iterator[ReportView]:
    """Open a report file in headless Chromium and wait until every figure is drawn.

    Parameters
    ----------
    path : str or Path
        The HTML file.

    Yields
    ------
    ReportView
        The open page and the errors collected while loading it (and later, while it stays open).
    """
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    url = Path(path).resolve().as_uri()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=TIMEOUT_MS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(TIMEOUT_MS)
            page.on("console", lambda message: _console(message, errors))
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url} ({r.failure})"))
            page.route("**/*", lambda route: _local_only(route, errors))
            page.goto(url, wait_until="load")
            page.wait_for_function(_ALL_DRAWN, timeout=TIMEOUT_MS)
            yield ReportView(page, errors)
        finally:
            browser.close()


def _console(message, errors: list[str]) -> None:
    if message.type in ("error", "warning"):
        errors.append(f"console {message.type}: {message.text}")


def _local_only(route, errors: list[str]) -> None:
    request_url = route.request.url
    if request_url.startswith(_LOCAL_SCHEMES):
        route.continue_()
    else:
        errors.append(f"external request blocked: {request_url}")
        route.abort()


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels of the PNG file ``path``, read from its header."""
    head = Path(path).read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])
