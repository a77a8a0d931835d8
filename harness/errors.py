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
