"""real_audio_bundle: a config and a folder of recordings -> the datasets of a run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from cpckit.build import load_checked_config, min_clip_samples
from cpckit.config import Config
from cpckit.data.audio_bundle import find_clips, real_audio_bundle
from cpckit.data.datamodule import build_datasets
from cpckit.data.labels import NAME_PATTERNS
from cpckit.data.librispeech import LibriSpeechDataset
from cpckit.errors import ConfigError, DataError

FSDD = [
    "data.use_mock_data=false",
    "data.sample_rate=8000",
    "data.full_duration=0.3",
    "audio_encoder.n_fft=200",
    "audio_encoder.win_length=200",
    "audio_encoder.hop_length=80",
    "model.prediction_steps=4",
    f"data.label_regex={NAME_PATTERNS['fsdd']}",
    "data.label_key=digit",
    "data.group_key=speaker",
    "data.test_fraction=0.25",
]


def _cfg(root: Path, *overrides: str) -> Config:
    return load_checked_config(None, [*FSDD, f"data.audio_root={root}", *overrides])


@pytest.fixture
def folder(tmp_path: Path, write_audio: Callable[..., Path]) -> Path:
    """2 speakers x 2 digits x 4 takes, 8 kHz, 0.2 s to 0.5 s."""
    root = tmp_path / "rec"
    for d in range(2):
        for speaker in ("ann", "bob"):
            for take in range(4):
                write_audio(
                    root / f"{d}_{speaker}_{take}.wav", 0.2 + 0.1 * take, 8000, 300 + 200 * d
                )
    return root


def test_bundle_has_windows_for_training_and_whole_clips_for_the_probe(folder: Path) -> None:
    cfg = _cfg(folder)
    bundle = build_datasets(cfg)
    assert len(bundle.train) == 12 and len(bundle.probe_test) == 4 and bundle.val is None
    assert bundle.label_names == ["0", "1"]
    item = bundle.train[0]
    assert item["audio"].shape == (1, 2400)  # 0.3 s at 8 kHz
    lengths = sorted(int(bundle.probe_train[i]["audio"].shape[1]) for i in range(12))
    assert lengths[0] == 1600 and lengths[-1] == 4000  # whole clips, 0.2 s to 0.5 s
    short = [bundle.train[i] for i in range(12) if int(bundle.train[i]["audio_length"]) < 2400]
    assert short and all(x["audio"].shape == (1, 2400) for x in short)  # padded
    train_paths = set(bundle.train.paths)
    assert train_paths == set(bundle.probe_train.paths)
    assert not train_paths & set(bundle.probe_test.paths)
    info = bundle.info
    assert info["clips"] == 16 and info["skipped files"] == 0 and info["train windows"] == 12
    assert info["window"].startswith("0.3 s = 2400 samples -> 31 latent steps, K = 4")
    assert info["probe"].startswith("'digit' on whole clips: 12 train, 4 test")


def test_split_is_seeded_by_train_seed(folder: Path) -> None:
    a = real_audio_bundle(_cfg(folder, "train.seed=1")).probe_test.paths
    b = real_audio_bundle(_cfg(folder, "train.seed=1")).probe_test.paths
    c = real_audio_bundle(_cfg(folder, "train.seed=2")).probe_test.paths
    assert a == b and a != c


def test_validation_windows_and_dropped_short_clips(folder: Path) -> None:
    bundle = real_audio_bundle(_cfg(folder, "data.val_fraction=0.25", "data.short_clips=drop"))
    assert bundle.val is not None and len(bundle.probe_train) == 8
    assert all(int(x) >= 2400 for x in bundle.train.lengths)
    assert bundle.info["dropped clips"] == len(bundle.probe_train) - len(bundle.train)
    assert bundle.info["dropped clips"] > 0


def test_group_split_holds_out_speakers(folder: Path) -> None:
    bundle = real_audio_bundle(_cfg(folder, "data.split=group", "data.test_fraction=0.5"))
    train_spk = set(bundle.probe_train.groups.tolist())
    test_spk = set(bundle.probe_test.groups.tolist())
    assert len(train_spk) == 1 and len(test_spk) == 1 and not train_spk & test_spk
    with pytest.raises(ConfigError, match="would be tested on classes it never saw"):
        real_audio_bundle(
            _cfg(folder, "data.split=group", "data.label_key=speaker", "data.test_fraction=0.5")
        )


def test_list_split(folder: Path, tmp_path: Path) -> None:
    names = sorted(p.name for p in folder.iterdir())
    train, test = tmp_path / "train.txt", tmp_path / "test.txt"
    train.write_text("\n".join(n for n in names if "_ann_" in n) + "\n")
    test.write_text("# held out\n" + "\n".join(n for n in names if "_bob_" in n) + "\n")
    bundle = real_audio_bundle(
        _cfg(folder, "data.split=list", f"data.split_lists=[{train},{test}]")
    )
    assert len(bundle.train) == 8 and len(bundle.probe_test) == 8
    with pytest.raises(
        ConfigError, match=r"data.split_lists = \[train, test\] or \[train, val, test\]"
    ):
        real_audio_bundle(_cfg(folder, "data.split=list", f"data.split_lists=[{train}]"))


@pytest.mark.parametrize(
    ("setup", "overrides", "error", "message"),
    [
        (
            "empty",
            [],
            DataError,
            r"^data.audio_root .* is empty: put wav, flac or ogg files in it$",
        ),
        ("missing", [], DataError, r"^data.audio_root .* does not exist$"),
        (
            "other",
            [],
            DataError,
            r"its 3 files are \.m4a \(2\), \.txt \(1\), none in a format soundfile reads",
        ),
        (
            "fsdd",
            [
                r"data.label_regex=(?P<word>[a-z]+)-\d+\.wav",
                "data.label_key=word",
                "data.group_key=null",
            ],
            DataError,
            r"^no file of the 16 in .* matches label_regex",
        ),
        (
            "fsdd",
            ["data.label_key=spk"],
            DataError,
            r"^data.label_key = 'spk' is not a named group of label_regex .*: its groups are digit, speaker$",
        ),
        (
            "fsdd",
            ["data.label_key=null"],
            ConfigError,
            r"^eval.probe = true needs data.label_key, the label to probe: one of digit, speaker, folder",
        ),
        (
            "fsdd",
            ["data.label_regex=null"],
            ConfigError,
            r"^data.label_key = 'digit' needs data.label_regex",
        ),
        (
            "fsdd",
            ["data.label_regex=(?P<d"],
            ConfigError,
            r"^data.label_regex = '\(\?P<d' is not a valid regex",
        ),
        ("fsdd", ["data.test_fraction=0"], ConfigError, r"probe-test split is empty"),
        (
            "fsdd",
            ["data.test_fraction=0.1"],
            ConfigError,
            r"^eval.tsne = true needs at least 4 probe-test clips, but the split gives 2 of 16",
        ),
    ],
)
def test_bad_input_is_one_clear_error(
    setup: str,
    overrides: list[str],
    error: type[Exception],
    message: str,
    folder: Path,
    tmp_path: Path,
) -> None:
    root = {
        "fsdd": folder,
        "empty": tmp_path / "empty",
        "missing": tmp_path / "nope",
        "other": tmp_path / "other",
    }[setup]
    if setup == "empty":
        root.mkdir()
        (root / ".hidden").write_text("x")
    if setup == "other":
        root.mkdir()
        for name in ("a.m4a", "b.m4a", "notes.txt"):
            (root / name).write_bytes(b"0000")
    with pytest.raises(error, match=message) as info:
        real_audio_bundle(_cfg(root, *overrides))
    assert "\n" not in str(info.value)


def test_no_labels_means_no_probe_and_says_so(folder: Path) -> None:
    cfg = _cfg(folder, "data.label_regex=null", "data.label_key=null", "data.group_key=null")
    bundle = real_audio_bundle(cfg)
    assert bundle.info["probe"].startswith("off: the clips have no labels")
    assert (bundle.probe_train.labels == -1).all()
    cfg = _cfg(folder, "data.label_key=null", "eval.probe=false")
    assert real_audio_bundle(cfg).info["probe"] == "off (eval.probe = false)"


def test_corrupt_file_is_skipped_with_a_warning(folder: Path) -> None:
    (folder / "1_bob_9.wav").write_bytes(b"RIFF not really a wave file")
    with pytest.warns(UserWarning, match=r"skipping unreadable audio file .*1_bob_9\.wav"):
        bundle = real_audio_bundle(_cfg(folder))
    assert bundle.info["skipped files"] == 1 and bundle.info["clips"] == 16


def test_other_formats_are_read_when_there_is_no_wav(
    tmp_path: Path, write_audio: Callable[..., Path]
) -> None:
    for d in range(2):
        for take in range(4):
            write_audio(tmp_path / "aif" / f"{d}_ann_{take}.aiff", 0.3, 8000, format="AIFF")
    files, exts = find_clips(tmp_path / "aif")
    assert len(files) == 8 and exts == ("aiff",)
    regex = r"(?P<digit>\d)_(?P<speaker>[a-z]+)_\d+\.aiff"
    bundle = real_audio_bundle(
        _cfg(tmp_path / "aif", f"data.label_regex={regex}", "data.test_fraction=0.5")
    )
    assert len(bundle.train) == 4 and len(bundle.probe_test) == 4


def test_librispeech_layout_is_recognised(tmp_path: Path, write_audio: Callable[..., Path]) -> None:
    root = tmp_path / "LibriSpeech"
    for spk, chapter in (("19", "198"), ("84", "121"), ("103", "1240")):
        for utt in range(3):
            write_audio(
                root / "dev-clean" / spk / chapter / f"{spk}-{chapter}-{utt:04d}.flac",
                0.4,
                16000,
                format="FLAC",
            )
    cfg = load_checked_config(
        None,
        [
            "data.use_mock_data=false",
            f"data.audio_root={root}",
            "data.test_fraction=0.45",
            "data.full_duration=0.2",
            "model.prediction_steps=4",
        ],
    )
    bundle = real_audio_bundle(cfg)
    assert isinstance(bundle.train, LibriSpeechDataset)
    assert bundle.label_names == ["19", "84", "103"]
    assert bundle.info["audio root"].endswith("(LibriSpeech layout)")
    assert len(bundle.train) + len(bundle.probe_test) == 9
    with pytest.raises(
        ConfigError, match=r"^data.label_key = 'digit' is not valid for the LibriSpeech layout"
    ):
        real_audio_bundle(
            load_checked_config(
                None,
                [f"data.audio_root={root}", "data.use_mock_data=false", "data.label_key=digit"],
            )
        )


def test_window_too_short_for_k_is_the_one_window_error(folder: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"^data.full_duration = 0.03 s at 8000 Hz gives 4 latent steps"
    ) as info:
        _cfg(folder, "data.full_duration=0.03")
    assert np.char.count(str(info.value), "raise data.full_duration to >= 0.04 s") == 1


def test_clips_too_short_for_one_prediction_are_dropped_and_counted(
    folder: Path, write_audio: Callable[..., Path]
) -> None:
    # the log-mel encoder of FSDD (n_fft 200, hop 80, 3 CNN layers) needs 420 samples for 2
    # valid latent steps; 410 samples give 1, so such a clip predicts nothing
    for take in range(2):
        write_audio(folder / f"0_cid_{take}.wav", 410 / 8000, 8000, 300)
    cfg = _cfg(folder)
    assert min_clip_samples(cfg) == 420
    bundle = real_audio_bundle(cfg)
    assert bundle.info["too-short clips"] == (
        "dropped 2 of 18 clips shorter than 420 samples (0.0525 s at 8000 Hz), too short for "
        "one valid prediction: 0_cid_0.wav, 0_cid_1.wav"
    )
    assert bundle.info["clips"] == 16 and bundle.info["skipped files"] == 0
    kept = [*bundle.probe_train.paths, *bundle.probe_test.paths]
    assert len(kept) == 16 and not any("cid" in p for p in kept)


def test_folder_of_only_too_short_clips_is_one_error_naming_the_minimum(
    tmp_path: Path, write_audio: Callable[..., Path]
) -> None:
    root = tmp_path / "tiny"
    for d in range(2):
        write_audio(root / f"{d}_ann_0.wav", 0.01, 8000, 300)
    with pytest.raises(DataError) as err:
        real_audio_bundle(_cfg(root))
    assert str(err.value) == (
        f"all 2 clips under data.audio_root {root} are shorter than 420 samples (0.0525 s at "
        "8000 Hz), the fewest that give one valid prediction with the log-mel encoder "
        "(audio_encoder.n_fft = 200, hop_length = 80, mel_layers = 3) (the longest has 80 "
        "samples): use longer recordings, a higher data.sample_rate, or an encoder that needs "
        "fewer samples (audio_encoder.kind, n_fft, hop_length, mel_layers or conv_layers)"
    )
