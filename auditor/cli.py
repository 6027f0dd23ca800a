"""Command line: thin click commands over the audit. Errors become one line and an exit code.

Exit codes: 0 no unmuted alarm at or above --fail-on; 1 there are; 2 bad usage or bad input;
3 a rule failed to evaluate, or an internal error.
"""

from __future__ import annotations

import functools
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from auditor import __version__
from auditor.common.terminal import printable
from auditor.common.vocabulary import (
    ACCOUNT_FRAMES,
    DEFAULT_APPLICATION,
    NETSUITE_FRAMES,
    PARTNER_FRAMES,
    REGIONS,
    SEVERITIES,
)
from auditor.errors import AuditorError
from auditor.paths import data_dir, netsuite_sample_dir, partner_sample_dir, sample_dir

if TYPE_CHECKING:  # the heavy modules are imported where a command needs them: `--help` stays fast
    import pandas as pd

    from auditor.audit import Audit
    from auditor.report import Outputs

# The sample's licenses are dated around this day; --sample audits as of it unless told otherwise.
SAMPLE_AS_OF = date(2026, 11, 30)


def echo(message="", **kwargs) -> None:
    """Everything printed: control characters from the data shown escaped, never acted on."""
    click.echo(printable(str(message)), **kwargs)


def _as_of(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def snapshot_options(fn):
    """Options every command that audits shares."""

    @click.argument("snapshots", nargs=-1, type=click.Path(path_type=Path))
    @click.option("--sample", is_flag=True, help="Audit the sample accounts bundled with auditor.")
    @click.option("--policy", default="default", show_default=True, metavar="NAME|FILE",
                  help="Endpoint-counting policy: a built-in name (default, community) or a YAML file.")
    @click.option("--as-of", "as_of", metavar="YYYY-MM-DD",
                  help="Audit date, for expiry checks and the results file. Default: today (UTC); "
                       f"with --sample, {SAMPLE_AS_OF}.")
    @functools.wraps(fn)
    def wrapper(snapshots, sample, policy, as_of, **kwargs):
        paths = list(snapshots)
        if sample:
            paths.append(sample_dir())
        if not paths and not kwargs.get("pull_into"):
            raise click.UsageError("name at least one snapshot folder or .zip, or use --sample")
        day = _as_of(as_of) or (SAMPLE_AS_OF if sample else datetime.now(UTC).date())
        return fn(paths=paths, policy=policy, as_of=day, **kwargs)

    return wrapper


def rule_options(fn):
    """Which rules run: a profile, the user's own rule folders, and --only / --skip."""

    @click.option("--profile", default="default", show_default=True, metavar="NAME|FILE",
                  help="Rule profile: which rules run and their severity and parameters (default, finance).")
    @click.option("--rules", "rule_dirs", multiple=True, type=click.Path(path_type=Path), metavar="DIR",
                  help="A folder (or file) of your own rules, added to the built-in ones. Repeatable.")
    @click.option("--only", multiple=True, metavar="ID|TAG", help="Run only these rules (ids or tags). Repeatable.")
    @click.option("--skip", multiple=True, metavar="ID|TAG", help="Do not run these rules (ids or tags). Repeatable.")
    @functools.wraps(fn)
    def wrapper(*args, profile, rule_dirs, only, skip, **kwargs):
        from auditor.rules import load_profile, load_rules, select_rules
        rules = select_rules(load_rules(list(rule_dirs)), load_profile(profile), list(only), list(skip))
        return fn(*args, rules=rules, **kwargs)

    return wrapper


def report_options(fn):
    """Where to write the reports (HTML, workbook, CSV folder) and whose templates to use."""
    for option in reversed((
        click.option("--html", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
                     help="Write the HTML report (one self-contained file) here."),
        click.option("--xlsx", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
                     help="Write the Excel workbook here."),
        click.option("--csv", "csv_dir", type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
                     help="Write one CSV file per table into this folder."),
        click.option("--templates", type=click.Path(path_type=Path, exists=True, file_okay=False), metavar="DIR",
                     help="Your own Jinja templates, tried before the built-in ones (extend them as builtin/NAME)."),
    )):
        fn = option(fn)
    return fn


def _outputs(html, xlsx, csv_dir, templates, extra=()) -> Outputs:
    from auditor.report import Outputs
    out = Outputs(html, xlsx, csv_dir, templates)
    for path in extra:  # the format from the file name
        suffix = path.suffix.lower()
        if suffix in (".html", ".htm"):
            out.html = path
        elif suffix == ".xlsx":
            out.xlsx = path
        else:
            raise click.BadParameter(f"{path}: name a .html or .xlsx file (or use --csv DIR for CSV files)",
                                     param_hint="OUTPUTS")
    return out


def pull_options(fn):
    """Where to pull from and with which token (never on the command line)."""
    for option in reversed((
        click.option("--region", type=click.Choice(sorted(REGIONS)), default="us", show_default=True,
                     help="integrator.io region: us (api.integrator.io) or eu (api.eu.integrator.io)."),
        click.option("--base-url", metavar="URL", help="Any other API base URL (overrides --region)."),
        click.option("--token-env", default="INTEGRATOR_TOKEN", show_default=True, metavar="NAME",
                     help="Environment variable that holds the API token."),
        click.option("--token-file", type=click.Path(path_type=Path, dir_okay=False, exists=True), metavar="FILE",
                     help="Read the API token from this file instead."),
        click.option("--partner", is_flag=True,
                     help="Also pull connectors with their licenses and install base (integration app partners)."),
        click.option("--resume", is_flag=True, help="Continue an interrupted pull into the same folder."),
        click.option("--concurrency", type=click.IntRange(1, 8), default=3, show_default=True,
                     help="Resources fetched at once."),
        click.option("--rate", type=click.FloatRange(0.1, 100), default=5.0, show_default=True,
                     help="Requests a second at most, across all resources."),
        click.option("--retries", type=click.IntRange(1, 20), default=6, show_default=True,
                     help="Attempts per page on 429, 5xx and dropped connections."),
    )):
        fn = option(fn)
    return fn


def run_options(fn):
    """What every command that audits something besides an account shares (licenses, ns-records):
    the date, the results file, the exit threshold, mutes, the rule selection and the reports."""
    for option in reversed((
        click.option("--as-of", "as_of", metavar="YYYY-MM-DD",
                     help=f"Audit date. Default: today (UTC); with --sample, {SAMPLE_AS_OF}."),
        click.option("-o", "--output", type=click.Path(path_type=Path), default="results.json", show_default=True),
        click.option("--fail-on", type=click.Choice(SEVERITIES + ("never",)), default="high", show_default=True,
                     help="Exit 1 when an unmuted alarm of this severity or higher is found."),
        click.option("--mutes", type=click.Path(path_type=Path, exists=True, dir_okay=False),
                     help="YAML file of accepted findings."),
        rule_options, report_options,
    )):
        fn = option(fn)
    return fn


def _finish_run(results: dict, output: Path, fail_on: str, reports: Outputs) -> None:
    """Say what was not read, write the results and the reports, and exit by the findings."""
    from auditor import results as results_io
    from auditor.report import write_reports
    skipped = sum(i["action"] != "counted" for i in results["load_issues"])
    notes = len(results["load_issues"]) - skipped
    line = f"{skipped} rows or records not read (see load_issues)." if skipped else "Every row and record was read."
    echo(line + (f" {notes} read with a note (see load_issues)." if notes else ""))
    results_io.write(results, output)
    echo(f"Results written to {output}")
    if reports.any():
        for line in write_reports(results, reports):
            echo(line)
    _exit_for(results["findings"], fail_on)


def _pull(out: Path, region, base_url, token_env, token_file, partner, resume, concurrency, rate, retries) -> dict:
    from auditor.pull import Pull, read_token
    base = (base_url or REGIONS[region]).rstrip("/")
    puller = Pull(out, base, read_token(token_env, token_file), partner=partner, resume=resume,
                  concurrency=concurrency, rate=rate, retries=retries)
    manifest = puller.run()
    counts = ", ".join(f"{r['records']} {name}" for name, r in manifest["resources"].items() if "/" not in name)
    echo(f"Pulled {counts} from {base} into {out} (manifest.json lists every file with its SHA-256).")
    return manifest


def _audit(paths: list[Path], policy: str, as_of: date, mutes: Path | None = None, rules=None,
           all_rows: bool = False) -> Audit:
    from auditor.audit import run
    from auditor.policy import load_policy
    from auditor.rules import load_rules
    return run(paths, load_policy(policy), load_rules() if rules is None else rules, as_of, mutes, all_rows)


def _filter(frame: pd.DataFrame, account: str | None, env: str | None) -> pd.DataFrame:
    if frame.empty:
        return frame
    if account is not None:
        frame = frame[frame["account"] == account]
    if env is not None:
        frame = frame[frame["environment"] == env]
    return frame


def _emit(frame: pd.DataFrame, fmt: str) -> None:
    from auditor.safe import csv_safe
    if fmt == "csv":
        # CRLF as RFC 4180 says; it also makes the writer quote a field holding a lone \r
        echo(csv_safe(frame).to_csv(index=False, lineterminator="\r\n"), nl=False)
    elif fmt == "json":
        echo(frame.to_json(orient="records", indent=2, force_ascii=False))
    elif frame.empty:
        echo("(none)")
    else:
        echo(frame.to_string(index=False, na_rep="-", max_colwidth=80))


def _fraction(used, entitled) -> str:
    import pandas as pd
    return f"{used} / {'-' if pd.isna(entitled) else int(entitled)}"


def summary_table(audit: Audit) -> pd.DataFrame:
    import pandas as pd
    env = audit.environments
    table = pd.DataFrame({
        "account": env["account"], "environment": env["environment"], "plan": env["plan"],
        "billable flows": [_fraction(u, e) for u, e in zip(env["flows_billable"], env["flows_entitled"])],
        "endpoints": [_fraction(u, e) for u, e in zip(env["endpoints_used"], env["endpoints_entitled"])],
        "trading partners": [_fraction(u, e) for u, e in zip(env["trading_partners_used"], env["trading_partners_entitled"])],
    })
    alarms = audit.findings[(audit.findings["status"] == "alarm") & ~audit.findings["muted"].astype(bool)]
    # one grouping, aligned on the table's rows (no lookups row by row: partners have thousands)
    rows = pd.MultiIndex.from_arrays([env["account"], env["environment"]])
    per = (alarms.groupby(["account", "environment", "severity"]).size().unstack("severity")
           if not alarms.empty else pd.DataFrame())
    per = per.reindex(index=rows, columns=list(SEVERITIES)).fillna(0).astype(int)
    for sev in reversed(SEVERITIES):
        table[sev] = per[sev].to_numpy()
    acct = alarms[alarms["environment"].isna()].groupby("account").size()
    first = env.groupby("account").cumcount().to_numpy() == 0
    table["account-wide"] = acct.reindex(env["account"]).fillna(0).astype(int).to_numpy() * first
    return table


def _skipped_summary(audit: Audit) -> str:
    issues = audit.load_issues
    skipped = issues[issues["action"] == "skipped"]
    unread = issues[issues["action"] == "not read"]
    files = f" {len(unread)} files or folders in the snapshots were not read (see load_issues)." if len(unread) else ""
    if skipped.empty:
        return f"All records read were counted ({len(issues)} load notes).{files}"
    # group by kind of problem: "... as record 3 of x.json", ", not a string" say which one exactly
    kinds = skipped["problem"].str.replace(r" as record \d+ of .*$|, not .*$", "", regex=True).value_counts()
    why = "; ".join(f"{n} {p}" for p, n in kinds.items())
    return f"{len(skipped)} records skipped: {why}. See load_issues in the results file.{files}"


class AuditorGroup(click.Group):
    """Turns what goes wrong into one line on stderr and an exit code, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except AuditorError as exc:
            error = click.ClickException(printable(str(exc), newlines=False))
            error.exit_code = exc.exit_code
            raise error from None
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except BrokenPipeError:  # the reader went away (`| head`): nothing more to say
            sys.stderr.close()
            sys.exit(0)
        except Exception as exc:  # a bug: its message may quote input, so it is not shown
            if os.environ.get("AUDITOR_DEBUG"):
                raise
            error = click.ClickException(
                f"internal error ({type(exc).__name__}); rerun with AUDITOR_DEBUG=1 to see where")
            error.exit_code = 3
            raise error from None


def _mutes_summary(audit: Audit) -> str:
    m = audit.mutes
    line = f"{int(audit.findings['muted'].sum())} findings muted by {int((m['status'] == 'active').sum())} mutes."
    for status in ("expired", "unused"):
        gone = m[m["status"] == status]
        if not gone.empty:
            line += f" {len(gone)} {status}: {', '.join(gone['mute'])}."
    return line


@click.group(cls=AuditorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="auditor")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False, exists=True), metavar="FILE",
              help="Configuration file (default: $AUDITOR_CONFIG, else ./auditor.yaml when present).")
@click.pass_context
def cli(ctx, config_file):
    """Where an integrator.io account stands against its licenses: billable flows and
    distinct endpoints per environment, every count explained."""
    ctx.obj = _Config(config_file)


class _Config:
    """The configuration, read when a command first asks for it (never for `--help`)."""

    def __init__(self, path: Path | None):
        self.path = path
        self.loaded = None

    def __getattr__(self, name):
        if self.loaded is None:
            from auditor.config import load_config

            self.loaded = load_config(self.path)
        return getattr(self.loaded, name)


@cli.command()
@snapshot_options
@click.option("-o", "--output", type=click.Path(path_type=Path), default="results.json", show_default=True,
              help="Where to write the results file (JSON).")
@click.option("--fail-on", type=click.Choice(SEVERITIES + ("never",)), default="high", show_default=True,
              help="Exit 1 when an unmuted alarm of this severity or higher is found; never: only 0, 2 or 3.")
@click.option("--mutes", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="YAML file of accepted findings (a mutes.yaml beside a snapshot is read too).")
@click.option("--min-severity", type=click.Choice(SEVERITIES), default="info", show_default=True,
              help="Show (and write) only findings of this severity or higher.")
@click.option("--pull", "pull_into", type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
              help="First pull a snapshot from the API into DIR (see 'auditor pull'; $INTEGRATOR_TOKEN, "
                   "--region us), then audit it.")
@click.option("--region", type=click.Choice(sorted(REGIONS)), default="us", show_default=True,
              help="With --pull: the integrator.io region.")
@click.option("--record", is_flag=True,
              help="Record this audit in the history database (or set history.record in the config).")
@click.option("--history", "history_path", type=click.Path(path_type=Path, dir_okay=False), metavar="PATH",
              help="The history database (SQLite). Default: history.path in the config, else "
                   "history.sqlite in the user data folder. With history on, the results and reports "
                   "show the changes since each account's last recorded audit, and the trend.")
@click.option("--all-rows", is_flag=True,
              help="Write every row each rule looked at as a finding, ok ones too (by default ok rows are only counted).")
@rule_options
@report_options
@click.pass_context
def audit(ctx, paths, policy, as_of, output, fail_on, mutes, min_severity, pull_into, region, record, history_path,
          all_rows, rules, html, xlsx, csv_dir, templates):
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
    """
    from auditor import history
    from auditor import results as results_io
    from auditor.report import write_reports
    config = ctx.obj  # read before anything is done: a bad configuration stops the run first
    record = record or config.history.record
    history_on = record or history_path is not None or config.history.path is not None
    store = history_path or config.history.path or history.default_path()
    rules = [r for r in rules if r.frame in ACCOUNT_FRAMES]  # partner rules run in 'auditor licenses'
    if pull_into is not None:
        _pull(pull_into, region=region, base_url=None, token_env="INTEGRATOR_TOKEN", token_file=None, partner=False,
              resume=False, concurrency=3, rate=5.0, retries=6)
        paths = [*paths, pull_into]
    result = _audit(paths, policy, as_of, mutes, rules, all_rows)
    result.profile = ctx.params["profile"]
    f = result.findings  # the exit code is decided on every finding, before --min-severity
    result.findings = f[f["severity"].map(SEVERITIES.index).ge(SEVERITIES.index(min_severity))].reset_index(drop=True)
    results_io.write(results_io.build(result), output)
    reports = _outputs(html, xlsx, csv_dir, templates)
    # history and reports work on the file as written (the audit's big lists arrive pre-serialised)
    results = results_io.load_json(output, validate=False) if history_on or reports.any() else {}
    if history_on and _add_history(results, store):
        results_io.write(results, output)
    echo(f"auditor {__version__} · policy {result.policy.name} · profile {ctx.params['profile']} · "
               f"{len(rules)} rules · as of {as_of}")
    echo(summary_table(result).to_string(index=False))
    echo(_skipped_summary(result))
    if not result.mutes.empty:
        echo(_mutes_summary(result))
    echo(f"Results written to {output}")
    if "changes" in results:
        since = ", ".join(sorted(set(results["changes"]["since"].values())))
        echo(f"{len(results['changes']['rows'])} changes since the last recorded audit ({since}).")
    if record:
        done = history.record(store, results)
        echo(f"Recorded {len(done)} accounts as of {as_of} in {store}")
    if reports.any():
        # rendered from the results file, exactly as 'auditor report' does
        for line in write_reports(results, reports):
            echo(line)
    _exit_for(f, fail_on)


def _add_history(results: dict, store: Path) -> bool:
    """The changes since each account's previous recorded audit, and the trend with this audit,
    as sections of the results file (the reports render them from there)."""
    import pandas as pd

    from auditor import history
    from auditor.diff import changes_section, subset
    from auditor.trend import trend_section
    pairs = []
    for acct in results["accounts"]:
        before = history.previous(store, acct["account"], results["as_of"])
        if before:
            pairs.append((history.load(store, before, acct["account"]), subset(results, acct["account"])))
    if pairs:
        results["changes"] = changes_section(pairs)
    names = [a["account"] for a in results["accounts"]]
    past = history.series(store, names)
    if not past.empty:
        past = past[past["as_of"] != results["as_of"]]  # this audit replaces one of the same day
    now = pd.DataFrame([{"account": a["account"], "as_of": results["as_of"], "environment": e["environment"],
                         "flows_billable": e["flows"]["billable"], "flows_entitled": e["flows"]["entitled"],
                         "endpoints_used": e["endpoints"]["used"], "endpoints_entitled": e["endpoints"]["entitled"]}
                        for a in results["accounts"] for e in a["environments"]])
    section = trend_section(pd.concat([past, now], ignore_index=True) if not past.empty else now)
    if section:
        results["trend"] = section
    return bool(pairs or section)


def _query_options(fn):
    for option in (
        click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True),
        click.option("--env", help="Only this environment."),
        click.option("--account", help="Only this account (its name)."),
    ):
        fn = option(fn)
    return fn


