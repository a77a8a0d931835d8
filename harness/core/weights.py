"""Where weights come from: a path in the run spec, a Hugging Face id (``org/name``, read from the local
Hugging Face cache: :mod:`harness.core.hub`), or ``$EDITBENCH_WEIGHTS/<model>``.

Nothing is downloaded unless the operator allows it (:func:`harness.core.hub.downloads_allowed`). A
missing weight folder or file raises :class:`WeightsNotFound` naming the path that was expected (see
docs/weights.md for each model's layout).
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.core.errors import WeightsNotFound
from harness.core.hub import is_hub_id, resolve_hub

WEIGHTS_ENV = "EDITBENCH_WEIGHTS"
DEFAULT_ROOT = Path.home() / ".cache" / "editbench" / "weights"


def weights_root() -> Path:
    return Path(os.environ.get(WEIGHTS_ENV) or DEFAULT_ROOT)


def resolve_weights(model: str, explicit: str | None = None, *, required: tuple[str, ...] = (),
                    revision: str | None = None, subfolder: str | None = None) -> Path:
    """Path of ``model``'s weights: ``explicit`` if given (a local path, or a Hugging Face id resolved in
    the local cache at ``revision``, joined with ``subfolder``), else ``$EDITBENCH_WEIGHTS/<model>``.

    ``required`` names files that must exist inside it (e.g. ``("body_pose_model.pth",)``).
    """
    if is_hub_id(explicit):
        path = resolve_hub(str(explicit), revision=revision, subfolder=subfolder, what=f"weights for {model}").folder
    else:
        path = Path(explicit).expanduser() if explicit else weights_root() / model
    if not path.exists():
        how = "" if explicit else f" (set {WEIGHTS_ENV} or give a weights path in the run spec)"
        raise WeightsNotFound(f"weights for {model} not found: expected {path}{how}.")
    for f in required:
        if not (path / f).exists():
            raise WeightsNotFound(f"weights for {model} are incomplete: expected file {path / f}.")
    return path
