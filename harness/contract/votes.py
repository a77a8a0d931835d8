"""Pairwise votes as data: the append-only ``<run>/votes/*.jsonl`` files of a run.

One file per writer (an arena server session, a judge run), never shared, never rewritten: each vote is
one JSON object on one line, written with a single ``write`` on an ``O_APPEND`` descriptor, then
``fsync``'d before the vote is acknowledged, so killing the writer loses nothing already answered.
Reading merges every ``*.jsonl`` file of ``<run>/votes/`` (several sessions, raters, judges).

A vote (field: meaning)::

    {"schema": 1,                        # format version
     "rater": "alice",                   # who voted; a judge writes "judge:<model>"
     "time": "2026-01-02T03:04:05.678Z", # UTC, ISO 8601
     "task_id": "t07", "seed": 0,        # the row key shared by both outputs
     "left": "sd-inpaint",               # pipeline shown on the left (row key: task_id, left, seed)
     "right": "lama",                    # pipeline shown on the right
     "answer": "left",                   # left | right | tie | both_bad
     "reason": "seam visible on the right",   # optional free text ("" when none)
     "run_id": "..."}                    # optional: the run the rows came from

``left``/``right`` are both the two rows' keys and the shown order. A writer may add fields of its own
(the pairwise judge adds ``protocol`` and ``model_reported``); readers ignore them. A file name is a safe name
(:data:`harness.core.storage.SAFE_NAME`) ending in ``.jsonl``; the file lies in ``<run>/votes/``
(:func:`harness.core.storage.confined`).
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from harness.core.errors import EditbenchError
from harness.core.storage import check_name, confined, infrastructure_error

VOTES_DIR = "votes"
SCHEMA = 1
ANSWERS = ("left", "right", "tie", "both_bad")
MAX_RATER_LEN = 120
MAX_REASON_LEN = 2000


@dataclass(frozen=True)
class Vote:
    """One pairwise judgment of two outputs of the same task and seed (see the module docstring)."""

    rater: str
    time: str
    task_id: str
    seed: int
    left: str
    right: str
    answer: str
    reason: str = ""
    run_id: str | None = None
    schema: int = SCHEMA

    @property
    def item(self) -> tuple[str, int, str, str]:
        """The judged item, independent of the shown order: (task_id, seed, first pipeline, second)."""
        a, b = sorted((self.left, self.right))
        return (self.task_id, self.seed, a, b)

    @property
    def winner(self) -> str | None:
        """The preferred pipeline, or None for tie / both_bad."""
        return {"left": self.left, "right": self.right}.get(self.answer)


def vote_problem(v: Vote) -> str | None:
    """Why ``v`` is not a valid vote, or None."""
    if not isinstance(v.rater, str) or not v.rater.strip() or len(v.rater) > MAX_RATER_LEN \
            or any(ord(c) < 32 for c in v.rater):
        return f"rater {v.rater!r} must be 1-{MAX_RATER_LEN} printable characters"
    if v.answer not in ANSWERS:
        return f"answer {v.answer!r} is not one of {', '.join(ANSWERS)}"
    for what, value in (("task_id", v.task_id), ("left", v.left), ("right", v.right)):
        if not isinstance(value, str) or not value:
            return f"{what} must be a non-empty string"
    if v.left == v.right:
        return f"left and right are the same pipeline {v.left!r}"
    if not isinstance(v.seed, int) or isinstance(v.seed, bool):
        return f"seed {v.seed!r} is not an integer"
    if not isinstance(v.reason, str) or len(v.reason) > MAX_REASON_LEN:
        return f"reason must be text of at most {MAX_REASON_LEN} characters"
    if not isinstance(v.time, str) or not v.time:
        return "time must be an ISO 8601 string"
    return None


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_session_name(prefix: str = "arena") -> str:
    """A fresh vote-file stem: ``<prefix>-<UTC stamp>-<pid>-<random>`` (one writer per file)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return check_name(f"{prefix}-{stamp}-{os.getpid()}-{uuid.uuid4().hex[:8]}", what="vote file", where="votes")


