"""Config keys of other CPC code bases, read into cpckit's sections.

PyFlow_CPC (Talip Ucar) describes its encoder in ``config/cpc.yaml`` with a
top-level ``conv_dims``: rows ``[in, out, kernel, stride, padding,
dilation]``, then the feature dimension of the output as a last number::

    conv_dims:
      - [  1, 512, 10, 5, 3, 1]
      - [512, 512,  8, 4, 2, 1]
      - 512

cpckit's rows have the same six numbers (``audio_encoder.conv_layers``), so
such a file is read as it is: :func:`map_foreign_keys` moves the key into
cpckit's sections and prints a one-line note of the mapping. The mapping
table is in docs/seeds.md.
"""

from __future__ import annotations

import sys
from typing import Any

from cpckit.errors import ConfigError

__all__ = ["map_foreign_keys"]

_ROW = "[in, out, kernel, stride, padding, dilation]"


def _conv_dims(value: Any, where: str) -> tuple[list[list[int]], int | None]:
    if not isinstance(value, list) or not value:
        raise ConfigError(
            f"{where}: conv_dims = {value!r} is not valid: expected a list of rows {_ROW}, "
            "optionally ending with the output dimension"
        )
    rows, dim = value, None
    if isinstance(value[-1], int) and not isinstance(value[-1], bool):
        rows, dim = value[:-1], value[-1]
    for i, row in enumerate(rows):
        ok = isinstance(row, list) and len(row) == 6
        if not ok or not all(isinstance(n, int) and not isinstance(n, bool) for n in row):
            raise ConfigError(
                f"{where}: conv_dims[{i}] = {row!r} is not valid: expected {_ROW} (six integers)"
            )
    if not rows:
        raise ConfigError(f"{where}: conv_dims = {value!r} has no conv rows {_ROW}")
    return [list(r) for r in rows], dim


def map_foreign_keys(loaded: dict[str, Any], where: str) -> dict[str, Any]:
    """``loaded`` (a YAML file's mapping) with known foreign keys moved into cpckit's sections.

    Args:
        loaded: the file's top-level mapping; not changed.
        where: the file, for the messages.

    Raises:
        ConfigError: a foreign key that is malformed, or set twice (as itself and as
            the cpckit key it maps to).
    """
    if "conv_dims" not in loaded:
        return loaded
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in loaded.items()}
    rows, dim = _conv_dims(out.pop("conv_dims"), where)
    enc = out.setdefault("audio_encoder", {})
    if not isinstance(enc, dict):
        return loaded  # the section's own check names the problem
    if "conv_layers" in enc:
        raise ConfigError(
            f"{where}: conv_dims and audio_encoder.conv_layers both set the conv stack: keep one "
            "(conv_dims is PyFlow_CPC's name for audio_encoder.conv_layers)"
        )
    enc["conv_layers"] = rows
    enc.setdefault("kind", "conv")
    note = f"audio_encoder.conv_layers ({len(rows)} layers), audio_encoder.kind = {enc['kind']}"
    if dim is not None:
        model = out.setdefault("model", {})
        if isinstance(model, dict) and "z_dim" in model and model["z_dim"] != dim:
            raise ConfigError(
                f"{where}: conv_dims ends with the output dimension {dim} but model.z_dim = "
                f"{model['z_dim']}: make them equal or drop one"
            )
        if isinstance(model, dict):
            model["z_dim"] = dim
            note += f", model.z_dim = {dim}"
    print(f"note: {where}: conv_dims (PyFlow_CPC) read as {note}", file=sys.stderr, flush=True)
    return out
