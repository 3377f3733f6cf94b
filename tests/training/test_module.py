"""Learning-rate warmup + cosine schedule and the training-batch audio augmentation."""

from __future__ import annotations

import pytest
import torch

from cpckit.training.module import CPCLightningModule, warmup_cosine


def test_warmup_cosine_rises_linearly_then_decays_to_zero() -> None:
    assert warmup_cosine(0, 10, 100) == pytest.approx(0.1)
    assert warmup_cosine(9, 10, 100) == pytest.approx(1.0)
    assert warmup_cosine(10, 10, 100) == pytest.approx(1.0)
    assert warmup_cosine(55, 10, 100) == pytest.approx(0.5)
    assert warmup_cosine(100, 10, 100) == pytest.approx(0.0)
    assert warmup_cosine(5, 0, 10) == pytest.approx(0.5)


def test_training_step_augments_the_audio_it_sees() -> None:
    seen: list[torch.Tensor] = []

    class Objective(torch.nn.Module):
        def forward(self, out: dict, groups: object) -> None:
            raise RuntimeError("stop")

    class Model(torch.nn.Module):
        def forward(self, batch: dict) -> dict:
            seen.append(batch["audio"])
            return {}

    def augment(audio: torch.Tensor, lengths: torch.Tensor | None) -> tuple:
        assert lengths is not None
        return audio * 0 + 7, lengths - 1

    module = CPCLightningModule(Model(), Objective(), augment=augment)  # type: ignore[arg-type]
    batch = {"audio": torch.ones(2, 1, 10), "audio_length": torch.tensor([10, 5])}
    with pytest.raises(RuntimeError, match="stop"):
        module.training_step(batch, 0)
    assert float(seen[0].mean()) == 7.0
    assert float(batch["audio"].mean()) == 1.0  # the loader's batch is left as it was
    with pytest.raises(RuntimeError, match="stop"):
        module.validation_step(batch, 0)
    assert float(seen[1].mean()) == 1.0  # validation is not augmented


def test_bad_schedule_name() -> None:
    with pytest.raises(ValueError, match="lr_schedule"):
        CPCLightningModule(torch.nn.Linear(1, 1), torch.nn.Identity(), lr_schedule="step")  # type: ignore[arg-type]
