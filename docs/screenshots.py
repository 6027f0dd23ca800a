"""Make the README's pictures from the bundled sample: the HTML report as Chromium shows it at
1366 px, and the workbook's Summary sheet as LibreOffice prints it.

    python docs/screenshots.py        (needs /usr/bin/chromium, Playwright and soffice, pdftoppm)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from click.testing import CliRunner

from auditor.cli import cli

DOCS = Path(__file__).resolve().parent


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        run = CliRunner().invoke(cli, ["audit", "--sample", "--fail-on", "never", "-o", str(out / "r.json"),
                                       "--html", str(out / "report.html"), "--xlsx", str(out / "report.xlsx")])
        if run.exit_code != 0:
            print(run.output, file=sys.stderr)
            return 1
        from playwright.sync_api import sync_playwright
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium")
            page = browser.new_page(viewport={"width": 1366, "height": 1100})
            page.goto((out / "report.html").as_uri())
            page.wait_for_selector("html[data-ready=true]")
            page.screenshot(path=str(DOCS / "report-html.png"))
            browser.close()
        # the Summary sheet as printed: the workbook to PDF, its first page to PNG
        subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", tmp, str(out / "report.xlsx")],
                       check=True, capture_output=True)
        subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", str(out / "report.pdf"),
                        str(out / "summary")], check=True)
        shutil.copy(next(out.glob("summary*.png")), DOCS / "report-xlsx.png")
    print(f"wrote {DOCS / 'report-html.png'} and {DOCS / 'report-xlsx.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
