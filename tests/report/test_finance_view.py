"""What finance and the shell see: the workbook's About date is a date cell; the Summary prints
on pages across that each hold whole columns at a legible scale; an entitlement the plan does not
have reads "not on this plan"; licenses and ns-records print aligned tables with amounts in their
currency; and a count of one is said in the singular, everywhere."""

from __future__ import annotations

import re
import shutil
import subprocess
import warnings
from datetime import datetime

import pandas as pd
import pytest
from click.testing import CliRunner

from auditor.cli import cli
from auditor.cli.render import license_table, money, ns_records_table, reconciliation_table
from auditor.common.paths import sample_dir
from auditor.common.vocabulary import plural
from auditor.count.entitlements import states
from auditor.results.upgrade import no_number


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def workbook(path):
    import openpyxl
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return openpyxl.load_workbook(path)


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    """The workbooks of the three kinds of run on the bundled samples."""
    root = tmp_path_factory.mktemp("finance")
    for command in ("audit", "licenses", "ns-records"):
        run = invoke(command, "--sample", "--fail-on", "never", "-o", root / f"{command}.json",
                     "--xlsx", root / f"{command}.xlsx")
        assert run.exit_code == 0, run.output
    return root


# ---- the About sheet's audit date ----

@pytest.mark.parametrize("command", ["audit", "licenses", "ns-records"])
def test_the_about_sheets_audit_date_is_a_date_cell(books, command):
    about = workbook(books / f"{command}.xlsx")["About"]
    cell = next(row[1] for row in about.iter_rows() if row[0].value == "Audit date")
    assert cell.is_date and cell.value == datetime(2026, 11, 30) and cell.number_format == "yyyy-mm-dd"


# ---- the Summary sheet on paper ----

def test_the_summary_prints_on_three_pages_across_with_its_headers_on_each(books):
    ws = workbook(books / "audit.xlsx")["Summary"]
    head = [c.value for c in ws[4]]
    setup = ws.page_setup
    assert setup.orientation == "landscape"
    assert not ws.sheet_properties.pageSetUpPr or not ws.sheet_properties.pageSetUpPr.fitToPage  # not squeezed
    assert 60 <= int(setup.scale) <= 100
    # pages across: usage against entitlements; trading partners and agents; the alarms
    assert [b.id for b in ws.col_breaks.brk] == [head.index("trading partners used"), head.index("critical")]
    assert ws.print_title_rows == "$4:$4" and ws.print_title_cols == "$A:$B"  # header row, account and environment
    assert ws.print_area.startswith("'Summary'!$A$4:")
    assert "License audit as of 2026-11-30" in ws.oddHeader.left.text and "&P" in ws.oddHeader.right.text


@pytest.mark.parametrize("name_length", [5, 20, 40, 60])
def test_the_print_scale_fits_the_widest_page_whatever_the_names(name_length):
    """The scale follows the columns' widths: long account names print smaller, never cut."""
    import xlsxwriter

    from auditor.report import xlsx
    frame = pd.DataFrame({"account": ["A" * name_length], "environment": ["production"], "a": [1], "b": [2],
                          "c": [3], "d": [4]})
    sheet = xlsxwriter.Workbook(None, {"in_memory": True}).add_worksheet()
    xlsx._print_split(sheet, frame, [2, 4], 5)
    pixels = [xlsx._width(c, frame[c]) * 7 + 5 for c in frame.columns]
    widest = max(sum(pixels[:2]) + sum(pixels[a:b]) for a, b in ((2, 4), (4, 6)))
    assert sheet.vbreaks == [2, 4] and sheet.fit_page == 0
    assert sheet.print_scale * widest <= xlsx.PAGE_PIXELS * 100 and sheet.print_scale <= 100


@pytest.mark.skipif(not (shutil.which("soffice") and shutil.which("pdftotext")),
                    reason="LibreOffice and poppler-utils are not installed")
def test_libreoffice_prints_each_summary_page_whole(books, tmp_path):
    """Rendered to PDF by LibreOffice: the Summary's three pages each begin with the account
    and end with the last column of their group (none spills onto a page of its own)."""
    subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path),
                    str(books / "audit.xlsx")], check=True, capture_output=True, timeout=240)
    pages = [subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), "-layout", str(tmp_path / "audit.pdf"), "-"],
                            capture_output=True, text=True, check=True).stdout for n in (1, 2, 3)]
    heads = [next(line for line in page.splitlines() if line.startswith("account")) for page in pages]
    # (each header's first line: "endpoints over by" wraps)
    assert heads[0].split()[-3:] == ["endpoints", "status", "endpoints"]
    assert heads[1].split()[2:] == ["trading"] * 3 + ["agents"] * 3
    assert heads[2].split()[-2:] == ["account-wide", "muted"]
    for page in pages:
        assert "License audit as of 2026-11-30" in page and "Initech" in page


