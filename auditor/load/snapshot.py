"""Find snapshots on disk: which folders are accounts, their environments and their files.

A snapshot is a folder (or a .zip of one) of what integrator.io's API returns. This module only
looks at names on disk and reads the small hand-written `account.json`; the resource files are
read in bulk by `auditor.load.tables`.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
import zipfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from auditor.errors import AuditorError, InputError

RESOURCES = ("connections", "flows", "exports", "imports", "integrations")
# file suffix -> DuckDB read_json format; each may also be gzip-compressed (".gz")
FORMATS = {".json": "array", ".ndjson": "newline_delimited", ".jsonl": "newline_delimited"}


@dataclass(frozen=True)
class ResourceFile:
    path: Path
    format: str  # "array" | "newline_delimited"
    display: str  # how messages name it: "<account folder>/<env>/flows.json"


@dataclass
class Source:
    """One set of resource files: the top of a legacy snapshot, or one environment folder."""

    env: str | None  # None: a legacy snapshot's top level, environment from each `sandbox` flag
    files: dict[str, list[ResourceFile]] = field(default_factory=dict)


@dataclass
class Snapshot:
    account: str
    license_model: str
    display: str
    root: Path
    sources: list[Source]
    license_files: list[ResourceFile]
    pools: dict[str, str]  # environment -> entitlement pool ("production" | "sandbox")
    mutes_file: Path | None = None  # mutes.yaml beside the exports: mutes for this account
    archive: Path | None = None  # the .zip it was read from

    def input_files(self) -> list[tuple[str, Path]]:
        """(name as messages give it, path) of every file the audit reads: the zip itself for
        a zipped snapshot, else each resource, license, account and mutes file."""
        if self.archive is not None:
            return [(self.display, self.archive)]
        files = [(f.display, f.path) for src in self.sources for group in src.files.values() for f in group]
        files += [(f.display, f.path) for f in self.license_files]
        for extra in (self.root / "account.json", self.mutes_file):
            if extra is not None and extra.is_file():
                files.append((f"{self.display}/{extra.name}", extra))
        return sorted(files)


class AccountFile(BaseModel):
    """`account.json`, written by hand beside the exports."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    licenseModel: Literal["legacy", "multi-environment"] | None = None
    # which entitlements an environment draws on, for environments not named production/sandbox
    environments: dict[str, Literal["production", "sandbox"]] = {}


def _split_suffix(name: str) -> tuple[str, str | None]:
    """'flows.json.gz' -> ('flows', 'array'); unknown suffix -> (name, None)."""
    base = name[:-3] if name.endswith(".gz") else name
    for suffix, fmt in FORMATS.items():
        if base.endswith(suffix):
            return base[: -len(suffix)], fmt
    return name, None


def _natural_key(name: str):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


@functools.cache
def _listing(folder: Path) -> tuple[tuple[str, bool], ...]:
    """(name, is_dir) of a folder's entries, sorted, read once per run (see discover())."""
    with os.scandir(folder) as entries:
        return tuple(sorted((e.name, e.is_dir()) for e in entries))


def _resource_files(folder: Path, resource: str, display: str) -> list[ResourceFile]:
    """The files holding one resource in one folder: a single file or a folder of pages."""
    found: list[ResourceFile] = []
    has_pages = False
    for name, is_dir in _listing(folder):
        if is_dir:
            has_pages |= name == resource
            continue
        stem, fmt = _split_suffix(name)
        if stem == resource and fmt:
            found.append(ResourceFile(folder / name, fmt, f"{display}/{name}"))
    single = len(found)
    if has_pages:
        pages = folder / resource
        for name, is_dir in sorted(_listing(pages), key=lambda e: _natural_key(e[0])):
            _, fmt = _split_suffix(name)
            if fmt and not is_dir:
                found.append(ResourceFile(pages / name, fmt, f"{display}/{resource}/{name}"))
    if single > 1 or (single and len(found) > single):
        names = ", ".join(f.display for f in found[:3])
        raise AuditorError(f"{display}: {resource} is given more than once ({names}); keep one")
    return found


def _has_resources(folder: Path) -> bool:
    for name, is_dir in _listing(folder):
        if is_dir:
            if name in RESOURCES:
                return True
        else:
            stem, fmt = _split_suffix(name)
            if stem in RESOURCES and fmt:
                return True
    return False


