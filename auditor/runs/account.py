"""An account run: snapshots in, frames of counts and findings out, then the results file.

load (DuckDB tables) -> count (flows, connections, endpoints, entitlements) -> judge (rules, mutes)
-> frames (`auditor.results.frames.Audit`) -> `auditor.results.build` -> the results file.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from auditor.common.vocabulary import COUNT_COLUMNS, FIRST_ENVIRONMENTS, SEVERITIES, USED, environment_order, plural
from auditor.count import flows as flow_sql
from auditor.count.endpoints import ENDPOINTS_SQL, identities, key_connections
from auditor.count.entitlements import (
    METRICS,
    Entitlement,
    entitlements,
    plan_licenses,
    states,
)
from auditor.count.policy import Policy
from auditor.count.vendor import compare
from auditor.load import auditlog
from auditor.load.checksums import checksums
from auditor.load.licenses import read_licenses
from auditor.load.snapshot import Snapshot, discover
from auditor.load.tables import ingest
from auditor.load.usage import read_usage
from auditor.results.frames import Audit
from auditor.rules.model import Rule
from auditor.runs.judge import judge


def _plans(snapshots: list[Snapshot], licenses: pd.DataFrame, policy: Policy, as_of: date) -> pd.DataFrame:
    rows = []
    chosen = plan_licenses(licenses, as_of)
    for no, snap in enumerate(snapshots):
        plan = chosen.get(snap.account)
        kind = plan["type"] if plan is not None else policy.default_plan
        source = (f"{plan['type']} license {plan['license_id']}" if plan is not None
                  else f"no plan license; the policy assumes the {kind} plan")
        rows.append({"account_no": no, "account": snap.account, "plan": kind, "plan_from": source,
                     "plan_license": plan, "app_flows_billable": kind in policy.app_flows_billable_on})
    return pd.DataFrame(rows, columns=["account_no", "account", "plan", "plan_from", "plan_license", "app_flows_billable"])


def _lapsed(plan: dict | None, as_of: date) -> str | None:
    """The day the license the entitlements come from expired, if it has by `as_of`."""
    if plan is None or pd.isna(plan.get("expires")) or plan["expires"] >= pd.Timestamp(as_of):
        return None
    return f"{plan['expires']:%Y-%m-%d}"


def _environments(snapshots, plans, flows, endpoints, tps, agents, as_of: date) -> pd.DataFrame:
    """One row per account and environment: counts against entitlements (and, where the license
    they come from has expired, the day it did: its figures are no longer current)."""
    rows = []
    plan_rows = plans.to_dict("records")
    for no, snap in enumerate(snapshots):
        if snap.license_model == "legacy":
            envs = list(FIRST_ENVIRONMENTS)
        else:
            envs = sorted({s.env for s in snap.sources}, key=environment_order)
        plan = plan_rows[no]["plan_license"]
        lapsed = _lapsed(plan, as_of)
        for env in envs:
            pool = snap.pools.get(env)
            # "Your newly created environment will have the same license entitlements as your
            # Production account" (help center 31566861433627); account.json can say otherwise
            ent = entitlements(plan, pool or "production")
            if pool is None:
                pool = "production"
                ent = {m: Entitlement(e.value, f"{e.source}; environment {env} is named by no license, so it has "
                                      "production's entitlements (help center 31566861433627)", e.none)
                       for m, e in ent.items()}
            row = {"account_no": no, "account": snap.account, "license_model": snap.license_model,
                   "environment": env, "pool": pool, "plan": plan_rows[no]["plan"], "license_expired": lapsed}
            for metric in METRICS:
                row[f"{metric}_entitled"] = ent[metric].value
                row[f"{metric}_none"] = ent[metric].none if ent[metric].value is None else None
                row[f"{metric}_entitled_from"] = ent[metric].source + (
                    f"; that license expired on {lapsed}, so this is what it gave, not a current entitlement"
                    if lapsed and ent[metric].value is not None else "")
            rows.append(row)
    env = pd.DataFrame(rows)
    keys = ["account_no", "environment"]
    fl = flows.groupby(keys).agg(flows_total=("id", "size"), flows_enabled=("enabled", "sum"),
                                 flows_billable=("billable", "sum")).reset_index()
    ep = endpoints.groupby(keys).size().rename("endpoints_used").reset_index()
    tp = tps.groupby(keys).size().rename("trading_partners_used").reset_index()
    for part in (fl, ep, tp, agents):
        env = env.merge(part, on=keys, how="left")
    # an environment with no flows or no endpoints counts zero of them
    for col in COUNT_COLUMNS:
        env[col] = env[col].fillna(0).astype(int)
    for metric in METRICS:
        env[f"{metric}_entitled"] = pd.to_numeric(env[f"{metric}_entitled"]).astype("Int64")
    for metric, used in USED.items():
        entitled = env[f"{metric}_entitled"].astype("Float64")
        env[f"{metric}_over"] = (env[used] - entitled).clip(lower=0).astype("Int64")
        share = env[used] / entitled.where(entitled > 0)
        share = share.mask((entitled == 0) & (env[used] > 0), float("inf")).mask(env[used] == 0, 0.0)
        env[f"{metric}_share"] = share.where(entitled.notna())
        env[f"{metric}_state"] = states(env[used], entitled, env[f"{metric}_none"], env["license_expired"])
    return env


def _checksums(snapshots: list[Snapshot]) -> pd.DataFrame:
    return checksums((snap.account, display, path) for snap in snapshots for display, path in snap.input_files())


def _key_connections(con: duckdb.DuckDBPyConnection, policy: Policy, plans: pd.DataFrame) -> pd.DataFrame:
    """Every connection keyed (auditor.count.endpoints), kept as the table `conn_keys` the counting
    joins; the connections table cut down to its ids (no credentials past this point)."""
    # the trading-partner exemption exists on the endpoint plan only (help center 360060126192)
    endpoint_plan = dict(zip(plans["account_no"], plans["plan"] == "endpoint"))
    conns = key_connections(identities(con), policy, endpoint_plan)
    conn_keys = conns[["account_no", "scope", "id", "type", "role", "key", "endpoint_application", "category",
                       "resolved", "explain", "agent_id", "netsuite_account", "netsuite_sandbox"]]
    # a table, not the frame: the counting joins it six times, and a frame's text columns are
    # converted on every scan
    con.register("conn_keys_frame", conn_keys)
    con.execute("CREATE TEMP TABLE conn_keys AS SELECT * FROM conn_keys_frame")
    con.unregister("conn_keys_frame")
    # the connection blocks (and any credentials in them) are not needed past this point
    # (TEMP, as the table it replaces: a plain table of that name would leave the blocks in memory)
    con.execute("CREATE OR REPLACE TEMP TABLE connections AS SELECT account_no, scope, id FROM connections")
    return conns


def _count_flows(con: duckdb.DuckDBPyConnection, snapshots: list[Snapshot], plans: pd.DataFrame, policy: Policy,
                 as_of: date):
    """Each flow billable or not, and why (auditor.count.flows): the flows as Arrow (for the results
    file) and as a frame (for the rules), the references to what the snapshot lacks, and the notes on
    the run history. Sets `plans.counts_runs`."""
    con.execute(flow_sql.GRAPH_SQL)
    con.execute(flow_sql.REACHER_REFS_SQL)
    con.execute(flow_sql.IMPORT_LINKS_SQL)
    con.execute(flow_sql.FACTS_SQL)
    con.execute(flow_sql.STEPS_SQL)
    con.execute(flow_sql.REACHER_STEPS_SQL)
    # the platform plan counts flows run in the month, when the snapshot holds the run history
    has_jobs = [any(src.files.get("jobs") for src in snap.sources) for snap in snapshots]
    plans["counts_runs"] = (plans["plan"] == "platform") & pd.Series(has_jobs, index=plans.index, dtype=bool)
    job_notes = flow_sql.classify(con, plans[["account_no", "plan", "app_flows_billable", "counts_runs"]],
                                  policy.trading_partner_flows_billable, as_of)
    con.execute(f"CREATE TEMP TABLE flows_out AS {flow_sql.FLOWS_OUT_SQL}")
    # one fetch for the results file (Arrow) and the rules (pandas): converting the Arrow table
    # costs a fraction of a second fetch as a frame; every text column is a string column, even
    # one with no value at all (a frame fetched from DuckDB made that one an object column)
    flows_out = con.table("flows_out").to_arrow_table()
    flows = flows_out.to_pandas()
    references = con.execute(flow_sql.MISSING_SQL).df()
    # the raw step arrays: the largest columns
    con.execute("DROP TABLE flows; DROP TABLE flow_facts; DROP VIEW flow_graph; DROP TABLE flow_overrides")
    return flows_out, flows, references, job_notes


def _count_endpoints(con: duckdb.DuckDBPyConnection):
    """What the enabled flows (and APIs, tools, syncs) reach: the enabled flows of each connection,
    the agents in use and what reaches each, and the endpoints and trading partners as Arrow tables."""
    con.execute(f"CREATE TEMP TABLE usage AS {flow_sql.USAGE_SQL}")
    # tables go as soon as they are used up
    for table in ("steps", "flow_class", "reacher_steps", "reacher_refs", "import_links"):
        con.execute(f"DROP TABLE {table}")
    used = con.execute("SELECT account_no, scope, connection_id AS id, count(DISTINCT flow_id) AS enabled_flows "
                       "FROM usage GROUP BY ALL").df()
    # on-premise agents in use: the distinct _agentId of the connections reached
    agents = con.execute("SELECT u.account_no, u.environment, count(DISTINCT k.agent_id) AS agents_used "
                         "FROM usage u JOIN conn_keys k ON k.account_no = u.account_no AND k.scope = u.scope "
                         "AND k.id = u.connection_id WHERE k.agent_id IS NOT NULL GROUP BY ALL").df()
    # what reaches each agent (the flows and the APIs, tools and syncs), for advice: an agent is
    # freed when all of it is disabled (agents are few: this is small)
    agent_reach = con.execute(
        "SELECT u.account_no, u.environment, k.agent_id AS key, "
        "list(DISTINCT u.flow_id ORDER BY u.flow_id) FILTER (WHERE u.flow_id IS NOT NULL) AS flows, "
        "list(DISTINCT u.reacher ORDER BY u.reacher) FILTER (WHERE u.reacher IS NOT NULL) AS reached_by "
        "FROM usage u JOIN conn_keys k ON k.account_no = u.account_no AND k.scope = u.scope "
        "AND k.id = u.connection_id WHERE k.agent_id IS NOT NULL GROUP BY ALL").df()
    con.execute(f"CREATE TEMP TABLE endpoints_out AS {ENDPOINTS_SQL}", {"role": "endpoint"})
    con.execute(f"CREATE TEMP TABLE tps_out AS {ENDPOINTS_SQL}", {"role": "trading-partner"})
    con.execute("DROP TABLE usage")
    # fetched once each, as for flows_out
    tables = {name: con.table(name).to_arrow_table() for name in ("endpoints_out", "tps_out")}
    return used, agents, agent_reach, tables


def _load_issues(con: duckdb.DuckDBPyConnection, snapshots: list[Snapshot], names: pd.Series, conns: pd.DataFrame,
                 plans: pd.DataFrame, license_issues: list[dict], job_notes: pd.DataFrame,
                 log_notes: list[dict]) -> pd.DataFrame:
    """Every record skipped or counted with a note, and every file not read, in one table: the
    reading's own, unknown connection types, the snapshots', the run history's, the audit log's,
    the licenses', and connections keyed by themselves."""
    load_issues = con.execute("SELECT * FROM load_issues").df()
    load_issues["account"] = load_issues["account_no"].map(names)

    unknown = conns[~conns["known_type"]]
    if not unknown.empty:
        load_issues = pd.concat([load_issues, pd.DataFrame({
            "account": unknown["account_no"].map(names), "file": unknown["file"], "record": unknown["record"],
            "id": unknown["id"], "action": "counted",
            "problem": "connection type " + unknown["type"].fillna("(none)").map(repr)
                       + " is unknown; if in use it is counted as an endpoint of its own",
        })], ignore_index=True)
    notes = [{"account": snap.account, **note} for snap in snapshots for note in snap.notes]
    job_notes["account"] = job_notes["account_no"].map(names)
    notes += job_notes.drop(columns="account_no").to_dict("records")
    notes += [{**note, "account": names[note.pop("account_no")]} for note in log_notes]  # the audit log's
    notes += [{"account": names[no], "file": f"{snapshots[no].display}/", "record": None, "id": None,
               "action": "counted",
               "problem": "no run history (jobs.json): the platform plan counts the flows run in a month "
                          "(help center 30722413400859), so every enabled flow is counted; the flows figure "
                          "is an upper bound"}
              for no in plans.index[(plans["plan"] == "platform") & ~plans["counts_runs"]]]
    wrong = conns[conns["identity_problem"].notna()]
    notes += [{"account": names[no], "file": f, "record": r, "id": i, "action": "counted",
               "problem": f"connection {p}; it is keyed by itself, flagged unresolved"}
              for no, f, r, i, p in zip(wrong["account_no"], wrong["file"], wrong["record"], wrong["id"],
                                       wrong["identity_problem"])]
    load_issues = pd.concat([load_issues, pd.DataFrame(license_issues), pd.DataFrame(notes)], ignore_index=True)
    load_issues = load_issues.reindex(columns=["account", "file", "record", "id", "problem", "action"])
    load_issues = load_issues.sort_values(["account", "file", "record", "problem"]).reset_index(drop=True)
    return load_issues


