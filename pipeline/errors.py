"""Errors a user can act on.

The CLI turns these into one line on stderr and exit code 2; anything else is a bug
(exit code 1, with a traceback).
"""
from __future__ import annotations


class PipelineError(Exception):
    """Base class for expected failures, caused by the input rather than by our code."""


class InputError(PipelineError):
    """A file, table, row or column the user gave us cannot be used as it is."""


class ConfigError(PipelineError):
    """A configuration key or value is unknown or invalid."""


class ModelError(PipelineError):
    """A model folder is missing, incomplete, tampered with or from an incompatible version."""


class ModelWarning(UserWarning):
    """Something about a model the user should know, printed as one line by the CLI (an old
    pickled folder loaded with ``allow_pickle=True``, another scikit-learn version)."""
