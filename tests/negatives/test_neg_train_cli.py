"""Negatives through the real CLI: queue + momentum training and resume, `cpckit compare`."""

from __future__ import annotations

import contextlib
import csv
import io
from pathlib import Path

import torch

from cpckit.cli import main

TINY = [
    "model.z_dim=16", "model.c_dim=16", "model.prediction_steps=3",
    "data.full_duration=0.08", "data.n_train=32", "data.n_test=24",
    "negatives.n_negatives=8", "negatives.queue_size=1024", "train.batch_size=16",
    "eval.max_examples=48", "eval.tsne=false",
]  # fmt: skip


def _cli(*args: str) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(list(args))
    assert code == 0, buf.getvalue()
    return buf.getvalue()


def _state(run: Path) -> dict[str, torch.Tensor]:
    blob = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    state: dict[str, torch.Tensor] = blob["state_dict"]
    return state


def test_neg_queue_with_momentum_trains_checkpoints_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    common = ["--modality", "audio", "--use-mock-data", "true", "--out-dir", str(out),
              "--neg-mode", "queue+synthetic", "negatives.momentum=0.9", *TINY]  # fmt: skip
    _cli("train", "--epochs", "1", *common)
    state = _state(out)
    queue_key = next(k for k in state if k.endswith(".queue.queue"))
    filled = int(state[queue_key.replace(".queue.queue", ".queue.filled")])
    # 2 steps of 16 sequences, every latent of each enqueued; the queue (1024) is not full
    assert filled > 0 and filled % 32 == 0 and 2 * filled <= 1024
    assert state[queue_key][:filled].abs().sum() > 0
    # the key encoder is an EMA of the online encoder: close to it, not equal
    key_names = [k for k in state if k.startswith("objective.key_encoder.encoders.audio.")]
    assert key_names
    online = {
        k: state[k.replace("objective.key_encoder.encoders.", "model.encoders.")] for k in key_names
    }
    moved = [
        not torch.equal(state[k], online[k]) for k in key_names if state[k].is_floating_point()
    ]
    assert any(moved)

    _cli("train", "--epochs", "2", "--resume", "auto", *common)
    resumed = _state(out)
    assert int(resumed[queue_key.replace(".queue.queue", ".queue.filled")]) == 2 * filled
    # the resumed run started from the saved queue: its first rows are the checkpointed keys
    assert torch.equal(resumed[queue_key][:filled], state[queue_key][:filled])
    with (out / "losses.csv").open() as fh:
        assert [int(r["step"]) for r in csv.DictReader(fh)] == [1, 2, 3, 4]


def test_neg_compare_end_to_end_on_tiny_audio(tmp_path: Path) -> None:
    printed = _cli("compare", "--neg-mode", "inbatch,queue+synthetic", "--out-dir", str(tmp_path),
                   "--epochs", "1", "--use-mock-data", "true", *TINY)  # fmt: skip
    with (tmp_path / "comparison.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["mode"] for r in rows] == ["inbatch", "queue+synthetic"]
    for row in rows:
        assert 0.0 <= float(row["probe_test_accuracy"]) <= 1.0
        assert float(row["final_loss"]) > 0
    assert rows[0]["final_loss"] != rows[1]["final_loss"]  # different negatives, different loss
    assert (tmp_path / "comparison.md").read_text().count("\n| ") >= 3
    assert (tmp_path / "loss_comparison.png").stat().st_size > 0
    assert "queue+synthetic" in printed
