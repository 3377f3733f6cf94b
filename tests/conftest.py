"""Shared test settings: small thread count so parallel work stays predictable."""

from __future__ import annotations

import os

import matplotlib
import torch

matplotlib.use("Agg")
torch.set_num_threads(int(os.environ.get("CPCKIT_TEST_THREADS", "2")))