def run(paths: list[Path], policy: Policy, rules: list[Rule], as_of: date, mutes_file: Path | None = None,
        all_rows: bool = False, progress=None, edits=None) -> Audit:
    """Audit the snapshots at `paths`. `all_rows`: ok rows of every rule become findings too.
    `progress(message)` hears of each stage, where a caller wants it said. `edits(con, snapshots)`
    changes the loaded tables before anything is counted ('auditor whatif', auditor.runs.whatif)."""
    say = progress or (lambda message: None)
    with ExitStack() as stack:
        snapshots = discover(paths, stack)
        say(f"reading {len(snapshots):,} account{'s' if len(snapshots) != 1 else ''}")
        # hashing releases the GIL: the checksums are worked out while DuckDB reads the same files
        pool = stack.enter_context(ThreadPoolExecutor(1))
        checksums = pool.submit(_checksums, snapshots)
        con = duckdb.connect()
        stack.callback(con.close)  # closed as soon as the counting is done: its memory goes with it
        ingest(con, snapshots)
        # the audit log, with its resources' names, before the tables are cut down to what is counted
        audit_log, log_notes = auditlog.read(con, snapshots)
        if edits is not None:  # the audit as if the edits were made: nothing read is changed but these tables
            edits(con, snapshots)
        # what a download leaves out, counted from what was read (the caveat says it in numbers)
        unstated = con.execute("SELECT account_no, count(*) FILTER (WHERE disabled IS NULL) AS flows_unstated "
                               "FROM flows GROUP BY ALL").df()
        if progress:  # counted only to be said
            say("read {:,} flows and {:,} connections; counting".format(
                *con.execute("SELECT (SELECT count(*) FROM flows), (SELECT count(*) FROM connections)").fetchone()))
        names = pd.Series({no: s.account for no, s in enumerate(snapshots)}, name="account")

        license_issues: list[dict] = []
        licenses = read_licenses([(s.account, s.license_files) for s in snapshots], as_of, license_issues)
        plans = _plans(snapshots, licenses, policy, as_of)

        conns = _key_connections(con, policy, plans)

        flows_out, flows, references, job_notes = _count_flows(con, snapshots, plans, policy, as_of)
        used, agents, agent_reach, tables = _count_endpoints(con)
        tables = {"flows_out": flows_out, **tables}
        endpoints, tps = tables["endpoints_out"].to_pandas(), tables["tps_out"].to_pandas()
        load_issues = _load_issues(con, snapshots, names, conns, plans, license_issues, job_notes, log_notes)
        inputs = checksums.result()

    connections = conns.merge(used, on=["account_no", "scope", "id"], how="left")
    connections["enabled_flows"] = connections["enabled_flows"].fillna(0).astype(int)
    for frame in (flows, references, endpoints, tps, connections):
        frame.insert(0, "account", frame["account_no"].map(names))
    environments = _environments(snapshots, plans, flows, endpoints, tps, agents, as_of)
    bounds = _upper_bounds(snapshots, unstated, flows, endpoints, connections)
    vendor, usage_issues = _vendor(snapshots, environments, endpoints, tps, connections, flows)
    if usage_issues:
        load_issues = pd.concat([load_issues, pd.DataFrame(usage_issues).reindex(columns=load_issues.columns)],
                                ignore_index=True)
        load_issues = load_issues.sort_values(["account", "file", "record", "problem"]).reset_index(drop=True)
    # a record's position is a whole number, or none: a column of them with a gap became floats,
    # written as 3.0, which the results model (and so 'auditor report') refuses
    load_issues["record"] = load_issues["record"].astype("Int64")

    say(f"counted {plural(len(endpoints), 'endpoint')} and {plural(int(flows['billable'].sum()), 'billable flow')}; "
        f"evaluating {plural(len(rules), 'rule')}")
    frames = {"environments": environments, "flows": flows, "connections": connections,
              "endpoints": endpoints, "licenses": licenses, "references": references, "vendor": vendor}
    mutes = [(mutes_file, None)] if mutes_file else []
    mutes += [(snap.mutes_file, snap.account) for snap in snapshots if snap.mutes_file]
    judged = judge(rules, frames, as_of, all_rows=all_rows, mutes=mutes)
    findings, counts, mute_rows = judged.findings, judged.counts, judged.mutes
    return Audit(as_of, policy, snapshots, environments, flows, connections, endpoints, tps, licenses,
                 references, findings, counts, load_issues, plans, rules, mutes=mute_rows, inputs=inputs, tables=tables,
                 vendor=vendor, upper_bounds=bounds, audit_log=audit_log, agent_reach=agent_reach)


