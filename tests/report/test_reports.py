"""Reports as a user opens them: the HTML page parsed, the workbook read back with openpyxl,
the CSV files read, and hostile names through every format."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import warnings
from pathlib import Path

import openpyxl
import pytest
from bs4 import BeautifulSoup
from conftest import flow, write_snapshot

from auditor.common.paths import sample_dir

SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://x")'


@pytest.fixture(scope="module")
def sample_reports(tmp_path_factory):
    from click.testing import CliRunner

    from auditor.cli import cli

    out = tmp_path_factory.mktemp("reports")
    run = CliRunner().invoke(cli, ["audit", "--sample", "--fail-on", "never", "-o", str(out / "results.json"),
                                   "--html", str(out / "report.html"), "--xlsx", str(out / "report.xlsx"),
                                   "--csv", str(out / "csv")], catch_exceptions=False)
    assert run.exit_code == 0, run.stderr
    return out, run.stdout


def book(path: Path) -> openpyxl.Workbook:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl does not know the data-bar extension
        return openpyxl.load_workbook(path)


def embedded(html: str) -> dict:
    soup = BeautifulSoup(html, "html.parser")
    return json.loads(soup.find("script", id="report-data").string)


def rows(dataset: dict) -> list[dict]:
    return [dict(zip(dataset["columns"], r)) for r in dataset["rows"]]


# --- HTML --------------------------------------------------------------------------------------

def test_html_first_screen_counts_and_chart(sample_reports):
    out, stdout = sample_reports
    assert "HTML report written to" in stdout
    results = json.loads((out / "results.json").read_text())
    soup = BeautifulSoup((out / "report.html").read_text(), "html.parser")
    assert soup.title.string == "License audit as of 2026-11-30"
    meta = soup.find("p", class_="meta").get_text(" ", strip=True)
    assert "Policy default" in meta and "profile default" in meta and "5 accounts" in meta and "11 environments" in meta
    live = [f for f in results["findings"] if f["status"] == "alarm" and not f["muted"]]
    for sev in ("critical", "high", "medium", "low", "info"):
        tile = soup.find(attrs={"data-count": f"alarms-{sev}"})
        assert int(tile.string) == sum(f["severity"] == sev for f in live), sev
    chart = soup.find("table", id="chart").tbody.find_all("tr")
    assert len(chart) == 11
    globex = next(r for r in chart if r.th.string == "Globex Corporation" and r.td.string == "production")
    flows_cell, endpoints_cell, *_ = globex.find_all("td", class_="bar-cell")  # then trading partners, agents
    assert (endpoints_cell["data-used"], endpoints_cell["data-entitled"]) == ("6", "3")
    assert "6 / 3 over" in endpoints_cell.get_text(" ", strip=True)
    assert "4 / 3 over" in flows_cell.get_text(" ", strip=True)
    initech = next(r for r in chart if r.th.string == "Initech" and r.td.string == "sandbox")
    assert "1 / –" in initech.get_text(" ", strip=True)  # no entitlement known: a dash, not a number


def test_html_rules_table_and_embedded_tables_match_the_results(sample_reports):
    out, _ = sample_reports
    results = json.loads((out / "results.json").read_text())
    html = (out / "report.html").read_text()
    soup = BeautifulSoup(html, "html.parser")
    rule_rows = soup.find("section", id="rules").tbody.find_all("tr")
    assert len(rule_rows) == len(results["rules"]) == 15
    first = rule_rows[0].find_all("td")
    assert first[0].get_text(strip=True) == "high"  # most severe first
    data = embedded(html)
    assert len(data["findings"]["rows"]) == len(results["findings"])
    assert len(data["flows"]["rows"]) == sum(len(a["flows"]) for a in results["accounts"])
    assert len(data["endpoints"]["rows"]) == sum(len(a["endpoints"]) + len(a["trading_partners"])
                                                 for a in results["accounts"])
    assert len(data["load_issues"]["rows"]) == len(results["load_issues"])
    # alarms first in the findings table
    statuses = [r["status"] for r in rows(data["findings"])]
    assert statuses == sorted(statuses, key=["error", "alarm", "skip", "ok"].index)
    # the sections a reader navigates to
    for section in ("overview", "rules", "findings", "environments", "endpoints", "flows", "load-issues", "mutes", "about"):
        assert soup.find("section", id=section) is not None, section


def test_html_is_self_contained(sample_reports):
    out, _ = sample_reports
    html = (out / "report.html").read_text()
    soup = BeautifulSoup(html, "html.parser")
    assert not soup.find_all("link")
    assert all(not s.get("src") for s in soup.find_all(["script", "img", "iframe"]))
    assert "default-src 'none'" in soup.find("meta", attrs={"http-equiv": "Content-Security-Policy"})["content"]
    assert not re.search(r"""(src|href)=["']?https?:""", html)
    assert "@media print" in soup.style.string


