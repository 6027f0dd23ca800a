"""The platform plan counts flows run in a month (help center 30722413400859): with the run
history (`jobs.json`, what GET /v1/jobs returns) a flow is billable when it ran in the calendar
month of --as-of, and only the connections of flows that ran are endpoints; without it every
enabled flow is counted and every output says the figure is an upper bound."""

from __future__ import annotations

import json

import pytest
from conftest import account, audited, flow

CONNS = [{"_id": "c1", "type": "http", "http": {"baseURI": "https://a.example.com"}},
         {"_id": "c2", "type": "http", "http": {"baseURI": "https://b.example.com"}},
         {"_id": "c3", "type": "http", "http": {"baseURI": "https://c.example.com"}}]
FLOWS = [flow("f-ran", exports=["e-c1"]), flow("f-idle", exports=["e-c2"]),
         flow("f-off-ran", exports=["e-c3"], disabled=True), flow("f-off", exports=["e-c3"], disabled=True)]


def _job(jid: str, flow_id, when="2026-11-03T10:00:00.000Z", **extra) -> dict:
    return {"_id": jid, "type": "flow", "_flowId": flow_id, "startedAt": when, **extra}


def _snap(tmp_path, plan="platform", jobs=None):
    snap = account(tmp_path, CONNS, FLOWS, licenses=[{"_id": "l1", "type": plan, "numFlows": 10, "numEndpoints": 10}])
    if jobs is not None:
        (snap / "jobs.json").write_text(json.dumps(jobs))
    return snap


def _flows(results) -> dict:
    return {f["id"]: f for f in results["accounts"][0]["flows"]}


def _prod(results) -> dict:
    return next(e for e in results["accounts"][0]["environments"] if e["environment"] == "production")


def test_a_flow_counts_when_it_ran_in_the_month(tmp_path):
    jobs = [_job("j1", "f-ran"), _job("j2", "f-ran", "2026-11-30T23:59:59.999Z"),
            _job("j3", "f-off-ran", createdAt="2026-11-02T00:00:00Z", startedAt=None),
            _job("j4", "f-idle", "2026-10-31T23:59:59.999Z"), _job("j5", "f-idle", "2026-12-01T00:00:00Z")]
    results = audited(_snap(tmp_path, jobs=jobs), as_of="2026-11-29")
    flows = _flows(results)
    assert {k for k, f in flows.items() if f["billable"]} == {"f-ran", "f-off-ran"}
    assert flows["f-ran"]["reason"] == "ran 2 times in 2026-11: counted (the platform plan counts flows run)"
    assert flows["f-off-ran"]["reason"].startswith("ran 1 time in 2026-11 (disabled since): counted")
    assert (flows["f-idle"]["reason_code"], flows["f-idle"]["reason"]) == (
        "not-run", "did not run in 2026-11: not counted (the platform plan counts flows run)")
    assert flows["f-off"]["reason"] == "disabled, and did not run in 2026-11: not counted"
    prod = _prod(results)
    assert (prod["flows"]["billable"], prod["flows"]["enabled"], prod["endpoints"]["used"]) == (2, 2, 2)
    endpoints = {e["key"]: e["flows"] for e in results["accounts"][0]["endpoints"]}
    assert endpoints == {"uri:https://a.example.com": ["f-ran"], "uri:https://c.example.com": ["f-off-ran"]}
    assert results["accounts"][0]["flows_counted"] == "run"
    # the two jobs of other months are read, and said not counted
    other = [i for i in results["load_issues"] if "outside 2026-11" in i["problem"]]
    assert sorted(i["id"] for i in other) == ["j4", "j5"] and {i["action"] for i in other} == {"skipped"}


def test_jobs_that_are_not_runs_of_a_held_flow_are_each_said(tmp_path):
    jobs = [_job("j1", "f-ran"), {"_id": "j2", "type": "import", "_flowId": "f-idle", "startedAt": "2026-11-03"},
            _job("j3", "f-deleted"), _job("j4", None), _job("j5", "f-idle", "last tuesday"),
            {"_id": "j6", "type": "flow", "_flowId": "f-idle"}, {"_id": "j7", "type": "flow", "_flowId": 7},
            "not a job"]
    results = audited(_snap(tmp_path, jobs=jobs), as_of="2026-11-29")
    said = {i["id"]: i["problem"] for i in results["load_issues"] if i["action"] == "skipped"}
    assert said["j2"].startswith("job of a step (type import), not counted")
    assert said["j3"].endswith("not counted: flow f-deleted")
    assert said["j4"] == "job names no _flowId, not counted"
    assert said["j5"] == "job startedAt (or createdAt) is not a date and time, not counted"
    assert said["j6"] == "job has neither startedAt nor createdAt, not counted"
    assert said["j7"].startswith("job _flowId must be a string")
    assert any(i["record"] == 7 and "not a JSON object" in i["problem"] for i in results["load_issues"])
    assert [f for f, v in _flows(results).items() if v["billable"]] == ["f-ran"]


