"""The vendor's own usage figures (usage.json, the UI's licenseEntitlementUsage body) compared
with our count: each way they can differ is a finding that names the things involved and the rule
of ours that put each where it is; the reports show "Celigo says / we count / why"."""

from __future__ import annotations

import json

import pytest
from conftest import account, audited, flow

from auditor.common.paths import sample_dir
from auditor.results.model import Results

CONNS = [
    {"_id": "c-a1", "name": "Store A (http)", "type": "http", "http": {"baseURI": "https://a.example.com/api"}},
    {"_id": "c-a2", "name": "Store A (rest)", "type": "rest", "http": {"baseURI": "https://a.example.com/api"}},
    {"_id": "c-b", "type": "http", "http": {"baseURI": "https://b.example.com"}},
    {"_id": "c-c", "type": "http", "http": {"baseURI": "https://c.example.com"}},
    {"_id": "c-only-ours", "type": "http", "http": {"baseURI": "https://d.example.com"}},
    {"_id": "c-io", "type": "http", "assistant": "integratorio", "http": {"baseURI": "https://api.integrator.io"}},
    {"_id": "c-tp", "type": "ftp", "ftp": {"hostURI": "edi.example.com", "type": "sftp", "tradingPartner": True}},
    {"_id": "c-agent", "type": "filesystem", "_agentId": "agent-1"},
]
FLOWS = [flow("f1", exports=["e-c-a1", "e-c-a2", "e-c-b", "e-c-c", "e-c-only-ours", "e-c-io", "e-c-agent"]),
         flow("f-tp", exports=["e-c-tp"]), flow("f-free", exports=["e-c-b"], free=True), flow("f2", exports=["e-c-b"])]
USAGE = {"production": {
    "endpointUsage": {"numConsumed": 4, "endpoints": [
        {"type": "http", "connections": [{"_id": "c-a1"}]},  # we group a1 and a2: Celigo splits them
        {"type": "rest", "connections": [{"_id": "c-a2"}]},
        {"type": "http", "connections": [{"_id": "c-b"}, {"_id": "c-c"}]},  # Celigo merges b and c: we split them
        {"type": "integratorio", "connections": [{"_id": "c-io"}]},  # only Celigo counts it
    ]},
    "flowUsage": {"numEnabled": 2, "flows": [{"_id": "f1"}, {"_id": "f-free"}]},
    "tradingPartnerUsage": {"numConsumed": 0, "tradingPartners": []},
    "agentUsage": {"numActive": 2, "agents": [{"_id": "agent-1"}, {"_id": "agent-9"}]},
}}
LICENSES = [{"_id": "l1", "type": "endpoint", "numEndpoints": 9, "numFlows": 9, "numTradingPartners": 1, "numAgents": 2}]


def _audit(tmp_path, usage, licenses=LICENSES):
    snap = account(tmp_path, CONNS, FLOWS, licenses=licenses)
    (snap / "usage.json").write_text(usage if isinstance(usage, str) else json.dumps(usage))
    return audited(snap)


