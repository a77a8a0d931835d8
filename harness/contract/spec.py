"""Run specifications: which pipelines, seeds and scorers run over which suite (:class:`RunSpec`), and
how the run executes (:class:`ExecutionSpec`: cluster, actors, time limits, flushing).

One model serves the CLI flags, the Python API and run-spec YAML files (``editbench run CONFIG.yaml``).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.core.errors import EditbenchError, format_validation_error
from harness.core.storage import check_name, name_problem


class PipelineSpec(BaseModel):
    """One pipeline under test, with its options and weight source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str                               # registry name, e.g. "toy-repaint", "sd-inpaint"
    label: str | None = None                # name in results (default: name); lets one pipeline run twice with other options
    options: dict[str, Any] = Field(default_factory=dict)  # adapter options (steps, guidance, dtype, ...)
    weights: str | None = None              # local folder/file, a Hugging Face id (org/name, from the local
                                            # cache), "random", or None = $EDITBENCH_WEIGHTS/<name>
    revision: str | None = None             # Hugging Face id only: branch, tag or commit (None: main)
    subfolder: str | None = None            # Hugging Face id only: the pipeline's folder inside the repository
    variant: str | None = None              # diffusers weight variant, e.g. "fp16" (files *.fp16.safetensors)
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

    @field_validator("label")
    @classmethod
    def _safe_label(cls, v):
        """A label names the pipeline's output folder: a safe file name (harness.core.storage.SAFE_NAME)."""
        problem = name_problem(v, what="label") if v is not None else None
        if problem:
            raise ValueError(problem)
        return v

    @classmethod
    def coerce(cls, item: "str | dict | PipelineSpec") -> "PipelineSpec":
        if isinstance(item, PipelineSpec):
            return item
        if isinstance(item, str):
            return cls(name=item)
        return cls(**item)


class ExecutionSpec(BaseModel):
    """How a run executes: where to, on which Ray cluster, with how many actors and GPUs, how many jobs
    in flight, which time limits and retries, how often rows are flushed. Nothing here changes what a
    row means; two runs of one :class:`RunSpec` with different execution specs give comparable rows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    out: str | None = None                       # output location (CLI --out overrides)
    address: str | None = None                   # Ray cluster address; None: $RAY_ADDRESS or a local ray.init
    connect_timeout_s: float | None = Field(default=None, gt=0)  # joining the cluster (default 60 s) or starting
                                                 # the local Ray (default 120 s); over it: one sentence, exit 2
    resume: bool = False                         # compute only the (task, pipeline, seed) rows not yet written
    extend: bool = False                         # with resume: add other seeds/pipelines/scorers to the run
                                                 # (run.json records the union); without it they are refused
    actors_per_pipeline: int | None = Field(default=None, ge=1)  # copies of each pipeline; None: one per GPU
                                                 # (GPU pipelines) or CPUs / pipelines (CPU pipelines)
    num_gpus_per_actor: float | None = None      # None: 1 for GPU pipelines on a GPU cluster (shared if too few), else 0
    scoring: Literal["auto", "inline", "pool"] = "auto"  # pool: scorer actors overlap generation; auto: pool with GPUs
    scorer_actors: int = Field(default=1, ge=1)  # size of the scorer pool
    score_batch: int = Field(default=8, ge=1)    # most outputs a scorer actor scores in one call (score_batch)
    num_gpus_per_scorer: float = 0.0             # GPU share of each scorer actor (e.g. 0.25 for CLIP/ArcFace on GPU)
    prefetch: bool = True                        # decode the next task's images in a Ray task while the current runs
    queue_depth: int = Field(default=2, ge=1)    # jobs held per actor: 2 = one running + one queued, which hides
                                                 # the driver round trip (~5 ms a task on a 2-core machine)
    actor_start_timeout_s: float = Field(default=600.0, gt=0)  # actors (pipeline loading included) must be up by then
    load_timeout_s: float | None = Field(default=None, gt=0)  # per actor: start-up + pipeline loading; None:
                                                 # actor_start_timeout_s
    task_timeout_s: float | None = Field(default=None, gt=0)  # per task, from the moment its actor starts it
                                                 # (loading and queueing excluded); over it the row gets status=timeout
    max_retries: int = Field(default=1, ge=0)    # retries of a task whose actor process died
    flush_every: int = Field(default=16, ge=1)   # rows per Parquet shard while streaming
    flush_seconds: float = Field(default=10.0, gt=0)  # ... or after this many seconds, whichever first
    lock_lease_s: float = Field(default=120.0, gt=0, le=86400)  # object stores: the run lock's lease; a driver
                                                 # that cannot renew it stops writing (harness.storage.RunLock)

    @property
    def load_limit_s(self) -> float:
        """Seconds an actor has to start and load its pipeline."""
        return self.load_timeout_s if self.load_timeout_s is not None else self.actor_start_timeout_s


EXECUTION_FIELDS = frozenset(ExecutionSpec.model_fields)


class RunSpec(BaseModel):
    """What to run: suite x pipelines x seeds x scorers (frozen), and in ``execution`` how to run it.

    The execution keys may also be given flat (``RunSpec(suite=..., task_timeout_s=60)``, or
    ``task_timeout_s: 60`` at the top of a run-spec file): they are moved into ``execution``; a flat key
    wins over the same key under ``execution:``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    suite: str                                   # built-in suite name or path to a suite YAML
    pipelines: list[PipelineSpec] | None = None  # None: the suite's defaults
    seeds: list[int] | None = None               # None: the suite's defaults
    scorers: list[str] | None = None             # None: the suite's defaults
    scorer_options: dict[str, dict[str, Any]] = Field(default_factory=dict)  # scorer -> options (weights paths, device)
    primary: str | None = None                   # primary metric column; None: the suite's, else the task kind's default
    limit: int | None = Field(default=None, ge=1)  # run only the first N tasks (smoke runs)
    max_pixels: int | None = Field(default=None, ge=1)  # largest input image (width x height); None: the
                                                 # default harness.core.imageio.DEFAULT_MAX_PIXELS (or $EDITBENCH_MAX_PIXELS)
    grid: dict[str, Any] | None = None           # option sweeps: {option: [values]} for every pipeline, or
                                                 # {pipeline key: {option: [values]}}; see expand_grid
    name: str | None = None                      # the run's name in reports, history and gate (e.g. nightly-sdxl)
    tags: dict[str, str] = Field(default_factory=dict)  # free labels of the run (e.g. {lora: v4}), in run.json
    execution: ExecutionSpec = Field(default_factory=ExecutionSpec)  # how to run it

    @model_validator(mode="before")
    @classmethod
    def _route_execution_keys(cls, data):
        if not isinstance(data, dict) or not EXECUTION_FIELDS & set(data):
            return data
        rest = {k: v for k, v in data.items() if k not in EXECUTION_FIELDS}
        nested = rest.get("execution") or {}
        if isinstance(nested, ExecutionSpec):
            nested = nested.model_dump(exclude_unset=True)
        if not isinstance(nested, dict):
            return data   # reported by the validation of ``execution``
        rest["execution"] = {**nested, **{k: v for k, v in data.items() if k in EXECUTION_FIELDS}}
        return rest

    def executed(self, **changes) -> "RunSpec":
        """This spec with ``changes`` to its execution spec (validated)."""
        ex = ExecutionSpec(**{**self.execution.model_dump(exclude_unset=True), **changes})
        return self.model_copy(update={"execution": ex})

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
            check_name(label, what="grid label", where=f"grid option values {point}")
            out.append(p.model_copy(update={"label": label, "options": {**p.options, **point},
                                            "grid_of": p.key, "grid_point": point}))
    return out


