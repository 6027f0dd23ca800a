"""Mutes: accepted findings stay visible, marked with their reason, and never fail the run."""

from __future__ import annotations

import pytest

from auditor.results.model import Results


def write(tmp_path, text):
    path = tmp_path / "mutes.yaml"
    path.write_text(text)
    return path


def findings_by(run, rule):
    return [f for f in run.results["findings"] if f["rule"] == rule]


def test_mutes_mark_findings_and_leave_the_exit_code_to_the_rest(tmp_path, run_cli):
    mutes = write(tmp_path, """
mutes:
  - rule: "*-over-entitlement"
    account: Globex*
    reason: add-on endpoints ordered, PO 4711
  - rule: license-expired
    resource: lic-acme-*
    reason: renewal signed, waiting for the new key
    expires: 2027-01-31
""")
    run = run_cli("audit", "--sample", "--mutes", mutes, "--fail-on", "high")
    Results.model_validate(run.results)
    over = findings_by(run, "endpoints-over-entitlement") + findings_by(run, "flows-over-entitlement")
    globex = [f for f in over if f["account"] == "Globex Corporation"]
    assert len(globex) == 2 and all(f["muted"] and f["mute_reason"] == "add-on endpoints ordered, PO 4711" for f in globex)
    assert not any(f["muted"] for f in over if f["account"] != "Globex Corporation")
    expired = findings_by(run, "license-expired")
    assert expired[0]["muted"] and expired[0]["status"] == "alarm"  # still an alarm, still listed
    # three high alarms are left unmuted: Acme's trading partners, Initech's sandbox flows (a standard
    # tier without a sandbox license gives its sandbox no flows) and Initech's on-premise agent
    assert run.exit_code == 1 and "3 unmuted alarms at or above high" in run.stderr
    assert [m["status"] for m in run.results["mutes"]] == ["active", "active"]
    assert [m["matched"] for m in run.results["mutes"]] == [2, 1]
    assert "3 findings muted by 2 mutes." in run.stdout
    # the summary table counts unmuted alarms only: Globex production shows no high alarm now
    assert "Globex Corporation production endpoint 4 / 3 6 / 3 0 / - 0 / - 0 0 0 2 0 1" in {
        " ".join(line.split()) for line in run.stdout.splitlines()}


def test_expired_and_unused_mutes_are_reported(tmp_path, run_cli):
    mutes = write(tmp_path, """
mutes:
  - rule: license-expired
    reason: was renewed
    expires: 2026-11-01
  - rule: no-such-rule
    reason: left over
""")
    run = run_cli("audit", "--sample", "--mutes", mutes)
    assert [(m["status"], m["matched"]) for m in run.results["mutes"]] == [("expired", 1), ("unused", 0)]
    assert not any(f["muted"] for f in run.results["findings"])
    assert "1 expired: mutes.yaml entry 1, line 3." in run.stdout
    assert "1 unused: mutes.yaml entry 2, line 6." in run.stdout


def test_a_mutes_file_beside_a_snapshot_applies_to_that_account(tmp_path, run_cli):
    import shutil

    from auditor.common.paths import sample_dir

    shutil.copytree(sample_dir(), tmp_path / "accounts")
    (tmp_path / "accounts" / "globex" / "mutes.yaml").write_text(
        "mutes:\n  - rule: license-*\n    reason: handled by the partner\n")
    run = run_cli("audit", tmp_path / "accounts", "--as-of", "2026-11-30")
    lic = [f for f in run.results["findings"] if f["rule"].startswith("license-")]
    assert {f["account"] for f in lic if f["muted"]} == {"Globex Corporation"}
    assert {f["account"] for f in lic if not f["muted"]} == {"Acme Retail"}


@pytest.mark.parametrize("text,needle", [
    ("mutes:\n  - rule: x\n", "entry 1 (line 2) reason: Field required"),
    ("mutes:\n  - rule: x\n    reason: ok\n  - reason: y\n    colour: red\n", "entry 2 (line 4) colour"),
    ("mutes:\n  - reason: ok\n    expires: someday\n", "entry 1 (line 2) expires"),
    ("mutes: [\n", "not readable YAML"),
])
def test_bad_mutes_files(tmp_path, run_cli, text, needle):
    run = run_cli("audit", "--sample", "--mutes", write(tmp_path, text))
    assert run.exit_code == 2 and "mutes.yaml" in run.stderr and needle in run.stderr, run.stderr


@pytest.mark.parametrize("field", ["rule", "account", "environment", "resource"])
def test_a_pattern_longer_than_any_id_is_refused_not_left_to_run(tmp_path, run_cli, field):
    """fnmatch turns a run of '[' into a regular expression in time quadratic in its length (50,000
    ran for minutes): a mute's pattern is at most 1,000 characters, and a longer one is refused."""
    import json
    mutes = tmp_path / "m.yaml"
    mutes.write_text(json.dumps({"mutes": [{field: "[" * 50_000, "reason": "r"}]}))
    run = run_cli("audit", "--sample", "--mutes", mutes, "--fail-on", "never")
    assert run.exit_code == 2
    assert f"{mutes}: entry 1 (line 1) {field}: String should have at most 1000 characters" in run.stderr
