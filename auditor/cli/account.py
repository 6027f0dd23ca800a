"""Commands on integrator.io accounts: audit, endpoints, flows, pull, report."""

from __future__ import annotations

from datetime import date
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
    history_option,
    mutes_option,
    prices_option,
    pull_options,
    query_options,
    report_options,
    report_outputs,
    rule_options,
    say,
    snapshot_options,
    tell,
    watch_options,
)
from auditor.cli.render import (
    SUMMARY_ROWS,
    advice_lines,
    change_lines,
    cost_lines,
    emit,
    exit_for,
    finding_records,
    match_account,
    mutes_summary,
    preview_lines,
    show_summary,
    skipped_summary,
)
from auditor.common.errors import AuditorError
from auditor.common.vocabulary import (
    REGIONS,
    SEVERITIES,
    environment_order,
    plural,
    why_reached,
)

if TYPE_CHECKING:  # the heavy modules are imported where a command needs them: `--help` stays fast
    import pandas as pd



def _pull(out: Path, region, base_url, token_env, token_file, partner, resume, concurrency, rate, retries,
          jobs=None, month=None, since=None) -> dict:
    from auditor.pull import AUDIT, USAGE, Pull, read_token
    base = (base_url or REGIONS[region]).rstrip("/")
    puller = Pull(out, base, read_token(token_env, token_file), partner=partner, resume=resume,
                  concurrency=concurrency, rate=rate, retries=retries, jobs=jobs, as_of=month, since=since)
    manifest = puller.run()
    counts = ", ".join(plural(r["records"], "audit-log entry", "audit-log entries") if name == AUDIT else
                       plural(r["records"], name.removesuffix("s"), name) if name.endswith("s") else f"{r['records']} {name}"
                       for name, r in manifest["resources"].items() if "/" not in name)
    say(f"Pulled {counts} from {base} into {out} (manifest.json lists every file with its SHA-256).")
    if "jobs" in manifest["resources"]:
        say(f"Jobs are the flow jobs created in {(month or puller.as_of_day()):%Y-%m}: audit with an --as-of "
             "in that month to count the flows run.")
    if USAGE in manifest.get("not_served", []):
        say("The API did not serve the vendor's usage figures (licenseEntitlementUsage) to this token; to "
             "compare with them, save them from the browser as usage.json in the snapshot.")
    if AUDIT in manifest.get("not_served", []):
        say("The API did not serve the audit log (GET /v1/audit) to this token: changes will be listed without "
            "their causes. An administrator's token, or the log saved as audit.json in the snapshot, gives them.")
    elif since is not None:
        say(f"The audit log was pulled from {since} on.")
    return manifest


def _filter(frame: pd.DataFrame, places: list[tuple[str, str]], account: str | None, env: str | None) -> pd.DataFrame:
    """Rows of one account and/or environment; a name the audit does not have is an error that
    lists those it has (`places`: every (account, environment) audited). The account's name may
    differ in case when only one name matches it so."""
    account = match_account(account, {a for a, _ in places}) or account
    if account is not None and account not in {a for a, _ in places}:
        names = ", ".join(sorted({a for a, _ in places}))
        raise AuditorError(f"--account {account!r}: no such account in this audit (accounts: {names})")
    if env is not None and env not in {e for a, e in places if account in (None, a)}:
        names = ", ".join(sorted({e for a, e in places if account in (None, a)}))
        raise AuditorError(f"--env {env!r}: no such environment{' in ' + account if account else ''} "
                           f"(environments: {names})")
    if frame.empty:
        return frame
    if account is not None:
        frame = frame[frame["account"] == account]
    if env is not None:
        frame = frame[frame["environment"] == env]
    return frame


