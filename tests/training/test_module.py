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


def test_past_only_augmentation_scores_against_the_clean_latents() -> None:
    """The context comes from the augmented window, the positives from the clean one."""
    from cpckit.build import build_model, build_objective
    from cpckit.config import load_config
    from cpckit.data.audio_augment import make_audio_augment

    cfg = load_config(
        None,
        [
            "audio_encoder.kind=mel",
            "data.full_duration=0.3",
            "model.prediction_steps=4",
            "audio_augment.transforms=[noise]",
            "audio_augment.prob=1.0",
            "audio_augment.apply_to=past",
            "audio_augment.noise_snr_min=0",
            "audio_augment.noise_snr_max=0",
        ],
    )
    torch.manual_seed(0)
    model = build_model(cfg)
    objective = build_objective(cfg, model)
    seen: list[dict] = []
    real = objective.forward

    def spy(out: dict, groups: object) -> object:
        seen.append(out)
        return real(out, groups)

    objective.forward = spy  # type: ignore[method-assign]
    module = CPCLightningModule(model, objective, augment=make_audio_augment(cfg))
    clean = torch.randn(4, 1, 4800)
    lengths = torch.tensor([4800, 4800, 4000, 3000])
    batch = module.training_batch({"audio": clean, "audio_length": lengths})
    assert torch.equal(batch["audio_target"], clean)
    assert not torch.allclose(batch["audio"], clean)  # 0 dB noise on every window
    result = module.compute_loss(batch)
    out = seen[0]["audio"]
    with torch.no_grad():
        z_clean, valid = model.encode("audio", clean, lengths)
        z_aug, _ = model.encode("audio", batch["audio"], lengths)
        c_aug = model.context(z_aug)
    assert torch.allclose(out.z, z_clean, atol=1e-6)  # positives and negatives: clean
    assert torch.allclose(out.c, c_aug, atol=1e-6)  # context: augmented
    assert valid is not None and torch.equal(out.valid, valid)
    assert result.loss.requires_grad and torch.isfinite(result.loss)
    # without apply_to = past the same step scores against the augmented latents
    module.augment.apply_to = "both"  # type: ignore[union-attr]
    assert "audio_target" not in module.training_batch({"audio": clean, "audio_length": lengths})


def test_patch_augmentation_of_the_past_only_scores_against_clean_patches() -> None:
    from cpckit.build import build_model, build_objective
    from cpckit.config import load_config

    cfg = load_config(
        None,
        [
            "data.modality=image",
            "image_encoder.patch_augment=drop",
            "image_encoder.patch_augment_to=past",
            "image_encoder.norm=none",
            "model.prediction_steps=3",
        ],
    )
    torch.manual_seed(0)
    model = build_model(cfg)
    encoder = model.encoders["image"]
    assert encoder.augment_past_only
    objective = build_objective(cfg, model)
    seen: list[dict] = []
    real = objective.forward

    def spy(out: dict, groups: object) -> object:
        seen.append(out)
        return real(out, groups)

    objective.forward = spy  # type: ignore[method-assign]
    module = CPCLightningModule(model, objective)
    images = torch.rand(3, 3, 32, 32)
    module.train()
    torch.manual_seed(1)
    module.compute_loss({"image": images})
    out = seen[0]["image"]
    with torch.no_grad():
        clean = encoder(images, augment=False)
        torch.manual_seed(1)
        augmented = encoder(images)
    assert torch.allclose(out.z, clean, atol=1e-6)  # positives and negatives: clean patches
    assert torch.allclose(out.c, model.context(augmented), atol=1e-5)  # context: augmented
    assert not torch.allclose(clean, augmented)
    # in eval mode (validation) nothing is augmented and one pass is made
    module.eval()
    module.compute_loss({"image": images})
    assert torch.allclose(seen[1]["image"].z, clean, atol=1e-6)
