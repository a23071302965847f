"""The report in a real browser: Debian's chromium, headless, driven by playwright.

Chromium is installed with apt-get when missing (we run as root in CI). Playwright drives
the system chromium (``executable_path``); ``playwright install`` is never run.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from promptsuite.report import PAGE_SIZE, write_report
from tests.report_runs import synthetic_run

TITLE = "browser test report"


RUN = synthetic_run(480, hostile=True, repeats=2)
#: Overview and gate lines: 3 suites x 2 models x 2 variants, plus the hostile suite name.
GROUPS = len({(c.suite, c.model, c.variant) for c in RUN.cases})
#: Matrix rows: one per suite x case (the hostile first case has a suite of its own).
ROWS = len({(c.suite, c.case_id) for c in RUN.cases})
ALL = f"{ROWS} of {ROWS} cases"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(
        RUN, tmp_path_factory.mktemp("report") / "report.html", baselines=[], title=TITLE
    )


def read_png(path: Path) -> tuple[int, int, list[list[tuple[int, ...]]]]:
    """Width, height and pixel rows of an 8-bit RGB or RGBA PNG (what chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks, header = 8, [], b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        header = body if kind == b"IHDR" else header
        if kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    size = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * size
    rows: list[bytearray] = []
    previous = bytearray(stride)
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        kind, row = line[0], bytearray(line[1:])
        for i in range(stride):
            left = row[i - size] if i >= size else 0
            up, corner = previous[i], previous[i - size] if i >= size else 0
            if kind == 1:
                row[i] = (row[i] + left) & 255
            elif kind == 2:
                row[i] = (row[i] + up) & 255
            elif kind == 3:
                row[i] = (row[i] + (left + up) // 2) & 255
            elif kind == 4:
                guess = left + up - corner
                pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
                best = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                row[i] = (row[i] + best) & 255
        rows.append(row)
        previous = row
    pixels = [[tuple(r[x * size : x * size + 3]) for x in range(width)] for r in rows]
    return width, height, pixels


class Page:
    """A page with every console message and uncaught error it produced."""

    def __init__(self, browser: Any, url: str, **context: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, **context)
        self.page = self.context.new_page()
        self.console: list[tuple[str, str]] = []
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.console.append(("pageerror", str(e))))
        self.page.goto(url)

    def ready(self) -> Any:
        self.page.wait_for_selector("html[data-ready='1']", state="attached")
        return self.page

    def rows(self) -> int:
        return int(self.page.locator("#matrix-body tr.row").count())

    def errors(self) -> list[tuple[str, str]]:
        return [m for m in self.console if m[0] in ("error", "pageerror")]


def assert_not_pwned(page: Any) -> None:
    assert page.title() == TITLE
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("img, iframe, a[href^='javascript']").count() == 0


def test_renders_without_console_errors(browser: Any, report: Path, tmp_path: Path) -> None:
    view = Page(browser, report.as_uri())
    page = view.ready()
    assert view.rows() == PAGE_SIZE
    assert (GROUPS, ROWS) == (13, 121)
    assert page.locator("#overview tbody tr").count() == GROUPS
    assert page.locator("#gates tbody tr").count() == GROUPS
    assert page.locator("#charts svg").count() == 3
    assert page.locator("#filters").is_visible()
    assert page.locator("#f-count").text_content() == ALL
    shot = tmp_path / "shot.png"
    page.screenshot(path=str(shot), full_page=False)
    width, height, pixels = read_png(shot)
    assert (width, height) == (1280, 900)
    sample = [pixels[y][x] for y in range(0, height, 20) for x in range(0, width, 20)]
    assert len(set(sample)) > 20  # not a blank page
    assert view.errors() == []
    assert_not_pwned(page)


def test_filters_search_and_pages(browser: Any, report: Path) -> None:
    view = Page(browser, report.as_uri())
    page = view.ready()
    page.select_option("#f-status", "failed")
    failed = page.locator("#f-count").text_content()
    assert failed is not None and failed != ALL
    for row in page.locator("#matrix-body tr.row").all():
        kinds = row.locator("td.cell .badge").all_text_contents()
        assert any(k != "pass" and k != "improved" for k in kinds), kinds
    page.select_option("#f-status", "flaky")
    assert view.rows() > 0
    for row in page.locator("#matrix-body tr.row").all():
        assert "%" in (row.text_content() or "")  # a repeated cell shows its pass rate
    page.select_option("#f-status", "all")
    page.select_option("#f-tag", "t3")
    tagged = view.rows()
    assert 0 < tagged < PAGE_SIZE
    assert all("t3" in (t or "") for t in page.locator("#matrix-body td.case").all_text_contents())
    page.select_option("#f-tag", "")
    page.fill("#f-search", "case-00117")
    page.wait_for_selector(f"#f-count:text-is('1 of {ROWS} cases')")
    assert view.rows() == 1
    page.fill("#f-search", "")
    page.wait_for_selector(f"#f-count:text-is('{ALL}')")
    page.click("#p-next")
    assert page.locator("#p-info").text_content() == "page 2 of 3"
    assert view.rows() == PAGE_SIZE
    page.locator("tr.detail summary").first.click()
    # The script fills a row's details when they open; on a busy machine that is a moment later.
    page.wait_for_selector("tr.detail details[open] .case-detail")
    assert page.locator("tr.detail details[open] .case-detail").count() == 4
    assert view.errors() == []


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["with-csp", "escaping-alone"])
def test_hostile_output_never_runs(browser: Any, report: Path, bypass_csp: bool) -> None:
    # Without the Content-Security-Policy, escaping alone must keep the payloads inert.
    view = Page(browser, report.as_uri(), bypass_csp=bypass_csp)
    page = view.ready()
    page.fill("#f-search", "pwned")
    page.wait_for_selector(f"#f-count:not(:text-is('{ALL}'))")
    assert view.rows() >= 5
    for details in page.locator("tr.detail summary").all():
        details.click()
    text = page.locator("#matrix-body").text_content() or ""
    assert "<script>document.title='pwned';window.__pwned=1</script>" in text
    assert '"><img src=x onerror="window.__pwned=2">' in text
    assert '<a href="javascript:window.__pwned=3">click me</a>' in text
    page.locator("#matrix-body .out", has_text="javascript:window.__pwned=3").first.click()
    assert_not_pwned(page)
    assert view.errors() == []


def test_core_tables_render_without_javascript(browser: Any, report: Path) -> None:
    view = Page(browser, report.as_uri(), java_script_enabled=False)
    page = view.page
    page.wait_for_load_state("load")
    assert page.get_attribute("html", "data-ready") is None
    assert page.locator("#overview tbody tr").count() == GROUPS
    assert view.rows() == PAGE_SIZE
    assert not page.locator("#filters").is_visible()
    assert f"Showing the first 50 of {ROWS} cases" in (
        page.locator("#pager-static").text_content() or ""
    )
    page.locator("tr.detail summary").first.click()  # <details> needs no script
    assert page.locator("tr.detail details[open] pre.output").count() >= 1
    assert_not_pwned(page)
