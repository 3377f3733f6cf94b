"""The run's module and Trainer (training/trainer.py), shared by `cpckit train` and `cpckit bench`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cpckit.cli import main
from cpckit.config import load_config
from cpckit.training import trainer as trainer_mod
from cpckit.training.run_folder import RunPaths
from helpers.training import TINY, train_in_process


def _kinds(trainer: Any) -> list[str]:
    return [type(cb).__name__ for cb in trainer.callbacks]


def test_train_make_trainer_takes_its_settings_from_the_config(tmp_path: Path) -> None:
    cfg = load_config(
        None,
        [
            *TINY,
            "train.accelerator=cpu",
            "train.accumulate_grad_batches=3",
            "train.grad_clip=0.5",
            "train.max_steps=7",
            "train.logger=none",
        ],
    )
    trainer = trainer_mod.make_trainer(cfg, RunPaths(tmp_path), tty=False)
    assert trainer.accumulate_grad_batches == 3
    assert trainer.gradient_clip_val == 0.5
    assert trainer.max_steps == 7
    assert trainer.logger is None
    kinds = _kinds(trainer)
    for name in ("QuietLightning", "StepSeeds", "LossRecorder", "RunCheckpoint", "PlainProgress"):
        assert name in kinds
    assert "OptimizerSettings" not in kinds

    on_tty = trainer_mod.make_trainer(
        cfg, RunPaths(tmp_path), tty=True, saved_config={"train": {"lr": 1.0}}
    )
    assert "PlainProgress" not in _kinds(on_tty)
    assert "OptimizerSettings" in _kinds(on_tty)  # the resumed run's lr differs


def test_train_build_module_holds_the_momentum_key_encoder() -> None:
    cfg = load_config(None, [*TINY, "negatives.mode=queue", "negatives.momentum=0.9"])
    module = trainer_mod.build_module(cfg)
    assert module.objective.key_encoder is not None
    assert module.lr == cfg.train.lr


# Options make_trainer reads, on the tiny config of the training tests.
RUN_OPTIONS = [
    "train.accumulate_grad_batches=2",
    "train.grad_clip=1.0",
    "train.checkpoint_every_n_steps=1",
]


def test_train_and_bench_get_their_trainer_from_make_trainer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made: list[Any] = []
    original = trainer_mod.make_trainer

    def recording(*args: Any, **kwargs: Any) -> Any:
        made.append(original(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(trainer_mod, "make_trainer", recording)
    code, _ = train_in_process(tmp_path / "run", "train.max_steps=1", *RUN_OPTIONS)
    assert code == 0 and len(made) == 1
    argv = ["bench", "--steps", "1", "--warmup", "1", "--lightning-steps", "1"]
    assert main([*argv, *TINY, *RUN_OPTIONS]) == 0  # the config train_in_process ran
    assert len(made) == 2
    trained, benched = made
    assert trained.accumulate_grad_batches == 2 and trained.gradient_clip_val == 1.0
    for attr in ("accumulate_grad_batches", "gradient_clip_val", "log_every_n_steps"):
        assert getattr(trained, attr) == getattr(benched, attr), attr
    assert type(trained.precision_plugin) is type(benched.precision_plugin)
    assert type(trained.logger) is type(benched.logger)
    # the same callbacks, but for the training loader's position and the bench's clock
    assert [k for k in _kinds(trained) if k != "LoaderPosition"] == [
        k for k in _kinds(benched) if k != "_StepClock"
    ]
    capsys.readouterr()
