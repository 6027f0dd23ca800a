"""Resource shapes found in real integrator.io data (vendor QA data, downloads) that the counting
must read as the vendor does: each shape of issue 14 with the key it gets."""

from __future__ import annotations

import json

import pytest
from conftest import account, flow
from test_endpoints import keys

from auditor.count.endpoints import _fill_handlebars


def test_a_rest_connection_moved_onto_the_http_block_is_keyed_by_its_base_uri(tmp_path, run_cli):
    conns = [{"_id": "r1", "type": "rest", "http": {"baseURI": "https://API.example.com/v2/"}},
             {"_id": "r2", "type": "rest", "rest": {"baseURI": "https://api.example.com/v2"},
              "http": {"baseURI": "https://elsewhere.example.com"}}]  # a rest block still wins
    got, _ = keys(tmp_path, run_cli, conns)
    assert got == {"r1": "uri:https://api.example.com/v2", "r2": "uri:https://api.example.com/v2"}


def test_a_rest_connections_http_block_is_checked_as_its_identity(tmp_path, run_cli):
    conns = [{"_id": "r1", "type": "rest", "http": {"baseURI": 42}}]
    got, run = keys(tmp_path, run_cli, conns)
    assert got == {"r1": "connection:r1"}
    assert any("http.baseURI must be a string, not a number" in i["problem"] for i in run["load_issues"])


def test_an_empty_integration_id_is_a_standalone_flow(tmp_path, run_cli):
    conns = [{"_id": "c1", "type": "http", "http": {"baseURI": "https://a.example.com"}}]
    snap = account(tmp_path, conns, [flow("f1", exports=["e-c1"], _integrationId="")])
    run = run_cli("audit", snap, "--as-of", "2026-11-30", "--fail-on", "never")
    assert not [f for f in run.results["findings"] if f["rule"] == "missing-reference"]
    assert run.results["accounts"][0]["flows"][0]["billable"] is True


@pytest.mark.parametrize("uri,record,key,field", [
    ("https://{{{connection.http.unencrypted.instanceurl}}}/api/3.1",
     {"http": {"unencrypted": {"instanceurl": "example.cloud.looker.com"}}},
     "uri:https://example.cloud.looker.com/api/3.1", "http.unencrypted.instanceurl"),
    ("https://{{connection.settings.storeName}}.myshopify.com/admin", {"settings": {"storeName": "Acme"}},
     "uri:https://acme.myshopify.com/admin", "settings.storeName"),
    ("https://{{ connection.settings.host }}:8443/{{connection.settings.tenant}}",
     {"settings": {"host": "erp.example.com", "tenant": "t1"}}, "uri:https://erp.example.com:8443/t1",
     "settings.host, settings.tenant"),
])
def test_handlebars_the_connection_itself_fills_are_resolved(tmp_path, run_cli, uri, record, key, field):
    conn = {"_id": "c1", "type": "http", **record}
    conn["http"] = {**conn.get("http", {}), "baseURI": uri}
    got, run = keys(tmp_path, run_cli, [conn])
    assert got == {"c1": key}
    endpoint = run["accounts"][0]["endpoints"][0]
    assert endpoint["resolved"] is True and endpoint["explain"].endswith(f"filled from the connection's own {field}")


@pytest.mark.parametrize("uri,record", [
    ("https://{{connection.settings.store}}.example.com", {}),  # nothing to fill it from
    ("https://{{connection.http.encrypted.token}}.example.com",  # a secret is never read into a key
     {"http": {"encrypted": {"token": "SECRET"}}}),
    ("https://{{connection.http.auth.basic.password}}.example.com", {"http": {"auth": {"basic": {"password": "SECRET"}}}}),
    ("https://{{connection.settings.store}}.example.com", {"settings": {"store": {"nested": "x"}}}),  # not text
    ("https://{{#if x}}a{{/if}}.example.com", {"settings": {"x": "y"}}),  # a helper, not a field
])
def test_handlebars_that_cannot_be_filled_stay_unresolved(tmp_path, run_cli, uri, record):
    conn = {"_id": "c1", "type": "http", **record}
    conn["http"] = {**conn.get("http", {}), "baseURI": uri}
    got, run = keys(tmp_path, run_cli, [conn])
    endpoint = run["accounts"][0]["endpoints"][0]
    assert endpoint["resolved"] is False and "SECRET" not in got["c1"]
    assert "SECRET" not in json.dumps(run)  # the results as written


