"""A results file of an earlier version made what readers expect of this one: the fields a reader
takes from the file rather than working out, filled in once, as the file is read, from what that
version wrote (so no reader has a second way to work them out)."""

from __future__ import annotations

from auditor.common.vocabulary import USAGE


def no_number(source: str | None) -> str:
    """Why an entitlement of an earlier file has no number, from the words it is entitled from:
    "not on this plan" (the plan's license gives none of it), "unlimited" (a trial), else
    "unknown". (The audit says it as it counts: auditor.count.entitlements.Entitlement.none.)"""
    text = source or ""
    if " gives no " in text:
        return "not on this plan"
    if text.endswith(": unlimited"):
        return "unlimited"
    return "unknown"


def _state(used: int, entitled: int | None, source: str, expired: str | None) -> str:
    """As auditor.count.entitlements.states says it."""
    if entitled is None:
        return no_number(source)
    if expired:
        return "expired"
    return "over" if used > entitled else "at limit" if used == entitled and used > 0 else "within"


def _share(used: int, entitled: int | None) -> float | None:
    """As auditor.results.build writes it: none used is a share of 0."""
    if used == 0:
        return 0.0
    return None if not entitled else used / entitled


def fill(data: dict) -> dict:
    """Each metric's state and share where the file does not give them (an earlier version). (`over`
    is left as such a file has it, none: the reports show it blank.)"""
    for account in data.get("accounts", []):
        for env in account["environments"]:
            for metric in USAGE:
                usage = env.get(metric)
                if usage is None or "state" in usage:
                    continue
                used = usage.get("used") if usage.get("used") is not None else usage.get("billable") or 0
                entitled = usage.get("entitled")
                usage["state"] = _state(used, entitled, usage.get("entitled_from", ""), env.get("license_expired"))
                usage["share"] = _share(used, entitled)
    return data
