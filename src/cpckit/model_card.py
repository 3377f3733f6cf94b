"""The model card (``README.md``) of a saved model: YAML front matter as the Hub reads it, then text.

The front matter holds what the Hugging Face Hub indexes (``library_name``,
``license``, ``tags``, ``datasets``, ``pipeline_tag``); the body says what the
model was trained on, the command that trained it, the probe figures with
the baselines measured in the same run, and the licences.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = ["Figure", "ModelCard", "read_front_matter"]


@dataclass
class Figure:
    """One probe row: ``features`` (e.g. "CPC context") scored ``value`` under ``protocol``.

    ``std``: the standard deviation over folds, when the protocol has folds.
    """

    features: str
    value: float
    protocol: str
    baseline: bool = False
    std: float | None = None

    def cell(self) -> str:
        return f"{self.value:.3f}" + ("" if self.std is None else f" ± {self.std:.3f}")


@dataclass
class ModelCard:
    """What the card says; every field has a plain default so a bare ``save_pretrained`` works.

    Attributes:
        name: the card's title.
        source: what to give :func:`cpckit.from_pretrained` in the card's example.
        license: the weights' licence as a Hub licence id (``mit``, ``cc-by-sa-4.0``, ``unknown``).
        datasets: Hub dataset ids or names of the training data.
        tags: extra tags (``cpckit``, the modalities and ``contrastive-predictive-coding``
            are always given).
        summary: one paragraph on what the model is.
        data: the training data, where it came from.
        command: the command that trained the model.
        figures: probe figures, the model's and its baselines'.
        figures_note: how the figures were measured (the command, the split).
        data_license: the licence of the data and what it asks of users of the weights.
    """

    name: str = "cpckit model"
    source: str = "PATH_OR_NAME"
    license: str = "unknown"
    datasets: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    summary: str = ""
    data: str = ""
    command: str = ""
    figures: list[Figure] = field(default_factory=list)
    figures_note: str = ""
    data_license: str = ""

    def front_matter(self, modalities: list[str]) -> dict[str, Any]:
        tags = ["cpckit", "contrastive-predictive-coding", "self-supervised", *modalities]
        meta: dict[str, Any] = {
            "library_name": "cpckit",
            "license": self.license,
            "tags": list(dict.fromkeys([*tags, *self.tags])),
            "pipeline_tag": "feature-extraction",
        }
        if self.datasets:
            meta["datasets"] = list(self.datasets)
        return meta

    def render(self, modalities: list[str], sample_rate: int | None = None) -> str:
        """The whole ``README.md``."""
        head = yaml.safe_dump(self.front_matter(modalities), sort_keys=False)
        what = "a waveform" if "audio" in modalities else "an image"
        arg = f", sample_rate={sample_rate}" if "audio" in modalities and sample_rate else ""
        parts = [
            f"---\n{head}---\n",
            f"# {self.name}\n",
            self.summary
            or f"A Contrastive Predictive Coding model ({', '.join(modalities)}) saved by cpckit.",
            "## Use\n",
            "```python\nimport cpckit\n\n"
            f'model = cpckit.from_pretrained("{self.source}")\n'
            f"vector = model.embed(x{arg}).context  # x: {what}; the time-pooled context\n```",
            "## Training data\n",
            self.data or "Not recorded.",
            "## Training command\n",
            f"```\n{self.command}\n```" if self.command else "Not recorded.",
        ]
        if self.figures:
            rows = "\n".join(
                f"| {'baseline: ' if f.baseline else ''}{f.features} | {f.protocol} | {f.cell()} |"
                for f in self.figures
            )
            parts += [
                "## Probe figures\n",
                "| features | protocol | test accuracy |\n| --- | --- | ---: |\n" + rows,
            ]
            if self.figures_note:
                parts.append(self.figures_note)
        parts += [
            "## Licence\n",
            "cpckit's code is MIT-licensed. "
            + (self.data_license or "The licence of the training data was not recorded."),
            "## Format\n",
            "`config.json` holds the cpckit config (with the format and cpckit versions), "
            "`model.safetensors` the weights; `cpckit.from_pretrained` rebuilds the model "
            "from the two without unpickling anything.",
        ]
        return "\n\n".join(p.rstrip("\n") for p in parts) + "\n"


def read_front_matter(text: str) -> dict[str, Any]:
    """The YAML front matter of a card (``{}`` when it has none)."""
    if not text.startswith("---\n"):
        return {}
    end = text.find("\n---\n", 4)
    if end < 0:
        return {}
    data = yaml.safe_load(text[4 : end + 1])
    return data if isinstance(data, dict) else {}
