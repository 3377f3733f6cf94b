"""The loss log (LossRecorder): on a resume it keeps whole rows up to the restored step; the
plain progress lines (PlainProgress): step, rate, elapsed time and time left, on a fake clock."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import torch

from cpckit.training.callbacks import LossRecorder, PlainProgress


def test_train_loss_log_keeps_whole_rows_up_to_the_restored_step(tmp_path: Path) -> None:
    path = tmp_path / "losses.csv"
    recorder = LossRecorder(path, steps=2)
    header = ",".join(recorder.header)
    rows = [f"{s},0,1.0,0.5,0.5,0.5" for s in (1, 2, 3, 4, 5)]
    path.write_text("\n".join([header, *rows, "6,0,1."]) + "\n")  # the last row cut short
    trainer = SimpleNamespace(global_rank=0, global_step=4)
    recorder.on_train_start(trainer, None)  # type: ignore[arg-type]
    assert path.read_text().splitlines() == [header, *rows[:4]]


def test_plain_progress_lines_show_the_step_rate_elapsed_time_and_time_left() -> None:
    now = [500.0]
    stream = io.StringIO()
    progress = PlainProgress(every_n_steps=2, stream=stream, clock=lambda: now[0])
    # a run resumed at step 10 of 50, in its second epoch of five (of 10 batches)
    trainer = SimpleNamespace(global_rank=0, current_epoch=1, max_epochs=5)
    trainer.num_training_batches, trainer.global_step = 10, 10
    trainer.estimated_stepping_batches = 50
    progress.on_train_start(trainer, None)  # type: ignore[arg-type]
    progress.on_train_epoch_start(trainer, None)  # type: ignore[arg-type]
    for batch in range(4):
        now[0] += 0.5  # two steps a second
        trainer.global_step += 1
        outputs = {
            "loss": torch.tensor(2.0 - batch / 10),
            "step_accuracy": torch.tensor([0.25, 0.5]),
        }
        progress.after_train_batch(trainer, outputs, batch)  # type: ignore[arg-type]
    progress.on_train_epoch_end(trainer, None)  # type: ignore[arg-type]
    # 2 steps in 1 s: 38 left take 19 s; 4 steps in 2 s: 36 left take 18 s
    assert stream.getvalue().splitlines() == [
        "epoch 2/5 batch 2/10 loss 1.9000 acc 0.375 step 12/50 2.00 steps/s elapsed 00:01 eta 00:19",
        "epoch 2/5 batch 4/10 loss 1.7000 acc 0.375 step 14/50 2.00 steps/s elapsed 00:02 eta 00:18",
        "epoch 2/5 done: mean loss 1.8500 (2.0 s)",
    ]
