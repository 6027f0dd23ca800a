"""Why each count changed: the changes between two audits tied to the audit-log entries behind them.

The entries are those of the account's audit log (the results' `audit_log`, from either audit) dated
between the two audits, both days included (an audit's snapshot is taken some time on its day).
Each change of a count is tied to the entries of the resources involved:

- a flow that became billable or stopped: the flow's entries that can change whether it counts
  (created, deleted, enabled, disabled, made free, its steps changed);
- an endpoint (or trading partner) added or removed: the entries of its connections (created,
  deleted, changed in a field that can make its key: any but a name, a description or a secret),
  of the exports and imports repointed to (or away from) them, and of the flows that reach it;
- an entitlement or a license changed: the entries of the account's licenses (of that license).

A change with no entry says so (NO_ENTRY); an entry tied to no change is left out, unless asked
(`all_entries`: a row "changed nothing counted" each). The one-line headline of each metric whose
count changed is the `cause` of its usage row (and of an entitlement row), so that it goes wherever
the rows go (a subset of one account, the history).
"""

from __future__ import annotations

import re

from auditor.common.secrets import secret_field

HEADLINE_PARTS = 10  # the changes a headline names; the rest are counted
NO_ENTRY = "no audit-log entry: changed outside the retention window, or by a process that is not logged"
# fields of a flow whose change can make it count or not (the first segment of the field's path)
FLOW_FIELDS = {"disabled", "free", "pageGenerators", "pageProcessors", "routers", "_exportId", "_importId",
               "_connectorId", "_integrationId", "sandbox", "_abstractFlowId", "overrides"}
# fields whose change never moves a count
COSMETIC = {"name", "description", "lastModified", "createdAt", "helpText"}


def _head(field: str | None) -> str:
    return re.split(r"[.\[]", field or "", maxsplit=1)[0]


def window(old: dict, new: dict, account: str) -> list[dict] | None:
    """The account's audit-log entries dated from OLD's audit day to NEW's, oldest first; None when
    neither audit read an audit log of the account (nothing is then said of causes)."""
    logged = any(a.get("audit_log") for doc in (old, new) for a in doc["accounts"] if a["account"] == account)
    if not logged:
        return None
    low, high = sorted((old["as_of"], new["as_of"]))
    seen: dict[str, dict] = {}
    for doc in (new, old):
        for e in doc.get("audit_log") or []:
            if e["account"] == account and e["day"] is not None and low <= e["day"] <= high:
                seen.setdefault(e["id"], e)
    return sorted(seen.values(), key=lambda e: (e["day"], e["time"] or "", e["id"]))


