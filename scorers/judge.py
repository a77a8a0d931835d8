"""``judge`` and ``judge_imgedit``: a vision-language model as a scorer, over the OpenAI chat-completions
protocol with image inputs, through the official ``openai`` client.

One adapter serves a hosted model and any OpenAI-compatible server (vLLM, SGLang, Ollama, LM Studio):
the endpoint is ``base_url`` from the operator's judge config or CLI, else ``$OPENAI_BASE_URL``, else
OpenAI; the key is read only from the environment variable ``api_key_env`` (default ``OPENAI_API_KEY``),
never from an option, and never written anywhere. The prompt is a versioned protocol
(:mod:`scorers.judge_protocols`); the source image and the output go in as PNG data URLs.

A judgment is evidence (:meth:`JudgeScorer.score_rows`): besides the metric columns each row gets
``<name>_model`` (as requested), ``<name>_model_reported`` (as the server answered), ``<name>_protocol``
(``viescore@1``), ``<name>_answer`` (the raw answer text), ``<name>_reason`` (null, or why the metrics are
NaN: ``refusal`` | ``filtered`` | ``unparsable`` | ``error`` | ``no_instruction``), ``<name>_detail``,
token counts, ``<name>_cost_usd`` (NaN without a price), ``<name>_calls`` (requests made; 0 from the
cache) and ``<name>_parsed`` (repeats that parsed). A refusal, a filtered prompt or an unparsable answer
is NaN, never 0.

Retries, backoff with full jitter and ``Retry-After`` are the hosted pipelines' own
(:func:`harness.pipelines.hosted.call_with_retries`); the client's retries are off. Up to ``concurrency``
requests run at once. Judgments are cached on disk (:class:`JudgeCache`) under a key of the source and
output pixels, the instruction, the model, the protocol version, the endpoint and the sampling
settings, so judging unchanged outputs again makes no request. Transport failures are never cached.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
import statistics
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Sequence
from urllib.parse import urlsplit

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from harness.core.credentials import operator_only, operator_only_key_env
from harness.core.errors import EditbenchError
from harness.core.imageio import load_image
from harness.pipelines.hosted import RETRYABLE_STATUS, HostedError, RequestFailed, call_with_retries, parse_retry_after, redact
from scorers.base import Metric, Scorer
from scorers.judge_protocols import IMGEDIT, PROTOCOLS, VIESCORE, Protocol, Unparsable, parse_answer

DEFAULT_MODEL = "gpt-4.1-2025-04-14"     # a dated snapshot: an alias such as "gpt-4.1" moves under the run
CACHE_ENV = "EDITBENCH_CACHE"             # the project's cache root (judgments go to <root>/judge)
# HTTP 400 codes of a prompt the provider's content filter blocked (OpenAI, Azure OpenAI).
FILTER_CODES = frozenset({"content_filter", "content_policy_violation", "invalid_prompt", "moderation_blocked"})
REASONS = ("refusal", "filtered", "unparsable", "error", "no_instruction")


class JudgeOptions(BaseModel):
    """What the judge asks and how (operator config: ``--config judge.yaml`` or a run spec's scorer_options).

    There is no field for a key: it is read from the environment variable named by ``api_key_env``."""

    model_config = ConfigDict(extra="forbid")

    model: str = DEFAULT_MODEL                       # requested model; pin a dated snapshot
    # Operator-only (harness.core.credentials): a suite or run spec file setting them is refused.
    base_url: str | None = operator_only(None)       # None: $OPENAI_BASE_URL, else OpenAI
    api_key_env: str = operator_only_key_env("OPENAI_API_KEY")  # environment variable holding the key
    temperature: float = Field(0.0, ge=0, le=2)      # 0: the judge's most likely answer
    n: int = Field(1, ge=1, le=16)                   # repeats per judgment; metrics are their mean, spread reported
    max_tokens: int = Field(400, ge=16)              # answer length limit
    seed: int | None = 0                             # passed to servers that take one
    structured: Literal["json_schema", "json_object", "none"] = "json_schema"   # response_format sent
    image_max_side: int = Field(1024, ge=64)         # images are downscaled to fit before sending
    timeout_s: float = Field(60.0, gt=0)             # per request; a request past it is retried
    max_attempts: int = Field(4, ge=1)               # requests per judgment repeat, the first included
    backoff_s: float = Field(1.0, ge=0)
    backoff_max_s: float = Field(30.0, ge=0)
    max_retry_after_s: float = Field(120.0, ge=0)
    concurrency: int = Field(4, ge=1, le=64)         # requests at once
    cache: bool = True
    cache_dir: str | None = None                     # None: $EDITBENCH_CACHE/judge, else ~/.cache/editbench/judge
    price_per_1m_input_tokens: float | None = Field(None, ge=0)
    price_per_1m_output_tokens: float | None = Field(None, ge=0)


@dataclass
class ChatReply:
    """One chat-completions answer (only ``status`` and ``request_id`` are read by the retry loop)."""

    text: str | None
    refusal: str | None
    finish_reason: str | None
    model: str | None
    tokens_in: int | None = None
    tokens_out: int | None = None
    status: int = 200
    request_id: str | None = None
    filtered: str | None = None          # the provider's filter message when the prompt was blocked


@dataclass
class Judgment:
    """The judge's verdict on one (source, output, instruction): values are NaN when ``reason`` is set."""

    values: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    detail: str | None = None
    answers: list[str | None] = field(default_factory=list)
    model_reported: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = math.nan
    calls: int = 0
    parsed: int = 0
    spread: float = math.nan
    cached: bool = False


def pixel_hash(image: np.ndarray) -> str:
    a = np.ascontiguousarray(image)
    return hashlib.sha256(f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest()


def data_url(image: np.ndarray, *, max_side: int) -> str:
    """RGB uint8 -> ``data:image/png;base64,...``, downscaled (Lanczos) so its long side is <= max_side."""
    from PIL import Image

    im = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8))
    if max(im.size) > max_side:
        s = max_side / max(im.size)
        im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def endpoint_of(options: JudgeOptions) -> str | None:
    """The base URL requests go to (None: the client's default, OpenAI)."""
    return options.base_url or os.environ.get("OPENAI_BASE_URL") or None


