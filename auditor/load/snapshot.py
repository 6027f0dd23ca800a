"""Find snapshots on disk: which folders are accounts, their environments and their files.

A snapshot is a folder (or a .zip of one) of what integrator.io's API returns. This module only
looks at names on disk and reads the small hand-written `account.json`; the resource files are
read in bulk by `auditor.load.tables`.
"""

from __future__ import annotations

import functools
import os
import re
import stat
import tempfile
import unicodedata
import zipfile
import zlib
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from auditor.common.errors import AuditorError, InputError

# apis, tools and syncs: what besides flows reaches connections (APIs built in integrator.io, tools
# of MCP servers and AI agents, syncs from a source to a destination connection); jobs: the run
# history (`GET /v1/jobs`), read on the platform plan, which counts flows run; audit: the audit log
# (`GET /v1/audit`), read to attribute each change of a count to the change in the account behind it
RESOURCES = ("connections", "flows", "exports", "imports", "integrations", "apis", "tools", "syncs", "jobs", "audit")
# file suffix -> DuckDB read_json format; each may also be gzip-compressed (".gz")
FORMATS = {".json": "array", ".ndjson": "newline_delimited", ".jsonl": "newline_delimited"}
# integrator.io's "Download integration" (and a marketplace template): this file beside folders
# holding one JSON object per file (format "object"), `connections/FTP-611b....json`
DOWNLOAD_MARK = "integration.json"


@dataclass(frozen=True)
class ResourceFile:
    path: Path
    format: str  # "array" | "newline_delimited" | "object" (one record: a download's files)
    display: str  # how messages name it: "<account folder>/<env>/flows.json"


@dataclass
class Source:
    """One set of resource files: the top of a legacy snapshot, one environment folder, or one
    downloaded integration."""

    env: str | None  # None: a legacy snapshot's top level, environment from each `sandbox` flag
    files: dict[str, list[ResourceFile]] = field(default_factory=dict)
    # a download (its flows name no integration: they belong to the one in its integration.json),
    # and the zip it came in, when it came in one inside an account folder
    download: bool = False
    archive: Path | None = None


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
    usage_file: Path | None = None  # usage.json: the vendor's own usage figures, to compare with
    notes: list[dict] = field(default_factory=list)  # load notes: files not read, empty environments

    @property
    def download(self) -> bool:
        """Read from integration downloads: what they leave out makes the counts upper bounds."""
        return any(src.download for src in self.sources)

    def input_files(self) -> list[tuple[str, Path]]:
        """(name as messages give it, path) of every file the audit reads: the zip itself for
        a zipped snapshot (or a zipped download in it), else each resource, license, account and
        mutes file."""
        if self.archive is not None:
            return [(self.display, self.archive)]
        files = [(f.display, f.path) for src in self.sources if src.archive is None
                 for group in src.files.values() for f in group]
        files += sorted({(f"{self.display}/{src.archive.name}", src.archive) for src in self.sources if src.archive})
        files += [(f.display, f.path) for f in self.license_files]
        for extra in (self.root / "account.json", self.mutes_file, self.usage_file):
            if extra is not None and extra.is_file():
                files.append((f"{self.display}/{extra.name}", extra))
        return sorted(files)


def account_name(text: str) -> str:
    """An account's name as it is shown and kept: in Unicode's composed form (NFC: the name as it
    looks, whichever way its accents were typed), without spaces at its ends."""
    return unicodedata.normalize("NFC", text).strip()


def account_key(text: str) -> str:
    """What makes two account names one account: compared without case, in the compatibility
    form (full-width letters are the letters), without invisible (format) characters, and with
    runs of spaces as one. Names that differ only so look alike to a reader: two accounts so
    named in one run are refused, and the history refuses a name looking like one it holds."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return " ".join(text.split()).casefold()


class AccountFile(BaseModel):
    """`account.json`, written by hand beside the exports."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    licenseModel: Literal["legacy", "multi-environment"] | None = None
    # which entitlements an environment draws on, for environments not named production/sandbox
    environments: dict[str, Literal["production", "sandbox"]] = {}


@functools.lru_cache(maxsize=4096)  # the same few names, in every account's folder
def _split_suffix(name: str) -> tuple[str, str | None]:
    """'flows.json.gz' -> ('flows', 'array'); unknown suffix -> (name, None). Suffixes and the
    resource name are matched in any case (`Flows.JSON`): file systems and zips made on Windows
    or macOS do not keep it reliably."""
    lower = name.lower()
    base = lower[:-3] if lower.endswith(".gz") else lower
    for suffix, fmt in FORMATS.items():
        if base.endswith(suffix):
            return base[: -len(suffix)], fmt
    return name, None


