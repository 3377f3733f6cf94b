"""Dataclass trees from nested dicts, YAML files and ``key=value`` overrides, type-checked.

The machinery behind :mod:`cpckit.config`, for a root dataclass whose fields
are sections (dataclasses) of leaf fields with plain types (``bool``,
``int``, ``float``, ``str``, ``Literal``, lists, dicts, optionals). Every
error is a :class:`~cpckit.errors.ConfigError` of one line that names the
key, the value and what would be valid.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml

from cpckit.errors import ConfigError

__all__ = [
    "from_dict",
    "iter_fields",
    "load_yaml",
    "merge_layers",
    "parse_override",
    "read_layers",
]


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin is list:
        (inner,) = get_args(tp) or (Any,)
        return f"a list of {_type_name(inner)}"
    if origin is dict:
        return "a mapping"
    if tp is type(None):
        return "null"
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is str:
        return "a string"
    return getattr(tp, "__name__", str(tp))


_MISSING = object()


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, reading numbers as YAML 1.2 does.

    PyYAML follows YAML 1.1, where a float needs a dot: ``1e-3`` and ``3E4``
    are strings there. Users write them as numbers (and the command line
    takes them so), so a file must too.
    """


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` with YAML 1.2 numbers (``1e-3`` is a float)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def _coerce(value: Any, tp: Any) -> Any:
    """Return ``value`` as type ``tp`` or ``_MISSING`` when it does not fit."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        choices = get_args(tp)
        if value in choices:
            return value
        if (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and str(value) in choices
        ):
            return str(value)
        return _MISSING
    if origin in (Union, types.UnionType):
        for arg in get_args(tp):
            if arg is type(None):
                if value is None:
                    return None
                continue
            out = _coerce(value, arg)
            if out is not _MISSING:
                return out
        return _MISSING
    if origin is list:
        if not isinstance(value, (list, tuple)):
            return _MISSING
        (inner,) = get_args(tp) or (Any,)
        items = [_coerce(v, inner) for v in value]
        return _MISSING if any(i is _MISSING for i in items) else items
    if origin is dict:
        return dict(value) if isinstance(value, dict) else _MISSING
    if tp is bool:
        return value if isinstance(value, bool) else _MISSING
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)  # 1e4 steps
        return _MISSING
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return _MISSING
    if tp is str:
        return value if isinstance(value, str) else _MISSING
    return _MISSING


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _suggest(name: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(name, valid, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def from_dict(cls: type, data: Any, prefix: str = "") -> Any:
    """An instance of dataclass ``cls`` from nested dicts, checking every key and type."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'} must be a mapping of keys to values, got {data!r}")
    hints = _hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if key not in names:
            raise ConfigError(
                f"unknown config key {path!r}{_suggest(str(key), names)}; "
                f"valid keys{' in ' + prefix if prefix else ''}: {', '.join(names)}"
            )
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            kwargs[key] = from_dict(typing.cast(type, tp), value, path)
            continue
        out = _coerce(value, tp)
        if out is _MISSING:
            raise ConfigError(f"{path} = {value!r} is not valid: expected {_type_name(tp)}")
        kwargs[key] = out
    return cls(**kwargs)


def iter_fields(cls: type, prefix: str = "") -> typing.Iterator[tuple[str, Any, Any, str]]:
    """Yield ``(dotted key, type, default, help)`` for every leaf field."""
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        path = f"{prefix}.{f.name}" if prefix else f.name
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            yield from iter_fields(typing.cast(type, tp), path)
        else:
            default = (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            )
            yield path, tp, default, str(f.metadata.get("help", ""))


def _set_dotted(data: dict[str, Any], key: str, value: Any, root: type) -> None:
    parts = key.split(".")
    if len(parts) != 2 or not all(parts):
        sections = [f.name for f in dataclasses.fields(root)]
        raise ConfigError(
            f"override key {key!r} must be SECTION.FIELD with a section among {', '.join(sections)}"
        )
    section, name = parts
    sections = [f.name for f in dataclasses.fields(root)]
    if section not in sections:
        raise ConfigError(
            f"unknown config section {section!r} in {key!r}{_suggest(section, sections)}; "
            f"valid sections: {', '.join(sections)}"
        )
    target = data.setdefault(section, {})
    if not isinstance(target, dict):
        raise ConfigError(f"config section {section!r} must be a mapping")
    target[name] = value


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``KEY=VALUE``; the value is read as YAML (``true``, ``1e-3``, ``[1, 2]``)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like section.key=value, e.g. train.lr=1e-3")
    key, raw = text.split("=", 1)
    try:
        value = load_yaml(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def _read_yaml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"config file {str(p)!r} is a folder: give a YAML file")
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} does not exist")
    try:
        loaded = load_yaml(p.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise ConfigError(f"config file {str(p)!r} cannot be read: {why}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config file {str(p)!r} is not valid YAML{where}") from None
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {str(p)!r} must hold a mapping of sections")
    from cpckit.config_compat import map_foreign_keys

    return map_foreign_keys(loaded, f"config file {str(p)!r}")


def read_layers(
    root: type,
    path: str | Path | None = None,
    overrides: typing.Sequence[str] = (),
    flags: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The nested dicts of the YAML file, the CLI flags and the ``key=value`` overrides.

    Section names are checked against ``root`` here, keys and values by
    :func:`from_dict`. :func:`merge_layers` joins them in this order.

    Args:
        root: the dataclass whose fields are the sections.
        path: optional YAML file with sections as in ``root``.
        overrides: ``section.key=value`` strings.
        flags: ``{"section.key": value}`` from named CLI flags (None: not given).
    """
    from_file: dict[str, Any] = _read_yaml(path) if path is not None else {}
    from_flags: dict[str, Any] = {}
    for key, value in (flags or {}).items():
        if value is not None:
            _set_dotted(from_flags, key, value, root)
    from_overrides: dict[str, Any] = {}
    for text in overrides:
        key, value = parse_override(text)
        _set_dotted(from_overrides, key, value, root)
    return [from_file, from_flags, from_overrides]


def merge_layers(layers: typing.Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One nested dict: each later layer's keys over the earlier ones', section by section."""
    data: dict[str, Any] = {k: dict(v) if isinstance(v, dict) else v for k, v in layers[0].items()}
    for layer in layers[1:]:
        for section, values in layer.items():
            target = data.setdefault(section, {})
            if not isinstance(target, dict):
                raise ConfigError(f"config section {section!r} must be a mapping")
            target.update(values)
    return data