class VoteWriter:
    """The one writer of ``<run>/votes/<name>.jsonl``: :meth:`append` returns once the vote is on disk."""

    def __init__(self, run_dir: str | Path, name: str | None = None):
        name = check_name(name or new_session_name(), what="vote file name", where="votes")
        folder = confined(run_dir, VOTES_DIR)
        self.path = confined(run_dir, VOTES_DIR, f"{name}.jsonl")
        self._lock = threading.Lock()
        try:
            folder.mkdir(exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o644)
            _fsync_dir(folder)
        except FileExistsError:
            raise EditbenchError(f"vote file {self.path} exists already; each writer has its own file.") from None
        except OSError as e:
            raise infrastructure_error(e, self.path) or EditbenchError(
                f"cannot create {self.path}: {e.strerror}.") from None

    def append(self, vote: Vote) -> None:
        """Write ``vote`` as one line, flushed and fsync'd (EditbenchError for an invalid vote)."""
        problem = vote_problem(vote)
        if problem:
            raise EditbenchError(f"vote refused: {problem}.")
        line = (json.dumps(asdict(vote), ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
        with self._lock:
            try:
                written = os.write(self._fd, line)
                if written != len(line):
                    raise OSError(28, "short write", str(self.path))
                os.fsync(self._fd)
            except OSError as e:
                raise infrastructure_error(e, self.path) or EditbenchError(
                    f"cannot write a vote to {self.path}: {e.strerror}.") from None

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> "VoteWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def parse_vote(obj: object, *, where: str) -> Vote:
    """A :class:`Vote` from one decoded JSON line; EditbenchError naming ``where`` when it is not one."""
    if not isinstance(obj, dict):
        raise EditbenchError(f"{where}: a vote must be a JSON object.")
    known = set(Vote.__dataclass_fields__)
    missing = [k for k in ("rater", "time", "task_id", "seed", "left", "right", "answer") if k not in obj]
    if missing:
        raise EditbenchError(f"{where}: the vote lacks {', '.join(missing)}.")
    # other fields a writer adds (a judge's protocol, model_reported) stay in the file and are not read here
    v = Vote(**{k: val for k, val in obj.items() if k in known} | {"reason": obj.get("reason") or ""})
    problem = vote_problem(v)
    if problem:
        raise EditbenchError(f"{where}: {problem}.")
    if v.schema != SCHEMA:
        raise EditbenchError(f"{where}: vote schema {v.schema!r} is not {SCHEMA}.")
    return v


def read_vote_file(path: str | Path) -> tuple[list[Vote], int]:
    """(votes, torn) of one file: a last line without its newline is a write cut short by a crash and is
    left out (``torn`` = 1); any other unreadable line is an EditbenchError naming file and line."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise EditbenchError(f"cannot read vote file {path}: {e.strerror}.") from None
    lines = data.split(b"\n")
    torn = 1 if lines and lines[-1].strip() else 0
    votes = []
    for i, raw in enumerate(lines[:-1], start=1):
        if not raw.strip():
            continue
        where = f"{path}:{i}"
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise EditbenchError(f"{where}: not a JSON line ({e.__class__.__name__}).") from None
        votes.append(parse_vote(obj, where=where))
    return votes, torn


def read_votes(run_dir: str | Path) -> list[Vote]:
    """Every vote of ``<run>/votes/*.jsonl`` (all sessions and raters), ordered by time then file; [] when
    the run has no votes folder."""
    folder = Path(run_dir) / VOTES_DIR
    if not folder.is_dir():
        return []
    votes: list[Vote] = []
    for path in sorted(folder.glob("*.jsonl")):
        check_name(path.stem, what="vote file name", where=str(folder))
        votes += read_vote_file(confined(run_dir, VOTES_DIR, path.name))[0]
    return sorted(votes, key=lambda v: v.time)


def make_vote(*, rater: str, task_id: str, seed: int, left: str, right: str, answer: str, reason: str = "",
              run_id: str | None = None) -> Vote:
    """A vote stamped with the current UTC time."""
    return Vote(rater=rater.strip(), time=now_iso(), task_id=task_id, seed=int(seed), left=left, right=right,
                answer=answer, reason=(reason or "").strip(), run_id=run_id)


__all__ = ["ANSWERS", "VOTES_DIR", "Vote", "VoteWriter", "make_vote", "parse_vote", "read_vote_file", "read_votes",
           "vote_problem"]
