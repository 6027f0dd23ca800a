"""Rules as data: validation with lines, custom rules, profiles, selection, and the error status."""

from __future__ import annotations

import textwrap

import pytest
from conftest import ROOT

from auditor.common.paths import sample_dir
from auditor.rules.model import FRAME_COLUMNS, load_rules

RULE = """\
id: {id}
title: Flows named TODO
severity: low
description: A flow whose name still says TODO.
remediation: Name the flow.
tags: [hygiene]
parameters: {{word: TODO}}
frame: flows
where: {{name: {{regex: $word}}, enabled: true}}
reason: "flow {{name}} ({{id}}) is enabled and still named {{name}}"
"""


def write_rule(folder, rule_id="todo-flow-name", text=None, name=None):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name or rule_id}.yaml"
    path.write_text(text if text is not None else RULE.format(id=rule_id))
    return path


def test_every_frame_has_the_columns_rules_may_use(run_cli):
    from datetime import date

    from auditor.common.paths import partner_sample_dir
    from auditor.common.vocabulary import ACCOUNT_FRAMES
    from auditor.count.policy import load_policy
    from auditor.runs.account import run

    audit = run([sample_dir()], load_policy("default"), load_rules(), date(2026, 11, 30))
    for frame in ACCOUNT_FRAMES:
        assert FRAME_COLUMNS[frame] <= set(getattr(audit, frame).columns), frame
    # the partner frames, as `auditor licenses` hands them to the rules
    import pandas as pd

    from auditor.runs.partner import audit_partner

    root = partner_sample_dir()
    partner = audit_partner(root, date(2026, 11, 30), [], billing=root / "billing.csv",
                            billing_map=root / "billing-map.yaml")
    for frame in ("connector_licenses", "reconciliation"):
        assert FRAME_COLUMNS[frame] - {"account"} <= set(pd.DataFrame(partner[frame]).columns), frame


def test_builtin_rules_validate(run_cli):
    run = run_cli("rules", "validate", output=False)
    assert run.exit_code == 0 and run.stdout.strip() == "36 rules valid."


def test_a_custom_rule_runs_in_the_audit(tmp_path, run_cli):
    snap = tmp_path / "acct"
    snap.mkdir()
    (snap / "flows.json").write_text('[{"_id": "f1", "name": "TODO rename me"}, {"_id": "f2", "name": "Orders"}]')
    write_rule(tmp_path / "mine")
    assert run_cli("rules", "validate", tmp_path / "mine", output=False).stdout.strip() == "1 rule valid."
    run = run_cli("audit", snap, "--rules", tmp_path / "mine")
    found = [f for f in run.results["findings"] if f["rule"] == "todo-flow-name"]
    assert [(f["resource"]["id"], f["reason"]) for f in found] == [
        ("f1", "flow TODO rename me (f1) is enabled and still named TODO rename me")]
    listed = run_cli("rules", "list", "--rules", tmp_path / "mine", output=False).stdout
    assert "todo-flow-name" in listed and "hygiene" in listed


@pytest.mark.parametrize("change,needle", [
    (("id: {id}", "id: other-name"), "todo-flow-name.yaml:1: id: a rule alone in a file has the file's name"),
    (("severity: low", "severity: severe"), "todo-flow-name.yaml:3: severity:"),
    (("tags: [hygiene]", "tags: [hygiene]\ncolour: red"), "todo-flow-name.yaml:7: colour: unknown key"),
    (("{{regex: $word}}", "{{resembles: $word}}"), "unknown operator 'resembles'"),
    (("{{name: {{regex", "{{nickname: {{regex"), "frame 'flows' has no column 'nickname'"),
    (("$word", "$phrase"), "parameter $phrase is not declared"),
    (("title: Flows named TODO", "title: [unclosed"), "not readable YAML"),
])
def test_bad_rules_name_the_file_and_line(tmp_path, run_cli, change, needle):
    old, new = change
    write_rule(tmp_path / "mine", text=RULE.replace(old, new).format(id="todo-flow-name"))
    for args in (["rules", "validate", tmp_path / "mine"], ["audit", "--sample", "--rules", tmp_path / "mine"]):
        run = run_cli(*args, output=False)
        assert run.exit_code == 2 and needle in run.stderr and "Traceback" not in run.stderr, run.stderr


def test_a_pack_of_rules_and_id_clashes(tmp_path, run_cli):
    pack = "rules:\n" + textwrap.indent(RULE.format(id="a-rule"), "  ").replace("  id:", "- id:", 1)
    write_rule(tmp_path / "mine", name="pack", text=pack)
    assert run_cli("rules", "validate", tmp_path / "mine", output=False).stdout.strip() == "1 rule valid."
    write_rule(tmp_path / "mine", rule_id="license-expired")
    run = run_cli("rules", "validate", tmp_path / "mine", output=False)
    assert run.exit_code == 2 and "rule id 'license-expired' is already defined in" in run.stderr


