"""Partners: integration app licenses audited, and reconciled against a billing export."""

from __future__ import annotations

import csv
import json
import shutil
import warnings
from datetime import datetime

import openpyxl
import pytest
from bs4 import BeautifulSoup

from auditor.common.paths import partner_sample_dir

SAMPLE = partner_sample_dir()


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from click.testing import CliRunner

    from auditor.cli import cli

    out = tmp_path_factory.mktemp("partner")
    run = CliRunner().invoke(cli, ["licenses", "--sample", "-o", str(out / "p.json"), "--html", str(out / "p.html"),
                                   "--xlsx", str(out / "p.xlsx"), "--csv", str(out / "csv")], catch_exceptions=False)
    return out, run, json.loads((out / "p.json").read_text())


def recon(results) -> dict[tuple[str, str], dict]:
    return {(r["customer"], r["connector_id"]): r for r in results["reconciliation"]}


def test_the_sample_partner_run(sample):
    _, run, results = sample
    assert run.exit_code == 1  # high alarms: over-billing, an expired license still installed
    assert "partner sample_partner · 14 rules · as of 2026-11-30" in run.stdout
    assert "4 rows or records not read (see load_issues)." in run.stdout
    assert results["accounts"] == [] and len(results["connector_licenses"]) == 15


def test_license_states(sample):
    _, _, results = sample
    lic = {r["license_id"]: r for r in results["connector_licenses"]}
    assert lic["L06"]["email"] == "frank@phi.example" and lic["L06"]["pending"] is True  # trimmed, lower case
    assert lic["L05"]["trial"] is True  # expires 15 days after it was created
    assert (lic["L11"]["expires"], lic["L11"]["expires_from"]) == ("2026-11-15", "account (global license)")
    assert lic["L10"]["stores"] == 1 and lic["L10"]["stores_installed"] == 3 and lic["L10"]["stores_short"] == 2
    assert lic["L09"]["edition_offered"] is False and lic["L01"]["edition_offered"] is True
    assert lic["list-row-2"]["source"] == "list" and lic["list-row-2"]["connector_id"] == "conn-shop"


def test_reconciliation_rows(sample):
    _, _, results = sample
    rows = recon(results)
    expect = {
        ("alice@acme.example", "conn-shop"): ("matched", "email", None),
        ("kim@lambda.example", "conn-edi"): ("matched", "account id", None),
        ("erin@epsilon.example", "conn-shop"): ("trial, not billed", None, None),
        ("carol@gamma.example", "conn-shop"): ("lapsed, not billed", None, None),
        ("frank@phi.example", "conn-shop"): ("licensed, not billed", None, None),
        ("ned@xi.example", "conn-edi"): ("licensed past the billed period", "email", None),
        ("mona@nu.example", "conn-edi"): ("billed, not licensed", None, 150.0),
        ("dave@delta.example", "conn-shop"): ("licensed to a lower edition than billed", "email", 300.0),
        ("lou@mu.example", "conn-edi"): ("fewer stores licensed than billed", "email", 450.0),
        ("bob@beta.example", "conn-shop"): ("billed past the license expiry", "email", 100.0),
        ("jack@kappa.example", "conn-shop"): ("billed past the license expiry", "email", 300.0),
        ("oscar@omicron.example", "conn-shop"): ("matched", "email", None),  # licensed in the hand-kept list
    }
    for key, (status, matched_on, stake) in expect.items():
        row = rows[key]
        assert (row["status"], row["matched_on"], row["at_stake"]) == (status, matched_on, stake), key
    assert rows[("lou@mu.example", "conn-edi")]["currency"] == "EUR"


def test_bad_rows_are_reported_with_row_and_column(sample):
    _, _, results = sample
    problems = sorted((i["file"].rsplit("/", 1)[-1], i["problem"]) for i in results["load_issues"])
    assert problems == [
        ("billing.csv", "row 14, column 'From': not a date ('31/13/2026'; expected %d/%m/%Y)"),
        ("billing.csv", "row 15, column 'Net': not a number ('a lot')"),
        ("billing.csv", "row 16, column \"'Customer Email' or 'Account'\": needs email or account_id"),
        ("license-list.csv", "row 3, column 'expires': not a date ('next year'; expected YYYY-MM-DD)"),
    ]
    # every billing row is either reconciled or reported
    with (SAMPLE / "billing.csv").open(encoding="utf-8") as handle:
        billed = sum(1 for _ in csv.DictReader(handle))
    invoices = {i for r in results["reconciliation"] if r["invoices"] for i in r["invoices"].split(", ")}
    assert len(invoices) + 3 == billed


