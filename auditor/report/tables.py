"""The tables every report shows, built once from a results file so that the HTML page, the
workbook and the CSV files say the same thing in the same words.

Each table is a DataFrame whose column names are the headers people read; `COLUMN_TYPES`
says which columns hold dates, shares and counts so that writers can format them.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import numpy as np
import pandas as pd

from auditor.common.vocabulary import SEVERITIES_DOWN as SEVERITIES  # highest first
from auditor.common.vocabulary import STATUS_ORDER, USAGE, why_reached
from auditor.results import model as m
from auditor.results.caveats import download_caveat
from auditor.results.rows import table as section_table
from auditor.results.summary import alarm_counts

# header -> kind, for the writers: "date", "share" (a fraction shown as a percentage), "int", "bool"
COLUMN_TYPES = {
    "billable flows": "int", "flows entitled": "int", "flows share": "share",
    "endpoints used": "int", "endpoints entitled": "int", "endpoints share": "share",
    "trading partners used": "int", "trading partners entitled": "int",
    **{sev: "int" for sev in SEVERITIES}, "muted": "bool", "muted alarms": "int",
    "account-wide": "int", "connections": "int", "flows": "int", "enabled flows": "int", "endpoints": "int",
    "enabled": "bool", "billable": "bool", "resolved": "bool", "plan license": "bool",
    "expires": "date", "trial ends": "date", "record": "int", "matched": "int", "bytes": "int",
    "months": "int", "used": "int",
    "entitled": "int", "pace a month": "num",
    "created": "date", "license expires": "date", "license expired": "date", "period start": "date", "period end": "date",
    "last used": "date", "refreshed on": "date", "owned": "bool", "in production": "bool", "in sandbox": "bool",
    "common differs": "bool", "used since refresh": "bool", "integrator": "bool", "listed": "bool",
    "integrator records": "int", "enabled records": "int",
    "live": "bool", "installed": "bool", "trial": "bool", "pending": "bool", "global": "bool",
    "stores": "int", "stores installed": "int", "days left": "int", "license stores": "int",
    "billed quantity": "int", "amount": "money", "at stake": "money", "billed": "money",
    "Celigo says": "int", "we count": "int", "agents used": "int", "agents entitled": "int",
    "flows over by": "int", "endpoints over by": "int", "trading partners over by": "int", "agents over by": "int",
    "over by": "int", "enough": "bool",
}
OVER_BY = {"flows": "flows over by", "endpoints": "endpoints over by", "trading_partners": "trading partners over by",
           "agents": "agents over by"}  # the Summary's 'over by' columns, per metric of the results


def overage_column(metric: str | None, currency: str) -> str:
    """The header of a Summary column of money: 'endpoints overage USD', or 'overage USD' (the
    environment's total in that currency). One currency a column: amounts are never summed across."""
    return f"{OVER_BY[metric].removesuffix(' over by')} overage {currency}" if metric else f"overage {currency}"


def column_kind(header: str) -> str:
    """What a column holds, for the writers: COLUMN_TYPES, or 'money:USD' for an overage column."""
    kind = COLUMN_TYPES.get(header)
    if kind is None and (header.startswith("overage ") or " overage " in header) and header[-4:-3] == " ":
        code = header[-3:]
        if code.isascii() and code.isalpha() and code.isupper():
            return f"money:{code}"
    return kind or "text"


@dataclass
class Report:
    """Everything a report renders, from one results file."""

    meta: dict  # tool_version, as_of, policy, profile, schema_version
    summary: pd.DataFrame
    findings: pd.DataFrame
    rules: pd.DataFrame
    endpoints: pd.DataFrame  # one row per endpoint and one per member connection
    flows: pd.DataFrame
    licenses: pd.DataFrame
    load_issues: pd.DataFrame
    mutes: pd.DataFrame
    inputs: pd.DataFrame
    changes: pd.DataFrame  # empty unless the results carry changes (history on, or auditor diff)
    trend: pd.DataFrame  # monthly points, empty unless the results carry a trend
    forecast: pd.DataFrame
    connector_licenses: pd.DataFrame  # `auditor licenses`: empty otherwise
    reconciliation: pd.DataFrame
    results: dict  # the results file itself, for what the HTML page embeds

    extras: dict[str, pd.DataFrame] = None  # other runs' tables by title (NetSuite records, ...)
    vendor: pd.DataFrame = None  # Celigo says / we count / why, for accounts with usage.json

    @property
    def no_accounts(self) -> bool:
        """A run that audits no integrator.io account (a partner's licenses, NetSuite records)."""
        return not self.results["accounts"] and (self.results.get("connector_licenses") is not None
                                                 or bool(self.extras))

    def reconciliation_totals(self) -> pd.DataFrame:
        return reconciliation_totals(self.reconciliation)
    @property
    def since(self) -> str:
        """'2026-10-31', or the dates per account when they differ."""
        since = (self.results.get("changes") or {}).get("since", {})
        days = sorted(set(since.values()))
        return days[0] if len(days) == 1 else ", ".join(f"{a} {d}" for a, d in sorted(since.items()))


def fraction(used, entitled) -> str | None:
    """Used against entitled as people read it: '6 / 10', '6 / -' when the entitlement is not known;
    None when what is used is not known either."""
    if pd.isna(used):
        return None
    return f"{int(used)} / {'-' if pd.isna(entitled) else int(entitled)}"


def _summary(results: dict) -> pd.DataFrame:
    rows = []
    for acct in results["accounts"]:
        for env in acct["environments"]:
            rows.append({
                "account": acct["account"], "environment": env["environment"], "plan": acct["plan"],
                "license model": acct["license_model"],
                "billable flows": env["flows"]["billable"], "flows entitled": env["flows"]["entitled"],
                "endpoints used": env["endpoints"]["used"], "endpoints entitled": env["endpoints"]["entitled"],
                "trading partners used": env["trading_partners"]["used"],
                "trading partners entitled": env["trading_partners"]["entitled"],
                "agents used": (env.get("agents") or {}).get("used"),
                "agents entitled": (env.get("agents") or {}).get("entitled"),
                "flows entitled from": env["flows"]["entitled_from"],
                "endpoints entitled from": env["endpoints"]["entitled_from"],
                "trading partners entitled from": env["trading_partners"]["entitled_from"],
                "agents entitled from": (env.get("agents") or {}).get("entitled_from"),
                "license expired": env.get("license_expired"),
                # where it stands, and the share used, as the results say (auditor.results.upgrade
                # fills them in for a file of an earlier version)
                "flows status": env["flows"]["state"], "endpoints status": env["endpoints"]["state"],
                "flows share": env["flows"]["share"], "endpoints share": env["endpoints"]["share"],
                # as the results say it (None: entitlement unknown, or a results file of an earlier version)
                **{OVER_BY[metric]: (env.get(metric) or {}).get("over") for metric in OVER_BY},
                **_overage(env.get("cost")),
            })
    # what a printed page needs first; shares, the license model and the long texts after
    money = _money_columns(results)
    cols = ["account", "environment", "plan", "billable flows", "flows entitled", "flows status", "flows over by",
            "endpoints used", "endpoints entitled", "endpoints status", "endpoints over by",
            "trading partners used", "trading partners entitled", "trading partners over by",
            "agents used", "agents entitled", "agents over by", *money,
            *SEVERITIES, "account-wide", "muted alarms", "flows share", "endpoints share", "license model",
            "flows entitled from", "endpoints entitled from", "trading partners entitled from",
            "agents entitled from", "license expired"]
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=cols)
    table["license expired"] = pd.to_datetime(table["license expired"], format="%Y-%m-%d")
    for metric in ("flows", "endpoints"):
        table[f"{metric} entitled"] = pd.to_numeric(table[f"{metric} entitled"]).astype("Int64")
        table[f"{metric} share"] = pd.to_numeric(table[f"{metric} share"]).astype("Float64")
    for col in ("trading partners entitled", "agents used", "agents entitled", *OVER_BY.values()):
        table[col] = pd.to_numeric(table[col]).astype("Int64")
    for col in money:  # an environment with no overage in a currency costs nothing in it
        table[col] = pd.to_numeric(table[col] if col in table else pd.Series(0.0, index=table.index)
                                   ).fillna(0.0).astype(float)
    # unmuted alarms by severity per environment, as the terminal summary counts them
    # (results.summary); alarms of no environment (licenses) under account-wide, on the account's
    # first row; the muted ones of both in one column
    tally = alarm_counts(results["findings"])
    first = ~table.duplicated("account")
    places = list(zip(table["account"], table["environment"]))
    for sev in SEVERITIES:
        table[sev] = [tally.get(place, {}).get(sev, 0) for place in places]
    wide = {a: counts for (a, e), counts in tally.items() if e is None}
    table["account-wide"] = [sum(n for k, n in wide.get(a, {}).items() if k != "muted") if f else 0
                             for a, f in zip(table["account"], first)]
    table["muted alarms"] = [tally.get(place, {}).get("muted", 0) + (wide.get(place[0], {}).get("muted", 0) if f else 0)
                             for place, f in zip(places, first)]
    return table[cols]


