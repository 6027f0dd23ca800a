"""What every reader shows of a results file, worked out in one place: the unmuted alarms of each
account and environment, and which environments are over or at a limit. The terminal summary, the
reports and the metrics all take them from here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from auditor.common.vocabulary import USAGE

# metric -> the field of its usage block that its entitlement limits (billable flows, endpoints used...)
LIMITED = {metric: list(counts)[-1] for metric, counts in USAGE.items()}


def alarm_counts(findings: Iterable[Mapping]) -> dict[tuple[str, str | None], dict[str, int]]:
    """(account, environment; None for an account-wide finding) -> severity -> its unmuted alarms,
    and "muted" -> its muted ones. `findings`: records with account, environment, severity, status
    and muted (a frame's missing environment, NaN, is read as none)."""
    out: dict[tuple[str, str | None], dict[str, int]] = {}
    for f in findings:
        if f["status"] != "alarm":
            continue
        env = f["environment"] if isinstance(f["environment"], str) else None
        counts = out.setdefault((f["account"], env), {})
        key = "muted" if f["muted"] else f["severity"]
        counts[key] = counts.get(key, 0) + 1
    return out


def used(env: Mapping, metric: str) -> int | None:
    """What an environment uses of what `metric`'s entitlement limits (None: the file says nothing)."""
    return (env.get(metric) or {}).get(LIMITED[metric])


def at_or_over(env: Mapping) -> bool:
    """Whether an environment is over or at a limit it is known to have, in any metric (0 of 0 is
    within; the figure of an expired license counts, as the overview chart marks it)."""
    for metric in USAGE:
        usage = env.get(metric) or {}
        n, entitled = usage.get(LIMITED[metric]) or 0, usage.get("entitled")
        if entitled is not None and n > 0 and n >= entitled:
            return True
    return False
