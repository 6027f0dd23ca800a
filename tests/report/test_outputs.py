"""What a run writes: never over one of its inputs or another of its outputs, always whole (a
temporary file beside it, put in place in one step, removed on any failure); Ctrl-C ends any
command with one line, 'interrupted', and exit code 130, leaving nothing half written; and what
the terminal is given shows every control, format and separator character escaped."""

from __future__ import annotations

import json
import os
import sys
import time
import unicodedata
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, write_snapshot

from auditor.common.terminal import ESCAPED_CATEGORIES, printable


def _snapshot(root: Path, name: str = "Acme") -> Path:
    return write_snapshot(
        root,
        account={"name": name},
        connections=[{"_id": "c1", "type": "http", "http": {"baseURI": "https://a.example.com"}}],
        exports=[{"_id": "e1", "_connectionId": "c1"}],
        flows=[{"_id": "f1", "name": "flow", "pageGenerators": [{"_exportId": "e1"}]}],
    )


def _files(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes (what a refused or interrupted run must leave as it was)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _cli(*args):
    """The command run as a user would (without run_cli's read-back of an -o file: here -o may
    name an input)."""
    from click.testing import CliRunner

    from auditor.cli import cli
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _no_temporary(root: Path) -> None:
    left = [str(p) for p in root.rglob("*") if p.name.endswith(".tmp") or ".tmp" in p.name]
    assert left == [], left


# --- outputs that would destroy an input, or another output ------------------------------------

def _clash_cases(tmp: Path) -> list[tuple[str, list, str]]:
    """(label, arguments after the command, words the error must hold): one of each kind of clash."""
    snap = tmp / "snap"
    (tmp / "mutes.yaml").write_text("mutes: []\n")
    (tmp / "rules").mkdir()
    (tmp / "tables").mkdir()
    (tmp / "tables" / "findings.csv").write_text("mutes: []\n")  # a mutes file a CSV would replace
    (tmp / "policy.yaml").write_text("name: mine\n")
    (tmp / "link.json").symlink_to(snap / "flows.json")
    (tmp / "snaplink").symlink_to(snap)
    audit = ["audit", snap, "--fail-on", "never"]
    return [
        ("output is a snapshot file", [*audit, "-o", snap / "flows.json"], "inside SNAPSHOTS"),
        ("output inside the snapshot", [*audit, "-o", snap / "results.json"], "inside SNAPSHOTS"),
        ("output is the snapshot folder", [*audit, "-o", snap], "that is SNAPSHOTS"),
        ("output through a symlink to a snapshot file", [*audit, "-o", tmp / "link.json"], "SNAPSHOTS"),
        ("output through a symlinked folder", [*audit, "-o", tmp / "snaplink" / "r.json"], "SNAPSHOTS"),
        ("output spelled with ..", [*audit, "-o", tmp / "snap" / ".." / "snap" / "flows.json"], "SNAPSHOTS"),
        ("results file and HTML report", [*audit, "-o", tmp / "r.json", "--html", tmp / "r.json"],
         "-o"),
        ("HTML report and workbook", [*audit, "-o", tmp / "r.json", "--html", tmp / "x", "--xlsx", tmp / "x"],
         "--html"),
        ("workbook over the results file, spelled otherwise",
         [*audit, "-o", tmp / "r.json", "--xlsx", tmp / "." / "r.json"], "-o"),
        ("report named as a CSV file", [*audit, "-o", tmp / "r.json", "--html", tmp / "t2" / "summary.csv",
                                        "--csv", tmp / "t2"], "--csv"),
        ("results file is the CSV folder", [*audit, "-o", tmp / "t3", "--csv", tmp / "t3"], "--csv"),
        ("CSV folder is the snapshot", [*audit, "-o", tmp / "r.json", "--csv", snap], "SNAPSHOTS"),
        ("a CSV file would replace the mutes file",
         [*audit, "-o", tmp / "r.json", "--mutes", tmp / "tables" / "findings.csv", "--csv", tmp / "tables"],
         "--mutes"),
        ("report over the mutes file", [*audit, "-o", tmp / "r.json", "--mutes", tmp / "mutes.yaml", "--html",
                                        tmp / "mutes.yaml"], "--mutes"),
        ("report inside a rules folder", [*audit, "-o", tmp / "r.json", "--rules", tmp / "rules", "--html",
                                          tmp / "rules" / "r.html"], "--rules"),
        ("results over the policy file", [*audit, "--policy", tmp / "policy.yaml", "-o", tmp / "policy.yaml"],
         "--policy"),
        ("results over the history", [*audit, "--history", tmp / "h.db", "-o", tmp / "h.db"], "--history"),
        ("report over the history", [*audit, "-o", tmp / "r.json", "--history", tmp / "h.db", "--xlsx",
                                     tmp / "h.db"], "--history"),
        ("workbook inside the templates", [*audit, "-o", tmp / "r.json", "--templates", tmp / "rules",
                                           "--xlsx", tmp / "rules" / "x.xlsx"], "--templates"),
    ]


def test_an_output_that_is_an_input_or_another_output_is_refused_and_nothing_is_written(tmp_path, run_cli):
    _snapshot(tmp_path / "snap")
    cases = _clash_cases(tmp_path)
    before = _files(tmp_path)
    for label, args, words in cases:
        run = _cli(*args)
        assert run.exit_code == 2, (label, run.exit_code, run.stderr)
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and "Traceback" not in run.stderr, (label, run.stderr)
        assert "name another file" in lines[0] or "write it elsewhere" in lines[0], (label, lines[0])
        assert _files(tmp_path) == before, label  # the input as it was, and no output at all
    assert not (tmp_path / "t2").exists() and not (tmp_path / "t3").exists()


def test_report_and_diff_refuse_to_write_over_what_they_read(tmp_path, run_cli):
    snap = _snapshot(tmp_path / "snap")
    first = run_cli("audit", snap, "--fail-on", "never", "-o", tmp_path / "r.json")
    assert first.exit_code == 0, first.stderr
    (tmp_path / "old.json").write_bytes((tmp_path / "r.json").read_bytes())
    before = _files(tmp_path)
    for args in (
        ["report", tmp_path / "r.json", "--html", tmp_path / "r.json"],
        ["report", tmp_path / "r.json", "--xlsx", tmp_path / "." / "r.json"],
        ["report", tmp_path / "r.json", tmp_path / "a.html", "--html", tmp_path / "b.html"],  # two HTML
        ["report", tmp_path / "r.json", tmp_path / "a.html", tmp_path / "b.htm"],
        ["report", tmp_path / "r.json", "--csv", tmp_path, "--html", tmp_path / "findings.csv"],
        ["diff", tmp_path / "old.json", tmp_path / "r.json", "--html", tmp_path / "old.json"],
        ["diff", tmp_path / "old.json", tmp_path / "r.json", "--xlsx", tmp_path / "r.json"],
    ):
        run = _cli(*args)
        assert run.exit_code == 2, (args, run.stderr)
        assert len(run.stderr.strip().splitlines()) == 1, run.stderr
        assert _files(tmp_path) == before, args


def test_distinct_outputs_beside_the_inputs_are_all_written(tmp_path, run_cli):
    snap = _snapshot(tmp_path / "snap")
    run = run_cli("audit", snap, "--fail-on", "never", "-o", tmp_path / "r.json", "--html", tmp_path / "r.html",
                  "--xlsx", tmp_path / "r.xlsx", "--csv", tmp_path / "tables", "--history", tmp_path / "h.db",
                  "--record")
    assert run.exit_code == 0, run.stderr
    assert {"r.json", "r.html", "r.xlsx", "h.db"} <= {p.name for p in tmp_path.iterdir()}
    assert (tmp_path / "tables" / "summary.csv").is_file()
    _no_temporary(tmp_path)


def test_paths_are_compared_as_the_file_system_resolves_them(tmp_path, monkeypatch):
    from auditor.cli import options
    a, b = tmp_path / "Out.json", tmp_path / "out.json"
    # this file system tells the cases apart: two files
    assert options._clash([("-o", a), ("--html", b)], []) is None
    # where it folds case (macOS, Windows), one name in two spellings is one file
    options._folds_case.cache_clear()
    monkeypatch.setattr(options, "_folds_case", lambda folder: True)
    assert "is written there too" in options._clash([("-o", a), ("--html", b)], [])
    # a hard link to an input is that input
    (tmp_path / "in.csv").write_text("x")
    os.link(tmp_path / "in.csv", tmp_path / "linked.csv")
    assert "that is --billing" in options._clash([("--xlsx", tmp_path / "linked.csv")],
                                                  [("--billing", tmp_path / "in.csv")])


def test_a_file_in_a_case_folding_folder_is_found_in_any_case(tmp_path, monkeypatch):
    from auditor.cli import options
    snap = tmp_path / "snap"
    snap.mkdir()
    monkeypatch.setattr(options, "_folds_case", lambda folder: True)
    # a folder not yet made, spelled in two cases: one folder where case folds
    problem = options._clash([("--csv", tmp_path / "New" / "summary.csv"), ("--html", tmp_path / "NEW" / "Summary.CSV")],
                             [])
    assert problem and "written there too" in problem


# --- every output whole, or not at all ----------------------------------------------------------

@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A report of a small audit, built in-process."""
    from datetime import date

    import orjson

    from auditor.report.tables import build_report
    from auditor.results import build as results_build
    from auditor.results import io as results_io
    from auditor.runs.account import audit_snapshots
    root = tmp_path_factory.mktemp("rep")
    audit = audit_snapshots([_snapshot(root / "snap")], "default", date(2026, 11, 30))
    audit.profile = "default"
    return build_report(orjson.loads(results_io.dumps(results_build.build(audit))))


class Boom(Exception):
    pass


def _failing_after(n: int, error: BaseException, real=None):
    """A stand-in that works `n` times (calling `real`), then raises `error`."""
    calls = {"n": 0}

    def stand_in(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > n:
            raise error
        return real(*args, **kwargs) if real else None
    return stand_in


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_csv_set_leaves_the_folder_as_it_was(tmp_path, report, monkeypatch, error):
    import auditor.report as rep
    from auditor.common.safe import csv_safe
    monkeypatch.setattr(rep, "csv_safe", _failing_after(3, error, csv_safe))
    # a new folder: not made at all
    with pytest.raises((rep.AuditorError, KeyboardInterrupt)):
        rep.write_csv(report, tmp_path / "new")
    assert list(tmp_path.iterdir()) == []
    # an existing one, with last month's set: every file as it was, no new one, no temporary folder
    old = tmp_path / "old"
    old.mkdir()
    for name in ("summary", "findings", "rules", "endpoints"):
        (old / f"{name}.csv").write_text(f"last month's {name}\n")
    (old / "notes.txt").write_text("mine")
    before = _files(old)
    monkeypatch.setattr(rep, "csv_safe", _failing_after(3, error, csv_safe))
    with pytest.raises((rep.AuditorError, KeyboardInterrupt)):
        rep.write_csv(report, old)
    assert _files(old) == before
    assert sorted(p.name for p in old.iterdir()) == sorted(before)


def test_a_csv_set_replaces_the_last_one_whole(tmp_path, report):
    import auditor.report as rep
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "summary.csv").write_text("old\n")
    (folder / "mine.txt").write_text("mine")
    written = rep.write_csv(report, folder)
    assert (folder / "summary.csv").read_text() != "old\n" and (folder / "mine.txt").read_text() == "mine"
    assert sorted(p.name for p in folder.iterdir()) == sorted([p.name for p in written] + ["mine.txt"])
    assert rep.write_csv(report, tmp_path / "fresh" / "deeper") and (tmp_path / "fresh" / "deeper" / "summary.csv").is_file()
    _no_temporary(tmp_path)


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_html_or_workbook_leaves_the_old_file_and_no_temporary_one(tmp_path, report, monkeypatch, error):
    import auditor.report.html as html
    import auditor.report.xlsx as xlsx
    from auditor.common.errors import AuditorError
    (tmp_path / "r.html").write_text("last month")
    (tmp_path / "r.xlsx").write_text("last month")
    real_write_text = Path.write_text

    def half_then_fail(self, text, *args, **kwargs):
        real_write_text(self, text[: len(text) // 2], *args, **kwargs)
        raise error
    with monkeypatch.context() as m:
        m.setattr(Path, "write_text", half_then_fail)
        with pytest.raises((AuditorError, KeyboardInterrupt)):
            html.write_html(report, tmp_path / "r.html")
    real_splice = xlsx._splice

    def splice_half(book, out, splices):
        out.write_bytes(b"PK half a workbook")
        raise error
    for where, stand_in in (("_splice", splice_half), ("_about", _failing_after(0, error))):
        with monkeypatch.context() as m:
            m.setattr(xlsx, where, stand_in)
            with pytest.raises((AuditorError, KeyboardInterrupt)):
                xlsx.write_xlsx(report, tmp_path / "r.xlsx")
    assert real_splice is xlsx._splice
    assert _files(tmp_path) == {"r.html": b"last month", "r.xlsx": b"last month"}


def test_outputs_are_written_with_the_permissions_of_any_new_file(tmp_path, report):
    from auditor.report.html import write_html
    write_html(report, tmp_path / "r.html")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "r.html").stat().st_mode & 0o777 == 0o666 & ~umask


# --- Ctrl-C: one line, exit 130, nothing half written -------------------------------------------

def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def _duckdb_interrupt(*args, **kwargs):
    import duckdb
    raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")


def _half_then_interrupt(self, data, *args, **kwargs):
    with open(self, "wb") as out:
        out.write(data[: len(data) // 2])
    raise KeyboardInterrupt


def _interrupt_in_the_workbook(book, out, splices):
    out.write_bytes(b"PK half a workbook")
    raise KeyboardInterrupt


STAGES = {
    # stage: (module to patch, attribute, stand-in)
    "loading": ("auditor.runs.account", "ingest", _interrupt),
    "counting": ("auditor.runs.account", "key_connections", _interrupt),
    "counting in DuckDB": ("auditor.count.flows", "classify", _duckdb_interrupt),
    "rules": ("auditor.runs.judge", "evaluate_rules", _interrupt),
    "writing results": ("pathlib.Path", "write_bytes", _half_then_interrupt),
    "writing the HTML report": ("auditor.report.html", "render_html", _interrupt),
    "writing the workbook": ("auditor.report.xlsx", "_splice", _interrupt_in_the_workbook),
    "making the workbook": ("auditor.report.xlsx", "_about", _interrupt),
    "writing the CSV files": ("auditor.report", "csv_safe", None),  # interrupted at the third table
    "recording the history": ("auditor.history.store", "record", _interrupt),
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_ctrl_c_at_any_stage_says_interrupted_exits_130_and_leaves_nothing_half_written(
        tmp_path, run_cli, monkeypatch, stage):
    import importlib

    import auditor.common.safe
    snap = _snapshot(tmp_path / "snap")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "r.xlsx").write_bytes(b"last month's workbook")
    before = _files(tmp_path)
    module, name, stand_in = STAGES[stage]
    if stand_in is None:
        stand_in = _failing_after(2, KeyboardInterrupt(), auditor.common.safe.csv_safe)
    owner = Path if module == "pathlib.Path" else importlib.import_module(module)
    monkeypatch.setattr(owner, name, stand_in)
    out = tmp_path / "out"
    run = run_cli("audit", snap, "--fail-on", "never", "-o", out / "r.json", "--html", out / "r.html",
                  "--xlsx", out / "r.xlsx", "--csv", out / "tables", "--record", "--history", tmp_path / "h.db")
    assert run.exit_code == 130, (stage, run.exit_code, run.stdout, run.stderr)
    assert run.stderr == "interrupted\n", (stage, run.stderr)
    assert "Aborted" not in run.stdout and "internal error" not in run.stdout
    _no_temporary(tmp_path)
    # every file there is the old one or a whole new one
    for path in out.rglob("*"):
        if path.suffix == ".json":
            json.loads(path.read_bytes())
        elif path.suffix == ".html":
            assert path.read_text().rstrip().endswith("</html>"), stage
        elif path.suffix == ".xlsx" and path.read_bytes() != before[str(Path("out") / "r.xlsx")]:
            assert zipfile.is_zipfile(path) and zipfile.ZipFile(path).testzip() is None, stage
    assert not (out / "tables").exists()  # the CSV files come last: none of them, or all
    if "workbook" in stage or stage in ("loading", "counting", "rules", "recording the history"):
        assert (out / "r.xlsx").read_bytes() == b"last month's workbook", stage


def _ctrl_c_then_a_library_error(*args, **kwargs):
    """A real SIGINT, which a library turns into an error of its own (DuckDB: RuntimeError 'Query
    interrupted', seen with a real Ctrl-C while DuckDB was reading)."""
    import signal
    try:
        signal.raise_signal(signal.SIGINT)
    except KeyboardInterrupt:
        raise RuntimeError("Query interrupted") from None
    raise AssertionError("SIGINT was not had")


def test_a_real_ctrl_c_a_library_words_its_own_way_is_an_interruption(tmp_path, run_cli, monkeypatch):
    import signal

    import auditor.runs.account
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    monkeypatch.setattr(auditor.runs.account, "ingest", _ctrl_c_then_a_library_error)
    run = run_cli("audit", _snapshot(tmp_path / "snap"), "--fail-on", "never", "-o", tmp_path / "r.json")
    assert (run.exit_code, run.stderr) == (130, "interrupted\n")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back when the command ends
    # and a RuntimeError with no Ctrl-C is the bug it is
    monkeypatch.setattr(auditor.runs.account, "ingest", _failing_after(0, RuntimeError("Query interrupted")))
    run = run_cli("audit", _snapshot(tmp_path / "snap"), "--fail-on", "never", "-o", tmp_path / "r.json")
    assert run.exit_code == 3 and "internal error" in run.stderr


def test_ctrl_c_in_report_and_in_a_pull_exits_130(tmp_path, run_cli, monkeypatch):
    snap = _snapshot(tmp_path / "snap")
    assert run_cli("audit", snap, "--fail-on", "never", "-o", tmp_path / "r.json").exit_code == 0
    import auditor.report.xlsx as xlsx
    monkeypatch.setattr(xlsx, "_splice", _interrupt_in_the_workbook)
    run = run_cli("report", tmp_path / "r.json", tmp_path / "r.xlsx")
    assert (run.exit_code, run.stderr) == (130, "interrupted\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "snap"]
    # an interruption a command words itself (a pull says how to go on) keeps its word, and exits 130
    from auditor import pull
    from auditor.pull import PullError

    def interrupted_pull(self):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise PullError("interrupted. Nothing was written to x; run again with --resume to continue.") from None
    monkeypatch.setattr(pull.Pull, "run", interrupted_pull)
    monkeypatch.setenv("INTEGRATOR_TOKEN", "t")
    run = run_cli("pull", "--out", tmp_path / "p")
    assert run.exit_code == 130 and run.stderr.startswith("interrupted") and len(run.stderr.splitlines()) == 1


def test_ctrl_c_while_click_reads_the_command_line_exits_130(monkeypatch):
    from click.testing import CliRunner

    from auditor.cli import cli
    from auditor.cli.app import AuditorGroup
    monkeypatch.setattr(AuditorGroup, "resolve_command", _interrupt)
    result = CliRunner().invoke(cli, ["flows", "--sample"])
    assert (result.exit_code, result.stderr) == (130, "interrupted\n")


def test_the_help_and_the_readme_say_130():
    from click.testing import CliRunner

    from auditor.cli import cli
    assert "130" in CliRunner().invoke(cli, ["audit", "--help"]).output
    assert "130" in CliRunner().invoke(cli, ["--help"]).output
    readme = (ROOT / "README.md").read_text()
    exit_codes = readme[readme.index("### Exit codes"):]
    assert "| 130 |" in exit_codes[:3000]


# --- the terminal: every control, format and separator character escaped ----------------------

def _members() -> list[str]:
    """Every character of the categories a terminal must not be given raw."""
    return [chr(c) for c in range(sys.maxunicode + 1)
            if not 0xD800 <= c <= 0xDFFF and unicodedata.category(chr(c)) in ESCAPED_CATEGORIES]


NAMED = {
    "C0 escape": "\x1b", "bell": "\x07", "DEL": "\x7f", "C1 CSI": "\x9b", "C1 NEL": "\x85",
    "arabic letter mark (bidi)": "\u061c", "left-to-right mark": "\u200e", "right-to-left override": "\u202e",
    "first strong isolate": "\u2068", "line separator": "\u2028", "paragraph separator": "\u2029",
    "zero-width space": "\u200b", "zero-width non-joiner": "\u200c", "zero-width joiner": "\u200d",
    "word joiner": "\u2060", "byte order mark": "\ufeff", "soft hyphen": "\u00ad",
    "mongolian vowel separator": "\u180e", "interlinear annotation": "\ufff9", "tag begin": "\U000e0001",
    "tag latin a": "\U000e0041", "cancel tag": "\U000e007f", "lone carriage return": "\r",
}


def test_every_member_of_the_escaped_categories_is_escaped():
    members = _members()
    assert len(members) > 200  # C0, C1, DEL, Cf (bidi, zero-width, tags ...), U+2028, U+2029
    for named in NAMED.values():
        assert named in members or named == "\r"
    text = "".join(members)
    for newlines in (True, False):
        shown = printable(text, newlines=newlines)
        raw = [c for c in shown if unicodedata.category(c) in ESCAPED_CATEGORIES and c not in "\t\n"]
        assert raw == [], [hex(ord(c)) for c in raw[:10]]
        if not newlines:
            assert "\t" not in shown and "\n" not in shown
    for label, char in NAMED.items():
        shown = printable(f"a{char}b", newlines=False)
        assert char not in shown and shown.startswith("a\\") and shown.endswith("b"), label
        assert json.loads(f'"{shown}"') == f"a{char}b", label  # the escape is the JSON one: a JSON value stays valid


def test_what_is_meant_to_be_shown_is_shown_as_it_is():
    for text in ("plain", "Müller GmbH", "日本語の会社", "emoji 🙂", "e\u0301 combining", "tab\there", "a\u00a0b",
                 "arabic عربي", "rtl-שלום"):
        assert printable(text) == text
    assert printable("two\nlines\r\n") == "two\nlines\r\n"  # a multi-line text keeps its lines
    assert printable("two\nlines", newlines=False) == "two\\nlines"
    assert printable("a\rb") == "a\\rb"
    once = printable("x\x1b\u202e\n\U000e0041", newlines=False)
    assert printable(once, newlines=False) == once  # escaping what is escaped changes nothing


def test_escaping_is_linear_and_fast():
    every = "".join(_members())
    for text in ("\u202e" * 5000, "\x1b[" * 2500, every[:5000], "日本" * 2500, ("a\n" * 2500)):
        start = time.perf_counter()
        printable(text)
        printable(text, newlines=False)
        assert time.perf_counter() - start < 2, text[:10]
    big = "name, " * 200_000
    start = time.perf_counter()
    assert printable(big) == big
    assert time.perf_counter() - start < 2


def test_a_newline_or_separator_in_a_name_never_breaks_a_table_row(tmp_path, run_cli):
    for bad in ("Evil\nCorp   production  fake row", "Evil\u2028Corp", "Evil\rCorp", "Evil\x85Corp",
                "Evil\u202eCorp\u2066", "Evil\ufeff\u200bCorp\U000e0041"):
        snap = _snapshot(tmp_path / f"s{len(list(tmp_path.iterdir()))}", name=bad)
        for args in (["audit", snap, "--fail-on", "never", "--format", "table"],
                     ["flows", snap, "--format", "table"], ["endpoints", snap, "--format", "table"]):
            run = run_cli(*args)
            assert run.exit_code == 0, (bad, args, run.stderr)
            lines = run.stdout.splitlines()
            # the name is in one line of each of its rows, and what followed a newline in it no line begins with
            assert all("Evil" in line for line in lines if "Corp" in line), (bad, args, run.stdout)
            assert not any(line.startswith("Corp") for line in lines), (bad, args, run.stdout)
            assert not any(unicodedata.category(c) in ESCAPED_CATEGORIES for c in run.stdout if c not in "\n"), \
                (bad, args)
            if args[0] != "audit":  # a header and one row: one flow, one endpoint
                assert len(lines) == 2, (bad, args, run.stdout)


def test_click_errors_quoting_the_command_line_are_escaped(run_cli):
    run = run_cli("audit", "--sample", "--fail-on", "hi\x1b[2J\u202e")
    assert run.exit_code == 2 and "\x1b" not in run.stderr and "\u202e" not in run.stderr, run.stderr
    run = run_cli("no-such\x1b[31m\u2028command")
    assert run.exit_code == 2 and "\x1b" not in run.stderr and "\u2028" not in run.stderr, run.stderr


def test_a_csv_folder_written_again_holds_this_runs_tables_only(tmp_path, run_cli):
    """changes.csv of a run with history, then a run without: the folder must not keep the old
    changes beside the new tables; a file of the user's own stays."""
    out = tmp_path / "csv"
    store = tmp_path / "h.sqlite"
    for day in ("2026-10-31", "2026-11-30"):
        run = run_cli("audit", "--sample", "--as-of", day, "--record", "--history", store, "--fail-on", "never",
                      "--csv", out)
        assert run.exit_code == 0, run.stderr
    assert (out / "changes.csv").exists()
    (out / "notes.txt").write_text("mine")
    run = run_cli("audit", "--sample", "--fail-on", "never", "--csv", out)
    assert run.exit_code == 0, run.stderr
    assert not (out / "changes.csv").exists() and (out / "summary.csv").exists()
    assert (out / "notes.txt").read_text() == "mine"


def test_a_summary_line_quoting_a_name_stays_one_line(tmp_path, run_cli):
    """The caveat names the account read from downloads: a newline in its name is shown escaped,
    not a second line that data could forge."""
    from downloads import orders
    acct = tmp_path / "acct"
    orders(acct / "orders")
    (acct / "account.json").write_text(json.dumps({"name": "Evil\nNo run history for: fake"}))
    run = run_cli("audit", acct, "--fail-on", "never")
    assert run.exit_code == 0, run.stderr
    caveat = [line for line in run.stdout.splitlines() if "Counted from integration downloads" in line]
    assert len(caveat) == 1 and "Evil\\nNo run history for: fake" in caveat[0]
    assert not any(line.startswith("No run history for: fake") for line in run.stdout.splitlines())


@pytest.mark.parametrize("name", ["integrations.json", "h.sqlite"])
def test_a_recorded_history_is_an_output_too_never_inside_a_snapshot(tmp_path, run_cli, name):
    """--record writes the history: over a snapshot's file it would destroy an input, and beside
    them it would be read as one (the next audit stopped: not valid JSON)."""
    import shutil

    from auditor.common.paths import sample_dir
    snap = tmp_path / "snap"
    shutil.copytree(sample_dir() / "acme-retail", snap)
    before = sorted(p.name for p in snap.iterdir())
    run = run_cli("audit", snap, "--record", "--history", snap / name, "--fail-on", "never")
    assert run.exit_code == 2 and "--history" in run.stderr and "which this run reads" in run.stderr
    assert sorted(p.name for p in snap.iterdir()) == before
    fine = run_cli("audit", snap, "--record", "--history", tmp_path / "h.sqlite", "--fail-on", "never")
    assert fine.exit_code == 0, fine.stderr
