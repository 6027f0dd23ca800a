"""Month over month: recording audits, the history command, diff, and the trend and forecast."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
import warnings
import zlib

import openpyxl
import pytest
from bs4 import BeautifulSoup

from auditor.common.paths import sample_dir
from auditor.history import store as history
from auditor.history.diff import subset
from auditor.synth import monthly


def dump(path) -> list[str]:
    with sqlite3.connect(path) as con:
        return list(con.iterdump())


def audit(run_cli, snap, day, store, *extra):
    run = run_cli("audit", snap, "--as-of", day, "--fail-on", "never", "--history", store, *extra)
    assert run.exit_code == 0, run.stderr
    return run


# --- recording ---------------------------------------------------------------------------------

def test_record_and_history(tmp_path, run_cli):
    store = tmp_path / "h.sqlite"
    run = audit(run_cli, "--sample", "2026-11-30", store, "--record")
    assert f"Recorded 5 accounts as of 2026-11-30 in {store}" in run.stdout
    audit(run_cli, "--sample", "2026-12-31", store, "--record")
    shown = run_cli("history", "--history", store, "--account", "Globex Corporation", "--env", "production",
                    output=False)
    rows = [" ".join(line.split()) for line in shown.stdout.splitlines()[1:]]
    assert rows == ["Globex Corporation 2026-11 2026-11-30 production 4 / 3 6 / 3 4 1",
                    "Globex Corporation 2026-12 2026-12-31 production 4 / 3 6 / 3 4 1"]
    as_json = json.loads(run_cli("history", "--history", store, "--format", "json", output=False).stdout)
    assert len(as_json) == 2 * 11  # two months of eleven environments
    # queryable tables, keyed by account and date
    with sqlite3.connect(store) as con:
        assert con.execute("SELECT count(*) FROM audits").fetchone()[0] == 10
        assert con.execute("SELECT count(*) FROM findings f JOIN audits a ON a.id = f.audit_id "
                           "WHERE a.account = 'Acme Retail' AND a.as_of = '2026-11-30' AND f.rule = 'license-expired'"
                           ).fetchone()[0] == 1
        assert con.execute("PRAGMA user_version").fetchone()[0] == len(history.MIGRATIONS)


def test_agents_and_reached_by_survive_the_history(tmp_path, run_cli):
    store = tmp_path / "h.sqlite"
    results = audit(run_cli, "--sample", "2026-11-30", store, "--record").results
    back = history.load(store, "2026-11-30")
    for acct in results["accounts"]:
        again = next(a for a in back["accounts"] if a["account"] == acct["account"])
        assert [e["agents"] for e in again["environments"]] == [e["agents"] for e in acct["environments"]]
        assert [e["reached_by"] for e in again["endpoints"]] == [e["reached_by"] for e in acct["endpoints"]]


def test_the_history_keeps_all_that_the_results_file_says(tmp_path, run_cli):
    """What a day's audits load back from the history is the results file as written, so reports
    rendered from it say all that the audit's own did: download caveats, vendor figures, load
    issues, rules and their counts, mutes, inputs."""
    store = tmp_path / "h.sqlite"
    mutes = tmp_path / "mutes.yaml"
    mutes.write_text('mutes:\n  - rule: "*-over-entitlement"\n    account: Globex*\n    reason: PO 4711\n'
                     '  - rule: license-expired\n    reason: renewal signed\n'
                     '  - rule: flows-over-entitlement\n    account: Nobody Inc\n    reason: a typo\n')
    results = audit(run_cli, "--sample", "2026-11-30", store, "--record", "--mutes", mutes).results
    # what a history of counts alone would lose is in this audit
    assert any(a.get("from_download") for a in results["accounts"])
    assert any(a.get("flows_counted") for a in results["accounts"])
    assert any(a.get("vendor_differences") for a in results["accounts"])
    assert results["load_issues"] and results["rule_counts"] and results["rules"] and results["inputs"]
    assert {m["status"] for m in results["mutes"]} == {"active", "unused"}
    assert history.load(store, "2026-11-30") == results
    # one account: its own rows, and the mutes that could apply to it (the unused one too, for *)
    hooli = history.load(store, "2026-11-30", "Hooli")
    assert hooli == subset(results, "Hooli")
    assert {i["account"] for i in hooli["load_issues"]} == {"Hooli"}
    assert {r["account"] for r in hooli["rule_counts"]} == {"Hooli"}
    assert [m["reason"] for m in hooli["mutes"]] == ["renewal signed"]
    assert [m["reason"] for m in history.load(store, "2026-11-30", "Globex Corporation")["mutes"]] == \
        ["PO 4711", "renewal signed"]


def test_reports_from_recorded_dates_are_the_audits_own(tmp_path, run_cli):
    """diff's reports of NEW from the history are byte for byte those the audit wrote with history
    on (the same changes since the same recorded audit)."""
    store = tmp_path / "h.sqlite"
    audit(run_cli, "--sample", "2026-10-31", store, "--record")
    audit(run_cli, "--sample", "2026-11-30", store, "--record", "--html", tmp_path / "own.html")
    run = run_cli("diff", "2026-10-31", "2026-11-30", "--history", store, "--html", tmp_path / "d.html",
                  output=False)
    assert run.exit_code == 0, run.stderr
    page = (tmp_path / "d.html").read_text()
    assert page == (tmp_path / "own.html").read_text()
    assert "Counted from integration downloads (Hooli)" in page and "Celigo says" in page


def test_audits_recorded_before_their_results_were_kept_are_rebuilt_from_the_tables(tmp_path, run_cli):
    store = tmp_path / "h.sqlite"
    results = audit(run_cli, "--sample", "2026-11-30", store, "--record").results
    names = [a["account"] for a in results["accounts"]]
    with sqlite3.connect(store) as con:  # as an auditor of history schema 2 left it
        con.execute("DELETE FROM documents")
    back = history.load(store, "2026-11-30")
    assert [a["account"] for a in back["accounts"]] == names
    assert back["findings"]  # counts, endpoints, flows, connections, licenses, findings: no more, and said so
    assert [(i["account"], i["action"]) for i in back["load_issues"]] == [(n, "not read") for n in names]
    assert all("were not kept" in i["problem"] for i in back["load_issues"])
    # a day recorded partly before: the others keep all they had
    december = audit(run_cli, "--sample", "2026-12-31", store, "--record").results
    with sqlite3.connect(store) as con:
        con.execute("DELETE FROM documents WHERE audit_id IN (SELECT id FROM audits WHERE as_of = '2026-12-31' "
                    "AND account IN ('Acme Retail', 'Umbrella Health'))")
    mixed = history.load(store, "2026-12-31")
    assert [a["account"] for a in mixed["accounts"]] == names
    said = [(i["account"], i["action"]) for i in mixed["load_issues"]]
    assert ("Acme Retail", "not read") in said and ("Umbrella Health", "not read") in said
    assert [i["account"] for i in mixed["load_issues"]] == sorted(i["account"] for i in mixed["load_issues"])
    for kept in ("Hooli", "Initech"):
        assert [i for i in mixed["load_issues"] if i["account"] == kept] == \
            [i for i in december["load_issues"] if i["account"] == kept]
    assert next(a for a in mixed["accounts"] if a["account"] == "Hooli").get("from_download")


def test_a_history_of_the_first_schema_is_migrated_and_its_audits_still_load(tmp_path, run_cli):
    store = tmp_path / "h.sqlite"
    with sqlite3.connect(store) as con:  # what an auditor of history schema 1 wrote
        con.executescript(history.MIGRATIONS[0])
        con.execute("PRAGMA user_version = 1")
        con.execute("INSERT INTO audits VALUES (1, 'Old Co', '2026-10-31', '2026-10-31T00:00:00+00:00', '0.1.0', "
                    "'default', 'default', 'legacy', 'endpoint', 'x')")
        con.execute("INSERT INTO environments VALUES (1, 'production', 'production', 1, 1, 1, 5, 'l', 1, 5, 'l', "
                    "0, NULL, 'l')")
        con.execute("INSERT INTO endpoints VALUES (1, 'endpoint', 'production', 'uri:https://a', 'http', "
                    "'universal', 1, 'why', '[\"c1\"]', '[\"f1\"]')")
    audit(run_cli, "--sample", "2026-11-30", store, "--record")
    with sqlite3.connect(store) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == len(history.MIGRATIONS) == 3
    old = history.load(store, "2026-10-31")["accounts"][0]
    assert "agents" not in old["environments"][0]  # not counted then: absent, not zero
    assert old["endpoints"][0]["reached_by"] == []


def test_recording_the_same_date_twice_replaces_it(tmp_path, run_cli):
    store = tmp_path / "h.sqlite"
    audit(run_cli, "--sample", "2026-11-30", store, "--record")
    first = dump(store)
    audit(run_cli, "--sample", "2026-11-30", store, "--record")
    with sqlite3.connect(store) as con:
        assert con.execute("SELECT count(*) FROM audits").fetchone()[0] == 5
        assert con.execute("SELECT count(DISTINCT audit_id) FROM flows").fetchone()[0] == 5  # no orphans
    # the same content, but for the ids and the time of recording
    def strip(lines):
        return sorted(line for line in lines if "INSERT INTO \"audits\"" not in line)

    assert len(strip(dump(store))) == len(strip(first))


def test_a_crash_while_recording_leaves_the_history_as_it_was(tmp_path, run_cli, monkeypatch):
    store = tmp_path / "h.sqlite"
    audit(run_cli, "--sample", "2026-11-30", store, "--record")
    before = dump(store)
    calls = {"n": 0}
    real = history._env_rows

    def crash_on_second_account(audit_id, acct):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk pulled out")
        return real(audit_id, acct)

    monkeypatch.setattr(history, "_env_rows", crash_on_second_account)
    run = run_cli("audit", "--sample", "--as-of", "2026-12-31", "--fail-on", "never", "--history", store, "--record")
    assert run.exit_code == 3 and "internal error (RuntimeError)" in run.stderr
    assert dump(store) == before  # the first account of the run was rolled back too
    assert history.dates(store)["as_of"].unique().tolist() == ["2026-11-30"]


def test_a_history_from_a_newer_auditor_is_refused(tmp_path, run_cli):
    store = tmp_path / "h.sqlite"
    with sqlite3.connect(store) as con:
        con.execute("PRAGMA user_version = 99")
    run = run_cli("audit", "--sample", "--fail-on", "never", "--history", store, "--record")
    assert run.exit_code == 2 and "history schema version 99 is newer" in run.stderr


def test_the_config_file_turns_recording_on(tmp_path, run_cli):
    store = tmp_path / "h.sqlite"
    config = tmp_path / "auditor.yaml"
    config.write_text(f"history:\n  record: true\n  path: {store}\n")
    run = run_cli("--config", config, "audit", "--sample", "--fail-on", "never")
    assert run.exit_code == 0 and "Recorded 5 accounts" in run.stdout and store.exists()
    config.write_text("history:\n  recrod: true\n")
    bad = run_cli("--config", config, "audit", "--sample")
    assert bad.exit_code == 2 and "history.recrod: unknown setting" in bad.stderr


def test_history_without_a_database(tmp_path, run_cli):
    run = run_cli("history", "--history", tmp_path / "none.sqlite", output=False)
    assert run.exit_code == 2 and "no history yet" in run.stderr


# --- diff --------------------------------------------------------------------------------------

@pytest.fixture
def two_months(tmp_path, run_cli):
    """The Acme sample, then a month later: a connection gone (its import moved to another), a flow
    disabled, a flow enabled, more endpoints licensed, a license renewed."""
    old = tmp_path / "old" / "acme"
    shutil.copytree(sample_dir() / "acme-retail", old)
    new = tmp_path / "new" / "acme"
    shutil.copytree(old, new)
    conns = json.loads((new / "connections.json").read_text())
    (new / "connections.json").write_text(json.dumps([c for c in conns if c["_id"] != "c-shop-eu"]))
    # its one import moved to the US shop first (a connection still reached would count, missing or not)
    imports = json.loads((new / "imports.json").read_text())
    for i in imports:
        if i.get("_connectionId") == "c-shop-eu":
            i["_connectionId"] = "c-shop-us"
    (new / "imports.json").write_text(json.dumps(imports))
    flows = json.loads((new / "flows.json").read_text())
    for f in flows:
        if f["_id"] == "f-sf-sync":
            f["disabled"] = True
    (new / "flows.json").write_text(json.dumps(flows))
    lic = json.loads((new / "licenses.json").read_text())
    for x in lic:
        if x["_id"] == "lic-acme-endpoint":
            x["expires"] = "2027-12-15T00:00:00.000Z"
            x["numAddOnEndpoints"] = 3
    (new / "licenses.json").write_text(json.dumps(lic))
    a = audit(run_cli, old, "2026-11-30", tmp_path / "h.sqlite", "--record", "-o", tmp_path / "old.json")
    b = audit(run_cli, new, "2026-12-31", tmp_path / "h.sqlite", "--record", "-o", tmp_path / "new.json")
    return tmp_path, a, b


def changes(run) -> list[dict]:
    return json.loads(run.stdout)


def test_diff_of_two_results_files(two_months, run_cli):
    folder, _, _ = two_months
    run = run_cli("diff", folder / "old.json", folder / "new.json", "--format", "json", output=False)
    assert run.exit_code == 0, run.stderr
    rows = changes(run)
    by = {(r["kind"], r["change"], r["id"]): r for r in rows}
    removed = by[("endpoint", "removed", "uri:https://acme-eu.myshopify.com/admin/api/2024-01")]
    assert "Shopify EU (c-shop-eu)" in removed["detail"] and "f-stock" in removed["detail"]
    assert ("flow", "stopped being billable", "f-sf-sync") in by
    assert by[("flow", "stopped being billable", "f-sf-sync")]["detail"].startswith("disabled")
    ent = by[("entitlement", "changed", "endpoints")]
    assert ent["environment"] == "production" and "endpoints entitled 5 → 7" in ent["detail"]
    assert by[("license", "renewed", "lic-acme-endpoint")]["detail"] == "expires 2026-12-15 → 2027-12-15"
    assert by[("usage", "down", "endpoints")]["detail"].startswith("endpoints in use 5 → 4 (-1)")
    # findings by their stable id
    kinds = {(r["change"], r["name"].split(":")[0]) for r in rows if r["kind"] == "finding"}
    assert ("resolved", "endpoints-near-entitlement") in kinds  # 4 of 7 is no longer near
    assert ("resolved", "license-expiring") in kinds  # renewed
    assert ("still open", "license-expired") in kinds  # the Shopify app license


def test_diff_of_recorded_dates_and_its_reports(two_months, run_cli):
    folder, _, _ = two_months
    args = ["diff", "2026-11-30", "2026-12-31", "--account", "Acme Retail", "--history", folder / "h.sqlite"]
    from_history = run_cli(*args, "--format", "json", output=False)
    from_files = run_cli("diff", folder / "old.json", folder / "new.json", "--format", "json", output=False)
    assert from_history.exit_code == 0, from_history.stderr
    assert changes(from_history) == changes(from_files)  # what was recorded diffs as the files do
    table = run_cli(*args, "--html", folder / "d.html", "--xlsx", folder / "d.xlsx", output=False)
    assert table.exit_code == 0 and "stopped being billable" in table.stdout
    soup = BeautifulSoup((folder / "d.html").read_text(), "html.parser")
    assert soup.find("h2", id="changes-h").get_text() == "Changes since 2026-11-30"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sheet = openpyxl.load_workbook(folder / "d.xlsx")["Changes"]
    assert [c.value for c in sheet[1]] == ["account", "environment", "kind", "change", "id", "name", "detail", "cause"]
    assert sheet.max_row - 1 == len(changes(from_files))


@pytest.mark.parametrize("args,needle", [
    (["2026-01-01", "2026-12-31"], "no audit of account 'Acme Retail' recorded for 2026-01-01"),
    (["last-month", "2026-12-31"], "neither a results file nor a date"),
])
def test_diff_errors(two_months, run_cli, args, needle):
    folder, _, _ = two_months
    run = run_cli("diff", *args, "--account", "Acme Retail", "--history", folder / "h.sqlite", output=False)
    assert run.exit_code == 2 and needle in run.stderr


def test_the_monthly_report_shows_changes_since_the_last_audit_by_itself(two_months):
    folder, _, second = two_months
    assert "changes" not in json.loads((folder / "old.json").read_text())  # nothing recorded before it
    results = json.loads((folder / "new.json").read_text())
    assert results["changes"]["since"] == {"Acme Retail": "2026-11-30"}
    assert "changes since the last recorded audit (2026-11-30)" in second.stdout
    assert "trend" not in results  # two audits: too few for a trend


# --- twelve months: trend and forecast -----------------------------------------------------------

@pytest.fixture(scope="module")
def year(tmp_path_factory):
    from click.testing import CliRunner

    from auditor.cli import cli

    folder = tmp_path_factory.mktemp("year")
    store = folder / "h.sqlite"
    outs = []
    for day, snap in monthly(folder / "snapshots"):
        out = folder / f"{day}.json"
        extra = ["--html", str(folder / "report.html"), "--xlsx", str(folder / "report.xlsx")] if day == "2026-12-28" else []
        run = CliRunner().invoke(cli, ["audit", str(snap), "--as-of", day, "--fail-on", "never", "--record",
                                       "--history", str(store), "-o", str(out), *extra], catch_exceptions=False)
        assert run.exit_code == 0, run.stderr
        outs.append(json.loads(out.read_text()))
    return folder, outs


def test_a_recorded_month_renders_the_audits_own_report_changes_and_trend_included(year, run_cli, tmp_path):
    """The last of twelve monthly audits wrote its report with the changes since the month before
    and the trend of the year; 'auditor report DATE' renders the same page from the history, and a
    day loads back as the results file written."""
    folder, outs = year
    assert "changes" in outs[-1] and "trend" in outs[-1]
    run = run_cli("report", "2026-12-28", "--history", folder / "h.sqlite", tmp_path / "again.html", output=False)
    assert run.exit_code == 0, run.stderr
    assert (tmp_path / "again.html").read_bytes() == (folder / "report.html").read_bytes()
    assert history.load(folder / "h.sqlite", "2026-12-28") == outs[-1]
    one = outs[-1]["accounts"][0]["account"]
    assert history.load(folder / "h.sqlite", "2026-12-28", one) == subset(outs[-1], one)


def test_trend_appears_from_the_third_month(year):
    _, outs = year
    assert [("trend" in r) for r in outs[:4]] == [False, False, True, True]
    assert all("changes" in r for r in outs[1:]) and "changes" not in outs[0]


def test_twelve_months_forecast(year):
    _, outs = year
    trend = outs[-1]["trend"]
    assert trend["method"].startswith("least-squares line through the last 6 monthly audits")
    points = [p for p in trend["points"] if p["environment"] == "production"]
    assert [p["month"] for p in points] == [f"2026-{m:02d}" for m in range(1, 13)]
    fc = {(f["environment"], f["metric"]): f for f in trend["forecast"]}
    endpoints = fc[("production", "endpoints")]
    used = [p["endpoints_used"] for p in points][-6:]
    # the same line worked out here: least squares through the last six months
    n = len(used)
    xs = list(range(n))
    slope = (n * sum(x * y for x, y in zip(xs, used)) - sum(xs) * sum(used)) / (n * sum(x * x for x in xs) - sum(xs) ** 2)
    assert endpoints["pace"] == round(slope, 2)
    intercept = (sum(used) - slope * sum(xs)) / n
    months_ahead = next(k for k in range(1, 13) if intercept + slope * (n - 1 + k) > endpoints["entitled"])
    assert endpoints["crosses"] == f"2027-{months_ahead:02d}"
    assert fc[("production", "billable flows")]["crosses"] is None
    assert "not over 100 within 12 months" in fc[("production", "billable flows")]["verdict"]


def test_twelve_months_report(year):
    folder, outs = year
    soup = BeautifulSoup((folder / "report.html").read_text(), "html.parser")
    assert soup.find("h2", id="changes-h").get_text() == "Changes since 2026-11-28"
    trend = soup.find("section", id="trend")
    figures = trend.find_all("figure")
    assert [f.figcaption.get_text(" ", strip=True) for f in figures] == ["Acme Synth · production", "Acme Synth · sandbox"]
    verdicts = [p.get_text() for p in figures[0].find_all("p", class_="verdict")]
    crosses = next(f for f in outs[-1]["trend"]["forecast"] if f["environment"] == "production" and f["metric"] == "endpoints")
    assert verdicts[0] == f"endpoints: {crosses['verdict']}"
    assert figures[0].find("polyline", class_="fit")  # the line carried forward to the crossing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(folder / "report.xlsx")
    assert "Changes" in wb.sheetnames and "Trend" in wb.sheetnames
    trend_sheet = wb["Trend"]
    assert len(trend_sheet._charts) == 2
    values = [r for r in trend_sheet.iter_rows(values_only=True)]
    assert any(r[0] == "Acme Synth" and r[2] == "endpoints" and r[9] == crosses["crosses"] for r in values)


def test_twelve_months_csv(year, run_cli, tmp_path):
    folder, outs = year
    run = run_cli("report", folder / "2026-12-28.json", "--csv", tmp_path / "csv", output=False)
    assert run.exit_code == 0 and "(13 tables)" in run.stdout
    import csv

    with (tmp_path / "csv" / "forecast.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(outs[-1]["trend"]["forecast"])
    assert (tmp_path / "csv" / "changes.csv").exists() and (tmp_path / "csv" / "trend.csv").exists()


def test_diff_says_when_agents_in_use_change_and_ignores_files_without_them(tmp_path, run_cli):
    old = run_cli("audit", "--sample", "-o", tmp_path / "old.json", "--fail-on", "never").results
    new = json.loads(json.dumps(old))
    hooli = next(a for a in new["accounts"] if a["account"] == "Hooli")
    hooli["environments"][0]["agents"]["used"] = 2
    (tmp_path / "new.json").write_text(json.dumps(new))
    rows = json.loads(run_cli("diff", tmp_path / "old.json", tmp_path / "new.json", "--format", "json",
                              output=False).stdout)
    assert [r["detail"] for r in rows if r["id"] == "agents"] == ["agents in use 1 → 2 (+1) against 1 entitled"]
    for acct in old["accounts"]:  # a file written before agents were counted
        for env in acct["environments"]:
            del env["agents"]
    (tmp_path / "older.json").write_text(json.dumps(old))
    rows = json.loads(run_cli("diff", tmp_path / "older.json", tmp_path / "new.json", "--format", "json",
                              output=False).stdout)
    assert not [r for r in rows if r["id"] == "agents"]


def test_the_charts_top_tick_is_exact_and_the_limit_is_labelled(year):
    folder, outs = year
    soup = BeautifulSoup((folder / "report.html").read_text(), "html.parser")
    svg = soup.find("section", id="trend").find("figure").find("svg")
    points = [p for p in outs[-1]["trend"]["points"] if p["environment"] == "production"]
    highest = max(max(p["endpoints_used"] for p in points), max(p["endpoints_entitled"] for p in points))
    ticks = [t.get_text() for t in svg.find_all("text", class_="tick")]
    assert ticks[0] == str(math.ceil(highest * 1.15))  # the value at the top of the plot, not a rounded one
    assert svg.find("text", class_="limit-label").get_text() == str(points[-1]["endpoints_entitled"])


def test_a_flat_pace_is_said_as_zero_never_minus_zero():
    import pandas as pd

    from auditor.history.trend import forecast
    points = pd.DataFrame({"account": "a", "environment": "production", "month": ["2026-01", "2026-02", "2026-03"],
                           "endpoints_used": [5, 5, 5], "endpoints_entitled": [10, 10, 10],
                           "flows_billable": [4.0, 4.0, 3.999], "flows_entitled": [10, 10, 10]})
    verdicts = forecast(points)["verdict"].tolist()
    assert verdicts == ["not rising (+0.00 a month); no crossing in sight"] * 2


def test_one_accounts_part_of_a_results_file():
    """`diff --account` and the history take an account's part: its own rows of every list, and
    the mutes whose account pattern takes it in."""
    doc = {"as_of": "2026-11-30", "accounts": [{"account": "A"}, {"account": "B"}],
           **{key: [{"account": "A", "n": 1}, {"account": "B", "n": 2}]
              for key in ("findings", "load_issues", "rule_counts", "inputs")},
           "mutes": [{"account": "*", "rule": "x"}, {"account": "B*", "rule": "y"}, {"account": "A", "rule": "z"}]}
    part = subset(doc, "B")
    assert part["as_of"] == "2026-11-30" and part["accounts"] == [{"account": "B"}]
    assert all(part[key] == [{"account": "B", "n": 2}] for key in ("findings", "load_issues", "rule_counts", "inputs"))
    assert [m["rule"] for m in part["mutes"]] == ["x", "y"]
    assert "mutes" not in subset({"accounts": [], "findings": []}, "B")  # a list the document lacks stays absent


@pytest.mark.parametrize("body,needle", [
    (b"not zlib", "the results recorded for 2026-11-30 are damaged and cannot be read; record those audits again"),
    (zlib.compress(b'{"results": {"schema_version": 1, "accounts": [{"account": 7}]}, "positions": {}}'),
     ", the audits recorded for 2026-11-30: not a sound results file: "),
    (zlib.compress(b'{"results": {"accounts": [' + b" " * 20_000_000 + b"]}}", 9), "are damaged and cannot be read"),
    (zlib.compress(b'{"results": {}}')[:-4], "are damaged and cannot be read"),  # cut short
])
def test_a_damaged_history_is_one_line_naming_it(tmp_path, run_cli, body, needle):
    store = tmp_path / "h.sqlite"
    audit(run_cli, "--sample", "2026-11-30", store, "--record")
    with sqlite3.connect(store) as con:
        con.execute("UPDATE documents SET body = ?", (body,))
    run = run_cli("diff", "2026-11-30", "2026-11-30", "--history", store, output=False)
    assert run.exit_code == 2 and needle in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_a_recorded_date_renders_the_reports_its_results_file_did(tmp_path, run_cli):
    """'auditor report DATE' renders the audits recorded that day as 'auditor report' renders the
    results file they came from; --account, one account's part, as 'diff --account' takes it."""
    store = tmp_path / "h.sqlite"
    audit(run_cli, "--sample", "2026-11-30", store, "--record", "-o", tmp_path / "r.json")
    for args in ([], ["--account", "Hooli"]):
        from_file = run_cli("report", tmp_path / "r.json", tmp_path / "file.html", *args, output=False)
        recorded = run_cli("report", "2026-11-30", "--history", store, tmp_path / "day.html", *args, output=False)
        assert from_file.exit_code == recorded.exit_code == 0, recorded.stderr
        assert (tmp_path / "day.html").read_bytes() == (tmp_path / "file.html").read_bytes()
    page = (tmp_path / "day.html").read_text()
    assert "Counted from integration downloads (Hooli)" in page and "Acme Retail" not in page
    missing = run_cli("report", "2026-10-31", "--history", store, tmp_path / "x.html", output=False)
    assert missing.exit_code == 2 and "no audit of any account recorded for 2026-10-31 (recorded: 2026-11-30)" in missing.stderr


@pytest.mark.parametrize("which,needle", [
    ("gone.json", "gone.json: cannot read (No such file or directory)"),
    ("last-month", "last-month: neither a results file nor a date (YYYY-MM-DD) of a recorded audit"),
    ("2026-11-30", "no history to take 2026-11-30 from"),
])
def test_report_says_why_it_has_nothing_to_render(tmp_path, run_cli, monkeypatch, which, needle):
    monkeypatch.chdir(tmp_path)
    run = run_cli("report", which, "--history", tmp_path / "none.sqlite", "r.html", output=False)
    assert run.exit_code == 2 and needle in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_one_account_of_a_run_that_audited_none_is_a_clear_error(tmp_path, run_cli):
    run_cli("licenses", "--sample", "--fail-on", "never", "-o", tmp_path / "p.json")
    run = run_cli("report", tmp_path / "p.json", "--account", "Acme Retail", tmp_path / "r.html", output=False)
    assert run.exit_code == 2 and "this run audited no integrator.io account" in run.stderr