def _natural_key(name: str):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


FILE, DIR, LINK_OUT, OTHER = "file", "dir", "link-out", "other"
KIND_WORDS = {LINK_OUT: "a symbolic link that leads out of its folder (links are followed only to a file "
                        "in the same folder)", OTHER: "not a regular file"}


def _kind(entry: os.DirEntry, folder: Path) -> str:
    """file | dir | link-out | other. Only regular files and folders are read: a named pipe, a
    device or a socket could block the reader or stand for anything. A symbolic link is followed
    only to a regular file in the folder it is in (a link to a folder could loop back, or make
    another resource's files read as this one's)."""
    if entry.is_symlink():
        try:
            target = Path(os.path.realpath(entry.path))
        except OSError:
            return LINK_OUT
        if target.parent == Path(os.path.realpath(folder)) and target.is_file():
            return FILE
        return LINK_OUT
    if entry.is_dir(follow_symlinks=False):
        return DIR
    if entry.is_file(follow_symlinks=False):
        return FILE
    return OTHER


@functools.cache
def _listing(folder: Path) -> tuple[tuple[str, str], ...]:
    """(name, kind) of a folder's entries, sorted, read once per run (see discover())."""
    try:
        with os.scandir(folder) as entries:
            return tuple(sorted((e.name, _kind(e, folder)) for e in entries))
    except OSError as exc:
        raise AuditorError(f"{folder}: cannot list the folder ({exc.strerror})") from None


def _page_gap(folder_display: str, names: list[str]) -> None:
    """Numbered pages (page-1, page-2, ...) must have no gap: a missing page is missing records."""
    # linear: `(.*?)(\d+)` was quadratic in a run of digits (a zip entry name may be 65,535 long);
    # a page number has at most 18 digits (a longer run is none: int() refuses 4,300 digits)
    numbered = [re.fullmatch(r"(.*[^\d\n]|)(\d{1,18})", _split_suffix(n)[0]) for n in names]
    if not names or not all(numbered) or len({m.group(1) for m in numbered}) != 1:
        return
    numbers = sorted(int(m.group(2)) for m in numbered)
    twice = sorted(n for n, times in Counter(numbers).items() if times > 1)
    if twice:  # page-1.json and page-01.json, say: which holds page 1 is unknown
        same = [name for name, m in zip(names, numbered) if int(m.group(2)) == twice[0]]
        raise InputError(folder_display, f"page {twice[0]} is given by {len(same)} files ({', '.join(same)}); keep one")
    expected = range(numbers[0], numbers[0] + len(numbers))
    if numbers[0] not in (0, 1) or numbers != list(expected):
        missing = sorted(set(range(min(numbers[0], 1), numbers[-1] + 1)) - set(numbers))
        prefix = numbered[0].group(1)
        raise InputError(folder_display, f"{prefix or 'page '}{missing[0]} is missing (pages {numbers[0]} to "
                                         f"{numbers[-1]} are {len(numbers)} files): the snapshot is incomplete")


def _not_regular(display: str) -> InputError:
    return InputError(display, "is not a regular file (a named pipe, device, socket or a link out of its folder); "
                               "only regular files are read")


def _resource_files(folder: Path, resource: str, display: str) -> list[ResourceFile]:
    """The files holding one resource in one folder: a single file or a folder of pages."""
    found: list[ResourceFile] = []
    pages: list[str] = []
    for name, kind in _listing(folder):
        stem, fmt = _split_suffix(name)
        if kind == DIR:
            if name.lower() == resource:
                pages.append(name)
            elif stem == resource and fmt:
                raise InputError(f"{display}/{name}", "is a folder, not a file (a folder of pages is named "
                                                      f"{resource}/)")
            continue
        if stem == resource and fmt:
            if kind == OTHER:
                raise _not_regular(f"{display}/{name}")
            if kind == FILE:
                found.append(ResourceFile(folder / name, fmt, f"{display}/{name}"))
    single = len(found)
    for page_dir in pages:
        names = []
        for name, kind in sorted(_listing(folder / page_dir), key=lambda e: _natural_key(e[0])):
            _, fmt = _split_suffix(name)
            if fmt and kind == OTHER:
                raise _not_regular(f"{display}/{page_dir}/{name}")
            if fmt and kind == FILE:
                found.append(ResourceFile(folder / page_dir / name, fmt, f"{display}/{page_dir}/{name}"))
                names.append(name)
        _page_gap(f"{display}/{page_dir}", names)
    if single > 1 or len(pages) > 1 or (single and len(found) > single):
        names = ", ".join(f.display for f in found[:3])
        raise AuditorError(f"{display}: {resource} is given more than once ({names}); keep one")
    return found


