"""``cpckit.from_pretrained`` / ``save_pretrained`` / ``push_to_hub`` and the safe ``cpckit.load``."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import cpckit
from cpckit.api import PretrainedCPC, from_pretrained, push_to_hub, save_pretrained
from cpckit.build import build_model
from cpckit.config import load_config
from cpckit.errors import CpckitError, UnsafeFileError
from cpckit.model_card import Figure, ModelCard, read_front_matter
from cpckit.model_folder import FORMAT_VERSION, SHIPPED
from helpers.cli import AUDIO, ENCODERS, IMAGE, make_run
from helpers.unsafe import unsafe_model_file

MULTIMODAL = [
    "data.modality=multimodal",
    "data.image_size=16",
    "data.full_duration=0.16",
    "image_encoder.width=8",
    "image_encoder.depth=1",
    "audio_encoder.mel_channels=16",
    "audio_encoder.mel_layers=1",
    "model.z_dim=16",
    "model.c_dim=16",
    "model.prediction_steps=2",
]
TINY = {"audio": AUDIO + ENCODERS["mel"], "image": IMAGE, "multimodal": MULTIMODAL}


def _tiny(kind: str, seed: int = 0) -> PretrainedCPC:
    cfg = load_config(None, TINY[kind], {})
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = build_model(cfg)
    return PretrainedCPC(model, cfg)


def _wave(seconds: float = 0.5, rate: int = 8000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) * np.hanning(t.size)
    return (tone + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def _image(seed: int = 0, side: int = 32) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)


def _outputs(pre: PretrainedCPC) -> list[torch.Tensor]:
    out: list[torch.Tensor] = []
    for modality in pre.modalities:
        if modality == "audio":
            emb = pre.embed(_wave(0.3, 16000), sample_rate=16000)
        else:
            emb = pre.embed(_image(side=pre.config.data.image_size), modality="image")
        out += [torch.from_numpy(emb.context), torch.from_numpy(emb.context_frames)]
        out += [torch.from_numpy(emb.latent_frames)]
    return out


# --- shipped models ---------------------------------------------------------------------


def test_fsdd_small_embeds_a_waveform_without_training() -> None:
    model = cpckit.from_pretrained("fsdd-small")
    assert model.modalities == ["audio"] and model.config.data.sample_rate == 8000
    emb = model.embed(_wave(0.6), sample_rate=8000)
    c_dim = model.config.model.c_dim
    assert emb.context.shape == (c_dim,) and emb.context.dtype == np.float32
    assert np.isfinite(emb.context).all() and np.abs(emb.context).sum() > 0
    # 0.6 s at 8 kHz, hop 80: about 60 latent steps, each with a context vector
    assert 50 <= emb.context_frames.shape[0] <= 61 and emb.context_frames.shape[1] == c_dim
    np.testing.assert_allclose(emb.context, emb.context_frames.mean(0), rtol=1e-5, atol=1e-6)
    card = read_front_matter(model.card or "")
    assert card["library_name"] == "cpckit" and card["license"] == "cc-by-sa-4.0"


def test_cifar_small_embeds_an_image() -> None:
    model = cpckit.from_pretrained("cifar-small")
    assert model.modalities == ["image"]
    emb = model.embed(_image())
    assert emb.context.shape == (model.config.model.c_dim,) and np.isfinite(emb.context).all()
    assert emb.context_frames.shape[0] == 49  # the 7x7 patch grid
    assert read_front_matter(model.card or "")["datasets"] == ["cifar10"]


def test_every_shipped_name_has_its_files() -> None:
    root = Path(cpckit.__file__).parent / "pretrained"
    for name in SHIPPED:
        files = sorted(p.name for p in (root / name).iterdir())
        assert files == ["README.md", "config.json", "model.safetensors"], name
        assert (root / name / "model.safetensors").stat().st_size < 8 * 2**20


# --- save -> load ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["audio", "image", "multimodal"])
def test_save_then_load_gives_identical_outputs(kind: str, tmp_path: Path) -> None:
    pre = _tiny(kind, seed=3)
    folder = pre.save_pretrained(tmp_path / kind)
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
    ]
    back = cpckit.from_pretrained(folder)
    assert back.config == pre.config and back.modalities == pre.modalities
    saved, loaded = pre.model.state_dict(), back.model.state_dict()
    assert saved.keys() == loaded.keys()
    assert all(torch.equal(saved[k], loaded[k]) for k in saved)
    for a, b in zip(_outputs(pre), _outputs(back), strict=True):
        assert torch.equal(a, b)
    other = _outputs(_tiny(kind, seed=4))  # a different model gives other outputs
    assert not torch.equal(_outputs(back)[0], other[0])


def test_config_json_holds_the_config_and_the_versions(tmp_path: Path) -> None:
    pre = _tiny("audio")
    save_pretrained(pre, tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    assert meta["format"] == "cpckit-model" and meta["format_version"] == FORMAT_VERSION
    assert meta["cpckit_version"] == cpckit.__version__ and meta["modalities"] == ["audio"]
    assert meta["config"]["model"]["z_dim"] == 16
    assert meta["config"]["audio_encoder"]["kind"] == "mel"


def test_a_file_of_the_folder_loads_the_folder(tmp_path: Path) -> None:
    pre = _tiny("image")
    pre.save_pretrained(tmp_path / "m")
    for name in ("config.json", "model.safetensors"):
        back = from_pretrained(tmp_path / "m" / name)
        assert torch.equal(_outputs(back)[0], _outputs(pre)[0])


def test_run_folders_and_cpc_model_pth_still_load(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", "conv")
    a, b, c = cpckit.load(run), from_pretrained(run), from_pretrained(run / "cpc_model.pth")
    assert torch.equal(_outputs(a)[0], _outputs(b)[0])
    assert torch.equal(_outputs(a)[0], _outputs(c)[0])


def test_the_card_front_matter_and_body(tmp_path: Path) -> None:
    pre = _tiny("audio")
    card = ModelCard(
        name="tiny",
        license="cc-by-sa-4.0",
        datasets=["fsdd"],
        command="cpckit train --config x.yaml",
        figures=[
            Figure("CPC context", 0.6389, "LOSO", std=0.1107),
            Figure("MFCC", 0.45, "LOSO", True),
        ],
        data_license="FSDD is CC BY-SA 4.0.",
    )
    pre.save_pretrained(tmp_path / "m", card=card)
    text = (tmp_path / "m" / "README.md").read_text()
    meta = read_front_matter(text)
    assert meta["library_name"] == "cpckit" and meta["license"] == "cc-by-sa-4.0"
    assert meta["datasets"] == ["fsdd"] and meta["pipeline_tag"] == "feature-extraction"
    assert meta["tags"][:4] == [
        "cpckit",
        "contrastive-predictive-coding",
        "self-supervised",
        "audio",
    ]
    assert (
        "| CPC context | LOSO | 0.639 ± 0.111 |" in text
        and "| baseline: MFCC | LOSO | 0.450 |" in text
    )
    assert "```\ncpckit train --config x.yaml\n```" in text and "FSDD is CC BY-SA 4.0." in text
    assert "sample_rate=16000" in text
    # loaded with its card, saved again without one: the same card
    again = from_pretrained(tmp_path / "m").save_pretrained(tmp_path / "again")
    assert (again / "README.md").read_text() == text


def test_a_bare_save_writes_a_card_from_the_config(tmp_path: Path) -> None:
    _tiny("audio").save_pretrained(tmp_path / "m")
    text = (tmp_path / "m" / "README.md").read_text()
    assert read_front_matter(text)["license"] == "unknown"
    assert "cpckit's built-in synthetic data" in text


# --- errors ----------------------------------------------------------------------------


def test_an_unknown_name_lists_the_shipped_models() -> None:
    with pytest.raises(CpckitError) as err:
        from_pretrained("fsdd-large")
    assert str(err.value) == (
        "unknown model 'fsdd-large': not a file or folder here, not a shipped model "
        "('fsdd-small', 'cifar-small') and not a Hugging Face Hub id (owner/name)"
    )


@pytest.mark.parametrize("missing", ["config.json", "model.safetensors"])
def test_a_folder_missing_a_file_names_it(missing: str, tmp_path: Path) -> None:
    folder = _tiny("audio").save_pretrained(tmp_path / "m")
    (folder / missing).unlink()
    with pytest.raises(CpckitError) as err:
        from_pretrained(folder)
    assert str(err.value).startswith(f"the model folder '{folder}' has no {missing} (")


def test_a_folder_without_any_model_file(tmp_path: Path) -> None:
    with pytest.raises(CpckitError, match="no cpckit model in folder .*cpc_model.pth"):
        from_pretrained(tmp_path)


def test_a_newer_format_version_asks_for_a_newer_cpckit(tmp_path: Path) -> None:
    folder = _tiny("audio").save_pretrained(tmp_path / "m")
    meta = json.loads((folder / "config.json").read_text())
    meta.update(format_version=FORMAT_VERSION + 1, cpckit_version="9.0.0")
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CpckitError) as err:
        from_pretrained(folder)
    assert str(err.value) == (
        f"'{folder / 'config.json'}' has format version {FORMAT_VERSION + 1}, written by cpckit "
        f"9.0.0; this cpckit ({cpckit.__version__}) reads up to format version {FORMAT_VERSION}: "
        "upgrade cpckit"
    )


def test_weights_that_do_not_fit_the_config(tmp_path: Path) -> None:
    folder = _tiny("audio").save_pretrained(tmp_path / "m")
    meta = json.loads((folder / "config.json").read_text())
    meta["config"]["model"]["c_dim"] = 24
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CpckitError, match=r"^the weights in '.*m' do not fit the model its config"):
        from_pretrained(folder)


def test_corrupt_weights_are_a_one_line_error(tmp_path: Path) -> None:
    folder = _tiny("audio").save_pretrained(tmp_path / "m")
    (folder / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(CpckitError, match="is not a readable safetensors file"):
        from_pretrained(folder)


# --- crafted pickles -------------------------------------------------------------------


@pytest.mark.parametrize("raw", [False, True], ids=["torch-zip", "raw-pickle"])
@pytest.mark.parametrize(
    "loader", [cpckit.load, cpckit.from_pretrained], ids=["load", "from_pretrained"]
)
def test_a_model_file_that_runs_code_is_refused(loader: Any, raw: bool, tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    path = unsafe_model_file(tmp_path / "cpc_model.pth", marker, raw=raw)
    for target in (path, tmp_path):  # the file, and the run folder holding it
        with pytest.raises(UnsafeFileError) as err:
            loader(target)
        assert str(err.value).startswith(f"refusing to load '{path}': it is not a plain file")
    assert not marker.exists()
    assert "(it asks to import posix.system)" in str(err.value)


# --- the Hub ---------------------------------------------------------------------------


def _fake_hub(monkeypatch: pytest.MonkeyPatch, **attrs: Any) -> None:
    module = types.ModuleType("huggingface_hub")
    for key, value in attrs.items():
        setattr(module, key, value)
    monkeypatch.setitem(sys.modules, "huggingface_hub", module)


def test_a_hub_id_is_downloaded_with_snapshot_download(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pre = _tiny("image")
    folder = pre.save_pretrained(tmp_path / "snapshot")
    calls: list[dict[str, Any]] = []

    def snapshot_download(**kwargs: Any) -> str:
        calls.append(kwargs)
        return str(folder)

    _fake_hub(monkeypatch, snapshot_download=snapshot_download)
    back = from_pretrained("someone/tiny-image", revision="v1")
    assert calls == [
        {
            "repo_id": "someone/tiny-image",
            "revision": "v1",
            "allow_patterns": ["config.json", "model.safetensors", "README.md"],
        }
    ]
    assert torch.equal(_outputs(back)[0], _outputs(pre)[0])


def test_a_failed_download_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def snapshot_download(**kwargs: Any) -> str:
        raise OSError("no network\nsecond line")

    _fake_hub(monkeypatch, snapshot_download=snapshot_download)
    with pytest.raises(CpckitError) as err:
        from_pretrained("someone/tiny")
    assert str(err.value) == (
        "'someone/tiny' is no file or folder here, and downloading it from the Hugging Face "
        "Hub failed (OSError: no network)"
    )


def test_without_the_hub_extra_the_error_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import raises ImportError
    with pytest.raises(CpckitError) as err:
        from_pretrained("someone/tiny")
    assert str(err.value) == (
        "'someone/tiny' is no file or folder here; to load it from the Hugging Face Hub "
        "install the hub extra (pip install 'cpckit[hub]')"
    )
    with pytest.raises(CpckitError, match=r"push_to_hub needs the hub extra \(pip install"):
        _tiny("audio").push_to_hub("someone/tiny")


def test_push_to_hub_uploads_the_saved_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class HfApi:
        def __init__(self, token: str | None = None) -> None:
            seen["token"] = token

        def create_repo(self, **kwargs: Any) -> None:
            seen["create"] = kwargs

        def upload_folder(self, **kwargs: Any) -> str:
            folder = Path(kwargs.pop("folder_path"))
            seen["files"] = sorted(p.name for p in folder.iterdir())
            seen["config"] = json.loads((folder / "config.json").read_text())
            seen["upload"] = kwargs
            return "commit-info"

    _fake_hub(monkeypatch, HfApi=HfApi)
    pre = _tiny("audio")
    assert push_to_hub(pre, "someone/tiny", token="t0k", private=True) == "commit-info"
    assert seen["token"] == "t0k"
    assert seen["create"] == {
        "repo_id": "someone/tiny",
        "repo_type": "model",
        "private": True,
        "exist_ok": True,
    }
    assert seen["files"] == ["README.md", "config.json", "model.safetensors"]
    assert seen["config"]["config"]["model"]["z_dim"] == 16
    assert seen["upload"] == {
        "repo_id": "someone/tiny",
        "repo_type": "model",
        "commit_message": "Upload cpckit model",
    }


def test_the_readme_example_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert "cpckit.from_pretrained" in code
    monkeypatch.chdir(tmp_path)
    scope: dict[str, Any] = {"wav": _wave(0.5)}
    exec(code, scope)
    assert scope["vec"].shape == (128,) and np.isfinite(scope["vec"]).all()
    assert (tmp_path / "my-model" / "model.safetensors").is_file()
