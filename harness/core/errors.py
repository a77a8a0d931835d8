"""User-facing errors.

Every problem caused by the user's input (a suite file, a run spec, a path, a missing weight file)
is raised as :class:`EditbenchError` with one sentence naming what is wrong and where. The CLI
prints that sentence to stderr and exits with code 2; nothing else in the code prints errors.
"""

from __future__ import annotations


class EditbenchError(ValueError):
    """Bad input: the message is one clear sentence naming the file, field or path at fault."""

    exit_code = 2


class WeightsNotFound(EditbenchError):
    """A component needs weights that are not at the expected local path."""


def format_validation_error(err, *, where: str) -> str:
    """Turn a pydantic ``ValidationError`` into one sentence naming ``where`` and the field path."""
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "missing":
            msg = "required field is missing"
        elif e["type"] == "extra_forbidden":
            msg = "unknown field"
        parts.append(f"{loc}: {msg}")
    more = f" (and {len(parts) - 3} more)" if len(parts) > 3 else ""
    return f"{where}: " + "; ".join(parts[:3]) + more + "."


# Exit codes of `editbench run` (docs/reports.md). `gate` uses 0 pass, 1 regression or new failures,
# 2 unusable input.
EXIT_OK = 0                 # every job ended ok
EXIT_BAD_INPUT = 2          # EditbenchError: nothing (more) was run
EXIT_ROWS_FAILED = 3        # the run finished; some rows are error/timeout (all rows are on disk)
EXIT_INFRASTRUCTURE = 4     # the run stopped on an infrastructure failure (disk full, permissions,
                            # storage); rows computed so far are on disk and `--resume` retries the rest


class InfrastructureError(EditbenchError):
    """The run cannot go on because of the machine or storage (no space, permission, I/O), not the input.

    The message names the path and what is wrong; the CLI exits with :data:`EXIT_INFRASTRUCTURE`.
    """

    exit_code = EXIT_INFRASTRUCTURE
