"""Licenses over time: an environment whose plan license has expired does not read as if its
entitlement were current."""

from __future__ import annotations

import shutil

from auditor.common.paths import sample_dir


def test_an_expired_plan_license_is_said_in_the_entitlement_the_results_and_the_rules(tmp_path, run_cli):
    snap = tmp_path / "acme"
    shutil.copytree(sample_dir() / "acme-retail", snap)
    run = run_cli("audit", snap, "--as-of", "2027-01-31", "--fail-on", "never")  # its plan license ends 2026-12-15
    assert run.exit_code == 0, run.stderr
    acct = run.results["accounts"][0]
    prod = next(e for e in acct["environments"] if e["environment"] == "production")
    assert prod["license_expired"] == "2026-12-15"
    assert "that license expired on 2026-12-15" in prod["endpoints"]["entitled_from"]
    found = [f for f in run.results["findings"] if f["rule"] == "entitlement-license-expired"]
    assert {f["environment"] for f in found} == {e["environment"] for e in acct["environments"]}
    assert all(f["status"] == "alarm" and "expired on 2026-12-15" in f["reason"] for f in found)

    current = run_cli("audit", snap, "--as-of", "2026-11-30", "--fail-on", "never")
    envs = current.results["accounts"][0]["environments"]
    assert all("license_expired" not in e for e in envs)
    assert not [f for f in current.results["findings"] if f["rule"] == "entitlement-license-expired"]
