"""The vendor's own usage figures (`usage.json`), compared with ours line by line.

integrator.io's UI reads an account's usage from a `licenseEntitlementUsage` call: per environment
(`production`, `sandbox`) `endpointUsage {numConsumed, endpoints: [{type, connections: [{_id}]}]}`,
`flowUsage {numEnabled, flows: [{_id}]}`, `tradingPartnerUsage {numConsumed, tradingPartners:
[{_id}]}` and `agentUsage {numActive, agents: [{_id}]}`. A user can save that body from the browser
as `usage.json` beside the exports (`auditor pull` tries to fetch it).

Every difference becomes a row of the `vendor` frame, for rule `vendor-count-differs`: the figure
itself, connections we group into one endpoint that the vendor splits, groups the vendor merges
that we split, connections, flows, trading partners and agents only one side counts; each says
which rule of ours put the thing where it is, so that the question can go to the vendor with
evidence.
"""

from __future__ import annotations

import pandas as pd

from auditor.common.vocabulary import USED
from auditor.load.usage import Usage

WORDS = {"flows": "flows", "endpoints": "endpoints", "trading_partners": "trading partners", "agents": "agents"}
VENDOR_COLUMNS = ["account", "environment", "metric", "kind", "vendor", "ours", "differs", "resource_type",
                  "resource_id", "resource_name", "detail"]


def _ours_why(conn: dict | None) -> str:
    """Why we count a connection where we do, in words."""
    if conn is None:
        return "the snapshot holds no connection of that _id"
    if conn["role"] != "endpoint":
        role = {"not-endpoint": "not an endpoint", "trading-partner": "a trading partner"}.get(conn["role"], conn["role"])
        return f"to us it is {role}: {conn['explain']}"
    if not conn["enabled_flows"]:
        return "no enabled flow (nor API, tool or sync) reaches it, so we do not count it"
    return f"endpoint {conn['key']}: {conn['explain']}"


def compare(usages: dict[str, Usage], environments: pd.DataFrame, endpoints: pd.DataFrame, tps: pd.DataFrame,
            connections: pd.DataFrame, flows: pd.DataFrame) -> pd.DataFrame:
    """The `vendor` frame: for each environment and metric the vendor gives, one row for the
    figures (differs when they do), then one for each thing only one side counts or groups
    otherwise (differs)."""
    rows: list[dict] = []
    if not usages:
        return pd.DataFrame(rows, columns=VENDOR_COLUMNS)
    # the connections of the accounts with vendor figures only (a partner's thousands have none)
    mine = connections[connections["account"].isin(list(usages))]
    conn_of = {(a, e, i): r for a, e, i, r in zip(mine["account"], mine["environment"], mine["id"],
                                                   mine.to_dict("records"))}
    for account, usage in usages.items():
        for env, figures in usage.environments.items():
            ours_env = environments[(environments["account"] == account) & (environments["environment"] == env)]
            if ours_env.empty:
                continue
            here = ours_env.iloc[0]
            ours_numbers = {metric: here[column] for metric, column in USED.items()}

            def row(metric, kind, rtype, rid, rname, detail, vendor=None, ours=None, differs=True):
                rows.append({"account": account, "environment": env, "metric": metric, "kind": kind,
                             "vendor": vendor, "ours": ours, "differs": differs, "resource_type": rtype,
                             "resource_id": rid, "resource_name": rname, "detail": detail})

            def conn(cid):
                return conn_of.get((account, env, cid))

            for metric, fig in figures.items():
                ours = int(ours_numbers[metric])
                if fig.number is not None:
                    row(metric, "figure", "usage figure", metric, WORDS[metric],
                        f"Celigo says {fig.number} {WORDS[metric]}, we count {ours}", fig.number, ours,
                        fig.number != ours)
                if fig.items is None:
                    continue
                if metric == "endpoints":
                    mine = endpoints[(endpoints["account"] == account) & (endpoints["environment"] == env)]
                    _compare_endpoints(fig.items, mine, conn, row)
                elif metric == "flows":
                    mine = flows[(flows["account"] == account) & (flows["environment"] == env)]
                    counted = set(mine.loc[mine["billable"], "id"])
                    reasons = dict(zip(mine["id"], mine["reason"]))
                    names = dict(zip(mine["id"], mine["name"]))
                    for fid in sorted(set(fig.items) - counted):
                        row(metric, "only-vendor", "flow", fid, names.get(fid),
                            f"Celigo counts flow {fid}; we do not: "
                            + (reasons[fid] if fid in reasons else "the snapshot holds no flow of that _id"))
                    for fid in sorted(counted - set(fig.items)):
                        row(metric, "only-ours", "flow", fid, names.get(fid),
                            f"we count flow {fid} ({reasons[fid]}); Celigo does not")
                elif metric == "trading_partners":
                    mine = tps[(tps["account"] == account) & (tps["environment"] == env)]
                    counted = {c for cs in mine["connections"] for c in cs}
                    for cid in sorted(set(fig.items) - counted):
                        c = conn(cid)
                        row(metric, "only-vendor", "connection", cid, c["name"] if c else None,
                            f"Celigo counts connection {cid} as a trading partner; we do not: {_ours_why(c)}")
                    for cid in sorted(counted - set(fig.items)):
                        c = conn(cid)
                        row(metric, "only-ours", "connection", cid, c["name"] if c else None,
                            f"we count connection {cid} as trading partner {c['key'] if c else ''} "
                            f"({c['explain'] if c else ''}); Celigo does not")
                else:  # agents: the distinct _agentId of the connections reached
                    mine = connections[(connections["account"] == account) & (connections["environment"] == env)
                                       & (connections["enabled_flows"] > 0) & connections["agent_id"].notna()]
                    counted = set(mine["agent_id"])
                    for aid in sorted(set(fig.items) - counted):
                        row(metric, "only-vendor", "agent", aid, None,
                            f"Celigo counts agent {aid}; no connection we count in {env} goes through it")
                    for aid in sorted(counted - set(fig.items)):
                        via = ", ".join(sorted(mine.loc[mine["agent_id"] == aid, "id"]))
                        row(metric, "only-ours", "agent", aid, None,
                            f"we count agent {aid} (connections {via} go through it); Celigo does not")
    return pd.DataFrame(rows, columns=VENDOR_COLUMNS)