def _rows(paths: list[Path], policy: str, as_of: date, section: str) -> pd.DataFrame:
    """The endpoints or flows of an audit: run on SNAPSHOTS, or read from one results file
    (then --policy and --as-of are those the file was made with)."""
    import pandas as pd

    from auditor import results as results_io
    if len(paths) == 1 and paths[0].is_file() and paths[0].suffix.lower() == ".json":
        results = results_io.load_json(paths[0])
        frame = pd.DataFrame([{"account": a["account"], **row} for a in results["accounts"] for row in a[section]])
    else:
        frame = getattr(_audit(paths, policy, as_of), section)
    if frame.empty:
        return frame
    # production first, then sandbox, then the other environments by name; as in the results file
    order = frame["environment"].map({"production": "0", "sandbox": "1"}).fillna("2") + frame["environment"]
    key = "key" if section == "endpoints" else "id"
    return frame.assign(_o=order).sort_values(["account", "_o", key]).drop(columns="_o")


@cli.command()
@snapshot_options
@_query_options
def endpoints(paths, policy, as_of, account, env, fmt):
    """List the endpoints counted in SNAPSHOTS (or in a results file): key, application,
    category, and the connections and flows that make each one count."""
    frame = _filter(_rows(paths, policy, as_of, "endpoints"), account, env)
    if frame.empty:
        return _emit(frame, fmt)
    frame = frame.assign(connections=frame["connections"].map(", ".join), flows=frame["flows"].map(len))
    cols = {"account": "account", "environment": "environment", "key": "key", "application": "application",
            "category": "category", "resolved": "resolved", "connections": "connections",
            "flows": "enabled flows", "explain": "why"}
    _emit(frame[list(cols)].rename(columns=cols), fmt)


