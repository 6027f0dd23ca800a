"""Tests of rules themselves: fixture folders of rows that must pass, alarm or skip, and the
findings they must give.

A rule's fixtures live in `tests/<rule id>/` beside its rule files:

    pass.yaml      rows of the rule's frame that must not alarm (ok, or outside the scope)
    alarm.yaml     rows that must alarm
    skip.yaml      rows that must be skipped (a required column unknown); optional
    expected.yaml  the findings all those rows give together: status, resource_id, reason,
                   and optionally account, environment, resource_name, severity
    case.yaml      optional: as_of (the audit date) and parameters (overriding the defaults)

A row names only the columns the rule needs; the others are unknown (null). `account` defaults
to "fixture", `environment` to "production", and the resource id to "<file>-<n>" (1-based).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from auditor.common.errors import AuditorError
from auditor.common.yamlfile import read_yaml
from auditor.rules.evaluate import evaluate_rule, statuses
from auditor.rules.model import FRAME_COLUMNS, FRAMES, Rule

ROW_FILES = {"pass.yaml": ("ok", None), "alarm.yaml": ("alarm",), "skip.yaml": ("skip",)}
DATE_COLUMNS = {"expires", "trial_end", "created", "license_expires", "period_start", "period_end", "last_used",
                "refreshed_on"}
FINDING_KEYS = ("status", "resource_id", "reason", "account", "environment", "resource_name", "severity")
DEFAULT_AS_OF = date(2026, 1, 1)


@dataclass
class Outcome:
    rule: str
    folder: Path | None
    rows: dict[str, int] = field(default_factory=dict)  # file -> rows
    findings: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def tested(self) -> bool:
        return self.folder is not None

    @property
    def passed(self) -> bool:
        return self.tested and not self.failures


def _read(path: Path) -> Any:
    return read_yaml(path, "the fixture")[0]


def _rows(path: Path, rule: Rule) -> list[dict]:
    rows = _read(path) or []
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise AuditorError(f"{path}: must be a list of rows (mappings of column: value)")
    allowed = FRAME_COLUMNS[rule.frame]
    _, rid, _ = FRAMES[rule.frame]
    out = []
    for n, row in enumerate(rows, 1):
        unknown = set(row) - allowed
        if unknown:
            raise AuditorError(f"{path}: row {n}: frame {rule.frame!r} has no column {sorted(unknown)[0]!r}")
        defaults = {"account": "fixture", "environment": "production"} if "environment" in allowed else {"account": "fixture"}
        defaults[rid] = f"{path.stem}-{n}"
        out.append({**defaults, **row})
    return out


def fixture_frame(rows: list[dict], rule: Rule) -> pd.DataFrame:
    """Rows as the audit would give them: every column of the frame, typed like the real one."""
    frame = pd.DataFrame(rows).reindex(columns=sorted(FRAME_COLUMNS[rule.frame])).convert_dtypes()
    for col in DATE_COLUMNS & set(frame.columns):
        frame[col] = pd.to_datetime(frame[col].astype(object))
    return frame


def _describe(finding: dict) -> str:
    shown = [k for k in FINDING_KEYS if k in finding and not pd.isna(finding[k])]
    return "{" + ", ".join(f"{k}: {finding[k]!r}" for k in shown) + "}"


def run_fixture(rule: Rule, folder: Path) -> Outcome:
    """Run one rule over its fixture folder; failures say which row or finding differs."""
    outcome = Outcome(rule.id, folder)
    case = _read(folder / "case.yaml") if (folder / "case.yaml").is_file() else {}
    if not isinstance(case, dict) or set(case) - {"as_of", "parameters"}:
        raise AuditorError(f"{folder / 'case.yaml'}: only as_of and parameters may be given")
    unknown = set(case.get("parameters") or {}) - set(rule.parameters)
    if unknown:
        raise AuditorError(f"{folder / 'case.yaml'}: rule {rule.id} has no parameter {sorted(unknown)[0]!r}")
    rule = rule.model_copy(update={"parameters": {**rule.parameters, **(case.get("parameters") or {})}})
    as_of = case.get("as_of", DEFAULT_AS_OF)
    if not isinstance(as_of, date):
        raise AuditorError(f"{folder / 'case.yaml'}: as_of must be a date (YYYY-MM-DD)")

    rows, wanted = [], []
    for name, allowed in ROW_FILES.items():
        if (folder / name).is_file():
            got = _rows(folder / name, rule)
            outcome.rows[name] = len(got)
            rows += got
            wanted += [(name, n, allowed) for n in range(1, len(got) + 1)]
    if not rows:
        outcome.failures.append("no rows: give pass.yaml and alarm.yaml")
        return outcome
    frame = fixture_frame(rows, rule)
    _, rid, _ = FRAMES[rule.frame]
    try:
        _, status = statuses(rule, frame, as_of)
        found, _ = evaluate_rule(rule, frame, as_of)
    except Exception as exc:  # noqa: BLE001 - a rule that fails is a failed test, not a crash
        outcome.failures.append(f"the rule could not be evaluated: {type(exc).__name__}: {exc}")
        return outcome
    for i, (name, n, allowed) in enumerate(wanted):
        got = status.get(i)  # None: outside the rule's scope
        if got not in allowed:
            outcome.failures.append(f"{name} row {n} ({frame.at[i, rid]}): expected "
                                    f"{' or '.join(a or 'out of scope' for a in allowed)}, got {got or 'out of scope'}")

    expected_path = folder / "expected.yaml"
    if not expected_path.is_file():
        outcome.failures.append("expected.yaml is missing (the findings the rows must give)")
        return outcome
    expected = _read(expected_path) or []
    if not isinstance(expected, list) or not all(isinstance(e, dict) for e in expected):
        raise AuditorError(f"{expected_path}: must be a list of findings")
    for n, e in enumerate(expected, 1):
        unknown = set(e) - set(FINDING_KEYS)
        if unknown or not {"status", "resource_id", "reason"} <= set(e):
            raise AuditorError(f"{expected_path}: finding {n}: give status, resource_id and reason "
                               f"(and optionally account, environment, resource_name, severity)"
                               + (f"; {sorted(unknown)[0]!r} is not one of them" if unknown else ""))
    actual = [] if found is None else found.assign(resource_id=found["resource_id"].astype(str)).to_dict("records")
    outcome.findings = len(actual)
    unmatched = list(actual)
    for e in expected:
        match = next((a for a in unmatched if all(str(a[k]) == str(v) for k, v in e.items())), None)
        if match is None:
            outcome.failures.append(f"expected finding not given: {_describe(e)}")
        else:
            unmatched.remove(match)
    for a in unmatched:
        outcome.failures.append(f"finding not expected: {_describe(a)}")
    return outcome


def run_tests(rules: list[Rule], folders: list[Path]) -> list[Outcome]:
    """Each rule against its fixture folder (`<folder>/<rule id>/`, the first found); rules
    without one come out untested. A fixture folder for no known rule is a failure."""
    by_id = {r.id: r for r in rules}
    outcomes = []
    for rule in rules:
        folder = next((f / rule.id for f in folders if (f / rule.id).is_dir()), None)
        outcomes.append(run_fixture(rule, folder) if folder else Outcome(rule.id, None))
    for f in folders:
        for orphan in sorted(p for p in f.glob("*") if p.is_dir() and p.name not in by_id):
            outcomes.append(Outcome(orphan.name, orphan, failures=[f"{orphan}: no rule has the id {orphan.name!r}"]))
    return outcomes