def endpoint_host(url: str | None) -> str:
    """scheme://host[:port] of an endpoint, never its user-info (for run.json)."""
    if not url:
        return "https://api.openai.com"
    u = urlsplit(url)
    return f"{u.scheme}://{u.hostname}" + (f":{u.port}" if u.port else "")


class JudgeCache:
    """Judgments on disk, one JSON file per key (atomic writes; a concurrent writer of the same key
    writes the same content)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Judgment | None:
        p = self._path(key)
        try:
            d = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return Judgment(**{**d, "calls": 0, "cached": True})

    def put(self, key: str, j: Judgment) -> None:
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_text(json.dumps({**asdict(j), "calls": 0, "cached": False}, allow_nan=True), encoding="utf-8")
        os.replace(tmp, p)


def default_cache_dir() -> Path:
    root = os.environ.get(CACHE_ENV)
    return Path(root) / "judge" if root else Path.home() / ".cache" / "editbench" / "judge"


class Judge:
    """A connection to one judge model: asks a protocol about images, with retries and the cache."""

    def __init__(self, options: JudgeOptions, *, who: str = "judge"):
        self.options, self.who = options, who
        self.base_url = endpoint_of(options)
        self.client = None
        self._secret: str | None = None
        self.cache = JudgeCache(options.cache_dir or default_cache_dir()) if options.cache else None
        self.lock = threading.Lock()
        self.requests = 0                   # requests sent by this judge (all threads)

    def api_key(self) -> str:
        key = os.environ.get(self.options.api_key_env, "").strip()
        if not key:
            raise EditbenchError(f"scorer {self.who} reads its API key from the environment variable "
                                 f"{self.options.api_key_env}, which is not set (for a local server without "
                                 "keys, set it to any word).")
        return key

    def connect(self) -> None:
        import openai

        self._secret = self.api_key()
        # The judge owns retries (call_with_retries): the client's are off.
        self.client = openai.OpenAI(api_key=self._secret, base_url=self.base_url, max_retries=0,
                                    timeout=self.options.timeout_s)

    def settings(self) -> dict:
        """Everything besides the inputs that decides a judgment (the cache key's settings)."""
        o = self.options
        return {"model": o.model, "endpoint": endpoint_host(self.base_url), "temperature": o.temperature, "n": o.n,
                "max_tokens": o.max_tokens, "seed": o.seed, "structured": o.structured,
                "image_max_side": o.image_max_side}

    def cache_key(self, protocol: Protocol, instruction: str, images: Sequence[np.ndarray]) -> str:
        doc = {"protocol": protocol.tag, "instruction": instruction, "images": [pixel_hash(i) for i in images],
               **self.settings()}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    # -- one request -------------------------------------------------------------------------------
    def request(self, protocol: Protocol, messages: list, *, client_request_id: str) -> ChatReply:
        import openai

        o = self.options
        extra: dict[str, Any] = {}
        if o.structured == "json_schema":
            extra["response_format"] = {"type": "json_schema", "json_schema": protocol.json_schema()}
        elif o.structured == "json_object":
            extra["response_format"] = {"type": "json_object"}
        if o.seed is not None:
            extra["seed"] = o.seed
        try:
            raw = self.client.chat.completions.with_raw_response.create(
                model=o.model, messages=messages, temperature=o.temperature, max_tokens=o.max_tokens,
                timeout=o.timeout_s, extra_headers={"X-Client-Request-Id": client_request_id}, **extra)
        except openai.APIConnectionError as e:   # APITimeoutError included
            cause = type(e.__cause__ or e).__name__
            what = (f"no response within timeout_s={o.timeout_s:g} s" if isinstance(e, openai.APITimeoutError)
                    else "connection failed")
            raise RequestFailed(f"{what} ({cause})", retryable=True,
                                delivered=cause not in ("ConnectError", "ConnectTimeout")) from None
        except openai.APIStatusError as e:
            body = e.body if isinstance(e.body, dict) else {}
            body = body.get("error", body) if isinstance(body.get("error", body), dict) else body
            code = body.get("code")
            # Redacted whole, then cut: a cut first could keep part of a quoted key.
            message = redact(" ".join(str(body.get("message") or e.response.text or "").split()), self._secret)[:500]
            if e.status_code == 400 and code in FILTER_CODES:
                return ChatReply(None, None, "content_filter", None, status=400,
                                 request_id=redact(e.request_id, self._secret),
                                 filtered=f"[{code}] {message}")
            raise RequestFailed("the judge endpoint failed" + (f" [{code}]" if code else "") + f": {message}",
                                status=e.status_code, request_id=redact(e.request_id, self._secret),
                                retryable=e.status_code in RETRYABLE_STATUS and code != "insufficient_quota",
                                retry_after=parse_retry_after(e.response.headers)) from None
        rid = raw.headers.get("x-request-id")
        try:
            c = raw.parse()
            choice = c.choices[0]
            msg = choice.message
        except Exception as e:  # noqa: BLE001 - any unreadable body is a malformed response
            raise RequestFailed(f"the judge endpoint answered with a malformed body ({type(e).__name__})",
                                status=raw.status_code, request_id=rid) from None
        usage = getattr(c, "usage", None)
        return ChatReply(text=msg.content, refusal=getattr(msg, "refusal", None), finish_reason=choice.finish_reason,
                         model=getattr(c, "model", None), tokens_in=getattr(usage, "prompt_tokens", None),
                         tokens_out=getattr(usage, "completion_tokens", None), status=raw.status_code, request_id=rid)

    def _one(self, protocol: Protocol, messages: list, tag: str) -> tuple[str, Any, ChatReply | None, int]:
        """One repeat: (outcome, parsed values or message, reply, requests made)."""
        o = self.options
        try:
            reply, extras = call_with_retries(
                lambda n: self.request(protocol, messages, client_request_id=f"{tag}:a{n}"),
                max_attempts=o.max_attempts, base=o.backoff_s, cap=o.backoff_max_s,
                max_retry_after=o.max_retry_after_s, secret=self._secret)
        except HostedError as e:
            return "error", redact(str(e), self._secret), None, int(e.extras.get("http_attempts") or 0)
        calls = int(extras["http_attempts"])
        if reply.filtered is not None or reply.finish_reason == "content_filter":
            return "filtered", reply.filtered or "the provider's content filter stopped the answer", reply, calls
        if reply.refusal:
            return "refusal", " ".join(reply.refusal.split())[:300], reply, calls
        try:
            values, prose = parse_answer(reply.text or "", protocol)
        except Unparsable as e:
            what = " (the answer was cut at max_tokens)" if reply.finish_reason == "length" else ""
            return "unparsable", f"{e}{what}", reply, calls
        return ("ok", values, reply, calls) if not prose else ("ok_prose", values, reply, calls)

    # -- a judgment --------------------------------------------------------------------------------
    def ask(self, protocol: Protocol, instruction: str, images: Sequence[np.ndarray]) -> Judgment:
        """Ask ``protocol`` about ``images`` (source first) for ``instruction``: the cached judgment when
        there is one, else ``n`` requests. Never raises for the endpoint's failures (reason ``error``)."""
        if not instruction.strip():
            return Judgment(reason="no_instruction", detail="the task has neither an instruction nor a prompt")
        key = self.cache_key(protocol, instruction, images)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            return hit
        if self.client is None:
            self.connect()
        o = self.options
        content: list[dict] = [{"type": "text", "text": protocol.prompt(instruction)}]
        content += [{"type": "image_url", "image_url": {"url": data_url(i, max_side=o.image_max_side)}} for i in images]
        messages = [{"role": "system", "content": protocol.system}, {"role": "user", "content": content}]
        tag = f"judge:{key[:16]}:{uuid.uuid4().hex[:6]}"
        results = [self._one(protocol, messages, f"{tag}:r{r}") for r in range(o.n)]
        with self.lock:
            self.requests += sum(r[3] for r in results)
        j = summarize(protocol, results, o)
        if self.cache is not None and j.reason != "error" and not any(r[0] == "error" for r in results):
            self.cache.put(key, j)
        return j


def summarize(protocol: Protocol, results: list, o: JudgeOptions) -> Judgment:
    """One judgment from its repeats: the mean of the parsed repeats (spread = their standard deviation
    of ``overall``); with none parsed, the first failure's reason (error > filtered > refusal > unparsable)."""
    replies = [r[2] for r in results if r[2] is not None]
    tin = sum(r.tokens_in or 0 for r in replies)
    tout = sum(r.tokens_out or 0 for r in replies)
    parts = []
    for rate, t in ((o.price_per_1m_input_tokens, tin), (o.price_per_1m_output_tokens, tout)):
        if rate is not None:
            parts.append(rate * t / 1e6)
    models = sorted({r.model for r in replies if r.model})
    j = Judgment(answers=[r.text if r.text is not None else r.refusal for r in replies],
                 model_reported=",".join(models) or None, tokens_in=tin, tokens_out=tout,
                 cost_usd=float(sum(parts)) if parts else math.nan, calls=sum(r[3] for r in results))
    good = [r[1] for r in results if r[0].startswith("ok")]
    j.parsed = len(good)
    if any(r[0] == "ok_prose" for r in results):
        j.detail = "JSON found inside prose"
    if not good:
        for reason in ("error", "filtered", "refusal", "unparsable"):
            hit = next((r for r in results if r[0] == reason), None)
            if hit is not None:
                j.reason, j.detail = reason, str(hit[1])
                return j
    if protocol.choices:
        j.values = {"votes": [g[k] for g in good for k in protocol.choices]}
        return j
    metrics = [protocol.combine(g) for g in good]
    j.values = {k: float(np.mean([m[k] for m in metrics])) for k in metrics[0]}
    j.spread = float(statistics.pstdev([m["overall"] for m in metrics])) if len(metrics) > 1 else math.nan
    return j


class JudgeScorer(Scorer):
    """VIEScore/GEdit-style SC + PQ (0-10) and O = sqrt(SC * PQ) from a vision-language judge."""

    name = "judge"
    protocol: ClassVar[Protocol] = VIESCORE
    kinds = frozenset({"inpaint", "outpaint", "sdedit", "instruct", "face_regen"})
    Options = JudgeOptions
    _score = Metric("higher", range=(0.0, 10.0))
    metrics = {"sc": _score, "pq": _score, "overall": _score, "sc_edit": _score, "sc_overedit": _score,
               "pq_natural": _score, "pq_artifacts": _score,
               "overall_spread": Metric("none", role="provenance", range=(0.0, None))}

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.judge = Judge(self.options, who=self.name)

    def check(self) -> None:
        self.judge.api_key()

    def load(self) -> None:
        self.judge.connect()

    def pins(self) -> dict:
        """What run.json records with each judge metric, and what a gate requires to be equal."""
        return {"model": self.options.model, "protocol": self.protocol.name, "protocol_version": self.protocol.version,
                "temperature": self.options.temperature, "n": self.options.n,
                "endpoint": endpoint_host(self.judge.base_url)}

    def signature(self) -> str:
        return hashlib.sha256(json.dumps({"protocol": self.protocol.tag, **self.judge.settings()},
                                         sort_keys=True).encode()).hexdigest()[:16]

    def evidence_columns(self) -> tuple[str, ...]:
        p = self.name
        return tuple(f"{p}_{c}" for c in ("model", "model_reported", "protocol", "reason", "detail", "answer",
                                          "tokens_in", "tokens_out", "cost_usd", "calls", "parsed", "cached"))

    def judge_one(self, task, output) -> Judgment:
        if output.image is None:
            return Judgment(reason="error", detail="the output is not an image")
        source = load_image(task.image)
        return self.judge.ask(self.protocol, task.instruction or task.prompt or "", [source, output.image])

    def score_rows(self, tasks: Sequence, outputs: Sequence) -> list[tuple[dict[str, float], dict[str, Any]]]:
        with ThreadPoolExecutor(max_workers=self.options.concurrency) as pool:
            judgments = list(pool.map(self.judge_one, tasks, outputs))
        return [self.row(j) for j in judgments]

    def row(self, j: Judgment) -> tuple[dict[str, float], dict[str, Any]]:
        vals = {m: float(j.values.get(m, math.nan)) for m in self.metrics if m != "overall_spread"}
        vals["overall_spread"] = j.spread
        p = self.name
        answer = j.answers[0] if len(j.answers) == 1 else (json.dumps(j.answers) if j.answers else None)
        ev = {f"{p}_model": self.options.model, f"{p}_model_reported": j.model_reported,
              f"{p}_protocol": self.protocol.tag, f"{p}_reason": j.reason, f"{p}_detail": j.detail,
              f"{p}_answer": answer, f"{p}_tokens_in": int(j.tokens_in), f"{p}_tokens_out": int(j.tokens_out),
              f"{p}_cost_usd": float(j.cost_usd), f"{p}_calls": int(j.calls), f"{p}_parsed": int(j.parsed),
              f"{p}_cached": bool(j.cached)}
        return vals, ev

    def score(self, task, output) -> dict[str, float]:
        return self.score_rows([task], [output])[0][0]

    def score_batch(self, tasks: Sequence, outputs: Sequence) -> list[dict[str, float]]:
        return [v for v, _ in self.score_rows(tasks, outputs)]


class ImgEditJudgeScorer(JudgeScorer):
    """ImgEdit-style compliance, naturalness and integrity (1-5) and their mean from a judge."""

    name = "judge_imgedit"
    protocol = IMGEDIT
    _score = Metric("higher", range=(1.0, 5.0))
    metrics = {"compliance": _score, "naturalness": _score, "integrity": _score, "overall": _score,
               "overall_spread": Metric("none", role="provenance", range=(0.0, None))}


def protocol_named(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise EditbenchError(f"unknown judge protocol {name!r}; known: {sorted(PROTOCOLS)}.")
    return PROTOCOLS[name]
