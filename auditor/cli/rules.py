"""The rules commands: list, show, validate, test."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from auditor.cli.app import cli
from auditor.cli.options import echo, examples, rule_options
from auditor.cli.render import emit_rows
from auditor.common.errors import AuditorError
from auditor.common.paths import data_dir
from auditor.common.vocabulary import plural


@cli.group()
def rules():
    """List, show and check rules."""


@examples('auditor rules list', 'auditor rules list --profile finance --format csv')
@rules.command("list")
@rule_options
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def rules_list(rules, fmt):
    """The rules a run would evaluate: id, severity, frame, title, tags."""
    rows = [{"id": r.id, "severity": r.severity, "frame": r.frame, "title": r.title, "tags": ", ".join(r.tags)}
            for r in rules]
    emit_rows(rows, ["id", "severity", "frame", "title", "tags"], fmt)


@examples('auditor rules show license-expiring --profile finance')
@rules.command("show")
@click.argument("rule_id")
@rule_options
def rules_show(rule_id, rules):
    """Everything about one rule, with the parameters in force (after the profile)."""
    import yaml
    rule = next((r for r in rules if r.id == rule_id), None)
    if rule is None:
        raise AuditorError(f"no rule {rule_id!r} in this selection (see 'auditor rules list')")
    echo(yaml.safe_dump(rule.model_dump(exclude_defaults=False), sort_keys=False, allow_unicode=True).rstrip())


@examples('auditor rules validate', 'auditor rules validate my-rules/')
@rules.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, exists=True))
def rules_validate(paths):
    """Check rule files (or folders of them) without auditing; with no PATH, the built-in rules.
    Every problem names the file and the line; exit 2 when there is one."""
    from auditor.rules.model import load_rules
    total = len(load_rules(list(paths)))  # the built-in ones too: an id must not clash with them
    echo(f"{plural(total - len(load_rules()) if paths else total, 'rule')} valid.")


@examples('auditor rules test', 'auditor rules test my-rules/')
@rules.command("test")
@click.argument("dirs", nargs=-1, type=click.Path(path_type=Path, exists=True, file_okay=False))
def rules_test(dirs):
    """Run the rules of each DIR against their fixtures in DIR/tests/<rule id>/ (rows that
    must pass, alarm or skip, and the findings expected); with no DIR, the built-in rules.

    \b
    Exit codes:
      0  every rule passed its fixtures
      1  a rule failed, or has no fixture folder
      2  a rule or fixture file is not valid (one line says which and where)
    """
    from auditor.rules.fixtures import run_tests
    from auditor.rules.model import load_rules
    builtin = load_rules()
    if dirs:
        ids = {r.id for r in builtin}
        rules = [r for r in load_rules(list(dirs)) if r.id not in ids]
        folders = [d / "tests" for d in dirs]
    else:
        rules, folders = builtin, [data_dir("rules") / "tests"]
    outcomes = run_tests(rules, folders)
    for o in outcomes:
        if not o.tested:
            echo(f"NO TESTS  {o.rule}: add a folder {folders[0] / o.rule}/")
            continue
        rows = ", ".join(f"{n} {name.removesuffix('.yaml')}" for name, n in o.rows.items())
        echo(f"{'ok' if o.passed else 'FAIL':<9} {o.rule} ({rows or 'no'} rows, {plural(o.findings, 'finding')})")
        for failure in o.failures:
            echo(f"          {failure}")
    failed = sum(not o.passed for o in outcomes)
    echo(f"{len(outcomes) - failed} passed, {failed} failed or untested.")
    if failed:
        sys.exit(1)

