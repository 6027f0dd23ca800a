"""Counting as the vendor's help center documents it (issue 15), each rule with its source."""

from __future__ import annotations

import json

import pytest
from conftest import account, flow, write_snapshot


def _env(results: dict, name: str) -> dict:
    return next(e for e in results["accounts"][0]["environments"] if e["environment"] == name)


def test_a_new_environment_has_productions_entitlements(tmp_path, run_cli):
    """Help center 31566861433627: a newly created environment has the same license entitlements
    as production; account.json's mapping still says otherwise where it names the environment."""
    root = tmp_path / "acct"
    licenses = [{"_id": "l1", "type": "endpoint", "numEndpoints": 7, "numFlows": 12, "numSandboxEndpoints": 2,
                 "numSandboxFlows": 3}]
    conns = [{"_id": "c1", "type": "http", "http": {"baseURI": "https://a.example.com"}}]
    exports = [{"_id": "e1", "_connectionId": "c1"}]
    for env in ("production", "dev", "qa"):
        write_snapshot(root / env, connections=conns, exports=exports, flows=[flow("f1", exports=["e1"])])
    (root / "licenses.json").write_text(json.dumps(licenses))
    (root / "account.json").write_text(json.dumps({"licenseModel": "multi-environment", "environments": {"qa": "sandbox"}}))
    results = run_cli("audit", root, "--as-of", "2026-11-30", "--fail-on", "never").results
    dev, qa = _env(results, "dev"), _env(results, "qa")
    assert (dev["pool"], dev["flows"]["entitled"], dev["endpoints"]["entitled"]) == ("production", 12, 7)
    assert "production's entitlements (help center 31566861433627)" in dev["endpoints"]["entitled_from"]
    assert (qa["pool"], qa["flows"]["entitled"], qa["endpoints"]["entitled"]) == ("sandbox", 3, 2)


@pytest.mark.parametrize("plan,tp_used,endpoints,billable", [("endpoint", 1, 1, 1), ("platform", 0, 2, 2)])
def test_the_trading_partner_exemption_is_on_the_endpoint_plan_only(tmp_path, run_cli, plan, tp_used, endpoints,
                                                                      billable):
    """Help center 360060126192: the exemption applies on the endpoint pricing model only; on the
    flow-based and platform models a trading-partner connection is an ordinary endpoint."""
    conns = [{"_id": "tp", "type": "ftp", "ftp": {"hostURI": "edi.partner.example", "type": "sftp",
                                                  "tradingPartner": True}},
             {"_id": "c1", "type": "http", "http": {"baseURI": "https://a.example.com"}}]
    licenses = [{"_id": "l1", "type": plan, "numEndpoints": 5, "numFlows": 5, "numTradingPartners": 2}]
    snap = account(tmp_path, conns, [flow("f-tp", exports=["e-tp"]), flow("f-http", exports=["e-c1"])], licenses=licenses)
    results = run_cli("audit", snap, "--as-of", "2026-11-30", "--fail-on", "never").results
    prod = _env(results, "production")
    assert (prod["trading_partners"]["used"], prod["endpoints"]["used"], prod["flows"]["billable"]) == (
        tp_used, endpoints, billable)
    tp = next(c for c in results["accounts"][0]["connections"] if c["id"] == "tp")
    if plan == "endpoint":
        assert tp["role"] == "trading-partner"
    else:
        assert tp["role"] == "endpoint" and tp["key"] == "ftp:edi.partner.example:22"
        assert "exemption exists on the endpoint plan only" in tp["explain"]


@pytest.mark.parametrize("license_,production,sandbox", [
    ({"tier": "free"}, 1, 0),  # the free tier's one flow
    ({"tier": "free", "numAddOnFlows": 2}, 2, 0),  # the free flow goes with flow add-ons
    ({"tier": "free", "sandbox": True}, 0, 1),  # ... or with a sandbox license
    ({"tier": "free", "numSandboxAddOnFlows": 1}, 0, 1),  # ... or with sandbox add-ons
    ({"tier": "standard", "numAddOnFlows": 2}, 10, 0),  # a sandbox gets tier flows only on a sandbox license
    ({"tier": "standard", "sandbox": True, "numSandboxAddOnFlows": 1}, 8, 9),
    ({"tier": "premium", "trialEndDate": "2026-12-31T00:00:00.000Z"}, 20, 0),  # a paid tier's trial is not unlimited
    ({"tier": "free", "trialEndDate": "2026-12-31T00:00:00.000Z"}, None, None),  # a free trial is
])
def test_integrator_tiers_as_the_vendors_ui_works_them_out(tmp_path, run_cli, license_, production, sandbox):
    conns = [{"_id": "c1", "type": "http", "http": {"baseURI": "https://a.example.com"}}]
    snap = account(tmp_path, conns, [flow("f1", exports=["e-c1"])],
                   licenses=[{"_id": "l1", "type": "integrator", **license_}])
    results = run_cli("audit", snap, "--as-of", "2026-11-30", "--fail-on", "never").results
    assert _env(results, "production")["flows"]["entitled"] == production
    assert _env(results, "sandbox")["flows"]["entitled"] == sandbox