@cli.command()
@snapshot_options
@_query_options
@click.option("--billable/--not-billable", default=None, help="Only flows that count, or only those that do not.")
def flows(paths, policy, as_of, account, env, fmt, billable):
    """List the flows in SNAPSHOTS (or in a results file) with whether each counts and why."""
    frame = _filter(_rows(paths, policy, as_of, "flows"), account, env)
    if frame.empty:
        return _emit(frame, fmt)
    if billable is not None:
        frame = frame[frame["billable"] == billable]
    _emit(frame[["account", "environment", "id", "name", "enabled", "billable", "reason"]], fmt)


@cli.command()
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True, metavar="DIR",
              help="The snapshot folder to create (it must not exist yet).")
@pull_options
def pull(out, **options):
    """Pull a snapshot from the integrator.io API into DIR: connections, flows, exports, imports,
    integrations and licenses (with --partner, connectors with their licenses and install base).

    The token comes from $INTEGRATOR_TOKEN (or --token-env / --token-file), never from the
    command line; it is not logged nor written. Credential fields of connections are masked
    before anything is written. The snapshot appears only when complete, with a manifest.json;
    an interrupted pull continues with --resume.

    \b
    Exit codes: 0 pulled; 2 bad usage, refused token, or gave up (the message says which).
    """
    _pull(out, **options)


