"""The CPC model: encoders, one shared context model, prediction heads.

One class serves a single modality and several: ``encoders`` and
``predictors`` are keyed by modality (``"audio"``, ``"image"``) and the
context model is shared, so audio and image latents are summarised by the
same network (multimodal CPC).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

__all__ = ["POOLS", "CPCModel", "CPCOutput", "encode_latents", "pool_grid", "pool_time"]

POOLS = ("mean", "max", "last", "grid")
"""How a sequence of vectors becomes one vector (``eval.pool``, ``--pool``)."""


@dataclass
class CPCOutput:
    """One modality's forward pass.

    Attributes:
        z: ``(B, L, D)`` latents.
        c: ``(B, L, C)`` contexts.
        pred: ``(B, T, K, D)`` predictions of ``z[:, t + k + 1]`` from
            ``c[:, t]`` for ``t < T = L - K``.
        valid: ``(B, L)`` True for latent steps of real (not padded) input, or None.
    """

    z: Tensor
    c: Tensor
    pred: Tensor
    valid: Tensor | None


def pool_grid(x: Tensor, grid: tuple[int, int], order: str = "raster") -> Tensor:
    """Mean over each quadrant of an image's patch grid, concatenated: ``(B, 4F)``.

    The ``gh x gw`` grid (read in ``order``, see
    :func:`cpckit.encoders.image.grid_to_sequence`) is cut into top-left,
    top-right, bottom-left and bottom-right blocks of ``ceil(gh / 2) x
    ceil(gw / 2)`` cells (an odd grid shares its middle row and column), so
    the pooled vector keeps where in the image each feature was found.

    Shape:
        x: ``(B, gh * gw, F)`` -> ``(B, 4 * F)``
    """
    gh, gw = grid
    b, length, f = x.shape
    if length != gh * gw:
        raise ValueError(f"pool 'grid': {length} steps do not form a {gh}x{gw} patch grid")
    g = x.view(b, gw, gh, f).transpose(1, 2) if order == "column" else x.view(b, gh, gw, f)
    h, w = -(-gh // 2), -(-gw // 2)
    blocks = [g[:, :h, :w], g[:, :h, gw - w :], g[:, gh - h :, :w], g[:, gh - h :, gw - w :]]
    return torch.cat([blk.mean((1, 2)) for blk in blocks], dim=1)


def pool_time(
    x: Tensor,
    valid: Tensor | None = None,
    how: str = "mean",
    grid: tuple[int, int, str] | None = None,
) -> Tensor:
    """Pool ``(B, L, F)`` over time, counting only valid steps.

    ``how`` is ``"mean"``, ``"max"``, ``"last"`` (the last valid step) or
    ``"grid"`` (images: :func:`pool_grid` over ``grid = (gh, gw, order)``,
    from :meth:`CPCModel.grid_of`).
    """
    if how == "grid":
        if grid is None:
            raise ValueError(
                "pool 'grid' needs an image's patch grid; sequences pool with mean, max or last"
            )
        return pool_grid(x, (grid[0], grid[1]), grid[2])
    if valid is None:
        valid = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    w = valid.unsqueeze(-1).to(x.dtype)
    if how == "mean":
        return (x * w).sum(1) / w.sum(1).clamp_min(1.0)
    if how == "max":
        return x.masked_fill(~valid.unsqueeze(-1), float("-inf")).amax(1)
    if how == "last":
        last = (valid.long().cumsum(1).argmax(1)).clamp_min(0)
        return x[torch.arange(x.shape[0], device=x.device), last]
    raise ValueError(f"pool = {how!r} is not valid: expected one of {', '.join(POOLS)}")


def encode_latents(
    encoder: nn.Module, x: Tensor, lengths: Tensor | None = None
) -> tuple[Tensor, Tensor | None]:
    """``encoder(x)``: latents ``(B, L, D)`` and their validity ``(B, L)`` (None when all valid).

    The validity comes from the encoder's ``valid_mask(lengths, L)`` when it
    has one and ``lengths`` is given. An encoder whose ``takes_lengths`` is
    True (the log-mel encoder, for its per-clip normalisation) also gets
    ``lengths`` in its forward pass.
    """
    z = encoder(x, lengths) if getattr(encoder, "takes_lengths", False) else encoder(x)
    mask_fn = getattr(encoder, "valid_mask", None)
    if lengths is None or mask_fn is None:
        return z, None
    return z, mask_fn(lengths, z.shape[1])


class CPCModel(nn.Module):
    """Contrastive Predictive Coding (van den Oord et al. 2018).

    Args:
        encoders: modality -> encoder mapping inputs to ``z (B, L, D)``.
        context: causal model ``z (B, L, D) -> c (B, L, C)``, shared by all modalities.
        predictors: modality -> head ``c (B, T, C) -> pred (B, T, K, D)``.
        steps: K, the number of future steps predicted.
    """

    def __init__(
        self,
        encoders: dict[str, nn.Module],
        context: nn.Module,
        predictors: dict[str, nn.Module],
        steps: int,
    ) -> None:
        super().__init__()
        if set(encoders) != set(predictors):
            raise ValueError(
                f"encoders {sorted(encoders)} and predictors {sorted(predictors)} must name the same modalities"
            )
        dims = {name: getattr(enc, "z_dim", None) for name, enc in encoders.items()}
        if len({d for d in dims.values() if d is not None}) > 1:
            raise ValueError(
                f"the encoders' latent dimensions differ ({dims}): the shared context model "
                "needs one z_dim for every modality"
            )
        self.encoders = nn.ModuleDict(encoders)
        self.context = context
        self.predictors = nn.ModuleDict(predictors)
        self.steps = steps

    @property
    def modalities(self) -> list[str]:
        return list(self.encoders.keys())

    def encode(
        self, modality: str, x: Tensor, lengths: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Latents ``(B, L, D)`` and their validity ``(B, L)`` (None when all valid)."""
        return encode_latents(self.encoders[modality], x, lengths)

    def forward_modality(
        self, modality: str, x: Tensor, lengths: Tensor | None = None
    ) -> CPCOutput:
        z, valid = self.encode(modality, x, lengths)
        length = z.shape[1]
        if length <= self.steps:
            raise ValueError(
                f"{modality} input gives {length} latent steps; predicting {self.steps} steps "
                f"needs at least {self.steps + 1}"
            )
        c = self.context(z)
        pred = self.predictors[modality](c[:, : length - self.steps])
        return CPCOutput(z=z, c=c, pred=pred, valid=valid)

    def forward(self, batch: dict[str, Tensor]) -> dict[str, CPCOutput]:
        """Run every modality present in ``batch`` (keys as in docs/contracts.md)."""
        out = {}
        for m in self.modalities:
            if m in batch:
                out[m] = self.forward_modality(m, batch[m], batch.get(f"{m}_length"))
        if not out:
            raise ValueError(
                f"batch has none of the model's modalities {self.modalities}: keys {sorted(batch)}"
            )
        return out

    @torch.no_grad()
    def features(
        self, modality: str, x: Tensor, lengths: Tensor | None = None, pool: str = "mean"
    ) -> tuple[Tensor, Tensor]:
        """Time-pooled context ``(B, C)`` and latent ``(B, D)`` vectors."""
        z, valid = self.encode(modality, x, lengths)
        c = self.context(z)
        return self.pool(modality, x, c, valid, pool), self.pool(modality, x, z, valid, pool)

    def pool(self, modality: str, x: Tensor, seq: Tensor, valid: Tensor | None, how: str) -> Tensor:
        """:func:`pool_time` of ``seq`` (computed from input ``x``), with the patch grid of images."""
        grid = self.grid_of(modality, x) if how == "grid" else None
        return pool_time(seq, valid, how, grid)

    def grid_of(self, modality: str, x: Tensor) -> tuple[int, int, str] | None:
        """``(gh, gw, order)`` of the patch grid ``x`` is cut into, or None (not images)."""
        encoder = self.encoders[modality]
        shape_for = getattr(encoder, "grid_shape_for", None)
        if shape_for is None:
            return None
        gh, gw = shape_for((int(x.shape[-2]), int(x.shape[-1])))
        return gh, gw, str(encoder.order)
