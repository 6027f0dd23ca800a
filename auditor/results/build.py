"""The results document built from an audit's frames (and, for the partner and NetSuite runs,
from their own sections): the only code that turns the pipeline's tables into the contract of
`auditor.results.model`."""

from __future__ import annotations

import duckdb
import orjson
import pandas as pd

from auditor import __version__
from auditor.common.errors import UnsoundDocument
from auditor.common.vocabulary import ENVIRONMENT_ORDER_SQL, USAGE, USED
from auditor.load.auditlog import has_log
from auditor.results import model as m
from auditor.results.frames import Audit
from auditor.results.model import SCHEMA_VERSION, RuleRun, disagreement
from auditor.results.rows import Rows, column, frame_rows, kinds
from auditor.results.serialise import json_lists

LIST_WEIGHT = "1 + connection_count + flow_count"  # an endpoint row weighs as much as its lists


def _json_lists(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, model, fields: dict[str, str], order: str,
                n: int, where: str) -> list[orjson.Fragment]:
    """A frame's rows as JSON arrays per account, its columns first made what the model says
    (a whole number from an integer column)."""
    checked = pd.DataFrame(frame_rows(frame, model, fields, where), columns=list(fields))
    checked["account_no"] = frame["account_no"].to_numpy()
    con.register("rows_", checked)
    return json_lists(con, "rows_", model, {k: k for k in fields}, order, n, where=where)


def _day(value) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def finding_records(frame: pd.DataFrame) -> Rows:
    """Findings as the results file writes them: the resource as one object. Built from whole
    columns, each checked against the model (a dict per row through pandas was the slow part)."""
    if frame["id"].duplicated().any():
        raise UnsoundDocument("findings.id: an id is given to two findings")
    resources = frame_rows(frame, m.Resource, {"type": "resource_type", "id": "resource_id", "name": "resource_name"},
                           "findings.resource")
    spec = kinds(m.Finding)
    cols = [resources if name == "resource" else column(frame[name], *spec[name][:3], "findings", name)
            for name in m.Finding.model_fields]
    return Rows(dict(zip(m.Finding.model_fields, row)) for row in zip(*cols))


def records(frame: pd.DataFrame, model, where: str | None = None) -> Rows:
    """A frame's rows as the model's: dates as YYYY-MM-DD, missing values as None, each column
    checked against the model's field."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
    return frame_rows(out, model, where=where)


def header(as_of, policy: str = "-", profile: str = "-") -> dict:
    """What every results file begins with: its schema, the tool, the day and the rules' choice."""
    return {"schema_version": SCHEMA_VERSION, "tool_version": __version__, "as_of": as_of.isoformat(),
            "policy": policy, "profile": profile}


def judgement(findings: pd.DataFrame, counts: pd.DataFrame, mutes: pd.DataFrame) -> dict:
    """The findings, rule counts and mutes of a run, as every results file has them."""
    counts = counts.sort_values(["rule", "account", "environment"], na_position="first")
    return {"findings": finding_records(findings), "rule_counts": frame_rows(counts, m.RuleCount, where="rule_counts"),
            "mutes": frame_rows(mutes, m.MuteResult, where="mutes")}


def document(as_of, judged, issues: list[dict], rules: list, inputs: pd.DataFrame, **sections) -> dict:
    """A results file for a run that audits no integrator.io account (partner licenses, NetSuite
    records): the common parts, and the run's own sections. `judged`: (findings, counts, mutes)."""
    return {
        **header(as_of), "accounts": [], **judgement(*judged), "load_issues": issues,
        "rules": [r.model_dump(include=set(RuleRun.model_fields)) for r in rules],
        "inputs": records(inputs.sort_values(["account", "file"]), m.InputFile, "inputs"),
        **sections,
    }


