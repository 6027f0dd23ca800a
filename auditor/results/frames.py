"""The frames an account audit leaves: the counted tables, the findings and what was read.
`auditor.results.build` turns them into the results document."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd
import pyarrow as pa

from auditor.count.policy import Policy
from auditor.load.prices import Prices
from auditor.load.snapshot import Snapshot
from auditor.rules.model import Rule


@dataclass
class Audit:
    as_of: date
    policy: Policy
    snapshots: list[Snapshot]
    environments: pd.DataFrame
    flows: pd.DataFrame
    connections: pd.DataFrame
    endpoints: pd.DataFrame
    trading_partners: pd.DataFrame
    licenses: pd.DataFrame
    references: pd.DataFrame
    findings: pd.DataFrame
    rule_counts: pd.DataFrame
    load_issues: pd.DataFrame
    plans: pd.DataFrame
    rules: list[Rule] = field(default_factory=list)
    # the tables the results file's big lists are written from (flows_out, endpoints_out, tps_out),
    # as Arrow: DuckDB serialises them without their rows ever becoming Python objects
    tables: dict[str, pa.Table] = field(default_factory=dict)
    mutes: pd.DataFrame = field(default_factory=pd.DataFrame)  # each mute: status and findings matched
    inputs: pd.DataFrame = field(default_factory=pd.DataFrame)  # account, file, bytes, sha256 of what was read
    profile: str = "default"  # the rule profile that chose the rules (set by the caller)
    vendor: pd.DataFrame = field(default_factory=pd.DataFrame)  # the vendor's figures against ours
    # per account_no: what makes its counts upper bounds (flows, flows_unstated, endpoints,
    # endpoints_unresolved, connections_missing), said for accounts read from downloads
    upper_bounds: pd.DataFrame = field(default_factory=pd.DataFrame)
    # the audit-log entries of the snapshots that hold one (auditor.load.auditlog.COLUMNS)
    audit_log: pd.DataFrame = field(default_factory=pd.DataFrame)
    prices: Prices | None = None  # --prices: what an add-on unit costs, to put the overage in money
    # each environment's advice as the results file has it, in the environments frame's order (set
    # as the results are built: the terminal says it without reading the file back)
    advice: list[dict] = field(default_factory=list)
    # per account_no, environment and on-premise agent (key): the flows and the others that reach
    # its connections (advice frees an agent as it frees an endpoint)
    agent_reach: pd.DataFrame = field(default_factory=pd.DataFrame)
