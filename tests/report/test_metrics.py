"""`--metrics FILE`: an audit's counts, entitlements, shares and unmuted alarms as OpenMetrics text
that Prometheus' parsers read (the OpenMetrics one, and text format 0.0.4 that node-exporter's
textfile collector uses), labels escaped, written whole."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from prometheus_client.parser import text_string_to_metric_families as text_format

from auditor.common.errors import AuditorError
from auditor.common.paths import sample_dir
from auditor.report.metrics import render, share, write_metrics
from tests.conftest import account, audited, write_snapshot

HOSTILE = 'Evil "Corp" \\ back\nslash} # EOF'


@pytest.fixture(scope="module")
def sample() -> dict:
    return audited(sample_dir())


def samples(text: str) -> dict[tuple, float]:
    """(metric name, sorted labels) -> value, read by the OpenMetrics parser; also read by the
    text-format parser, which must agree."""
    out = {}
    for family in openmetrics(text):
        assert family.type == "gauge", family.name
        assert family.documentation, f"{family.name} has no HELP"
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in out, f"{key} given twice"
            out[key] = s.value
    again = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_format(text) for s in f.samples}
    assert again.keys() == out.keys()
    return out


def value(found: dict, name: str, **labels) -> float | None:
    return found.get((name, tuple(sorted(labels.items()))))


def test_every_count_entitlement_and_share_of_the_sample(sample):
    text = render(sample)
    assert text.endswith("# EOF\n") and text.count("# EOF") == 1
    found = samples(text)
    for acct in sample["accounts"]:
        for env in acct["environments"]:
            where = {"account": acct["account"], "environment": env["environment"]}
            assert value(found, "auditor_flows", **where) == env["flows"]["total"]
            assert value(found, "auditor_flows_enabled", **where) == env["flows"]["enabled"]
            assert value(found, "auditor_flows_billable", **where) == env["flows"]["billable"]
            assert value(found, "auditor_endpoints_used", **where) == env["endpoints"]["used"]
            assert value(found, "auditor_trading_partners_used", **where) == env["trading_partners"]["used"]
            assert value(found, "auditor_agents_used", **where) == env["agents"]["used"]
            for metric, used in (("flows", "billable"), ("endpoints", "used"), ("trading_partners", "used"),
                                 ("agents", "used")):
                entitled = env[metric]["entitled"]
                assert value(found, f"auditor_{metric}_entitled", **where) == entitled
                got = value(found, f"auditor_{metric}_share_ratio", **where)
                if entitled is None:  # no entitlement known: no share either
                    assert got is None
                else:
                    assert got == share(env[metric][used], entitled)
            assert value(found, "auditor_entitlement_expired", **where) == int(env.get("license_expired") is not None)
    globex = {"account": "Globex Corporation", "environment": "production"}
    assert value(found, "auditor_endpoints_used", **globex) == 6
    assert value(found, "auditor_endpoints_entitled", **globex) == 3
    assert value(found, "auditor_endpoints_share_ratio", **globex) == 2.0
    # Acme's production holds a trading partner against an entitlement of 0: +Inf, as the audit reckons it
    acme = {"account": "Acme Retail", "environment": "production"}
    assert value(found, "auditor_trading_partners_share_ratio", **acme) == math.inf
    assert value(found, "auditor_trading_partners_entitled", account="Acme Retail", environment="sandbox") is None
    # the audit itself: its date as a timestamp, its version, policy and profile
    assert value(found, "auditor_audit_as_of_timestamp_seconds") == 1795996800  # 2026-11-30T00:00:00Z
    assert value(found, "auditor_audit_info", as_of="2026-11-30", tool_version=sample["tool_version"],
                 policy="default", profile="default") == 1
    assert value(found, "auditor_counts_upper_bound", account="Hooli") == 1  # read from downloads
    assert value(found, "auditor_counts_upper_bound", account="Acme Retail") == 0
    assert value(found, "auditor_account_info", account="Globex Corporation", plan="endpoint",
                 license_model="multi-environment") == 1


def test_units_and_help_are_as_openmetrics_spells_them(sample):
    text = render(sample)
    families = {f.name: f for f in openmetrics(text)}
    assert families["auditor_endpoints_share_ratio"].unit == "ratio"
    assert families["auditor_audit_as_of_timestamp_seconds"].unit == "seconds"
    for line in text.splitlines():
        if line.startswith("# HELP "):
            assert '"' not in line and "\\" not in line, line  # nothing HELP would need escaped
        if not line.startswith("#"):
            assert line.startswith("auditor_")
            assert len(line.rsplit(" ", 1)) == 2  # a value and no timestamp (the textfile collector refuses them)
    names = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    assert len(names) == len(set(names))  # one family per metric


def test_unmuted_alarms_by_severity_per_account_and_environment(sample):
    found = samples(render(sample))
    expected: dict[tuple, int] = {}
    for f in sample["findings"]:
        if f["status"] == "alarm" and not f["muted"]:
            key = (f["account"], f["environment"] or "", f["severity"])
            expected[key] = expected.get(key, 0) + 1
    assert expected, "the sample has unmuted alarms"
    assert any(env == "" for _, env, _ in expected), "and account-wide ones"
    alarms = {tuple(dict(labels)[k] for k in ("account", "environment", "severity")): v
              for (name, labels), v in found.items() if name == "auditor_alarms"}
    for key, n in expected.items():
        assert alarms[key] == n
    # every severity of every place is there, 0 where none: a series that stays, never vanishes
    places = {(a["account"], e["environment"]) for a in sample["accounts"] for e in a["environments"]}
    places |= {(a["account"], "") for a in sample["accounts"]}
    assert len(alarms) == len(places) * 5
    assert sum(alarms.values()) == sum(expected.values())


def test_muted_alarms_are_not_counted(sample):
    doc = json.loads(json.dumps(sample))
    alarm = next(f for f in doc["findings"] if f["status"] == "alarm" and f["environment"])
    where = {"account": alarm["account"], "environment": alarm["environment"], "severity": alarm["severity"]}
    before = value(samples(render(doc)), "auditor_alarms", **where)
    alarm["muted"] = True
    assert value(samples(render(doc)), "auditor_alarms", **where) == before - 1


def test_alarms_from_the_findings_given_not_only_those_written(sample):
    """--min-severity leaves lower findings out of the results file, not out of the exit code:
    the monitor counts what the exit code was decided on."""
    doc = json.loads(json.dumps(sample))
    every = doc["findings"]
    doc["findings"] = [f for f in every if f["severity"] == "high"]
    lows = sum(f["status"] == "alarm" and not f["muted"] and f["severity"] == "low" for f in every)
    assert lows
    cut = samples(render(doc))
    full = samples(render(doc, every))
    total = lambda found, sev: sum(v for (n, labels), v in found.items()  # noqa: E731
                                   if n == "auditor_alarms" and dict(labels)["severity"] == sev)
    assert total(cut, "low") == 0
    assert total(full, "low") == lows
    # the audit's own frame, as records, says an account-wide finding's environment as NaN
    nan_env = [{**f, "environment": float("nan") if f["environment"] is None else f["environment"]} for f in every]
    assert samples(render(doc, nan_env)) == full


def test_hostile_account_and_environment_names_are_escaped(tmp_path):
    root = account(tmp_path, [{"_id": "c1", "type": "http", "http": {"baseURI": "https://api.example.com"}}],
                   [{"_id": "f1", "pageGenerators": [{"_exportId": "e-c1"}]}], name="hostile")
    (root / "account.json").write_text(json.dumps({"name": HOSTILE}))
    doc = audited(root)
    assert doc["accounts"][0]["account"] == HOSTILE
    text = render(doc)
    found = samples(text)  # both parsers read it back
    assert value(found, "auditor_flows", account=HOSTILE, environment="production") == 1
    assert value(found, "auditor_alarms", account=HOSTILE, environment="", severity="high") == 0
    assert '\\"Corp\\" \\\\ back\\nslash' in text
    assert sum(line == "# EOF" for line in text.splitlines()) == 1  # a name cannot end the file early


def test_hostile_environment_names(tmp_path):
    root = tmp_path / "multi"
    write_snapshot(root, account={"name": "M", "licenseModel": "multi-environment"})
    odd = 'stage "b\\2'
    write_snapshot(root / odd, flows=[{"_id": "f1"}])
    doc = audited(root)
    found = samples(render(doc))
    assert value(found, "auditor_flows", account="M", environment=odd) == 1


def test_share_is_what_the_audit_reckons():
    assert share(0, 0) == 0.0
    assert share(0, 5) == 0.0
    assert share(3, 0) == math.inf
    assert share(3, 2) == 1.5
    assert share(3, None) is None


def test_written_whole(sample, tmp_path):
    path = tmp_path / "auditor.prom"
    write_metrics(sample, path)
    assert path.read_text(encoding="utf-8") == render(sample)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["auditor.prom"]


def test_a_failed_write_leaves_the_old_file_and_no_part(sample, tmp_path, monkeypatch):
    path = tmp_path / "auditor.prom"
    path.write_text("old\n")

    def full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(AuditorError) as err:
        write_metrics(sample, path)
    assert str(err.value) == f"{path}: cannot write the metrics file (No space left on device)"
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["auditor.prom"]  # no temporary file left


def test_a_folder_that_is_not_there_is_one_line(sample, tmp_path):
    path = tmp_path / "no" / "auditor.prom"
    with pytest.raises(AuditorError, match=r"auditor\.prom: cannot write the metrics file \(No such file"):
        write_metrics(sample, path)
    assert not Path(tmp_path / "no").exists()
