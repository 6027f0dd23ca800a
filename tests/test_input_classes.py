"""Issue 25, crashes and input read as if it were sound: each class with a corpus of its own.

Pure logic in-process; the CLI only where what is at stake is the CLI's behaviour (an exit code,
nothing written)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from auditor.count.entitlements import plan_licenses, read_licenses
from auditor.load.snapshot import ResourceFile

AS_OF = date(2026, 11, 30)


def _licenses(tmp_path: Path, records: list) -> tuple:
    path = tmp_path / "licenses.json"
    path.write_text(json.dumps(records))
    issues: list[dict] = []
    frame = read_licenses([("acct", [ResourceFile(path, "array", "acct/licenses.json")])], AS_OF, issues)
    return frame, issues


def _lic(**fields) -> dict:
    return {"_id": "lic", "type": "endpoint", "numEndpoints": 5, **fields}


# --- license dates out of range: year 0 crashed the results (strftime) ---------------------------

FAR_DATES = ["0000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z", "0001-01-01", "1677-09-21T00:00:00Z",
             "1899-12-30", "9999-12-31T23:59:59Z", "2262-04-12T00:00:00Z", "5000-01-01"]


@pytest.mark.parametrize("field", ["expires", "trialEndDate"])
@pytest.mark.parametrize("value", FAR_DATES)
def test_a_license_date_outside_the_years_is_noted_and_read_as_not_given(tmp_path, field, value):
    frame, issues = _licenses(tmp_path, [_lic(**{field: value})])
    col = "expires" if field == "expires" else "trial_end"
    assert frame[col].isna().all()
    assert [i["problem"] for i in issues] == [f"license {field} is outside the years 1990 to 2200; read as no {field}"]


def test_a_far_license_date_beside_sound_ones_leaves_those_as_they_are(tmp_path):
    frame, issues = _licenses(tmp_path, [_lic(_id="a", expires="0000-01-01T00:00:00Z"),
                                         _lic(_id="b", expires="2026-12-15T00:00:00.000Z")])
    assert frame.set_index("license_id")["expires"]["b"].strftime("%Y-%m-%d") == "2026-12-15"
    assert len(issues) == 1 and issues[0]["id"] == "a"


def test_an_account_whose_license_expires_in_year_0_is_audited(run_cli, tmp_path):
    from conftest import write_snapshot
    root = write_snapshot(tmp_path / "acct", licenses=[_lic(expires="0000-01-01T00:00:00Z")], flows=[])
    run = run_cli("audit", root, "--as-of", "2026-11-30", "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    assert any("outside the years" in i["problem"] for i in run.results["load_issues"])


# --- license type and tier: another case, spaces, another JSON type, an unknown word -------------

@pytest.mark.parametrize("value", ["Endpoint", "endpoint ", " ENDPOINT", "Endpoint\t"])
def test_a_license_type_in_another_case_or_with_spaces_is_read_with_a_note(tmp_path, value):
    frame, issues = _licenses(tmp_path, [_lic(type=value)])
    assert frame["type"].tolist() == ["endpoint"]
    assert plan_licenses(frame, AS_OF)["acct"]["license_id"] == "lic"  # the plan is read, not "no plan license"
    assert [i["problem"] for i in issues] == ["license type is written in another case or with spaces; "
                                              "read as 'endpoint'"]


@pytest.mark.parametrize("value", ["enterprise-plan", "endpoints", "diy", "platform2024"])
def test_a_license_of_an_unknown_type_is_a_load_issue(tmp_path, value):
    frame, issues = _licenses(tmp_path, [_lic(type=value)])
    assert frame.empty
    assert [(i["problem"], i["action"], i["id"]) for i in issues] == [
        ("license type is not one of platform, endpoint, integrator, connector; the license is not read", "skipped",
         "lic")]


@pytest.mark.parametrize("value", ["", "   ", 42, None, ["endpoint"], {"name": "endpoint"}, True])
def test_a_license_without_a_type_in_words_is_a_load_issue(tmp_path, value):
    frame, issues = _licenses(tmp_path, [_lic(type=value)])
    assert frame.empty and [i["problem"] for i in issues] == ["license has no type"]


@pytest.mark.parametrize("value, kind", [(42, "a number"), (3.5, "a number"), ({}, "an object"), ([], "an array"),
                                         (["standard"], "an array"), (True, "true or false"),
                                         ({"name": "gold"}, "an object")])
def test_a_tier_of_another_json_type_is_noted_as_an_unknown_word_is(tmp_path, value, kind):
    frame, issues = _licenses(tmp_path, [_lic(type="integrator", tier=value)])
    assert frame["tier"].isna().all()
    assert [i["problem"] for i in issues] == [
        f"license tier must be one of none, free, limited, standard, premium, enterprise, not {kind}; "
        "read as not given"]


@pytest.mark.parametrize("value", ["gold", "platinum", "standard-plus"])
def test_an_unknown_tier_word_is_noted(tmp_path, value):
    _, issues = _licenses(tmp_path, [_lic(type="integrator", tier=value)])
    assert [i["problem"] for i in issues] == [
        "license tier is not one of none, free, limited, standard, premium, enterprise; read as not given"]


@pytest.mark.parametrize("value", ["Standard", " standard", "STANDARD "])
def test_a_tier_in_another_case_is_read_with_a_note(tmp_path, value):
    frame, issues = _licenses(tmp_path, [_lic(type="integrator", tier=value)])
    assert frame["tier"].tolist() == ["standard"]
    assert [i["problem"] for i in issues] == ["license tier is written in another case or with spaces; "
                                              "read as 'standard'"]
