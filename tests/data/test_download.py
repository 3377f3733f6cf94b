"""Downloads, checksums, resume and extraction against a local HTTP server."""

from __future__ import annotations

import hashlib
import io
import logging
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from cpckit.data.download import download, extract, verify_checksum
from cpckit.errors import DataError

if TYPE_CHECKING:
    from helpers.server import FileServer


def _md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


def test_download_checks_the_checksum_and_keeps_no_part_file(server: FileServer, tmp_path: Path):
    data = np.random.default_rng(0).bytes(50_000)
    server.files["/a.bin"] = data
    out = download(f"{server.url}/a.bin", tmp_path / "a.bin", checksum=_md5(data), progress=False)
    assert out.read_bytes() == data and not (tmp_path / "a.bin.part").exists()
    sha = "sha256:" + hashlib.sha256(data).hexdigest()
    verify_checksum(out, sha)
    # done work is not repeated: no second request
    download(f"{server.url}/a.bin", out, checksum=sha, progress=False)
    assert server.range_requests("a.bin") == [None]


def test_checksum_mismatch_is_an_error_and_deletes_the_download(server: FileServer, tmp_path: Path):
    server.files["/a.bin"] = b"hello world"
    wrong = "md5:" + "0" * 32
    with pytest.raises(DataError) as err:
        download(f"{server.url}/a.bin", tmp_path / "a.bin", checksum=wrong, progress=False)
    got = hashlib.md5(b"hello world").hexdigest()
    assert str(err.value).startswith(
        f"checksum mismatch for {tmp_path / 'a.bin.part'}: expected md5 {'0' * 32}, got {got} "
        f"(downloaded from {server.url}/a.bin; the file was deleted"
    )
    assert not (tmp_path / "a.bin").exists() and not (tmp_path / "a.bin.part").exists()