@functools.cache
def _has_resources(folder: Path) -> bool:
    for name, kind in _listing(folder):
        stem, fmt = _split_suffix(name)
        if (kind == DIR and name.lower() in RESOURCES) or (kind != DIR and stem in RESOURCES and fmt):
            return True
    return False


def _env_dirs(folder: Path) -> list[Path]:
    return [folder / name for name, kind in _listing(folder)
            if kind == DIR and name.lower() not in RESOURCES and _has_resources(folder / name)]


def is_download(folder: Path) -> bool:
    return any(kind == FILE and name.lower() == DOWNLOAD_MARK for name, kind in _listing(folder))


def _download_source(folder: Path, display: str, env: str | None, archive: Path | None = None) -> Source:
    """A downloaded integration: integration.json, and each resource's folder of `<Name>-<_id>.json`
    files holding one object each. Other folders (scripts, file definitions, ...) are not read."""
    files: dict[str, list[ResourceFile]] = {r: [] for r in RESOURCES}
    for name, kind in _listing(folder):
        if name.lower() == DOWNLOAD_MARK:
            files["integrations"].append(ResourceFile(folder / name, "object", f"{display}/{name}"))
        elif kind == DIR and name.lower() in RESOURCES and name.lower() != "integrations":
            for entry, entry_kind in sorted(_listing(folder / name), key=lambda e: _natural_key(e[0])):
                _, fmt = _split_suffix(entry)
                shown = f"{display}/{name}/{entry}"
                if fmt == "array" and entry_kind == OTHER:
                    raise _not_regular(shown)
                if fmt == "array" and entry_kind == FILE:
                    files[name.lower()].append(ResourceFile(folder / name / entry, "object", shown))
    return Source(env, files, download=True, archive=archive)


def is_snapshot(folder: Path) -> bool:
    names = {name for name, _ in _listing(folder)}
    if "account.json" in names or "licenses.json" in names or _has_resources(folder) or is_download(folder):
        return True
    return any(d.name == "production" for d in _env_dirs(folder))


def _named_file(folder: Path, name: str, display: str) -> Path | None:
    """A file the audit reads by its name (account.json, mutes.yaml, ...), when it is there."""
    kinds = dict(_listing(folder))
    if name not in kinds:
        return None
    if kinds[name] != FILE:
        raise _not_regular(f"{display}/{name}")
    return folder / name


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


# a zip larger than this once unpacked, or an entry that grows more than this ratio, is refused
ZIP_MAX_BYTES = 32 * 2**30
ZIP_MAX_RATIO = 1000


def _open_zip(path: Path, stack: ExitStack) -> tuple[Path, list[str]]:
    """The folder the zip was unpacked to, and the symbolic links it holds (never unpacked)."""
    target = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="auditor-zip-")))
    where = str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if not members:
                raise InputError(where, "the archive is empty: no snapshot in it")
            seen: set[str] = set()
            total = 0
            for member in members:
                name = member.filename
                if member.flag_bits & 0x1:
                    raise InputError(where, "the archive is encrypted; unzip it with its password and audit the folder")
                if name.rstrip("/") in seen:
                    raise InputError(where, f"entry {name!r} is in the archive twice; which one is meant is unknown")
                seen.add(name.rstrip("/"))
                dest = (target / name).resolve()
                if not dest.is_relative_to(target.resolve()) or dest == target.resolve():
                    raise InputError(where, f"entry {name!r} points outside the archive")
                total += member.file_size
                if total > ZIP_MAX_BYTES or member.file_size > ZIP_MAX_RATIO * max(member.compress_size, 1024):
                    raise InputError(where, f"entry {name!r} unpacks to {member.file_size} bytes: too large to audit")
            # a link stored in the zip is listed as not read, never unpacked (as a file holding its target)
            links = [m.filename for m in members if stat.S_ISLNK(m.external_attr >> 16)]
            for member in members:
                if member.filename not in links:
                    archive.extract(member, target)
    except zipfile.BadZipFile:
        raise InputError(where, "not a readable zip archive") from None
    except (NotImplementedError, RuntimeError, OSError, EOFError, zlib.error) as exc:
        raise InputError(where, f"cannot be unpacked ({type(exc).__name__})") from None
    # a zip of a folder holds that one folder
    entries = [e for e in target.iterdir() if not e.name.startswith(("__MACOSX", "."))]
    if len(entries) == 1 and entries[0].is_dir() and not is_snapshot(target):
        return entries[0], links
    return target, links


