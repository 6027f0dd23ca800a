"""Rule packs: YAML rules evaluated over the audit's frames, a whole column at a time.

Each rule applies to one frame and gives every row in its scope a status: `skip` where a
column it `requires` is unknown, `alarm` where its condition (`where`, and its Python `check`
if it names one) holds, `ok` otherwise, `error` for every account when the rule itself fails.
Alarm, skip and error rows become findings with a full-sentence reason; ok rows are only
counted (listed only when asked for all rows), so the findings grow with what is wrong, not
with the size of the account.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

if TYPE_CHECKING:  # imported where used: loading rules needs no pandas
    import pandas as pd

from auditor.checks import CHECKS, forget_user_checks, import_checks, run_check
from auditor.common.vocabulary import SEVERITIES
from auditor.conditions import (
    ConditionError,
    columns_of,
    evaluate,
    render,
    template_fields,
)
from auditor.errors import AuditorError
from auditor.paths import data_dir
from auditor.yamlfile import read_yaml

Severity = Literal["info", "low", "medium", "high", "critical"]

# frame -> (resource type, id column, name column); a type starting with "@" is read from a column
FRAMES: dict[str, tuple[str, str, str]] = {
    "environments": ("environment", "environment", "environment"),
    "endpoints": ("endpoint", "key", "application"),
    "flows": ("flow", "id", "name"),
    "connections": ("connection", "id", "name"),
    "licenses": ("license", "license_id", "type"),
    "references": ("@resource_type", "resource_id", "resource_name"),
    "connector_licenses": ("connector license", "license_id", "email"),
    "reconciliation": ("reconciliation", "key", "customer"),
    "ns_records": ("integration record", "record_key", "name"),
    "ns_links": ("netsuite account", "netsuite_account", "connection_names"),
}
# which command's run a frame belongs to: `audit` (an account) or `licenses` (a partner)
FINDING_COLUMNS = ["id", "rule", "title", "severity", "status", "account", "environment",
                   "resource_type", "resource_id", "resource_name", "reason", "muted", "mute_reason"]


# The columns each frame offers to rules (a test checks that the frames have them all).
_ACCOUNT = {"account", "environment"}
FRAME_COLUMNS: dict[str, set[str]] = {
    "environments": _ACCOUNT | {"license_model", "pool", "plan"} | {
        f"{m}_{x}" for m in ("flows", "endpoints", "trading_partners")
        for x in ("entitled", "entitled_from", "over", "share")} | {
        "flows_total", "flows_enabled", "flows_billable", "endpoints_used", "trading_partners_used",
        "agents_entitled", "agents_entitled_from"},
    "endpoints": _ACCOUNT | {"key", "application", "category", "resolved", "explain", "connections", "flows",
                             "connection_count", "flow_count"},
    "flows": _ACCOUNT | {"id", "name", "enabled", "billable", "reason_code", "reason"},
    "connections": _ACCOUNT | {"id", "name", "type", "assistant", "application", "role", "key", "category",
                               "resolved", "explain", "enabled_flows", "endpoint_application",
                               "netsuite_account", "netsuite_sandbox", "uri", "uri_host", "uri_templated",
                               "uri_unreadable",
                               "salesforce_org", "salesforce_host", "ftp_host", "ftp_port", "as2_partner",
                               "db_type", "db_host", "db_port", "db_database", "db_project", "db_cluster",
                               "db_region", "mongo_hosts", "mongo_database", "aws_key", "stack_id", "agent_id",
                               "van_mailbox", "trading_partner", "tp_host", "tp_port"},
    "licenses": {"account", "license_id", "type", "tier", "connector_id", "edition", "integration_id", "expires",
                 "trial_end", "on_trial", "days_left", "days_ago"},
    "references": _ACCOUNT | {"resource_type", "resource_id", "resource_name", "missing_type", "missing_id", "via"},
    "connector_licenses": {"account", "license_id", "connector_id", "connector", "source", "email", "user_id",
                           "user_name", "account_id", "integration_id", "edition", "editions_offered",
                           "edition_offered", "created", "expires", "expires_from", "global", "trial", "installed",
                           "in_install_base", "pending", "live", "days_left", "days_ago", "age_days", "stores",
                           "store_editions", "stores_installed", "stores_short"},
    "reconciliation": {"account", "key", "customer", "matched_on", "connector_id", "connector", "licenses",
                       "license_edition", "license_stores", "license_expires", "live", "billed_edition",
                       "billed_quantity", "period_start", "period_end", "amount", "currency", "invoices", "status",
                       "category", "at_stake", "not_billed", "not_licensed", "lower_edition", "fewer_stores",
                       "billed_past_expiry", "licensed_past_period", "detail"},
    "ns_records": {"account", "record_key", "netsuite_account", "base_account", "environment", "name",
                   "application_id", "description", "state", "enabled", "authentication", "owner", "owned",
                   "installed_from", "created_in_sandbox", "note", "last_used", "in_production", "in_sandbox",
                   "common_differs", "differs", "refreshed_on", "used_since_refresh", "integrator", "connections",
                   "connections_known"},
    "ns_links": {"account", "netsuite_account", "listed", "integrator_records", "enabled_records", "connections",
                 "connection_names"},
}


def _params_of(value: Any) -> set[str]:
    """Parameter names a condition refers to ("$name")."""
    if isinstance(value, str) and value.startswith("$"):
        return {value[1:]}
    if isinstance(value, dict):
        return set().union(*(_params_of(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_params_of(v) for v in value)) if value else set()
    return set()


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    severity: Severity
    description: str
    remediation: str
    references: list[str] = []
    tags: list[str] = []
    parameters: dict[str, Any] = {}
    frame: Literal["environments", "endpoints", "flows", "connections", "licenses", "references",
                   "connector_licenses", "reconciliation", "ns_records", "ns_links"]
    scope: dict = Field(default_factory=dict)  # rows outside it get no status at all
    requires: list[str] = []
    where: dict = Field(default_factory=dict)
    check: str | None = None  # a Python check registered with @auditor.checks.check
    reason: str
    skip_reason: str | None = None
    ok_reason: str | None = None

    @model_validator(mode="after")
    def _columns_and_parameters(self):
        if not self.where and not self.check:
            raise ValueError("a rule needs a condition (where), a Python check (check), or both")
        columns = FRAME_COLUMNS[self.frame]
        if self.check:
            found = CHECKS.get(self.check)
            if found is None:
                raise ValueError(f"no Python check named {self.check!r} is registered "
                                 f"(built in: {', '.join(sorted(CHECKS))})")
            if found.frame != self.frame:
                raise ValueError(f"check {self.check!r} works on the {found.frame} frame, not {self.frame}")
            columns = columns | found.adds
        try:
            used = columns_of(self.where) | columns_of(self.scope)
        except ConditionError as exc:
            raise ValueError(str(exc)) from None
        for template in (self.reason, self.skip_reason, self.ok_reason):  # may name parameters too
            used |= set(template_fields(template or "")) - set(self.parameters)
        used |= set(self.requires)
        unknown = used - columns
        if unknown:
            raise ValueError(f"frame {self.frame!r} has no column {sorted(unknown)[0]!r}")
        missing = (_params_of(self.where) | _params_of(self.scope)) - set(self.parameters) - {"as_of"}
        if missing:
            raise ValueError(f"parameter ${sorted(missing)[0]} is not declared under parameters")
        return self


def _line(node, loc: tuple) -> int | None:
    """1-based line of the YAML node at `loc` (keys and indices), or of the deepest node found."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def _invalid(path: Path, node, loc: tuple, message: str) -> AuditorError:
    line = _line(node, loc)
    where = ".".join(str(p) for p in loc)
    return AuditorError(f"{path}" + (f":{line}" if line else "") + (f": {where}" if where else "") + f": {message}")


