"""The speed targets of issue 28, measured against the team's yardsticks.

    python benchmarks/bench_targets.py --yardsticks ../shared/bench --repeat 3 [--big] [--markdown]

Every way runs in a fresh process, start-up included, interleaved with the others `--repeat`
times; medians of wall time and peak memory (max RSS of the process tree) are printed with the
ratios the targets are stated in (`--markdown`: as the table in the README). The yardsticks
(`gen.py`, `reference.py`, `reference_ext.py`) live outside the repository; the generated data is
kept in `--data` for later runs. The counts of every audit are checked against `reference.py`'s,
so a fast wrong answer fails. The audit runs as `python -m auditor`: PYTHONPATH=TREE measures
another checkout the same way (target D runs the installed `auditor` command).

Targets:
  A  1,000 x 200 (and --big 5,000 x 200) end to end: <= 1.25x reference_ext.py, memory <= its own
  B  one 500-flow account with --html --xlsx: <= 3x reference.py on the same account
  C  reports (--html --xlsx) at most double the audit, at 250 x 200 and 1,000 x 200
  D  auditor --help, shell completion, rules list: <= 1.5x python -c "import duckdb"
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

PY = sys.executable


def timed(argv: list[str], env: dict | None = None, exits: tuple[int, ...] = (0, 1)) -> tuple[float, float]:
    """(seconds, peak MiB) through /usr/bin/time, which reports each process's own peak. An exit
    code outside `exits` stops the benchmark: a command that fails fast must not look fast."""
    out = subprocess.run(["/usr/bin/time", "-f", "%e %M", *argv], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env={**os.environ, **(env or {})}, text=True)
    if out.returncode not in exits:
        raise SystemExit(f"{' '.join(argv)} failed ({out.returncode}): {out.stderr[-800:]}")
    seconds, kib = out.stderr.strip().splitlines()[-1].split()
    return float(seconds), int(kib) / 1024


def generate(yard: Path, data: Path, accounts: int, flows: int) -> Path:
    root = data / f"gen-{accounts}x{flows}"
    if not root.is_dir():
        subprocess.run([PY, str(yard / "gen.py"), str(root), str(accounts), str(flows)], check=True,
                       stdout=subprocess.DEVNULL)
    return root


def run_ways(ways: dict[str, list[str]], repeat: int, env: dict | None = None,
             exits: tuple[int, ...] = (0, 1)) -> dict[str, tuple[float, float]]:
    """Median (seconds, MiB) per way, the ways interleaved."""
    got: dict[str, list[tuple[float, float]]] = {w: [] for w in ways}
    for _ in range(repeat):
        for name, argv in ways.items():
            got[name].append(timed(argv, env, exits))
    return {w: (statistics.median(s for s, _ in v), statistics.median(m for _, m in v)) for w, v in got.items()}


def check_counts(results: Path, reference: Path) -> None:
    """The audit's billable flows and endpoints per account equal the reference's."""
    ours = {a["account"]: [sum(e["flows"]["billable"] for e in a["environments"]),
                           sum(e["endpoints"]["used"] for e in a["environments"])]
            for a in json.loads(results.read_text())["accounts"]}
    theirs = json.loads(reference.read_text())["counts"]
    if ours != theirs:
        bad = [a for a in theirs if ours.get(a) != theirs[a]][:3]
        raise SystemExit(f"counts differ from reference.py for {bad}: {[ours.get(a) for a in bad]} vs "
                         f"{[theirs[a] for a in bad]}")


class Table:
    """The measured cases: each a target line (ok or MISS) and a row of the README's table."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.rows: list[str] = []

    def add(self, case: str, value: float, limit: float, measured: str) -> None:
        mark = "ok  " if value <= limit else "MISS"
        self.lines.append(f"{mark} {case:<36} {value:6.2f}x (target <= {limit}x)  {measured}")
        self.rows.append(f"| {case} | {measured} | {value:.2f}x | <= {limit}x | {'met' if value <= limit else 'missed'} |")

    def markdown(self) -> str:
        return "\n".join(["| case | measured (medians) | ratio | target | |", "|---|---|---|---|---|", *self.rows])


def installed_command() -> str:
    """The `auditor` script installed next to this interpreter, as a user runs it. Not the first
    one on PATH: a version manager's shim there (pyenv's is a bash script) would add its own start-up
    to the measured command but not to the `python -c "import duckdb"` it is compared with."""
    beside = Path(PY).with_name("auditor")
    found = str(beside) if beside.exists() else shutil.which("auditor")
    if not found:
        raise SystemExit("the auditor command is not installed (pip install -e .)")
    return found


