"""The results file: the audit's output and the seam between auditing and reporting.

Versioned (`schema_version`), deterministic (everything sorted; no wall-clock time, the audit
date is `as_of`), and complete enough to re-render every report without the snapshot. The
pydantic models below are the contract that readers validate against; the writer builds plain
dicts from the frames for speed and is tested to produce what the models accept.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from annotated_types import Ge
from pydantic import AfterValidator, BaseModel, Field, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from auditor.common.vocabulary import STATES, USAGE, Severity

# 2: what an environment stands at (state, share, over, cost, advice), the whatif, migration preview,
# audit log and prices sections. A file of schema 1 is still read (auditor.results.upgrade fills in
# what readers take from the file); a reader of schema 1 refuses a file of 2 rather than drop what
# it does not know.
SCHEMA_VERSION = 2
READABLE = (1, 2)

# A whole number that cannot be negative: a count, an entitlement, a position, a size. Readers
# validate strictly, so 5.0 is refused where one of these belongs; the writer checks its document
# against these same models (auditor.results.io.encode), so it never writes what it would refuse.
Count = Annotated[int, Ge(0)]


def _a_day(value: str) -> str:
    """A day as the tool writes one (YYYY-MM-DD): checked as the file is read, so that a report is
    never half written (the HTML, then the workbook failing on a day that is none)."""
    try:
        date.fromisoformat(value) if len(value) == 10 else int("x")
    except ValueError:
        raise PydanticCustomError("day", "must be a day, YYYY-MM-DD") from None
    return value


Day = Annotated[str, AfterValidator(_a_day)]
# Lists of the results file whose rows the writer checks per column from the typed table they are
# serialised from (auditor.results.rows), not per row: at partner scale they are millions of rows.
# Readers check them row by row, and check that each environment's counts agree with them.
LISTS = ("endpoints", "trading_partners", "flows", "connections", "licenses")


class Usage(BaseModel):
    total: Count | None = None
    enabled: Count | None = None
    billable: Count | None = None
    used: Count | None = None
    entitled: Count | None
    entitled_from: str
    # how many more are used than entitled (0 when within), None where the entitlement is unknown
    # (absent in results files of earlier versions): readers take it from here, never work it out
    over: Count | None = None
    # where the environment stands (vocabulary.STATES) and what share of the entitlement is used
    # (None with no number, or none entitled and some used); readers take them from here (a file of
    # schema 1 has them filled in as it is read: auditor.results.io)
    state: Literal[STATES] | None = None
    share: float | None = None


class VendorFigures(BaseModel):
    """What the vendor's usage figures (usage.json) say; None where they say nothing."""

    flows: Count | None = None
    endpoints: Count | None = None
    trading_partners: Count | None = None
    agents: Count | None = None


class VendorDifference(BaseModel):
    """One way the vendor's usage figures differ from our count, and why we count as we do."""

    environment: str
    metric: Literal[tuple(USAGE)]
    kind: Literal["figure", "split", "merged", "only-vendor", "only-ours"]
    resource_type: str
    resource_id: str
    detail: str


class Money(BaseModel):
    """An amount in one currency (ISO 4217 code); amounts of different currencies are never summed."""

    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    amount: float  # rounded to the currency's minor unit


class MetricCost(BaseModel):
    """What an environment's overage of one metric costs (with --prices): over by x the price."""

    metric: Literal[tuple(USAGE)]
    over: Annotated[int, Ge(1)]
    unit_price: Money  # one add-on unit, for the prices file's period (`per`)
    cost: Money
    priced_by: str  # the prices file and the line of the entry the price is from

    @model_validator(mode="after")
    def _one_currency(self):
        if self.cost.currency != self.unit_price.currency:
            raise ValueError(f"{self.metric}: the cost is in {self.cost.currency}, the price in "
                             f"{self.unit_price.currency}")
        return self