MAX_YAML_BYTES = 16 * 2**20   # largest suite, run spec, gates or thresholds file read (16 MiB)


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses YAML aliases (``*name``): a few nested aliases expand to gigabytes."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, f"aliases (*{event.anchor}) are not allowed",
                                              event.start_mark)
        return super().compose_node(parent, index)


def read_yaml(path: Path, *, what: str):
    """The document of a YAML file, read with the limits every editbench YAML file shares: at most
    :data:`MAX_YAML_BYTES`, UTF-8, safe tags only, no aliases. Errors name ``what`` ("suite file") and the path."""
    path = Path(path)
    if not path.is_file():
        raise EditbenchError(f"{what} {path} does not exist.")
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise EditbenchError(f"{what} {path} is {size} bytes; at most {MAX_YAML_BYTES} are read.")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise EditbenchError(f"{what} {path} is not UTF-8 text (byte {e.start}).") from None
    try:
        data = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        raise EditbenchError(f"{what} {path} is not valid YAML: {e}".replace("\n", " ")) from None
    except RecursionError:
        raise EditbenchError(f"{what} {path} is nested more deeply than {MAX_DEPTH} levels.") from None
    except ValueError as e:   # e.g. an integer of more digits than Python converts (4,300)
        raise EditbenchError(f"{what} {path} holds a value that cannot be read ({str(e).split(';')[0]}).") from None
    check_depth(data, what=f"{what} {path}")
    return data


MAX_DEPTH = 64   # nesting of mappings and lists in any YAML or JSON document the project reads


def check_depth(data: Any, *, what: str, limit: int = MAX_DEPTH) -> None:
    """EditbenchError naming ``what`` when ``data`` nests mappings/lists deeper than ``limit`` (checked
    without recursion, so a hostile document cannot overflow the stack here)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > limit:
                raise EditbenchError(f"{what} is nested more deeply than {limit} levels.")
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))


def read_yaml_mapping(path: Path, *, what: str, empty_ok: bool = False) -> dict:
    """The mapping at the top of a YAML file (see :func:`read_yaml`); an empty file is ``{}`` when ``empty_ok``."""
    data = read_yaml(path, what=what)
    if data is None and empty_ok:
        return {}
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
