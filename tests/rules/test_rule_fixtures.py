"""Rules tested by their fixtures: every built-in rule has rows that pass and rows that alarm,
and `auditor rules test` runs the same for a user's own rules (and Python checks)."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from auditor.common.paths import data_dir
from auditor.rules.fixtures import run_fixture
from auditor.rules.model import load_rules

BUILTIN = load_rules()
FIXTURES = data_dir("rules") / "tests"


@pytest.mark.parametrize("rule", BUILTIN, ids=lambda r: r.id)
def test_builtin_rule_passes_its_fixtures(rule):
    outcome = run_fixture(rule, FIXTURES / rule.id)
    assert outcome.failures == []


@pytest.mark.parametrize("rule", BUILTIN, ids=lambda r: r.id)
def test_every_builtin_rule_has_rows_that_pass_and_rows_that_alarm(rule):
    folder = FIXTURES / rule.id
    for name in ("pass.yaml", "alarm.yaml", "expected.yaml"):
        assert (folder / name).is_file(), f"{rule.id} has no {name}"
    for name in ("pass.yaml", "alarm.yaml"):
        assert yaml.safe_load((folder / name).read_text()), f"{rule.id}: {name} has no rows"
    alarms = [e for e in yaml.safe_load((folder / "expected.yaml").read_text()) if e["status"] == "alarm"]
    assert alarms, f"{rule.id}: expected.yaml has no alarm"


def test_no_fixture_folder_without_a_rule():
    assert {p.name for p in FIXTURES.iterdir() if p.is_dir()} == {r.id for r in BUILTIN}


def test_rules_test_command_on_the_builtin_rules(run_cli):
    run = run_cli("rules", "test", output=False)
    assert run.exit_code == 0, run.stdout
    assert f"{len(BUILTIN)} passed, 0 failed or untested." in run.stdout


RULE = """\
id: long-flow-name
title: Flow names too long to read
severity: low
description: A flow name longer than the given number of characters.
remediation: Shorten it.
parameters: {length: 20}
frame: flows
where: {name: {regex: "^.{21,}"}}
reason: "flow {id} has a name of more than {length} characters"
"""


def user_dir(tmp_path, rule=RULE, pass_rows=None, alarm_rows=None, expected=None, extra=None):
    folder = tmp_path / "mine"
    (folder / "tests" / "long-flow-name").mkdir(parents=True)
    (folder / "long-flow-name.yaml").write_text(rule)
    tests = folder / "tests" / "long-flow-name"
    (tests / "pass.yaml").write_text(pass_rows or "- {id: f1, name: Orders}\n")
    (tests / "alarm.yaml").write_text(alarm_rows or "- {id: f2, name: Orders from the old web shop to NetSuite}\n")
    (tests / "expected.yaml").write_text(
        expected or "- {status: alarm, resource_id: f2, reason: flow f2 has a name of more than 20 characters}\n")
    for name, text in (extra or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def test_a_user_rule_with_passing_fixtures(tmp_path, run_cli):
    run = run_cli("rules", "test", user_dir(tmp_path), output=False)
    assert run.exit_code == 0, run.stdout
    assert "ok        long-flow-name (1 pass, 1 alarm rows, 1 finding)" in run.stdout
    assert "1 passed, 0 failed or untested." in run.stdout


@pytest.mark.parametrize("change,needle", [
    # the rule alarms on a row that must pass
    ({"pass_rows": "- {id: f1, name: A name longer than twenty}\n"},
     "pass.yaml row 1 (f1): expected ok or out of scope, got alarm"),
    # a row that must alarm does not
    ({"alarm_rows": "- {id: f2, name: Short}\n"}, "alarm.yaml row 1 (f2): expected alarm, got ok"),
    # the reason differs from the one expected
    ({"expected": "- {status: alarm, resource_id: f2, reason: flow f2 is long}\n"},
     "expected finding not given: {status: 'alarm', resource_id: 'f2', reason: 'flow f2 is long'}"),
])
def test_a_user_rule_that_fails_its_fixtures(tmp_path, run_cli, change, needle):
    run = run_cli("rules", "test", user_dir(tmp_path, **change), output=False)
    assert run.exit_code == 1 and "FAIL      long-flow-name" in run.stdout and needle in run.stdout, run.stdout


def test_untested_rules_and_orphan_fixtures_fail(tmp_path, run_cli):
    folder = user_dir(tmp_path, extra={
        "other-rule.yaml": RULE.replace("id: long-flow-name", "id: other-rule"),
        "tests/no-such-rule/pass.yaml": "- {id: f1}\n"})
    run = run_cli("rules", "test", folder, output=False)
    assert run.exit_code == 1
    assert "NO TESTS  other-rule" in run.stdout
    assert "no rule has the id 'no-such-rule'" in run.stdout


@pytest.mark.parametrize("change,needle", [
    ({"pass_rows": "- {id: f1, nmae: Orders}\n"}, "pass.yaml: row 1: frame 'flows' has no column 'nmae'"),
    ({"expected": "- {status: alarm, resource: f2}\n"}, "expected.yaml: finding 1: give status, resource_id and reason"),
    ({"extra": {"tests/long-flow-name/case.yaml": "parameters: {size: 3}\n"}},
     "case.yaml: rule long-flow-name has no parameter 'size'"),
    ({"alarm_rows": "- {id: f2, name: [unclosed\n"}, "alarm.yaml:2: not readable YAML"),
])
def test_bad_fixture_files_exit_2_naming_the_file(tmp_path, run_cli, change, needle):
    run = run_cli("rules", "test", user_dir(tmp_path, **change), output=False)
    assert run.exit_code == 2 and needle in run.stderr and "Traceback" not in run.stderr, run.stderr


CHECK = '''\
from auditor.rules.checks import check


@check("name-shouts", frame="flows", adds=("capitals",))
def name_shouts(frame, params):
    capitals = frame["name"].fillna("").str.count(r"[A-Z]")
    letters = frame["name"].fillna("").str.count(r"[A-Za-z]").clip(lower=1)
    return frame.assign(alarm=capitals / letters >= params["share"], capitals=capitals)[["alarm", "capitals"]]
'''

CHECK_RULE = """\
id: shouting-flow-name
title: Flow names in capitals
severity: info
description: Flow names mostly in capital letters.
remediation: Write them in sentence case.
parameters: {share: 0.8}
frame: flows
check: name-shouts
where: {enabled: true}
reason: "flow {name} has {capitals} capital letters"
"""


def test_a_python_check_from_the_users_folder(tmp_path, run_cli):
    folder = tmp_path / "checks"
    (folder / "tests" / "shouting-flow-name").mkdir(parents=True)
    (folder / "shouting.py").write_text(CHECK)
    (folder / "shouting-flow-name.yaml").write_text(CHECK_RULE)
    tests = folder / "tests" / "shouting-flow-name"
    (tests / "pass.yaml").write_text("- {id: f1, name: Orders to NetSuite, enabled: true}\n"
                                     "- {id: f2, name: ORDERS, enabled: false}\n")
    (tests / "alarm.yaml").write_text("- {id: f3, name: ORDERS, enabled: true}\n")
    (tests / "expected.yaml").write_text("- {status: alarm, resource_id: f3, reason: flow ORDERS has 6 capital letters}\n")
    run = run_cli("rules", "test", folder, output=False)
    assert run.exit_code == 0, run.stdout

    snap = tmp_path / "acct"
    snap.mkdir()
    (snap / "flows.json").write_text('[{"_id": "f1", "name": "SYNC ORDERS"}, {"_id": "f2", "name": "Sync orders"}]')
    audit = run_cli("audit", snap, "--rules", folder)
    found = [f for f in audit.results["findings"] if f["rule"] == "shouting-flow-name"]
    assert [(f["resource"]["id"], f["reason"]) for f in found] == [("f1", "flow SYNC ORDERS has 10 capital letters")]


@pytest.mark.parametrize("rule,needle", [
    (CHECK_RULE.replace("check: name-shouts", "check: name-whispers"), "no Python check named 'name-whispers'"),
    (CHECK_RULE.replace("frame: flows", "frame: connections").replace("where: {enabled: true}\n", ""),
     "check 'name-shouts' works on the flows frame, not connections"),
    (CHECK_RULE.replace("check: name-shouts\n", "").replace("where: {enabled: true}\n", ""),
     "a rule needs a condition (where), a Python check (check), or both"),
])
def test_bad_check_references(tmp_path, run_cli, rule, needle):
    folder = tmp_path / "checks"
    folder.mkdir()
    (folder / "shouting.py").write_text(CHECK)
    (folder / "shouting-flow-name.yaml").write_text(rule)
    run = run_cli("rules", "validate", folder, output=False)
    assert run.exit_code == 2 and "shouting-flow-name.yaml" in run.stderr and needle in run.stderr, run.stderr


def test_a_check_file_that_does_not_import(tmp_path, run_cli):
    folder = tmp_path / "checks"
    folder.mkdir()
    (folder / "broken.py").write_text("import os\n\nraise RuntimeError('secret-ish text')\n")
    run = run_cli("rules", "validate", folder, output=False)
    assert run.exit_code == 2 and "broken.py:3: cannot import (RuntimeError)" in run.stderr
    assert "secret-ish" not in run.stderr and "Traceback" not in run.stderr


def test_all_rows_lists_ok_rows_with_their_own_reason(run_cli):
    default = run_cli("audit", "--sample", "--fail-on", "never")
    every = run_cli("audit", "--sample", "--fail-on", "never", "--all-rows")
    assert not [f for f in default.results["findings"] if f["status"] == "ok"]
    ok = [f for f in every.results["findings"] if f["status"] == "ok"]
    assert sum(c["ok"] for c in every.results["rule_counts"]) == len(ok) > 0
    assert default.results["rule_counts"] == every.results["rule_counts"]
    reasons = {(f["rule"], f["account"], f["resource"]["id"]): f["reason"] for f in ok}
    assert reasons[("endpoints-over-entitlement", "Acme Retail", "sandbox")] == (
        "sandbox: 2 endpoints in use, within the 2 licensed")
    # a parameter in a template: the window in force
    assert reasons[("license-expiring", "Initech", "lic-initech")] == (
        "integrator license lic-initech does not expire within 30 days (expires 2027-03-31)")
    # the alarms are the same either way
    def alarms(run):
        return [f for f in run.results["findings"] if f["status"] != "ok"]
    assert alarms(default) == alarms(every)


def test_a_parameter_override_must_have_the_defaults_type(tmp_path, run_cli):
    bad = tmp_path / "p.yaml"
    bad.write_text(textwrap.dedent("""\
        name: p
        description: x
        overrides:
          license-expiring: {parameters: {days: soon}}
        """))
    run = run_cli("audit", "--sample", "--profile", bad)
    assert run.exit_code == 2 and "rule license-expiring parameter days must be a number like its default, not text" in run.stderr
    assert f"{bad}:4: overrides.license-expiring.parameters.days" in run.stderr  # the file and line, not its name:
