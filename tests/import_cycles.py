"""Import circles between the project's files, over every import (module-level or function-local).

Run from the repository root by ``make lint``; exits 1 naming each circle. The layer contracts
(import-linter, pyproject.toml) say which direction an import may go; this says no two files need each
other, in any direction.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGES = ("harness", "tasks", "scorers", "reports")


def project_modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages under ``root``."""
    mods = {}
    for pkg in PACKAGES:
        for p in (root / pkg).rglob("*.py"):
            mods[".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__")] = p
    return mods


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the project modules it imports (``from a import b`` names module ``a.b`` when it is one)."""

    def target(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in mods else node.module
                         for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            graph[m] |= {t for t in map(target, names) if t and t != m}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            w = next(children, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def main(root: Path = Path(".")) -> int:
    found = circles(import_graph(project_modules(root)))
    for comp in found:
        print("import circle between files:", " <-> ".join(comp), file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