def test_fill_handlebars_is_all_or_nothing():
    context = '{"settings": {"a": "one.example.com"}, "http": null, "rest": null}'
    assert _fill_handlebars("https://{{connection.settings.a}}/x", context) == ("https://one.example.com/x", "settings.a")
    assert _fill_handlebars("https://{{connection.settings.a}}/{{connection.settings.b}}", context) == (
        "https://{{connection.settings.a}}/{{connection.settings.b}}", None)
    assert _fill_handlebars("https://{{connection.settings.a}}", "not json") == ("https://{{connection.settings.a}}", None)


@pytest.mark.parametrize("db_type,port", [("mssql", 1433), ("mysql", 3306), ("postgresql", 5432), ("oracle", 1521)])
def test_a_database_without_a_port_is_keyed_with_its_types_default(tmp_path, run_cli, db_type, port):
    conns = [{"_id": "d1", "type": "rdbms", "rdbms": {"type": db_type, "host": "DB.example.com", "database": "erp"}},
             {"_id": "d2", "type": "rdbms", "rdbms": {"type": db_type, "host": "db.example.com", "port": port,
                                                       "database": "erp"}}]
    got, _ = keys(tmp_path, run_cli, conns)
    assert got == {"d1": f"{db_type}:db.example.com:{port}/erp", "d2": f"{db_type}:db.example.com:{port}/erp"}


def test_snowflake_is_keyed_by_its_account_host(tmp_path, run_cli):
    conns = [{"_id": f"s{i}", "type": "rdbms", "rdbms": {"type": "snowflake", "host": "xy12345.eu-west-1.snowflakecomputing.com",
                                                         "database": db}} for i, db in enumerate(["SALES", "HR"])]
    got, run = keys(tmp_path, run_cli, conns)
    assert set(got.values()) == {"snowflake:xy12345.eu-west-1.snowflakecomputing.com"}
    assert run["accounts"][0]["endpoints"][0]["resolved"] is True


def test_trading_partners_without_a_host_are_each_their_own_and_flagged(tmp_path, run_cli):
    conns = [{"_id": f"t{i}", "type": "ftp", "ftp": {"type": "sftp", "tradingPartner": True}} for i in (1, 2)]
    snap = account(tmp_path, conns, [flow(f"f{i}", exports=[f"e-t{i}"]) for i in (1, 2)])
    run = run_cli("audit", snap, "--as-of", "2026-11-30", "--fail-on", "never")
    tps = run.results["accounts"][0]["trading_partners"]
    assert sorted(t["key"] for t in tps) == ["connection:t1", "connection:t2"]
    assert all(t["resolved"] is False and "names no server" in t["explain"] for t in tps)
    prod = next(e for e in run.results["accounts"][0]["environments"] if e["environment"] == "production")
    assert prod["trading_partners"]["used"] == 2


@pytest.mark.parametrize("host", ["api.integrator.io", "api.eu.integrator.io", "api.staging.integrator.io",
                                  "API.EU.staging.integrator.io"])
def test_the_integrator_io_api_by_host_is_not_an_endpoint(tmp_path, run_cli, host):
    conns = [{"_id": "c1", "type": "http", "http": {"baseURI": f"https://{host}/v1"}},
             {"_id": "c2", "type": "http", "http": {"baseURI": "https://api.integrator.io.example.com/v1"}}]
    got, run = keys(tmp_path, run_cli, conns)
    assert got == {"c2": "uri:https://api.integrator.io.example.com/v1"}  # only the API's own hosts
    c1 = next(c for c in run["accounts"][0]["connections"] if c["id"] == "c1")
    assert c1["role"] == "not-endpoint" and "integrator.io API" in c1["explain"]


