"""Each counting rule: which flows count, which connections a flow reaches, and why."""

from __future__ import annotations

import pytest
from conftest import account, audited, flow

NS = {"_id": "ns", "type": "netsuite", "netsuite": {"account": "111", "environment": "production"}}
SHOP = {"_id": "shop", "type": "http", "assistant": "shopify", "http": {"baseURI": "https://a.myshopify.com/api"}}
FTP_TP = {"_id": "tp", "type": "ftp", "ftp": {"hostURI": "edi.example", "type": "sftp", "tradingPartner": True}}


class Audited:
    """A snapshot audited in-process (counting needs no CLI): its results, as the file has them."""

    def __init__(self, snap, *args: str):
        self.results = audited(snap, **({"as_of": args[args.index("--as-of") + 1]} if "--as-of" in args else {}))


def flows_of(run) -> dict[str, dict]:
    return {f["id"]: f for a in run.results["accounts"] for f in a["flows"]}


def env(run, name="production", acct=0) -> dict:
    return next(e for e in run.results["accounts"][acct]["environments"] if e["environment"] == name)


def endpoints_of(run, environment="production") -> dict[str, dict]:
    return {e["key"]: e for a in run.results["accounts"] for e in a["endpoints"] if e["environment"] == environment}


def test_enabled_unless_disabled_true(tmp_path):
    snap = account(tmp_path, [NS], [
        flow("no-field", exports=["e-ns"]),
        flow("false", exports=["e-ns"], disabled=False),
        flow("true", exports=["e-ns"], disabled=True),
    ])
    run = Audited(snap)
    f = flows_of(run)
    assert (f["no-field"]["enabled"], f["false"]["enabled"], f["true"]["enabled"]) == (True, True, False)
    assert f["true"]["billable"] is False and f["true"]["reason"] == "disabled: not counted"
    assert env(run)["flows"] == {**env(run)["flows"], "total": 3, "enabled": 2, "billable": 2}


@pytest.mark.parametrize("how", ["adaptor", "type", "application"])
def test_data_loader_flows_do_not_count(tmp_path, how):
    loader = {"_id": "loader", "name": "upload"}
    if how == "adaptor":
        loader["adaptorType"] = "SimpleExport"
    elif how == "type":
        loader["type"] = "simple"
    pg = [{"application": "dataLoader"}] if how == "application" else [{"_exportId": "loader"}]
    snap = account(tmp_path, [NS], [{"_id": "dl", "name": "dl", "pageGenerators": pg,
                                     "pageProcessors": [{"type": "import", "_importId": "i-ns"}]}],
                   extra_exports=[loader])
    run = Audited(snap)
    f = flows_of(run)["dl"]
    assert f["enabled"] and not f["billable"] and f["reason_code"] == "data-loader"
    # its connections still make an endpoint: it is an enabled flow
    assert "netsuite:111" in endpoints_of(run)


def test_only_the_first_page_generator_decides_data_loader(tmp_path):
    loader = {"_id": "loader", "adaptorType": "SimpleExport"}
    snap = account(tmp_path, [NS], [flow("f", exports=["e-ns", "loader"])], extra_exports=[loader])
    assert flows_of(Audited(snap))["f"]["billable"] is True


def test_free_flows_do_not_count(tmp_path):
    snap = account(tmp_path, [NS], [flow("f", exports=["e-ns"], free=True)])
    f = flows_of(Audited(snap))["f"]
    assert (f["billable"], f["reason"]) == (False, "marked free: not counted")


@pytest.mark.parametrize("plan,billable", [("endpoint", False), ("integrator", False), ("platform", True)])
def test_integration_app_flows_count_only_on_platform(tmp_path, plan, billable):
    lic = [{"_id": "l", "type": plan, "expires": "2030-01-01T00:00:00Z", "numFlows": 5, "numEndpoints": 5}]
    snap = account(tmp_path, [NS], [
        flow("by-flow", exports=["e-ns"], _connectorId="app1"),
        flow("by-integration", exports=["e-ns"], _integrationId="int-app"),
    ], licenses=lic, integrations=[{"_id": "int-app", "name": "App", "_connectorId": "app2"}])
    run = Audited(snap, "--as-of", "2026-11-30")
    f = flows_of(run)
    assert f["by-flow"]["billable"] is billable and f["by-integration"]["billable"] is billable
    assert ("app2" in f["by-integration"]["reason"]) and (plan in f["by-integration"]["reason"])
    # their connections count as endpoints on every plan
    assert set(endpoints_of(run)["netsuite:111"]["flows"]) == {"by-flow", "by-integration"}