def test_each_way_the_figures_differ_is_one_finding_that_says_why(tmp_path):
    results = _audit(tmp_path, USAGE)
    acct = results["accounts"][0]
    prod = next(e for e in acct["environments"] if e["environment"] == "production")
    assert prod["vendor"] == {"flows": 2, "endpoints": 4, "trading_partners": 0, "agents": 2}
    assert (prod["flows"]["billable"], prod["endpoints"]["used"], prod["trading_partners"]["used"],
            prod["agents"]["used"]) == (2, 5, 1, 1)
    diffs = {(d["metric"], d["kind"], d["resource_id"]): d["detail"] for d in acct["vendor_differences"]}
    assert diffs == {
        ("endpoints", "figure", "endpoints"): "Celigo says 4 endpoints, we count 5",
        ("endpoints", "split", "uri:https://a.example.com/api"):
            "we count connections c-a1, c-a2 as one endpoint uri:https://a.example.com/api (each distinct base URI is "
            "one endpoint, even for the same application); Celigo counts them as 2 endpoints",
        ("endpoints", "merged", "c-b, c-c"):
            "Celigo counts connections c-b, c-c as one http endpoint; we count 2: c-b is endpoint "
            "uri:https://b.example.com (each distinct base URI is one endpoint, even for the same application); "
            "c-c is endpoint uri:https://c.example.com (each distinct base URI is one endpoint, even for the same "
            "application)",
        ("endpoints", "only-vendor", "c-io"):
            "Celigo counts connection c-io as an endpoint; we do not: to us it is not an endpoint: connections to the "
            "integrator.io API itself are not endpoints (since February 2022)",
        ("endpoints", "only-ours", "c-only-ours"):
            "we count connection c-only-ours as endpoint uri:https://d.example.com (each distinct base URI is one "
            "endpoint, even for the same application); Celigo does not",
        ("flows", "only-vendor", "f-free"): "Celigo counts flow f-free; we do not: marked free: not counted",
        ("flows", "only-ours", "f2"): "we count flow f2 (enabled: counted); Celigo does not",
        ("endpoints", "only-ours", "c-agent"):
            "we count connection c-agent as endpoint filesystem:agent-1 (each on-premise agent is one endpoint); "
            "Celigo does not",
        ("trading_partners", "figure", "trading_partners"): "Celigo says 0 trading partners, we count 1",
        ("trading_partners", "only-ours", "c-tp"):
            "we count connection c-tp as trading partner edi.example.com:22 (a trading-partner connection uses a "
            "trading-partner entitlement, tallied by server and port); Celigo does not",
        ("agents", "figure", "agents"): "Celigo says 2 agents, we count 1",
        ("agents", "only-vendor", "agent-9"): "Celigo counts agent agent-9; no connection we count in production goes "
                                              "through it",
    }
    found = [f for f in results["findings"] if f["rule"] == "vendor-count-differs"]
    assert sum(f["status"] == "alarm" for f in found) == len(diffs)
    counts = [c for c in results["rule_counts"] if c["rule"] == "vendor-count-differs"]
    assert [(c["environment"], c["ok"], c["alarm"]) for c in counts] == [("production", 1, len(diffs))]  # flows' figure
    ioapi = next(f for f in found if f["resource"]["id"] == "c-io")
    assert ioapi["resource"] == {"type": "connection", "id": "c-io", "name": None} and ioapi["severity"] == "medium"
    Results.model_validate(results)


def test_figures_without_lists_compare_the_numbers_only(tmp_path):
    results = _audit(tmp_path, {"production": {"flowUsage": {"numEnabled": 5}}, "sandbox": {}})
    acct = results["accounts"][0]
    envs = {e["environment"]: e for e in acct["environments"]}
    assert envs["production"]["vendor"] == {"flows": 5, "endpoints": None, "trading_partners": None, "agents": None}
    assert envs["sandbox"]["vendor"] == {"flows": None, "endpoints": None, "trading_partners": None, "agents": None}
    assert [(d["kind"], d["detail"]) for d in acct["vendor_differences"]] == [
        ("figure", "Celigo says 5 flows, we count 2")]
    from auditor.report.tables import build_report
    table = build_report(results).vendor
    assert table.to_dict("records") == [{
        "account": "acct", "environment": "production", "metric": "billable flows", "Celigo says": 5,
        "we count": 2, "why": "usage.json does not list them, so the difference cannot be traced item by item"}]


@pytest.mark.parametrize("usage,problem", [
    ({"staging": {}}, "usage for environment 'staging', which the account does not have; not compared"),
    ({"production": []}, "production must be an object; not compared"),
    ({"production": {"flowUsage": "7"}}, "production.flowUsage must be an object; not compared"),
    ({"production": {"flowUsage": {"numEnabled": -1}}},
     "usage production.flowUsage.numEnabled is negative; read as not given"),
    ({"production": {"flowUsage": {"flows": {"_id": "f1"}}}},
     "production.flowUsage.flows must be an array; its items are not compared"),
    ({"production": {"flowUsage": {"flows": [{"id": "f1"}]}}},
     "production.flowUsage.flows[0] names no _id; left out of the comparison"),
    ({"production": {"endpointUsage": {"endpoints": [{"type": "http"}]}}},
     "production.endpointUsage.endpoints[0].connections must be an array; its items are not compared"),
    ({"production": {"flowUsage": {"flows": [{"_id": "f1"}, {"_id": "f2"}, {"_id": "f1"}]}}},
     "production.flowUsage.flows[2] names the same _id as production.flowUsage.flows[0]; compared once"),
    ({"production": {"endpointUsage": {"endpoints": [{"type": "http", "connections": [{"_id": "c1"}]},
                                                     {"type": "ftp", "connections": [{"_id": "c2"}, {"_id": "c1"}]}]}}},
     "production.endpointUsage.endpoints[1].connections names a connection that "
     "production.endpointUsage.endpoints[0] names too; compared under the first"),
])
def test_parts_of_the_file_that_cannot_be_read_are_noted_not_guessed(tmp_path, usage, problem):
    results = _audit(tmp_path, usage)
    notes = [i for i in results["load_issues"] if i["file"].endswith("usage.json")]
    assert problem in [n["problem"] for n in notes]


