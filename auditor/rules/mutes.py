"""Mutes: accepted findings, silenced with a reason, still visible everywhere.

A mutes file (YAML) is a list of entries under `mutes:`; each matches findings by `rule`,
`account`, `environment` and `resource` (its id or its name), all shell-style globs defaulting
to `*`, and must carry a `reason` (not blank); `expires` (a date, YYYY-MM-DD: a number, read
elsewhere as seconds since 1970, is refused) is optional. A muted finding keeps its
status and is marked `muted` with the reason; muted findings never decide the exit code. A mute
past its expiry date mutes nothing and is reported as expired; a live mute that matched no
finding is reported as unused.
"""

from __future__ import annotations

import fnmatch
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from auditor.common.errors import AuditorError
from auditor.common.yamlfile import read_yaml

# a pattern's length is capped: fnmatch turns a run of `[` into a regular expression in time
# quadratic in its length (a few thousand take seconds, tens of thousands minutes); no id or key is
# this long
Pattern = Annotated[str, Field(max_length=1000)]


class Mute(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rule: Pattern = "*"
    account: Pattern = "*"
    environment: Pattern = "*"
    resource: Pattern = "*"
    reason: str = Field(min_length=1)
    expires: date | None = None

    @field_validator("reason")
    @classmethod
    def _said(cls, value: str) -> str:
        if not value.strip():  # spaces are no reason: every mute says why
            raise ValueError("a reason must say why the findings are accepted; it is blank")
        return value

    @field_validator("expires", mode="before")
    @classmethod
    def _a_day(cls, value):
        """A date as YAML writes one (2026-12-31), or the same quoted: a number would be read as
        seconds since 1970 (86400 is 1970-01-02), a time of day has no place in a day's expiry."""
        if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip()) if len(value.strip()) == 10 else _no_day(value)
            except ValueError:
                _no_day(value)
        return _no_day(value)


def _no_day(value):
    kind = {"int": "a number", "float": "a number", "bool": "true or false", "datetime": "a date with a time",
            "list": "a list", "dict": "a mapping", "str": "text"}.get(type(value).__name__, "something else")
    raise ValueError(f"must be a date (YYYY-MM-DD), not {kind}")


class MuteFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mutes: list[Mute]


def load_mutes(path: Path, account: str | None = None) -> list[tuple[str, Mute]]:
    """(where, mute) pairs; `where` names the file and entry. A mutes file found beside a
    snapshot applies to that snapshot's `account` only."""
    data, root = read_yaml(path, "the mutes file")
    lines = _entry_lines(root)
    try:
        parsed = MuteFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = list(err["loc"])
        where = f"entry {loc[1] + 1}" if len(loc) > 1 and isinstance(loc[1], int) else "top level"
        if len(loc) > 1 and isinstance(loc[1], int) and loc[1] < len(lines):
            where += f" (line {lines[loc[1]]})"
        field = f" {loc[2]}" if len(loc) > 2 else ""
        message = err["msg"].removeprefix("Value error, ")
        raise AuditorError(f"{path}: {where}{field}: {message}") from None
    out = []
    for i, mute in enumerate(parsed.mutes):
        if account is not None:
            mute = mute.model_copy(update={"account": account})
        line = f", line {lines[i]}" if i < len(lines) else ""
        out.append((f"{path.name} entry {i + 1}{line}", mute))
    return out


def _entry_lines(root) -> list[int]:
    """1-based line of each entry of `mutes:`, to name it in messages."""
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == "mutes" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _glob(series: pd.Series, pattern: str) -> pd.Series:
    if pattern == "*":
        return pd.Series(True, index=series.index)
    return series.fillna("").astype(str).str.match(fnmatch.translate(pattern))  # translate() anchors the end


def apply_mutes(findings: pd.DataFrame, mutes: list[tuple[str, Mute]], as_of: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(findings with muted / mute_reason set, one row per mute with its status and matches)."""
    findings = findings.copy()
    findings["muted"] = False
    findings["mute_reason"] = None
    rows = []
    mutable = findings["status"] != "ok"  # ok rows (listed with --all-rows) have nothing to mute
    for where, mute in mutes:
        hit = (mutable & _glob(findings["rule"], mute.rule) & _glob(findings["account"], mute.account)
               & _glob(findings["environment"], mute.environment)
               & (_glob(findings["resource_id"], mute.resource) | _glob(findings["resource_name"], mute.resource)))
        expired = mute.expires is not None and mute.expires < as_of
        if not expired:
            fresh = hit & ~findings["muted"]
            findings.loc[fresh, "muted"] = True
            findings.loc[fresh, "mute_reason"] = mute.reason
        status = "expired" if expired else ("active" if hit.any() else "unused")
        rows.append({"mute": where, "rule": mute.rule, "account": mute.account, "environment": mute.environment,
                     "resource": mute.resource, "reason": mute.reason,
                     "expires": mute.expires.isoformat() if mute.expires else None,
                     "status": status, "matched": int(hit.sum())})
    columns = ["mute", "rule", "account", "environment", "resource", "reason", "expires", "status", "matched"]
    return findings, pd.DataFrame(rows, columns=columns)
