"""Download files over HTTP and extract archives, safely.

A download goes to ``<dest>.part`` (a broken download resumes with an HTTP
``Range`` request), is checked against a known md5 or sha256 and renamed.
A file already at ``<dest>`` that fails the check is renamed aside to
``<dest>.bad-<hash>``, never deleted, and downloaded again.
Archives (tar of any compression, zip) are extracted so that no member is
written outside the target folder; links and device files are not
extracted, and a marker file records a finished extraction.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import logging
import os
import re
import shutil
import socket
import stat
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO

from cpckit.errors import ConfigError, DataError

__all__ = [
    "download",
    "extract",
    "extraction_marker",
    "file_checksum",
    "verify_checksum",
]

log = logging.getLogger(__name__)

_RETRY_HTTP = {408, 425, 429, 500, 502, 503, 504}
_CHUNK = 1 << 16


# ----------------------------------------------------------------------------- checksums


def _parse_checksum(checksum: str) -> tuple[str, str]:
    text = checksum.strip().lower()
    algo, _, digest = text.partition(":")
    if not digest:
        algo, digest = {32: "md5", 64: "sha256"}.get(len(text), ""), text
    if algo not in ("md5", "sha256") or not re.fullmatch(r"[0-9a-f]+", digest):
        raise ConfigError(
            f"checksum {checksum!r} is not valid: expected 'md5:<32 hex>' or 'sha256:<64 hex>'"
        )
    if len(digest) != {"md5": 32, "sha256": 64}[algo]:
        raise ConfigError(f"checksum {checksum!r} has the wrong length for {algo}")
    return algo, digest


def file_checksum(path: str | os.PathLike[str], algo: str = "md5") -> str:
    """Hex digest of a file (``"md5"`` or ``"sha256"``), read in 1 MiB blocks."""
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_checksum(path: str | os.PathLike[str], checksum: str) -> None:
    """Check a file against ``"md5:<hex>"`` / ``"sha256:<hex>"`` (or a bare 32/64-digit hex).

    Raises:
        DataError: the digest differs (naming the file and both digests).
    """
    algo, want = _parse_checksum(checksum)
    got = file_checksum(path, algo)
    if got != want:
        raise DataError(f"checksum mismatch for {path}: expected {algo} {want}, got {got}")


# ----------------------------------------------------------------------------- download


class _Retry(Exception):
    """A broken or inconsistent transfer that another attempt may finish."""


def _unreachable(err: BaseException) -> str | None:
    """Why the host cannot be reached at all (no network, unknown host, refused), else None.

    Such a failure is not a broken transfer: retrying it only makes the user wait.
    """
    reason = err.reason if isinstance(err, urllib.error.URLError) else err
    if isinstance(reason, socket.gaierror):
        return f"the host is unknown or there is no network ({reason.strerror or reason})"
    if isinstance(reason, ConnectionRefusedError):
        return "the connection was refused"
    if isinstance(reason, OSError) and reason.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"there is no route to the host ({reason.strerror})"
    return None


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """``(start, total)`` of a ``Content-Range: bytes a-b/total`` (or ``bytes */total``) header."""
    m = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", value or "")
    if m is None:
        return None, None
    start = int(m.group(1)) if m.group(1) is not None else None
    total = int(m.group(2)) if m.group(2) != "*" else None
    return start, total


def _fetch(url: str, part: Path, *, progress: bool, timeout: float, label: str) -> None:
    """Download ``url`` into ``part``, continuing from its current size when the server allows."""
    from tqdm.auto import tqdm

    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "cpckit"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:
            _, total = _content_range(err.headers.get("Content-Range"))
            if total == have:
                return  # the .part file already holds the whole file
            part.unlink()
            raise _Retry(f"the server rejected resuming at byte {have}; starting again") from None
        raise
    with response:
        mode = "wb"
        if have and response.status == 206:
            start, _ = _content_range(response.headers.get("Content-Range"))
            if start != have:
                part.unlink()
                raise _Retry(f"the server resumed at byte {start}, not {have}; starting again")
            mode = "ab"
        else:
            have = 0
        length_header = response.headers.get("Content-Length")
        length = int(length_header) if length_header is not None else None
        got = 0
        with (
            open(part, mode) as f,
            tqdm(
                total=None if length is None else have + length,
                initial=have,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=label,
                disable=not progress,
            ) as bar,
        ):
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                f.write(chunk)
                got += len(chunk)
                bar.update(len(chunk))
        if length is not None and got < length:
            raise _Retry(f"the connection closed after {have + got} of {have + length} bytes")


def _set_aside(path: Path, digest: str) -> Path:
    """Rename ``path`` to ``<name>.bad-<first 8 hex of digest>`` next to it, never over a file.

    A file that fails its checksum may be one the user put there (an archive
    copied by hand for a machine without internet), so it is kept for them
    to look at, not deleted; a second bad copy with the same digest prefix
    gets ``.1``, ``.2``, ...
    """
    base = f"{path.name}.bad-{digest[:8]}"
    target = path.with_name(base)
    n = 0
    while target.exists() or target.is_symlink():
        n += 1
        target = path.with_name(f"{base}.{n}")
    os.rename(path, target)
    return target


def _check_existing(dest: Path, checksum: str) -> tuple[bool, str]:
    """Is ``dest`` (an existing file) the right one? If not, set it aside: ``(ok, note)``.

    The note (for a later error) says what did not match and where the file went.
    """
    algo, want = _parse_checksum(checksum)
    got = file_checksum(dest, algo)
    if got == want:
        log.info("%s is already downloaded and verified", dest)
        return True, ""
    try:
        moved = _set_aside(dest, got)
    except OSError as err:
        raise DataError(
            f"{dest} does not match its checksum (expected {algo} {want}, got {got}) and could "
            f"not be moved aside ({err.strerror or err}): move or delete it, then run prepare "
            "again"
        ) from None
    note = (
        f"{dest} did not match its checksum (expected {algo} {want}, got {got}) and was moved "
        f"to {moved}"
    )
    log.warning("%s; downloading it again", note)
    return False, note


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    checksum: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
    retries: int = 3,
    retry_wait: float = 1.0,
) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming broken transfers.

    An existing ``dest`` that passes the checksum (or any existing ``dest``
    when there is none) is kept. One that fails it is renamed to
    ``<name>.bad-<hash>`` (never deleted: the user may have put it there,
    and never over another file), with a warning naming both checksums, and
    the file is downloaded again; when that fails too, the error says what
    happened to the file. An existing ``dest.part`` is continued with an
    HTTP ``Range`` request (a server that ignores it sends the whole file
    again). A transfer that breaks is resumed up to ``retries`` times,
    waiting ``retry_wait * 2**attempt`` seconds between attempts.

    Raises:
        DataError: the download fails (after the retries) or the checksum
            of the download differs (the download is then deleted).
    """
    dest = Path(dest)
    if checksum is not None:
        _parse_checksum(checksum)
    note = ""
    if dest.is_file():
        if checksum is None:
            log.info("%s is already downloaded", dest)
            return dest
        ok, note = _check_existing(dest, checksum)
        if ok:
            return dest
    try:
        _transfer(url, dest, checksum, progress, timeout, retries, retry_wait)
    except DataError as err:
        if not note:
            raise
        raise DataError(f"{err}; before that, {note}") from None
    return dest


