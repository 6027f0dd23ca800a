"""What changed between two audits (two results documents), one row per change.

Endpoints added and removed (with the connections and flows that make them count), flows that
became billable or stopped, usage and entitlement changes, findings new, resolved and still open
(by their stable id), licenses added, removed, renewed and expired; for a partner's licenses and
NetSuite records, the rows of their sections added, removed and changed (field by field).
"""

from __future__ import annotations

import fnmatch

import pandas as pd

from auditor.common.vocabulary import SEVERITIES_DOWN
from auditor.history.attribution import attribute, headline, window

COLUMNS = ["account", "environment", "kind", "change", "id", "name", "detail", "cause", "entries"]
# the sections of the runs that audit no integrator.io account: kind of row, the fields that
# identify a row, the field that names it, and the fields whose change is said
SECTIONS = {
    "connector_licenses": ("connector license", ("license_id",), "connector",
                           ("email", "edition", "expires", "live", "trial", "installed", "pending", "stores",
                            "stores_installed")),
    "reconciliation": ("reconciliation", ("key",), "customer",
                       ("status", "category", "licenses", "license_edition", "license_stores", "license_expires",
                        "billed_edition", "billed_quantity", "period_start", "period_end", "amount", "currency",
                        "at_stake")),
    "ns_records": ("NetSuite record", ("account", "application_id", "name"), "name",
                   ("state", "enabled", "authentication", "owner", "installed_from", "last_used", "in_production",
                    "in_sandbox", "differs", "used_since_refresh", "connections")),
    "ns_links": ("NetSuite connection", ("account", "netsuite_account"), "netsuite_account",
                 ("listed", "integrator_records", "enabled_records", "connections")),
}
# the order a reader wants: what costs money first
KIND_ORDER = ["account", "entitlement", "usage", "endpoint", "trading partner", "flow", "license",
              *(kind for kind, *_ in SECTIONS.values()), "finding", "audit log"]


def _by(items: list[dict], *keys: str) -> dict[tuple, dict]:
    return {tuple(i[k] for k in keys): i for i in items}


def _names(acct: dict) -> tuple[dict, dict]:
    conns = {(c["environment"], c["id"]): c["name"] or c["id"] for c in acct.get("connections", [])}
    flows = {(f["environment"], f["id"]): f["name"] or f["id"] for f in acct.get("flows", [])}
    return conns, flows


def _why(ep: dict, conns: dict, flows: dict) -> str:
    env = ep["environment"]

    def listed(ids: list[str], names: dict) -> str:
        shown = ", ".join(f"{names.get((env, i), i)} ({i})" for i in ids[:10])
        return shown + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")

    return f"connections {listed(ep['connections'], conns)}; flows {listed(ep['flows'], flows)}"


def _account_changes(name: str, old: dict, new: dict, old_day: str, new_day: str) -> list[dict]:
    rows: list[dict] = []

    def add(env, kind, change, rid, rname, detail):
        rows.append({"account": name, "environment": env, "kind": kind, "change": change, "id": rid,
                     "name": rname, "detail": detail})

    old_envs, new_envs = _by(old["environments"], "environment"), _by(new["environments"], "environment")
    for (env,) in sorted(old_envs.keys() | new_envs.keys()):
        o, n = old_envs.get((env,)), new_envs.get((env,))
        if o is None or n is None:
            add(env, "usage", "environment added" if o is None else "environment removed", env, env, "")
            continue
        for metric, used in (("flows", "billable"), ("endpoints", "used"), ("trading_partners", "used"),
                             ("agents", "used")):
            if not (o.get(metric) and n.get(metric)):
                continue  # agents: not counted by the auditor that wrote one of the two
            label = metric.replace("_", " ")
            if o[metric]["entitled"] != n[metric]["entitled"]:
                add(env, "entitlement", "changed", metric, label,
                    f"{label} entitled {_show(o[metric]['entitled'])} → {_show(n[metric]['entitled'])} "
                    f"({n[metric]['entitled_from']})")
            if o[metric][used] != n[metric][used]:
                delta = n[metric][used] - o[metric][used]
                add(env, "usage", "up" if delta > 0 else "down", metric, label,
                    f"{label} {'billable' if metric == 'flows' else 'in use'} {o[metric][used]} → {n[metric][used]} "
                    f"({delta:+d}) against {_show(n[metric]['entitled'])} entitled")

    old_conns, old_flows = _names(old)
    new_conns, new_flows = _names(new)
    for kind, field in (("endpoint", "endpoints"), ("trading partner", "trading_partners")):
        o, n = _by(old[field], "environment", "key"), _by(new[field], "environment", "key")
        for key in sorted(n.keys() - o.keys()):
            add(key[0], kind, "added", key[1], n[key]["application"], _why(n[key], new_conns, new_flows))
        for key in sorted(o.keys() - n.keys()):
            add(key[0], kind, "removed", key[1], o[key]["application"], "no longer reached: was " +
                _why(o[key], old_conns, old_flows))

    o, n = _by(old["flows"], "environment", "id"), _by(new["flows"], "environment", "id")
    for key in sorted(o.keys() | n.keys()):
        before, after = o.get(key), n.get(key)
        was = bool(before and before["billable"])
        now = bool(after and after["billable"])
        if now and not was:
            add(key[0], "flow", "became billable", key[1], after["name"],
                after["reason"] + ("" if before else " (new flow)"))
        elif was and not now:
            add(key[0], "flow", "stopped being billable", key[1], before["name"],
                after["reason"] if after else "no longer in the snapshot")

    o, n = _by(old["licenses"], "id"), _by(new["licenses"], "id")
    for (lid,) in sorted(o.keys() | n.keys()):
        before, after = o.get((lid,)), n.get((lid,))
        if before is None:
            add(None, "license", "added", lid, after["type"], f"expires {after['expires'] or 'never'}")
        elif after is None:
            add(None, "license", "removed", lid, before["type"],
                f"no longer among the account's licenses ({_expiry(before['expires'], old_day)} as of {old_day})")
        else:
            was, now = before["expires"] or "9999", after["expires"] or "9999"
            if now > was:
                add(None, "license", "renewed", lid, after["type"],
                    f"expires {before['expires'] or 'never'} → {after['expires'] or 'never'}")
            elif now < was:
                add(None, "license", "expiry moved earlier", lid, after["type"],
                    f"expires {before['expires'] or 'never'} → {after['expires']}")
            if after["expires"] and old_day <= after["expires"] < new_day:
                add(None, "license", "expired", lid, after["type"], f"expired on {after['expires']}")
    return rows


