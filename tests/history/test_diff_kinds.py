"""diff of every kind of results file: a partner's licenses and NetSuite records say what changed,
a file with itself says no changes, and what makes two results unlike is said."""

from __future__ import annotations

import copy
import json

import pytest

from auditor.history.diff import caveats, diff


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from click.testing import CliRunner

    from auditor.cli import cli
    folder = tmp_path_factory.mktemp("kinds")
    for name, argv in (("licenses", ["licenses", "--sample"]), ("ns", ["ns-records", "--sample"]),
                       ("audit", ["audit", "--sample"])):
        out = folder / f"{name}.json"
        run = CliRunner().invoke(cli, [*argv, "--fail-on", "never", "-o", str(out)], catch_exceptions=False)
        assert run.exit_code == 0, run.stderr
    return folder


def load(runs, name):
    return json.loads((runs / f"{name}.json").read_text())


def save(runs, name, doc):
    path = runs / f"{name}.json"
    path.write_text(json.dumps(doc))
    return path


def test_two_partner_runs_say_which_licenses_reconciliation_rows_and_findings_changed(runs):
    old = load(runs, "licenses")
    new = copy.deepcopy(old)
    new["connector_licenses"][0]["expires"] = "2030-01-01"
    new["reconciliation"][1]["status"] = "changed status"
    gone = new["reconciliation"].pop(2)
    new["findings"] = new["findings"][1:]
    frame = diff(old, new)
    rows = {(r.kind, r.change, r.id) for r in frame.itertuples()}
    lic = old["connector_licenses"][0]["license_id"]
    assert ("connector license", "changed", lic) in rows
    assert ("reconciliation", "changed", old["reconciliation"][1]["key"]) in rows
    assert ("reconciliation", "removed", gone["key"]) in rows
    assert ("finding", "resolved", old["findings"][0]["id"]) in rows
    changed = frame[frame["id"] == lic].iloc[0]
    assert "expires" in changed["detail"] and "2030-01-01" in changed["detail"]
    assert set(frame["account"]) == {"sample_partner"}


def test_two_netsuite_runs_say_which_records_and_links_changed(runs):
    old = load(runs, "ns")
    new = copy.deepcopy(old)
    new["ns_records"][0]["state"] = "blocked"
    new["ns_links"].append({**new["ns_links"][0], "netsuite_account": "7777777"})
    frame = diff(old, new)
    assert {"NetSuite record", "NetSuite connection"} <= set(frame["kind"])
    rec = frame[frame["kind"] == "NetSuite record"].iloc[0]
    assert rec["change"] == "changed" and "state enabled → blocked" in rec["detail"]
    assert frame[frame["kind"] == "NetSuite connection"].iloc[0]["change"] == "added"


@pytest.mark.parametrize("name", ["licenses", "ns", "audit"])
def test_a_file_with_itself_says_no_changes(runs, run_cli, name):
    path = runs / f"{name}.json"
    run = run_cli("diff", path, path, "--changes-only")
    assert run.exit_code == 0, run.stderr
    assert "No changes from" in run.stdout and "(none)" not in run.stdout
    still = run_cli("diff", path, path)
    assert "still open" not in run.stdout
    if load(runs, name)["findings"]:
        assert "still open" in still.stdout


def test_changes_only_leaves_still_open_findings_out(runs, run_cli, tmp_path):
    old = load(runs, "licenses")
    new = copy.deepcopy(old)
    new["findings"] = new["findings"][1:]
    path = save(tmp_path, "new", new)
    run = run_cli("diff", runs / "licenses.json", path, "--changes-only", "--format", "json")
    rows = json.loads(run.stdout)
    assert rows and all(r["change"] != "still open" for r in rows)
    assert any(r["change"] == "resolved" for r in rows)


def test_unlike_results_are_compared_with_a_warning(runs, run_cli, tmp_path):
    old = load(runs, "audit")
    new = copy.deepcopy(old)
    new["policy"], new["profile"] = "community", "strict"
    new["rules"][0]["severity"] = "critical" if new["rules"][0]["severity"] != "critical" else "low"
    new["as_of"] = "2020-01-31"
    notes = caveats(old, new)
    assert len(notes) == 4
    assert any(new["rules"][0]["id"] in n for n in notes)
    path = save(tmp_path, "older", new)
    run = run_cli("diff", runs / "audit.json", path)
    assert run.exit_code == 0
    assert "Warning: NEW (2020-01-31) was audited before OLD" in run.stderr
    assert "another counting policy (default and community)" in run.stderr
    assert not caveats(old, old)


def test_results_of_different_kinds_are_not_compared(runs, run_cli):
    run = run_cli("diff", runs / "audit.json", runs / "licenses.json")
    assert run.exit_code == 2
    assert "holds integrator.io accounts" in run.stderr and "nothing to compare" in run.stderr


def _with_license(doc, **fields):
    out = copy.deepcopy(doc)
    out["accounts"][0]["licenses"][0].update(fields)
    return out


def test_license_expiry_moves_and_removals_are_said_right(runs):
    old = load(runs, "audit")
    lic = old["accounts"][0]["licenses"][0]
    base = _with_license(old, expires="2027-06-30")
    later = {**_with_license(old, expires="2027-09-30"), "as_of": "2026-12-31"}
    earlier = {**_with_license(old, expires="2027-01-31"), "as_of": "2026-12-31"}
    lapsed = {**_with_license(old, expires="2026-12-15"), "as_of": "2026-12-31"}
    gone = copy.deepcopy(base)
    gone["accounts"][0]["licenses"].pop(0)
    gone["as_of"] = "2026-12-31"

    def said(a, b):
        f = diff(a, b)
        return {(r.change, r.detail) for r in f[(f["kind"] == "license") & (f["id"] == lic["id"])].itertuples()}

    assert said(base, later) == {("renewed", "expires 2027-06-30 → 2027-09-30")}
    assert said(base, earlier) == {("expiry moved earlier", "expires 2027-06-30 → 2027-01-31")}
    assert ("expired", "expired on 2026-12-15") in said(base, lapsed)
    removed = said(base, gone)
    assert removed == {("removed", f"no longer among the account's licenses (it was to expire on 2027-06-30 as of "
                                   f"{old['as_of']})")}
    assert not any("expired 2027" in d for _, d in removed)
