"""``cpckit train``: data, model, Lightning Trainer, run folder, evaluation."""

from __future__ import annotations

import json
import logging
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cpckit.config import Config, save_config
from cpckit.errors import ConfigError
from cpckit.training.run_folder import RunPaths, save_model

__all__ = ["TrainResult", "train"]

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a finished run returns."""

    out_dir: Path
    metrics: dict[str, Any]
    seconds: float


def _quiet_lightning() -> None:
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*GPU available but not used.*")
    warnings.filterwarnings("ignore", ".*TPU available.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*")
    warnings.filterwarnings("ignore", ".*`validation_step` but have no `val_dataloader`.*")
    warnings.filterwarnings(
        "ignore", ".*number of training batches.*smaller than the logging interval.*"
    )


def _resume_path(cfg: Config, paths: RunPaths) -> str | None:
    resume = cfg.train.resume
    if resume is None:
        return None
    if resume == "auto":
        from cpckit.training.checkpoints import newest_valid_checkpoint

        found = newest_valid_checkpoint(paths.checkpoints)
        return None if found is None else str(found)
    if not Path(resume).is_file():
        raise ConfigError(f"train.resume = {resume!r}: no such checkpoint file (or use 'auto')")
    return resume


def _logger(cfg: Config, paths: RunPaths) -> Any:
    kind = cfg.train.logger
    if kind == "none":
        return False
    if kind == "mlflow":
        try:
            import mlflow  # noqa: F401
            from lightning.pytorch.loggers import MLFlowLogger
        except ImportError:
            raise ConfigError(
                "train.logger = 'mlflow' needs MLflow: pip install 'cpckit[mlflow]'"
            ) from None
        return MLFlowLogger(
            experiment_name="cpckit", tracking_uri=f"file:{(paths.root / 'mlruns').resolve()}"
        )
    from lightning.pytorch.loggers import TensorBoardLogger

    return TensorBoardLogger(save_dir=str(paths.root), name="tensorboard", version="")


def train(cfg: Config, *, stdout_is_tty: bool | None = None) -> TrainResult:
    """Train CPC as configured, write the run folder, evaluate; return the metrics."""
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint

    from cpckit.build import build_model, build_objective
    from cpckit.data.datamodule import build_datasets, make_loader
    from cpckit.training.callbacks import LossRecorder, PlainProgress
    from cpckit.training.module import CPCLightningModule

    t0 = time.perf_counter()
    _quiet_lightning()
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    paths = RunPaths(cfg.train.out_dir)
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.checkpoints.mkdir(exist_ok=True)
    save_config(cfg, paths.config)
    L.seed_everything(cfg.train.seed, workers=True, verbose=False)

    bundle = build_datasets(cfg)
    for key, value in bundle.info.items():
        print(f"data: {key}: {value}", flush=True)
    loader = make_loader(
        bundle.train,
        cfg.train.batch_size,
        shuffle=True,
        num_workers=cfg.data.num_workers,
        seed=cfg.train.seed,
        drop_last=False,
    )
    val_loader = None
    if bundle.val is not None and len(bundle.val) > 0:  # type: ignore[arg-type]
        val_loader = make_loader(
            bundle.val, cfg.train.batch_size, shuffle=False, num_workers=cfg.data.num_workers
        )

    model = build_model(cfg)
    objective = build_objective(cfg)
    module = CPCLightningModule(
        model, objective, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay
    )

    tty = sys.stdout.isatty() if stdout_is_tty is None else stdout_is_tty
    ckpt_every = cfg.train.checkpoint_every_n_steps or None
    callbacks: list[Any] = [
        ModelCheckpoint(
            dirpath=str(paths.checkpoints),
            filename="step{step:08d}",
            auto_insert_metric_name=False,
            save_last=True,
            save_top_k=1,
            every_n_train_steps=ckpt_every,
            save_on_train_epoch_end=True,
        ),
        LossRecorder(paths.losses_csv, cfg.model.prediction_steps),
    ]
    if not tty:
        callbacks.append(PlainProgress(cfg.train.log_every_n_steps))
    strategy: Any = cfg.train.strategy
    if strategy == "auto" and cfg.train.devices * cfg.train.num_nodes > 1:
        strategy = "ddp"
    trainer = L.Trainer(
        default_root_dir=str(paths.root),
        max_epochs=cfg.train.epochs,
        max_steps=cfg.train.max_steps,
        accelerator=cfg.train.accelerator,
        devices=cfg.train.devices,
        num_nodes=cfg.train.num_nodes,
        strategy=strategy,
        precision=cfg.train.precision,  # type: ignore[arg-type]
        accumulate_grad_batches=cfg.train.accumulate_grad_batches,
        gradient_clip_val=cfg.train.grad_clip or None,
        callbacks=callbacks,
        logger=_logger(cfg, paths),
        enable_progress_bar=tty,
        enable_model_summary=False,
        log_every_n_steps=max(1, cfg.train.log_every_n_steps),
        deterministic=cfg.train.deterministic,
        num_sanity_val_steps=0,
    )
    trainer.fit(
        module,
        train_dataloaders=loader,
        val_dataloaders=val_loader,
        ckpt_path=_resume_path(cfg, paths),
    )

    if trainer.global_rank != 0:
        return TrainResult(paths.root, {}, time.perf_counter() - t0)
    return finish_run(model, cfg, paths, bundle, t0)


def finish_run(model: Any, cfg: Config, paths: RunPaths, bundle: Any, t0: float) -> TrainResult:
    """Save the model and curves, evaluate, write metrics and the report (rank 0)."""
    from cpckit.evaluation.pipeline import evaluate_model
    from cpckit.evaluation.plots import plot_training_curve, read_losses

    model = model.cpu().eval()
    save_model(model, cfg, paths.model)
    final_loss = None
    if paths.losses_csv.exists():
        losses = read_losses(paths.losses_csv)
        if len(losses["loss"]):
            np.save(paths.losses_npy, losses["loss"].astype(np.float32))
            final_loss = float(np.mean(losses["loss"][-max(1, len(losses["loss"]) // 10) :]))
            plot_training_curve(losses, paths.curve, title=f"CPC ({cfg.data.modality})")
    metrics = evaluate_model(model, bundle, cfg, paths.root, final_loss)
    train_seconds = time.perf_counter() - t0
    metrics["wall_time_seconds"] = round(train_seconds, 2)
    paths.metrics.write_text(json.dumps(metrics, indent=2))
    if cfg.eval.report:
        from cpckit.evaluation.report import write_report

        write_report(paths.root)
    return TrainResult(paths.root, metrics, train_seconds)