def _upper_bounds(snapshots: list[Snapshot], unstated: pd.DataFrame, flows: pd.DataFrame, endpoints: pd.DataFrame,
                  connections: pd.DataFrame) -> pd.DataFrame:
    """Per account, what makes its counts upper bounds, counted from what was read: flows that say
    nothing of whether they are enabled (counted as enabled), endpoints keyed by a connection
    whose identity is not given (each its own), connections flows reach that are not there.
    Written for accounts read from downloads only: the endpoints of the others are not looked at
    one by one (a partner's are hundreds of thousands)."""
    n = len(snapshots)
    downloads = [no for no, snap in enumerate(snapshots) if snap.download]
    endpoints = endpoints[endpoints["account_no"].isin(downloads)]
    connections = connections[connections["account_no"].isin(downloads)]
    held = set(zip(connections["account_no"], connections["id"]))
    reached = {(no, c) for no, conns in zip(endpoints["account_no"], endpoints["connections"]) for c in conns}
    missing = pd.Series([no for no, _ in reached - held], dtype="int64").value_counts()
    # an endpoint of a missing connection is said as missing, not again as one of unknown identity
    of_held = [any((no, c) in held for c in conns) for no, conns in zip(endpoints["account_no"],
                                                                      endpoints["connections"])]
    out = pd.DataFrame({"account_no": range(n)})
    out["flows"] = flows.groupby("account_no").size().reindex(out["account_no"], fill_value=0).to_numpy()
    out["flows_unstated"] = unstated.set_index("account_no")["flows_unstated"].reindex(
        out["account_no"], fill_value=0).to_numpy()
    out["endpoints"] = endpoints.groupby("account_no").size().reindex(out["account_no"], fill_value=0).to_numpy()
    # (0 for an account not read from downloads: never written)
    unresolved = endpoints[~endpoints["resolved"].astype(bool).to_numpy() & pd.Series(of_held, dtype=bool).to_numpy()]
    out["endpoints_unresolved"] = unresolved.groupby("account_no").size().reindex(
        out["account_no"], fill_value=0).to_numpy()
    out["connections_missing"] = missing.reindex(out["account_no"], fill_value=0).to_numpy()
    return out


