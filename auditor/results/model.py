"""The results file: the audit's output and the seam between auditing and reporting.

Versioned (`schema_version`), deterministic (everything sorted; no wall-clock time, the audit
date is `as_of`), and complete enough to re-render every report without the snapshot. The
pydantic models below are the contract that readers validate against; the writer builds plain
dicts from the frames for speed and is tested to produce what the models accept.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from auditor.common.vocabulary import USAGE, Severity

SCHEMA_VERSION = 1


class Usage(BaseModel):
    total: int | None = None
    enabled: int | None = None
    billable: int | None = None
    used: int | None = None
    entitled: int | None
    entitled_from: str


class VendorFigures(BaseModel):
    """What the vendor's usage figures (usage.json) say; None where they say nothing."""

    flows: int | None = None
    endpoints: int | None = None
    trading_partners: int | None = None
    agents: int | None = None


class VendorDifference(BaseModel):
    """One way the vendor's usage figures differ from our count, and why we count as we do."""

    environment: str
    metric: Literal[tuple(USAGE)]
    kind: Literal["figure", "split", "merged", "only-vendor", "only-ours"]
    resource_type: str
    resource_id: str
    detail: str


class EnvironmentResult(BaseModel):
    environment: str
    pool: str | None
    flows: Usage
    endpoints: Usage
    trading_partners: Usage
    agents: Usage | None = None  # on-premise agents in use (absent in results files of earlier versions)
    vendor: VendorFigures | None = None  # written only for an account with usage.json


class EndpointResult(BaseModel):
    environment: str
    key: str
    application: str
    category: str
    resolved: bool
    explain: str
    connections: list[str]
    flows: list[str]
    reached_by: list[str] = []  # what else reaches it: "api:<_id>", "tool:<_id>", "sync:<_id>"


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
    from_download: bool = False  # written only when true: read from integration downloads (upper bounds)
    # on the platform plan only: "run" (flows run in the audit month, from jobs.json) or "enabled"
    # (no run history: every enabled flow, an upper bound)
    flows_counted: Literal["run", "enabled"] | None = None
    # written only for an account with usage.json: each way the vendor's figures differ from ours
    vendor_differences: list[VendorDifference] | None = None
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
    severity: Severity
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
    severity: Severity
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