@examples('auditor audit --sample --fail-on never --html report.html --xlsx report.xlsx', 'auditor audit acme-2026-11/ globex.zip --as-of 2026-11-30 -o results.json', 'auditor audit exports/ --only tag:finance --skip endpoints-split-by-uri', "auditor audit acme/ -o - | jq '.accounts[0].environments'")
@cli.command()
@snapshot_options
@click.option("-o", "--output", type=click.Path(path_type=Path, allow_dash=True), default="results.json",
              show_default=True,
              help="Where to write the results file (JSON); - writes it to standard output.")
@fail_on_option
@mutes_option(ACCOUNT_MUTES_HELP)
@prices_option
@click.option("--min-severity", type=click.Choice(SEVERITIES), default="info", show_default=True,
              envvar="AUDITOR_MIN_SEVERITY", show_envvar=True,
              help="Show (and write) only findings of this severity or higher.")
@click.option("--pull", "pull_into", type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
              help="First pull a snapshot from the API into DIR (see 'auditor pull'; $INTEGRATOR_TOKEN, "
                   "--region us), then audit it.")
@click.option("--region", type=click.Choice(sorted(REGIONS)), default="us", show_default=True,
              help="With --pull: the integrator.io region.")
@click.option("--record", is_flag=True,
              help="Record this audit in the history database (or set history.record in the config).")
@history_option
@click.option("--format", "fmt", type=click.Choice(["summary", "table", "csv", "json"]), default="summary",
              show_default=True,
              help=f"summary: every environment as a table, or past {SUMMARY_ROWS} of them those over or at a "
                   "limit and the totals; table: every environment; csv, json: every environment as data on "
                   "standard output (then everything else is said on standard error).")
@click.option("--all-rows", is_flag=True,
              help="Write every row each rule looked at as a finding, ok ones too (by default ok rows are only counted).")
@click.option("--preview-migration", "preview", is_flag=True,
              help="Audit legacy production/sandbox accounts as they would stand on the multi-environment license "
                   "(each environment's resources isolated; what both use copied into each), and say per "
                   "environment what changes against today. Not recorded in the history.")
