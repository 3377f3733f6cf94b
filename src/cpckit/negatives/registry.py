"""Names of the negative samplers, ``negatives.mode`` parsing and construction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cpckit.errors import ConfigError
from cpckit.negatives.base import NegativeSampler
from cpckit.negatives.cross_modal import CrossModalSampler
from cpckit.negatives.hard import HardSampler
from cpckit.negatives.in_batch import InBatchSampler, SameSequenceSampler
from cpckit.negatives.queue import LatentQueue, QueueSampler
from cpckit.negatives.same_group import SameGroupSampler
from cpckit.negatives.synthetic import SyntheticSampler

if TYPE_CHECKING:
    from cpckit.config import NegativesConfig

__all__ = [
    "BATCH_SAMPLERS",
    "SAMPLERS",
    "build_samplers",
    "parse_mode",
    "uses_queue",
    "validate_negatives",
]

SAMPLERS: dict[str, type[NegativeSampler]] = {
    "inbatch": InBatchSampler,
    "samesequence": SameSequenceSampler,
    "samegroup": SameGroupSampler,
    "queue": QueueSampler,
    "synthetic": SyntheticSampler,
    "hard": HardSampler,
    "crossmodal": CrossModalSampler,
}

_ALIASES = {
    "in-batch": "inbatch",
    "in_batch": "inbatch",
    "same-sequence": "samesequence",
    "same_sequence": "samesequence",
    "same-group": "samegroup",
    "same_group": "samegroup",
    "samespeaker": "samegroup",
    "cross-modal": "crossmodal",
    "cross_modal": "crossmodal",
}

# Options each sampler takes in a ``negatives.samplers`` entry besides ``count``.
OPTIONS: dict[str, tuple[str, ...]] = {
    "inbatch": ("share",),
    "samesequence": ("share",),
    "samegroup": (),
    "queue": ("size",),
    "synthetic": ("sigma", "window", "noise_bank"),
    "hard": ("source", "pool", "size"),
    "crossmodal": (),
}


# Samplers whose negatives come from the current batch, i.e. from the same
# encoder state as the positive.
BATCH_SAMPLERS = ("inbatch", "samesequence", "samegroup")


def _canonical(name: str) -> str:
    name = name.strip().lower()
    return _ALIASES.get(name, name)


def parse_mode(
    mode: str, samplers: list[dict[str, Any]] | None = None, hard_source: str = "batch"
) -> list[tuple[str, dict[str, Any]]]:
    """``"queue+synthetic"`` (or a list of dicts) -> ``[(name, options), ...]``.

    A configuration that reads a queue (``queue``, or ``hard`` from the
    queue) but has none of :data:`BATCH_SAMPLERS` gets ``inbatch`` added in
    front: ``queue`` means ``inbatch+queue`` and ``queue+synthetic`` means
    ``inbatch+queue+synthetic``. Queued keys come from earlier encoder states
    than the positive, and without negatives from the current batch a model
    learns to tell the two apart instead of predicting (docs/negatives.md).
    """
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
    for name, opts in entries:
        if name not in SAMPLERS:
            raise ConfigError(
                f"negatives.mode names an unknown sampler {name!r}; valid names: "
                f"{', '.join(sorted(SAMPLERS))}"
            )
        if name in seen:
            raise ConfigError(f"negatives.mode names sampler {name!r} twice")
        seen.add(name)
        unknown = sorted(set(opts) - {"count", *OPTIONS[name]})
        if unknown:
            valid = ", ".join(("count", *OPTIONS[name]))
            raise ConfigError(
                f"negatives.samplers: sampler {name!r} has no option {unknown[0]!r}; "
                f"valid options: {valid}"
            )
    reads_queue = any(
        name == "queue" or (name == "hard" and opts.get("source", hard_source) == "queue")
        for name, opts in entries
    )
    if reads_queue and not seen.intersection(BATCH_SAMPLERS):
        entries.insert(0, ("inbatch", {}))
    return entries


def _defaults(name: str, cfg: NegativesConfig) -> dict[str, Any]:
    """Config-level defaults of one sampler's options (a samplers entry overrides them)."""
    table: dict[str, dict[str, Any]] = {
        "inbatch": {"count": cfg.n_negatives, "share": cfg.share_positions},
        "samesequence": {"count": cfg.n_negatives, "share": cfg.share_positions},
        "samegroup": {"count": cfg.n_negatives},
        "queue": {"count": cfg.n_queue, "size": cfg.queue_size},
        "synthetic": {"count": cfg.n_synthetic, "sigma": cfg.sigma},
        "hard": {
            "count": cfg.n_hard,
            "source": cfg.hard_source,
            "pool": cfg.hard_pool,
            "size": cfg.queue_size,
        },
        "crossmodal": {"count": cfg.n_crossmodal},
    }
    return table[name]