def test_about_lists_every_input_file_with_its_checksum(sample_reports):
    out, _ = sample_reports
    results = json.loads((out / "results.json").read_text())
    acme = sample_dir() / "acme-retail" / "flows.json"
    digest = hashlib.sha256(acme.read_bytes()).hexdigest()
    entry = next(i for i in results["inputs"] if i["file"].endswith("acme-retail/flows.json"))
    assert entry["sha256"] == digest and entry["bytes"] == acme.stat().st_size
    assert digest in (out / "report.html").read_text()
    about = book(out / "report.xlsx")["About"]
    assert digest in [c.value for row in about.iter_rows() for c in row]


def test_report_from_the_results_file_alone_is_the_same(sample_reports, tmp_path, run_cli):
    out, _ = sample_reports
    run = run_cli("report", out / "results.json", tmp_path / "again.html", "--csv", tmp_path / "csv")
    assert run.exit_code == 0, run.stderr
    assert (tmp_path / "again.html").read_bytes() == (out / "report.html").read_bytes()
    for name in ("findings.csv", "summary.csv", "endpoints.csv"):
        assert (tmp_path / "csv" / name).read_bytes() == (out / "csv" / name).read_bytes()


# --- Excel -------------------------------------------------------------------------------------

def test_workbook_sheets_headers_and_types(sample_reports):
    out, _ = sample_reports
    wb = book(out / "report.xlsx")
    assert wb.sheetnames == ["Summary", "Chart data", "Advice", "Celigo vs ours", "Findings", "Rules", "Endpoints", "Flows",
                             "Licenses", "Load issues", "Mutes", "About"]
    assert wb["Chart data"].sheet_state == "hidden"
    for name in ("Findings", "Rules", "Endpoints", "Flows", "Licenses", "Load issues", "Mutes"):
        ws = wb[name]
        assert ws.freeze_panes == "A2", name
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), name
        assert all(c.font.b for c in ws[1] if c.value), name
    lic = wb["Licenses"]
    head = [c.value for c in lic[1]]
    expires = lic.cell(row=2, column=head.index("expires") + 1)
    assert expires.is_date and expires.number_format == "yyyy-mm-dd"
    plan = lic.cell(row=2, column=head.index("plan license") + 1)
    assert isinstance(plan.value, bool)


def test_summary_sheet_numbers_totals_and_chart(sample_reports):
    out, _ = sample_reports
    ws = book(out / "report.xlsx")["Summary"]
    assert ws["A1"].value == "License audit as of 2026-11-30"
    head = [c.value for c in ws[4]]
    assert head[:4] == ["account", "environment", "plan", "billable flows"]
    body = {(r[0], r[1]): dict(zip(head, r)) for r in ws.iter_rows(min_row=5, max_row=15, values_only=True)}
    globex = body[("Globex Corporation", "production")]
    assert (globex["endpoints used"], globex["endpoints entitled"], globex["endpoints status"]) == (6, 3, "over")
    assert globex["endpoints share"] == 2 and ws.cell(row=7, column=head.index("endpoints share") + 1).number_format == "0%"
    assert body[("Initech", "sandbox")]["endpoints entitled"] is None  # unknown stays empty, not 0
    assert body[("Initech", "sandbox")]["flows entitled"] == 0  # a known zero is a zero
    totals = [c.value for c in ws[16]]
    assert totals[0] == "Total (visible rows)"
    col = chr(ord("A") + head.index("endpoints used"))  # H: after billable flows' entitlement, status and over by
    assert totals[head.index("endpoints used")] == f"=SUBTOTAL(109,{col}5:{col}15)"  # live, and follows the filter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cached = openpyxl.load_workbook(out / "report.xlsx", data_only=True)["Summary"]
    # the value a viewer that does not recalculate shows
    assert cached.cell(row=16, column=head.index("endpoints used") + 1).value == sum(
        r["endpoints used"] for r in body.values())
    assert ws.freeze_panes == "A5" and ws.auto_filter.ref == "A4:AF15"
    chart, = ws._charts
    assert len(chart.series) == 4
    colours = [r for r in ws.conditional_formatting]
    assert colours  # status columns coloured


