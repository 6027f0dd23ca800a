"""Options defined once: what several commands share, and how their values are read."""

from __future__ import annotations

import functools
import inspect
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from auditor.common.paths import sample_dir
from auditor.common.terminal import printable
from auditor.common.vocabulary import ACCOUNT_FRAMES, NETSUITE_FRAMES, PARTNER_FRAMES, REGIONS, SEVERITIES

if TYPE_CHECKING:  # the heavy modules are imported where a command needs them: `--help` stays fast
    from auditor.report import Outputs


# The sample's licenses are dated around this day; --sample audits as of it unless told otherwise.
SAMPLE_AS_OF = date(2026, 11, 30)


def echo(message="", err: bool | None = None, **kwargs) -> None:
    """Everything printed: control characters from the data shown escaped, never acted on. What
    is said goes to standard error when standard output carries data (`-o -`)."""
    if err is None:
        err = bool(_meta().get("data_on_stdout"))
    click.echo(printable(str(message)), err=err, **kwargs)


def _meta() -> dict:
    """What this invocation's options decided (-q, -v, -o -): shared by its contexts."""
    ctx = click.get_current_context(silent=True)
    return ctx.meta if ctx is not None else {}


def quiet() -> bool:
    """Whether the command was asked to say only what went wrong (-q)."""
    return bool(_meta().get("quiet"))


def say(message="", block: bool = False) -> None:
    """An informational line (summaries, what was written): left out with --quiet. One line, so a
    newline in a name it quotes is shown escaped; `block=True` for a table of several lines."""
    if not _meta().get("quiet"):
        echo(message if block else printable(str(message), newlines=False))


class Progress:
    """What a long run is doing, on standard error: when it is a terminal (or with --verbose),
    never with --quiet, never on standard output. Each line says the seconds since the start."""

    def __init__(self):
        meta = _meta()
        self.on = not meta.get("quiet") and (meta.get("verbose") or sys.stderr.isatty())
        self.start = time.perf_counter()

    def __call__(self, message: str) -> None:
        if self.on:
            click.echo(printable(f"[{time.perf_counter() - self.start:5.1f} s] {message}"), err=True)


def examples(*lines: str):
    """Put above @cli.command(): the command's --help ends with these example command lines."""
    def add(command: click.Command) -> click.Command:
        shown = "\n".join(f"  {line}" for line in lines)
        command.help = f"{inspect.cleandoc(command.help or '')}\n\n\b\nExamples:\n{shown}"
        return command
    return add


def claim_stdout(output: Path) -> None:
    """`-o -`: the results file goes to standard output, so everything said goes to standard error."""
    if str(output) == "-":
        _meta()["data_on_stdout"] = True


def parse_day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None
    if not 1990 <= day.year <= 2200:  # 9999-12-31 has no next month to end the audit month with
        raise click.BadParameter(f"{value!r} is not a date of a year from 1990 to 2200")
    return day


