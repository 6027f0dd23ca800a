"""Rule packs: YAML rules evaluated over the audit's frames, a whole column at a time.

Each rule applies to one frame and gives every row in it a status: `skip` where a column it
`requires` is unknown, `alarm` where its condition holds, `ok` otherwise. Alarm and skip rows
become findings with a full-sentence reason; ok rows are only counted, so the findings grow
with what is wrong, not with the size of the account.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from auditor.conditions import ConditionError, columns_of, evaluate, render, template_fields
from auditor.errors import AuditorError
from auditor.paths import data_dir

SEVERITIES = ("info", "low", "medium", "high", "critical")
Severity = Literal["info", "low", "medium", "high", "critical"]

# frame -> (resource type, id column, name column); a type starting with "@" is read from a column
FRAMES: dict[str, tuple[str, str, str]] = {
    "environments": ("environment", "environment", "environment"),
    "endpoints": ("endpoint", "key", "application"),
    "flows": ("flow", "id", "name"),
    "connections": ("connection", "id", "name"),
    "licenses": ("license", "license_id", "type"),
    "references": ("@resource_type", "resource_id", "resource_name"),
}
FINDING_COLUMNS = ["id", "rule", "title", "severity", "status", "account", "environment",
                   "resource_type", "resource_id", "resource_name", "reason", "muted", "mute_reason"]


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    severity: Severity
    description: str
    remediation: str
    references: list[str] = []
    tags: list[str] = []
    parameters: dict[str, Any] = {}
    frame: Literal["environments", "endpoints", "flows", "connections", "licenses", "references"]
    scope: dict = Field(default_factory=dict)  # rows outside it get no status at all
    requires: list[str] = []
    where: dict
    reason: str
    skip_reason: str | None = None


class Pack(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[Rule]


def load_rules(folder: Path | None = None) -> list[Rule]:
    folder = folder or data_dir("rules")
    rules: list[Rule] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            pack = Pack.model_validate(data)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise AuditorError(f"{path}: not readable YAML" + (f" at line {mark.line + 1}" if mark else "")) from None
        except ValidationError as exc:
            err = exc.errors()[0]
            raise AuditorError(f"{path}: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
        for rule in pack.rules:
            try:
                columns_of(rule.where)
                columns_of(rule.scope)
            except ConditionError as exc:
                raise AuditorError(f"{path}: rule {rule.id}: {exc}") from None
            if any(r.id == rule.id for r in rules):
                raise AuditorError(f"{path}: rule id {rule.id!r} is defined twice")
            rules.append(rule)
    return rules


def finding_id(rule: pd.Series | str, account: pd.Series, environment: pd.Series,
               rtype: pd.Series, rid: pd.Series) -> pd.Series:
    """Stable id: the same rule, account, environment and resource give the same id each month."""
    keys = (pd.Series(rule, index=account.index).astype(str) + "\x1f" + account.astype(str) + "\x1f"
            + environment.fillna("").astype(str) + "\x1f" + rtype.astype(str) + "\x1f" + rid.astype(str))
    return keys.map(lambda k: hashlib.sha256(k.encode()).hexdigest()[:16])


def evaluate_rules(rules: list[Rule], frames: dict[str, pd.DataFrame], as_of: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(findings, counts): findings for alarm and skip rows; counts of each status per rule,
    account and environment."""
    findings, counts = [], []
    for rule in rules:
        frame = frames[rule.frame]
        params = {**rule.parameters, "as_of": as_of}
        missing = (columns_of(rule.where) | columns_of(rule.scope) | set(rule.requires) | set(template_fields(rule.reason))) - set(frame.columns)
        if missing:
            raise AuditorError(f"rule {rule.id}: frame {rule.frame!r} has no column {sorted(missing)[0]!r}")
        if rule.scope:
            frame = frame[evaluate(rule.scope, frame, params)]
        if frame.empty:
            continue
        skip = pd.Series(False, index=frame.index)
        for col in rule.requires:
            skip |= frame[col].isna()
        alarm = ~skip & evaluate(rule.where, frame, params)
        status = pd.Series("ok", index=frame.index).mask(alarm, "alarm").mask(skip, "skip")
        env = frame["environment"] if "environment" in frame else pd.Series(None, index=frame.index, dtype=object)
        counts.append(pd.DataFrame({"rule": rule.id, "account": frame["account"], "environment": env, "status": status}))
        rows = frame[status != "ok"]
        if rows.empty:
            continue
        rtype, rid, rname = FRAMES[rule.frame]
        types = rows[rtype[1:]] if rtype.startswith("@") else pd.Series(rtype, index=rows.index)
        reasons = render(rule.reason, rows)
        if rule.skip_reason:
            skipped = status[rows.index] == "skip"
            if skipped.any():
                reasons[skipped] = render(rule.skip_reason, rows[skipped])
        envs = env[rows.index]
        findings.append(pd.DataFrame({
            "id": finding_id(rule.id, rows["account"], envs, types, rows[rid]),
            "rule": rule.id, "title": rule.title, "severity": rule.severity, "status": status[rows.index],
            "account": rows["account"], "environment": envs, "resource_type": types,
            "resource_id": rows[rid].astype(str), "resource_name": rows[rname], "reason": reasons,
            "muted": False, "mute_reason": None,
        }))
    found = pd.concat(findings, ignore_index=True) if findings else pd.DataFrame(columns=FINDING_COLUMNS)
    order = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    found = found.assign(_sev=found["severity"].map(order)).sort_values(
        ["_sev", "rule", "account", "environment", "resource_type", "resource_id"], na_position="first"
    ).drop(columns="_sev").reset_index(drop=True)
    if counts:
        tally = pd.concat(counts).groupby(["rule", "account", "environment", "status"], dropna=False).size()
        tally = tally.unstack("status", fill_value=0).reindex(columns=["ok", "alarm", "skip"], fill_value=0).reset_index()
    else:
        tally = pd.DataFrame(columns=["rule", "account", "environment", "ok", "alarm", "skip"])
    return found, tally
