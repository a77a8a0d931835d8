"""``editbench skill``: from an image and an edit description to a concrete pipeline choice.

Two steps, both documented in docs/skill.md:

1. :func:`classify` decides the edit kind from the description and whether a mask (or a SAM prompt) is
   given, by the first matching row of :data:`RULES` (plain keyword rules, no model).
2. :func:`recommend` fills the recipe of that kind: mask approach, pipeline and weights, CFG scales,
   SDEdit strength or inpainting mode, mask dilation/feather, prompt advice, expected latency and the
   QA checklist. Every number comes from the newest measured run under ``--runs`` whose tasks are of the
   same task kind — ranked with :mod:`reports.ranking`, the ranking of the leaderboard and of
   ``report --recommend`` (winner only when measurably ahead, else the tie-break) — and from the
   documented defaults of :data:`DEFAULTS` where no run covers it, which the output says.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.contract.results import load_run
from harness.core.errors import EditbenchError
from reports.format import fmt_ms
from reports.history import find_runs
from reports.leaderboard import entries
from reports.markdown import code, md
from reports.ranking import rank
from reports.recommend import THRESHOLDS
from reports.rows import metric_columns
from scorers.columns import primary_metric, read_metrics

# Edit kinds, the task kind (suite vocabulary) each is measured under, and the keyword rules that pick
# them, first match wins. A mask (or SAM prompt) turns "replace/change" into a regional inpaint.
RULES: list[tuple[str, str, str]] = [
    # (edit kind, task kind, regex on the lower-cased description)
    ("outpaint", "outpaint", r"\b(extend|outpaint|uncrop|widen|zoom out|\d+\s*:\s*\d+|aspect|wider|taller)\b"),
    ("face_regeneration", "face_regen", r"\b(face|faces|hand|hands|fingers|eyes|smile)\b"),
    ("removal", "inpaint", r"\b(remove|erase|delete|get rid of|clean up|take out|without the)\b"),
    ("sky_replacement", "inpaint", r"\bsky\b"),
    ("background_replacement", "inpaint", r"\b(background|backdrop|behind (him|her|them|it))\b"),
    ("replace_region", "inpaint", r"\b(replace|swap|change|turn the|put a|add a|add an)\b"),
    ("regional_style", "sdedit", r"\b(look like|style|texture|painted|restyle)\b"),
]
GLOBAL = ("global_instruction", "instruct")   # anything else: an instruction for the whole image

# Documented defaults per edit kind, used where no measured run covers the kind.
DEFAULTS: dict[str, dict] = {
    "outpaint": dict(mask="builder recipe: the new canvas area (editbench suite build outpaint --aspect W:H)",
                     pipeline="flux-fill", weights="$EDITBENCH_WEIGHTS/flux-fill", mode="inpainting on the extended "
                     "canvas (outpaint_fill: edge)", guidance=30.0, image_guidance=None, strength=1.0,
                     mask_dilate=8, mask_feather=8, latency_ms=None),
    "face_regeneration": dict(mask="face detector ellipse (editbench suite build face-regen), grown 8 px",
                              pipeline="sd-inpaint-openpose", weights="$EDITBENCH_WEIGHTS/sd-inpaint-openpose",
                              mode="inpainting with OpenPose control from the source pose", guidance=7.5,
                              image_guidance=None, strength=1.0, mask_dilate=0, mask_feather=4, latency_ms=None),
    "removal": dict(mask="the given mask, or SAM from a box/click on the object", pipeline="patchmatch",
                    weights="none (classical)", mode="inpainting (no prompt needed for texture fills)",
                    guidance=None, image_guidance=None, strength=1.0, mask_dilate=8, mask_feather=0, latency_ms=None),
    "sky_replacement": dict(mask="SAM on the sky (point in the sky) or the sky-replace builder's region",
                            pipeline="sd-inpaint", weights="$EDITBENCH_WEIGHTS/sd-inpaint", mode="inpainting",
                            guidance=7.5, image_guidance=None, strength=1.0, mask_dilate=4, mask_feather=8,
                            latency_ms=None),
    "background_replacement": dict(mask="SAM on the subject (box), inverted", pipeline="sd-inpaint",
                                   weights="$EDITBENCH_WEIGHTS/sd-inpaint", mode="inpainting of the background",
                                   guidance=7.5, image_guidance=None, strength=1.0, mask_dilate=0, mask_feather=4,
                                   latency_ms=None),
    "replace_region": dict(mask="the given mask, or SAM from a box/click", pipeline="sd-inpaint",
                           weights="$EDITBENCH_WEIGHTS/sd-inpaint", mode="inpainting", guidance=7.5,
                           image_guidance=None, strength=1.0, mask_dilate=8, mask_feather=4, latency_ms=None),
    "regional_style": dict(mask="the given mask (paste_back outside it)", pipeline="sdedit",
                           weights="$EDITBENCH_WEIGHTS/sdedit", mode="SDEdit: noise to t = strength·T, denoise",
                           guidance=7.5, image_guidance=None, strength=0.6, mask_dilate=0, mask_feather=8,
                           latency_ms=None),
    "global_instruction": dict(mask="none (whole image)", pipeline="instruct-pix2pix",
                               weights="$EDITBENCH_WEIGHTS/instruct-pix2pix",
                               mode="instruction editing (no mask)", guidance=7.5, image_guidance=1.5, strength=None,
                               mask_dilate=None, mask_feather=None, latency_ms=None),
}

# The scorers whose metrics make the QA checklist of each task kind (with reports.recommend.THRESHOLDS).
CHECKS: dict[str, list[str]] = {
    "inpaint": ["texture.score", "seam.score", "background.psnr", "clip.score"],
    "outpaint": ["seam.score", "texture.score", "background.psnr", "clip.score"],
    "face_regen": ["identity.cosine", "pose.oks", "seam.score", "background.psnr"],
    "sdedit": ["clip.score", "background.psnr"],
    "instruct": ["clip.score", "background.psnr"],
}

PROMPT_ADVICE = ("Describe the whole image as it should look after the edit (subject, setting, light), not only "
                 "the changed part: inpainting models condition on the full prompt.")


@dataclass
class Recipe:
    image: str
    edit: str
    edit_kind: str
    task_kind: str
    rule: str                                   # why this kind (the matched words, or "no rule matched")
    mask: str
    pipeline: str
    weights: str
    mode: str
    guidance: float | None
    image_guidance: float | None
    strength: float | None
    mask_dilate: int | None
    mask_feather: int | None
    expected_latency_ms: float | None
    prompt_advice: str
    qa: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)     # measured runs cited, or what came from defaults


def classify(edit: str, *, has_mask: bool = False) -> tuple[str, str, str]:
    """(edit kind, task kind, reason) of an edit description; see :data:`RULES`."""
    text = " ".join(edit.lower().split())
    if not text:
        raise EditbenchError("--edit is empty; describe the edit, e.g. --edit \"remove the bin\".")
    for kind, task_kind, pattern in RULES:
        m = re.search(pattern, text)
        if m is None:
            continue
        if kind in ("replace_region", "regional_style") and not has_mask:
            continue            # without a region these are whole-image instructions ("change it to winter")
        return kind, task_kind, f"matched {m.group(0)!r}"
    return GLOBAL[0], GLOBAL[1], "no regional rule matched: an instruction for the whole image"


def _measured(runs_root: Path | None, task_kind: str):
    """(run dir, run.json, rows of that task kind, ranking, recommended Ranked, why) of the newest run under
    ``runs_root`` with measured (non-random) rows of ``task_kind``; None when there is none."""
    if runs_root is None:
        return None

    for info in reversed(find_runs(runs_root)):
        meta, df = load_run(info.path, allow_empty=True)
        rows = df[(df["kind"] == task_kind) & (df["weights"] != "random")] if len(df) else df
        if rows.empty or not (rows["status"] == "ok").any():
            continue
        record = read_metrics(info.path, meta, df.columns)
        cols = metric_columns(rows, record)
        metric = primary_metric(record)
        metric = metric if metric in cols else next((c for c in cols if record[c].get("role") == "quality"), None)
        if metric is None:
            continue
        ranking = rank(rows, entries(rows, record=record), record, metric)
        simple = {str(c.get("label")) for c in meta.get("pipelines", []) if not c.get("weights")}
        pick, why = ranking.choice(simple)
        if pick is not None:
            return info.path, meta, rows, ranking, pick, why
    return None


def recommend(image: str, edit: str, *, mask: str | None = None, sam_box: str | None = None,
              sam_point: str | None = None, runs: str | Path | None = None) -> Recipe:
    """The recipe for one edit of one image (see the module docstring)."""
    kind, task_kind, why_kind = classify(edit, has_mask=bool(mask or sam_box or sam_point))
    d = dict(DEFAULTS[kind])
    if mask:
        d["mask"] = f"the given mask {mask}"
    elif sam_box or sam_point:
        d["mask"] = f"SAM from {'box ' + sam_box if sam_box else 'point ' + sam_point}" + (
            ", inverted (everything but the subject)" if kind == "background_replacement" else "")
    evidence = []
    found = _measured(Path(runs) if runs else None, task_kind)
    if found:
        path, meta, rows, ranking, pick, why = found
        cfg = next((c for c in meta.get("pipelines", []) if c.get("label") == pick.pipeline), {})
        opts = cfg.get("options") or {}
        est = pick.entry.metrics[ranking.metric]
        d.update(pipeline=pick.pipeline, weights=str(cfg.get("weights_path") or cfg.get("weights") or "none"),
                 latency_ms=pick.p50_ms)
        for key, opt in (("guidance", "guidance"), ("image_guidance", "image_guidance"), ("strength", "strength"),
                         ("mask_dilate", "mask_dilate"), ("mask_feather", "mask_feather")):
            if opt in opts:
                d[key] = opts[opt]
        evidence.append(f"run {meta.get('run_id')} ({path}), {len(rows)} rows of task kind {task_kind}: "
                        f"{pick.pipeline} — {why}; {ranking.metric} = {est.mean:.4g} [{est.lo:.4g}, {est.hi:.4g}] "
                        f"over {est.n_tasks} tasks")
        evidence.append("settings from that run's pipeline options; where the run sets none, the documented "
                        "defaults (docs/skill.md)")
    else:
        where = f"under {runs}" if runs else "(no --runs given)"
        evidence.append(f"no measured run of task kind {task_kind} {where}: pipeline and settings are the "
                        "documented defaults (docs/skill.md), not measurements")
    qa = []
    for m in CHECKS.get(task_kind, []):
        if m in THRESHOLDS:
            op, value, advice = THRESHOLDS[m]
            qa.append(f"{m} {'≤' if op == 'max' else '≥'} {value:g}: {advice}")
    return Recipe(image=image, edit=edit, edit_kind=kind, task_kind=task_kind, rule=why_kind, mask=d["mask"],
                  pipeline=d["pipeline"], weights=d["weights"], mode=d["mode"], guidance=d["guidance"],
                  image_guidance=d["image_guidance"], strength=d["strength"], mask_dilate=d["mask_dilate"],
                  mask_feather=d["mask_feather"], expected_latency_ms=d["latency_ms"], prompt_advice=PROMPT_ADVICE,
                  qa=qa, evidence=evidence)


def to_markdown(r: Recipe) -> str:
    def opt(v):
        return "—" if v is None else code(v)

    lines = [f"# Edit recipe: {md(r.edit)}", "", f"Image: {code(r.image)}", "",
             f"- **Edit kind**: {r.edit_kind.replace('_', ' ')} (task kind `{r.task_kind}`; {md(r.rule)})",
             f"- **Mask**: {md(r.mask)}",
             f"- **Pipeline**: {code(r.pipeline)}, weights {code(r.weights)}",
             f"- **Mode**: {md(r.mode)}",
             f"- **CFG**: text {opt(r.guidance)}, image {opt(r.image_guidance)}",
             f"- **Strength (SDEdit t/T)**: {opt(r.strength)}",
             f"- **Mask dilation / feather (px)**: {opt(r.mask_dilate)} / {opt(r.mask_feather)}",
             f"- **Prompt**: {md(r.prompt_advice)}",
             f"- **Expected latency**: {fmt_ms(r.expected_latency_ms) if r.expected_latency_ms else 'not measured'}",
             "", "## QA checklist (editbench score --source IMAGE --output EDITED [--mask MASK])", ""]
    lines += [f"- [ ] {md(q)}" for q in r.qa] or ["- [ ] look at the edit"]
    lines += ["", "## Evidence", ""] + [f"- {md(e)}" for e in r.evidence]
    return "\n".join(lines) + "\n"


def to_json(r: Recipe) -> str:
    return json.dumps(asdict(r), indent=2)