@rule_options
@report_options
@watch_options
@click.pass_context
def audit(ctx, paths, policy, as_of, output, fail_on, mutes, min_severity, pull_into, region, record, history_path,
          fmt, all_rows, preview, rules, html, xlsx, csv_dir, templates, notify_url, notify_always, metrics):
    """Audit SNAPSHOTS: folders or .zip files of an account's exports, or folders of them.

    Prints a summary per account and environment (billable flows, endpoints and trading
    partners against what is licensed, alarms by severity) and writes the results file; with
    --html, --xlsx or --csv, the reports too (as 'auditor report' would from the results file).

    \b
    Exit codes:
      0  no unmuted alarm at or above --fail-on
      1  there is one
      2  bad usage or bad input (one line says which file and record)
      3  a rule could not be evaluated (the results are written, with status
       error), or an internal error (AUDITOR_DEBUG=1 shows the traceback)
      130  interrupted (Ctrl-C): says "interrupted"; no file is left half written
    """
    from auditor.history import store as history
    from auditor.report import write_reports
    from auditor.results import io as results_io
    from auditor.runs.account import audit_run
    if fmt in ("csv", "json") and str(output) == "-":
        raise click.UsageError("-o - and --format csv|json both want standard output: choose one")
    claim_stdout("-" if fmt in ("csv", "json") else output)  # machine-readable output alone on standard output
    config = ctx.obj  # read before anything is done: a bad configuration stops the run first
    if preview and (record or history_path is not None or metrics is not None):
        raise click.UsageError("--preview-migration shows what would be, not the account's state: it is not "
                               "recorded, nor given to a monitor (leave out --record, --history and --metrics)")
    record = (record or config.history.record) and not preview
    history_on = not preview and (record or history_path is not None or config.history.path is not None)
    store = history_path or config.history.path or history.default_path()
    if notify_url is None and config.notify.url is not None:  # the option, $AUDITOR_NOTIFY_URL, then the file
        notify_url = config.notify.url.get_secret_value()
    if preview and notify_url is not None:  # a chat is told of the account's state only
        say("Not posted to the webhook: a migration preview is not the account's state.")
        notify_url = None
    if pull_into is not None:
        _pull(pull_into, region=region, base_url=None, token_env="INTEGRATOR_TOKEN", token_file=None, partner=False,
              resume=False, concurrency=3, rate=5.0, retries=6, month=as_of)
        paths = [*paths, pull_into]
    progress = Progress()
    reports = report_outputs(html, xlsx, csv_dir, templates)
    read_back = reports.any() or metrics is not None or notify_url is not None or preview
    read_back = read_back or ctx.meta.get("prices") is not None  # the overage in money is said below
    if preview:
        from auditor.runs.preview import preview_run
        done = preview_run(paths, policy, as_of, rules=rules, profile=ctx.params["profile"], mutes=mutes,
                           all_rows=all_rows, min_severity=min_severity, read_back=read_back, progress=progress,
                           prices=ctx.meta.get("prices"))
    else:
        done = audit_run(paths, policy, as_of, rules=rules, profile=ctx.params["profile"], mutes=mutes,
                         all_rows=all_rows, min_severity=min_severity, history=store if history_on else None,
                         read_back=read_back, progress=progress, prices=ctx.meta.get("prices"))
    result, results, f, accounts = done.audit, done.results, done.findings, done.accounts
    results_io.write_bytes(done.data, output)
    caveat = done.caveat
    del done
    say(f"auditor {__version__} · policy {result.policy.name} · profile {ctx.params['profile']} · "
               f"{plural(len(rules), 'rule')} · as of {as_of}")
    if caveat:
        say(caveat)
    show_summary(accounts, finding_records(result.findings), fmt)
    if fmt not in ("csv", "json") and not ctx.meta.get("quiet"):
        for line in advice_lines(result):
            say(line)
    say(skipped_summary(result))
    if not result.mutes.empty:
        say(mutes_summary(result))
    for line in cost_lines(results):
        say(line)
    if "migration_preview" in results:
        for line in preview_lines(results["migration_preview"]):
            say(line)
    say(f"Results written to {results_io.shown(output)}")
    for line in change_lines(results):
        say(line)
    if record:
        done = history.record(store, results)
        say(f"Recorded {plural(len(done), 'account')} as of {as_of} in {store}")
    if reports.any():
        # rendered from the results file, exactly as 'auditor report' does
        for line in write_reports(results, reports, progress):
            say(line)
    tell(results, f, fail_on, metrics=metrics, notify_url=notify_url, always=notify_always or config.notify.always,
         report=reports.html or reports.xlsx or reports.csv or output)
    exit_for(f, fail_on)


def _results_source(paths: list[Path]) -> str | None:
    """The one argument of `flows` or `endpoints` when it names what 'auditor report' reads: a
    results file (a .json file; - for standard input) or a recorded date (YYYY-MM-DD, when no
    such file or folder is there); None when the arguments are snapshots to audit."""
    if len(paths) != 1:
        return None
    path, which = paths[0], str(paths[0])
    if which == "-" or (path.is_file() and path.suffix.lower() == ".json"):
        return which
    if not path.exists():
        try:
            date.fromisoformat(which)
        except ValueError:
            return None
        return which
    return None


