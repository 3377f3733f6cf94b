"""Stack dataset items into a batch (docs/contracts.md), padding audio to the longest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

__all__ = ["collate"]


def _as_tensor(key: str, value: Any) -> Tensor:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, bool):
        return torch.tensor(value)
    if isinstance(value, int):
        return torch.tensor(value, dtype=torch.int64)
    if isinstance(value, float):
        return torch.tensor(value, dtype=torch.float32)
    raise TypeError(
        f"collate: key {key!r} holds a {type(value).__name__}; items must hold tensors or numbers"
    )


def _pad_audio(waves: list[Tensor]) -> tuple[Tensor, Tensor]:
    """Zero-pad waveforms ``(C, S_i)`` on the right to the longest; return them and their lengths."""
    channels = {w.shape[0] for w in waves}
    if any(w.dim() != 2 for w in waves) or len(channels) != 1:
        shapes = sorted({tuple(w.shape) for w in waves})
        raise ValueError(f"collate: 'audio' items must be (C, S) with one C, got shapes {shapes}")
    lengths = torch.tensor([w.shape[1] for w in waves], dtype=torch.int64)
    longest = int(lengths.max())
    if bool((lengths == longest).all()):
        return torch.stack(waves), lengths
    out = waves[0].new_zeros(len(waves), waves[0].shape[0], longest)
    for i, w in enumerate(waves):
        out[i, :, : w.shape[1]] = w
    return out, lengths


def collate(items: Sequence[Mapping[str, Any]]) -> dict[str, Tensor]:
    """Stack items into a batch.

    ``audio`` is zero-padded on the right to the longest item and
    ``audio_length`` gives each item's valid samples (the items' own
    ``audio_length`` when they have one, else their length before padding;
    absent when no item has one and nothing was padded). ``image``,
    ``label``, ``group`` and any other key are stacked (numbers become tensors).

    Shape:
        audio: ``(1, S_i)`` each -> ``(B, 1, max S_i)``; audio_length -> ``(B,)`` int64;
        image: ``(3, H, W)`` each -> ``(B, 3, H, W)``; label, group: ``()`` -> ``(B,)``
    """
    if not items:
        raise ValueError("collate: got no items")
    keys = list(items[0].keys())
    for i, item in enumerate(items):
        if set(item.keys()) != set(keys):
            missing = sorted(set(keys) ^ set(item.keys()))
            raise ValueError(f"collate: item {i} differs from item 0 in keys {missing}")
    batch: dict[str, Tensor] = {}
    if "audio" in keys:
        waves = [_as_tensor("audio", item["audio"]) for item in items]
        audio, raw_lengths = _pad_audio(waves)
        batch["audio"] = audio
        if "audio_length" in keys:
            batch["audio_length"] = torch.stack(
                [_as_tensor("audio_length", item["audio_length"]) for item in items]
            ).to(torch.int64)
        elif bool((raw_lengths != audio.shape[-1]).any()):
            batch["audio_length"] = raw_lengths
    for key in keys:
        if key in ("audio", "audio_length"):
            continue
        values = [_as_tensor(key, item[key]) for item in items]
        shapes = {tuple(v.shape) for v in values}
        if len(shapes) != 1:
            raise ValueError(f"collate: {key!r} items differ in shape: {sorted(shapes)}")
        batch[key] = torch.stack(values)
    if "audio_length" in batch and "audio" not in batch:
        raise ValueError("collate: items have 'audio_length' but no 'audio'")
    return batch
