"""One registry type for pipelines, scorers and suite builders: lazy ``"module:Object"`` entries.

Each registry is written once, as a literal mapping from name to ``"package.module:Object"`` (in the
spirit of lm-evaluation-harness's registry), so registering a new pipeline, scorer or builder is one line
in one place and listing names imports nothing. The object is imported on first ``get``; adapter modules
keep their heavy imports (torch, diffusers, insightface) inside methods, so even that stays cheap.

Tests and plugins may also ``add`` an object directly.
"""

from __future__ import annotations

import importlib
from typing import Generic, Iterator, TypeVar

from harness.core.errors import EditbenchError

T = TypeVar("T")
_MISSING = object()


class Registry(Generic[T]):
    """name -> object, resolved lazily from ``"module:Object"`` targets."""

    def __init__(self, kind: str, entries: dict[str, str]):
        self.kind = kind                       # "pipeline", "scorer", "suite builder": used in messages
        self._targets = dict(entries)
        self._loaded: dict[str, T] = {}
        for name, target in entries.items():
            if ":" not in target:
                raise ValueError(f"{kind} {name!r}: target {target!r} must be 'module:Object'")

    def names(self) -> list[str]:
        """Registered names, sorted; imports nothing."""
        return sorted(self._targets.keys() | self._loaded.keys())

    def target(self, name: str) -> str | None:
        return self._targets.get(name)

    def get(self, name: str, default=_MISSING) -> T:
        """The object registered as ``name``; an unknown name is an EditbenchError listing the known ones
        (or ``default`` when one is given)."""
        if name in self._loaded:
            return self._loaded[name]
        if name not in self._targets:
            if default is not _MISSING:
                return default
            raise EditbenchError(f"unknown {self.kind} {name!r}; registered {self.kind}s are {self.names()}.")
        module, _, attr = self._targets[name].partition(":")
        obj = getattr(importlib.import_module(module), attr)
        self._loaded[name] = obj
        return obj

    def add(self, name: str, obj: T) -> None:
        """Register an object directly (tests, plugins); a name may not be registered twice."""
        if name in self._targets or name in self._loaded:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        self._loaded[name] = obj

    # Mapping-style access (every entry is imported on iteration).
    def __contains__(self, name: object) -> bool:
        return name in self._targets or name in self._loaded

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __setitem__(self, name: str, obj: T) -> None:
        self.add(name, obj)

    def __delitem__(self, name: str) -> None:
        """Drop an entry added with :meth:`add` (tests); lazy targets stay registered."""
        if name in self._targets:
            raise KeyError(f"{self.kind} {name!r} is registered in code and cannot be removed")
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def items(self) -> list[tuple[str, T]]:
        return [(n, self.get(n)) for n in self.names()]

    def values(self) -> list[T]:
        return [self.get(n) for n in self.names()]
