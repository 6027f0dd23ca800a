"""Advice (issue 26): the way under an environment's limits, computed from the counted frames.

In-process on hand-made frames and on the sample; the fewest-flows answer is checked against
brute force on generated accounts (hypothesis); every option of every sample account, applied
with whatif's edits, saves exactly what it claims."""

from __future__ import annotations

import itertools
from datetime import date

import pandas as pd
import pytest
from conftest import ROOT
from hypothesis import example, given, settings
from hypothesis import strategies as st

from auditor.common.paths import sample_dir
from auditor.count.advice import EnvironmentFacts, advise_environment, fewest_flows, price_options, standing
from auditor.count.policy import load_policy
from auditor.results.model import Results
from auditor.rules.model import load_rules
from auditor.runs.account import audit_run, run

AS_OF = date(2026, 11, 30)
SAMPLE = sample_dir()


# --- hand-made environments ----------------------------------------------------------------------

def facts(endpoints: dict[str, list[str]], flows: list[str] | None = None, *, entitled: int | None = None,
          reached_by: dict[str, list[str]] | None = None, billable: set[str] | None = None,
          apps: set[str] = frozenset(), last_run: dict[str, str] | None = None, flows_entitled: int | None = None,
          tps: dict[str, list[str]] | None = None, tps_entitled: int | None = None, share: float | None = 0.9,
          counts_runs: bool = False, expired: str | None = None, connections: list[dict] | None = None,
          conn_of: dict[str, list[str]] | None = None) -> EnvironmentFacts:
    """One production environment: endpoint key -> the flows reaching it."""
    reached_by = reached_by or {}
    flows = flows if flows is not None else sorted({f for fl in endpoints.values() for f in fl})
    billable = set(flows) if billable is None else billable
    flow_frame = pd.DataFrame({"id": flows, "name": [f"Flow {f}" for f in flows],
                               "billable": [f in billable for f in flows],
                               "integration_app": [("app-1" if f in apps else None) for f in flows]})
    if last_run is not None:
        flow_frame["last_run"] = [last_run.get(f) for f in flows]

    def rows(items: dict[str, list[str]]) -> pd.DataFrame:
        return pd.DataFrame({"key": list(items), "flows": [sorted(v) for v in items.values()],
                             "reached_by": [reached_by.get(k, []) for k in items],
                             "connections": [(conn_of or {}).get(k, [f"c-{k}"]) for k in items]})

    ep, tp = rows(endpoints), rows(tps or {})
    limits = {"endpoints": standing("endpoints", len(endpoints), entitled, share, bool(expired)),
              "flows": standing("flows", len(billable), flows_entitled, share, bool(expired)),
              "trading_partners": standing("trading_partners", len(tps or {}), tps_entitled, None, bool(expired)),
              "agents": standing("agents", 0, None, share, bool(expired))}
    conns = pd.DataFrame(connections or [], columns=["id", "type", "uri_host", "netsuite_account",
                                                     "netsuite_sandbox", "salesforce_org", "enabled_flows"])
    return EnvironmentFacts("production", "production", "endpoint", counts_runs, expired, limits, ep, tp,
                            flow_frame, conns, as_of=AS_OF, run_month="2026-11", account="Acme")


def option(advice: dict, kind: str, metric: str = "endpoints") -> dict:
    found = [o for o in advice["options"] if o["kind"] == kind and o["metric"] == metric]
    assert len(found) == 1, advice
    return found[0]


def test_the_fewest_flows_free_the_overage_and_say_what_they_free():
    # stripe v1 and v2 are reached by f1 only; salesforce by f2 only; the warehouse by f2, f3, f4
    env = facts({"stripe-v1": ["f1"], "stripe-v2": ["f1"], "salesforce": ["f2"], "warehouse": ["f2", "f3", "f4"],
                 "netsuite": ["f1", "f3", "f4"]}, entitled=2)
    advice = advise_environment(env)
    assert advice["status"] == "over"
    disable = option(advice, "disable-flows")
    assert disable["flows"] == ["f1", "f2"] and disable["enough"]
    assert disable["saves"] == {"endpoints": 3, "flows": 2}
    assert sorted(disable["endpoints"]) == ["salesforce", "stripe-v1", "stripe-v2"]
    assert disable["whatif"] == ["--account", "Acme", "--env", "production", "--disable-flow", "f1",
                                 "--disable-flow", "f2"]
    assert "proven by an exact search" in disable["why"]
    assert disable["after"] == {"endpoints": 2, "flows": 2} and disable["proven"] and disable["fewest_bound"] == 2
    assert disable["why"].endswith("after it: 2 endpoints of 2 licensed, 2 billable flows.")
    assert "endpoint stripe-v1 is reached only by f1" in disable["why"]
    assert "Flow f1 (f1)" in disable["action"]
    buy = option(advice, "buy")
    assert buy["saves"] == {"endpoints": 3} and buy["action"] == "Buy 3 add-on endpoints"


