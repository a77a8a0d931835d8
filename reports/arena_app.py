"""``editbench arena``: a blind side-by-side voting page served from finished runs (Starlette + uvicorn).

The page shows one task and seed at a time: the source with the mask outlined, the prompt or
instruction, and the outputs of two pipelines in random left/right order, never their names. A vote
(left / right / tie / both bad, buttons or keys 1 2 3 4 / arrow keys) is appended to
``<first run>/votes/<session>.jsonl`` and fsync'd before the page moves on (:mod:`harness.contract.votes`).

Blindness and safety: the browser sees only an opaque token per shown pair; images are fetched by token
(outputs confined to their run, sources through the suite's own data-root check) and re-encoded as PNG
(no file metadata passes); every text reaches the page through ``textContent``; the page sets a
Content-Security-Policy that allows only its own script, style and images.
"""

from __future__ import annotations

import io
import random
import secrets
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image
from scipy.ndimage import binary_dilation, binary_erosion
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from harness.contract.votes import ANSWERS, Vote, VoteWriter, make_vote, read_votes, vote_problem
from harness.core.errors import EditbenchError
from harness.core.imageio import load_image, load_mask
from reports.arena_page import APP_JS, CSS, PAGE
from reports.arena_pairs import Item, Pool, load_pool, next_item
from tasks.loading import load_suite

MAX_PENDING = 2000          # shown-but-unanswered pairs remembered (per server)
OUTLINE_RGB = (255, 0, 255)


@dataclass(frozen=True)
class Shown:
    item: Item
    left: str
    right: str
    rater: str


def _suite_tasks(meta: dict) -> tuple[object, dict]:
    src = (meta.get("suite") or {}).get("source")
    if not src or not Path(src).is_file():
        return None, {}
    try:
        suite = load_suite(src)
    except EditbenchError:
        return None, {}
    return suite, {t.task_id: t for t in suite.tasks}


