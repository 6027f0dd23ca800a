"""The migration preview: a legacy production/sandbox account audited as it would stand on the
multi-environment license.

On the legacy license production and sandbox share one set of resources, each flagged `sandbox`;
on the multi-environment license every environment keeps its own, isolated (seed 000). The
preview splits each legacy snapshot into one folder per environment -- exactly the split a person
would make by hand -- and audits that: every count, finding and explanation is the audit's own.

The split: a flow (and its jobs) goes to the environment its `sandbox` flag names. Any other
resource goes to the environment its own flag names, and is also copied into each environment
whose flows (or APIs, tools, syncs) reach it, directly or through other resources: an export's
connection, an import's lookups, whatever names it by its `_id`. References are followed from
every resource but an integration (an integration names its flows and registered connections; it
is copied where its flows are, but does not pull what it names along), and never lead to a flow.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import orjson
import pandas as pd

from auditor.common.errors import InputError
from auditor.load.snapshot import RESOURCES, ResourceFile, Snapshot, discover

ENVIRONMENTS = ("production", "sandbox")
# resources whose records start a reach: each is in its own environment and uses what it names
SEEDS = ("flows", "apis", "tools", "syncs")
ASSUMPTIONS = (
    "Resources flagged sandbox: true form the sandbox environment and the others production; on the "
    "multi-environment license each environment keeps its own resources, isolated from the others (seed 000).",
    "A resource the flows (or APIs, tools, syncs) of both environments use -- a connection, export, import, "
    "integration -- is copied into each environment, and counts in each.",
    "A flow stays in the environment its sandbox flag names, and its jobs with it; a job of a flow the "
    "snapshot does not hold stays in production. An audit-log entry goes with the resource it is of (to its "
    "own environment), an entry of a resource the snapshot does not hold to production.",
    "Integration apps keep their status (installed, expired, disabled) and installs their progress (seed 000).",
    "Entitlements: production's come from the production license, the sandbox environment's from the "
    "sandbox entitlements, as today (help center 31566861433627 for environments added later).",
    "The vendor's usage figures (usage.json) describe the account as it is today: the preview does not "
    "compare with them.",
)


@dataclass
class Split:
    """One legacy snapshot split by environment: the folder written, and what was copied."""

    snapshot: Snapshot
    folder: Path
    copied: list[dict]  # {"type", "id", "name"} of each resource copied into both environments
    note: str | None  # why the account is not previewed (then `folder` is its snapshot as given)


def _records(f: ResourceFile) -> list:
    """The records of one resource file, as written (a record that is no object is kept: the audit
    reports it)."""
    raw = f.path.read_bytes()
    if f.path.name.lower().endswith(".gz"):
        raw = gzip.decompress(raw)
    try:
        if f.format == "newline_delimited":
            return [orjson.loads(line) for line in raw.splitlines() if line.strip()]
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InputError(f.display, "could not be read as JSON") from None
    return [data] if f.format == "object" else data if isinstance(data, list) else [data]


def _id(record) -> str | None:
    return record["_id"] if isinstance(record, dict) and isinstance(record.get("_id"), str) else None


def _names(value, ids: set[str], out: set[str]) -> None:
    """Every string in `value` (at any depth) that is the `_id` of a resource."""
    if isinstance(value, str):
        if value in ids:
            out.add(value)
    elif isinstance(value, dict):
        for v in value.values():
            _names(v, ids, out)
    elif isinstance(value, list):
        for v in value:
            _names(v, ids, out)


def split_records(records: dict[str, list]) -> tuple[dict[str, dict[str, list]], list[tuple[str, dict]]]:
    """(environment -> resource -> records, [(resource, record) copied into both]) of one legacy
    account's records (resource -> records, in the order read)."""
    home: dict[tuple[str, int], str] = {}  # (resource, position) -> its own environment
    by_id: dict[str, tuple[str, int]] = {}
    for resource, recs in records.items():
        for i, rec in enumerate(recs):
            home[resource, i] = "sandbox" if isinstance(rec, dict) and rec.get("sandbox") is True else "production"
            rid = _id(rec)
            if rid is not None and resource not in ("flows", "jobs", "audit"):
                by_id.setdefault(rid, (resource, i))  # the first of an _id is the one the audit keeps
    ids = set(by_id)
    flow_env = {_id(r): home["flows", i] for i, r in enumerate(records.get("flows", [])) if _id(r) is not None}
    reached: dict[tuple[str, int], set[str]] = {}
    for env in ENVIRONMENTS:
        todo = [(res, i) for res in SEEDS for i in range(len(records.get(res, []))) if home[res, i] == env]
        seen: set[tuple[str, int]] = set()
        while todo:
            res, i = todo.pop()
            if res == "integrations":  # copied where its flows are; what it names is not pulled along
                continue
            named: set[str] = set()
            _names(records[res][i], ids, named)
            named.discard(_id(records[res][i]))
            for rid in named:
                target = by_id[rid]
                if target not in seen:
                    seen.add(target)
                    reached.setdefault(target, set()).add(env)
                    todo.append(target)
    out: dict[str, dict[str, list]] = {env: {res: [] for res in records} for env in ENVIRONMENTS}
    copied = []
    for resource, recs in records.items():
        for i, rec in enumerate(recs):
            if resource == "jobs":
                envs = {flow_env.get(rec.get("_flowId") if isinstance(rec, dict) else None, "production")}
            elif resource == "audit":  # an entry goes with the resource it is of (once: to its own environment)
                named = rec.get("_resourceId") if isinstance(rec, dict) else None
                envs = {flow_env[named] if named in flow_env else home[by_id[named]] if named in by_id
                        else "production"}
            elif resource in SEEDS:
                envs = {home[resource, i]}
            else:
                envs = {home[resource, i]} | reached.get((resource, i), set())
            for env in ENVIRONMENTS:
                if env in envs:
                    out[env][resource].append(rec)
            if len(envs) > 1:
                copied.append((resource, rec))
    return out, copied