def load_rule_file(path: Path) -> list[Rule]:
    """The rules of one file: a single rule (its `id` equal to the file name) or a pack (`rules:`)."""
    data, node = read_yaml(path, "the rule file")
    if isinstance(data, dict) and "rules" in data and set(data) == {"rules"} and isinstance(data["rules"], list):
        entries = [(("rules", i), entry) for i, entry in enumerate(data["rules"])]
    elif isinstance(data, dict) and "id" in data:
        if data["id"] != path.stem:
            raise _invalid(path, node, ("id",), f"a rule alone in a file has the file's name as id ({path.stem!r})")
        entries = [((), data)]
    else:
        raise AuditorError(f"{path}: neither a rule (a mapping with an id) nor a pack (a mapping with rules:)")
    rules = []
    for loc, entry in entries:
        try:
            rules.append(Rule.model_validate(entry))
        except ValidationError as exc:
            err = exc.errors()[0]
            field = tuple(p for p in err["loc"] if not isinstance(p, str) or p not in ("model_validator",))
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown key"
            raise _invalid(path, node, loc + field, message) from None
    return rules


def load_rules(extra: list[Path] | tuple = ()) -> list[Rule]:
    """The built-in rules, then those of each folder (or file) in `extra`; an id defined twice is
    an error naming both places. A folder's `.py` files (Python checks) are imported first."""
    forget_user_checks()
    sources = sorted(data_dir("rules").glob("*.yaml"))
    for item in extra:
        if not item.exists():
            raise AuditorError(f"{item}: no such file or folder")
        if item.is_dir():
            for module in sorted(item.glob("*.py")):
                import_checks(module)
        sources += sorted(item.glob("*.yaml")) if item.is_dir() else [item]
    rules: list[Rule] = []
    where: dict[str, Path] = {}
    for path in sources:
        for rule in load_rule_file(path):
            if rule.id in where:
                raise AuditorError(f"{path}: rule id {rule.id!r} is already defined in {where[rule.id]}")
            where[rule.id] = path
            rules.append(rule)
    return rules


