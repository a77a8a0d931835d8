"""The storage layer of a run directory: safe names, confined paths, atomic writes, the run lock, and
telling infrastructure failures (disk full, permission, I/O) apart from pipeline failures.

A run's location is a local directory or an object-store prefix (``s3://bucket/prefix``, ``gs://...``):
:class:`Location` reads and writes it through ``pyarrow.fs`` with each process's own credential
environment; :class:`RunLock` is a conditional create there (``O_CREAT | O_EXCL`` locally,
``If-None-Match: *`` with an expiring lease on S3); :func:`staged` gives report code a local copy.

Names that become path components (task ids, pipeline labels) must match :data:`SAFE_NAME`: ASCII
letters, digits and ``. _ - [ ] = ,`` (the last four appear in grid labels such as
``sd-inpaint[guidance=7.5,steps=20]``), at most :data:`MAX_NAME_LEN` characters, not ``.`` or ``..``
and not starting with ``.``. Paths derived from them are checked again, at write and read time, to
stay under the run's root.
"""

from __future__ import annotations

import builtins
import errno
import json
import os
import re
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

from harness.core.errors import EditbenchError, InfrastructureError
from harness.core.process import import_psutil

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


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Write ``path`` through a temporary file beside it and a rename, so readers never see half a file:
    ``write(tmp)`` fills the temporary file (a dot-name, which every reader of a run skips). On any failure
    the temporary file is removed and the exception passes through unchanged."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """:func:`atomic_write` of ``data``; a storage failure (disk full, permissions) is an
    :class:`InfrastructureError` naming ``path``."""
    try:
        return atomic_write(path, lambda tmp: tmp.write_bytes(data))
    except OSError as e:
        raise infrastructure_error(e, path) or e from None


def atomic_write_text(path: str | Path, text: str) -> Path:
    """:func:`atomic_write_bytes` of ``text`` in UTF-8."""
    return atomic_write_bytes(path, text.encode("utf-8"))


LEASE_S = 120.0          # an object-store lock not renewed for this long is taken over


@dataclass(frozen=True)
class LockHolder:
    """Who holds a run lock: process id, host name, start time (UTC ISO) and the command."""

    pid: int
    host: str
    since: str
    command: str
    created: float = 0.0      # process start time (epoch seconds) of the holder, to detect a reused pid
    expires: float = 0.0      # object stores: end of the lease (epoch seconds), renewed while the run lives

    def describe(self) -> str:
        return f"pid {self.pid} on host {self.host} ({self.command}, since {self.since})"

    def is_dead(self) -> bool:
        """True when the holder is known to be gone: its lease ran out, or it ran on this host and its pid is
        not (any longer) it. A holder on another host without a lease is never declared dead."""
        if self.expires:
            return time.time() > self.expires
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


def read_lock(out: "str | Path | Location") -> LockHolder | None:
    """The holder recorded in ``out``'s lock file, or None when there is no (readable) lock."""
    try:
        data = json.loads(location(out).read_bytes(LOCK_NAME).decode("utf-8"))
        return LockHolder(**data)
    except (OSError, ValueError, TypeError, EditbenchError):
        return None


