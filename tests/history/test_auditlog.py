"""Issue 27: the audit log read, pulled, and every change of a count tied to the entries behind it.

The sample's Northwind account, audited in October and November (auditor/sample_history), has an
audit log between the two in which every kind of counted change happens: flows created, enabled,
disabled and deleted; a connection created, one deleted, one changed in its base URI; an import
repointed to another connection; the license's endpoints raised; plus entries that change nothing
counted (a secret token set, a flow renamed, an export created).
"""

from __future__ import annotations

import gzip
import json
import shutil
import warnings
from pathlib import Path

import pytest

from auditor.common.paths import sample_dir
from auditor.common.secrets import secret_field
from auditor.history.attribution import NO_ENTRY
from auditor.history.diff import changes_section
from auditor.load.auditlog import MASK, shown_value
from auditor.pull import PullError
from tests.cli.test_pull import PAGE, TOKEN, api, pull  # noqa: F401  (api: the fake API fixture)
from tests.conftest import audited, write_snapshot

HISTORY = sample_dir().parent / "sample_history"
OCT, NOV = HISTORY / "northwind-2026-10", HISTORY / "northwind-2026-11"
CANARY = "CANARY-s3cr3t-9f8e7d6c5b4a"
SHOP_EU = "uri:https://northwind-eu.myshopify.com/admin/api/2024-01"
FTP_OLD = "ftp:ftp.old-partner.example.com:22"
TPL_ONE, TPL_TWO = "uri:https://api.3pl-one.example.com", "uri:https://api.3pl-two.example.com/v2"
WMS, EDI = "uri:https://wms.northwind.example.com/api", "uri:https://edi.partner.example.com/inbound"
MAILCHIMP = "uri:https://us1.api.mailchimp.com/3.0"


@pytest.fixture(scope="module")
def months() -> tuple[dict, dict]:
    return audited(OCT, as_of="2026-10-31"), audited(NOV, as_of="2026-11-30")


def _rows(section: dict) -> dict[tuple, dict]:
    return {(r["kind"], r["change"], r["id"]): r for r in section["rows"]}


