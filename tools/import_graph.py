"""The import graph of ``src/cpckit``: circles, layering breaks, long files.

Every ``import`` / ``from ... import`` of a cpckit module counts, at module
level or inside a function (a lazy import still ties the two modules
together); imports under ``if TYPE_CHECKING:`` do not (they never run).

    python tools/import_graph.py          # prints the report, exit 1 on a problem
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "cpckit"
MAX_LINES = 500
# Packages that nothing below the command layer may import.
TOP_LAYERS = ("cpckit.commands", "cpckit.perf", "cpckit.cli")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                for sub in node.body:
                    for inner in ast.walk(sub):
                        skip.add(id(inner))
    return skip


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """cpckit modules that ``path`` imports (resolved to the longest known module)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skip = _type_checking_nodes(tree)
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name.startswith(PACKAGE) and name != me:
                found.add(name)
    # a submodule's import of its own package __init__ is not a dependency of interest
    return {m for m in found if not me.startswith(m + ".")}


def graph() -> dict[str, set[str]]:
    files = sorted((SRC / PACKAGE).rglob("*.py"))
    modules = {module_name(f) for f in files}
    return {module_name(f): imports_of(f, modules) for f in files}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def layering(g: dict[str, set[str]]) -> list[str]:
    """``a -> b`` lines where a module below the command layer imports one of it."""
    bad = []
    for a, deps in sorted(g.items()):
        if a == PACKAGE or a.startswith(TOP_LAYERS) or a == "cpckit.__main__":
            continue
        for b in sorted(deps):
            if b.startswith(TOP_LAYERS):
                bad.append(f"{a} -> {b}")
    return bad


def long_files() -> list[str]:
    out = []
    for f in sorted((SRC / PACKAGE).rglob("*.py")):
        n = len(f.read_text().splitlines())
        if n > MAX_LINES:
            out.append(f"{f.relative_to(SRC)}: {n} lines")
    return out


def main() -> int:
    g = graph()
    problems = 0
    circles = cycles(g)
    print(f"{len(g)} modules, {sum(len(v) for v in g.values())} imports")
    print(f"import circles: {len(circles)}")
    for c in circles:
        print("  " + " <-> ".join(c))
    bad = layering(g)
    print(f"imports of the command layer from below it: {len(bad)}")
    for line in bad:
        print("  " + line)
    longs = long_files()
    print(f"files over {MAX_LINES} lines: {len(longs)}")
    for line in longs:
        print("  " + line)
    problems = len(circles) + len(bad) + len(longs)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
