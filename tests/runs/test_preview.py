"""The migration preview (`auditor audit --preview-migration`): a legacy account audited as it would
stand on the multi-environment license equals the same account split by hand into isolated
environment folders and audited; the preview says how it differs from today, on what assumptions."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import orjson
import pytest

from auditor.common.paths import sample_dir
from auditor.runs.account import audit_snapshots, finish
from auditor.runs.preview import preview_run, split_records
from auditor.synth import generate

AS_OF = date(2026, 11, 30)
LEGACY_SAMPLES = ("acme-retail", "initech", "umbrella-health")


def _refs(flow: dict) -> set[str]:
    """What a flow names, by the fields the sample and the generator use."""
    steps = [*flow.get("pageGenerators", []), *flow.get("pageProcessors", [])]
    for router in flow.get("routers", []):
        for branch in router.get("branches", []):
            steps += branch.get("pageProcessors", [])
    out = {s.get(k) for s in steps for k in ("_exportId", "_importId")}
    out |= {flow.get(k) for k in ("_exportId", "_importId", "_integrationId")}
    return {r for r in out if r}


def hand_split(folder: Path, out: Path) -> Path:
    """Split a legacy snapshot by hand: a flow and its jobs where the flow's flag says; an export,
    import or integration where its own flag says and in each environment whose flows name it; a
    connection where its flag says and where an export or import so placed names it."""
    records: dict[str, list] = {}
    for name in ("connections", "exports", "imports", "integrations", "flows", "jobs"):
        seen: set = set()  # sub-folders of one legacy account hold one resource once: the first read
        for f in [folder / f"{name}.json", *sorted(folder.glob(f"*/{name}.json"))]:
            if f.is_file():
                recs = json.loads(f.read_text())
                records.setdefault(name, []).extend(r for r in recs if not isinstance(r, dict) or r.get("_id") is None
                                                    or r["_id"] not in seen)
                seen |= {r.get("_id") for r in recs if isinstance(r, dict)}

    def flag(rec) -> str:
        return "sandbox" if isinstance(rec, dict) and rec.get("sandbox") is True else "production"

    named = {"production": set(), "sandbox": set()}
    for fl in records.get("flows", []):
        if isinstance(fl, dict):
            named[flag(fl)] |= _refs(fl)
    for env in named:
        for kind in ("exports", "imports"):
            for rec in records.get(kind, []):
                if isinstance(rec, dict) and rec.get("_id") in named[env]:
                    named[env].add(rec.get("_connectionId"))
    flow_env = {fl.get("_id"): flag(fl) for fl in records.get("flows", []) if isinstance(fl, dict)}
    root = out / folder.name
    for env in ("production", "sandbox"):
        (root / env).mkdir(parents=True)
        for name, recs in records.items():
            if name == "flows":
                mine = [r for r in recs if flag(r) == env]
            elif name == "jobs":
                mine = [r for r in recs if flow_env.get(r.get("_flowId"), "production") == env]
            else:
                mine = [r for r in recs if flag(r) == env or (isinstance(r, dict) and r.get("_id") in named[env])]
            (root / env / f"{name}.json").write_text(json.dumps(mine))
    account = json.loads((folder / "account.json").read_text()) if (folder / "account.json").is_file() else {}
    name = account.get("name", folder.name)
    (root / "account.json").write_text(json.dumps({"name": name, "licenseModel": "multi-environment"}))
    lic = folder / "licenses.json"
    if lic.is_file():
        (root / "licenses.json").write_text(lic.read_text())
    return root


# what the preview takes from the snapshot as given, not from the split: what was read, and what
# was skipped or noted while reading it (the split holds the same records, at other places)
AS_GIVEN = ("migration_preview", "inputs", "load_issues")


def _doc(run) -> dict:
    doc = orjson.loads(run.data)
    return {k: v for k, v in doc.items() if k not in AS_GIVEN}


def _preview(folder: Path) -> dict:
    return orjson.loads(preview_run([folder], "default", AS_OF, rules=None, profile="default").data)


def _hand(folder: Path, tmp: Path) -> dict:
    return _doc(finish(audit_snapshots([hand_split(folder, tmp)], "default", AS_OF), "default"))


@pytest.mark.parametrize("name", LEGACY_SAMPLES)
def test_the_preview_equals_the_hand_split_audit_of_each_legacy_sample(name, tmp_path):
    preview = _preview(sample_dir() / name)
    assert {k: v for k, v in preview.items() if k not in AS_GIVEN} == _hand(sample_dir() / name, tmp_path)
    today = orjson.loads(finish(audit_snapshots([sample_dir() / name], "default", AS_OF), "default").data)
    assert preview["load_issues"] == today["load_issues"]  # named as the snapshot names them
    account = preview["accounts"][0]
    assert account["license_model"] == "multi-environment"
    assert [e["environment"] for e in account["environments"]] == ["production", "sandbox"]
    # what was read is the snapshot as given, not the split
    assert {i["file"].split("/")[0] for i in preview["inputs"]} == {name}


def test_the_preview_equals_the_hand_split_audit_of_generated_legacy_accounts(tmp_path):
    generate(tmp_path / "gen", accounts=4, flows_per_account=40, connections_per_account=10, seed=7)
    for folder in sorted(p for p in (tmp_path / "gen").iterdir() if p.is_dir()):
        preview = _preview(folder)
        assert {k: v for k, v in preview.items() if k not in AS_GIVEN} == _hand(
            folder, tmp_path / "hand" / folder.name), folder.name


def test_a_resource_both_environments_use_is_copied_into_each_and_counts_in_each(tmp_path):
    snap = tmp_path / "acct"
    snap.mkdir()
    conns = [{"_id": "c-shared", "name": "Shop", "type": "http", "http": {"baseURI": "https://shop.example.com"}},
             {"_id": "c-sb", "name": "SB DB", "sandbox": True, "type": "rdbms",
              "rdbms": {"type": "postgresql", "host": "db.test", "database": "x"}},
             {"_id": "c-idle", "name": "Idle", "type": "http", "http": {"baseURI": "https://idle.example.com"}}]
    exports = [{"_id": "e-shop", "name": "Orders", "_connectionId": "c-shared", "adaptorType": "HTTPExport"}]
    imports = [{"_id": "i-db", "name": "DB", "_connectionId": "c-sb", "sandbox": True, "adaptorType": "RDBMSImport"}]
    flows = [{"_id": "f-prod", "name": "Prod", "disabled": False, "pageGenerators": [{"_exportId": "e-shop"}]},
             {"_id": "f-sb", "name": "Sandbox", "disabled": False, "sandbox": True,
              "pageGenerators": [{"_exportId": "e-shop"}], "pageProcessors": [{"type": "import", "_importId": "i-db"}]}]
    for name, recs in (("connections", conns), ("exports", exports), ("imports", imports), ("flows", flows)):
        (snap / f"{name}.json").write_text(json.dumps(recs))
    parts, copied = split_records({"connections": conns, "exports": exports, "imports": imports, "flows": flows})
    assert {r["_id"] for _, r in copied} == {"c-shared", "e-shop"}
    assert [c["_id"] for c in parts["sandbox"]["connections"]] == ["c-shared", "c-sb"]
    assert [c["_id"] for c in parts["production"]["connections"]] == ["c-shared", "c-idle"]
    preview = _preview(snap)
    section = preview["migration_preview"]["accounts"][0]
    assert [(r["type"], r["id"]) for r in section["copied"]] == [("connection", "c-shared"), ("export", "e-shop")]
    envs = {e["environment"]: {m["metric"]: m for m in e["metrics"]} for e in section["environments"]}
    assert envs["sandbox"]["endpoints"]["after"] == 2 and envs["production"]["endpoints"]["after"] == 1
    assert envs["production"]["flows"]["today"] == 1 and envs["production"]["flows"]["after"] == 1
    assert preview["migration_preview"]["assumptions"]


def test_a_legacy_sub_folder_of_duplicates_is_read_as_the_audit_reads_it(tmp_path):
    """Initech keeps production/ and sandbox/ sub-folders of one legacy account: merged by _id."""
    preview = _preview(sample_dir() / "initech")
    section = preview["migration_preview"]["accounts"][0]
    assert section["previewed"] and {r["type"] for r in section["copied"]} <= {"connection", "export"}


def test_the_cli_says_today_and_after_per_environment_and_writes_reports(run_cli, tmp_path):
    run = run_cli("audit", "--sample", "--fail-on", "never", "--preview-migration", "--html", tmp_path / "p.html",
                  "--xlsx", tmp_path / "p.xlsx")
    assert run.exit_code == 0, run.stderr
    err = run.stdout + run.stderr
    assert "Migration preview (multi-environment license), today -> after:" in err
    assert "Acme Retail production: billable flows 6 -> 6 / 10 (stays within)" in err
    assert "Globex Corporation: not previewed: on the multi-environment license already" in err
    assert "Hooli: not previewed: read from integration downloads" in err
    assert "Assumptions: Resources flagged sandbox: true" in err
    results = run.results
    assert results["migration_preview"]["accounts"][0]["account"] == "Acme Retail"
    assert {a["account"]: a["license_model"] for a in results["accounts"]}["Initech"] == "multi-environment"
    html = (tmp_path / "p.html").read_text()
    assert 'id="migration"' in html and "Migration preview." in html and "stays over" in html
    import openpyxl
    sheet = openpyxl.load_workbook(tmp_path / "p.xlsx")["Migration preview"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:7] == ("account", "environment", "metric", "today", "after", "entitled", "change")
    assert ("Acme Retail", "production", "trading partners", 1, 1, 0, "stays over") in [r[:7] for r in rows]
    assert any(r[0] == "Assumed:" for r in rows)


def test_a_preview_is_never_recorded(run_cli, tmp_path):
    run = run_cli("audit", "--sample", "--preview-migration", "--record", "--history", tmp_path / "h.sqlite")
    assert run.exit_code == 2 and "--preview-migration" in run.stderr and not (tmp_path / "h.sqlite").exists()


def test_a_hostile_copied_name_is_escaped(tmp_path):
    snap = tmp_path / "acct"
    snap.mkdir()
    conns = [{"_id": "c1", "name": "<script>alert(1)</script>\x1b[31m", "type": "http",
              "http": {"baseURI": "https://a.example.com"}}]
    exports = [{"_id": "e1", "name": "=cmd|' /C calc'!A0", "_connectionId": "c1"}]
    flows = [{"_id": "f1", "name": "p", "disabled": False, "pageGenerators": [{"_exportId": "e1"}]},
             {"_id": "f2", "name": "s", "disabled": False, "sandbox": True, "pageGenerators": [{"_exportId": "e1"}]}]
    for name, recs in (("connections", conns), ("exports", exports), ("flows", flows)):
        (snap / f"{name}.json").write_text(json.dumps(recs))
    from auditor.cli.render import preview_lines
    from auditor.report import Outputs, write_reports
    run = preview_run([snap], "default", AS_OF, rules=None, profile="default", read_back=True)
    assert all("\x1b" not in line for line in preview_lines(run.results["migration_preview"]))
    list(write_reports(run.results, Outputs(html=tmp_path / "r.html"), None))
    assert "<script>alert" not in (tmp_path / "r.html").read_text()


def test_an_audit_log_entry_goes_with_its_resource(tmp_path):
    snap = tmp_path / "acct"
    snap.mkdir()
    conns = [{"_id": "c-sb", "name": "SB", "sandbox": True, "type": "http", "http": {"baseURI": "https://s.example.com"}}]
    exports = [{"_id": "e-sb", "name": "E", "sandbox": True, "_connectionId": "c-sb"}]
    flows = [{"_id": "f-sb", "name": "F", "sandbox": True, "disabled": False, "pageGenerators": [{"_exportId": "e-sb"}]}]
    log = [{"_id": "a1", "time": "2026-11-03T10:00:00Z", "resourceType": "flow", "_resourceId": "f-sb", "event": "update",
            "fieldChange": {"fieldPath": "disabled", "oldValue": True, "newValue": False}},
           {"_id": "a2", "time": "2026-11-03T10:00:00Z", "resourceType": "connection", "_resourceId": "c-sb",
            "event": "create"},
           {"_id": "a3", "time": "2026-11-03T10:00:00Z", "resourceType": "connection", "_resourceId": "gone",
            "event": "delete"}]
    for name, recs in (("connections", conns), ("exports", exports), ("flows", flows), ("audit", log)):
        (snap / f"{name}.json").write_text(json.dumps(recs))
    entries = {e["id"]: (e["environment"], e["exists"]) for e in _preview(snap)["audit_log"]}
    assert entries == {"a1": ("sandbox", True), "a2": ("sandbox", True), "a3": ("production", False)}


def test_a_preview_is_given_to_no_monitor_and_told_to_no_chat(run_cli, tmp_path, monkeypatch):
    run = run_cli("audit", sample_dir() / "acme-retail", "--preview-migration", "--metrics", tmp_path / "m.prom")
    assert run.exit_code == 2 and "--metrics" in run.stderr and not (tmp_path / "m.prom").exists()
    monkeypatch.setenv("AUDITOR_NOTIFY_URL", "http://127.0.0.1:9/hook-secret")  # nothing listens: no post tried
    run = run_cli("audit", sample_dir() / "acme-retail", "--preview-migration", "--notify-always", "--fail-on", "never")
    said = run.stdout + run.stderr
    assert run.exit_code == 0 and "Not posted to the webhook: a migration preview" in said
    assert "could not be reached" not in said and "hook-secret" not in said
