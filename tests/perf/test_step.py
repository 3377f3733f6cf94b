"""The bare training step of the benchmark: the momentum key encoder moves, the queue fills."""

from __future__ import annotations

from helpers.configs import TINY_CONV


def test_perf_bare_step_moves_the_key_encoder_and_fills_the_queue() -> None:
    import torch

    from cpckit.config import load_config
    from cpckit.perf.step import TrainStep, synthetic_batch

    cfg = load_config(
        None,
        [*TINY_CONV, "negatives.mode=queue", "negatives.queue_size=16", "negatives.momentum=0.5"],
    )
    step = TrainStep(cfg)
    key_encoder = step.module.objective.key_encoder
    assert key_encoder is not None
    before = [p.clone() for p in key_encoder.parameters()]
    step(synthetic_batch(cfg, 2, torch.Generator().manual_seed(0)))
    assert any(not torch.equal(a, b) for a, b in zip(before, key_encoder.parameters()))


def test_perf_bare_step_follows_the_schedule_and_augments_as_training_does() -> None:
    import torch

    from cpckit.config import load_config
    from cpckit.perf.step import TrainStep, synthetic_batch

    cfg = load_config(
        None,
        [
            *TINY_CONV,
            "train.lr_schedule=cosine",
            "train.warmup_steps=4",
            "train.max_steps=8",
            "audio_augment.transforms=[noise]",
            "audio_augment.prob=1.0",
        ],
    )
    step = TrainStep(cfg)
    seen: list[torch.Tensor] = []
    compute = step.module.compute_loss

    def spy(batch: dict) -> object:
        seen.append(batch["audio"])
        return compute(batch)

    step.module.compute_loss = spy  # type: ignore[method-assign]
    batch = synthetic_batch(cfg, 2, torch.Generator().manual_seed(0))
    lrs = []
    for _ in range(3):
        step(batch)
        lrs.append(step.optimizer.param_groups[0]["lr"])
    # warmup over 4 steps from lr * 1/4: after steps 1, 2, 3 the factors are 2/4, 3/4, 4/4
    base = cfg.train.lr
    assert lrs == [base * 2 / 4, base * 3 / 4, base * 4 / 4]
    # the noise transform (always on) changed what every step's loss saw
    assert len(seen) == 3 and all(not torch.equal(a, batch["audio"]) for a in seen)
