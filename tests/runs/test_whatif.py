"""`auditor whatif`: each edit gives the results of auditing a copy of the snapshot edited by hand
that way; ids unknown or found in several places are refused; the terminal lines, the results
file's whatif section, the reports and `auditor diff` say what the edits change."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import date
from pathlib import Path

import orjson
import pytest

from auditor.common.errors import AuditorError
from auditor.common.paths import sample_dir
from auditor.count.advice import merge_group, merge_ids
from auditor.results.model import Results, WhatIf
from auditor.rules.model import load_rules
from auditor.runs.account import audit_run
from auditor.runs.whatif import Edits, _repoint, edits_from, whatif_run

AS_OF = date(2026, 11, 30)
SAMPLE = sample_dir()


# --- a copy of a snapshot, edited by hand -------------------------------------------------------

def _read(path: Path):
    if path.name.endswith(".gz"):
        return json.loads(gzip.decompress(path.read_bytes()))
    if path.suffix == ".ndjson":
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return json.loads(path.read_text())


def _write(path: Path, value) -> None:
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(json.dumps(value).encode()))
    elif path.suffix == ".ndjson":
        path.write_text("".join(json.dumps(r) + "\n" for r in value))
    else:
        path.write_text(json.dumps(value))


def edit_records(folder: Path, resource: str, change) -> int:
    """Apply `change(record) -> record | None` (None removes it) to every record of `resource`
    (its .json, .ndjson and .json.gz files, a folder of pages, a download's one-record files) under
    `folder`; returns how many records it changed or removed."""
    done = 0
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or not (path.name.startswith(resource + ".") or path.parent.name == resource):
            continue
        value = _read(path)
        one = isinstance(value, dict)
        records = [value] if one else value
        out = []
        for record in records:
            before = json.dumps(record, sort_keys=True)
            new = change(json.loads(before))
            done += new is None or json.dumps(new, sort_keys=True) != before
            if new is not None:
                out.append(new)
        if one and not out:
            path.unlink()
        else:
            _write(path, out[0] if one else out)
    return done


def copy_account(tmp_path: Path, name: str) -> Path:
    """A copy of a sample account under the same folder name (so every file is named as in the sample)."""
    target = tmp_path / "copy" / name
    shutil.copytree(SAMPLE / name, target)
    return target


def _doc(data: bytes) -> dict:
    doc = orjson.loads(data)
    doc.pop("whatif", None)
    doc.pop("inputs")  # the copy's files differ from the sample's: their digests do
    return doc


def audited(path: Path) -> dict:
    return _doc(audit_run([path], "default", AS_OF, rules=load_rules(), profile="default").data)


def as_if(path: Path, edits: Edits):
    done = whatif_run([path], "default", AS_OF, edits, rules=load_rules(), profile="default")
    return done, _doc(done.after.data)


def _set(key, value, ids):
    def change(record):
        if record.get("_id") in ids:
            record[key] = value
        return record
    return change


def _drop(ids):
    return lambda record: None if record.get("_id") in ids else record


def _repointed(keep, gone):
    def change(record):
        if record.get("_connectionId") in gone:
            record["_connectionId"] = keep
        return record
    return change


# --- each edit on the sample equals the hand-edited copy audited normally -------------------------

def test_disable_flow_equals_a_copy_with_the_flow_disabled(tmp_path):
    copy = copy_account(tmp_path, "globex")
    assert edit_records(copy / "production", "flows", _set("disabled", True, {"gf-charges"})) == 1
    done, doc = as_if(SAMPLE / "globex", Edits(edits_from(disable=["gf-charges"]), env="production"))
    assert doc == audited(copy)
    row = done.compared.set_index("environment").loc["production"]
    assert (row["flows_before"], row["flows_after"]) == (4, 3)
    assert done.edits == [{"kind": "disable-flow", "account": "Globex Corporation", "environment": "production",
                           "ids": ["gf-charges"]}]


def test_enable_flow_equals_a_copy_with_the_flow_enabled(tmp_path):
    copy = copy_account(tmp_path, "acme-retail")
    assert edit_records(copy, "flows", _set("disabled", False, {"f-report"})) == 1
    done, doc = as_if(SAMPLE / "acme-retail", Edits(edits_from(enable=["f-report"])))
    assert doc == audited(copy)
    row = done.compared.set_index("environment").loc["production"]
    assert row["flows_after"] == row["flows_before"] + 1


def test_delete_connection_equals_a_copy_without_it(tmp_path):
    copy = copy_account(tmp_path, "globex")
    assert edit_records(copy / "production", "connections", _drop({"g-mongo"})) == 1
    done, doc = as_if(SAMPLE / "globex", Edits(edits_from(delete=["g-mongo"])))
    assert doc == audited(copy)
    # the flow still reaches it: a connection the snapshot does not hold, an endpoint of its own
    endpoints = {e["key"] for e in doc["accounts"][0]["endpoints"] if e["environment"] == "production"}
    assert "connection:g-mongo" in endpoints


def test_merge_connections_equals_a_copy_merged_by_hand(tmp_path):
    copy = copy_account(tmp_path, "globex")
    # exports.ndjson and imports.json.gz: every file form is edited
    assert edit_records(copy / "production", "exports", _repointed("g-stripe", {"g-stripe-v2"})) \
        + edit_records(copy / "production", "imports", _repointed("g-stripe", {"g-stripe-v2"})) >= 1
    assert edit_records(copy / "production", "connections", _drop({"g-stripe-v2"})) == 1
    done, doc = as_if(SAMPLE / "globex", Edits(edits_from(merge=["g-stripe,g-stripe-v2"]), env="production"))
    assert doc == audited(copy)
    row = done.compared.set_index("environment").loc["production"]
    assert (row["endpoints_before"], row["endpoints_after"]) == (6, 5)


def test_merge_in_a_legacy_account_equals_a_copy_merged_by_hand(tmp_path):
    copy = copy_account(tmp_path, "acme-retail")
    gone = {"c-shop-us", "c-shop-us-rest"}
    edit_records(copy, "exports", _repointed("c-shop-eu", gone))
    edit_records(copy, "imports", _repointed("c-shop-eu", gone))
    assert edit_records(copy, "connections", _drop(gone)) == 2
    done, doc = as_if(SAMPLE / "acme-retail", Edits(edits_from(merge=["c-shop-eu,c-shop-us,c-shop-us-rest"])))
    assert doc == audited(copy)
    row = done.compared.set_index("environment").loc["production"]
    assert row["endpoints_after"] == row["endpoints_before"] - 1


def test_several_edits_at_once_equal_one_copy_with_all_of_them(tmp_path):
    copy = copy_account(tmp_path, "globex")
    edit_records(copy / "production", "flows", _set("disabled", True, {"gf-charges"}))
    edit_records(copy / "production", "exports", _repointed("g-stripe", {"g-stripe-v2"}))
    edit_records(copy / "production", "imports", _repointed("g-stripe", {"g-stripe-v2"}))
    edit_records(copy / "production", "connections", _drop({"g-stripe-v2"}))
    done, doc = as_if(SAMPLE / "globex", Edits(edits_from(disable=["gf-charges"], merge=["g-stripe,g-stripe-v2"]),
                                               env="production"))
    assert doc == audited(copy)
    row = done.compared.set_index("environment").loc["production"]
    assert (row["endpoints_before"], row["endpoints_after"], row["flows_before"], row["flows_after"]) == (6, 4, 4, 3)


# every other place that names a connection: an instance flow's overrides, a sync, an AI agent's MCP connection

def _account_with_references(root: Path) -> Path:
    http = lambda uri: {"baseURI": uri, "mediaType": "json"}  # noqa: E731
    conns = [{"_id": f"c{n}", "name": f"C{n}", "type": "http", "http": http(f"https://api{n}.example.com")}
             for n in range(1, 6)]
    exports = [{"_id": "e1", "name": "E1", "_connectionId": "c1"}, {"_id": "e-abs", "name": "A", "_connectionId": "c2"}]
    imports = [{"_id": "i1", "name": "I1", "_connectionId": "c1",
                "aiAgent": {"openai": {"tools": [{"_mcpConnectionId": "c3"}]}}},
               {"_id": "i-abs", "name": "IA", "_connectionId": "c2"}]
    flows = [{"_id": "f1", "name": "F1", "pageGenerators": [{"_exportId": "e1"}], "pageProcessors": [{"_importId": "i1"}]},
             {"_id": "f-abs", "name": "Abstract", "isAbstract": True, "pageGenerators": [{"_exportId": "e-abs"}],
              "pageProcessors": [{"_importId": "i-abs"}]},
             {"_id": "f-inst", "name": "Instance", "_abstractFlowId": "f-abs",
              "overrides": {"connections": [{"_abstractId": "c2", "_id": "c4"}]},
              "overridesHelper": {"connections": [{"_abstractId": "c2"}]}}]
    syncs = [{"_id": "s1", "name": "S1", "source": {"_connectionId": "c5"}, "destination": {"_connectionId": "c1"}}]
    account = json.loads((SAMPLE / "acme-retail" / "account.json").read_text())
    account["name"] = "Refs"
    root.mkdir(parents=True)
    for name, value in (("connections", conns), ("exports", exports), ("imports", imports), ("flows", flows),
                        ("syncs", syncs), ("account", account)):
        (root / f"{name}.json").write_text(json.dumps(value))
    shutil.copy(SAMPLE / "acme-retail" / "licenses.json", root / "licenses.json")
    return root


@pytest.mark.parametrize("merge", ["c1,c3,c5", "c1,c2", "c4,c2", "c2,c4,c1"])
def test_merge_repoints_overrides_syncs_and_mcp_connections(tmp_path, merge):
    src = _account_with_references(tmp_path / "src" / "refs")
    keep, *others = merge.split(",")
    gone = set(others)
    copy = tmp_path / "copy" / "refs"
    shutil.copytree(src, copy)

    def repoint(record):
        return _repoint(record, keep, gone)
    for resource in ("exports", "imports", "flows", "syncs"):
        edit_records(copy, resource, repoint)
    edit_records(copy, "connections", _drop(gone))
    done, doc = as_if(src, Edits(edits_from(merge=[merge])))
    assert doc == audited(copy)
    row = done.compared.iloc[0]
    assert row["endpoints_after"] == row["endpoints_before"] - len([g for g in gone if g != "c2"]) \
        or row["endpoints_after"] < row["endpoints_before"]
    # nothing of the merged connections is reached any more
    assert not any(set(e["connections"]) & gone for e in doc["accounts"][0]["endpoints"])


def test_repoint_changes_connection_references_only():
    value = {"_connectionId": "b", "_id": "b", "_exportId": "b",
             "overrides": {"exports": [{"_abstractId": "b", "_connectionId": "b"}],
                           "connections": [{"_abstractId": "b", "_id": "b", "other": "b"}]},
             "tools": [{"_mcpConnectionId": "b"}, {"_mcpConnectionId": "c"}]}
    assert _repoint(value, "a", {"b"}) == {
        "_connectionId": "a", "_id": "b", "_exportId": "b",
        "overrides": {"exports": [{"_abstractId": "b", "_connectionId": "a"}],
                      "connections": [{"_abstractId": "a", "_id": "a", "other": "b"}]},
        "tools": [{"_mcpConnectionId": "a"}, {"_mcpConnectionId": "c"}]}


# --- ids: unknown, ambiguous, qualified, inconsistent --------------------------------------------

def _refused(edits: Edits, paths=(SAMPLE,)) -> str:
    with pytest.raises(AuditorError) as raised:
        whatif_run(list(paths), "default", AS_OF, edits, rules=[], profile="default")
    return str(raised.value)


def test_an_unknown_id_is_refused_naming_the_valid_ones():
    said = _refused(Edits(edits_from(disable=["nope"])))
    assert said.startswith("--disable-flow 'nope': no such flow (flows: f-app, f-app-test, ")
    assert said.endswith(" and 18 more)")  # 28 distinct flow ids in the sample: ten named
    said = _refused(Edits(edits_from(delete=["nope"]), account="Initech"))
    assert said == "--delete-connection 'nope': no such connection in Initech (connections in Initech: " \
                   "n-agent, n-ns, n-pigeon)"
    # a flow's id is no connection's
    assert "no such connection" in _refused(Edits(edits_from(delete=["gf-charges"])))


def test_an_id_in_several_accounts_or_environments_is_refused_unless_qualified():
    said = _refused(Edits(edits_from(disable=["f-orders"])))
    assert said == ("--disable-flow 'f-orders': a flow of that id is in Acme Retail production, Hooli production; "
                    "say which with --account NAME (and --env ENV)")
    said = _refused(Edits(edits_from(disable=["gf-invoices"])))
    assert said == ("--disable-flow 'gf-invoices': a flow of that id is in Globex Corporation production, "
                    "Globex Corporation sandbox; say which with --env ENV")
    done = whatif_run([SAMPLE], "default", AS_OF, Edits(edits_from(disable=["gf-invoices"]), env="sandbox"),
                      rules=[], profile="default")
    assert done.edits[0]["environment"] == "sandbox"
    done = whatif_run([SAMPLE], "default", AS_OF, Edits(edits_from(disable=["f-orders"]), account="hooli"),
                      rules=[], profile="default")
    assert done.edits[0]["account"] == "Hooli"  # the account's name in any case, when only one matches


def test_bad_qualifiers_are_refused_naming_what_there_is():
    assert _refused(Edits(edits_from(disable=["x"]), account="Nobody")).startswith(
        "--account 'Nobody': no such account in this audit (accounts: Acme Retail, Globex Corporation, Hooli, ")
    assert _refused(Edits(edits_from(disable=["x"]), account="Globex Corporation", env="qa")) == (
        "--env 'qa': no such environment in Globex Corporation (environments: production, sandbox, staging)")


def test_merging_connections_of_different_environments_is_refused():
    said = _refused(Edits(edits_from(merge=["c-ns-prod,c-ns-sb1"])))
    assert said == ("--merge-connections 'c-ns-prod,c-ns-sb1': the connections are in different environments "
                    "(c-ns-prod in Acme Retail production, c-ns-sb1 in Acme Retail sandbox); only connections of "
                    "one environment can be merged")
    said = _refused(Edits(edits_from(merge=["c-ns-prod,g-bq"])))
    assert "different environments" in said and "Globex Corporation production" in said
    said = _refused(Edits(edits_from(merge=["c-shop-us,g-ns"])))
    assert said.startswith("--merge-connections 'c-shop-us,g-ns': connection 'g-ns': a connection of that id is in ")


@pytest.mark.parametrize("kwargs, said", [
    ({}, "say what to change"),
    ({"merge": ["a"]}, "name two or more connection ids"),
    ({"merge": ["a,"]}, "name two or more connection ids"),
    ({"merge": ["a,b,a"]}, "a connection is named twice"),
    ({"disable": ["f"], "enable": ["f"]}, "--enable-flow 'f': that flow is named by --disable-flow too"),
    ({"delete": ["a"], "merge": ["b,a"]}, "--merge-connections 'a': that connection is named by --delete-connection"),
    ({"merge": ["a,b", "c,b"]}, "that connection is named by --merge-connections too"),
])
def test_edits_that_contradict_each_other_are_refused_before_anything_is_read(kwargs, said):
    with pytest.raises(AuditorError, match=said):
        edits_from(**kwargs)


# --- the command -------------------------------------------------------------------------------

GLOBEX = ["--sample", "--env", "production", "--merge-connections", "g-stripe,g-stripe-v2",
          "--disable-flow", "gf-charges", "--fail-on", "never"]


def test_the_terminal_says_each_environment_before_and_after(run_cli, tmp_path):
    out = tmp_path / "whatif.json"
    run = run_cli("whatif", *GLOBEX, "-o", out)
    assert run.exit_code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "Globex Corporation production: endpoints 6 -> 4 / 3, billable flows 4 -> 3 / 3, " \
           "trading partners 0 -> 0 / -, agents 0 -> 0 / -" in lines
    assert "Acme Retail sandbox: endpoints 2 -> 2 / 2, billable flows 2 -> 2 / 2, trading partners 0 -> 0 / -, " \
           "agents 0 -> 0 / - (unchanged)" in lines
    assert ("What if: flow gf-charges disabled in Globex Corporation production; connections g-stripe-v2 merged "
            "into g-stripe in Globex Corporation production. These are not the account's real counts.") in lines
    assert len([line for line in lines if " -> " in line]) == 11  # every environment of the sample
    results = Results.model_validate_json(out.read_bytes())
    assert results.whatif == WhatIf(edits=[
        {"kind": "disable-flow", "account": "Globex Corporation", "environment": "production", "ids": ["gf-charges"]},
        {"kind": "merge-connections", "account": "Globex Corporation", "environment": "production",
         "ids": ["g-stripe", "g-stripe-v2"]}])


def test_format_json_gives_before_after_and_entitled(run_cli, tmp_path):
    run = run_cli("whatif", *GLOBEX, "--format", "json", "-o", tmp_path / "w.json")
    assert run.exit_code == 0, run.stderr
    rows = {(r["account"], r["environment"]): r for r in json.loads(run.stdout)}
    row = rows[("Globex Corporation", "production")]
    assert (row["endpoints_before"], row["endpoints_after"], row["endpoints_entitled"]) == (6, 4, 3)
    assert (row["billable_flows_before"], row["billable_flows_after"], row["billable_flows_entitled"]) == (4, 3, 3)
    assert rows[("Initech", "production")]["endpoints_entitled"] is None


def test_errors_are_one_line_and_exit_2(run_cli, tmp_path):
    run = run_cli("whatif", "--sample", "--disable-flow", "x\x1b[31m\ny", "-o", tmp_path / "w.json")
    assert run.exit_code == 2
    assert "\x1b" not in run.stderr and run.stderr.count("\n") == 1
    assert "no such flow" in run.stderr and "\\x1b" in run.stderr
    assert not (tmp_path / "w.json").exists()
    run = run_cli("whatif", "--sample", "--disable-flow", "f-orders", "-o", tmp_path / "w.json")
    assert run.exit_code == 2 and "--account NAME" in run.stderr
    run = run_cli("whatif", "--sample", "-o", tmp_path / "w.json")
    assert run.exit_code == 2 and "say what to change" in run.stderr


def test_record_is_not_offered(run_cli, tmp_path):
    run = run_cli("whatif", "--sample", "--disable-flow", "gf-charges", "--record", "-o", tmp_path / "w.json")
    assert run.exit_code == 2 and "--record" in run.stderr


def test_exit_code_follows_the_alarms_after_the_edits(run_cli, tmp_path):
    # Globex production is over its limits before; disabling and merging leaves it over its endpoints
    run = run_cli("whatif", *GLOBEX[:-2], "--fail-on", "high", "-o", tmp_path / "w.json")
    assert run.exit_code == 1


def test_reports_say_what_if_on_top(run_cli, tmp_path):
    import openpyxl
    html, xlsx = tmp_path / "w.html", tmp_path / "w.xlsx"
    run = run_cli("whatif", *GLOBEX, "-o", tmp_path / "w.json", "--html", html, "--xlsx", xlsx)
    assert run.exit_code == 0, run.stderr
    page = html.read_text()
    banner = page.index("<strong>What if:</strong> flow gf-charges disabled in Globex Corporation production; "
                        "connections g-stripe-v2 merged into g-stripe")
    assert banner < page.index('id="overview"')
    book = openpyxl.load_workbook(xlsx)
    assert book["Summary"]["A1"].value.startswith("What if: License audit as of 2026-11-30")
    assert book["Summary"]["A2"].value.startswith("What if: flow gf-charges disabled in Globex Corporation production")
    assert book["About"]["A1"].value == "What if"
    # an audit's reports say nothing of the kind
    run = run_cli("audit", "--sample", "--fail-on", "never", "--html", tmp_path / "a.html")
    assert "What if" not in (tmp_path / "a.html").read_text()


def test_diff_of_the_audit_and_the_whatif_shows_exactly_the_changes(run_cli, tmp_path):
    audit, whatif = tmp_path / "audit.json", tmp_path / "whatif.json"
    assert run_cli("audit", "--sample", "--fail-on", "never", "-o", audit).exit_code == 0
    assert run_cli("whatif", "--sample", "--env", "production", "--disable-flow", "gf-charges",
                   "--fail-on", "never", "-o", whatif).exit_code == 0
    run = run_cli("diff", audit, whatif, "--changes-only", "--format", "json")
    assert run.exit_code == 0, run.stderr
    changes = json.loads(run.stdout)
    assert {(c["account"], c["environment"]) for c in changes} == {("Globex Corporation", "production")}
    kinds = {(c["kind"], c["change"], c["id"]) for c in changes}
    assert ("flow", "stopped being billable", "gf-charges") in kinds or any(
        k == "flow" and i == "gf-charges" for k, _, i in kinds)
    assert any(k == "usage" for k, _, _ in kinds)
    # the endpoint only gf-charges reached is no longer counted
    gone = {i for k, c, i in kinds if k == "endpoint"}
    audited_eps = {e["key"]: e for a in json.loads(audit.read_text())["accounts"] for e in a["endpoints"]
                   if a["account"] == "Globex Corporation" and e["environment"] == "production"}
    assert gone == {key for key, e in audited_eps.items() if e["flows"] == ["gf-charges"]}


# --- advice: each option applied with whatif gives exactly the saving it claims -------------------

def _advice_options() -> list[tuple[str, str, dict]]:
    done = audit_run([SAMPLE], "default", AS_OF, rules=load_rules(), profile="default")
    doc = orjson.loads(done.data)
    return [(a["account"], e["environment"], option) for a in doc["accounts"] for e in a["environments"]
            for option in ((e.get("advice") or {}).get("options") or []) if option["whatif"]]


def test_every_advice_option_applied_with_whatif_saves_exactly_what_it_claims(run_cli, tmp_path):
    options = _advice_options()
    if not options:
        pytest.skip("no advice option carries whatif arguments in this tree's results")
    assert {o["kind"] for _, _, o in options} >= {"disable-flows", "consolidate"}  # both kinds are tried
    for account, env, option in options:
        run = run_cli("whatif", "--sample", *option["whatif"], "--format", "json", "--fail-on", "never",
                      "-o", tmp_path / "w.json")
        assert run.exit_code == 0, (option["whatif"], run.stderr)
        row = next(r for r in json.loads(run.stdout) if (r["account"], r["environment"]) == (account, env))
        saved = {metric: row[f"{label}_before"] - row[f"{label}_after"]
                 for metric, label in (("flows", "billable_flows"), ("endpoints", "endpoints"),
                                       ("trading_partners", "trading_partners"), ("agents", "agents"))}
        claimed = {metric: option["saves"].get(metric, 0) for metric in saved}
        assert saved == claimed, (account, env, option["kind"], option["whatif"])
        # and nothing of any other environment changes
        others = [r for r in json.loads(run.stdout) if (r["account"], r["environment"]) != (account, env)]
        assert all(r[f"{m}_before"] == r[f"{m}_after"] for r in others
                   for m in ("billable_flows", "endpoints", "trading_partners", "agents"))


@pytest.mark.parametrize("odd", ['c"q\\uote', "c\x1b[31mred\u202e"])
def test_a_merge_repoints_a_sync_whatever_characters_its_ids_hold(tmp_path, odd):
    """An id JSON writes escaped (a quote, a backslash, a control character) is repointed in a
    sync as a plain one is (a quick look at the text missed it: the sync then reached a
    connection no longer there)."""
    snap = tmp_path / "acct"
    snap.mkdir()
    _write(snap / "connections.json", [
        {"_id": "keep", "name": "Keep", "type": "http", "http": {"baseURI": "https://a.example.com/v1"}},
        {"_id": odd, "name": "Odd", "type": "http", "http": {"baseURI": "https://b.example.com/v1"}}])
    _write(snap / "flows.json", [])
    _write(snap / "syncs.json", [{"_id": "s-1", "name": "sync", "source": {"_connectionId": odd},
                                  "destination": {"_connectionId": "keep"}}])
    done = whatif_run([snap], "default", AS_OF, Edits(edits_from(merge=[merge_group(["keep", odd])])),
                      rules=load_rules(), profile="default")
    results = _doc(done.after.data)
    assert [e["reached_by"] for e in results["accounts"][0]["endpoints"]] == [["sync:s-1"]]
    assert not [f for f in results["findings"] if f["rule"] == "missing-reference"]


@pytest.mark.parametrize("ids", [("keep", "s,v1", "s,v2"), ("a\\b", "c\\,d", "e"), ("x", "y")])
def test_a_merge_group_reads_back_the_ids_it_was_written_from(ids):
    """Advice writes --merge-connections with merge_group; whatif reads it with merge_ids: an id
    holding a comma or a backslash survives the trip (a comma split it in two before)."""
    assert merge_ids(merge_group(ids)) == ids
    assert edits_from(merge=[merge_group(ids)])[0].ids == ids