def _env_dirs(folder: Path) -> list[Path]:
    return [folder / name for name, is_dir in _listing(folder)
            if is_dir and name not in RESOURCES and _has_resources(folder / name)]


def is_snapshot(folder: Path) -> bool:
    names = {name for name, _ in _listing(folder)}
    if "account.json" in names or "licenses.json" in names or _has_resources(folder):
        return True
    return any(d.name == "production" for d in _env_dirs(folder))


def _read_account_file(path: Path, display: str) -> AccountFile:
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InputError(display, f"not valid JSON at line {exc.lineno}, column {exc.colno}") from None
    try:
        return AccountFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "top level"
        raise InputError(display, f"{where}: {err['msg']}") from None


def _open_zip(path: Path, stack: ExitStack) -> Path:
    target = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="auditor-zip-")))
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                dest = (target / member.filename).resolve()
                if not dest.is_relative_to(target.resolve()):
                    raise InputError(str(path), f"entry {member.filename!r} points outside the archive")
            archive.extractall(target)
    except zipfile.BadZipFile:
        raise InputError(str(path), "not a readable zip archive") from None
    # a zip of a folder holds that one folder
    entries = [e for e in target.iterdir() if not e.name.startswith(("__MACOSX", "."))]
    if len(entries) == 1 and entries[0].is_dir() and not is_snapshot(target):
        return entries[0]
    return target


def read_snapshot(root: Path, display: str, default_name: str) -> Snapshot:
    account_file = root / "account.json"
    has_meta = ("account.json", False) in _listing(root)
    meta = _read_account_file(account_file, f"{display}/account.json") if has_meta else AccountFile()
    env_dirs = _env_dirs(root)
    top_level = _has_resources(root)
    model = meta.licenseModel or ("multi-environment" if env_dirs and not top_level else "legacy")
    sources: list[Source] = []
    if model == "multi-environment":
        if top_level:
            raise InputError(display, "a multi-environment account keeps its resources in one folder per environment, not at the top")
        for d in env_dirs:
            sources.append(Source(d.name, {r: _resource_files(d, r, f"{display}/{d.name}") for r in RESOURCES}))
    else:
        # legacy: production and sandbox share one set of resources; sub-folders are merged by _id
        sources.append(Source(None, {r: _resource_files(root, r, display) for r in RESOURCES}))
        for d in env_dirs:
            sources.append(Source(None, {r: _resource_files(d, r, f"{display}/{d.name}") for r in RESOURCES}))
    license_files = _resource_files(root, "licenses", display)
    if not license_files:
        for d in env_dirs:
            license_files += _resource_files(d, "licenses", f"{display}/{d.name}")
    pools = {"production": "production", "sandbox": "sandbox", **meta.environments}
    mutes = root / "mutes.yaml" if ("mutes.yaml", False) in _listing(root) else None
    return Snapshot(meta.name or default_name, model, display, root, sources, license_files, pools, mutes)


def discover(paths: list[Path], stack: ExitStack) -> list[Snapshot]:
    """Snapshots named on the command line: snapshot folders, zips, or folders of them."""
    snapshots: list[Snapshot] = []

    def visit(path: Path, display: str, nested: bool) -> bool:
        if path.is_file() and path.suffix.lower() == ".zip":
            root = _open_zip(path, stack)
            snapshots.append(read_snapshot(root, display, path.stem))
            snapshots[-1].archive = path
            return True
        if path.is_dir():
            if is_snapshot(path):
                snapshots.append(read_snapshot(path, display, path.name))
                return True
            if not nested:
                found = [visit(path / name, f"{display}/{name}", True) for name, _ in _listing(path)]
                return any(found)
        return False

    _listing.cache_clear()  # folders may have changed since the last run in this process
    for path in paths:
        if not path.exists():
            raise AuditorError(f"{path}: no such file or folder")
        display = path.name or str(path)
        if not visit(path, display, False):
            raise AuditorError(
                f"{path}: not a snapshot (no {', '.join(RESOURCES)} or account.json) and holds no snapshot folders"
            )
    names: dict[str, str] = {}
    for snap in snapshots:
        if snap.account in names:
            raise AuditorError(f"{snap.display}: account name {snap.account!r} is also the name of {names[snap.account]}")
        names[snap.account] = snap.display
    return snapshots
