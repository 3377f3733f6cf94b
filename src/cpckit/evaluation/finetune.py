"""End-to-end classifiers from a CPC model: fine-tuned from its weights, or trained from scratch.

The classifier is the CPC model's encoder and context model with a linear
head on the time-pooled context vector, trained with cross-entropy and Adam
for a few epochs. Started from the CPC weights it is the fine-tuning
baseline; started from random weights (same architecture) it is the
supervised baseline that a frozen-feature probe is compared with (van den
Oord et al. 2018 compare CPC's linear probe with a fully supervised model
of the same architecture).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from cpckit.errors import CpckitError, UsageError
from cpckit.model import CPCModel, pool_time

__all__ = ["FinetuneResult", "PooledClassifier", "accuracy", "finetune", "save_finetuned"]


class PooledClassifier(nn.Module):
    """A CPC model's encoder and context model with a linear head on the pooled context.

    Args:
        model: the CPC model (its predictors are not used).
        modality: ``audio`` or ``image``.
        c_dim: context dimension C.
        n_classes: outputs of the head.
        pool: ``mean``, ``max`` or ``last`` over the valid steps.

    Shape:
        x: ``(B, 1, S)`` audio (with ``lengths (B,)``) or ``(B, 3, H, W)`` images
        -> logits ``(B, n_classes)``
    """

    def __init__(
        self, model: CPCModel, modality: str, c_dim: int, n_classes: int, pool: str = "mean"
    ) -> None:
        super().__init__()
        if n_classes < 2:
            raise CpckitError(f"a classifier needs at least 2 classes, got {n_classes}")
        self.model = model
        self.modality = modality
        self.pool = pool
        self.head = nn.Linear(c_dim, n_classes)

    def trainable(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(encoder + context parameters, head parameters)."""
        body = list(self.model.encoders[self.modality].parameters())
        body += list(self.model.context.parameters())
        return body, list(self.head.parameters())

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        z, valid = self.model.encode(self.modality, x, lengths)
        c = self.model.context(z)
        return self.head(pool_time(c, valid, self.pool))  # type: ignore[no-any-return]


@dataclass
class FinetuneResult:
    """What training the classifier gave.

    Attributes:
        train_accuracy: accuracy on the training rows (whole clips, after training).
        test_accuracy: accuracy on the test rows, or None without a test set.
        n_train, n_test: rows.
        epochs: epochs trained.
        history: per epoch: mean ``loss`` and ``accuracy`` over its batches.
        seconds: wall time.
        from_scratch: True when the weights were random at the start.
    """

    train_accuracy: float
    test_accuracy: float | None
    n_train: int
    n_test: int
    epochs: int
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    from_scratch: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _batch(rows: Dataset[Any], idx: np.ndarray, modality: str) -> tuple[Tensor, Tensor | None]:
    from cpckit.data.collate import collate

    batch = collate([rows[int(i)] for i in idx])
    return batch[modality], batch.get(f"{modality}_length")


def _crop(item: dict[str, Tensor], window: int, rng: np.random.Generator) -> dict[str, Tensor]:
    n = int(item["audio"].shape[-1])
    if n <= window:
        return item
    s = int(rng.integers(0, n - window + 1))
    return {"audio": item["audio"][:, s : s + window], "audio_length": torch.tensor(window)}


@torch.no_grad()
def accuracy(
    classifier: PooledClassifier,
    rows: Dataset[Any],
    labels: np.ndarray,
    *,
    batch_size: int = 32,
    max_batch_samples: int | None = None,
) -> float:
    """Accuracy of ``classifier`` on whole rows (batched with padding; exact)."""
    from cpckit.evaluation.frames import plan_batches

    was = classifier.training
    classifier.eval()
    device = next(classifier.parameters()).device
    correct = 0
    lengths = getattr(rows, "lengths", None)
    for idx in plan_batches(lengths, len(labels), batch_size, max_batch_samples):
        x, lens = _batch(rows, idx, classifier.modality)
        logits = classifier(x.to(device), None if lens is None else lens.to(device))
        correct += int((logits.argmax(1).cpu().numpy() == labels[idx]).sum())
    classifier.train(was)
    return correct / max(1, len(labels))


