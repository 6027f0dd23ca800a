"""Months of audits, one after another: whatever one command writes, every other command reads back
(issue 24). Each month is audited with --as-of its last day and --record into one history; then
every file the audit wrote is checked strictly, and `report`, `flows`, `endpoints` and `diff` read
the month back by results file and by recorded date, for the whole run and for each account. The
report the history renders of a date must be the audit's own, byte for byte.

Failures are collected, not stopped at: the test ends with one line per distinct failure (the
first month it happened in, the command, the file or field), and keeps its folder with
`replay.sh`, every command it ran in order, to reproduce them by hand.

The generated accounts (tests/evolve.py) run under hypothesis: profile "ci" (the default: a few
examples, derandomized, so CI is deterministic) or "long" (HYPOTHESIS_PROFILE=long: many examples,
random; see README "Month over month").
"""

from __future__ import annotations

import csv
import os
import random
import re
import shlex
import time
import traceback
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from evolve import LAYOUTS, LICENSE_SHAPES, OPS, TOUR_SPECS, Spec, evolve, month_ends, random_plan, random_specs, tour
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from auditor.cli import cli
from auditor.results.io import load_json

settings.register_profile("ci", max_examples=1, deadline=None, derandomize=True, database=None,
                          phases=[Phase.explicit, Phase.generate], print_blob=False,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("long", max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "50")), deadline=None,
                          phases=[Phase.explicit, Phase.generate], print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"

# Where a whole number written as a float is right: shares, paces, money. Everywhere else a
# count, an entitlement, a position or a size is an integer, in JSON and in CSV.
FRACTIONAL = re.compile(r"share|pace|amount|at.stake|price|percent|^billed$", re.I)
WHOLE_FLOAT = re.compile(r"-?\d+\.0+")


@dataclass
class Failure:
    month: str
    command: str
    what: str
    argv: list[str]


