"""A non-editable install carries the rules, the policies and the sample, and runs from anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

from conftest import ROOT


def test_wheel_installs_and_audits_the_sample(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist"), str(ROOT)], check=True, capture_output=True)
    wheel, = (tmp_path / "dist").glob("auditor-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("auditor/_data/rules/core.yaml", "auditor/_data/rules/policies/default.yaml",
                   "auditor/_data/rules/policies/community.yaml", "auditor/sample/acme-retail/flows.json",
                   "auditor/sample/globex/production/imports.json.gz", "auditor/_data/rules/netsuite.yaml",
                   "auditor/_data/rules/tests/license-expired/expected.yaml", "auditor/_data/reports/report.html.j2",
                   "auditor/sample_partner/billing.csv", "auditor/sample_netsuite/map.yaml"):
        assert needed in names

    # installed on its own (dependencies come from the running interpreter), run outside the repo
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(target),
                    str(wheel)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run([sys.executable, "-c", "import auditor; print(auditor.__file__)"],
                           cwd=tmp_path, env=env, check=True, capture_output=True, text=True).stdout
    assert where.startswith(str(target))  # the installed copy, not the source tree
    run = subprocess.run([sys.executable, "-m", "auditor", "audit", "--sample", "--fail-on", "never", "-o", "r.json"], cwd=tmp_path,
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "Globex Corporation" in run.stdout and (tmp_path / "r.json").exists()