class Attributor:
    """Ties one account's changes to its entries. `names`: (kind, id) -> name, from both audits
    (a deleted resource keeps the name the older audit knew it by)."""

    def __init__(self, entries: list[dict], old_acct: dict, new_acct: dict):
        self.entries = entries
        self.used: set[str] = set()
        self.names: dict[tuple[str, str], str] = {}
        for acct in (old_acct, new_acct):
            for kind, field in (("flow", "flows"), ("connection", "connections")):
                for r in acct.get(field, []):
                    if r.get("name"):
                        self.names[(kind, r["id"])] = r["name"]
        for e in entries:
            if e["resource_name"] and e["resource_type"] and e["resource_id"]:
                self.names.setdefault((e["resource_type"], e["resource_id"]), e["resource_name"])
        self.by_resource: dict[tuple, list[dict]] = {}
        # exports and imports repointed, by the connection they were pointed to (True) or away from
        self.repoints: dict[tuple[bool, str], list[dict]] = {}
        for e in entries:
            self.by_resource.setdefault((e["resource_type"], e["resource_id"]), []).append(e)
            if e["resource_type"] in ("export", "import") and (e["field"] or "").split(".")[-1] == "_connectionId":
                for to, cid in ((True, e["new"]), (False, e["old"])):
                    if cid:
                        self.repoints.setdefault((to, cid), []).append(e)

    # --- which entries ------------------------------------------------------------------------

    def _of(self, kind: str, rid: str, env: str | None) -> list[dict]:
        return [e for e in self.by_resource.get((kind, rid), []) if env is None or e["environment"] in (None, env)]

    def flow(self, fid: str, env: str | None) -> list[dict]:
        return [e for e in self._of("flow", fid, env)
                if e["event"] in ("create", "delete") or _head(e["field"]) in FLOW_FIELDS]

    def connection(self, cid: str, env: str | None) -> list[dict]:
        return [e for e in self._of("connection", cid, env)
                if e["event"] in ("create", "delete")
                or (e["event"] == "update" and _head(e["field"]) not in COSMETIC and not secret_field(e["field"]))]

    def repointed(self, cids: set[str], env: str | None, to: bool) -> list[dict]:
        """Exports and imports repointed to one of `cids` (`to`), or away from one."""
        return [e for cid in sorted(cids) for e in self.repoints.get((to, cid), [])
                if env is None or e["environment"] in (None, env)]

    def licenses(self, lid: str | None = None) -> list[dict]:
        return [e for e in self.entries if e["resource_type"] == "license" and lid in (None, e["resource_id"])]

    # --- what is said -------------------------------------------------------------------------

    def label(self, e: dict) -> str:
        kind, rid = e["resource_type"] or "resource", e["resource_id"] or "(no id)"
        name = self.names.get((kind, rid))
        shown = f"{kind} {quote(name)}" if name else f"{kind} {rid}"
        return shown + (" (resource no longer exists)" if e["exists"] is False else "")

    def verb(self, e: dict) -> str:
        event, field = e["event"] or "changed", e["field"]
        if event == "create":
            return "created"
        if event == "delete":
            return "deleted"
        if field == "disabled" and e["new"] in ("true", "false"):
            return "disabled" if e["new"] == "true" else "enabled"
        if field and field.split(".")[-1] == "_connectionId":
            return (f"repointed from {self._connection(e['old'])} to {self._connection(e['new'])}")
        if field:
            return f"{field} changed from {e['old'] or '(none)'} to {e['new'] or '(none)'}"
        return f"{event}d" if event.endswith("e") else event  # an event of another kind, as the log words it

    def _connection(self, cid: str | None) -> str:
        if not cid:
            return "no connection"
        name = self.names.get(("connection", cid))
        return f"connection {quote(name)}" if name else f"connection {cid}"

    def by(self, e: dict) -> str:
        who = e["email"] or e["user"] or "an unknown user"
        return f"by {who} on {e['day']}" + (f", {e['source']}" if e["source"] else "")

    def said(self, e: dict) -> str:
        """One entry in full: "connection 'Shopify EU' created by jo@acme.com on 2026-11-03, UI"."""
        return f"{self.label(e)} {self.verb(e)} {self.by(e)}"

    def cause(self, entries: list[dict]) -> tuple[str, list[str]]:
        """The cause of a change from its entries (NO_ENTRY when none), and their ids."""
        entries = _unique(entries)
        self.used |= {e["id"] for e in entries}
        if not entries:
            return NO_ENTRY, []
        return "; ".join(self.said(e) for e in entries), [e["id"] for e in entries]

    def brief(self, entries: list[dict]) -> str:
        """Entries of one resource in short, for a headline: "created by jo@... on ..., UI; enabled by ..."."""
        return "; ".join(f"{self.verb(e)} {self.by(e)}" for e in _unique(entries))

    def name(self, kind: str, rid: str | None) -> str:
        return f"{kind} {quote(self.names.get((kind, rid)) or rid or '(no id)')}"


def _unique(entries: list[dict]) -> list[dict]:
    seen, out = set(), []
    for e in sorted(entries, key=lambda e: (e["day"], e["time"] or "", e["id"])):
        if e["id"] not in seen:
            seen.add(e["id"])
            out.append(e)
    return out


def quote(text: str) -> str:
    return "'" + text.replace("'", "’") + "'"


def short(key: str) -> str:
    """An endpoint key as a headline names it: a URI's host, else the key."""
    match = re.match(r"uri:[a-z][a-z0-9+.-]*://([^/:]+)", key)
    return match.group(1) if match else key