def test_the_workbook_reconciles_with_live_formulas(sample):
    out, _, results = sample
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(out / "p.xlsx")
        cached = openpyxl.load_workbook(out / "p.xlsx", data_only=True)
    assert wb.sheetnames == ["Reconciliation", "Connector licenses", "Findings", "Rules", "Load issues", "Mutes",
                             "About"]
    ws = wb["Reconciliation"]
    n = len(results["reconciliation"])
    head = [c.value for c in ws[1]]
    assert head[:3] == ["category", "status", "customer"]
    # EUR and USD do not add up: no single total, one per currency instead
    assert ws.cell(row=n + 2, column=1).value == ("No single total: the amounts are in EUR, USD; the totals per "
                                                  "currency are below")
    assert not any(str(ws.cell(row=n + 2, column=c).value).startswith("=") for c in range(1, len(head) + 1))
    per = next(r for r in range(n + 2, ws.max_row + 1) if ws.cell(row=r, column=1).value == "Totals per currency "
               "(formulas over the table above)")
    by_currency = {v[0]: v[1:4] for v in cached["Reconciliation"].iter_rows(min_row=per + 2, max_row=per + 3,
                                                                               max_col=4, values_only=True)}
    for cur in ("EUR", "USD"):
        mine = [r for r in results["reconciliation"] if r["currency"] == cur]
        assert by_currency[cur] == (len(mine), sum(r["amount"] or 0 for r in mine), sum(r["at_stake"] or 0 for r in mine))
    title_row = next(r for r in range(n + 2, ws.max_row + 1)
                     if str(ws.cell(row=r, column=1).value).startswith("Totals by category"))
    totals = list(ws.iter_rows(min_row=title_row + 2, max_row=ws.max_row, max_col=6, values_only=True))
    values = list(cached["Reconciliation"].iter_rows(min_row=title_row + 2, max_row=ws.max_row, max_col=6,
                                                     values_only=True))
    assert all(str(t[4]).startswith("=SUMIFS(") and str(t[3]).startswith("=COUNTIFS(") for t in totals)
    by = {(v[0], v[1], v[2]): v[3:] for v in values}
    assert by[("over-billing", "billed past the license expiry", "USD")] == (2, 400.0, 400.0)
    assert sum(v[0] for v in by.values()) == n  # every row in exactly one total
    amount = ws.cell(row=3, column=head.index("amount") + 1)
    assert amount.number_format == "#,##0.00"
    expires = ws.cell(row=2, column=head.index("license expires") + 1)
    assert isinstance(expires.value, datetime)


def test_the_html_shows_totals_and_tables(sample):
    out, _, results = sample
    soup = BeautifulSoup((out / "p.html").read_text(), "html.parser")
    rows = soup.find("table", id="recon-totals").tbody.find_all("tr")
    cells = {tuple(td.get_text() for td in r.find_all("td")[:3]): r.find_all("td")[5].get_text() for r in rows}
    assert cells[("over-billing", "fewer stores licensed than billed", "EUR")] == "450.00"
    assert soup.find("section", id="reconciliation") and soup.find("section", id="connector-licenses")
    assert not soup.find("section", id="endpoints")  # no account was audited
    data = json.loads(soup.find("script", id="report-data").string)
    assert len(data["reconciliation"]["rows"]) == len(results["reconciliation"])


def test_billing_from_xlsx(tmp_path, run_cli):
    with (SAMPLE / "billing.csv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Invoices"
    for n, row in enumerate(rows):
        if n and n not in (13, 14):  # real dates and numbers, as a spreadsheet holds them
            row = [*row]
            row[5], row[6] = (datetime.strptime(row[5], "%d/%m/%Y"), datetime.strptime(row[6], "%d/%m/%Y"))
            row[4], row[7] = float(row[4]), float(row[7]) if row[7] else None
        sheet.append(row)
    book.save(tmp_path / "billing.xlsx")
    mapping = (SAMPLE / "billing-map.yaml").read_text() + "sheet: Invoices\n"
    (tmp_path / "map.yaml").write_text(mapping)
    from_xlsx = run_cli("licenses", SAMPLE, "--billing", tmp_path / "billing.xlsx", "--billing-map", tmp_path / "map.yaml",
                        "--as-of", "2026-11-30", "--fail-on", "never")
    from_csv = run_cli("licenses", SAMPLE, "--billing", SAMPLE / "billing.csv", "--billing-map", SAMPLE / "billing-map.yaml",
                       "--as-of", "2026-11-30", "--fail-on", "never")
    assert from_xlsx.exit_code == 0, from_xlsx.stderr
    assert from_xlsx.results["reconciliation"] == from_csv.results["reconciliation"]


@pytest.mark.parametrize("mapping,needle", [
    ("columns: {email: E-mail, connector: Product, period_start: From, period_end: To}\n",
     "no column 'E-mail' (mapped to email)"),
    ("columns: {mail: Customer Email}\n", "columns: 'mail' is not a field here"),
    ("columns: {email: Customer Email, connector: Product}\n", "the mapping names no column for period_start"),
    ("colums: {}\n", "colums: unknown key"),
])
def test_bad_mappings_exit_2(tmp_path, run_cli, mapping, needle):
    (tmp_path / "map.yaml").write_text(mapping)
    run = run_cli("licenses", SAMPLE, "--billing", SAMPLE / "billing.csv", "--billing-map", tmp_path / "map.yaml",
                  output=False)
    assert run.exit_code == 2 and needle in run.stderr and "Traceback" not in run.stderr, run.stderr


def test_not_a_partner_snapshot(tmp_path, run_cli):
    run = run_cli("licenses", tmp_path, output=False)
    assert run.exit_code == 2 and "not a partner snapshot" in run.stderr


def test_a_connector_list_that_is_not_json(tmp_path, run_cli):
    shutil.copytree(SAMPLE, tmp_path / "p")
    (tmp_path / "p" / "connectors" / "conn-edi" / "licenses.json").write_text("[{")
    run = run_cli("licenses", tmp_path / "p", output=False)
    assert run.exit_code == 2 and "connectors/conn-edi/licenses.json" in run.stderr and "not valid JSON" in run.stderr
