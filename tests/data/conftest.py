"""Small audio files and a local HTTP server for the data tests (never the real datasets)."""

from __future__ import annotations

import io
import re
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def make_sine(freq: float, sample_rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    """A float32 sine of ``freq`` Hz."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def sine() -> Callable[..., np.ndarray]:
    """``sine(freq, sample_rate, seconds, amplitude=0.5)`` -> float32 waveform."""
    return make_sine


@pytest.fixture
def write_audio() -> Callable[..., Path]:
    """``write_audio(path, seconds=..., rate=..., freq=..., channels=1, **soundfile kwargs)``."""

    def write(
        path: Path,
        seconds: float = 0.5,
        rate: int = 8000,
        freq: float = 440.0,
        channels: int = 1,
        **kwargs: object,
    ) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        wave = make_sine(freq, rate, seconds)
        data = wave if channels == 1 else np.stack([wave] * channels, axis=1)
        sf.write(path, data, rate, **kwargs)  # type: ignore[arg-type]
        return path

    return write


@pytest.fixture
def fsdd_folder(tmp_path: Path, write_audio: Callable[..., Path]) -> Path:
    """A folder of FSDD-style names: digits 0-2, speakers ann/bob/cy, two takes, 8 kHz."""
    root = tmp_path / "recordings"
    for d in range(3):
        for s, speaker in enumerate(("ann", "bob", "cy")):
            for take in range(2):
                seconds = 0.25 + 0.05 * (d + s + take)
                write_audio(root / f"{d}_{speaker}_{take}.wav", seconds, 8000, 200 + 100 * d)
    return root


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


def make_tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def tar_gz() -> Callable[[dict[str, bytes]], bytes]:
    """``tar_gz({name: data})`` -> the bytes of a gzipped tar holding those files."""
    return make_tar_gz
