"""Tiny configs (as ``key=value`` overrides) that several test folders train or time."""

from __future__ import annotations

TINY_CONV = [
    "audio_encoder.kind=conv",
    "audio_encoder.conv_layers=[[1,8,10,5,3,1],[8,8,8,4,2,1]]",
    "model.z_dim=8",
    "model.c_dim=8",
    "model.prediction_steps=3",
    "data.full_duration=0.05",
    "negatives.n_negatives=6",
]
"""A two-layer conv encoder on 50 ms windows: the bench and the bare step time it."""

TINY_RUN = [
    "model.z_dim=16", "model.c_dim=16", "model.prediction_steps=3",
    "data.full_duration=0.08", "data.n_train=32", "data.n_test=24",
    "negatives.n_negatives=8", "negatives.queue_size=1024", "train.batch_size=16",
    "eval.max_examples=48", "eval.tsne=false",
]  # fmt: skip
"""A whole tiny training run on synthetic audio (compare, queue and momentum runs)."""
