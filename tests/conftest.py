"""Shared test settings (a small thread count so parallel work stays predictable) and the
local file server of the download tests (``tests/data`` and ``tests/commands``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import matplotlib
import pytest
import torch

from helpers.server import FileServer, make_tar_gz, serve_files

matplotlib.use("Agg")
torch.set_num_threads(int(os.environ.get("CPCKIT_TEST_THREADS", "2")))


@pytest.fixture
def server() -> Iterator[FileServer]:
    """Files served over HTTP on 127.0.0.1 (put them in ``server.files``)."""
    with serve_files() as state:
        yield state


@pytest.fixture
def tar_gz() -> Callable[[dict[str, bytes]], bytes]:
    """``tar_gz({name: data})`` -> the bytes of a gzipped tar holding those files."""
    return make_tar_gz


@pytest.fixture
def serve_archive(
    server: FileServer, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str, dict[str, bytes]], None]:
    """``serve_archive(name, {member: bytes})``: a tar.gz on ``server``, its md5 the known checksum.

    For the tests that run ``cpckit prepare`` as a user would, with no
    ``checksums=`` to pass: the archive is checked as a real one is.
    """
    import hashlib

    import cpckit.data.prepare as prepare_module

    def serve(name: str, members: dict[str, bytes]) -> None:
        archive = make_tar_gz(members)
        server.files[f"/{name}"] = archive
        checksum = "md5:" + hashlib.md5(archive).hexdigest()
        monkeypatch.setitem(prepare_module.CHECKSUMS, name, checksum)

    return serve
