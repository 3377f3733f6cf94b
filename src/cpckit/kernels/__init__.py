"""Hand-written CPU kernels of the model, each with its own backward pass.

- :mod:`cpckit.kernels.fastpath`: when the kernels apply (CPU, no autocast,
  ``CPCKIT_FAST_PATH``) and :func:`~cpckit.kernels.fastpath.single_thread`.
- :mod:`cpckit.kernels.conv`: the raw-waveform encoder's channels-last
  convolutions, fused norm / ReLU / padding.
- :mod:`cpckit.kernels.gru`: a GRU layer with a backward through time of its own.
- :mod:`cpckit.kernels.scoring`: predictions scored against candidates picked
  by index, gathered a chunk at a time.

Each has a plain ``torch.nn`` counterpart that runs on GPUs, under autocast
and with ``CPCKIT_FAST_PATH=0``; ``tests/kernels`` compares the two.
"""