def _snapshot_records(snap: Snapshot) -> dict[str, list]:
    """Every record of a legacy snapshot, per resource, as the audit reads them: sub-folders merged
    by `_id` (the first read is kept), duplicates within one folder kept (the audit reports them)."""
    out: dict[str, list] = {}
    for resource in RESOURCES:
        seen: set[str] = set()
        recs: list = []
        for source in snap.sources:
            here: set[str] = set()
            for f in source.files.get(resource, []):
                for rec in _records(f):
                    rid = _id(rec)
                    if rid is not None and rid in seen:
                        continue
                    if rid is not None:
                        here.add(rid)
                    recs.append(rec)
            seen |= here
        if any(source.files.get(resource) for source in snap.sources):
            out[resource] = recs
    return out


def not_previewed(snap: Snapshot) -> str | None:
    """Why an account is audited as it is rather than previewed, or None."""
    if snap.license_model != "legacy":
        return "on the multi-environment license already: audited as it is"
    if snap.download:
        return ("read from integration downloads, which say too little of what the environments share: "
                "audited as it is; pull the account (auditor pull) to preview it")
    return None


def write_split(snap: Snapshot, into: Path) -> Split:
    """The snapshot split by environment, written as a multi-environment snapshot folder in `into`."""
    records = _snapshot_records(snap)
    parts, copied = split_records(records)
    folder = into / snap.root.name
    for env in ENVIRONMENTS:
        (folder / env).mkdir(parents=True)
        for resource, recs in parts[env].items():
            (folder / env / f"{resource}.json").write_bytes(orjson.dumps(recs))
    if snap.license_files:
        licenses = [rec for f in snap.license_files for rec in _records(f)]
        (folder / "licenses.json").write_bytes(orjson.dumps(licenses))
    (folder / "account.json").write_bytes(orjson.dumps({"name": snap.account, "licenseModel": "multi-environment"}))
    if snap.mutes_file is not None:
        shutil.copyfile(snap.mutes_file, folder / "mutes.yaml")
    rows = [{"type": resource.removesuffix("s"), "id": _id(rec) or "", "name": rec.get("name")
             if isinstance(rec, dict) and isinstance(rec.get("name"), str) else None} for resource, rec in copied]
    return Split(snap, folder, sorted(rows, key=lambda r: (r["type"], r["id"])), None)


