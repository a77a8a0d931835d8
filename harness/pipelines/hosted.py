"""Hosted edit services as pipelines: what every adapter of an HTTP editing API shares.

An adapter of one service (``gpt_image.py``) subclasses :class:`HostedEditPipeline` and implements
``connect(api_key)`` (build the client, its own retries off), ``sizes()`` (the sizes the service
accepts) and ``request(...)`` (one HTTP request, raising :class:`RequestFailed`). This module owns
the rest, identical across services:

- the endpoint and the API key, the operator's alone (``harness.core.credentials``): ``base_url`` and
  ``api_key_env`` are operator-only options, refused from a suite or run spec file; the key is read
  only from the environment variable named by ``api_key_env`` (checked before any work; never in
  run.json, rows, logs or messages: :func:`redact` over the whole text and every stored header);
- the size mapping (:func:`service_size`, :func:`fit`, :func:`unfit`): the canvas is letterboxed into
  the accepted size of the closest aspect ratio (scaled to fit, edge-padded, the padding kept), and the
  result is cropped back and resized to the canvas;
- retries (:func:`call_with_retries`): exponential backoff with full jitter on 429, 408/409, 5xx,
  timeouts and connection errors, never shorter than the service's ``Retry-After``;
- row columns (``Output.extras``): ``http_attempts`` (requests the service saw), ``http_status`` (of
  the last response; None when it never answered), ``request_id`` (the service's, of the last
  response) and ``cost_usd`` (from the price table in the options, :func:`price`).

Requests run concurrently on one actor (``concurrent = True``): up to ``PipelineSpec.concurrency``
jobs (default 8) at once on the actor's threads, so adapters keep per-job state local.
"""

from __future__ import annotations

import math
import os
import random
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np
from pydantic import Field, model_validator

from harness.core.credentials import endpoint, operator_only, operator_only_key_env
from harness.core.credentials import redact as redact_all
from harness.core.errors import EditbenchError
from harness.pipelines.base import Output, StageTimer
from harness.pipelines.editing import EDIT_TASK_OPTIONS, EditOptions, EditPipeline
from harness.pipelines.imaging import EditInputs, resize
from tasks.schema import Task

RETRYABLE_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))


class HostedOptions(EditOptions):
    """Options of every hosted adapter (connection, retries, prices); services add their own."""

    # Operator-only (harness.core.credentials): a suite or run spec file setting them is refused.
    base_url: str | None = operator_only(None)      # None: the client's default (its env var, else the service)
    api_key_env: str = operator_only_key_env("OPENAI_API_KEY")  # environment variable holding the API key
    timeout_s: float = Field(120.0, gt=0)           # per request; a request past it is retried
    max_attempts: int = Field(4, ge=1)              # requests per job, the first included
    backoff_s: float = Field(1.0, ge=0)             # ceiling of the first retry's wait; doubles per retry
    backoff_max_s: float = Field(30.0, ge=0)        # largest backoff ceiling
    max_retry_after_s: float = Field(120.0, ge=0)   # longest Retry-After honoured; a longer one fails the job
    size: str = "auto"                              # "WxH" the service accepts, or auto: closest aspect ratio
    # Price table (USD), as the service bills; cost_usd = per_size[size] (else per_image) + tokens.
    # None everywhere: cost_usd is NaN (unknown), never 0.
    price_per_image: float | None = Field(None, ge=0)
    price_per_size: dict[str, float] = Field(default_factory=dict)   # {"1024x1024": 0.042, ...}
    price_per_1m_input_tokens: float | None = Field(None, ge=0)
    price_per_1m_output_tokens: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _no_resolution(self):
        if self.resolution is not None:
            raise ValueError("hosted pipelines work at the service's sizes; set `size` instead of `resolution`")
        return self


class RequestFailed(Exception):
    """One request that did not return an image.

    ``status``: the HTTP status (None: no response, e.g. a timeout); ``retryable``: whether another
    request may succeed; ``retry_after``: seconds the service asked to wait; ``request_id``: the
    service's id of the request (None without a response); ``delivered``: False when the request
    never reached the service (no connection), so it is not counted in ``http_attempts``.
    """

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False,
                 retry_after: float | None = None, request_id: str | None = None, delivered: bool = True):
        super().__init__(message)
        self.status, self.retryable = status, retryable
        self.retry_after, self.request_id, self.delivered = retry_after, request_id, delivered