@pytest.mark.parametrize("hosts", ["b.example.com:27017,A.example.com:27017", ["b.example.com:27017,a.example.com:27017"],
                                   ["a.example.com:27017", "B.example.com:27017"], "a.example.com:27017, b.example.com:27017"])
def test_mongodb_hosts_in_one_comma_separated_string_are_the_same_set(tmp_path, run_cli, hosts):
    conns = [{"_id": "m1", "type": "mongodb", "mongodb": {"host": hosts, "database": "shop"}}]
    got, _ = keys(tmp_path, run_cli, conns)
    assert got == {"m1": "mongodb:a.example.com,b.example.com/shop"}  # the default port is no part of the key


def _instance_account(tmp_path, instance: dict, *, abstract_extra=None):
    """An abstract flow (export e-src on c-src, import i-dst on c-dst) and one instance flow."""
    conns = [{"_id": c, "type": "http", "http": {"baseURI": f"https://{c}.example.com"}}
             for c in ("c-src", "c-dst", "c-eu-src", "c-eu-dst", "c-other")]
    abstract = {"_id": "f-abstract", "name": "Template", "isAbstract": True,
                "pageGenerators": [{"_exportId": "e-c-src"}],
                "pageProcessors": [{"type": "import", "_importId": "i-c-dst"}], **(abstract_extra or {})}
    snap = account(tmp_path, conns, [abstract, {"_id": "f-inst", "name": "EU", "_abstractFlowId": "f-abstract",
                                                **instance}])
    return snap


def _reached(run) -> dict[str, list[str]]:
    acct = run.results["accounts"][0]
    return {e["key"].removeprefix("uri:https://").removesuffix(".example.com"): e["flows"] for e in acct["endpoints"]}