def split_snapshots(paths: list[Path], stack: ExitStack) -> list[Split]:
    """Each legacy snapshot at `paths` split into a temporary folder, the others kept as they are
    (their `note` says why), for as long as `stack` lives."""
    into = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="auditor-preview-")))
    snapshots = discover(paths, stack)
    names = [s.root.name for s in snapshots]
    splits = []
    for no, snap in enumerate(snapshots):
        why = not_previewed(snap)
        if why is not None:
            splits.append(Split(snap, snap.root, [], why))
            continue
        # two accounts in folders of one name are written apart
        splits.append(write_split(snap, into / str(no) if names.count(snap.root.name) > 1 else into))
    return splits


def preview_section(today, after, splits: list[Split]) -> dict:
    """Per account and environment: each count today and after the migration against its
    entitlement, what becomes over or within, and the resources copied; with the assumptions."""
    from auditor.common.vocabulary import USED
    accounts = []
    copied = {s.snapshot.account: s.copied for s in splits}
    notes = {s.snapshot.account: s.note for s in splits}
    # each environment's row, today and after, looked up once (a partner's thousands of accounts)
    cols = ["account", "environment", *USED.values(), *(f"{m}_entitled" for m in USED)]
    now = {(r["account"], r["environment"]): r for r in today.environments[cols].to_dict("records")}
    then: dict[str, list[dict]] = {}
    for r in after.environments[cols].to_dict("records"):
        then.setdefault(r["account"], []).append(r)
    for account in sorted(copied):
        envs = []
        for row in then.get(account, []):
            before_row = now.get((account, row["environment"]))
            metrics = []
            for metric, used in USED.items():
                before = int(before_row[used]) if before_row is not None else 0
                entitled = None if pd.isna(row[f"{metric}_entitled"]) else int(row[f"{metric}_entitled"])
                metrics.append({"metric": metric, "today": before, "after": int(row[used]), "entitled": entitled,
                                "change": _change(before, int(row[used]), entitled)})
            envs.append({"environment": row["environment"], "metrics": metrics})
        accounts.append({"account": account, "previewed": notes[account] is None, "note": notes[account],
                         "environments": envs, "copied": copied[account]})
    return {"assumptions": list(ASSUMPTIONS), "accounts": accounts}


def _change(before: int, after: int, entitled: int | None) -> str:
    if entitled is None:
        return "no entitlement known" if before == after else "changes; no entitlement known"
    was, will = before > entitled, after > entitled
    if was and not will:
        return "becomes within the limit"
    if will and not was:
        return "becomes over the limit"
    return ("stays over" if will else "stays within") + ("" if before == after else f" ({after - before:+d})")



def preview_run(paths: list[Path], policy: str, as_of: date, *, rules: list, profile: str, mutes: Path | None = None,
                all_rows: bool = False, min_severity: str = "info", read_back: bool = False, prices=None,
                progress=None):
    """The accounts at `paths` audited as they would stand once migrated (the results file is that
    audit's, with a `migration_preview` section comparing it with today's)."""
    from auditor.runs.account import audit_snapshots, finish

    def audit(where: list[Path]):
        return audit_snapshots(where, policy, as_of, mutes=mutes, rules=rules, all_rows=all_rows, progress=progress)

    today = audit(paths)  # today's counts; and bad input is said naming the files as given
    with ExitStack() as stack:
        splits = split_snapshots(paths, stack)
        after = audit([s.folder for s in splits])
    # what was read, and what was skipped or noted while reading: the snapshots as given (the split
    # holds the same records, at other places in other files)
    after.inputs, after.load_issues = today.inputs, today.load_issues
    after.prices = prices
    return finish(after, profile, min_severity, read_back=read_back,
                  sections={"migration_preview": preview_section(today, after, splits)})
