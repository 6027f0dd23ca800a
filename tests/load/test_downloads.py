"""integrator.io's own download zips (and the same unzipped, and several of one account) audit
with the right counts, say that they are upper bounds, and list what they do not read."""

from __future__ import annotations

import json
import shutil
import warnings

import openpyxl
import pytest
from downloads import SHOPIFY, flow, items, orders, zip_download

from auditor.common.paths import sample_dir


def _endpoints(results: dict, account: str) -> dict[str, dict]:
    acct = next(a for a in results["accounts"] if a["account"] == account)
    return {e["key"]: e for e in acct["endpoints"]}


def _production(results: dict, account: str) -> dict:
    acct = next(a for a in results["accounts"] if a["account"] == account)
    return next(e for e in acct["environments"] if e["environment"] == "production")


@pytest.mark.parametrize("form", ["zip", "folder"])
def test_one_download_audits_as_one_account(tmp_path, run_cli, form):
    folder = orders(tmp_path / "src" / "orders-export")
    path = zip_download(folder, tmp_path / "orders-export.zip") if form == "zip" else folder
    run = run_cli("audit", path, "--as-of", "2026-11-30", "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    results = run.results
    assert [a["account"] for a in results["accounts"]] == ["orders-export"]  # named from the zip / folder
    prod = _production(results, "orders-export")
    assert prod["flows"]["total"] == 1 and prod["flows"]["billable"] == 1  # no `disabled`: assumed enabled
    keys = _endpoints(results, "orders-export")
    assert set(keys) == {"uri:https://acme.myshopify.com/admin/api/2024-01", "connection:5f1c0aa1b2c3d4e5f6a7b802"}
    assert keys["connection:5f1c0aa1b2c3d4e5f6a7b802"]["resolved"] is False  # no NetSuite account in a download
    assert results["accounts"][0]["from_download"] is True
    # the flow belongs to the integration in integration.json: no missing reference
    assert not [f for f in results["findings"] if f["rule"] == "missing-reference"]
    unread = {i["file"].split("/", 1)[1] for i in results["load_issues"] if i["action"] == "not read"}
    assert unread == {"scripts/", "filedefinitions/"}
    lines = run.stdout.splitlines()
    assert lines[1].startswith("Counted from integration downloads (orders-export): these counts are upper bounds")


def test_downloads_beside_an_account_file_are_one_account(tmp_path, run_cli):
    acct = tmp_path / "acme"
    orders(acct / "orders")
    zip_download(items(tmp_path / "src" / "items"), acct / "items.zip")
    (acct / "account.json").write_text(json.dumps({"name": "Acme"}))
    (acct / "licenses.json").write_text(json.dumps([{"_id": "l1", "type": "endpoint", "numEndpoints": 5, "numFlows": 9}]))
    run = run_cli("audit", acct, "--as-of", "2026-11-30", "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    results = run.results
    assert [a["account"] for a in results["accounts"]] == ["Acme"]
    prod = _production(results, "Acme")
    assert prod["flows"]["billable"] == 2 and prod["flows"]["entitled"] == 9  # the licenses beside them are read
    assert "acme/licenses.json" not in {i["file"] for i in results["load_issues"]}
    keys = _endpoints(results, "Acme")
    # the shared Shopify connection is one resource and one endpoint, reached by both flows
    shop = keys["uri:https://acme.myshopify.com/admin/api/2024-01"]
    assert shop["connections"] == [SHOPIFY["_id"]] and shop["flows"] == ["f-items", "f-orders"]
    assert len(keys) == 3 and prod["endpoints"]["used"] == 3
    assert not [i for i in results["load_issues"] if i["action"] == "skipped"]  # a shared _id is no duplicate
    files = {i["file"] for i in results["inputs"]}
    assert "acme/items.zip" in files and "acme/orders/flows/Flow_f_orders-f-orders.json" in files


def test_a_resource_that_differs_between_downloads_is_noted(tmp_path, run_cli):
    acct = tmp_path / "acme"
    orders(acct / "a-orders")
    moved = {**SHOPIFY, "http": {**SHOPIFY["http"], "baseURI": "https://other.myshopify.com/admin/api/2024-01"}}
    items(acct / "b-items", shopify=moved)
    (acct / "account.json").write_text("{}")
    results = run_cli("audit", acct, "--as-of", "2026-11-30", "--fail-on", "never").results
    notes = [i for i in results["load_issues"] if i["id"] == SHOPIFY["_id"]]
    assert len(notes) == 1 and notes[0]["action"] == "counted"
    assert notes[0]["problem"] == ("the connection differs between acme/a-orders/connections/Shopify-"
                                   f"{SHOPIFY['_id']}.json and acme/b-items/connections/Shopify-{SHOPIFY['_id']}.json;"
                                   f" the one in acme/a-orders/connections/Shopify-{SHOPIFY['_id']}.json is counted")
    assert "uri:https://acme.myshopify.com/admin/api/2024-01" in _endpoints(results, "acme")


def test_downloads_without_an_account_file_stay_separate_accounts(tmp_path, run_cli):
    orders(tmp_path / "all" / "orders")
    zip_download(items(tmp_path / "src" / "items"), tmp_path / "all" / "items.zip")
    results = run_cli("audit", tmp_path / "all", "--as-of", "2026-11-30", "--fail-on", "never").results
    assert sorted(a["account"] for a in results["accounts"]) == ["items", "orders"]


def test_a_download_file_holding_an_array_is_refused_by_name(tmp_path, run_cli):
    folder = orders(tmp_path / "orders")
    bad = next((folder / "flows").glob("*.json"))
    bad.write_text("[" + bad.read_text() + "]")
    run = run_cli("audit", folder, "--as-of", "2026-11-30")
    assert run.exit_code == 2
    assert f"orders/flows/{bad.name}: must hold one JSON object (a download holds one record a file), not an array" \
        in run.stderr


def test_downloads_and_snapshot_folders_do_not_mix(tmp_path, run_cli):
    acct = tmp_path / "acme"
    orders(acct / "orders")
    (acct / "production").mkdir()
    (acct / "production" / "flows.json").write_text("[]")
    (acct / "account.json").write_text("{}")
    run = run_cli("audit", acct, "--as-of", "2026-11-30")
    assert run.exit_code == 2 and "holds integration downloads and resources of another form (production)" in run.stderr


def test_the_reports_say_upper_bounds_first(tmp_path, run_cli):
    folder = orders(tmp_path / "orders")
    run = run_cli("audit", folder, "--as-of", "2026-11-30", "--fail-on", "never", "--html", tmp_path / "r.html",
                  "--xlsx", tmp_path / "r.xlsx")
    assert run.exit_code == 0, run.stderr
    html = (tmp_path / "r.html").read_text()
    assert html.index('class="caveat"') < html.index('id="overview"')
    assert "Counted from integration downloads (orders): these counts are upper bounds" in html
    with warnings.catch_warnings():  # openpyxl does not know the conditional-format extensions
        warnings.simplefilter("ignore")
        book = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert book["Summary"]["A3"].value.startswith("Counted from integration downloads (orders)")
    assert book["About"]["A1"].value == "Upper bounds"


def test_a_snapshot_says_nothing_of_downloads(run_cli):
    run = run_cli("audit", sample_dir() / "acme-retail", "--as-of", "2026-11-30", "--fail-on", "never")
    assert "integration downloads" not in run.stdout
    assert all("from_download" not in a for a in run.results["accounts"])


def test_the_sample_holds_a_download_and_names_only_it(run_cli):
    run = run_cli("audit", "--sample", "--fail-on", "never")
    assert "Counted from integration downloads (Hooli): these counts are upper bounds" in run.stdout
    hooli = next(a for a in run.results["accounts"] if a["account"] == "Hooli")
    assert hooli["from_download"] is True and [a for a in run.results["accounts"] if a.get("from_download")] == [hooli]
    prod = _production(run.results, "Hooli")
    assert prod["flows"]["billable"] == 2 and prod["endpoints"]["used"] == 3 and prod["endpoints"]["entitled"] == 5


def test_a_link_stored_in_a_zipped_download_is_listed_not_unpacked(tmp_path, run_cli):
    import stat
    import zipfile
    acct = tmp_path / "acme"
    acct.mkdir()
    (acct / "account.json").write_text("{}")
    zipped = zip_download(orders(tmp_path / "src"), acct / "orders.zip")
    with zipfile.ZipFile(zipped, "a") as archive:
        link = zipfile.ZipInfo("flows/evil.json")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    results = run_cli("audit", acct, "--as-of", "2026-11-30", "--fail-on", "never").results
    noted = {i["file"]: i["problem"] for i in results["load_issues"]}
    assert noted["acme/orders.zip/flows/evil.json"] == "not read: a symbolic link stored in the zip"
    assert _production(results, "acme")["flows"]["total"] == 1


def test_an_integration_json_of_the_wrong_shape_is_listed_and_its_flows_stand_alone(tmp_path, run_cli):
    folder = orders(tmp_path / "orders")
    (folder / "integration.json").write_text(json.dumps({"_id": 42, "name": "Orders"}))
    results = run_cli("audit", folder, "--as-of", "2026-11-30", "--fail-on", "never").results
    assert any(i["file"] == "orders/integration.json" and i["action"] == "skipped" for i in results["load_issues"])
    assert _production(results, "orders")["flows"]["billable"] == 1
    assert not [f for f in results["findings"] if f["rule"] == "missing-reference"]
    (folder / "integration.json").write_text("[]")
    run = run_cli("audit", folder, "--as-of", "2026-11-30")
    assert run.exit_code == 2 and "orders/integration.json: must hold one JSON object" in run.stderr


def test_other_zips_beside_the_downloads_are_left_unopened_and_listed(tmp_path, run_cli):
    import zipfile
    acct = tmp_path / "acme"
    orders(acct / "orders")
    (acct / "account.json").write_text("{}")
    with zipfile.ZipFile(acct / "backup.zip", "w") as archive:
        archive.writestr("notes.txt", "not a download")
    (acct / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
    run = run_cli("audit", acct, "--as-of", "2026-11-30", "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    unread = {i["file"] for i in run.results["load_issues"] if i["action"] == "not read"}
    assert {"acme/backup.zip", "acme/broken.zip"} <= unread
    assert _production(run.results, "acme")["flows"]["billable"] == 1


def _caveat(run) -> str:
    return next((line for line in run.stdout.splitlines() if line.startswith("Counted from integration downloads")),
                "")


def test_the_caveat_is_computed_from_what_was_read(tmp_path, run_cli):
    """The upper-bounds banner says, in numbers read, what the download left out; a download that
    left nothing out gets none, and one without connections/ says its connections are missing
    (it said 'upper bounds' over a count of 0 endpoints)."""
    from downloads import write_download
    plain = orders(tmp_path / "plain")
    run = run_cli("audit", plain, "--as-of", "2026-11-30", "--fail-on", "never")
    said = _caveat(run)
    assert "1 of 1 flow says nothing of whether it is enabled" in said
    assert "1 of 2 endpoints is a connection whose identity" in said and "not in the download" not in said
    assert run.results["accounts"][0]["upper_bounds"] == {"flows": 1, "flows_unstated": 1, "endpoints": 2,
                                                          "endpoints_unresolved": 1, "connections_missing": 0}

    lacking = tmp_path / "lacking"
    shutil.copytree(plain, lacking)
    shutil.rmtree(lacking / "connections")
    run = run_cli("audit", lacking, "--as-of", "2026-11-30", "--fail-on", "never")
    assert "2 connections the flows reach are not in the download" in _caveat(run)
    assert "whose identity" not in _caveat(run)  # the same two endpoints: said once
    assert _production(run.results, "lacking")["endpoints"]["used"] == 2

    whole = write_download(
        tmp_path / "whole", {"_id": "6a000000000000000000a009", "name": "Whole"},
        connections=[SHOPIFY, {**SHOPIFY, "_id": "5f1c0aa1b2c3d4e5f6a7b899", "name": "Other shop",
                               "http": {**SHOPIFY["http"], "baseURI": "https://other.myshopify.com/admin/api/2024-01"}}],
        exports=[{"_id": "e1", "name": "Get", "_connectionId": SHOPIFY["_id"], "adaptorType": "HTTPExport"}],
        imports=[{"_id": "i1", "name": "Put", "_connectionId": "5f1c0aa1b2c3d4e5f6a7b899",
                  "adaptorType": "HTTPImport"}],
        flows=[{**flow("f1", "e1", "i1"), "disabled": False}])
    run = run_cli("audit", whole, "--as-of", "2026-11-30", "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    assert _caveat(run) == "" and "upper bounds" not in run.stdout
    assert run.results["accounts"][0]["upper_bounds"]["flows_unstated"] == 0
