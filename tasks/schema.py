"""Task and Suite models, and loading suite YAML files.

A task is data (one editing job); a suite is a versioned YAML file holding tasks plus the default
pipelines, seeds and scorers. Tasks are listed inline (``tasks:``) and/or in a table next to the suite
file (``tasks_file:``, JSONL or Parquet). Paths inside a suite are relative to its ``data_root``, which
is either relative to the suite file or names a folder inside an installed package
(``pkg:skimage/data``); no path may escape the data root. See docs/suites.md.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, ValidationInfo, field_validator, model_validator

from harness.contract.spec import PipelineSpec, check_depth, read_yaml_mapping
from harness.core.errors import EditbenchError
from tasks.problems import Problem, SuiteInvalid, check_rows, pydantic_problems
from tasks.recipes import is_sam_recipe, resolve_recipe_paths

SUITES_DIR = Path(__file__).parent / "suites"
PKG_PREFIX = "pkg:"
FILE_FIELDS = ("image", "mask", "control", "reference", "target")  # task fields that may name a file

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
    # Instructions every pipeline that runs the task must apply (mask_dilate, steps, guidance, strength,
    # outpaint, ...): checked against each scheduled pipeline's per-task options before any work.
    overrides: dict[str, Any] = Field(default_factory=dict)
    # Labels for reports (mask_fraction, face_box, edit, detector, ...); no pipeline reads them.
    meta: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _split_params(cls, data, info: ValidationInfo):
        """Suites written with one ``params:`` mapping keep loading: each key becomes an override when
        some registered pipeline that runs tasks of this kind takes it per task, else meta. Which names
        those are is given by the loader (:func:`tasks.loading.load_suite`) as the validation context's
        ``option_names`` (kind -> names), since the pipeline registry sits above this schema."""
        if isinstance(data, dict) and "params" in data:
            data = dict(data)
            params = data.pop("params") or {}
            if not isinstance(params, dict):
                raise ValueError("params must be a mapping")
            option_names = (info.context or {}).get("option_names")
            if option_names is None:
                raise ValueError("params: (overrides and meta in one mapping) needs the suite loader "
                                 "tasks.loading.load_suite, which knows the pipelines' options")
            over, meta = split_params(params, option_names(data.get("kind")))
            for field, part in (("overrides", over), ("meta", meta)):
                clash = set(part) & set(data.get(field) or {})
                if clash:
                    raise ValueError(f"{sorted(clash)} given both in params and in {field}")
                data[field] = {**part, **(data.get(field) or {})}
        return data

    @property
    def params(self) -> dict[str, Any]:
        """Meta and overrides in one mapping: what results record as ``param.<name>`` columns."""
        return {**self.meta, **self.overrides}


OptionNames = Callable[[str | None], frozenset[str]]   # task kind -> the per-task option names pipelines take


def split_params(params: dict[str, Any], names: frozenset[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(overrides, meta) of a one-mapping ``params``: a key is an override when it is one of ``names`` (the
    per-task options of the registered pipelines that run the task's kind), else a meta label."""
    return ({k: v for k, v in params.items() if k in names}, {k: v for k, v in params.items() if k not in names})


MAX_PATH_LEN = 1024            # characters of a file path a task names
MAX_TASK_ROWS = 100_000        # rows of a tasks_file
MAX_TASKS_FILE_BYTES = 256 * 2**20   # size of a tasks_file


def resolve_data_root(data_root: str, base: Path) -> Path:
    """Absolute data root: ``pkg:PACKAGE[/SUB/FOLDER]`` names a folder inside an installed package
    (found with importlib, without importing the package); anything else is relative to ``base``."""
    if not data_root.startswith(PKG_PREFIX):
        return (base / data_root).resolve()
    package, _, sub = data_root[len(PKG_PREFIX):].partition("/")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,99}", package):
        # A dotted name would import its parent package to find it: only top-level names are looked up.
        raise EditbenchError(f"data_root {data_root[:120]!r} names {package[:100]!r}, which is not the name of a "
                             "top-level installed package (pkg:PACKAGE/FOLDER).")
    try:
        spec = importlib.util.find_spec(package) if package else None
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise EditbenchError(f"data_root {data_root!r} names package {package!r}, which is not an installed package.")
    return (Path(list(spec.submodule_search_locations)[0]) / sub).resolve()


