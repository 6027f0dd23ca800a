"""Every command reads what the others write, the same way: flows and endpoints read a results
file on standard input and a recorded date as 'auditor report' does; -q and -v after any
command's name; --account ignoring case when one name matches so; JSON in snake_case with lists
as arrays and what the results file carries; no empty mutes.csv from a partner's run."""

from __future__ import annotations

import json
import re

import click
import pytest
from click.testing import CliRunner

from auditor.cli import cli
from auditor.cli.render import json_records, match_account, snake
from auditor.common.errors import AuditorError


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """The sample audited and recorded on two dates: the results files and the history."""
    root = tmp_path_factory.mktemp("readalike")
    store = root / "h.sqlite"
    for day in ("2026-10-31", "2026-11-30"):
        run = CliRunner().invoke(cli, ["audit", "--sample", "--as-of", day, "--record", "--history", str(store),
                                       "--fail-on", "never", "-o", str(root / f"r{day}.json")])
        assert run.exit_code == 0, run.output
    return root, store


def invoke(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


# ---- the account's name, ignoring case when that is unambiguous (in-process) ----

@pytest.mark.parametrize("given,names,wanted", [
    ("Acme Retail", {"Acme Retail", "Globex"}, "Acme Retail"),  # as written
    ("acme retail", {"Acme Retail", "Globex"}, "Acme Retail"),
    ("ACME RETAIL", {"Acme Retail", "Globex"}, "Acme Retail"),
    ("aCmE rEtAiL", {"Acme Retail"}, "Acme Retail"),
    ("straße", {"STRASSE GmbH", "Strasse"}, "Strasse"),  # casefold, not lower
    ("Acme", {"Acme", "ACME"}, "Acme"),  # exactly as written wins over the others alike
    ("Initech ", {"Initech"}, None),  # not the same name: the caller lists the names
    ("Hooli", set(), None),
    (None, {"Acme"}, None),
])
def test_an_account_name_matches_ignoring_case_when_one_name_does(given, names, wanted):
    assert match_account(given, names) == wanted


@pytest.mark.parametrize("given,names", [
    ("acme", {"Acme", "ACME"}),
    ("ACME RETAIL", {"Acme Retail", "acme retail", "Globex"}),
    ("strasse", {"Straße", "STRASSE"}),
])
def test_an_account_name_that_matches_several_ignoring_case_is_an_error_naming_them(given, names):
    with pytest.raises(AuditorError) as err:
        match_account(given, names)
    for name in names - {"Globex"}:
        assert repr(name) in str(err.value)
    assert "capitals" in str(err.value)


# ---- JSON: snake_case keys, arrays for lists, null for nothing (in-process) ----

@pytest.mark.parametrize("header,key", [
    ("enabled flows", "enabled_flows"), ("account-wide", "account_wide"), ("audit date", "audit_date"),
    ("billable flows", "billable_flows"), ("reason code", "reason_code"), ("Celigo says", "celigo_says"),
    ("id", "id"), ("trading partners used", "trading_partners_used"),
])
def test_headers_become_snake_case_keys(header, key):
    assert snake(header) == key


def test_json_records_hold_lists_as_arrays_numbers_as_numbers_and_null_for_nothing():
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({
        "enabled flows": pd.array([2, None], dtype="Int64"), "connections": [np.array(["a", "b"]), []],
        "share": [0.5, float("nan")], "billable": [True, False], "expires": pd.to_datetime(["2026-11-30", None]),
        "reason code": ["disabled", None]})
    rows = json.loads(json_records(frame))
    assert rows == [
        {"enabled_flows": 2, "connections": ["a", "b"], "share": 0.5, "billable": True, "expires": "2026-11-30",
         "reason_code": "disabled"},
        {"enabled_flows": None, "connections": [], "share": None, "billable": False, "expires": None,
         "reason_code": None}]
    assert "\\/" not in json_records(pd.DataFrame({"key": ["uri:https://a/b"]}))  # no escaped slashes


SNAKE = re.compile(r"^[a-z0-9_]+$")


@pytest.mark.parametrize("args", [
    ["audit", "--sample", "--fail-on", "never", "-o", "{dir}/x.json"],
    ["endpoints", "{file}"], ["flows", "{file}"], ["history", "--history", "{store}"],
    ["diff", "{dir}/r2026-10-31.json", "{file}"], ["rules", "list"],
])
def test_every_command_writes_json_keys_in_snake_case(recorded, args):
    root, store = recorded
    file = root / "r2026-11-30.json"
    argv = [a.format(dir=root, file=file, store=store) for a in args]
    run = CliRunner().invoke(cli, [*argv, "--format", "json"])
    assert run.exit_code == 0, run.output
    rows = json.loads(run.stdout)
    assert rows and all(SNAKE.match(k) for r in rows for k in r), sorted({k for r in rows for k in r})


def test_endpoints_json_carries_the_lists_of_the_results_file_as_arrays(recorded):
    root, _ = recorded
    results = json.loads((root / "r2026-11-30.json").read_text())
    rows = json.loads(invoke("endpoints", root / "r2026-11-30.json", "--format", "json").stdout)
    written = {(a["account"], e["environment"], e["key"]): e for a in results["accounts"] for e in a["endpoints"]}
    assert len(rows) == len(written)
    for row in rows:
        e = written[(row["account"], row["environment"], row["key"])]
        assert row["connections"] == e["connections"] and row["flows"] == e["flows"]
        assert row["reached_by"] == e["reached_by"] and row["explain"] == e["explain"]
        assert row["enabled_flows"] == len(e["flows"])
    # the CSV and the table keep one cell a column
    csv = invoke("endpoints", root / "r2026-11-30.json", "--format", "csv").stdout
    assert "c-shop-us, c-shop-us-rest" in csv


def test_flows_json_and_csv_carry_the_reason_code(recorded):
    root, _ = recorded
    results = json.loads((root / "r2026-11-30.json").read_text())
    codes = {(a["account"], f["id"]): f["reason_code"] for a in results["accounts"] for f in a["flows"]}
    rows = json.loads(invoke("flows", root / "r2026-11-30.json", "--format", "json").stdout)
    assert {(r["account"], r["id"]): r["reason_code"] for r in rows} == codes
    assert "reason code" in invoke("flows", root / "r2026-11-30.json", "--format", "csv").stdout.splitlines()[0]
    assert "reason code" not in invoke("flows", root / "r2026-11-30.json").stdout  # words for people


# ---- flows and endpoints read a results file, standard input and a date as report does ----

@pytest.mark.parametrize("command", ["flows", "endpoints"])
@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_flows_and_endpoints_read_standard_input_and_a_recorded_date_as_the_file(recorded, command, fmt):
    root, store = recorded
    file = root / "r2026-10-31.json"
    by_file = invoke(command, file, "--format", fmt)
    by_stdin = invoke(command, "-", "--format", fmt, input=file.read_bytes())
    by_date = invoke(command, "2026-10-31", "--history", store, "--format", fmt)
    assert by_file.exit_code == by_stdin.exit_code == by_date.exit_code == 0, (by_stdin.output, by_date.output)
    assert by_stdin.stdout == by_file.stdout == by_date.stdout and by_file.stdout.strip()


@pytest.mark.parametrize("command", ["flows", "endpoints"])
def test_one_account_of_a_recorded_date_by_its_name_in_any_case(recorded, command):
    root, store = recorded
    want = invoke(command, root / "r2026-11-30.json", "--account", "Globex Corporation", "--format", "json").stdout
    for name in ("Globex Corporation", "globex corporation", "GLOBEX CORPORATION"):
        run = invoke(command, "2026-11-30", "--history", store, "--account", name, "--format", "json")
        assert run.exit_code == 0 and run.stdout == want
        assert invoke(command, "--sample", "--account", name, "--format", "json").stdout == want


@pytest.mark.parametrize("args,said", [
    (["flows", "2026-01-31", "--history", "{store}"], "2026-01-31"),  # nothing recorded that day
    (["endpoints", "2026-11-30", "--history", "{dir}/none.sqlite"], "no history"),
    (["flows", "-"], "results"),  # standard input that is no results file
    (["endpoints", "{file}", "--account", "Nobody"], "Nobody"),
])
def test_what_flows_and_endpoints_cannot_read_is_one_line_and_exit_2(recorded, args, said):
    root, store = recorded
    argv = [a.format(dir=root, store=store, file=root / "r2026-11-30.json") for a in args]
    run = CliRunner().invoke(cli, argv, input="{}")
    assert run.exit_code == 2 and said in run.stderr and "Traceback" not in run.output
    assert len(run.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["flows", "endpoints"])
def test_flows_and_endpoints_of_a_run_that_audited_no_account_say_so(tmp_path, command):
    out = tmp_path / "p.json"
    assert invoke("licenses", "--sample", "--fail-on", "never", "-o", out).exit_code == 0
    run = CliRunner().invoke(cli, [command, str(out)])
    assert run.exit_code == 2 and "audited no integrator.io account" in run.stderr
    run = CliRunner().invoke(cli, [command, "-"], input=out.read_bytes())
    assert run.exit_code == 2 and run.stderr.startswith("Error: standard input: this run audited no integrator.io")


# ---- --account ignoring case, wherever --account is taken ----

@pytest.mark.parametrize("args", [
    ["flows", "{file}"], ["endpoints", "{file}"], ["flows", "--sample"], ["endpoints", "--sample"],
    ["history", "--history", "{store}"], ["report", "{file}", "{dir}/one.html"],
    ["report", "2026-11-30", "--history", "{store}", "{dir}/one.html"],
    ["diff", "2026-10-31", "2026-11-30", "--history", "{store}"], ["diff", "{old}", "{file}"],
])
def test_every_account_option_takes_the_name_in_any_case(recorded, args):
    root, store = recorded
    argv = [a.format(dir=root, store=store, file=root / "r2026-11-30.json", old=root / "r2026-10-31.json")
            for a in args]
    exact = CliRunner().invoke(cli, [*argv, "--account", "Hooli"])
    other = CliRunner().invoke(cli, [*argv, "--account", "hOOLI"])
    assert exact.exit_code == other.exit_code == 0, other.output
    assert other.stdout == exact.stdout


def test_an_account_named_twice_but_for_case_is_ambiguous_and_said_so(recorded, tmp_path):
    root, _ = recorded
    text = (root / "r2026-11-30.json").read_text().replace('"Hooli"', '"ACME RETAIL"')
    (tmp_path / "two.json").write_text(text)
    for args in (["flows", tmp_path / "two.json"], ["report", tmp_path / "two.json", tmp_path / "x.html"]):
        run = CliRunner().invoke(cli, [*map(str, args), "--account", "acme retail"])
        assert run.exit_code == 2 and "'ACME RETAIL'" in run.stderr and "'Acme Retail'" in run.stderr
    # written exactly, either one is taken
    assert invoke("flows", tmp_path / "two.json", "--account", "ACME RETAIL").exit_code == 0


# ---- -q and -v after the command's name too ----

def _commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name)