class EnvironmentCost(BaseModel):
    """What an environment's overage costs (written with --prices only): per metric over its
    entitlement, and in total per currency, never summed across currencies."""

    per: Literal["month", "year"]  # what the prices are for
    metrics: list[MetricCost] = []
    total: list[Money] = []  # one per currency, by code: the sum of the metrics' costs in it
    unpriced: list[Literal[tuple(USAGE)]] = []  # metrics over their entitlement that the prices do not price

    @model_validator(mode="after")
    def _totals(self):
        sums: dict[str, float] = {}
        for cost in self.metrics:
            sums[cost.cost.currency] = sums.get(cost.cost.currency, 0.0) + cost.cost.amount
        stated = [t.currency for t in self.total]
        if stated != sorted(sums) or any(abs(t.amount - sums[t.currency]) > 1e-6 * max(1.0, abs(t.amount))
                                         for t in self.total):
            raise ValueError("total: one amount per currency, the sum of the metrics' costs in it (amounts in "
                             "different currencies are never added together)")
        return self


class PriceRow(BaseModel):
    plan: str  # endpoint | integrator | platform | *
    pool: str  # production | sandbox | *
    metric: Literal[tuple(USAGE)]
    price: Money


class PricesUsed(BaseModel):
    """The prices file an audit priced its overage with (--prices): its name, digest and prices."""

    file: str
    sha256: str
    per: Literal["month", "year"]
    currency: str | None  # the file's default currency
    prices: list[PriceRow]


class AdviceOption(BaseModel):
    """One way to bring an environment within a limit, with the evidence and what it saves."""

    kind: Literal["disable-flows", "consolidate", "buy"]
    metric: Literal[tuple(USAGE)]  # the limit it addresses
    action: str  # what to do, in one sentence
    why: str  # the evidence, as the counts explain themselves
    flows: list[str] = []  # disable-flows: the flows to disable
    connections: list[str] = []  # consolidate: the connections merged (into the first)
    endpoints: list[str] = []  # the keys freed or merged (endpoints, trading partners, on-premise agents)
    saves: dict[str, Count] = {}  # per metric, how much its count drops (buy: how many add-ons bought)
    enough: bool  # whether it brings the environment within its limit of `metric` (near: below the mark)
    # disable-flows on endpoints, trading partners or agents: whether the flows are proven the fewest
    # (false past the search's budget, `fewest_bound` then says how few any answer could be)
    proven: bool | None = None
    fewest_bound: Count | None = None
    after: dict[str, Count] = {}  # per metric it changes, the count once it is done
    whatif: list[str] = []  # the arguments of 'auditor whatif' that apply it
    money: list[Money] = []  # buy: what it costs; the others: what they save (with --prices)


class EnvironmentAdvice(BaseModel):
    """What to do about an environment's limits: written for every environment of an account."""

    status: Literal["over", "near", "within", "unknown"]
    note: str  # in words: why these options, nothing to do, or why none can be given
    options: list[AdviceOption] = []


class EnvironmentResult(BaseModel):
    environment: str
    pool: str | None
    flows: Usage
    endpoints: Usage
    trading_partners: Usage
    agents: Usage | None = None  # on-premise agents in use (absent in results files of earlier versions)
    vendor: VendorFigures | None = None  # written only for an account with usage.json
    # written only when the license the entitlements come from had expired by the audit date: the
    # day it did (its figures are what it gave, not a current entitlement)
    license_expired: Day | None = None
    advice: EnvironmentAdvice | None = None  # what to do about its limits (absent in earlier results files)
    cost: EnvironmentCost | None = None  # what its overage costs: written with --prices only


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
    enabled_flows: Count


class LicenseResult(BaseModel):
    id: str
    type: str
    tier: str | None
    connector_id: str | None
    edition: str | None
    expires: Day | None
    trial_end: Day | None
    plan: bool


class UpperBounds(BaseModel):
    """What makes an account's counts upper bounds, counted from what was read (written for an
    account read from integration downloads): flows that say nothing of whether they are enabled
    (counted as enabled), endpoints keyed by a connection whose identity is not given (each one of
    its own), connections flows reach that are not there (each one of its own)."""

    flows: Count
    flows_unstated: Count
    endpoints: Count
    endpoints_unresolved: Count
    connections_missing: Count


