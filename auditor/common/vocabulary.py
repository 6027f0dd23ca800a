"""The words every part of auditor uses, defined once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Literal

SEVERITIES = ("info", "low", "medium", "high", "critical")  # lowest first
SEVERITIES_DOWN = tuple(reversed(SEVERITIES))  # highest first, as reports list them
STATUS_ORDER = {"error": 0, "alarm": 1, "skip": 2, "ok": 3}  # a finding's status, what needs doing first
Severity = Literal[SEVERITIES]  # a field of the models that holds one

# environments are listed production first, then sandbox, then the others by name
FIRST_ENVIRONMENTS = ("production", "sandbox")


def environment_order(name: str) -> tuple:
    """A sort key putting environments in the order every output lists them."""
    return (FIRST_ENVIRONMENTS.index(name) if name in FIRST_ENVIRONMENTS else len(FIRST_ENVIRONMENTS), name)


# the same order in SQL, for a column named `environment`
ENVIRONMENT_ORDER_SQL = ("CASE environment "
                         + " ".join(f"WHEN '{name}' THEN {i}" for i, name in enumerate(FIRST_ENVIRONMENTS))
                         + f" ELSE {len(FIRST_ENVIRONMENTS)} END, environment")

# What a results file says of each environment's usage, per metric in this order: its counts (the
# name in the results file -> the environments frame's column), then `entitled` and
# `entitled_from`. USED: the count a metric's entitlement limits (flows: the billable ones).
USAGE = {
    "flows": {"total": "flows_total", "enabled": "flows_enabled", "billable": "flows_billable"},
    "endpoints": {"used": "endpoints_used"},
    "trading_partners": {"used": "trading_partners_used"},
    "agents": {"used": "agents_used"},
}
USED = {metric: list(counts.values())[-1] for metric, counts in USAGE.items()}
# where an environment stands on one metric: against a number (within, at limit: as many used as
# entitled, and some; over), against the figure of a license that has expired, or with no number
# (the plan gives none of it, a trial is unlimited, or nothing says)
NO_NUMBER = ("not on this plan", "unlimited", "unknown")
STATES = ("within", "at limit", "over", "expired", *NO_NUMBER)
COUNT_COLUMNS = [column for counts in USAGE.values() for column in counts.values()]

# which rule frames each run evaluates
ACCOUNT_FRAMES = ("environments", "endpoints", "flows", "connections", "licenses", "references", "vendor")
PARTNER_FRAMES = ("connector_licenses", "reconciliation")
NETSUITE_FRAMES = ("ns_records", "ns_links")  # `ns-records`

# integrator.io API regions
REGIONS = {"us": "https://api.integrator.io/v1", "eu": "https://api.eu.integrator.io/v1"}


def month_bounds(as_of: date) -> tuple[datetime, datetime, str]:
    """The audit month, the calendar month of `as_of` in UTC: its first instant, the next month's
    first instant, and 'YYYY-MM' (the platform plan counts the flows run in it)."""
    start = datetime(as_of.year, as_of.month, 1, tzinfo=UTC)
    end = datetime(as_of.year + as_of.month // 12, as_of.month % 12 + 1, 1, tzinfo=UTC)
    return start, end, f"{as_of:%Y-%m}"


def why_reached(explain: str, reached_by) -> str:
    """An endpoint's explanation, with what besides flows reaches it (APIs, tools, syncs)."""
    others = list(reached_by) if reached_by is not None else []
    return f"{explain}; reached also by {', '.join(others)}" if others else explain


# what names an integrator.io record in NetSuite's Manage Integrations, by default
DEFAULT_APPLICATION = r"(?i)celigo|integrator\.io"


def plural(n: int, word: str, words: str | None = None) -> str:
    """A count and its noun as said: '1 account', '2 accounts', '1,000 entries' (`words`: the
    plural when it is not the word and an s). Every message that counts says it so."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def change_counts(rows: list[dict]) -> tuple[int, int]:
    """(changes, findings still open) among the rows of a `changes` section: a finding open before
    and after is listed beside the changes but is not one."""
    still = sum(r["kind"] == "finding" and r["change"] == "still open" for r in rows)
    return len(rows) - still, still
