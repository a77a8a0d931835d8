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
import functools
import json
import os
import re
import socket
import sys
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


def write_new(path: str | Path, data: bytes) -> None:
    """Create ``path`` and write ``data``: ``O_CREAT | O_EXCL | O_NOFOLLOW``, so an existing file or a
    symbolic link planted at that name is never written through."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def no_links_below(root: str | Path, path: str | Path) -> Path:
    """``path``, refused (EditbenchError) unless it lies under ``root`` and no component between them (the
    last included) is a symbolic link: nothing is written through a link planted inside a run."""
    root, path = Path(os.path.abspath(root)), Path(os.path.abspath(path))
    if not path.is_relative_to(root):
        raise EditbenchError(f"path {path} lies outside the run directory {root}.")
    cur = root
    for part in path.relative_to(root).parts:
        cur = cur / part
        if cur.is_symlink():
            raise EditbenchError(f"{cur} is a symbolic link; editbench writes nothing through links inside the run "
                                 f"directory {root} (remove it).")
    return path


def atomic_write(path: str | Path, write: Callable[[Path], object], *, root: str | Path | None = None) -> Path:
    """Write ``path`` through a temporary file beside it and a rename, so readers never see half a file:
    the temporary file gets a unique dot-name (which every reader of a run skips) and is created with
    ``O_EXCL | O_NOFOLLOW`` before ``write(tmp)`` fills it, so nothing planted at that name is written
    through. With ``root``, no component of ``path`` below ``root`` may be a symbolic link. On any failure
    the temporary file is removed and the exception passes through unchanged."""
    path = Path(path)
    if root is not None:
        no_links_below(root, path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write_new(tmp, b"")      # reserve the unique name: never an existing file or a link
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes, *, root: str | Path | None = None) -> Path:
    """:func:`atomic_write` of ``data``; a storage failure (disk full, permissions) is an
    :class:`InfrastructureError` naming ``path``."""
    try:
        return atomic_write(path, lambda tmp: tmp.write_bytes(data), root=root)
    except OSError as e:
        raise infrastructure_error(e, path) or e from None


def atomic_write_text(path: str | Path, text: str, *, root: str | Path | None = None) -> Path:
    """:func:`atomic_write_bytes` of ``text`` in UTF-8."""
    return atomic_write_bytes(path, text.encode("utf-8"), root=root)


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
    token: str = ""           # unique to one acquisition: a takeover gives the lock another token

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


class LockLost(InfrastructureError):
    """This process no longer holds the run's lock (its lease could not be renewed in time, or another
    process took it over): it must not write to the run again."""


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
    ``If-None-Match: *`` on S3), which holds the holder's pid, host, start time, command and a token
    unique to this acquisition. Any live lock refuses the second writer with one sentence naming the holder.

    Locally a lock whose holder is dead (same host, pid gone or reused) is taken over under an ``flock``
    on ``<out>/.editbench.lock.takeover``: the taker re-reads the lock there and replaces it only if it is
    still the dead holder's, so of several racing takers exactly one wins.

    On an object store the lock is a lease of ``lease_s`` seconds: a thread renews it every third of the
    lease with a compare-and-swap (``If-Match`` on the lock's ETag), and a lock whose lease ran out is
    taken over with the same compare-and-swap. Fencing: before every write to the run the writer calls
    :meth:`check`, which raises :class:`LockLost` once the lease was taken over or has not been renewed
    for three quarters of its life (measured on this process's monotonic clock, which runs on while the
    process is stopped), so a holder that could not renew stops writing before anyone may take the lock.
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
        self._etag: str | None = None          # object stores: ETag of our lock object
        self._valid_until = 0.0                # object stores: monotonic time our lease surely ends
        self._lost: str | None = None          # why the lock is no longer ours

    def _me(self) -> LockHolder:
        psutil = import_psutil()
        created = psutil.Process().create_time() if psutil is not None else 0.0
        return LockHolder(pid=os.getpid(), host=socket.gethostname(),
                          since=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), command=self.command,
                          created=created, expires=time.time() + self.lease_s if self.loc.remote else 0.0,
                          token=uuid.uuid4().hex)

    def _create(self, *, replacing: str | None = None) -> bool:
        """Write our lock if there is none (or, on an object store, if it still has ETag ``replacing``)."""
        if self.loc.remote and self.loc.uri.startswith("s3://"):
            _s3_client()                  # built before the lease's clock starts
        t0 = time.monotonic()
        self._holder = self._me()
        data = json.dumps(asdict(self._holder)).encode("utf-8")
        if not self.loc.remote:
            return self.loc.create_exclusive(data, LOCK_NAME)
        etag = self.loc.put_if(data, LOCK_NAME, if_match=replacing)
        if etag is None:
            return False
        self._etag, self._valid_until = etag, t0 + self.lease_s
        return True

    def _renew(self) -> None:
        """Extend the lease every third of it with a compare-and-swap on our ETag; a lock that is no longer
        ours (taken over while this process was stopped) ends the renewals and fences every later write."""
        while not self._stop.wait(self.lease_s / 3):
            if self._lost:
                return
            t0 = time.monotonic()
            if t0 >= self._valid_until:   # ran out (e.g. stopped past it): someone may hold it now
                self._lost = f"its lease of {self.lease_s:g} s ran out before it could be renewed"
                return
            mine = self._holder
            assert mine is not None    # renewing starts only once the lock is held
            try:
                holder = replace(mine, expires=time.time() + self.lease_s)
                etag = self.loc.put_if(json.dumps(asdict(holder)).encode("utf-8"), LOCK_NAME, if_match=self._etag)
            except Exception:  # noqa: BLE001 - a missed renewal is retried; check() fences after two misses
                continue
            if etag is None:
                self._lost = "another process took the run lock over"
                return
            self._holder, self._etag, self._valid_until = holder, etag, t0 + self.lease_s

    def check(self) -> None:
        """Raise :class:`LockLost` unless this process still surely holds the lock (call before each write)."""
        if not self.held:
            raise LockLost(f"{self.path} is not held by this process; it stopped writing the run.")
        if self.loc.remote and not self._lost and time.monotonic() > self._valid_until - self.lease_s / 4:
            self._lost = f"its lease of {self.lease_s:g} s could not be renewed in time"
        if self._lost:
            raise LockLost(f"this process no longer holds the run lock {self.path} ({self._lost}); it stopped "
                           "writing so that another process can finish the run with --resume.")

    def acquire(self) -> "RunLock":
        for _ in range(3):
            if self._create():
                return self._held()
            holder, etag = self._read()
            if holder is None:
                # Just being written by its creator, or unreadable: wait a moment before judging it.
                time.sleep(0.2)
                holder, etag = self._read()
                if holder is None:
                    raise RunLocked(f"{self.path} exists but cannot be read; another editbench process may be "
                                    "writing this run (remove the file if none is).")
            if not holder.is_dead():
                raise RunLocked(f"{self.loc} is being written by another editbench process, "
                                f"{holder.describe()}; wait for it to finish or choose another --out.")
            if self.loc.remote:   # an expired lease: replace it unless it changed meanwhile (one taker wins)
                if etag is not None and self._create(replacing=etag):
                    return self._held()
                continue
            if self._take_over_local(holder):
                return self._held()
        raise RunLocked(f"could not take the lock {self.path}; another editbench process keeps taking it.")

    def _held(self) -> "RunLock":
        self.held, self._lost = True, None
        if self.loc.remote:
            self._renewer = threading.Thread(target=self._renew, name="editbench-lock-lease", daemon=True)
            self._renewer.start()
        return self

    def _read(self) -> tuple[LockHolder | None, str | None]:
        if not self.loc.remote:
            return read_lock(self.loc), None
        got = self.loc.read_if_exists(LOCK_NAME)
        if got is None:
            return None, None
        try:
            return LockHolder(**json.loads(got[0].decode("utf-8"))), got[1]
        except (ValueError, TypeError):
            return None, got[1]

    def _take_over_local(self, dead: LockHolder) -> bool:
        """Replace the dead holder's lock by ours, under an flock every taker takes: only while the lock
        file still holds ``dead`` is it removed, so two racers never both succeed."""
        import fcntl

        local = Path(self.loc.key(LOCK_NAME))
        guard = os.open(local.with_name(f"{LOCK_NAME}.takeover"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(guard, fcntl.LOCK_EX)
            if read_lock(self.loc) != dead:
                return False          # taken (or released) by someone else meanwhile: judge it again
            local.unlink(missing_ok=True)
            return self._create()
        finally:
            os.close(guard)           # closing releases the flock

    def release(self) -> None:
        if self.held:
            self._stop.set()
            if self._renewer is not None:
                self._renewer.join(timeout=5)
            self.held = False
            try:
                holder, _ = self._read()
                if holder is not None and self._holder is not None and holder.token == self._holder.token \
                        and not self._lost:
                    self.loc.delete(LOCK_NAME)
            except (OSError, InfrastructureError) as e:   # a read-only or vanished location: say so, once
                print(f"editbench: warning: could not remove the run lock {self.path} "
                      f"({getattr(e, 'strerror', None) or e}); remove it once no editbench process writes the run.",
                      file=sys.stderr)

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

OUT_SCHEMES = ("s3", "gs")     # object stores a run location may name
MAX_OUT_LEN = 1024             # characters of an output location
PROBE_TIMEOUT_S = 15.0         # an object store that does not answer a probe write within this is unreachable
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._\-]{1,220}[a-z0-9]")


def check_out(out: str | Path, *, what: str = "--out") -> str | Path:
    """``out`` if it is a usable run location (a local path, or ``s3://BUCKET[/PREFIX]`` /
    ``gs://BUCKET[/PREFIX]``), else one sentence (EditbenchError): empty, a NUL byte, too long, an unknown
    scheme, ``file://``, or a malformed URI such as ``s3:/bucket`` or ``s3://``."""
    s = str(out)
    if not s.strip():
        raise EditbenchError(f"{what} is empty; give a directory or an object-store URI (s3://BUCKET/PREFIX).")
    if "\x00" in s or len(s) > MAX_OUT_LEN:
        raise EditbenchError(f"{what} {s[:60]!r}... is not a usable location (a NUL byte, or over {MAX_OUT_LEN} "
                             "characters).")
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.\-]*):", s)
    if scheme is None:
        return out
    name = scheme.group(1).lower()
    if name == "file":
        raise EditbenchError(f"{what} {s}: give a local directory as a plain path, without file://.")
    if name not in OUT_SCHEMES:
        raise EditbenchError(f"{what} {s} names the scheme {name}:, which editbench does not write to; give a "
                             f"local directory or an {' / '.join(f'{x}://' for x in OUT_SCHEMES)} URI (a local "
                             f"folder whose name has a colon: write ./{s}).")
    rest = s[len(name) + 1:]
    bucket = rest[2:].split("/", 1)[0] if rest.startswith("//") else ""
    if not rest.startswith("//") or not _BUCKET.fullmatch(bucket):
        raise EditbenchError(f"{what} {s} is not a valid {name}:// URI; write {name}://BUCKET/PREFIX.")
    return out