def test_findings_sheet_is_coloured_by_severity(sample_reports):
    out, _ = sample_reports
    ws = book(out / "report.xlsx")["Findings"]
    rules = [r for cf in ws.conditional_formatting for r in cf.rules]
    assert any(r.formula == ['"high"'] for r in rules) and any(r.formula == ['"alarm"'] for r in rules)
    head = [c.value for c in ws[1]]
    assert head[:3] == ["severity", "status", "muted"]


def test_endpoints_sheet_has_a_row_per_endpoint_and_per_connection(sample_reports):
    out, _ = sample_reports
    results = json.loads((out / "results.json").read_text())
    ws = book(out / "report.xlsx")["Endpoints"]
    head = [c.value for c in ws[1]]
    data = [dict(zip(head, r)) for r in ws.iter_rows(min_row=2, values_only=True)]
    endpoints = [d for d in data if d["row"] in ("endpoint", "trading partner")]
    members = [d for d in data if d["row"] == "connection"]
    acme = next(a for a in results["accounts"] if a["account"] == "Acme Retail")
    assert sum(d["endpoints"] or 0 for d in data if d["account"] == "Acme Retail" and d["kind"] == "endpoint") == len(acme["endpoints"])
    shop = [d["connection id"] for d in members if d["key"] == "uri:https://acme-us.myshopify.com/admin/api/2024-01"]
    assert shop == ["c-shop-us", "c-shop-us-rest"]
    assert len(endpoints) == sum(len(a["endpoints"]) + len(a["trading_partners"]) for a in results["accounts"])


# --- hostile names through every format -----------------------------------------------------------

@pytest.fixture
def hostile(tmp_path, run_cli):
    snap = write_snapshot(
        tmp_path / "acct",
        connections=[{"_id": "c1", "name": FORMULA, "type": "http", "http": {"baseURI": "https://a.example"}},
                     {"_id": "c2", "name": "-2+3", "type": "http", "http": {"baseURI": "https://b.example"}}],
        exports=[{"_id": "e-c1", "_connectionId": "c1"}, {"_id": "e-c2", "_connectionId": "c2"}],
        flows=[flow("f1", exports=["e-c1"], name=SCRIPT), flow("f2", exports=["e-c2"], name="@SUM(A1)"),
               flow("f3", exports=["e-c1"], name="x" * 40_000)],
    )
    run = run_cli("audit", snap, "--as-of", "2026-11-30", "--fail-on", "never", "--all-rows",
                  "--html", tmp_path / "r.html", "--xlsx", tmp_path / "r.xlsx", "--csv", tmp_path / "csv")
    assert run.exit_code == 0, run.stderr
    return tmp_path, run


def test_hostile_names_are_inert_in_html(hostile):
    out, _ = hostile
    html = (out / "r.html").read_text()
    assert SCRIPT not in html and "<script>alert" not in html
    soup = BeautifulSoup(html, "html.parser")
    assert len(soup.find_all("script")) == 2  # the data and the page's own script, nothing else
    names = [r["name"] for r in rows(embedded(html)["flows"])]
    assert SCRIPT in names  # the data survives, escaped, and the page shows it as text
    assert "\\u003cscript\\u003e" in html


