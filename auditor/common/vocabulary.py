"""The words every part of auditor uses, defined once."""

from __future__ import annotations

SEVERITIES = ("info", "low", "medium", "high", "critical")  # lowest first
SEVERITIES_DOWN = tuple(reversed(SEVERITIES))  # highest first, as reports list them

# which rule frames each run evaluates
ACCOUNT_FRAMES = ("environments", "endpoints", "flows", "connections", "licenses", "references")
PARTNER_FRAMES = ("connector_licenses", "reconciliation")
NETSUITE_FRAMES = ("ns_records", "ns_links")  # `ns-records`

# integrator.io API regions
REGIONS = {"us": "https://api.integrator.io/v1", "eu": "https://api.eu.integrator.io/v1"}



def download_caveat(accounts: list[str]) -> str | None:
    """The one sentence every output puts first when accounts were read from integration downloads."""
    if not accounts:
        return None
    return (f"Counted from integration downloads ({', '.join(accounts)}): these counts are upper bounds, since a "
            "download leaves out whether each flow is enabled and most connections' identity (NetSuite account, "
            "Salesforce org, hosts); pull the account from the API (auditor pull) for exact ones.")


def why_reached(explain: str, reached_by) -> str:
    """An endpoint's explanation, with what besides flows reaches it (APIs, tools, syncs)."""
    others = list(reached_by) if reached_by is not None else []
    return f"{explain}; reached also by {', '.join(others)}" if others else explain


# what names an integrator.io record in NetSuite's Manage Integrations, by default
DEFAULT_APPLICATION = r"(?i)celigo|integrator\.io"