def test_without_run_history_every_enabled_flow_counts_as_an_upper_bound(tmp_path):
    results = audited(_snap(tmp_path), as_of="2026-11-29")
    assert results["accounts"][0]["flows_counted"] == "enabled"
    flows = _flows(results)
    assert {k for k, f in flows.items() if f["billable"]} == {"f-ran", "f-idle"}
    assert flows["f-ran"]["reason"] == ("enabled: counted (no run history: the platform plan counts flows run, "
                                        "so this is an upper bound)")
    assert any("no run history (jobs.json)" in i["problem"] for i in results["load_issues"])


@pytest.mark.parametrize("plan", ["endpoint", "integrator"])
def test_other_plans_count_enabled_flows_and_leave_the_jobs_unread(tmp_path, plan):
    results = audited(_snap(tmp_path, plan=plan, jobs=[_job("j1", "f-ran")]), as_of="2026-11-29")
    assert {k for k, f in _flows(results).items() if f["billable"]} == {"f-ran", "f-idle"}
    assert "flows_counted" not in results["accounts"][0]
    unread = [i for i in results["load_issues"] if i["action"] == "not read"]
    assert [i["problem"] for i in unread] == ["the plan counts enabled flows, so the run history is not used"]
    assert unread[0]["file"].endswith("jobs.json")


def test_the_upper_bound_is_said_first_in_the_terminal_and_the_reports(tmp_path, run_cli):
    out = tmp_path / "r.html"
    run = run_cli("audit", _snap(tmp_path), "--as-of", "2026-11-29", "--fail-on", "never", "--html", out,
                  "--xlsx", tmp_path / "r.xlsx")
    assert run.stdout.splitlines()[1].startswith("No run history for acct: the platform plan counts the flows run")
    assert "No run history for acct" in out.read_text()
    from openpyxl import load_workbook
    assert load_workbook(tmp_path / "r.xlsx")["Summary"]["A3"].value.startswith("No run history for acct")


def test_the_samples_platform_account_counts_the_flows_run_in_november():
    from auditor.common.paths import sample_dir
    results = audited(sample_dir(), as_of="2026-11-30")
    umbrella = next(a for a in results["accounts"] if a["account"] == "Umbrella Health")
    assert (umbrella["plan"], umbrella["flows_counted"]) == ("platform", "run")
    flows = {f["id"]: (f["billable"], f["reason_code"]) for f in umbrella["flows"]}
    assert flows == {"u-f1": (True, "billable"), "u-f2": (False, "not-run"), "u-f3": (True, "billable"),
                     "u-f4": (True, "billable")}
    # in December nothing of the sample ran: no flow counts
    december = audited(sample_dir() / "umbrella-health", as_of="2026-12-01")
    assert not any(f["billable"] for f in december["accounts"][0]["flows"])
    assert sum("outside 2026-12" in i["problem"] for i in december["load_issues"]) == 5


def test_a_job_given_twice_is_one_run_and_the_copy_is_said(tmp_path):
    results = audited(_snap(tmp_path, jobs=[_job("j1", "f-ran"), _job("j1", "f-ran"), _job("j2", "f-ran")]),
                      as_of="2026-11-29")
    assert _flows(results)["f-ran"]["reason"].startswith("ran 2 times in 2026-11")
    assert [i["id"] for i in results["load_issues"] if "same _id" in i["problem"]] == ["j1"]


def test_an_empty_run_history_means_no_flow_ran(tmp_path):
    results = audited(_snap(tmp_path, jobs=[]), as_of="2026-11-29")
    assert results["accounts"][0]["flows_counted"] == "run"
    assert not any(f["billable"] for f in results["accounts"][0]["flows"])
