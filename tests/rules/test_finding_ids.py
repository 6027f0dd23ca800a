"""Every finding of a run has an id of its own: the history keys findings by it and diff matches
them by it. A frame that can hold several rows of one resource (a flow naming two missing steps,
a connection the vendor's figures count under two metrics) puts the row's key into the id."""

from __future__ import annotations

import copy
import json

import pytest

from auditor.common.errors import AuditorError
from auditor.results import io as results_io
from tests.conftest import write_snapshot

HTTP = {"_id": "c1", "type": "http", "http": {"baseURI": "https://a.example.com"}}


def two_missing_steps(root):
    return write_snapshot(root, connections=[HTTP],
                          exports=[{"_id": "e1", "adaptorType": "HTTPExport", "_connectionId": "c1"}],
                          flows=[{"_id": "f1", "name": "x", "pageGenerators": [{"_exportId": "e1"}],
                                  "pageProcessors": [{"type": "import", "_importId": "i-gone"},
                                                     {"type": "import", "_importId": "i-gone2"},
                                                     {"type": "export", "_exportId": "e-gone"}]}])


def counted_twice_by_the_vendor(root):
    snap = write_snapshot(
        root, account={"name": "TP"},
        connections=[{"_id": "c-tp", "name": "Partner SFTP", "type": "ftp",
                      "ftp": {"hostURI": "sftp.partner.example", "type": "sftp", "tradingPartner": True}},
                     {"_id": "c-http", "name": "Shop", "type": "http",
                      "http": {"baseURI": "https://shop.example.com/api"}}],
        exports=[{"_id": "e-http", "name": "get", "adaptorType": "HTTPExport", "_connectionId": "c-http"}],
        imports=[{"_id": "i-tp", "name": "put", "adaptorType": "FTPImport", "_connectionId": "c-tp"}],
        flows=[{"_id": "f-1", "name": "orders", "pageGenerators": [{"_exportId": "e-http"}],
                "pageProcessors": [{"type": "import", "_importId": "i-tp"}]}])
    (snap / "usage.json").write_text(json.dumps({"production": {
        "endpointUsage": {"numConsumed": 2, "endpoints": [{"type": "http", "connections": [{"_id": "c-http"}]},
                                                          {"type": "ftp", "connections": [{"_id": "c-tp"}]}]},
        "tradingPartnerUsage": {"numConsumed": 1, "tradingPartners": []}}}))
    return snap


@pytest.mark.parametrize("make, rule, expected", [(two_missing_steps, "missing-reference", 3),
                                                  (counted_twice_by_the_vendor, "vendor-count-differs", 3)])
def test_several_findings_of_one_resource_have_ids_of_their_own_and_are_recorded(tmp_path, run_cli, make, rule,
                                                                                  expected):
    snap = make(tmp_path / "acct")
    store = tmp_path / "h.sqlite"
    runs = [run_cli("audit", snap, "--record", "--history", store, "--fail-on", "never") for _ in range(2)]
    for run in runs:
        assert run.exit_code == 0, run.stderr
        ids = [f["id"] for f in run.results["findings"] if f["rule"] == rule]
        assert len(ids) == expected and len(set(ids)) == expected
    assert [f["id"] for f in runs[0].results["findings"]] == [f["id"] for f in runs[1].results["findings"]]  # stable


def test_a_results_file_giving_one_id_to_two_findings_is_refused(tmp_path, run_cli):
    run = run_cli("audit", two_missing_steps(tmp_path / "acct"), "--fail-on", "never")
    doc = copy.deepcopy(run.results)
    doc["findings"][1]["id"] = doc["findings"][0]["id"]
    with pytest.raises(AuditorError, match="an id is given to two findings"):
        results_io.check(doc, "x.json")