def _rows(paths: list[Path], policy: str, as_of: date, section: str, account: str | None,
          env: str | None, history_path: Path | None) -> pd.DataFrame:
    """The endpoints or flows of an audit, of one account or environment when asked: run on
    SNAPSHOTS, or read as 'auditor report' reads them, from a results file (- for standard
    input) or the audits recorded on a date (then --policy and --as-of are those the audit was
    made with)."""
    import pandas as pd

    from auditor.cli.history import results_or_recorded
    which = _results_source(paths)
    if which is not None:
        results = results_or_recorded(click.get_current_context(), which, account, history_path)
        if not results["accounts"]:
            where = "standard input" if which == "-" else which
            raise AuditorError(f"{where}: this run audited no integrator.io account (a partner's licenses or "
                               f"NetSuite records), so it lists no {section}")
        frame = pd.DataFrame([{"account": a["account"], **row} for a in results["accounts"] for row in a[section]])
        places = [(a["account"], e["environment"]) for a in results["accounts"] for e in a["environments"]]
    else:
        if history_path is not None:  # read only with a date: said, not passed over
            raise click.UsageError("--history goes with a recorded DATE, not with SNAPSHOTS to audit")
        from auditor.runs.account import audit_snapshots
        audit = audit_snapshots(paths, policy, as_of)
        frame = getattr(audit, section)
        places = list(zip(audit.environments["account"], audit.environments["environment"]))
    frame = _filter(frame, places, account, env)
    if frame.empty:
        return frame
    order = frame["environment"].map(environment_order)  # as in the results file
    key = "key" if section == "endpoints" else "id"
    return frame.assign(_o=order).sort_values(["account", "_o", key]).drop(columns="_o")


QUERY_SOURCES = ("SNAPSHOTS are audited as 'auditor audit' does; or name one results file written by "
                 "'auditor audit' (- reads standard input), or a DATE (YYYY-MM-DD) of audits recorded in the "
                 "history (--history), as 'auditor report' reads them. --format json: one object per row, keys "
                 "in snake_case, lists as JSON arrays.")


def _as_list(value) -> list:
    return [] if value is None or (not hasattr(value, "__len__") and value != value) else list(value)


@examples('auditor endpoints --sample --account "Acme Retail" --env production', 'auditor endpoints results.json --format csv > endpoints.csv', 'auditor endpoints 2026-10-31 --account acme --format json')
@cli.command()
@snapshot_options
@query_options
@history_option
def endpoints(paths, policy, as_of, account, env, fmt, history_path):
    """List the endpoints counted in SNAPSHOTS (or in a results file, or recorded on a DATE): key,
    application, category, and the connections and flows that make each one count.

    {sources}
    """
    frame = _rows(paths, policy, as_of, "endpoints", account, env, history_path)
    if frame.empty:
        return emit(frame, fmt)
    reached = frame["reached_by"].map(_as_list) if "reached_by" in frame else [[]] * len(frame)
    conns, flow_ids = frame["connections"].map(_as_list), frame["flows"].map(_as_list)
    why = [why_reached(e, r) for e, r in zip(frame["explain"], reached)]
    base = frame[["account", "environment", "key", "application", "category", "resolved"]]
    if fmt == "json":  # the lists as arrays, and what the results file says as it says it
        return emit(base.assign(connections=conns.tolist(), enabled_flows=flow_ids.map(len).tolist(),
                                flows=flow_ids.tolist(), reached_by=list(reached), explain=frame["explain"],
                                why=why), fmt)
    emit(base.assign(connections=conns.map(", ".join), **{"enabled flows": flow_ids.map(len)}, why=why), fmt)


endpoints.help = endpoints.help.replace("{sources}", QUERY_SOURCES)


@examples('auditor flows --sample --not-billable', 'auditor flows acme/ --env sandbox --format json', 'auditor audit --sample -o - | auditor flows - --billable')
@cli.command()
@snapshot_options
@query_options
@history_option
@click.option("--billable/--not-billable", default=None, help="Only flows that count, or only those that do not.")
def flows(paths, policy, as_of, account, env, fmt, history_path, billable):
    """List the flows in SNAPSHOTS (or in a results file, or recorded on a DATE) with whether each
    counts and why (CSV and JSON carry the reason's code too).

    {sources}
    """
    frame = _rows(paths, policy, as_of, "flows", account, env, history_path)
    if frame.empty:
        return emit(frame, fmt)
    if billable is not None:
        frame = frame[frame["billable"] == billable]
    columns = ["account", "environment", "id", "name", "enabled", "billable", "reason_code", "reason"]
    if fmt == "table":  # the code is for machines; the reason says it in words
        columns.remove("reason_code")
    emit(frame[columns].rename(columns={"reason_code": "reason code"}), fmt)