class Suite(BaseModel):
    """A named, versioned list of tasks with default pipelines, seeds and scorers."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    description: str = ""
    data_root: str = "."                     # relative to the suite file, or "pkg:PACKAGE/SUB/FOLDER"
    tasks_file: str | None = None            # JSONL or Parquet table of tasks, relative to the suite file
    pipelines: list[PipelineSpec] = Field(default_factory=list)
    seeds: list[int] = Field(default_factory=lambda: [0])
    scorers: list[str] = Field(default_factory=list)
    tasks: list[Task] = Field(default_factory=list)  # inline tasks (those of tasks_file follow them)
    sweep: list[str] = Field(default_factory=list)   # declared sweep axes: override or meta names the
                                                     # reports group by (e.g. [mask_dilate]); nothing else is a sweep
    primary: str | None = None                       # primary metric column; None: the default of the task kind
    scorer_options: dict[str, dict[str, Any]] = Field(default_factory=dict)  # scorer -> options (e.g. identity
                                                     # backend); a run spec's scorer_options override them

    # Not part of the file: where it was read from.
    source_path: str | None = Field(default=None, exclude=True)
    _origins: list[tuple[str, str]] = PrivateAttr(default_factory=list)  # (file, row) of each task
    _file_hashes: dict[str, str] | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _fill(cls, data):
        if isinstance(data, dict):
            data = dict(data)
            name = data.get("name", "")
            data["tasks"] = [
                {**t, "suite": t.get("suite") or name} if isinstance(t, dict) else t
                for t in data.get("tasks") or []
            ]
        return data

    @field_validator("pipelines", mode="before")
    @classmethod
    def _pipeline_names(cls, v):
        """A pipeline given by name alone; mappings are validated as PipelineSpec (errors name their index)."""
        return [{"name": p} if isinstance(p, str) else p for p in v] if isinstance(v, list) else v

    @model_validator(mode="after")
    def _unique_ids(self):
        seen: set[str] = set()
        for i, t in enumerate(self.tasks):
            if t.task_id in seen:
                raise ValueError(f"duplicate task_id {t.task_id!r} at tasks[{i}]")
            seen.add(t.task_id)
        return self

    @field_validator("sweep")
    @classmethod
    def _sweep_names(cls, v: list[str]) -> list[str]:
        bad = [a for a in v if not a or a.startswith("param.")]
        if bad:
            raise ValueError(f"sweep axes are parameter names such as mask_dilate, not {bad}")
        if len(set(v)) != len(v):
            raise ValueError(f"sweep repeats an axis: {v}")
        return v

    @property
    def root(self) -> Path:
        base = Path(self.source_path).parent if self.source_path else Path.cwd()
        return resolve_data_root(self.data_root, base)

    def origin(self, i: int) -> tuple[str, str]:
        """(file, row) where task ``i`` was written, e.g. ("suite.yaml", "tasks[3]") or ("t.jsonl", "line 4")."""
        if i < len(self._origins):
            return self._origins[i]
        return (self.source_path or f"suite {self.name}", f"tasks[{i}]")

    def resolve_path(self, rel: str, *, field: str = "path") -> Path:
        """Absolute path of a suite-relative path; refuses paths that escape the data root.

        A path written ``pkg:PACKAGE/FILE`` lies in an installed package instead (for suites mixing
        images of two packages) and may not escape that package's folder.
        """
        if not isinstance(rel, str) or "\x00" in rel or len(rel) > MAX_PATH_LEN:
            raise EditbenchError(f"suite {self.name}: {field} {str(rel)[:60]!r}... is not a usable path (a NUL byte, or "
                                 f"over {MAX_PATH_LEN} characters).")
        if rel.startswith(PKG_PREFIX):
            package = rel[len(PKG_PREFIX):].split("/", 1)[0]
            root = resolve_data_root(PKG_PREFIX + package, Path.cwd())
            p = resolve_data_root(rel, Path.cwd())
        else:
            root = self.root
            p = (root / rel).resolve()
        if not p.is_relative_to(root):
            raise EditbenchError(
                f"suite {self.name}: {field} {rel!r} escapes the data root {root}."
            )
        return p

    def file_hashes(self) -> dict[str, str]:
        """sha256 of every file a task references, keyed by its data-root-relative path, sorted.

        A file that is missing (or escapes the data root) hashes as ``"missing"``; run validation
        (:func:`tasks.validate.validate_suite`) reports those before any run. Computed once per suite.
        """
        if self._file_hashes is None:
            out: dict[str, str] = {}
            for t in self.tasks:
                for field in FILE_FIELDS:
                    v = getattr(t, field)
                    if field == "mask" and isinstance(v, dict):   # a SAM recipe's reference mask
                        v = v.get("reference")
                    if isinstance(v, str) and v not in out:
                        try:
                            p = self.resolve_path(v)
                        except EditbenchError:
                            p = None
                        out[v] = hashlib.sha256(p.read_bytes()).hexdigest() if p and p.is_file() else "missing"
            self._file_hashes = dict(sorted(out.items()))
        return self._file_hashes

    def content_hash(self) -> str:
        """sha256 over the suite's canonical JSON (tasks included) and the sha256 of every referenced file.

        A changed image or mask therefore changes the suite's identity recorded in run.json. The hash
        does not depend on where the suite or its data root lie on disk.
        """
        suite = self.model_dump(mode="json")
        for t in suite["tasks"]:  # the hash of a suite written with params: is unchanged by the split
            t["params"] = {**t.pop("meta"), **t.pop("overrides")}
        for k in ("sweep", "primary", "scorer_options"):
            if not suite[k]:
                del suite[k]
        doc = {"suite": suite, "files": self.file_hashes()}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def list_suites() -> list[str]:
    """Names of the built-in suites (tasks/suites/*.yaml)."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))


def _suite_path(name_or_path: str | Path) -> Path:
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
    return path


def _json_cell(v: Any) -> Any:
    """Table cells may hold a recipe or params dict as a JSON string (Parquet columns have one type)."""
    if isinstance(v, str) and v.lstrip().startswith("{"):
        try:
            return json.loads(v)
        except json.JSONDecodeError:
            return v
    return v


def read_task_table(path: Path) -> tuple[list[tuple[str, Any]], list[Problem]]:
    """Rows of a JSONL (one JSON object a line) or Parquet task table, as (row label, dict)."""
    if not path.is_file():
        return [], [Problem(str(path), "", None, "tasks file does not exist")]
    rows: list[tuple[str, Any]] = []
    problems: list[Problem] = []
    size = path.stat().st_size
    if size > MAX_TASKS_FILE_BYTES:
        return [], [Problem(str(path), "", None, f"tasks file is {size} bytes; at most {MAX_TASKS_FILE_BYTES} are read")]
    too_many = f"tasks file holds more than {MAX_TASK_ROWS} rows; split the suite"
    if path.suffix in (".jsonl", ".ndjson"):
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as e:
            return [], [Problem(str(path), "", None, f"tasks file is not UTF-8 text (byte {e.start})")]
        lines = text.splitlines()
        if sum(1 for line in lines if line.strip()) > MAX_TASK_ROWS:
            return [], [Problem(str(path), "", None, too_many)]
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
                check_depth(value, what=f"tasks file {path} line {n}")
                rows.append((f"line {n}", value))
            except json.JSONDecodeError as e:
                problems.append(Problem(str(path), f"line {n}", None, f"not valid JSON ({e.msg})"))
            except (RecursionError, ValueError, EditbenchError) as e:   # deep nesting, a 5,000-digit integer
                reason = "nested too deeply" if isinstance(e, RecursionError) else str(e).split(";")[0].split(" (")[0]
                problems.append(Problem(str(path), f"line {n}", None, f"not usable JSON ({reason})"))
    elif path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            if pq.ParquetFile(path).metadata.num_rows > MAX_TASK_ROWS:   # from the footer, before reading rows
                return [], [Problem(str(path), "", None, too_many)]
            records = pq.read_table(path).to_pylist()
        except Exception as e:  # noqa: BLE001 - any pyarrow failure means the file is unusable
            return [], [Problem(str(path), "", None, f"cannot be read as Parquet ({type(e).__name__})")]
        for i, rec in enumerate(records):
            rows.append((f"row {i}", {k: _json_cell(v) for k, v in rec.items() if v is not None}))
    else:
        problems.append(Problem(str(path), "", None, "tasks file must end in .jsonl or .parquet"))
    return rows, problems


def load_suite(name_or_path: str | Path, *, option_names: OptionNames | None = None) -> Suite:
    """Load a built-in suite by name, or a suite YAML file by path.

    ``option_names``: kind -> per-task option names, for suites written with one ``params:`` mapping
    (:func:`tasks.loading.load_suite` passes the pipeline registry's); without it such a suite is refused.

    Schema problems (unknown fields, wrong types, duplicate task_id, ...) are collected over every
    row and raised together as one :class:`~tasks.validate.SuiteInvalid` naming file, row and task_id.
    """
    path = _suite_path(name_or_path)
    data = read_yaml_mapping(path, what="suite file")
    file = str(path.resolve())
    problems: list[Problem] = []
    head = {k: v for k, v in data.items() if k != "tasks"}
    try:
        Suite(**head)
    except ValidationError as e:
        problems += pydantic_problems(e, file=file, row="", task_id=None)
    name = data.get("name") if isinstance(data.get("name"), str) else ""
    inline = data.get("tasks") or []
    if not isinstance(inline, list):
        problems.append(Problem(file, "", None, "tasks: must be a list of task mappings"))
        inline = []
    rows = [(file, f"tasks[{i}]", t) for i, t in enumerate(inline)]
    tasks_file = data.get("tasks_file")
    if isinstance(tasks_file, str):
        table = (path.parent / tasks_file).resolve()
        table_rows, table_problems = read_task_table(table)
        rows += [(str(table), label, t) for label, t in table_rows]
        problems += table_problems
    if not rows and not problems:
        problems.append(Problem(file, "", None, "the suite has no tasks (give tasks: or tasks_file:)"))
    tasks, row_problems = check_rows(rows, Task, suite_name=str(name or ""), context={"option_names": option_names})
    problems += row_problems
    if problems:
        raise SuiteInvalid(name or str(path), problems)
    suite = Suite(**{**head, "tasks": []})
    suite.tasks = tasks
    suite.source_path = file
    suite._origins = [(f, label) for f, label, _ in rows]
    return suite


def resolve_task(suite: Suite, task: Task) -> Task:
    """A copy of ``task`` whose file paths are absolute (checked not to escape the data root)."""
    update: dict[str, Any] = {}
    for f in FILE_FIELDS:
        v = getattr(task, f)
        if isinstance(v, str):
            update[f] = str(suite.resolve_path(v, field=f"tasks[{task.task_id}].{f}"))
    if is_sam_recipe(task.mask):          # its reference mask and weights folder
        update["mask"] = resolve_recipe_paths(suite, task)
    return task.model_copy(update=update)
