"""The storage layer of a run directory: safe names, confined paths, atomic writes, the run lock, and
telling infrastructure failures (disk full, permission, I/O) apart from pipeline failures.

Everything that writes into or reads files out of ``<out>`` goes through these functions, so that an
object-store backend can later provide the same interface (a conditional create ``If-None-Match: *``
with an expiring lease in place of :class:`RunLock`'s ``O_CREAT | O_EXCL`` file and pid check).

Names that become path components (task ids, pipeline labels) must match :data:`SAFE_NAME`: ASCII
letters, digits and ``. _ - [ ] = ,`` (the last four appear in grid labels such as
``sd-inpaint[guidance=7.5,steps=20]``), at most :data:`MAX_NAME_LEN` characters, not ``.`` or ``..``
and not starting with ``.``. Paths derived from them are checked again, at write and read time, to
stay under the run's root.
"""

from __future__ import annotations

import errno
import json
import os
import re
import socket
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.errors import EditbenchError, InfrastructureError
from harness.ray_local import import_psutil

SAFE_NAME = re.compile(r"[A-Za-z0-9._\-\[\]=,]+")
MAX_NAME_LEN = 160        # + "__s<seed>.png" stays below the 255-byte file-name limit of common file systems
LOCK_NAME = ".editbench.lock"
# errno values that mean the machine or its storage failed, not the pipeline or the input.
INFRASTRUCTURE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO})


def name_problem(value: object, *, what: str) -> str | None:
    """Why ``value`` cannot be used as a path component (``what`` names it: "task_id"), or None."""
    if not isinstance(value, str):
        return f"{what} must be a string, not {type(value).__name__}"
    if "\x00" in value:
        return f"{what} {value!r} holds a NUL character"
    if not value:
        return f"{what} is empty"
    if len(value) > MAX_NAME_LEN:
        return f"{what} {value[:40]!r}... is {len(value)} characters long (at most {MAX_NAME_LEN})"
    if not SAFE_NAME.fullmatch(value):
        bad = sorted({c for c in value if not SAFE_NAME.fullmatch(c)})
        return (f"{what} {value!r} holds {''.join(bad)!r}; use only ASCII letters, digits and . _ - [ ] = , "
                "(no '/', spaces or other characters)")
    if value.startswith("."):
        return f"{what} {value!r} starts with '.' (it names a file of the output directory; '..' escapes it)"
    return None


def check_name(value: object, *, what: str, where: str) -> str:
    """``value`` if :func:`name_problem` finds nothing, else EditbenchError naming ``where``."""
    problem = name_problem(value, what=what)
    if problem:
        raise EditbenchError(f"{where}: {problem}.")
    return value  # type: ignore[return-value]


def confined(root: str | Path, *parts: str) -> Path:
    """``root / parts...``, refused (EditbenchError) unless it stays under ``root`` once resolved."""
    root = Path(root).resolve()
    for p in parts:
        if "\x00" in str(p) or Path(p).is_absolute():
            raise EditbenchError(f"path component {p!r} is not allowed under {root}.")
    path = root.joinpath(*parts).resolve()
    if path != root and not path.is_relative_to(root):
        raise EditbenchError(f"path {'/'.join(map(str, parts))!r} escapes the run directory {root}.")
    return path


def output_stem(out: str | Path, pipeline: str, task_id: str, seed: int) -> Path:
    """Where the output of (task, pipeline, seed) is written, without suffix; checked to stay in ``out``."""
    check_name(pipeline, what="pipeline label", where="output path")
    check_name(task_id, what="task_id", where="output path")
    return confined(out, "outputs", pipeline, f"{task_id}__s{int(seed)}")


def infrastructure_error(e: BaseException, path: str | Path | None = None) -> InfrastructureError | None:
    """An InfrastructureError naming the path and what is wrong when ``e`` is a storage failure, else None."""
    if isinstance(e, InfrastructureError):
        return e
    if isinstance(e, OSError) and e.errno in INFRASTRUCTURE_ERRNOS:
        where = e.filename or path or "the output directory"
        return InfrastructureError(f"cannot write {where}: {os.strerror(e.errno)} (errno {errno.errorcode[e.errno]}); "
                                   "the rows computed so far are kept and `--resume` retries the rest.")
    return None


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename, so readers never see half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        infra = infrastructure_error(e, path)
        if infra is not None:
            raise infra from None
        raise
    return path


