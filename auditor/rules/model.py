"""Rule packs: the rules as written (YAML files, validated with file:line errors, each rule's
columns checked against its frame's) and the profiles that select and tune them. Loading needs
no pandas; evaluation is `auditor.rules.evaluate`.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from auditor.common.conditions import ConditionError, columns_of, template_fields
from auditor.common.errors import AuditorError
from auditor.common.paths import data_dir
from auditor.common.vocabulary import COUNT_COLUMNS, USAGE, Severity
from auditor.common.yamlfile import read_yaml
from auditor.rules.checks import CHECKS, forget_user_checks, import_checks

# frame -> (resource type, id column, name column); a type starting with "@" is read from a column
FRAMES: dict[str, tuple[str, str, str]] = {
    "environments": ("environment", "environment", "environment"),
    "endpoints": ("endpoint", "key", "application"),
    "flows": ("flow", "id", "name"),
    "connections": ("connection", "id", "name"),
    "licenses": ("license", "license_id", "type"),
    "references": ("@resource_type", "resource_id", "resource_name"),
    "vendor": ("@resource_type", "resource_id", "resource_name"),
    "connector_licenses": ("connector license", "license_id", "email"),
    "reconciliation": ("reconciliation", "key", "customer"),
    "ns_records": ("integration record", "record_key", "name"),
    "ns_links": ("netsuite account", "netsuite_account", "connection_names"),
}
# frame -> the columns that tell apart its rows of one resource, where it can have several (a flow
# that names two missing steps; a connection the vendor's figures count under two metrics): they
# go into the finding's id with the resource, so that every finding of a run has an id of its own
ROW_KEYS: dict[str, tuple[str, ...]] = {"references": ("missing_type", "missing_id"), "vendor": ("metric", "kind")}
# which command's run a frame belongs to: `audit` (an account) or `licenses` (a partner)
FINDING_COLUMNS = ["id", "rule", "title", "severity", "status", "account", "environment",
                   "resource_type", "resource_id", "resource_name", "reason", "muted", "mute_reason"]


# The columns each frame offers to rules (a test checks that the frames have them all).
_ACCOUNT = {"account", "environment"}
FRAME_COLUMNS: dict[str, set[str]] = {
    "environments": _ACCOUNT | {"license_model", "pool", "plan", "license_expired"} | set(COUNT_COLUMNS) | {
        f"{m}_{x}" for m in USAGE for x in ("entitled", "entitled_from", "over", "share")},
    "endpoints": _ACCOUNT | {"key", "application", "category", "resolved", "explain", "connections", "flows",
                             "reached_by", "connection_count", "flow_count"},
    "flows": _ACCOUNT | {"id", "name", "enabled", "billable", "reason_code", "reason", "integration_app",
                         "netsuite_sandboxes"},
    "connections": _ACCOUNT | {"id", "name", "type", "assistant", "application", "role", "key", "category",
                               "resolved", "explain", "enabled_flows", "endpoint_application",
                               "netsuite_account", "netsuite_sandbox", "uri", "uri_host", "uri_templated", "uri_resolved_from",
                               "uri_unreadable",
                               "salesforce_org", "salesforce_host", "ftp_host", "ftp_port", "as2_partner",
                               "db_type", "db_host", "db_port", "db_database", "db_project", "db_cluster",
                               "db_region", "mongo_hosts", "mongo_database", "aws_key", "stack_id", "agent_id",
                               "van_mailbox", "trading_partner", "tp_host", "tp_port"},
    "licenses": {"account", "license_id", "type", "tier", "connector_id", "edition", "integration_id", "expires",
                 "trial_end", "on_trial", "days_left", "days_ago"},
    "references": _ACCOUNT | {"resource_type", "resource_id", "resource_name", "missing_type", "missing_id", "via"},
    # the vendor's usage figures (usage.json) against ours: a row per figure, and one per difference
    "vendor": _ACCOUNT | {"metric", "kind", "vendor", "ours", "differs", "resource_type", "resource_id",
                          "resource_name", "detail"},
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
    frame: Literal[tuple(FRAMES)]
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


def _check_selectors(rules: list[Rule], option: str, selectors: list[str]) -> None:
    """A selector that matches none of `rules` is a mistake (a typo would run nothing, or all):
    the error lists what it could be."""
    for sel in selectors:
        if not any(_selected(rule, [sel]) for rule in rules):
            ids = ", ".join(sorted(r.id for r in rules))
            tags = ", ".join(sorted({t for r in rules for t in r.tags}))
            raise AuditorError(f"{option} {sel!r}: no rule this command runs has that id or tag. "
                               f"Rules: {ids}. Tags: {tags}")


def select_rules(rules: list[Rule], profile: Profile, only: list[str] = (), skip: list[str] = (),
                 frames: tuple[str, ...] | None = None) -> list[Rule]:
    """The rules a run evaluates, with the profile's overrides applied. `only` / `skip`: rule ids
    or tags, after the profile; each must name a rule of `frames` (the command's frames; None: all)."""
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
    if frames is not None:
        rules = [r for r in rules if r.frame in frames]
    _check_selectors(rules, "--only", list(only))
    _check_selectors(rules, "--skip", list(skip))
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
