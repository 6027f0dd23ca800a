"""`auditor whatif`: the audit as if flows were disabled or enabled and connections deleted or merged."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from auditor import __version__
from auditor.cli.app import cli
from auditor.cli.options import (
    ACCOUNT_MUTES_HELP,
    Progress,
    claim_stdout,
    examples,
    fail_on_option,
    mutes_option,
    prices_option,
    report_options,
    report_outputs,
    rule_options,
    say,
    snapshot_options,
)
from auditor.cli.render import (
    LABELS,
    cost_lines,
    emit,
    exit_for,
    finding_records,
    mutes_summary,
    skipped_summary,
    summary_table,
)
from auditor.common.vocabulary import SEVERITIES, USED, plural

if TYPE_CHECKING:
    import pandas as pd

# the order the before -> after line says the metrics in: what is most often over first
LINE_ORDER = ("endpoints", "flows", "trading_partners", "agents")


def before_after_lines(compared: pd.DataFrame) -> list[str]:
    """One line per account and environment: each metric's count before -> after / entitled."""
    import pandas as pd
    lines = []
    for row in compared.to_dict("records"):
        parts, changed = [], False
        for metric in LINE_ORDER:
            before, after, entitled = (row[f"{metric}_{k}"] for k in ("before", "after", "entitled"))
            changed |= before != after
            shown = "-" if pd.isna(entitled) else f"{int(entitled)}"
            parts.append(f"{LABELS[metric]} {before} -> {after} / {shown}")
        lines.append(f"{row['account']} {row['environment']}: {', '.join(parts)}{'' if changed else ' (unchanged)'}")
    return lines


def _data(compared: pd.DataFrame) -> pd.DataFrame:
    """The comparison as --format csv|json gives it: before, after and entitled per metric."""
    columns = {"account": "account", "environment": "environment"}
    for metric in USED:
        label = LABELS[metric]
        columns.update({f"{metric}_{k}": f"{label} {k}" for k in ("before", "after", "entitled")})
    return compared[list(columns)].rename(columns=columns)


@examples('auditor whatif --sample --env production --merge-connections g-stripe,g-stripe-v2 --disable-flow gf-charges',
          'auditor whatif acme/ --disable-flow f-report --html whatif.html --fail-on never',
          'auditor whatif acme/ globex/ --account "Globex Corporation" --delete-connection g-mongo --format json')
@cli.command()
@snapshot_options
@click.option("--disable-flow", "disable", multiple=True, metavar="ID", help="As if this flow were disabled. Repeatable.")
@click.option("--enable-flow", "enable", multiple=True, metavar="ID", help="As if this flow were enabled. Repeatable.")
@click.option("--delete-connection", "delete", multiple=True, metavar="ID",
              help="As if this connection were deleted: the steps that use it then reach a connection the snapshot "
                   "does not hold, counted as an endpoint of its own (as the audit counts a missing one). Repeatable.")
@click.option("--merge-connections", "merge", multiple=True, metavar="ID,ID[,ID...]",
              help="As if these connections (of one environment) were one: every export, import and other "
                   "reference of the others repointed to the first, and the others deleted. Ids are separated by "
                   "commas; a comma or backslash within an id is written \\, or \\\\. Repeatable.")
@click.option("--account", metavar="NAME",
              help="Look the ids up in this account only (its name, in any case when only one name matches it so); "
                   "needed when an id is in several accounts.")
@click.option("--env", metavar="ENV",
              help="Look the ids up in this environment only; needed when an id is in several environments.")
@click.option("-o", "--output", type=click.Path(path_type=Path, allow_dash=True), default="whatif.json",
              show_default=True,
              help="Where to write the results file (JSON, with a whatif section listing the edits); - writes it to "
                   "standard output.")