def test_an_endpoint_an_api_reaches_cannot_be_freed_and_the_note_says_so():
    env = facts({"a": ["f1"], "b": ["f2"], "c": ["f3"]}, entitled=1, reached_by={"a": ["api:x"], "b": ["sync:y"]})
    advice = advise_environment(env)
    disable = option(advice, "disable-flows")
    assert disable["flows"] == ["f3"] and not disable["enough"]  # only c can go: 2 left of 1 licensed
    assert "only 1 endpoint can be freed by disabling flows, short of the 2 endpoints needed" in disable["why"]
    assert "2 endpoints cannot be freed by disabling flows" in advice["note"]
    assert "a (reached by api:x)" in advice["note"] and "b (reached by sync:y)" in advice["note"]


def test_integration_app_flows_only_when_nothing_else_works():
    # freeing 'a' costs one app flow, 'b' two ordinary flows: b is chosen although it takes more
    env = facts({"a": ["app"], "b": ["f1", "f2"], "hub": ["app", "f1", "f2", "f3"]}, entitled=2, apps={"app"},
                billable={"f1", "f2", "f3"})
    disable = option(advise_environment(env), "disable-flows")
    assert disable["flows"] == ["f1", "f2"] and "integration-app" not in disable["why"]
    # when no other way frees enough, the app flow is chosen and the reason says why
    env = facts({"a": ["app"], "hub": ["app", "f1"]}, entitled=1, apps={"app"}, billable={"f1"})
    disable = option(advise_environment(env), "disable-flows")
    assert disable["flows"] == ["app"]
    assert "integration-app flows are chosen only because the limit cannot be reached without them" in disable["why"]


def test_among_the_fewest_flows_those_idle_lately_are_chosen():
    ran = {"f1": "2026-11-20T10:00:00Z", "f2": "2026-06-01T00:00:00Z"}  # f1 ran 10 days before, f2 in June
    env = facts({"a": ["f1"], "b": ["f2"], "hub": ["f1", "f2", "f3"]}, entitled=2, last_run=ran)
    assert option(advise_environment(env), "disable-flows")["flows"] == ["f2"]
    env = facts({"a": ["f1"], "b": ["f2"], "hub": ["f1", "f2", "f3"]}, entitled=2,
                last_run={"f1": "2026-06-01T00:00:00Z", "f2": "2026-11-29T00:00:00Z"})
    chosen = option(advise_environment(env), "disable-flows")
    assert chosen["flows"] == ["f1"]
    env = facts({"a": ["f1"], "hub": ["f1", "f3"]}, entitled=1, last_run={"f1": "2026-11-29T00:00:00Z"})
    assert "1 flow among them ran within 30 days (f1)" in option(advise_environment(env), "disable-flows")["why"]


def test_the_flow_limit_disables_the_overage_preferring_flows_that_free_an_endpoint():
    env = facts({"a": ["f2"], "hub": ["f1", "f2", "f3"]}, entitled=None, flows_entitled=2)
    advice = advise_environment(env)
    disable = option(advice, "disable-flows", "flows")
    assert disable["flows"] == ["f2"] and disable["saves"] == {"flows": 1, "endpoints": 1} and disable["enough"]
    assert option(advice, "buy", "flows")["saves"] == {"flows": 1}


def test_trading_partners_are_freed_like_endpoints():
    env = facts({"hub": ["f1", "f2"]}, entitled=None, tps={"sftp:22": ["f2"], "as2:x": ["f3"]}, tps_entitled=1,
                billable={"f1"})
    advice = advise_environment(env)
    disable = option(advice, "disable-flows", "trading_partners")
    assert disable["flows"] == ["f2"] and disable["saves"] == {"trading_partners": 1}  # f2, f3: one each, by id
    assert disable["action"] == "Disable 1 flow (Flow f2 (f2)): frees 1 trading partner"


