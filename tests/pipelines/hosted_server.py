"""A loopback stand-in for OpenAI's images edit endpoint (``POST /v1/images/edits``), for the hosted tests.

It speaks the endpoint's protocol: a multipart/form-data upload (``image``, ``mask``, ``prompt``,
``model``, ``size``, ``n``; bearer key) in, JSON ``{"created", "data": [{"b64_json"}], "usage"}`` out,
errors as ``{"error": {"message", "type", "param", "code"}}`` with an ``x-request-id`` header on every
response. It checks what the real service checks that matters here: the bearer key, a PNG image of the
requested size, a PNG mask with an alpha channel and the image's dimensions.

What it answers is chosen by a word in the prompt (a scenario), counted per job: requests carrying the
same ``X-Client-Request-Id`` up to its ``:a<attempt>`` suffix are one job's attempts.

- ``ok``: the image, with the masked (transparent) area painted ``EDIT_COLOR``;
- ``ratelimit``: 429 with ``Retry-After: 1`` on a job's first 2 requests, then ok;
- ``flaky``: 500 on the first request, then ok;
- ``slow``: the first request answers after ``SLOW_S`` seconds (past the client's timeout), then ok;
- ``refuse``: 400 ``moderation_blocked`` (a content-policy refusal), always;
- ``malformed``: 200 with a body that is not JSON, always;
- ``down``: 503, always;
- ``leak``: 401 whose message quotes the bearer key it received (as a careless gateway might).
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import uuid
from collections import defaultdict
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image

EDIT_COLOR = (255, 0, 255)
SLOW_S = 8.0
SCENARIOS = ("ok", "ratelimit", "flaky", "slow", "refuse", "malformed", "down", "leak")


def parse_multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    msg = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    return {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
            for part in msg.iter_parts()}


class EditServer:
    """The server and what it saw: ``requests`` is a list of (job, attempt, scenario, status, time);
    ``max_inflight`` the most requests it handled at once."""

    def __init__(self, key: str):
        self.key = key
        self.requests: list[tuple[str, int, str, int, float]] = []
        self.lock = threading.Lock()
        self.per_job: dict[str, int] = defaultdict(int)
        self.inflight = 0
        self.max_inflight = 0       # most requests handled at the same time
        self.delay_s = 0.0          # added to every answer (a service's own latency, for benchmarks)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                server.handle(self, body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def start(self) -> "EditServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def attempts(self) -> dict[str, int]:
        """Requests counted per job (task:seed:nonce)."""
        with self.lock:
            return dict(self.per_job)

    def handle(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        rid = f"req_{uuid.uuid4().hex[:16]}"
        if h.path != "/v1/images/edits":
            return self.send(h, 404, error("unknown path", "invalid_request_error", None), rid)
        cid = h.headers.get("x-client-request-id", "")
        job, _, att = cid.rpartition(":a")
        form = parse_multipart(h.headers.get("content-type", ""), body)
        prompt = (form.get("prompt") or b"").decode()
        scenario = next((s for s in SCENARIOS if s in prompt.split()), "ok")
        with self.lock:
            self.per_job[job] += 1
            n = self.per_job[job]
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            status = self.respond(h, form, scenario, n, rid)
        finally:
            with self.lock:
                self.inflight -= 1
        with self.lock:
            self.requests.append((job, int(att or 0), scenario, status, time.monotonic()))

    def respond(self, h, form: dict, scenario: str, n: int, rid: str) -> int:
        time.sleep(self.delay_s)
        auth = h.headers.get("authorization", "")
        if scenario == "leak":
            return self.send(h, 401, error(f"Incorrect API key provided: {auth.removeprefix('Bearer ')}.",
                                           "invalid_request_error", "invalid_api_key"), rid)
        if auth != f"Bearer {self.key}":
            return self.send(h, 401, error("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"), rid)
        if scenario == "ratelimit" and n <= 2:
            return self.send(h, 429, error("Rate limit reached for requests.", "requests", "rate_limit_exceeded"), rid,
                             headers={"retry-after": "1"})
        if scenario == "flaky" and n == 1:
            return self.send(h, 500, error("The server had an error while processing your request.", "server_error",
                                           None), rid)
        if scenario == "down":
            return self.send(h, 503, error("The engine is currently overloaded.", "server_error", None), rid)
        if scenario == "slow" and n == 1:
            time.sleep(SLOW_S)
        if scenario == "refuse":
            return self.send(h, 400, error("Your request was rejected as a result of our safety system.",
                                           "image_generation_user_error", "moderation_blocked"), rid)
        if scenario == "malformed":
            return self.send_raw(h, 200, b'{"created": 1, "data": [{"b64_json": "iVBOR', "application/json", rid)
        try:
            with Image.open(io.BytesIO(form["image"])) as im:
                if form.get("model") == b"dall-e-2" and im.mode not in ("RGBA", "LA", "L"):
                    raise ValueError(f"format must be in ['RGBA', 'LA', 'L'], got {im.mode}")
                image = np.asarray(im.convert("RGB"))
            with Image.open(io.BytesIO(form["mask"])) as m:
                if m.mode != "RGBA":
                    raise ValueError("mask must have an alpha channel")
                alpha = np.asarray(m)[..., 3]
        except (KeyError, OSError, ValueError) as e:
            return self.send(h, 400, error(f"Invalid image or mask: {e}", "invalid_request_error", None), rid)
        w, _, hh = form.get("size", b"").decode().partition("x")
        if alpha.shape != image.shape[:2] or image.shape[:2] != (int(hh), int(w)):
            return self.send(h, 400, error("image, mask and size must match", "invalid_request_error", "size"), rid)
        out = image.copy()
        out[alpha == 0] = EDIT_COLOR
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, format="PNG")
        payload = {"created": int(time.time()), "data": [{"b64_json": base64.b64encode(buf.getvalue()).decode()}],
                   "usage": {"input_tokens": 100, "output_tokens": 200, "total_tokens": 300,
                             "input_tokens_details": {"image_tokens": 90, "text_tokens": 10}}}
        return self.send(h, 200, payload, rid)

    def send(self, h, status: int, payload: dict, rid: str, headers: dict | None = None) -> int:
        return self.send_raw(h, status, json.dumps(payload).encode(), "application/json", rid, headers)

    @staticmethod
    def send_raw(h, status: int, data: bytes, ctype: str, rid: str, headers: dict | None = None) -> int:
        try:
            h.send_response(status)
            h.send_header("content-type", ctype)
            h.send_header("content-length", str(len(data)))
            h.send_header("x-request-id", rid)
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):   # the client gave up (timeout)
            pass
        return status


def error(message: str, type_: str, code: str | None) -> dict:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}