def snapshot_options(fn):
    """Options every command that audits shares."""

    @click.argument("snapshots", nargs=-1, type=click.Path(path_type=Path))
    @click.option("--sample", is_flag=True, help="Audit the sample accounts bundled with auditor.")
    @click.option("--policy", default="default", show_default=True, metavar="NAME|FILE", envvar="AUDITOR_POLICY",
                  show_envvar=True,
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
        day = parse_day(as_of) or (SAMPLE_AS_OF if sample else datetime.now(UTC).date())
        return fn(paths=paths, policy=policy, as_of=day, **kwargs)

    return wrapper


# the rules each command runs, by their frame (`rules list` / `show` see all of them)
COMMAND_FRAMES = {"audit": ACCOUNT_FRAMES, "whatif": ACCOUNT_FRAMES, "licenses": PARTNER_FRAMES,
                  "ns-records": NETSUITE_FRAMES}


def rule_options(fn):
    """Which rules run: a profile, the user's own rule folders, and --only / --skip."""

    @click.option("--profile", default="default", show_default=True, metavar="NAME|FILE", envvar="AUDITOR_PROFILE",
                  show_envvar=True,
                  help="Rule profile: which rules run and their severity and parameters (default, finance).")
    @click.option("--rules", "rule_dirs", multiple=True, type=click.Path(path_type=Path), metavar="DIR",
                  help="A folder (or file) of your own rules, added to the built-in ones. Repeatable.")
    @click.option("--only", multiple=True, metavar="ID|TAG", help="Run only these rules (ids or tags). Repeatable.")
    @click.option("--skip", multiple=True, metavar="ID|TAG", help="Do not run these rules (ids or tags). Repeatable.")
    @functools.wraps(fn)
    def wrapper(*args, profile, rule_dirs, only, skip, **kwargs):
        from auditor.rules.model import load_profile, load_rules, select_rules
        frames = COMMAND_FRAMES.get(click.get_current_context().info_name)
        rules = select_rules(load_rules(list(rule_dirs)), load_profile(profile), list(only), list(skip), frames)
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


def report_outputs(html, xlsx, csv_dir, templates, extra=()) -> Outputs:
    from auditor.report import Outputs
    out = Outputs(html, xlsx, csv_dir, templates)
    for path in extra:  # the format from the file name
        suffix = path.suffix.lower()
        if suffix in (".html", ".htm"):
            kind = "html"
        elif suffix == ".xlsx":
            kind = "xlsx"
        else:
            raise click.BadParameter(f"{path}: name a .html or .xlsx file (or use --csv DIR for CSV files)",
                                     param_hint="OUTPUTS")
        if getattr(out, kind) is not None:  # one report of a kind: a second name would be dropped unsaid
            from auditor.common.errors import AuditorError
            raise AuditorError(f"{path}: a {kind.upper()} report is named twice (and {getattr(out, kind)}); "
                               "name one")
        setattr(out, kind, path)
    return out


def _webhook(ctx, param, value):
    """--notify's URL, checked as it is given; the message never quotes it (it is a secret)."""
    from auditor.common.config import webhook_problem
    problem = webhook_problem(value) if value else None
    if problem:
        raise click.BadParameter(problem, param_hint="'--notify' (or $AUDITOR_NOTIFY_URL)")
    return value or None


def watch_options(fn):
    """Who hears of an audit besides the terminal: a chat's webhook (--notify) and a monitor (--metrics)."""
    for option in reversed((
        click.option("--notify", "notify_url", metavar="URL", envvar="AUDITOR_NOTIFY_URL", show_envvar=True,
                     callback=_webhook,
                     help="After the audit, post its one-paragraph summary (limits, alarms, changes, the report's "
                          "path) to this Slack- or Teams-compatible incoming webhook, when there is an unmuted "
                          "alarm at or above --fail-on (or notify.url in the config). The URL is a secret: never "
                          "shown, logged or written. A failed post is a warning; the exit code stays."),
        click.option("--notify-always", is_flag=True,
                     help="With --notify: post after every audit, alarms or not (or notify.always in the config)."),
        click.option("--metrics", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
                     help="Write each account's and environment's counts, entitlements, shares and unmuted alarms "
                          "by severity as OpenMetrics text (for node-exporter's textfile collector: a .prom file "
                          "in its folder), written whole."),
    )):
        fn = option(fn)
    return fn


def tell(results: dict, findings, fail_on: str, *, metrics: Path | None, notify_url: str | None, always: bool,
         report: Path | None) -> None:
    """After an audit: its metrics written, and its summary posted when due. `findings`: every
    finding (the exit code's), before --min-severity. A failed post is one warning line."""
    if metrics is None and notify_url is None:
        return
    columns = ["id", "title", "severity", "status", "account", "environment", "reason", "muted"]
    every = findings[columns].to_dict("records")
    if metrics is not None:
        from auditor.report.metrics import write_metrics
        write_metrics(results, metrics, every)
        say(f"Metrics written to {metrics}")
    if notify_url is None:
        return
    from auditor.report import notify
    if not notify.due(every, fail_on, always):
        say(f"notify: nothing posted (no unmuted alarm at or above {fail_on}; --notify-always posts anyway)")
        return
    where = str(report.resolve()) if report is not None and str(report) != "-" else None
    warning = notify.post(notify_url, notify.summary(results, fail_on, where, every))
    if warning:
        click.echo(printable(warning, newlines=False), err=True)  # said even with --quiet
    else:
        say("notify: the summary was posted to the webhook")


def _load_prices(ctx, param, value):
    """--prices: the prices file read and checked as it is given (a wrong value stops the run with
    one line, exit 2); kept in the context for the command, its path among the run's inputs."""
    if value is None:
        return None
    from auditor.load.prices import load_prices
    ctx.meta["prices_path"] = Path(value)
    ctx.meta["prices"] = load_prices(Path(value))
    return None


prices_option = click.option(
    "--prices", type=click.Path(path_type=Path, exists=True, dir_okay=False), metavar="FILE", envvar="AUDITOR_PRICES",
    show_envvar=True, expose_value=False, callback=_load_prices,
    help="A prices file (YAML: a price per add-on endpoint, flow, trading partner and agent, per plan and "
         "environment pool, with a currency): puts each environment's overage in money in the results and the "
         "reports, per currency, never summed across currencies (or defaults.prices in the config). See 'What "
         "it costs' in the README.")


# What a command reads and what it writes, by parameter name: no output may be an input of the
# run, lie inside a folder the run reads, or be another output of it (check_outputs).
INPUT_PARAMS = ("snapshots", "partner_snapshot", "sandbox_list", "production_list", "results_file", "old", "new",
                "mutes", "rule_dirs", "policy", "profile", "billing", "billing_map", "license_list", "license_map",
                "mapping", "snapshot", "templates", "pull_into", "history_path", "token_file")
OUTPUT_PARAMS = ("output", "html", "xlsx", "outputs", "metrics")  # files; csv_dir is a folder of them


def _given(value) -> list[Path]:
    """The paths a parameter's value names ("-" is a standard stream, not a path)."""
    values = value if isinstance(value, (list, tuple)) else [value]
    return [Path(v) for v in values if v is not None and str(v) != "-" and str(v) != ""]


def _label(ctx: click.Context, name: str) -> str:
    """How the user named a parameter: -o, --html, SNAPSHOTS."""
    for param in ctx.command.params:
        if param.name == name:
            return param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
    return name


def _run_inputs(ctx: click.Context) -> list[tuple[str, Path]]:
    """(how it was named, path) of everything the run reads that a path names."""
    from auditor.common.paths import netsuite_sample_dir, partner_sample_dir
    params = ctx.params
    found = []
    for name in INPUT_PARAMS:
        if name in ("policy", "profile"):  # a built-in name, or a file
            found += [(_label(ctx, name), p) for p in _given(params.get(name)) if p.is_file()]
        else:
            found += [(_label(ctx, name), p) for p in _given(params.get(name))]
    if params.get("sample"):
        found += [("--sample", folder) for folder in (sample_dir(), partner_sample_dir(), netsuite_sample_dir())]
    if ctx.meta.get("prices_path") is not None:
        found.append(("--prices", ctx.meta["prices_path"]))
    root = ctx.find_root()
    config = getattr(root.obj, "path", None)
    from auditor.common.paths import config_path
    if config_path(config) is not None:
        found.append(("the configuration", config_path(config)))
    if "history_path" in params and params["history_path"] is None:  # the history the run would use
        from auditor.history import store
        found.append(("the history", (ctx.obj.history.path if ctx.obj is not None else None) or store.default_path()))
    return found


def check_outputs(ctx: click.Context) -> None:
    """Refuse, before anything is read or written, an output that is an input of the run (a
    snapshot or a file in one, a results file or list being read, the history, mutes, rules,
    the configuration), lies in a folder the run reads, or is another output of the same run
    (-o r.json --html r.json, --html x --xlsx x, a report named like a CSV file --csv writes).
    Paths are compared as the file system resolves them: symbolic links followed, and letter
    case folded where the file system folds it."""
    params = ctx.params
    outputs = [(_label(ctx, name), p) for name in OUTPUT_PARAMS for p in _given(params.get(name))]
    files = list(outputs)  # (the CSV folder is made when it is not there)
    csv_dir = params.get("csv_dir")
    if csv_dir is not None:
        from auditor.report import CSV_NAMES
        outputs.append((_label(ctx, "csv_dir"), Path(csv_dir)))
        outputs += [(f"{_label(ctx, 'csv_dir')} {csv_dir} (its {name}.csv)", Path(csv_dir) / f"{name}.csv")
                    for name in CSV_NAMES]
    inputs = _run_inputs(ctx)
    problem = _clash(outputs, inputs) if outputs else None
    # a file whose folder is not there: said now, not once the history has recorded the audit
    # (a report or the metrics failing after it would exit 2, which says "not recorded")
    for label, path in files:
        if problem is None and str(path) != "-" and not path.parent.is_dir():
            problem = f"{label} {path}: its folder {path.parent} does not exist; create it or name another"
    recording = "record" in params and (params["record"] or (ctx.obj is not None and ctx.obj.history.record))
    if problem is None and recording:
        # a recorded audit writes the history too: not over an input, nor inside a snapshot
        history = [(label, path) for label, path in inputs if label in ("the history", _label(ctx, "history_path"))]
        others = [i for i in inputs if i not in history] + outputs
        problem = _clash(history, others)
    if problem:
        from auditor.common.errors import AuditorError
        raise AuditorError(problem)


def _clash(outputs: list[tuple[str, Path]], inputs: list[tuple[str, Path]]) -> str | None:
    """What is wrong with the first output that is an input, lies in an input folder, or is
    another output; None when every output has a place of its own."""
    read = [(label, path, _identity(path)) for label, path in inputs]
    seen: dict[tuple, tuple[str, Path]] = {}
    for label, path in outputs:
        chain = _chain(path)
        for in_label, in_path, ident in read:
            if ident == chain[0]:
                return f"{label} {path}: that is {in_label} {in_path}, which this run reads; name another file"
            if ident in chain[1:]:
                return f"{label} {path}: inside {in_label} {in_path}, which this run reads; write it elsewhere"
        if chain[0] in seen:
            first_label, first = seen[chain[0]]
            return (f"{label} {path}: {first_label} {first} is written there too (one would replace the other); "
                    "name another file")
        seen[chain[0]] = (label, path)
    return None


def _identity(path: Path) -> tuple:
    """What names one place in the file system whichever way it is spelled: the device and inode
    of the nearest folder (or file) that exists, symbolic links followed, then the names under it
    that do not exist yet, case-folded where that file system folds letter case."""
    import os
    import unicodedata
    head, rest = os.path.realpath(os.path.abspath(path)), []
    while not os.path.lexists(head):
        head, name = os.path.split(head)
        if not name:
            break
        rest.append(name)
    try:
        st = os.stat(head)
    except OSError:  # cannot be looked at: compared by its name
        return ("name", head, *reversed(rest))
    if rest and _folds_case(head):
        rest = [unicodedata.normalize("NFC", name).casefold() for name in rest]
    return (st.st_dev, st.st_ino, *reversed(rest))


def _chain(path: Path) -> list[tuple]:
    """The identity of `path`, then of each folder above it."""
    import os
    real = Path(os.path.realpath(os.path.abspath(path)))
    return [_identity(path)] + [_identity(folder) for folder in real.parents]


@functools.lru_cache(maxsize=64)
def _folds_case(folder: str) -> bool:
    """Whether the file system of `folder` takes one name in upper and lower case for the same
    file: the first name with letters on its path, spelled the other way, is the same folder."""
    import os
    here = Path(folder)
    for candidate in (here, *here.parents):
        name = candidate.name
        if name.swapcase() != name:
            try:
                return os.path.samefile(candidate, candidate.with_name(name.swapcase()))
            except OSError:
                return False
    return False


def _month(value: str | None):
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise click.BadParameter(f"{value!r}: give a month as YYYY-MM") from None


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
        click.option("--jobs/--no-jobs", default=None,
                     help="Pull the flow jobs of the month (the run history the platform plan counts flows by). "
                          "Default: when a platform license is pulled."),
        click.option("--month", metavar="YYYY-MM", callback=lambda ctx, param, value: _month(value),
                     help="The month whose jobs are pulled. Default: the current month (UTC)."),
        click.option("--concurrency", type=click.IntRange(1, 8), default=3, metavar="N", show_default=True,
                     help="Resources fetched at once."),
        click.option("--rate", type=click.FloatRange(0.1, 100), default=5.0, metavar="N", show_default=True,
                     help="Requests a second at most, across all resources."),
        click.option("--retries", type=click.IntRange(1, 20), default=6, metavar="N", show_default=True,
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
        click.option("-o", "--output", type=click.Path(path_type=Path, allow_dash=True), default="results.json",
                     show_default=True, help="The results file; - writes it to standard output."),
        fail_on_option, mutes_option(),
        rule_options, report_options,
    )):
        fn = option(fn)
    return fn


