"""The `auditor` command group: bad input becomes one line and an exit code, never a traceback."""

from __future__ import annotations

import os
import sys
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


class AuditorGroup(click.Group):
    """Turns what goes wrong into one line on stderr and an exit code, never a traceback."""

    def get_command(self, ctx, cmd_name):
        """Every command takes -q and -v after its name too (`auditor audit -q`)."""
        command = super().get_command(ctx, cmd_name)
        return _with_say_options(command) if command is not None else None

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

