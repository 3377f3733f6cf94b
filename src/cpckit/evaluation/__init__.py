"""Evaluation: what a representation learned, measured without the model.

Every function here takes plain arrays (numpy, or torch where noted), so it
serves any encoder:

- ``probe``: linear / one-hidden-layer probes on frozen features under fixed,
  k-fold, low-label, unseen-group, leave-one-group-out and frame-level
  protocols (``classifiers``: the classifiers; ``splits``: the splits);
- ``geometry``: alignment and uniformity on the hypersphere (Wang & Isola 2020);
- ``tsne``: 2-D t-SNE maps (openTSNE when installed, else scikit-learn);
- ``plots``: training curves from ``losses.csv``, t-SNE scatter plots, loss comparisons;
- ``mfcc``: input-level baselines (MFCC statistics, raw pixels);
- ``report``: ``report.html`` / ``report.md`` of a run folder;
- ``frames`` and ``pipeline``: pooled features of a trained model and the
  end-of-training evaluation that writes ``metrics.json``;
- ``protocols``: ``cpckit evaluate``, from ``options``, ``sources``,
  ``baselines``, ``frame_probe`` and ``table``.
"""