def outline(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``image`` (H, W, 3 uint8) with the border of ``mask`` (H, W, 1 = edit) drawn in magenta, about
    1/200 of the short side thick."""
    m = np.asarray(mask) > 0.5
    width = max(1, round(min(m.shape) / 200))
    edge = binary_dilation(m, iterations=width) & ~binary_erosion(m, iterations=width)
    out = np.array(image, copy=True)
    out[edge] = OUTLINE_RGB
    return out


def png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(arr, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


class Arena:
    """The state of one arena server: the pool of items, the votes so far, the vote file, the pending pairs."""

    def __init__(self, pool: Pool, *, prefer_disagreement: bool = False, seed: int | None = None,
                 session: str | None = None):
        self.pool = pool
        self.store = pool.runs[0]
        self.prefer_disagreement = prefer_disagreement
        self.rng = random.Random(seed if seed is not None else secrets.randbits(64))
        self.votes: list[Vote] = read_votes(self.store)
        self.writer = VoteWriter(self.store, session)
        self.pending: OrderedDict[str, Shown] = OrderedDict()
        self.suite, self.tasks = _suite_tasks(pool.metas[0])
        self._lock = threading.Lock()

    def next(self, rater: str) -> dict:
        """The next pair for ``rater`` as the page's JSON (no pipeline names), or ``{"done": true}``."""
        problem = vote_problem(make_vote(rater=rater, task_id="t", seed=0, left="a", right="b", answer="tie"))
        if problem:
            raise EditbenchError(problem)
        with self._lock:
            held = frozenset(s.item.key for s in self.pending.values() if s.rater == rater.strip())
            item = next_item(self.pool.items, self.votes, rater=rater.strip(), rng=self.rng,
                             prefer_disagreement=self.prefer_disagreement, exclude=held)
            if item is None:
                item = next_item(self.pool.items, self.votes, rater=rater.strip(), rng=self.rng,
                                 prefer_disagreement=self.prefer_disagreement)
            if item is None:
                return {"done": True, "votes": self.count(rater)}
            left, right = (item.a, item.b) if self.rng.random() < 0.5 else (item.b, item.a)
            token = secrets.token_urlsafe(12)
            self.pending[token] = Shown(item, left, right, rater.strip())
            while len(self.pending) > MAX_PENDING:
                self.pending.popitem(last=False)
        task = self.tasks.get(item.task_id)
        text = ""
        kind = ""
        if task is not None:
            kind = task.kind
            text = task.instruction or task.prompt or ""
        return {"done": False, "token": token, "task_id": item.task_id, "seed": item.seed, "kind": kind,
                "text": text, "has_source": task is not None and bool(task.image),
                "votes": self.count(rater), "total": len(self.pool.items)}

    def count(self, rater: str) -> int:
        return sum(v.rater == rater.strip() for v in self.votes)

    def vote(self, token: str, *, rater: str, answer: str, reason: str = "") -> Vote:
        """Record the answer to a shown pair; returns once it is on disk."""
        with self._lock:
            shown = self.pending.get(token)
            if shown is None:
                raise KeyError(token)
            if answer not in ANSWERS:
                raise EditbenchError(f"answer {answer!r} is not one of {', '.join(ANSWERS)}")
            if rater.strip() != shown.rater:
                raise EditbenchError("this pair was shown to another rater")
            it = shown.item
            row = self.pool.rows[(it.task_id, it.seed, shown.left)]
            other = self.pool.rows[(it.task_id, it.seed, shown.right)]
            v = make_vote(rater=rater, task_id=it.task_id, seed=it.seed, left=shown.left, right=shown.right,
                          answer=answer, reason=reason, run_id=row.run_id if row.run_id == other.run_id else None)
            self.writer.append(v)               # on disk before it counts
            self.votes.append(v)
            del self.pending[token]
            return v

    def image(self, token: str, which: str) -> bytes:
        """PNG of the shown pair's ``left``, ``right`` or ``source`` (mask outlined)."""
        shown = self.pending.get(token)
        if shown is None:
            raise KeyError(token)
        it = shown.item
        if which in ("left", "right"):
            pipeline = shown.left if which == "left" else shown.right
            return png_bytes(load_image(self.pool.rows[(it.task_id, it.seed, pipeline)].output))
        if which != "source":
            raise KeyError(which)
        task = self.tasks.get(it.task_id)
        if task is None or not task.image:
            raise KeyError(which)
        image = load_image(self.suite.resolve_path(task.image, field=f"tasks[{task.task_id}].image"))
        if task.mask is not None:
            m = task.mask if isinstance(task.mask, dict) else str(self.suite.resolve_path(task.mask, field="mask"))
            image = outline(image, load_mask(m, shape=image.shape[:2], where=f"task {task.task_id}"))
        return png_bytes(image)

    def close(self) -> None:
        self.writer.close()


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def make_app(arena: Arena):
    """The Starlette application serving ``arena``."""
    def page(_request: Request):
        return Response(PAGE, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)

    def script(_request: Request):
        return Response(APP_JS, media_type="text/javascript; charset=utf-8", headers=SECURITY_HEADERS)

    def style(_request: Request):
        return Response(CSS, media_type="text/css; charset=utf-8", headers=SECURITY_HEADERS)

    def api_next(request: Request):
        try:
            return JSONResponse(arena.next(request.query_params.get("rater", "")), headers=SECURITY_HEADERS)
        except EditbenchError as e:
            return JSONResponse({"error": str(e)}, status_code=400, headers=SECURITY_HEADERS)

    async def api_vote(request: Request):
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "the vote is not JSON"}, status_code=400, headers=SECURITY_HEADERS)
        if not isinstance(body, dict) or not all(isinstance(body.get(k, ""), str) for k in
                                                 ("token", "rater", "answer", "reason")):
            return JSONResponse({"error": "a vote is {token, rater, answer, reason} strings"}, status_code=400,
                                headers=SECURITY_HEADERS)
        try:
            v = arena.vote(body.get("token", ""), rater=body.get("rater", ""), answer=body.get("answer", ""),
                           reason=body.get("reason", ""))
        except KeyError:
            return JSONResponse({"error": "this pair is no longer open (answered, or the server restarted); "
                                          "showing a new one"}, status_code=409, headers=SECURITY_HEADERS)
        except EditbenchError as e:
            return JSONResponse({"error": str(e)}, status_code=400, headers=SECURITY_HEADERS)
        return JSONResponse({"ok": True, "votes": arena.count(v.rater)}, headers=SECURITY_HEADERS)

    def image(request: Request):
        try:
            data = arena.image(request.path_params["token"], request.path_params["which"])
        except KeyError:
            return Response("not found", status_code=404, media_type="text/plain", headers=SECURITY_HEADERS)
        except EditbenchError as e:
            print(f"editbench arena: {e}", file=sys.stderr)
            return Response("image unreadable", status_code=500, media_type="text/plain", headers=SECURITY_HEADERS)
        return Response(data, media_type="image/png", headers=SECURITY_HEADERS)

    return Starlette(routes=[
        Route("/", page), Route("/app.js", script), Route("/app.css", style),
        Route("/api/next", api_next), Route("/api/vote", api_vote, methods=["POST"]),
        Route("/img/{token}/{which}", image),
    ])


def serve(runs: Sequence[str | Path], *, host: str = "127.0.0.1", port: int = 8765,
          prefer_disagreement: bool = False, seed: int | None = None) -> None:
    """Serve the arena of ``runs`` until interrupted; votes go to ``<runs[0]>/votes/``."""
    import uvicorn

    arena = Arena(load_pool(runs), prefer_disagreement=prefer_disagreement, seed=seed)
    print(f"editbench arena: {len(arena.pool.items)} pairs of {len({p for *_, p in arena.pool.rows})} pipelines; "
          f"votes are appended to {arena.writer.path}", file=sys.stderr)
    print(f"editbench arena: open http://{host}:{port}/ (Ctrl-C stops; every answered vote is already on disk)",
          file=sys.stderr, flush=True)
    try:
        uvicorn.run(make_app(arena), host=host, port=port, log_level="warning", access_log=False)
    finally:
        arena.close()
