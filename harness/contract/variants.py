"""Pipeline variants on the command line, lm-eval ``--model_args`` style:

    --pipelines 'patchmatch:resolution=96,patch=9,cv2-telea'
    --pipelines 'patchmatch:resolution=96,label=pm96,patchmatch'

After ``NAME:``, comma-separated ``KEY=VALUE`` items are that pipeline's options; an item without ``=``
starts the next pipeline. Values are read as YAML scalars (``96`` an int, ``0.5`` a float, ``true`` a
bool, anything else a string). Three keys are not options: ``label`` (its name in results and reports),
``weights`` (a weights folder/file, or ``random``) and ``concurrency``. ``--label a,b`` gives the labels
of the pipelines in order instead.
"""

from __future__ import annotations

from typing import Any

import yaml

from harness.core.errors import EditbenchError

SPEC_KEYS = ("label", "weights", "concurrency")


def _value(text: str) -> Any:
    try:
        v = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return v if isinstance(v, (int, float, bool, str)) or v is None else text


def parse_pipelines(text: str, *, labels: list[str] | None = None) -> list[dict]:
    """``--pipelines`` (and ``--label``) -> PipelineSpec keyword dicts, in order."""
    out: list[dict] = []
    for raw in (x.strip() for x in text.split(",")):
        if not raw:
            continue
        if "=" in raw and ":" not in raw.split("=", 1)[0]:
            if not out:
                raise EditbenchError(f"--pipelines {text!r}: option {raw!r} comes before any pipeline name "
                                     "(write NAME:KEY=VALUE,KEY=VALUE).")
            key, value = (s.strip() for s in raw.split("=", 1))
            _set(out[-1], key, value, text)
            continue
        name, _, first = raw.partition(":")
        if not name.strip():
            raise EditbenchError(f"--pipelines {text!r}: {raw!r} names no pipeline.")
        out.append({"name": name.strip(), "options": {}})
        if first:
            if "=" not in first:
                raise EditbenchError(f"--pipelines {text!r}: {first!r} after {name}: is not KEY=VALUE.")
            key, value = (s.strip() for s in first.split("=", 1))
            _set(out[-1], key, value, text)
    if labels is not None:
        if len(labels) != len(out):
            raise EditbenchError(f"--label gives {len(labels)} labels for {len(out)} pipelines "
                                 f"({', '.join(p['name'] for p in out)}); give one per pipeline.")
        for p, label in zip(out, labels):
            p["label"] = label
    return [{k: v for k, v in p.items() if v != {}} for p in out]


def _set(p: dict, key: str, value: str, text: str) -> None:
    if not key:
        raise EditbenchError(f"--pipelines {text!r}: an option of {p['name']} has no name.")
    where = p if key in SPEC_KEYS else p["options"]
    if key in where:
        raise EditbenchError(f"--pipelines {text!r}: {p['name']} sets {key} twice.")
    where[key] = value if key in ("label", "weights") else _value(value)


def parse_tags(items: list[str] | None) -> dict[str, str]:
    """``--tag KEY=VALUE`` (repeatable) -> {key: value}."""
    tags: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise EditbenchError(f"--tag {item!r} is not KEY=VALUE (e.g. --tag lora=v4).")
        tags[key.strip()] = value.strip()
    return tags
