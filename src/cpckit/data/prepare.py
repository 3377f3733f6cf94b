"""Download and prepare public datasets: FSDD, LibriSpeech subsets, CIFAR-10 image folders.

Each archive is downloaded to ``root/downloads/<name>.part`` (a broken
download resumes with an HTTP ``Range`` request), checked against a known
md5 or sha256, renamed, and extracted safely (no member may be written
outside the target folder; links and device files are not extracted).
Finished steps are not repeated: an extracted archive leaves a marker file,
and CIFAR-10's image folders record the options they were written with.

The base URL of each source is in :data:`BASE_URLS` and can be overridden
per call with ``base_url=`` (e.g. a local mirror); known checksums are in
:data:`CHECKSUMS` and can be overridden with ``checksums={archive: value}``
(``None`` skips the check).
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import inspect
import json
import logging
import os
import pickle
import re
import shutil
import socket
import stat
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import IO, Any

import numpy as np

from cpckit.errors import ConfigError, DataError

__all__ = [
    "BASE_URLS",
    "CHECKSUMS",
    "CIFAR10_CLASSES",
    "download",
    "extract",
    "file_checksum",
    "prepare",
    "prepare_cifar10",
    "prepare_fsdd",
    "prepare_librispeech",
    "prepare_main",
    "verify_checksum",
]

log = logging.getLogger(__name__)

BASE_URLS: dict[str, str] = {
    "fsdd": "https://github.com/Jakobovski/free-spoken-digit-dataset/archive",
    "librispeech": "https://www.openslr.org/resources/12",
    "cifar10": "https://www.cs.toronto.edu/~kriz",
}
"""Where each source's archives are downloaded from (``<base>/<archive name>``)."""

CHECKSUMS: dict[str, str] = {
    # CIFAR-10, python version (https://www.cs.toronto.edu/~kriz/cifar.html)
    "cifar-10-python.tar.gz": "md5:c58f30108f718f92721af3b95e74349a",
    # LibriSpeech (https://www.openslr.org/resources/12/md5sum.txt)
    "dev-clean.tar.gz": "md5:42e2234ba48799c1f50f24a7926300a1",
    "dev-other.tar.gz": "md5:c8d0bcc9cca99d4f8b62fcc847357931",
    "test-clean.tar.gz": "md5:32fa31d27d2e1cad72775fee3f4849a9",
    "test-other.tar.gz": "md5:fb5a50374b501bb3bac4815ee91d3135",
    "train-clean-100.tar.gz": "md5:2a93770f6d5c6c964bc36631d331a522",
    "train-clean-360.tar.gz": "md5:c0e676e450a7ff2f54aeade5171606fa",
    "train-other-500.tar.gz": "md5:d1a0fd59409feb2c614ce4d30c387708",
    # Free Spoken Digit Dataset, release v1.0.9 (GitHub's tag archive)
    "v1.0.9.tar.gz": "sha256:8bc44cde129d505cbbb6b365c09f80c663f2aa77578afc634e6141a2f87100c0",
}
"""Known checksums of the public archives, ``"<md5|sha256>:<hex>"`` by archive name."""

CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
"""CIFAR-10 class names in label order."""

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
    when there is none) is kept. An existing ``dest.part`` is continued with
    an HTTP ``Range`` request (a server that ignores it sends the whole file
    again). A transfer that breaks is resumed up to ``retries`` times, waiting
    ``retry_wait * 2**attempt`` seconds between attempts.

    Raises:
        DataError: the download fails (after the retries) or the checksum
            differs (the downloaded file is then deleted).
    """
    dest = Path(dest)
    if checksum is not None:
        _parse_checksum(checksum)
    if dest.is_file():
        if checksum is None:
            log.info("%s is already downloaded", dest)
            return dest
        try:
            verify_checksum(dest, checksum)
            log.info("%s is already downloaded and verified", dest)
            return dest
        except DataError:
            log.warning("%s does not match its checksum; downloading it again", dest)
            dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
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
            part.unlink()
            raise DataError(
                f"{err} (downloaded from {url}; the file was deleted: run prepare again, or "
                "pass checksums={name: None} to skip the check)"
            ) from None
    os.replace(part, dest)
    return dest


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


def _marker(dest: Path, archive_name: str) -> Path:
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
    marker = _marker(out, src.name)
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


# ----------------------------------------------------------------------------- datasets


def _checksum_for(name: str, checksums: Mapping[str, str | None] | None) -> str | None:
    if checksums is not None and name in checksums:
        return checksums[name]
    known = CHECKSUMS.get(name)
    if known is None:
        log.warning("no known checksum for %s: it is downloaded unchecked", name)
    return known


def _fetch_archive(
    source: str,
    name: str,
    root: Path,
    *,
    base_url: str | None,
    checksums: Mapping[str, str | None] | None,
    progress: bool,
    keep_archive: bool,
) -> Path:
    """Download ``<base>/<name>`` into ``root/downloads`` and extract it into ``root``."""
    if _marker(root, name).exists():
        log.info("%s is already extracted in %s", name, root)
        return root
    base = (base_url if base_url is not None else BASE_URLS[source]).rstrip("/")
    archive = download(
        f"{base}/{name}",
        root / "downloads" / name,
        checksum=_checksum_for(name, checksums),
        progress=progress,
    )
    extract(archive, root, progress=progress)
    if not keep_archive:
        archive.unlink()
    return root


def prepare_fsdd(
    root: str | os.PathLike[str],
    *,
    version: str = "1.0.9",
    base_url: str | None = None,
    checksums: Mapping[str, str | None] | None = None,
    progress: bool = True,
    keep_archive: bool = False,
) -> Path:
    """Download the Free Spoken Digit Dataset release ``version``; return its ``recordings`` folder.

    File names are ``{digit}_{speaker}_{index}.wav`` (8 kHz mono), labels via
    :data:`cpckit.data.labels.NAME_PATTERNS` ``["fsdd"]``.
    """
    out = Path(root)
    name = f"v{version}.tar.gz"
    _fetch_archive(
        "fsdd",
        name,
        out,
        base_url=base_url,
        checksums=checksums,
        progress=progress,
        keep_archive=keep_archive,
    )
    found = sorted(out.glob("*/recordings"))
    if not found:
        raise DataError(f"the FSDD archive {name} has no recordings/ folder under {out}")
    return found[0]


def prepare_librispeech(
    root: str | os.PathLike[str],
    *,
    subsets: Sequence[str] = ("train-clean-100",),
    base_url: str | None = None,
    checksums: Mapping[str, str | None] | None = None,
    progress: bool = True,
    keep_archive: bool = False,
) -> Path:
    """Download LibriSpeech subsets; return the ``LibriSpeech`` folder holding them.

    Raises:
        ConfigError: an unknown subset name.
    """
    from cpckit.data.librispeech import LIBRISPEECH_SUBSETS

    if isinstance(subsets, str):
        subsets = [subsets]
    if not subsets:
        raise ConfigError(f"subsets is empty: choose from {', '.join(LIBRISPEECH_SUBSETS)}")
    for subset in subsets:
        if subset not in LIBRISPEECH_SUBSETS:
            raise ConfigError(
                f"subsets: {subset!r} is not a LibriSpeech subset; valid: "
                f"{', '.join(LIBRISPEECH_SUBSETS)}"
            )
    out = Path(root)
    for subset in subsets:
        _fetch_archive(
            "librispeech",
            f"{subset}.tar.gz",
            out,
            base_url=base_url,
            checksums=checksums,
            progress=progress,
            keep_archive=keep_archive,
        )
    return out / "LibriSpeech"


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles CIFAR-10 batches only: dicts, lists and numpy arrays, nothing callable else."""

    _ALLOWED = {
        ("_codecs", "encode"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module.startswith("numpy.core.") and hasattr(np, "_core"):
            module = "numpy._core." + module.removeprefix("numpy.core.")
        return super().find_class(module, name)


def _load_batch(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise DataError(f"CIFAR-10 batch {path} is missing (the archive is incomplete)")
    try:
        with open(path, "rb") as f:
            raw = _BatchUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
        raise DataError(f"CIFAR-10 batch {path} could not be read: {err}") from None
    if not isinstance(raw, dict):
        raise DataError(f"CIFAR-10 batch {path} is not a dict")
    return {k.decode() if isinstance(k, bytes) else str(k): v for k, v in raw.items()}


def _cifar_images(batch: dict[str, Any], path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 32, 32, 3)`` uint8 images and ``(N,)`` labels of a batch."""
    try:
        data = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch.get("labels", batch.get("fine_labels")), dtype=np.int64)
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(f"CIFAR-10 batch {path} lacks 'data' or 'labels': {err}") from None
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DataError(
            f"CIFAR-10 batch {path}: expected data (N, 3072) and N labels, got "
            f"{data.shape} and {labels.shape}"
        )
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _write_class_folders(
    batch_files: list[Path],
    out: Path,
    class_names: list[str],
    wanted: list[str],
    limit: int | None,
) -> dict[str, int]:
    from PIL import Image

    if out.exists():
        shutil.rmtree(out)
    counts = dict.fromkeys(wanted, 0)
    for c in wanted:
        (out / c).mkdir(parents=True, exist_ok=True)
    for path in batch_files:
        images, labels = _cifar_images(_load_batch(path), path)
        for image, label in zip(images, labels):
            if not 0 <= label < len(class_names):
                raise DataError(f"CIFAR-10 batch {path}: label {label} has no class name")
            name = class_names[label]
            if name not in counts or (limit is not None and counts[name] >= limit):
                continue
            Image.fromarray(image).save(out / name / f"{counts[name]:05d}.png")
            counts[name] += 1
        if limit is not None and all(n >= limit for n in counts.values()):
            break
    return counts


def prepare_cifar10(
    root: str | os.PathLike[str],
    *,
    classes: Sequence[str] | None = None,
    max_per_class: int | None = None,
    max_test_per_class: int | None = None,
    test: bool = True,
    base_url: str | None = None,
    checksums: Mapping[str, str | None] | None = None,
    progress: bool = True,
    keep_archive: bool = False,
) -> Path:
    """Download CIFAR-10 (python version) and write PNG image folders, one per class.

    Training images go to ``root/images/<class>/00000.png, ...`` and, with
    ``test``, the test batch to ``root/images_test/<class>/``, in the batches'
    order, at most ``max_per_class`` (``max_test_per_class``) per class.
    Folders already written with the same options are kept as they are.

    Returns:
        ``root/images``.

    Raises:
        ConfigError: an unknown class or a non-positive maximum.
    """
    wanted = list(CIFAR10_CLASSES) if classes is None else list(dict.fromkeys(classes))
    if not wanted:
        raise ConfigError(f"classes is empty: choose from {', '.join(CIFAR10_CLASSES)}")
    for c in wanted:
        if c not in CIFAR10_CLASSES:
            raise ConfigError(
                f"classes: {c!r} is not a CIFAR-10 class; valid: {', '.join(CIFAR10_CLASSES)}"
            )
    for arg, value in (
        ("max_per_class", max_per_class),
        ("max_test_per_class", max_test_per_class),
    ):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ConfigError(f"{arg} = {value!r} must be a positive whole number or None")
    out = Path(root)
    images, images_test = out / "images", out / "images_test"
    options = {
        "classes": wanted,
        "max_per_class": max_per_class,
        "max_test_per_class": max_test_per_class,
        "test": test,
    }
    record = images / ".cpckit-prepared.json"
    if record.is_file():
        try:
            done = json.loads(record.read_text(encoding="utf-8")).get("options")
        except (ValueError, AttributeError):
            done = None
        if done == options:
            log.info("CIFAR-10 image folders in %s are already written", images)
            return images
    _fetch_archive(
        "cifar10",
        "cifar-10-python.tar.gz",
        out,
        base_url=base_url,
        checksums=checksums,
        progress=progress,
        keep_archive=keep_archive,
    )
    batches = out / "cifar-10-batches-py"
    meta = _load_batch(batches / "batches.meta")
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in meta.get("label_names", [])]
    if not names:
        raise DataError(f"{batches / 'batches.meta'} has no label_names")
    missing = [c for c in wanted if c not in names]
    if missing:
        raise DataError(f"{batches / 'batches.meta'} has no class {missing[0]!r}")
    train_files = sorted(batches.glob("data_batch_*"))
    if not train_files:
        raise DataError(f"no data_batch_* files in {batches}")
    counts = _write_class_folders(train_files, images, names, wanted, max_per_class)
    test_counts: dict[str, int] = {}
    if test:
        test_counts = _write_class_folders(
            [batches / "test_batch"], images_test, names, wanted, max_test_per_class
        )
    record.write_text(
        json.dumps({"options": options, "train": counts, "test": test_counts}, indent=2),
        encoding="utf-8",
    )
    log.info("wrote CIFAR-10 images: train %s, test %s", counts, test_counts)
    return images


_PREPARERS: dict[str, Callable[..., Path]] = {
    "cifar10": prepare_cifar10,
    "fsdd": prepare_fsdd,
    "librispeech": prepare_librispeech,
}


def prepare(dataset: str, root: str | os.PathLike[str], **options: Any) -> Path:
    """Download and prepare ``"fsdd"``, ``"librispeech"`` or ``"cifar10"`` under ``root``.

    Options are those of :func:`prepare_fsdd`, :func:`prepare_librispeech` and
    :func:`prepare_cifar10`.

    Returns:
        The folder to read: FSDD's recordings, the LibriSpeech folder, or CIFAR-10's images.

    Raises:
        ConfigError: an unknown dataset or option.
    """
    fn = _PREPARERS.get(dataset)
    if fn is None:
        raise ConfigError(f"dataset {dataset!r} is not valid: expected {', '.join(_PREPARERS)}")
    valid = [p for p in inspect.signature(fn).parameters if p != "root"]
    for key in options:
        if key not in valid:
            raise ConfigError(
                f"prepare {dataset}: option {key!r} is not valid; valid: {', '.join(valid)}"
            )
    return fn(root, **options)


def _cli_value(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key in ("classes", "subsets"):
        return [v.strip() for v in value.split(",") if v.strip()]
    if key in ("max_per_class", "max_test_per_class"):
        if value.lower() in ("none", ""):
            return None
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{key} = {value!r} must be a whole number") from None
    if key in ("test", "progress", "keep_archive"):
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ConfigError(f"{key} = {value!r} must be true or false")
        return value.lower() in ("true", "1", "yes")
    return value


def prepare_main(dataset: str, root: Path, **opts: Any) -> Path:
    """Command-line entry: like :func:`prepare`, with options given as strings allowed.

    Comma-separated ``classes`` / ``subsets`` become lists, counts become ints
    and flags booleans; options given as None are left at their defaults.
    Prints where the data is and returns that folder.
    """
    options = {k: _cli_value(k, v) for k, v in opts.items() if v is not None}
    path = prepare(dataset, root, **options)
    print(f"{dataset} is ready in {path}")
    return path
