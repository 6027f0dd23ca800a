"""Entitlements from both license shapes, integrator tiers, trials, plan choice and expiry."""

from __future__ import annotations

import pytest
from conftest import account, flow

NS = {"_id": "ns", "type": "netsuite", "netsuite": {"account": "1"}}
AS_OF = "2026-11-30"


def audit_with(tmp_path, run_cli, licenses, flows=None):
    snap = account(tmp_path, [NS], flows if flows is not None else [flow("f", exports=["e-ns"])], licenses=licenses)
    run = run_cli("audit", snap, "--as-of", AS_OF, "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    envs = {e["environment"]: e for e in run.results["accounts"][0]["environments"]}
    return envs, run


def test_flat_shape_base_plus_add_on_per_environment(tmp_path, run_cli):
    envs, _ = audit_with(tmp_path, run_cli, [{
        "_id": "l", "type": "endpoint", "numEndpoints": 4, "numAddOnEndpoints": 2, "numFlows": 10,
        "numAddOnFlows": 5, "numTradingPartners": 1, "numSandboxEndpoints": 3, "numSandboxAddOnEndpoints": 1,
        "numSandboxFlows": 7}])
    p, s = envs["production"], envs["sandbox"]
    assert (p["endpoints"]["entitled"], p["flows"]["entitled"], p["trading_partners"]["entitled"]) == (6, 15, 1)
    assert (s["endpoints"]["entitled"], s["flows"]["entitled"]) == (4, 7)
    assert s["trading_partners"]["entitled"] is None
    assert p["endpoints"]["entitled_from"] == "endpoint license l, production: 4 plus 2 add-on"


def test_nested_shape(tmp_path, run_cli):
    envs, _ = audit_with(tmp_path, run_cli, [{
        "_id": "l", "type": "endpoint",
        "endpoint": {"production": {"numEndpoints": 5, "numAddOnEndpoints": 1, "numFlows": 20},
                     "sandbox": {"numEndpoints": 2, "numFlows": 4, "numAddOnFlows": 1}}}])
    assert envs["production"]["endpoints"]["entitled"] == 6 and envs["production"]["flows"]["entitled"] == 20
    assert envs["sandbox"]["endpoints"]["entitled"] == 2 and envs["sandbox"]["flows"]["entitled"] == 5


def test_nested_integrator_shape(tmp_path, run_cli):
    envs, run = audit_with(tmp_path, run_cli, [{
        "_id": "l", "type": "integrator", "integrator": {"production": {"numFlows": 12, "numAddOnFlows": 3}}}])
    assert envs["production"]["flows"]["entitled"] == 15
    assert envs["production"]["endpoints"]["entitled"] is None
    assert run.results["accounts"][0]["plan"] == "integrator"


@pytest.mark.parametrize("tier,flows", [("none", 0), ("free", 0), ("limited", 3), ("standard", 8),
                                        ("premium", 20), ("enterprise", 50)])  # free: its flow goes with add-ons
def test_integrator_tiers(tmp_path, run_cli, tier, flows):
    envs, _ = audit_with(tmp_path, run_cli, [{"_id": "l", "type": "integrator", "tier": tier, "numAddOnFlows": 2}])
    assert envs["production"]["flows"]["entitled"] == flows + 2
    assert f"tier '{tier}'" in envs["production"]["flows"]["entitled_from"]


def test_unknown_tier_gives_no_number(tmp_path, run_cli):
    envs, run = audit_with(tmp_path, run_cli, [{"_id": "l", "type": "integrator", "tier": "professional"}])
    assert envs["production"]["flows"]["entitled"] is None
    skip = [f for f in run.results["findings"] if f["rule"] == "flows-over-entitlement"]
    assert skip and skip[0]["status"] == "skip" and "no flow entitlement to check against" in skip[0]["reason"]


def test_trial_is_unlimited_until_it_ends(tmp_path, run_cli):
    on, _ = audit_with(tmp_path, run_cli, [{"_id": "l", "type": "integrator", "tier": "free",
                                            "trialEndDate": "2026-12-31T00:00:00.000Z"}])
    assert on["production"]["flows"]["entitled"] is None
    assert "on trial until 2026-12-31: unlimited" in on["production"]["flows"]["entitled_from"]
    ended, _ = audit_with(tmp_path, run_cli, [{"_id": "l", "type": "integrator", "tier": "free",
                                               "trialEndDate": "2026-01-31T00:00:00.000Z"}])
    assert ended["production"]["flows"]["entitled"] == 1  # free, not on trial


def test_no_license_means_entitlement_unknown(tmp_path, run_cli):
    envs, run = audit_with(tmp_path, run_cli, None)
    assert envs["production"]["flows"]["entitled"] is None
    assert envs["production"]["flows"]["entitled_from"] == "no plan license in licenses.json"
    assert "1 / -" in run.stdout


def test_plan_is_the_live_license_with_the_latest_expiry(tmp_path, run_cli):
    lics = [
        {"_id": "old", "type": "platform", "expires": "2026-01-01T00:00:00Z", "numFlows": 1},
        {"_id": "live", "type": "endpoint", "expires": "2027-01-01T00:00:00Z", "numFlows": 2},
        {"_id": "shorter", "type": "endpoint", "expires": "2026-12-31T00:00:00Z", "numFlows": 3},
        {"_id": "app", "type": "connector", "_connectorId": "c", "expires": "2030-01-01T00:00:00Z"},
    ]
    envs, run = audit_with(tmp_path, run_cli, lics)
    assert envs["production"]["flows"]["entitled"] == 2
    acct = run.results["accounts"][0]
    assert acct["plan"] == "endpoint" and "live" in acct["plan_from"]
    assert [l["id"] for l in acct["licenses"] if l["plan"]] == ["live"]


def test_entitlement_rules_over_near_and_not(tmp_path, run_cli):
    flows = [flow(f"f{i}", exports=["e-ns"]) for i in range(9)]
    _, run = audit_with(tmp_path, run_cli, [{"_id": "l", "type": "endpoint", "numFlows": 10, "numEndpoints": 1}], flows)
    rules = {f["rule"]: f for f in run.results["findings"] if f["environment"] == "production"}
    assert rules["flows-near-entitlement"]["reason"] == "production: 9 of 10 licensed flows billable (90%)"
    assert rules["endpoints-near-entitlement"]["status"] == "alarm"
    assert "flows-over-entitlement" not in rules

    flows = [flow(f"f{i}", exports=["e-ns"]) for i in range(12)]
    _, run = audit_with(tmp_path, run_cli, [{"_id": "l", "type": "endpoint", "numFlows": 10, "numEndpoints": 0}], flows)
    rules = {f["rule"]: f for f in run.results["findings"] if f["environment"] == "production"}
    assert rules["flows-over-entitlement"]["reason"] == "production: 12 billable flows against 10 licensed, 2 over"
    assert rules["endpoints-over-entitlement"]["severity"] == "high"
    assert "flows-near-entitlement" not in rules  # over is not also "near"

    flows = [flow(f"f{i}", exports=["e-ns"]) for i in range(8)]
    _, run = audit_with(tmp_path, run_cli, [{"_id": "l", "type": "endpoint", "numFlows": 10, "numEndpoints": 5}], flows)
    assert not [f for f in run.results["findings"] if f["environment"] == "production"]
    counts = {(c["rule"], c["environment"]): c for c in run.results["rule_counts"]}
    assert counts[("flows-near-entitlement", "production")]["ok"] == 1


def test_expiry_rules(tmp_path, run_cli):
    lics = [
        {"_id": "gone", "type": "connector", "_connectorId": "c1", "expires": "2026-11-01T00:00:00Z"},
        {"_id": "soon", "type": "connector", "_connectorId": "c2", "expires": "2026-12-30T00:00:00Z"},
        {"_id": "later", "type": "connector", "_connectorId": "c3", "expires": "2026-12-31T00:00:00Z"},
        {"_id": "today", "type": "endpoint", "expires": "2026-11-30T00:00:00Z"},
        {"_id": "never", "type": "connector", "_connectorId": "c4"},
        {"_id": "bad", "type": "connector", "_connectorId": "c5", "expires": "next tuesday"},
    ]
    _, run = audit_with(tmp_path, run_cli, lics)
    got = {(f["rule"], f["resource"]["id"]): f["reason"] for f in run.results["findings"] if f["rule"].startswith("license")}
    assert got == {
        ("license-expired", "gone"): "connector license gone expired on 2026-11-01, 29 days before the audit date",
        ("license-expiring", "soon"): "connector license soon expires on 2026-12-30, in 30 days",
        ("license-expiring", "today"): "endpoint license today expires on 2026-11-30, in 0 days",
    }
    bad = [i for i in run.results["load_issues"] if i["id"] == "bad"]
    assert bad and "expires is not a date" in bad[0]["problem"] and bad[0]["action"] == "counted"
    assert all(f["environment"] is None for f in run.results["findings"] if f["rule"].startswith("license"))