def attribute(rows: list[dict], old_acct: dict, new_acct: dict, entries: list[dict] | None,
              all_entries: bool = False) -> list[dict]:
    """Set the cause (and entries) of one account's change rows, and of its usage rows the headline
    of their metric; return the rows of entries tied to no change, when `all_entries`."""
    at = Attributor(entries or [], old_acct, new_acct)
    logged = entries is not None
    eps = {(kind, e["environment"], e["key"]): e for kind, field in (("endpoint", "endpoints"),
                                                                     ("trading partner", "trading_partners"))
           for acct in (old_acct, new_acct) for e in acct.get(field, [])}
    member: dict[tuple, list[str]] = {}  # (environment, metric) -> its members' headline parts
    tied: dict[tuple, list[str]] = {}  # (environment, metric) -> its members' entries
    for row in rows:
        env = row["environment"]
        if row["kind"] in ("endpoint", "trading partner"):
            ep = eps[(row["kind"], env, row["id"])]
            cids = set(ep["connections"])
            added = row["change"] == "added"
            conn = {c: at.connection(c, env) for c in sorted(cids)}
            steps = at.repointed(cids, env, to=added)
            flows = {f: at.flow(f, env) for f in ep["flows"]}
            if logged:
                row["cause"], row["entries"] = at.cause([e for es in (*conn.values(), steps, *flows.values())
                                                         for e in es])
            # "+shop-eu (connection created by jo@... on ..., UI), reached by flow 'Orders EU' (enabled by ...)"
            own = [f"{'connection' if len(cids) == 1 else at.name('connection', c)} {at.brief(es)}"
                   for c, es in conn.items() if es]
            own += [f"{at.name(e['resource_type'], e['resource_id'])} {at.brief([e])}" for e in steps]
            reached = [f"{at.name('flow', f)} ({at.brief(es)})" for f, es in flows.items() if es]
            text = "; ".join(own) or (NO_ENTRY if logged and not reached else "")
            said = f"{'+' if added else '-'}{short(row['id'])}" + (f" ({text})" if text else "")
            metric = "endpoints" if row["kind"] == "endpoint" else "trading_partners"
            tied.setdefault((env, metric), []).extend(row.get("entries", []))
            by = "reached by" if added else "was reached by"
            member.setdefault((env, metric), []).append(said + (f", {by} {', '.join(reached)}" if reached else ""))
        elif row["kind"] == "flow":
            es = at.flow(row["id"], env)
            if logged:
                row["cause"], row["entries"] = at.cause(es)
            sign = "+" if row["change"] == "became billable" else "-"
            text = at.brief(es) or (NO_ENTRY if logged else "")
            tied.setdefault((env, "flows"), []).extend(row.get("entries", []))
            member.setdefault((env, "flows"), []).append(
                f"{sign}{quote(row['name'] or row['id'])}" + (f" ({text})" if text else ""))
        elif row["kind"] == "license" and logged:
            row["cause"], row["entries"] = at.cause(at.licenses(row["id"]))
        elif row["kind"] == "entitlement" and logged:
            row["cause"], row["entries"] = at.cause(at.licenses())
            counts = re.search(r"entitled (\S+) → (\S+)", row["detail"])
            moved = f" {counts.group(1)} -> {counts.group(2)}" if counts else ""
            row["cause"] = f"{row['name']} entitled{moved}: {row['cause']}"
    for row in rows:
        if row["kind"] == "usage" and row["change"] in ("up", "down"):
            counts = re.search(r"(\d+) → (\d+)", row["detail"])
            if counts is None:  # (diff.py words every usage change so)
                continue
            label = row["name"] or row["id"]
            parts = sorted(member.get((row["environment"], row["id"]), []), key=lambda p: p[0] != "+")
            if len(parts) > HEADLINE_PARTS:  # a line, however many changed: the rows say each one
                parts = parts[:HEADLINE_PARTS] + [f"and {len(parts) - HEADLINE_PARTS} more (see the changes)"]
            row["cause"] = f"{label} {counts.group(1)} -> {counts.group(2)}" + (f": {', '.join(parts)}" if parts else "")
            row["entries"] = sorted(set(tied.get((row["environment"], row["id"]), [])))
    if not (logged and all_entries):
        return []
    extra = []
    for e in at.entries:
        if e["id"] not in at.used:
            extra.append({"account": old_acct.get("account") or new_acct["account"], "environment": e["environment"],
                          "kind": "audit log", "change": "changed nothing counted", "id": e["id"],
                          "name": at.label(e), "detail": at.said(e), "cause": None, "entries": [e["id"]]})
    return extra


def headline(rows: list[dict]) -> list[str]:
    """One line per metric whose count (or entitlement) changed, with its causes: the usage and
    entitlement rows' causes, each after its account and environment."""
    return [f"{r['account']}, {r['environment']}: {r['cause']}" for r in rows
            if r["kind"] in ("usage", "entitlement") and r.get("cause")]
