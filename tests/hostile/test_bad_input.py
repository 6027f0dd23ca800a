"""Bad input: one line naming the file and the position, exit 2; bad records listed, never lost."""

from __future__ import annotations

import gzip
import json

import pytest
from conftest import account, flow, write_snapshot

NS = {"_id": "ns", "type": "netsuite", "netsuite": {"account": "1"}}


def one_line_error(run, *needles):
    assert run.exit_code == 2, (run.exit_code, run.stdout, run.stderr)
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert "Traceback" not in run.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("name,body,needles", [
    ("flows.json", '[{"_id": "a"},\n {"_id": oops}]', ["flows.json", "line 2, column 10"]),
    ("flows.json", '{"_id": "a"}', ["flows.json", "must hold a JSON array"]),
    ("flows.json", '[{"_id": "a"}', ["flows.json", "not valid JSON"]),
    ("flows.ndjson", '{"_id": "a"}\n{"_id": "b"\n', ["flows.ndjson", "line 2"]),
    ("connections.json", "[1, 2", ["connections.json", "not valid JSON"]),
])
def test_unreadable_files_stop_the_run(tmp_path, run_cli, read_path, name, body, needles):
    snap = write_snapshot(tmp_path / "acct", exports=[])
    (snap / name).write_text(body)
    one_line_error(run_cli("audit", snap), *needles)
    assert not (tmp_path / "results-0.json").exists()  # no partial report


def test_unreadable_gzip(tmp_path, run_cli, read_path):
    snap = write_snapshot(tmp_path / "acct", exports=[])
    (snap / "flows.json.gz").write_bytes(b"not gzip at all")
    one_line_error(run_cli("audit", snap), "flows.json.gz")


def test_bad_records_are_skipped_and_listed_with_their_position(tmp_path, run_cli, read_path):
    flows = [
        flow("ok", exports=["e-ns"]),
        flow("yes", exports=["e-ns"], disabled="yes"),
        {"name": "no id"},
        flow("ok", exports=["e-ns"]),
        {"_id": 42},
        "not a record",
        flow("free-str", exports=["e-ns"], free="true"),
        flow("pg-obj", pageGenerators={"_exportId": "e-ns"}),
        flow("fine", exports=["e-ns"]),
    ]
    run = run_cli("audit", account(tmp_path, [NS, {"_id": "c2", "type": "http", "http": "x"}], flows))
    assert run.exit_code == 0, run.stderr
    issues = [(i["record"], i["id"], i["problem"]) for i in run.results["load_issues"] if i["file"].endswith("flows.json")]
    assert issues == [
        (1, "yes", "flow disabled must be true or false, not a string"),
        (2, None, "flow has no _id"),
        (3, "ok", "flow has the same _id as record 0 of acct/flows.json"),
        (4, None, "flow _id must be a string, not a number"),
        (5, None, "flow is not a JSON object"),
        (6, "free-str", "flow free must be true or false, not a string"),
        (7, "pg-obj", "flow pageGenerators must be an array, not an object"),
    ]
    conn_issue = [i for i in run.results["load_issues"] if i["file"].endswith("connections.json")]
    assert conn_issue[0]["problem"] == "connection http must be an object, not a string"
    # every record read is counted or listed: 9 read, 2 counted, 7 skipped
    env = run.results["accounts"][0]["environments"][0]
    assert env["flows"]["total"] == 2
    assert "8 records skipped" in run.stdout and "1 flow has no _id" in run.stdout
    assert "1 flow has the same _id;" in run.stdout  # grouped by kind, not by which record


def test_bad_records_in_a_gzip_ndjson_file(tmp_path, run_cli, read_path):
    snap = write_snapshot(tmp_path / "acct", connections=[NS])
    with gzip.open(snap / "flows.ndjson.gz", "wt") as fh:
        for rec in [flow("a"), {"_id": "b", "disabled": 1}, flow("c")]:
            fh.write(json.dumps(rec) + "\n")
    run = run_cli("audit", snap)
    assert [(i["file"], i["record"], i["problem"]) for i in run.results["load_issues"]] == [
        ("acct/flows.ndjson.gz", 1, "flow disabled must be true or false, not a number")]


def test_a_resource_given_twice_is_an_error(tmp_path, run_cli):
    snap = write_snapshot(tmp_path / "acct", flows=[])
    (snap / "flows.ndjson").write_text("")
    one_line_error(run_cli("audit", snap), "flows is given more than once")


def test_bad_account_file(tmp_path, run_cli):
    snap = write_snapshot(tmp_path / "acct", flows=[], account={"licenseModel": "hybrid"})
    one_line_error(run_cli("audit", snap), "account.json", "licenseModel")
    (snap / "account.json").write_text('{"name": ')
    one_line_error(run_cli("audit", snap), "account.json", "not valid JSON")


