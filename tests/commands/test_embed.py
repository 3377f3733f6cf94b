"""`cpckit embed`: shapes, paths, labels, frames, windows; batched == one at a time == cpckit.load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import cpckit
from cpckit.errors import CpckitError
from cpckit.evaluation.embed import frames_of, load_embeddings
from helpers.cli import REGEX, make_run, read_wave, run, write_pngs, write_wavs
from helpers.unsafe import unsafe_model_file


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("embed")
    wav = base / "wav"
    write_wavs(wav)
    sf.write(wav / "ann" / "1_ann_9.wav", np.zeros(20, np.float32), 16000)  # too short
    (wav / "notes.txt").write_text("not audio")
    (wav / ".hidden.wav").write_bytes(b"")
    png = base / "png"
    write_pngs(png)
    (png / "dog" / "broken.png").write_bytes(b"not a png")
    return {
        "base": base,
        "wav": wav,
        "png": png,
        "conv": make_run(base / "run_conv", "conv"),
        "mel": make_run(base / "run_mel", "mel"),
        "image": make_run(base / "run_img", "image"),
    }


@pytest.fixture(scope="module")
def table(data: dict[str, Path]) -> dict[str, np.ndarray]:
    out = data["base"] / "conv.npz"
    code, stdout, err = run(
        "embed",
        "--checkpoint",
        data["conv"] / "cpc_model.pth",
        "--audio-root",
        data["wav"],
        "--out",
        out,
        "--label-regex",
        REGEX,
        "--frames",
        "--batch-size",
        "5",
    )
    assert code == 0, err
    assert "embedded 18 files (18 rows)" in stdout and str(out) in stdout
    return load_embeddings(out)


def test_embed_table_has_paths_vectors_labels_and_skips(
    data: dict[str, Path], table: dict[str, np.ndarray]
) -> None:
    expected = write_wavs(data["base"] / "again")  # the same names, sorted
    assert table["paths"].tolist() == expected
    assert table["context"].shape == (18, 16) and table["context"].dtype == np.float32
    assert table["latent"].shape == (18, 16)
    assert table["view_a"].shape == table["view_b"].shape == (18, 16)
    assert (table["n_steps"] > 0).all()
    assert table["file_index"].tolist() == list(range(18))
    assert table["digit_names"].tolist() == ["0", "1"]
    assert table["speaker_names"].tolist() == ["ann", "bob", "cid"]
    assert [table["digit_names"][c] for c in table["digit"]] == [
        p.split("/")[1][0] for p in expected
    ]
    assert [table["speaker_names"][c] for c in table["speaker"]] == [
        p.split("/")[0] for p in expected
    ]
    assert set(table["label_keys"].tolist()) == {"digit", "speaker", "folder"}
    assert table["skipped"].tolist() == ["ann/1_ann_9.wav (too short)"]
    assert str(table["modality"]) == "audio" and str(table["pool"]) == "mean"
    assert int(table["sample_rate"]) == 16000
    # plain arrays only: readable without pickle
    with np.load(data["base"] / "conv.npz", allow_pickle=False) as blob:
        assert "context" in blob.files


def test_embed_names_the_too_short_clip(data: dict[str, Path]) -> None:
    code, _, err = run(
        "embed",
        "--checkpoint",
        data["conv"],
        "--audio-root",
        data["wav"],
        "--out",
        data["base"] / "short.npz",
        "--no-progress",
    )
    assert code == 0
    assert "warning: skipped 1 clips" in err and "ann/1_ann_9.wav" in err and "too short" in err


@pytest.mark.parametrize("kind", ["conv", "mel"])
def test_load_and_embed_give_the_cli_vectors(data: dict[str, Path], kind: str) -> None:
    out = data["base"] / f"{kind}_cli.npz"
    code, _, err = run(
        "embed",
        "--checkpoint",
        data[kind],
        "--audio-root",
        data["wav"],
        "--out",
        out,
        "--frames",
        "--batch-size",
        "4",
        "--no-progress",
    )
    assert code == 0, err
    tab = load_embeddings(out)
    model = cpckit.load(data[kind])
    for i, rel in enumerate(tab["paths"].tolist()):
        wave, rate = read_wave(data["wav"] / rel)  # stereo and 8 kHz files included
        e = model.embed(wave if wave.shape[0] > 1 else wave[0], sample_rate=rate)
        np.testing.assert_allclose(e.context, tab["context"][i], atol=2e-5, rtol=1e-4)
        np.testing.assert_allclose(e.latent, tab["latent"][i], atol=2e-5, rtol=1e-4)
        np.testing.assert_allclose(e.context_frames, frames_of(tab, i), atol=2e-5, rtol=1e-4)
        np.testing.assert_allclose(
            e.latent_frames, frames_of(tab, i, "latent"), atol=2e-5, rtol=1e-4
        )


@pytest.mark.parametrize(
    ("kind", "pool"),
    [("conv", "mean"), ("conv", "max"), ("conv", "last"), ("mel", "mean"), ("mel", "last")],
)
def test_batched_with_padding_equals_one_at_a_time(
    data: dict[str, Path], kind: str, pool: str
) -> None:
    import warnings

    model = cpckit.load(data[kind])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batched = model.embed_folder(data["wav"], pool=pool, frames=True, batch_size=7)
        single = model.embed_folder(data["wav"], pool=pool, frames=True, batch_size=1)
    assert len(set(batched["n_steps"].tolist())) > 3  # the batches really mix lengths
    for key in ("context", "latent", "view_a", "view_b", "context_frames", "latent_frames"):
        np.testing.assert_allclose(batched[key], single[key], atol=2e-5, rtol=1e-4, err_msg=key)
    assert batched["frame_offsets"].tolist() == single["frame_offsets"].tolist()


def test_frames_are_stored_flat_with_offsets(table: dict[str, np.ndarray]) -> None:
    off = table["frame_offsets"]
    assert off[0] == 0 and np.diff(off).tolist() == table["n_steps"].tolist()
    assert table["context_frames"].shape == (off[-1], 16)
    assert table["latent_frames"].shape == (off[-1], 16)
    np.testing.assert_allclose(frames_of(table, 3).mean(0), table["context"][3], atol=1e-5)


def test_windows_per_file_are_random_windows_of_the_clips(data: dict[str, Path]) -> None:
    out = data["base"] / "windows.npz"
    code, stdout, err = run(
        "embed",
        "--checkpoint",
        data["conv"],
        "--audio-root",
        data["wav"],
        "--out",
        out,
        "--windows-per-file",
        "3",
        "--window-seconds",
        "0.06",
        "--no-progress",
    )
    assert code == 0, err
    tab = load_embeddings(out)
    window = 960
    clips = {p: read_wave(data["wav"] / p)[0].shape[1] for p in set(tab["paths"].tolist())}
    n_files = len(set(tab["file_index"].tolist()))
    assert n_files == 18
    model = cpckit.load(data["conv"])
    for f in range(n_files):
        rows = np.flatnonzero(tab["file_index"] == f)
        path = tab["paths"][rows[0]]
        rate = sf.info(data["wav"] / path).samplerate
        n = clips[path] * 16000 // rate
        if n >= window:
            assert len(rows) == 3 and (tab["window_length"][rows] == window).all()
            assert (tab["window_start"][rows] + window <= n).all()
        else:
            assert len(rows) == 1 and tab["window_start"][rows[0]] == 0
    # a window's vector is the vector of that piece of the clip
    i = int(np.flatnonzero(tab["window_length"] == window)[0])
    wave, rate = read_wave(data["wav"] / tab["paths"][i])
    assert rate == 16000
    s = int(tab["window_start"][i])
    e = model.embed(wave.mean(0)[s : s + window], sample_rate=16000)
    np.testing.assert_allclose(e.context, tab["context"][i], atol=2e-5, rtol=1e-4)
    assert f"({len(tab['paths'])} rows)" in stdout


def test_embed_images_from_class_folders(data: dict[str, Path]) -> None:
    out = data["base"] / "img.npz"
    code, _, err = run(
        "embed",
        "--checkpoint",
        data["image"],
        "--image-root",
        data["png"],
        "--out",
        out,
        "--frames",
        "--no-progress",
    )
    assert code == 0, err
    tab = load_embeddings(out)
    assert tab["paths"].tolist() == write_pngs(data["base"] / "png_again")
    assert tab["context"].shape == (12, 16) and (tab["n_steps"] == 9).all()  # 3 x 3 patch grid
    assert tab["folder_names"].tolist() == ["cat", "dog"]
    assert tab["folder"].tolist() == [0] * 6 + [1] * 6
    assert "dog/broken.png (unreadable)" in tab["skipped"].tolist()
    assert "broken.png" in err
    model = cpckit.load(data["image"])
    for i in (0, 7):
        e = model.embed(str(data["png"] / tab["paths"][i]))
        np.testing.assert_allclose(e.context, tab["context"][i], atol=2e-5, rtol=1e-4)


def test_embed_images_with_grid_pooling(data: dict[str, Path]) -> None:
    """--pool grid: the mean of each quadrant of the 3 x 3 grid, 4 x the width."""
    out = data["base"] / "img_grid.npz"
    code, _, err = run(
        "embed",
        "--checkpoint",
        data["image"],
        "--image-root",
        data["png"],
        "--out",
        out,
        "--pool",
        "grid",
        "--frames",
        "--no-progress",
    )
    assert code == 0, err
    tab = load_embeddings(out)
    assert tab["context"].shape == (12, 64) and str(tab["pool"]) == "grid"
    for i in (0, 7):
        frames = frames_of(tab, i).reshape(3, 3, 16)  # raster order
        quadrants = [frames[:2, :2], frames[:2, 1:], frames[1:, :2], frames[1:, 1:]]
        expected = np.concatenate([q.mean((0, 1)) for q in quadrants])
        np.testing.assert_allclose(tab["context"][i], expected, atol=1e-5, rtol=1e-5)


def test_embed_grid_pooling_of_audio_is_a_one_line_error(data: dict[str, Path]) -> None:
    code, _, err = run(
        "embed",
        "--checkpoint",
        data["conv"],
        "--audio-root",
        data["wav"],
        "--out",
        data["base"] / "grid.npz",
        "--pool",
        "grid",
    )
    assert code != 0
    assert "--pool = 'grid' pools an image's patch grid; audio sequences pool with" in err
    assert "Traceback" not in err


def test_progress_is_plain_lines_without_a_terminal(data: dict[str, Path]) -> None:
    code, _, err = run(
        "embed",
        "--checkpoint",
        data["conv"],
        "--audio-root",
        data["wav"],
        "--out",
        data["base"] / "p.npz",
    )
    assert code == 0
    assert "embedding: 18/18 files" in err and "\r" not in err


def test_api_embed_rejects_a_too_short_waveform(data: dict[str, Path]) -> None:
    model = cpckit.load(data["conv"])
    with pytest.raises(CpckitError, match="too short for one latent step"):
        model.embed(np.zeros(10, np.float32), sample_rate=16000)


@pytest.mark.parametrize(
    ("extra", "status", "message"),
    [
        (["--windows-per-file", "2"], 2, "give --windows-per-file and --window-seconds together"),
        (["--label-regex", "(?P<paths>.*)"], 2, "would overwrite an array"),
        (["--label-regex", r"(?P<d>\d)_nomatch"], 1, "no file of the"),  # the files do not serve
        (["--pool", "median"], 2, "--pool = 'median' is not valid"),
    ],
)
def test_embed_bad_options_are_one_line_errors(
    data: dict[str, Path], extra: list[str], status: int, message: str
) -> None:
    code, _, err = run(
        "embed",
        "--checkpoint",
        data["conv"],
        "--audio-root",
        data["wav"],
        "--out",
        data["base"] / "bad.npz",
        "--no-progress",
        *extra,
    )
    assert code == status
    lines = [x for x in err.strip().splitlines() if not x.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_every_clip_too_short_is_an_error(data: dict[str, Path], tmp_path: Path) -> None:
    sf.write(tmp_path / "a.wav", np.zeros(10, np.float32), 16000)
    code, _, err = run(
        "embed",
        "--checkpoint",
        data["conv"],
        "--audio-root",
        tmp_path,
        "--out",
        tmp_path / "x.npz",
    )
    assert code == 1 and "every clip" in err and "a.wav" in err


def test_embed_refuses_a_checkpoint_that_runs_code(data: dict[str, Path], tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    evil = unsafe_model_file(tmp_path / "cpc_model.pth", marker)
    out = tmp_path / "t.npz"
    code, _, err = run("embed", "--checkpoint", evil, "--audio-root", data["wav"], "--out", out)
    assert code == 1
    assert err.startswith(f"error: refusing to load '{evil}': it is not a plain file of tensors")
    assert len(err.splitlines()) == 1 and not marker.exists() and not out.exists()


def test_embed_takes_a_saved_folder_and_a_shipped_name(
    data: dict[str, Path], table: dict[str, np.ndarray], tmp_path: Path
) -> None:
    cpckit.load(data["conv"]).save_pretrained(tmp_path / "saved")
    code, _, err = run(
        "embed", "--checkpoint", tmp_path / "saved", "--audio-root", data["wav"],
        "--out", tmp_path / "saved.npz", "--label-regex", REGEX, "--frames", "--batch-size", "5",
    )  # fmt: skip
    assert code == 0, err
    again = load_embeddings(tmp_path / "saved.npz")
    np.testing.assert_array_equal(again["context"], table["context"])  # the same model
    code, out, err = run(
        "embed", "--checkpoint", "fsdd-small", "--audio-root", data["wav"],
        "--out", tmp_path / "fsdd.npz",
    )  # fmt: skip
    assert code == 0, err
    shipped = load_embeddings(tmp_path / "fsdd.npz")
    n = len(shipped["paths"])
    assert n >= 12 and shipped["context"].shape == (n, 128)
    assert np.isfinite(shipped["context"]).all()