@dataclass(frozen=True)
class LockHolder:
    """Who holds a run lock: process id, host name, start time (UTC ISO) and the command."""

    pid: int
    host: str
    since: str
    command: str
    created: float = 0.0      # process start time (epoch seconds) of the holder, to detect a reused pid

    def describe(self) -> str:
        return f"pid {self.pid} on host {self.host} ({self.command}, since {self.since})"

    def is_dead(self) -> bool:
        """True when the holder is known to be gone: it ran on this host and its pid is not (any longer) it.
        A holder on another host is never declared dead (its pid cannot be checked from here)."""
        if self.host != socket.gethostname():
            return False
        psutil = import_psutil()
        if psutil is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                return False
            return False
        try:
            proc = psutil.Process(self.pid)
            return bool(self.created) and abs(proc.create_time() - self.created) > 1.0
        except psutil.Error:  # NoSuchProcess: the pid is gone
            return True


class RunLocked(EditbenchError):
    """Another live process holds the run's lock."""


def read_lock(out: str | Path) -> LockHolder | None:
    """The holder recorded in ``out``'s lock file, or None when there is no (readable) lock."""
    try:
        data = json.loads((Path(out) / LOCK_NAME).read_text(encoding="utf-8"))
        return LockHolder(**data)
    except (OSError, ValueError, TypeError):
        return None


class RunLock:
    """Exclusive lock on a run directory, held by ``run`` (and ``--resume``) for the whole run.

    Taken with ``O_CREAT | O_EXCL`` on ``<out>/.editbench.lock``, which holds the holder's pid, host,
    start time and command. A lock whose holder is dead (same host, pid gone or reused) is taken over;
    any other lock refuses the second writer with one sentence naming the holder.
    """

    def __init__(self, out: str | Path, *, command: str = "editbench run"):
        self.path = Path(out) / LOCK_NAME
        self.command = command
        self.held = False

    def _me(self) -> LockHolder:
        psutil = import_psutil()
        created = psutil.Process().create_time() if psutil is not None else 0.0
        return LockHolder(pid=os.getpid(), host=socket.gethostname(),
                          since=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), command=self.command,
                          created=created)

    def _create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        except OSError as e:
            raise infrastructure_error(e, self.path) or e from None
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(asdict(self._me()), f)
        return True

    def acquire(self) -> "RunLock":
        for _ in range(3):
            if self._create():
                self.held = True
                return self
            holder = read_lock(self.path.parent)
            if holder is None:
                # Just being written by its creator, or unreadable: wait a moment before judging it.
                time.sleep(0.2)
                holder = read_lock(self.path.parent)
                if holder is None:
                    raise RunLocked(f"{self.path} exists but cannot be read; another editbench process may be "
                                    "writing this run (remove the file if none is).")
            if not holder.is_dead():
                raise RunLocked(f"{self.path.parent} is being written by another editbench process, "
                                f"{holder.describe()}; wait for it to finish or choose another --out.")
            # Stale: move it aside (only one of several racing takers succeeds), then create ours.
            try:
                os.replace(self.path, self.path.with_name(f"{LOCK_NAME}.stale-{uuid.uuid4().hex[:8]}"))
            except FileNotFoundError:
                pass
            for stale in self.path.parent.glob(f"{LOCK_NAME}.stale-*"):
                stale.unlink(missing_ok=True)
        raise RunLocked(f"could not take the lock {self.path}; another editbench process keeps taking it.")

    def release(self) -> None:
        if self.held:
            holder = read_lock(self.path.parent)
            if holder is not None and holder.pid == os.getpid() and holder.host == socket.gethostname():
                self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def running_note(out: str | Path, meta: dict) -> str | None:
    """A warning for readers of a run whose run.json says ``running``: still being written, or interrupted."""
    if meta.get("status") != "running":
        return None
    holder = read_lock(out)
    if holder is not None and not holder.is_dead():
        return (f"run {out} is still being written ({holder.describe()}); this report covers the rows "
                "on disk so far.")
    return (f"run {out} says it is running but no live process holds its lock: it was interrupted; "
            f"`editbench run ... --out {out} --resume` completes it.")
