"""Synthetic accounts: the audit's counts equal what the generator worked out independently."""

from __future__ import annotations

from auditor.synth import generate


def test_generated_accounts_match_their_expected_counts(tmp_path, run_cli):
    expected = generate(tmp_path / "accounts", accounts=12, flows_per_account=60, connections_per_account=15,
                        seed=7, late_key_at=400)
    run = run_cli("audit", tmp_path / "accounts")
    assert run.exit_code == 0, run.stderr
    got = {(a["account"], e["environment"]): (e["flows"]["billable"], e["endpoints"]["used"])
           for a in run.results["accounts"] for e in a["environments"]}
    want = {(a, env): (c["billable"], c["endpoints"]) for a, envs in expected.items() for env, c in envs.items()}
    assert got == want
    assert run.results["load_issues"] == []
    free = [f for a in run.results["accounts"] for f in a["flows"] if f["reason_code"] == "free"]
    assert free  # the late `free` key was generated and read
