"""The shape of the code holds: the stages import only the stages below them, the code passes
ruff, and the commands that need neither pandas nor DuckDB do not import them (what keeps
`--help`, shell completion and `rules list` fast; the timing itself is in benchmarks/)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

HEAVY = ("pandas", "duckdb", "pyarrow", "numpy", "jinja2", "xlsxwriter", "httpx", "openpyxl")


def _tool(name: str) -> str:
    found = shutil.which(name) or str(Path(sys.executable).with_name(name))
    if not Path(found).exists():
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return found


def test_the_import_layers_are_kept():
    run = subprocess.run([_tool("lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "BROKEN" not in run.stdout and "KEPT" in run.stdout


def test_ruff_finds_nothing():
    run = subprocess.run([_tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:]


def _modules_after(args: list[str], env: dict | None = None) -> set[str]:
    """The top-level modules imported once `auditor ARGS` has run (in a fresh interpreter)."""
    code = ("import sys, json\nfrom auditor.cli import cli\n"
            f"try:\n    cli({args!r}, prog_name='auditor')\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write('\\nMODULES ' + json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, **(env or {})})
    line = run.stderr.rsplit("MODULES ", 1)
    assert len(line) == 2, run.stderr[-2000:]
    return set(json.loads(line[1]))


@pytest.mark.parametrize("args", [["--help"], ["audit", "--help"], ["rules", "list"], ["rules", "list", "--format", "csv"],
                                  ["rules", "show", "license-expired"]])
def test_commands_that_need_no_data_import_no_heavy_module(args):
    loaded = _modules_after(args)
    assert "auditor" in loaded  # the probe ran
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_shell_completion_imports_no_heavy_module():
    loaded = _modules_after([], env={"COMP_WORDS": "auditor au", "COMP_CWORD": "1",
                                     "_AUDITOR_COMPLETE": "bash_complete"})
    assert "auditor" in loaded and not loaded & set(HEAVY)


def test_an_audit_does_import_them():  # the probe can see a heavy import when there is one
    loaded = _modules_after(["audit", "--sample", "-o", os.devnull, "--fail-on", "never"])
    assert {"pandas", "duckdb"} <= loaded


def test_the_command_reference_is_what_the_commands_say():
    from auditor.cli import docs
    assert docs.main(["--check"]) == 0, "run python -m auditor.cli.docs"
    reference = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    for command in ("auditor licenses", "auditor ns-records", "auditor rules test"):
        assert f"## {command}\n" in reference
    assert "--billing-map FILE" in reference and "--refreshed-on YYYY-MM-DD" in reference


def test_the_check_sees_a_stale_readme(tmp_path, monkeypatch):
    from auditor.cli import docs
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "commands.md").write_text(docs.reference(), encoding="utf-8")
    (tmp_path / "README.md").write_text(f"x\n{docs.BEGIN}\nauditor audit [--old-option]\n{docs.END}\n", encoding="utf-8")
    monkeypatch.setattr(docs, "ROOT", tmp_path)
    assert docs.main(["--check"]) == 1
    assert docs.main([]) == 0 and docs.main(["--check"]) == 0
    assert "--old-option" not in (tmp_path / "README.md").read_text(encoding="utf-8")
