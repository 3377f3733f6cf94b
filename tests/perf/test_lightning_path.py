"""The Lightning path of the benchmark: one bare step after each Lightning step, on its batch."""

from __future__ import annotations

from helpers.configs import TINY_CONV


def test_perf_lightning_steps_alternate_with_bare_steps() -> None:
    """One bare step after each Lightning step, on the batch that step used."""
    import torch

    from cpckit.config import load_config
    from cpckit.perf.lightning_path import lightning_step_seconds
    from cpckit.perf.step import synthetic_batch

    cfg = load_config(None, ["train.batch_size=2", *TINY_CONV])
    gen = torch.Generator().manual_seed(0)
    batches = [synthetic_batch(cfg, 2, gen) for _ in range(2)]
    seen: list[int] = []
    lit, bare = lightning_step_seconds(
        cfg, batches, steps=3, warmup=1, bare=lambda b: seen.append(id(b))
    )
    assert len(lit) == len(bare) == 3
    assert all(t > 0 for t in lit + bare)
    # the steps after batches 0..3 ran bare steps on batches 1, 0, 1, 0
    assert seen == [id(batches[i % 2]) for i in range(1, 5)]
