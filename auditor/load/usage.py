"""The vendor's own usage figures (`usage.json`) read, every part checked; compared with ours in
`auditor.count.vendor`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import orjson

from auditor.load.licenses import number
from auditor.load.snapshot import ResourceFile
from auditor.load.tables import read_bytes, strict

# metric -> (block, the number the vendor's UI shows, the list under it)
BLOCKS = {"flows": ("flowUsage", "numEnabled", "flows"),
          "endpoints": ("endpointUsage", "numConsumed", "endpoints"),
          "trading_partners": ("tradingPartnerUsage", "numConsumed", "tradingPartners"),
          "agents": ("agentUsage", "numActive", "agents")}


@dataclass
class Figure:
    """One metric of one environment as the vendor gives it."""

    number: int | None
    # ids; for endpoints, (type, [connection ids]) per endpoint; None: not listed, so only the
    # number can be compared
    items: list | None = None


@dataclass
class Usage:
    environments: dict[str, dict[str, Figure]] = field(default_factory=dict)  # environment -> metric -> figure


def _ids(values, where: str, note) -> list[str] | None:
    """[{_id}] or ["id"] -> ids, each once; anything else is noted and read as not listed."""
    if not isinstance(values, list):
        note(f"{where} must be an array; its items are not compared")
        return None
    first: dict[str, int] = {}
    for i, v in enumerate(values):
        vid = v.get("_id") if isinstance(v, dict) else v
        if not isinstance(vid, str) or not vid:
            note(f"{where}[{i}] names no _id; left out of the comparison")
        elif vid in first:  # a number worked out from the list would count it twice
            note(f"{where}[{i}] names the same _id as {where}[{first[vid]}]; compared once")
        else:
            first[vid] = i
    return list(first)


def read_usage(account: str, path: Path, display: str, environments: list[str], issues: list[dict]) -> Usage:
    """The figures of `usage.json`, environment by environment; each part that cannot be read is
    noted (and left out of the comparison), never guessed."""
    f = ResourceFile(path, "object", display)

    def note(problem: str) -> None:
        issues.append({"account": account, "file": display, "record": None, "id": None, "problem": problem,
                       "action": "skipped"})

    data = read_bytes(f)
    usage = Usage()
    if not data.strip():
        note("the file is empty; there are no vendor figures to compare")
        return usage
    strict(f, data)
    body = orjson.loads(data)
    for env, block in body.items():
        if env not in environments:
            note(f"usage for environment {env!r}, which the account does not have; not compared")
            continue
        if not isinstance(block, dict):
            note(f"{env} must be an object; not compared")
            continue
        figures = {}
        for metric, (name, number_key, list_key) in BLOCKS.items():
            part = block.get(name)
            if part is None:
                continue
            where = f"{env}.{name}"
            if not isinstance(part, dict):
                note(f"{where} must be an object; not compared")
                continue
            count = number(part.get(number_key), f"{where}.{number_key}", note, what="usage")
            items = None
            if list_key in part:
                read = _endpoints if metric == "endpoints" else _ids
                items = read(part[list_key], f"{where}.{list_key}", note)
            if count is None and items is not None:
                count = len(items)
            if count is not None or items is not None:
                figures[metric] = Figure(count, items)
        usage.environments[env] = figures
    return usage


def _endpoints(values, where: str, note) -> list[tuple[str, list[str]]] | None:
    if not isinstance(values, list):
        note(f"{where} must be an array; its endpoints are not compared")
        return None
    out = []
    owner: dict[str, int] = {}  # connection -> the endpoint that lists it first
    for i, v in enumerate(values):
        if not isinstance(v, dict):
            note(f"{where}[{i}] must be an object; left out of the comparison")
            continue
        conns = _ids(v.get("connections"), f"{where}[{i}].connections", note)
        if conns is None:
            continue
        for cid in conns:
            if cid in owner:  # grouped twice: which endpoint the vendor counts it under is unknown
                note(f"{where}[{i}].connections names a connection that {where}[{owner[cid]}] names too; "
                     "compared under the first")
        out.append((v.get("type") if isinstance(v.get("type"), str) else "",
                    [cid for cid in conns if owner.setdefault(cid, i) == i]))
    return out