def _overage(cost: dict | None) -> dict:
    """An environment's overage in money as the Summary's columns: per metric and currency, and
    the environment's total per currency (as the results file gives it: never recomputed)."""
    if not cost:
        return {}
    out = {overage_column(c["metric"], c["cost"]["currency"]): c["cost"]["amount"] for c in cost["metrics"]}
    out.update({overage_column(None, t["currency"]): t["amount"] for t in cost["total"]})
    return out


def _money_columns(results: dict) -> list[str]:
    """The Summary's money columns, with prices: for each currency priced (by code), the total
    then a column per metric priced in it; none without prices."""
    if results.get("prices") is None:
        return []
    priced: dict[str, set[str]] = {}
    for row in results["prices"]["prices"]:
        metrics = [row["metric"]] if row["metric"] in OVER_BY else []
        priced.setdefault(row["price"]["currency"], set()).update(metrics)
    return [col for cur in sorted(priced)
            for col in (overage_column(None, cur), *(overage_column(m, cur) for m in OVER_BY if m in priced[cur]))]


def costs(results: dict) -> pd.DataFrame:
    """With prices: per account, environment and metric over its entitlement, what the overage
    costs (one currency a row), then the environment's total per currency; empty without."""
    cols = ["account", "environment", "metric", "over by", "unit price", "cost", "currency", "priced by"]
    rows = []
    for acct in results["accounts"]:
        for env in acct["environments"]:
            cost = env.get("cost")
            if not cost:
                continue
            base = {"account": acct["account"], "environment": env["environment"]}
            for c in cost["metrics"]:
                rows.append({**base, "metric": METRIC_WORDS[c["metric"]], "over by": c["over"],
                             "unit price": c["unit_price"]["amount"], "cost": c["cost"]["amount"],
                             "currency": c["cost"]["currency"], "priced by": c["priced_by"]})
            for t in cost["total"]:
                rows.append({**base, "metric": "total", "over by": None, "unit price": None, "cost": t["amount"],
                             "currency": t["currency"], "priced by": None})
            for metric in cost.get("unpriced", []):
                rows.append({**base, "metric": METRIC_WORDS[metric], "over by": env[metric]["over"],
                             "unit price": None, "cost": None, "currency": None,
                             "priced by": "not priced: the prices file gives no price for it here"})
    table = pd.DataFrame(rows, columns=cols)
    table["over by"] = pd.to_numeric(table["over by"]).astype("Int64")
    return table


