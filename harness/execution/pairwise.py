"""Pairwise judging: a vision-language judge votes between two pipelines' outputs of the same task and seed.

Each (task_id, seed) that both pipelines finished ok is shown twice, once in each order (A left then B
left), which cancels the judge's position bias out of the totals and measures it: a pair whose two votes
disagree once the order is undone is *inconsistent*. Votes go to ``<run>/votes/judge-<id>.jsonl`` in the
format the human arena writes (one JSON object per line)::

    {"rater": "judge:<model>", "time": "<UTC ISO>", "task_id": "...", "seed": 0,
     "left": "<pipeline>", "right": "<pipeline>", "answer": "left|right|tie|both_bad", "reason": "...",
     "protocol": "pairwise@1", "model_reported": "..."}

so a judge and people can be compared on the same pairs. A refusal, filtered prompt or unparsable answer
is no vote (counted in the summary, never a tie). Judgments are cached like the pointwise judge's, and
votes already in the run from the same rater, protocol and order are not asked again.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from pydantic import ValidationError

from harness.contract.results import read_results
from harness.core.errors import EditbenchError, format_validation_error
from harness.core.imageio import load_image
from harness.core.storage import Location, RunLock
from harness.execution.rescore import load_output, read_meta, run_tasks
from scorers.judge import Judge, JudgeOptions
from scorers.judge_protocols import PAIRWISE

VOTES_DIR = "votes"


@dataclass
class PairwiseResult:
    """Totals over the pairs judged: wins per pipeline (votes with the order undone), ties, both_bad,
    pairs whose two orders disagreed, failed judgments, requests made, and the votes file written."""

    a: str
    b: str
    wins: dict[str, int] = field(default_factory=dict)
    tie: int = 0
    both_bad: int = 0
    pairs: int = 0
    inconsistent: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    requests: int = 0
    votes_file: str | None = None

    def summary(self) -> str:
        failed = ", ".join(f"{k} {v}" for k, v in sorted(self.failed.items())) or "none"
        return (f"{self.a} vs {self.b}: {self.pairs} pairs judged in both orders, votes {self.a} {self.wins[self.a]}, "
                f"{self.b} {self.wins[self.b]}, tie {self.tie}, both_bad {self.both_bad}; {self.inconsistent} pairs "
                f"changed their verdict with the order; failed judgments: {failed}; {self.skipped} pairs already voted; "
                f"{self.requests} judge requests")


def existing_votes(loc: Location, rater: str) -> set[tuple[str, int, str, str]]:
    """(task_id, seed, left, right) already voted by ``rater`` under the current pairwise protocol."""
    seen = set()
    for name in loc.list(VOTES_DIR):
        if not name.endswith(".jsonl") or name.startswith("."):
            continue
        for line in loc.read_bytes(VOTES_DIR, name).decode("utf-8").splitlines():
            try:
                v = json.loads(line)
            except ValueError:
                continue
            if v.get("rater") == rater and v.get("protocol") == PAIRWISE.tag:
                seen.add((str(v["task_id"]), int(v["seed"]), str(v["left"]), str(v["right"])))
    return seen


def judge_pairs(out: str | Path, *, a: str, b: str, options: dict | None = None) -> PairwiseResult:
    """Vote between pipelines ``a`` and ``b`` of run ``out`` on every (task, seed) both finished ok."""
    if a == b:
        raise EditbenchError(f"--pairwise needs two different pipelines, got {a!r} twice.")
    try:
        opts = JudgeOptions(**(options or {}))
    except ValidationError as e:
        raise EditbenchError(format_validation_error(e, where="options of the pairwise judge")) from None
    judge = Judge(opts, who="pairwise judge")
    judge.api_key()
    loc = Location(out)
    meta = read_meta(loc)
    tasks = run_tasks(meta, loc.url())
    df = read_results(loc.uri)
    ok = df[(df["status"] == "ok") & df["output_path"].notna()] if len(df) else df
    have = set(ok["pipeline"].astype(str)) if len(ok) else set()
    for p in (a, b):
        if p not in have:
            raise EditbenchError(f"pipeline {p!r} has no ok rows in {loc.url()} (it has {sorted(have)}).")
    rows = {(str(r["task_id"]), int(r["seed"]), str(r["pipeline"])): r for r in ok.to_dict(orient="records")}
    keys = sorted({(t, s) for t, s, p in rows if p == a} & {(t, s) for t, s, p in rows if p == b})
    rater = f"judge:{opts.model}"
    result = PairwiseResult(a=a, b=b, wins={a: 0, b: 0})
    lock = RunLock(loc, command="editbench rescore --pairwise").acquire()
    try:
        done = existing_votes(loc, rater)
        votes = []
        for task_id, seed in keys:
            task = tasks[task_id]
            orders = [(left, right) for left, right in ((a, b), (b, a)) if (task_id, seed, left, right) not in done]
            if not orders:
                result.skipped += 1
                continue
            source = load_image(task.image)
            images = {p: load_output(loc, str(rows[(task_id, seed, p)]["output_path"]), rows[(task_id, seed, p)]).image
                      for p in (a, b)}
            verdicts = []
            for left, right in orders:
                j = judge.ask(PAIRWISE, task.instruction or task.prompt or "", [source, images[left], images[right]])
                if j.reason is not None:
                    result.failed[j.reason] = result.failed.get(j.reason, 0) + 1
                    continue
                for answer in j.values["votes"]:
                    votes.append({"rater": rater, "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                  "task_id": task_id, "seed": seed, "left": left, "right": right, "answer": answer,
                                  "reason": _reasoning(j.answers), "protocol": PAIRWISE.tag,
                                  "model_reported": j.model_reported})
                    verdicts.append(_undo_order(answer, left, right))
            _count(result, verdicts)
        result.requests = judge.requests
        if votes:
            data = "".join(json.dumps(v) + "\n" for v in votes).encode("utf-8")
            result.votes_file = loc.write_bytes(data, VOTES_DIR, f"judge-{uuid.uuid4().hex[:12]}.jsonl")
    finally:
        lock.release()
    return result


def _undo_order(answer: str, left: str, right: str) -> str:
    """A vote as the pipeline it prefers (or tie / both_bad), independent of where it was shown."""
    return {"left": left, "right": right}.get(answer, answer)


def _count(result: PairwiseResult, verdicts: list[str]) -> None:
    for v in verdicts:
        if v in result.wins:
            result.wins[v] += 1
        elif v == "tie":
            result.tie += 1
        else:
            result.both_bad += 1
    if len(verdicts) >= 2:
        result.pairs += 1
        result.inconsistent += len(set(verdicts)) > 1


def _reasoning(answers: list) -> str | None:
    for text in answers:
        try:
            r = json.loads(text).get("reasoning")
        except (TypeError, ValueError, AttributeError):
            continue
        if isinstance(r, str):
            return r[:500]
    return None