def test_a_license_sandbox_flag_that_is_not_true_or_false_is_noted(tmp_path, run_cli):
    conns = [{"_id": "c1", "type": "http", "http": {"baseURI": "https://a.example.com"}}]
    snap = account(tmp_path, conns, [flow("f1", exports=["e-c1"])],
                   licenses=[{"_id": "l1", "type": "integrator", "tier": "standard", "sandbox": "yes"}])
    results = run_cli("audit", snap, "--as-of", "2026-11-30", "--fail-on", "never").results
    assert _env(results, "sandbox")["flows"]["entitled"] == 0
    assert any(i["problem"] == "license sandbox must be true or false; read as false" for i in results["load_issues"])


def test_on_premise_agents_in_use_are_counted_per_environment(tmp_path, run_cli):
    """numAgents + numAddOnAgents against the distinct _agentId of the connections reached."""
    conns = [{"_id": "a1", "type": "filesystem", "_agentId": "agent-1"},
             {"_id": "a2", "type": "ftp", "_agentId": "agent-1", "ftp": {"hostURI": "files.internal"}},  # same agent
             {"_id": "a3", "type": "rdbms", "_agentId": "agent-2",
              "rdbms": {"type": "mssql", "host": "db.internal", "database": "erp"}},
             {"_id": "a4", "type": "filesystem", "_agentId": "agent-3"},  # reached by a disabled flow only
             {"_id": "s1", "type": "filesystem", "_agentId": "agent-9", "sandbox": True}]
    flows = [flow("f1", exports=["e-a1", "e-a2", "e-a3"]), flow("f-off", exports=["e-a4"], disabled=True),
             flow("f-sb", exports=["e-s1"], sandbox=True)]
    licenses = [{"_id": "l1", "type": "endpoint", "numEndpoints": 9, "numFlows": 9, "numAgents": 1, "numAddOnAgents": 0}]
    results = run_cli("audit", account(tmp_path, conns, flows, licenses=licenses), "--as-of", "2026-11-30",
                      "--fail-on", "never").results
    prod, sandbox = _env(results, "production"), _env(results, "sandbox")
    assert prod["agents"]["used"] == 2 and prod["agents"]["entitled"] == 1
    assert sandbox["agents"]["used"] == 1
    over = [f for f in results["findings"] if f["rule"] == "agents-over-entitlement" and f["status"] == "alarm"]
    assert [f["reason"] for f in over] == ["production: 2 on-premise agents in use against 1 licensed"]


def test_an_integration_app_in_production_on_a_netsuite_sandbox_is_said(tmp_path):
    """Seed 000: allowed, but an integration app sandbox license is strongly recommended, and the
    app must be uninstalled and reinstalled after testing."""
    from conftest import audited
    conns = [{"_id": "ns-sb", "type": "netsuite", "netsuite": {"account": "tstdrv_sb1", "environment": "production"}},
             {"_id": "ns-beta", "type": "netsuite", "netsuite": {"account": "777", "environment": "beta"}},
             {"_id": "ns-prod", "type": "netsuite", "netsuite": {"account": "777", "environment": "production"}},
             {"_id": "ns-sb-sandbox", "type": "netsuite", "sandbox": True,
              "netsuite": {"account": "777_SB2", "environment": "sandbox"}}]
    integrations = [{"_id": "int-app", "_connectorId": "conn-1"}, {"_id": "int-own"}]
    flows = [flow("f-app-sb", imports=["i-ns-sb", "i-ns-beta"], _integrationId="int-app", disabled=True),
             flow("f-app-prod", imports=["i-ns-prod"], _integrationId="int-app"),
             flow("f-own-sb", imports=["i-ns-sb"], _integrationId="int-own"),
             flow("f-app-in-sandbox", imports=["i-ns-sb-sandbox"], _integrationId="int-app", sandbox=True)]
    snap = account(tmp_path, conns, flows, integrations=integrations,
                   licenses=[{"_id": "l1", "type": "endpoint", "numEndpoints": 9, "numFlows": 9}])
    results = audited(snap)
    found = [f for f in results["findings"] if f["rule"] == "integration-app-on-netsuite-sandbox"]
    assert [(f["resource"]["id"], f["severity"]) for f in found] == [("f-app-sb", "low")]
    assert ("reaches NetSuite sandbox connection ns-beta (NetSuite account 777), ns-sb (NetSuite account TSTDRV_SB1): "
            "allowed, but Celigo strongly recommends an integration app sandbox license") in found[0]["reason"]
    assert "uninstalled and reinstalled" in found[0]["reason"]


def test_agents_are_in_the_summary_and_an_environment_over_on_agents_is_over():
    from conftest import audited

    from auditor.common.paths import sample_dir
    from auditor.report.html import render_html
    from auditor.report.tables import build_report
    report = build_report(audited(sample_dir(), as_of="2026-11-30"))
    initech = report.summary.set_index(["account", "environment"]).loc[("Initech", "production")]
    assert (initech["agents used"], initech["agents entitled"]) == (1, 0)
    over = report.summary[(report.summary["flows status"] == "over") | (report.summary["endpoints status"] == "over")]
    assert ("Initech", "production") not in set(zip(over["account"], over["environment"]))  # over on agents only
    assert 'data-count="over">4</span> environments over a limit' in render_html(report)
