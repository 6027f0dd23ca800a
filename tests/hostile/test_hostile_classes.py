"""Classes of hostile input outside a snapshot's resource files: results files from elsewhere,
human-written YAML, billing exports, partner snapshots, names printed to a terminal."""

from __future__ import annotations

import json
import shutil
import warnings

import openpyxl
import pytest

from auditor.common.paths import partner_sample_dir


@pytest.fixture(scope="module")
def results_file(tmp_path_factory):
    from click.testing import CliRunner

    from auditor.cli import cli

    out = tmp_path_factory.mktemp("results") / "results.json"
    run = CliRunner().invoke(cli, ["audit", "--sample", "--fail-on", "never", "-o", str(out)])
    assert run.exit_code == 0, run.stderr
    return json.loads(out.read_text())


def _spoil(results: dict, change) -> dict:
    doc = json.loads(json.dumps(results))
    change(doc)
    return doc


SPOILED = [
    (lambda d: d["accounts"][0].pop("environments"), "accounts[0].environments: Field required"),
    (lambda d: d["accounts"][1]["flows"][0].update(enabled="yes"), "accounts[1].flows[0].enabled"),
    (lambda d: d["accounts"][0]["environments"][0]["flows"].update(billable="3"), "environments[0].flows.billable"),
    (lambda d: d.update(findings=[{"id": "x"}]), "findings[0].rule: Field required"),
    (lambda d: d.update(accounts={"a": 1}), "accounts: Input should be a valid list"),
    (lambda d: d["load_issues"].append({"problem": "x"}), "load_issues"),
]


@pytest.mark.parametrize("change,words", SPOILED)
@pytest.mark.parametrize("command", [["report", "{f}", "--html", "{o}/r.html"], ["endpoints", "{f}"], ["flows", "{f}"],
                                     ["diff", "{f}", "{f}"]])
def test_a_results_file_with_a_wrong_shape_is_refused_naming_the_first_problem(
        results_file, tmp_path, run_cli, change, words, command):
    path = tmp_path / "spoiled.json"
    path.write_text(json.dumps(_spoil(results_file, change)))
    run = run_cli(*[a.format(f=path, o=tmp_path) for a in command])
    assert run.exit_code == 2, run.stdout + run.stderr
    assert "not a sound results file" in run.stderr and words in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "r.html").exists()


def test_a_sound_results_file_from_elsewhere_is_accepted(results_file, tmp_path, run_cli):
    path = tmp_path / "fine.json"
    path.write_text(json.dumps(results_file))
    assert run_cli("report", path, "--html", tmp_path / "r.html").exit_code == 0


# --- human-written YAML ------------------------------------------------------------------------

RULE = """\
id: {id}
title: t
severity: low
description: d
remediation: r
frame: flows
parameters: {params}
where: {{enabled: true}}
reason: "flow {{id}}"
"""


@pytest.mark.parametrize("params,words", [
    ("{a: &a [x, x, x, x], b: [*a, *a, *a]}", ":7: YAML anchors and aliases"),
    ("{word: TODO, word: DONE}", ":7: the key 'word' is given twice"),
])
def test_rule_files_refuse_aliases_and_duplicate_keys(tmp_path, run_cli, params, words):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "r1.yaml").write_text(RULE.format(id="r1", params=params))
    for args in (["rules", "validate", folder], ["audit", "--sample", "--rules", folder]):
        run = run_cli(*args)
        assert run.exit_code == 2 and f"r1.yaml{words}" in run.stderr, run.stderr


@pytest.mark.parametrize("option,text", [
    ("--mutes", "mutes:\n  - &m {rule: x, reason: r}\n  - *m\n"),
    ("--profile", "name: p\ndescription: d\nexclude: &e [license-expired]\ninclude: *e\n"),
    ("--policy", "name: p\ndescription: &d x\nfallback: *d\n"),
])
def test_every_yaml_file_refuses_aliases(tmp_path, run_cli, option, text):
    path = tmp_path / "f.yaml"
    path.write_text(text)
    run = run_cli("audit", "--sample", option, path)
    assert run.exit_code == 2 and f"{path}:" in run.stderr and "anchors and aliases" in run.stderr, run.stderr


