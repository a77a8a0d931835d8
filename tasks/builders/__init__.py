"""Suite builders: code that writes a suite YAML from a folder of images (``editbench suite build KIND``).

Builders live here, apart from the suite files they write (tasks/suites/). Each builder is a function
``draft(opts: SomeOptions) -> Draft`` whose ``opts`` annotation names its pydantic options model,
registered by kind in one line in :data:`BUILDERS`.
:func:`build_suite` validates the options, writes the file deterministically (sorted keys, no
timestamps) and then validates the written suite like a run would.
"""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any, Callable

from pydantic import ValidationError

from harness.core.errors import EditbenchError, format_validation_error
from harness.core.registry import Registry
from tasks.builders.common import BuildOptions, Draft, write_suite
from tasks.loading import load_suite
from tasks.validate import check_suite

# Every builder, registered in one line: kind -> "module:draft_function" (imported on first use).
BUILDERS: Registry[Callable[[Any], Draft]] = Registry("suite builder", group="editbench.builders", entries={
    "face-regen": "tasks.builders.face_regen:draft_face_regen",
    "hand-regen": "tasks.builders.hand_regen:draft_hand_regen",
    "removal": "tasks.builders.simple:draft_removal",
    "reconstruction": "tasks.builders.reconstruction:draft_reconstruction",
    "outpaint": "tasks.builders.simple:draft_outpaint",
    "sdedit-sweep": "tasks.builders.simple:draft_sdedit",
    "instruct": "tasks.builders.simple:draft_instruct",
    "dilation-sweep": "tasks.builders.sweeps:draft_dilation",
    "mask-leakage-sweep": "tasks.builders.leakage:draft_leakage",
    "guidance-mask-sweep": "tasks.builders.sweeps:draft_guidance_mask",
    "prompt-scope-sweep": "tasks.builders.sweeps:draft_prompt_scope",
    "background-replace": "tasks.builders.segment:draft_background_replace",
    "sky-replace": "tasks.builders.segment:draft_sky_replace",
    "pie-bench": "tasks.builders.pie_bench:draft_pie_bench",
    "brushbench": "tasks.builders.brushbench:draft_brushbench",
    "magicbrush": "tasks.builders.magicbrush:draft_magicbrush",
    "emu-edit": "tasks.builders.emu_edit:draft_emu_edit",
    "gedit-bench": "tasks.builders.gedit_bench:draft_gedit",
    "imgedit": "tasks.builders.imgedit:draft_imgedit",
})


def builder_names() -> list[str]:
    return BUILDERS.names()


def builder_options(kind: str) -> type[BuildOptions]:
    """The options model of builder ``kind``: the annotation of its draft function's ``opts``."""
    return typing.get_type_hints(BUILDERS.get(kind))["opts"]


def build_suite(kind: str, **options: Any) -> Path:
    """Build a suite of ``kind`` and write it to ``options["out"]``; returns the written path.

    Raises :class:`~harness.core.errors.EditbenchError` for bad options or inputs, and
    :class:`~tasks.validate.SuiteInvalid` when the written suite has problems (e.g. a bad mask file).
    """
    draft_fn = BUILDERS.get(kind)          # unknown kind: EditbenchError listing the builders
    Options = builder_options(kind)
    try:
        opts = Options(**options)
    except ValidationError as e:
        raise EditbenchError(format_validation_error(e, where=f"options of suite builder {kind}")) from None
    draft = draft_fn(opts)
    given = json.dumps(opts.model_dump(mode="json", exclude_none=True, exclude={"out"}), sort_keys=True)
    header = (f"Built by `editbench suite build {kind}` with options {given}.\n"
              "Rebuilding from the same inputs gives this file byte for byte; edit the inputs, not this file.")
    out = write_suite(draft, opts, data_root=draft.data_root, pkg_roots=draft.pkg_roots, header=header)


    check_suite(load_suite(out))
    return out


__all__ = ["BUILDERS", "BuildOptions", "Draft", "build_suite", "builder_names", "builder_options"]