def test_near_aims_below_the_mark_of_the_near_rule():
    # 9 of 10 at a 0.9 mark is near; 8 of 10 is below it: one endpoint to free, one add-on to buy
    env = facts({f"e{i}": [f"f{i}"] for i in range(9)}, entitled=10)
    advice = advise_environment(env)
    assert advice["status"] == "near" and "at or above the 90% mark" in advice["note"]
    assert option(advice, "disable-flows")["saves"]["endpoints"] == 1
    assert option(advice, "buy")["saves"] == {"endpoints": 1}
    # the same at a 0.8 mark: below 8 of 10, two to free; 9 / 11 >= 0.8 > 9 / 12, two to buy
    advice = advise_environment(facts({f"e{i}": [f"f{i}"] for i in range(9)}, entitled=10, share=0.8))
    assert option(advice, "disable-flows")["saves"]["endpoints"] == 2
    assert option(advice, "buy")["saves"] == {"endpoints": 2}
    # without a near rule in force a metric is never near
    assert advise_environment(facts({f"e{i}": [f"f{i}"] for i in range(9)}, entitled=10, share=None))["status"] == \
        "within"


def test_within_unknown_and_expired():
    within = advise_environment(facts({"a": ["f1"]}, entitled=5, flows_entitled=10))
    assert within == {"status": "within", "options": [], "note": "nothing to do: 1 endpoint of 5 licensed; 1 "
                      "billable flow of 10 licensed (trading partners, on-premise agents: no entitlement to measure "
                      "against)"}
    unknown = advise_environment(facts({"a": ["f1"]}))
    assert unknown["status"] == "unknown" and not unknown["options"]
    assert "no license gives this environment an entitlement" in unknown["note"]
    expired = advise_environment(facts({"a": ["f1"], "b": ["f2"]}, entitled=1, expired="2026-10-01"))
    assert expired["status"] == "unknown" and not expired["options"]
    assert "expired on 2026-10-01" in expired["note"]


def test_a_plan_counting_runs_gets_no_disable_option():
    advice = advise_environment(facts({"a": ["f1"], "b": ["f2"]}, entitled=1, counts_runs=True))
    assert [o["kind"] for o in advice["options"]] == ["buy"]
    assert "counts the flows that ran in the month, so it lowers next month's count" in advice["note"]


def test_consolidate_merges_one_hosts_connections_into_the_busiest():
    conns = [{"id": "s1", "type": "http", "uri_host": "api.stripe.com", "enabled_flows": 1},
             {"id": "s2", "type": "rest", "uri_host": "api.stripe.com", "enabled_flows": 2},
             {"id": "s3", "type": "http", "uri_host": "api.stripe.com", "enabled_flows": 1},
             {"id": "o", "type": "http", "uri_host": "other.example", "enabled_flows": 1}]
    env = facts({"uri:v1": ["f1"], "uri:v2": ["f2", "f3"], "uri:v3": ["f4"], "uri:o": ["f5"]}, entitled=2,
                conn_of={"uri:v1": ["s1"], "uri:v2": ["s2"], "uri:v3": ["s3"], "uri:o": ["o"]}, connections=conns)
    merge = option(advise_environment(env), "consolidate")
    assert merge["connections"] == ["s2", "s1", "s3"] and merge["endpoints"] == ["uri:v1", "uri:v3"]
    assert merge["saves"] == {"endpoints": 2} and merge["enough"]
    assert merge["whatif"][-2:] == ["--merge-connections", "s2,s1,s3"]
    assert "host api.stripe.com is counted as 3 endpoints" in merge["why"]


def test_prices_put_each_option_in_money_never_across_currencies():
    env = facts({"a": ["f1"], "b": ["f2"], "c": ["f2"]}, entitled=1)
    advice = advise_environment(env)

    def price(metric, pool, n):
        return {"endpoints": [{"currency": "USD", "amount": 100.10 * n}], "flows": [{"currency": "EUR",
                                                                                    "amount": 5.0 * n}]}.get(metric)

    price_options(advice["options"], {"endpoints": 2}, "production", price)
    disable = option(advice, "disable-flows")
    assert disable["saves"] == {"endpoints": 2, "flows": 1}
    # flows were not over: only the endpoints' add-ons are saved
    assert disable["money"] == [{"currency": "USD", "amount": 200.2}]
    assert option(advice, "buy")["money"] == [{"currency": "USD", "amount": 200.2}]


# --- the fewest flows, proven against brute force ------------------------------------------------

def brute_force(items: list[list[str]], reached: list[list[str]], flows: list[str], apps: set[str],
                need: int) -> tuple[int, int] | None:
    """The least (flows, integration-app flows) freeing `need` items, trying every set of flows:
    without integration-app flows when that can be done at all."""
    def freed(chosen: set[str]) -> int:
        return sum(1 for fl, by in zip(items, reached) if fl and not by and set(fl) <= chosen)

    for allowed in ([f for f in flows if f not in apps], flows):
        for r in range(len(allowed) + 1):
            costs = [len(set(c) & apps) for c in itertools.combinations(allowed, r) if freed(set(c)) >= need]
            if costs:
                return r, min(costs)
    return None


