"""The one exception hierarchy of jingzhun (DESIGN.md §4).

The CLI turns any ``JingzhunError`` into one clear line (plus its ``hint``) and exit code 2; a
traceback is shown only with ``--debug``.
"""

from __future__ import annotations


class JingzhunError(Exception):
    """Base of every error jingzhun raises on purpose.

    Parameters
    ----------
    message : str
        What went wrong, naming the file, row and column where there is one.
    hint : str, optional
        What the user can do about it.
    """

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


class InputError(JingzhunError):
    """A bad file, row or column: the message names the file, row number and column."""


class ContractError(JingzhunError):
    """Data or a table definition that breaks the data contract (``contract.py``)."""


class ConfigError(JingzhunError):
    """A bad configuration or mapping file: the message names the key and the line."""


class ModelError(JingzhunError):
    """A model that could not be fitted (did not converge, ...): the hint says what to try."""
