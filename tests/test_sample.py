"""The bundled sample: the README's first command, and every core rule firing on it."""

from __future__ import annotations

from auditor.results import Results
from auditor.rules import load_rules


def test_sample_audit_summary_and_results(run_cli):
    run = run_cli("audit", "--sample", "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    assert "policy default · profile default · 10 rules · as of 2026-11-30" in run.stdout
    rows = {" ".join(line.split()) for line in run.stdout.splitlines()}
    # account, environment, plan, billable flows, endpoints, trading partners, alarms by severity
    assert "Globex Corporation production endpoint 4 / 3 6 / 3 0 / - 0 2 0 2 0 1" in rows
    assert "Acme Retail production endpoint 6 / 10 5 / 5 1 / 0 0 1 3 1 0 2" in rows
    assert "3 records skipped" in run.stdout
    results = Results.model_validate(run.results)  # the file matches the published contract
    by_name = {a.account: a for a in results.accounts}
    assert set(by_name) == {"Acme Retail", "Globex Corporation", "Initech"}
    acme = {e.environment: e for e in by_name["Acme Retail"].environments}
    assert (acme["production"].flows.billable, acme["production"].flows.entitled) == (6, 10)
    assert (acme["production"].endpoints.used, acme["production"].endpoints.entitled) == (5, 5)
    assert by_name["Globex Corporation"].license_model == "multi-environment"
    assert [e.environment for e in by_name["Globex Corporation"].environments] == ["production", "sandbox", "staging"]


def test_every_core_rule_fires_on_the_sample(run_cli):
    from auditor.rules import ACCOUNT_FRAMES, PARTNER_FRAMES

    run = run_cli("audit", "--sample")
    fired = {f["rule"] for f in run.results["findings"] if f["status"] == "alarm"}
    assert fired == {r.id for r in load_rules() if r.frame in ACCOUNT_FRAMES}
    partner = run_cli("licenses", "--sample", "-o", run.out.with_name("partner.json"))
    fired = {f["rule"] for f in partner.results["findings"] if f["status"] == "alarm"}
    assert fired == {r.id for r in load_rules() if r.frame in PARTNER_FRAMES}


def test_every_flow_and_endpoint_is_explained(run_cli):
    run = run_cli("audit", "--sample")
    for acct in run.results["accounts"]:
        assert all(f["reason"] for f in acct["flows"])
        assert all(e["explain"] and e["connections"] and e["flows"] for e in acct["endpoints"])
        for env in acct["environments"]:
            assert env["flows"]["entitled_from"] and env["endpoints"]["entitled_from"]
    assert all(f["reason"] for f in run.results["findings"])


def test_sample_results_are_byte_identical_run_to_run(run_cli, tmp_path):
    run_cli("audit", "--sample", "-o", tmp_path / "a.json")
    run_cli("audit", "--sample", "-o", tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_fail_on_sets_the_exit_code(run_cli):
    default = run_cli("audit", "--sample")  # default: high
    assert default.exit_code == 1 and "4 unmuted alarms at or above high" in default.stderr
    assert default.results is not None  # the results are written all the same
    assert run_cli("audit", "--sample", "--fail-on", "critical").exit_code == 0
    assert run_cli("audit", "--sample", "--fail-on", "low").exit_code == 1


def test_as_of_moves_expiry(run_cli):
    later = run_cli("audit", "--sample", "--as-of", "2027-12-31")
    expired = {f["resource"]["id"] for f in later.results["findings"] if f["rule"] == "license-expired"}
    assert {"lic-acme-endpoint", "lic-globex-endpoint", "lic-initech"} <= expired
    assert later.results["as_of"] == "2027-12-31"


def test_fail_on_never_exits_0_whatever_is_found(run_cli):
    assert run_cli("audit", "--sample", "--fail-on", "never").exit_code == 0
