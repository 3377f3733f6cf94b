"""The run's module and Trainer (training/trainer.py), shared by `cpckit train` and `cpckit bench`:
precision, gradient accumulation, tracking (TensorBoard, MLflow), the manifest, and a real
2-process DDP run on CPU (gloo) against one process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

import cpckit
from cpckit.cli import main
from cpckit.config import load_config
from cpckit.training import trainer as trainer_mod
from cpckit.training.run_folder import RunPaths
from helpers.training import (
    TINY,
    cli_command,
    losses_of,
    read_losses,
    steps_of,
    train_args,
    train_in_process,
)


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
    # what Trainer.fit(ckpt_path=...) reads a checkpoint with: the weights-only reader
    assert type(trainer.strategy.checkpoint_io).__name__ == "AtomicCheckpointIO"

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


OPTIONS_RUN = ["--epochs", "1", "data.n_train=48", "train.batch_size=8"]


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plain") / "run"
    code, _ = train_in_process(out, *OPTIONS_RUN, "--seed", "5")
    assert code == 0
    return out


def test_train_writes_tensorboard_scalars(plain_run: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = list((plain_run / "tensorboard").glob("events.out.tfevents.*"))
    assert events
    acc = EventAccumulator(str(plain_run / "tensorboard"))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert "train/loss_step" in tags and "train/loss_epoch" in tags
    assert len(acc.Scalars("train/loss_step")) == 6  # log_every_n_steps=1, 6 steps


def test_train_manifest_records_what_made_the_run(plain_run: Path) -> None:
    m = json.loads((plain_run / "manifest.json").read_text())
    assert m["status"] == "finished" and m["error"] is None
    assert m["seed"] == 5 and m["world_size"] == 1 and m["device"] == "cpu"
    assert m["versions"]["cpckit"] == cpckit.__version__
    assert m["versions"]["torch"] == torch.__version__
    assert m["versions"]["lightning"]
    assert m["git"]["commit"] is None or len(m["git"]["commit"]) == 40
    assert m["start_time"] <= m["end_time"] and m["global_step"] == 6
    assert m["config"] == yaml.safe_load((plain_run / "config.yaml").read_text())
    assert m["sessions"][0]["resumed_from"] is None


def test_train_gradient_accumulation_steps_once_per_group(tmp_path: Path) -> None:
    out = tmp_path / "acc"
    code, _ = train_in_process(out, *OPTIONS_RUN, "--accumulate-grad-batches", "3")
    assert code == 0
    rows = read_losses(out)
    assert steps_of(rows) == [1, 2]  # 6 batches of 8, 3 per optimizer step
    assert json.loads((out / "manifest.json").read_text())["global_step"] == 2


def test_train_bf16_mixed_runs_on_cpu(tmp_path: Path) -> None:
    out = tmp_path / "bf16"
    code, _ = train_in_process(
        out, "--epochs", "1", "--precision", "bf16-mixed", "--max-steps", "1",
        "data.n_train=4", "train.batch_size=4",
    )  # fmt: skip
    assert code == 0
    losses = losses_of(read_losses(out))
    assert len(losses) == 1 and 0 < losses[0] < 10


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["--precision", "16-mixed", "--accelerator", "cpu"], 2,
         "error: train.precision = '16-mixed' needs a GPU; use bf16-mixed or 32 on CPU"),
        (["train.checkpoint_every_n_steps=-1"], 2,
         "error: train.checkpoint_every_n_steps = -1 is not valid"),
        (["--resume", "/nonexistent.ckpt"], 1,  # a file it names is missing: a failed run
         "error: train.resume = '/nonexistent.ckpt': no such checkpoint file"),
    ],
)  # fmt: skip
def test_train_bad_training_options_give_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], args: list[str], status: int, message: str
) -> None:
    code, _ = train_in_process(tmp_path / "run", *OPTIONS_RUN, *args)
    err = capfd.readouterr().err
    assert code == status and message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_train_mlflow_missing_is_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow raises ImportError
    code, _ = train_in_process(tmp_path / "run", *OPTIONS_RUN, "--logger", "mlflow")
    err = capfd.readouterr().err
    assert code == 2
    assert (
        err.strip() == "error: train.logger = 'mlflow' needs MLflow: pip install 'cpckit[mlflow]'"
    )


def test_train_tensorboard_missing_is_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trainer_mod, "tensorboard_writer_available", lambda: False)
    code, _ = train_in_process(tmp_path / "run", *OPTIONS_RUN, "--logger", "tensorboard")
    err = capfd.readouterr().err
    assert code == 2
    assert err.strip() == (
        "error: train.logger = 'tensorboard' needs tensorboardX or TensorBoard: "
        "pip install 'cpckit[tensorboard]', or set train.logger = none (--logger none)"
    )


def test_train_tensorboard_logs_through_tensorboardx_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without TensorBoard (only tensorboardX, the dependency) the event files still read back."""
    pytest.importorskip("tensorboardX")
    pytest.importorskip("tensorboard")  # to read the files back
    from lightning.fabric.loggers import tensorboard as fabric_tb
    from lightning.pytorch.loggers import tensorboard as pytorch_tb
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.setattr(fabric_tb, "_TENSORBOARD_AVAILABLE", False)
    monkeypatch.setattr(pytorch_tb, "_TENSORBOARD_AVAILABLE", False)
    cfg = load_config(None, ["train.logger=tensorboard"])
    logger = trainer_mod.make_logger(cfg, RunPaths(tmp_path))
    assert type(logger.experiment).__module__.startswith("tensorboardX")
    for step in range(3):
        logger.log_metrics({"train/loss_step": 1.0 / (step + 1)}, step=step)
    logger.finalize("success")
    acc = EventAccumulator(str(tmp_path / "tensorboard"))
    acc.Reload()
    assert [round(e.value, 3) for e in acc.Scalars("train/loss_step")] == [1.0, 0.5, 0.333]


