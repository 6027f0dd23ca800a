"""Licenses over time: an environment whose plan license has expired does not read as if its
entitlement were current."""

from __future__ import annotations

import json
import shutil

from auditor.common.paths import sample_dir


def test_an_expired_plan_license_is_said_in_the_entitlement_the_results_and_the_rules(tmp_path, run_cli):
    snap = tmp_path / "acme"
    shutil.copytree(sample_dir() / "acme-retail", snap)
    run = run_cli("audit", snap, "--as-of", "2027-01-31", "--fail-on", "never")  # its plan license ends 2026-12-15
    assert run.exit_code == 0, run.stderr
    acct = run.results["accounts"][0]
    prod = next(e for e in acct["environments"] if e["environment"] == "production")
    assert prod["license_expired"] == "2026-12-15"
    assert "that license expired on 2026-12-15" in prod["endpoints"]["entitled_from"]
    found = [f for f in run.results["findings"] if f["rule"] == "entitlement-license-expired"]
    assert {f["environment"] for f in found} == {e["environment"] for e in acct["environments"]}
    assert all(f["status"] == "alarm" and "expired on 2026-12-15" in f["reason"] for f in found)
    # the usage rules do not read the lapsed figures as a current entitlement (over, near): the
    # expired license's rule says it, with the counts
    usage_rules = {"endpoints-over-entitlement", "endpoints-near-entitlement", "flows-over-entitlement",
                   "flows-near-entitlement", "trading-partners-over-entitlement", "agents-over-entitlement",
                   "agents-near-entitlement"}
    assert not [f for f in run.results["findings"] if f["rule"] in usage_rules]
    assert not [c for c in run.results["rule_counts"] if c["rule"] in usage_rules and (c["ok"] or c["alarm"])]

    current = run_cli("audit", snap, "--as-of", "2026-11-30", "--fail-on", "never")
    envs = current.results["accounts"][0]["environments"]
    assert all("license_expired" not in e for e in envs)
    assert not [f for f in current.results["findings"] if f["rule"] == "entitlement-license-expired"]


def test_an_expired_entitlement_is_shown_as_expired_in_the_summary_the_csv_and_the_workbook(tmp_path, run_cli):
    import csv
    import datetime as dt

    import openpyxl
    run = run_cli("audit", "--sample", "--as-of", "2026-12-31", "--fail-on", "never", "--xlsx", tmp_path / "r.xlsx",
                  "--csv", tmp_path / "csv")
    assert run.exit_code == 0, run.stderr
    lines = {" ".join(line.split()) for line in run.stdout.splitlines()}
    assert any(line.startswith("Acme Retail production endpoint 6 / 10 expired 5 / 5 expired") for line in lines)
    assert any(line.startswith("Globex Corporation production endpoint 4 / 3 6 / 3 ") for line in lines)
    rows = {(r["account"], r["environment"]): r for r in csv.DictReader((tmp_path / "csv" / "summary.csv").open())}
    acme, globex = rows[("Acme Retail", "production")], rows[("Globex Corporation", "production")]
    assert (acme["endpoints status"], acme["flows status"], acme["license expired"]) == ("expired", "expired",
                                                                                         "2026-12-15")
    assert (globex["endpoints status"], globex["license expired"]) == ("over", "")
    sheet = openpyxl.load_workbook(tmp_path / "r.xlsx")["Summary"]
    values = list(sheet.iter_rows(values_only=True))
    head = next(i for i, r in enumerate(values) if r[0] == "account")
    cols = {name: i for i, name in enumerate(values[head])}
    first = values[head + 1]
    assert first[cols["account"]] == "Acme Retail" and first[cols["endpoints status"]] == "expired"
    assert first[cols["license expired"]] == dt.datetime(2026, 12, 15)
    numbers = run_cli("audit", "--sample", "--as-of", "2026-12-31", "--fail-on", "never", "--format", "json",
                      "-o", tmp_path / "n.json")
    env = next(r for r in json.loads(numbers.stdout) if r["account"] == "Acme Retail")
    assert env["license_expired"] == "2026-12-15"