@cli.command()
@click.argument("partner_snapshot", required=False, type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--sample", is_flag=True, help="The bundled sample partner, with its billing export, map and license list.")
@click.option("--billing", type=click.Path(path_type=Path, dir_okay=False, exists=True), metavar="FILE",
              help="Billing export (CSV or XLSX) to reconcile the licenses against.")
@click.option("--billing-map", type=click.Path(path_type=Path, dir_okay=False, exists=True), metavar="FILE",
              help="YAML mapping of the billing file's headers (default: the field names themselves).")
@click.option("--license-list", type=click.Path(path_type=Path, dir_okay=False, exists=True), metavar="FILE",
              help="Licenses kept by hand (CSV or XLSX), added to those of the snapshot.")
@click.option("--license-map", type=click.Path(path_type=Path, dir_okay=False, exists=True), metavar="FILE",
              help="YAML mapping of the license list's headers.")
@run_options
@click.pass_context
def licenses(ctx, partner_snapshot, sample, billing, billing_map, license_list, license_map, as_of, output, fail_on,
             mutes, rules, html, xlsx, csv_dir, templates):
    """Audit a partner's integration app licenses (a snapshot from 'auditor pull --partner':
    connectors.json and connectors/<id>/licenses.json, installBase.json), and with --billing
    reconcile them against a billing export: one row per customer and connector.

    Writes the results file (sections connector_licenses and reconciliation, findings as usual)
    and, with --html / --xlsx / --csv, the reports. Exit codes as for 'auditor audit'.
    """
    import pandas as pd

    from auditor.partner import audit_partner
    rules = [r for r in rules if r.frame in PARTNER_FRAMES]
    if sample:
        root = partner_sample_dir()
        partner_snapshot = root
        billing, billing_map = billing or root / "billing.csv", billing_map or root / "billing-map.yaml"
        license_list = license_list or root / "license-list.csv"
    if partner_snapshot is None:
        raise click.UsageError("name a partner snapshot folder, or use --sample")
    day = _as_of(as_of) or (SAMPLE_AS_OF if sample else datetime.now(UTC).date())
    results = audit_partner(partner_snapshot, day, rules, billing=billing, billing_map=billing_map,
                            license_list=license_list, license_map=license_map, mutes_file=mutes)
    results["profile"] = ctx.params["profile"]
    lic = pd.DataFrame(results["connector_licenses"])
    echo(f"auditor {__version__} · partner {partner_snapshot.resolve().name} · {len(rules)} rules · as of {day}")
    if not lic.empty:
        state = lic.assign(state=lic["live"].map({True: "live", False: "expired"}))
        echo(state.groupby(["connector", "state"]).size().unstack(fill_value=0).to_string())
    if results["reconciliation"] is not None:
        recon = pd.DataFrame(results["reconciliation"])
        echo(_reconciliation_totals(recon).to_string(index=False))
    _finish_run(results, output, fail_on, _outputs(html, xlsx, csv_dir, templates))


@cli.command("ns-records")
@click.argument("sandbox_list", required=False, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.argument("production_list", required=False, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--sample", is_flag=True, help="The bundled sample lists, checked against the sample accounts.")
@click.option("--map", "mapping", type=click.Path(path_type=Path, dir_okay=False, exists=True), metavar="FILE",
              help="YAML mapping of the lists' headers (default: the field names themselves).")
@click.option("--snapshot", type=click.Path(path_type=Path, exists=True), metavar="DIR",
              help="A snapshot (or folder of them) whose NetSuite connections to check against the records.")
@click.option("--refreshed-on", metavar="YYYY-MM-DD",
              help="When the sandboxes were last refreshed (default: the production list's export date "
                   "when the sandbox list was exported later).")
@click.option("--application", default=DEFAULT_APPLICATION, show_default=True, metavar="REGEX",
              help="What names an integrator.io record (matched against name and application id).")
@run_options
@click.pass_context
def ns_records(ctx, sandbox_list, production_list, sample, mapping, snapshot, refreshed_on, application, as_of,
               output, fail_on, mutes, rules, html, xlsx, csv_dir, templates):
    """Compare the NetSuite integration records of sandbox and production accounts
    (SANDBOX_LIST and PRODUCTION_LIST: CSV, XLSX or JSON exports of Manage Integrations; a JSON
    list may be {"exported": DATE, "records": [...]}), and with --snapshot check the NetSuite
    connections of integrator.io against them.

    Writes the results file (sections ns_records and ns_links, findings as usual) and, with
    --html / --xlsx / --csv, the reports. Exit codes as for 'auditor audit'.
    """
    import pandas as pd

    from auditor.nsrecords import audit_netsuite
    rules = [r for r in rules if r.frame in NETSUITE_FRAMES]
    if sample:
        root = netsuite_sample_dir()
        sandbox_list, production_list = root / "sandbox.json", root / "production.json"
        mapping, snapshot = mapping or root / "map.yaml", snapshot or sample_dir()
    if sandbox_list is None or production_list is None:
        raise click.UsageError("name the sandbox list and the production list, or use --sample")
    day = _as_of(as_of) or (SAMPLE_AS_OF if sample else datetime.now(UTC).date())
    results = audit_netsuite(sandbox_list, production_list, day, rules, mapping=mapping, snapshot=snapshot,
                             refreshed_on=_as_of(refreshed_on), application=application, mutes_file=mutes)
    results["profile"] = ctx.params["profile"]
    recs = pd.DataFrame(results["ns_records"])
    echo(f"auditor {__version__} · NetSuite integration records · {len(rules)} rules · as of {day}"
               + (f" · sandboxes refreshed on {results['ns_refreshed_on']}" if results["ns_refreshed_on"] else ""))
    if not recs.empty:
        echo(recs.groupby(["account", "environment"]).agg(records=("name", "size"), enabled=("enabled", "sum"))
                   .reset_index().to_string(index=False))
    _finish_run(results, output, fail_on, _outputs(html, xlsx, csv_dir, templates))


def _reconciliation_totals(recon: pd.DataFrame) -> pd.DataFrame:
    """Rows, billed amount and amount at stake by category, status and currency."""
    import pandas as pd
    if recon.empty:
        return pd.DataFrame(columns=["category", "status", "currency", "rows", "billed", "at stake"])
    frame = recon.assign(currency=recon["currency"].fillna("-"))
    totals = frame.groupby(["category", "status", "currency"], dropna=False).agg(
        rows=("key", "size"), billed=("amount", "sum"), at_stake=("at_stake", "sum")).reset_index()
    return totals.rename(columns={"at_stake": "at stake"})


def _exit_for(findings: pd.DataFrame | list[dict], fail_on: str) -> None:
    """Exit 3 if a rule failed, 1 if an unmuted alarm is at or above fail_on (never: not for alarms)."""
    import pandas as pd
    f = pd.DataFrame(findings, columns=["status", "muted", "severity"]) if isinstance(findings, list) else findings
    errors = int((f["status"] == "error").sum())
    if errors:
        echo(f"{errors} rule evaluations failed (status error in the results).", err=True)
        sys.exit(3)
    if fail_on == "never":
        return
    failing = int(((f["status"] == "alarm") & ~f["muted"].astype(bool)
                   & f["severity"].map(SEVERITIES.index).ge(SEVERITIES.index(fail_on))).sum())
    if failing:
        echo(f"{failing} unmuted alarms at or above {fail_on}.", err=True)
        sys.exit(1)


@cli.command()
@click.argument("results_file", metavar="RESULTS", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("outputs", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@report_options
def report(results_file, outputs, html, xlsx, csv_dir, templates):
    """Render reports from a RESULTS file written by 'auditor audit': an HTML page, an Excel
    workbook, CSV files. OUTPUTS may name .html and .xlsx files, the format taken from the name:

    \b
      auditor report results.json report.html report.xlsx --csv tables/
    """
    from auditor import results as results_io
    from auditor.report import write_reports
    out = _outputs(html, xlsx, csv_dir, templates, outputs)
    if not out.any():
        raise click.UsageError("say what to write: --html FILE, --xlsx FILE, --csv DIR, or a .html / .xlsx name")
    for line in write_reports(results_io.load_json(results_file), out):
        echo(line)


def _history_option(fn):
    return click.option("--history", "history_path", type=click.Path(path_type=Path, dir_okay=False),
                        metavar="PATH", help="The history database (default: history.path in the config, "
                                             "else history.sqlite in the user data folder).")(fn)


def _store(ctx, history_path: Path | None) -> Path:
    from auditor import history
    return history_path or ctx.obj.history.path or history.default_path()


@cli.command("history")
@_history_option
@click.option("--account", help="Only this account.")
@click.option("--env", help="Only this environment.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.pass_context
def history_cmd(ctx, history_path, account, env, fmt):
    """The recorded audits: per account, environment and month (the last audit of the month),
    billable flows and endpoints against entitlements and the unmuted alarms."""
    import pandas as pd

    from auditor import history
    store = _store(ctx, history_path)
    if not store.exists():
        raise AuditorError(f"{store}: no history yet (record an audit with 'auditor audit --record')")
    frame = history.summary(store, account, env)
    if frame.empty:
        return _emit(frame, fmt)
    table = pd.DataFrame({
        "account": frame["account"], "month": frame["month"], "audit date": frame["as_of"],
        "environment": frame["environment"],
        "billable flows": [_fraction(u, e) for u, e in zip(frame["flows_billable"], frame["flows_entitled"])],
        "endpoints": [_fraction(u, e) for u, e in zip(frame["endpoints_used"], frame["endpoints_entitled"])],
        "alarms": frame["alarms"], "audits in month": frame["audits_in_month"]})
    _emit(table, fmt)


def _document(ctx, which: str, account: str | None, history_path: Path | None) -> dict:
    """A results file, or the audit recorded on a date (YYYY-MM-DD) in the history."""
    from auditor import history
    from auditor import results as results_io
    from auditor.diff import subset
    path = Path(which)
    if path.is_file():
        doc = results_io.load_json(path)
    else:
        try:
            day = date.fromisoformat(which)
        except ValueError:
            raise AuditorError(f"{which}: neither a results file nor a date (YYYY-MM-DD) of a recorded audit") from None
        store = _store(ctx, history_path)
        if not store.exists():
            raise AuditorError(f"{store}: no history to take {which} from")
        doc = history.load(store, day.isoformat(), account)
    if account is not None:
        if account not in {a["account"] for a in doc["accounts"]}:
            raise AuditorError(f"{which}: no account {account!r} in it")
        doc = subset(doc, account)
    return doc


@cli.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--account", help="Only this account (needed to pick one account's audit on a date).")
@_history_option
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@report_options
@click.pass_context
def diff_cmd(ctx, old, new, account, history_path, fmt, html, xlsx, csv_dir, templates):
    """What changed from OLD to NEW: two results files, or two dates of recorded audits.

    Endpoints added and removed (with the connections and flows that make them count), flows
    that became billable or stopped, usage and entitlement changes, findings new, resolved and
    still open (by finding id), licenses added, renewed and expired. With --html / --xlsx /
    --csv, the reports of NEW with a Changes section and sheet.
    """
    import pandas as pd

    from auditor.diff import changes_section
    from auditor.report import write_reports
    before, after = _document(ctx, old, account, history_path), _document(ctx, new, account, history_path)
    section = changes_section([(before, after)])
    frame = pd.DataFrame(section["rows"], columns=["account", "environment", "kind", "change", "id", "name", "detail"])
    _emit(frame, fmt)
    out = _outputs(html, xlsx, csv_dir, templates)
    if out.any():
        for line in write_reports({**after, "changes": section}, out):
            echo(line, err=fmt != "table")


@cli.group()
def rules():
    """List, show and check rules."""


@rules.command("list")
@rule_options
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def rules_list(rules, fmt):
    """The rules a run would evaluate: id, severity, frame, title, tags."""
    import pandas as pd
    frame = pd.DataFrame([{"id": r.id, "severity": r.severity, "frame": r.frame, "title": r.title,
                           "tags": ", ".join(r.tags)} for r in rules], columns=["id", "severity", "frame", "title", "tags"])
    _emit(frame, fmt)


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


@rules.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, exists=True))
def rules_validate(paths):
    """Check rule files (or folders of them) without auditing; with no PATH, the built-in rules.
    Every problem names the file and the line; exit 2 when there is one."""
    from auditor.rules import load_rules
    total = len(load_rules(list(paths)))  # the built-in ones too: an id must not clash with them
    echo(f"{total - len(load_rules()) if paths else total} rules valid.")


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
    from auditor.rules import load_rules
    from auditor.ruletest import run_tests
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
        echo(f"{'ok' if o.passed else 'FAIL':<9} {o.rule} ({rows or 'no'} rows, {o.findings} findings)")
        for failure in o.failures:
            echo(f"          {failure}")
    failed = sum(not o.passed for o in outcomes)
    echo(f"{len(outcomes) - failed} passed, {failed} failed or untested.")
    if failed:
        sys.exit(1)


main = cli