# ---- an entitlement the plan does not have ----

@pytest.mark.parametrize("source,word", [
    ("integrator license lic-initech gives no production endpoints", "not on this plan"),
    ("endpoint license l1 gives no sandbox trading partners", "not on this plan"),
    ("integrator license l gives no sandbox agents", "not on this plan"),
    ("endpoint license l is on trial until 2026-12-31: unlimited", "unlimited"),
    ("no plan license in licenses.json", "unknown"),
    ("endpoint license l says nothing for this environment (see account.json `environments`)", "unknown"),
    (None, "unknown"),
    ("", "unknown"),
])
def test_an_entitlement_without_a_number_says_why(source, word):
    assert no_number(source) == word


def test_the_status_of_an_entitlement_without_a_number_says_why_it_has_none():
    used = pd.Series([0, 3, 1, 2, 4])
    entitled = pd.Series([0, 3, None, None, None], dtype="Int64")
    none = pd.Series([None, None, "not on this plan", "unlimited", None])
    assert list(states(used, entitled, none, pd.Series([None] * 5))) == [
        "within", "at limit", "not on this plan", "unlimited", "unknown"]


def test_initechs_endpoints_read_not_on_this_plan_in_every_report(books, tmp_path):
    ws = workbook(books / "audit.xlsx")["Summary"]
    head = [c.value for c in ws[4]]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=5) if r[0].value == "Initech"]
    assert rows and {r[head.index("endpoints status")] for r in rows} == {"not on this plan"}
    assert invoke("report", books / "audit.json", tmp_path / "r.html", "--csv", tmp_path / "csv").exit_code == 0
    html = (tmp_path / "r.html").read_text()
    assert "endpoints: 3 used, entitlement not on this plan" in html
    summary = pd.read_csv(tmp_path / "csv" / "summary.csv")
    assert set(summary.loc[summary["account"] == "Initech", "endpoints status"]) == {"not on this plan"}
    # the rules say there is nothing to check against, not that it is unknown
    results = __import__("json").loads((books / "audit.json").read_text())
    skips = [f["reason"] for f in results["findings"] if f["account"] == "Initech" and "endpoint" in f["rule"]
             and f["status"] == "skip"]
    assert skips and all("unknown" not in r and "no endpoint entitlement to check against" in r for r in skips)


# ---- licenses and ns-records print tables as audit does ----

@pytest.mark.parametrize("amount,currency,shown", [
    (900.0, "EUR", "900.00 EUR"), (1234.5, "USD", "1,234.50 USD"), (0, "-", "0.00"), (0.0, None, "0.00"),
    (None, "USD", "-"), (float("nan"), "EUR", "-"), (-12.345, "GBP", "-12.35 GBP"), (1e6, "", "1,000,000.00"),
])
def test_amounts_have_two_decimals_and_their_currency(amount, currency, shown):
    assert money(amount, currency) == shown


def _aligned(text: str) -> bool:
    """Every line's columns start where the header's do (two spaces between columns)."""
    lines = text.splitlines()
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", lines[0])]
    return len(starts) > 1 and all(len(line) >= starts[-1] for line in lines[1:])


def test_the_reconciliation_table_is_aligned_with_amounts_right_aligned():
    rows = zip(["ok", "over-billing", "over-billing", "revenue leak"],
               ["matched", "billed, not licensed", "billed, not licensed", "licensed, not billed"],
               ["EUR", "USD", "USD", None], "abcd", [900.0, 150.0, 1250.5, 0.0], [0.0, 150.0, 1250.5, 0.0])
    results = {"reconciliation": [{"category": c, "status": s, "currency": cur, "key": k, "customer": k, "amount": a,
                                   "at_stake": st} for c, s, cur, k, a, st in rows]}
    text = reconciliation_table(results)
    lines = text.splitlines()
    assert lines[0].split() == ["category", "status", "rows", "billed", "at", "stake"]
    assert "over-billing" in lines[1]  # what is at stake first
    assert "1,400.50 USD" in text and "900.00 EUR" in text and "900.0 " not in text
    assert len({len(line) for line in lines if "USD" in line or "EUR" in line}) == 1  # right-aligned amounts
    assert _aligned(text)


