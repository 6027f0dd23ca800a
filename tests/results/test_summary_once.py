"""Where each environment stands is said once, by the audit, in the results file; readers take it
from there, and a file of an earlier version is made to say it as it is read (results.upgrade)."""

from __future__ import annotations

import copy
from datetime import date

import orjson
import pytest

from auditor.common.paths import sample_dir
from auditor.common.vocabulary import STATES, USAGE
from auditor.report.tables import build_report
from auditor.results.io import check
from auditor.results.upgrade import fill
from auditor.runs.account import audit_snapshots, finish


@pytest.fixture(scope="module")
def sample() -> dict:
    return orjson.loads(finish(audit_snapshots([sample_dir()], "default", date(2026, 11, 30)), "default").data)


def _env(results: dict, account: str, env: str) -> dict:
    acct = next(a for a in results["accounts"] if a["account"] == account)
    return next(e for e in acct["environments"] if e["environment"] == env)


def test_each_metric_says_where_it_stands(sample):
    globex = _env(sample, "Globex Corporation", "production")
    assert (globex["endpoints"]["state"], globex["endpoints"]["share"]) == ("over", 2.0)
    assert globex["trading_partners"]["state"] == "not on this plan"
    acme = _env(sample, "Acme Retail", "production")
    assert acme["endpoints"]["state"] == "at limit" and acme["flows"]["state"] == "within"
    # one used of none entitled is over, and no share
    assert (acme["trading_partners"]["state"], acme["trading_partners"]["share"]) == ("over", None)
    initech = _env(sample, "Initech", "production")
    assert initech["endpoints"]["state"] == "not on this plan" and initech["endpoints"]["share"] is None
    assert {e[m]["state"] for a in sample["accounts"] for e in a["environments"] for m in USAGE} <= set(STATES)


def _earlier(results: dict) -> dict:
    """The file as an earlier version wrote it: no state, no share."""
    old = copy.deepcopy(results)
    for a in old["accounts"]:
        for e in a["environments"]:
            for m in USAGE:
                e[m].pop("state")
                e[m].pop("share")
    return old


def test_an_earlier_file_is_made_to_say_the_same(sample):
    assert fill(_earlier(sample)) == sample
    assert check(_earlier(sample), "old.json") == sample


@pytest.mark.parametrize("expired", [None, "2026-10-01"])
def test_the_upgrade_says_what_the_audit_says_of_every_shape(expired):
    from auditor.results.upgrade import _share, _state
    assert _state(3, None, "endpoint license L gives no sandbox endpoints", expired) == "not on this plan"
    assert _state(3, None, "platform license L is on trial until 2026-12-01: unlimited", expired) == "unlimited"
    assert _state(3, None, "no plan license in licenses.json", expired) == "unknown"
    assert _state(3, 2, "x", expired) == ("expired" if expired else "over")
    assert _state(0, 0, "x", None) == "within" and _state(2, 2, "x", None) == "at limit"
    assert (_share(0, None), _share(1, 0), _share(1, 4)) == (0.0, None, 0.25)


def test_the_reports_of_an_earlier_file_are_those_of_the_new_one(sample, tmp_path):
    from auditor.report import Outputs, write_reports
    new, old = tmp_path / "new", tmp_path / "old"
    for where, results in ((new, sample), (old, check(_earlier(sample), "old.json"))):
        where.mkdir()
        list(write_reports(results, Outputs(html=where / "r.html", csv=where / "csv"), None))
    assert (new / "r.html").read_bytes() == (old / "r.html").read_bytes()
    summary = build_report(sample).summary
    assert list(summary.loc[summary["environment"] == "production", "endpoints status"])[:2] == ["at limit", "over"]


def test_a_file_of_schema_1_is_read_and_one_of_a_later_schema_is_refused(sample):
    from auditor.common.errors import AuditorError
    old = {**_earlier(sample), "schema_version": 1}
    assert check(old, "old.json")["accounts"] == sample["accounts"]
    with pytest.raises(AuditorError, match="new.json: not a results file of schema version 1 or 2"):
        check({**sample, "schema_version": 3}, "new.json")


def test_the_reconciliation_totals_count_every_row_once_for_the_terminal_and_the_reports(tmp_path):
    from auditor.cli.render import reconciliation_table
    from auditor.common.paths import partner_sample_dir
    from auditor.report.tables import reconciliation_frame, reconciliation_totals
    from auditor.rules.model import load_rules
    from auditor.runs.partner import audit_partner
    root = partner_sample_dir()
    results = orjson.loads(orjson.dumps(audit_partner(root, date(2026, 11, 30), load_rules(),
                                                      billing=root / "billing.csv",
                                                      billing_map=root / "billing-map.yaml")))
    totals = reconciliation_totals(reconciliation_frame(results))
    assert totals["rows"].sum() == len(results["reconciliation"])  # rows of no currency too ("-")
    assert "-" in set(totals["currency"])
    said = reconciliation_table(results)
    for t in totals.itertuples():
        assert f"{t.status}" in said and str(t.rows) in said
