"""Issue 25, crashes and input read as if it were sound: each class with a corpus of its own.

Pure logic in-process; the CLI only where what is at stake is the CLI's behaviour (an exit code,
nothing written)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from auditor.count.entitlements import plan_licenses
from auditor.load.licenses import read_licenses
from auditor.load.snapshot import ResourceFile

AS_OF = date(2026, 11, 30)


def _licenses(tmp_path: Path, records: list) -> tuple:
    path = tmp_path / "licenses.json"
    path.write_text(json.dumps(records))
    issues: list[dict] = []
    frame = read_licenses([("acct", [ResourceFile(path, "array", "acct/licenses.json")])], AS_OF, issues)
    return frame, issues


def _lic(**fields) -> dict:
    return {"_id": "lic", "type": "endpoint", "numEndpoints": 5, **fields}


# --- license dates out of range: year 0 crashed the results (strftime) ---------------------------

FAR_DATES = ["0000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z", "0001-01-01", "1677-09-21T00:00:00Z",
             "1899-12-30", "9999-12-31T23:59:59Z", "2262-04-12T00:00:00Z", "5000-01-01"]


@pytest.mark.parametrize("field", ["expires", "trialEndDate"])
@pytest.mark.parametrize("value", FAR_DATES)
def test_a_license_date_outside_the_years_is_noted_and_read_as_not_given(tmp_path, field, value):
    frame, issues = _licenses(tmp_path, [_lic(**{field: value})])
    col = "expires" if field == "expires" else "trial_end"
    assert frame[col].isna().all()
    assert [i["problem"] for i in issues] == [f"license {field} is outside the years 1990 to 2200; read as no {field}"]


def test_a_far_license_date_beside_sound_ones_leaves_those_as_they_are(tmp_path):
    frame, issues = _licenses(tmp_path, [_lic(_id="a", expires="0000-01-01T00:00:00Z"),
                                         _lic(_id="b", expires="2026-12-15T00:00:00.000Z")])
    assert frame.set_index("license_id")["expires"]["b"].strftime("%Y-%m-%d") == "2026-12-15"
    assert len(issues) == 1 and issues[0]["id"] == "a"


def test_an_account_whose_license_expires_in_year_0_is_audited(run_cli, tmp_path):
    from conftest import write_snapshot
    root = write_snapshot(tmp_path / "acct", licenses=[_lic(expires="0000-01-01T00:00:00Z")], flows=[])
    run = run_cli("audit", root, "--as-of", "2026-11-30", "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    assert any("outside the years" in i["problem"] for i in run.results["load_issues"])


# --- license type and tier: another case, spaces, another JSON type, an unknown word -------------

@pytest.mark.parametrize("value", ["Endpoint", "endpoint ", " ENDPOINT", "Endpoint\t"])
def test_a_license_type_in_another_case_or_with_spaces_is_read_with_a_note(tmp_path, value):
    frame, issues = _licenses(tmp_path, [_lic(type=value)])
    assert frame["type"].tolist() == ["endpoint"]
    assert plan_licenses(frame, AS_OF)["acct"]["license_id"] == "lic"  # the plan is read, not "no plan license"
    assert [i["problem"] for i in issues] == ["license type is written in another case or with spaces; "
                                              "read as 'endpoint'"]


@pytest.mark.parametrize("value", ["enterprise-plan", "endpoints", "diy", "platform2024"])
def test_a_license_of_an_unknown_type_is_a_load_issue(tmp_path, value):
    frame, issues = _licenses(tmp_path, [_lic(type=value)])
    assert frame.empty
    assert [(i["problem"], i["action"], i["id"]) for i in issues] == [
        ("license type is not one of platform, endpoint, integrator, connector; the license is not read", "skipped",
         "lic")]


@pytest.mark.parametrize("value", ["", "   ", 42, None, ["endpoint"], {"name": "endpoint"}, True])
def test_a_license_without_a_type_in_words_is_a_load_issue(tmp_path, value):
    frame, issues = _licenses(tmp_path, [_lic(type=value)])
    assert frame.empty and [i["problem"] for i in issues] == ["license has no type"]


@pytest.mark.parametrize("value, kind", [(42, "a number"), (3.5, "a number"), ({}, "an object"), ([], "an array"),
                                         (["standard"], "an array"), (True, "true or false"),
                                         ({"name": "gold"}, "an object")])
def test_a_tier_of_another_json_type_is_noted_as_an_unknown_word_is(tmp_path, value, kind):
    frame, issues = _licenses(tmp_path, [_lic(type="integrator", tier=value)])
    assert frame["tier"].isna().all()
    assert [i["problem"] for i in issues] == [
        f"license tier must be one of none, free, limited, standard, premium, enterprise, not {kind}; "
        "read as not given"]


@pytest.mark.parametrize("value", ["gold", "platinum", "standard-plus"])
def test_an_unknown_tier_word_is_noted(tmp_path, value):
    _, issues = _licenses(tmp_path, [_lic(type="integrator", tier=value)])
    assert [i["problem"] for i in issues] == [
        "license tier is not one of none, free, limited, standard, premium, enterprise; read as not given"]


@pytest.mark.parametrize("value", ["Standard", " standard", "STANDARD "])
def test_a_tier_in_another_case_is_read_with_a_note(tmp_path, value):
    frame, issues = _licenses(tmp_path, [_lic(type="integrator", tier=value)])
    assert frame["tier"].tolist() == ["standard"]
    assert [i["problem"] for i in issues] == ["license tier is written in another case or with spaces; "
                                              "read as 'standard'"]


# --- billing and other hand-kept tables -------------------------------------------------------

from auditor.common.errors import AuditorError  # noqa: E402
from auditor.load.sheets import load_mapping, read_table  # noqa: E402
from auditor.partner.reconcile import BILLING_FIELDS, read_billing  # noqa: E402

HEAD = "email,connector,period_start,period_end,amount"
ROW = "a@x.example,conn-a,2026-11-01,2026-11-30,10"
DEFAULT = {f: f for f in BILLING_FIELDS}


def _table(path: Path, mapping=None):
    return read_table(path, mapping or load_mapping(None, BILLING_FIELDS, DEFAULT), BILLING_FIELDS,
                      one_of=("email", "account_id"))


def _billing(path: Path):
    import pandas as pd
    issues: list[dict] = []
    connectors = pd.DataFrame({"connector_id": ["conn-a"], "connector": ["A"]})
    table, _ = read_billing(path, None, connectors, issues)
    return table, issues


BLANK_LINES = [b"\r", b"\r\r", b"\r\r\r\r", b" \r", b"\t\r\r", b",,,,\r\r", b"\r\n", b"\r\r\n"]


@pytest.mark.parametrize("sep", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
@pytest.mark.parametrize("blank", BLANK_LINES)
def test_blank_lines_of_carriage_returns_are_no_rows_and_keep_the_row_numbers(tmp_path, blank, sep):
    bad = "b@x.example,conn-a,2026-11-01,someday,10"
    path = tmp_path / "billing.csv"
    path.write_bytes(HEAD.encode() + sep + blank + sep + ROW.encode() + sep + bad.encode() + sep)
    table, problems = _table(path)
    assert table["email"].tolist() == ["a@x.example"]
    # the bad row is numbered as a spreadsheet opening the file numbers it: blank lines counted
    lines = (HEAD.encode() + sep + blank + sep).replace(b"\r\n", b"\n").replace(b"\r", b"\n").count(b"\n")
    assert [p["row"] for p in problems] == [lines + 2]


def test_a_billing_without_its_optional_columns_is_reconciled(tmp_path):
    """A billing file with only the columns it must have (no edition, quantity, currency): the
    edition ranks compared were None and the run crashed (exit 3)."""
    import pandas as pd

    from auditor.partner.reconcile import reconcile
    path = tmp_path / "billing.csv"
    path.write_text(f"{HEAD}\n\r\r\n{ROW}\n")
    table, issues = _billing(path)
    licenses = pd.DataFrame({"license_id": ["l1"], "email": ["a@x.example"], "account_id": [None],
                             "connector_id": ["conn-a"], "edition": ["standard"], "stores": [1], "expires": [pd.NaT],
                             "live": [True], "trial": [False]})
    rows = reconcile(licenses, table, pd.DataFrame({"connector_id": ["conn-a"], "connector": ["A"]}), AS_OF)
    assert rows["status"].tolist() == ["matched"] and issues == []


@pytest.mark.parametrize("start, end", [("2026-11-30", "2026-11-01"), ("2026-12-01", "2026-11-30"),
                                        ("2027-01-01", "2026-01-01")])
def test_a_billing_period_ending_before_it_starts_is_not_read(tmp_path, start, end):
    path = tmp_path / "billing.csv"
    path.write_text(f"{HEAD}\n{ROW}\nb@x.example,conn-a,{start},{end},10\n")
    table, issues = _billing(path)
    assert table["email"].tolist() == ["a@x.example"]
    assert [(i["record"], i["action"], i["problem"]) for i in issues] == [
        (3, "skipped", "row 3, columns 'period_start' and 'period_end': the billing period ends before it starts")]


def test_a_one_day_period_is_a_period(tmp_path):
    path = tmp_path / "billing.csv"
    path.write_text(f"{HEAD}\nb@x.example,conn-a,2026-11-30,2026-11-30,10\n")
    table, issues = _billing(path)
    assert len(table) == 1 and issues == []


@pytest.mark.parametrize("value", ["0000-01-01", "0001-01-01", "1899-12-30", "9999-12-31", "2262-04-12"])
def test_a_billing_date_outside_the_years_is_not_read(tmp_path, value):
    path = tmp_path / "billing.csv"
    path.write_text(f"{HEAD}\nb@x.example,conn-a,2026-11-01,{value},10\n")
    table, problems = _table(path)
    assert table.empty
    assert [p["problem"] for p in problems] == ["period_end is outside the years 1990 to 2200"]


INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e", "\u202e", "\u061c",
             "\U000e0041"]


@pytest.mark.parametrize("mark", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_an_email_with_invisible_characters_is_read_without_them_and_said(tmp_path, mark):
    path = tmp_path / "billing.csv"
    path.write_text(f"{HEAD}\nA{mark}@x.example{mark},conn-a,2026-11-01,2026-11-30,10\n", encoding="utf-8")
    table, problems = _table(path)
    assert table["email"].tolist() == ["a@x.example"]
    assert [(p["row"], p["action"]) for p in problems] == [(2, "counted")]
    assert "invisible characters" in problems[0]["problem"] and mark not in problems[0]["problem"]


def test_an_email_in_full_width_letters_is_the_address_it_looks_like(tmp_path):
    path = tmp_path / "billing.csv"
    path.write_text(f"{HEAD}\n\uff41@x.example,conn-a,2026-11-01,2026-11-30,10\n", encoding="utf-8")
    table, problems = _table(path)
    assert table["email"].tolist() == ["a@x.example"] and [p["action"] for p in problems] == ["counted"]


@pytest.mark.parametrize("value", ["a b@x.example", "a@b@x.example", "@x.example", "a@", "a\u200b@"])
def test_what_is_no_email_address_is_not_read(tmp_path, value):
    path = tmp_path / "billing.csv"
    path.write_text(f"{HEAD}\n{value},conn-a,2026-11-01,2026-11-30,10\n", encoding="utf-8")
    table, problems = _table(path)
    assert table.empty and any("not an e-mail address" in p["problem"] for p in problems)


def test_license_emails_are_compared_as_billing_ones_are(tmp_path):
    import pandas as pd

    from auditor.partner.reconcile import reconcile
    path = tmp_path / "billing.csv"
    path.write_text(f"{HEAD}\n{ROW}\n")
    table, _ = _billing(path)
    licenses = pd.DataFrame({"license_id": ["l1"], "email": ["\u200bA@x.example "], "account_id": [None],
                             "connector_id": ["conn-a"], "edition": [None], "stores": [1], "expires": [pd.NaT],
                             "live": [True], "trial": [False]})
    rows = reconcile(licenses, table, pd.DataFrame({"connector_id": ["conn-a"], "connector": ["A"]}), AS_OF)
    assert rows["status"].tolist() == ["matched"]


@pytest.mark.parametrize("header", ["email,connector,connector,period_start,period_end,amount",
                                    "email,connector,period_start,period_end,period_end,amount",
                                    "email,connector ,connector,period_start,period_end,amount",
                                    "email,email,connector,period_start,period_end,amount"])
def test_a_header_read_given_twice_stops_the_run(tmp_path, header):
    path = tmp_path / "billing.csv"
    width = header.count(",") + 1
    path.write_text(f"{header}\n{','.join(['x'] * width)}\n")
    with pytest.raises(AuditorError, match=r"billing.csv: the header '\w+' is given twice \(columns \d and \d\); "
                                           r"which one holds \w+ is unknown: keep one"):
        _table(path)


def test_a_header_given_twice_that_nothing_reads_is_no_matter(tmp_path):
    path = tmp_path / "billing.csv"
    path.write_text(f"{HEAD},note,note\n{ROW},x,y\n")
    table, problems = _table(path)
    assert len(table) == 1 and problems == []


def _workbook(path: Path, cells: dict[str, tuple]) -> Path:
    """cells: ref -> (value,) or ("=FORMULA", cached value)."""
    import xlsxwriter
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Invoices")
    for ref, value in cells.items():
        if isinstance(value[0], str) and value[0].startswith("="):
            sheet.write_formula(ref, value[0], None, value[1])
        else:
            sheet.write(ref, value[0])
    book.close()
    return path


def _row(n: int, amount=("10",), email="a@x.example") -> dict:
    return {f"A{n}": (email,), f"B{n}": ("conn-a",), f"C{n}": ("2026-11-01",), f"D{n}": ("2026-11-30",),
            f"E{n}": amount}


HEADER_CELLS = {"A1": ("email",), "B1": ("connector",), "C1": ("period_start",), "D1": ("period_end",),
                "E1": ("amount",)}


@pytest.mark.parametrize("amount", [("=2*5", 10), ("=2*5", 0), ("=SUM(F1:F9)", 999), ("=1/0", "#DIV/0!")],
                         ids=["cached", "no-cached", "stale", "error"])
def test_a_formula_cell_is_not_read_as_its_cached_value(tmp_path, amount):
    path = _workbook(tmp_path / "billing.xlsx", {**HEADER_CELLS, **_row(2), **_row(3, amount, "b@x.example")})
    table, problems = _table(path)
    assert table["email"].tolist() == ["a@x.example"]
    assert [(p["row"], p["column"], p["action"]) for p in problems] == [(3, "amount", "skipped")]
    assert "amount is a formula" in problems[0]["problem"]


def test_a_formula_in_a_column_nothing_reads_is_no_matter(tmp_path):
    path = _workbook(tmp_path / "billing.xlsx", {**HEADER_CELLS, "F1": ("note",), **_row(2), "F2": ("=1+1", 2)})
    table, problems = _table(path)
    assert len(table) == 1 and problems == []


def test_formulas_of_another_sheet_are_not_those_of_the_sheet_read(tmp_path):
    import xlsxwriter
    path = tmp_path / "billing.xlsx"
    book = xlsxwriter.Workbook(str(path))
    other, main = book.add_worksheet("Notes"), book.add_worksheet("Invoices")
    for ref, (value,) in {**HEADER_CELLS, **_row(2)}.items():
        main.write(ref, value)
    other.write_formula("E2", "=1+1", None, 2)
    book.close()
    mapping = load_mapping(None, BILLING_FIELDS, DEFAULT).model_copy(update={"sheet": "Invoices"})
    table, problems = _table(path, mapping)
    assert len(table) == 1 and problems == []


@pytest.mark.parametrize("suffix", [".xls", ".xlsb"])
def test_a_binary_workbook_is_refused(tmp_path, suffix):
    path = tmp_path / f"billing{suffix}"
    path.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 100)
    with pytest.raises(AuditorError, match=f"billing\\{suffix}: a binary workbook"):
        _table(path)


# --- a partner snapshot: ids refused as paths, dates out of range ----------------------------

def _partner(tmp_path: Path, connectors: list, licenses: dict[str, list]) -> Path:
    root = tmp_path / "partner"
    root.mkdir()
    (root / "connectors.json").write_text(json.dumps(connectors))
    for cid, records in licenses.items():
        (root / "connectors" / cid).mkdir(parents=True)
        (root / "connectors" / cid / "licenses.json").write_text(json.dumps(records))
    return root


BAD_CONNECTOR_IDS = ["../x", "a/b", "..", ".", "c d", "x\\y", "/etc", "conn\u200b", "", "a" * 300]


def test_every_connector_id_refused_as_a_path_is_a_load_issue_naming_it(tmp_path):
    from auditor.partner.licenses import load_partner
    root = _partner(tmp_path, [{"_id": cid, "name": f"c{n}"} for n, cid in enumerate(BAD_CONNECTOR_IDS)]
                    + [{"_id": "ok", "name": "fine"}], {"ok": []})
    issues: list[dict] = []
    connectors, _, _ = load_partner(root, issues)
    assert connectors["connector_id"].tolist() == ["ok"]
    refused = [i for i in issues if "not a plain id" in i["problem"]]
    assert [i["id"] for i in refused] == BAD_CONNECTOR_IDS
    assert [i["record"] for i in refused] == list(range(len(BAD_CONNECTOR_IDS)))


@pytest.mark.parametrize("value", ["0000-01-01T00:00:00Z", "9999-12-31T00:00:00Z", "0001-01-01"])
def test_a_partner_license_date_outside_the_years_is_noted(tmp_path, value):
    from auditor.partner.licenses import license_frame, load_partner
    root = _partner(tmp_path, [{"_id": "ok", "name": "fine"}],
                    {"ok": [{"_id": "L1", "created": "2026-01-01T00:00:00Z", "expires": value,
                             "user": {"email": "a@x.example"}}]})
    issues: list[dict] = []
    connectors, licenses, installs = load_partner(root, issues)
    frame = license_frame(connectors, licenses, installs, AS_OF)
    assert frame["expires"].isna().all()
    assert [i["problem"] for i in issues] == ["license expires is outside the years 1990 to 2200; read as not given"]


def test_a_partner_whose_license_expires_in_year_0_is_audited(run_cli, tmp_path):
    root = _partner(tmp_path, [{"_id": "ok", "name": "fine"}],
                    {"ok": [{"_id": "L1", "created": "0000-01-01T00:00:00Z", "expires": "0000-01-01T00:00:00Z",
                             "user": {"email": "a@x.example"}}]})
    run = run_cli("licenses", root, "--as-of", "2026-11-30", "--fail-on", "never")
    assert run.exit_code == 0, run.stderr


# --- mutes: an expiry that is no day, a reason that says nothing --------------------------------

from auditor.rules.mutes import load_mutes  # noqa: E402

NOT_A_DAY = [("86400", "a number"), ("0", "a number"), ("1.5", "a number"), ("20261231", "a number"),
             ("true", "true or false"), ("2026-12-31 10:00:00", "a date with a time"), ("'86400'", "text"),
             ("'next year'", "text"), ("'2026-13-45'", "text"), ("[2026-12-31]", "a list"),
             ("{at: 2026-12-31}", "a mapping")]


def _mutes(tmp_path: Path, entry: str) -> Path:
    path = tmp_path / "mutes.yaml"
    path.write_text(f"mutes:\n  - rule: '*'\n    reason: fine\n  - rule: x\n{entry}")
    return path


@pytest.mark.parametrize("value, kind", NOT_A_DAY)
def test_a_mute_expiry_that_is_no_day_is_refused_with_its_file_and_line(tmp_path, value, kind):
    path = _mutes(tmp_path, f"    reason: fine\n    expires: {value}\n")
    with pytest.raises(AuditorError) as err:
        load_mutes(path)
    assert str(err.value) == f"{path}: entry 2 (line 4) expires: must be a date (YYYY-MM-DD), not {kind}"


@pytest.mark.parametrize("value", ["2026-12-31", "'2026-12-31'", "' 2026-12-31 '", "9999-12-31"])
def test_a_mute_expiry_written_as_a_day_is_read(tmp_path, value):
    path = _mutes(tmp_path, f"    reason: fine\n    expires: {value}\n")
    assert load_mutes(path)[1][1].expires.isoformat()[:4] in ("2026", "9999")


@pytest.mark.parametrize("value", ["''", "'   '", "\"\\t\"", "\"\\n\"", "\"\\u3000\""])
def test_a_blank_mute_reason_is_refused_with_its_file_and_line(tmp_path, value):
    path = _mutes(tmp_path, f"    reason: {value}\n")
    with pytest.raises(AuditorError) as err:
        load_mutes(path)
    assert str(err.value).startswith(f"{path}: entry 2 (line 4) reason: ")


# --- a pulled snapshot's manifest naming a page the folder lacks ----------------------------------

from auditor.common.errors import InputError  # noqa: E402


def _pulled(tmp_path: Path, manifest: dict, pages: int = 2) -> Path:
    root = tmp_path / "acct"
    (root / "flows").mkdir(parents=True)
    for n in range(1, pages + 1):
        (root / "flows" / f"page-{n:05d}.json").write_text(json.dumps([{"_id": f"f{n}"}]))
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


MISSING_PAGE_ENTRIES = [
    {"path": "flows/page-00003.json"},                       # no bytes
    {"path": "flows/page-00003.json", "bytes": "12"},        # bytes as text
    {"path": "flows/page-00003.json", "bytes": None},
    {"path": "flows/page-00003.json", "bytes": 12, "sha256": "x"},
    "flows/page-00003.json",                                  # the path alone
]


@pytest.mark.parametrize("entry", MISSING_PAGE_ENTRIES)
def test_a_manifest_entry_naming_a_missing_page_names_the_page(tmp_path, entry):
    from auditor.load.snapshot import read_snapshot
    root = _pulled(tmp_path, {"files": [entry]})
    with pytest.raises(InputError) as err:
        read_snapshot(root, "acct", "acct")
    assert "flows/page-00003.json" in str(err.value) and "missing" in str(err.value)


@pytest.mark.parametrize("resource, pages, missing", [("flows", 3, "page-00003"), ("flows", 5, "page-00003"),
                                                     ("imports", 1, "page-00001"), ("licenses", 2, "page-00001")])
def test_a_manifest_saying_more_pages_than_the_folder_holds_names_the_first_missing(tmp_path, resource, pages,
                                                                                   missing):
    from auditor.load.snapshot import read_snapshot
    root = _pulled(tmp_path, {"files": [], "resources": {resource: {"records": pages, "pages": pages}}})
    with pytest.raises(InputError) as err:
        read_snapshot(root, "acct", "acct")
    assert f"{resource}/{missing}.json is missing" in str(err.value)
    assert f"resources.{resource} says" in str(err.value)


def test_a_manifest_whose_pages_are_all_there_is_read(tmp_path):
    from auditor.load.snapshot import read_snapshot
    size = len(json.dumps([{"_id": "f1"}]))
    root = _pulled(tmp_path, {"files": [{"path": "flows/page-00001.json", "bytes": size}],
                              "resources": {"flows": {"records": 2, "pages": 2}, "../x": {"pages": 9},
                                            "notes": {"pages": 4}, "exports": {"pages": 1}}})
    (root / "exports.json").write_text("[]")  # laid out as one file
    assert read_snapshot(root, "acct", "acct").account == "acct"


@pytest.mark.parametrize("entry", [{"bytes": 3}, {"path": 3, "bytes": 3}, {"path": "", "bytes": 3}, 7, None])
def test_a_manifest_entry_without_a_path_is_refused_for_its_shape(tmp_path, entry):
    from auditor.load.snapshot import read_snapshot
    root = _pulled(tmp_path, {"files": [entry]})
    with pytest.raises(InputError, match=r"files\[0\] needs a path"):
        read_snapshot(root, "acct", "acct")


# --- a damaged history database, and one that cannot be made -------------------------------------

import shutil  # noqa: E402
import sqlite3  # noqa: E402

from auditor.history import store  # noqa: E402


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A history of two audits of the sample (October and November), and the November results."""
    from conftest import audited

    from auditor.common.paths import sample_dir
    folder = tmp_path_factory.mktemp("history")
    path = folder / "history.sqlite"
    for day in ("2026-10-31", "2026-11-30"):
        results = audited(sample_dir(), as_of=day)
        store.record(path, results)
    return path, results


