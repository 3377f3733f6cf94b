"""Train, probe and package the models shipped in ``src/cpckit/pretrained/``.

Each model is trained with the documented ``cpckit train`` command, probed
with ``cpckit evaluate`` (the protocol of docs/quality.md for FSDD, of
docs/images.md for CIFAR-10), and its run converted into a folder in the Hub
layout (``config.json``, ``model.safetensors``, ``README.md``) whose model
card gives the data, the two commands, the probe figures with the baselines
of the same evaluation, and the licences. The data is read where it lies
(``--data-root``, by default ``../shared/data`` from the repository root);
nothing of it is copied.

    PYTHONPATH=src python tools/build_pretrained.py                 # both, about 30 min on 2 cores
    PYTHONPATH=src python tools/build_pretrained.py --only fsdd-small
    PYTHONPATH=src python tools/build_pretrained.py --work RUNS --skip-train   # probe + convert

Run folders go to ``--work`` (default ``build/pretrained``, not part of the
repository); each command is printed before it runs.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEST = ROOT / "src" / "cpckit" / "pretrained"
FSDD_REGEX = r"(?P<digit>\d)_(?P<speaker>[a-z]+)_\d+\.wav"
FSDD_DATA = (
    "The Free Spoken Digit Dataset (Z. Jackson et al.), 4 of its 6 speakers "
    "(george, jackson, lucas, nicolas): 2,000 recordings of the digits 0-9, "
    "50 of each digit per speaker, mono, 8 kHz. CPC trained on 80 % of the "
    "clips (`data.test_fraction` 0.2, seed 0); the probe below holds out each "
    "speaker in turn, so it reads the digit of a speaker it never saw."
)
FSDD_LICENCE = (
    "The weights are derived from the Free Spoken Digit Dataset (Z. Jackson et "
    "al.), which is licensed CC BY-SA 4.0; the weights are shared under the same "
    "licence, CC BY-SA 4.0: credit the dataset, and share what you build from "
    "them under the same terms."
)
CIFAR_DATA = (
    "CIFAR-10 (A. Krizhevsky, *Learning Multiple Layers of Features from Tiny "
    "Images*, 2009), classes airplane and automobile: 2,000 training and 500 "
    "test images of each, 32x32 RGB (a JPEG re-encoding of the originals). CPC "
    "trained on train/ only; the probe is fit on train/ and tested on test/."
)
CIFAR_LICENCE = (
    "The weights are derived from CIFAR-10 (A. Krizhevsky, 2009), which is "
    "distributed without a stated licence; no licence beyond that of the data "
    "is claimed for the weights: cite the report when you use them."
)


@dataclass
class Recipe:
    """One shipped model: how it is trained and probed, and what its card says."""

    name: str
    train: list[str]
    evaluate: list[str]
    protocol: str
    hub: tuple[str, list[str], list[str]]
    """The card's front matter: licence, datasets, tags."""
    data: str
    data_license: str


def recipes(data_root: str) -> dict[str, Recipe]:
    fsdd = f"{data_root}/fsdd-4spk/recordings"
    cifar = f"{data_root}/cifar10-airplane-automobile"
    return {
        "fsdd-small": Recipe(
            name="fsdd-small",
            train=["--config", "configs/fsdd.yaml", "eval.tsne=false", "eval.report=false"],
            evaluate=["--audio-root", fsdd, "--label-regex", FSDD_REGEX, "--label-key", "digit"]
            + ["--protocol", "logo", "--group-key", "speaker", "--no-tsne"],
            protocol="digit, leave one speaker out (mean of 4 folds)",
            hub=("cc-by-sa-4.0", ["free-spoken-digit-dataset"], ["speech", "spoken-digits"]),
            data=FSDD_DATA,
            data_license=FSDD_LICENCE,
        ),
        "cifar-small": Recipe(
            name="cifar-small",
            train=["--config", "configs/cifar10.yaml"]
            + ["eval.probe=false", "eval.tsne=false", "eval.report=false"],
            evaluate=["--image-root", f"{cifar}/train", "--test-root", f"{cifar}/test"]
            + ["--pool", "grid", "--classifier", "linear-cv", "--no-tsne"],
            protocol="airplane vs automobile, fit on train/ (4,000), tested on test/ (1,000)",
            hub=("unknown", ["cifar10"], ["image", "cifar10"]),
            data=CIFAR_DATA,
            data_license=CIFAR_LICENCE,
        ),
    }


