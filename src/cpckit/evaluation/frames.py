"""The one path from (model, rows) to per-example vectors.

Every figure of the package goes through :func:`embed_rows`: the end-of-training
evaluation (``metrics.json``), ``cpckit evaluate``, ``cpckit embed``,
``cpckit compare``, the report, and :meth:`cpckit.api.PretrainedCPC.embed`
(through :func:`encode_batch`, one batch).

Inputs are whole rows (clips, windows, images): no crop and no pad at
embedding time. Clips of different lengths are batched with zero padding
and each clip's latent steps are masked by its encoder's own
``valid_mask``: only the steps that depend on nothing after the clip's end
are pooled, so a clip's vectors do not depend on what it was batched with
and equal those of the clip alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, Subset

from cpckit.errors import CpckitError, UsageError
from cpckit.model import POOLS, CPCModel, pool_time

__all__ = [
    "DEFAULT_MAX_BATCH_SECONDS",
    "BatchVectors",
    "EmbeddedRows",
    "check_pool",
    "concat_embedded",
    "embed_rows",
    "encode_batch",
    "halves",
    "limit",
    "max_batch_samples",
    "plan_batches",
    "row_lengths",
]

DEFAULT_MAX_BATCH_SECONDS = 120.0
"""Padded audio seconds per embedding batch (bounds memory on long clips)."""


@dataclass
class EmbeddedRows:
    """Vectors of every row.

    Attributes:
        context, latent: ``(N, C)`` / ``(N, D)`` vectors pooled over the valid steps.
        view_a, view_b: ``(N, C)`` pooled context of the first / second half
            of the latent sequence, each half run through the context model
            alone (the positive pairs of the alignment metric).
        n_steps: ``(N,)`` valid latent steps.
        labels, groups: ``(N,)`` the rows' ``label`` / ``group`` items (-1 =
            none), or None when the rows carry none.
        context_frames, latent_frames: ``(sum n_steps, C)`` / ``(..., D)`` or None.
        frame_offsets: ``(N + 1,)`` or None: row ``i`` owns frames
            ``frame_offsets[i]:frame_offsets[i + 1]``.
    """

    context: np.ndarray
    latent: np.ndarray
    view_a: np.ndarray
    view_b: np.ndarray
    n_steps: np.ndarray
    labels: np.ndarray | None = None
    groups: np.ndarray | None = None
    context_frames: np.ndarray | None = None
    latent_frames: np.ndarray | None = None
    frame_offsets: np.ndarray | None = None

    def take(self, idx: np.ndarray) -> EmbeddedRows:
        """The rows ``idx`` (pooled vectors, labels and groups; frames are left out)."""
        return EmbeddedRows(
            context=self.context[idx],
            latent=self.latent[idx],
            view_a=self.view_a[idx],
            view_b=self.view_b[idx],
            n_steps=self.n_steps[idx],
            labels=None if self.labels is None else self.labels[idx],
            groups=None if self.groups is None else self.groups[idx],
        )

    def frames(self, i: int, which: str = "context") -> np.ndarray:
        """Row ``i``'s valid steps: ``(n_steps[i], C)`` context or ``(n_steps[i], D)`` latents."""
        data = self.context_frames if which == "context" else self.latent_frames
        if data is None or self.frame_offsets is None:
            raise CpckitError("these embeddings hold no frames (embed with frames=True)")
        return data[self.frame_offsets[i] : self.frame_offsets[i + 1]]


@dataclass
class BatchVectors:
    """Vectors of one batch (torch)."""

    context: Tensor
    latent: Tensor
    view_a: Tensor
    view_b: Tensor
    n_steps: Tensor
    context_frames: list[Tensor] | None
    latent_frames: list[Tensor] | None


def check_pool(pool: str, modality: str, what: str) -> None:
    """Raise :class:`CpckitError` for a pool name that is unknown or does not fit the modality."""
    if pool not in POOLS:
        raise UsageError(f"{what} = {pool!r} is not valid: expected one of {', '.join(POOLS)}")
    if pool == "grid" and modality != "image":
        raise UsageError(
            f"{what} = 'grid' pools an image's patch grid; {modality} sequences pool with "
            "mean, max or last"
        )


def max_batch_samples(sample_rate: int, modality: str) -> int | None:
    """Padded samples per audio embedding batch (None: images, no bound)."""
    if modality != "audio":
        return None
    return int(DEFAULT_MAX_BATCH_SECONDS * sample_rate)