class RunLock:
    """Exclusive lock on a run location, held by ``run`` (and ``--resume``) for the whole run.

    Taken with a conditional create of ``<out>/.editbench.lock`` (``O_CREAT | O_EXCL`` locally,
    ``If-None-Match: *`` on S3), which holds the holder's pid, host, start time and command. On an object
    store the lock is a lease: a thread renews it every third of :data:`LEASE_S`, and a lock whose lease
    ran out is taken over. Locally a lock whose holder is dead (same host, pid gone or reused) is taken
    over. Any other lock refuses the second writer with one sentence naming the holder.
    """

    def __init__(self, out: "str | Path | Location", *, command: str = "editbench run", lease_s: float = LEASE_S):
        self.loc = location(out)
        self.path = self.loc.url(LOCK_NAME)
        self.command = command
        self.lease_s = lease_s
        self.held = False
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._holder: LockHolder | None = None

    def _me(self) -> LockHolder:
        psutil = import_psutil()
        created = psutil.Process().create_time() if psutil is not None else 0.0
        return LockHolder(pid=os.getpid(), host=socket.gethostname(),
                          since=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), command=self.command,
                          created=created, expires=time.time() + self.lease_s if self.loc.remote else 0.0)

    def _create(self) -> bool:
        self._holder = self._me()
        return self.loc.create_exclusive(json.dumps(asdict(self._holder)).encode("utf-8"), LOCK_NAME)

    def _renew(self) -> None:
        """Extend the lease every third of it, while the lock is still ours (a holder paused past its lease
        may have been taken over: then it stops renewing rather than overwrite the new holder's lock)."""
        while not self._stop.wait(self.lease_s / 3):
            mine = self._holder
            assert mine is not None    # renewing starts only once the lock is held
            try:
                now = read_lock(self.loc)
                if now is not None and (now.pid, now.host, now.since) != (mine.pid, mine.host, mine.since):
                    return
                self._holder = replace(mine, expires=time.time() + self.lease_s)
                self.loc.write_bytes(json.dumps(asdict(self._holder)).encode("utf-8"), LOCK_NAME)
            except Exception:  # noqa: BLE001 - a missed renewal is retried; the lease outlives two misses
                pass

    def acquire(self) -> "RunLock":
        for _ in range(3):
            if self._create():
                self.held = True
                if self.loc.remote:
                    self._renewer = threading.Thread(target=self._renew, name="editbench-lock-lease", daemon=True)
                    self._renewer.start()
                return self
            holder = read_lock(self.loc)
            if holder is None:
                # Just being written by its creator, or unreadable: wait a moment before judging it.
                time.sleep(0.2)
                holder = read_lock(self.loc)
                if holder is None:
                    raise RunLocked(f"{self.path} exists but cannot be read; another editbench process may be "
                                    "writing this run (remove the file if none is).")
            if not holder.is_dead():
                raise RunLocked(f"{self.loc} is being written by another editbench process, "
                                f"{holder.describe()}; wait for it to finish or choose another --out.")
            if self.loc.remote:   # an expired lease: remove it unless it was renewed meanwhile
                if read_lock(self.loc) == holder:
                    self.loc.delete(LOCK_NAME)
                continue
            # Stale: move it aside (only one of several racing takers succeeds), then create ours.
            local = Path(self.loc.key(LOCK_NAME))
            try:
                os.replace(local, local.with_name(f"{LOCK_NAME}.stale-{uuid.uuid4().hex[:8]}"))
            except FileNotFoundError:
                pass
            for stale in local.parent.glob(f"{LOCK_NAME}.stale-*"):
                stale.unlink(missing_ok=True)
        raise RunLocked(f"could not take the lock {self.path}; another editbench process keeps taking it.")

    def release(self) -> None:
        if self.held:
            self._stop.set()
            if self._renewer is not None:
                self._renewer.join(timeout=5)
            holder = read_lock(self.loc)
            if holder is not None and holder.pid == os.getpid() and holder.host == socket.gethostname():
                self.loc.delete(LOCK_NAME)
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


# ---- run locations: a local directory or an object-store prefix ------------------------------------------

def is_uri(out: str | Path) -> bool:
    """True for an object-store location (``s3://bucket/prefix``, ``gs://...``); False for a local path."""
    s = str(out)
    return "://" in s and not s.startswith("file://")


