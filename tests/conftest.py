"""Helpers: build snapshots on disk and run the CLI as a user would."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditor.cli import cli
from auditor.results.io import load_json

ROOT = Path(__file__).resolve().parent.parent  # the repository (tests sit in a folder per stage)


def write_snapshot(root: Path, **resources) -> Path:
    """Write resource lists as JSON files under `root`; a dict value writes account.json as is."""
    root.mkdir(parents=True, exist_ok=True)
    for name, value in resources.items():
        (root / f"{name}.json").write_text(json.dumps(value))
    return root


class Run:
    def __init__(self, result, out: Path | None):
        self.result = result
        self.exit_code = result.exit_code
        self.stdout = result.stdout
        self.stderr = result.stderr
        self.out = out

    @property
    def results(self) -> dict:
        return json.loads(self.out.read_text())


@pytest.fixture
def run_cli(tmp_path):
    """run_cli("audit", path, ...) -> Run; audit writes its results to a temp file unless -o given."""

    def run(*args: str | Path, output: bool = True) -> Run:
        argv = [str(a) for a in args]
        out = None
        # the command comes after the group's own options (-q, -v, --config FILE)
        at = 0
        while at < len(argv) and argv[at].startswith("-"):
            at += 2 if argv[at] == "--config" else 1
        command = argv[at] if at < len(argv) else None
        if command in ("audit", "licenses", "ns-records") and "-o" not in argv and output:
            out = tmp_path / f"results-{len(list(tmp_path.glob('results-*')))}.json"
            argv += ["-o", str(out)]
        elif "-o" in argv:
            out = Path(argv[argv.index("-o") + 1])
        result = CliRunner().invoke(cli, argv, catch_exceptions=False)
        if command in ("audit", "licenses", "ns-records") and out is not None and out.is_file():
            load_json(out)  # every results file a test makes is sound as 'auditor report' reads one: strictly
        return Run(result, out)

    return run


def flow(fid: str, *, exports=(), imports=(), **extra) -> dict:
    """A flow whose first page generator is exports[0], with imports as page processors."""
    rec = {"_id": fid, "name": f"flow {fid}"}
    if exports:
        rec["pageGenerators"] = [{"_exportId": e} for e in exports]
    if imports:
        rec["pageProcessors"] = [{"type": "import", "_importId": i} for i in imports]
    rec.update(extra)
    return rec


def account(tmp_path: Path, connections: list[dict], flows: list[dict], *, name="acct", licenses=None,
            integrations=None, extra_exports=(), extra_imports=()) -> Path:
    """A legacy snapshot where each connection c gets an export `e-<c>` and an import `i-<c>`."""
    exports = [{"_id": f"e-{c['_id']}", "name": f"export {c['_id']}", "_connectionId": c["_id"],
                "adaptorType": "HTTPExport", **({"sandbox": c["sandbox"]} if "sandbox" in c else {})}
               for c in connections] + list(extra_exports)
    imports = [{"_id": f"i-{c['_id']}", "name": f"import {c['_id']}", "_connectionId": c["_id"],
                **({"sandbox": c["sandbox"]} if "sandbox" in c else {})} for c in connections] + list(extra_imports)
    res = {"connections": connections, "exports": exports, "imports": imports, "flows": flows}
    if licenses is not None:
        res["licenses"] = licenses
    if integrations is not None:
        res["integrations"] = integrations
    return write_snapshot(tmp_path / name, **res)


@pytest.fixture(params=["packed", "direct"])
def read_path(request, monkeypatch):
    """Run a test both ways files are read: small files packed together, large ones on their own
    (forced here by a packing limit of 0 bytes)."""
    if request.param == "direct":
        import auditor.load.tables

        monkeypatch.setattr(auditor.load.tables, "PACK_LIMIT", 0)
    return request.param


@pytest.fixture
def deadline():
    """A hang fails the test instead of blocking the run (a named pipe read would block forever)."""
    def expired(*_):
        raise TimeoutError("the run did not finish in 60 s")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def audited(*paths: Path, as_of: str = "2026-11-30", policy: str = "default") -> dict:
    """The results of auditing `paths`, in-process (counting tests need no CLI)."""
    from datetime import date

    import orjson

    from auditor.count.policy import load_policy
    from auditor.results.build import build
    from auditor.rules.model import load_rules
    from auditor.runs.account import run

    result = run(list(paths), load_policy(policy), load_rules(), date.fromisoformat(as_of))
    return orjson.loads(orjson.dumps(build(result)))