@st.composite
def accounts(draw):
    n_flows = draw(st.integers(1, 7))
    flows = [f"f{i}" for i in range(n_flows)]
    n_items = draw(st.integers(1, 8))
    items = [draw(st.lists(st.sampled_from(flows), max_size=4, unique=True)) for _ in range(n_items)]
    reached = [draw(st.sampled_from([[], [], [], ["api:a"]])) for _ in range(n_items)]
    apps = set(draw(st.lists(st.sampled_from(flows), max_size=2, unique=True)))
    entitled = draw(st.integers(0, n_items - 1))
    return flows, items, reached, apps, entitled


@settings(max_examples=300, deadline=None)
@given(accounts())
def test_disable_flows_is_minimal_against_brute_force_and_frees_enough(account):
    flows, items, reached, apps, entitled = account
    keys = [f"e{i}" for i in range(len(items))]
    env = facts(dict(zip(keys, items)), flows, entitled=entitled, reached_by=dict(zip(keys, reached)), apps=apps,
                billable=set(flows) - apps, share=None)
    advice = advise_environment(env)
    freeable = sum(1 for fl, by in zip(items, reached) if fl and not by)
    need = len(items) - entitled
    found = [o for o in advice["options"] if o["kind"] == "disable-flows" and o["metric"] == "endpoints"]
    if freeable == 0:
        assert not found
        return
    disable = found[0]
    best = brute_force(items, reached, flows, apps, min(need, freeable))
    chosen = set(disable["flows"])
    assert (len(chosen), len(chosen & apps)) == best
    really = [k for k, fl, by in zip(keys, items, reached) if fl and not by and set(fl) <= chosen]
    assert sorted(disable["endpoints"]) == sorted(really)
    assert disable["saves"].get("endpoints", 0) == len(really) >= min(need, freeable)
    assert disable["enough"] == (len(items) - len(really) <= entitled)
    assert disable["saves"].get("flows", 0) == len(chosen - apps)
    assert disable["proven"] is True and disable["fewest_bound"] == len(chosen)
    assert disable["after"]["endpoints"] == len(items) - len(really)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 11), min_size=1, max_size=4), min_size=1, max_size=12), st.data())
def test_the_solver_alone_is_minimal_with_every_budget(items, data):
    need = data.draw(st.integers(1, len(items)))
    recent = set(data.draw(st.lists(st.integers(0, 11), max_size=4)))
    exact = fewest_flows(items, need, recent=recent)
    flows = sorted({f for it in items for f in it})
    best = next((r, min(len(set(c) & recent) for c in itertools.combinations(flows, r)
                        if sum(set(it) <= set(c) for it in items) >= need))
                for r in range(len(flows) + 1)
                if any(sum(set(it) <= set(c) for it in items) >= need for c in itertools.combinations(flows, r)))
    assert exact.exact and (len(exact.flows), len(set(exact.flows) & recent)) == best and exact.bound == best[0]
    # any budget: an answer that frees enough, and a bound no answer beats
    cut = fewest_flows(items, need, recent=recent, budget=data.draw(st.integers(1, 50)))
    assert sum(set(it) <= set(cut.flows) for it in items) >= need
    assert cut.bound <= best[0] <= len(cut.flows)
    assert cut.exact == (len(cut.flows) == best[0]) or not cut.exact


def test_past_its_budget_the_answer_is_stated_unproven_with_its_bound():
    # 30 endpoints in a ring of 30 flows (each reached by two neighbours): free 12 -- the greedy
    # answer is not provably the fewest, and a budget of 5 stops the search
    ring = {f"e{i}": [f"f{i}", f"f{(i + 1) % 30}"] for i in range(30)}
    exact = fewest_flows([[int(f[1:]) for f in fl] for fl in ring.values()], 12)
    assert exact.exact and len(exact.flows) == 13  # a run of 13 flows frees 12 endpoints
    cut = fewest_flows([[int(f[1:]) for f in fl] for fl in ring.values()], 12, budget=5)
    assert not cut.exact and cut.bound < len(cut.flows)
    assert sum(set(fl) <= set(cut.flows) for fl in ([int(f[1:]) for f in fl] for fl in ring.values())) >= 12
    advice = advise_environment(facts(ring, entitled=18), budget=5)
    disable = option(advice, "disable-flows")
    assert disable["enough"]
    assert "not proven the fewest: the search stopped at its budget of 5 steps; no answer needs fewer than" in \
        disable["why"]
    assert disable["proven"] is False and disable["fewest_bound"] < len(disable["flows"])


