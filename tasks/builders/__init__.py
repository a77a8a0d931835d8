"""Suite builders: code that writes a suite YAML from a folder of images (``editbench suite build KIND``).

Builders live here, apart from the suite files they write (tasks/suites/). Each builder is a function
``draft(opts) -> Draft`` with a pydantic ``Options`` model, registered by kind in :data:`BUILDERS`.
:func:`build_suite` validates the options, writes the file deterministically (sorted keys, no
timestamps) and then validates the written suite like a run would.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any, Callable

from pydantic import ValidationError

from harness.errors import EditbenchError, format_validation_error
from tasks.builders.common import BuildOptions, Draft, write_suite

# kind -> (Options model, draft function). Filled by @register_builder in BUILDER_MODULES.
BUILDERS: dict[str, tuple[type[BuildOptions], Callable[[Any], Draft]]] = {}
BUILDER_MODULES = ["tasks.builders.face_regen", "tasks.builders.reconstruction", "tasks.builders.simple",
                   "tasks.builders.sweeps"]


def register_builder(kind: str, options: type[BuildOptions]):
    def deco(fn):
        if kind in BUILDERS:
            raise ValueError(f"builder {kind!r} registered twice")
        BUILDERS[kind] = (options, fn)
        return fn

    return deco


def builder_names() -> list[str]:
    for mod in BUILDER_MODULES:
        importlib.import_module(mod)
    return sorted(BUILDERS)


def build_suite(kind: str, **options: Any) -> Path:
    """Build a suite of ``kind`` and write it to ``options["out"]``; returns the written path.

    Raises :class:`~harness.errors.EditbenchError` for bad options or inputs, and
    :class:`~tasks.validate.SuiteInvalid` when the written suite has problems (e.g. a bad mask file).
    """
    if kind not in builder_names():
        raise EditbenchError(f"unknown suite builder {kind!r}; builders are {sorted(BUILDERS)}.")
    Options, draft_fn = BUILDERS[kind]
    try:
        opts = Options(**options)
    except ValidationError as e:
        raise EditbenchError(format_validation_error(e, where=f"options of suite builder {kind}")) from None
    draft = draft_fn(opts)
    given = json.dumps(opts.model_dump(mode="json", exclude_none=True, exclude={"out"}), sort_keys=True)
    header = (f"Built by `editbench suite build {kind}` with options {given}.\n"
              "Rebuilding from the same inputs gives this file byte for byte; edit the inputs, not this file.")
    out = write_suite(draft, opts, data_root=draft.data_root, pkg_roots=draft.pkg_roots, header=header)

    from tasks.schema import load_suite
    from tasks.validate import check_suite

    check_suite(load_suite(out))
    return out


__all__ = ["BUILDERS", "BuildOptions", "Draft", "build_suite", "builder_names", "register_builder"]