@fail_on_option
@mutes_option(ACCOUNT_MUTES_HELP)
@prices_option
@click.option("--min-severity", type=click.Choice(SEVERITIES), default="info", show_default=True,
              envvar="AUDITOR_MIN_SEVERITY", show_envvar=True,
              help="Write only findings of this severity or higher.")
@click.option("--format", "fmt", type=click.Choice(["summary", "table", "csv", "json"]), default="summary",
              show_default=True,
              help="summary: a line per environment, each count before -> after / entitled; table: those lines and "
                   "the audit's summary table after the edits; csv, json: before, after and entitled per environment "
                   "as data on standard output (then everything else is said on standard error).")
@click.option("--all-rows", is_flag=True,
              help="Write every row each rule looked at as a finding, ok ones too (by default ok rows are only counted).")
@rule_options
@report_options
@click.pass_context
def whatif(ctx, paths, policy, as_of, disable, enable, delete, merge, account, env, output, fail_on, mutes,
           min_severity, fmt, all_rows, rules, html, xlsx, csv_dir, templates):
    """Audit SNAPSHOTS as if flows were disabled or enabled and connections deleted or merged:
    the same counts, rules, results file and reports as 'auditor audit', of the account as it
    would be. Nothing in the snapshots is changed.

    Prints a line per account and environment, each count before -> after / entitled:

    \b
      Globex Corporation production: endpoints 6 -> 4 / 3, billable flows 4 -> 3 / 3, ...

    An id is looked up in every account and environment audited (with --account and --env, in
    those only); one found nowhere, or in more than one, is refused naming the ids there are or
    where it was found. The results file has a whatif section listing each edit with its account
    and environment, and the HTML report and workbook say "What if" on top: nothing here is the
    account's real state, so it is never recorded in the history. 'auditor diff results.json
    whatif.json' lists what the edits change.

    \b
    Exit codes: as 'auditor audit' (0 no unmuted alarm at or above --fail-on after the edits;
    1 there is one; 2 bad usage or input, an unknown or ambiguous id included; 3 a rule failed).
    """
    from auditor.report import write_reports
    from auditor.results import io as results_io
    from auditor.results.model import WhatIf
    from auditor.runs.whatif import Edits, edits_from, whatif_run
    if fmt in ("csv", "json") and str(output) == "-":
        raise click.UsageError("-o - and --format csv|json both want standard output: choose one")
    edits = Edits(edits_from(disable, enable, delete, merge), account=account, env=env)
    claim_stdout("-" if fmt in ("csv", "json") else output)
    progress = Progress()
    reports = report_outputs(html, xlsx, csv_dir, templates)
    done = whatif_run(paths, policy, as_of, edits, rules=rules, profile=ctx.params["profile"], mutes=mutes,
                      all_rows=all_rows, min_severity=min_severity, progress=progress, prices=ctx.meta.get("prices"),
                      read_back=reports.any() or ctx.meta.get("prices") is not None)
    after = done.after
    results_io.write_bytes(after.data, output)
    say(f"auditor {__version__} · policy {after.audit.policy.name} · profile {ctx.params['profile']} · "
        f"{plural(len(rules), 'rule')} · as of {as_of}")
    say(f"What if: {WhatIf.model_validate({'edits': done.edits}).said()}")
    if after.caveat:
        say(after.caveat)
    if fmt in ("csv", "json"):
        emit(_data(done.compared), fmt, err=False)
    elif not ctx.meta.get("quiet"):
        for line in before_after_lines(done.compared):
            say(line)
        if fmt == "table":
            emit(summary_table(after.accounts, finding_records(after.audit.findings)), "table")
    say(skipped_summary(after.audit))
    if not after.audit.mutes.empty:
        say(mutes_summary(after.audit))
    for line in cost_lines(after.results):  # with --prices: the overage in money, as if edited
        say(line)
    say(f"Results (what if) written to {results_io.shown(output)}")
    if reports.any():
        for line in write_reports(after.results, reports, progress):
            say(line)
    exit_for(after.findings, fail_on)
