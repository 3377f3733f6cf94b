"""``cpckit evaluate``: probes and baselines of a checkpoint on a dataset, under one protocol.

One run embeds a labelled folder (or reads a ``cpckit embed`` table), fits
probes on the CPC context and latent vectors and, on the same splits, on
every baseline asked for:

- ``random``: the same architecture with random weights (frozen features);
- ``mfcc`` / ``pixels``: MFCC statistics of the audio, or the raw pixels;
- ``supervised``: the same architecture trained end to end from scratch
  (encoder + context + a linear head on the pooled context, cross-entropy);
- ``finetune``: the same, started from the CPC weights.

Protocols (the probe layer of :mod:`cpckit.evaluation.probe`): ``split`` (a
``--test-root`` folder, or a seeded stratified ratio split), ``kfold``
(stratified k-fold), ``fraction`` (fit on 10 %, test on 90 %), ``group``
(test on unseen groups) and ``logo`` (leave one group out: each group held
out in turn, mean and std over the folds). Frame-level probes use phone alignments: each
utterance's frame labels are mapped to its latent steps and the utterances
are split as the protocol splits them. Alignment and uniformity (and a
t-SNE map) come with every run.

Results go to ``evaluation.json`` and ``evaluation.md`` in the output
folder (the run folder by default, where ``cpckit report`` shows them).

The pieces: :mod:`~cpckit.evaluation.options` (the settings),
:mod:`~cpckit.evaluation.splits` (the splits of every protocol),
:mod:`~cpckit.evaluation.sources` (folders, tables, a run's own data),
:mod:`~cpckit.evaluation.baselines` (random, input and trained baselines),
:mod:`~cpckit.evaluation.frame_probe` (frame-level probes) and
:mod:`~cpckit.evaluation.table` (rows, tables, the files written).
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cpckit.errors import CpckitError, UsageError
from cpckit.evaluation.baselines import (
    BASELINES,
    INPUT_BASELINES,
    baseline_names,
    input_features,
    random_model,
    trained_rows,
)
from cpckit.evaluation.frame_probe import frame_rows
from cpckit.evaluation.frames import EmbeddedRows
from cpckit.evaluation.options import EvaluateOptions, check_options
from cpckit.evaluation.probe import ProbeResult
from cpckit.evaluation.sources import (
    EvalData,
    bundle_rows,
    check_keys,
    embed_with_options,
    embeddings_data,
    folder_data,
    key_values,
    label_codes,
    run_probe_data,
)
from cpckit.evaluation.splits import PROTOCOLS, option_splits, protocol_name, protocol_splits
from cpckit.evaluation.table import (
    EVALUATION_JSON,
    EVALUATION_MD,
    markdown_tables,
    probe_row,
    write_evaluation,
)

__all__ = [
    "BASELINES",
    "EVALUATION_JSON",
    "EVALUATION_MD",
    "PROTOCOLS",
    "RUN_KEYS",
    "RUN_SPLIT",
    "EvaluateOptions",
    "bundle_rows",
    "evaluate_checkpoint",
    "geometry_row",
    "markdown_tables",
    "protocol_splits",
    "resolve_options",
    "utterance_rows",
]

RUN_SPLIT = "split (the run's probe split)"
"""Protocol name of the rows measured on a run's own probe split (``metrics.json``, ``--run-data``)."""


def _probe(
    x: np.ndarray,
    y: np.ndarray,
    g: np.ndarray | None,
    fixed: tuple[np.ndarray, np.ndarray] | None,
    opts: EvaluateOptions,
) -> ProbeResult:
    from cpckit.evaluation.probe import (
        probe_fraction,
        probe_group,
        probe_kfold,
        probe_logo,
        probe_split,
    )

    if opts.protocol == "split":
        tr, te = option_splits(opts, len(y), y, None, fixed)[0]
        return probe_split(x[tr], y[tr], x[te], y[te], classifier=opts.classifier, seed=opts.seed)
    if opts.protocol == "kfold":
        return probe_kfold(x, y, folds=opts.folds, seed=opts.seed, classifier=opts.classifier)
    if opts.protocol == "fraction":
        return probe_fraction(
            x, y, fit_fraction=opts.fit_fraction, seed=opts.seed, classifier=opts.classifier
        )
    assert g is not None
    if opts.protocol == "logo":
        return probe_logo(x, y, g, seed=opts.seed, classifier=opts.classifier)
    return probe_group(
        x, y, g, test_fraction=opts.test_fraction, seed=opts.seed, classifier=opts.classifier
    )


