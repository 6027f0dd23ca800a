"""Snapshot layouts: legacy and multi-environment accounts, file formats, zips, many accounts."""

from __future__ import annotations

import gzip
import json
import shutil
import zipfile

from conftest import account, flow, write_snapshot

NS = {"_id": "ns", "type": "netsuite", "netsuite": {"account": "1"}}
SB = {"_id": "nssb", "type": "netsuite", "sandbox": True, "netsuite": {"account": "1_SB1"}}


def envs_of(run, acct=0):
    return {e["environment"]: e for e in run.results["accounts"][acct]["environments"]}


def test_legacy_environments_come_from_the_sandbox_flag(tmp_path, run_cli):
    snap = account(tmp_path, [NS, SB], [flow("p", exports=["e-ns"]), flow("s", exports=["e-nssb"], sandbox=True),
                                        flow("p2", exports=["e-ns"], sandbox=False)])
    run = run_cli("audit", snap)
    envs = envs_of(run)
    assert run.results["accounts"][0]["license_model"] == "legacy"
    assert list(envs) == ["production", "sandbox"]
    assert envs["production"]["flows"]["billable"] == 2 and envs["sandbox"]["flows"]["billable"] == 1
    assert envs["sandbox"]["endpoints"]["used"] == 1 and envs["production"]["endpoints"]["used"] == 1


def test_legacy_subfolders_share_resources(tmp_path, run_cli):
    root = tmp_path / "legacy"
    write_snapshot(root, account={"licenseModel": "legacy"})
    exp = {"_id": "e", "_connectionId": "ns"}
    write_snapshot(root / "production", connections=[NS], exports=[exp], flows=[flow("f", exports=["e"])])
    write_snapshot(root / "sandbox", connections=[NS, SB], exports=[exp, {"_id": "esb", "_connectionId": "nssb", "sandbox": True}],
                   flows=[flow("f", exports=["e"]), flow("fs", exports=["esb"], sandbox=True)])
    run = run_cli("audit", root)
    envs = envs_of(run)
    assert envs["production"]["flows"]["total"] == 1  # "f" is in both folders: one resource
    assert envs["sandbox"]["flows"]["total"] == 1
    assert run.results["load_issues"] == []  # a shared resource is not a duplicate
    assert run.results["accounts"][0]["account"] == "legacy"  # the folder name without account.json's name


def test_multi_environment_accounts_keep_environments_apart(tmp_path, run_cli):
    root = tmp_path / "multi"
    write_snapshot(root, account={"name": "Multi Co", "environments": {"staging": "sandbox"}},
                   licenses=[{"_id": "l", "type": "endpoint", "numFlows": 5, "numSandboxFlows": 3}])
    same = dict(connections=[NS], exports=[{"_id": "e", "_connectionId": "ns"}], flows=[flow("f", exports=["e"])])
    for env in ("production", "sandbox", "staging", "qa"):
        write_snapshot(root / env, **same)
    run = run_cli("audit", root)
    assert run.results["accounts"][0]["license_model"] == "multi-environment"
    envs = envs_of(run)
    assert list(envs) == ["production", "sandbox", "qa", "staging"]
    assert all(e["flows"]["billable"] == 1 and e["endpoints"]["used"] == 1 for e in envs.values())
    assert envs["production"]["flows"]["entitled"] == 5
    assert envs["staging"]["flows"]["entitled"] == 3 and envs["staging"]["pool"] == "sandbox"
    # an environment no license names has production's entitlements (help center 31566861433627)
    assert envs["qa"]["flows"]["entitled"] == 5 and envs["qa"]["pool"] == "production"