def probe_writable(loc: "Location", *, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Write and delete one empty object at ``loc`` once, within ``timeout_s`` (an unreachable object store
    can make a client retry for minutes); failure or silence is one sentence."""
    name = f".write-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    failure: list[BaseException] = []

    def attempt() -> None:
        try:
            loc.write_bytes(b"", name)
            loc.delete(name)
        except BaseException as e:  # noqa: BLE001 - reported below
            failure.append(e)

    worker = threading.Thread(target=attempt, name="editbench-out-probe", daemon=True)
    worker.start()
    worker.join(timeout_s)
    what = "output location" if loc.remote else "output directory"
    if worker.is_alive():
        raise EditbenchError(f"{what} {loc} did not answer a test write within {timeout_s:g} s; check the network "
                             "and the credentials for it.")
    if failure:
        e = failure[0]
        raise EditbenchError(f"{what} {loc} is not writable: {getattr(e, 'strerror', None) or e}.".replace("\n", " "))


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

    def put_if(self, data: bytes, *parts: str, if_match: str | None = None) -> str | None:
        """S3 compare-and-swap: write ``parts`` if it does not exist (``if_match`` None) or still has the
        ETag ``if_match``; returns the new ETag, or None when the condition failed."""
        if not self.uri.startswith("s3://"):
            raise EditbenchError(f"{self.uri}: the run lock needs a conditional write, implemented for s3:// "
                                 "(If-None-Match, If-Match) and local paths only.")
        bucket, _, key = self.key(*parts).partition("/")
        cond = {"IfMatch": if_match} if if_match is not None else {"IfNoneMatch": "*"}
        try:
            return _s3_client().put_object(Bucket=bucket, Key=key, Body=data, **cond)["ETag"]
        except Exception as e:  # noqa: BLE001 - botocore ClientError
            code = getattr(e, "response", {}).get("Error", {}).get("Code")
            if code in ("PreconditionFailed", "ConditionalRequestConflict", "412", "NoSuchKey", "404"):
                return None
            raise InfrastructureError(f"cannot write {self.url(*parts)}: {one_line_error(e)}") from None

    def read_if_exists(self, *parts: str) -> tuple[bytes, str] | None:
        """S3: the bytes and ETag of ``parts``, or None when it does not exist."""
        bucket, _, key = self.key(*parts).partition("/")
        try:
            got = _s3_client().get_object(Bucket=bucket, Key=key)
            return got["Body"].read(), got["ETag"]
        except Exception as e:  # noqa: BLE001 - botocore ClientError
            if getattr(e, "response", {}).get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise InfrastructureError(f"cannot read {self.url(*parts)}: {one_line_error(e)}") from None


def one_line_error(e: BaseException) -> str:
    return " ".join(f"{type(e).__name__}: {e}".split())[:500]


def _s3_client():
    """A boto3 S3 client configured from this process's environment only (AWS_ENDPOINT_URL, AWS_PROFILE,
    AWS_* keys or an instance profile), as pyarrow's S3 file system is."""
    try:
        import boto3
    except ImportError:
        raise EditbenchError("the run lock on s3:// needs boto3 (pip install boto3).") from None
    return _cached_s3_client(boto3, os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"), os.getpid())


@functools.lru_cache(maxsize=4)
def _cached_s3_client(boto3, endpoint_url: str | None, pid: int):
    """One client per endpoint and process (building one costs ~0.1-1 s, a large part of a short lease;
    boto3 clients are thread-safe, and a forked child builds its own)."""
    return boto3.client("s3", endpoint_url=endpoint_url)


def location(out: "str | Path | Location") -> Location:
    return out if isinstance(out, Location) else Location(out)


REPORT_INPUTS = ("run.json", "results/", "outputs/", LOCK_NAME)


@contextmanager
def staged(out: "str | Path", *, outputs: bool = True):
    """A local directory holding the run at ``out``: ``out`` itself when it is local; for an object-store
    run a temporary copy (run.json, results/, and outputs/ unless ``outputs=False``), whose new files
    (leaderboard, gate files, report pages) are uploaded back to ``out`` at the end. Report code reads and
    writes local files only through this."""
    check_out(out, what="location")
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
            if rel != LOCK_NAME and any(part.startswith(".") for part in rel.split("/")):
                continue          # leftovers (.part-*, .tmp) are not part of the run, as for the runner
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
