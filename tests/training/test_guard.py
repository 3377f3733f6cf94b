"""Divergence: one line, exit 2, the step named, the last good checkpoint kept; a training batch
without any valid prediction is an error, an evaluated one is not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from cpckit.build import load_checked_config
from cpckit.errors import DataError
from cpckit.training.checkpoints import checkpoint_step, newest_valid_checkpoint
from cpckit.training.guard import DivergenceError, NoValidPredictionError, check_step
from cpckit.training.module import CPCLightningModule
from cpckit.training.trainer import build_module
from helpers.configs import TINY_CONV
from helpers.training import read_losses, steps_of, train_in_process

RUN = ["--epochs", "1", "data.n_train=48", "train.batch_size=8", "train.checkpoint_every_n_steps=1"]


def _error_lines(capfd: pytest.CaptureFixture[str]) -> list[str]:
    err = capfd.readouterr().err
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("error:")]


def test_train_huge_lr_stops_with_the_step_and_keeps_the_checkpoint(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code, _ = train_in_process(out, *RUN, "train.lr=1e30")
    assert code == 1
    (line,) = _error_lines(capfd)
    good = out / "checkpoints" / "step00000001.ckpt"
    assert line.startswith("error: training diverged at step 2: the loss is nan.")
    assert f"The last good checkpoint is kept: {good}." in line
    assert "train.lr (now 1e+30)" in line and "train.grad_clip=1.0" in line
    assert newest_valid_checkpoint(out / "checkpoints") == good
    assert steps_of(read_losses(out)) == [1]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "diverged" and "step 2" in manifest["error"]
    assert not (out / "cpc_model.pth").exists()


def test_train_nonfinite_weights_never_replace_the_last_good_checkpoint(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loss of step 3 is finite but its gradient is not: the weights turn NaN."""

    def poison(self: CPCLightningModule, optimizer: Any) -> None:
        if self.global_step == 2:
            next(self.parameters()).grad.fill_(float("nan"))  # type: ignore[union-attr]

    monkeypatch.setattr(CPCLightningModule, "on_before_optimizer_step", poison)
    out = tmp_path / "run"
    code, _ = train_in_process(out, *RUN)
    assert code == 1
    (line,) = _error_lines(capfd)
    assert line.startswith("error: training diverged at step 3: weight model.encoders.")
    good = out / "checkpoints" / "step00000002.ckpt"
    assert newest_valid_checkpoint(out / "checkpoints") == good
    assert checkpoint_step(out / "checkpoints" / "last.ckpt") == 2
    state = torch.load(good, weights_only=True)["state_dict"]
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_train_divergence_error_names_step_value_and_advice() -> None:
    text = str(DivergenceError(7, float("inf")))
    assert text.startswith("training diverged at step 7: the loss is inf.")
    assert "--resume auto" in text and "train.lr" in text
    assert "\n" not in text


def test_training_batch_without_a_valid_prediction_is_an_error_but_evaluating_it_is_not() -> None:
    torch.manual_seed(0)
    module = build_module(load_checked_config(None, TINY_CONV))
    # the two-layer conv stack needs 52 samples for 2 valid latent steps; 40 give 1
    batch = {"audio": torch.randn(3, 1, 800), "audio_length": torch.tensor([40, 30, 20])}
    with pytest.raises(NoValidPredictionError) as err:
        module.training_step(batch, 0)
    assert isinstance(err.value, DataError)  # a user's data: one line, exit 2
    assert str(err.value) == (
        "training step 1: the batch has no valid prediction for audio: its 3 clip(s) give at "
        "most 1 valid latent step(s) (from at most 40 valid samples), and one prediction needs "
        "2, so its loss would be a constant 0 that trains nothing: give longer clips "
        "(data.audio_root and a cached data.pairs_csv leave such clips out when loaded), a "
        "smaller audio_augment.pitch_semitones (a pitch shift can shorten a clip), or an encoder "
        "that needs fewer samples (audio_encoder.n_fft, hop_length, mel_layers or conv_layers)"
    )
    result = module.compute_loss(batch)  # what validation runs: a 0 that is not an error
    assert result.loss.item() == 0.0 and result.per_modality["audio"].n_valid.tolist() == [0] * 3
    batch["audio_length"][2] = 52  # one clip with one prediction is a batch that trains
    result = module.compute_loss(batch)
    assert result.per_modality["audio"].n_valid.tolist() == [1, 0, 0]
    check_step(result, batch, module)