def _damaged(recorded, tmp_path, sql: str) -> Path:
    path = tmp_path / "damaged.sqlite"
    shutil.copy(recorded[0], path)
    con = sqlite3.connect(path)
    con.executescript(sql)
    con.close()
    return path


READS = [("summary", lambda p: store.summary(p)), ("places", lambda p: store.places(p)),
         ("dates", lambda p: store.dates(p)), ("load", lambda p: store.load(p, "2026-11-30")),
         ("previous", lambda p: store.previous(p, "Acme Retail", "2026-12-31")),
         ("series", lambda p: store.series(p, ["Acme Retail"]))]
TABLES = ["audits", "environments", "endpoints", "flows", "connections", "licenses", "findings", "documents"]


@pytest.mark.parametrize("read", [r for _, r in READS], ids=[n for n, _ in READS])
@pytest.mark.parametrize("damage", [
    "; ".join(f"DROP TABLE {t}" for t in reversed(TABLES)),        # version 3, no tables at all
    "DROP TABLE documents", "DROP TABLE findings",
    "ALTER TABLE endpoints DROP COLUMN reached_by", "ALTER TABLE environments DROP COLUMN agents_used",
], ids=["no-tables", "no-documents", "no-findings", "no-column", "no-agents-column"])
def test_a_history_lacking_what_its_schema_says_is_refused_as_damaged(recorded, tmp_path, read, damage):
    path = _damaged(recorded, tmp_path, damage)
    with pytest.raises(AuditorError, match=r"damaged.sqlite: the history database is damaged: its schema version "
                                           r"is 3, but (its table|the column) '\w+' .*is missing"):
        read(path)


