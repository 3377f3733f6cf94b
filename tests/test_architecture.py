"""The package's layout rules, checked on the source: no import circle, layers, file size."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

TOOL = Path(__file__).resolve().parents[1] / "tools" / "import_graph.py"


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_graph", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["import_graph"] = module
    spec.loader.exec_module(module)
    return module


def test_the_checker_finds_a_circle_and_a_layer_break() -> None:
    tool = _tool()
    graph = {"cpckit.a": {"cpckit.b"}, "cpckit.b": {"cpckit.c"}, "cpckit.c": {"cpckit.a"}}
    assert tool.cycles(graph) == [["cpckit.a", "cpckit.b", "cpckit.c"]]
    assert tool.cycles({"cpckit.a": {"cpckit.b"}, "cpckit.b": set()}) == []
    layered = {"cpckit.model": {"cpckit.perf.bench"}, "cpckit.commands.x": {"cpckit.perf.bench"}}
    assert tool.layering(layered) == ["cpckit.model -> cpckit.perf.bench"]


def test_the_package_has_no_import_circle() -> None:
    tool = _tool()
    graph = tool.graph()
    assert len(graph) > 50  # the whole package was read
    assert sum(len(v) for v in graph.values()) > 100
    assert tool.cycles(graph) == []


def test_nothing_below_the_commands_imports_them_or_perf() -> None:
    tool = _tool()
    assert tool.layering(tool.graph()) == []


def test_no_source_file_is_over_the_size_limit() -> None:
    assert _tool().long_files() == []
