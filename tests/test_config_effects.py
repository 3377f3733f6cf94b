"""No-effect warnings at config load (cpckit.config_effects)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from cpckit.build import load_checked_config
from cpckit.config_effects import NoEffectWarning

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))


def notes(*overrides: str, path: str | Path | None = None) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_checked_config(path, list(overrides))
    return [str(w.message) for w in caught if issubclass(w.category, NoEffectWarning)]


def test_the_default_config_warns_about_nothing() -> None:
    assert notes() == []


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_the_shipped_configs_warn_about_nothing(path: Path) -> None:
    assert CONFIGS
    assert notes(path=path) == []


def test_a_default_value_never_warns_even_where_it_would_be_inert() -> None:
    # the default temperature (0.1) with the default dot similarity: nothing was set
    assert notes("loss.similarity=dot") == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            ["loss.similarity=dot", "loss.temperature=0.07"],
            "loss.temperature has no effect: loss.similarity = dot has no temperature; "
            "set loss.similarity=cosine to use it",
        ),
        (
            ["loss.tau_plus=0.2"],
            "loss.tau_plus has no effect: it is the class prior of debiased InfoNCE; "
            "set loss.debiased=true to use it",
        ),
        (
            ["negatives.mode=inbatch", "negatives.queue_size=1024", "negatives.n_queue=32"],
            "negatives.queue_size, negatives.n_queue have no effect: negatives.mode = 'inbatch' "
            "reads no queue; add 'queue' to it (e.g. queue+synthetic)",
        ),
        (
            ["negatives.mode=inbatch", "negatives.sigma=0.3"],
            "negatives.sigma has no effect: negatives.mode = 'inbatch' makes no synthetic "
            "negatives; add 'synthetic' to it",
        ),
        (
            ["negatives.mode=inbatch", "negatives.n_hard=4"],
            "negatives.n_hard has no effect: negatives.mode = 'inbatch' mines no hard negatives; "
            "add 'hard' to it",
        ),
        (
            ["negatives.mode=inbatch", "negatives.n_crossmodal=8"],
            "negatives.n_crossmodal has no effect: negatives.mode = 'inbatch' draws no "
            "cross-modal negatives; add 'crossmodal' to it",
        ),
        (
            ["audio_encoder.kind=conv", "audio_encoder.n_mels=64"],
            "audio_encoder.n_mels has no effect: audio_encoder.kind = conv reads the waveform; "
            "set audio_encoder.kind=mel",
        ),
        (
            ["audio_encoder.kind=mel", "audio_encoder.conv_layers=[[1,16,10,5,3,1]]"],
            "audio_encoder.conv_layers has no effect: audio_encoder.kind = mel has no waveform "
            "conv stack; set audio_encoder.kind=conv",
        ),
        (
            ["data.modality=image", "audio_encoder.kind=mel", "audio_augment.prob=0.9"],
            "audio_encoder.kind, audio_augment.prob have no effect: data.modality = image has "
            "no audio",
        ),
        (
            ["image_encoder.width=32"],
            "image_encoder.width has no effect: data.modality = audio has no images",
        ),
        (
            ["audio_augment.noise_snr_min=3"],
            "audio_augment.noise_snr_min has no effect: audio_augment.transforms is empty; "
            "list transforms (e.g. [reverb, noise])",
        ),
        (
            ["model.kind=gru", "model.heads=8", "model.ff_dim=128"],
            "model.heads, model.ff_dim have no effect: model.kind = gru is recurrent; they are "
            "Transformer options",
        ),
        (
            ["model.predictor_hidden=64"],
            "model.predictor_hidden has no effect: model.predictor = linear has no hidden "
            "layer; set model.predictor=mlp",
        ),
        (
            ["train.momentum=0.5"],
            "train.momentum has no effect: train.optimizer = adam has no momentum key; "
            "set train.optimizer=sgd",
        ),
        (
            ["train.warmup_steps=100"],
            "train.warmup_steps has no effect: train.lr_schedule = constant has no warmup; "
            "set train.lr_schedule=cosine",
        ),
    ],
)
def test_an_option_set_where_it_has_no_effect_is_named_once(
    overrides: list[str], expected: str
) -> None:
    assert notes(*overrides) == [expected]


@pytest.mark.parametrize(
    "overrides",
    [
        ["loss.similarity=cosine", "loss.temperature=0.07"],
        ["loss.debiased=true", "loss.similarity=cosine", "loss.tau_plus=0.2"],
        ["negatives.mode=queue+synthetic", "negatives.queue_size=1024", "negatives.sigma=0.3"],
        ["audio_encoder.kind=mel", "audio_encoder.n_mels=64"],
        ["model.kind=transformer", "model.heads=8"],
        ["train.lr_schedule=cosine", "train.warmup_steps=100"],
        ["train.optimizer=sgd", "train.momentum=0.5"],
        ["data.modality=multimodal", "image_encoder.width=32", "audio_encoder.kind=mel"],
    ],
)
def test_an_option_that_counts_does_not_warn(overrides: list[str]) -> None:
    assert notes(*overrides) == []


def test_the_config_command_prints_the_note_as_one_warning_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cpckit.cli import main

    code = main(["config", "loss.similarity=dot", "loss.temperature=0.07"])
    err = capsys.readouterr().err
    assert code == 0
    assert (
        "warning: loss.temperature has no effect: loss.similarity = dot has no temperature; "
        "set loss.similarity=cosine to use it"
    ) in err.splitlines()