@pytest.mark.parametrize("damage", [
    "UPDATE endpoints SET connections = 'not json'", "UPDATE endpoints SET flows = NULL",
    "UPDATE endpoints SET reached_by = '{\"a\": 1}'", "UPDATE endpoints SET connections = '[1, 2]'",
    "UPDATE endpoints SET flows = x'00ff'",
])
def test_lists_stored_as_no_json_are_damage_said_in_one_line(recorded, tmp_path, damage):
    path = _damaged(recorded, tmp_path, f"DELETE FROM documents; {damage}")  # audits rebuilt from the tables
    with pytest.raises(AuditorError, match=r"the audits recorded for 2026-11-30 are damaged and cannot be read "
                                           r"\(endpoints\.\w+ of an endpoint is not a JSON list of names\)"):
        store.load(path, "2026-11-30")


@pytest.mark.parametrize("column", ["flows_billable", "flows_entitled", "endpoints_used", "endpoints_entitled"])
@pytest.mark.parametrize("value", ["'many'", "''", "-1", "2.5", "x'01'"])
def test_a_count_that_is_no_whole_number_is_damage(recorded, tmp_path, column, value):
    path = _damaged(recorded, tmp_path, f"UPDATE environments SET {column} = {value}")
    for read in (store.summary, lambda p: store.series(p, ["Acme Retail", "Globex Corporation"])):
        with pytest.raises(AuditorError, match=f"the history database is damaged: {column} of account .* as of "
                                               r"\d{4}-\d\d-\d\d is not a whole number"):
            read(path)