def _check_manifest(root: Path, display: str) -> None:
    """A pulled snapshot's manifest.json lists every file with its size: a file missing, or of
    another size, means the snapshot is incomplete or was changed since, and is refused."""
    path = _named_file(root, "manifest.json", display)
    if path is None:
        return
    where = f"{display}/manifest.json"
    try:
        manifest = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InputError(where, f"not valid JSON at line {exc.lineno}, column {exc.colno}") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, list):
        raise InputError(where, "has no list of files")
    base = root.resolve()
    for i, entry in enumerate(files):
        # a file the manifest names that is not there is said first, whatever else its entry lacks
        rel = entry if isinstance(entry, str) else entry.get("path") if isinstance(entry, dict) else None
        size = entry.get("bytes") if isinstance(entry, dict) else None
        if not isinstance(rel, str) or not rel.strip():
            raise InputError(where, f"files[{i}] needs a path and a number of bytes")
        file = (root / rel).resolve()
        if not file.is_relative_to(base) or file == base:
            raise InputError(where, f"files[{i}] points outside the snapshot")
        if not file.is_file():
            raise InputError(where, f"files[{i}] ({rel}) is missing from the snapshot: it is incomplete")
        if not isinstance(size, int) or isinstance(size, bool):
            raise InputError(where, f"files[{i}] ({rel}) needs a number of bytes")
        if file.stat().st_size != size:
            raise InputError(where, f"files[{i}] ({rel}) has {file.stat().st_size} bytes, not the {size} pulled: "
                                    "the snapshot was changed or cut short since it was pulled")
    _check_pages(root, where, manifest.get("resources"))


def _check_pages(root: Path, where: str, resources) -> None:
    """The pages the manifest says each resource was pulled in (`resources.flows.pages`) are all in
    its folder: the first one missing is named (`flows/page-00003.json`)."""
    if not isinstance(resources, dict):
        return
    for name, said in resources.items():
        pages = said.get("pages") if isinstance(said, dict) else None
        if name not in (*RESOURCES, "licenses") or not isinstance(pages, int) or isinstance(pages, bool):
            continue
        folder = root / name
        if not folder.is_dir() and _resource_files(root, name, where.rsplit("/", 1)[0]):
            continue  # laid out as one file since
        for n in range(1, min(pages, 100_000) + 1):
            page = f"page-{n:05d}.json"
            if not (folder / page).is_file() and not (folder / f"{page}.gz").is_file():
                raise InputError(where, f"resources.{name} says {pages} pages, but {name}/{page} is missing from "
                                        "the snapshot: it is incomplete")


def _unread(root: Path, display: str, used: set[Path], folders: set[Path], links: list[str]) -> list[dict]:
    """A note for everything in the snapshot the audit does not read, so nothing passes in silence."""
    notes = []

    def walk(folder: Path, shown: str) -> None:
        for name, kind in _listing(folder):
            path = folder / name
            if kind == DIR and path in folders:
                walk(path, f"{shown}/{name}")
            elif kind == DIR:
                notes.append((f"{shown}/{name}/", "not read: a folder the audit does not use"))
            elif kind == FILE:
                if path not in used:
                    notes.append((f"{shown}/{name}", "not read: not a file the audit reads (see the README, "
                                                     "'What it reads')"))
            else:
                notes.append((f"{shown}/{name}", f"not read: {KIND_WORDS[kind]}"))

    walk(root, display)
    notes += [(f"{display}/{name}", "not read: a symbolic link stored in the zip") for name in links]
    return [{"file": f, "record": None, "id": None, "problem": p, "action": "not read"} for f, p in sorted(notes)]