def _environments(audit: Audit, n: int) -> list[list[dict]]:
    """Each account's environments with their usage, each count checked against the model."""
    # the share of the entitlement used: none used is a share of 0 (whatever is entitled); some used
    # of nothing entitled is no number (the rules read it as infinite, the file as none)
    env = audit.environments
    frame = env.assign(**{f"_{metric}_share": env[f"{metric}_share"].replace([float("inf")], float("nan")).mask(
        env[used] == 0, 0.0) for metric, used in USED.items()})
    usage = {metric: frame_rows(frame, m.Usage, {**counts, "entitled": f"{metric}_entitled",
                                                 "entitled_from": f"{metric}_entitled_from",
                                                 "over": f"{metric}_over", "state": f"{metric}_state",
                                                 "share": f"_{metric}_share"},
                                f"environments.{metric}")
             for metric, counts in USAGE.items()}
    vendor = frame_rows(frame, m.VendorFigures, {metric: f"vendor_{metric}" for metric in USAGE}, "environments.vendor")
    lapsed = column(frame["license_expired"], *kinds(m.EnvironmentResult)["license_expired"][:3], "environments",
                    "license_expired")
    envs: list[list[dict]] = [[] for _ in range(n)]
    advice = _advice(audit)
    plans = list(audit.plans["plan"]) if audit.prices is not None else []
    for i, (no, env, pool, given) in enumerate(zip(frame["account_no"], frame["environment"], frame["pool"],
                                                   frame["vendor_given"])):
        row = {"environment": env, "pool": None if pd.isna(pool) else pool,
               **{metric: rows[i] for metric, rows in usage.items()}}
        if given:
            row["vendor"] = vendor[i]
        if lapsed[i] is not None:
            row["license_expired"] = lapsed[i]
        if audit.prices is not None:  # the overage in money, per metric and per currency
            row["cost"] = audit.prices.overage(plans[no], row["pool"],
                                               {metric: row[metric]["over"] for metric in USAGE})
        row["advice"] = advice[i]
        envs[no].append(row)
    return envs


def _advice(audit: Audit) -> list[dict]:
    """Each environment's advice (auditor.count.advice), the near mark of each metric read from its
    near-entitlement rule in force (none runs: the metric is never near), priced with --prices."""
    from auditor.common.vocabulary import month_bounds
    from auditor.count.advice import advise, price_options

    shares = {}
    for rule in audit.rules:
        for metric in USAGE:
            if rule.id == f"{metric.replace('_', '-')}-near-entitlement" and "share" in rule.parameters:
                shares[metric] = float(rule.parameters["share"])
    frame = audit.environments
    out = advise(frame, audit.endpoints, audit.trading_partners, audit.flows, audit.connections, audit.plans, shares,
                 as_of=audit.as_of, run_month=month_bounds(audit.as_of)[2], agents=audit.agent_reach)
    if audit.prices is not None:
        plans = list(audit.plans["plan"])
        for i, (no, pool) in enumerate(zip(frame["account_no"], frame["pool"])):
            over = {metric: int(v) for metric in USAGE if not pd.isna(v := frame[f"{metric}_over"].iloc[i])}
            price_options(out[i]["options"], over, None if pd.isna(pool) else pool, audit.prices.pricer(plans[no]))
    audit.advice = out
    return out


def _check_counts(con: duckdb.DuckDBPyConnection, audit: Audit, envs: list[list[dict]]) -> None:
    """Each environment's counts agree with the rows of its lists, as a reader checks them
    (auditor.results.model.disagreement), counted here from the tables the lists are made of."""
    counted: dict[int, dict[str, dict[str, int]]] = {}
    queries = (("flows_out", "count(*) AS total, count(*) FILTER (WHERE enabled) AS enabled, "
                             "count(*) FILTER (WHERE billable) AS billable"),
               ("endpoints_out", "count(*) AS endpoints"), ("tps_out", "count(*) AS trading_partners"))
    for table, what in queries:
        cur = con.execute(f"SELECT account_no, environment, {what} FROM {table} GROUP BY ALL")
        names = [d[0] for d in cur.description][2:]
        for no, env, *values in cur.fetchall():
            row = counted.setdefault(no, {}).setdefault(env, {"total": 0, "enabled": 0, "billable": 0,
                                                              "endpoints": 0, "trading_partners": 0})
            row.update(zip(names, values))
    for no, snap in enumerate(audit.snapshots):
        stated = {e["environment"]: m.EnvironmentResult.model_validate(e) for e in envs[no]}
        problem = disagreement(snap.account, stated, counted.get(no, {}))
        if problem:
            raise UnsoundDocument(problem)