def query_options(fn):
    for option in (
        click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True),
        click.option("--env", metavar="ENV", help="Only this environment."),
        click.option("--account", metavar="NAME",
                     help="Only this account: its name, in any case when only one name matches it so."),
    ):
        fn = option(fn)
    return fn


def history_option(fn):
    return click.option("--history", "history_path", type=click.Path(path_type=Path, dir_okay=False),
                        metavar="PATH", envvar="AUDITOR_HISTORY", show_envvar=True,
                        help="The history database (SQLite). Default: history.path in the config, else "
                             "history.sqlite in the user data folder.")(fn)


# the mutes of every run; an account run also reads the mutes.yaml beside each snapshot
MUTES_HELP = "YAML file of accepted findings."
ACCOUNT_MUTES_HELP = "YAML file of accepted findings (a mutes.yaml beside a snapshot is read too)."


def mutes_option(help_text: str = MUTES_HELP):
    return click.option("--mutes", type=click.Path(path_type=Path, exists=True, dir_okay=False),
                        envvar="AUDITOR_MUTES", show_envvar=True, help=help_text)


fail_on_option = click.option(
    "--fail-on", type=click.Choice(SEVERITIES + ("never",)), default="high", show_default=True,
    envvar="AUDITOR_FAIL_ON", show_envvar=True,
    help="Exit 1 when an unmuted alarm of this severity or higher is found; never: only 0, 2 or 3.")