def _findings(results: dict) -> pd.DataFrame:
    cols = ["severity", "status", "muted", "mute reason", "rule", "title", "account", "environment",
            "resource type", "resource id", "resource name", "reason", "finding id"]
    if not results["findings"]:
        # typed, so that a healthy run's empty table filters like a full one (a boolean `muted`)
        return pd.DataFrame({c: pd.Series(dtype=bool if c == "muted" else object) for c in cols})
    f = pd.json_normalize(results["findings"])
    table = pd.DataFrame({
        "severity": f["severity"], "status": f["status"], "muted": f["muted"].astype(bool),
        "mute reason": f["mute_reason"], "rule": f["rule"], "title": f["title"], "account": f["account"],
        "environment": f["environment"], "resource type": f["resource.type"], "resource id": f["resource.id"],
        "resource name": f["resource.name"], "reason": f["reason"], "finding id": f["id"],
    })
    # alarms first, then by severity, rule, account: what needs doing comes first
    key = pd.DataFrame({"m": table["muted"], "st": table["status"].map(STATUS_ORDER),
                        "sev": table["severity"].map(SEVERITIES.index)})
    order = key.sort_values(["m", "st", "sev"], kind="stable").index
    return table.loc[order, cols].reset_index(drop=True)


def _rules(results: dict, findings: pd.DataFrame) -> pd.DataFrame:
    counts = pd.DataFrame(results["rule_counts"], columns=["rule", "account", "environment", "ok", "alarm", "skip"])
    totals = counts.groupby("rule")[["ok", "alarm", "skip"]].sum()
    muted = findings[findings["muted"]].groupby("rule").size()
    errors = findings[findings["status"] == "error"].groupby("rule").size()
    rows = []
    for rule in results.get("rules", []):
        t = totals.loc[rule["id"]] if rule["id"] in totals.index else {"ok": 0, "alarm": 0, "skip": 0}
        rows.append({"rule": rule["id"], "severity": rule["severity"], "title": rule["title"],
                     "alarm": int(t["alarm"]), "muted alarms": int(muted.get(rule["id"], 0)), "skip": int(t["skip"]),
                     "error": int(errors.get(rule["id"], 0)), "ok": int(t["ok"]),
                     "description": rule["description"], "remediation": rule["remediation"],
                     "parameters": ", ".join(f"{k}={v}" for k, v in rule["parameters"].items())})
    cols = ["rule", "severity", "title", "alarm", "muted alarms", "skip", "error", "ok", "description", "remediation",
            "parameters"]
    table = pd.DataFrame(rows, columns=cols)
    key = pd.DataFrame({"a": -(table["alarm"] - table["muted alarms"] + table["error"]),
                        "sev": table["severity"].map(SEVERITIES.index)})
    return table.loc[key.sort_values(["sev", "a"], kind="stable").index].reset_index(drop=True)


