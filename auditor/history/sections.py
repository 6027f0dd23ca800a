"""What the history adds to an audit's results file: the changes since each account's last
recorded audit, and the trend of the recorded months with this one."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from auditor.history import store as history
from auditor.history.diff import changes_section, subset
from auditor.history.trend import trend_section

NEAR = "-near-entitlement"


def toward_limits(results: dict) -> None:
    """Each near-limit finding (`*-near-entitlement`, in alarm) names the changes since the previous
    audit that moved its count toward the limit: the cause of its metric's usage row when the count
    went up (its id, and so its mute, stays as it was)."""
    ups = {(r["account"], r["environment"], r["id"]): r for r in results["changes"]["rows"]
           if r["kind"] == "usage" and r["change"] == "up" and r.get("cause")}
    since = results["changes"]["since"]
    for finding in results["findings"]:
        if not finding["rule"].endswith(NEAR) or finding["status"] != "alarm":
            continue
        metric = finding["rule"].removesuffix(NEAR).replace("-", "_")
        row = ups.get((finding["account"], finding["environment"], metric))
        if row is not None:
            finding["reason"] += f"; moved toward it since {since.get(finding['account'])}: {row['cause']}"


def add_sections(results: dict, store: Path) -> bool:
    """The changes since each account's previous recorded audit, and the trend with this audit,
    as sections of the results file (the reports render them from there); whether there are any."""
    if not store.exists():  # nothing recorded yet: reading creates no database (recording will)
        return False
    pairs = []
    for acct in results["accounts"]:
        before = history.previous(store, acct["account"], results["as_of"])
        if before:
            pairs.append((history.load(store, before, acct["account"]), subset(results, acct["account"])))
    if pairs:
        results["changes"] = changes_section(pairs)
        toward_limits(results)
    names = [a["account"] for a in results["accounts"]]
    past = history.series(store, names)
    if not past.empty:
        past = past[past["as_of"] != results["as_of"]]  # this audit replaces one of the same day
    now = pd.DataFrame([{"account": a["account"], "as_of": results["as_of"], "environment": e["environment"],
                         "flows_billable": e["flows"]["billable"], "flows_entitled": e["flows"]["entitled"],
                         "endpoints_used": e["endpoints"]["used"], "endpoints_entitled": e["endpoints"]["entitled"]}
                        for a in results["accounts"] for e in a["environments"]])
    section = trend_section(pd.concat([past, now], ignore_index=True) if not past.empty else now)
    if section:
        results["trend"] = section
    return bool(pairs or section)
