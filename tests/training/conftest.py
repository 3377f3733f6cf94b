"""Fixtures of the training tests; the tiny-run helpers themselves are in ``helpers.training``."""

from __future__ import annotations

import pytest

from helpers.training import train_in_process


@pytest.fixture
def train_tiny() -> object:
    """``train_tiny(out, *extra) -> (exit code, stdout)``, in this process."""
    return train_in_process