def test_every_file_format_is_read_as_one(tmp_path, run_cli, read_path):
    root = tmp_path / "formats"
    root.mkdir()
    (root / "connections.ndjson").write_text("\n".join(json.dumps(c) for c in [NS, SB]) + "\n")
    with gzip.open(root / "exports.json.gz", "wt") as fh:
        json.dump([{"_id": "e", "_connectionId": "ns"}, {"_id": "esb", "_connectionId": "nssb"}], fh)
    with gzip.open(root / "imports.jsonl.gz", "wt") as fh:
        fh.write(json.dumps({"_id": "i", "_connectionId": "ns"}) + "\n\n")
    pages = root / "flows"
    pages.mkdir()
    for n in (1, 2, 10):  # page-10 comes after page-2
        (pages / f"page-{n}.json").write_text(json.dumps([flow(f"f{n}", exports=["e"], imports=["i"])]))
    for n in range(4, 10):
        (pages / f"page-{n}.json").write_text("[]")
    (pages / "page-3.ndjson").write_text(json.dumps(flow("f3", exports=["esb"])) + "\n")
    (pages / "page-11.json").write_text("[]")
    (root / "integrations.json").write_text("")  # an empty body, as a 204 gives
    run = run_cli("audit", root)
    assert run.exit_code == 0, run.stderr
    assert sorted(f["id"] for f in run.results["accounts"][0]["flows"]) == ["f1", "f10", "f2", "f3"]
    assert envs_of(run)["production"]["endpoints"]["used"] == 2


def test_positions_in_paged_files_name_the_page(tmp_path, run_cli, read_path):
    root = tmp_path / "paged"
    pages = root / "flows"
    pages.mkdir(parents=True)
    (pages / "1.json").write_text(json.dumps([flow(f"a{i}") for i in range(50)]))
    (pages / "2.json").write_text(json.dumps([flow(f"b{i}") for i in range(7)] + [{"name": "no id"}]))
    run = run_cli("audit", root)
    issue, = run.results["load_issues"]
    assert (issue["file"], issue["record"], issue["problem"]) == ("paged/flows/2.json", 7, "flow has no _id")


def test_a_key_first_seen_late_in_a_big_file_is_read(tmp_path, run_cli, read_path):
    flows = [flow(f"f{i:05d}", exports=["e-ns"]) for i in range(30_000)]
    for f in flows[28_000:28_010]:
        f["free"] = True
    flows[29_000]["disabled"] = True
    flows[28_500]["free"] = "yes"  # a bad record deep in the file: its position must be exact
    run = run_cli("audit", account(tmp_path, [NS], flows))
    env = envs_of(run)["production"]
    assert (env["flows"]["total"], env["flows"]["enabled"], env["flows"]["billable"]) == (29_999, 29_998, 29_988)
    assert [(i["record"], i["id"]) for i in run.results["load_issues"]] == [(28_500, "f28500")]


def test_zip_snapshots_and_folders_of_snapshots(tmp_path, run_cli):
    a = account(tmp_path / "all", [NS], [flow("f", exports=["e-ns"])], name="alpha")
    b = account(tmp_path / "all", [NS], [flow("g", exports=["e-ns"]), flow("h", exports=["e-ns"])], name="beta")
    archive = tmp_path / "gamma.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in b.iterdir():
            z.write(p, f"gamma/{p.name}")  # a zip of a folder
    run = run_cli("audit", tmp_path / "all", archive)
    assert run.exit_code == 0, run.stderr
    names = [acct["account"] for acct in run.results["accounts"]]
    assert names == ["alpha", "beta", "gamma"]
    assert [e["flows"]["billable"] for acct in run.results["accounts"] for e in acct["environments"]
            if e["environment"] == "production"] == [1, 2, 2]
    # the summary has a row per account and environment
    assert sum(line.split()[0] in names for line in run.stdout.splitlines()) == 6
    # the same accounts given one by one
    again = run_cli("audit", a, b, archive)
    assert [x["account"] for x in again.results["accounts"]] == names


def test_same_account_name_twice_is_an_error(tmp_path, run_cli):
    a = account(tmp_path / "one", [NS], [], name="acme")
    b = account(tmp_path / "two", [NS], [], name="acme")
    run = run_cli("audit", a, b)
    assert run.exit_code == 2 and "account name 'acme'" in run.stderr


def test_results_are_deterministic_and_order_free(tmp_path, run_cli):
    a = account(tmp_path / "all", [NS, SB], [flow("f", exports=["e-ns"]), flow("s", exports=["e-nssb"], sandbox=True)], name="a")
    b = account(tmp_path / "all", [NS], [flow("g", exports=["e-ns"])], name="b")
    first = run_cli("audit", a, b, "--as-of", "2026-11-30", "-o", tmp_path / "1.json")
    run_cli("audit", b, a, "--as-of", "2026-11-30", "-o", tmp_path / "2.json")
    assert (tmp_path / "1.json").read_bytes() == (tmp_path / "2.json").read_bytes()
    assert first.results["as_of"] == "2026-11-30"
    shutil.rmtree(tmp_path / "all")