def test_bad_license_file(tmp_path, run_cli):
    snap = write_snapshot(tmp_path / "acct", flows=[])
    (snap / "licenses.json").write_text('{"type": "endpoint"}')
    one_line_error(run_cli("audit", snap), "licenses.json", "array")
    (snap / "licenses.json").write_text('[{"_id": "l1"}, 7, {"_id": "l2", "type": "endpoint"}]')
    run = run_cli("audit", snap)
    assert [(i["record"], i["problem"]) for i in run.results["load_issues"]] == [
        (0, "license has no type"), (1, "license is not a JSON object")]


@pytest.mark.parametrize("args,needle", [
    (["audit"], "name at least one snapshot"),
    (["audit", "/no/such/place"], "/no/such/place: no such file or folder"),
    (["audit", "--sample", "--as-of", "30/11/2026"], "is not a date"),
    (["audit", "--sample", "--fail-on", "severe"], "severe"),
    (["flows", "--sample", "--format", "xml"], "xml"),
])
def test_bad_usage(run_cli, args, needle):
    run = run_cli(*args, output=False)
    assert run.exit_code == 2 and needle in run.stderr and "Traceback" not in run.stderr


def test_not_a_snapshot(tmp_path, run_cli):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hello")
    one_line_error(run_cli("audit", tmp_path / "empty"), "not a snapshot")
    bad_zip = tmp_path / "x.zip"
    bad_zip.write_bytes(b"PK nonsense")
    one_line_error(run_cli("audit", bad_zip), "x.zip", "not a readable zip")


def test_unwritable_results_file(tmp_path, run_cli):
    run = run_cli("audit", "--sample", "-o", tmp_path / "missing-dir" / "r.json")
    one_line_error(run, "its folder", "missing-dir does not exist")


@pytest.mark.parametrize("option", ["--html", "--xlsx", "--metrics"])
def test_an_output_without_a_folder_is_refused_before_the_audit_is_recorded(tmp_path, run_cli, option):
    """A report or the metrics that cannot be written is said before anything is written: it
    failed after the history had recorded the audit, with exit 2, which says 'not recorded'."""
    history = tmp_path / "h.sqlite"
    run = run_cli("audit", "--sample", "--fail-on", "never", "--record", "--history", history,
                  option, tmp_path / "missing-dir" / "out.x")
    one_line_error(run, option, "missing-dir does not exist")
    assert not history.exists()


def test_a_bad_file_among_many_is_the_one_named(tmp_path, run_cli, read_path):
    for n in range(6):
        account(tmp_path / "all", [NS], [flow(f"f{n}", exports=["e-ns"])], name=f"acct{n}")
    (tmp_path / "all" / "acct3" / "flows.json").write_text('[{"_id": "x", "disabled": tru}]')
    one_line_error(run_cli("audit", tmp_path / "all"), "all/acct3/flows.json", "line 1")


def test_a_record_that_is_not_an_object_does_not_disturb_other_accounts(tmp_path, run_cli, read_path):
    for n in range(4):
        account(tmp_path / "all", [NS], [flow(f"f{n}", exports=["e-ns"]), flow(f"g{n}", exports=["e-ns"])],
                name=f"acct{n}")
    (tmp_path / "all" / "acct2" / "flows.json").write_text(json.dumps([flow("f2", exports=["e-ns"]), [1, 2], "x"]))
    run = run_cli("audit", tmp_path / "all")
    assert run.exit_code == 0, run.stderr
    assert [(i["file"], i["record"], i["problem"]) for i in run.results["load_issues"]] == [
        ("all/acct2/flows.json", 1, "flow is not a JSON object"), ("all/acct2/flows.json", 2, "flow is not a JSON object")]
    billable = {a["account"]: a["environments"][0]["flows"]["billable"] for a in run.results["accounts"]}
    assert billable == {"acct0": 2, "acct1": 2, "acct2": 1, "acct3": 2}


@pytest.mark.parametrize("body,needle", [
    ('[{"_id": "a", "n": NaN}]', "line 1, column 20"),
    ('[{"_id": "a", "n": -Infinity}]', "line 1, column 21"),
    ('[{"_id": "a"}],"x":0', "line 1, column 15"),
    ('[{"_id": "a"},]', "trailing comma"),
    ("null", "not null"),
])
def test_what_strict_json_refuses_is_refused_both_ways_files_are_read(tmp_path, run_cli, read_path, body, needle):
    """Small files are checked as they are packed; big ones are read by DuckDB, which accepts
    NaN and Infinity: both ways refuse them (the read_path fixture runs each)."""
    snap = write_snapshot(tmp_path / "acct", exports=[])
    (snap / "flows.json").write_text(body)
    one_line_error(run_cli("audit", snap), "flows.json", needle)
    assert not (tmp_path / "results-0.json").exists()
