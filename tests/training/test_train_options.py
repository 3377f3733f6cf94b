"""Precision, gradient accumulation, tracking (TensorBoard, MLflow) and the manifest."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
import yaml

import cpckit
from helpers.training import losses_of, read_losses, steps_of, train_in_process

RUN = ["--epochs", "1", "data.n_train=48", "train.batch_size=8"]


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plain") / "run"
    code, _ = train_in_process(out, *RUN, "--seed", "5")
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
    code, _ = train_in_process(out, *RUN, "--accumulate-grad-batches", "3")
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
    ("args", "message"),
    [
        (["--precision", "16-mixed", "--accelerator", "cpu"],
         "error: train.precision = '16-mixed' needs a GPU; use bf16-mixed or 32 on CPU"),
        (["train.checkpoint_every_n_steps=-1"],
         "error: train.checkpoint_every_n_steps = -1 is not valid"),
        (["--resume", "/nonexistent.ckpt"],
         "error: train.resume = '/nonexistent.ckpt': no such checkpoint file"),
    ],
)  # fmt: skip
def test_train_bad_training_options_give_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _ = train_in_process(tmp_path / "run", *RUN, *args)
    err = capfd.readouterr().err
    assert code == 2 and message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_train_mlflow_missing_is_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow raises ImportError
    code, _ = train_in_process(tmp_path / "run", *RUN, "--logger", "mlflow")
    err = capfd.readouterr().err
    assert code == 2
    assert (
        err.strip() == "error: train.logger = 'mlflow' needs MLflow: pip install 'cpckit[mlflow]'"
    )


def test_train_mlflow_logs_to_a_local_store(tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    out = tmp_path / "run"
    code, _ = train_in_process(out, *RUN, "--logger", "mlflow")
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
    code, _ = train_in_process(tmp_path / "run", *RUN, "--resume", str(ckpt), "model.c_dim=8")
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
    state = torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)
    assert state["optimizer_states"][0]["param_groups"][0]["lr"] == pytest.approx(1e-4)
