"""``cpckit train``: data, model, Lightning Trainer, run folder, evaluation.

One code path serves one process and many (DDP): every process runs
:func:`train`; global rank 0 alone writes the run folder (config, manifest,
``losses.csv``, checkpoints, weights, evaluation, report).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cpckit import __version__
from cpckit.config import Config, config_to_dict, save_config
from cpckit.errors import ConfigError
from cpckit.training.run_folder import RunPaths, remove_stale_temp_files, save_model

__all__ = ["TrainResult", "finish_run", "train"]

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a finished run returns (empty metrics on processes other than rank 0)."""

    out_dir: Path
    metrics: dict[str, Any]
    seconds: float


@dataclass
class _Resume:
    """The checkpoint a run resumes from and what changed since it was written."""

    path: str
    step: int
    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    saved_config: dict[str, Any] | None = None
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)


def _quiet_lightning() -> None:
    from cpckit.training.callbacks import quiet_lightning

    quiet_lightning()


def _on_cpu(cfg: Config) -> bool:
    accel = cfg.train.accelerator
    return accel == "cpu" or (accel == "auto" and not torch.cuda.is_available())


def _check_train_config(cfg: Config) -> None:
    """Values the Trainer would reject with a traceback, or take silently."""
    t = cfg.train
    if t.accelerator == "gpu" and not torch.cuda.is_available():
        raise ConfigError(
            "train.accelerator = 'gpu' but torch sees no GPU (torch.cuda.is_available() is "
            "False); use cpu or auto"
        )
    if t.precision == "16-mixed" and _on_cpu(cfg):
        raise ConfigError("train.precision = '16-mixed' needs a GPU; use bf16-mixed or 32 on CPU")
    if t.checkpoint_every_n_steps < 0:
        raise ConfigError(
            f"train.checkpoint_every_n_steps = {t.checkpoint_every_n_steps} is not valid: "
            "expected an integer >= 0 (0: at epoch ends only)"
        )
    if t.keep_checkpoints < 1:
        raise ConfigError(
            f"train.keep_checkpoints = {t.keep_checkpoints} is not valid: expected an integer >= 1"
        )
    if t.max_steps == 0 or t.max_steps < -1:
        raise ConfigError(
            f"train.max_steps = {t.max_steps} is not valid: expected -1 (no limit) or >= 1"
        )
    if t.resume is not None and t.resume != "auto" and not Path(t.resume).is_file():
        raise ConfigError(f"train.resume = {t.resume!r}: no such checkpoint file (or use 'auto')")


def _strategy(cfg: Config) -> Any:
    """``train.strategy`` for the Trainer: DDP when several processes, gloo on CPU."""
    strategy = cfg.train.strategy
    if strategy == "auto" and cfg.train.devices * cfg.train.num_nodes > 1:
        strategy = "ddp"
    if strategy in ("ddp", "ddp_spawn") and _on_cpu(cfg):
        from lightning.pytorch.strategies import DDPStrategy

        if strategy == "ddp":
            return DDPStrategy(process_group_backend="gloo", start_method="popen")
        return DDPStrategy(process_group_backend="gloo", start_method="spawn")
    return strategy


def _logger(cfg: Config, paths: RunPaths) -> Any:
    kind = cfg.train.logger
    if kind == "none":
        return False
    if kind == "mlflow":
        try:
            import alembic  # noqa: F401 - the SQLite store below needs both
            import mlflow  # noqa: F401
            import sqlalchemy  # noqa: F401
            from lightning.pytorch.loggers import MLFlowLogger
        except ImportError:
            raise ConfigError(
                "train.logger = 'mlflow' needs MLflow: pip install 'cpckit[mlflow]'"
            ) from None
        root = paths.root.resolve()
        root.mkdir(parents=True, exist_ok=True)
        # A local SQLite store (recent MLflow refuses plain-folder stores), with
        # artifacts in out_dir/mlruns: the run folder stays self-contained.
        return MLFlowLogger(
            experiment_name="cpckit",
            run_name=root.name,
            tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
            artifact_location=(root / "mlruns").as_uri(),
        )
    from lightning.pytorch.loggers import TensorBoardLogger

    return TensorBoardLogger(save_dir=str(paths.root), name="tensorboard", version="")


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = (
                value if isinstance(value, (int, float, str, bool)) else str(value)
            )
    return out