@pytest.mark.parametrize("path", sorted(_commands(cli)))
def test_every_command_takes_quiet_and_verbose_after_its_name(path):
    shown = invoke(*path, "--help").stdout
    assert "-q, --quiet" in shown and "-v, --verbose" in shown


@pytest.mark.parametrize("args", [
    ["audit", "--sample", "--fail-on", "never", "-o", "{dir}/a.json", "--html", "{dir}/a.html"],
    ["licenses", "--sample", "--fail-on", "never", "-o", "{dir}/p.json"],
    ["ns-records", "--sample", "--fail-on", "never", "-o", "{dir}/n.json"],
    ["report", "{dir}/a.json", "{dir}/b.html"],
])
@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_after_the_command_says_nothing_as_before_it(tmp_path, args, where):
    argv = [a.format(dir=tmp_path) for a in args]
    if argv[0] == "report":
        invoke("audit", "--sample", "--fail-on", "never", "-o", tmp_path / "a.json")
    run = invoke(*(["-q", *argv] if where == "before" else [*argv, "-q"]))
    assert run.exit_code == 0 and run.stdout == "" and run.stderr == ""
    loud = invoke(*argv)
    assert loud.stdout  # the same command, not quiet, says something


def test_verbose_after_the_command_says_what_the_run_does_and_quiet_wins(tmp_path):
    args = ["audit", "--sample", "--fail-on", "never", "-o", tmp_path / "a.json"]
    steps = invoke(*args, "-v").stderr
    assert "reading 5 accounts" in steps
    assert invoke(*args, "-v", "-q").stderr == "" and invoke(*args, "-q", "-v").stderr == ""
    assert invoke("-q", *args, "-v").stderr == ""  # quiet before the command, verbose after: quiet