def _vendor(snapshots, environments, endpoints, tps, connections, flows) -> tuple[pd.DataFrame, list[dict]]:
    """The vendor's figures (usage.json) against ours, and the notes on the files; each
    environment's figures also go into `environments` as vendor_<metric> (null: not given)."""
    issues: list[dict] = []
    usages = {}
    for snap in snapshots:
        if snap.usage_file is not None:
            envs = list(environments.loc[environments["account"] == snap.account, "environment"])
            usages[snap.account] = read_usage(snap.account, snap.usage_file, f"{snap.display}/usage.json", envs, issues)
    for metric in METRICS:
        environments[f"vendor_{metric}"] = pd.array([None] * len(environments), dtype="Int64")
    environments["vendor_given"] = environments["account"].isin(usages)
    for account, usage in usages.items():
        for env, figures in usage.environments.items():
            at = (environments["account"] == account) & (environments["environment"] == env)
            for metric, fig in figures.items():
                environments.loc[at, f"vendor_{metric}"] = fig.number
    return compare(usages, environments, endpoints, tps, connections, flows), issues


@dataclass
class AccountRun:
    """One `auditor audit`: the audit's frames, the results file as written, and (when the history or
    a report needs it) that file read back as the readers read it."""

    audit: Audit
    findings: pd.DataFrame  # every finding, before --min-severity: the exit code is decided on them
    data: bytes
    results: dict
    caveat: str | None
    # each account of the results file as written but for its long lists (endpoints, flows, ...):
    # what the terminal summary shows
    accounts: list[dict]