def _find_resume(cfg: Config, paths: RunPaths) -> _Resume | None:
    """The checkpoint to resume from (``train.resume``), checked against this config."""
    from cpckit.training.checkpoints import newest_valid_checkpoint
    from cpckit.training.resume import POSITION_KEY, check_mid_epoch, compare_configs

    resume = cfg.train.resume
    if resume is None:
        return None
    if resume == "auto":
        found = newest_valid_checkpoint(paths.checkpoints)
        if found is None:
            return None
        resume = str(found)
    try:
        blob = torch.load(resume, map_location="cpu", mmap=True, weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise ConfigError(
            f"train.resume = {resume!r} is not a readable checkpoint ({type(exc).__name__})"
        ) from None
    if not isinstance(blob, dict) or "global_step" not in blob:
        raise ConfigError(f"train.resume = {resume!r} is not a Lightning checkpoint")
    saved = (blob.get("cpckit") or {}).get("config")
    changed = compare_configs(saved, cfg)
    pos = blob.get(POSITION_KEY)
    if pos:
        world = cfg.train.devices * cfg.train.num_nodes
        check_mid_epoch(pos, cfg.train.batch_size, world, cfg.train.accumulate_grad_batches)
    state = blob.get("state_dict") or {}
    shapes = {k: tuple(v.shape) for k, v in state.items() if isinstance(v, torch.Tensor)}
    return _Resume(resume, int(blob["global_step"]), changed, saved, shapes)


def _callbacks(cfg: Config, paths: RunPaths, position: Any, resume: _Resume | None) -> list[Any]:
    """The callbacks of every run (progress lines are added for non-terminals)."""
    from cpckit.training.callbacks import LossRecorder, QuietLightning
    from cpckit.training.checkpoints import RunCheckpoint
    from cpckit.training.resume import OptimizerSettings
    from cpckit.training.seeding import StepSeeds

    callbacks: list[Any] = [
        QuietLightning(),
        StepSeeds(cfg.train.seed),
        position,
        LossRecorder(paths.losses_csv, cfg.model.prediction_steps),
        RunCheckpoint(  # Lightning runs checkpoint callbacks last
            paths.checkpoints,
            every_n_steps=cfg.train.checkpoint_every_n_steps,
            keep=cfg.train.keep_checkpoints,
            extra={"config": config_to_dict(cfg), "cpckit_version": __version__},
        ),
    ]
    if resume is not None and resume.saved_config is not None:
        saved = resume.saved_config.get("train", {})
        now = (cfg.train.lr, cfg.train.weight_decay)
        if (saved.get("lr"), saved.get("weight_decay")) != now:
            callbacks.append(OptimizerSettings(*now))
    return callbacks


def train(cfg: Config, *, stdout_is_tty: bool | None = None) -> TrainResult:
    """Train CPC as configured, write the run folder, evaluate; return the metrics."""
    import lightning as L

    from cpckit.build import build_model, build_objective
    from cpckit.data.datamodule import build_datasets
    from cpckit.training.callbacks import PlainProgress
    from cpckit.training.checkpoints import AtomicCheckpointIO, newest_valid_checkpoint
    from cpckit.training.guard import DivergenceError
    from cpckit.training.manifest import RunManifest
    from cpckit.training.module import CPCLightningModule
    from cpckit.training.resume import LoaderPosition, check_state_fits
    from cpckit.training.sampling import make_run_loader

    t0 = time.perf_counter()
    _quiet_lightning()
    _check_train_config(cfg)
    world = cfg.train.devices * cfg.train.num_nodes
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
        if world > 1:  # processes started by Lightning read it
            os.environ["OMP_NUM_THREADS"] = str(cfg.train.threads)
    paths = RunPaths(cfg.train.out_dir)
    logger = _logger(cfg, paths)
    resume = _find_resume(cfg, paths)

    L.seed_everything(cfg.train.seed, workers=True, verbose=False)
    bundle = build_datasets(cfg)
    batch_size = cfg.train.batch_size
    loader, sampler = make_run_loader(
        bundle.train,
        batch_size,
        seed=cfg.train.seed,
        shuffle=True,
        num_workers=cfg.data.num_workers,
    )
    val_loader = None
    val_samplers = []
    if bundle.val is not None and len(bundle.val) > 0:  # type: ignore[arg-type]
        val_loader, val_sampler = make_run_loader(
            bundle.val,
            batch_size,
            seed=cfg.train.seed,
            shuffle=False,
            num_workers=cfg.data.num_workers,
        )
        val_samplers.append(val_sampler)

    model = build_model(cfg)
    objective = build_objective(cfg, model)
    from cpckit.data.audio_augment import make_audio_augment

    module = CPCLightningModule(
        model,
        objective,
        lr=cfg.train.lr,
        weight_decay=cfg.train.weight_decay,
        augment=make_audio_augment(cfg),
        lr_schedule=cfg.train.lr_schedule,
        warmup_steps=cfg.train.warmup_steps,
    )
    if resume is not None:
        now = {k: tuple(v.shape) for k, v in module.state_dict().items()}
        check_state_fits(resume.shapes, now, resume.changed)

    tty = sys.stdout.isatty() if stdout_is_tty is None else stdout_is_tty
    callbacks = _callbacks(cfg, paths, LoaderPosition(sampler, batch_size, val_samplers), resume)
    if not tty:
        callbacks.append(PlainProgress(cfg.train.log_every_n_steps))
    trainer = L.Trainer(
        default_root_dir=str(paths.root),
        max_epochs=cfg.train.epochs,
        max_steps=cfg.train.max_steps,
        accelerator=cfg.train.accelerator,
        devices=cfg.train.devices,
        num_nodes=cfg.train.num_nodes,
        strategy=_strategy(cfg),
        precision=cfg.train.precision,  # type: ignore[arg-type]
        accumulate_grad_batches=cfg.train.accumulate_grad_batches,
        gradient_clip_val=cfg.train.grad_clip or None,
        callbacks=callbacks,
        plugins=[AtomicCheckpointIO()],
        logger=logger,
        use_distributed_sampler=False,  # EpochSampler shards the data itself
        enable_progress_bar=tty,
        enable_model_summary=False,
        log_every_n_steps=max(1, cfg.train.log_every_n_steps),
        deterministic=cfg.train.deterministic,
        num_sanity_val_steps=0,
    )

    manifest: RunManifest | None = None
    if trainer.global_rank == 0:
        manifest = _prepare_run_folder(cfg, paths, bundle, resume, trainer, logger)
    try:
        trainer.fit(
            module,
            train_dataloaders=loader,
            val_dataloaders=val_loader,
            ckpt_path=None if resume is None else resume.path,
        )
    except DivergenceError as exc:
        diverged = exc.in_run(newest_valid_checkpoint(paths.checkpoints), cfg.train.lr)
        if manifest is not None:
            manifest.finish("diverged", step=trainer.global_step, error=str(diverged))
        raise diverged from None
    except (KeyboardInterrupt, SystemExit) as exc:
        # Lightning turns Ctrl-C into sys.exit(1), and SIGTERM into a SystemExit.
        if manifest is not None:
            manifest.finish("interrupted", step=trainer.global_step, error=type(exc).__name__)
        raise KeyboardInterrupt from None
    except BaseException as exc:
        if manifest is not None:
            failure = f"{type(exc).__name__}: {exc}"
            manifest.finish("failed", step=trainer.global_step, error=failure)
        raise

    if trainer.global_rank != 0 or manifest is None:
        return TrainResult(paths.root, {}, time.perf_counter() - t0)
    result = finish_run(model, cfg, paths, bundle, t0)
    manifest.finish("finished", step=trainer.global_step)
    return result


def _prepare_run_folder(
    cfg: Config, paths: RunPaths, bundle: Any, resume: _Resume | None, trainer: Any, logger: Any
) -> Any:
    """Rank 0, before training: folders, config.yaml, manifest.json; report the resume."""
    from cpckit.training.checkpoints import set_aside_newer
    from cpckit.training.manifest import RunManifest

    paths.root.mkdir(parents=True, exist_ok=True)
    paths.checkpoints.mkdir(exist_ok=True)
    remove_stale_temp_files(paths.checkpoints)
    remove_stale_temp_files(paths.root)
    save_config(cfg, paths.config)
    for key, value in bundle.info.items():
        print(f"data: {key}: {value}", flush=True)
    start = 0 if resume is None else resume.step
    if resume is not None:
        print(f"resume: from {resume.path} (step {resume.step})", flush=True)
        for key, (then, now) in resume.changed.items():
            print(f"resume: changed since the checkpoint: {key}: {then!r} -> {now!r}", flush=True)
    elif cfg.train.resume == "auto":
        print(f"resume: no checkpoint in {paths.checkpoints}, starting at step 0", flush=True)
    moved = set_aside_newer(paths.checkpoints, start)
    if moved:
        print(
            f"checkpoints: {len(moved)} past step {start} moved to {moved[0].parent} "
            "(they belong to an earlier run)",
            flush=True,
        )
    if logger:
        logger.log_hyperparams(_flat(config_to_dict(cfg)))
    manifest = RunManifest(paths.manifest, cfg, trainer, None if resume is None else resume.path)
    manifest.start(start)
    return manifest


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