def test_hostile_names_are_inert_in_the_workbook(hostile):
    out, run = hostile
    wb = book(out / "r.xlsx")
    flows = wb["Flows"]
    head = [c.value for c in flows[1]]
    col = head.index("name") + 1
    cells = {flows.cell(row=r, column=2 + 1).value: flows.cell(row=r, column=col) for r in range(2, flows.max_row + 1)}
    at = cells["f2"]
    assert at.value == "@SUM(A1)" and at.data_type == "s" and at.quotePrefix
    long = cells["f3"]
    assert len(long.value) == 32_767
    endpoints = wb["Endpoints"]
    names = [c for row in endpoints.iter_rows(min_row=2) for c in row if c.value == FORMULA]
    assert names and all(c.data_type == "s" and c.quotePrefix for c in names)
    assert not [c for ws in wb for row in ws.iter_rows() for c in row
                if c.data_type == "f" and ws.title != "Summary"]  # no formula anywhere but the totals
    about = [tuple(r) for r in wb["About"].iter_rows(values_only=True)]
    cut = [r for r in about if r[0] == "Cell cut"]
    assert len(cut) == 1 and cut[0][1].startswith("Flows!D") and "40,000 characters cut to 32,767" in cut[0][1]
    assert "cut: Flows!D" in run.stdout


def test_hostile_names_are_inert_in_csv(hostile):
    out, _ = hostile
    with (out / "csv" / "flows.csv").open(encoding="utf-8", newline="") as handle:
        names = {r["id"]: r["name"] for r in csv.DictReader(handle)}
    assert names["f2"] == "'@SUM(A1)" and names["f1"] == SCRIPT
    with (out / "csv" / "endpoints.csv").open(encoding="utf-8", newline="") as handle:
        conns = {r["connection id"]: r["connection name"] for r in csv.DictReader(handle) if r["row"] == "connection"}
    assert conns == {"c1": "'" + FORMULA, "c2": "'-2+3"}


# --- templates and errors ----------------------------------------------------------------------

def test_a_user_template_extends_the_builtin_one(sample_reports, tmp_path, run_cli):
    out, _ = sample_reports
    mine = tmp_path / "templates"
    mine.mkdir()
    (mine / "report.html.j2").write_text(
        '{% extends "builtin/report.html.j2" %}{% block intro %}<p id="ours">Prepared for {{ meta.policy }} '
        '&amp; finance</p>{% endblock %}')
    run = run_cli("report", out / "results.json", "--html", tmp_path / "r.html", "--templates", mine)
    assert run.exit_code == 0, run.stderr
    soup = BeautifulSoup((tmp_path / "r.html").read_text(), "html.parser")
    assert soup.find(id="ours").get_text() == "Prepared for default & finance"
    assert soup.find("table", id="chart")  # the rest of the built-in page is still there


def test_a_broken_user_template_is_one_line(sample_reports, tmp_path, run_cli):
    out, _ = sample_reports
    mine = tmp_path / "templates"
    mine.mkdir()
    (mine / "report.html.j2").write_text("{% block intro %}{{ nothing_here.at_all }}{% endblock %}\n{% if %}")
    run = run_cli("report", out / "results.json", "--html", tmp_path / "r.html", "--templates", mine)
    assert run.exit_code == 2 and "template error" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("args,needle", [
    (["report", "{results}"], "say what to write"),
    (["report", "{results}", "r.pdf"], "name a .html or .xlsx file"),
    (["report", "{bad}", "--html", "r.html"], "not a results file"),
    (["report", "{results}", "--html", "{missing}/r.html"], "its folder"),
    (["report", "{results}", "--xlsx", "{missing}/r.xlsx"], "does not exist"),
])
def test_report_errors_exit_2(sample_reports, tmp_path, run_cli, args, needle):
    out, _ = sample_reports
    (tmp_path / "bad.json").write_text('{"schema_version": 99}')
    names = {"results": out / "results.json", "bad": tmp_path / "bad.json", "missing": tmp_path / "no" / "such"}
    run = run_cli(*[a.format(**names) for a in args], output=False)
    assert run.exit_code == 2 and needle in run.stderr and "Traceback" not in run.stderr, run.stderr


def test_a_results_file_from_before_rules_and_inputs_were_recorded(sample_reports, tmp_path, run_cli):
    out, _ = sample_reports
    older = json.loads((out / "results.json").read_text())
    for key in ("rules", "inputs", "mutes"):
        del older[key]
    (tmp_path / "old.json").write_text(json.dumps(older))
    run = run_cli("report", tmp_path / "old.json", tmp_path / "r.html", tmp_path / "r.xlsx")
    assert run.exit_code == 0, run.stderr
    about = [r for r in book(tmp_path / "r.xlsx")["About"].iter_rows(values_only=True)]
    assert ("Rules run", "none") in [r[:2] for r in about]