class AccountResult(BaseModel):
    account: str
    license_model: Literal["legacy", "multi-environment"]
    plan: str
    plan_from: str
    from_download: bool = False  # written only when true: read from integration downloads (upper bounds)
    upper_bounds: UpperBounds | None = None  # written only for an account read from downloads
    # on the platform plan only: "run" (flows run in the audit month, from jobs.json) or "enabled"
    # (no run history: every enabled flow, an upper bound)
    flows_counted: Literal["run", "enabled"] | None = None
    # written only for an account with usage.json: each way the vendor's figures differ from ours
    vendor_differences: list[VendorDifference] | None = None
    audit_log: bool = False  # written only when true: the snapshot held an audit log (its entries: audit_log)
    environments: list[EnvironmentResult]
    endpoints: list[EndpointResult]
    trading_partners: list[EndpointResult]
    flows: list[FlowResult]
    connections: list[ConnectionResult]
    licenses: list[LicenseResult]

    @model_validator(mode="after")
    def _counts_agree_with_lists(self, info: ValidationInfo):
        """Each environment's counts are those of its rows in the lists, and every row is of an
        environment of the account. The writer skips this (`context={"lists": False}`): it checks
        the same from its tables (auditor.results.build)."""
        if info.context is not None and info.context.get("lists") is False:
            return self
        problem = disagreement(self.account, {e.environment: e for e in self.environments}, list_counts(self))
        if problem:
            raise ValueError(problem)
        return self


def list_counts(account: AccountResult) -> dict[str, dict[str, int]]:
    """Per environment, what the lists hold: flows (total, enabled, billable), endpoints, trading
    partners."""
    out: dict[str, dict[str, int]] = {}

    def add(env: str, name: str, n: int = 1) -> None:
        row = out.setdefault(env, {"total": 0, "enabled": 0, "billable": 0, "endpoints": 0, "trading_partners": 0})
        row[name] += n

    for f in account.flows:
        add(f.environment, "total")
        add(f.environment, "enabled", int(f.enabled))
        add(f.environment, "billable", int(f.billable))
    for e in account.endpoints:
        add(e.environment, "endpoints")
    for t in account.trading_partners:
        add(t.environment, "trading_partners")
    return out


def disagreement(account: str, environments: dict[str, EnvironmentResult],
                 counted: dict[str, dict[str, int]]) -> str | None:
    """The first way an account's environment counts disagree with what its lists hold, or None.
    One statement for the reader (from the rows) and the writer (from its tables)."""
    for env in counted:
        if env not in environments:
            return f"account {account!r}: rows of environment {env!r}, which it does not list"
    for env, e in environments.items():
        have = counted.get(env, {})
        for what, stated, key in (("flows.total", e.flows.total, "total"), ("flows.enabled", e.flows.enabled, "enabled"),
                                  ("flows.billable", e.flows.billable, "billable"),
                                  ("endpoints.used", e.endpoints.used, "endpoints"),
                                  ("trading_partners.used", e.trading_partners.used, "trading_partners")):
            if stated is not None and stated != have.get(key, 0):
                return (f"account {account!r}, environment {env!r}: {what} is {stated}, but its list holds "
                        f"{have.get(key, 0)}")
    return None


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
    ok: Count
    alarm: Count
    skip: Count


class LoadIssue(BaseModel):
    account: str | None
    file: str | None
    record: Count | None  # the record's position in its file (1-based)
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
    expires: Day | None
    status: Literal["active", "expired", "unused"]
    matched: Count


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
    bytes: Count
    sha256: str


class Change(BaseModel):
    account: str
    environment: str | None
    kind: str
    change: str
    id: str
    name: str | None
    detail: str
    # why, from the audit log between the two audits: who changed what, when, from where (or that no
    # entry says; None where no audit log was read, or for a change no entry could explain: findings)
    cause: str | None = None
    entries: list[str] = []  # the ids of the audit-log entries it was tied to


