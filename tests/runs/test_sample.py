"""The bundled sample: the README's first command, and every core rule firing on it."""

from __future__ import annotations

from auditor.common.paths import sample_dir
from auditor.results.model import Results
from auditor.rules.model import load_rules


def test_sample_audit_summary_and_results(run_cli):
    run = run_cli("audit", "--sample", "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    assert "policy default · profile default · 15 rules · as of 2026-11-30" in run.stdout
    rows = {" ".join(line.split()) for line in run.stdout.splitlines()}
    # account, environment, plan, billable flows, endpoints, trading partners, agents, alarms by severity
    assert "Globex Corporation production endpoint 4 / 3 6 / 3 0 / - 0 / - 0 2 0 2 0 1" in rows
    assert "Acme Retail production endpoint 6 / 10 5 / 5 1 / 0 0 / 1 0 1 13 2 0 2" in rows  # 10 medium: Celigo differs
    assert "3 records skipped" in run.stdout
    results = Results.model_validate(run.results)  # the file matches the published contract
    by_name = {a.account: a for a in results.accounts}
    assert set(by_name) == {"Acme Retail", "Globex Corporation", "Hooli", "Initech", "Umbrella Health"}
    acme = {e.environment: e for e in by_name["Acme Retail"].environments}
    assert (acme["production"].flows.billable, acme["production"].flows.entitled) == (6, 10)
    assert (acme["production"].endpoints.used, acme["production"].endpoints.entitled) == (5, 5)
    assert by_name["Globex Corporation"].license_model == "multi-environment"
    assert [e.environment for e in by_name["Globex Corporation"].environments] == ["production", "sandbox", "staging"]


def test_every_core_rule_fires_on_the_sample(run_cli):
    from auditor.common.vocabulary import ACCOUNT_FRAMES, PARTNER_FRAMES

    run = run_cli("audit", "--sample")
    fired = {f["rule"] for f in run.results["findings"] if f["status"] == "alarm"}
    # a month on, Acme Retail's plan license (to 2026-12-15) has lapsed: its entitlements are an
    # expired license's
    later = run_cli("audit", "--sample", "--as-of", "2026-12-31", "-o", run.out.with_name("later.json"))
    lapsed = {f["rule"] for f in later.results["findings"] if f["status"] == "alarm"} - fired
    assert lapsed == {"entitlement-license-expired"}
    assert fired | lapsed == {r.id for r in load_rules() if r.frame in ACCOUNT_FRAMES}
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
    assert default.exit_code == 1 and "6 unmuted alarms at or above high" in default.stderr
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


def test_the_healthy_sample_account_has_no_finding_and_every_report_shows_it(run_cli, tmp_path):
    """A healthy account (no alarm, nothing skipped) is the first thing many users audit."""
    import warnings

    import openpyxl
    from bs4 import BeautifulSoup

    healthy = sample_dir() / "umbrella-health"
    run = run_cli("audit", healthy, "--as-of", "2026-11-30", "--html", tmp_path / "r.html",
                  "--xlsx", tmp_path / "r.xlsx", "--csv", tmp_path / "csv")
    assert run.exit_code == 0, run.stderr
    results = run.results
    assert results["findings"] == [] and results["load_issues"] == []
    env = {e["environment"]: e for e in results["accounts"][0]["environments"]}
    assert (env["production"]["flows"]["billable"], env["production"]["endpoints"]["used"]) == (2, 3)
    assert (env["sandbox"]["flows"]["billable"], env["sandbox"]["endpoints"]["used"]) == (1, 1)
    soup = BeautifulSoup((tmp_path / "r.html").read_text(), "html.parser")
    assert "Umbrella Health" in soup.get_text()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl does not know the data-bar extension
        sheet = openpyxl.load_workbook(tmp_path / "r.xlsx")["Summary"]
    assert [c.value for c in sheet["A"]][4] == "Umbrella Health"
    findings = (tmp_path / "csv" / "findings.csv").read_text().splitlines()
    assert len(findings) == 1 and findings[0].startswith("severity,")  # the header, no rows


def test_every_report_of_an_empty_account(run_cli, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "account.json").write_text('{"name": "Empty", "licenseModel": "multi-environment"}')
    run = run_cli("audit", empty, "--html", tmp_path / "r.html", "--xlsx", tmp_path / "r.xlsx",
                  "--csv", tmp_path / "csv", "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    envs = run.results["accounts"][0]["environments"]
    assert [(e["environment"], e["flows"]["total"], e["endpoints"]["used"]) for e in envs] == [("production", 0, 0)]
    assert "its folder is missing" in run.results["load_issues"][0]["problem"]
    assert (tmp_path / "r.html").stat().st_size and (tmp_path / "r.xlsx").stat().st_size
    assert len(list((tmp_path / "csv").glob("*.csv"))) == 10  # advice.csv among them