flows.help = flows.help.replace("{sources}", QUERY_SOURCES)


@examples('INTEGRATOR_TOKEN=... auditor pull --out acme-2026-11', 'auditor pull --out acme-eu --region eu --token-file ~/.integrator-token --jobs --month 2026-11', 'auditor pull --out acme-2026-11 --resume')
@cli.command()
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True, metavar="DIR",
              help="The snapshot folder to create (it must not exist yet).")
@pull_options
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="DATE",
              help="Pull the audit log from this day on. Default: from the day of the account's last recorded "
                   "audit (with --account), else all the API keeps.")
@click.option("--account", metavar="NAME",
              help="The account being pulled, as the history knows it: its audit log is pulled from its last "
                   "recorded audit on.")
@history_option
@click.pass_context
def pull(ctx, out, since, account, history_path, **options):
    """Pull a snapshot from the integrator.io API into DIR: connections, flows (instance flows
    included), exports, imports, integrations, licenses, APIs, tools and syncs (with --partner,
    connectors with their licenses and install base). On the platform plan (or with --jobs) also
    the month's flow jobs, and, where the API serves them, the vendor's own usage figures
    (usage.json, which the audit compares with its counts).

    The token comes from $INTEGRATOR_TOKEN (or --token-env / --token-file), never from the
    command line; it is not logged nor written. Credential fields of connections are masked
    before anything is written. The snapshot appears only when complete, with a manifest.json;
    an interrupted pull continues with --resume.

    The audit log (GET /v1/audit, into audit/) is pulled for the period since the account's
    last recorded audit (--account) or --since DATE: the audit reads it to say who changed what
    behind each change of a count (see 'auditor diff'). Where the API does not serve it to the
    token (403, 404) that is said, and the pull goes on.

    \b
    Exit codes: 0 pulled; 2 bad usage, refused token, or gave up (the message says which);
    130 interrupted (continue with --resume).
    """
    day = since.date() if since is not None else None
    if day is None and account is not None:
        from auditor.history import store as history
        store = history_path or ctx.obj.history.path or history.default_path()
        known = {a for a, _ in history.places(store)} if store.exists() else set()
        name = match_account(account, known) or account
        last = history.previous(store, name, "9999-12-31") if name in known else None
        if last is None:
            say(f"No audit of {account!r} recorded in {store}: the whole audit log the API keeps is pulled.")
        day = date.fromisoformat(last) if last else None
    _pull(out, **options, since=day)


@cli.command()
@click.argument("results_file", metavar="RESULTS|DATE")
@click.argument("outputs", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--account", metavar="NAME",
              help="Only this account: its name, in any case when only one name matches it so.")
@history_option
@report_options
@click.pass_context
def report(ctx, results_file, outputs, account, history_path, html, xlsx, csv_dir, templates):
    """Render reports from a RESULTS file written by 'auditor audit' (- reads standard input), or
    from the audits recorded on a DATE (YYYY-MM-DD) in the history: an HTML page, an Excel
    workbook, CSV files. OUTPUTS may name .html and .xlsx files, the format taken from the name:

    \b
      auditor report results.json report.html report.xlsx --csv tables/
      auditor report 2026-10-31 --account "Acme Retail" october.html
    """
    from auditor.cli.history import results_or_recorded
    from auditor.report import write_reports
    out = report_outputs(html, xlsx, csv_dir, templates, outputs)
    if not out.any():
        raise click.UsageError("say what to write: --html FILE, --xlsx FILE, --csv DIR, or a .html / .xlsx name")
    for line in write_reports(results_or_recorded(ctx, results_file, account, history_path), out, Progress()):
        say(line)

