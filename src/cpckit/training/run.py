"""``cpckit train``: data, model, Lightning Trainer, run folder, evaluation.

One code path serves one process and many (DDP): every process runs
:func:`train`; global rank 0 alone writes the run folder (config, manifest,
``losses.csv``, checkpoints, weights, evaluation, report).
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cpckit.config import Config, config_to_dict, save_config
from cpckit.errors import ConfigError, CpckitError, UnsafeFileError
from cpckit.training.run_folder import RunPaths, remove_stale_temp_files, save_model
from cpckit.training.trainer import make_logger, on_cpu

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


def _check_train_config(cfg: Config) -> None:
    """Values the Trainer would reject with a traceback, or take silently."""
    t = cfg.train
    if t.accelerator == "gpu" and not torch.cuda.is_available():
        raise ConfigError(
            "train.accelerator = 'gpu' but torch sees no GPU (torch.cuda.is_available() is "
            "False); use cpu or auto"
        )
    if t.precision == "16-mixed" and on_cpu(cfg):
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
        raise CpckitError(f"train.resume = {t.resume!r}: no such checkpoint file (or use 'auto')")


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
    from cpckit.safe_load import load_weights_only
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
        blob = load_weights_only(resume, mmap=True)
    except UnsafeFileError as exc:
        raise UnsafeFileError(f"train.resume: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise CpckitError(
            f"train.resume = {resume!r} is not a readable checkpoint ({type(exc).__name__})"
        ) from None
    if not isinstance(blob, dict) or "global_step" not in blob:
        raise CpckitError(f"train.resume = {resume!r} is not a Lightning checkpoint")
    saved = (blob.get("cpckit") or {}).get("config")
    changed = compare_configs(saved, cfg)
    pos = blob.get(POSITION_KEY)
    if pos:
        world = cfg.train.devices * cfg.train.num_nodes
        check_mid_epoch(pos, cfg.train.batch_size, world, cfg.train.accumulate_grad_batches)
    state = blob.get("state_dict") or {}
    shapes = {k: tuple(v.shape) for k, v in state.items() if isinstance(v, torch.Tensor)}
    return _Resume(resume, int(blob["global_step"]), changed, saved, shapes)


def _check_paths(cfg: Config) -> None:
    """The run folder can be written and the data roots exist: checked before any data loads."""
    from cpckit.paths import check_input_file, check_input_folder, check_output_folder

    check_output_folder(cfg.train.out_dir, "train.out_dir")
    if cfg.data.use_mock_data:
        return
    for key in ("audio_root", "image_root"):
        value = getattr(cfg.data, key)
        if value:
            check_input_folder(value, f"data.{key}")
    if cfg.data.pairs_csv:
        check_input_file(cfg.data.pairs_csv, "data.pairs_csv")


def train(
    cfg: Config, *, stdout_is_tty: bool | None = None, callbacks: Sequence[Any] = ()
) -> TrainResult:
    """Train CPC as configured, write the run folder, evaluate; return the metrics.

    ``callbacks`` are Lightning callbacks run after the run's own (e.g. a
    benchmark's probe every minute of training).

    Raises:
        ConfigError: before any data loads, for a bad value or a run folder
            holding a run without ``train.resume`` / ``train.overwrite``.
        CpckitError: before any data loads, for a missing path, an unreadable
            ``train.resume`` checkpoint, or a folder another run is writing.
    """
    from cpckit.training.folder_guard import RunLock, check_reuse, is_global_zero

    t0 = time.perf_counter()
    _quiet_lightning()
    _check_train_config(cfg)
    _check_paths(cfg)
    paths = RunPaths(cfg.train.out_dir)
    if not is_global_zero():  # a DDP process started by rank 0, which holds the lock
        return _train(cfg, paths, t0, stdout_is_tty, callbacks)
    lock = RunLock(paths.root)
    with lock:
        for note in lock.notes:
            print(note, flush=True)
        check_reuse(paths, resume=cfg.train.resume, overwrite=cfg.train.overwrite)
        return _train(cfg, paths, t0, stdout_is_tty, callbacks)


def _train(
    cfg: Config, paths: RunPaths, t0: float, stdout_is_tty: bool | None, callbacks: Sequence[Any]
) -> TrainResult:
    import lightning as L

    from cpckit.data.datamodule import build_datasets
    from cpckit.training.checkpoints import newest_valid_checkpoint
    from cpckit.training.folder_guard import is_global_zero
    from cpckit.training.guard import DivergenceError
    from cpckit.training.manifest import RunManifest
    from cpckit.training.process import set_threads
    from cpckit.training.resume import LoaderPosition, check_state_fits
    from cpckit.training.sampling import make_run_loader
    from cpckit.training.trainer import build_module, make_trainer

    set_threads(cfg.train.threads, cfg.train.devices * cfg.train.num_nodes)
    resume = _find_resume(cfg, paths)
    if cfg.train.overwrite and resume is None and is_global_zero():
        _clear_for_overwrite(paths)
    logger = make_logger(cfg, paths)

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

    module = build_module(cfg)
    model = module.model
    if resume is not None:
        now = {k: tuple(v.shape) for k, v in module.state_dict().items()}
        check_state_fits(resume.shapes, now, resume.changed)

    trainer = make_trainer(
        cfg,
        paths,
        tty=sys.stdout.isatty() if stdout_is_tty is None else stdout_is_tty,
        position=LoaderPosition(sampler, batch_size, val_samplers),
        saved_config=None if resume is None else resume.saved_config,
        logger=logger,
        callbacks=callbacks,
    )

    manifest: RunManifest | None = None
    if trainer.global_rank == 0:
        manifest = _prepare_run_folder(cfg, paths, bundle, resume, trainer, logger)
    try:
        with _ctrl_c_at_step_end(trainer) as stopped:
            trainer.fit(
                module,
                train_dataloaders=loader,
                val_dataloaders=val_loader,
                ckpt_path=None if resume is None else resume.path,
            )
        if stopped.is_set():
            raise KeyboardInterrupt
        if trainer.global_rank != 0 or manifest is None:
            return TrainResult(paths.root, {}, time.perf_counter() - t0)
        with _terminate_as_interrupt():  # Lightning's own SIGTERM handler ends with fit
            result = finish_run(model, cfg, paths, bundle, t0)
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
    manifest.finish("finished", step=trainer.global_step)
    return result


def _clear_for_overwrite(paths: RunPaths) -> None:
    from cpckit.training.folder_guard import clear_outputs

    removed = clear_outputs(paths)
    if removed:
        shown = ", ".join(removed[:4]) + (
            f" and {len(removed) - 4} more" if len(removed) > 4 else ""
        )
        print(f"overwrite: removed the earlier run's {shown} from {paths.root}", flush=True)


@contextlib.contextmanager
def _ctrl_c_at_step_end(trainer: Any) -> Iterator[threading.Event]:
    """A first Ctrl-C ends the fit after the current step; a second one at once.

    A KeyboardInterrupt raised at an arbitrary point of the step can leave a
    logger's writer thread waiting forever (TensorBoard's event writer, when
    the interrupt lands inside its queue): the run then hangs instead of
    ending. Setting ``trainer.should_stop`` lets Lightning end the epoch loop
    at the step boundary and close its loggers normally. One process only: in
    DDP every rank would have to agree on the step, so there the interrupt is
    raised where it lands, as before.
    """
    stopped = threading.Event()
    if threading.current_thread() is not threading.main_thread() or trainer.world_size > 1:
        yield stopped
        return

    def stop(signum: int, frame: Any) -> None:
        if stopped.is_set():
            raise KeyboardInterrupt
        stopped.set()
        trainer.should_stop = True
        print(
            "\nCtrl-C: stopping after this step (Ctrl-C again to stop now)",
            file=sys.stderr,
            flush=True,
        )

    before = signal.signal(signal.SIGINT, stop)
    try:
        yield stopped
    finally:
        signal.signal(signal.SIGINT, before)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt in the block, so the run's ending is recorded."""

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _prepare_run_folder(
    cfg: Config, paths: RunPaths, bundle: Any, resume: _Resume | None, trainer: Any, logger: Any
) -> Any:
    """Rank 0, before training: folders, config.yaml, manifest.json; report the resume."""
    from cpckit.training.checkpoints import set_aside_newer, set_aside_unreadable
    from cpckit.training.manifest import RunManifest

    paths.root.mkdir(parents=True, exist_ok=True)
    paths.checkpoints.mkdir(exist_ok=True)
    remove_stale_temp_files(paths.checkpoints)
    remove_stale_temp_files(paths.root)
    save_config(cfg, paths.config)
    for key, value in bundle.info.items():
        print(f"data: {key}: {value}", flush=True)
    start = 0 if resume is None else resume.step
    unreadable = set_aside_unreadable(paths.checkpoints)
    if unreadable:
        print(
            f"checkpoints: {len(unreadable)} that do not load ({unreadable[0].name}...) moved to "
            f"{unreadable[0].parent}",
            flush=True,
        )
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
