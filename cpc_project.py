#!/usr/bin/env python3
"""The EE782 project's training script, ``python cpc_project.py FLAGS``: ``cpckit train FLAGS``.

The project's commands run as its write-up gives them, e.g.

    python cpc_project.py --modality audio --use-mock-data true \\
        --out-dir ./outputs_audio --epochs 10 --neg-mode queue+synthetic

Every flag (``--modality``, ``--use-mock-data``, ``--image-root``,
``--audio-root``, ``--out-dir``, ``--epochs``, ``--neg-mode``,
``--batch-size``, ``--z-dim``, ``--c-dim``, ``--queue-size``, ...) is
``cpckit train``'s, so the script and the command cannot drift apart:
``python cpc_project.py --help`` lists them. The cpckit of this clone
(``src/``) is the one run.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))
    from cpckit.cli import main

    sys.exit(main(["train", *sys.argv[1:]]))
