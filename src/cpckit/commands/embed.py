"""``cpckit embed``: the pooled context and latent vectors of every file of a folder, as .npz."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from cpckit.commands._common import (
    add_checkpoint,
    add_no_progress,
    checkpoint_and_data,
    plain_warnings,
)

__all__ = ["add_parser", "cmd_embed"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "embed",
        help="embed every file of a folder with a trained model (vectors -> .npz)",
        description="Encode every audio or image file under a folder (recursive, sorted) with a "
        "trained model: the whole clip, batched with padding, pooled over its valid latent "
        "steps. The .npz holds paths (relative to the root), context (N, C), latent (N, D), the "
        "labels parsed from the names with --label-regex (one array per named group plus "
        "<group>_names), and with --frames every valid step (context_frames, latent_frames, "
        "frame_offsets). See docs/evaluation.md.",
        epilog="examples:\n"
        "  cpckit embed --checkpoint outputs_audio/cpc_model.pth --audio-root data/fsdd "
        "--out fsdd.npz \\\n"
        "      --label-regex '(?P<digit>\\d)_(?P<speaker>[a-z]+)_\\d+\\.wav'\n"
        "  cpckit embed --checkpoint outputs_image --image-root data/cifar/images_test "
        "--out cifar_test.npz\n"
        "  cpckit embed --checkpoint run/cpc_model.pth --audio-root clips --out w.npz "
        "--windows-per-file 4 --window-seconds 1.0",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_checkpoint(p)
    p.add_argument(
        "--audio-root", metavar="DIR", help="folder of audio files (searched recursively)"
    )
    p.add_argument("--image-root", metavar="DIR", help="folder of images (searched recursively)")
    p.add_argument("--out", metavar="FILE.npz", help="the table to write")
    p.add_argument(
        "--pool",
        default="mean",
        help="mean | max | last over the valid latent steps [default: mean]",
    )
    p.add_argument(
        "--frames",
        action="store_true",
        help="also store every valid step (context_frames, latent_frames, frame_offsets)",
    )
    p.add_argument(
        "--windows-per-file",
        type=int,
        metavar="N",
        help="audio: N random windows per file instead of the whole clip (with --window-seconds)",
    )
    p.add_argument(
        "--window-seconds",
        type=float,
        metavar="S",
        help="audio: window length in seconds (with --windows-per-file)",
    )
    p.add_argument(
        "--label-regex",
        metavar="RE",
        help="regex with named groups matched against whole file names; each group becomes a "
        "label array (files that do not match are left out)",
    )
    p.add_argument(
        "--batch-size", type=int, default=32, metavar="N", help="files per batch [default: 32]"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the window positions [default: 0]")
    add_no_progress(p, "no progress output [default: a bar on a terminal, plain lines otherwise]")
    p.set_defaults(func=cmd_embed)
    return p


@plain_warnings()
def cmd_embed(args: argparse.Namespace) -> int:
    from cpckit.api import from_pretrained
    from cpckit.errors import UsageError
    from cpckit.evaluation.embed import embed_folder, save_embeddings

    ckpt, flag, root = checkpoint_and_data(args)
    if args.out is None:
        raise UsageError("give --out FILE.npz, the table to write")
    if not str(args.out).endswith(".npz"):
        raise UsageError(f"--out {args.out}: the file name must end in .npz")
    from cpckit.paths import check_output_file

    check_output_file(args.out, "--out")
    if args.batch_size < 1:
        raise UsageError(f"--batch-size = {args.batch_size} must be >= 1")
    t0 = time.perf_counter()
    pre = from_pretrained(ckpt)
    table = embed_folder(
        pre.model,
        pre.config,
        root,
        modality="audio" if flag == "--audio-root" else "image",
        pool=args.pool,
        frames=args.frames,
        label_regex=args.label_regex,
        windows_per_file=args.windows_per_file,
        window_seconds=args.window_seconds,
        batch_size=args.batch_size,
        seed=args.seed,
        progress=not args.no_progress,
        checkpoint=str(Path(ckpt).resolve()),
    )
    out = save_embeddings(table, args.out)
    n_files = len(set(table["file_index"].tolist()))
    labels = ", ".join(f"{k} ({len(table[k + '_names'])})" for k in table["label_keys"].tolist())
    print(
        f"embedded {n_files} files ({len(table['paths'])} rows) from {root}: "
        f"context {table['context'].shape[1]}-d, latent {table['latent'].shape[1]}-d"
        + (f", frames {len(table['context_frames'])}" if "context_frames" in table else "")
        + (f"; labels: {labels}" if labels else "")
        + (f"; skipped {len(table['skipped'])}" if len(table["skipped"]) else "")
    )
    print(f"wrote {out}  ({time.perf_counter() - t0:.1f} s)")
    return 0
