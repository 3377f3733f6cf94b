"""Training with PyTorch Lightning: module, callbacks, run folder."""
