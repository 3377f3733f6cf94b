"""``python -m cpckit`` is the ``cpckit`` command."""

import sys

from cpckit.cli import main

sys.exit(main())