class Changes(BaseModel):
    """What changed since the previous audit (of each account, from the history, or OLD in diff)."""

    since: dict[str, str]
    rows: list[Change]
    # one line per metric whose count changed, with its causes ("endpoints 5 -> 7: +shopify-eu
    # (connection created by jo@acme.com on 2026-11-03, UI), ..."): the top of the report
    headline: list[str] = []


class AuditEntry(BaseModel):
    """One entry of an account's audit log (audit.json), as kept to attribute changes without the
    snapshot: its values masked (auditor.load.auditlog), its resource looked up in the snapshot."""

    account: str
    environment: str | None  # the resource's; None when the snapshot does not hold it (legacy)
    id: str
    time: str | None
    day: Day | None  # the UTC day of `time`; None when it cannot be read
    user: str | None
    email: str | None
    source: str | None  # UI, api, ...
    resource_type: str | None
    resource_id: str | None
    resource_name: str | None
    # whether the snapshot holds the resource ("resource no longer exists" when not); None for a kind
    # of resource a snapshot does not list (a license, a user)
    exists: bool | None
    event: str | None  # create, update, delete, ...
    field: str | None
    old: str | None
    new: str | None


class TrendPoint(BaseModel):
    account: str
    environment: str
    month: str
    as_of: str
    flows_billable: Count
    flows_entitled: Count | None
    endpoints_used: Count
    endpoints_entitled: Count | None


class Forecast(BaseModel):
    account: str
    environment: str
    metric: str
    months: Count
    first: str
    last: str
    used: Count
    entitled: Count | None
    pace: float
    crosses: str | None
    verdict: str


class Trend(BaseModel):
    method: str
    points: list[TrendPoint]
    forecast: list[Forecast]


class ConnectorLicense(BaseModel):
    """`auditor licenses`: one integration app license, as the `connector_licenses` rules read it."""

    license_id: str
    connector_id: str
    connector: str
    source: str
    email: str | None
    user_id: str | None
    user_name: str | None
    account_id: str | None
    integration_id: str | None
    edition: str | None
    editions_offered: str | None
    edition_offered: bool | None
    created: Day | None
    expires: Day | None
    expires_from: str
    # global is a Python keyword: the field is read and written under its name in the file
    global_: bool = Field(alias="global")
    trial: bool
    installed: bool
    in_install_base: bool
    pending: bool
    live: bool
    days_left: int | None  # negative once expired
    days_ago: int | None  # negative while live
    age_days: int | None
    stores: Count
    store_editions: str | None
    stores_installed: Count | None
    stores_short: Count | None


class ReconciliationRow(BaseModel):
    """`auditor licenses --billing`: a customer's connector, licensed against billed."""

    key: str
    customer: str
    matched_on: str | None
    connector_id: str
    connector: str
    licenses: str | None
    license_edition: str | None
    license_stores: Count | None
    license_expires: Day | None
    live: bool | None
    billed_edition: str | None
    billed_quantity: Count | None
    period_start: Day | None
    period_end: Day | None
    amount: float | None
    currency: str | None
    invoices: str | None
    status: str
    category: str
    at_stake: float | None
    not_billed: bool
    not_licensed: bool
    lower_edition: bool
    fewer_stores: bool
    billed_past_expiry: bool
    licensed_past_period: bool
    detail: str


class NsRecord(BaseModel):
    """`auditor ns-records`: one NetSuite integration record in one account."""

    account: str
    base_account: str
    environment: str
    name: str | None
    application_id: str | None
    description: str | None
    state: str | None
    enabled: bool
    authentication: str | None
    owner: str | None
    owned: bool
    installed_from: str | None
    created_in_sandbox: bool
    note: str | None
    last_used: Day | None
    in_production: bool
    in_sandbox: bool
    common_differs: bool
    differs: str | None
    refreshed_on: Day | None
    used_since_refresh: bool | None
    integrator: bool
    connections: Count | None
    connections_known: bool