def _expiry(expires: str | None, day: str) -> str:
    if expires is None:
        return "it had no expiry"
    return f"it had expired on {expires}" if expires < day else f"it was to expire on {expires}"


def _show(value) -> str:
    return "unknown" if value is None else str(value)


def _section_changes(old: dict, new: dict) -> list[dict]:
    """Rows of the partner and NetSuite sections added, removed, and changed field by field."""
    rows = []
    for section, (kind, keys, label, watched) in SECTIONS.items():
        o, n = _by(old.get(section) or [], *keys), _by(new.get(section) or [], *keys)
        for key in sorted(o.keys() | n.keys(), key=lambda k: tuple("" if v is None else str(v) for v in k)):
            before, after = o.get(key), n.get(key)
            row = after or before
            account = row.get("account") if "account" in keys else _run_account(new if after else old)
            rid = "/".join("" if v is None else str(v) for v in key)
            if before is None or after is None:
                rows.append({"account": account, "environment": row.get("environment"), "kind": kind,
                             "change": "added" if before is None else "removed", "id": rid, "name": row[label],
                             "detail": _said(row, watched)})
                continue
            moved = [f"{f} {_show(before.get(f))} → {_show(after.get(f))}" for f in watched
                     if before.get(f) != after.get(f)]
            if moved:
                rows.append({"account": account, "environment": row.get("environment"), "kind": kind,
                             "change": "changed", "id": rid, "name": row[label], "detail": "; ".join(moved)})
    return rows


def run_kind(doc: dict) -> str:
    """What a results document is of: integrator.io accounts, a partner's licenses, NetSuite records."""
    if doc.get("connector_licenses") is not None:
        return "a partner's integration app licenses"
    if doc.get("ns_records") is not None:
        return "NetSuite integration records"
    return "integrator.io accounts"


def _run_account(doc: dict) -> str:
    """The name a run of a partner's licenses goes by (its findings' and inputs' account)."""
    names = {i["account"] for i in doc.get("inputs", [])}
    return names.pop() if len(names) == 1 else "-"


def caveats(old: dict, new: dict) -> list[str]:
    """What makes comparing two results less than like with like, said before the changes:
    another policy, profile or rule pack, or NEW audited before OLD."""
    notes = []
    for field, what in (("policy", "counting policy"), ("profile", "rule profile")):
        if old.get(field) != new.get(field):
            notes.append(f"the two were made under another {what} ({old.get(field)} and {new.get(field)}): "
                         "a change may come from it, not from the account")

    def pack(doc):
        return {r["id"]: (r["severity"], r["parameters"]) for r in doc.get("rules", [])}

    o, n = pack(old), pack(new)
    if o != n and o and n:
        differ = sorted(k for k in o.keys() | n.keys() if o.get(k) != n.get(k))
        shown = ", ".join(differ[:5]) + (f" and {len(differ) - 5} more" if len(differ) > 5 else "")
        notes.append(f"the two were judged by different rules ({shown} added, removed or set otherwise): "
                     "a finding may be new or resolved because of it")
    if new["as_of"] < old["as_of"]:
        notes.append(f"NEW ({new['as_of']}) was audited before OLD ({old['as_of']}): the changes read backwards "
                     "in time")
    return notes


def _said(row: dict, fields: tuple[str, ...]) -> str:
    return "; ".join(f"{f} {_show(row.get(f))}" for f in fields if row.get(f) is not None)