# --- profiles and selection -------------------------------------------------------------------

class Override(BaseModel):
    model_config = ConfigDict(extra="forbid")
    severity: Severity | None = None
    parameters: dict[str, Any] = {}


class Profile(BaseModel):
    """Which rules run, and their severity and parameters: like a ruleset."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str
    include: list[str] = ["*"]  # rule ids, "tag:NAME", or "*"
    exclude: list[str] = []
    overrides: dict[str, Override] = {}
    _source: tuple = PrivateAttr(default=(None, None))  # (file, YAML nodes): where a problem is

    def problem(self, loc: tuple, message: str) -> AuditorError:
        """An error naming the profile's file and the line of `loc` (built-in or not)."""
        path, node = self._source
        if path is None:
            return AuditorError(f"profile {self.name}: {message}")
        return _invalid(path, node, loc, message)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    return {str: "text", list: "a list", date: "a date"}.get(type(value), type(value).__name__)


def _same_type(default: Any, value: Any) -> bool:
    """A parameter is typed by its default: an override must be of the same kind."""
    return _type_name(default) == _type_name(value)


def _selected(rule: Rule, selectors: list[str]) -> bool:
    return any(s == "*" or s == rule.id or (s.startswith("tag:") and s[4:] in rule.tags) or s in rule.tags
               for s in selectors)


def load_profile(name_or_file: str) -> Profile:
    path = Path(name_or_file)
    if not path.is_file():
        path = data_dir("rules") / "profiles" / f"{name_or_file}.yaml"
        if not path.is_file():
            names = ", ".join(sorted(p.stem for p in (data_dir("rules") / "profiles").glob("*.yaml")))
            raise AuditorError(f"--profile: no profile file or built-in profile named {name_or_file!r} (built in: {names})")
    data, node = read_yaml(path, "the profile")
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise _invalid(path, node, tuple(err["loc"]), err["msg"]) from None
    profile._source = (path, node)
    return profile