class NsLink(BaseModel):
    """`auditor ns-records --snapshot`: a NetSuite account the snapshot's connections point to."""

    account: str
    netsuite_account: str
    listed: bool
    integrator_records: Count
    enabled_records: Count
    connections: str
    connection_names: str


class PreviewMetric(BaseModel):
    metric: Literal[tuple(USAGE)]
    today: Count  # used on the legacy license
    after: Count  # used once migrated
    entitled: Count | None
    change: str  # in words: becomes over the limit, becomes within it, stays over (+2), ...


class PreviewEnvironment(BaseModel):
    environment: str
    metrics: list[PreviewMetric]


class PreviewAccount(BaseModel):
    account: str
    previewed: bool
    note: str | None  # why an account is not previewed (audited as it is)
    environments: list[PreviewEnvironment]
    copied: list[Resource]  # resources both environments use: copied into each, counted in each


class MigrationPreview(BaseModel):
    """`auditor audit --preview-migration`: the accounts are audited as they would stand on the
    multi-environment license; this says how that differs from today, and on what assumptions."""

    assumptions: list[str]
    accounts: list[PreviewAccount]


class WhatIfEdit(BaseModel):
    """One change 'auditor whatif' made to the account's tables before counting, where it made it."""

    kind: Literal["disable-flow", "enable-flow", "delete-connection", "merge-connections"]
    account: str
    environment: str
    ids: Annotated[list[str], Field(min_length=1)]  # merge-connections: the connection kept, then those merged into it

    @model_validator(mode="after")
    def _shape(self):
        if self.kind == "merge-connections" and len(self.ids) < 2:
            raise ValueError("merge-connections: the connection kept and at least one merged into it")
        if self.kind != "merge-connections" and len(self.ids) != 1:
            raise ValueError(f"{self.kind}: one id")
        return self

    def said(self) -> str:
        where = f"in {self.account} {self.environment}"
        if self.kind == "merge-connections":
            return f"connections {', '.join(self.ids[1:])} merged into {self.ids[0]} {where}"
        what = {"disable-flow": "flow {} disabled", "enable-flow": "flow {} enabled",
                "delete-connection": "connection {} deleted"}[self.kind]
        return f"{what.format(self.ids[0])} {where}"


class WhatIf(BaseModel):
    """Written by 'auditor whatif' only: these results are the audit as if the edits were made,
    not the account's real state."""

    edits: Annotated[list[WhatIfEdit], Field(min_length=1)]

    def said(self) -> str:
        """The edits in one sentence, for the top of a report."""
        return "; ".join(e.said() for e in self.edits) + ". These are not the account's real counts."


class Results(BaseModel):
    schema_version: Literal[READABLE]
    tool_version: str
    as_of: Day
    policy: str
    profile: str = "default"
    accounts: list[AccountResult]
    findings: list[Finding]
    rule_counts: list[RuleCount]
    mutes: list[MuteResult] = []
    load_issues: list[LoadIssue]
    rules: list[RuleRun] = []
    inputs: list[InputFile] = []
    whatif: WhatIf | None = None  # written by 'auditor whatif' only: not the account's real state
    changes: Changes | None = None
    # the audit-log entries of the accounts whose snapshot held one (audit.json), oldest first
    audit_log: list[AuditEntry] | None = None
    trend: Trend | None = None
    connector_licenses: list[ConnectorLicense] | None = None
    reconciliation: list[ReconciliationRow] | None = None
    ns_records: list[NsRecord] | None = None
    ns_links: list[NsLink] | None = None
    ns_refreshed_on: Day | None = None  # the sandbox refresh date the records were judged against
    migration_preview: MigrationPreview | None = None
    prices: PricesUsed | None = None  # the prices the overage was priced with (--prices)

    @model_validator(mode="after")
    def _once(self):
        seen = set()
        for a in self.accounts:
            if a.account in seen:
                raise ValueError(f"account {a.account!r} is in it twice")
            seen.add(a.account)
        ids = [f.id for f in self.findings]
        if len(set(ids)) != len(ids):
            raise ValueError("findings: an id is given to two findings (each finding's id is its own)")
        return self
