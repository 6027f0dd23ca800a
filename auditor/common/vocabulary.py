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

# what names an integrator.io record in NetSuite's Manage Integrations, by default
DEFAULT_APPLICATION = r"(?i)celigo|integrator\.io"
