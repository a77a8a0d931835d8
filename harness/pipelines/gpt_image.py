"""``gpt-image``: OpenAI's images edit endpoint (``POST /v1/images/edits``) through the official ``openai``
client — image + mask + prompt, one image per request, returned as base64 PNG.

Conversions: the endpoint wants the image as PNG and the mask as a PNG of the same size whose fully
transparent pixels (alpha 0) mark the area to edit; our masks are 1 = regenerate, so alpha = 0 where
the mask is set and 255 elsewhere. Sizes: ``gpt-image-*`` models take 1024x1024, 1536x1024 and
1024x1536, ``dall-e-2`` takes 256x256, 512x512 and 1024x1024; the canvas is letterboxed into the one of
closest aspect ratio and the result cropped and resized back (``harness.pipelines.hosted``).

The endpoint takes no seed: the seeds of a run are independent repeats of the same request, each billed.
``base_url`` (or the client's ``OPENAI_BASE_URL``) points it at an OpenAI-compatible gateway; both it and
``api_key_env`` are the operator's (``harness.core.credentials``), never a suite's.
"""

from __future__ import annotations

import base64
import io

import numpy as np

from harness.pipelines.hosted import (
    RETRYABLE_STATUS,
    HostedEditPipeline,
    HostedOptions,
    Reply,
    RequestFailed,
    parse_retry_after,
    redact,
)
from tasks.schema import Task

SIZES = {
    "gpt-image": ["1024x1024", "1536x1024", "1024x1536"],
    "dall-e-2": ["256x256", "512x512", "1024x1024"],
}
# 429 codes that no wait fixes (the account is out of credit).
PERMANENT_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})
# 400 codes of a content-policy refusal (gpt-image models, dall-e-2).
REFUSAL_CODES = frozenset({"moderation_blocked", "content_policy_violation"})


class GptImageOptions(HostedOptions):
    model: str = "gpt-image-1"        # gpt-image-1 (and other gpt-image-* models) or dall-e-2
    quality: str | None = None        # gpt-image models: low | medium | high | auto; None: the service default
    input_fidelity: str | None = None  # gpt-image-1: low | high; None: the service default


def png_bytes(image: np.ndarray) -> bytes:
    """RGB uint8 (H, W, 3) or RGBA (H, W, 4) -> PNG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def opaque(image: np.ndarray) -> np.ndarray:
    """RGB uint8 -> RGBA with alpha 255 (dall-e-2 refuses RGB PNGs: it takes RGBA, LA or L)."""
    return np.concatenate([image, np.full((*image.shape[:2], 1), 255, np.uint8)], axis=-1)


def mask_png(mask: np.ndarray) -> bytes:
    """Bool mask (H, W), True = edit -> RGBA PNG, transparent (alpha 0) where the service should edit."""
    rgba = np.zeros((*mask.shape, 4), np.uint8)
    rgba[..., 3] = np.where(mask, 0, 255)
    return png_bytes(rgba)


def decode_b64_png(data: str) -> np.ndarray:
    """Base64 image -> RGB uint8; ValueError when it is not one."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(base64.b64decode(data, validate=True))) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise ValueError(f"b64_json is not a base64 image ({type(e).__name__})") from None


class GptImage(HostedEditPipeline):
    name = "gpt-image"
    Options = GptImageOptions
    service = "the OpenAI images API"

    def sizes(self) -> list[str]:
        model = self.options.model
        return SIZES["dall-e-2"] if model == "dall-e-2" else SIZES["gpt-image"]

    def connect(self, api_key: str):
        import openai

        # The adapter owns retries (harness.pipelines.hosted.call_with_retries): the client's are off.
        return openai.OpenAI(api_key=api_key, base_url=self.options.base_url, max_retries=0,
                             timeout=self.options.timeout_s)

    def request(self, image: np.ndarray, mask: np.ndarray, task: Task, *, size: str, attempt: int,
                client_request_id: str) -> Reply:
        import openai

        o = self.options
        prompt = task.prompt or task.instruction
        if not prompt:
            raise RequestFailed(f"task {task.task_id} has no prompt; the images edit endpoint needs one", delivered=False)
        extra = {k: v for k, v in (("quality", o.quality), ("input_fidelity", o.input_fidelity)) if v is not None}
        if o.model.startswith("dall-e"):
            extra["response_format"] = "b64_json"     # gpt-image models always answer b64_json
        try:
            raw = self.client.images.with_raw_response.edit(
                image=("image.png", png_bytes(opaque(image)), "image/png"), mask=("mask.png", mask_png(mask), "image/png"),
                prompt=prompt, model=o.model, size=size, n=1, timeout=o.timeout_s,
                extra_headers={"X-Client-Request-Id": client_request_id}, **extra)
        except openai.APIConnectionError as e:   # APITimeoutError included
            cause = type(e.__cause__ or e).__name__
            unsent = cause in ("ConnectError", "ConnectTimeout")   # no connection: the service saw nothing
            what = (f"no response within timeout_s={o.timeout_s:g} s" if isinstance(e, openai.APITimeoutError)
                    else "connection failed")
            raise RequestFailed(f"{what} ({cause})", retryable=True, delivered=not unsent) from None
        except openai.APIStatusError as e:
            body = e.body if isinstance(e.body, dict) else {}
            code = body.get("code")
            # Redacted whole, then cut: a cut first could keep part of a quoted key.
            message = redact(" ".join(str(body.get("message") or e.response.text or "").split()), self._secret)[:500]
            refused = code in REFUSAL_CODES
            what = "refused the request" if refused else "failed"
            raise RequestFailed(f"{self.service} {what}" + (f" [{code}]" if code else "") + f": {message}",
                                status=e.status_code, request_id=redact(e.request_id, self._secret),
                                retryable=e.status_code in RETRYABLE_STATUS and code not in PERMANENT_CODES,
                                retry_after=parse_retry_after(e.response.headers)) from None
        request_id = raw.headers.get("x-request-id")
        try:
            parsed = raw.parse()
            image_out = decode_b64_png(parsed.data[0].b64_json)
        except Exception as e:  # noqa: BLE001 - any unreadable body is a malformed response
            raise RequestFailed(f"{self.service} answered with a malformed body ({type(e).__name__})",
                                status=raw.status_code, request_id=redact(request_id, self._secret)) from None
        usage = getattr(parsed, "usage", None)
        return Reply(image=image_out, status=raw.status_code, request_id=redact(request_id, self._secret),
                     input_tokens=getattr(usage, "input_tokens", None), output_tokens=getattr(usage, "output_tokens", None))
