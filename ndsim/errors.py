"""The exceptions ndsim raises for bad input.

Every check at the boundary (data tables, scenario files, command-line
options) raises one of these with a one-line message that starts with the
file and the field and lists the offending rows or keys. The command line
turns them into that one line on stderr and exit code 2.
"""

from __future__ import annotations


class NdsimError(Exception):
    """Base class of ndsim's own errors."""


class ValidationError(NdsimError, ValueError):
    """Bad input data: a table, a column, a unit, a value."""

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None):
        self.file = file
        self.field = field
        prefix = ""
        if file is not None:
            prefix = f"{file}"
            if field is not None:
                prefix += f", {field}"
            prefix += ": "
        super().__init__(prefix + message)


class ScenarioError(ValidationError):
    """A bad scenario file: syntax, unknown key, wrong type, value out of range."""


class BalanceError(NdsimError):
    """A process does not balance within tolerance, or a quantity that cannot be negative is."""


class UsageError(NdsimError):
    """A bad command-line option (e.g. --draws 0)."""
