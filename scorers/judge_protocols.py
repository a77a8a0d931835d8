"""Judge protocols: versioned prompt templates and the strict parser of their answers.

A protocol is what a vision-language judge is asked and how its answer becomes numbers. Each has a
name and a version; the version is bumped whenever a prompt, a field or a range changes, and it is part
of the judgment cache key and of run.json's record of the judge metrics, so a gate never compares two
protocols under one column name.

- ``viescore`` (0-10, after VIEScore, Ku et al. ACL 2024, and GEdit-Bench's use of it, Step1X-Edit,
  Liu et al. 2025): semantic consistency SC = min(edit success, absence of over-editing) and perceptual
  quality PQ = min(naturalness, absence of artefacts), overall O = sqrt(SC * PQ). VIEScore asks SC and PQ
  in two calls; this protocol asks the four sub-scores in one call with both images.
- ``imgedit`` (1-5, after ImgEdit-Bench, Ye et al. 2025): instruction compliance, visual naturalness and
  seamlessness, physical and detail integrity; overall = their mean.
- ``pairwise`` (a vote): which of two edits of the same source follows the instruction better, as
  ``left`` | ``right`` | ``tie`` | ``both_bad``.

The parser is strict: the answer must hold exactly one JSON object (prose or a Markdown fence around it
is tolerated and recorded), with every field present, numeric (not a string, not a bool) and inside its
range. Anything else raises :class:`Unparsable` with the reason; it is never read as 0.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Callable


class Unparsable(ValueError):
    """An answer that does not hold the protocol's JSON object; the message says why."""


@dataclass(frozen=True)
class Protocol:
    """One versioned prompt and answer format.

    ``fields``: answer key -> (low, high), all required; ``combine`` turns the parsed fields into the
    metric values (sub-scores kept); ``images``: how many images follow the text (source first).
    """

    name: str
    version: int
    system: str
    user: str                                     # formatted with instruction=...
    fields: dict[str, tuple[float, float]]
    combine: Callable[[dict[str, float]], dict[str, float]]
    images: int = 2
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)   # categorical answer keys

    @property
    def tag(self) -> str:
        return f"{self.name}@{self.version}"

    def prompt(self, instruction: str) -> str:
        return self.user.format(instruction=instruction)

    def json_schema(self) -> dict:
        """The answer's JSON schema (for servers that take ``response_format: json_schema``)."""
        props: dict[str, dict] = {k: {"type": "number", "minimum": lo, "maximum": hi} for k, (lo, hi) in self.fields.items()}
        props.update({k: {"type": "string", "enum": list(v)} for k, v in self.choices.items()})
        props["reasoning"] = {"type": "string"}
        return {"name": f"{self.name}_v{self.version}", "strict": True,
                "schema": {"type": "object", "properties": props, "required": [*props], "additionalProperties": False}}


def _viescore(v: dict[str, float]) -> dict[str, float]:
    sc = min(v["edit_success"], v["overediting"])
    pq = min(v["naturalness"], v["artifacts"])
    return {"sc": sc, "pq": pq, "overall": math.sqrt(sc * pq), "sc_edit": v["edit_success"],
            "sc_overedit": v["overediting"], "pq_natural": v["naturalness"], "pq_artifacts": v["artifacts"]}


def _imgedit(v: dict[str, float]) -> dict[str, float]:
    return {**v, "overall": (v["compliance"] + v["naturalness"] + v["integrity"]) / 3.0}


_RULES = ("You are a careful, strict evaluator of image edits. Two images follow: first the SOURCE image, "
          "then the EDITED image produced from it by an editing tool for the instruction below. Judge only "
          "what you see. Answer with one JSON object and nothing else.")

VIESCORE = Protocol(
    name="viescore", version=1, system=_RULES,
    user=("Instruction: {instruction}\n\n"
          "Rate on integer scales from 0 to 10:\n"
          "- edit_success: 0 = the edited image does not follow the instruction at all, 10 = it follows it "
          "perfectly.\n"
          "- overediting: 0 = the edited image changed far more than the instruction asked (it looks like a "
          "different image), 10 = everything the instruction did not mention is kept as it was.\n"
          "- naturalness: 0 = the edited image looks unnatural (wrong sense of distance, shadow or lighting), "
          "10 = it looks like a natural photograph or picture.\n"
          "- artifacts: 0 = heavy artefacts (distortion, blur, watermarks, broken objects or body parts), "
          "10 = no artefacts.\n"
          'Answer exactly: {{"edit_success": N, "overediting": N, "naturalness": N, "artifacts": N, '
          '"reasoning": "one short sentence"}}'),
    fields={"edit_success": (0, 10), "overediting": (0, 10), "naturalness": (0, 10), "artifacts": (0, 10)},
    combine=_viescore)

