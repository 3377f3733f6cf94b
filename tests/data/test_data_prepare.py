"""Downloads, checksums, resume and extraction against a local HTTP server."""

from __future__ import annotations

import hashlib
import io
import pickle
import re
import tarfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from cpckit.data.audio import AudioFolderDataset
from cpckit.data.librispeech import LibriSpeechDataset
from cpckit.data.prepare import download, extract, prepare, prepare_main, verify_checksum
from cpckit.errors import ConfigError, DataError


@dataclass
class FileServer:
    """Files served over HTTP on 127.0.0.1, with Range support and a request log."""

    url: str
    files: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    break_after: dict[str, int] = field(default_factory=dict)  # path -> bytes sent, once
    honour_range: bool = True

    def range_requests(self, name: str) -> list[str | None]:
        return [r for p, r in self.requests if p == f"/{name}"]


@pytest.fixture
def server() -> Iterator[FileServer]:
    state = FileServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            rng = self.headers.get("Range")
            state.requests.append((self.path, rng))
            body = state.files.get(self.path)
            if body is None:
                self.send_error(404, "not here")
                return
            start, status = 0, 200
            if rng is not None and state.honour_range:
                m = re.fullmatch(r"bytes=(\d+)-", rng)
                if m is not None:
                    start = int(m.group(1))
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    status = 206
            payload = body[start:]
            self.send_response(status)
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            cut = state.break_after.pop(self.path, None)
            self.wfile.write(payload if cut is None else payload[:cut])
            if cut is not None:
                self.wfile.flush()
                self.close_connection = True

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _flac_bytes(seconds: float = 0.2, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    t = np.arange(int(seconds * rate)) / rate
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), rate, format="FLAC")
    return buf.getvalue()


def _wav_bytes(seconds: float = 0.3, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    t = np.arange(int(seconds * rate)) / rate
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 500 * t)).astype(np.float32), rate, format="WAV")
    return buf.getvalue()


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


