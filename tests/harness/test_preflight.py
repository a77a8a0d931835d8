"""Every missing weight of a run at once, grouped by model, with who needs it and how to run without it."""

from __future__ import annotations

import pytest

from harness.contract.spec import RunSpec
from harness.core.errors import WeightsNotFound
from harness.execution.runner import build_manifest


def test_all_missing_weights_in_one_error(tmp_path, monkeypatch):
    monkeypatch.setenv("EDITBENCH_WEIGHTS", str(tmp_path / "none"))
    spec = RunSpec(suite="smoke-face-regen", pipelines=["sd-inpaint", "patchmatch", {"name": "sd-inpaint", "label": "sd-b"}],
                   scorers=["identity", "pose", "texture"])
    with pytest.raises(WeightsNotFound) as e:
        build_manifest(spec)
    text = str(e.value)
    assert text.startswith("weights missing for 2 models (nothing was run):")   # identity falls back to dlib
    lines = text.splitlines()
    sd = next(x for x in lines if x.startswith("  - sd-inpaint:"))
    assert f"expected {tmp_path / 'none' / 'sd-inpaint'}" in sd and sd.endswith("needed by pipeline sd-inpaint, pipeline sd-b")
    assert not any(x.startswith("  - insightface:") for x in lines)
    assert any(x.startswith("  - openpose:") and x.endswith("needed by scorer pose") for x in lines)
    assert lines[-1].startswith("  to run without them: --pipelines patchmatch --scorers identity,texture;")


def test_nothing_missing_builds_the_manifest(tmp_path, monkeypatch):
    monkeypatch.setenv("EDITBENCH_WEIGHTS", str(tmp_path / "none"))
    m = build_manifest(RunSpec(suite="smoke-face-regen", pipelines=["patchmatch"], scorers=["identity", "texture"]))
    assert [c["label"] for c in m.pipeline_configs] == ["patchmatch"]
