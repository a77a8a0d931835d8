"""One registry type for pipelines, scorers and suite builders: lazy ``"module:Object"`` entries.

Each registry is written once, as a literal mapping from name to ``"package.module:Object"`` (in the
spirit of lm-evaluation-harness's registry), so registering a new pipeline, scorer or builder is one line
in one place and listing names imports nothing. The object is imported on first ``get``; adapter modules
keep their heavy imports (torch, diffusers, insightface) inside methods, so even that stays cheap.

Plugins: an installed distribution adds entries through a Python entry-point group (``editbench.pipelines``,
``editbench.scorers``, ``editbench.masks``, ``editbench.builders``), each entry point ``name = "module:Object"``
like a built-in line. They are discovered when names are first listed (importing nothing); a plugin name
that is already a built-in is refused with a warning naming its distribution, and the built-in stays.
Tests may also ``add`` an object directly.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
from typing import Generic, Iterator, TypeVar

from harness.core.errors import EditbenchError

T = TypeVar("T")
_MISSING = object()


class Registry(Generic[T]):
    """name -> object, resolved lazily from ``"module:Object"`` targets."""

    def __init__(self, kind: str, entries: dict[str, str], *, group: str | None = None):
        self.kind = kind                       # "pipeline", "scorer", "suite builder": used in messages
        self.group = group                     # entry-point group of plugins, e.g. "editbench.pipelines"
        self._builtin = dict(entries)
        self._targets = dict(entries)
        self._origin: dict[str, str] = {}      # plugin name -> its distribution
        self._loaded: dict[str, T] = {}
        self._discovered = group is None
        for name, target in entries.items():
            if ":" not in target:
                raise ValueError(f"{kind} {name!r}: target {target!r} must be 'module:Object'")

    def _discover(self) -> None:
        """Add the plugins' entry points of :attr:`group` (once); a clash with a built-in is refused."""
        if self._discovered or self.group is None:
            return
        self._discovered = True
        for ep in sorted(importlib.metadata.entry_points(group=self.group), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist is not None else "an unknown distribution"
            if ep.name in self._builtin or ep.name in self._loaded:
                print(f"editbench: warning: {self.kind} {ep.name!r} of plugin {dist} is refused: the name is "
                      f"a built-in {self.kind}.", file=sys.stderr)
                continue
            if ep.name in self._origin:
                print(f"editbench: warning: {self.kind} {ep.name!r} of plugin {dist} is refused: plugin "
                      f"{self._origin[ep.name]} registers it too.", file=sys.stderr)
                continue
            if ":" not in ep.value:
                print(f"editbench: warning: {self.kind} {ep.name!r} of plugin {dist} is refused: its entry point "
                      f"{ep.value!r} is not 'module:Object'.", file=sys.stderr)
                continue
            self._targets[ep.name] = ep.value
            self._origin[ep.name] = dist

    def rediscover(self) -> None:
        """Forget discovered plugins and look again (after installing one into a running process)."""
        for name in self._origin:
            self._targets.pop(name, None)
            self._loaded.pop(name, None)
        self._origin.clear()
        self._discovered = self.group is None

    def names(self) -> list[str]:
        """Registered names (built-in and plugins), sorted; imports nothing."""
        self._discover()
        return sorted(self._targets.keys() | self._loaded.keys())

    def origin(self, name: str) -> str:
        """Where ``name`` comes from: "built-in", or the plugin's distribution name."""
        self._discover()
        return self._origin.get(name, "built-in")

    def target(self, name: str) -> str | None:
        self._discover()
        return self._targets.get(name)

    def get(self, name: str, default=_MISSING) -> T:
        """The object registered as ``name``; an unknown name is an EditbenchError listing the known ones
        (or ``default`` when one is given)."""
        if name in self._loaded:
            return self._loaded[name]
        self._discover()
        if name not in self._targets:
            if default is not _MISSING:
                return default
            raise EditbenchError(f"unknown {self.kind} {name!r}; registered {self.kind}s are {self.names()}.")
        module, _, attr = self._targets[name].partition(":")
        obj = getattr(importlib.import_module(module), attr)
        self._loaded[name] = obj
        return obj

    def add(self, name: str, obj: T) -> None:
        """Register an object directly (tests); a name may not be registered twice."""
        self._discover()
        if name in self._targets or name in self._loaded:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        self._loaded[name] = obj

    # Mapping-style access (every entry is imported on iteration).
    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._targets or name in self._loaded

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __setitem__(self, name: str, obj: T) -> None:
        self.add(name, obj)

    def __delitem__(self, name: str) -> None:
        """Drop an entry added with :meth:`add` (tests); lazy targets stay registered."""
        if name in self._builtin or name in self._origin:
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