def test_extract_zip_and_refuse_path_traversal(tmp_path: Path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("top/a.txt", "A")
        zf.writestr("top/sub/b.txt", "B")
    (tmp_path / "ok.zip").write_bytes(buf.getvalue())
    extract(tmp_path / "ok.zip", tmp_path / "out")
    assert (tmp_path / "out/top/sub/b.txt").read_text() == "B"

    evil = tmp_path / "evil.tar.gz"
    evil.write_bytes(_tar_gz({"fine.txt": b"ok", "../escaped.txt": b"bad"}))
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


def test_prepare_fsdd_downloads_extracts_and_loads(server: FileServer, tmp_path: Path):
    top = "free-spoken-digit-dataset-1.0.9/recordings"
    archive = _tar_gz(
        {f"{top}/{d}_{s}_0.wav": _wav_bytes() for d in range(2) for s in ("ann", "bob")}
    )
    server.files["/v1.0.9.tar.gz"] = archive
    checksums = {"v1.0.9.tar.gz": _md5(archive)}
    path = prepare("fsdd", tmp_path, base_url=server.url, checksums=checksums, progress=False)
    assert path == tmp_path / top
    ds = AudioFolderDataset(
        path, 16000, label_regex=r"(?P<d>\d)_(?P<s>[a-z]+)_\d+\.wav", label_key="d"
    )
    assert len(ds) == 4 and ds.lengths.tolist() == [4800] * 4
    assert not (tmp_path / "downloads/v1.0.9.tar.gz").exists()  # archive removed after extraction
    again = prepare("fsdd", tmp_path, base_url=server.url, checksums=checksums, progress=False)
    assert again == path and len(server.requests) == 1


def test_prepare_librispeech_subset(server: FileServer, tmp_path: Path):
    archive = _tar_gz(
        {
            "LibriSpeech/dev-clean/19/198/19-198-0001.flac": _flac_bytes(),
            "LibriSpeech/dev-clean/84/121/84-121-0002.flac": _flac_bytes(),
            "LibriSpeech/dev-clean/19/198/19-198.trans.txt": b"19-198-0001 HELLO\n",
        }
    )
    server.files["/dev-clean.tar.gz"] = archive
    root = prepare_main(
        "librispeech",
        tmp_path,
        subsets="dev-clean",
        base_url=server.url,
        checksums={"dev-clean.tar.gz": _md5(archive)},
        progress="false",
    )
    assert root == tmp_path / "LibriSpeech"
    ds = LibriSpeechDataset(root, subsets=["dev-clean"])
    assert ds.utterance_ids == ["19-198-0001", "84-121-0002"] and ds.label_names == ["19", "84"]


def _cifar_archive(rng: np.random.Generator) -> tuple[bytes, np.ndarray, np.ndarray]:
    """A tiny CIFAR-10 python tarball: 1 training batch of 12 images, a test batch of 6."""
    names = [
        b"airplane",
        b"automobile",
        b"bird",
        b"cat",
        b"deer",
        b"dog",
        b"frog",
        b"horse",
        b"ship",
        b"truck",
    ]
    train = rng.integers(0, 256, size=(12, 3072), dtype=np.uint8)
    labels = [0, 1, 2, 0, 1, 0, 9, 0, 1, 1, 0, 1]
    test = rng.integers(0, 256, size=(6, 3072), dtype=np.uint8)
    members = {
        "cifar-10-batches-py/batches.meta": pickle.dumps({b"label_names": names}, protocol=2),
        "cifar-10-batches-py/data_batch_1": pickle.dumps(
            {b"data": train, b"labels": labels, b"batch_label": b"training batch 1 of 1"},
            protocol=2,
        ),
        "cifar-10-batches-py/test_batch": pickle.dumps(
            {b"data": test, b"labels": [1, 0, 3, 1, 1, 0]}, protocol=2
        ),
    }
    return _tar_gz(members), train, test


def test_prepare_cifar10_writes_png_class_folders(server: FileServer, tmp_path: Path):
    archive, train, _ = _cifar_archive(np.random.default_rng(0))
    server.files["/cifar-10-python.tar.gz"] = archive
    opts: dict[str, object] = dict(
        classes=["airplane", "automobile"],
        max_per_class=3,
        base_url=server.url,
        checksums={"cifar-10-python.tar.gz": _md5(archive)},
        progress=False,
    )
    images = prepare("cifar10", tmp_path, **opts)
    assert images == tmp_path / "images"
    assert sorted(p.name for p in (images / "airplane").glob("*.png")) == [
        "00000.png",
        "00001.png",
        "00002.png",
    ]
    # the second airplane is training image 3 (labels 0, 1, 2, 0, ...)
    expected = train[3].reshape(3, 32, 32).transpose(1, 2, 0)
    np.testing.assert_array_equal(np.asarray(Image.open(images / "airplane/00001.png")), expected)
    assert not (images / "bird").exists()
    test_dir = tmp_path / "images_test"
    assert len(list((test_dir / "automobile").glob("*.png"))) == 3
    assert len(list((test_dir / "airplane").glob("*.png"))) == 2
    prepare("cifar10", tmp_path, **opts)  # same options: nothing to do
    assert len(server.requests) == 1


def test_prepare_cifar10_refuses_a_pickle_with_code(server: FileServer, tmp_path: Path):
    class Evil:
        def __reduce__(self) -> tuple[Callable[..., object], tuple[str]]:
            return (print, ("pwned",))

    members = {
        "cifar-10-batches-py/batches.meta": pickle.dumps({b"label_names": [b"airplane"]}),
        "cifar-10-batches-py/data_batch_1": pickle.dumps({b"data": Evil()}),
    }
    archive = _tar_gz(members)
    server.files["/cifar-10-python.tar.gz"] = archive
    with pytest.raises(
        DataError, match=r"data_batch_1 could not be read: refusing to load builtins.print"
    ):
        prepare(
            "cifar10",
            tmp_path,
            classes=["airplane"],
            base_url=server.url,
            checksums={"cifar-10-python.tar.gz": None},
            progress=False,
        )


def test_prepare_argument_errors(tmp_path: Path):
    with pytest.raises(
        ConfigError, match=r"^dataset 'mnist' is not valid: expected cifar10, fsdd, librispeech$"
    ):
        prepare("mnist", tmp_path)
    with pytest.raises(
        ConfigError, match=r"^prepare fsdd: option 'subsets' is not valid; valid: version"
    ):
        prepare("fsdd", tmp_path, subsets=["dev-clean"])
    with pytest.raises(
        ConfigError, match=r"^subsets: 'train-clean-101' is not a LibriSpeech subset"
    ):
        prepare("librispeech", tmp_path, subsets=["train-clean-101"])
    with pytest.raises(
        ConfigError, match=r"^classes: 'plane' is not a CIFAR-10 class; valid: airplane"
    ):
        prepare("cifar10", tmp_path, classes=["plane"])
    with pytest.raises(ConfigError, match=r"^checksum 'md5:xyz' is not valid"):
        download("http://127.0.0.1:9/x", tmp_path / "x", checksum="md5:xyz")


@pytest.fixture
def cli_with_prepare(monkeypatch: pytest.MonkeyPatch) -> Callable[..., int]:
    """``cpckit.cli.main`` with the ``prepare`` subcommand registered."""
    import cpckit.cli

    if "prepare" not in cpckit.cli.SUBCOMMAND_MODULES:
        monkeypatch.setattr(
            cpckit.cli, "SUBCOMMAND_MODULES", [*cpckit.cli.SUBCOMMAND_MODULES, "prepare"]
        )
    return cpckit.cli.main


def test_prepare_command_downloads_and_prints_the_next_step(
    server: FileServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    cli_with_prepare: Callable[..., int],
):
    import cpckit.data.prepare as prepare_module

    archive = _tar_gz(
        {
            f"free-spoken-digit-dataset-1.0.9/recordings/{d}_ann_0.wav": _wav_bytes()
            for d in range(2)
        }
    )
    server.files["/v1.0.9.tar.gz"] = archive
    monkeypatch.setitem(prepare_module.CHECKSUMS, "v1.0.9.tar.gz", _md5(archive))
    code = cli_with_prepare(["prepare", "fsdd", "--root", str(tmp_path), "--base-url", server.url])
    out = capsys.readouterr().out
    recordings = tmp_path / "free-spoken-digit-dataset-1.0.9" / "recordings"
    assert code == 0 and sorted(p.name for p in recordings.iterdir()) == [
        "0_ann_0.wav",
        "1_ann_0.wav",
    ]
    assert f"fsdd is ready in {recordings}" in out
    assert f"next: cpckit train --config configs/fsdd.yaml --audio-root {recordings}" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["librispeech", "--subsets", "dev-clean", "--base-url", "http://127.0.0.1:1"],
            "error: could not download http://127.0.0.1:1/dev-clean.tar.gz: the connection was refused; "
            "on a machine without internet, put dev-clean.tar.gz (from that URL) in ",
        ),
        (
            ["fsdd", "--subsets", "dev-clean"],
            "error: --subsets is an option of `cpckit prepare librispeech`, not fsdd",
        ),
        (
            ["cifar10", "--max-per-class", "lots"],
            "error: --max-per-class = 'lots' is not valid: expected a whole number >= 1",
        ),
        (
            ["cifar10", "--classes", "plane"],
            "error: classes: 'plane' is not a CIFAR-10 class; valid: airplane",
        ),
    ],
)
def test_prepare_command_errors_are_one_line_and_exit_2(
    args: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    cli_with_prepare: Callable[..., int],
):
    import time

    start = time.perf_counter()
    code = cli_with_prepare(["prepare", *args, "--root", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith(message) and len(err.splitlines()) == 1, err
    assert time.perf_counter() - start < 5  # no retries when the host cannot be reached
