"""The loss log (LossRecorder): on a resume it keeps whole rows up to the restored step."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from cpckit.training.callbacks import LossRecorder


def test_train_loss_log_keeps_whole_rows_up_to_the_restored_step(tmp_path: Path) -> None:
    path = tmp_path / "losses.csv"
    recorder = LossRecorder(path, steps=2)
    header = ",".join(recorder.header)
    rows = [f"{s},0,1.0,0.5,0.5,0.5" for s in (1, 2, 3, 4, 5)]
    path.write_text("\n".join([header, *rows, "6,0,1."]) + "\n")  # the last row cut short
    trainer = SimpleNamespace(global_rank=0, global_step=4)
    recorder.on_train_start(trainer, None)  # type: ignore[arg-type]
    assert path.read_text().splitlines() == [header, *rows[:4]]