def _downloads(root: Path, display: str,
               stack: ExitStack | None) -> tuple[list[tuple[Path, str, Path | None]], list[str]]:
    """(folder, display, zip) of the integration downloads kept in an account folder (folders
    holding an integration.json, and zips of such folders), and the links the zips held (never
    unpacked, so listed as not read)."""
    found, links = [], []
    for name, kind in _listing(root):
        path = root / name
        if kind == DIR and is_download(path):
            found.append((path, f"{display}/{name}", None))
        elif kind == FILE and name.lower().endswith(".zip") and stack is not None and _zip_is_download(path):
            unpacked, held = _open_zip(path, stack)  # every check of a zip given on the command line
            if is_download(unpacked):
                found.append((unpacked, f"{display}/{name}", path))
                links += [f"{name}/{link}" for link in held]
    return found, links


def _zip_is_download(path: Path) -> bool:
    """Whether a zip names an integration.json at its top (or in its one folder), from its listing
    alone: any other zip beside the account's files is left unopened and listed as not read."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n.lower() for n in archive.namelist()]
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return False
    return any(n == DOWNLOAD_MARK or (n.count("/") == 1 and n.endswith("/" + DOWNLOAD_MARK)) for n in names)


def read_snapshot(root: Path, display: str, default_name: str, zip_links: list[str] = (),
                  stack: ExitStack | None = None) -> Snapshot:
    account_file = _named_file(root, "account.json", display)
    meta = _read_account_file(account_file, f"{display}/account.json") if account_file else AccountFile()
    _check_manifest(root, display)
    if is_download(root):
        return _read_downloads(root, display, default_name, meta, account_file, [(root, display, None)], zip_links)
    downloads, links = _downloads(root, display, stack) if account_file else ([], [])
    if downloads:
        return _read_downloads(root, display, default_name, meta, account_file, downloads, [*zip_links, *links])
    env_dirs = _env_dirs(root)
    top_level = _has_resources(root)
    model = meta.licenseModel or ("multi-environment" if env_dirs and not top_level else "legacy")
    sources: list[Source] = []
    notes: list[dict] = []
    if model == "multi-environment":
        if top_level:
            raise InputError(display, "a multi-environment account keeps its resources in one folder per environment, not at the top")
        for d in env_dirs:
            sources.append(Source(d.name, {r: _resource_files(d, r, f"{display}/{d.name}") for r in RESOURCES}))
        # an environment the account names (and production, which every account has) is reported
        # even when its folder is missing or empty: with zero counts, and a note saying why
        found = {d.name for d in env_dirs}
        for env in sorted({"production", *meta.environments} - found):
            sources.append(Source(env, {r: [] for r in RESOURCES}))
            state = "is empty" if (env, DIR) in _listing(root) else "is missing"
            notes.append({"file": f"{display}/{env}/", "record": None, "id": None, "action": "counted",
                          "problem": f"environment {env}: its folder {state}; it is counted as an environment "
                                     "with no flows and no connections"})
    else:
        # legacy: production and sandbox share one set of resources; sub-folders are merged by _id
        sources.append(Source(None, {r: _resource_files(root, r, display) for r in RESOURCES}))
        for d in env_dirs:
            sources.append(Source(None, {r: _resource_files(d, r, f"{display}/{d.name}") for r in RESOURCES}))
    license_files = _resource_files(root, "licenses", display)
    if not license_files:
        for d in env_dirs:
            license_files += _resource_files(d, "licenses", f"{display}/{d.name}")
    mutes, usage, named = _beside(root, display, account_file)
    used = {f.path for src in sources for group in src.files.values() for f in group}
    used |= {f.path for f in license_files} | named | {root / "manifest.json"}
    folders = {root, *env_dirs} | {p.parent for p in used}
    notes += _unread(root, display, used, folders, list(zip_links))
    return Snapshot(_name(meta, default_name, display, notes), model, display, root, sources,
                    license_files, _pools(meta), mutes, notes=notes, usage_file=usage)


def _beside(root: Path, display: str, account_file: Path | None) -> tuple[Path | None, Path | None, set[Path]]:
    """The account's own files beside its resources: mutes.yaml, usage.json, and every one of them
    there is (account.json too), as files the audit reads."""
    mutes = _named_file(root, "mutes.yaml", display)
    usage = _named_file(root, "usage.json", display)
    return mutes, usage, {p for p in (account_file, mutes, usage) if p is not None}


def _name(meta: AccountFile, default_name: str, display: str, notes: list[dict]) -> str:
    """The account's name: account.json's, else the folder's (or the zip's). A name of nothing but
    spaces or invisible characters is no name: the folder's is used, and said so."""
    if meta.name is not None and not account_key(meta.name):
        notes.append({"file": f"{display}/account.json", "record": None, "id": None, "action": "counted",
                      "problem": "name is blank (nothing but spaces or invisible characters); the account is named "
                                 "after its folder"})
        return account_name(default_name)
    return account_name(meta.name or default_name) or default_name