def _findings(old: dict, new: dict, accounts: set[str]) -> list[dict]:
    # a partner's or NetSuite run's findings are of accounts that are no integrator.io account
    audited = {a["account"] for doc in (old, new) for a in doc["accounts"]}

    def live(doc):
        return {f["id"]: f for f in doc["findings"]
                if f["status"] != "ok" and (f["account"] in accounts or f["account"] not in audited)}

    o, n = live(old), live(new)
    rows = []

    def order(fid: str) -> tuple:
        f = n.get(fid) or o[fid]
        return (fid in o, fid in n, SEVERITIES_DOWN.index(f["severity"]), f["rule"], fid)  # new, resolved, open

    for fid in sorted(n.keys() | o.keys(), key=order):
        f = n.get(fid) or o[fid]
        change = "new" if fid not in o else ("resolved" if fid not in n else "still open")
        detail = f"{f['severity']} {f['status']}: {f['reason']}" + (" (muted)" if f["muted"] else "")
        rows.append({"account": f["account"], "environment": f["environment"], "kind": "finding", "change": change,
                     "id": fid, "name": f"{f['rule']}: {f['resource']['type']} {f['resource']['name'] or f['resource']['id']}",
                     "detail": detail})
    return rows


def diff(old: dict, new: dict, all_entries: bool = False) -> pd.DataFrame:
    """The changes from `old` to `new`, accounts matched by name, each change of a count tied to the
    audit-log entries behind it (auditor.history.attribution) where either audit read the account's
    log. `all_entries`: the entries between the two tied to no change listed too."""
    rows: list[dict] = []
    o, n = _by(old["accounts"], "account"), _by(new["accounts"], "account")
    for (name,) in sorted(o.keys() | n.keys()):
        if (name,) not in o:
            rows.append({"account": name, "environment": None, "kind": "account", "change": "added", "id": name,
                         "name": name, "detail": f"first audited {new['as_of']}"})
        elif (name,) not in n:
            rows.append({"account": name, "environment": None, "kind": "account", "change": "removed", "id": name,
                         "name": name, "detail": f"last audited {old['as_of']}"})
        else:
            changed = _account_changes(name, o[(name,)], n[(name,)], old["as_of"], new["as_of"])
            rows += changed + attribute(changed, o[(name,)], n[(name,)], window(old, new, name), all_entries)
    both = {k[0] for k in o} & {k[0] for k in n}
    rows += _section_changes(old, new)
    rows += _findings(old, new, both)
    for row in rows:
        row.setdefault("cause", None)
        row.setdefault("entries", [])
    frame = pd.DataFrame(rows, columns=COLUMNS)
    order = frame["kind"].map(KIND_ORDER.index)
    return frame.assign(_k=order).sort_values(["account", "_k"], kind="stable").drop(columns="_k").reset_index(drop=True)


# the lists of a results document with a row per account, by their path in it
ROW_LISTS = (("findings",), ("load_issues",), ("rule_counts",), ("inputs",), ("changes", "rows"),
             ("trend", "points"), ("trend", "forecast"), ("audit_log",))


def rows_at(doc: dict, path: tuple[str, ...]) -> list | None:
    """The list at `path` in a results document, or None where the document has none."""
    for key in path:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc


def with_rows(doc: dict, path: tuple[str, ...], rows: list) -> dict:
    """A copy of `doc` with the list at `path` (which it has) replaced by `rows`."""
    head, *rest = path
    return {**doc, head: with_rows(doc[head], tuple(rest), rows) if rest else rows}


def own_since(doc: dict, account: str) -> dict:
    """`doc` with its changes' `since` (account -> the audit compared with) narrowed to `account`,
    and their headline to its rows."""
    if "changes" not in doc:
        return doc
    since = {a: day for a, day in doc["changes"]["since"].items() if a == account}
    return {**doc, "changes": {**doc["changes"], "since": since, **with_headline(doc["changes"])}}


def with_headline(changes: dict) -> dict:
    """The headline of a changes section, made again from its rows (when it has one)."""
    return {"headline": headline(changes["rows"])} if "headline" in changes else {}


def subset(doc: dict, account: str) -> dict:
    """The part of a results document about one account: its block, its rows of every list
    (findings, load issues, rule counts, inputs, changes, trend), and the mutes whose account
    pattern takes it in (with the whole run's match counts: a finding does not say which mute
    muted it)."""
    out = {**doc, "accounts": [a for a in doc["accounts"] if a["account"] == account]}
    for path in ROW_LISTS:
        rows = rows_at(doc, path)
        if rows is not None:
            out = with_rows(out, path, [row for row in rows if row["account"] == account])
    out = own_since(out, account)
    if "mutes" in doc:
        out["mutes"] = [m for m in doc["mutes"] if fnmatch.fnmatchcase(account, m["account"])]
    return out


def changes_section(pairs: list[tuple[dict, dict]], all_entries: bool = False) -> dict:
    """The `changes` section of a results file from (old, new) pairs: since when, per account,
    the rows, and the headline (a line per metric whose count changed, with its causes)."""
    frames, since = [], {}
    for old, new in pairs:
        frames.append(diff(old, new, all_entries))
        since.update({a["account"]: old["as_of"] for a in old["accounts"]})
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return {"since": since, "rows": rows, "headline": headline(rows)}