@pytest.mark.parametrize("value", ["'someday'", "''", "'2026-13-01'", "20261031"])
def test_an_audit_recorded_for_no_date_is_damage(recorded, tmp_path, value):
    path = _damaged(recorded, tmp_path, f"UPDATE audits SET as_of = {value} WHERE as_of = '2026-10-31'")
    with pytest.raises(AuditorError, match="recorded for a day that is no date"):
        store.summary(path)


def test_a_damaged_history_is_one_line_and_exit_2_in_each_command(recorded, tmp_path, run_cli):
    path = _damaged(recorded, tmp_path, "DELETE FROM documents; UPDATE endpoints SET flows = NULL; "
                                        "UPDATE environments SET flows_billable = 'many'")
    for args in (["history"], ["diff", "2026-10-31", "2026-11-30"], ["report", "2026-11-30", tmp_path / "r.html"],
                 ["audit", "--sample", "--as-of", "2026-12-31", "--fail-on", "never", "-o", tmp_path / "r.json"]):
        run = run_cli(*args, "--history", path)
        assert run.exit_code == 2 and len(run.stderr.strip().splitlines()) == 1, (args, run.stderr)
        assert "damaged" in run.stderr
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "r.html").exists()


class _Full:
    """A connection whose disk fills up at the first statement matching `at` (and whose rollback
    then fails too, as SQLite's does when the journal cannot be written)."""

    def __init__(self, con, at):
        self.con, self.at = con, at

    def execute(self, sql, *args):
        if self.at in sql or (sql == "ROLLBACK"):
            raise sqlite3.OperationalError("database or disk is full")
        return self.con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.con, name)


