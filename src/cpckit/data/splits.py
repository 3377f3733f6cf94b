"""Train / validation / probe-test splits as index arrays.

Three ways: by ratio (a seeded shuffle), by list files (one relative path per
line, as the dataset's ``paths``), and by group (whole groups, e.g. speakers,
are held out, so no group is in two splits).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from cpckit.errors import ConfigError, DataError

__all__ = [
    "Split",
    "read_list_file",
    "split_by_group",
    "split_by_lists",
    "split_by_ratio",
]


@dataclass(frozen=True)
class Split:
    """Indices into a dataset for each split (sorted, disjoint).

    Shape:
        train, val, test: ``(N_split,)`` int64
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def sizes(self) -> dict[str, int]:
        """Examples per split."""
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def _round_half_up(x: float) -> int:
    return int(np.floor(x + 0.5))


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    for name, f in (("data.val_fraction", val_fraction), ("data.test_fraction", test_fraction)):
        if not isinstance(f, (int, float)) or not 0 <= f < 1:
            raise ConfigError(f"{name} = {f!r} must be in [0, 1)")
    if val_fraction + test_fraction >= 1:
        raise ConfigError(
            f"data.val_fraction + data.test_fraction = {val_fraction + test_fraction:g} "
            "leaves nothing to train on: keep the sum below 1"
        )


def _counts(n: int, val_fraction: float, test_fraction: float, unit: str) -> tuple[int, int]:
    """Units held out for validation and test; errors when a requested split is empty."""
    n_test = _round_half_up(test_fraction * n)
    n_val = _round_half_up(val_fraction * n)
    for name, f, k, split in (
        ("data.test_fraction", test_fraction, n_test, "probe-test"),
        ("data.val_fraction", val_fraction, n_val, "validation"),
    ):
        if f > 0 and k == 0:
            raise DataError(
                f"{name} = {f:g} of {n} {unit} leaves the {split} split empty: raise {name} "
                f"to >= {0.5 / n:.3g} (one {unit.rstrip('s')}) or add data"
            )
    if n - n_test - n_val < 1:
        raise DataError(
            f"data.val_fraction = {val_fraction:g} and data.test_fraction = {test_fraction:g} "
            f"of {n} {unit} leave the train split empty: lower them or add data"
        )
    return n_val, n_test


def _sorted(idx: np.ndarray) -> np.ndarray:
    return np.sort(np.asarray(idx, dtype=np.int64))


def split_by_ratio(
    n: int, *, val_fraction: float = 0.0, test_fraction: float = 0.2, seed: int = 0
) -> Split:
    """Shuffle ``n`` examples (seeded) and cut off validation and test fractions.

    Fractions are rounded to whole examples (halves up); a split asked for
    (fraction > 0) that comes out empty is an error, as is an empty train split.

    Raises:
        ConfigError: a fraction outside [0, 1) or summing to 1 or more.
        DataError: a split comes out empty.
    """
    if n < 1:
        raise DataError("cannot split an empty dataset")
    _check_fractions(val_fraction, test_fraction)
    n_val, n_test = _counts(n, val_fraction, test_fraction, "examples")
    perm = np.random.default_rng(seed).permutation(n)
    return Split(
        train=_sorted(perm[n_val + n_test :]),
        val=_sorted(perm[:n_val]),
        test=_sorted(perm[n_val : n_val + n_test]),
    )


def _group_ids(
    names: Sequence[str | int] | None,
    unique: np.ndarray,
    group_names: Sequence[str] | None,
    arg: str,
) -> set[int]:
    if names is None:
        return set()
    out: set[int] = set()
    lookup = {str(g): i for i, g in enumerate(group_names)} if group_names is not None else {}
    for name in names:
        if isinstance(name, (int, np.integer)) and not isinstance(name, bool):
            gid = int(name)
        elif str(name) in lookup:
            gid = lookup[str(name)]
        else:
            valid = ", ".join(group_names) if group_names is not None else "group ids (ints)"
            raise DataError(f"{arg}: {name!r} is not a group; valid: {valid}")
        if gid not in set(unique.tolist()):
            raise DataError(f"{arg}: group {name!r} has no examples")
        out.add(gid)
    return out


