"""Run specifications: which pipelines, seeds and scorers run over which suite, and where to.

One model serves the CLI flags, the Python API and run-spec YAML files (``editbench run CONFIG.yaml``).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.errors import EditbenchError, format_validation_error


class PipelineSpec(BaseModel):
    """One pipeline under test, with its options and weight source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str                               # registry name, e.g. "toy-repaint", "sd-inpaint"
    label: str | None = None                # name in results (default: name); lets one pipeline run twice with other options
    options: dict[str, Any] = Field(default_factory=dict)  # adapter options (steps, guidance, dtype, ...)
    weights: str | None = None              # local folder/file, "random", or None = $EDITBENCH_WEIGHTS/<name>
    # Jobs in flight per actor: run at once by concurrent (hosted) pipelines, else held in the actor's queue
    # (one running). None: the pipeline's default (hosted: 8), else the run's queue_depth (2).
    concurrency: int | None = Field(None, ge=1)
    # Set by expand_grid on the variants it makes: the pipeline key they came from and their grid point
    # ({option: value}); rows record the point as param.<option> so a grid sweep is grouped like any other.
    grid_of: str | None = None
    grid_point: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.label or self.name

    @classmethod
    def coerce(cls, item: "str | dict | PipelineSpec") -> "PipelineSpec":
        if isinstance(item, PipelineSpec):
            return item
        if isinstance(item, str):
            return cls(name=item)
        return cls(**item)


class RunSpec(BaseModel):
    """Suite x pipelines x seeds x scorers, written to one output directory."""

    model_config = ConfigDict(extra="forbid")

    suite: str                                   # built-in suite name or path to a suite YAML
    pipelines: list[PipelineSpec] | None = None  # None: the suite's defaults
    seeds: list[int] | None = None               # None: the suite's defaults
    scorers: list[str] | None = None             # None: the suite's defaults
    scorer_options: dict[str, dict[str, Any]] = Field(default_factory=dict)  # scorer -> options (weights paths, device)
    primary: str | None = None                   # primary metric column; None: the suite's, else the task kind's default
    out: str | None = None                       # output directory (CLI --out overrides)
    address: str | None = None                   # Ray cluster address; None: $RAY_ADDRESS or a local ray.init
    resume: bool = False                         # compute only the (task, pipeline, seed) rows not yet on disk
    actors_per_pipeline: int | None = None       # copies of each pipeline; None: one per GPU (GPU pipelines)
                                                 # or CPUs / pipelines (CPU pipelines)
    num_gpus_per_actor: float | None = None      # None: 1 for GPU pipelines on a GPU cluster (shared if too few), else 0
    scoring: Literal["auto", "inline", "pool"] = "auto"  # pool: scorer actors overlap generation; auto: pool with GPUs
    scorer_actors: int = 1                       # size of the scorer pool
    score_batch: int = Field(default=8, ge=1)    # most outputs a scorer actor scores in one call (score_batch)
    num_gpus_per_scorer: float = 0.0             # GPU share of each scorer actor (e.g. 0.25 for CLIP/ArcFace on GPU)
    prefetch: bool = True                        # decode the next task's images in a Ray task while the current runs
    queue_depth: int = Field(default=2, ge=1)    # jobs held per actor: 2 = one running + one queued, which hides
                                                 # the driver round trip (~5 ms a task on a 2-core machine)
    actor_start_timeout_s: float = 600.0         # actors (pipeline loading included) must be up by then
    task_timeout_s: float | None = None          # per task; over it the row gets status=timeout
    max_retries: int = 1                         # retries of a task whose actor process died
    flush_every: int = 16                        # rows per Parquet shard while streaming
    flush_seconds: float = 10.0                  # ... or after this many seconds, whichever first
    limit: int | None = None                     # run only the first N tasks (smoke runs)
    grid: dict[str, Any] | None = None           # option sweeps: {option: [values]} for every pipeline, or
                                                 # {pipeline key: {option: [values]}}; see expand_grid

    @field_validator("pipelines", mode="before")
    @classmethod
    def _coerce_pipelines(cls, v):
        if v is None:
            return v
        if isinstance(v, str):
            v = [s for s in v.split(",") if s.strip()]
        return [PipelineSpec.coerce(x) for x in v]

    @field_validator("seeds", "scorers", mode="before")
    @classmethod
    def _split_csv(cls, v):
        if isinstance(v, str):
            return [s.strip() for s in v.split(",") if s.strip()]
        return v


def grid_axes(grid: dict[str, Any] | None) -> list[str]:
    """The option names a ``grid:`` sweeps, in order (common ones first, then per-pipeline ones)."""
    axes: list[str] = []
    for k, v in (grid or {}).items():
        for name in (v if isinstance(v, dict) else [k]):
            if name not in axes:
                axes.append(name)
    return axes


def _grid_value(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def expand_grid(pipelines: list[PipelineSpec], grid: dict[str, Any] | None) -> list[PipelineSpec]:
    """Expand option sweeps into labelled pipeline variants, one per point of the cartesian product.

    ``grid`` maps an option name to its values (applies to every pipeline), or a pipeline key to such a
    mapping (applies to that pipeline only; the per-pipeline mapping wins on a shared option). A variant
    keeps the pipeline's other options and is labelled ``key[opt=value,...]`` in grid order, e.g.
    ``sd-inpaint[guidance=7.5]``. Pipelines the grid does not touch are returned unchanged.
    """
    if not grid:
        return list(pipelines)
    keys = {p.key for p in pipelines}
    common: dict[str, list] = {}
    per: dict[str, dict[str, list]] = {}
    for k, v in grid.items():
        if isinstance(v, dict):
            if k not in keys:
                raise EditbenchError(f"grid names pipeline {k!r}, which is not among the run's pipelines "
                                     f"{sorted(keys)}.")
            per[k] = v
        else:
            common[k] = v
    out: list[PipelineSpec] = []
    for p in pipelines:
        axes = {**common, **per.get(p.key, {})}
        for opt, values in axes.items():
            if not isinstance(values, list) or not values:
                raise EditbenchError(f"grid option {opt!r} must list one or more values, not {values!r}.")
        if not axes:
            out.append(p)
            continue
        for combo in itertools.product(*axes.values()):
            point = dict(zip(axes, combo))
            label = f"{p.key}[{','.join(f'{k}={_grid_value(v)}' for k, v in point.items())}]"
            out.append(p.model_copy(update={"label": label, "options": {**p.options, **point},
                                            "grid_of": p.key, "grid_point": point}))
    return out


def read_yaml_mapping(path: Path, *, what: str) -> dict:
    """The mapping at the top of a YAML file; errors name ``what`` ("suite file") and the path."""
    if not path.is_file():
        raise EditbenchError(f"{what} {path} does not exist.")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise EditbenchError(f"{what} {path} is not valid YAML: {e}".replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise EditbenchError(f"{what} {path} must hold a mapping at the top level.")
    return data


def load_run_spec(path: str | Path) -> RunSpec:
    """Read a run spec YAML file; errors name the file and the field."""
    path = Path(path)
    data = read_yaml_mapping(path, what="run spec file")
    suite = data.get("suite")
    if isinstance(suite, str) and (suite.endswith((".yaml", ".yml")) and not Path(suite).is_absolute()):
        data["suite"] = str((path.parent / suite).resolve())
    try:
        return RunSpec(**data)
    except ValidationError as e:
        raise EditbenchError(format_validation_error(e, where=f"run spec file {path}")) from None
