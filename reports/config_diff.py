"""What changed between two runs' configurations, read from their run.json: the run's name and tags,
the pipelines (added, removed, options, weights), the suite's content hash, seeds, scorers and
package versions. The gate prints it under its verdict; the history page lists it per run."""

from __future__ import annotations

from typing import Any


def _pipelines(meta: dict) -> dict[str, dict]:
    return {str(p.get("label") or p.get("name")): p for p in meta.get("pipelines") or []}


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def _changed(a: dict, b: dict) -> list[str]:
    return [f"{k} {a.get(k)!r} → {b.get(k)!r}" for k in sorted(set(a) | set(b), key=str) if a.get(k) != b.get(k)]


def config_diff(base: dict, cand: dict) -> list[str]:
    """One line per difference of the candidate's run.json from the baseline's; [] when they agree."""
    lines: list[str] = []
    if base.get("name") != cand.get("name"):
        lines.append(f"run name {base.get('name')!r} → {cand.get('name')!r}")
    lines += [f"tag {x}" for x in _changed(base.get("tags") or {}, cand.get("tags") or {})]
    bs, cs = base.get("suite") or {}, cand.get("suite") or {}
    if bs.get("hash") != cs.get("hash"):
        lines.append(f"suite content hash {str(bs.get('hash'))[:12]} → {str(cs.get('hash'))[:12]}")
    bp, cp = _pipelines(base), _pipelines(cand)
    for k in sorted(set(bp) - set(cp)):
        lines.append(f"pipeline {k} only in the baseline")
    for k in sorted(set(cp) - set(bp)):
        lines.append(f"pipeline {k} only in the candidate")
    for k in sorted(set(bp) & set(cp)):
        a, b = bp[k], cp[k]
        if a.get("name") != b.get("name"):
            lines.append(f"pipeline {k}: adapter {a.get('name')!r} → {b.get('name')!r}")
        lines += [f"pipeline {k}: option {x}" for x in _changed(_flat(a.get("options") or {}), _flat(b.get("options") or {}))]
        if a.get("weights") != b.get("weights"):
            lines.append(f"pipeline {k}: weights {a.get('weights')!r} → {b.get('weights')!r}")
    for key in ("seeds", "scorers"):
        if (base.get(key) or []) != (cand.get(key) or []):
            lines.append(f"{key} {base.get(key)} → {cand.get(key)}")
    lines += [f"package {x}" for x in _changed(base.get("packages") or {}, cand.get("packages") or {})]
    if base.get("git_sha") != cand.get("git_sha") and base.get("git_sha") and cand.get("git_sha"):
        lines.append(f"editbench git sha {str(base['git_sha'])[:10]} → {str(cand['git_sha'])[:10]}")
    return lines


def run_title(meta: dict) -> str:
    """A run as people name it: ``nightly-sdxl (lora=v4) · 20261204T0100Z-ab12cd``."""
    tags = ", ".join(f"{k}={v}" for k, v in (meta.get("tags") or {}).items())
    name = meta.get("name")
    head = f"{name}{f' ({tags})' if tags else ''}" if name else (f"({tags})" if tags else "")
    return f"{head} · {meta.get('run_id', '?')}" if head else str(meta.get("run_id", "?"))
