"""The results file: the audit's output and the seam between auditing and reporting.

Versioned (`schema_version`), deterministic (everything sorted; no wall-clock time, the audit
date is `as_of`), and complete enough to re-render every report without the snapshot. The
pydantic models below are the contract that readers validate against; the writer builds plain
dicts from the frames for speed and is tested to produce what the models accept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import duckdb
import orjson
import pandas as pd
from pydantic import BaseModel, ValidationError

from auditor import __version__
from auditor.audit import Audit
from auditor.errors import AuditorError
from auditor.serialise import ENV_ORDER, json_lists

SCHEMA_VERSION = 1


class Usage(BaseModel):
    total: int | None = None
    enabled: int | None = None
    billable: int | None = None
    used: int | None = None
    entitled: int | None
    entitled_from: str


class EnvironmentResult(BaseModel):
    environment: str
    pool: str | None
    flows: Usage
    endpoints: Usage
    trading_partners: Usage


class EndpointResult(BaseModel):
    environment: str
    key: str
    application: str
    category: str
    resolved: bool
    explain: str
    connections: list[str]
    flows: list[str]


class FlowResult(BaseModel):
    environment: str
    id: str
    name: str | None
    enabled: bool
    billable: bool
    reason_code: str
    reason: str


class ConnectionResult(BaseModel):
    environment: str
    id: str
    name: str | None
    type: str | None
    application: str
    role: str
    key: str | None
    explain: str | None
    enabled_flows: int


class LicenseResult(BaseModel):
    id: str
    type: str
    tier: str | None
    connector_id: str | None
    edition: str | None
    expires: str | None
    trial_end: str | None
    plan: bool


class AccountResult(BaseModel):
    account: str
    license_model: Literal["legacy", "multi-environment"]
    plan: str
    plan_from: str
    environments: list[EnvironmentResult]
    endpoints: list[EndpointResult]
    trading_partners: list[EndpointResult]
    flows: list[FlowResult]
    connections: list[ConnectionResult]
    licenses: list[LicenseResult]


class Resource(BaseModel):
    type: str
    id: str
    name: str | None


class Finding(BaseModel):
    id: str
    rule: str
    title: str
    severity: Literal["info", "low", "medium", "high", "critical"]
    status: Literal["ok", "alarm", "skip", "error"]
    account: str
    environment: str | None
    resource: Resource
    reason: str
    muted: bool
    mute_reason: str | None


class RuleCount(BaseModel):
    rule: str
    account: str
    environment: str | None
    ok: int
    alarm: int
    skip: int


class LoadIssue(BaseModel):
    account: str | None
    file: str | None
    record: int | None
    id: str | None
    problem: str
    action: Literal["skipped", "counted", "not read"]


class MuteResult(BaseModel):
    mute: str
    rule: str
    account: str
    environment: str
    resource: str
    reason: str
    expires: str | None
    status: Literal["active", "expired", "unused"]
    matched: int


class RuleRun(BaseModel):
    """A rule as it ran: with the severity and parameters in force after the profile."""

    id: str
    title: str
    severity: Literal["info", "low", "medium", "high", "critical"]
    frame: str
    description: str
    remediation: str
    references: list[str]
    tags: list[str]
    parameters: dict


class InputFile(BaseModel):
    account: str
    file: str
    bytes: int
    sha256: str


class Change(BaseModel):
    account: str
    environment: str | None
    kind: str
    change: str
    id: str
    name: str | None
    detail: str


class Changes(BaseModel):
    """What changed since the previous audit (of each account, from the history, or OLD in diff)."""

    since: dict[str, str]
    rows: list[Change]


class TrendPoint(BaseModel):
    account: str
    environment: str
    month: str
    as_of: str
    flows_billable: int
    flows_entitled: int | None
    endpoints_used: int
    endpoints_entitled: int | None


class Forecast(BaseModel):
    account: str
    environment: str
    metric: str
    months: int
    first: str
    last: str
    used: int
    entitled: int | None
    pace: float
    crosses: str | None
    verdict: str


class Trend(BaseModel):
    method: str
    points: list[TrendPoint]
    forecast: list[Forecast]


class Results(BaseModel):
    schema_version: Literal[1]
    tool_version: str
    as_of: str
    policy: str
    profile: str = "default"
    accounts: list[AccountResult]
    findings: list[Finding]
    rule_counts: list[RuleCount]
    mutes: list[MuteResult] = []
    load_issues: list[LoadIssue]
    rules: list[RuleRun] = []
    inputs: list[InputFile] = []
    changes: Changes | None = None
    trend: Trend | None = None
    connector_licenses: list[dict] | None = None  # `auditor licenses`: one row per integration app license
    reconciliation: list[dict] | None = None  # `auditor licenses --billing`: licensed against billed
    ns_records: list[dict] | None = None  # `auditor ns-records`: one row per integration record and account
    ns_links: list[dict] | None = None  # `auditor ns-records --snapshot`: NetSuite accounts of connections
    ns_refreshed_on: str | None = None  # the sandbox refresh date the records were judged against


def _records(frame: pd.DataFrame, columns: dict[str, str]) -> list[dict]:
    """Rows of a small frame as dicts with the given output names; missing values become None."""
    out = frame[list(columns)].rename(columns=columns)
    out = out.astype(object).where(out.notna(), None)
    return out.to_dict("records")


def _json_lists(frame: pd.DataFrame, fields: dict[str, str], order: str, n: int) -> list[orjson.Fragment]:
    con = duckdb.connect()
    try:
        con.register("rows_", frame)
        return json_lists(con, "rows_", fields, order, n)
    finally:
        con.close()


def _day(value) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def finding_records(frame: pd.DataFrame) -> list[dict]:
    """Findings as the results file writes them: the resource as one object. Built from whole
    columns (a dict per row through pandas cost 20 µs a finding)."""
    names = ("id", "rule", "title", "severity", "status", "account", "environment", "resource_type", "resource_id",
             "resource_name", "reason", "muted", "mute_reason")
    cols = [frame[c].astype(object).where(frame[c].notna(), None).tolist() for c in names]
    return [{"id": i, "rule": r, "title": t, "severity": sev, "status": st, "account": a, "environment": e,
             "resource": {"type": rt, "id": ri, "name": rn}, "reason": why, "muted": m, "mute_reason": mr}
            for i, r, t, sev, st, a, e, rt, ri, rn, why, m, mr in zip(*cols)]


def records(frame: pd.DataFrame) -> list[dict]:
    """Any frame's rows as plain dicts: dates as YYYY-MM-DD, missing values as None."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
    return _records(out, {c: c for c in out.columns})