def _endpoints(results: dict) -> pd.DataFrame:
    rows = []
    for acct in results["accounts"]:
        conns = {(c["environment"], c["id"]): c for c in acct["connections"]}
        for kind, items in (("endpoint", acct["endpoints"]), ("trading partner", acct["trading_partners"])):
            for ep in items:
                base = {"account": acct["account"], "environment": ep["environment"], "kind": kind, "key": ep["key"],
                        "application": ep["application"], "category": ep["category"], "resolved": ep["resolved"]}
                rows.append({**base, "row": kind, "endpoints": 1, "connections": len(ep["connections"]),
                             "flows": len(ep["flows"]), "connection id": None, "connection name": None,
                             "connection type": None, "enabled flows": None,
                             "why": why_reached(ep["explain"], ep.get("reached_by"))})
                for cid in ep["connections"]:
                    c = conns.get((ep["environment"], cid), {})
                    rows.append({**base, "row": "connection", "endpoints": None, "connections": None, "flows": None,
                                 "connection id": cid, "connection name": c.get("name"),
                                 "connection type": c.get("type"), "enabled flows": c.get("enabled_flows"),
                                 "why": None})
    cols = ["account", "environment", "kind", "key", "application", "category", "resolved", "row", "endpoints",
            "connections", "flows", "connection id", "connection name", "connection type", "enabled flows", "why"]
    table = pd.DataFrame(rows, columns=cols)
    for col in ("endpoints", "connections", "flows", "enabled flows"):
        table[col] = table[col].astype("Int64")
    return table


def _flows(results: dict) -> pd.DataFrame:
    cols = ["account", "environment", "id", "name", "enabled", "billable", "reason code", "reason"]
    accounts = results["accounts"]
    table = pd.DataFrame(list(chain.from_iterable(a["flows"] for a in accounts)),
                         columns=["environment", "id", "name", "enabled", "billable", "reason_code", "reason"])
    table["account"] = np.repeat([a["account"] for a in accounts], [len(a["flows"]) for a in accounts])
    return table.rename(columns={"reason_code": "reason code"})[cols]


