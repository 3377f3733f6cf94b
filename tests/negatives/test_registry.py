"""negatives.mode and negatives.samplers: names, counts, options, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpckit.config import NegativesConfig, load_config
from cpckit.errors import ConfigError
from cpckit.negatives.hard import HardSampler
from cpckit.negatives.in_batch import InBatchSampler
from cpckit.negatives.queue import QueueSampler
from cpckit.negatives.registry import (
    SAMPLERS,
    build_samplers,
    parse_mode,
    uses_queue,
    validate_negatives,
)
from cpckit.negatives.synthetic import SyntheticSampler


def test_neg_registry_names_every_sampler() -> None:
    assert sorted(SAMPLERS) == [
        "crossmodal",
        "hard",
        "inbatch",
        "queue",
        "samegroup",
        "samesequence",
        "synthetic",
    ]
    for name, cls in SAMPLERS.items():
        assert cls.name == name


@pytest.mark.parametrize(
    ("mode", "names"),
    [
        ("inbatch", ["inbatch"]),
        ("queue", ["inbatch", "queue"]),
        ("queue+synthetic", ["inbatch", "queue", "synthetic"]),
        ("samegroup+queue", ["samegroup", "queue"]),
        ("inbatch+samegroup+hard+crossmodal", ["inbatch", "samegroup", "hard", "crossmodal"]),
        (" In-Batch + same_sequence ", ["inbatch", "samesequence"]),
    ],
)
def test_neg_parse_mode(mode: str, names: list[str]) -> None:
    assert [n for n, _ in parse_mode(mode)] == names


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("queue+", "join sampler names"),
        ("", "join sampler names"),
        ("inbatch+moco", "unknown sampler 'moco'"),
        ("queue+queue", "twice"),
    ],
)
def test_neg_parse_mode_errors(mode: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_mode(mode)


def test_neg_mode_counts_come_from_the_config() -> None:
    cfg = NegativesConfig(mode="inbatch+queue+synthetic", n_negatives=11, n_queue=22, n_synthetic=5)
    samplers = build_samplers(cfg, dim=4)
    assert [type(s) for s in samplers] == [InBatchSampler, QueueSampler, SyntheticSampler]
    assert [s.count for s in samplers] == [11, 22, 5]
    assert isinstance(samplers[1], QueueSampler) and samplers[1].queue.size == cfg.queue_size


def test_neg_samplers_list_sets_counts_and_options() -> None:
    cfg = NegativesConfig(
        samplers=[
            {"name": "queue", "count": 64, "size": 8192},
            {"name": "synthetic", "count": 6, "sigma": 0.2, "window": 4},
            {"name": "hard", "count": 3, "source": "queue", "pool": 100, "size": 8192},
        ]
    )
    inbatch, queue_s, synth, hard = build_samplers(cfg, dim=8)
    assert isinstance(inbatch, InBatchSampler)  # added: the config reads a queue
    assert isinstance(queue_s, QueueSampler) and queue_s.count == 64
    assert queue_s.queue.queue.shape == (8192, 8)
    assert isinstance(synth, SyntheticSampler) and (synth.sigma, synth.window) == (0.2, 4)
    assert isinstance(hard, HardSampler) and hard.queue is queue_s.queue and hard.pool == 100


@pytest.mark.parametrize(
    ("samplers", "message"),
    [
        ([{"count": 3}], "must be a mapping with a 'name'"),
        ([{"name": "queue", "sigma": 1.0}], "no option 'sigma'.*count, size"),
        ([{"name": "inbatch", "count": 0}], "count = 0 must be >= 1"),
        ([{"name": "inbatch", "count": "many"}], "expected an integer"),
        ([{"name": "synthetic", "sigma": 0.0}], "sigma = 0.0 must be > 0"),
        ([{"name": "hard", "source": "disk"}], "source = 'disk' is not valid"),
        (
            [{"name": "queue", "size": 64}, {"name": "hard", "source": "queue", "size": 32}],
            "share one queue",
        ),
    ],
)
def test_neg_bad_sampler_options_name_the_key(
    samplers: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_negatives(NegativesConfig(samplers=samplers))  # type: ignore[arg-type]


def test_neg_a_queue_always_comes_with_batch_negatives() -> None:
    assert [n for n, _ in parse_mode("hard", None, "queue")] == ["inbatch", "hard"]
    assert [n for n, _ in parse_mode("hard", None, "batch")] == ["hard"]
    listed = parse_mode("", [{"name": "queue", "count": 8}])
    assert listed == [("inbatch", {}), ("queue", {"count": 8})]
    assert [n for n, _ in parse_mode("samesequence+queue")] == ["samesequence", "queue"]


def test_neg_queue_needs_the_latent_dimension() -> None:
    with pytest.raises(ConfigError, match="dim"):
        build_samplers(NegativesConfig(mode="queue"))


def test_neg_momentum_checks() -> None:
    assert uses_queue(NegativesConfig(mode="queue+synthetic"))
    assert uses_queue(NegativesConfig(mode="hard", hard_source="queue"))
    assert not uses_queue(NegativesConfig(mode="inbatch+hard"))
    validate_negatives(NegativesConfig(mode="queue", momentum=0.999))
    with pytest.raises(ConfigError, match="needs a queue"):
        validate_negatives(NegativesConfig(mode="inbatch", momentum=0.99))
    with pytest.raises(ConfigError, match="0 <= m < 1"):
        validate_negatives(NegativesConfig(mode="queue", momentum=1.0))


def test_neg_share_positions_reaches_the_batch_samplers() -> None:
    cfg = NegativesConfig(mode="inbatch+samesequence+queue", share_positions=4)
    samplers = build_samplers(cfg, dim=8)
    shares = {s.name: getattr(s, "share", None) for s in samplers}
    assert shares == {"inbatch": 4, "samesequence": 4, "queue": None}
    entry = NegativesConfig(samplers=[{"name": "inbatch", "count": 3, "share": 2}])
    assert [getattr(s, "share", None) for s in build_samplers(entry, dim=8)] == [2]
    msg = r"negatives.share_positions = 0 is not valid: expected an integer >= 1"
    with pytest.raises(ConfigError, match=msg):
        validate_negatives(NegativesConfig(share_positions=0))


def test_neg_yaml_samplers_list_loads(tmp_path: Path) -> None:
    path = tmp_path / "neg.yaml"
    path.write_text(
        "negatives:\n"
        "  samplers:\n"
        "    - {name: queue, count: 256, size: 16384}\n"
        "    - {name: synthetic, count: 8, sigma: 0.25}\n"
    )
    cfg = load_config(path, ["negatives.momentum=0.999"])
    assert cfg.negatives.samplers[0] == {"name": "queue", "count": 256, "size": 16384}
    _, queue_s, synth = build_samplers(cfg.negatives, dim=cfg.model.z_dim)
    assert queue_s.count == 256 and synth.count == 8