# --- the sample -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample_results():
    done = audit_run([SAMPLE], "default", AS_OF, rules=load_rules(), profile="default")
    return Results.model_validate_json(done.data)  # as readers read it


def _advice(results: dict) -> dict[tuple[str, str], dict]:
    return {(a.account, e.environment): e.advice.model_dump() for a in results.accounts for e in a.environments}


def test_the_sample_accounts_over_a_limit_carry_advice(sample_results):
    advice = _advice(sample_results)
    assert all(a is not None for a in advice.values())
    globex = advice[("Globex Corporation", "production")]
    assert globex["status"] == "over"
    assert {(o["kind"], o["metric"]) for o in globex["options"]} >= {
        ("disable-flows", "endpoints"), ("consolidate", "endpoints"), ("buy", "endpoints"),
        ("disable-flows", "flows"), ("buy", "flows")}
    assert option(globex, "disable-flows")["saves"] == {"endpoints": 3, "flows": 2}
    assert option(globex, "buy")["saves"] == {"endpoints": 3}
    acme = advice[("Acme Retail", "production")]
    assert acme["status"] == "over"
    assert option(acme, "disable-flows", "trading_partners")["flows"] == ["f-edi"]
    assert option(acme, "buy", "endpoints")["saves"] == {"endpoints": 1}  # 5 of 5: at the limit, near
    initech = advice[("Initech", "sandbox")]
    assert initech["status"] == "over" and option(initech, "buy", "flows")["saves"] == {"flows": 1}
    assert advice[("Umbrella Health", "production")]["status"] == "within"


def _edits(args: list[str]):
    from auditor.runs.whatif import Edits, edits_from
    kw = {"--account": None, "--env": None}
    disable, merge = [], []
    pairs = list(zip(args[::2], args[1::2]))
    for flag, value in pairs:
        if flag in kw:
            kw[flag] = value
        elif flag == "--disable-flow":
            disable.append(value)
        elif flag == "--merge-connections":
            merge.append(value)
        else:
            raise AssertionError(f"unexpected whatif argument {flag}")
    return Edits(edits_from(disable=disable, merge=merge), account=kw["--account"], env=kw["--env"])


USED = {"endpoints": "endpoints_used", "flows": "flows_billable", "trading_partners": "trading_partners_used",
        "agents": "agents_used"}


def test_every_option_applied_with_whatif_saves_exactly_what_it_claims():
    assert _options_hold(SAMPLE) >= 8


# --- the views: HTML first, the workbook's Advice sheet, the terminal -----------------------------