def _licenses(results: dict) -> pd.DataFrame:
    rows = [{"account": a["account"], "license id": lic["id"], "type": lic["type"], "tier": lic["tier"],
             "connector": lic["connector_id"], "edition": lic["edition"], "expires": lic["expires"],
             "trial ends": lic["trial_end"], "plan license": lic["plan"]}
            for a in results["accounts"] for lic in a["licenses"]]
    cols = ["account", "license id", "type", "tier", "connector", "edition", "expires", "trial ends", "plan license"]
    table = pd.DataFrame(rows, columns=cols)
    for col in ("expires", "trial ends"):
        table[col] = pd.to_datetime(table[col], errors="coerce")
    return table


def _dates(frame: pd.DataFrame, *cols: str) -> pd.DataFrame:
    for col in cols:
        frame[col] = pd.to_datetime(frame[col], errors="coerce")
    return frame


def _connector_licenses(results: dict) -> pd.DataFrame:
    cols = {"connector": "connector", "license_id": "license id", "email": "email", "user_name": "user",
            "account_id": "account id", "source": "source", "edition": "edition", "created": "created",
            "expires": "expires", "expires_from": "expiry from", "days_left": "days left", "live": "live",
            "trial": "trial", "installed": "installed", "integration_id": "integration", "pending": "pending",
            "global": "global", "stores": "stores", "store_editions": "store editions",
            "stores_installed": "stores installed"}
    return _dates(section_table(results.get("connector_licenses") or [], cols, m.ConnectorLicense), "created",
                  "expires")


def reconciliation_frame(results: dict) -> pd.DataFrame:
    """The results' reconciliation rows as the reports (and the terminal's totals) show them."""
    cols = {"category": "category", "status": "status", "customer": "customer", "matched_on": "matched on",
            "connector": "connector", "licenses": "licenses", "license_edition": "license edition",
            "license_stores": "license stores", "license_expires": "license expires",
            "billed_edition": "billed edition", "billed_quantity": "billed quantity", "period_start": "period start",
            "period_end": "period end", "amount": "amount", "currency": "currency", "at_stake": "at stake",
            "invoices": "invoices", "detail": "detail"}
    frame = _dates(section_table(results.get("reconciliation") or [], cols, m.ReconciliationRow), "license expires",
                   "period start", "period end")
    frame["currency"] = frame["currency"].fillna("-")  # a blank cell would not match a COUNTIFS criterion
    return frame


def reconciliation_totals(reconciliation: pd.DataFrame) -> pd.DataFrame:
    """Rows, amount billed and amount at stake by category, status and currency (of the table
    `reconciliation_frame` makes: a row of no currency under "-"): what the report, the workbook, the
    CSV and the terminal total."""
    cols = ["category", "status", "currency", "rows", "billed", "at stake"]
    if reconciliation.empty:
        return pd.DataFrame(columns=cols)
    t = reconciliation.groupby(["category", "status", "currency"], dropna=False).agg(
        rows=("customer", "size"), billed=("amount", "sum"), stake=("at stake", "sum")).reset_index()
    return t.rename(columns={"stake": "at stake"})[cols]


EXTRA_SECTIONS = {"ns_records": "NetSuite records", "ns_links": "NetSuite connections"}
EXTRA_MODELS = {"ns_records": m.NsRecord, "ns_links": m.NsLink}


METRIC_WORDS = {"flows": "billable flows", "endpoints": "endpoints", "trading_partners": "trading partners",
                "agents": "on-premise agents"}
OURS = {metric: list(counts)[-1] for metric, counts in USAGE.items()}  # the count each entitlement limits


