"""Download and prepare public datasets: FSDD, LibriSpeech subsets, CIFAR-10 image folders.

Each archive is downloaded to ``root/downloads/<name>.part`` (a broken
download resumes with an HTTP ``Range`` request), checked against a known
md5 or sha256, renamed, and extracted safely (no member may be written
outside the target folder; links and device files are not extracted).
Finished steps are not repeated: an extracted archive leaves a marker file,
and CIFAR-10's image folders record the options they were written with.
An archive already in ``root/downloads`` is used when it passes its
checksum and kept after extraction (it is the user's); one that fails is
renamed aside to ``<name>.bad-<hash>`` and downloaded again.
CIFAR-10 is laid out as the EE782 project's ``prepare_cifar10.py`` does it:
``root/cifar10_raw/`` for the archive, ``root/images/class0/00000.png``...

Downloading and extracting are :mod:`cpckit.data.download`'s; reading
CIFAR-10's batches is :mod:`cpckit.data.cifar10`'s.

The base URL of each source is in :data:`BASE_URLS` and can be overridden
per call with ``base_url=`` (e.g. a local mirror); known checksums are in
:data:`CHECKSUMS` and can be overridden with ``checksums={archive: value}``
(``None`` skips the check).
"""

from __future__ import annotations

import inspect
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cpckit.data.cifar10 import (
    CIFAR10_CLASSES,
    DEFAULT_CLASSES,
    DEFAULT_MAX_PER_CLASS,
    class_folder,
    class_labels,
    load_batch,
    write_class_folders,
)
from cpckit.data.download import download, extract, extraction_marker
from cpckit.errors import ConfigError, DataError

__all__ = [
    "BASE_URLS",
    "CHECKSUMS",
    "prepare",
    "prepare_cifar10",
    "prepare_fsdd",
    "prepare_librispeech",
    "prepare_main",
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


# ----------------------------------------------------------------------------- datasets


def _checksum_for(name: str, checksums: Mapping[str, str | None] | None) -> str | None:
    if checksums is not None and name in checksums:
        return checksums[name]
    known = CHECKSUMS.get(name)
    if known is None:
        log.warning("no known checksum for %s: it is downloaded unchecked", name)
    return known


def _check_choices(arg: str, chosen: Sequence[str], valid: Sequence[str], what: str) -> None:
    """Raise ConfigError unless ``chosen`` is non-empty and each is in ``valid`` (``what``: one)."""
    if not chosen:
        raise ConfigError(f"{arg} is empty: choose from {', '.join(valid)}")
    for name in chosen:
        if name not in valid:
            raise ConfigError(f"{arg}: {name!r} is not {what}; valid: {', '.join(valid)}")


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
    if extraction_marker(root, name).exists():
        log.info("%s is already extracted in %s", name, root)
        return root
    base = (base_url if base_url is not None else BASE_URLS[source]).rstrip("/")
    dest = root / "downloads" / name
    before = dest.stat() if dest.is_file() else None
    archive = download(
        f"{base}/{name}",
        dest,
        checksum=_checksum_for(name, checksums),
        progress=progress,
    )
    extract(archive, root, progress=progress)
    if keep_archive:
        return root
    if before is not None and os.path.samestat(before, archive.stat()):
        # put there before this call (by hand, for a machine without internet): not ours to delete
        log.info("%s was there before prepare: it is kept", archive)
    else:
        archive.unlink()
    return root


def _check_root(root: Path) -> None:
    """Make ``root`` or stop with one line naming it: a file, under a file, or not writable.

    Left to the download, these would surface as a ``NotADirectoryError`` or
    ``PermissionError`` traceback from deep inside it.
    """
    from cpckit.paths import folder_problem

    problem = folder_problem(root)
    if problem is not None and problem[0] != "unwritable":
        kind, existing = problem
        where = "is a file" if kind == "file" else f"is under {existing}, which is a file"
        raise DataError(
            f"root {root} {where}, not a folder: give a folder to put the dataset in (--root)"
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"cannot create the root folder {root}: {err.strerror or err}") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise DataError(
            f"root {root} is not writable: give a folder you can write to (--root), or change "
            "its permissions"
        )


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
    _check_choices("subsets", subsets, LIBRISPEECH_SUBSETS, "a LibriSpeech subset")
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


def prepare_cifar10(
    root: str | os.PathLike[str],
    *,
    classes: Sequence[str | int] | None = None,
    max_per_class: int | None = DEFAULT_MAX_PER_CLASS,
    max_test_per_class: int | None = None,
    test: bool = True,
    base_url: str | None = None,
    checksums: Mapping[str, str | None] | None = None,
    progress: bool = True,
    keep_archive: bool = False,
) -> Path:
    """Download CIFAR-10 (python version) and write PNG image folders, one per class.

    The layout is the EE782 project's (``prepare_cifar10.py``): the archive
    and its batches in ``root/cifar10_raw/``, the training images of each
    label in ``root/images/class<label>/00000.png, ...`` and, with ``test``,
    the test batch's in ``root/images_test/class<label>/``, in the batches'
    order, at most ``max_per_class`` (``max_test_per_class``) per class;
    ``None`` keeps all (5000 training, 1000 test images per class). By
    default the project's pair is prepared: 0 airplane and 1 automobile,
    2000 training images each. ``images/.cpckit-prepared.json`` records the
    options, the counts and each folder's class name; folders already
    written with the same options are kept as they are.

    Args:
        classes: labels 0-9 or class names (``[0, 1]``, ``["airplane", "automobile"]``).

    Returns:
        ``root/images``.

    Raises:
        ConfigError: an unknown class or a non-positive maximum.
    """
    if isinstance(classes, (str, int)):
        classes = [classes]
    labels = class_labels(DEFAULT_CLASSES if classes is None else classes, "classes")
    for arg, value in (
        ("max_per_class", max_per_class),
        ("max_test_per_class", max_test_per_class),
    ):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ConfigError(f"{arg} = {value!r} must be a positive whole number or None")
    out = Path(root)
    images, images_test = out / "images", out / "images_test"
    options = {
        "classes": labels,
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
    raw = out / "cifar10_raw"
    _fetch_archive(
        "cifar10",
        "cifar-10-python.tar.gz",
        raw,
        base_url=base_url,
        checksums=checksums,
        progress=progress,
        keep_archive=keep_archive,
    )
    batches = raw / "cifar-10-batches-py"
    meta = load_batch(batches / "batches.meta")
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in meta.get("label_names", [])]
    for label in labels:
        found = names[label] if label < len(names) else None
        if found != CIFAR10_CLASSES[label]:
            raise DataError(
                f"{batches / 'batches.meta'} names label {label} {found!r}, not "
                f"{CIFAR10_CLASSES[label]!r}: this is not CIFAR-10's python archive"
            )
    train_files = sorted(batches.glob("data_batch_*"))
    if not train_files:
        raise DataError(f"no data_batch_* files in {batches}")
    folders = {label: class_folder(label) for label in labels}
    counts = write_class_folders(train_files, images, folders, max_per_class)
    test_counts: dict[str, int] = {}
    if test:
        test_counts = write_class_folders(
            [batches / "test_batch"], images_test, folders, max_test_per_class
        )
    record.write_text(
        json.dumps(
            {
                "options": options,
                "classes": {folders[label]: CIFAR10_CLASSES[label] for label in labels},
                "train": counts,
                "test": test_counts,
            },
            indent=2,
        ),
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
        DataError: ``root`` is a file, under a file or not writable, or a download fails.
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
    _check_root(Path(root))
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
