#!/usr/bin/env python3
"""The EE782 project's data script, ``python prepare_cifar10.py``: ``cpckit prepare cifar10``.

With no flag it does what the project's script does: downloads CIFAR-10
into ``data/cifar10_raw/`` and writes the first 2000 training images of
class 0 (airplane) and class 1 (automobile) to
``data/images/class0/00000.png, ...`` and ``data/images/class1/``, which
``python cpc_project.py --modality image --use-mock-data false
--image-root ./data/images`` reads. The flags are ``cpckit prepare``'s
(``--classes 0,1``, ``--max-per-class N``, ``--root DIR``, ``--base-url URL``,
...; ``python prepare_cifar10.py --help``). The cpckit of this clone
(``src/``) is the one run.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))
    from cpckit.cli import main

    sys.exit(main(["prepare", "cifar10", *sys.argv[1:]]))
