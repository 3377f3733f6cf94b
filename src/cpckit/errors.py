"""Errors that cpckit reports to users as one clear line (no traceback)."""

from __future__ import annotations


class CpckitError(Exception):
    """A user-facing error: bad config, bad input file, bad flag.

    The CLI prints ``error: <message>`` and exits with status 2. The message
    names the key, file or value at fault and what would be valid.
    """


class ConfigError(CpckitError):
    """A config key, value or combination of values is invalid."""


class DataError(CpckitError):
    """A dataset path, file, label pattern or format is invalid."""


class UnsafeFileError(CpckitError):
    """A model or checkpoint file holds more than tensors and plain values, so it is not loaded."""