def build(audit: Audit) -> dict:
    n = len(audit.snapshots)
    envs = _environments(audit, n)

    # the big lists are serialised by DuckDB from the audit's tables, never becoming Python objects;
    # each table is checked per column against the model first (auditor.results.rows)
    endpoint_fields = {k: k for k in m.EndpointResult.model_fields}
    order = f"{ENVIRONMENT_ORDER_SQL}, key"
    with duckdb.connect() as con:
        for name, table in audit.tables.items():
            con.register(name, table)
        _check_counts(con, audit, envs)
        flows = json_lists(con, "flows_out", m.FlowResult, {k: k for k in m.FlowResult.model_fields},
                           f"{ENVIRONMENT_ORDER_SQL}, id", n, where="flows")
        endpoints = json_lists(con, "endpoints_out", m.EndpointResult, endpoint_fields, order, n, LIST_WEIGHT,
                               where="endpoints")
        tps = json_lists(con, "tps_out", m.EndpointResult, endpoint_fields, order, n, LIST_WEIGHT,
                         where="trading_partners")
        connections = _json_lists(con, audit.connections, m.ConnectionResult,
                                  {k: k for k in m.ConnectionResult.model_fields}, f"{ENVIRONMENT_ORDER_SQL}, id", n,
                                  "connections")
        names = {s.account: i for i, s in enumerate(audit.snapshots)}
        plan_ids = {p["license_id"] for p in audit.plans["plan_license"] if p is not None}
        lic = audit.licenses.assign(account_no=audit.licenses["account"].map(names),
                                    plan=audit.licenses["license_id"].isin(plan_ids),
                                    expires=audit.licenses["expires"].map(_day).astype(object),
                                    trial_end=audit.licenses["trial_end"].map(_day).astype(object))
        licenses = _json_lists(con, lic, m.LicenseResult, {"id": "license_id", **{
            k: k for k in m.LicenseResult.model_fields if k != "id"}}, "id", n, "licenses")

    differences: dict[str, list[dict]] = {}
    vendor = audit.vendor[audit.vendor["differs"]] if not audit.vendor.empty else audit.vendor
    vendor_rows = frame_rows(vendor, m.VendorDifference, where="vendor_differences")
    for account, row in zip(vendor["account"], vendor_rows):
        differences.setdefault(account, []).append(row)
    bounds = frame_rows(audit.upper_bounds, m.UpperBounds, where="upper_bounds")
    accounts = []
    plans = audit.plans.to_dict("records")
    for i, snap in enumerate(audit.snapshots):
        accounts.append({
            "account": snap.account, "license_model": snap.license_model,
            "plan": plans[i]["plan"], "plan_from": plans[i]["plan_from"],
            **({"from_download": True, "upper_bounds": bounds[i]} if snap.download else {}),
            # on the platform plan: flows counted as run in the month, or as enabled (no run history)
            **({"flows_counted": "run" if plans[i]["counts_runs"] else "enabled"}
               if plans[i]["plan"] == "platform" else {}),
            "environments": envs[i], "endpoints": endpoints[i], "trading_partners": tps[i],
            "flows": flows[i], "connections": connections[i], "licenses": licenses[i],
            **({"vendor_differences": differences.get(snap.account, [])} if snap.usage_file is not None else {}),
            **({"audit_log": True} if has_log(snap) else {}),
        })
    accounts.sort(key=lambda a: a["account"])

    return {
        **header(audit.as_of, audit.policy.name, audit.profile),
        "accounts": accounts,
        **judgement(audit.findings, audit.rule_counts, audit.mutes),
        "load_issues": frame_rows(audit.load_issues, m.LoadIssue, where="load_issues"),
        "rules": [rule.model_dump(include=set(RuleRun.model_fields)) for rule in audit.rules],
        "inputs": frame_rows(audit.inputs.sort_values(["account", "file"]), m.InputFile, where="inputs"),
        **({"prices": audit.prices.section()} if audit.prices is not None else {}),
        **_audit_log(audit),
    }


def _audit_log(audit: Audit) -> dict:
    """The audit_log section: every entry of the accounts whose snapshot held a log (none: no section)."""
    if not any(has_log(snap) for snap in audit.snapshots):
        return {}
    log = audit.audit_log
    names = {no: snap.account for no, snap in enumerate(audit.snapshots)}
    frame = log.assign(account=log["account_no"].map(names)).drop(columns="account_no")
    frame = frame.astype(object).where(frame.notna(), None)
    rows = frame_rows(frame, m.AuditEntry, {k: k for k in m.AuditEntry.model_fields}, "audit_log")
    return {"audit_log": sorted(rows, key=lambda r: (r["account"], r["day"] or "", r["time"] or "", r["id"]))}