def limit(ds: Dataset[Any], max_examples: int, seed: int = 0) -> Dataset[Any]:
    """A seeded random subset of at most ``max_examples`` items (in their order)."""
    n = len(ds)  # type: ignore[arg-type]
    if n <= max_examples:
        return ds
    idx = np.sort(np.random.default_rng(seed).choice(n, size=max_examples, replace=False))
    return Subset(ds, idx.tolist())


def halves(model: CPCModel, z: Tensor, valid: Tensor, pool: str) -> tuple[Tensor, Tensor]:
    """Context of each half of the valid latent steps, run separately and pooled.

    Shape:
        z: ``(B, L, D)``, valid: ``(B, L)`` -> two ``(B, C)``
    """
    n_valid = valid.sum(1)
    half = (n_valid // 2).clamp_min(1)
    pos = torch.arange(z.shape[1], device=z.device).unsqueeze(0)
    first = valid & (pos < half.unsqueeze(1))
    second = valid & (pos >= half.unsqueeze(1))
    if pool == "grid":  # halves of an image's sequence are not grids: mean-pool them
        pool = "mean"
    cut = int(half.max())
    c_a = model.context(z[:, :cut])
    # The second half starts at each sequence's own midpoint: shift it to the front.
    shift = torch.where(second.any(1), half, torch.zeros_like(half))
    source = pos + shift.unsqueeze(1)
    gather = source.clamp_max(z.shape[1] - 1)
    z_b = torch.gather(z, 1, gather.unsqueeze(-1).expand_as(z))
    # Positions shifted past the end repeat the last step: they are not part of the half.
    valid_b = torch.gather(second, 1, gather) & (source < z.shape[1])
    c_b = model.context(z_b)
    return pool_time(c_a, first[:, :cut], pool), pool_time(c_b, valid_b, pool)


@torch.no_grad()
def encode_batch(
    model: CPCModel,
    modality: str,
    x: Tensor,
    lengths: Tensor | None = None,
    *,
    pool: str = "mean",
    frames: bool = False,
) -> BatchVectors:
    """Pooled vectors (and optionally the valid steps) of one batch.

    The valid steps are the encoder's own ``valid_mask`` of ``lengths``
    (all steps when ``lengths`` is None or the encoder has no mask).

    Shape:
        x: ``(B, 1, S)`` audio or ``(B, 3, H, W)`` images; lengths: ``(B,)`` valid samples
    """
    check_pool(pool, modality, "pool")
    z, valid = model.encode(modality, x, lengths)
    if valid is None:
        valid = torch.ones(z.shape[:2], dtype=torch.bool, device=z.device)
    c = model.context(z)
    view_a, view_b = halves(model, z, valid, pool)
    out = BatchVectors(
        context=model.pool(modality, x, c, valid, pool),
        latent=model.pool(modality, x, z, valid, pool),
        view_a=view_a,
        view_b=view_b,
        n_steps=valid.sum(1),
        context_frames=None,
        latent_frames=None,
    )
    if frames:
        out.context_frames = [c[i][valid[i]] for i in range(c.shape[0])]
        out.latent_frames = [z[i][valid[i]] for i in range(z.shape[0])]
    return out


def plan_batches(
    lengths: np.ndarray | None, n: int, batch_size: int, max_samples: int | None
) -> list[np.ndarray]:
    """Index batches: longest rows first, at most ``batch_size`` rows and ``max_samples`` padded samples."""
    if lengths is None:
        return [np.arange(i, min(n, i + batch_size)) for i in range(0, n, batch_size)]
    order = np.argsort(-np.asarray(lengths), kind="stable")
    batches: list[np.ndarray] = []
    current: list[int] = []
    longest = 0
    for i in order.tolist():
        n_i = int(lengths[i])
        if current:
            full = len(current) >= batch_size
            over = max_samples is not None and longest * (len(current) + 1) > max_samples
            if full or over:
                batches.append(np.asarray(current, dtype=np.int64))
                current = []
        if not current:
            longest = n_i
        current.append(i)
    if current:
        batches.append(np.asarray(current, dtype=np.int64))
    return batches


def row_lengths(rows: Dataset[Any]) -> np.ndarray | None:
    """``rows.lengths`` (also through a ``Subset``), or None when the rows do not say."""
    lengths = getattr(rows, "lengths", None)
    if lengths is not None:
        return np.asarray(lengths)
    if isinstance(rows, Subset):
        inner = row_lengths(rows.dataset)
        return None if inner is None else inner[np.asarray(rows.indices, dtype=np.int64)]
    return None


@torch.no_grad()
def embed_rows(
    model: CPCModel,
    modality: str,
    rows: Dataset[Any],
    *,
    pool: str = "mean",
    batch_size: int = 32,
    frames: bool = False,
    max_batch_samples: int | None = None,
    progress: bool = False,
    desc: str = "embedding",
) -> EmbeddedRows:
    """Encode every row of ``rows`` (whole rows, batched with padding + masks).

    Rows are dicts as the datasets of :mod:`cpckit.data` return them
    (``audio`` + ``audio_length``, or ``image``; ``label`` and ``group`` when
    present are gathered too). Audio rows are sorted by length so each batch
    pads little, and the results are put back in row order.
    """
    from cpckit.data.collate import collate
    from cpckit.progress import Progress

    if batch_size < 1:
        raise UsageError(f"--batch-size = {batch_size} must be >= 1")
    check_pool(pool, modality, "pool")
    n = len(rows)  # type: ignore[arg-type]
    if n == 0:
        raise CpckitError("there is nothing to embed: the set of rows is empty")
    was_training = model.training
    model.eval()
    batches = plan_batches(row_lengths(rows), n, batch_size, max_batch_samples)
    device = next(model.parameters()).device
    parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    frame_parts: dict[str, dict[int, np.ndarray]] = {"context": {}, "latent": {}}
    bar = Progress(n, desc, enabled=progress)
    try:
        for idx in batches:
            batch = collate([rows[int(i)] for i in idx])
            x = batch[modality].to(device)
            lens = batch.get(f"{modality}_length")
            out = encode_batch(
                model,
                modality,
                x,
                None if lens is None else lens.to(device),
                pool=pool,
                frames=frames,
            )
            for key in ("context", "latent", "view_a", "view_b", "n_steps"):
                parts.setdefault(key, []).append((idx, getattr(out, key).cpu().numpy()))
            for key in ("label", "group"):
                if key in batch:
                    parts.setdefault(key, []).append((idx, batch[key].cpu().numpy()))
            if out.context_frames is not None and out.latent_frames is not None:
                for j, i in enumerate(idx.tolist()):
                    frame_parts["context"][i] = out.context_frames[j].cpu().numpy()
                    frame_parts["latent"][i] = out.latent_frames[j].cpu().numpy()
            bar.update(len(idx))
    finally:
        bar.close()
        model.train(was_training)

    def gather(key: str, dtype: Any) -> np.ndarray:
        chunks = parts[key]
        first = chunks[0][1]
        full = np.zeros((n, *first.shape[1:]), dtype=dtype)
        for idx, values in chunks:
            full[idx] = values
        return full

    def gather_optional(key: str) -> np.ndarray | None:
        have = sum(len(idx) for idx, _ in parts.get(key, []))
        return gather(key, np.int64) if have == n else None

    result = EmbeddedRows(
        context=gather("context", np.float32),
        latent=gather("latent", np.float32),
        view_a=gather("view_a", np.float32),
        view_b=gather("view_b", np.float32),
        n_steps=gather("n_steps", np.int64),
        labels=gather_optional("label"),
        groups=gather_optional("group"),
    )
    if frames:
        ctx = [frame_parts["context"][i] for i in range(n)]
        lat = [frame_parts["latent"][i] for i in range(n)]
        result.context_frames = np.concatenate(ctx).astype(np.float32)
        result.latent_frames = np.concatenate(lat).astype(np.float32)
        result.frame_offsets = np.concatenate([[0], np.cumsum([len(f) for f in ctx])]).astype(
            np.int64
        )
    return result


def _cat_optional(parts: list[EmbeddedRows], key: str) -> np.ndarray | None:
    values = [getattr(p, key) for p in parts]
    if any(v is None for v in values):
        return None
    return np.concatenate(values)


def concat_embedded(parts: list[EmbeddedRows]) -> EmbeddedRows:
    """The rows of several :class:`EmbeddedRows`, one after the other."""
    if len(parts) == 1:
        return parts[0]
    out = EmbeddedRows(
        context=np.concatenate([p.context for p in parts]),
        latent=np.concatenate([p.latent for p in parts]),
        view_a=np.concatenate([p.view_a for p in parts]),
        view_b=np.concatenate([p.view_b for p in parts]),
        n_steps=np.concatenate([p.n_steps for p in parts]),
        labels=_cat_optional(parts, "labels"),
        groups=_cat_optional(parts, "groups"),
    )
    if all(p.frame_offsets is not None for p in parts):
        out.context_frames = _cat_optional(parts, "context_frames")
        out.latent_frames = _cat_optional(parts, "latent_frames")
        offsets, base = [np.zeros(1, dtype=np.int64)], 0
        for p in parts:
            assert p.frame_offsets is not None
            offsets.append(p.frame_offsets[1:] + base)
            base += int(p.frame_offsets[-1])
        out.frame_offsets = np.concatenate(offsets)
    return out
