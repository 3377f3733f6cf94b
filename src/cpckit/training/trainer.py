"""The Lightning module and Trainer of a run, as ``cpckit train`` builds them.

``cpckit bench`` times its Lightning steps on a Trainer from
:func:`make_trainer` and its bare steps on a module from :func:`build_module`,
so what it measures is what training runs.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from cpckit import __version__
from cpckit.config import Config, config_to_dict
from cpckit.errors import ConfigError
from cpckit.training.run_folder import RunPaths

if TYPE_CHECKING:
    import lightning as L

    from cpckit.training.module import CPCLightningModule

__all__ = ["build_module", "make_logger", "make_trainer", "on_cpu"]


def build_module(cfg: Config) -> CPCLightningModule:
    """Model, objective (with the momentum key encoder when configured) and optimizer settings."""
    from cpckit.build import build_model, build_objective
    from cpckit.data.audio_augment import make_audio_augment
    from cpckit.training.module import CPCLightningModule

    model = build_model(cfg)
    return CPCLightningModule(
        model,
        build_objective(cfg, model),
        lr=cfg.train.lr,
        weight_decay=cfg.train.weight_decay,
        optimizer=cfg.train.optimizer,
        momentum=cfg.train.momentum,
        augment=make_audio_augment(cfg),
        lr_schedule=cfg.train.lr_schedule,
        warmup_steps=cfg.train.warmup_steps,
    )


def on_cpu(cfg: Config) -> bool:
    """True when the run trains on the CPU (``train.accelerator`` cpu, or auto without a GPU)."""
    accel = cfg.train.accelerator
    return accel == "cpu" or (accel == "auto" and not torch.cuda.is_available())


def _strategy(cfg: Config) -> Any:
    """``train.strategy`` for the Trainer: DDP when several processes, gloo on CPU."""
    strategy = cfg.train.strategy
    if strategy == "auto" and cfg.train.devices * cfg.train.num_nodes > 1:
        strategy = "ddp"
    if strategy in ("ddp", "ddp_spawn") and on_cpu(cfg):
        from lightning.pytorch.strategies import DDPStrategy

        if strategy == "ddp":
            return DDPStrategy(process_group_backend="gloo", start_method="popen")
        return DDPStrategy(process_group_backend="gloo", start_method="spawn")
    return strategy


def make_logger(cfg: Config, paths: RunPaths) -> Any:
    """The experiment logger ``train.logger`` names (False for none), writing into the run folder."""
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
    if not tensorboard_writer_available():
        raise ConfigError(
            "train.logger = 'tensorboard' needs tensorboardX or TensorBoard: "
            "pip install 'cpckit[tensorboard]', or set train.logger = none (--logger none)"
        )
    from lightning.pytorch.loggers import TensorBoardLogger

    return TensorBoardLogger(save_dir=str(paths.root), name="tensorboard", version="")


def tensorboard_writer_available() -> bool:
    """Whether Lightning's TensorBoard logger can write event files here.

    It writes through TensorBoard's own writer when TensorBoard is installed
    and through tensorboardX (a dependency of cpckit, a few MB) otherwise;
    both write the same event files, so TensorBoard itself is needed only to
    view them (the ``tensorboard`` extra).
    """
    return any(
        importlib.util.find_spec(name) is not None for name in ("tensorboardX", "tensorboard")
    )


def _callbacks(
    cfg: Config, paths: RunPaths, position: Any, saved_config: dict[str, Any] | None
) -> list[Any]:
    """The callbacks of every run (progress lines are added for non-terminals)."""
    from cpckit.training.callbacks import LossRecorder, QuietLightning
    from cpckit.training.checkpoints import RunCheckpoint
    from cpckit.training.resume import OptimizerSettings
    from cpckit.training.seeding import StepSeeds

    callbacks: list[Any] = [QuietLightning(), StepSeeds(cfg.train.seed)]
    if position is not None:
        callbacks.append(position)
    callbacks += [
        LossRecorder(paths.losses_csv, cfg.model.prediction_steps),
        RunCheckpoint(  # Lightning runs checkpoint callbacks last
            paths.checkpoints,
            every_n_steps=cfg.train.checkpoint_every_n_steps,
            keep=cfg.train.keep_checkpoints,
            extra={"config": config_to_dict(cfg), "cpckit_version": __version__},
        ),
    ]
    if saved_config is not None:
        saved = saved_config.get("train", {})
        now = (cfg.train.lr, cfg.train.weight_decay)
        if (saved.get("lr"), saved.get("weight_decay")) != now:
            callbacks.append(OptimizerSettings(*now))
    return callbacks


def make_trainer(
    cfg: Config,
    paths: RunPaths,
    *,
    tty: bool,
    position: L.Callback | None = None,
    saved_config: dict[str, Any] | None = None,
    logger: Any = None,
    progress_stream: Any = None,
    callbacks: Sequence[L.Callback] = (),
) -> L.Trainer:
    """The Lightning Trainer of a run of ``cfg`` writing into ``paths``.

    Loss log, checkpoints, seeds, logger, strategy, devices, precision,
    gradient accumulation and clipping all come from ``cfg``.

    Args:
        tty: output goes to a terminal (a progress bar; otherwise plain
            progress lines every ``train.log_every_n_steps``).
        position: the training loader's :class:`~cpckit.training.resume.LoaderPosition`.
        saved_config: the config of the checkpoint being resumed; a changed
            learning rate or weight decay is applied to the restored optimizer.
        logger: the experiment logger when already made (default:
            :func:`make_logger`).
        progress_stream: where plain progress lines go (default: stdout).
        callbacks: more callbacks, run after the run's own.
    """
    import lightning as L

    from cpckit.training.callbacks import PlainProgress, quiet_lightning
    from cpckit.training.checkpoints import AtomicCheckpointIO

    quiet_lightning()
    all_callbacks = _callbacks(cfg, paths, position, saved_config)
    if not tty:
        all_callbacks.append(PlainProgress(cfg.train.log_every_n_steps, stream=progress_stream))
    all_callbacks += list(callbacks)
    return L.Trainer(
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
        callbacks=all_callbacks,
        plugins=[AtomicCheckpointIO()],
        logger=make_logger(cfg, paths) if logger is None else logger,
        use_distributed_sampler=False,  # EpochSampler shards the data itself
        enable_progress_bar=tty,
        enable_model_summary=False,
        log_every_n_steps=max(1, cfg.train.log_every_n_steps),
        deterministic=cfg.train.deterministic,
        num_sanity_val_steps=0,
    )
