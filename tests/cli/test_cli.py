"""The ad hoc commands: endpoints and flows, their filters and formats, and --help."""

from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import ROOT, account, flow

from auditor.cli import cli


def test_endpoints_table_and_filters(run_cli):
    run = run_cli("endpoints", "--sample", "--account", "Acme Retail", "--env", "sandbox")
    assert run.exit_code == 0
    assert "netsuite:sandboxes" in run.stdout and "c-ns-sb1, c-ns-sb2" in run.stdout
    assert "Globex" not in run.stdout and "production" not in run.stdout


def test_endpoints_json_lists_why(run_cli):
    rows = json.loads(run_cli("endpoints", "--sample", "--format", "json").stdout)
    acme_us = next(r for r in rows if r["key"] == "uri:https://acme-us.myshopify.com/admin/api/2024-01")
    assert acme_us["connections"] == ["c-shop-us", "c-shop-us-rest"] and acme_us["enabled_flows"] == 2
    assert acme_us["application"] == "shopify" and "distinct base URI" in acme_us["why"]
    assert len(rows) == 7 + 8 + 3 + 4 + 4  # Acme, Globex, Hooli, Initech, Umbrella, all environments


def test_flows_csv_with_billable_filter(run_cli):
    out = run_cli("flows", "--sample", "--account", "Acme Retail", "--not-billable", "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["id"] for r in rows} == {"f-app", "f-app-test", "f-edi", "f-free", "f-loader", "f-report"}
    assert all(r["billable"] == "False" for r in rows)
    billable = run_cli("flows", "--sample", "--billable", "--format", "json").stdout
    assert all(r["billable"] for r in json.loads(billable)) and len(json.loads(billable)) == 8 + 6 + 2 + 4 + 3


def test_csv_cells_cannot_become_formulas(tmp_path, run_cli):
    ns = {"_id": "ns", "type": "netsuite", "netsuite": {"account": "1"}}
    names = ["=HYPERLINK(\"http://x\")", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "plain"]
    snap = account(tmp_path, [ns], [flow(f"f{i}", exports=["e-ns"], name=n) for i, n in enumerate(names)])
    rows = list(csv.DictReader(io.StringIO(run_cli("flows", snap, "--format", "csv").stdout)))
    got = {r["id"]: r["name"] for r in rows}
    assert got["f0"] == "'=HYPERLINK(\"http://x\")" and got["f1"] == "'+1" and got["f3"] == "'@SUM(A1)"
    assert got["f4"].startswith("'") and got["f6"] == "plain"


def test_empty_selection(run_cli):
    # an environment that exists and has no flows (an unknown name is an error: see test_ux)
    assert run_cli("flows", "--sample", "--account", "Hooli", "--env", "sandbox").stdout.strip() == "(none)"


@pytest.mark.parametrize("command", [[], ["audit"], ["endpoints"], ["flows"]])
def test_help_texts(command):
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
    if command:
        assert "--sample" in result.output and "--policy" in result.output


def test_version(run_cli):
    from auditor import __version__

    assert __version__ in run_cli("--version", output=False).stdout


def test_queries_read_a_results_file_as_they_read_snapshots(run_cli, tmp_path):
    run_cli("audit", "--sample", "-o", tmp_path / "r.json")
    for command, extra in (("endpoints", []), ("flows", ["--not-billable"])):
        args = ["--account", "Globex Corporation", "--format", "json", *extra]
        live = json.loads(run_cli(command, "--sample", *args).stdout)
        saved = json.loads(run_cli(command, tmp_path / "r.json", *args).stdout)
        assert saved == live and (live or command == "flows")


def test_queries_reject_a_file_that_is_not_results(run_cli, tmp_path):
    (tmp_path / "x.json").write_text('{"hello": 1}')
    run = run_cli("flows", tmp_path / "x.json")
    assert run.exit_code == 2 and "not a results file" in run.stderr
    run = run_cli("endpoints", tmp_path / "r.json")
    assert run.exit_code == 2 and "no such file" in run.stderr


@pytest.mark.parametrize("args,code,out,err", [
    (["audit", "--sample", "--fail-on", "never", "--format", "csv", "-o", "{tmp}/r.json"], 0,
     "Acme Retail,production,endpoint,6,10,5,5,", ""),
    (["audit", "--sample", "-o", "{tmp}/r.json"], 1, "Acme Retail", "unmuted alarms at or above high"),
    (["audit", "{tmp}/nothing-here"], 2, "", "no such file or folder"),
    (["--version"], 0, "auditor, version", ""),
])
def test_the_command_ends_with_its_exit_code_and_everything_said(tmp_path, args, code, out, err):
    """The `auditor` process (which ends without tearing the interpreter down) exits with the
    command's code, after all its output is written, even to a pipe."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "auditor", *[a.replace("{tmp}", str(tmp_path)) for a in args]],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == code, run.stderr
    assert out in run.stdout and err in run.stdout + run.stderr
    if "--format" in args:  # the whole table reached the pipe: a header and one row per environment
        results = json.loads((tmp_path / "r.json").read_text())
        assert len(run.stdout.strip().splitlines()) == 1 + sum(len(a["environments"]) for a in results["accounts"])


@pytest.mark.parametrize("day", ["2026-10-31", "2026-11-30"])
def test_the_results_file_an_audit_writes_is_one_report_reads(run_cli, tmp_path, day):
    """On 2026-10-31 the sample's load issues mix records with a position and without one: a
    column of positions with a gap had become floats, written 3.0, and 'auditor report' refused
    the audit's own file."""
    run = run_cli("audit", "--sample", "--as-of", day, "--fail-on", "never", "-o", tmp_path / "r.json")
    records = [issue["record"] for issue in run.results["load_issues"]]
    assert None in records and all(r is None or type(r) is int for r in records)
    report = run_cli("report", tmp_path / "r.json", "--html", tmp_path / "r.html")
    assert report.exit_code == 0, report.stderr