def _pools(meta: AccountFile) -> dict[str, str]:
    """Environment -> the entitlements it draws on: its own name, unless account.json says."""
    return {"production": "production", "sandbox": "sandbox", **meta.environments}


def _read_downloads(root: Path, display: str, default_name: str, meta: AccountFile, account_file: Path | None,
                    downloads: list[tuple[Path, str, Path | None]], zip_links) -> Snapshot:
    """One account from one download, or from the downloads kept beside its account.json. A
    download tells no environment: in a multi-environment account they are production's, else
    each record's `sandbox` flag says, as in a legacy snapshot. A resource in several downloads
    with the same _id is one resource (connections are shared)."""
    model = meta.licenseModel or "legacy"
    env = "production" if model == "multi-environment" else None
    others = [d for d in _env_dirs(root) if not is_download(d)] if downloads[0][0] != root else []
    if others or (downloads[0][0] != root and _has_resources(root)):
        where = others[0].name if others else "the top"
        raise InputError(display, f"holds integration downloads and resources of another form ({where}); "
                                  "keep downloads and snapshot folders apart")
    sources = [_download_source(folder, shown, env, archive) for folder, shown, archive in downloads]
    mutes, usage, named = _beside(root, display, account_file)
    license_files = _resource_files(root, "licenses", display)
    used = {f.path for src in sources for group in src.files.values() for f in group}
    used |= {f.path for f in license_files} | named
    used |= {archive for _, _, archive in downloads if archive is not None}
    folders = {root} | {folder for folder, _, archive in downloads if archive is None}
    folders |= {p.parent for p in used}
    notes = _unread(root, display, used, folders, list(zip_links))
    for folder, shown, archive in downloads:
        if archive is not None:  # what a zipped download holds besides what is read
            notes += _unread(folder, shown, used, folders | {p.parent for p in used}, [])
    return Snapshot(_name(meta, default_name, display, notes), model, display, root, sources,
                    license_files, _pools(meta), mutes, notes=notes, usage_file=usage)


def discover(paths: list[Path], stack: ExitStack) -> list[Snapshot]:
    """Snapshots named on the command line: snapshot folders, zips, or folders of them."""
    snapshots: list[Snapshot] = []

    def visit(path: Path, display: str, nested: bool) -> bool:
        if path.is_file() and path.suffix.lower() == ".zip":
            root, links = _open_zip(path, stack)
            snapshots.append(read_snapshot(root, display, path.stem, links, stack))
            snapshots[-1].archive = path
            return True
        if path.is_dir():
            if is_snapshot(path):
                snapshots.append(read_snapshot(path, display, path.name, (), stack))
                return True
            if not nested:
                found = [visit(path / name, f"{display}/{name}", True) for name, kind in _listing(path)
                         if kind in (FILE, DIR)]
                return any(found)
        return False

    _listing.cache_clear()  # folders may have changed since the last run in this process
    _has_resources.cache_clear()
    for path in paths:
        if not path.exists():
            raise AuditorError(f"{path}: no such file or folder")
        display = path.name or str(path)
        if not visit(path, display, False):
            raise AuditorError(
                f"{path}: not a snapshot (no {', '.join(RESOURCES)} or account.json) and holds no snapshot folders"
            )
    names: dict[str, Snapshot] = {}
    for snap in snapshots:
        other = names.get(account_key(snap.account))
        if other is not None and other.account == snap.account:
            raise AuditorError(f"{snap.display}: account name {snap.account!r} is also the name of {other.display}")
        if other is not None:  # one account given twice, or two that no reader could tell apart
            raise AuditorError(f"{snap.display}: account name {snap.account!r} looks like {other.account!r}, the name "
                               f"of {other.display} (they differ only in case, Unicode form, spaces or invisible "
                               "characters); give each account a name of its own")
        names[account_key(snap.account)] = snap
    return snapshots