def random_embedding(
    cfg: Any, modality: str, rows: Any, opts: EvaluateOptions, frames: bool = False
) -> EmbeddedRows:
    """``rows`` embedded by the configured architecture with random weights (seed ``opts.seed``)."""
    return embed_with_options(
        random_model(cfg, opts.seed), modality, rows, cfg, opts, frames, "embedding (random init)"
    )


def utterance_rows(
    cfg: Any,
    modality: str,
    rows: Any,
    emb: EmbeddedRows,
    random_emb: EmbeddedRows | None,
    baselines: Sequence[str],
    y: np.ndarray,
    g: np.ndarray | None,
    fixed: tuple[np.ndarray, np.ndarray] | None,
    opts: EvaluateOptions,
    protocol: str,
) -> tuple[list[dict[str, Any]], float]:
    """The probe rows of one evaluation: CPC context and latent, random init, input baselines.

    The one probe runner: ``cpckit evaluate`` and the end-of-training
    ``metrics.json`` both call it, on the same splits for every row. The
    input baselines named in ``baselines`` (``mfcc``, ``pixels``) are
    computed here from ``rows``; the random-init vectors come from
    :func:`random_embedding`.

    Returns:
        The rows (as :func:`~cpckit.evaluation.table.probe_row` writes them) and the chance accuracy.
    """
    sets: list[tuple[str, str, np.ndarray]] = [
        ("CPC", "context (pooled)", emb.context),
        ("CPC", "latent (pooled)", emb.latent),
    ]
    if random_emb is not None:
        sets += [
            ("random init", "context (pooled)", random_emb.context),
            ("random init", "latent (pooled)", random_emb.latent),
        ]
    for name in INPUT_BASELINES:
        if name in baselines:
            x = input_features(name, rows, int(cfg.data.sample_rate))
            sets.append((INPUT_BASELINES[name], "input", x))
    level = "utterance" if modality == "audio" else "image"
    table, chance = [], 0.0
    for name, features, x in sets:
        res = _probe(x, y, g, fixed, opts)
        chance = float(res.chance_accuracy)
        table.append(probe_row(name, features, level, protocol, res, opts.classifier))
    return table, chance


RUN_KEYS = {"seed": "train.seed", "classifier": "eval.classifier", "pool": "eval.pool"}
"""Options that ``--run-data`` takes from the run's config unless given."""


def resolve_options(opts: EvaluateOptions, cfg: Any, run_data: bool) -> EvaluateOptions:
    """``opts`` with its ``run_defaults`` taken from the run's config (with ``run_data``)."""
    if not run_data:
        return opts
    values: dict[str, Any] = {}
    for name in opts.run_defaults:
        section, key = RUN_KEYS[name].split(".")
        values[name] = getattr(getattr(cfg, section), key)
    return dataclasses.replace(opts, **values)


def geometry_row(name: str, emb: EmbeddedRows) -> dict[str, Any]:
    """Alignment (over rows of >= 2 valid steps) and uniformity of ``emb``'s context vectors."""
    from cpckit.evaluation.geometry import NoisyEstimateWarning, alignment, uniformity

    ok = emb.n_steps >= 2
    out: dict[str, Any] = {"name": name, "features": "context (pooled)", "n": int(ok.sum())}
    notes = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NoisyEstimateWarning)
            a = alignment(emb.view_a[ok], emb.view_b[ok])
            u = uniformity(emb.context)
        notes = [str(w.message) for w in caught if issubclass(w.category, NoisyEstimateWarning)]
        out["alignment"] = float(a)
        out["uniformity"] = float(u)
    except CpckitError as exc:
        out["alignment"] = None
        out["uniformity"] = None
        notes.append(str(exc))
    if notes:
        out["note"] = "; ".join(notes)
    return out