def _copy(tmp_path: Path, month: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(month, target)
    return target


def _log(folder: Path) -> list[dict]:
    return json.loads((folder / "audit.json").read_text())


# --- attribution -------------------------------------------------------------------------------

# (kind, change, id) -> the entries it is tied to: every kind of change the issue names
EXPECTED = {
    ("flow", "became billable", "f-orders-eu"): {"a-11-05", "a-11-06"},  # created, then enabled
    ("flow", "became billable", "f-eu-stock"): {"a-11-07"},  # created
    ("flow", "became billable", "f-legacy-sync"): {"a-11-08"},  # enabled
    ("flow", "stopped being billable", "f-ftp"): {"a-11-09"},  # deleted
    ("flow", "stopped being billable", "f-promo"): {"a-11-12"},  # disabled
    ("endpoint", "added", SHOP_EU): {"a-11-01", "a-11-05", "a-11-06", "a-11-07"},  # connection created, flows
    ("endpoint", "removed", FTP_OLD): {"a-11-09", "a-11-11"},  # connection and its flow deleted
    ("endpoint", "added", TPL_TWO): {"a-11-13"},  # the base URI, which makes the key, changed
    ("endpoint", "removed", TPL_ONE): {"a-11-13", "a-11-14"},
    ("endpoint", "added", WMS): {"a-11-14"},  # an import repointed to its connection
    ("endpoint", "added", EDI): {"a-11-08"},  # reached by a flow enabled
    ("endpoint", "removed", MAILCHIMP): {"a-11-12"},  # its only flow disabled
    ("entitlement", "changed", "endpoints"): {"a-11-15"},  # the license changed
}


def test_every_kind_of_change_in_the_sample_is_tied_to_its_entries(months):
    rows = _rows(changes_section([months]))
    for key, entries in EXPECTED.items():
        assert key in rows, key
        assert set(rows[key]["entries"]) == entries, (key, rows[key]["cause"])
    counted = {k: r for k, r in rows.items() if k[0] in ("flow", "endpoint", "entitlement")}
    assert set(counted) == set(EXPECTED)  # no change of a count left without its entries checked


def test_each_cause_says_who_what_when_and_from_where(months):
    rows = _rows(changes_section([months]))
    said = {key: rows[key]["cause"] for key in EXPECTED}
    assert said[("endpoint", "added", SHOP_EU)].startswith(
        "connection 'Shopify EU' created by jo@northwind.example on 2026-11-02, UI; flow 'Orders EU' created by")
    assert said[("flow", "became billable", "f-legacy-sync")] == \
        "flow 'Legacy EDI invoices' enabled by ops@northwind.example on 2026-11-06, api"
    assert said[("flow", "stopped being billable", "f-promo")] == \
        "flow 'Newsletter audience' disabled by jo@northwind.example on 2026-11-12, UI"
    # a deleted resource keeps the name the older audit knew it by, and is said to exist no more
    assert said[("flow", "stopped being billable", "f-ftp")] == \
        "flow 'Partner files in' (resource no longer exists) deleted by sam@northwind.example on 2026-11-10, UI"
    assert "connection 'Old partner FTP' (resource no longer exists) deleted" in said[("endpoint", "removed", FTP_OLD)]
    assert said[("endpoint", "added", TPL_TWO)] == (
        "connection '3PL warehouse' http.baseURI changed from https://api.3pl-one.example.com to "
        "https://api.3pl-two.example.com/v2 by sam@northwind.example on 2026-11-15, UI")
    assert said[("endpoint", "added", WMS)] == (
        "import 'Returns to warehouse' repointed from connection '3PL warehouse' to connection 'WMS (new warehouse)' "
        "by sam@northwind.example on 2026-11-18, UI")
    assert said[("entitlement", "changed", "endpoints")] == (
        "endpoints entitled 6 -> 7: license lic-nw-endpoint numEndpoints changed from 6 to 7 by Celigo billing on "
        "2026-11-20, system")


def test_the_headline_is_one_line_per_metric_that_changed(months):
    section = changes_section([months])
    lines = section["headline"]
    assert [line.split(":")[1].strip() for line in lines] == ["endpoints entitled 6 -> 7", "flows 6 -> 7",
                                                              "endpoints 6 -> 7"]
    endpoints = lines[2]
    assert endpoints.startswith("Northwind, production: endpoints 6 -> 7: +")
    assert ("+northwind-eu.myshopify.com (connection created by jo@northwind.example on 2026-11-02, UI), reached by "
            "flow 'EU stock levels' (created by sam@northwind.example on 2026-11-05, api), flow 'Orders EU' (created by "
            "jo@northwind.example on 2026-11-03, UI; enabled by jo@northwind.example on 2026-11-04, UI)") in endpoints
    assert "-us1.api.mailchimp.com, was reached by flow 'Newsletter audience' (disabled by jo@" in endpoints
    assert "+'Legacy EDI invoices' (enabled by ops@northwind.example on 2026-11-06, api)" in lines[1]
    # the headline is what the usage rows' cause says
    usage = [r["cause"] for r in section["rows"] if r["kind"] == "usage"]
    assert [line.split(", ", 1)[1].split(": ", 1)[1] for line in lines[1:]] == usage


def test_entries_that_changed_nothing_counted_are_listed_only_when_asked(months):
    plain = changes_section([months])
    tied = {e for r in plain["rows"] for e in r["entries"]}
    assert "a-11-16" not in tied and "a-11-02" not in tied  # a flow renamed; a secret token set
    assert not [r for r in plain["rows"] if r["kind"] == "audit log"]
    asked = changes_section([months], all_entries=True)
    extra = {r["id"]: r for r in asked["rows"] if r["kind"] == "audit log"}
    assert set(extra) == {"a-11-02", "a-11-03", "a-11-04", "a-11-10", "a-11-16"}
    assert extra["a-11-16"]["change"] == "changed nothing counted"
    assert extra["a-11-16"]["detail"] == ("flow 'Orders to Shopify US' name changed from Orders US to Orders to "
                                          "Shopify US by jo@northwind.example on 2026-11-21, UI")
    assert extra["a-11-02"]["detail"].startswith(f"connection 'Shopify EU' http.auth.token.token changed from (none) "
                                                 f"to {MASK} by")


def test_a_change_no_entry_explains_says_so(tmp_path, months):
    nov = _copy(tmp_path, NOV, "nov")
    (nov / "audit.json").write_text(json.dumps([e for e in _log(NOV) if e["_id"] != "a-11-12"]))
    rows = _rows(changes_section([(months[0], audited(nov, as_of="2026-11-30"))]))
    assert rows[("flow", "stopped being billable", "f-promo")]["cause"] == NO_ENTRY
    assert rows[("flow", "stopped being billable", "f-promo")]["entries"] == []
    assert rows[("endpoint", "removed", MAILCHIMP)]["cause"] == NO_ENTRY
    assert "-'Newsletter audience' (" + NO_ENTRY + ")" in rows[("usage", "up", "flows")]["cause"]


def test_entries_outside_the_window_between_the_audits_are_not_used(tmp_path, months):
    nov = _copy(tmp_path, NOV, "nov")
    log = _log(NOV)
    for e in log:
        if e["_id"] == "a-11-12":
            e["time"] = "2026-10-20T11:00:00.000Z"  # before October's audit
    (nov / "audit.json").write_text(json.dumps(log))
    rows = _rows(changes_section([(months[0], audited(nov, as_of="2026-11-30"))]))
    assert rows[("flow", "stopped being billable", "f-promo")]["cause"] == NO_ENTRY


def test_without_an_audit_log_nothing_is_said_of_causes(tmp_path):
    folders = []
    for month in (OCT, NOV):
        folder = _copy(tmp_path, month, month.name)
        (folder / "audit.json").unlink()
        folders.append(folder)
    old, new = audited(folders[0], as_of="2026-10-31"), audited(folders[1], as_of="2026-11-30")
    assert "audit_log" not in new and "audit_log" not in new["accounts"][0]
    section = changes_section([(old, new)])
    assert all(r["cause"] is None for r in section["rows"] if r["kind"] != "usage")
    assert all(NO_ENTRY not in (r["cause"] or "") for r in section["rows"])
    # the headline still says what changed, without causes
    assert section["headline"][1].startswith("Northwind, production: endpoints 6 -> 7: +api.3pl-two.example.com, ")


# --- reading -----------------------------------------------------------------------------------

def test_the_results_keep_the_entries_with_their_resources(months):
    _, nov = months
    assert nov["accounts"][0]["audit_log"] is True
    log = {e["id"]: e for e in nov["audit_log"]}
    assert len(log) == 16
    assert log["a-11-01"]["resource_name"] == "Shopify EU" and log["a-11-01"]["exists"] is True
    assert log["a-11-01"]["environment"] == "production" and log["a-11-01"]["day"] == "2026-11-02"
    assert log["a-11-11"]["exists"] is False and log["a-11-11"]["resource_name"] is None
    assert log["a-11-15"]["exists"] is None  # a license: not a resource a snapshot lists
    assert log["a-11-02"]["new"] == MASK
    assert "shpat_" not in json.dumps(nov)


@pytest.mark.parametrize("form", ["ndjson", "gz", "pages"])
def test_every_form_of_a_resource_file_is_read_per_environment(tmp_path, form):
    root = tmp_path / "multi"
    write_snapshot(root, account={"name": "Multi", "licenseModel": "multi-environment"})
    entries = {"production": [{"_id": "p1", "time": "2026-11-02T00:00:00Z", "resourceType": "flow",
                               "_resourceId": "f1", "event": "update",
                               "fieldChange": {"fieldPath": "disabled", "oldValue": True, "newValue": False}}],
               "sandbox": [{"_id": "s1", "time": "2026-11-03T00:00:00Z", "resourceType": "flow",
                            "_resourceId": "f1", "event": "create"}]}
    for env, log in entries.items():
        folder = write_snapshot(root / env, flows=[{"_id": "f1", "name": f"flow in {env}"}])
        if form == "ndjson":
            (folder / "audit.ndjson").write_text("\n".join(json.dumps(e) for e in log) + "\n")
        elif form == "gz":
            (folder / "audit.json.gz").write_bytes(gzip.compress(json.dumps(log).encode()))
        else:
            (folder / "audit").mkdir()
            (folder / "audit" / "page-1.json").write_text(json.dumps(log))
    doc = audited(root)
    got = {e["id"]: (e["environment"], e["resource_name"]) for e in doc["audit_log"]}
    assert got == {"p1": ("production", "flow in production"), "s1": ("sandbox", "flow in sandbox")}
    assert not [i for i in doc["load_issues"] if "audit" in (i["file"] or "")]


def test_a_broken_entry_is_skipped_and_said_never_lost(tmp_path):
    log = [
        {"_id": "ok", "time": "2026-11-02T10:00:00Z", "resourceType": "flow", "_resourceId": "f1", "event": "create"},
        "not an entry",
        {"time": "2026-11-02T10:00:00Z", "event": "create"},  # no _id
        {"_id": "b1", "byUser": "jo", "event": "create"},  # byUser must be an object
        {"_id": "b2", "time": 1730000000, "event": "create"},  # a time that is no text
        {"_id": "ok", "time": "2026-11-03T10:00:00Z", "event": "delete"},  # the same _id again
        {"_id": "t1", "time": "yesterday", "resourceType": "flow", "_resourceId": "f1", "event": "update"},
        {"_id": "v1", "fieldChange": "not an object"},
        {"_id": "w1", "time": "2026-11-04T10:00:00+02:00", "resourceType": "Flows", "_resourceId": "f1",
         "event": "Updated", "byUser": {"name": 7, "email": ["x"]}},
    ]
    root = write_snapshot(tmp_path / "acct", flows=[{"_id": "f1", "name": "F"}], audit=log)
    doc = audited(root)
    kept = {e["id"] for e in doc["audit_log"]}
    issues = [i for i in doc["load_issues"] if i["file"] == "acct/audit.json"]
    said = {i["record"]: (i["problem"], i["action"]) for i in issues}
    assert kept == {"ok", "t1", "w1"}
    worded = next(e for e in doc["audit_log"] if e["id"] == "w1")  # however the log words it
    assert (worded["event"], worded["resource_type"], worded["resource_name"], worded["day"]) == \
        ("update", "flow", "F", "2026-11-04")
    assert worded["user"] is None and worded["email"] is None  # a name that is no text is none
    assert said[1] == ("audit-log entry is not a JSON object", "skipped")
    assert said[2] == ("audit-log entry has no _id", "skipped")
    assert said[3] == ("audit-log entry byUser must be an object, not a string", "skipped")
    assert said[4] == ("audit-log entry time must be a string, not a number", "skipped")
    assert said[5][0].startswith("audit-log entry has the same _id as record 0") and said[5][1] == "skipped"
    assert said[6][1] == "counted" and "no time that can be read" in said[6][0]
    assert said[7] == ("audit-log entry fieldChange must be an object, not a string", "skipped")
    # every entry is kept or said
    assert len(kept) + sum(a == "skipped" for _, a in said.values()) == len(log)


@pytest.mark.parametrize(("field", "value", "shown"), [
    ("http.auth.token.token", CANARY, MASK),
    ("ftp.password", CANARY, MASK),
    ("http.encrypted", {"password": CANARY}, MASK),
    ("http.headers", [{"name": "X-Api-Key", "value": CANARY}], MASK),
    # the path judged whole (a long one is cut only where it is shown), and names the log uses
    ("settings." + "a" * 200 + ".password", CANARY, MASK),
    ("netsuite.tokenId", CANARY, MASK),
    ("http.headers[0].value", CANARY, MASK),
    ("settings.licenseKey", CANARY, MASK),
    ("ftp.pw", CANARY, MASK),
    # a field that cannot be read holds a secret for all anyone knows
    (["http", "auth", "password"], CANARY, MASK),
    (None, CANARY, MASK),
    ("http.unencrypted", {"apiKey": CANARY}, "(an object of 1 field, not shown)"),
    ("http.baseURI", f"https://svc:{CANARY}@api.example.com/v1?token={CANARY}", "https://api.example.com/…#"),
    ("http.baseURI", f"https://hooks.example.com/services/T01/{CANARY}", "https://hooks.example.com/…#"),
    ("settings.note", f"orders password {CANARY}", "(a value, not shown #"),
    ("rest.bearerToken", CANARY, MASK),
    ("netsuite.account", "7654321_SB1", "7654321_SB1"),
    ("_connectionId", "5f3a9b2c1d4e5f6a7b8c9d0e", "5f3a9b2c1d4e5f6a7b8c9d0e"),
    ("disabled", True, "true"),
    ("s3.accessKeyId", "AKIAIOSFODNN7EXAMPLEKEY", "(a value, not shown #"),
])
def test_values_are_masked(field, value, shown):
    said = shown_value(value, secret_field(field))
    assert said.startswith(shown) and CANARY not in said


def test_the_pull_masks_what_the_reader_masks():
    """The pull writes the log with the same fields masked (common.secrets), a path it cannot
    read too."""
    from auditor.pull import mask_audit
    for path in ("settings." + "a" * 200 + ".password", "netsuite.tokenId", ["a", "password"], None):
        entry = {"_id": "e", "fieldChange": {"fieldPath": path, "oldValue": CANARY, "newValue": CANARY}}
        assert CANARY not in str(mask_audit([entry]))


# --- every output, hostile entries -------------------------------------------------------------

HOSTILE = [
    {"_id": "h1", "time": "2026-11-08T10:00:00Z", "source": "UI\u001b[31m",
     "byUser": {"name": "<script>alert(1)</script>\u001b]0;pwned\u0007"},
     "resourceType": "flow", "_resourceId": "f-promo", "event": "update",
     "fieldChange": {"fieldPath": "disabled", "oldValue": False, "newValue": True}},
    {"_id": "h2", "time": "2026-11-08T11:00:00Z", "byUser": {"email": "mallory@example.com"},
     "resourceType": "connection", "_resourceId": "c-carrier", "event": "update",
     "fieldChange": {"fieldPath": "http.auth.token.token", "oldValue": CANARY, "newValue": CANARY + "2"}},
    {"_id": "h3", "time": "2026-11-08T12:00:00Z", "byUser": {"email": "mallory@example.com"},
     "resourceType": "connection", "_resourceId": "c-carrier", "event": "update",
     "fieldChange": {"fieldPath": "http.baseURI", "oldValue": f"https://u:{CANARY}@api.carrier.example.com/v1",
                     "newValue": f"https://api.carrier.example.com/v1?apikey={CANARY}"}},
    {"_id": "h4", "time": "2026-11-08T13:00:00Z", "byUser": {"email": "=HYPERLINK(\"http://evil\")"},
     "resourceType": "=SUM(A1)", "_resourceId": "x", "event": "update"},
]


def test_hostile_entries_are_escaped_and_secrets_shown_nowhere(tmp_path, run_cli):
    store = tmp_path / "h.sqlite"
    nov = _copy(tmp_path, NOV, "nov")
    (nov / "audit.json").write_text(json.dumps([e for e in _log(NOV) if e["_id"] != "a-11-12"] + HOSTILE))
    first = run_cli("audit", OCT, "--as-of", "2026-10-31", "--fail-on", "never", "--record", "--history", store)
    assert first.exit_code == 0, first.stderr
    out = tmp_path / "out"
    out.mkdir()
    run = run_cli("audit", nov, "--as-of", "2026-11-30", "--fail-on", "never", "--record", "--history", store,
                  "--html", out / "r.html", "--xlsx", out / "r.xlsx", "--csv", out / "csv")
    assert run.exit_code == 0, run.stderr
    diff = run_cli("diff", "2026-10-31", "2026-11-30", "--history", store, "--all-entries")
    diff_csv = run_cli("diff", "2026-10-31", "2026-11-30", "--history", store, "--all-entries", "--format", "csv",
                       "--html", out / "d.html", "--xlsx", out / "d.xlsx")
    assert diff.exit_code == 0 and diff_csv.exit_code == 0, diff.stderr + diff_csv.stderr
    written = [p.read_bytes() for p in out.rglob("*") if p.is_file()] + [run.out.read_bytes(), store.read_bytes()]
    for text in (run.stdout, run.stderr, diff.stdout, diff.stderr, diff_csv.stdout):
        assert CANARY not in text and "\u001b" not in text and "\u0007" not in text
    for data in written:
        assert CANARY.encode() not in data
    # the disabled flow is tied to the hostile entry; its user's name is escaped wherever it is shown
    rows = _rows(run.results["changes"])
    assert rows[("flow", "stopped being billable", "f-promo")]["entries"] == ["h1"]
    assert "by <script>alert(1)</script>\\u001b]0;pwned\\u0007 on 2026-11-08, UI\\u001b[31m" in diff.stdout
    assert "<script>alert(1)</script>\\u001b]0;pwned" in run.stdout  # the audit's headline
    for page in ("r.html", "d.html"):
        html = (out / page).read_text()
        assert "<script>alert(1)" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html.split('id="headline"')[1].split("</section>")[0]
    import csv

    changes = list(csv.DictReader((out / "csv" / "changes.csv").open(encoding="utf-8")))
    assert "<script>" in next(r for r in changes if r["id"] == "f-promo")["cause"]
    cells = [v for r in csv.DictReader(diff_csv.stdout.splitlines()) for v in r.values() if v]
    assert any("=sum(a1)" in v for v in cells) and any("HYPERLINK" in v for v in cells)
    assert not any(v.startswith(("=", "+", "@")) for v in cells)
    import openpyxl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sheet = openpyxl.load_workbook(out / "d.xlsx")["Changes"]
    values = [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert any(v.startswith("=sum(a1)") for v in values)  # as text: a cell written as a string, never a formula
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)


# --- history, reports, near-limit findings -----------------------------------------------------

def test_a_past_month_attributes_from_the_history_without_the_snapshots(tmp_path, run_cli, months):
    store = tmp_path / "h.sqlite"
    copies = [_copy(tmp_path, month, month.name) for month in (OCT, NOV)]
    for folder, day in zip(copies, ("2026-10-31", "2026-11-30")):
        run = run_cli("audit", folder, "--as-of", day, "--fail-on", "never", "--record", "--history", store)
        assert run.exit_code == 0, run.stderr
    said = run.stdout
    assert "  Northwind, production: endpoints 6 -> 7: +api.3pl-two.example.com (connection http.baseURI" in said
    for folder in copies:
        shutil.rmtree(folder)  # the snapshots are gone: the history holds all the attribution needs
    by_file = changes_section([months])
    by_date = run_cli("diff", "2026-10-31", "2026-11-30", "--history", store, "--format", "json")
    assert by_date.exit_code == 0, by_date.stderr
    got = {(r["kind"], r["change"], r["id"]): (r["cause"], r["entries"]) for r in json.loads(by_date.stdout)}
    assert got == {k: (r["cause"], r["entries"]) for k, r in _rows(by_file).items()}
    report = run_cli("report", "2026-11-30", "--history", store, "--html", tmp_path / "past.html")
    assert report.exit_code == 0, report.stderr
    html = (tmp_path / "past.html").read_text()
    headline = html.split('id="headline"')[1].split("</section>")[0]
    assert "Why the counts changed" in headline
    assert "endpoints 6 -&gt; 7: +api.3pl-two.example.com" in headline
    assert "reached by flow &#39;EU stock levels&#39;" in headline or "reached by flow 'EU stock levels'" in headline


def test_a_near_limit_finding_names_the_changes_that_moved_its_count(tmp_path, run_cli, months):
    store = tmp_path / "h.sqlite"
    run_cli("audit", OCT, "--as-of", "2026-10-31", "--fail-on", "never", "--record", "--history", store)
    run = run_cli("audit", NOV, "--as-of", "2026-11-30", "--fail-on", "never", "--history", store)
    assert run.exit_code == 0, run.stderr
    near = {f["rule"]: f for f in run.results["findings"] if f["rule"].endswith("-near-entitlement")}
    plain = {f["rule"]: f for f in months[1]["findings"] if f["rule"].endswith("-near-entitlement")}
    assert near["endpoints-near-entitlement"]["reason"] == (
        plain["endpoints-near-entitlement"]["reason"] + "; moved toward it since 2026-10-31: "
        + _rows(changes_section([months]))[("usage", "up", "endpoints")]["cause"])
    assert "+'Orders EU' (created by jo@" in near["flows-near-entitlement"]["reason"]
    assert {r: f["id"] for r, f in near.items()} == {r: f["id"] for r, f in plain.items()}  # ids stable


# --- pulling -----------------------------------------------------------------------------------

ENTRIES = [{"_id": f"a{n}", "time": f"2026-11-{n + 1:02d}T10:00:00Z", "byUser": {"email": "jo@acme.example"},
            "resourceType": "connection", "_resourceId": "c-shop-eu", "event": "update",
            "fieldChange": {"fieldPath": "http.auth.token.token" if n == 4 else "http.baseURI",
                            "oldValue": CANARY if n == 4 else "https://acme-eu.myshopify.com",
                            "newValue": CANARY if n == 4 else "https://acme-eu.myshopify.com/admin"}}
           for n in range(8)]


def test_the_pull_fetches_the_audit_log_paged_through_429_and_masked(api, tmp_path):  # noqa: F811
    api.data["audit"] = ENTRIES
    api.faults = {("audit", PAGE): [429, 429]}
    manifest = pull(api, tmp_path / "acme")
    assert manifest["resources"]["audit"] == {"records": 8, "pages": 3}
    assert "not_served" not in manifest or "audit" not in manifest["not_served"]
    pages = sorted((tmp_path / "acme" / "audit").glob("page-*.json"))
    written = [e for p in pages for e in json.loads(p.read_text())]
    assert [e["_id"] for e in written] == [e["_id"] for e in ENTRIES]
    assert written[4]["fieldChange"]["oldValue"] == MASK and written[4]["fieldChange"]["newValue"] == MASK
    assert all(CANARY not in p.read_text() for p in pages)
    assert sum(r.startswith("/v1/audit") for r in api.requests) == 3 + 2  # three pages, two refused
    doc = audited(tmp_path / "acme")
    assert [e["id"] for e in doc["audit_log"]] == [e["_id"] for e in ENTRIES]
    assert doc["audit_log"][0]["resource_name"] == "Shopify EU"


def test_the_pull_asks_for_the_audit_log_since_a_day(api, tmp_path):  # noqa: F811
    from datetime import date

    api.data["audit"] = ENTRIES
    pull(api, tmp_path / "acme", since=date(2026, 11, 3))
    first = next(r for r in api.requests if r.startswith("/v1/audit"))
    assert first == "/v1/audit?time_gte=2026-11-03T00:00:00.000Z"


@pytest.mark.parametrize("status", [403, 404])
def test_an_audit_log_not_served_is_noted_and_the_pull_goes_on(api, tmp_path, status):  # noqa: F811
    api.faults = {("audit", 0): [status] * 5}
    manifest = pull(api, tmp_path / "acme")
    assert "audit" in manifest["not_served"]
    assert (tmp_path / "acme" / "flows").is_dir()
    assert sum(r.startswith("/v1/audit") for r in api.requests) == 1  # asked once: a refusal is not retried


def test_an_interrupted_pull_resumes_the_audit_log_where_it_stopped(api, tmp_path):  # noqa: F811
    api.data["audit"] = ENTRIES
    api.faults = {("audit", 2 * PAGE): [500] * 10}
    with pytest.raises(PullError, match="--resume"):
        pull(api, tmp_path / "acme", retries=2)
    api.faults = {}
    before = len(api.requests)
    pull(api, tmp_path / "acme", resume=True)
    again = [r for r in api.requests[before:] if r.startswith("/v1/audit")]
    assert again == [f"/v1/audit?skip={2 * PAGE}&limit={PAGE}"]  # only the page that failed
    written = [e for p in sorted((tmp_path / "acme" / "audit").glob("page-*.json")) for e in json.loads(p.read_text())]
    assert [e["_id"] for e in written] == [e["_id"] for e in ENTRIES]


def test_the_cli_pull_starts_the_audit_log_at_the_last_recorded_audit(api, tmp_path, run_cli, monkeypatch):  # noqa: F811
    monkeypatch.setenv("MY_TOKEN", TOKEN)
    store = tmp_path / "h.sqlite"
    run_cli("audit", OCT, "--as-of", "2026-10-31", "--fail-on", "never", "--record", "--history", store)
    run = run_cli("pull", "--out", tmp_path / "nw", "--base-url", api.base, "--token-env", "MY_TOKEN", "--rate", "100",
                  "--account", "northwind", "--history", store)
    assert run.exit_code == 0, run.stderr
    assert "/v1/audit?time_gte=2026-10-31T00:00:00.000Z" in api.requests
    assert "The audit log was pulled from 2026-10-31 on." in run.stdout
    api.faults = {("audit", 0): [403]}
    refused = run_cli("pull", "--out", tmp_path / "nw2", "--base-url", api.base, "--token-env", "MY_TOKEN",
                      "--rate", "100")
    assert refused.exit_code == 0, refused.stderr
    assert "did not serve the audit log" in refused.stdout


def test_a_headline_names_ten_changes_and_counts_the_rest(tmp_path, months):
    nov = _copy(tmp_path, NOV, "nov")
    data = {name: json.loads((nov / f"{name}.json").read_text()) for name in ("connections", "exports", "imports",
                                                                            "flows", "licenses")}
    for n in range(12):
        data["connections"].append({"_id": f"c-x{n}", "name": f"X{n}", "type": "http",
                                    "http": {"baseURI": f"https://x{n}.example.com"}})
        data["imports"].append({"_id": f"i-x{n}", "name": f"to X{n}", "_connectionId": f"c-x{n}"})
        data["flows"].append({"_id": f"f-x{n}", "name": f"Flow X{n}", "pageGenerators": [{"_exportId": "e-ns-orders"}],
                              "pageProcessors": [{"type": "import", "_importId": f"i-x{n}"}]})
    write_snapshot(nov, **data)
    section = changes_section([(months[0], audited(nov, as_of="2026-11-30"))])
    endpoints = next(r for r in section["rows"] if r["kind"] == "usage" and r["id"] == "endpoints")
    assert endpoints["cause"].startswith("endpoints 6 -> 19: +")
    assert endpoints["cause"].endswith(", and 9 more (see the changes)")  # 19 changed: 10 named
    assert endpoints["cause"].count(", +") + endpoints["cause"].count(", -") == 9
    x0 = next(r for r in section["rows"] if r["kind"] == "endpoint" and r["id"] == "uri:https://x0.example.com")
    assert x0["cause"] == NO_ENTRY


def test_a_trading_partner_added_is_tied_to_its_connection(tmp_path, months):
    nov = _copy(tmp_path, NOV, "nov")
    data = {name: json.loads((nov / f"{name}.json").read_text()) for name in ("connections", "exports", "flows")}
    data["connections"].append({"_id": "c-tp", "name": "EDI partner SFTP", "type": "ftp",
                                "ftp": {"hostURI": "sftp.tp.example.com", "tradingPartner": True}})
    data["exports"].append({"_id": "e-tp", "name": "EDI in", "adaptorType": "FTPExport", "_connectionId": "c-tp"})
    data["flows"].append({"_id": "f-tp", "name": "EDI orders", "pageGenerators": [{"_exportId": "e-tp"}],
                          "pageProcessors": [{"type": "import", "_importId": "i-shop-us"}]})
    write_snapshot(nov, **data)
    log = _log(NOV) + [{"_id": "tp1", "time": "2026-11-09T08:00:00Z", "byUser": {"email": "sam@northwind.example"},
                        "source": "UI", "resourceType": "connection", "_resourceId": "c-tp", "event": "create"}]
    (nov / "audit.json").write_text(json.dumps(log))
    rows = _rows(changes_section([(months[0], audited(nov, as_of="2026-11-30"))]))
    added = next(r for k, r in rows.items() if k[:2] == ("trading partner", "added"))
    assert added["entries"] == ["tp1"]
    assert added["cause"].startswith("connection 'EDI partner SFTP' created by sam@northwind.example on 2026-11-09, UI")
    assert "sftp.tp.example.com" not in rows[("usage", "up", "endpoints")]["cause"]  # not an endpoint
    assert rows[("usage", "up", "trading_partners")]["cause"] == (
        "trading partners 0 -> 1: +sftp.tp.example.com:21 (connection created by sam@northwind.example on "
        "2026-11-09, UI)")