def audit_snapshots(paths: list[Path], policy: str, as_of: date, *, mutes: Path | None = None,
                    rules: list[Rule] | None = None, all_rows: bool = False, progress=None) -> Audit:
    """`run` with the policy named and the rules chosen (all of them when None)."""
    from auditor.count.policy import load_policy
    from auditor.rules.model import load_rules
    return run(paths, load_policy(policy), load_rules() if rules is None else rules, as_of, mutes, all_rows, progress)


def audit_run(paths: list[Path], policy: str, as_of: date, *, rules: list[Rule], profile: str,
              mutes: Path | None = None, all_rows: bool = False, min_severity: str = "info",
              history: Path | None = None, read_back: bool = False, progress=None, prices=None) -> AccountRun:
    """The audit, its results file (findings below `min_severity` left out) checked against the
    model, and with `history` (the store, when the history is on) the changes since each account's
    last recorded audit and the trend. `read_back`: parse the file for a report. `prices`
    (auditor.load.prices.Prices): put each environment's overage in money."""
    result = audit_snapshots(paths, policy, as_of, mutes=mutes, rules=rules, all_rows=all_rows, progress=progress)
    result.prices = prices
    return finish(result, profile, min_severity, history=history, read_back=read_back)


def finish(result: Audit, profile: str, min_severity: str = "info", *, history: Path | None = None,
           read_back: bool = False, sections: dict | None = None) -> AccountRun:
    """An audit made a results file: findings below `min_severity` left out (the exit code is still
    decided on all of them), the document built with the run's own `sections` and checked against the
    model, and with `history` the changes and the trend added. `read_back`: parse it for a report."""
    import orjson

    from auditor.history.sections import add_sections
    from auditor.results import build as results_build
    from auditor.results import io as results_io
    from auditor.results.caveats import download_caveat
    from auditor.results.model import LISTS

    result.profile = profile
    every = result.findings
    result.findings = every[every["severity"].map(SEVERITIES.index).ge(SEVERITIES.index(min_severity))].reset_index(
        drop=True)
    doc = {**results_build.build(result), **(sections or {})}
    data = results_io.encode(doc)  # checked against the model readers use: never a file they would refuse
    # history and reports work on the file as written (the audit's big lists arrive pre-serialised)
    results = orjson.loads(data) if history is not None or read_back else {}
    if history is not None and add_sections(results, history):
        # (the findings too: a near-limit finding names the changes that moved its count toward the limit)
        doc.update({k: results[k] for k in ("changes", "trend", "findings") if k in results})
        data = results_io.encode(doc)
    accounts = [{k: v for k, v in a.items() if k not in LISTS} for a in doc["accounts"]]
    return AccountRun(result, every, data, results, download_caveat(doc["accounts"]), accounts)
