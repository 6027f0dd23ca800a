"""An audit's numbers for a monitor: OpenMetrics text, as Prometheus' node-exporter textfile
collector reads it (`auditor audit --metrics FILE`).

One family per metric, each with `# HELP` and `# TYPE` (gauges: an audit states where an account
stands, it counts nothing up), `# UNIT` where the name ends in one, `# EOF` last. Every sample is
labelled `account` and `environment` (alarms also `severity`; an account-wide alarm, of a license,
has the environment ""). No sample carries a timestamp (the textfile collector refuses them): the
audit's date is a metric of its own. The text is also valid Prometheus text format 0.0.4 (no info
or stateset types), so either parser reads it. Label values are escaped as both formats say:
backslash, double quote, newline.

Written whole (`auditor.common.files.atomic`): a collector reading the file meanwhile sees the old
one or the new one, never a part; the temporary file is hidden and does not end in .prom.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path

from auditor.common.errors import AuditorError
from auditor.common.files import atomic
from auditor.common.vocabulary import SEVERITIES, USAGE, environment_order
from auditor.results.summary import alarm_counts

PREFIX = "auditor_"

# the counts of an environment (a name in the results file's usage block -> the metric's name
# and what its HELP says)
_COUNTS = {
    ("flows", "total"): ("flows", "Flows in the environment, enabled or not."),
    ("flows", "enabled"): ("flows_enabled", "Enabled flows."),
    ("flows", "billable"): ("flows_billable", "Billable flows: what the flow entitlement limits."),
    ("endpoints", "used"): ("endpoints_used", "Distinct endpoints in use."),
    ("trading_partners", "used"): ("trading_partners_used", "Trading partners in use (endpoint plan)."),
    ("agents", "used"): ("agents_used", "On-premise agents in use."),
}
_SAY = {"flows": "billable flows", "endpoints": "endpoints", "trading_partners": "trading partners",
        "agents": "on-premise agents"}


def _escape(value: str) -> str:
    """A label value as OpenMetrics (and text format 0.0.4) spell it: backslash, double quote and
    newline escaped; a lone surrogate, which is no UTF-8, as U+FFFD."""
    value = value.encode("utf-8", "replace").decode("utf-8") if _has_surrogate(value) else value
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _has_surrogate(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _number(value: float | int) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


class _Family:
    def __init__(self, name: str, help_text: str, unit: str | None = None):
        self.name = PREFIX + name
        self.help = help_text
        self.unit = unit
        self.samples: list[tuple[dict[str, str], float | int]] = []

    def add(self, labels: dict[str, str], value: float | int) -> None:
        self.samples.append((labels, value))

    def lines(self) -> list[str]:
        out = [f"# TYPE {self.name} gauge"]
        if self.unit:
            out.append(f"# UNIT {self.name} {self.unit}")
        out.append(f"# HELP {self.name} {self.help}")
        for labels, value in self.samples:
            shown = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            out.append(f"{self.name}{{{shown}}} {_number(value)}" if shown else f"{self.name} {_number(value)}")
        return out


def share(used: int, entitled: int | None) -> float | None:
    """What is used of what is entitled, as the audit reckons it: 0 when nothing is used, +Inf
    when something is used of an entitlement of 0, None when the entitlement is not known."""
    if entitled is None:
        return None
    if used == 0:
        return 0.0
    return math.inf if entitled == 0 else used / entitled


def _day_seconds(day: str) -> int:
    return int(datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC).timestamp())


def render(results: dict, findings: Iterable[dict] | None = None) -> str:
    """The OpenMetrics text of a results document (the dict as written). `findings`: the findings
    to count alarms from, when the results file holds fewer (`--min-severity` leaves the lower
    ones out of it, not out of the exit code; a monitor is told what the exit code was decided
    on); by default the results' own."""
    audit = _Family("audit_info", "The audit these numbers are of: its date, tool version, policy and profile "
                    "(always 1).")
    audit.add({"as_of": results["as_of"], "tool_version": results["tool_version"], "policy": results["policy"],
               "profile": results.get("profile", "default")}, 1)
    as_of = _Family("audit_as_of_timestamp_seconds", "The audit date (as_of), as the start of that day in UTC; "
                    "a monitor can alert when it grows old.", "seconds")
    as_of.add({}, _day_seconds(results["as_of"]))
    account_info = _Family("account_info", "Each account audited: its plan and license model (always 1).")
    upper = _Family("counts_upper_bound", "1 when the account's counts are upper bounds (read from integration "
                    "downloads, or on the platform plan without the run history), else 0.")
    counts = {key: _Family(name, text) for key, (name, text) in _COUNTS.items()}
    entitled = {m: _Family(f"{m}_entitled", f"The entitlement to {_SAY[m]}; left out where none is known.")
                for m in USAGE}
    shares = {m: _Family(f"{m}_share_ratio", f"{_SAY[m].capitalize()} used of those entitled (1 is at the "
                         "limit, +Inf is some used of an entitlement of 0); left out where no entitlement is "
                         "known.", "ratio") for m in USAGE}
    expired = _Family("entitlement_expired", "1 when the license the environment's entitlements come from had "
                      "expired by the audit date (its figures are no current entitlement), else 0.")
    alarms = _Family("alarms", "Unmuted alarms by severity; an account-wide alarm (of a license) has an "
                     "empty environment label.")

    places: dict[str, list[str]] = {}
    for acct in results["accounts"]:
        name = acct["account"]
        account_info.add({"account": name, "plan": acct["plan"], "license_model": acct["license_model"]}, 1)
        upper.add({"account": name}, int(bool(acct.get("from_download")) or acct.get("flows_counted") == "enabled"))
        envs = sorted(acct["environments"], key=lambda e: environment_order(e["environment"]))
        places[name] = [e["environment"] for e in envs]
        for env in envs:
            labels = {"account": name, "environment": env["environment"]}
            for (metric, field), family in counts.items():
                usage = env.get(metric)
                if usage is not None and usage.get(field) is not None:
                    family.add(labels, usage[field])
            for metric, counted in USAGE.items():
                usage = env.get(metric)
                if usage is None or usage.get("entitled") is None:
                    continue
                entitled[metric].add(labels, usage["entitled"])
                used = usage.get(list(counted)[-1])
                if used is not None:
                    shares[metric].add(labels, share(used, usage["entitled"]))
            expired.add(labels, int(env.get("license_expired") is not None))

    tally = {(acct_name, env_name or "", sev): n  # an account-wide alarm: the environment ""
             for (acct_name, env_name), counts in alarm_counts(results["findings"] if findings is None else findings).items()
             for sev, n in counts.items() if sev != "muted"}
    for (acct_name, env_name, _sev) in tally:  # an alarm of a place the accounts do not list still counts
        listed = places.setdefault(acct_name, [])
        if env_name and env_name not in listed:
            listed.append(env_name)
    for acct_name, envs in places.items():
        for env_name in [*envs, ""]:  # every severity of every place: a series that is 0 stays, never vanishes
            for sev in SEVERITIES:
                alarms.add({"account": acct_name, "environment": env_name, "severity": sev},
                           tally.get((acct_name, env_name, sev), 0))

    families = [audit, as_of, account_info, upper, *counts.values(), *entitled.values(), *shares.values(),
                expired, alarms]
    lines = [line for family in families if family.samples for line in family.lines()]
    return "\n".join([*lines, "# EOF"]) + "\n"


def write_metrics(results: dict, path: Path, findings: Iterable[dict] | None = None) -> None:
    """The OpenMetrics text of `results` into `path`, whole or not at all."""
    data = render(results, findings).encode("utf-8")
    try:
        with atomic(path) as tmp:
            tmp.write_bytes(data)
    except OSError as exc:
        raise AuditorError(f"{path}: cannot write the metrics file ({exc.strerror})") from None
