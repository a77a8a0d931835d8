"""What `editbench list` and `editbench doctor` print: registries with availability, and the machine."""

from __future__ import annotations

import os

from harness.contract.spec import PipelineSpec
from harness.core.errors import EditbenchError
from harness.core.provenance import hardware, package_versions
from harness.core.weights import WEIGHTS_ENV, weights_root
from harness.dlib_faces import models_dir
from harness.masks import MASK_GENERATORS
from harness.pipelines.base import PIPELINES, build_pipeline, pipeline_names
from scorers.base import SCORERS, scorer_names
from tasks.loading import load_suite
from tasks.schema import list_suites


def _availability(check) -> str:
    try:
        check()
    except EditbenchError as e:
        return f"unavailable: {e}"
    return "available"


def _plugin(registry, name: str) -> str:
    """" (plugin DIST)" for an entry that an installed plugin distribution registers; "" for a built-in."""
    origin = registry.origin(name)
    return "" if origin == "built-in" else f"  (plugin {origin})"


def describe(what: str) -> str:
    if what == "suites":
        lines = []
        for name in list_suites():
            s = load_suite(name)
            lines.append(f"{name:24s} v{s.version:6s} {len(s.tasks):5d} tasks  {s.description}")
        return "\n".join(lines)
    if what == "pipelines":
        lines = []
        for name in pipeline_names():
            cls = PIPELINES[name]
            avail = _availability(lambda name=name: build_pipeline(PipelineSpec(name=name)).check())
            lines.append(f"{name:24s} kinds={','.join(sorted(cls.kinds)):28s} {avail}{_plugin(PIPELINES, name)}")
        return "\n".join(lines)
    if what == "scorers":
        lines = []
        for name in scorer_names():
            cls = SCORERS[name]
            metrics = ", ".join(f"{m} ({d})" for m, d in cls.metrics.items())
            avail = _availability(lambda cls=cls: cls().check())
            if avail == "available":
                avail += _backend(cls)
            lines.append(f"{name:12s} {metrics}  [{avail}]{_plugin(SCORERS, name)}")
        return "\n".join(lines)
    if what == "masks":
        lines = []
        for name in MASK_GENERATORS.names():
            cls = MASK_GENERATORS.get(name)
            avail = _availability(lambda cls=cls: cls().check())
            lines.append(f"{name:24s} family={cls.family:6s} {avail}{_plugin(MASK_GENERATORS, name)}")
        return "\n".join(lines)
    raise EditbenchError(f"cannot list {what!r}; choose one of ['masks', 'pipelines', 'scorers', 'suites'].")


def _backend(cls) -> str:
    """'; backend B (model file)' for a scorer whose default configuration names the model it computes with."""
    extra = next(iter(cls().describe().values()), {})
    return f"; backend {extra['backend']} ({extra['model']})" if "backend" in extra else ""


def _face_models() -> str:
    try:
        folder = models_dir()
    except EditbenchError as e:
        return str(e)
    files = sorted(p.name for p in folder.glob("*.dat")) if folder.is_dir() else []
    return f"{folder}: " + (", ".join(files) if files else "no model files")


def doctor_report() -> str:
    hw = hardware()
    root = weights_root()
    models = sorted(p.name for p in root.iterdir()) if root.is_dir() else []
    lines = [
        f"python      {hw['python']} on {hw['platform']}",
        f"cpus        {hw['cpu_count']}",
        f"gpus        {', '.join(hw['gpus']) or 'none (CPU actors)'}",
        f"ray         {package_versions().get('ray')}; RAY_ADDRESS={os.environ.get('RAY_ADDRESS') or '(unset: local Ray)'}",
        f"weights     {root} ({WEIGHTS_ENV}={os.environ.get(WEIGHTS_ENV) or 'unset'}): "
        + (", ".join(models) if models else "no model folders"),
        f"face models {_face_models()}",
    ]
    return "\n".join(lines)