class HostedError(RuntimeError):
    """A job that failed after its attempts; ``extras`` are its row columns (attempts, status, id)."""

    def __init__(self, message: str, extras: dict[str, Any]):
        super().__init__(message)
        self.extras = extras


@dataclass
class Reply:
    """A successful response: the image (RGB uint8 at the requested size), status, id and token usage."""

    image: np.ndarray
    status: int = 200
    request_id: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` replaced (messages may quote what was sent)."""
    return redact_all(text, secret)


def parse_retry_after(headers) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (delta-seconds or an HTTP date); None if absent."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1e3)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def backoff_delay(retry: int, *, base: float, cap: float, retry_after: float | None,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number ``retry`` (1 = the second request).

    Full jitter (Brooker, "Exponential Backoff and Jitter", AWS 2015): uniform in
    [0, min(cap, base * 2**(retry - 1))], and never less than the service's ``retry_after``.
    """
    ceiling = min(cap, base * 2.0 ** (retry - 1))
    wait = (rng or random).uniform(0.0, ceiling)
    return max(wait, retry_after or 0.0)


def call_with_retries(send: Callable[[int], Reply], *, max_attempts: int, base: float, cap: float,
                      max_retry_after: float, sleep: Callable[[float], None] = time.sleep,
                      rng: random.Random | None = None, secret: str | None = None) -> tuple[Reply, dict]:
    """Call ``send(attempt)`` (attempt 1, 2, ...) until it returns, a failure is not retryable, or
    ``max_attempts`` tries were made. Returns the reply and its row columns ``{http_attempts,
    http_status, request_id}`` (``http_attempts``: requests that reached the service); raises
    :class:`HostedError` (message redacted of ``secret``) with the same columns for the last failure.
    """
    attempt = sent = 0
    while True:
        attempt += 1
        try:
            reply = send(attempt)
        except RequestFailed as e:
            sent += e.delivered
            extras = {"http_attempts": sent, "http_status": e.status, "request_id": redact(e.request_id, secret)}
            status = f"HTTP {e.status}" if e.status is not None else "no response"
            if not e.retryable or attempt >= max_attempts:
                tries = f"after {attempt} tries" if attempt > 1 else "on its only try"
                raise HostedError(redact(f"{e} ({status}, {tries})", secret), extras) from None
            if e.retry_after is not None and e.retry_after > max_retry_after:
                raise HostedError(redact(f"{e} ({status}); the service asked to retry after {e.retry_after:g} s, "
                                         f"more than max_retry_after_s={max_retry_after:g}", secret), extras) from None
            sleep(backoff_delay(attempt, base=base, cap=cap, retry_after=e.retry_after, rng=rng))
            continue
        return reply, {"http_attempts": sent + 1, "http_status": reply.status,
                       "request_id": redact(reply.request_id, secret)}


# ---- sizes ---------------------------------------------------------------------------------------

def parse_size(size: str) -> tuple[int, int]:
    """"WxH" -> (H, W)."""
    w, _, h = size.lower().partition("x")
    return int(h), int(w)


def service_size(hw: tuple[int, int], sizes: list[str]) -> str:
    """The accepted size ("WxH") for a canvas of (H, W): closest aspect ratio (log scale), then the
    smallest that covers the canvas' long side, else the largest."""
    h, w = hw
    aspect = math.log(w / h)

    def rank(s: str):
        sh, sw = parse_size(s)
        side = max(sh, sw)
        covers = side >= max(h, w)
        return round(abs(math.log(sw / sh) - aspect), 6), not covers, side if covers else -side

    return min(sizes, key=rank)


def fit(canvas: np.ndarray, mask: np.ndarray, hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """Letterbox ``canvas`` (RGB uint8) and bool ``mask`` into (H, W): scaled to fit, centred, the
    border edge-replicated and kept (mask False). Returns image, mask and the box (y0, x0, y1, x1)
    of the scaled canvas inside the result."""
    import cv2

    H, W = hw
    h, w = canvas.shape[:2]
    scale = min(H / h, W / w)
    sh, sw = max(1, min(H, round(h * scale))), max(1, min(W, round(w * scale)))
    y0, x0 = (H - sh) // 2, (W - sw) // 2
    img = cv2.copyMakeBorder(resize(canvas, (sh, sw)), y0, H - sh - y0, x0, W - sw - x0, cv2.BORDER_REPLICATE)
    m = np.zeros((H, W), bool)
    m[y0:y0 + sh, x0:x0 + sw] = resize(mask.astype(np.float32), (sh, sw)) > 0.5
    return img, m, (y0, x0, y0 + sh, x0 + sw)


def unfit(image: np.ndarray, box: tuple[int, int, int, int], hw: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`fit`: crop ``box`` out of the service's image and resize it to (H, W)."""
    y0, x0, y1, x1 = box
    return resize(np.ascontiguousarray(image[y0:y1, x0:x1]), hw)


def price(options: HostedOptions, size: str, reply: Reply) -> float:
    """USD one successful request costs by the options' price table; NaN when the table has no price."""
    parts = []
    per_image = options.price_per_size.get(size, options.price_per_image)
    if per_image is not None:
        parts.append(per_image)
    for rate, tokens in ((options.price_per_1m_input_tokens, reply.input_tokens),
                         (options.price_per_1m_output_tokens, reply.output_tokens)):
        if rate is not None:
            parts.append(rate * tokens / 1e6 if tokens is not None else math.nan)
    return float(sum(parts)) if parts else math.nan


class HostedEditPipeline(EditPipeline):
    """Base of the hosted adapters: key check, size mapping, retries, row columns and cost."""

    Options = HostedOptions
    task_options = EDIT_TASK_OPTIONS - {"resolution"}
    concurrent = True
    default_concurrency = 8
    service: ClassVar[str] = "the service"     # named in messages

    def __init__(self, spec):
        super().__init__(spec)
        self.client = None
        self._secret: str | None = None
        self._job = threading.local()          # per-job row columns, set by edit() on this thread
        size, priced = self.options.size, sorted(set(self.options.price_per_size) - set(self.sizes()))
        if size != "auto" and size not in self.sizes():
            raise EditbenchError(f"options of pipeline {spec.key}: size {size!r} is not one {self.service} accepts "
                                 f"for this model; use one of {self.sizes()} or auto.")
        if priced:
            raise EditbenchError(f"options of pipeline {spec.key}: price_per_size names sizes {priced} that "
                                 f"{self.service} does not take for this model; it takes {self.sizes()}.")

    # -- what a service adapter implements ---------------------------------------------------------
    def sizes(self) -> list[str]:  # pragma: no cover - interface
        """Sizes ("WxH") the service accepts with the current options."""
        raise NotImplementedError

    def connect(self, api_key: str):  # pragma: no cover - interface
        """Build the service's client with its own retries off."""
        raise NotImplementedError

    def request(self, image: np.ndarray, mask: np.ndarray, task: Task, *, size: str, attempt: int,
                client_request_id: str) -> Reply:  # pragma: no cover - interface
        """One request: ``image`` RGB uint8 and bool ``mask`` (True = edit) at ``size``; raise RequestFailed."""
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------------------
    def api_key(self) -> str:
        return endpoint(base_url=self.options.base_url, key_env=self.options.api_key_env,
                        what=f"pipeline {self.spec.key}").key

    def check(self) -> None:
        self.api_key()

    def load(self) -> None:
        self._secret = self.api_key()
        self.client = self.connect(self._secret)

    def resolved(self) -> dict[str, str]:
        return {"device": "remote"}

    def edit(self, inputs: EditInputs, task: Task, seed: int, timer: StageTimer) -> np.ndarray:
        o = self.options
        hw = inputs.canvas.shape[:2]
        size = o.size if o.size != "auto" else service_size(hw, self.sizes())
        with timer.stage("encode"):
            image, mask, box = fit(inputs.canvas, inputs.mask, parse_size(size))
        job = f"{re.sub(r'[^A-Za-z0-9._-]', '_', task.task_id)[:200]}:s{seed}:{os.urandom(4).hex()}"   # ASCII header
        with timer.stage("request"):
            reply, extras = call_with_retries(
                lambda n: self.request(image, mask, task, size=size, attempt=n, client_request_id=f"{job}:a{n}"),
                max_attempts=o.max_attempts, base=o.backoff_s, cap=o.backoff_max_s,
                max_retry_after=o.max_retry_after_s, secret=self._secret)
        self._job.extras = {**extras, "cost_usd": price(o, size, reply), "service_size": size}
        with timer.stage("decode"):
            if reply.image.shape[:2] != parse_size(size):
                raise HostedError(f"{self.service} returned an image of {reply.image.shape[1]}x{reply.image.shape[0]}, "
                                  f"not the requested {size}", self._job.extras)
            return unfit(reply.image, box, hw)

    def execute(self, task: Task, seed: int) -> Output:
        self._job.extras = {}
        output = super().execute(task, seed)
        output.extras.update(self._job.extras)
        return output