def _run(args: list[str]) -> None:
    cmd = [sys.executable, "-m", "cpckit", *args]
    print("$ cpckit " + shlex.join(args), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def _run_minutes(run: Path) -> float:
    """Minutes of ``cpckit train``: training and its end-of-training evaluation (metrics.json)."""
    return float(json.loads((run / "metrics.json").read_text())["wall_time_seconds"]) / 60


def _figures(result: dict[str, Any]) -> list[Any]:
    from cpckit.model_card import Figure

    out = []
    for row in result["rows"]:
        if row.get("level") == "frame":  # the clip- or image-level rows only
            continue
        what = row["name"] if row["features"] == "input" else f"{row['name']}, {row['features']}"
        out.append(
            Figure(what, row["test_accuracy"], row["protocol"], row["name"] != "CPC", row["std"])
        )
    return out


def _summary(cfg: Any) -> str:
    m, d = cfg.model, cfg.data
    if d.modality == "audio":
        a = cfg.audio_encoder
        enc = (
            f"a log-mel CNN ({a.n_mels} mel bands, {a.n_fft}-sample window every "
            f"{a.hop_length} samples, {a.mel_layers} layers of {a.mel_channels} channels, "
            f"`mel_norm` {a.mel_norm})"
        )
        inp = f"a mono waveform at {d.sample_rate} Hz"
    else:
        i = cfg.image_encoder
        enc = (
            f"a patch CNN ({i.patch_size}x{i.patch_size} patches at stride {i.stride}, "
            f"width {i.width}, {i.depth} residual blocks), the patch grid read in "
            f"{i.order} order"
        )
        inp = f"an RGB image, resized to {d.image_size}x{d.image_size}"
    return (
        f"Contrastive Predictive Coding: {enc} gives {m.z_dim}-d latents, a {m.kind.upper()} "
        f"gives {m.c_dim}-d context vectors, trained to predict {m.prediction_steps} steps "
        f"ahead against `{cfg.negatives.mode}` negatives. Input: {inp}; "
        f"`embed(...).context` is the {m.c_dim}-d context pooled over the input."
    )


def convert(recipe: Recipe, run: Path, dest: Path) -> Path:
    """Write the shipped folder of ``recipe`` from its run folder and evaluation."""
    import cpckit
    from cpckit.model_card import ModelCard

    result = json.loads((run / "evaluate" / "evaluation.json").read_text())
    model = cpckit.load(run)
    card = ModelCard(
        name=f"cpckit {recipe.name}",
        source=recipe.name,
        license=recipe.hub[0],
        datasets=recipe.hub[1],
        tags=recipe.hub[2],
        summary=_summary(model.config),
        data=recipe.data,
        command=(
            f"cpckit train {shlex.join(recipe.train[:2])} --out-dir RUN "
            f"{shlex.join(recipe.train[2:])}\n"
            f"cpckit evaluate --checkpoint RUN {shlex.join(recipe.evaluate)} --out-dir RUN/evaluate"
        ),
        figures=_figures(result),
        figures_note=(
            f"Probe: {recipe.protocol}; standardised logistic regression "
            f"(`{result['classifier']}`), `{result['pool']}` pooling. The baselines are "
            "measured by the same `cpckit evaluate` run on the same splits: the same "
            "architecture with random weights, and the input features (MFCC statistics "
            "or raw pixels). Seed 0, one torch thread, 2 CPU cores shared with other jobs: "
            f"`cpckit train` took {_run_minutes(run):.1f} minutes (training and its "
            "end-of-training evaluation). Built by `tools/build_pretrained.py`; RUN is its run "
            "folder."
        ),
        data_license=recipe.data_license,
    )
    return model.save_pretrained(dest / recipe.name, card=card)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, default=ROOT / "build" / "pretrained", help="run folders")
    p.add_argument("--dest", type=Path, default=DEST, help="where the shipped folders go")
    p.add_argument("--data-root", default="../shared/data", help="folder of fsdd-4spk/, cifar10-*/")
    p.add_argument("--only", choices=["fsdd-small", "cifar-small"], action="append")
    p.add_argument("--skip-train", action="store_true", help="use the runs already in --work")
    args = p.parse_args(argv)
    all_recipes = recipes(args.data_root)
    for name in args.only or list(all_recipes):
        recipe = all_recipes[name]
        run = args.work.resolve() / name
        if not args.skip_train:
            _run(["train", *recipe.train[:2], "--out-dir", str(run), *recipe.train[2:]])
        if not (run / "evaluate" / "evaluation.json").is_file():
            _run(["evaluate", "--checkpoint", str(run), *recipe.evaluate]
                 + ["--out-dir", str(run / "evaluate")])  # fmt: skip
        folder = convert(recipe, run, args.dest)
        size = sum(f.stat().st_size for f in folder.iterdir())
        print(f"{name}: {folder} ({size / 2**20:.2f} MiB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
