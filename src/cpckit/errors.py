"""Errors that cpckit reports to users as one clear line (no traceback).

Each class carries the exit status of the ``cpckit`` command that stops on
it (``exit_code``): 2 for a usage error (the command asks for something
invalid: a flag, config key or value, or a combination of them), 1 for a
run that fails (a file or folder it names is missing or unusable, the data
does not serve the request, the run diverged, the disk is full).
"""

from __future__ import annotations

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PIPE",
    "EXIT_USAGE",
    "ConfigError",
    "CpckitError",
    "DataError",
    "LabelPatternError",
    "UsageError",
]

EXIT_OK = 0
EXIT_FAILED = 1
"""The run failed: a :class:`CpckitError` that is no :class:`UsageError`, or a traceback (a bug)."""
EXIT_USAGE = 2
"""The command line or config is invalid: a :class:`UsageError`, or argparse's own errors."""
EXIT_INTERRUPTED = 130
"""Ctrl-C (SIGINT) or SIGTERM: 128 + SIGINT, as shells report a process stopped by Ctrl-C."""
EXIT_PIPE = 141
"""stdout's reader closed it (``cpckit config --keys | head -1``): 128 + SIGPIPE."""


class CpckitError(Exception):
    """A user-facing error: bad config, bad input file, bad flag, a failed run.

    The CLI prints ``error: <message>`` and exits with :attr:`exit_code`. The
    message names the key, file or value at fault and what would be valid.
    """

    exit_code: int = EXIT_FAILED
    """The run failed (1); :class:`UsageError` and its subclasses: 2."""


class UsageError(CpckitError):
    """The command asks for something invalid: a flag, its value, or flags that cannot go together.

    Found from the command line and the config alone, before any data is
    read; the fix is a different command.
    """

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """A config key, value or combination of values is invalid."""


class DataError(CpckitError):
    """A dataset path, file, label pattern or format is invalid."""


class LabelPatternError(DataError, UsageError):
    """A label regex (``--label-regex``, ``data.label_regex``) or a key naming its groups is invalid.

    A data error by what it describes, a usage error by where it comes from:
    the command line or config, checked before any file is matched.
    """


class UnsafeFileError(CpckitError):
    """A model or checkpoint file holds more than tensors and plain values, so it is not loaded."""