def split_by_group(
    groups: np.ndarray | Sequence[int],
    *,
    val_fraction: float = 0.0,
    test_fraction: float = 0.2,
    seed: int = 0,
    val_groups: Sequence[str | int] | None = None,
    test_groups: Sequence[str | int] | None = None,
    group_names: Sequence[str] | None = None,
) -> Split:
    """Hold out whole groups (e.g. speakers): no group is in two splits.

    Either fractions of the groups (a seeded shuffle of the group ids, rounded
    to whole groups) or explicit ``val_groups`` / ``test_groups`` (names from
    ``group_names`` or int ids); explicit groups replace the fraction of
    their split.

    Shape:
        groups: ``(N,)`` int, every entry >= 0

    Raises:
        DataError: an example has no group (-1), an unknown or repeated group
            name, or a split comes out empty.
    """
    g = np.asarray(groups, dtype=np.int64).reshape(-1)
    if g.size == 0:
        raise DataError("cannot split an empty dataset")
    if (g < 0).any():
        raise DataError(
            f"split by group needs a group for every example, but {int((g < 0).sum())} of "
            f"{g.size} have none (group -1): set data.group_key"
        )
    _check_fractions(val_fraction if val_groups is None else 0.0, test_fraction)
    unique = np.unique(g)
    fixed_test = _group_ids(test_groups, unique, group_names, "test_groups")
    fixed_val = _group_ids(val_groups, unique, group_names, "val_groups")
    if fixed_test & fixed_val:
        raise DataError(
            f"groups {sorted(fixed_test & fixed_val)} are in both val_groups and test_groups"
        )
    rest = np.array([u for u in unique if u not in fixed_test | fixed_val], dtype=np.int64)
    rest = rest[np.random.default_rng(seed).permutation(len(rest))]
    n_groups = len(unique)
    want_val = 0.0 if val_groups is not None else val_fraction
    want_test = 0.0 if test_groups is not None else test_fraction
    if len(rest) == 0:
        raise DataError(
            f"val_groups and test_groups hold all {n_groups} groups: leave some for training"
        )
    n_val, n_test = _counts(n_groups, want_val, want_test, "groups")
    if n_val + n_test >= len(rest):
        raise DataError(
            f"holding out {len(fixed_val) + n_val} validation and {len(fixed_test) + n_test} "
            f"probe-test groups of {n_groups} leaves no group for training: lower the fractions"
        )
    test_ids = fixed_test | set(rest[:n_test].tolist())
    val_ids = fixed_val | set(rest[n_test : n_test + n_val].tolist())
    in_test = np.isin(g, list(test_ids))
    in_val = np.isin(g, list(val_ids))
    return Split(
        train=np.flatnonzero(~in_test & ~in_val).astype(np.int64),
        val=np.flatnonzero(in_val).astype(np.int64),
        test=np.flatnonzero(in_test).astype(np.int64),
    )


def _normalise_entry(entry: str) -> str:
    rel = PurePosixPath(entry.replace("\\", "/"))
    parts = [p for p in rel.parts if p not in (".", "")]
    return "/".join(parts)


def read_list_file(path: str | os.PathLike[str]) -> list[tuple[int, str]]:
    """``(line number, relative path)`` of each entry of a list file.

    One relative path per line; blank lines and lines starting with ``#``
    are ignored; ``\\`` is read as ``/`` and a leading ``./`` is dropped.

    Raises:
        DataError: the file does not exist.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"split list {p} does not exist")
    out: list[tuple[int, str]] = []
    with open(p, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            text = line.strip()
            if text and not text.startswith("#"):
                out.append((lineno, _normalise_entry(text)))
    return out


def split_by_lists(
    paths: Sequence[str],
    *,
    train: str | os.PathLike[str],
    test: str | os.PathLike[str],
    val: str | os.PathLike[str] | None = None,
    root: str | os.PathLike[str] | None = None,
) -> Split:
    """Splits named by list files of relative paths (as in the dataset's ``paths``).

    Args:
        paths: the dataset's relative paths (index ``i`` is item ``i``).
        train / test / val: list files (val optional).
        root: the dataset's root, to tell a missing file from one the dataset left out.

    Raises:
        DataError: a list is missing or empty, names a file not in the dataset
            (with the list file and line), or a file is in two lists.
    """
    index = {_normalise_entry(p): i for i, p in enumerate(paths)}
    chosen: dict[str, np.ndarray] = {}
    owner: dict[int, str] = {}
    lists = [("train", train), ("val", val), ("test", test)]
    for split, list_path in lists:
        if list_path is None:
            chosen[split] = np.zeros(0, dtype=np.int64)
            continue
        rows: list[int] = []
        for lineno, entry in read_list_file(list_path):
            i = index.get(entry)
            if i is None:
                where = f"{os.fspath(list_path)}:{lineno}"
                if root is not None and (Path(root) / entry).is_file():
                    raise DataError(
                        f"{where}: {entry!r} was left out of the dataset (unreadable, not "
                        "matching label_regex, or shorter than the window)"
                    )
                place = f"under {root}" if root is not None else "in the dataset"
                raise DataError(f"{where}: {entry!r} is not {place}")
            if i in owner and owner[i] != split:
                raise DataError(
                    f"{os.fspath(list_path)}:{lineno}: {entry!r} is also in the {owner[i]} list"
                )
            if i not in owner:
                owner[i] = split
                rows.append(i)
        if not rows:
            raise DataError(f"split list {os.fspath(list_path)} names no files")
        chosen[split] = _sorted(np.asarray(rows, dtype=np.int64))
    return Split(train=chosen["train"], val=chosen["val"], test=chosen["test"])