# ---- a partner's CSV: no empty mutes.csv ----

def test_a_partner_run_without_mutes_writes_no_empty_mutes_csv(tmp_path):
    assert invoke("licenses", "--sample", "--fail-on", "never", "-o", tmp_path / "p.json",
                  "--csv", tmp_path / "p").exit_code == 0
    assert not (tmp_path / "p" / "mutes.csv").exists() and (tmp_path / "p" / "findings.csv").exists()
    assert invoke("ns-records", "--sample", "--fail-on", "never", "-o", tmp_path / "n.json",
                  "--csv", tmp_path / "n").exit_code == 0
    assert not (tmp_path / "n" / "mutes.csv").exists()
    # with mutes, the file lists them
    mutes = tmp_path / "mutes.yaml"
    mutes.write_text("mutes:\n  - rule: '*'\n    reason: accepted for the test\n    expires: 2027-12-31\n")
    run = invoke("licenses", "--sample", "--fail-on", "never", "-o", tmp_path / "m.json", "--mutes", mutes,
                 "--csv", tmp_path / "m")
    assert run.exit_code == 0, run.output
    assert len((tmp_path / "m" / "mutes.csv").read_text().splitlines()) == 2


def test_history_with_snapshots_is_refused_not_ignored(run_cli, tmp_path):
    from auditor.common.paths import sample_dir
    for command in ("flows", "endpoints"):
        run = run_cli(command, sample_dir() / "acme-retail", "--history", tmp_path / "h.sqlite")
        assert run.exit_code == 2 and "--history goes with a recorded DATE" in run.stderr
