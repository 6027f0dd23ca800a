"""The generated hostile-input corpus (tests/hostile_corpus.py): every case has its outcome, and
none crashes, hangs, leaks the planted secret or prints a raw control character."""

from __future__ import annotations

import dataclasses
import json
import re
import zipfile

import pytest
from click.testing import CliRunner
from hostile_corpus import CANARY, all_cases, mutation_cases

from auditor.cli import cli

CASES = all_cases()
MUTATIONS = mutation_cases(seed=0, count=40)
RAW_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]|\r(?!\n)")


def test_the_corpus_is_large_and_covers_every_outcome():
    assert len(CASES) >= 100
    assert {c.expect for c in CASES} == {"error", "issue", "counted"}


@pytest.mark.parametrize("case", CASES + MUTATIONS, ids=[c.name for c in CASES + MUTATIONS])
def test_hostile_input(case, tmp_path, deadline):
    args = case.build(tmp_path / "case")
    out = tmp_path / "out"
    argv = ["audit", *args, "--as-of", "2026-11-30", "--fail-on", "never", "-o", str(out / "results.json"),
            "--html", str(out / "report.html"), "--xlsx", str(out / "report.xlsx"), "--csv", str(out / "csv")]
    out.mkdir()
    run = CliRunner().invoke(cli, argv)
    printed = run.stdout + run.stderr
    assert run.exception is None or isinstance(run.exception, SystemExit), repr(run.exception)
    assert "Traceback" not in printed and run.exit_code != 3, printed
    assert CANARY not in printed
    assert not RAW_CONTROL.search(printed), "a raw control character was printed"
    if case.expect == "survives" and run.exit_code == 2:
        case = dataclasses.replace(case, expect="error")  # a clean stop is a right outcome
    if case.expect == "error":
        assert run.exit_code == 2, printed
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, run.stderr
        for needle in case.needles:
            assert needle in lines[0], lines[0]
        assert not (out / "results.json").exists()  # nothing written
        return
    assert run.exit_code == 0, printed
    results = json.loads((out / "results.json").read_text())
    if case.expect == "issue":
        problems = [f"{i['file']}: {i['problem']}" for i in results["load_issues"]]
        assert any(all(n in p for n in case.needles) for p in problems), problems
    if case.check is not None:
        case.check(results)
    # nothing planted reaches a report either, and every report was written
    texts = [(out / "results.json").read_text(), (out / "report.html").read_text()]
    texts += [p.read_text() for p in (out / "csv").glob("*.csv")]
    with zipfile.ZipFile(out / "report.xlsx") as book:
        texts += [book.read(n).decode("utf-8", "replace") for n in book.namelist()]
    assert not any(CANARY in t for t in texts)
