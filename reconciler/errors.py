"""The one exception type the command line turns into a one-line error and exit code 1."""

from __future__ import annotations


class ReconcilerError(Exception):
    """A user-facing failure: its message is one sentence saying what is wrong and what to do."""

    exit_code: int = 1


class NotImplementedYet(ReconcilerError):
    """A command of the contract that has not been built yet."""