def finetune(
    model: CPCModel,
    modality: str,
    train_rows: Dataset[Any],
    train_labels: np.ndarray,
    test_rows: Dataset[Any] | None = None,
    test_labels: np.ndarray | None = None,
    *,
    n_classes: int,
    c_dim: int,
    epochs: int = 5,
    lr: float = 1e-3,
    encoder_lr: float | None = None,
    batch_size: int = 16,
    pool: str = "mean",
    window_samples: int | None = None,
    max_batch_samples: int | None = None,
    seed: int = 0,
    from_scratch: bool = False,
    progress: bool = False,
) -> tuple[PooledClassifier, FinetuneResult]:
    """Train encoder + context + a linear head with cross-entropy (Adam); score it.

    ``model`` is trained in place (pass a copy to keep the original). Audio
    rows are whole clips; with ``window_samples`` each training clip is
    cropped to a random window of that many samples (accuracy is always
    measured on whole clips).

    Args:
        model: the CPC model to start from (CPC weights, or random for the
            supervised baseline).
        modality: ``audio`` or ``image``.
        train_rows, train_labels: rows (as :mod:`cpckit.evaluation.embed`
            makes them) and ``(N,)`` int labels in ``[0, n_classes)``.
        test_rows, test_labels: optional held-out rows and labels.
        n_classes: classes of the head.
        c_dim: context dimension of ``model``.
        epochs: passes over the training rows.
        lr: Adam learning rate of the head (and of everything when
            ``encoder_lr`` is None).
        encoder_lr: learning rate of the encoder and context model.
        batch_size: rows per step.
        pool: pooling of the context over time.
        window_samples: random training crops (audio), or None for whole clips.
        max_batch_samples: cap on padded samples per evaluation batch.
        seed: seed of the head, the order and the crops.
        from_scratch: recorded in the result.
        progress: a line per epoch on stderr.

    Raises:
        CpckitError: bad epochs, batch size, learning rate, or labels.
    """
    from cpckit.data.collate import collate
    from cpckit.progress import Progress

    if epochs < 1:
        raise UsageError(f"fine-tuning epochs = {epochs} must be >= 1")
    if batch_size < 1:
        raise UsageError(f"fine-tuning batch size = {batch_size} must be >= 1")
    if lr <= 0 or (encoder_lr is not None and encoder_lr < 0):
        raise UsageError(f"fine-tuning learning rates must be > 0, got {lr} and {encoder_lr}")
    y = np.asarray(train_labels, dtype=np.int64)
    if len(y) == 0:
        raise CpckitError("fine-tuning needs at least one labelled training row")
    if y.min() < 0 or y.max() >= n_classes:
        raise CpckitError(
            f"fine-tuning labels must lie in [0, {n_classes}), got {y.min()}..{y.max()}"
        )
    t0 = time.perf_counter()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        classifier = PooledClassifier(model, modality, c_dim, n_classes, pool)
    device = next(model.parameters()).device
    classifier.to(device)
    body, head = classifier.trainable()
    groups: list[dict[str, Any]] = [{"params": head, "lr": lr}]
    body_lr = lr if encoder_lr is None else encoder_lr
    if body_lr > 0:
        groups.append({"params": body, "lr": body_lr})
    else:
        for p in body:
            p.requires_grad_(False)
    optimizer = torch.optim.Adam(groups)
    rng = np.random.default_rng(seed)
    history: list[dict[str, float]] = []
    bar = Progress(epochs, "fine-tuning", unit="epoch", enabled=progress)
    classifier.train()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(y))
        total_loss, correct = 0.0, 0
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            items = [train_rows[int(i)] for i in idx]
            if window_samples is not None and modality == "audio":
                items = [_crop(item, window_samples, rng) for item in items]
            batch = collate(items)
            x = batch[modality].to(device)
            lens = batch.get(f"{modality}_length")
            target = torch.from_numpy(y[idx]).to(device)
            logits = classifier(x, None if lens is None else lens.to(device))
            loss = F.cross_entropy(logits, target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += float(loss.detach()) * len(idx)
            correct += int((logits.detach().argmax(1) == target).sum())
        history.append({"epoch": epoch, "loss": total_loss / len(y), "accuracy": correct / len(y)})
        bar.update()
    bar.close()
    for p in body:
        p.requires_grad_(True)
    train_acc = accuracy(classifier, train_rows, y, max_batch_samples=max_batch_samples)
    test_acc = None
    n_test = 0
    if test_rows is not None and test_labels is not None:
        yt = np.asarray(test_labels, dtype=np.int64)
        n_test = len(yt)
        test_acc = accuracy(classifier, test_rows, yt, max_batch_samples=max_batch_samples)
    classifier.eval()
    return classifier, FinetuneResult(
        train_accuracy=train_acc,
        test_accuracy=test_acc,
        n_train=len(y),
        n_test=n_test,
        epochs=epochs,
        history=history,
        seconds=time.perf_counter() - t0,
        from_scratch=from_scratch,
    )


def save_finetuned(
    classifier: PooledClassifier,
    config: Any,
    path: str | Path,
    *,
    label_key: str | None,
    label_names: list[str],
    result: FinetuneResult,
) -> Path:
    """Write the fine-tuned model as a cpckit model file with its head.

    The file is a ``cpc_model.pth`` that :func:`cpckit.load` reads (it embeds
    with the fine-tuned encoder and context model) plus a ``classifier``
    entry: ``modality``, ``pool``, ``label_key``, ``label_names``,
    ``state_dict`` of the linear head (``weight (K, C)``, ``bias (K,)``) and
    the accuracies.
    """
    from cpckit import __version__
    from cpckit.config import config_to_dict
    from cpckit.training.run_folder import atomic_save

    blob = {
        "format": "cpckit-model",
        "format_version": 1,
        "cpckit_version": __version__,
        "config": config_to_dict(config),
        "state_dict": {k: v.detach().cpu() for k, v in classifier.model.state_dict().items()},
        "classifier": {
            "modality": classifier.modality,
            "pool": classifier.pool,
            "label_key": label_key,
            "label_names": list(label_names),
            "state_dict": {k: v.detach().cpu() for k, v in classifier.head.state_dict().items()},
            "result": result.to_dict(),
        },
    }
    p = Path(path)
    atomic_save(blob, p)
    return p


def finetune_checkpoint(
    checkpoint: str | Path,
    root: str | Path,
    modality: str,
    *,
    label_key: str | None,
    label_regex: str | None = None,
    test_root: str | Path | None = None,
    test_fraction: float = 0.2,
    epochs: int = 5,
    lr: float = 1e-3,
    encoder_lr: float | None = None,
    batch_size: int = 16,
    window_seconds: float | None = None,
    pool: str = "mean",
    from_scratch: bool = False,
    seed: int = 0,
    out_dir: str | Path | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Fine-tune (or train from scratch) a checkpoint's architecture as a classifier of a folder.

    Writes ``cpc_model.pth`` (see :func:`save_finetuned`) and ``finetune.json``
    (accuracies, per-epoch loss and accuracy, settings) into ``out_dir``
    (default: ``finetune/``, or ``supervised/`` with ``from_scratch``, in the
    checkpoint's run folder) and returns the JSON content.

    ``encoder_lr`` defaults to ``lr / 10`` when fine-tuning (the CPC weights
    move slowly) and to ``lr`` from scratch. Without ``test_root``, a seeded
    stratified ``test_fraction`` of the files is held out (0: no test set).
    """
    import copy
    import json

    from cpckit.api import from_pretrained
    from cpckit.build import build_model
    from cpckit.data.labels import encode_labels
    from cpckit.data.rows import open_model_folders
    from cpckit.evaluation.sources import Rows
    from cpckit.evaluation.splits import protocol_splits
    from cpckit.model_folder import require_out_dir, source_name
    from cpckit.training.run_folder import atomic_write_text

    if label_key is None:
        raise UsageError(
            "give --label-key, the label to learn (a --label-regex group, or 'folder')"
        )
    if test_root is None and not 0 <= test_fraction < 1:
        raise UsageError(f"--test-fraction = {test_fraction} must be in [0, 1)")
    require_out_dir(checkpoint, out_dir)  # before any work
    pre = from_pretrained(checkpoint)
    if modality not in pre.modalities:
        raise CpckitError(f"the checkpoint has no {modality} encoder; it has {pre.modalities}")
    cfg = pre.config
    folders = open_model_folders(
        pre, modality, root, test_root, label_regex=label_regex, progress=progress
    )
    for f in folders:
        if label_key not in f.labels:
            have = ", ".join(sorted(f.labels)) or "none"
            raise CpckitError(
                f"--label-key {label_key!r} is not a label of {f.root}; labels: {have} "
                "(give --label-regex with a group of that name)"
            )
    values = [v for f in folders for v in f.row_labels(label_key)]
    y, names = encode_labels(values)
    if len(names) < 2:
        raise CpckitError(
            f"--label-key {label_key!r} has one value ({names[0]!r}): nothing to learn"
        )
    rows = Rows([f.rows for f in folders])
    n0 = len(folders[0].rows)
    if test_root is not None:
        tr, te = np.arange(n0), n0 + np.arange(len(rows) - n0)
    elif test_fraction > 0:
        tr, te = protocol_splits("split", n0, y, test_fraction=test_fraction, seed=seed)[0]
    else:
        tr, te = np.arange(n0), np.zeros(0, dtype=np.int64)
    if from_scratch:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = build_model(cfg)
        body_lr = lr if encoder_lr is None else encoder_lr
    else:
        model = copy.deepcopy(pre.model)
        body_lr = lr / 10 if encoder_lr is None else encoder_lr
    window = None
    if window_seconds is not None and modality == "audio":
        window = max(1, int(round(window_seconds * cfg.data.sample_rate)))
    max_samples = int(120 * cfg.data.sample_rate) if modality == "audio" else None
    classifier, result = finetune(
        model,
        modality,
        rows.subset(tr),
        y[tr],
        rows.subset(te) if len(te) else None,
        y[te] if len(te) else None,
        n_classes=len(names),
        c_dim=int(cfg.model.c_dim),
        epochs=epochs,
        lr=lr,
        encoder_lr=body_lr,
        batch_size=batch_size,
        pool=pool,
        window_samples=window,
        max_batch_samples=max_samples,
        seed=seed,
        from_scratch=from_scratch,
        progress=progress,
    )
    sub = "supervised" if from_scratch else "finetune"
    out = Path(out_dir) if out_dir is not None else require_out_dir(checkpoint, None) / sub
    out.mkdir(parents=True, exist_ok=True)
    model_path = save_finetuned(
        classifier,
        cfg,
        out / "cpc_model.pth",
        label_key=label_key,
        label_names=names,
        result=result,
    )
    summary: dict[str, Any] = {
        "checkpoint": source_name(checkpoint),
        "from_scratch": from_scratch,
        "modality": modality,
        "root": str(Path(root).resolve()),
        "test_root": None if test_root is None else str(Path(test_root).resolve()),
        "test_fraction": None if test_root is not None else test_fraction,
        "label_key": label_key,
        "label_names": names,
        "epochs": epochs,
        "lr": lr,
        "encoder_lr": body_lr,
        "batch_size": batch_size,
        "window_seconds": window_seconds,
        "pool": pool,
        "seed": seed,
        **{k: v for k, v in result.to_dict().items() if k not in ("epochs", "from_scratch")},
        "model": str(model_path),
    }
    atomic_write_text(json.dumps(summary, indent=2) + "\n", out / "finetune.json")
    summary["json"] = str(out / "finetune.json")
    return summary