def _transfer(
    url: str,
    dest: Path,
    checksum: str | None,
    progress: bool,
    timeout: float,
    retries: int,
    retry_wait: float,
) -> None:
    """Fetch ``url`` into ``dest.part`` with retries, check it and rename it to ``dest``."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(
            f"cannot create the folder {dest.parent} to download {dest.name} into: "
            f"{err.strerror or err}"
        ) from None
    part = dest.with_name(dest.name + ".part")
    attempt = 0
    while True:
        try:
            _fetch(url, part, progress=progress, timeout=timeout, label=dest.name)
            break
        except urllib.error.HTTPError as err:
            if err.code not in _RETRY_HTTP or attempt >= retries:
                raise DataError(
                    f"could not download {url}: HTTP {err.code} {err.reason} "
                    "(check the URL or pass base_url= to use a mirror)"
                ) from None
            reason: object = f"HTTP {err.code}"
        except (_Retry, urllib.error.URLError, http.client.HTTPException, OSError) as err:
            why_not = None if isinstance(err, _Retry) else _unreachable(err)
            if why_not is not None:
                raise DataError(
                    f"could not download {url}: {why_not}; on a machine without internet, put "
                    f"{dest.name} (from that URL) in {dest.parent} and run prepare again, or use "
                    "a mirror (--base-url, base_url=)"
                ) from None
            if attempt >= retries:
                why = err.reason if isinstance(err, urllib.error.URLError) else err
                raise DataError(
                    f"could not download {url} after {attempt + 1} attempts: {why} "
                    f"(run prepare again to resume from {part}, or pass base_url= to use a mirror)"
                ) from None
            reason = err
        attempt += 1
        log.warning("download of %s broke (%s); resuming (attempt %d)", url, reason, attempt + 1)
        time.sleep(retry_wait * 2**attempt)
    if checksum is not None:
        try:
            verify_checksum(part, checksum)
        except DataError as err:
            part.unlink()  # our own download, not a file the user put there
            raise DataError(
                f"{err} (downloaded from {url}; the file was deleted: run prepare again, or "
                "pass checksums={name: None} to skip the check)"
            ) from None
    os.replace(part, dest)


# ----------------------------------------------------------------------------- extraction


def _safe_target(dest: Path, name: str, archive: Path) -> Path:
    p = PurePosixPath(name.replace("\\", "/"))
    parts = [x for x in p.parts if x not in ("", ".")]
    if (
        p.is_absolute()
        or ".." in parts
        or not parts
        or (parts and re.match(r"^[A-Za-z]:", parts[0]) is not None)
    ):
        raise DataError(
            f"{archive}: member {name!r} would be written outside {dest}; not extracting"
        )
    target = dest.joinpath(*parts)
    if not target.resolve().is_relative_to(dest.resolve()):
        raise DataError(
            f"{archive}: member {name!r} would be written outside {dest}; not extracting"
        )
    return target


def _write_member(source: IO[bytes], target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as out:
        shutil.copyfileobj(source, out, length=1 << 20)


def extraction_marker(dest: Path, archive_name: str) -> Path:
    """The file :func:`extract` leaves in ``dest`` once ``archive_name`` is extracted there."""
    return dest / f".cpckit-extracted-{archive_name}"


def extract(
    archive: str | os.PathLike[str], dest: str | os.PathLike[str], *, progress: bool = False
) -> Path:
    """Extract a tar (any compression) or zip archive into ``dest``, safely.

    Only regular files and folders are written; a member with an absolute
    path or ``..`` is refused; links and device files are skipped. A marker
    file in ``dest`` records the extraction, so a second call does nothing.

    Raises:
        DataError: the file is not a tar or zip archive, or a member would land outside ``dest``.
    """
    from tqdm.auto import tqdm

    src, out = Path(archive), Path(dest)
    marker = extraction_marker(out, src.name)
    if marker.exists():
        log.info("%s is already extracted in %s", src.name, out)
        return out
    out.mkdir(parents=True, exist_ok=True)
    skipped = 0
    if zipfile.is_zipfile(src):
        with zipfile.ZipFile(src) as zf:
            infos = zf.infolist()
            for info in infos:  # check every name before writing anything
                _safe_target(out, info.filename, src)
            for info in tqdm(infos, desc=f"extracting {src.name}", disable=not progress):
                target = _safe_target(out, info.filename, src)
                kind = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip gives no type
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                elif kind and kind != stat.S_IFREG:
                    skipped += 1
                else:
                    with zf.open(info) as zsource:
                        _write_member(zsource, target)
    elif tarfile.is_tarfile(src):
        with tarfile.open(src, "r:*") as tf:
            members = tf.getmembers()
            for member in members:
                _safe_target(out, member.name, src)
            for member in tqdm(members, desc=f"extracting {src.name}", disable=not progress):
                target = _safe_target(out, member.name, src)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                elif member.isfile():
                    source = tf.extractfile(member)
                    if source is None:
                        skipped += 1
                        continue
                    with source:
                        _write_member(source, target)
                else:
                    skipped += 1
    else:
        raise DataError(f"{src} is neither a tar nor a zip archive")
    if skipped:
        log.warning("%s: skipped %d links or special files", src.name, skipped)
    marker.write_text(f"{src.name}\n", encoding="utf-8")
    return out
