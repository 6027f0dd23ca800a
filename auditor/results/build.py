"""The results document built from an audit's frames (and, for the partner and NetSuite runs,
from their own sections): the only code that turns the pipeline's tables into the contract of
`auditor.results.model`."""

from __future__ import annotations

import duckdb
import orjson
import pandas as pd

from auditor import __version__
from auditor.audit import Audit
from auditor.common.vocabulary import ENVIRONMENT_ORDER_SQL, USAGE
from auditor.results.model import SCHEMA_VERSION, RuleRun
from auditor.results.serialise import ENDPOINT_FIELDS, FLOW_FIELDS, json_lists


def _records(frame: pd.DataFrame, columns: dict[str, str]) -> list[dict]:
    """Rows of a frame as dicts with the given output names; missing values become None. Built
    from whole columns (to_dict("records") cost 5 µs a row: 0.15 s for the rule counts of 1,000
    accounts)."""
    values = [frame[c].astype(object).where(frame[c].notna(), None).tolist() for c in columns]
    names = list(columns.values())
    return [dict(zip(names, row)) for row in zip(*values)]


LIST_WEIGHT = "1 + connection_count + flow_count"  # an endpoint row weighs as much as its lists


def _json_lists(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, fields: dict[str, str], order: str,
                n: int) -> list[orjson.Fragment]:
    con.register("rows_", frame)
    return json_lists(con, "rows_", fields, order, n)


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
        usage = {metric: {**{name: row[column] for name, column in counts.items()},
                          "entitled": row[f"{metric}_entitled"], "entitled_from": row[f"{metric}_entitled_from"]}
                 for metric, counts in USAGE.items()}
        if row["vendor_given"]:
            usage["vendor"] = {metric: row[f"vendor_{metric}"] for metric in USAGE}
        envs[row["account_no"]].append({"environment": row["environment"], "pool": row["pool"], **usage})

    # the big lists are serialised by DuckDB from the audit's tables, never becoming Python objects
    endpoint_fields = {k: k for k in ENDPOINT_FIELDS}
    with duckdb.connect() as con:
        for name, table in audit.tables.items():
            con.register(name, table)
        flows = json_lists(con, "flows_out", {k: k for k in FLOW_FIELDS}, f"{ENVIRONMENT_ORDER_SQL}, id", n)
        endpoints = json_lists(con, "endpoints_out", endpoint_fields, f"{ENVIRONMENT_ORDER_SQL}, key", n, LIST_WEIGHT)
        tps = json_lists(con, "tps_out", endpoint_fields, f"{ENVIRONMENT_ORDER_SQL}, key", n, LIST_WEIGHT)
        connections = _json_lists(con, audit.connections, {k: k for k in (
            "environment", "id", "name", "type", "application", "role", "key", "explain", "enabled_flows")},
            f"{ENVIRONMENT_ORDER_SQL}, id", n)
        names = {s.account: i for i, s in enumerate(audit.snapshots)}
        plan_ids = {p["license_id"] for p in audit.plans["plan_license"] if p is not None}
        lic = audit.licenses.assign(account_no=audit.licenses["account"].map(names),
                                    plan=audit.licenses["license_id"].isin(plan_ids),
                                    expires=audit.licenses["expires"].map(_day).astype(object),
                                    trial_end=audit.licenses["trial_end"].map(_day).astype(object))
        licenses = _json_lists(con, lic, {"id": "license_id", **{k: k for k in (
            "type", "tier", "connector_id", "edition", "expires", "trial_end", "plan")}}, "license_id", n)

    differences: dict[str, list[dict]] = {}
    vendor = audit.vendor[audit.vendor["differs"]] if not audit.vendor.empty else audit.vendor
    for row in _records(vendor, {c: c for c in ("account", "environment", "metric", "kind", "resource_type",
                                                 "resource_id", "detail")}):
        differences.setdefault(row.pop("account"), []).append(row)
    accounts = []
    plans = audit.plans.to_dict("records")
    for i, snap in enumerate(audit.snapshots):
        accounts.append({
            "account": snap.account, "license_model": snap.license_model,
            "plan": plans[i]["plan"], "plan_from": plans[i]["plan_from"],
            **({"from_download": True} if snap.download else {}),
            # on the platform plan: flows counted as run in the month, or as enabled (no run history)
            **({"flows_counted": "run" if plans[i]["counts_runs"] else "enabled"}
               if plans[i]["plan"] == "platform" else {}),
            "environments": envs[i], "endpoints": endpoints[i], "trading_partners": tps[i],
            "flows": flows[i], "connections": connections[i], "licenses": licenses[i],
            **({"vendor_differences": differences.get(snap.account, [])} if snap.usage_file is not None else {}),
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