def test_html_workbook_and_terminal_show_the_advice(run_cli, tmp_path):
    import openpyxl
    from bs4 import BeautifulSoup

    done = run_cli("audit", "--sample", "--fail-on", "never", "--html", tmp_path / "r.html",
                   "--xlsx", tmp_path / "r.xlsx", "--csv", tmp_path / "csv")
    assert done.exit_code == 0, done.stderr
    page = BeautifulSoup((tmp_path / "r.html").read_text(), "html.parser")
    main = page.find("main")
    assert main.find("section")["id"] == "advice"  # first
    assert page.find("nav").find("a")["href"] == "#advice"
    text = page.find(id="advice").get_text(" ", strip=True)
    assert "Globex Corporation · production over" in text
    assert "auditor whatif SNAPSHOTS --account 'Globex Corporation' --env production --disable-flow gf-charges " \
           "--disable-flow gf-invoices" in text
    assert "Merge 1 connection (g-stripe-v2) into g-stripe" in text
    sheet = openpyxl.load_workbook(tmp_path / "r.xlsx")["Advice"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:8] == ("account", "environment", "status", "option", "limit", "action", "saves", "enough")
    globex = [r for r in rows if r[:2] == ("Globex Corporation", "production")]
    assert ("disable flows", "endpoints", "3 endpoints, 2 billable flows", True) in [(r[3], r[4], r[6], r[7])
                                                                                     for r in globex]
    assert any(r[:3] == ("Umbrella Health", "production", "within") and r[11].startswith("nothing to do")
               for r in rows)
    import csv
    with (tmp_path / "csv" / "advice.csv").open(encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(rows) - 1  # the sheet's rows, one per option or environment without
    assert {"account": "Globex Corporation", "option": "consolidate", "saves": "1 endpoint"}.items() <= \
        next(r for r in table if r["option"] == "consolidate").items()
    said = done.stderr + done.stdout
    assert "Advice for Globex Corporation production (over): 6 endpoints against 3 licensed" in said
    assert "  - Buy 3 add-on endpoints" in said


def test_names_from_the_data_cannot_forge_a_line_or_a_formula(tmp_path):
    from auditor.cli.render import advice_lines
    from auditor.report.tables import advice_table

    env = facts({"a": ["f1"], "b": ["f2"]}, entitled=1)
    env.flows.loc[env.flows["id"] == "f1", "name"] = "=HYPERLINK(\"x\")\n\x1b[31mforged"
    advice = advise_environment(env)

    class Audit:
        environments = pd.DataFrame({"account": ["=cmd|x"], "environment": ["production"]})

    Audit.advice = [advice]
    lines = advice_lines(Audit)
    assert all("\n" not in line and "\x1b" not in line for line in lines)
    assert any("\\u001b" in line for line in lines)
    results = {"accounts": [{"account": "=cmd|x", "environments": [{"environment": "production", "advice": advice}]}]}
    table = advice_table(results)
    assert table["account"].iloc[0] == "=cmd|x"  # written as text by the workbook, quoted (test_reports)


def test_agents_are_freed_like_endpoints_and_counted_in_saves():
    env = facts({"db": ["f1"], "hub": ["f1", "f2"]}, entitled=None)
    env.agents = pd.DataFrame({"key": ["agent-1", "agent-2"], "flows": [["f1"], ["f2"]],
                               "reached_by": [[], ["api:a"]]})
    env.limits["agents"] = standing("agents", 2, 1, 0.9, False)
    advice = advise_environment(env)
    disable = option(advice, "disable-flows", "agents")
    assert disable["flows"] == ["f1"] and disable["saves"] == {"endpoints": 1, "flows": 1, "agents": 1}
    assert disable["action"] == "Disable 1 flow (Flow f1 (f1)): frees 1 endpoint, 1 on-premise agent and 1 billable flow"
    assert "1 on-premise agent cannot be freed by disabling flows" in advice["note"]


@pytest.mark.parametrize("busy, idle", [("f-a", "f-b"), ("f-b", "f-a")])
def test_a_flows_last_run_is_read_from_the_snapshot(tmp_path, busy, idle):
    """lastExecutedAt: a flow that ran lately is chosen after an idle one freeing as much (either
    way round, so no tie-break by id decides it); a value of the wrong shape is read as not given,
    never a problem."""
    from conftest import write_snapshot
    conns = [{"_id": f"c{i}", "type": "http", "http": {"baseURI": f"https://api{i}.example.com"}} for i in range(3)]
    exports = [{"_id": f"e{i}", "_connectionId": f"c{i}"} for i in range(3)]
    imports = [{"_id": "i0", "_connectionId": "c0"}]
    flows = [{"_id": busy, "pageGenerators": [{"_exportId": "e1"}], "pageProcessors": [{"type": "import", "_importId": "i0"}],
              "lastExecutedAt": "2026-11-29T08:00:00.000Z"},
             {"_id": idle, "pageGenerators": [{"_exportId": "e2"}], "pageProcessors": [{"type": "import", "_importId": "i0"}],
              "lastExecutedAt": "2026-03-01T08:00:00.000Z"},
             {"_id": "odd", "pageGenerators": [{"_exportId": "e0"}], "lastExecutedAt": {"not": "a date"}}]
    licenses = [{"_id": "l", "type": "endpoint", "expires": "2027-12-31T00:00:00.000Z", "numEndpoints": 2}]
    root = write_snapshot(tmp_path / "acct", connections=conns, exports=exports, imports=imports, flows=flows,
                          licenses=licenses)
    done = audit_run([root], "default", AS_OF, rules=load_rules(), profile="default")
    doc = Results.model_validate_json(done.data)
    assert len(doc.accounts[0].flows) == 3 and not [i for i in doc.load_issues if i.action == "skipped"]
    advice = doc.accounts[0].environments[0].advice.model_dump()
    assert advice["status"] == "over"
    assert option(advice, "disable-flows")["flows"] == [idle]


def _options_hold(root, as_of=AS_OF) -> int:
    """Every option of every environment of the snapshots at `root`, applied with whatif's edits:
    its environment's counts drop by exactly its saves, no other environment changes. Returns how
    many options were applied."""
    policy = load_policy("default")
    doc = Results.model_validate_json(audit_run([root], "default", as_of, rules=load_rules(), profile="default").data)
    before = run([root], policy, [], as_of).environments.set_index(["account", "environment"])
    applied = 0
    for account in doc.accounts:
        for env in account.environments:
            for opt in env.advice.options:
                if not opt.whatif:
                    continue
                after = run([root], policy, [], as_of, edits=_edits(opt.whatif)).environments
                after = after.set_index(["account", "environment"])
                for at in after.index:
                    for metric, column in USED.items():
                        saved = int(before.loc[at, column]) - int(after.loc[at, column])
                        want = opt.saves.get(metric, 0) if at == (account.account, env.environment) else 0
                        assert saved == want, (at, opt.action, metric)
                here = (account.account, env.environment)
                for metric, count in opt.after.items():  # the counts it says follow, as re-audited
                    assert int(after.loc[here, USED[metric]]) == count
                # enough: within the entitlement (near: below the 0.9 mark of the default rule)
                lim = standing(opt.metric, int(before.loc[here, USED[opt.metric]]),
                               before.loc[here, f"{opt.metric}_entitled"], 0.9, False)
                assert opt.enough == (int(after.loc[here, USED[opt.metric]]) <= lim.target), opt.action
                applied += 1
    return applied


def test_consolidating_a_legacy_account_leaves_the_other_environment_as_it_is(tmp_path):
    """In a legacy account both environments share connections: a connection sandbox flows reach
    too is not merged away (that would change sandbox's count), nor one of another agent."""
    from conftest import write_snapshot
    uris = {"v1": "https://api.stripe.com/v1", "v2": "https://api.stripe.com/v2", "v3": "https://api.stripe.com/v3",
            "v4": "https://api.stripe.com/v4"}
    conns = [{"_id": c, "type": "http", "http": {"baseURI": u}} for c, u in uris.items()]
    conns[3]["_agentId"] = "agent-9"
    exports = [{"_id": f"e-{c}", "_connectionId": c} for c in uris]
    flows = [{"_id": f"f-{c}", "pageGenerators": [{"_exportId": f"e-{c}"}]} for c in uris]
    flows.append({"_id": "f-sb", "sandbox": True, "pageGenerators": [{"_exportId": "e-v3"}]})
    licenses = [{"_id": "l", "type": "endpoint", "expires": "2027-12-31T00:00:00.000Z", "numEndpoints": 2,
                 "numSandboxEndpoints": 5}]
    root = write_snapshot(tmp_path / "legacy", connections=conns, exports=exports, flows=flows, licenses=licenses)
    doc = Results.model_validate_json(audit_run([root], "default", AS_OF, rules=load_rules(), profile="default").data)
    production = doc.accounts[0].environments[0]
    assert production.environment == "production" and production.endpoints.used == 4
    merge = option(production.advice.model_dump(), "consolidate")
    assert merge["connections"] == ["v1", "v2"] and merge["saves"] == {"endpoints": 1}
    assert _options_hold(root) >= 2


def test_every_option_holds_on_a_multi_environment_account_with_one_id_in_two_environments():
    assert _options_hold(SAMPLE / "globex") >= 3


def test_with_prices_each_option_says_its_money(run_cli, tmp_path):
    """examples/prices.yaml: Globex production (endpoint plan) over by 3 endpoints at 125 USD and 1
    flow at 40 USD; the option freeing 3 endpoints and 2 flows saves 3 x 125 + 1 x 40 (only the
    flow over is an add-on avoided); buying 3 endpoints costs 375."""
    prices = ROOT / "examples" / "prices.yaml"
    done = run_cli("audit", "--sample", "--fail-on", "never", "--prices", prices, "--html", tmp_path / "r.html")
    assert done.exit_code == 0, done.stderr
    globex = next(e for a in done.results["accounts"] if a["account"] == "Globex Corporation"
                  for e in a["environments"] if e["environment"] == "production")["advice"]
    assert option(globex, "disable-flows")["money"] == [{"currency": "USD", "amount": 415.0}]
    assert option(globex, "buy")["money"] == [{"currency": "USD", "amount": 375.0}]
    assert option(globex, "consolidate")["money"] == [{"currency": "USD", "amount": 125.0}]
    assert "Buy 3 add-on endpoints · 375.00 USD" in done.stderr + done.stdout
    text = (tmp_path / "r.html").read_text()
    assert "415.00 USD" in text and "375.00 USD" in text


def test_hostile_text_in_advice_is_escaped_in_html_quoted_in_the_workbook_and_csv(run_cli, tmp_path):
    """Advice quotes names from the data (flows, endpoint keys, accounts): the HTML escapes them, a
    workbook or CSV cell never becomes a formula."""
    import json

    import openpyxl

    done = run_cli("audit", "--sample", "--fail-on", "never")
    doc = done.results
    env = next(e for a in doc["accounts"] if a["account"] == "Globex Corporation" for e in a["environments"]
               if e["environment"] == "production")
    env["advice"]["note"] = "<script>alert(1)</script>"
    env["advice"]["options"][0]["action"] = "=HYPERLINK(\"http://x\",\"y\")"
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(doc))
    out = run_cli("report", path, tmp_path / "r.html", tmp_path / "r.xlsx", "--csv", tmp_path / "csv")
    assert out.exit_code == 0, out.stderr
    page = (tmp_path / "r.html").read_text()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    sheet = openpyxl.load_workbook(tmp_path / "r.xlsx")["Advice"]
    cell = next(c for row in sheet.iter_rows() for c in row if c.value == "=HYPERLINK(\"http://x\",\"y\")")
    assert cell.data_type == "s" and cell.quotePrefix
    assert "'=HYPERLINK" in (tmp_path / "csv" / "advice.csv").read_text(encoding="utf-8")