def select_rules(rules: list[Rule], profile: Profile, only: list[str] = (), skip: list[str] = ()) -> list[Rule]:
    """The rules a run evaluates, with the profile's overrides applied. `only` / `skip`: rule ids
    or tags, after the profile."""
    known = {r.id for r in rules}
    for rid, override in profile.overrides.items():
        if rid not in known:
            raise profile.problem(("overrides", rid), f"overrides unknown rule {rid!r}")
        rule = next(r for r in rules if r.id == rid)
        unknown = set(override.parameters) - set(rule.parameters)
        if unknown:
            raise profile.problem(("overrides", rid, "parameters", sorted(unknown)[0]),
                                  f"rule {rid} has no parameter {sorted(unknown)[0]!r}")
        for name, value in override.parameters.items():
            if not _same_type(rule.parameters[name], value):
                raise profile.problem(("overrides", rid, "parameters", name),
                                      f"rule {rid} parameter {name} must be {_type_name(rule.parameters[name])} "
                                      f"like its default, not {_type_name(value)}")
    chosen = []
    for rule in rules:
        if not _selected(rule, profile.include) or _selected(rule, profile.exclude):
            continue
        if (only and not _selected(rule, list(only))) or (skip and _selected(rule, list(skip))):
            continue
        override = profile.overrides.get(rule.id)
        if override:
            rule = rule.model_copy(update={"severity": override.severity or rule.severity,
                                           "parameters": {**rule.parameters, **override.parameters}})
        chosen.append(rule)
    return chosen


def finding_id(rule: pd.Series | str, account: pd.Series, environment: pd.Series,
               rtype: pd.Series, rid: pd.Series) -> pd.Series:
    """Stable id: the same rule, account, environment and resource give the same id each month."""
    import pandas as pd
    keys = (pd.Series(rule, index=account.index).astype(str) + "\x1f" + account.astype(str) + "\x1f"
            + environment.fillna("").astype(str) + "\x1f" + rtype.astype(str) + "\x1f" + rid.astype(str))
    return keys.map(lambda k: hashlib.sha256(k.encode()).hexdigest()[:16])


OK_REASON = "the rule's condition does not hold"


def statuses(rule: Rule, frame: pd.DataFrame, as_of: date) -> tuple[pd.DataFrame, pd.Series]:
    """The rows in the rule's scope (with any columns its check adds) and the status of each."""
    import pandas as pd
    params = {**rule.parameters, "as_of": as_of}
    if rule.scope:
        frame = frame[evaluate(rule.scope, frame, params)]
    if frame.empty:
        return frame, pd.Series(dtype=object)
    if rule.check:
        frame = run_check(rule.check, frame, params)
    skip = pd.Series(False, index=frame.index)
    for col in rule.requires:
        skip |= frame[col].isna()
    alarm = ~skip & evaluate(rule.where, frame, params)
    if rule.check:
        alarm &= frame.pop("_check")
    return frame, pd.Series("ok", index=frame.index).mask(alarm, "alarm").mask(skip, "skip")