def test_profiles_choose_rules_and_override_them(run_cli):
    run = run_cli("audit", "--sample", "--profile", "finance")
    assert "profile finance · 11 rules" in run.stdout and run.results["profile"] == "finance"
    rules = {c["rule"] for c in run.results["rule_counts"]}
    assert "missing-reference" not in rules and "endpoint-identity-unresolved" not in rules
    expiring = [f for f in run.results["findings"] if f["rule"] == "license-expiring"]
    assert all(f["severity"] == "high" for f in expiring)
    # 60 days ahead instead of 30: Initech's license (2027-03-31) is still not in range, Acme's and Globex's are
    assert {f["resource"]["id"] for f in expiring} == {"lic-acme-endpoint", "lic-globex-edi-app"}
    shown = run_cli("rules", "show", "flows-near-entitlement", "--profile", "finance", output=False).stdout
    assert "share: 0.8" in shown


def test_bad_profiles(tmp_path, run_cli):
    assert "built in: default, finance" in run_cli("audit", "--sample", "--profile", "nope").stderr
    bad = tmp_path / "p.yaml"
    bad.write_text("name: p\ndescription: x\noverrides:\n  license-expiring: {parameters: {weeks: 2}}\n")
    run = run_cli("audit", "--sample", "--profile", bad)
    assert run.exit_code == 2 and "rule license-expiring has no parameter 'weeks'" in run.stderr


def test_only_skip_and_min_severity(run_cli):
    only = run_cli("audit", "--sample", "--only", "license-expired", "--only", "tag:data-quality")
    assert {c["rule"] for c in only.results["rule_counts"]} == {
        "license-expired", "missing-reference", "endpoint-identity-unresolved"}
    skip = run_cli("audit", "--sample", "--skip", "finance")
    assert {c["rule"] for c in skip.results["rule_counts"]} == {
        "missing-reference", "endpoint-identity-unresolved", "endpoints-split-by-uri",
        "integration-app-on-netsuite-sandbox"}
    high = run_cli("audit", "--sample", "--min-severity", "high")
    assert high.results["findings"] and {f["severity"] for f in high.results["findings"]} == {"high"}


def test_a_rule_that_fails_gives_error_findings_and_exit_3(tmp_path, run_cli):
    broken = RULE.format(id="broken-rule").replace("where: {name: {regex: $word}, enabled: true}",
                                                   "where: {name: {older-than: 3}}")
    write_rule(tmp_path / "mine", rule_id="broken-rule", text=broken)
    run = run_cli("audit", "--sample", "--rules", tmp_path / "mine")
    errors = [f for f in run.results["findings"] if f["status"] == "error"]
    assert {f["account"] for f in errors} == {"Acme Retail", "Globex Corporation", "Hooli", "Initech", "Umbrella Health"}
    assert all("'older-than' needs a date column" in f["reason"] for f in errors)
    assert run.exit_code == 3 and "5 rule evaluations failed" in run.stderr
    # the other rules still ran
    assert any(f["rule"] == "license-expired" for f in run.results["findings"])


def readme_files(folder):
    """Write every README code block whose first line is `# my-rules/PATH...` to folder/PATH."""
    import re

    readme = (ROOT / "README.md").read_text()
    written = []
    for block in re.findall(r"```(?:yaml|python)\n# my-rules/(\S+?):?(?: [^\n]*)?\n(.*?)```", readme, re.S):
        path, body = block
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(body)
        written.append(path)
    return written


def test_the_readme_examples_validate_test_and_fire(tmp_path, run_cli):
    written = readme_files(tmp_path / "my-rules")
    assert {"todo-flow-name.yaml", "tests/todo-flow-name/pass.yaml", "tests/todo-flow-name/alarm.yaml",
            "tests/todo-flow-name/expected.yaml", "shouting.py", "shouting-flow-name.yaml"} <= set(written)
    assert run_cli("rules", "validate", tmp_path / "my-rules", output=False).stdout.strip() == "2 rules valid."
    tested = run_cli("rules", "test", tmp_path / "my-rules", output=False).stdout
    assert "ok        todo-flow-name (2 pass, 1 alarm rows, 1 finding)" in tested, tested
    snap = tmp_path / "acct"
    snap.mkdir()
    (snap / "flows.json").write_text('[{"_id": "f1", "name": "TODO: ORDERS"}]')
    run = run_cli("audit", snap, "--rules", tmp_path / "my-rules")
    assert sorted(f["rule"] for f in run.results["findings"] if f["resource"]["id"] == "f1") == [
        "shouting-flow-name", "todo-flow-name"]
