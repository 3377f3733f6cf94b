"""The CPC objective: predictions + samplers + similarity -> InfoNCE."""

from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from cpckit.losses import InfoNCEResult, debiased_info_nce, info_nce
from cpckit.model import CPCModel, CPCOutput
from cpckit.negatives.base import NegativeQuery, NegativeSampler, positive_windows
from cpckit.negatives.momentum import MomentumEncoder
from cpckit.similarity import Similarity

__all__ = ["CPCObjective", "ObjectiveResult"]


@dataclass
class ObjectiveResult:
    """Loss over all modalities and per-modality statistics.

    Attributes:
        loss: scalar, mean over modalities.
        per_modality: modality -> :class:`InfoNCEResult`.
        queries: modality -> the query the samplers saw (detached keys are
            passed to :meth:`CPCObjective.update` after the optimizer step).
    """

    loss: Tensor
    per_modality: dict[str, InfoNCEResult]
    queries: dict[str, NegativeQuery]

    @property
    def step_accuracy(self) -> Tensor:
        return torch.stack([r.step_accuracy for r in self.per_modality.values()]).mean(0)

    @property
    def step_loss(self) -> Tensor:
        return torch.stack([r.step_loss for r in self.per_modality.values()]).mean(0)


class CPCObjective(nn.Module):
    """Scores each modality's predictions against its samplers' negatives.

    Args:
        samplers: modality -> samplers (each its own module, e.g. its own queue).
        similarity: dot or cosine / temperature.
        debiased: use debiased InfoNCE (Chuang et al. 2020) with ``tau_plus``.
        step_weights: ``(K,)`` weights over prediction steps, or None for the mean.
        key_encoder: a momentum (EMA) copy of the encoders; when given,
            :meth:`update` steps it and enqueues its latents of the batch
            instead of the batch's own (MoCo, He et al. 2020).
    """

    def __init__(
        self,
        samplers: dict[str, list[NegativeSampler]],
        similarity: Similarity,
        *,
        debiased: bool = False,
        tau_plus: float = 0.1,
        step_weights: list[float] | None = None,
        key_encoder: MomentumEncoder | None = None,
    ) -> None:
        super().__init__()
        if not samplers or any(not s for s in samplers.values()):
            raise ValueError("every modality needs at least one negative sampler")
        self.samplers = nn.ModuleDict({m: nn.ModuleList(s) for m, s in samplers.items()})
        self.similarity = similarity
        self.debiased = debiased
        self.tau_plus = tau_plus
        self.key_encoder = key_encoder
        self.step_weights: Tensor | None
        self.register_buffer(
            "step_weights",
            None if step_weights is None else torch.tensor(step_weights, dtype=torch.float32),
            persistent=False,
        )

    def _samplers_of(self, modality: str) -> list[NegativeSampler]:
        return [
            typing.cast(NegativeSampler, s)
            for s in typing.cast(nn.ModuleList, self.samplers[modality])
        ]

    def query(
        self, out: CPCOutput, other: CPCOutput | None, groups: Tensor | None
    ) -> NegativeQuery:
        sim = self.similarity
        return NegativeQuery(
            q=sim.query(out.pred),
            keys=sim.key(out.z),
            valid=out.valid,
            groups=groups,
            other_keys=None if other is None else sim.key(other.z),
            other_valid=None if other is None else other.valid,
            scale=sim.scale,
            raw_keys=out.z if sim.kind != "dot" else None,
            normalized=sim.kind == "cosine",
        )

    def modality_loss(self, modality: str, query: NegativeQuery) -> InfoNCEResult:
        steps = query.q.shape[2]
        pos = (query.q * positive_windows(query.keys, steps)).sum(-1) * query.scale
        scores, masks = [], []
        for sampler in self._samplers_of(modality):
            neg = sampler(query)
            scores.append(neg.scores)
            masks.append(neg.mask.expand_as(neg.scores))
        neg_scores = scores[0] if len(scores) == 1 else torch.cat(scores, dim=-1)
        neg_mask = masks[0] if len(masks) == 1 else torch.cat(masks, dim=-1)
        valid = None if query.valid is None else positive_windows(query.valid, steps)
        if self.debiased:
            return debiased_info_nce(
                pos,
                neg_scores,
                neg_mask,
                valid,
                self.step_weights,
                tau_plus=self.tau_plus,
                temperature=self.similarity.temperature,
            )
        return info_nce(pos, neg_scores, neg_mask, valid, self.step_weights)

    def forward(
        self, outputs: dict[str, CPCOutput], groups: Tensor | None = None
    ) -> ObjectiveResult:
        results: dict[str, InfoNCEResult] = {}
        queries: dict[str, NegativeQuery] = {}
        names = list(outputs)
        for m in names:
            if m not in self.samplers:
                raise ValueError(f"no negative samplers for modality {m!r}")
            others = [outputs[o] for o in names if o != m]
            query = self.query(outputs[m], others[0] if others else None, groups)
            results[m] = self.modality_loss(m, query)
            queries[m] = query
        loss = torch.stack([r.loss for r in results.values()]).mean()
        return ObjectiveResult(loss=loss, per_modality=results, queries=queries)

    @torch.no_grad()
    def update(
        self,
        queries: dict[str, NegativeQuery],
        batch: Mapping[str, Tensor] | None = None,
        model: CPCModel | None = None,
    ) -> None:
        """After the optimizer step: let samplers with state (queues) take this batch's keys.

        Without a key encoder the samplers get the batch's own latents (as
        the loss saw them, detached). With one, ``batch`` and ``model`` are
        needed: the key encoder first moves towards ``model``'s encoders
        (``theta_k = m theta_k + (1 - m) theta_q``), then encodes ``batch``,
        and those latents are what the samplers enqueue.
        """
        if self.key_encoder is not None:
            if batch is None or model is None:
                raise ValueError(
                    "CPCObjective.update needs the batch and the model when it has a momentum "
                    "key encoder (negatives.momentum > 0)"
                )
            self.key_encoder.step(model.encoders)
            queries = {
                m: self._key_query(self.key_encoder, m, q, batch) for m, q in queries.items()
            }
        for m, query in queries.items():
            for sampler in self._samplers_of(m):
                sampler.update(query)

    def _key_query(
        self,
        key_encoder: MomentumEncoder,
        modality: str,
        query: NegativeQuery,
        batch: Mapping[str, Tensor],
    ) -> NegativeQuery:
        """The query with the key encoder's latents of ``batch`` as its keys."""
        z, valid = key_encoder.encode(modality, batch[modality], batch.get(f"{modality}_length"))
        sim = self.similarity
        return replace(
            query,
            keys=sim.key(z),
            valid=valid,
            raw_keys=z if sim.kind != "dot" else None,
        )