# --- the workbook's cells, written as sheet XML ---------------------------------------------------

XML_HOSTILE = ["<r><t>rich?</t></r>", "</t></is></c></row><row r=\"9\">", "a & b <c>", "bell\x07 and nul\x00",
               "_x0041_ looks escaped", "  padded  ", "\ttab first", "line\nbreak",
               "non-character \ufffe", "ünïcødé ✓", "=1+1", "-3", "", "x" * 40_000]


def test_workbook_cells_read_back_as_xlsxwriter_would_write_them(tmp_path):
    """Every kind of value through the sheet-XML writer reads back as the same value, type and
    format as XlsxWriter's own writers give it; text XlsxWriter itself would corrupt (a value
    shaped like rich text) is kept as text."""
    import datetime as dt
    import math

    import pandas as pd
    import xlsxwriter

    from auditor.report import xlsx
    from auditor.report.tables import COLUMN_TYPES

    columns = {
        "name": XML_HOSTILE + [None, 7],
        "flows entitled": [1, 0, -5, 2**60, 3.5, float("nan"), None, True, float("inf"), "n/a", pd.NA, 10**17],
        "flows share": [0.5, 1.0, 0.0, None, float("nan"), 2.25, 1e-9, 1],
        "expires": [dt.date(2026, 11, 30), "2026-02-28", None, dt.date(1900, 3, 1), pd.Timestamp("2027-01-05 12:00")],
        "enabled": [True, False, None, 1, 0, "yes"],
        "muted": [["a", "b"], {"k": 1}, 2.5, -0.0, 12, None, "", "x"],
    }  # kinds: text, int, share, date, bool, text
    n = max(map(len, columns.values()))
    values = {name: column + [None] * (n - len(column)) for name, column in columns.items()}
    frame = pd.DataFrame(values)
    ours = tmp_path / "ours.xlsx"
    w = xlsx._Writer(ours)
    w.table("T", frame)
    w.close()

    theirs = tmp_path / "theirs.xlsx"  # XlsxWriter's own writers, cell by cell, as the workbook used them
    book_ = xlsxwriter.Workbook(str(theirs), {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                              "strings_to_numbers": False, "nan_inf_to_errors": True})
    sheet = book_.add_worksheet("T")
    quoted, fmt = book_.add_format({"quote_prefix": True}), {
        "int": book_.add_format({"num_format": "#,##0"}), "share": book_.add_format({"num_format": "0%"}),
        "date": book_.add_format({"num_format": "yyyy-mm-dd"})}
    kinds = [COLUMN_TYPES.get(column, "text") for column in frame.columns]
    for col, column in enumerate(frame.columns):
        sheet.write_string(0, col, column)
    for row, record in enumerate(frame.itertuples(index=False, name=None), 1):  # in order: constant memory
        for col, (kind, value) in enumerate(zip(kinds, record)):
            if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
                continue
            if kind in fmt and kind != "date" and isinstance(value, int | float) and math.isfinite(value):
                sheet.write_number(row, col, value, fmt[kind])
            elif kind == "date":
                sheet.write_datetime(row, col, pd.Timestamp(value).to_pydatetime(), fmt["date"])
            elif kind == "bool" or isinstance(value, bool):
                sheet.write_boolean(row, col, bool(value))
            elif isinstance(value, int | float) and math.isfinite(value):
                sheet.write_number(row, col, value)
            else:
                text = str(value)[:xlsx.MAX_CELL].replace("\ufffe", "")  # XlsxWriter would write XML that fails
                sheet.write_string(row, col, text, quoted if text.startswith(("=", "+", "-", "@", "\t", "\r")) else None)
    book_.close()

    def cells(path):
        ws = book(path)["T"]
        return [[(c.value, c.data_type, c.number_format, bool(c.quotePrefix)) for c in row] for row in ws.iter_rows()]

    got, want = cells(ours), cells(theirs)
    # where XlsxWriter's XML would be wrong: a text shaped like rich text is written by it as raw XML,
    # a non-character as it is (which XML refuses); both are text here, the second as Excel's escape
    for text, read in (("<r><t>rich?</t></r>", "<r><t>rich?</t></r>"), ("non-character \ufffe", "non-character _xFFFE_")):
        row = XML_HOSTILE.index(text) + 1
        assert got[row][0][0] == read
        got[row][0] = want[row][0]
    assert got == want
    names = [row[0][0] for row in got[1:]]
    # read back as the file holds them (openpyxl leaves Excel's _xHHHH_ escapes as they are)
    assert {"</t></is></c></row><row r=\"9\">", "bell_x0007_ and nul_x0000_", "  padded  ", "a & b <c>"} <= set(names)
    long = XML_HOSTILE.index("x" * 40_000) + 2
    assert w.cuts == [f"T!A{long}: 40,000 characters cut to 32,767"]