def document(as_of, findings: pd.DataFrame, counts: pd.DataFrame, mutes: pd.DataFrame, issues: list[dict],
             rules: list, inputs: pd.DataFrame, **sections) -> dict:
    """A results file for a run that audits no integrator.io account (partner licenses, NetSuite
    records): the common parts, and the run's own sections."""
    return {
        "schema_version": SCHEMA_VERSION, "tool_version": __version__, "as_of": as_of.isoformat(),
        "policy": "-", "profile": "-", "accounts": [],
        "findings": finding_records(findings),
        "rule_counts": records(counts.sort_values(["rule", "account", "environment"], na_position="first")),
        "mutes": records(mutes), "load_issues": issues,
        "rules": [r.model_dump(include=set(RuleRun.model_fields)) for r in rules],
        "inputs": records(inputs.sort_values(["account", "file"])),
        **sections,
    }


def build(audit: Audit) -> dict:
    n = len(audit.snapshots)
    envs: list[list[dict]] = [[] for _ in range(n)]
    for row in _records(audit.environments, {c: c for c in audit.environments.columns}):
        usage = {}
        for metric, counts in (("flows", {"total": "flows_total", "enabled": "flows_enabled", "billable": "flows_billable"}),
                               ("endpoints", {"used": "endpoints_used"}),
                               ("trading_partners", {"used": "trading_partners_used"})):
            usage[metric] = {**{k: row[v] for k, v in counts.items()},
                             "entitled": row[f"{metric}_entitled"], "entitled_from": row[f"{metric}_entitled_from"]}
        envs[row["account_no"]].append({"environment": row["environment"], "pool": row["pool"], **usage})

    # the big lists were serialised during the audit, straight from its tables
    endpoints, tps, flows = (audit.serialised[k] for k in ("endpoints", "trading_partners", "flows"))
    connections = _json_lists(audit.connections, {**{k: k for k in ("environment", "id", "name", "type", "application",
                                                                     "role", "key", "explain", "enabled_flows")}},
                              f"{ENV_ORDER}, id", n)
    names = {s.account: i for i, s in enumerate(audit.snapshots)}
    plan_ids = {p["license_id"] for p in audit.plans["plan_license"] if p is not None}
    lic = audit.licenses.assign(account_no=audit.licenses["account"].map(names),
                                plan=audit.licenses["license_id"].isin(plan_ids),
                                expires=audit.licenses["expires"].map(_day).astype(object),
                                trial_end=audit.licenses["trial_end"].map(_day).astype(object))
    licenses = _json_lists(lic, {"id": "license_id", **{k: k for k in ("type", "tier", "connector_id", "edition",
                                                                       "expires", "trial_end", "plan")}},
                           "license_id", n)

    accounts = []
    plans = audit.plans.to_dict("records")
    for i, snap in enumerate(audit.snapshots):
        accounts.append({
            "account": snap.account, "license_model": snap.license_model,
            "plan": plans[i]["plan"], "plan_from": plans[i]["plan_from"],
            "environments": envs[i], "endpoints": endpoints[i], "trading_partners": tps[i],
            "flows": flows[i], "connections": connections[i], "licenses": licenses[i],
        })
    accounts.sort(key=lambda a: a["account"])

    findings = finding_records(audit.findings)
    counts = audit.rule_counts.sort_values(["rule", "account", "environment"], na_position="first")
    return {
        "schema_version": SCHEMA_VERSION,
        "tool_version": __version__,
        "as_of": audit.as_of.isoformat(),
        "policy": audit.policy.name,
        "profile": audit.profile,
        "accounts": accounts,
        "findings": findings,
        "rule_counts": _records(counts, {c: c for c in ("rule", "account", "environment", "ok", "alarm", "skip")}),
        "mutes": _records(audit.mutes, {c: c for c in audit.mutes.columns}),
        "load_issues": _records(audit.load_issues, {c: c for c in ("account", "file", "record", "id", "problem", "action")}),
        "rules": [rule.model_dump(include=set(RuleRun.model_fields)) for rule in audit.rules],
        "inputs": _records(audit.inputs.sort_values(["account", "file"]), {c: c for c in ("account", "file", "bytes", "sha256")}),
    }


def dumps(results: dict) -> bytes:
    """Compact JSON (the big lists arrive pre-serialised); `jq .` pretty-prints it."""
    return orjson.dumps(results, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"


def write(results: dict, path: Path) -> None:
    data = dumps(results)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as exc:
        raise AuditorError(f"{path}: cannot write the results file ({exc.strerror})") from None


def _where(loc: tuple) -> str:
    """A pydantic error location as a path: accounts[0].environments."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "top level"


def load_json(path: Path, validate: bool = True) -> dict:
    """A results file as plain data, checked for its schema version and, unless the caller has
    just written it (`validate=False`), against the `Results` model: a file from elsewhere with
    a missing key or a wrong shape is refused naming the first problem, never rendered wrong."""
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise AuditorError(f"{path}: cannot read ({exc.strerror})") from None
    except orjson.JSONDecodeError as exc:
        raise AuditorError(f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}") from None
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION or "accounts" not in data:
        raise AuditorError(f"{path}: not a results file of schema version {SCHEMA_VERSION}")
    if validate:
        try:
            Results.model_validate(data, strict=True)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise AuditorError(f"{path}: not a sound results file: {_where(err['loc'])}: {err['msg']}") from None
    return data
