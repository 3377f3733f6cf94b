"""The bare training step of the benchmark: the momentum key encoder moves, the queue fills."""

from __future__ import annotations

TINY_AUDIO = [
    "audio_encoder.kind=conv",
    "audio_encoder.conv_layers=[[1,8,10,5,3,1],[8,8,8,4,2,1]]",
    "model.z_dim=8",
    "model.c_dim=8",
    "model.prediction_steps=3",
    "data.full_duration=0.05",
    "negatives.n_negatives=6",
]


def test_perf_bare_step_moves_the_key_encoder_and_fills_the_queue() -> None:
    import torch

    from cpckit.config import load_config
    from cpckit.perf.step import TrainStep, synthetic_batch

    cfg = load_config(
        None,
        [*TINY_AUDIO, "negatives.mode=queue", "negatives.queue_size=16", "negatives.momentum=0.5"],
    )
    step = TrainStep(cfg)
    key_encoder = step.module.objective.key_encoder
    assert key_encoder is not None
    before = [p.clone() for p in key_encoder.parameters()]
    step(synthetic_batch(cfg, 2, torch.Generator().manual_seed(0)))
    assert any(not torch.equal(a, b) for a, b in zip(before, key_encoder.parameters()))