@pytest.mark.parametrize("value", [v for v in XML_HOSTILE if v not in ("", "ünïcødé ✓", "line\nbreak")]
                         + ["trailing ", "\u00a0nbsp first", "+1", "@x", "\rcr", "a_x00FF_b"])
def test_one_risky_text_sends_its_column_the_careful_way(value):
    """A column is written the short way only when none of its texts needs escaping, the quote
    prefix or cutting: each kind of such text, alone among plain ones, is noticed."""
    from auditor.report.xlsx import _risky

    assert _risky(["plain", value, "also plain"]) and _risky([value])
    assert not _risky(["plain", "also plain", "", "ünïcødé ✓", "line\nbreak", "under_score_x12", "a-b", "a=b"])


def test_a_text_shaped_like_rich_text_outside_a_table_is_kept_as_text(tmp_path):
    """Cells written one by one (titles, the About sheet, chart labels) escape such a text too."""
    from auditor.report import xlsx

    w = xlsx._Writer(tmp_path / "t.xlsx")
    sheet = w.book.add_worksheet("S")
    w.text(sheet, 0, 0, "<r><t>x & y</t></r>", "S")
    w.text(sheet, 1, 0, "=1+1", "S")
    w.close()
    ws = book(tmp_path / "t.xlsx")["S"]
    assert ws["A1"].value == "<r><t>x & y</t></r>" and ws["A2"].value == "=1+1" and ws["A2"].quotePrefix


def test_two_tables_on_one_sheet_keep_their_rows_titles_and_totals_in_place(tmp_path):
    """Tables spliced into a sheet land after their own header rows, between what XlsxWriter
    wrote around them (a title above, a totals row under the first, a caption between)."""
    import pandas as pd

    from auditor.report import xlsx

    w = xlsx._Writer(tmp_path / "t.xlsx")
    sheet = w.book.add_worksheet("S")
    sheet.write_string(0, 0, "Title")
    first = pd.DataFrame({"account": ["a", "b", "c"], "billable flows": [1, 2, 3]})
    w.table("First", first, sheet=sheet, first_row=2, totals=("billable flows",), freeze=False)
    sheet.write_string(8, 0, "Between")
    second = pd.DataFrame({"account": [f"x{i}" for i in range(30_000)], "endpoints used": list(range(30_000))})
    w.table("Second", second, sheet=sheet, first_row=9, freeze=False)  # more than one batch of rows
    w.close()
    ws = book(tmp_path / "t.xlsx")["S"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0] == "Title" and rows[2] == ("account", "billable flows")
    assert rows[3:6] == [("a", 1), ("b", 2), ("c", 3)]
    assert ws.cell(row=7, column=2).value == "=SUBTOTAL(109,B4:B6)" and rows[6][0] == "Total (visible rows)"
    assert rows[8][0] == "Between" and rows[9] == ("account", "endpoints used")
    assert rows[10] == ("x0", 0) and rows[10 + 29_999] == ("x29999", 29_999) and len(rows) == 10 + 30_000
    assert ws.dimensions == "A1:B30010"


def test_nothing_used_of_nothing_entitled_is_within_not_at_limit():
    """The Summary's status says "at limit" only when something is used, as the rules, the
    overview chart and the terminal summary do."""
    import pandas as pd

    from auditor.count.entitlements import states

    used, entitled = pd.Series([0, 3, 3, 4, 0, 2]), pd.Series([0, 3, 5, 3, None, None], dtype="Int64")
    none = pd.Series([None] * 6)
    assert list(states(used, entitled, none, none)) == ["within", "at limit", "within", "over", "unknown", "unknown"]
