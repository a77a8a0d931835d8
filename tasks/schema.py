"""Task and Suite models, and loading suite YAML files.

A task is data (one editing job); a suite is a versioned YAML file holding tasks plus the default
pipelines, seeds and scorers. Paths inside a suite are relative to its ``data_root``, which is
itself relative to the suite file, and may not escape it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.errors import EditbenchError, format_validation_error
from harness.spec import PipelineSpec

SUITES_DIR = Path(__file__).parent / "suites"

TaskKind = Literal["inpaint", "outpaint", "sdedit", "instruct", "face_regen", "toy"]


class Task(BaseModel):
    """One editing job. Masks use 1 = regenerate, 0 = keep."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: str                              # stable, unique within a suite
    kind: TaskKind
    suite: str = ""                           # filled in from the suite when loaded
    image: str | None = None                  # path relative to the suite's data root
    mask: str | dict[str, Any] | None = None  # path, or an inline recipe such as {"box": [x0, y0, x1, y1]}
    prompt: str = ""
    negative_prompt: str = ""
    instruction: str = ""
    control: str | dict[str, Any] | None = None    # e.g. a pose image or keypoints
    reference: str | None = None                   # e.g. the identity image
    target: str | None = None                      # ground-truth image, where one exists
    params: dict[str, Any] = Field(default_factory=dict)  # steps, guidance, strength, mask_fraction, ...


class Suite(BaseModel):
    """A named, versioned list of tasks with default pipelines, seeds and scorers."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    description: str = ""
    data_root: str = "."                     # relative to the suite file
    pipelines: list[PipelineSpec] = Field(default_factory=list)
    seeds: list[int] = Field(default_factory=lambda: [0])
    scorers: list[str] = Field(default_factory=list)
    tasks: list[Task]

    # Not part of the file: where it was read from.
    source_path: str | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _fill(cls, data):
        if isinstance(data, dict):
            data = dict(data)
            data["pipelines"] = [PipelineSpec.coerce(p) for p in data.get("pipelines") or []]
            name = data.get("name", "")
            data["tasks"] = [
                {**t, "suite": t.get("suite") or name} if isinstance(t, dict) else t
                for t in data.get("tasks") or []
            ]
        return data

    @model_validator(mode="after")
    def _unique_ids(self):
        seen: set[str] = set()
        for i, t in enumerate(self.tasks):
            if t.task_id in seen:
                raise ValueError(f"duplicate task_id {t.task_id!r} at tasks[{i}]")
            seen.add(t.task_id)
        return self

    @property
    def root(self) -> Path:
        base = Path(self.source_path).parent if self.source_path else Path.cwd()
        return (base / self.data_root).resolve()

    def resolve_path(self, rel: str, *, field: str = "path") -> Path:
        """Absolute path of a suite-relative path; refuses paths that escape the data root."""
        p = (self.root / rel).resolve()
        if not p.is_relative_to(self.root):
            raise EditbenchError(
                f"suite {self.name}: {field} {rel!r} escapes the data root {self.root}."
            )
        return p

    def content_hash(self) -> str:
        """sha256 over the suite's canonical JSON and the bytes of every referenced file.

        A changed image or mask therefore changes the suite's identity recorded in run.json.
        """
        h = hashlib.sha256()
        h.update(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode())
        for t in self.tasks:
            for field in ("image", "mask", "control", "reference", "target"):
                v = getattr(t, field)
                if isinstance(v, str):
                    p = self.resolve_path(v, field=f"tasks[{t.task_id}].{field}")
                    if p.is_file():
                        h.update(field.encode() + v.encode() + hashlib.sha256(p.read_bytes()).digest())
        return h.hexdigest()


def list_suites() -> list[str]:
    """Names of the built-in suites (tasks/suites/*.yaml)."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))


def load_suite(name_or_path: str | Path) -> Suite:
    """Load a built-in suite by name, or a suite YAML file by path."""
    s = str(name_or_path)
    path = Path(s)
    if not (s.endswith((".yaml", ".yml")) or path.is_file()):
        path = SUITES_DIR / f"{s}.yaml"
        if not path.is_file():
            raise EditbenchError(
                f"unknown suite {s!r}; built-in suites are {list_suites()} (or pass a path to a suite YAML file)."
            )
    if not path.is_file():
        raise EditbenchError(f"suite file {path} does not exist.")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise EditbenchError(f"suite file {path} is not valid YAML: {e}".replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise EditbenchError(f"suite file {path} must hold a mapping at the top level.")
    try:
        suite = Suite(**data)
    except ValidationError as e:
        raise EditbenchError(format_validation_error(e, where=f"suite file {path}")) from None
    suite.source_path = str(path.resolve())
    return suite
