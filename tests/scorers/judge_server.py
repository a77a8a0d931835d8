"""A loopback stand-in for an OpenAI-compatible chat-completions server (``POST /v1/chat/completions``) with
image inputs, for the judge tests.

It speaks the protocol: a JSON body (``model``, ``messages`` whose user content holds ``text`` and
``image_url`` parts with PNG data URLs, ``temperature``, ``response_format``; bearer key) in, a
``chat.completion`` object out (``model``, ``choices[0].message.content|refusal``, ``finish_reason``,
``usage``), errors as ``{"error": {"message", "type", "param", "code"}}``, an ``x-request-id`` on every
response.

The answer is computed from the images, so a test can tell that they arrived: ``edit_success`` is the
mean absolute difference between the source and the edited image (0-255 scaled to 0-10, rounded);
``overediting`` 8, ``naturalness`` 7, ``artifacts`` 9 (the imgedit protocol: ``compliance`` 1 + 0.4 x that,
``naturalness`` 4, ``integrity`` 5). A pairwise question (three images) is won by the
edit that differs more from the source.

A word in the instruction picks a scenario, counted per job (the ``X-Client-Request-Id`` up to ``:a<n>``):
``ok``; ``prose`` (the JSON inside sentences); ``malformed`` (cut JSON); ``outofrange`` (a score of 11);
``refuse`` (``message.refusal``); ``filtered`` (400 ``content_filter``); ``ratelimit`` (429 with
``Retry-After: 1`` on a job's first 2 requests); ``flaky`` (500 once); ``slow`` (the first answer after
``SLOW_S`` s); ``othermodel`` (the server reports another model); ``down`` (503 always).
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import uuid
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image

SLOW_S = 6.0
SCENARIOS = ("ok", "prose", "malformed", "outofrange", "refuse", "filtered", "ratelimit", "flaky", "slow",
             "othermodel", "down")


def decode_data_url(url: str) -> np.ndarray:
    head, _, data = url.partition(",")
    if head != "data:image/png;base64":
        raise ValueError(f"not a PNG data URL: {head[:40]}")
    with Image.open(io.BytesIO(base64.b64decode(data))) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float64)


def diff(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return 255.0
    return float(np.abs(a - b).mean())


class JudgeServer:
    """The server and what it saw: ``requests`` lists (job, scenario, status); ``bodies`` the JSON bodies;
    ``auth`` the Authorization headers received."""

    def __init__(self, key: str):
        self.key = key
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, int]] = []
        self.bodies: list[dict] = []
        self.per_job: dict[str, int] = defaultdict(int)
        self.arrived: Counter = Counter()      # requests per scenario, counted when they arrive
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
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

    def start(self) -> "JudgeServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def calls(self) -> int:
        """Requests received so far (counted on arrival)."""
        with self.lock:
            return sum(self.arrived.values())

    def by_scenario(self) -> Counter:
        with self.lock:
            return Counter(self.arrived)

    def handle(self, h, raw: bytes) -> None:
        rid = f"req_{uuid.uuid4().hex[:16]}"
        if h.path != "/v1/chat/completions":
            return self.send(h, 404, error("unknown path", None), rid)
        body = json.loads(raw)
        text, images = "", []
        for m in body["messages"]:
            if m["role"] == "user":
                for part in m["content"]:
                    if part["type"] == "text":
                        text += part["text"]
                    else:
                        images.append(decode_data_url(part["image_url"]["url"]))
        instruction = text.split("Instruction:", 1)[-1].split("\n", 1)[0]
        scenario = next((s for s in SCENARIOS if s in instruction.split()), "ok")
        job = h.headers.get("x-client-request-id", "").rpartition(":a")[0]
        with self.lock:
            self.per_job[job] += 1
            self.arrived[scenario] += 1
            n = self.per_job[job]
            self.bodies.append(body)
        status = self.respond(h, body, scenario, n, images, rid, text)
        with self.lock:
            self.requests.append((job, scenario, status))

    def respond(self, h, body: dict, scenario: str, n: int, images: list, rid: str, text: str) -> int:
        if h.headers.get("authorization", "") != f"Bearer {self.key}":
            return self.send(h, 401, error("Incorrect API key provided.", "invalid_api_key"), rid)
        if scenario == "ratelimit" and n <= 2:
            return self.send(h, 429, error("Rate limit reached.", "rate_limit_exceeded"), rid, {"retry-after": "1"})
        if scenario == "flaky" and n == 1:
            return self.send(h, 500, error("The server had an error.", None), rid)
        if scenario == "down":
            return self.send(h, 503, error("The engine is currently overloaded.", None), rid)
        if scenario == "filtered":
            return self.send(h, 400, error("The prompt was filtered by the content management policy.",
                                           "content_filter"), rid)
        if scenario == "slow" and n == 1:
            time.sleep(SLOW_S)
        model = "other-model-2" if scenario == "othermodel" else body["model"]
        refusal, content = None, None
        if scenario == "refuse":
            refusal = "I'm sorry, I can't help with that."
        elif len(images) == 3:
            left, right = diff(images[0], images[1]), diff(images[0], images[2])
            winner = "tie" if abs(left - right) < 1e-9 else ("left" if left > right else "right")
            content = json.dumps({"winner": winner, "reasoning": "the larger change wins"})
        else:
            success = min(10, round(diff(images[0], images[1]) / 25.5)) if len(images) == 2 else 0
            answer = {"edit_success": success, "overediting": 8, "naturalness": 7, "artifacts": 9,
                      "reasoning": "scored from the pixels"}
            if scenario == "outofrange":
                answer["artifacts"] = 11
            if '"compliance"' in text:   # the imgedit protocol (1-5)
                answer = {"compliance": 1 + round(success * 0.4), "naturalness": 4, "integrity": 5,
                          "reasoning": "scored from the pixels"}
            content = json.dumps(answer)
            if scenario == "prose":
                content = f"Sure! Here is my evaluation:\n{content}\nI hope this helps."
            if scenario == "malformed":
                content = content[:25]
        payload = {"id": f"chatcmpl-{rid}", "object": "chat.completion", "created": int(time.time()), "model": model,
                   "choices": [{"index": 0, "finish_reason": "stop",
                                "message": {"role": "assistant", "content": content, "refusal": refusal}}],
                   "usage": {"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050}}
        return self.send(h, 200, payload, rid)

    @staticmethod
    def send(h, status: int, payload: dict, rid: str, headers: dict | None = None) -> int:
        data = json.dumps(payload).encode()
        try:
            h.send_response(status)
            h.send_header("content-type", "application/json")
            h.send_header("content-length", str(len(data)))
            h.send_header("x-request-id", rid)
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return status


def error(message: str, code: str | None) -> dict:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