def test_a_billing_mapping_refuses_aliases(tmp_path, run_cli):
    mapping = tmp_path / "map.yaml"
    mapping.write_text("columns: &c {email: Customer Email}\nvalues: {x: *c}\n")
    sample = partner_sample_dir()
    run = run_cli("licenses", sample, "--billing", sample / "billing.csv", "--billing-map", mapping)
    assert run.exit_code == 2 and "anchors and aliases" in run.stderr, run.stderr


# --- billing rows ------------------------------------------------------------------------------

@pytest.mark.parametrize("column,value,words", [
    ("Net", "-200.00", "amount is below 0"),
    ("Net", "inf", "not a number"),
    ("Stores", "2.5", "quantity is not a whole number"),
    ("Stores", "-1", "quantity is below 0"),
    ("Currency", "EURO", "not an ISO 4217 currency code"),
    ("Currency", "€", "not an ISO 4217 currency code"),
    ("Currency", "=1+1", "not an ISO 4217 currency code"),
])
def test_billing_rows_with_impossible_values_are_listed_not_read(tmp_path, run_cli, column, value, words):
    sample = partner_sample_dir()
    lines = (sample / "billing.csv").read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index(column)] = value
    billing = tmp_path / "billing.csv"
    billing.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    run = run_cli("licenses", sample, "--billing", billing, "--billing-map", sample / "billing-map.yaml",
                  "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    issues = [i for i in run.results["load_issues"] if i["record"] == 2]
    assert issues and words in issues[0]["problem"] and repr(column) in issues[0]["problem"], issues


def test_usd_in_lower_case_is_read_as_usd(tmp_path, run_cli):
    sample = partner_sample_dir()
    billing = tmp_path / "billing.csv"
    billing.write_text((sample / "billing.csv").read_text().replace(",USD,", ",usd,"))
    run = run_cli("licenses", sample, "--billing", billing, "--billing-map", sample / "billing-map.yaml")
    assert not [i for i in run.results["load_issues"] if "ISO 4217" in i["problem"]]
    assert {r["currency"] for r in run.results["reconciliation"] if r["currency"]} <= {"USD", "EUR"}


def test_reconciliation_totals_never_write_a_live_formula(tmp_path, run_cli):
    """A results file from elsewhere may carry any currency text: the totals block quotes it too."""
    sample = partner_sample_dir()
    out = tmp_path / "p.json"
    run_cli("licenses", "--sample", "-o", out, "--fail-on", "never")
    doc = json.loads(out.read_text())
    for row in doc["reconciliation"]:
        row["currency"] = '=HYPERLINK("http://x","y")'
    out.write_text(json.dumps(doc))
    assert run_cli("report", out, "--xlsx", tmp_path / "p.xlsx").exit_code == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sheet = openpyxl.load_workbook(tmp_path / "p.xlsx")["Reconciliation"]
    cells = [c for row in sheet.iter_rows() for c in row if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert cells and all(c.data_type == "s" and c.quotePrefix for c in cells), [(c.coordinate, c.value) for c in cells]
    assert sample.is_dir()


# --- partner snapshots: ids from the data never become paths ----------------------------------

@pytest.mark.parametrize("bad_id", ["../../elsewhere", "/etc", "..", "a/b", "c:\\x", "conn shop"])
def test_a_connector_id_that_is_not_a_plain_id_never_names_a_folder(tmp_path, run_cli, bad_id):
    snap = tmp_path / "partner"
    shutil.copytree(partner_sample_dir(), snap)
    connectors = json.loads((snap / "connectors.json").read_text())
    # what an attacker would have placed where the id leads
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "licenses.json").write_text(json.dumps([{"_id": "planted", "expires": "2020-01-01"}]))
    connectors[0]["_id"] = bad_id
    (snap / "connectors.json").write_text(json.dumps(connectors))
    run = run_cli("licenses", snap, "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    assert "planted" not in json.dumps(run.results)
    assert any("not a plain id" in i["problem"] for i in run.results["load_issues"])
    assert "Every row and record was read" not in run.stdout


def test_a_stray_named_pipe_in_a_partner_snapshot_does_not_block_the_run(tmp_path, run_cli, deadline):
    import os

    snap = tmp_path / "partner"
    shutil.copytree(partner_sample_dir(), snap)
    os.mkfifo(snap / "notes.json")  # not a file the run reads, but one its checksums would open
    run = run_cli("licenses", snap, "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    assert "notes.json" not in {i["file"] for i in run.results["inputs"]}


@pytest.mark.parametrize("make", ["link-out", "fifo"])
def test_partner_files_are_read_only_as_regular_files_inside_the_snapshot(tmp_path, run_cli, make):
    import os

    snap = tmp_path / "partner"
    shutil.copytree(partner_sample_dir(), snap)
    target = snap / "connectors" / "conn-shop" / "licenses.json"
    target.unlink()
    if make == "link-out":
        (tmp_path / "planted.json").write_text(json.dumps([{"_id": "planted"}]))
        target.symlink_to(tmp_path / "planted.json")
    else:
        os.mkfifo(target)
    run = run_cli("licenses", snap)
    assert run.exit_code == 2 and "conn-shop/licenses.json" in run.stderr, run.stderr
    assert ("leads out" if make == "link-out" else "not a regular file") in run.stderr


# --- NetSuite integration record lists ----------------------------------------------------------

@pytest.mark.parametrize("change,words", [
    ({"State": "maybe"}, "not one of enabled, blocked"),
    ({"Installed": "perhaps"}, "not one of yes"),
    ({"Name": ["x"]}, "name is not a single value"),
    ({"Application ID": {"id": 1}}, "application_id is not a single value"),
])
def test_netsuite_rows_with_values_outside_their_vocabulary_are_listed_not_read(tmp_path, run_cli, change, words):
    from auditor.common.paths import netsuite_sample_dir

    sample = netsuite_sample_dir()
    doc = json.loads((sample / "sandbox.json").read_text())
    doc["records"][0].update(change)
    (tmp_path / "sandbox.json").write_text(json.dumps(doc))
    run = run_cli("ns-records", tmp_path / "sandbox.json", sample / "production.json", "--map", sample / "map.yaml",
                  "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    issues = [i["problem"] for i in run.results["load_issues"]]
    assert any(words in p for p in issues), issues


@pytest.mark.parametrize("change,words,check", [
    ({"opts": {"connectorEdition": "standard", "global": "false"}}, "license opts.global must be true or false",
     lambda lic: lic["global"] is False),
    ({"expires": "soon"}, "license expires is not a date", lambda lic: lic["expires"] is None),
    ({"expires": 1798675200000}, "license expires must be a string, not a number", lambda lic: lic["expires"] is None),
    ({"user": "alice@acme.example"}, "license user must be an object", lambda lic: lic["email"] is None),
    ({"opts": {"addonLicenses": [{"type": "store", "licenses": "abc"}]}}, None, lambda lic: lic["stores"] == 0),
])
def test_partner_license_fields_of_the_wrong_type_are_noted_not_misread(tmp_path, run_cli, change, words, check):
    snap = tmp_path / "partner"
    shutil.copytree(partner_sample_dir(), snap)
    path = snap / "connectors" / "conn-shop" / "licenses.json"
    licenses = json.loads(path.read_text())
    licenses[0].update(change)
    path.write_text(json.dumps(licenses))
    run = run_cli("licenses", snap, "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    lic = next(r for r in run.results["connector_licenses"] if r["license_id"] == "L01")
    assert check(lic), lic
    if words:
        assert any(words in i["problem"] and i["id"] == "L01" for i in run.results["load_issues"]), \
            run.results["load_issues"]
        assert "read with a note (see load_issues)" in run.stdout  # noted, not passed over


@pytest.mark.parametrize("name,make,words", [
    ("b.csv", lambda src: src.replace("INV-1001", "INV-1001,extra,more").encode(), "row 2 has 12 values but the header has 10"),
    ("b.csv", lambda src: src.replace("alice", "alicé").encode("latin-1"), "not UTF-8 text"),
    ("b.csv", lambda src: b"", "cannot read it as CSV"),
    ("b.xlsx", lambda src: b"not a workbook", "cannot read it as XLSX"),
    ("b.pdf", lambda src: src.encode(), "read CSV or XLSX files"),
])
def test_a_billing_file_that_cannot_be_read_as_a_table_stops_the_run(tmp_path, run_cli, name, make, words):
    """A row with more values than the header used to shift the row into an index, silently."""
    sample = partner_sample_dir()
    billing = tmp_path / name
    billing.write_bytes(make((sample / "billing.csv").read_text()))
    run = run_cli("licenses", sample, "--billing", billing, "--billing-map", sample / "billing-map.yaml")
    assert run.exit_code == 2 and words in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr
