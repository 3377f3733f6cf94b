"""`cpckit evaluate`: every protocol, baselines on the same splits, frame labels, tables, geometry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers.cli import REGEX, make_run, run, write_pngs, write_wavs


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("evaluate")
    write_wavs(base / "wav")  # 18 files: 2 digits x 3 speakers x 3
    write_wavs(base / "test", per_speaker=2, seed=1, speakers=("dan", "eve"))
    write_pngs(base / "png")
    return {
        "base": base,
        "wav": base / "wav",
        "test": base / "test",
        "png": base / "png",
        "run": make_run(base / "run", "conv"),
        "image": make_run(base / "run_img", "image"),
    }


def evaluate(data: dict[str, Path], out: str, *args: object) -> tuple[dict[str, Any], str]:
    code, stdout, err = run(
        "evaluate",
        "--checkpoint",
        data["run"],
        "--audio-root",
        data["wav"],
        "--label-regex",
        REGEX,
        "--label-key",
        "digit",
        "--no-progress",
        "--no-tsne",
        "--out-dir",
        data["base"] / out,
        *args,
    )
    assert code == 0, err
    return json.loads((data["base"] / out / "evaluation.json").read_text()), stdout


def rows_by(result: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["name"], r["features"]): r for r in result["rows"]}


def check_rows(result: dict[str, Any], n_total: int) -> None:
    for r in result["rows"]:
        assert 0.0 <= r["train_accuracy"] <= 1.0 and 0.0 <= r["test_accuracy"] <= 1.0, r
        assert 0.0 <= r["chance_accuracy"] <= 1.0
        if r["level"] == "utterance" and r["protocol"].split()[0] not in ("kfold", "logo"):
            assert r["n_train"] + r["n_test"] == n_total, r


@pytest.mark.parametrize(
    ("protocol", "args", "description"),
    [
        ("split", [], "split (0.2 held out)"),
        ("kfold", ["--folds", "3"], "kfold (3 folds)"),
        ("fraction", ["--fit-fraction", "0.5"], "fraction (fit on 0.5)"),
        (
            "group",
            ["--group-key", "speaker", "--test-fraction", "0.3"],
            "group (0.3 of groups held out)",
        ),
        ("logo", ["--group-key", "speaker"], "logo (3 groups, one held out per fold)"),
    ],
)
def test_each_protocol_probes_cpc_and_the_default_baselines(
    data: dict[str, Path], protocol: str, args: list[str], description: str
) -> None:
    result, stdout = evaluate(data, f"out_{protocol}", "--protocol", protocol, *args)
    rows = rows_by(result)
    assert set(rows) == {
        ("CPC", "context (pooled)"),
        ("CPC", "latent (pooled)"),
        ("random init", "context (pooled)"),
        ("random init", "latent (pooled)"),
        ("MFCC statistics", "input"),
    }
    assert all(r["protocol"] == description for r in result["rows"])
    assert result["protocol"]["name"] == protocol and result["baselines"] == ["random", "mfcc"]
    assert result["label_names"] == ["0", "1"]
    check_rows(result, 18)
    if protocol == "kfold":
        r = rows[("CPC", "context (pooled)")]
        assert r["std"] is not None and r["n_test"] == 18 and r["n_train"] == 12
    if protocol == "fraction":
        assert rows[("CPC", "context (pooled)")]["n_train"] == 9
    if protocol == "group":  # one of three speakers (6 files) held out
        assert rows[("CPC", "context (pooled)")]["n_test"] == 6
    if protocol == "logo":  # each of three speakers (6 files) held out in turn
        for r in result["rows"]:
            assert r["std"] is not None and (r["n_train"], r["n_test"]) == (12, 18), r
        assert result["protocol"]["folds"] == 3
    # the table is printed and written
    md = (data["base"] / f"out_{protocol}" / "evaluation.md").read_text()
    for r in result["rows"]:
        assert f"{r['test_accuracy']:.4f}" in md and f"{r['test_accuracy']:.4f}" in stdout
    assert "| CPC | context (pooled) |" in stdout


def test_fixed_split_from_a_test_root(data: dict[str, Path]) -> None:
    result, _ = evaluate(data, "out_fixed", "--test-root", data["test"])
    assert result["data"]["rows"] == 26 and result["data"]["test_rows"] == 8
    r = rows_by(result)[("CPC", "context (pooled)")]
    assert (r["n_train"], r["n_test"]) == (18, 8) and r["protocol"] == "split (--test-root)"
    check_rows(result, 26)


@pytest.mark.parametrize(
    ("args", "n_train", "description"),
    [
        (["--protocol", "kfold", "--folds", "2"], 9, "kfold (2 folds)"),
        (
            ["--protocol", "logo", "--group-key", "speaker"],
            12,
            "logo (3 groups, one held out per fold)",
        ),
    ],
)
def test_supervised_and_finetune_baselines_report_accuracies(
    data: dict[str, Path], args: list[str], n_train: int, description: str
) -> None:
    result, _ = evaluate(
        data,
        f"out_trained_{args[1]}",
        *args,
        "--baselines",
        "supervised,finetune",
        "--finetune-epochs",
        "1",
        "--finetune-batch-size",
        "6",
    )
    rows = rows_by(result)
    sup = rows[("supervised (from scratch)", "end to end, 1 epochs")]
    fine = rows[("CPC fine-tuned", "end to end, 1 epochs")]
    for r in (sup, fine):
        assert 0.0 <= r["train_accuracy"] <= 1.0 and 0.0 <= r["test_accuracy"] <= 1.0
        assert r["n_test"] == 18 and r["n_train"] == n_train and r["std"] is not None
        assert r["protocol"] == description
    assert ("random init", "context (pooled)") not in rows  # only what was asked


def test_mlp_classifier_and_other_pooling(data: dict[str, Path]) -> None:
    result, _ = evaluate(
        data, "out_mlp", "--classifier", "mlp", "--pool", "max", "--baselines", "none"
    )
    assert {r["classifier"] for r in result["rows"]} == {"mlp"}
    assert result["pool"] == "max" and len(result["rows"]) == 2


@pytest.mark.parametrize(
    ("protocol", "args"), [("group", ["--test-fraction", "0.3"]), ("logo", [])]
)
def test_frame_level_probes_from_alignments(
    data: dict[str, Path], protocol: str, args: list[str]
) -> None:
    import soundfile as sf

    rng = np.random.default_rng(0)
    lines = []
    for p in sorted(data["wav"].rglob("*.wav")):
        info = sf.info(p)
        frames = int(info.frames * 16000 / info.samplerate) // 160 + 1
        labels = np.repeat(rng.choice(["sil", "aa", "iy"], size=frames // 4 + 1), 4)[:frames]
        lines.append(p.stem + " " + " ".join(labels))
    ali = data["base"] / "ali.txt"
    ali.write_text("\n".join(lines) + "\n")
    result, _ = evaluate(
        data,
        f"out_frames_{protocol}",
        "--frame-labels",
        ali,
        "--protocol",
        protocol,
        "--group-key",
        "speaker",
        "--max-frames",
        "500",
        *args,
    )
    frames = {(r["name"], r["features"]): r for r in result["rows"] if r["level"] == "frame"}
    assert set(frames) == {
        ("CPC", "context frames"),
        ("CPC", "latent frames"),
        ("random init", "context frames"),
        ("random init", "latent frames"),
        ("MFCC", "frames (10 ms)"),
    }
    folds = 3 if protocol == "logo" else 1  # logo: every speaker's frames tested once
    for r in frames.values():
        assert r["n_classes"] == 3 and 0 < r["n_train"] <= 500 and 0 < r["n_test"] <= 500 * folds
        assert 0.0 <= r["test_accuracy"] <= 1.0
        assert (r["std"] is not None) == (protocol == "logo")
    assert result["frames"]["aligned_utterances"] == 18
    assert result["frames"]["vocabulary"] == ["aa", "iy", "sil"]
    # utterance-level rows are there too
    assert ("CPC", "context (pooled)") in rows_by(result)


def test_embeddings_table_gives_the_folder_results(data: dict[str, Path]) -> None:
    table = data["base"] / "emb.npz"
    code, _, err = run(
        "embed",
        "--checkpoint",
        data["run"],
        "--audio-root",
        data["wav"],
        "--out",
        table,
        "--label-regex",
        REGEX,
        "--no-progress",
    )
    assert code == 0, err
    folder, _ = evaluate(data, "out_folder_kfold", "--protocol", "kfold", "--folds", "3")
    code, _, err = run(
        "evaluate",
        "--checkpoint",
        data["run"],
        "--embeddings",
        table,
        "--label-key",
        "digit",
        "--protocol",
        "kfold",
        "--folds",
        "3",
        "--baselines",
        "random",
        "--no-tsne",
        "--no-progress",
        "--out-dir",
        data["base"] / "out_table",
    )
    assert code == 0, err
    from_table = json.loads((data["base"] / "out_table" / "evaluation.json").read_text())
    a, b = rows_by(folder), rows_by(from_table)
    for key in [
        ("CPC", "context (pooled)"),
        ("CPC", "latent (pooled)"),
        ("random init", "context (pooled)"),
    ]:
        assert a[key]["test_accuracy"] == pytest.approx(b[key]["test_accuracy"])
        assert a[key]["train_accuracy"] == pytest.approx(b[key]["train_accuracy"])
    assert folder["geometry"][0]["alignment"] == pytest.approx(
        from_table["geometry"][0]["alignment"], abs=1e-6
    )


def test_geometry_and_tsne_are_written(data: dict[str, Path]) -> None:
    out = data["base"] / "out_geo"
    code, stdout, err = run(
        "evaluate",
        "--checkpoint",
        data["image"],
        "--image-root",
        data["png"],
        "--protocol",
        "kfold",
        "--folds",
        "3",
        "--out-dir",
        out,
        "--no-progress",
    )
    assert code == 0, err
    result = json.loads((out / "evaluation.json").read_text())
    assert result["label_key"] == "folder" and result["label_names"] == ["cat", "dog"]
    assert ("raw pixels", "input") in rows_by(result)
    assert {r["level"] for r in result["rows"]} == {"image"}
    names = [g["name"] for g in result["geometry"]]
    assert names == ["CPC", "random init"]
    for g in result["geometry"]:
        assert 0.0 <= g["alignment"] <= 4.0 and -4.0 <= g["uniformity"] <= 0.0 and g["n"] == 12
    assert (
        result["figures"] == ["tsne_eval_image.png"]
        and (out / "tsne_eval_image.png").stat().st_size > 0
    )
    assert "alignment" in stdout and "tsne_eval_image.png" in stdout


def test_grid_pooling_of_an_image_folder(data: dict[str, Path]) -> None:
    out = data["base"] / "out_grid"
    code, _, err = run(
        "evaluate", "--checkpoint", data["image"], "--image-root", data["png"],
        "--pool", "grid", "--no-progress", "--no-tsne", "--no-geometry", "--out-dir", out,
    )  # fmt: skip
    assert code == 0, err
    result = json.loads((out / "evaluation.json").read_text())
    assert result["pool"] == "grid"
    assert {r["name"] for r in result["rows"]} == {"CPC", "random init", "raw pixels"}


def test_a_saved_folder_needs_an_out_dir(data: dict[str, Path], tmp_path: Path) -> None:
    import cpckit

    saved = cpckit.load(data["run"]).save_pretrained(tmp_path / "saved")
    args = ["--checkpoint", saved, "--audio-root", data["wav"], "--label-regex", REGEX]
    args += ["--label-key", "digit", "--no-progress", "--no-tsne", "--baselines", "none"]
    code, _, err = run("evaluate", *args)
    assert code == 2
    assert err == (
        f"error: give --out-dir: --checkpoint {saved} is a saved model, not a run folder to "
        "write into\n"
    )
    assert not (saved / "evaluation.json").exists()
    code, _, err = run("evaluate", *args, "--out-dir", tmp_path / "out")
    assert code == 0, err
    result = json.loads((tmp_path / "out" / "evaluation.json").read_text())
    assert result["checkpoint"] == str(saved.resolve())
    code, _, err = run("finetune", *args[:8], "--epochs", "1")
    assert code == 2 and err.startswith("error: give --out-dir: --checkpoint ")