@pytest.mark.parametrize("at", ["CREATE TABLE audits", "CREATE TABLE documents", "PRAGMA user_version = 2",
                                "COMMIT"])
def test_a_disk_full_while_a_history_is_created_leaves_nothing(tmp_path, monkeypatch, at):
    real = sqlite3.connect
    monkeypatch.setattr(store.sqlite3, "connect", lambda *a, **k: _Full(real(*a, **k), at))
    path = tmp_path / "new" / "history.sqlite"
    with pytest.raises(AuditorError, match=r"history.sqlite: cannot create the history \(database or disk is "
                                           r"full\); nothing was left behind"):
        store.connect(path)
    assert list(path.parent.iterdir()) == []


def test_a_disk_full_while_the_first_audit_is_recorded_leaves_nothing(tmp_path, monkeypatch, recorded):
    real = sqlite3.connect
    monkeypatch.setattr(store.sqlite3, "connect", lambda *a, **k: _Full(real(*a, **k), "INSERT INTO documents"))
    path = tmp_path / "history.sqlite"
    with pytest.raises(AuditorError, match="cannot record the audit .*disk is full.*; the history is as it was"):
        store.record(path, recorded[1])
    assert not path.exists()


def test_a_disk_full_while_an_existing_history_is_recorded_into_keeps_it(tmp_path, monkeypatch, recorded):
    path = tmp_path / "history.sqlite"
    shutil.copy(recorded[0], path)
    before = path.read_bytes()
    real = sqlite3.connect
    monkeypatch.setattr(store.sqlite3, "connect", lambda *a, **k: _Full(real(*a, **k), "INSERT INTO documents"))
    with pytest.raises(AuditorError, match="the history is as it was"):
        store.record(path, recorded[1])
    assert path.read_bytes() == before