@st.composite
def snapshots(draw):
    """A small legacy account: HTTP connections (some on one host under other paths, some through
    an on-premise agent), flows reaching one to three of them (some disabled, some in sandbox, some
    of an integration app), maybe an API reaching one, and limits below what is used."""
    n_conns = draw(st.integers(2, 6))
    conns = []
    for i in range(n_conns):
        host = draw(st.sampled_from(["a.example.com", "b.example.com", f"h{i}.example.com"]))
        conn = {"_id": f"c{i}", "type": "http", "http": {"baseURI": f"https://{host}/v{i}"}}
        if draw(st.booleans()) and draw(st.booleans()):
            conn["_agentId"] = draw(st.sampled_from(["agent-1", "agent-2"]))
        conns.append(conn)
    flows = []
    for j in range(draw(st.integers(1, 7))):
        reached = draw(st.lists(st.integers(0, n_conns - 1), min_size=1, max_size=3, unique=True))
        extra = {}
        if draw(st.integers(0, 5)) == 0:
            extra["disabled"] = True
        if draw(st.integers(0, 4)) == 0:
            extra["sandbox"] = True
        if draw(st.integers(0, 5)) == 0:
            extra["_connectorId"] = "app-1"
        flows.append({"_id": f"f{j}", "pageGenerators": [{"_exportId": f"e-c{reached[0]}"}],
                      "pageProcessors": [{"type": "import", "_importId": f"i-c{c}"} for c in reached[1:]], **extra})
    apis = []
    if draw(st.booleans()):
        c = draw(st.integers(0, n_conns - 1))
        apis.append({"_id": "api-1", "builder": {"routers": [{"branches": [{"pageProcessors": [
            {"type": "import", "_importId": f"i-c{c}"}]}]}]}})
    licenses = [{"_id": "l", "type": "endpoint", "expires": "2027-12-31T00:00:00.000Z",
                 "numEndpoints": draw(st.integers(0, 3)), "numFlows": draw(st.integers(0, 4)),
                 "numAgents": draw(st.integers(0, 1)), "numSandboxEndpoints": draw(st.integers(0, 2)),
                 "numSandboxFlows": draw(st.integers(0, 2))}]
    return conns, flows, apis, licenses


