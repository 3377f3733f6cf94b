"""Batch collation: padding audio, stacking images and labels."""

from __future__ import annotations

import pytest
import torch

from cpckit.data.collate import collate


def _audio_item(n: int, label: int, valid: int | None = None) -> dict[str, torch.Tensor]:
    item = {
        "audio": torch.arange(1, n + 1, dtype=torch.float32).unsqueeze(0),
        "label": torch.tensor(label),
        "group": torch.tensor(-1),
    }
    if valid is not None:
        item["audio_length"] = torch.tensor(valid)
    return item


def test_audio_is_padded_with_zeros_and_lengths_are_added():
    batch = collate([_audio_item(3, 0), _audio_item(5, 1), _audio_item(2, 1)])
    assert batch["audio"].shape == (3, 1, 5)
    assert batch["audio"][0, 0].tolist() == [1, 2, 3, 0, 0]
    assert batch["audio"][2, 0].tolist() == [1, 2, 0, 0, 0]
    assert batch["audio_length"].tolist() == [3, 5, 2]
    assert batch["audio_length"].dtype == torch.int64
    assert batch["label"].tolist() == [0, 1, 1] and batch["group"].tolist() == [-1, -1, -1]


def test_items_audio_length_is_kept_not_recomputed():
    batch = collate([_audio_item(4, 0, valid=2), _audio_item(4, 1, valid=4)])
    assert batch["audio"].shape == (2, 1, 4) and batch["audio_length"].tolist() == [2, 4]


def test_equal_lengths_without_audio_length_add_no_lengths():
    batch = collate([_audio_item(4, 0), _audio_item(4, 1)])
    assert "audio_length" not in batch and batch["audio"].shape == (2, 1, 4)


def test_images_are_stacked():
    items = [{"image": torch.full((3, 8, 8), float(i)), "label": torch.tensor(i)} for i in range(4)]
    batch = collate(items)
    assert batch["image"].shape == (4, 3, 8, 8) and batch["image"][2].unique().item() == 2.0
    assert batch["label"].tolist() == [0, 1, 2, 3]


def test_multimodal_items_keep_rows_paired():
    items = [{**_audio_item(2 + i, i), "image": torch.full((3, 4, 4), float(i))} for i in range(3)]
    batch = collate(items)
    assert batch["audio_length"].tolist() == [2, 3, 4]
    assert batch["image"][:, 0, 0, 0].tolist() == [0.0, 1.0, 2.0]


def test_collate_errors():
    with pytest.raises(ValueError, match="got no items"):
        collate([])
    with pytest.raises(ValueError, match=r"item 1 differs from item 0 in keys \['group'\]"):
        collate([{"label": torch.tensor(0), "group": torch.tensor(0)}, {"label": torch.tensor(1)}])
    with pytest.raises(ValueError, match="'image' items differ in shape"):
        collate([{"image": torch.zeros(3, 4, 4)}, {"image": torch.zeros(3, 5, 5)}])