def _vendor(results: dict) -> pd.DataFrame:
    """Per account, environment and metric the vendor's usage figures give: what Celigo says, what
    we count, and why they differ (each difference, with the rule of ours behind it)."""
    rows = []
    for acct in results["accounts"]:
        diffs = acct.get("vendor_differences") or []
        for env in acct["environments"]:
            says = env.get("vendor")
            if says is None:
                continue
            for metric, words in METRIC_WORDS.items():
                items = [d["detail"] for d in diffs if d["environment"] == env["environment"]
                         and d["metric"] == metric and d["kind"] != "figure"]
                ours = (env.get(metric) or {}).get(OURS[metric])
                if says.get(metric) is None and not items:
                    continue
                if items:
                    why = "\n".join(items)  # one difference a line
                elif says.get(metric) == ours:
                    why = "the same"
                else:
                    why = "usage.json does not list them, so the difference cannot be traced item by item"
                rows.append({"account": acct["account"], "environment": env["environment"], "metric": words,
                             "Celigo says": says.get(metric), "we count": ours, "why": why})
    table = pd.DataFrame(rows, columns=["account", "environment", "metric", "Celigo says", "we count", "why"])
    for col in ("Celigo says", "we count"):
        table[col] = pd.to_numeric(table[col]).astype("Int64")
    return table


def _extras(results: dict) -> dict[str, pd.DataFrame]:
    """Sections of other runs, as tables with their own column names (dates typed)."""
    out = {}
    for key, title in EXTRA_SECTIONS.items():
        rows = results.get(key)
        if rows is not None:
            model = EXTRA_MODELS[key]
            shown = [f for f in model.model_fields  # said elsewhere, or only for the rules
                     if f not in ("base_account", "connections_known", "refreshed_on")]
            frame = section_table(rows, {f: f.replace("_", " ") for f in shown}, model)
            for col in ("last used", "refreshed on"):
                if col in frame:
                    frame[col] = pd.to_datetime(frame[col], errors="coerce")
            out[title] = frame
    return out





def build_report(results: dict) -> Report:
    findings = _findings(results)
    return Report(
        meta={**{k: results.get(k) for k in ("schema_version", "tool_version", "as_of", "policy", "profile")},
              "caveat": download_caveat(results["accounts"]),
              # 'auditor whatif': the counts as if edited, said on top of every report
              "whatif": m.WhatIf.model_validate(results["whatif"]).said() if results.get("whatif") else None},
        summary=_summary(results),
        findings=findings,
        rules=_rules(results, findings),
        endpoints=_endpoints(results),
        flows=_flows(results),
        licenses=_licenses(results),
        load_issues=section_table(results["load_issues"], {"account": "account", "file": "file", "record": "record",
                                                    "id": "id", "problem": "problem", "action": "action"},
                            m.LoadIssue),
        mutes=section_table(results.get("mutes", []), {"mute": "mute", "rule": "rule", "account": "account",
                                                "environment": "environment", "resource": "resource",
                                                "reason": "reason", "expires": "expires", "status": "status",
                                                "matched": "matched"}, m.MuteResult),
        inputs=section_table(results.get("inputs", []), {"account": "account", "file": "file", "bytes": "bytes",
                                                  "sha256": "sha256"}, m.InputFile),
        changes=section_table((results.get("changes") or {}).get("rows", []),
                       {c: c for c in ("account", "environment", "kind", "change", "id", "name", "detail", "cause")},
                       m.Change),
        trend=section_table((results.get("trend") or {}).get("points", []), {
            "account": "account", "environment": "environment", "month": "month", "as_of": "audit date",
            "flows_billable": "billable flows", "flows_entitled": "flows entitled",
            "endpoints_used": "endpoints used", "endpoints_entitled": "endpoints entitled"}, m.TrendPoint),
        forecast=section_table((results.get("trend") or {}).get("forecast", []), {
            "account": "account", "environment": "environment", "metric": "metric", "months": "months",
            "first": "from", "last": "to", "used": "used", "entitled": "entitled", "pace": "pace a month",
            "crosses": "crosses in", "verdict": "forecast"}, m.Forecast),
        connector_licenses=_connector_licenses(results),
        extras=_extras(results),
        reconciliation=reconciliation_frame(results),
        results=results,
        vendor=_vendor(results),
    )


