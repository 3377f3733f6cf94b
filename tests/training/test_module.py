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


@pytest.mark.parametrize(
    ("name", "kind"),
    [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW), ("sgd", torch.optim.SGD)],
)
def test_each_optimizer_builds_from_the_config_and_steps(name: str, kind: type) -> None:
    from cpckit.config import load_config
    from cpckit.training.trainer import build_module

    cfg = load_config(
        None,
        [
            f"train.optimizer={name}",
            "train.lr=0.01",
            "train.weight_decay=0.1",
            "model.z_dim=8",
            "model.c_dim=8",
            "model.prediction_steps=2",
            "audio_encoder.kind=conv",
            "audio_encoder.conv_layers=[[1,8,10,5,3,1]]",
        ],
    )
    module = build_module(cfg)
    opt, sched = module.optimization(10)
    assert type(opt) is kind and sched is None
    group = opt.param_groups[0]
    assert group["lr"] == 0.01 and group["weight_decay"] == 0.1
    if name == "sgd":
        assert group["momentum"] == 0.9  # the config default
    before = [p.detach().clone() for p in module.parameters()]
    for p in module.parameters():
        p.grad = torch.ones_like(p)
    opt.step()
    moved = [not torch.equal(a, p.detach()) for a, p in zip(before, module.parameters())]
    assert all(moved)


def test_sgd_step_is_the_momentum_update() -> None:
    weight = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    holder = torch.nn.Module()
    holder.w = weight
    module = CPCLightningModule(
        holder,  # type: ignore[arg-type]
        torch.nn.Identity(),  # type: ignore[arg-type]
        lr=0.5,
        optimizer="sgd",
        momentum=0.5,
    )
    opt, _ = module.optimization(1)
    for _ in range(2):
        weight.grad = torch.tensor([1.0, -1.0])
        opt.step()
    # v1 = g, w1 = w0 - lr g; v2 = m v1 + g = 1.5 g, w2 = w1 - lr 1.5 g
    assert torch.allclose(weight.detach(), torch.tensor([1.0 - 0.5 - 0.75, 2.0 + 0.5 + 0.75]))


def test_bad_optimizer_name() -> None:
    with pytest.raises(ValueError, match="optimizer = 'rmsprop': expected one of adam, adamw, sgd"):
        CPCLightningModule(torch.nn.Linear(1, 1), torch.nn.Identity(), optimizer="rmsprop")  # type: ignore[arg-type]
