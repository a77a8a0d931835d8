"""Pipeline adapters: one module per outside system, each registered by name in ``PIPELINES``."""

from harness.pipelines.base import (
    PIPELINES,
    Output,
    Pipeline,
    StageTimer,
    build_pipeline,
    get_pipeline_class,
    pipeline_names,
)

__all__ = [
    "PIPELINES",
    "Output",
    "Pipeline",
    "StageTimer",
    "build_pipeline",
    "get_pipeline_class",
    "pipeline_names",
]
