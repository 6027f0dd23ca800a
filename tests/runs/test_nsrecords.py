"""NetSuite integration records across sandbox and production, and the integrator.io side."""

from __future__ import annotations

import json
import warnings

import openpyxl
import pytest
from bs4 import BeautifulSoup

from auditor.common.paths import netsuite_sample_dir
from auditor.common.vocabulary import NETSUITE_FRAMES
from auditor.rules.model import load_rules

SAMPLE = netsuite_sample_dir()


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from click.testing import CliRunner

    from auditor.cli import cli

    out = tmp_path_factory.mktemp("ns")
    run = CliRunner().invoke(cli, ["ns-records", "--sample", "-o", str(out / "n.json"), "--html", str(out / "n.html"),
                                   "--xlsx", str(out / "n.xlsx")], catch_exceptions=False)
    return out, run, json.loads((out / "n.json").read_text())


def alarms(results) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in results["findings"]:
        if f["status"] == "alarm":
            out.setdefault(f["rule"], []).append(f["resource"]["id"])
    return out


def test_every_case_on_the_sample(sample):
    _, run, results = sample
    assert run.exit_code == 1
    assert "sandboxes refreshed on 2026-11-10" in run.stdout  # the sandbox list is newer than production's
    assert alarms(results) == {
        "ns-record-sandbox-only": ["1234567_SB1/A1B2C3D4-0006"],
        "ns-record-production-not-owned": ["1234567/A1B2C3D4-0002", "1234567/A1B2C3D4-0004"],
        "ns-record-common-fields-differ": ["1234567/A1B2C3D4-0003"],
        "ns-record-created-in-sandbox": ["1234567/A1B2C3D4-0002"],
        "ns-record-unused-since-refresh": ["1234567_SB1/A1B2C3D4-0007"],
        "ns-record-unused-by-connections": ["1234568/A1B2C3D4-0001"],
        "ns-connection-without-record": ["1234567_SB2"],
    }
    assert set(alarms(results)) == {r.id for r in load_rules() if r.frame in NETSUITE_FRAMES}
    assert not [f for f in results["findings"] if f["status"] == "error"]  # every column a rule reads is there
    differ = next(f for f in results["findings"] if f["rule"] == "ns-record-common-fields-differ")
    assert "(1234567_SB1: description, authentication)" in differ["reason"]


def test_bad_rows_are_reported(sample):
    _, run, results = sample
    assert [i["problem"] for i in results["load_issues"]] == [
        "record 6, column 'Last Used': not a date ('not recorded'; expected YYYY-MM-DD)"]
    assert "1 row or record not read" in run.stdout


def test_the_reports(sample):
    out, _, results = sample
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(out / "n.xlsx")
    assert wb.sheetnames[:2] == ["NetSuite records", "NetSuite connections"]
    sheet = wb["NetSuite records"]
    assert sheet.max_row - 1 == len(results["ns_records"])
    soup = BeautifulSoup((out / "n.html").read_text(), "html.parser")
    assert soup.find("h2", string="NetSuite records") and soup.find("h2", string="NetSuite connections")


def test_csv_lists_and_a_refresh_date(tmp_path, run_cli):
    import csv

    for name in ("sandbox", "production"):
        records = json.loads((SAMPLE / f"{name}.json").read_text())["records"]
        with (tmp_path / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
    args = ["ns-records", tmp_path / "sandbox.csv", tmp_path / "production.csv", "--map", SAMPLE / "map.yaml",
            "--as-of", "2026-11-30", "--fail-on", "never"]
    without = run_cli(*args)
    assert without.exit_code == 0, without.stderr
    assert "ns-record-unused-since-refresh" not in alarms(without.results)  # CSV lists carry no export date
    assert "ns-connection-without-record" not in alarms(without.results)  # no snapshot given
    late = run_cli(*args, "--refreshed-on", "2026-11-18")
    # last used on the 12th, the 17th and the 1st of October: before the 18th; the 18th itself counts as used
    assert sorted(alarms(late.results)["ns-record-unused-since-refresh"]) == [
        "1234567_SB1/A1B2C3D4-0003", "1234567_SB1/A1B2C3D4-0006", "1234567_SB1/A1B2C3D4-0007"]
    problem = late.results["load_issues"][0]["problem"]
    assert problem == "row 8, column 'Last Used': not a date ('not recorded'; expected YYYY-MM-DD)"


def test_lists_in_the_wrong_order(run_cli):
    run = run_cli("ns-records", SAMPLE / "production.json", SAMPLE / "sandbox.json", "--map", SAMPLE / "map.yaml",
                  output=False)
    assert run.exit_code == 2 and "is not a sandbox account" in run.stderr and "right order" in run.stderr


def test_a_bad_application_pattern(run_cli):
    run = run_cli("ns-records", "--sample", "--application", "(", output=False)
    assert run.exit_code == 2 and "--application: not a regular expression" in run.stderr
