"""``manifest.json``: what produced a run (config, versions, commit, seed, devices, times)."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cpckit import __version__
from cpckit.config import Config, config_to_dict
from cpckit.training.run_folder import atomic_write_text

__all__ = ["RunManifest", "git_state", "now_iso"]


def now_iso() -> str:
    """The current time, ISO 8601 in UTC (seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def git_state(where: Path | None = None) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` of the checkout holding ``where``.

    ``where`` defaults to the installed cpckit package: an editable install
    in a git checkout gives its commit; a wheel gives None.
    """
    folder = where or Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(
                ["git", *args], cwd=folder, capture_output=True, text=True, timeout=5
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def _device(trainer: Any) -> str:
    try:
        device = trainer.strategy.root_device
    except Exception:  # noqa: BLE001 - not known before the processes start
        return str(getattr(trainer, "_accelerator_connector", "unknown"))
    if device.type == "cuda":
        import torch

        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


class RunManifest:
    """Writes ``manifest.json`` at the start of a run and updates it at the end (rank 0).

    A resumed run appends a session to ``sessions`` (start, end, status,
    checkpoint resumed from); the top-level fields describe the latest one.
    """

    def __init__(
        self, path: str | Path, cfg: Config, trainer: Any, resumed_from: str | None
    ) -> None:
        import lightning
        import torch

        self.path = Path(path)
        sessions: list[dict[str, Any]] = []
        if resumed_from is not None and self.path.exists():
            try:
                sessions = list(json.loads(self.path.read_text()).get("sessions", []))
            except (OSError, ValueError):
                sessions = []
        self.session: dict[str, Any] = {
            "start_time": now_iso(),
            "end_time": None,
            "status": "running",
            "resumed_from": resumed_from,
            "start_step": None,
            "end_step": None,
        }
        sessions.append(self.session)
        self.data: dict[str, Any] = {
            "format": "cpckit-manifest",
            "format_version": 1,
            "status": "running",
            "start_time": self.session["start_time"],
            "end_time": None,
            "seed": cfg.train.seed,
            "world_size": int(trainer.world_size),
            "num_nodes": int(trainer.num_nodes),
            "devices_per_node": int(cfg.train.devices),
            "accelerator": type(trainer.accelerator).__name__.replace("Accelerator", "").lower(),
            "device": _device(trainer),
            "strategy": type(trainer.strategy).__name__,
            "precision": cfg.train.precision,
            "versions": {
                "cpckit": __version__,
                "torch": torch.__version__,
                "lightning": lightning.__version__,
                "python": platform.python_version(),
            },
            "git": git_state(),
            "host": platform.node(),
            "platform": platform.platform(),
            "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
            "resumed_from": resumed_from,
            "global_step": None,
            "error": None,
            "sessions": sessions,
            "config": config_to_dict(cfg),
        }

    def write(self) -> None:
        atomic_write_text(json.dumps(self.data, indent=2) + "\n", self.path)

    def start(self, step: int = 0) -> None:
        self.session["start_step"] = step
        self.write()

    def finish(self, status: str, *, step: int | None = None, error: str | None = None) -> None:
        """Record the end: ``finished``, ``diverged``, ``failed`` or ``interrupted``."""
        end = now_iso()
        self.session.update(end_time=end, status=status, end_step=step)
        self.data.update(status=status, end_time=end, global_step=step, error=error)
        try:
            self.write()
        except OSError as exc:  # a full disk must not hide the error that ended the run
            print(f"warning: cannot record the run's end in {self.path}: {exc}", file=sys.stderr)
