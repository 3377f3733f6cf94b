"""Names of the negative samplers, ``negatives.mode`` parsing and construction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cpckit.errors import ConfigError
from cpckit.negatives.base import NegativeSampler
from cpckit.negatives.in_batch import InBatchSampler, SameSequenceSampler

if TYPE_CHECKING:
    from cpckit.config import NegativesConfig

__all__ = ["SAMPLERS", "build_samplers", "parse_mode"]

SAMPLERS: dict[str, type[NegativeSampler]] = {
    "inbatch": InBatchSampler,
    "samesequence": SameSequenceSampler,
}

_ALIASES = {
    "in-batch": "inbatch",
    "in_batch": "inbatch",
    "same-sequence": "samesequence",
    "same_sequence": "samesequence",
}


def _canonical(name: str) -> str:
    name = name.strip().lower()
    return _ALIASES.get(name, name)


def parse_mode(
    mode: str, samplers: list[dict[str, Any]] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """``"queue+synthetic"`` (or a list of dicts) -> ``[(name, options), ...]``."""
    entries: list[tuple[str, dict[str, Any]]] = []
    if samplers:
        for i, item in enumerate(samplers):
            if not isinstance(item, dict) or "name" not in item:
                raise ConfigError(
                    f"negatives.samplers[{i}] = {item!r} must be a mapping with a 'name'"
                )
            opts = {k: v for k, v in item.items() if k != "name"}
            entries.append((_canonical(str(item["name"])), opts))
    else:
        parts = [p for p in mode.split("+")]
        if not mode.strip() or any(not p.strip() for p in parts):
            raise ConfigError(
                f"negatives.mode = {mode!r} is not valid: join sampler names with '+', "
                f"e.g. inbatch or queue+synthetic; valid names: {', '.join(sorted(SAMPLERS))}"
            )
        entries = [(_canonical(p), {}) for p in parts]
    seen: set[str] = set()
    for name, _ in entries:
        if name not in SAMPLERS:
            raise ConfigError(
                f"negatives.mode names an unknown sampler {name!r}; valid names: "
                f"{', '.join(sorted(SAMPLERS))}"
            )
        if name in seen:
            raise ConfigError(f"negatives.mode names sampler {name!r} twice")
        seen.add(name)
    return entries


def build_samplers(cfg: NegativesConfig) -> list[NegativeSampler]:
    """The samplers of a config, in the order given."""
    out: list[NegativeSampler] = []
    for name, opts in parse_mode(cfg.mode, cfg.samplers):
        cls = SAMPLERS[name]
        count = int(opts.pop("count", cfg.n_negatives))
        try:
            out.append(cls(count, **opts))
        except TypeError as exc:
            raise ConfigError(f"negatives sampler {name!r}: bad options {opts}: {exc}") from None
    return out
