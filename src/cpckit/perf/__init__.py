"""Speed and memory of the training step: ``cpckit bench`` and its parts.

- :mod:`cpckit.perf.bench`: :func:`~cpckit.perf.bench.run_bench`, the benchmark.
- :mod:`cpckit.perf.step`: the bare training step and random batches.
- :mod:`cpckit.perf.measure`: matmul speed, FLOP counts, resident memory.
- :mod:`cpckit.perf.lightning_path`: the same step through the Lightning Trainer.

Module, optimizer, Trainer and process settings are training's own
(:mod:`cpckit.training.trainer`, :mod:`cpckit.training.process`).
"""