class Location:
    """Where a run's state lives: a local directory or an object-store prefix, through ``pyarrow.fs``.

    Every node resolves the URI with its own credential and endpoint environment (``AWS_ENDPOINT_URL``,
    ``AWS_PROFILE``, an instance profile, ``GOOGLE_APPLICATION_CREDENTIALS``, ...); the URI itself carries
    no secret, so it can travel to actors and into run.json. Writes are single objects: locally through a
    temporary file and a rename, on an object store as one PUT (an object appears whole or not at all, and
    nothing is renamed, since a rename there is a copy plus a delete).
    """

    def __init__(self, out: str | Path):
        from pyarrow import fs

        self.remote = is_uri(out)
        if self.remote:
            self.uri = str(out).rstrip("/")
            try:
                self.fs, root = fs.FileSystem.from_uri(self.uri)
            except Exception as e:  # noqa: BLE001 - pyarrow raises ArrowInvalid/OSError for an unusable URI
                raise EditbenchError(f"output location {self.uri} cannot be opened: {e}".replace("\n", " ")) from None
            self.root = root.rstrip("/")
        else:
            self.uri = str(out)
            self.fs, self.root = fs.LocalFileSystem(), str(Path(out).resolve())

    def __str__(self) -> str:
        return self.uri

    def _parts(self, parts: tuple[str, ...]) -> list[str]:
        out = []
        for p in "/".join(parts).split("/"):
            if p in ("", "."):
                continue
            if p == ".." or "\x00" in p:
                raise EditbenchError(f"path {'/'.join(parts)!r} escapes the run location {self.uri}.")
            out.append(p)
        return out

    def key(self, *parts: str) -> str:
        """The file system path of ``parts`` under the root (checked to stay under it)."""
        return "/".join([self.root, *self._parts(parts)])

    def url(self, *parts: str) -> str:
        """``parts`` as a URI or local path, for messages."""
        return "/".join([self.uri, *self._parts(parts)])

    def exists(self, *parts: str) -> bool:
        from pyarrow import fs

        return self.fs.get_file_info(self.key(*parts)).type == fs.FileType.File

    def read_bytes(self, *parts: str) -> bytes:
        with self.fs.open_input_stream(self.key(*parts)) as f:
            return f.read()

    def write_bytes(self, data: bytes, *parts: str) -> str:
        """Write one object/file whole; returns its URL. Local writes go through a temporary file."""
        if not self.remote:
            path = Path(self.key(*parts))
            path.parent.mkdir(parents=True, exist_ok=True)
            return str(atomic_write_bytes(path, data))
        try:
            with self.fs.open_output_stream(self.key(*parts)) as f:
                f.write(data)
        except OSError as e:
            raise InfrastructureError(f"cannot write {self.url(*parts)}: {e}".replace("\n", " ") + "; the rows "
                                      "computed so far are kept and `--resume` retries the rest.") from None
        return self.url(*parts)

    def list(self, *parts: str) -> builtins.list[str]:
        """Names of the files directly under ``parts`` (none when it does not exist)."""
        from pyarrow import fs

        sel = fs.FileSelector(self.key(*parts), allow_not_found=True, recursive=False)
        return sorted(i.base_name for i in self.fs.get_file_info(sel) if i.type == fs.FileType.File)

    def walk(self, *parts: str) -> builtins.list[str]:
        """Paths (relative to ``parts``) of every file below ``parts``."""
        from pyarrow import fs

        base = self.key(*parts)
        sel = fs.FileSelector(base, allow_not_found=True, recursive=True)
        return sorted(i.path[len(base) + 1:] for i in self.fs.get_file_info(sel) if i.type == fs.FileType.File)

    def delete(self, *parts: str) -> None:
        try:
            self.fs.delete_file(self.key(*parts))
        except FileNotFoundError:
            pass

    def create_exclusive(self, data: bytes, *parts: str) -> bool:
        """Create ``parts`` only if it does not exist (False if it does): ``O_CREAT | O_EXCL`` locally, a
        conditional PUT (``If-None-Match: *``) on S3. Other object stores are refused for now."""
        if not self.remote:
            path = Path(self.key(*parts))
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return False
            except OSError as e:
                raise infrastructure_error(e, path) or e from None
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            return True
        if not self.uri.startswith("s3://"):
            raise EditbenchError(f"{self.uri}: the run lock needs a conditional create, implemented for s3:// "
                                 "(If-None-Match) and local paths only.")
        bucket, _, key = self.key(*parts).partition("/")
        try:
            _s3_client().put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")
        except Exception as e:  # noqa: BLE001 - botocore ClientError
            code = getattr(e, "response", {}).get("Error", {}).get("Code")
            if code in ("PreconditionFailed", "ConditionalRequestConflict", "412"):
                return False
            raise InfrastructureError(f"cannot create {self.url(*parts)}: {one_line_error(e)}") from None
        return True


def one_line_error(e: BaseException) -> str:
    return " ".join(f"{type(e).__name__}: {e}".split())[:500]


def _s3_client():
    """A boto3 S3 client configured from this process's environment only (AWS_ENDPOINT_URL, AWS_PROFILE,
    AWS_* keys or an instance profile), as pyarrow's S3 file system is."""
    try:
        import boto3
    except ImportError:
        raise EditbenchError("the run lock on s3:// needs boto3 (pip install boto3).") from None
    return boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"))


def location(out: "str | Path | Location") -> Location:
    return out if isinstance(out, Location) else Location(out)


REPORT_INPUTS = ("run.json", "results/", "outputs/", LOCK_NAME)


@contextmanager
def staged(out: "str | Path", *, outputs: bool = True):
    """A local directory holding the run at ``out``: ``out`` itself when it is local; for an object-store
    run a temporary copy (run.json, results/, and outputs/ unless ``outputs=False``), whose new files
    (leaderboard, gate files, report pages) are uploaded back to ``out`` at the end. Report code reads and
    writes local files only through this."""
    if not is_uri(out):
        yield Path(out)
        return
    import tempfile

    loc = location(out)
    with tempfile.TemporaryDirectory(prefix="editbench-stage-") as tmp:
        root = Path(tmp) / "run"
        for rel in loc.walk():
            if not outputs and rel.startswith("outputs/"):
                continue
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(loc.read_bytes(rel))
        root.mkdir(exist_ok=True)
        before = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
        try:
            yield root
        except EditbenchError as e:   # name the location, not its temporary copy
            raise type(e)(str(e).replace(str(root), loc.uri)) from None
        for p in sorted(root.rglob("*")):
            rel = p.relative_to(root).as_posix()
            if not p.is_file() or rel.startswith(REPORT_INPUTS) or before.get(p) == p.stat().st_mtime_ns:
                continue
            loc.write_bytes(p.read_bytes(), rel)
