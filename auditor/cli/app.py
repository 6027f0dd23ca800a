"""The `auditor` command group: bad input becomes one line and an exit code, never a traceback."""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import click

from auditor import __version__
from auditor.common.errors import AuditorError
from auditor.common.paths import config_path
from auditor.common.terminal import printable


def _say_less_or_more(ctx, param, value):
    """-q / -v after a command's name, as before it: --quiet wins over --verbose."""
    if value and param.name == "quiet":
        ctx.meta.update(quiet=True, verbose=False)
    elif value and not ctx.meta.get("quiet"):
        ctx.meta["verbose"] = True


def _with_say_options(command: click.Command) -> click.Command:
    """Give a command (and a group's commands) -q and -v of their own, once."""
    if not any(p.name == "quiet" for p in command.params):
        command.params += [
            click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, callback=_say_less_or_more,
                         help="As 'auditor -q': say nothing but errors and the data asked for."),
            click.Option(["-v", "--verbose"], is_flag=True, expose_value=False, callback=_say_less_or_more,
                         help="As 'auditor -v': say what a long run is doing."),
        ]
    for sub in getattr(command, "commands", {}).values():
        _with_say_options(sub)
    return command


INTERRUPTED = 130  # the shell's code for a command ended by Ctrl-C (128 + SIGINT)

# what libraries raise instead of KeyboardInterrupt when Ctrl-C stops them mid-work
_INTERRUPTIONS = {("_duckdb", "InterruptException"), ("duckdb", "InterruptException"),
                  ("pyarrow.lib", "ArrowCancelled")}


_SIGINT = {"seen": False}


def _on_sigint(signum, frame):
    """Ctrl-C as Python has it (KeyboardInterrupt), and noted: a library stopped by it may say so
    in its own words (DuckDB: a RuntimeError 'Query interrupted'), which is an interruption too."""
    _SIGINT["seen"] = True
    raise KeyboardInterrupt


@contextmanager
def _noting_ctrl_c():
    """While a command runs: Ctrl-C noted as it comes (in the main thread, where signals are had,
    and only where Python's own handler was in force: a shell that ignores it is obeyed)."""
    _SIGINT["seen"] = False
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main else None
    if previous is not signal.default_int_handler:
        yield
        return
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def interrupted(exc: BaseException | None) -> bool:
    """Whether Ctrl-C is what ended the work: a KeyboardInterrupt, a library's own word for it,
    any error once Ctrl-C was had, or any error raised while one was being handled (a cleanup
    that failed, an error that says what an interruption means, as an interrupted pull does)."""
    if _SIGINT["seen"]:
        return True
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, KeyboardInterrupt) or any(
                (cls.__module__, cls.__name__) in _INTERRUPTIONS for cls in type(exc).__mro__):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def say_interrupted(exc: BaseException | None = None) -> None:
    """One line on standard error: 'interrupted', or the interruption's own word when it has one."""
    line = "interrupted"
    if isinstance(exc, AuditorError) and str(exc).startswith("interrupted"):
        line = printable(str(exc), newlines=False)
    try:
        click.echo(line, err=True)
    except (OSError, ValueError):
        pass


class AuditorCommand(click.Command):
    """A command whose outputs are checked against its inputs and each other before it runs."""

    def invoke(self, ctx):
        from auditor.cli.options import check_outputs
        check_outputs(ctx)
        return super().invoke(ctx)


class AuditorGroup(click.Group):
    """Turns what goes wrong into one line on stderr and an exit code, never a traceback;
    Ctrl-C into one line, 'interrupted', and exit code 130."""

    command_class = AuditorCommand

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except click.ClickException as exc:
            _one_line(exc)
            raise
        except KeyboardInterrupt:
            say_interrupted()
            raise click.exceptions.Exit(INTERRUPTED) from None

    def get_command(self, ctx, cmd_name):
        """Every command takes -q and -v after its name too (`auditor audit -q`)."""
        command = super().get_command(ctx, cmd_name)
        return _with_say_options(command) if command is not None else None

    def invoke(self, ctx):
        try:
            with _noting_ctrl_c():
                return self._invoke(ctx)
        except BaseException as exc:
            if isinstance(exc, (click.exceptions.Exit, SystemExit)) or not interrupted(exc):
                raise
            say_interrupted(exc)  # Ctrl-C, wherever it came: every write has removed its temporary file
            raise click.exceptions.Exit(INTERRUPTED) from None

    def _invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except AuditorError as exc:
            error = click.ClickException(printable(str(exc), newlines=False))
            error.exit_code = exc.exit_code
            raise error from None
        except click.ClickException as exc:  # click's own (a bad option value): data shown, never acted on
            _one_line(exc)
            raise
        except (click.exceptions.Exit, click.exceptions.Abort, SystemExit):
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


def _one_line(error: click.ClickException) -> None:
    """A click error's message as one line, control and format characters escaped: it may quote
    a value from the command line."""
    error.message = printable(str(error.message), newlines=False)


@click.group(cls=AuditorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="auditor")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False, exists=True), metavar="FILE",
              help="Configuration file (default: $AUDITOR_CONFIG, else ./auditor.yaml when present).")
@click.option("-q", "--quiet", is_flag=True, help="Say nothing but errors and the data asked for (tables, CSV, JSON).")
@click.option("-v", "--verbose", is_flag=True, help="Say what a long run is doing even when standard error is no terminal.")
@click.pass_context
def cli(ctx, config_file, quiet, verbose):
    """Where an integrator.io account stands against its licenses: billable flows and
    distinct endpoints per environment, every count explained.

    \b
    Start with:  auditor audit --sample --fail-on never --html report.html
    Exit codes:  0 fine; 1 unmuted alarms at or above --fail-on; 2 bad usage or
                 input; 3 a rule failed, or an internal error; 130 interrupted
    Completion:  eval "$(_AUDITOR_COMPLETE=bash_source auditor)"   in ~/.bashrc
                 (zsh_source in ~/.zshrc; fish: _AUDITOR_COMPLETE=fish_source auditor | source)
    """
    ctx.obj = _Config(config_file)
    ctx.meta.update(quiet=quiet, verbose=verbose and not quiet)
    if ctx.obj.found():  # option defaults from the file: read before the command parses its options
        ctx.default_map = ctx.obj.default_map(_params(ctx.command))


def _params(group: click.Group) -> dict[str, set[str]]:
    """Command name (as click names sub-contexts) -> its parameter names."""
    return {name: {p.name for p in command.params} for name, command in group.commands.items()}


class _Config:
    """The configuration, read when a command first asks for it (never for `--help` unless there
    is a configuration file to read option defaults from)."""

    def __init__(self, path: Path | None):
        self.path = path
        self.loaded = None

    def found(self) -> bool:
        return config_path(self.path) is not None

    def __getattr__(self, name):
        if self.loaded is None:
            from auditor.common.config import load_config

            self.loaded = load_config(self.path)
        return getattr(self.loaded, name)

