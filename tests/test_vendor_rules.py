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