def test_the_license_and_record_tables_count_per_connector_and_account():
    lic = pd.DataFrame({"connector": ["Shopify app", "Shopify app", "EDI app"], "live": [True, False, True]})
    assert license_table(lic).splitlines() == ["connector    live  expired  licenses",
                                               "EDI app         1        0         1",
                                               "Shopify app     1        1         2"]
    recs = pd.DataFrame({"account": ["1", "1", "1_SB1"], "environment": ["production", "production", "sandbox"],
                         "name": ["a", "b", "a"], "enabled": [True, False, True]})
    assert ns_records_table(recs).splitlines() == ["account  environment  records  enabled",
                                                   "1        production         2        1",
                                                   "1_SB1    sandbox            1        1"]


@pytest.mark.parametrize("command", ["licenses", "ns-records"])
def test_licenses_and_ns_records_print_aligned_tables_not_pandas_dumps(command, tmp_path):
    out = invoke(command, "--sample", "--fail-on", "never", "-o", tmp_path / "r.json").stdout
    assert not re.search(r"(?<![\d.])\d+\.\d(?![\d.])", out.split("\n", 1)[1])  # no 900.0 (the version line aside)
    assert "state" not in out.splitlines()[1]  # no pandas index header
    if command == "licenses":
        assert "900.00 EUR" in out and "400.00 USD" in out
        table = out[out.index("category"):].split("\n\n")[0].split("\n")
        table = "\n".join(line for line in table if line and not line[0].isdigit())
        assert _aligned(table)


# ---- a count of one in the singular ----

@pytest.mark.parametrize("n,word,many,said", [
    (0, "account", None, "0 accounts"), (1, "account", None, "1 account"), (2, "account", None, "2 accounts"),
    (1, "row or record", "rows or records", "1 row or record"), (3, "row or record", "rows or records",
                                                                  "3 rows or records"),
    (1000, "entry", "entries", "1,000 entries"), (1, "entry", "entries", "1 entry"),
])
def test_plural(n, word, many, said):
    assert plural(n, word, many) == said


ONE_PLURAL = re.compile(r"(?<![\d,.])1 (accounts|records|rules|findings|mutes|changes|environments|endpoints|rows|"
                        r"files|alarms|unmuted alarms|load notes|load issues|attempts|months|flows|billable flows|"
                        r"connections|licenses|tables|issues|evaluations|rule evaluations|agents|trading partners)\b")


ONE_ACCOUNT_ONE_RULE = ["audit", str(sample_dir() / "initech"), "--only", "flows-over-entitlement"]


@pytest.mark.parametrize("args", [
    # one account, one rule: every count of it is one
    [*ONE_ACCOUNT_ONE_RULE, "--fail-on", "never", "-v", "--record", "--history", "{tmp}/h.sqlite", "-o", "{tmp}/a.json"],
    [*ONE_ACCOUNT_ONE_RULE, "--fail-on", "low", "-o", "{tmp}/b.json"],
    ["ns-records", "--sample", "--fail-on", "never", "--only", "ns-record-sandbox-only", "-o", "{tmp}/n.json"],
    ["rules", "validate"],
    ["report", "{tmp}/a.json", "{tmp}/a.html"],
])
def test_a_count_of_one_is_said_in_the_singular(tmp_path, args):
    if args[0] == "report":
        invoke(*ONE_ACCOUNT_ONE_RULE, "--fail-on", "never", "-o", tmp_path / "a.json")
    run = invoke(*[a.format(tmp=tmp_path) for a in args])
    said = run.stdout + run.stderr + ((tmp_path / "a.html").read_text() if args[0] == "report" else "")
    said = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", said))  # the HTML report's words, without its tags
    assert not ONE_PLURAL.search(said), ONE_PLURAL.search(said)
    if "-v" in args:
        assert "reading 1 account" in said and "evaluating 1 rule" in said and "Recorded 1 account" in said


def test_the_terminal_summary_of_many_environments_says_one_in_the_singular():
    """The totals under a long summary: one account, one environment shown, one other."""
    from auditor.cli.render import totals_lines
    one = {"used": 1, "entitled": None, "entitled_from": "x"}
    none = {"used": 0, "entitled": None, "entitled_from": "x"}
    accounts = [{"account": "a", "environments": [
        {"environment": "production", "flows": {"billable": 1, "entitled": None, "entitled_from": "x"},
         "endpoints": one, "trading_partners": one, "agents": one},
        {"environment": "sandbox", "flows": {"billable": 0, "entitled": None, "entitled_from": "x"},
         "endpoints": none, "trading_partners": none, "agents": none}]}]
    findings = [{"account": "a", "environment": "production", "status": "alarm", "muted": False, "severity": "high"}]
    lines = totals_lines(accounts, findings, 1)
    assert lines[0].startswith("1 account, 2 environments: 1 billable flow, 1 endpoint, 1 trading partner, 1 agent; "
                               "1 unmuted alarm (")
    assert "the one environment over or at a limit; the other one is within" in lines[1]