def _evaluate(rule: Rule, frame: pd.DataFrame, as_of: date,
              all_rows: bool = False) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(findings, status counts) of one rule over its frame; ok rows are findings only with `all_rows`."""
    import pandas as pd
    frame, status = statuses(rule, frame, as_of)
    if frame.empty:
        return None, None
    env = frame["environment"] if "environment" in frame else pd.Series(None, index=frame.index, dtype=object)
    counts = pd.DataFrame({"rule": rule.id, "account": frame["account"], "environment": env, "status": status})
    rows = frame if all_rows else frame[status != "ok"]
    if rows.empty:
        return None, counts
    rtype, rid, rname = FRAMES[rule.frame]
    types = rows[rtype[1:]] if rtype.startswith("@") else pd.Series(rtype, index=rows.index)
    reasons = pd.Series(None, index=rows.index, dtype=object)
    for name, template in (("alarm", rule.reason), ("skip", rule.skip_reason or rule.reason),
                           ("ok", rule.ok_reason or OK_REASON)):
        chosen = status[rows.index] == name
        if chosen.any():
            reasons[chosen] = render(template, rows[chosen].assign(**{
                k: v for k, v in rule.parameters.items() if k not in rows and k in template_fields(template)}))
    envs = env[rows.index]
    return pd.DataFrame({
        "id": finding_id(rule.id, rows["account"], envs, types, rows[rid]),
        "rule": rule.id, "title": rule.title, "severity": rule.severity, "status": status[rows.index],
        "account": rows["account"], "environment": envs, "resource_type": types,
        "resource_id": rows[rid].astype(str), "resource_name": rows[rname], "reason": reasons,
        "muted": False, "mute_reason": None,
    }), counts


def _failed(rule: Rule, frame: pd.DataFrame, exc: Exception) -> pd.DataFrame:
    """One `error` finding per account for a rule that could not be evaluated. Only our own
    ConditionError messages are shown: another exception's text could quote data."""
    import pandas as pd
    why = str(exc) if isinstance(exc, ConditionError) else type(exc).__name__
    accounts = sorted(frame["account"].dropna().unique()) if "account" in frame else []
    accounts = accounts or ["(all)"]
    acc = pd.Series(accounts)
    return pd.DataFrame({
        "id": finding_id(rule.id, acc, pd.Series([None] * len(acc)), pd.Series(["rule"] * len(acc)),
                         pd.Series([rule.id] * len(acc))),
        "rule": rule.id, "title": rule.title, "severity": rule.severity, "status": "error", "account": acc,
        "environment": None, "resource_type": "rule", "resource_id": rule.id, "resource_name": rule.title,
        "reason": f"rule {rule.id} could not be evaluated: {why}", "muted": False, "mute_reason": None,
    })


def evaluate_rules(rules: list[Rule], frames: dict[str, pd.DataFrame], as_of: date,
                   all_rows: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(findings, counts): findings for alarm, skip and error rows (and ok rows with `all_rows`);
    counts of each status per rule, account and environment. A rule that fails gives `error`
    findings; the others still run."""
    import pandas as pd
    findings, counts = [], []
    for rule in rules:
        if rule.frame not in frames:  # a rule of another kind of run (account or partner)
            continue
        try:
            found, counted = _evaluate(rule, frames[rule.frame], as_of, all_rows)
        except Exception as exc:  # noqa: BLE001 - any failure of one rule must not stop the others
            found, counted = _failed(rule, frames[rule.frame], exc), None
        if found is not None:
            findings.append(found)
        if counted is not None:
            counts.append(counted)
    found = pd.concat(findings, ignore_index=True) if findings else pd.DataFrame(columns=FINDING_COLUMNS)
    order = {s: i for i, s in enumerate(reversed(SEVERITIES))}
    rank = {"error": 0, "alarm": 1, "skip": 2, "ok": 3}
    found = found.assign(_sev=found["severity"].map(order), _st=found["status"].map(rank)).sort_values(
        ["_sev", "rule", "_st", "account", "environment", "resource_type", "resource_id"], na_position="first"
    ).drop(columns=["_sev", "_st"]).reset_index(drop=True)
    if counts:
        tally = pd.concat(counts).groupby(["rule", "account", "environment", "status"], dropna=False).size()
        tally = tally.unstack("status", fill_value=0).reindex(columns=["ok", "alarm", "skip"], fill_value=0).reset_index()
    else:
        tally = pd.DataFrame(columns=["rule", "account", "environment", "ok", "alarm", "skip"])
    return found, tally
