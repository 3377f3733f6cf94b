"""Preparing FSDD, LibriSpeech and CIFAR-10 from archives served by a local HTTP server."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image

from cpckit.data.audio import AudioFolderDataset
from cpckit.data.download import download
from cpckit.data.librispeech import LibriSpeechDataset
from cpckit.data.prepare import prepare, prepare_main
from cpckit.errors import ConfigError, DataError
from helpers.archives import TarGz, cifar_archive, cifar_pixels, flac_bytes, md5, wav_bytes

if TYPE_CHECKING:
    from helpers.server import FileServer


def test_prepare_fsdd_downloads_extracts_and_loads(
    server: FileServer, tmp_path: Path, tar_gz: TarGz
):
    top = "free-spoken-digit-dataset-1.0.9/recordings"
    archive = tar_gz(
        {f"{top}/{d}_{s}_0.wav": wav_bytes() for d in range(2) for s in ("ann", "bob")}
    )
    server.files["/v1.0.9.tar.gz"] = archive
    checksums = {"v1.0.9.tar.gz": md5(archive)}
    path = prepare("fsdd", tmp_path, base_url=server.url, checksums=checksums, progress=False)
    assert path == tmp_path / top
    ds = AudioFolderDataset(
        path, 16000, label_regex=r"(?P<d>\d)_(?P<s>[a-z]+)_\d+\.wav", label_key="d"
    )
    assert len(ds) == 4 and ds.lengths.tolist() == [4800] * 4
    assert not (tmp_path / "downloads/v1.0.9.tar.gz").exists()  # archive removed after extraction
    again = prepare("fsdd", tmp_path, base_url=server.url, checksums=checksums, progress=False)
    assert again == path and len(server.requests) == 1


def test_prepare_librispeech_subset(server: FileServer, tmp_path: Path, tar_gz: TarGz):
    archive = tar_gz(
        {
            "LibriSpeech/dev-clean/19/198/19-198-0001.flac": flac_bytes(),
            "LibriSpeech/dev-clean/84/121/84-121-0002.flac": flac_bytes(),
            "LibriSpeech/dev-clean/19/198/19-198.trans.txt": b"19-198-0001 HELLO\n",
        }
    )
    server.files["/dev-clean.tar.gz"] = archive
    root = prepare_main(
        "librispeech",
        tmp_path,
        subsets="dev-clean",
        base_url=server.url,
        checksums={"dev-clean.tar.gz": md5(archive)},
        progress="false",
    )
    assert root == tmp_path / "LibriSpeech"
    ds = LibriSpeechDataset(root, subsets=["dev-clean"])
    assert ds.utterance_ids == ["19-198-0001", "84-121-0002"] and ds.label_names == ["19", "84"]


def _serve_cifar(server: FileServer, tar_gz: TarGz) -> tuple[dict[str, object], np.ndarray]:
    """Serve the tiny CIFAR-10 archive; return the options that fetch it, and its training pixels."""
    members, train, _ = cifar_archive()
    archive = tar_gz(members)
    server.files["/cifar-10-python.tar.gz"] = archive
    opts: dict[str, object] = dict(
        base_url=server.url, checksums={"cifar-10-python.tar.gz": md5(archive)}, progress=False
    )
    return opts, train


def _pngs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.png"))


def test_prepare_cifar10_defaults_to_the_ee782_layout(
    server: FileServer, tmp_path: Path, tar_gz: TarGz
):
    opts, train = _serve_cifar(server, tar_gz)
    images = prepare("cifar10", tmp_path, **opts)
    assert images == tmp_path / "images"
    # airplane and automobile, all 5 of each (fewer than the 2000 asked for), in class<label>/
    assert sorted(p.name for p in images.iterdir() if p.is_dir()) == ["class0", "class1"]
    names = [f"{i:05d}.png" for i in range(5)]
    assert _pngs(images / "class0") == names and _pngs(images / "class1") == names
    # the second airplane is training image 3 (labels 0, 1, 2, 0, ...)
    np.testing.assert_array_equal(
        np.asarray(Image.open(images / "class0/00001.png")), cifar_pixels(train, 3)
    )
    assert (tmp_path / "cifar10_raw/cifar-10-batches-py/batches.meta").is_file()
    assert not (tmp_path / "cifar-10-batches-py").exists()
    record = json.loads((images / ".cpckit-prepared.json").read_text())
    assert record["options"]["classes"] == [0, 1] and record["options"]["max_per_class"] == 2000
    assert record["classes"] == {"class0": "airplane", "class1": "automobile"}
    assert record["train"] == {"class0": 5, "class1": 5}
    test_dir = tmp_path / "images_test"
    assert len(_pngs(test_dir / "class1")) == 3 and len(_pngs(test_dir / "class0")) == 2
    prepare("cifar10", tmp_path, **opts)  # same options: nothing to do
    assert len(server.requests) == 1


def test_prepare_cifar10_classes_by_label_or_name_and_a_maximum(
    server: FileServer, tmp_path: Path, tar_gz: TarGz
):
    opts, train = _serve_cifar(server, tar_gz)
    images = prepare(
        "cifar10", tmp_path, classes=["truck", 0, "1", "bird"], max_per_class=3, **opts
    )
    counts = {p.name: len(_pngs(p)) for p in images.iterdir() if p.is_dir()}
    assert counts == {"class0": 3, "class1": 3, "class2": 1, "class9": 1}
    np.testing.assert_array_equal(
        np.asarray(Image.open(images / "class9/00000.png")), cifar_pixels(train, 6)
    )
    # other options: the folders are written anew, nothing of the last ones is left
    prepare("cifar10", tmp_path, classes=["automobile"], max_per_class=None, test=False, **opts)
    assert sorted(p.name for p in images.iterdir() if p.is_dir()) == ["class1"]
    assert len(_pngs(images / "class1")) == 5
    assert len(server.requests) == 1  # the extracted batches are reused


def test_prepare_cifar10_refuses_an_archive_of_other_classes(
    server: FileServer, tmp_path: Path, tar_gz: TarGz
):
    members, _, _ = cifar_archive()
    members["cifar-10-batches-py/batches.meta"] = pickle.dumps(
        {b"label_names": [b"apple", b"aquarium_fish"]}, protocol=2
    )
    server.files["/cifar-10-python.tar.gz"] = tar_gz(members)
    with pytest.raises(
        DataError, match=r"names label 0 'apple', not 'airplane': this is not CIFAR-10's python"
    ):
        prepare(
            "cifar10",
            tmp_path,
            base_url=server.url,
            checksums={"cifar-10-python.tar.gz": None},
            progress=False,
        )


def test_prepare_cifar10_refuses_a_pickle_with_code(
    server: FileServer, tmp_path: Path, tar_gz: TarGz
):
    class Evil:
        def __reduce__(self) -> tuple[Callable[..., object], tuple[str]]:
            return (print, ("pwned",))

    members = {
        "cifar-10-batches-py/batches.meta": pickle.dumps({b"label_names": [b"airplane"]}),
        "cifar-10-batches-py/data_batch_1": pickle.dumps({b"data": Evil()}),
    }
    archive = tar_gz(members)
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
    valid = "valid: 0-9 or airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck$"
    with pytest.raises(ConfigError, match=r"^classes: 'plane' is not a CIFAR-10 class; " + valid):
        prepare("cifar10", tmp_path, classes=["plane"])
    with pytest.raises(ConfigError, match=r"^classes: 10 is not a CIFAR-10 class; " + valid):
        prepare("cifar10", tmp_path, classes=[0, 10])
    with pytest.raises(ConfigError, match=r"^classes is empty: choose from 0-9 or airplane"):
        prepare("cifar10", tmp_path, classes=[])
    with pytest.raises(ConfigError, match=r"^max_per_class = 0 must be a positive whole number"):
        prepare("cifar10", tmp_path, max_per_class=0)
    with pytest.raises(ConfigError, match=r"^checksum 'md5:xyz' is not valid"):
        download("http://127.0.0.1:9/x", tmp_path / "x", checksum="md5:xyz")


def _fsdd_archive(tar_gz: TarGz) -> bytes:
    top = "free-spoken-digit-dataset-1.0.9/recordings"
    return tar_gz({f"{top}/{d}_ann_0.wav": wav_bytes() for d in range(2)})


def test_prepare_keeps_an_archive_put_there_by_hand(
    server: FileServer, tmp_path: Path, tar_gz: TarGz
):
    archive = _fsdd_archive(tar_gz)
    mine = tmp_path / "downloads" / "v1.0.9.tar.gz"
    mine.parent.mkdir()
    mine.write_bytes(archive)
    checksums = {"v1.0.9.tar.gz": md5(archive)}
    path = prepare("fsdd", tmp_path, base_url=server.url, checksums=checksums, progress=False)
    assert sorted(p.name for p in path.iterdir()) == ["0_ann_0.wav", "1_ann_0.wav"]
    assert server.requests == [] and mine.read_bytes() == archive  # used, and not deleted


def test_prepare_sets_a_mismatching_archive_aside_and_downloads_it_again(
    server: FileServer, tmp_path: Path, tar_gz: TarGz
):
    archive = _fsdd_archive(tar_gz)
    server.files["/v1.0.9.tar.gz"] = archive
    mine = tmp_path / "downloads" / "v1.0.9.tar.gz"
    mine.parent.mkdir()
    mine.write_bytes(archive[:100])
    checksums = {"v1.0.9.tar.gz": md5(archive)}
    path = prepare("fsdd", tmp_path, base_url=server.url, checksums=checksums, progress=False)
    assert len(list(path.iterdir())) == 2 and len(server.requests) == 1
    aside = mine.with_name(f"v1.0.9.tar.gz.bad-{md5(archive[:100])[4:12]}")
    assert aside.read_bytes() == archive[:100]
    assert not mine.exists()  # the download, extracted, is ours to delete


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            "file",
            "root {root} is a file, not a folder: give a folder to put the dataset in (--root)",
        ),
        (
            "under",
            "root {root} is under {file}, which is a file, not a folder: give a folder to put the "
            "dataset in (--root)",
        ),
        (
            "readonly",
            "root {root} is not writable: give a folder you can write to (--root), or change its "
            "permissions",
        ),
    ],
)
def test_prepare_root_that_cannot_hold_the_dataset_is_one_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: str, message: str
):
    import cpckit.data.prepare as prepare_module

    file = tmp_path / "f"
    file.write_text("a file of the user's")
    root = {"file": file, "under": file / "sub", "readonly": tmp_path / "ro"}[make]
    if make == "readonly":  # tests may run as root, who can write anywhere
        monkeypatch.setattr(prepare_module.os, "access", lambda path, mode: False)
    with pytest.raises(DataError) as err:
        prepare("fsdd", root, progress=False)
    assert str(err.value) == message.format(root=root, file=file)
    assert file.read_text() == "a file of the user's"