def audit_ways(yard: Path, out: Path, root: Path, tag: str, reports: bool = False) -> dict[str, list[str]]:
    extra = ["--html", str(out / f"{tag}.html"), "--xlsx", str(out / f"{tag}.xlsx")] if reports else []
    return {"auditor": [PY, "-m", "auditor", "audit", str(root), "--as-of", "2026-11-30", "--fail-on", "never",
                        "-o", str(out / f"{tag}.json"), *extra],
            "reference": [PY, str(yard / "reference.py"), str(root), str(out / f"{tag}-ref.json")],
            "reference_ext": [PY, str(yard / "reference_ext.py"), str(root), str(out / f"{tag}-ext.json")]}


def target_a(table: Table, yard: Path, data: Path, out: Path, accounts: int, repeat: int) -> None:
    root = generate(yard, data, accounts, 200)
    tag = f"a{accounts}"
    med = run_ways(audit_ways(yard, out, root, tag), repeat)
    check_counts(out / f"{tag}.json", out / f"{tag}-ref.json")
    a, r, x = med["auditor"], med["reference"], med["reference_ext"]
    table.add(f"A {accounts:,} x 200 audit vs reference_ext", a[0] / x[0], 1.25,
              f"auditor {a[0]:.2f} s; reference_ext {x[0]:.2f} s (reference.py {r[0]:.2f} s: {a[0] / r[0]:.1f}x)")
    table.add(f"A {accounts:,} x 200 memory vs reference_ext", a[1] / x[1], 1.0,
              f"auditor {a[1]:.0f} MiB; reference_ext {x[1]:.0f} MiB")


def target_b(table: Table, yard: Path, data: Path, out: Path, repeat: int) -> None:
    root = generate(yard, data, 1, 500)
    ways = audit_ways(yard, out, root, "b1", reports=True)
    med = run_ways({k: ways[k] for k in ("auditor", "reference")}, max(repeat, 5))
    a, r = med["auditor"], med["reference"]
    table.add("B one 500-flow account, --html --xlsx", a[0] / r[0], 3.0,
              f"auditor {a[0]:.2f} s; reference.py {r[0]:.2f} s")


def target_c(table: Table, yard: Path, data: Path, out: Path, accounts: int, repeat: int) -> None:
    root = generate(yard, data, accounts, 200)
    plain = audit_ways(yard, out, root, f"c{accounts}")["auditor"]
    full = audit_ways(yard, out, root, f"c{accounts}r", True)["auditor"]
    med = run_ways({"audit": plain, "reports": full}, repeat)
    table.add(f"C {accounts:,} x 200 with reports vs audit", med["reports"][0] / med["audit"][0], 2.0,
              f"with --html --xlsx {med['reports'][0]:.2f} s; audit {med['audit'][0]:.2f} s")


def target_d(table: Table, repeat: int) -> None:
    complete = {"COMP_WORDS": "auditor au", "COMP_CWORD": "1", "_AUDITOR_COMPLETE": "bash_complete"}
    exe = installed_command()
    ways = {"duckdb": [PY, "-c", "import duckdb"], "help": [exe, "--help"], "rules list": [exe, "rules", "list"]}
    med = run_ways(ways, max(repeat, 5), exits=(0,))
    comp = run_ways({"completion": [exe]}, max(repeat, 5), env=complete, exits=(0,))
    base = med["duckdb"][0]
    for name, seconds in (("--help", med["help"][0]), ("completion", comp["completion"][0]),
                          ("rules list", med["rules list"][0])):
        table.add(f"D {name} vs import duckdb", seconds / base, 1.5, f"{seconds:.2f} s; import duckdb {base:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--yardsticks", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "bench")
    ap.add_argument("--data", type=Path, default=Path("/tmp/auditor-bench"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--big", action="store_true", help="also 5,000 x 200 (1M flows)")
    ap.add_argument("--only", choices=["A", "B", "C", "D"], action="append")
    ap.add_argument("--markdown", action="store_true", help="also print the table as Markdown (the README's)")
    args = ap.parse_args()
    yard, data, only = args.yardsticks, args.data, set(args.only or "ABCD")
    out = data / "out"
    out.mkdir(parents=True, exist_ok=True)
    table = Table()
    for accounts in ([1000, 5000] if args.big else [1000]) if "A" in only else []:
        target_a(table, yard, data, out, accounts, args.repeat)
    if "B" in only:
        target_b(table, yard, data, out, args.repeat)
    for accounts in (250, 1000) if "C" in only else []:
        target_c(table, yard, data, out, accounts, args.repeat)
    if "D" in only:
        target_d(table, args.repeat)
    print("\n".join(table.lines))
    if args.markdown:
        print("\n" + table.markdown())


if __name__ == "__main__":
    main()
