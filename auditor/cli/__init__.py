"""Command line: thin click commands over the runs. Errors become one line and an exit code.

Exit codes: 0 no unmuted alarm at or above --fail-on; 1 there are; 2 bad usage or bad input;
3 a rule failed to evaluate, or an internal error.

`app` holds the group; each module below adds its commands to it when imported. The heavy
modules (pandas, DuckDB, the reports) are imported inside the commands that use them, so
`--help` and shell completion import only click and this package.
"""

from auditor.cli import account, history, partner, rules  # noqa: F401 - each registers its commands
from auditor.cli.app import cli

main = cli
