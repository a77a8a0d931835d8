"""The registries: one line per pipeline, scorer or builder; listing imports nothing; names match."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.core.errors import EditbenchError
from harness.core.registry import Registry
from harness.pipelines.base import PIPELINES, Pipeline
from scorers.base import SCORERS, Scorer
from tasks.builders import BUILDERS, BuildOptions, builder_options


def test_listing_names_imports_no_adapter_scorer_or_builder_module():
    code = ("import sys; from harness.pipelines.base import pipeline_names; from scorers.base import scorer_names; "
            "from tasks.builders import builder_names; pipeline_names(); scorer_names(); builder_names(); "
            "mods = [m for m in sys.modules if m.startswith(('harness.pipelines.', 'scorers.', 'tasks.builders.'))]; "
            "heavy = [m for m in ('torch', 'diffusers', 'insightface', 'open_clip', 'cv2') if m in sys.modules]; "
            "print(sorted(mods), heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['harness.pipelines.base', 'scorers.base', 'tasks.builders.common'] []", out


@pytest.mark.parametrize("name", PIPELINES.names())
def test_every_registered_pipeline_resolves_to_its_class(name):
    cls = PIPELINES.get(name)
    assert issubclass(cls, Pipeline) and cls.name == name


@pytest.mark.parametrize("name", SCORERS.names())
def test_every_registered_scorer_resolves_to_its_class(name):
    cls = SCORERS.get(name)
    assert issubclass(cls, Scorer) and cls.name == name


@pytest.mark.parametrize("kind", BUILDERS.names())
def test_every_builder_resolves_with_its_options_model(kind):
    assert callable(BUILDERS.get(kind)) and issubclass(builder_options(kind), BuildOptions)


def test_unknown_names_list_the_registered_ones_and_nothing_registers_twice():
    with pytest.raises(EditbenchError, match=r"unknown pipeline 'nope'; registered pipelines are \[.*'cv2-telea'"):
        PIPELINES.get("nope")
    with pytest.raises(ValueError, match="registered twice"):
        PIPELINES.add("cv2-telea", object)
    with pytest.raises(ValueError, match="module:Object"):
        Registry("thing", {"x": "no_colon"})
