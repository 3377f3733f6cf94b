"""Frame-level probes of ``cpckit evaluate`` (``--frame-labels``): phones from per-frame vectors.

Each utterance's 10 ms frame labels are mapped to its latent steps; the
utterances are split as the protocol splits them (so no utterance has frames
on both sides) and :func:`~cpckit.evaluation.probe.probe_frames` is fit on
the CPC, random-init and MFCC frames of each split.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from cpckit.errors import CpckitError
from cpckit.evaluation.frames import EmbeddedRows
from cpckit.evaluation.options import EvaluateOptions
from cpckit.evaluation.sources import EvalData
from cpckit.evaluation.splits import option_splits
from cpckit.evaluation.table import mean_row

__all__ = ["frame_rows"]


def _read_frame_labels(path: str | Path) -> tuple[dict[str, np.ndarray], list[str] | None]:
    from cpckit.data.librispeech import alignment_vocabulary, read_alignments

    vocab = alignment_vocabulary(path)
    if all(v.lstrip("+-").isdigit() for v in vocab):
        return read_alignments(path), None
    return read_alignments(path, vocabulary=vocab), vocab


def frame_rows(
    pre: Any,
    data: EvalData,
    random_emb: EmbeddedRows | None,
    use_mfcc: bool,
    opts: EvaluateOptions,
    y_utt: np.ndarray | None,
    g: np.ndarray | None,
    protocol: str,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The frame-level rows (CPC, random init, MFCC) and what the alignments covered."""
    from cpckit.data.librispeech import latent_frame_labels
    from cpckit.evaluation.probe import probe_frames

    assert opts.frame_labels is not None
    if data.modality != "audio":
        raise CpckitError("--frame-labels is for audio (phone alignments)")
    if data.windows:
        raise CpckitError("--frame-labels needs whole clips: embed without --windows-per-file")
    if data.emb.frame_offsets is None:
        raise CpckitError("--frame-labels needs frame-level vectors: run `cpckit embed --frames`")
    align, vocab = _read_frame_labels(opts.frame_labels)
    cfg = pre.config
    sr = int(cfg.data.sample_rate)
    downsampling = int(pre.model.encoders["audio"].downsampling)
    utt = [PurePosixPath(p).stem for p in data.paths]
    have = [i for i, u in enumerate(utt) if u in align]
    if not have:
        raise CpckitError(
            f"no utterance of the data is in {opts.frame_labels} (utterance ids are file names "
            f"without extension, e.g. {utt[0]!r}; the file has e.g. {next(iter(align))!r})"
        )
    sets: dict[str, list[np.ndarray]] = {}
    labels: list[np.ndarray] = []
    mfcc_sets: list[np.ndarray] = []
    mfcc_labels: list[np.ndarray] = []
    sources: list[tuple[str, str, EmbeddedRows]] = [
        ("CPC", "context", data.emb),
        ("CPC", "latent", data.emb),
    ]
    if random_emb is not None:
        sources += [("random init", "context", random_emb), ("random init", "latent", random_emb)]
    for i in have:
        lab = latent_frame_labels(align[utt[i]], int(data.emb.n_steps[i]), downsampling, sr)
        keep = lab >= 0
        labels.append(lab[keep])
        for name, which, emb in sources:
            sets.setdefault(f"{name}|{which}", []).append(emb.frames(i, which)[keep])
        if use_mfcc and data.rows is not None:
            from cpckit.evaluation.mfcc import mfcc_frames

            m = mfcc_frames(data.rows.wave(i), sr)
            frames = align[utt[i]]
            n = min(len(m), len(frames))
            mfcc_sets.append(m[:n])
            mfcc_labels.append(frames[:n])
    yy = None if y_utt is None else y_utt[have]
    gg = None if g is None else g[have]
    fixed = None
    if data.fixed is not None:
        pos = {r: j for j, r in enumerate(have)}
        fixed = (
            np.asarray([pos[r] for r in data.fixed[0].tolist() if r in pos], dtype=np.int64),
            np.asarray([pos[r] for r in data.fixed[1].tolist() if r in pos], dtype=np.int64),
        )
        if not len(fixed[0]) or not len(fixed[1]):
            raise CpckitError(
                "--frame-labels: the train or the test folder has no aligned utterance"
            )
    splits = option_splits(opts, len(have), yy, gg, fixed)
    all_sets = {k: (v, labels) for k, v in sets.items()}
    if mfcc_sets:
        all_sets["MFCC|frames (10 ms)"] = (mfcc_sets, mfcc_labels)
    rows = []
    n_classes = len(np.unique(np.concatenate(labels)))
    for key, (seqs, labs) in all_sets.items():
        name, which = key.split("|")
        scores = []
        chance = 0.0
        for tr, te in splits:
            res = probe_frames(
                [seqs[j] for j in tr],
                [labs[j] for j in tr],
                [seqs[j] for j in te],
                [labs[j] for j in te],
                classifier=opts.classifier,
                max_frames=opts.max_frames,
                seed=opts.seed,
            )
            scores.append((res.train_accuracy, res.test_accuracy, res.n_train, res.n_test))
            chance += res.chance_accuracy / len(splits)
        features = which if name == "MFCC" else f"{which} frames"
        rows.append(
            mean_row(name, features, "frame", protocol, opts.classifier, scores, n_classes, chance)
        )
    info = {
        "alignments": str(Path(opts.frame_labels).resolve()),
        "aligned_utterances": len(have),
        "utterances_without_alignment": len(utt) - len(have),
        "frame_classes": n_classes,
        "vocabulary": vocab,
        "max_frames": opts.max_frames,
    }
    return rows, info