@dataclass
class Months:
    """One history of monthly audits under `root`, and what went wrong reading them back."""

    root: Path
    failures: list[Failure] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    month: str = ""
    times: dict[str, float] = field(default_factory=dict)  # CPU seconds spent in each command

    def short(self, argv: list[str]) -> list[str]:
        """Paths under the root, relative to it (replay.sh runs there)."""
        return [a.replace(f"{self.root}/", "") for a in argv]

    @property
    def history(self) -> Path:
        return self.root / "h.sqlite"

    def fail(self, command: str, what: str, argv: list[str] | None = None) -> None:
        self.failures.append(Failure(self.month, command, what.replace(f"{self.root}/", ""), self.short(argv or [])))

    def run(self, *args) -> tuple[bool, str]:
        """`auditor ARGS` in-process; a non-zero exit is a failure. Returns (worked, stdout)."""
        argv = [str(a) for a in args]
        self.log.append(f"# {self.month}\nauditor {shlex.join(self.short(argv))}")
        started = time.process_time()
        try:
            result = CliRunner().invoke(cli, argv, catch_exceptions=True)
        finally:
            self.times[argv[0]] = self.times.get(argv[0], 0.0) + time.process_time() - started
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            where = traceback.extract_tb(result.exception.__traceback__)[-1]
            self.fail(argv[0], f"raised {type(result.exception).__name__} at {Path(where.filename).name}:{where.lineno}",
                      argv)
            return False, result.stdout
        if result.exit_code != 0:
            said = (result.stderr.strip().splitlines() or ["(nothing on standard error)"])[-1]
            self.fail(argv[0], f"exit {result.exit_code}: {said}", argv)
            return False, result.stdout
        return True, result.stdout

    def same(self, command: str, argv: list, made: Path, expected: Path, expected_from: str) -> None:
        """`made` (written by `argv`) is byte for byte `expected`."""
        if not made.is_file() or not expected.is_file():
            return  # the command's own failure is recorded already
        a, b = made.read_bytes(), expected.read_bytes()
        if a != b:
            line = next((i for i, (x, y) in enumerate(zip(a.splitlines(), b.splitlines()), 1) if x != y),
                        min(len(a.splitlines()), len(b.splitlines())) + 1)
            self.fail(command, f"{made.name} differs from {expected_from} (first at line {line})", [str(x) for x in argv])

    # --- files checked strictly ------------------------------------------------------------------

    def results_file(self, path: Path, command: str) -> dict | None:
        """A results file as `auditor report` reads it (strictly, by the model), with no whole
        number written as a float anywhere in it."""
        try:
            data = load_json(path)
        except Exception as exc:  # noqa: BLE001
            self.fail(command, str(exc), ["report", str(path), "x.html"])
            return None
        self.json_numbers(orjson.loads(path.read_bytes()), f"{command} -o {path.name}")
        return data

    def json_numbers(self, data, what: str) -> None:
        floats = []

        def walk(node, where: str) -> None:
            if isinstance(node, dict):
                for k, v in node.items():
                    walk(v, f"{where}.{k}" if where else k)
            elif isinstance(node, list):
                for i, v in enumerate(node):
                    walk(v, f"{where}[{i}]")
            elif isinstance(node, float) and node.is_integer() and not FRACTIONAL.search(where.rsplit(".", 1)[-1]):
                floats.append(where)

        walk(data, "")
        if floats:
            self.fail(what, f"whole numbers written as floats at {', '.join(floats[:3])}"
                            f"{f' and {len(floats) - 3} more' if len(floats) > 3 else ''}")

    def csv_folder(self, folder: Path, what: str) -> None:
        """Every CSV table: readable, and no count written as a float (`5.0`)."""
        if not folder.is_dir():
            return
        for table in sorted(folder.glob("*.csv")):
            with table.open(encoding="utf-8", newline="") as handle:
                rows = list(csv.reader(handle))
            header = rows[0] if rows else []
            bad = sorted({header[i] for row in rows[1:] for i, cell in enumerate(row)
                          if i < len(header) and WHOLE_FLOAT.fullmatch(cell) and not FRACTIONAL.search(header[i])})
            if bad:
                self.fail(what, f"{table.name}: whole numbers written as floats in column(s) {', '.join(bad)}")

    def workbook(self, path: Path, what: str) -> None:
        if not path.is_file():
            return
        try:
            with zipfile.ZipFile(path) as z:
                if z.testzip() is not None or "xl/workbook.xml" not in z.namelist():
                    self.fail(what, f"{path.name}: not a sound workbook")
        except zipfile.BadZipFile:
            self.fail(what, f"{path.name}: not a zip file")

    def rows(self, command: str, argv: list, account: str | None) -> None:
        """flows/endpoints --format json: a JSON list, each row of the account asked for."""
        worked, out = self.run(*argv)
        if not worked:
            return
        try:
            rows = orjson.loads(out)
        except orjson.JSONDecodeError:
            self.fail(command, "--format json wrote no JSON", [str(a) for a in argv])
            return
        if account is not None and any(r.get("account") != account for r in rows):
            self.fail(command, "--account listed rows of another account", [str(a) for a in argv])
        self.json_numbers(rows, f"{command} --format json")

    # --- one month -------------------------------------------------------------------------------

    def audit_month(self, day: date, snapshots: list, previous: date | None, every_account: list[str],
                    full: bool) -> bool:
        """Audit the month, record it, and read it back; False when the audit failed.

        Every month: the results file (strictly), the HTML page and the CSV tables the audit wrote;
        `report DATE` is the audit's own page byte for byte; flows, endpoints and diff (as JSON) by
        file and by date, for the run and each account, diff agreeing both ways; the history's
        listing. A `full` month also writes the workbook, and checks report of the file (page and
        CSV tables), report --account of each account by file and by date, and diff --html and
        --csv by date."""
        self.month = f"{day:%Y-%m}"
        d = self.root / self.month
        d.mkdir(parents=True, exist_ok=True)
        results, own = d / "results.json", d / "own.html"
        worked, _ = self.run("audit", *snapshots, "--as-of", day, "--fail-on", "never", "--record",
                             "--history", self.history, "-o", results, "--html", own, "--csv", d / "csv",
                             *(["--xlsx", d / "own.xlsx"] if full else []))
        if not worked or not results.is_file():
            return False
        data = self.results_file(results, "audit")
        self.csv_folder(d / "csv", "audit --csv")
        self.workbook(d / "own.xlsx", "audit --xlsx")
        accounts = [a["account"] for a in data["accounts"]] if data else every_account
        by_date = [str(day), "--history", self.history]
        # report: by date (and by file), the audit's own page byte for byte
        for source, name in ((by_date, "date"), ([results], "file"))[:2 if full else 1]:
            argv = ["report", *source, d / f"report-{name}.html"]
            if self.run(*argv)[0]:
                self.same(f"report by {name}", argv, d / f"report-{name}.html", own, "the audit's own --html")
        if full:
            argv = ["report", results, "--csv", d / "csv-again"]
            if self.run(*argv)[0]:
                self.csv_folder(d / "csv-again", "report --csv")
                for table in sorted((d / "csv").glob("*.csv")):
                    self.same("report --csv", argv, d / "csv-again" / table.name, table, "the audit's own --csv")
            for acct in accounts:
                slug = re.sub(r"\W+", "-", acct)
                made = {}
                for source, name in (([results], "file"), (by_date, "date")):
                    argv = ["report", *source, d / f"report-{name}-{slug}.html", "--account", acct]
                    made[name] = (argv, self.run(*argv)[0])
                if made["file"][1] and made["date"][1]:
                    self.same("report --account by date", made["date"][0], d / f"report-date-{slug}.html",
                              d / f"report-file-{slug}.html", "report --account of the results file")
        # flows and endpoints: by file and by date, all accounts and each
        for command in ("flows", "endpoints"):
            for source in ([results], by_date):
                self.rows(command, [command, *source, "--format", "json"], None)
                for acct in accounts:
                    self.rows(command, [command, *source, "--format", "json", "--account", acct], acct)
        # diff: by file and by date agree, for the whole run and each account
        if previous is not None:
            before = self.root / f"{previous:%Y-%m}" / "results.json"
            for acct in [None, *accounts]:
                narrow = ["--account", acct] if acct else []
                outs = []
                for argv in (["diff", before, results, "--format", "json", *narrow],
                             ["diff", str(previous), str(day), "--history", self.history, "--format", "json", *narrow]):
                    worked, out = self.run(*argv)
                    outs.append(out if worked else None)
                    if worked:
                        self.json_numbers(orjson.loads(out), "diff --format json")
                if None not in outs and outs[0] != outs[1]:
                    self.fail("diff by date", "differs from diff of the results files" + (f" ({acct})" if acct else ""),
                              [str(a) for a in argv])
            if full:
                argv = ["diff", str(previous), str(day), "--history", self.history, "--html", d / "diff.html",
                        "--csv", d / "diff-csv"]
                if self.run(*argv)[0]:
                    self.same("diff --html by date", argv, d / "diff.html", own, "the audit's own --html")
                    self.csv_folder(d / "diff-csv", "diff --csv")
        # the history's own listing of what it holds
        worked, out = self.run("history", "--history", self.history, "--format", "json")
        if worked:
            self.json_numbers(orjson.loads(out), "history --format json")
        return True

    def report(self) -> str:
        """One line per distinct failure: where it first happened, how often, how to reproduce."""
        (self.root / "replay.sh").write_text("set -x\ncd \"$(dirname \"$0\")\"\n" + "\n".join(self.log) + "\n")
        classes: dict[tuple, list[Failure]] = {}
        for f in self.failures:
            key = (f.command, re.sub(r"\d+", "#", re.sub(r"\S*/", "", f.what)))
            classes.setdefault(key, []).append(f)
        lines = [f"{len(classes)} distinct failures over the months; paths are under {self.root}, where "
                 f"'bash replay.sh' runs every command again in order (the history needs the months before):"]
        for (command, _), seen in classes.items():
            first = seen[0]
            lines.append(f"- month {first.month}: {command}: {first.what} ({len(seen)} times, "
                         f"in {len({s.month for s in seen})} months)")
            if first.argv:
                lines.append(f"    auditor {shlex.join(first.argv)}")
        lines.append("CPU seconds per command: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(self.times.items())))
        return "\n".join(lines)


def full_month(m: int, months: int) -> bool:
    """Which months get every check: all of them in the long profile; in CI the first, the first
    with a trend (the third), every sixth and the last."""
    return LONG or m in (0, 2, months - 1) or m % 6 == 5


def audit_months(root: Path, months_of_snapshots: list) -> Months:
    """Audit each month of `months_of_snapshots` ((day, snapshot args, account names)) into one
    history, reading each back; the last month that audited is the one diff compares with."""
    months = Months(root)
    previous = None
    for m, (day, snapshots, names) in enumerate(months_of_snapshots):
        if months.audit_month(day, snapshots, previous, names, full_month(m, len(months_of_snapshots))):
            previous = day
    return months


# --- the bundled sample, 24 months ---------------------------------------------------------------

def test_twenty_four_months_of_the_sample_are_read_back_by_every_command(tmp_path):
    """`auditor audit --sample --as-of <month end> --record` for 24 months, each month read back by
    every command by file and by date, and --account for each account; the sample's partner and
    NetSuite runs too, in the first and the last month (their results read back by report and diff)."""
    names = ["Acme Retail", "Globex Corporation", "Hooli", "Initech", "Umbrella Health"]
    days = month_ends("2025-12", 24)
    months = audit_months(tmp_path, [(day, ["--sample"], names) for day in days])
    previous: dict[str, Path] = {}
    for m, day in enumerate(days):
        if m not in (0, len(days) - 1):
            continue
        months.month = f"{day:%Y-%m}"
        for command in ("licenses", "ns-records"):
            out = tmp_path / months.month / f"{command}.json"
            worked, _ = months.run(command, "--sample", "--as-of", day, "--fail-on", "never", "-o", out,
                                   "--csv", tmp_path / months.month / f"{command}-csv")
            if not worked:
                continue
            months.results_file(out, command)
            months.csv_folder(tmp_path / months.month / f"{command}-csv", f"{command} --csv")
            months.run("report", out, tmp_path / months.month / f"{command}.html")
            if command in previous:
                months.run("diff", previous[command], out)
            previous[command] = out
    if months.failures:
        pytest.fail(months.report(), pytrace=False)


# --- generated accounts, evolving ----------------------------------------------------------------

specs = st.lists(st.builds(Spec, layout=st.sampled_from(LAYOUTS), shape=st.sampled_from(LICENSE_SHAPES),
                           jobs=st.booleans()), min_size=1, max_size=4)
plans = st.lists(st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 7), st.integers(0, 63)), max_size=4),
                 min_size=24, max_size=24)


@settings(PROFILE)
@given(seed=st.integers(0, 10_000), specs=st.none() | specs, plan=st.none() | plans)
@example(seed=0, specs=TOUR_SPECS, plan=tour())
def test_generated_accounts_over_twenty_four_months_are_read_back_by_every_command(tmp_path_factory, seed, specs,
                                                                                    plan):
    """Accounts of every layout and entitlement shape, evolving for 24 months (tests/evolve.py),
    audited and recorded each month end, every month read back by every command. Accounts or
    months not drawn (None) come from the seed, so that the simplest example hypothesis tries
    first (and the only one CI adds to the tour) is a random history, not an empty one."""
    rng = random.Random(seed)
    specs = specs if specs is not None else random_specs(rng)
    plan = plan if plan is not None else random_plan(rng)
    root = tmp_path_factory.mktemp("months")
    snapshots = [(day, folders, [a.name for a in accounts])
                 for day, folders, accounts in evolve(root / "snapshots", specs, plan, seed)]
    months = audit_months(root, snapshots)
    if months.failures:
        pytest.fail(months.report(), pytrace=False)