# found by this test: a legacy account's sandbox flow reaching production's connections; whatif
# finds connections in their own environment, so the merge names production
SANDBOX_FLOW_ON_PRODUCTION = (
    [{"_id": f"c{i}", "type": "http", "http": {"baseURI": f"https://a.example.com/v{i}"}} for i in range(3)],
    [{"_id": "f0", "pageGenerators": [{"_exportId": "e-c0"}], "pageProcessors": [{"type": "import", "_importId": "i-c1"}],
      "sandbox": True, "_connectorId": "app-1"}],
    [], [{"_id": "l", "type": "endpoint", "expires": "2027-12-31T00:00:00.000Z", "numEndpoints": 0, "numFlows": 0,
          "numAgents": 0, "numSandboxEndpoints": 0, "numSandboxFlows": 0}])


@settings(max_examples=12, deadline=None)
@given(snapshots())
@example(SANDBOX_FLOW_ON_PRODUCTION)
def test_on_generated_accounts_every_option_saves_what_whatif_counts(tmp_path_factory, snapshot):
    from conftest import account, write_snapshot
    conns, flows, apis, licenses = snapshot
    root = account(tmp_path_factory.mktemp("gen"), conns, flows, licenses=licenses)
    if apis:
        write_snapshot(root, apis=apis)
    _options_hold(root)
