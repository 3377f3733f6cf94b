"""The one evaluation path: exact valid-frame masks, and one set of figures per checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cpckit.build import build_model
from cpckit.config import load_config
from cpckit.encoders.steps import latent_steps
from cpckit.evaluation.frames import embed_rows, encode_batch
from helpers.cli import AUDIO as SMALL
from helpers.cli import ENCODERS, run_ok


def _model(kind: str) -> torch.nn.Module:
    cfg = load_config(None, SMALL + ENCODERS[kind], {})
    torch.manual_seed(0)
    return build_model(cfg).eval()


def _clip(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, 1, n, generator=g) * 0.3


@pytest.mark.parametrize("kind", ["conv", "mel"])
@pytest.mark.parametrize("pool", ["mean", "max", "last"])
def test_a_clip_padded_with_silence_pools_as_the_clip_alone(kind: str, pool: str) -> None:
    model = _model(kind)
    n = 2400
    x = _clip(n)
    padded = torch.cat([x, torch.zeros_like(x)], dim=-1)  # silence to twice its length
    alone = encode_batch(model, "audio", x, torch.tensor([n]), pool=pool, frames=True)
    pad = encode_batch(model, "audio", padded, torch.tensor([n]), pool=pool, frames=True)
    for key in ("context", "latent", "view_a", "view_b"):
        torch.testing.assert_close(getattr(pad, key), getattr(alone, key), rtol=1e-5, atol=1e-6)
    assert (
        int(pad.n_steps[0])
        == int(alone.n_steps[0])
        == int(latent_steps(model.encoders["audio"], [n])[0])
    )
    assert pad.context_frames is not None and alone.context_frames is not None
    torch.testing.assert_close(pad.context_frames[0], alone.context_frames[0], rtol=1e-5, atol=1e-6)
    # the padded half really is excluded: without lengths the pooled vector changes
    unmasked = encode_batch(model, "audio", padded, None, pool="mean")
    assert not torch.allclose(unmasked.context, alone.context, atol=1e-4)


@pytest.mark.parametrize("kind", ["conv", "mel"])
def test_training_and_evaluation_mask_the_same_frames(kind: str) -> None:
    model = _model(kind)
    lengths = torch.tensor([2400, 1700, 900])
    x = torch.cat([_clip(2400, 1), _clip(2400, 2), _clip(2400, 3)])
    # the mask the loss sees (forward pass) is the mask the features pool
    out = model.forward_modality("audio", x, lengths)
    vecs = encode_batch(model, "audio", x, lengths)
    assert out.valid is not None
    assert out.valid.sum(1).tolist() == vecs.n_steps.tolist()
    assert vecs.n_steps.tolist() == latent_steps(model.encoders["audio"], lengths.tolist()).tolist()


def test_embed_rows_gives_each_clip_the_vectors_it_has_alone() -> None:
    model = _model("mel")
    lengths = [2400, 1100, 1900, 700]
    rows = [
        {"audio": _clip(n, i)[0], "audio_length": torch.tensor(n), "label": torch.tensor(i % 2)}
        for i, n in enumerate(lengths)
    ]
    together = embed_rows(model, "audio", rows, batch_size=4)
    for i, row in enumerate(rows):
        alone = embed_rows(model, "audio", [row], batch_size=1)
        np.testing.assert_allclose(together.context[i], alone.context[0], rtol=1e-5, atol=1e-6)
    assert together.labels is not None and together.labels.tolist() == [0, 1, 0, 1]


def test_metrics_json_and_evaluate_run_data_give_identical_figures(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_ok(
        "train", "--modality", "audio", "--use-mock-data", "true", "--out-dir", str(out),
        "--epochs", "1", "--neg-mode", "inbatch",
        *SMALL, *ENCODERS["mel"],
        "data.n_train=32", "data.n_test=24", "data.noise_std=1.5", "negatives.n_negatives=8",
        "train.batch_size=16", "eval.max_examples=40", "eval.tsne=false", "eval.classifier=linear-cv",
    )  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    run_ok("evaluate", "--checkpoint", str(out), "--run-data", "--no-tsne", "--no-progress")
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert evaluation["classifier"] == "linear-cv"
    names = [(r["name"], r["features"]) for r in evaluation["rows"]]
    assert names == [
        ("CPC", "context (pooled)"),
        ("CPC", "latent (pooled)"),
        ("random init", "context (pooled)"),
        ("random init", "latent (pooled)"),
        ("MFCC statistics", "input"),
    ]
    assert metrics["baselines"] == evaluation["rows"]
    assert metrics["probe"]["test_accuracy"] == evaluation["rows"][0]["test_accuracy"]
    cpc_geometry = evaluation["geometry"][0]
    assert metrics["alignment"] == cpc_geometry["alignment"]
    assert metrics["uniformity"] == cpc_geometry["uniformity"]
    # noisy tones: the figures are not all at a ceiling, so equality says something
    accs = [r["test_accuracy"] for r in evaluation["rows"]]
    assert min(accs) < 1.0
