"""The HTML report in a real browser (headless Chromium driven by Playwright): it opens with no
console error and no network request, the filters narrow the tables, and hostile names stay text.

Needs Chromium at /usr/bin/chromium (`.ci/run` installs it); AUDITOR_NO_BROWSER=1 skips these
tests on a machine that cannot have one, and says so in the summary.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

CHROMIUM = os.environ.get("AUDITOR_CHROMIUM", "/usr/bin/chromium")

if os.environ.get("AUDITOR_NO_BROWSER") == "1":
    pytest.skip("AUDITOR_NO_BROWSER=1: browser tests skipped", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM} (see .ci/run)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def open_report(browser, path: Path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    problems, requests, dialogs = [], [], []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(path.as_uri())
    page.wait_for_selector("html[data-ready=true]")
    return page, problems, requests, dialogs


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from click.testing import CliRunner

    from auditor.cli import cli

    out = tmp_path_factory.mktemp("browser")
    run = CliRunner().invoke(cli, ["audit", "--sample", "--fail-on", "never", "-o", str(out / "results.json"),
                                   "--html", str(out / "report.html")], catch_exceptions=False)
    assert run.exit_code == 0, run.stderr
    return out


def test_report_opens_offline_and_filters(browser, sample):
    results = json.loads((sample / "results.json").read_text())
    page, problems, requests, _ = open_report(browser, sample / "report.html")
    assert problems == []
    assert requests == [(sample / "report.html").as_uri()]  # nothing fetched but the file itself

    grid = page.locator('.grid[data-dataset="findings"]')
    assert int(grid.get_attribute("data-visible")) == len(results["findings"])
    grid.locator('select[data-filter="severity"]').select_option("high")
    high = [f for f in results["findings"] if f["severity"] == "high"]
    assert int(grid.get_attribute("data-visible")) == len(high)
    assert set(grid.locator("tbody tr td:first-child").all_inner_texts()) == {"high"}

    grid.locator('input[type="search"]').fill("globex")
    globex = [f for f in high if "Globex" in f["account"]]
    expect(grid).to_have_attribute("data-visible", str(len(globex)))  # the search waits for typing to pause
    assert grid.locator(".status-line").inner_text() == f"Rows 1–{len(globex)} of {len(globex)} (filtered from {len(results['findings'])})"

    # sorting by a column: its header says so, for screen readers too
    flows = page.locator('.grid[data-dataset="flows"]')
    flows.locator("th button", has_text="name").click()
    assert flows.locator("th", has_text="name").first.get_attribute("aria-sort") == "ascending"
    names = flows.locator("tbody tr td:nth-child(4)").all_inner_texts()
    assert names == sorted(names, key=str.lower)

    # an endpoint opens to the connections grouped into it and the flows that reach it
    endpoints = page.locator('.grid[data-dataset="endpoints"]')
    endpoints.locator('input[type="search"]').fill("acme-us.myshopify")
    expect(endpoints).to_have_attribute("data-visible", "1")
    endpoints.locator("button.expand").first.click()
    detail = endpoints.locator("tr.detail").inner_text()
    assert "c-shop-us" in detail and "c-shop-us-rest" in detail and "Shopify US" in detail
    page.screenshot(path=str(sample / "report.png"), full_page=True)
    assert (sample / "report.png").stat().st_size > 10_000
    page.close()


def test_print_shows_every_filtered_row(browser, sample):
    page, problems, _, _ = open_report(browser, sample / "report.html")
    flows = page.locator('.grid[data-dataset="flows"]')
    flows.locator('select[aria-label="Rows per page"]').select_option("25")
    total = int(flows.get_attribute("data-visible"))
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert flows.locator("tbody tr").count() == total
    page.evaluate("window.dispatchEvent(new Event('afterprint'))")
    assert flows.locator("tbody tr").count() == min(total, 25)
    assert problems == []
    page.close()


def test_hostile_names_stay_text_in_the_browser(browser, tmp_path, run_cli):
    from conftest import flow, write_snapshot

    snap = write_snapshot(
        tmp_path / "acct",
        connections=[{"_id": "c1", "name": "<img src=x onerror=alert(2)>", "type": "http",
                      "http": {"baseURI": "https://a.example"}}],
        exports=[{"_id": "e1", "_connectionId": "c1"}],
        flows=[flow("f1", exports=["e1"], name="<script>alert(1)</script>")],
    )
    run = run_cli("audit", snap, "--fail-on", "never", "--html", tmp_path / "r.html")
    assert run.exit_code == 0, run.stderr
    page, problems, requests, dialogs = open_report(browser, tmp_path / "r.html")
    flows = page.locator('.grid[data-dataset="flows"]')
    assert "<script>alert(1)</script>" in flows.locator("tbody").inner_text()
    page.locator('.grid[data-dataset="endpoints"] button.expand').first.click()
    assert "<img src=x onerror=alert(2)>" in page.locator("tr.detail").inner_text()
    page.wait_for_timeout(200)
    assert dialogs == [] and problems == [] and len(requests) == 1
    assert page.locator("img").count() == 0
    page.close()


def test_severities_and_statuses_are_listed_and_sorted_most_severe_first(browser, sample):
    page, problems, _, _ = open_report(browser, sample / "report.html")
    grid = page.locator('.grid[data-dataset="findings"]')
    options = grid.locator('select[data-filter="severity"] option').all_inner_texts()
    order = ["critical", "high", "medium", "low", "info"]
    assert options[0] == "all" and options[1:] == sorted(options[1:], key=order.index)
    assert grid.locator('select[data-filter="status"] option').all_inner_texts()[1:3] == ["alarm", "skip"]
    grid.locator("th button", has_text="severity").click()
    shown = grid.locator("tbody tr td:first-child").all_inner_texts()
    assert shown == sorted(shown, key=order.index) and shown[0] == "high"
    assert problems == []
    page.close()


@pytest.mark.parametrize("width,media", [(1280, "screen"), (1366, "screen"), (1030, "print"), (718, "print")])
def test_the_page_reads_at_laptop_width_and_on_paper(browser, sample, width, media):
    """No table runs past the right edge (1030 px: A4 landscape, the page's own @page size, at
    96 dpi; 718 px: A4 portrait), every reason and why is there, and endpoint rows stay short."""
    page = browser.new_page(viewport={"width": width, "height": 1000})
    page.goto((sample / "report.html").as_uri())
    page.wait_for_selector("html[data-ready=true]")
    page.emulate_media(media=media)
    if media == "print":
        page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for grid in ("findings", "environments", "endpoints", "flows", "load-issues"):
        box = page.locator(f"#{grid} .grid")
        assert box.evaluate("g => g.scrollWidth <= g.clientWidth"), grid
    for grid, column in (("findings", "reason"), ("endpoints", "why"), ("flows", "reason")):
        heads = page.locator(f"#{grid} thead th").all_inner_texts()
        at = heads.index(column) + 1
        cells = page.locator(f"#{grid} tbody tr:not(.detail) td:nth-child({at})")
        first = cells.first
        assert first.is_visible() and len(first.inner_text()) > 10, (grid, column)
        right = first.evaluate("c => c.getBoundingClientRect().right")
        assert right <= width, (grid, column, right)
    if media == "screen":
        heights = page.evaluate("Array.from(document.querySelectorAll('#endpoints tbody tr')).map("
                                "r => r.getBoundingClientRect().height)")
        assert max(heights) < 130, heights  # were 141 px and more, mostly white
    page.close()