def test_an_instance_flow_counts_with_its_override_connections(tmp_path, run_cli):
    snap = _instance_account(tmp_path, {"overrides": {
        "connections": [{"_abstractId": "c-src", "_id": "c-eu-src"}],  # swaps the export's connection
        "imports": [{"_abstractId": "i-c-dst", "_connectionId": "c-eu-dst"}]}})  # names the step's own
    run = run_cli("audit", snap, "--as-of", "2026-11-30", "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    assert _reached(run) == {"c-eu-src": ["f-inst"], "c-eu-dst": ["f-inst"]}  # the abstract reaches nothing
    flows = {f["id"]: f for f in run.results["accounts"][0]["flows"]}
    assert flows["f-inst"]["billable"] is True
    assert flows["f-inst"]["reason"] == "enabled instance of abstract flow f-abstract: counted"
    assert flows["f-abstract"]["billable"] is False and flows["f-abstract"]["reason_code"] == "abstract"
    prod = next(e for e in run.results["accounts"][0]["environments"] if e["environment"] == "production")
    assert prod["flows"]["billable"] == 1 and prod["endpoints"]["used"] == 2


def test_an_instance_override_may_name_another_step_or_rely_on_the_helper(tmp_path, run_cli):
    snap = _instance_account(tmp_path, {
        "overrides": {"exports": [{"_abstractId": "e-c-src", "_id": "e-c-other"}],  # another export, its connection
                      "connections": [{"_id": "c-eu-dst"}]},
        "overridesHelper": {"connections": [{"_abstractId": "c-dst"}]}})  # the swap's abstract id by position
    run = run_cli("audit", snap, "--as-of", "2026-11-30", "--fail-on", "never")
    assert _reached(run) == {"c-other": ["f-inst"], "c-eu-dst": ["f-inst"]}


def test_an_instance_without_overrides_runs_the_abstract_graph(tmp_path, run_cli):
    run = run_cli("audit", _instance_account(tmp_path, {}), "--as-of", "2026-11-30", "--fail-on", "never")
    assert _reached(run) == {"c-src": ["f-inst"], "c-dst": ["f-inst"]}


def test_an_instance_of_a_missing_abstract_flow_is_a_missing_reference(tmp_path, run_cli):
    conns = [{"_id": "c1", "type": "http", "http": {"baseURI": "https://a.example.com"}}]
    snap = account(tmp_path, conns, [{"_id": "f-inst", "name": "Orphan", "_abstractFlowId": "f-gone"}])
    run = run_cli("audit", snap, "--as-of", "2026-11-30", "--fail-on", "never")
    missing = [f for f in run.results["findings"] if f["rule"] == "missing-reference"]
    assert len(missing) == 1 and "f-gone" in missing[0]["reason"]


def test_apis_tools_and_syncs_reach_connections_and_are_named_by_the_endpoint(tmp_path, run_cli):
    conns = [{"_id": c, "type": "http", "http": {"baseURI": f"https://{c}.example.com"}}
             for c in ("c-flow", "c-api", "c-tool", "c-src", "c-dst", "c-off")]
    snap = account(tmp_path, conns, [flow("f1", exports=["e-c-flow"])])
    write = lambda name, records: (snap / f"{name}.json").write_text(__import__("json").dumps(records))  # noqa: E731
    write("apis", [{"_id": "a1", "name": "Order API", "builder": {"routers": [{"branches": [
        {"pageProcessors": [{"type": "import", "_importId": "i-c-api"}, {"type": "export", "_exportId": "e-c-flow"}]}]}]}},
                   {"_id": "a2", "name": "Off", "disabled": True, "builder": {"routers": [{"branches": [
                       {"pageProcessors": [{"type": "import", "_importId": "i-c-off"}]}]}]}}])
    write("tools", [{"_id": "t1", "name": "Lookup", "routers": [{"branches": [
        {"pageProcessors": [{"type": "export", "_exportId": "e-c-tool"}]}]}]}])
    write("syncs", [{"_id": "s1", "name": "Warehouse", "source": {"_connectionId": "c-src"},
                     "destination": {"_connectionId": "c-dst"}}])
    run = run_cli("audit", snap, "--as-of", "2026-11-30", "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    acct = run.results["accounts"][0]
    by_key = {e["key"].removeprefix("uri:https://").removesuffix(".example.com"): e for e in acct["endpoints"]}
    assert set(by_key) == {"c-flow", "c-api", "c-tool", "c-src", "c-dst"}  # a disabled API reaches nothing
    assert by_key["c-flow"]["flows"] == ["f1"] and by_key["c-flow"]["reached_by"] == ["api:a1"]
    assert by_key["c-api"]["flows"] == [] and by_key["c-api"]["reached_by"] == ["api:a1"]
    assert by_key["c-tool"]["reached_by"] == ["tool:t1"] and by_key["c-dst"]["reached_by"] == ["sync:s1"]
    prod = next(e for e in acct["environments"] if e["environment"] == "production")
    assert prod["endpoints"]["used"] == 5 and prod["flows"]["billable"] == 1
    listed = run_cli("endpoints", run.out, "--format", "json", output=False).stdout
    assert "reached also by api:a1" in listed


def test_a_results_file_without_reached_by_still_renders(tmp_path, run_cli):
    snap = account(tmp_path, [{"_id": "c1", "type": "http", "http": {"baseURI": "https://a.example.com"}}],
                   [flow("f1", exports=["e-c1"])])
    run = run_cli("audit", snap, "--as-of", "2026-11-30", "--fail-on", "never")
    import json
    doc = json.loads(run.out.read_text())
    for ep in doc["accounts"][0]["endpoints"]:
        del ep["reached_by"]  # written by an earlier version
    (tmp_path / "old.json").write_text(json.dumps(doc))
    assert run_cli("report", tmp_path / "old.json", tmp_path / "r.html", output=False).exit_code == 0


def test_ai_agents_guardrails_and_tool_calls_reach_their_connections(tmp_path, run_cli):
    import json
    conns = [{"_id": c, "type": "http", "http": {"baseURI": f"https://{c}.example.com"}}
             for c in ("c-src", "c-llm", "c-mcp1", "c-mcp2", "c-mcp3", "c-tool")]
    agent = {"_id": "i-agent", "name": "Agent", "adaptorType": "AiAgentImport", "_connectionId": "c-llm",
             "aiAgent": {"provider": "openai", "openai": {
                 "tools": [{"mcp": {"_mcpConnectionId": "c-mcp1"}}],
                 "resources": [{"mcp": {"_mcpConnectionId": "c-mcp1"}}]},
                 "litellm": {"_overrides": {"anthropic": {"prompts": [{"mcp": {"_mcpConnectionId": "c-mcp2"}}]}}}}}
    guard = {"_id": "i-guard", "name": "Guard", "adaptorType": "GuardrailImport",
             "guardrail": {"aiAgent": {"openai": {"tools": [{"mcp": {"_mcpConnectionId": "c-mcp3"}}]}}}}
    call = {"_id": "i-call", "name": "Call", "adaptorType": "ToolImport", "tool": {"_toolId": "t1"}}
    odd = {"_id": "i-odd", "name": "Odd", "_connectionId": "c-src", "aiAgent": "not an object"}  # ignored, not skipped
    steps = [flow("f1", exports=["e-c-src"], imports=["i-agent", "i-guard", "i-call", "i-odd"])]
    snap = account(tmp_path, conns, steps, extra_imports=[agent, guard, call, odd])
    (snap / "tools.json").write_text(json.dumps([{"_id": "t1", "name": "Lookup", "routers": [{"branches": [
        {"pageProcessors": [{"type": "export", "_exportId": "e-c-tool"}]}]}]}]))
    run = run_cli("audit", snap, "--as-of", "2026-11-30", "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    reached = _reached(run)
    assert set(reached) == {"c-src", "c-llm", "c-mcp1", "c-mcp2", "c-mcp3", "c-tool"}
    assert reached["c-mcp2"] == ["f1"] and reached["c-tool"] == ["f1"]
    assert not [i for i in run.results["load_issues"] if i["action"] == "skipped"]


def test_apis_tools_and_syncs_naming_what_is_not_there_are_missing_references(tmp_path, run_cli):
    import json
    conns = [{"_id": "c1", "type": "http", "http": {"baseURI": "https://a.example.com"}}]
    snap = account(tmp_path, conns, [flow("f1", exports=["e-c1"])])
    (snap / "apis.json").write_text(json.dumps([{"_id": "a1", "name": "API", "builder": {"routers": [
        {"branches": [{"pageProcessors": [{"type": "import", "_importId": "i-gone"}]}]}]}}]))
    (snap / "tools.json").write_text(json.dumps([{"_id": "t1", "name": "Tool", "disabled": True, "routers": [
        {"branches": [{"pageProcessors": [{"type": "export", "_exportId": "e-gone"}]}]}]}]))
    (snap / "syncs.json").write_text(json.dumps([{"_id": "s1", "name": "Sync", "source": {"_connectionId": "c1"},
                                                  "destination": {"_connectionId": "c-gone"}}]))
    run = run_cli("audit", snap, "--as-of", "2026-11-30", "--fail-on", "never")
    reasons = sorted(f["reason"] for f in run.results["findings"] if f["rule"] == "missing-reference")
    assert reasons == [
        "api API (a1) refers to import i-gone through builder.routers, which is not in the snapshot",
        "sync Sync (s1) refers to connection c-gone through source, destination, which is not in the snapshot",
        "tool Tool (t1) refers to export e-gone through routers, which is not in the snapshot",
    ]
    by_key = {e["key"]: e for e in run.results["accounts"][0]["endpoints"]}
    assert by_key["uri:https://a.example.com"]["reached_by"] == ["sync:s1"]


@pytest.mark.parametrize("uri,settings", [
    ("https://{{connection.settings.host}}/api", {"host": "app:SECRET@erp.example.com"}),  # user info filled in
    ("https://{{connection.settings.host}}/api\u0000x", {"host": "erp.example.com"}),  # a control character after
    ("https://{{connection.settings.host}}:99999/api", {"host": "erp.example.com"}),  # a port out of range
])
def test_what_handlebars_fill_goes_through_the_same_sanitiser(tmp_path, run_cli, uri, settings):
    conn = {"_id": "c1", "type": "http", "settings": settings, "http": {"baseURI": uri}}
    got, run = keys(tmp_path, run_cli, [conn])
    assert "SECRET" not in json.dumps(run) and "\\u0000" not in got["c1"]
    assert got["c1"] in ("uri:https://erp.example.com/api",) or got["c1"].startswith("uri:unreadable#")