def _compare_endpoints(groups: list[tuple[str, list[str]]], mine: pd.DataFrame, conn, row) -> None:
    """Group by group: our endpoints the vendor splits, vendor endpoints we split, and
    connections only one side counts."""
    vendor_group = {cid: i for i, (_, conns) in enumerate(groups) for cid in conns}
    our_key = {cid: key for key, conns in zip(mine["key"], mine["connections"]) for cid in conns}
    metric = "endpoints"
    for key, conns in zip(mine["key"], mine["connections"]):
        theirs = sorted({vendor_group[c] for c in conns if c in vendor_group})
        if len(theirs) > 1:
            c = conn(conns[0])
            row(metric, "split", "endpoint", key, None,
                f"we count connections {', '.join(conns)} as one endpoint {key} ({c['explain'] if c else ''}); "
                f"Celigo counts them as {len(theirs)} endpoints")
    for i, (kind, conns) in enumerate(groups):
        ours = sorted({our_key[c] for c in conns if c in our_key})
        if len(ours) > 1:
            why = "; ".join(f"{c} is endpoint {our_key[c]} ({conn(c)['explain'] if conn(c) else ''})"
                            for c in conns if c in our_key)
            row(metric, "merged", "endpoint", ", ".join(conns), kind or None,
                f"Celigo counts connections {', '.join(conns)} as one {kind or ''} endpoint; "
                f"we count {len(ours)}: {why}")
    for cid in sorted(set(vendor_group) - set(our_key)):
        c = conn(cid)
        row(metric, "only-vendor", "connection", cid, c["name"] if c else None,
            f"Celigo counts connection {cid} as an endpoint; we do not: {_ours_why(c)}")
    for cid in sorted(set(our_key) - set(vendor_group)):
        c = conn(cid)
        row(metric, "only-ours", "connection", cid, c["name"] if c else None,
            f"we count connection {cid} as endpoint {our_key[cid]} ({c['explain'] if c else ''}); Celigo does not")