IMGEDIT = Protocol(
    name="imgedit", version=1, system=_RULES,
    user=("Instruction: {instruction}\n\n"
          "Rate on integer scales from 1 to 5 (1 = very poor, 5 = excellent):\n"
          "- compliance: how completely and precisely the edit carries out the instruction.\n"
          "- naturalness: how seamlessly the edited region blends with the rest (lighting, perspective, "
          "edges).\n"
          "- integrity: physical plausibility and detail of the result (no broken structures, textures or "
          "anatomy).\n"
          'Answer exactly: {{"compliance": N, "naturalness": N, "integrity": N, "reasoning": "one short '
          'sentence"}}'),
    fields={"compliance": (1, 5), "naturalness": (1, 5), "integrity": (1, 5)},
    combine=_imgedit)

PAIRWISE = Protocol(
    name="pairwise", version=1,
    system=("You are a careful, strict evaluator of image edits. Three images follow: the SOURCE image, then "
            "edit LEFT, then edit RIGHT, both made from the source for the instruction below. Answer with one "
            "JSON object and nothing else."),
    user=("Instruction: {instruction}\n\n"
          "Which edit follows the instruction better while keeping the rest of the image intact and looking "
          "natural? winner: \"left\", \"right\", \"tie\" (equally good) or \"both_bad\" (neither is "
          "acceptable).\n"
          'Answer exactly: {{"winner": "left|right|tie|both_bad", "reasoning": "one short sentence"}}'),
    fields={}, combine=lambda v: v, images=3, choices={"winner": ("left", "right", "tie", "both_bad")})

PROTOCOLS: dict[str, Protocol] = {"viescore": VIESCORE, "imgedit": IMGEDIT, "pairwise": PAIRWISE}

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)


def extract_json(text: str) -> tuple[dict, bool]:
    """The one JSON object in ``text`` and whether prose surrounded it; Unparsable otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise Unparsable("the answer is empty")
    body = text.strip()
    fence = _FENCE.match(body)
    if fence:
        body = fence.group(1)
    try:
        obj = json.loads(body)
        if isinstance(obj, dict):
            return obj, False
        raise Unparsable(f"the answer is JSON but not an object ({type(obj).__name__})")
    except json.JSONDecodeError:
        pass
    decoder, found, i = json.JSONDecoder(), [], 0
    while (i := body.find("{", i)) != -1:
        try:
            obj, end = decoder.raw_decode(body, i)
        except json.JSONDecodeError:
            i += 1
            continue
        if isinstance(obj, dict):
            found.append(obj)
        i = end
    if not found:
        raise Unparsable("no well-formed JSON object in the answer")
    if len(found) > 1:
        raise Unparsable(f"{len(found)} JSON objects in the answer (one expected)")
    return found[0], True


def parse_answer(text: str, protocol: Protocol) -> tuple[dict, bool]:
    """(field -> value, whether prose surrounded the JSON) of one answer; Unparsable naming the fault."""
    obj, prose = extract_json(text)
    allowed = {*protocol.fields, *protocol.choices, "reasoning", "reason"}
    extra = sorted(set(obj) - allowed)
    if extra:
        raise Unparsable(f"unexpected keys {extra}")
    out: dict = {}
    for k, (lo, hi) in protocol.fields.items():
        if k not in obj:
            raise Unparsable(f"key {k!r} is missing")
        v = obj[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise Unparsable(f"{k} is {v!r}, not a number")
        if not lo <= v <= hi:
            raise Unparsable(f"{k} = {v} is outside [{lo:g}, {hi:g}]")
        out[k] = float(v)
    for k, options in protocol.choices.items():
        v = obj.get(k)
        if v not in options:
            raise Unparsable(f"{k} is {v!r}, not one of {list(options)}")
        out[k] = v
    reason = obj.get("reasoning", obj.get("reason"))
    if reason is not None and not isinstance(reason, str):
        raise Unparsable("reasoning is not a string")
    return out, prose
