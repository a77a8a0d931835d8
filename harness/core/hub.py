"""Models named by Hugging Face id (``org/name``), read from the local Hugging Face cache.

Where the cache is follows huggingface_hub's own rules (``HF_HOME``, ``HF_HUB_CACHE``; ``HF_ENDPOINT`` and
``HF_TOKEN`` for a download; none of them is ever written anywhere by editbench). The rule for downloads:
offline by default; huggingface_hub may download only when the operator sets ``HF_HUB_OFFLINE=0`` in the
environment (unset, or any other value, means offline). A model that is not in the cache offline is one
sentence naming the id, the cache folder looked in, and how to allow the download.

A resolved model carries what run.json records: the id, the snapshot commit, and the folder.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from harness.core.errors import WeightsNotFound

HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}")
OFFLINE_ENV = "HF_HUB_OFFLINE"


@dataclass(frozen=True)
class HubModel:
    """A model of the Hugging Face cache: ``folder`` is the snapshot (joined with ``subfolder``)."""

    repo_id: str
    revision: str | None        # as asked (a branch, tag or commit); None: "main"
    commit: str                 # the snapshot's commit hash
    folder: Path

    def record(self) -> dict[str, str | None]:
        """What run.json keeps of the model."""
        return {"id": self.repo_id, "revision": self.revision, "commit": self.commit, "folder": str(self.folder)}


def is_hub_id(weights: str | None) -> bool:
    """``weights`` names a Hugging Face model (``org/name``) rather than a local path or ``random``."""
    if not weights or weights == "random" or not HUB_ID.fullmatch(weights):
        return False
    return not Path(weights).expanduser().exists()   # a local folder of that shape wins


def downloads_allowed() -> bool:
    """True only when the operator set ``HF_HUB_OFFLINE=0`` (or ``false``/``no``)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("0", "false", "no")


def cache_folder() -> Path:
    """The hub cache, by huggingface_hub's rules, read when asked: ``HF_HUB_CACHE``, else ``HF_HOME/hub``,
    else ``~/.cache/huggingface/hub``."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(home).expanduser() / "hub"


def resolve_hub(repo_id: str, *, revision: str | None = None, subfolder: str | None = None,
                what: str = "model") -> HubModel:
    """The cached snapshot of ``repo_id`` at ``revision`` (downloaded first only where allowed)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    allowed = downloads_allowed()
    try:
        path = Path(snapshot_download(repo_id, revision=revision, cache_dir=cache_folder(), local_files_only=not allowed))
    except LocalEntryNotFoundError:
        at = f" at revision {revision}" if revision else ""
        raise WeightsNotFound(
            f"{what} {repo_id}{at} is neither a local folder ({Path(repo_id).expanduser().resolve()}) nor in the "
            f"local Hugging Face cache ({cache_folder()}); download it with "
            f"`huggingface-cli download {repo_id}`, or let editbench download it by setting {OFFLINE_ENV}=0.") from None
    except (HfHubHTTPError, OSError, ValueError) as e:
        raise WeightsNotFound(f"{what} {repo_id} could not be fetched from the Hugging Face hub "
                              f"({type(e).__name__}: {str(e).splitlines()[0][:200]}).") from None
    folder = path / subfolder if subfolder else path
    if not folder.exists():
        raise WeightsNotFound(f"{what} {repo_id} has no folder {subfolder!r} in its snapshot {path}.")
    return HubModel(repo_id=repo_id, revision=revision, commit=path.name, folder=folder)


def hub_commit(folder: Path) -> str | None:
    """The snapshot commit of a folder inside the Hugging Face cache (``.../snapshots/<commit>[/sub]``)."""
    parts = Path(folder).parts
    return parts[parts.index("snapshots") + 1] if "snapshots" in parts[:-1] else None