def test_an_os_error_while_a_history_is_opened_leaves_nothing(tmp_path, monkeypatch):
    def refuse(*_a, **_k):
        raise sqlite3.OperationalError("unable to open database file")
    monkeypatch.setattr(store.sqlite3, "connect", refuse)
    path = tmp_path / "history.sqlite"
    with pytest.raises(AuditorError, match="cannot open the history database"):
        store.connect(path)
    assert not path.exists()


# --- account names that only look different: one account ----------------------------------------

from auditor.load.snapshot import account_key, account_name  # noqa: E402

LOOKALIKES = [
    ("Acme Retail", "acme retail"), ("Acme Retail", "ACME RETAIL"), ("Acme Retail", "Acme Retail "),
    ("Acme Retail", " Acme Retail"), ("Acme Retail", "Acme  Retail"), ("Acme Retail", "Acme\tRetail"),
    ("Acme Retail", "Acme\u200b Retail"), ("Acme Retail", "Acme Retail\ufeff"), ("Acme Retail", "\u2060Acme Retail"),
    ("Acme Retail", "Acme\u00a0Retail"), ("Acme Retail", "\uff21cme Retail"), ("Café", "Cafe\u0301"),
    ("Café", "CAFÉ"), ("Straße", "STRASSE"), ("Acme Retail", "Acme Retail\u200e"),
]


