"""A model as a folder in the layout of a Hugging Face model repository, and where one is found.

::

    fsdd-small/
        config.json        {"format": "cpckit-model", "format_version": 1,
                            "cpckit_version": "0.1.0", "modalities": [...], "config": {...}}
        model.safetensors  the weights (state_dict of CPCModel), no pickle
        README.md          the model card: YAML front matter, then data, command, figures

:func:`resolve` turns what a user gives :func:`cpckit.from_pretrained` into a
place on disk: a folder in this layout, a run folder or ``cpc_model.pth``
(read by :func:`cpckit.load`), a model shipped inside the package
(:data:`SHIPPED`), or a Hub id ``owner/name`` (downloaded with the ``hub``
extra). Nothing here unpickles: the weights are safetensors, the config JSON.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from cpckit import __version__
from cpckit.errors import CpckitError, UsageError

__all__ = [
    "CARD_NAME",
    "CONFIG_NAME",
    "FORMAT_VERSION",
    "SHIPPED",
    "WEIGHTS_NAME",
    "Resolved",
    "download",
    "is_model_name",
    "read_folder",
    "require_out_dir",
    "resolve",
    "run_folder",
    "source_name",
    "shipped_root",
    "upload",
    "write_folder",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
FORMAT = "cpckit-model"
FORMAT_VERSION = 1
"""The newest layout this cpckit writes and reads; a folder of a higher one needs a newer cpckit."""

SHIPPED = ("fsdd-small", "cifar-small")
"""The models inside the package (``src/cpckit/pretrained/<name>/``), by name."""

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
HUB_EXTRA = "pip install 'cpckit[hub]'"


@dataclass(frozen=True)
class Resolved:
    """Where a model is: ``kind`` ``"folder"`` (this layout) or ``"pth"`` (``cpc_model.pth``)."""

    kind: Literal["folder", "pth"]
    path: Path


def shipped_root() -> Path:
    """The folder holding the shipped models (inside the installed package)."""
    return Path(__file__).resolve().parent / "pretrained"


def _folder_kind(folder: Path) -> Resolved:
    if (folder / CONFIG_NAME).exists() or (folder / WEIGHTS_NAME).exists():
        return Resolved("folder", folder)
    if (folder / "cpc_model.pth").is_file():
        return Resolved("pth", folder / "cpc_model.pth")
    raise CpckitError(
        f"no cpckit model in folder {str(folder)!r}: expected {CONFIG_NAME} and {WEIGHTS_NAME} "
        "(a folder written by save_pretrained) or cpc_model.pth (a run folder)"
    )


def resolve(source: str | Path, *, revision: str | None = None) -> Resolved:
    """Where the model named by ``source`` is on disk (downloading a Hub id first).

    Tried in order: an existing path (a folder in this layout, one of its
    files, a run folder, a ``.pth`` file), a shipped name, a Hub id.

    Raises:
        CpckitError: nothing of the kind exists; the message lists the
            shipped names, or names the ``hub`` extra when it is missing.
    """
    p = Path(source)
    if p.is_dir():
        return _folder_kind(p)
    if p.is_file():
        if p.name in (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME):
            return Resolved("folder", p.parent)
        return Resolved("pth", p)
    text = str(source)
    if text in SHIPPED:
        return Resolved("folder", shipped_root() / text)
    shipped = ", ".join(repr(n) for n in SHIPPED)
    if _HUB_ID.match(text):
        return Resolved("folder", download(text, revision=revision))
    raise CpckitError(
        f"unknown model {text!r}: not a file or folder here, not a shipped model ({shipped}) "
        "and not a Hugging Face Hub id (owner/name)"
    )


def is_model_name(text: str) -> bool:
    """True for a shipped name or a Hub id: what :func:`resolve` takes besides a path."""
    return text in SHIPPED or bool(_HUB_ID.match(text))


def source_name(source: str | Path) -> str:
    """How results name the model they came from: its absolute path, or the name given."""
    p = Path(source)
    return str(p.resolve()) if p.exists() else str(source)


def run_folder(source: str | Path) -> Path | None:
    """The run folder of ``source`` when it is one or its ``cpc_model.pth``; None otherwise.

    The commands write their results into it by default; a saved folder or a
    shipped model is no place for them.
    """
    p = Path(source)
    if p.is_file():
        return p.parent if p.suffix in (".pth", ".pt") else None
    return p if (p / "cpc_model.pth").is_file() else None


def require_out_dir(
    source: str | Path, out_dir: str | Path | None, flag: str = "--out-dir"
) -> Path:
    """``out_dir``, or the run folder of ``source`` when none is given (a one-line error if neither)."""
    if out_dir is not None:
        return Path(out_dir)
    run = run_folder(source)
    if run is None:
        raise UsageError(
            f"give {flag}: --checkpoint {source} is a saved model, not a run folder to write into"
        )
    return run


def _hub() -> Any:
    try:
        import huggingface_hub
    except ImportError:
        return None
    return huggingface_hub


def download(repo_id: str, *, revision: str | None = None) -> Path:
    """The local snapshot of Hub model ``repo_id`` (``huggingface_hub.snapshot_download``)."""
    hub = _hub()
    if hub is None:
        raise CpckitError(
            f"{repo_id!r} is no file or folder here; to load it from the Hugging Face Hub "
            f"install the hub extra ({HUB_EXTRA})"
        )
    try:
        path = hub.snapshot_download(
            repo_id=repo_id,
            revision=revision,
            allow_patterns=[CONFIG_NAME, WEIGHTS_NAME, CARD_NAME],
        )
    except Exception as exc:  # noqa: BLE001 - network, auth, missing repo: one user error
        raise CpckitError(
            f"{repo_id!r} is no file or folder here, and downloading it from the Hugging Face "
            f"Hub failed ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None
    return Path(path)


def upload(
    folder: Path,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    commit_message: str = "Upload cpckit model",
) -> Any:
    """Create Hub model repo ``repo_id`` if needed and upload ``folder`` to it; the commit info."""
    hub = _hub()
    if hub is None:
        raise CpckitError(f"push_to_hub needs the hub extra ({HUB_EXTRA})")
    api = hub.HfApi(token=token)
    api.create_repo(repo_id=repo_id, repo_type="model", private=private, exist_ok=True)
    return api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        repo_type="model",
        commit_message=commit_message,
    )


def write_folder(
    state_dict: Mapping[str, torch.Tensor],
    config: dict[str, Any],
    modalities: list[str],
    folder: str | Path,
    card: str,
) -> Path:
    """Write ``config.json``, ``model.safetensors`` and ``README.md`` into ``folder``."""
    from safetensors.torch import save_file

    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise CpckitError(f"cannot save a model into {str(out)!r}: it is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "cpckit_version": __version__,
        "library_name": "cpckit",
        "modalities": list(modalities),
        "config": config,
    }
    (out / CONFIG_NAME).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    # safetensors refuses tensors that share memory: each is written as its own copy
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state_dict.items()}
    save_file(tensors, str(out / WEIGHTS_NAME), metadata={"format": "pt"})
    (out / CARD_NAME).write_text(card, encoding="utf-8")
    # safetensors creates its file owner-only; give it the mode the other two got
    os.chmod(out / WEIGHTS_NAME, (out / CARD_NAME).stat().st_mode & 0o777)
    return out


def _read_config(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CpckitError(f"{str(path)!r} is not readable JSON ({type(exc).__name__})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CpckitError(f"{str(path)!r} is not a cpckit config.json (no 'format': '{FORMAT}')")
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise CpckitError(f"{str(path)!r}: format_version = {version!r} is not a positive integer")
    if version > FORMAT_VERSION:
        raise CpckitError(
            f"{str(path)!r} has format version {version}, written by cpckit "
            f"{meta.get('cpckit_version', '?')}; this cpckit ({__version__}) reads up to "
            f"format version {FORMAT_VERSION}: upgrade cpckit"
        )
    if not isinstance(meta.get("config"), dict):
        raise CpckitError(f"{str(path)!r} has no 'config' mapping")
    return meta


def read_folder(folder: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """``(config.json content, state_dict)`` of a folder in this layout, checked.

    Raises:
        CpckitError: a missing file (named), a config.json of another format
            or a newer format version, unreadable weights.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    root = Path(folder)
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        if not (root / name).is_file():
            raise CpckitError(
                f"the model folder {str(root)!r} has no {name} (a saved cpckit model holds "
                f"{CONFIG_NAME} and {WEIGHTS_NAME}, and {CARD_NAME} as its model card)"
            )
    meta = _read_config(root / CONFIG_NAME)
    weights = root / WEIGHTS_NAME
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError) as exc:
        raise CpckitError(
            f"{str(weights)!r} is not a readable safetensors file ({type(exc).__name__})"
        ) from None
    return meta, state
