"""Suite loading with the pipeline registry at hand: the loader every command and builder calls.

:func:`tasks.schema.load_suite` reads and checks a suite file; a suite written with one ``params:``
mapping per task (instead of ``overrides:`` and ``meta:``) is split here, by the per-task options the
registered pipelines of each task kind take (``Pipeline.task_options``).
"""

from __future__ import annotations

from pathlib import Path

from harness.pipelines.base import task_option_names
from tasks import schema
from tasks.schema import Suite


def load_suite(name_or_path: str | Path) -> Suite:
    """A built-in suite by name, or a suite YAML file by path (see :func:`tasks.schema.load_suite`)."""
    return schema.load_suite(name_or_path, option_names=task_option_names)