@pytest.mark.parametrize("one, other", LOOKALIKES)
def test_names_that_only_look_different_are_one_account(one, other):
    assert account_key(one) == account_key(other)


@pytest.mark.parametrize("one, other", [("Acme Retail", "Acme Retail 2"), ("Acme", "Acne"), ("Café", "Cafe"),
                                        ("Acme-Retail", "Acme Retail")])
def test_names_that_differ_are_two_accounts(one, other):
    assert account_key(one) != account_key(other)


@pytest.mark.parametrize("given, kept", [("Acme Retail ", "Acme Retail"), ("\tAcme Retail\n", "Acme Retail"),
                                         ("Cafe\u0301", "Café")])
def test_a_name_is_kept_composed_and_without_spaces_at_its_ends(given, kept):
    assert account_name(given) == kept


@pytest.mark.parametrize("one, other", LOOKALIKES[:12])
def test_two_snapshots_of_look_alike_names_in_one_run_are_refused(tmp_path, one, other):
    from contextlib import ExitStack

    from conftest import write_snapshot

    from auditor.load.snapshot import discover
    write_snapshot(tmp_path / "all" / "a", account={"name": one}, flows=[])
    write_snapshot(tmp_path / "all" / "b", account={"name": other}, flows=[])
    with ExitStack() as stack, pytest.raises(AuditorError) as err:
        discover([tmp_path / "all"], stack)
    assert "looks like" in str(err.value) or "is also the name of" in str(err.value)
    assert "give each account a name of its own" in str(err.value) or "is also the name of" in str(err.value)


def test_a_name_with_a_trailing_space_is_read_and_recorded_without_it(tmp_path):
    from conftest import audited, write_snapshot
    root = write_snapshot(tmp_path / "a", account={"name": "Acme Retail "}, flows=[])
    results = audited(root)
    assert [a["account"] for a in results["accounts"]] == ["Acme Retail"]