@pytest.mark.parametrize("text,message", [
    ("[]", "must hold one JSON object (a download holds one record a file), not an array"),
    ('{"production": ', "not valid JSON at line 1"),
])
def test_a_usage_file_that_is_not_an_object_stops_the_run_naming_it(tmp_path, run_cli, text, message):
    snap = account(tmp_path, CONNS, FLOWS, licenses=LICENSES)
    (snap / "usage.json").write_text(text)
    run = run_cli("audit", snap, "--as-of", "2026-11-30")
    assert run.exit_code == 2
    assert "acct/usage.json" in run.stderr and message in run.stderr and "Traceback" not in run.stderr


def test_the_reports_show_celigo_says_we_count_why(tmp_path, run_cli):
    snap = account(tmp_path, CONNS, FLOWS, licenses=LICENSES)
    usage = json.loads(json.dumps(USAGE))
    usage["production"]["flowUsage"]["flows"].append({"_id": "<script>x</script>"})
    (snap / "usage.json").write_text(json.dumps(usage))
    html, xlsx, csv = tmp_path / "r.html", tmp_path / "r.xlsx", tmp_path / "csv"
    run = run_cli("audit", snap, "--as-of", "2026-11-30", "--fail-on", "never", "--html", html, "--xlsx", xlsx,
                  "--csv", csv)
    assert run.exit_code == 0, run.stderr
    page = html.read_text()
    assert '<a href="#vendor">Celigo vs ours</a>' in page and "<h2 id=\"vendor-h\">Celigo says, we count, why</h2>" in page
    assert "<li>Celigo counts flow &lt;script&gt;x&lt;/script&gt;; we do not" in page and "<script>x</script>" not in page
    assert page.count('<ul class="why">') == 2  # flows and endpoints differ in several things: one a line
    from openpyxl import load_workbook
    sheet = load_workbook(xlsx)["Celigo vs ours"]
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    assert rows[0][:6] == ["account", "environment", "metric", "Celigo says", "we count", "why"]
    flows_row = next(r for r in rows if r[2] == "billable flows")
    assert flows_row[3:5] == [2, 2] and "Celigo counts flow f-free" in flows_row[5]
    assert (csv / "vendor.csv").read_text().startswith("account,environment,metric,Celigo says,we count,why")


def test_the_sample_shows_every_way_the_figures_can_differ():
    results = audited(sample_dir(), as_of="2026-11-30")
    acme = next(a for a in results["accounts"] if a["account"] == "Acme Retail")
    kinds = {(d["metric"], d["kind"]) for d in acme["vendor_differences"]}
    assert {("endpoints", "split"), ("endpoints", "merged"), ("endpoints", "only-vendor"),
            ("endpoints", "only-ours"), ("flows", "only-vendor"), ("flows", "only-ours"), ("flows", "figure")} <= kinds
    others = [a for a in results["accounts"] if a["account"] != "Acme Retail"]
    assert all("vendor_differences" not in a and all("vendor" not in e for e in a["environments"]) for a in others)


def test_an_empty_usage_file_is_said_and_compares_nothing(tmp_path):
    results = _audit(tmp_path, "  \n")
    acct = results["accounts"][0]
    assert acct["vendor_differences"] == [] and all(e["vendor"] == {
        "flows": None, "endpoints": None, "trading_partners": None, "agents": None} for e in acct["environments"])
    assert [i["problem"] for i in results["load_issues"] if i["file"].endswith("usage.json")] == [
        "the file is empty; there are no vendor figures to compare"]


def test_an_item_listed_twice_is_compared_once(tmp_path):
    """With no number given, the figure is worked out from the list: an id listed twice counts once,
    and a connection under two endpoints is compared under the first (never split or merged twice)."""
    usage = {"production": {
        "flowUsage": {"flows": [{"_id": "f1"}, {"_id": "f2"}, {"_id": "f1"}]},
        "endpointUsage": {"endpoints": [{"type": "http", "connections": [{"_id": "c-b"}]},
                                        {"type": "http", "connections": [{"_id": "c-c"}, {"_id": "c-b"}]}]}}}
    results = _audit(tmp_path, usage)
    env = results["accounts"][0]["environments"][0]
    assert env["vendor"]["flows"] == 2 and env["vendor"]["endpoints"] == 2
    diffs = results["accounts"][0]["vendor_differences"]
    assert not [d for d in diffs if d["kind"] in ("split", "merged")]  # b and c: one each, as we count them