def test_no_plan_license_assumes_the_policy_default(tmp_path):
    snap = account(tmp_path, [NS], [flow("app", exports=["e-ns"], _connectorId="c")])
    run = Audited(snap)
    assert run.results["accounts"][0]["plan"] == "endpoint"
    assert "policy assumes" in run.results["accounts"][0]["plan_from"]
    assert flows_of(run)["app"]["billable"] is False


def test_trading_partner_flows_and_connections(tmp_path):
    snap = account(tmp_path, [NS, FTP_TP], [flow("edi", exports=["e-tp"], imports=["i-ns"])],
                   licenses=[{"_id": "l", "type": "endpoint", "numTradingPartners": 2, "numEndpoints": 3}])
    run = Audited(snap)
    f = flows_of(run)["edi"]
    assert f["billable"] is False and "trading-partner connection tp" in f["reason"]
    tps = run.results["accounts"][0]["trading_partners"]
    assert [(t["key"], t["connections"]) for t in tps] == [("edi.example:22", ["tp"])]
    assert list(endpoints_of(run)) == ["netsuite:111"]  # the trading partner is not an endpoint
    e = env(run)
    assert e["trading_partners"]["used"] == 1 and e["trading_partners"]["entitled"] == 2
    assert e["endpoints"]["used"] == 1


def test_every_step_path_reaches_its_connection(tmp_path):
    conns = [{"_id": n, "type": "http", "http": {"baseURI": f"https://{n}.example.com"}}
             for n in ("pg", "ppx", "ppi", "rtx", "rti", "oldx", "oldi")]
    flows = [
        {"_id": "modern", "pageGenerators": [{"_exportId": "e-pg"}],
         "pageProcessors": [{"type": "export", "_exportId": "e-ppx"}, {"type": "import", "_importId": "i-ppi"}],
         "routers": [{"branches": [{"pageProcessors": [{"type": "export", "_exportId": "e-rtx"}]},
                                   {"pageProcessors": [{"type": "import", "_importId": "i-rti"}]}]}]},
        {"_id": "classic", "_exportId": "e-oldx", "_importId": "i-oldi"},
    ]
    run = Audited(account(tmp_path, conns, flows))
    eps = endpoints_of(run)
    assert {k: v["flows"] for k, v in eps.items()} == {
        **{f"uri:https://{n}.example.com": ["modern"] for n in ("pg", "ppx", "ppi", "rtx", "rti")},
        **{f"uri:https://{n}.example.com": ["classic"] for n in ("oldx", "oldi")},
    }


def test_disabled_flows_make_no_endpoints(tmp_path):
    run = Audited(account(tmp_path, [NS, SHOP], [flow("on", exports=["e-ns"]),
                                                          flow("off", exports=["e-shop"], disabled=True)]))
    assert list(endpoints_of(run)) == ["netsuite:111"]
    conns = {c["id"]: c for c in run.results["accounts"][0]["connections"]}
    assert conns["shop"]["enabled_flows"] == 0 and conns["ns"]["enabled_flows"] == 1


def test_connections_used_by_many_flows_count_once(tmp_path):
    run = Audited(account(tmp_path, [NS], [flow(f"f{i}", exports=["e-ns"], imports=["i-ns"]) for i in range(5)]))
    eps = endpoints_of(run)
    assert len(eps) == 1 and eps["netsuite:111"]["flows"] == [f"f{i}" for i in range(5)]
    assert env(run)["endpoints"]["used"] == 1


def test_missing_references_are_findings_and_load_notes_but_the_flow_counts(tmp_path):
    snap = account(tmp_path, [NS], [flow("f", exports=["e-ns", "e-gone"], imports=["i-gone"],
                                         _integrationId="int-gone")],
                   extra_imports=[{"_id": "i-orphan", "_connectionId": "c-gone"}])
    run = Audited(snap)
    assert flows_of(run)["f"]["billable"] is True
    found = [f for f in run.results["findings"] if f["rule"] == "missing-reference"]
    reasons = sorted(f["reason"] for f in found)
    assert len(found) == 4
    assert any("export e-gone through pageGenerators" in r for r in reasons)
    assert any("import i-gone through pageProcessors" in r for r in reasons)
    assert any("integration int-gone" in r for r in reasons)
    assert any("import import i-orphan" not in r and "connection c-gone" in r for r in reasons)
