"""Command line: thin click commands over the runs. Errors become one line and an exit code.

Exit codes: 0 no unmuted alarm at or above --fail-on; 1 there are; 2 bad usage or bad input;
3 a rule failed to evaluate, or an internal error; 130 interrupted (Ctrl-C).

`app` holds the group; each module below adds its commands to it when imported. The heavy
modules (pandas, DuckDB, the reports) are imported inside the commands that use them, so
`--help` and shell completion import only click and this package.
"""

import os
import sys

from auditor.cli import account, history, partner, rules, whatif  # noqa: F401 - each registers its commands
from auditor.cli.app import INTERRUPTED, cli, say_interrupted


def main() -> None:
    """The `auditor` command. Once it has said all it has to say, the process ends without
    tearing the interpreter down: freeing a large audit's objects one by one takes a noticeable
    part of its run, for nothing. (Everything the command opens is closed by then; tests call
    `cli` itself.)"""
    try:
        cli()
        code = 0
    except SystemExit as done:
        code = done.code
    except KeyboardInterrupt:  # Ctrl-C past the command's own handling (while click starts or ends)
        say_interrupted()
        code = INTERRUPTED
    if not isinstance(code, int):  # sys.exit("text") says the text, and fails
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader gone away (`| head`), or a stream already closed
            pass
    os._exit(code)