def uses_queue(cfg: NegativesConfig) -> bool:
    """Whether a config's samplers read a queue (a momentum key encoder needs one)."""
    for name, opts in parse_mode(cfg.mode, cfg.samplers, cfg.hard_source):
        if name == "queue":
            return True
        if name == "hard" and {**_defaults(name, cfg), **opts}["source"] == "queue":
            return True
    return False


def build_samplers(cfg: NegativesConfig, dim: int | None = None) -> list[NegativeSampler]:
    """The samplers of a config, in the order given.

    Args:
        cfg: the negatives section.
        dim: latent dimension ``D`` (needed by samplers that keep a queue).
    """
    share = cfg.share_positions
    if isinstance(share, bool) or not isinstance(share, int) or share < 1:
        raise ConfigError(
            f"negatives.share_positions = {share!r} is not valid: expected an integer >= 1 "
            "(1 = every position draws its own negatives)"
        )
    entries = parse_mode(cfg.mode, cfg.samplers, cfg.hard_source)
    out: list[NegativeSampler] = []
    queue: LatentQueue | None = None  # one queue, shared by queue and hard(source=queue)

    def get_queue(size: Any, name: str) -> LatentQueue:
        nonlocal queue
        size = _int(size, f"{name}.size")
        if dim is None:
            raise ConfigError(
                f"negatives sampler {name!r} keeps a queue: build it with dim = z_dim"
            )
        if queue is None:
            queue = LatentQueue(size, dim)
        elif queue.size != size:
            raise ConfigError(
                f"negatives: queue and hard(source=queue) share one queue but give sizes "
                f"{queue.size} and {size}"
            )
        return queue

    filler = next((n for n, _ in entries if n == "queue"), None)
    for name, given in entries:
        opts = {**_defaults(name, cfg), **given}
        count = _int(opts.pop("count"), f"{name}.count")
        try:
            if name == "queue":
                sampler: NegativeSampler = QueueSampler(count, get_queue(opts["size"], name))
            elif name == "hard":
                size = opts.pop("size")
                if opts["source"] == "queue":
                    opts["queue"] = get_queue(size, name)
                    opts["enqueue"] = filler is None
                sampler = HardSampler(count, **opts)
            else:
                sampler = SAMPLERS[name](count, **opts)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"negatives sampler {name!r}: bad options {given}: {exc}") from None
        out.append(sampler)
    return out


def _int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(
            f"negatives.samplers: {key} = {value!r} is not valid: expected an integer"
        )
    return value


def validate_negatives(cfg: NegativesConfig) -> None:
    """Check a negatives section: names, options, counts, momentum (raises ConfigError)."""
    build_samplers(cfg, dim=1)
    if not 0.0 <= cfg.momentum < 1.0:
        raise ConfigError(
            f"negatives.momentum = {cfg.momentum} is not valid: expected 0 <= m < 1 "
            "(0: no key encoder; MoCo uses 0.999)"
        )
    if cfg.momentum > 0 and not uses_queue(cfg):
        raise ConfigError(
            f"negatives.momentum = {cfg.momentum} needs a queue: add 'queue' to negatives.mode "
            f"(now {cfg.mode!r}) or set momentum to 0"
        )