def test_existing_file_with_the_wrong_checksum_is_set_aside_not_deleted(
    server: FileServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    data = np.random.default_rng(4).bytes(5_000)
    server.files["/a.tar.gz"] = data
    mine = b"the user's own copy, truncated"
    (tmp_path / "a.tar.gz").write_bytes(mine)
    got = hashlib.md5(mine).hexdigest()
    with caplog.at_level(logging.WARNING, logger="cpckit.data.download"):
        out = download(
            f"{server.url}/a.tar.gz", tmp_path / "a.tar.gz", checksum=_md5(data), progress=False
        )
    aside = tmp_path / f"a.tar.gz.bad-{got[:8]}"
    assert out.read_bytes() == data and aside.read_bytes() == mine
    assert caplog.messages == [
        f"{tmp_path / 'a.tar.gz'} did not match its checksum (expected md5 "
        f"{hashlib.md5(data).hexdigest()}, got {got}) and was moved to {aside}; downloading it "
        "again"
    ]
    # the same bad copy a second time: a new name, the first one is not overwritten
    (tmp_path / "a.tar.gz").write_bytes(mine)
    download(f"{server.url}/a.tar.gz", tmp_path / "a.tar.gz", checksum=_md5(data), progress=False)
    assert (tmp_path / f"a.tar.gz.bad-{got[:8]}.1").read_bytes() == mine
    assert aside.read_bytes() == mine


def test_set_aside_file_is_named_in_the_error_when_the_download_fails(tmp_path: Path):
    mine = b"not the archive"
    (tmp_path / "a.tar.gz").write_bytes(mine)
    want = "0" * 32
    got = hashlib.md5(mine).hexdigest()
    with pytest.raises(DataError) as err:
        download("http://127.0.0.1:1/a.tar.gz", tmp_path / "a.tar.gz", checksum=f"md5:{want}")
    aside = tmp_path / f"a.tar.gz.bad-{got[:8]}"
    assert str(err.value) == (
        "could not download http://127.0.0.1:1/a.tar.gz: the connection was refused; on a "
        f"machine without internet, put a.tar.gz (from that URL) in {tmp_path} and run prepare "
        f"again, or use a mirror (--base-url, base_url=); before that, {tmp_path / 'a.tar.gz'} "
        f"did not match its checksum (expected md5 {want}, got {got}) and was moved to {aside}"
    )
    assert aside.read_bytes() == mine and not (tmp_path / "a.tar.gz").exists()


def test_download_into_a_folder_that_cannot_be_made_is_one_error(tmp_path: Path):
    (tmp_path / "f").write_text("a file")
    with pytest.raises(DataError) as err:
        download("http://127.0.0.1:1/a.bin", tmp_path / "f" / "downloads" / "a.bin", progress=False)
    assert str(err.value) == (
        f"cannot create the folder {tmp_path / 'f' / 'downloads'} to download a.bin into: "
        "Not a directory"
    )


def test_partial_download_resumes_with_a_range_request(server: FileServer, tmp_path: Path):
    data = np.random.default_rng(1).bytes(200_000)
    server.files["/big.tar.gz"] = data
    (tmp_path / "big.tar.gz.part").write_bytes(data[:70_000])
    out = download(
        f"{server.url}/big.tar.gz", tmp_path / "big.tar.gz", checksum=_md5(data), progress=False
    )
    assert server.range_requests("big.tar.gz") == ["bytes=70000-"]
    assert out.read_bytes() == data


def test_server_ignoring_range_restarts_the_file(server: FileServer, tmp_path: Path):
    data = np.random.default_rng(3).bytes(10_000)
    server.files["/f.bin"] = data
    server.honour_range = False
    (tmp_path / "f.bin.part").write_bytes(b"stale bytes from another file")
    out = download(f"{server.url}/f.bin", tmp_path / "f.bin", checksum=_md5(data), progress=False)
    assert out.read_bytes() == data and server.range_requests("f.bin") == ["bytes=29-"]


def test_complete_part_file_is_accepted_after_a_416(server: FileServer, tmp_path: Path):
    data = b"x" * 1000
    server.files["/f.bin"] = data
    (tmp_path / "f.bin.part").write_bytes(data)
    out = download(f"{server.url}/f.bin", tmp_path / "f.bin", checksum=_md5(data), progress=False)
    assert out.read_bytes() == data and server.range_requests("f.bin") == ["bytes=1000-"]


def test_broken_connection_is_resumed_from_where_it_stopped(server: FileServer, tmp_path: Path):
    data = np.random.default_rng(2).bytes(300_000)
    server.files["/f.bin"] = data
    server.break_after["/f.bin"] = 100_000
    out = download(
        f"{server.url}/f.bin", tmp_path / "f.bin", checksum=_md5(data), progress=False, retry_wait=0
    )
    assert out.read_bytes() == data
    ranges = server.range_requests("f.bin")
    assert ranges[0] is None and len(ranges) == 2
    assert ranges[1] is not None and int(ranges[1].removeprefix("bytes=").rstrip("-")) >= 100_000


def test_missing_url_is_a_clear_error(server: FileServer, tmp_path: Path):
    with pytest.raises(DataError, match=r"could not download http://127.0.0.1:\d+/nope: HTTP 404"):
        download(f"{server.url}/nope", tmp_path / "nope", progress=False)


def test_extract_zip_and_refuse_path_traversal(
    tmp_path: Path, tar_gz: Callable[[dict[str, bytes]], bytes]
):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("top/a.txt", "A")
        zf.writestr("top/sub/b.txt", "B")
    (tmp_path / "ok.zip").write_bytes(buf.getvalue())
    extract(tmp_path / "ok.zip", tmp_path / "out")
    assert (tmp_path / "out/top/sub/b.txt").read_text() == "B"

    evil = tmp_path / "evil.tar.gz"
    evil.write_bytes(tar_gz({"fine.txt": b"ok", "../escaped.txt": b"bad"}))
    with pytest.raises(DataError, match=r"member '../escaped.txt' would be written outside"):
        extract(evil, tmp_path / "out2")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "out2/fine.txt").exists()


def test_extract_skips_symlinks(tmp_path: Path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        link = tarfile.TarInfo("link")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tf.addfile(link)
        info = tarfile.TarInfo("real.txt")
        info.size = 2
        tf.addfile(info, io.BytesIO(b"hi"))
    (tmp_path / "a.tar.gz").write_bytes(buf.getvalue())
    extract(tmp_path / "a.tar.gz", tmp_path / "out")
    assert (tmp_path / "out/real.txt").read_text() == "hi"
    assert not (tmp_path / "out/link").exists() and not (tmp_path / "out/link").is_symlink()