def migration_table(results: dict) -> pd.DataFrame:
    """The migration preview as a table: per account, environment and metric, today -> after, with
    the resources copied into both environments and the accounts not previewed."""
    rows = []
    for a in (results.get("migration_preview") or {}).get("accounts", []):
        if not a["previewed"]:
            rows.append({"account": a["account"], "change": "not previewed: " + a["note"]})
            continue
        copied = ", ".join(f"{r['type']} {r['id']}" for r in a["copied"])
        for e in a["environments"]:
            for row in e["metrics"]:
                if row["today"] or row["after"]:
                    rows.append({"account": a["account"], "environment": e["environment"],
                                 "metric": row["metric"].replace("_", " "), "today": row["today"],
                                 "after": row["after"], "entitled": row["entitled"], "change": row["change"],
                                 "copied into each": copied})
    columns = ["account", "environment", "metric", "today", "after", "entitled", "change", "copied into each"]
    frame = pd.DataFrame(rows, columns=columns)
    for col in ("today", "after", "entitled"):
        frame[col] = frame[col].astype("Int64")
    return frame


# --- advice (issue 26): what to do about each environment's limits -----------------------------

ADVICE_KINDS = {"disable-flows": "disable flows", "consolidate": "consolidate", "buy": "buy"}
ADVICE_NOUNS = {"endpoints": ("endpoint", "endpoints"), "flows": ("billable flow", "billable flows"),
                "trading_partners": ("trading partner", "trading partners"),
                "agents": ("on-premise agent", "on-premise agents")}


def saves_text(option: dict) -> str:
    """What an option saves, in words: '3 endpoints, 2 billable flows' (buy: 'buys 3 endpoints')."""
    parts = [f"{n:,} {ADVICE_NOUNS[metric][0 if n == 1 else 1]}" for metric, n in option["saves"].items()]
    return ("buys " if option["kind"] == "buy" else "") + ", ".join(parts)


def money_text(option: dict) -> str:
    """An option's money, one amount per currency, never summed across them."""
    from auditor.load.prices import money_text as said
    return " + ".join(said(m) for m in option.get("money", []))


def whatif_command(option: dict) -> str:
    """The command that applies an option, for the snapshots audited (SNAPSHOTS stands for them)."""
    import shlex
    return f"auditor whatif SNAPSHOTS {shlex.join(option['whatif'])}" if option["whatif"] else ""


def advice_groups(results: dict) -> list[dict]:
    """The environments over or near a limit with their advice, over ones first, for the reports."""
    groups = []
    for a in results.get("accounts", []):
        for e in a["environments"]:
            advice = e.get("advice")
            if advice and advice["status"] in ("over", "near"):
                groups.append({"account": a["account"], "environment": e["environment"], "status": advice["status"],
                               "note": advice["note"],
                               "options": [{**o, "kind_said": ADVICE_KINDS[o["kind"]], "saves_said": saves_text(o),
                                            "money_said": money_text(o), "command": whatif_command(o)}
                                           for o in advice["options"]]})
    return sorted(groups, key=lambda g: g["status"] != "over")


def advice_counts(results: dict) -> dict[str, int]:
    """How many environments have each advice status."""
    counts = {"over": 0, "near": 0, "within": 0, "unknown": 0}
    for a in results.get("accounts", []):
        for e in a["environments"]:
            if e.get("advice"):
                counts[e["advice"]["status"]] += 1
    return counts


def advice_table(results: dict) -> pd.DataFrame:
    """Every environment's advice: a row per option; an environment without options, one row
    with its note."""
    columns = ["account", "environment", "status", "option", "limit", "action", "saves", "enough", "money",
               "whatif", "why", "note"]
    rows = []
    for a in results.get("accounts", []):
        for e in a["environments"]:
            advice = e.get("advice")
            if not advice:
                continue
            base = {"account": a["account"], "environment": e["environment"], "status": advice["status"],
                    "note": advice["note"]}
            for o in advice["options"]:
                rows.append({**base, "option": ADVICE_KINDS[o["kind"]], "limit": o["metric"].replace("_", " "),
                             "action": o["action"], "saves": saves_text(o), "enough": o["enough"],
                             "money": money_text(o), "whatif": whatif_command(o), "why": o["why"]})
            if not advice["options"]:
                rows.append(base)
    frame = pd.DataFrame(rows, columns=columns)
    frame["enough"] = frame["enough"].astype(object)
    return frame
