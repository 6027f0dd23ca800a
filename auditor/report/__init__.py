"""Reports rendered from a results file alone: HTML (Jinja), Excel (xlsxwriter) and CSV."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from auditor.common.errors import AuditorError
from auditor.common.files import remove, temp_beside, uninterrupted
from auditor.common.safe import csv_safe
from auditor.report.tables import EXTRA_SECTIONS, Report, advice_table, build_report

CSV_TABLES = ("summary", "findings", "rules", "endpoints", "flows", "licenses", "load_issues", "mutes", "inputs")
# every file --csv DIR may write (what a run's other outputs and inputs must not be)
CSV_NAMES = (*CSV_TABLES, "advice", "changes", "trend", "forecast", "vendor", "connector_licenses", "reconciliation",
             "reconciliation_totals", *EXTRA_SECTIONS)


@dataclass
class Outputs:
    html: Path | None = None
    xlsx: Path | None = None
    csv: Path | None = None
    templates: Path | None = None

    def any(self) -> bool:
        return any((self.html, self.xlsx, self.csv))


def write_csv(report: Report, folder: Path) -> list[Path]:
    """One CSV per table: UTF-8, a header, CRLF line ends, formula-looking text quoted. The set is
    written whole or not at all: every file goes into a temporary folder first, which becomes the
    folder (a new one), or whose files are moved into it (an existing one) once all are written;
    on any failure, Ctrl-C included, the temporary folder goes and the folder is as it was."""
    fresh = not folder.is_dir()
    scratch = temp_beside(folder) if fresh else folder / temp_beside(folder / "csv").name
    try:
        try:
            if fresh:
                folder.parent.mkdir(parents=True, exist_ok=True)
            scratch.mkdir()
        except OSError as exc:
            raise AuditorError(f"{folder}: cannot create the CSV folder ({exc.strerror})") from None
        names = _write_csv_tables(report, scratch, folder)
        moved: list[Path] = []
        try:
            with uninterrupted():
                if fresh:
                    os.rename(scratch, folder)
                else:
                    for name in names:
                        target = folder / name
                        existed = target.exists()
                        os.replace(scratch / name, target)
                        if not existed:
                            moved.append(target)
                    # a table of an earlier run that this one has not (changes.csv before any
                    # history) would read as this run's: the folder holds this run's tables only
                    for stale in {f"{n}.csv" for n in CSV_NAMES} - set(names):
                        (folder / stale).unlink(missing_ok=True)
        except OSError as exc:
            for path in moved:  # those this run added; a replaced file cannot be put back
                remove(path)
            raise AuditorError(f"{folder}: cannot write the CSV files ({exc.strerror})") from None
    finally:
        remove(scratch)
    return [folder / name for name in names]


def _write_csv_tables(report: Report, scratch: Path, folder: Path) -> list[str]:
    """Write the tables into `scratch`; returns the file names. Errors name the file in `folder`."""
    paths = []
    if report.no_accounts:  # a partner's licenses, NetSuite records: their own tables, not empty account ones
        tables = {"findings": report.findings, "rules": report.rules, "load_issues": report.load_issues}
        if not report.mutes.empty:  # no header-only file when the run had no mutes
            tables["mutes"] = report.mutes
        if report.results.get("connector_licenses") is not None:
            tables["connector_licenses"] = report.connector_licenses
        if report.results.get("reconciliation") is not None:
            tables["reconciliation"] = report.reconciliation
            tables["reconciliation_totals"] = report.reconciliation_totals()
        for key, title in EXTRA_SECTIONS.items():
            if title in report.extras:
                tables[key] = report.extras[title]
    else:
        tables = {name: getattr(report, name) for name in CSV_TABLES}
        tables["advice"] = advice_table(report.results)  # a row per option of each environment
        if "changes" in report.results:
            tables["changes"] = report.changes
        if report.results.get("trend"):
            tables.update(trend=report.trend, forecast=report.forecast)
        if not report.vendor.empty:
            tables["vendor"] = report.vendor
    for name, frame in tables.items():
        path = scratch / f"{name}.csv"
        for col in frame.columns:
            if frame[col].dtype.kind == "M":
                frame = frame.assign(**{col: frame[col].dt.strftime("%Y-%m-%d")})
        try:
            csv_safe(frame).to_csv(path, index=False, lineterminator="\r\n", encoding="utf-8")
        except OSError as exc:
            raise AuditorError(f"{folder / path.name}: cannot write ({exc.strerror})") from None
        paths.append(path.name)
    return paths


def write_reports(results: dict, out: Outputs, progress=None) -> list[str]:
    """Write the reports asked for; returns a line per file written, for the terminal.
    `progress(message)` hears of each step, where a caller wants it said."""
    from auditor.report.html import write_html
    from auditor.report.xlsx import write_xlsx

    say = progress or (lambda message: None)
    report = build_report(results)
    lines = []
    if out.html:
        say(f"writing the HTML report to {out.html}")
        write_html(report, out.html, out.templates)
        lines.append(f"HTML report written to {out.html}")
    if out.xlsx:
        cells = sum(frame.size for frame in (report.summary, report.findings, report.endpoints, report.flows))
        say(f"writing the workbook to {out.xlsx} (about {cells:,} cells)")
        cuts = write_xlsx(report, out.xlsx)
        lines.append(f"Workbook written to {out.xlsx}")
        lines += [f"  cut: {c}" for c in cuts["cells"] + cuts["sheets"]]
    if out.csv:
        say(f"writing the CSV files to {out.csv}/")
        lines.append(f"CSV files written to {out.csv}/ ({len(write_csv(report, out.csv))} tables)")
    return lines
