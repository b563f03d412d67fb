"""The error every package's command line raises for a wrong argument.

It lives here, in the package every other one imports, so that vtn, ven and flexmodel can raise
it without importing the `flexvpp` command-line package (which imports them); `flexvpp.cli.main`
prints its message and exits with status 2. Standard library only.
"""

from __future__ import annotations


class UsageError(Exception):
    """A command-line argument is wrong; the message names it. Exit code 2."""


class CommandFailed(Exception):
    """A command cannot do its work for a reason outside its arguments (an unreachable database, an
    unwritable directory); the message says what and where. One line on stderr, exit code 1."""