@pytest.mark.parametrize("one, other", [pair for pair in LOOKALIKES if account_name(pair[0]) != account_name(pair[1])])
def test_the_history_refuses_a_name_looking_like_one_it_holds(tmp_path, one, other):
    from conftest import audited, write_snapshot
    path = tmp_path / "history.sqlite"
    store.record(path, audited(write_snapshot(tmp_path / "a", account={"name": one}, flows=[]), as_of="2026-10-31"))
    later = audited(write_snapshot(tmp_path / "b", account={"name": other}, flows=[]), as_of="2026-11-30")
    for step in (lambda: store.previous(path, later["accounts"][0]["account"], "2026-11-30"),
                 lambda: store.record(path, later)):
        with pytest.raises(AuditorError, match="looks like .*, recorded in this history"):
            step()
    assert store.dates(path)["account"].tolist() == [account_name(one)]


def test_an_audit_of_a_look_alike_name_writes_nothing(tmp_path, run_cli):
    from conftest import write_snapshot
    history = tmp_path / "history.sqlite"
    first = write_snapshot(tmp_path / "a", account={"name": "Acme Retail"}, flows=[])
    assert run_cli("audit", first, "--as-of", "2026-10-31", "--record", "--history", history).exit_code == 0
    second = write_snapshot(tmp_path / "b", account={"name": "ACME\u200b retail "}, flows=[])
    run = run_cli("audit", second, "--as-of", "2026-11-30", "--record", "--history", history,
                  "-o", tmp_path / "r.json")
    assert run.exit_code == 2 and "looks like 'Acme Retail'" in run.stderr
    assert not (tmp_path / "r.json").exists()


# --- a results file whose days are no days: refused as it is read, before any report is written ----

@pytest.fixture(scope="module")
def sample_results():
    from conftest import audited

    from auditor.common.paths import sample_dir
    return audited(sample_dir())


def _spoil(results: dict, where: str, value) -> dict:
    doc = json.loads(json.dumps(results))
    if where == "as_of":
        doc["as_of"] = value
    elif where == "license":
        doc["accounts"][0]["licenses"][0]["expires"] = value
    elif where == "trial":
        doc["accounts"][0]["licenses"][0]["trial_end"] = value
    elif where == "mute":
        doc["mutes"].append({"mute": "m", "rule": "*", "account": "*", "environment": "*", "resource": "*",
                             "reason": "r", "expires": value, "status": "unused", "matched": 0})
    return doc


NO_DAYS = ["not a date", "0000-01-01", "2026-11-31", "2026-11-30T10:00:00", "30/11/2026", "", "-001-01-01",
           "10000-01-01", "2026-1-1"]


@pytest.mark.parametrize("where", ["as_of", "license", "trial", "mute"])
@pytest.mark.parametrize("value", NO_DAYS)
def test_a_day_in_a_results_file_that_is_no_day_is_refused_as_it_is_read(sample_results, where, value):
    from auditor.results.io import check
    with pytest.raises(AuditorError, match="must be a day, YYYY-MM-DD"):
        check(_spoil(sample_results, where, value), "r.json")


@pytest.mark.parametrize("command", ["audit", "licenses", "ns-records"])
@pytest.mark.parametrize("value", ["0001-01-01", "1989-12-31", "2201-01-01", "9999-12-31"])
def test_an_audit_date_out_of_the_years_is_refused(run_cli, tmp_path, command, value):
    """9999-12-31 crashed (the audit month has no next month to end at); every audit date is a day of
    a year from 1990 to 2200."""
    run = run_cli(command, "--sample", "--as-of", value, "--fail-on", "never", "-o", tmp_path / "r.json")
    assert run.exit_code == 2 and "is not a date of a year from 1990 to 2200" in run.stderr, run.stderr
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("where, value", [("license", "0001-01-01"), ("license", "9999-12-31"),
                                          ("mute", "9999-12-31"), ("trial", "1899-12-31")])
def test_far_but_real_days_in_a_results_file_are_rendered(sample_results, where, value, tmp_path, run_cli):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(_spoil(sample_results, where, value)))
    run = run_cli("report", path, tmp_path / "r.html", tmp_path / "r.xlsx")
    assert run.exit_code == 0, run.stderr


@pytest.mark.parametrize("where, value", [("as_of", "not a date"), ("as_of", "0000-01-01"), ("license", "0000-01-01"),
                                          ("mute", "0000-01-01")])
def test_report_writes_nothing_from_a_results_file_with_no_day(sample_results, where, value, tmp_path, run_cli):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(_spoil(sample_results, where, value)))
    run = run_cli("report", path, tmp_path / "r.html", tmp_path / "r.xlsx")
    assert run.exit_code == 2 and "must be a day" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "r.xlsx").exists()


@pytest.mark.parametrize("name", ["   ", "\u200b", "\ufeff \u2060", "\t\n"])
def test_a_blank_account_name_is_the_folders_and_said(tmp_path, name):
    from conftest import write_snapshot

    from auditor.load.snapshot import read_snapshot
    root = write_snapshot(tmp_path / "acme", account={"name": name}, flows=[])
    snap = read_snapshot(root, "acme", "acme")
    assert snap.account == "acme"
    assert [n["problem"] for n in snap.notes if n["file"] == "acme/account.json"] == [
        "name is blank (nothing but spaces or invisible characters); the account is named after its folder"]