def _tsne(
    data: EvalData, y: np.ndarray | None, names: list[str] | None, out_dir: Path, seed: int
) -> str | None:
    from cpckit.evaluation.plots import plot_tsne
    from cpckit.evaluation.tsne import tsne_2d

    if len(data.emb.context) < 5:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        points, idx = tsne_2d(data.emb.context, seed=seed)
    labels = np.full(len(data.emb.context), -1, dtype=np.int64) if y is None else y
    png = out_dir / f"tsne_eval_{data.modality}.png"
    plot_tsne(
        points,
        labels[idx],
        png,
        title=f"t-SNE of {data.modality} context vectors (cpckit evaluate)",
        label_names=names,
    )
    return png.name


def evaluate_checkpoint(
    checkpoint: str | Path,
    *,
    audio_root: str | None = None,
    image_root: str | None = None,
    embeddings: str | None = None,
    test_root: str | None = None,
    test_embeddings: str | None = None,
    out_dir: str | Path | None = None,
    options: EvaluateOptions | None = None,
    run_data: bool = False,
) -> dict[str, Any]:
    """Probe a checkpoint's features and the asked baselines; write evaluation.json / .md.

    Args:
        checkpoint: ``cpc_model.pth`` or its run folder, or anything
            :func:`cpckit.from_pretrained` loads (then ``out_dir`` is needed).
        audio_root / image_root / embeddings: the data, exactly one of them
            (or none, with ``run_data``).
        run_data: evaluate on the run's own data and probe split, rebuilt
            from its saved config: the rows of the end-of-training
            ``metrics.json``, which this then reproduces.
        test_root: a held-out folder (fixed split) for ``--protocol split``.
        test_embeddings: the same for a table.
        out_dir: where the files go (default: the checkpoint's run folder).
        options: everything else (:class:`EvaluateOptions`).

    Returns:
        The content of ``evaluation.json`` (with ``paths`` of the files written).

    Raises:
        CpckitError: a missing checkpoint or folder, conflicting flags, a
            label key the data does not have, and every probe's own checks.
    """
    from cpckit.api import from_pretrained
    from cpckit.model_folder import require_out_dir, source_name

    t0 = time.perf_counter()
    opts = options or EvaluateOptions()
    given = [
        (f, v)
        for f, v in (
            ("--audio-root", audio_root),
            ("--image-root", image_root),
            ("--embeddings", embeddings),
        )
        if v is not None
    ]
    if run_data and (given or test_root is not None or test_embeddings is not None):
        raise UsageError(
            "--run-data evaluates on the run's own data and split; it takes no --audio-root, "
            "--image-root, --embeddings or --test-root"
        )
    if len(given) != 1 and not run_data:
        raise UsageError(
            "give exactly one of --audio-root, --image-root, --embeddings (or --run-data)"
            + (f" (got {' and '.join(f for f, _ in given)})" if given else "")
        )
    if test_root is not None and embeddings is not None:
        raise UsageError(
            "--test-root goes with --audio-root/--image-root; for a table use --test-embeddings"
        )
    if test_embeddings is not None and embeddings is None:
        raise UsageError("--test-embeddings goes with --embeddings")
    check_options(opts, test_root is not None or test_embeddings is not None)
    out = require_out_dir(checkpoint, out_dir)
    pre = from_pretrained(checkpoint)
    opts = resolve_options(opts, pre.config, run_data)

    if run_data:
        modality = pre.modalities[0]
    elif embeddings is not None:
        from cpckit.evaluation.embed import load_embeddings

        modality = str(load_embeddings(embeddings).get("modality", np.asarray("audio")))
    else:
        modality = "audio" if audio_root is not None else "image"
    if modality not in pre.modalities:
        raise CpckitError(f"the checkpoint has no {modality} encoder; it has {pre.modalities}")
    names = baseline_names(opts, modality, embeddings is not None)
    label_key = opts.label_key
    if run_data and label_key is None:
        label_key = "label"  # the labels the run's own probe uses
    if (
        label_key is None
        and modality == "image"
        and embeddings is None
        and opts.label_regex is None
    ):
        label_key = "folder"  # class folders
    if label_key is None and opts.frame_labels is None:
        raise UsageError(
            "evaluate needs labels: give --label-key (a --label-regex group, 'folder' for the "
            "parent folder, or a label array of --embeddings), or --frame-labels"
        )
    keys = [("--label-key", label_key), ("--group-key", opts.group_key)]
    if run_data:
        data = run_probe_data(pre, modality, opts)
        check_keys(data.labels, keys, False)
    elif embeddings is not None:
        data = embeddings_data(pre, embeddings, test_embeddings, bool(names), keys)
    else:
        root = audio_root if audio_root is not None else image_root
        assert root is not None
        data = folder_data(pre, modality, root, test_root, opts, keys)
    c_dim = int(pre.config.model.c_dim)
    # pool 'grid' concatenates the means of an image's four quadrants: 4 x c_dim
    widths = {c_dim, 4 * c_dim} if modality == "image" else {c_dim}
    if data.emb.context.shape[1] not in widths:
        raise CpckitError(
            f"the embeddings have {data.emb.context.shape[1]}-d context vectors but the "
            f"checkpoint's model has c_dim = {c_dim}: embed with this checkpoint"
        )

    y = g = None
    label_names: list[str] = []
    if run_data and label_key == "label" and data.emb.labels is not None:
        y, label_names = data.emb.labels, list(data.info["label_names"])
    elif label_key is not None:
        y, label_names = label_codes(key_values(data, label_key, "--label-key"))
    if opts.group_key is not None:
        g, _ = label_codes(key_values(data, opts.group_key, "--group-key"))
    n_groups = 0 if g is None else len(np.unique(g))
    protocol = RUN_SPLIT if run_data else protocol_name(opts, data.fixed is not None, n_groups)
    rows: list[dict[str, Any]] = []
    cfg = pre.config
    random_emb = None
    if "random" in names:
        assert data.rows is not None
        random_emb = random_embedding(cfg, modality, data.rows, opts, opts.frame_labels is not None)
    if y is not None:
        utt, chance = utterance_rows(
            cfg, modality, data.rows, data.emb, random_emb, names, y, g, data.fixed, opts, protocol
        )
        rows += utt
        trained: list[str] = [b for b in ("supervised", "finetune") if b in names]
        if trained:
            splits = option_splits(opts, len(y), y, g, data.fixed)
            rows += trained_rows(
                trained, pre, data, y, len(label_names), splits, protocol, opts, chance
            )
    frame_info = None
    if opts.frame_labels is not None:
        f_rows, frame_info = frame_rows(
            pre, data, random_emb, "mfcc" in names, opts, y, g, protocol
        )
        rows += f_rows
    geometry = []
    if opts.geometry and data.emb.n_steps.any():
        # on a run's own data, the held-out rows, as metrics.json measures them
        held = (
            data.fixed[1]
            if run_data and data.fixed is not None
            else np.arange(len(data.emb.n_steps))
        )
        geometry.append(geometry_row("CPC", data.emb.take(held)))
        if random_emb is not None:
            geometry.append(geometry_row("random init", random_emb.take(held)))
    out.mkdir(parents=True, exist_ok=True)
    figures = []
    if opts.tsne:
        fig = _tsne(data, y, label_names or None, out, opts.seed)
        if fig is not None:
            figures.append(fig)
    result: dict[str, Any] = {
        "checkpoint": source_name(checkpoint),
        "modality": modality,
        "data": data.info,
        "label_key": label_key,
        "group_key": opts.group_key,
        "label_names": label_names,
        "protocol": {
            "name": opts.protocol,
            "description": protocol,
            "seed": opts.seed,
            "folds": {"kfold": opts.folds, "logo": n_groups}.get(opts.protocol),
            "fit_fraction": opts.fit_fraction if opts.protocol == "fraction" else None,
            "test_fraction": opts.test_fraction
            if opts.protocol in ("split", "group") and data.fixed is None
            else None,
        },
        "classifier": opts.classifier,
        "pool": opts.pool,
        "baselines": names,
        "rows": rows,
        "geometry": geometry,
        "frames": frame_info,
        "figures": figures,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    js, md = write_evaluation(result, out)
    result["paths"] = {"json": str(js), "markdown": str(md)}
    return result