def test_train_mlflow_logs_to_a_local_store(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    out = tmp_path / "run"
    code, _ = train_in_process(out, *OPTIONS_RUN, "--logger", "mlflow")
    assert code == 0
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{out.resolve() / 'mlflow.db'}")
    (experiment,) = [e for e in client.search_experiments() if e.name == "cpckit"]
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "run" and run.info.status == "FINISHED"
    history = client.get_metric_history(run.info.run_id, "train/loss_step")
    assert len(history) == 6 and all(0 < m.value < 10 for m in history)
    assert run.data.params["train.seed"] == "0"


def test_train_resume_refuses_a_different_model(
    plain_run: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    ckpt = plain_run / "checkpoints" / "last.ckpt"
    code, _ = train_in_process(
        tmp_path / "run", *OPTIONS_RUN, "--resume", str(ckpt), "model.c_dim=8"
    )
    err = capfd.readouterr().err
    assert code == 2
    assert "error: cannot resume: the checkpoint does not fit this model (" in err
    assert "): model.c_dim = 16 in the checkpoint, 8 now. Resume with" in err
    assert "Traceback" not in err


def test_train_resume_applies_a_new_learning_rate(plain_run: Path, tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "run"
    shutil.copytree(plain_run, out)
    code, printed = train_in_process(
        out, "--epochs", "2", "data.n_train=48", "train.batch_size=8", "--seed", "5",
        "--resume", "auto", "--lr", "1e-4",
    )  # fmt: skip
    assert code == 0
    assert "resume: changed since the checkpoint: train.lr: 0.0003 -> 0.0001" in printed
    assert steps_of(read_losses(out)) == list(range(1, 13))
    state = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    assert state["optimizer_states"][0]["param_groups"][0]["lr"] == pytest.approx(1e-4)


# A real 2-process DDP run on CPU (gloo) through the CLI, against one process.
#
# Both runs see the same global batches: one process with batches of 16, or
# two with batches of 8 each, where EpochSampler gives process r the indices
# r, r + 2, ... of the same permutation (so the two halves of a DDP step are
# exactly the single process's batch; tests/training/test_sampling.py checks that). DDP
# averages the two halves' gradients, which equals the gradient of the mean
# loss over the 16 examples, and ``losses.csv`` holds the mean loss over the
# processes. The curves still differ a little, and legitimately: in-batch
# negatives are drawn within each process's 8 sequences rather than among 16,
# and each process draws its own random indices. Measured on this config:
# max |difference| 0.043 (2.4 %), mean 0.016 over 16 steps; a single process
# with batches of 8 (what unsynchronised processes would trace) strays by up
# to 0.17 (11 %). The test allows 5 % per step.
DDP_RUN = ["--epochs", "4", "--neg-mode", "inbatch", "data.n_train=64", "train.lr=1e-2"]


DDP_STEPS = 16  # 64 examples / 16 per global batch * 4 epochs


DDP_RTOL = 0.05


def test_train_ddp_two_processes_match_one_process(tmp_path: Path) -> None:
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    args = train_args(ddp, *DDP_RUN, "--devices", "2", "--accelerator", "cpu", "train.batch_size=8")
    proc = subprocess.Popen(
        cli_command(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:  # the single-process run goes on while the DDP processes start
        code, _ = train_in_process(single, *DDP_RUN, "--accelerator", "cpu", "train.batch_size=16")
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        proc.kill()
        proc.wait()
    assert code == 0
    assert proc.returncode == 0, stderr[-3000:]

    # one run folder, written once by rank 0
    assert stdout.count("data: train examples: 64") == 1
    assert stdout.count("run folder:") == 1
    for name in ("config.yaml", "cpc_model.pth", "losses.csv", "metrics.json", "manifest.json"):
        assert (ddp / name).is_file(), name
    manifest = json.loads((ddp / "manifest.json").read_text())
    assert manifest["world_size"] == 2 and manifest["status"] == "finished"
    assert manifest["global_step"] == DDP_STEPS
    assert sorted(p.name for p in (ddp / "checkpoints").glob("*.ckpt")) == [
        "last.ckpt",
        "step00000012.ckpt",
        "step00000016.ckpt",
    ]

    a, b = read_losses(single), read_losses(ddp)
    assert steps_of(a) == steps_of(b) == list(range(1, DDP_STEPS + 1))
    la, lb = np.array(losses_of(a)), np.array(losses_of(b))
    assert np.all(np.abs(la - lb) <= DDP_RTOL * la), np.round(np.stack([la, lb]), 3)
    assert la[-1] < la[0] - 0.3  # the curves fall well beyond the tolerance

    # rank 0 saved the trained weights: they are the ones in the final checkpoint
    import torch

    saved = torch.load(ddp / "cpc_model.pth", weights_only=True)["state_dict"]
    ckpt = torch.load(ddp / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    for key, value in saved.items():
        assert torch.equal(value, ckpt[f"model.{key}"]), key
