"""Weight sources and bad input: every failure names the path or field at fault."""

from __future__ import annotations

import pytest

from harness.contract.spec import PipelineSpec
from harness.core.errors import EditbenchError, WeightsNotFound
from harness.pipelines.base import build_pipeline
from tasks.schema import Task


def test_missing_weights_name_the_default_path(monkeypatch, tmp_path):
    monkeypatch.setenv("EDITBENCH_WEIGHTS", str(tmp_path))
    with pytest.raises(WeightsNotFound, match=str(tmp_path / "sd-inpaint")):
        build_pipeline(PipelineSpec(name="sd-inpaint")).check()


def test_folder_without_model_index_is_refused(tmp_path):
    (tmp_path / "w").mkdir()
    with pytest.raises(WeightsNotFound, match="model_index.json"):
        build_pipeline(PipelineSpec(name="flux-fill", weights=str(tmp_path / "w"))).check()


def test_single_file_needs_a_local_config(tmp_path):
    ckpt = tmp_path / "model.safetensors"
    ckpt.write_bytes(b"")
    with pytest.raises(WeightsNotFound, match="single_file_config"):
        build_pipeline(PipelineSpec(name="sd-inpaint", weights=str(ckpt))).check()
    with pytest.raises(WeightsNotFound, match=str(tmp_path / "cfg" / "model_index.json")):
        build_pipeline(PipelineSpec(name="sd-inpaint", weights=str(ckpt),
                                    options={"single_file_config": str(tmp_path / "cfg")})).check()


def test_classical_floors_need_no_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("EDITBENCH_WEIGHTS", str(tmp_path / "none"))
    for name in ("cv2-telea", "cv2-ns", "patchmatch"):
        build_pipeline(PipelineSpec(name=name)).check()


def test_unknown_option_is_refused():
    with pytest.raises(EditbenchError, match="guidence"):
        build_pipeline(PipelineSpec(name="sd-inpaint", options={"guidence": 3}))


def test_openpose_without_control_is_a_clear_error(tiny_weights, image_file):
    p = build_pipeline(PipelineSpec(name="sd-inpaint-openpose", weights=str(tiny_weights["sd-inpaint-openpose"]),
                                    options={"steps": 1}))
    p.load()
    task = Task(task_id="no-pose", kind="inpaint", image=str(image_file), mask={"box": [0, 0, 8, 8]})
    with pytest.raises(EditbenchError, match="no-pose has no control field"):
        p.run(task, seed=0)


def test_outpaint_without_params_is_a_clear_error(image_file):
    p = build_pipeline(PipelineSpec(name="cv2-telea"))
    task = Task(task_id="o1", kind="outpaint", image=str(image_file))
    with pytest.raises(EditbenchError, match="o1: outpaint tasks need params.outpaint"):
        p.run(task, seed=0)


def test_sd_inpaint_accepts_a_4_channel_unet(tmp_path, image_file):
    """diffusers blends the known region per step for a plain text-to-image UNet."""
    from tests.tiny_models import build_sd_inpaint

    folder = build_sd_inpaint(tmp_path / "sd4", in_channels=4)
    p = build_pipeline(PipelineSpec(name="sd-inpaint", weights=str(folder), options={"steps": 2, "paste_back": True}))
    p.load()
    assert p.pipe.unet.config.in_channels == 4
    task = Task(task_id="t", kind="inpaint", image=str(image_file), mask={"box": [8, 8, 24, 24]}, prompt="x")
    out = p.run(task, seed=0)
    assert out.image.shape == (48, 64, 3)


def test_list_pipelines_shows_availability(monkeypatch, tmp_path):
    from harness.inventory import describe

    monkeypatch.setenv("EDITBENCH_WEIGHTS", str(tmp_path))
    text = describe("pipelines")
    lines = {line.split()[0]: line for line in text.splitlines()}
    for name in ("sd-inpaint", "sdxl-inpaint", "sd-inpaint-openpose", "flux-fill", "flux-kontext", "sdedit",
                 "instruct-pix2pix", "repaint"):
        assert "unavailable" in lines[name] and str(tmp_path / name) in lines[name]
    for name in ("cv2-telea", "cv2-ns", "patchmatch"):
        assert lines[name].rstrip().endswith("available") and "unavailable" not in lines[name]


def test_single_file_checkpoint_loads_like_the_folder(tmp_path, tiny_weights, image_file):
    """An original-layout (LDM) single-file checkpoint + a local config folder gives the same model,
    hence the same output, as the diffusers folder it was written from."""
    import numpy as np

    from tests.tiny_models import write_sd_single_file

    folder = tiny_weights["sd-inpaint"]
    ckpt = write_sd_single_file(folder, tmp_path / "sd-inpaint-tiny.safetensors")
    task = Task(task_id="t", kind="inpaint", image=str(image_file), mask={"box": [8, 8, 24, 24]}, prompt="a hat")
    outs = []
    for weights, opts in [(str(folder), {}), (str(ckpt), {"single_file_config": str(folder)})]:
        p = build_pipeline(PipelineSpec(name="sd-inpaint", weights=weights, options={"steps": 2, **opts}))
        p.check()
        p.load()
        outs.append(p.run(task, seed=3).image)
    np.testing.assert_array_equal(outs[0], outs[1])


def test_describe_records_the_resolved_weight_source(monkeypatch, tmp_path):
    (tmp_path / "sdedit").mkdir()
    (tmp_path / "sdedit" / "model_index.json").write_text("{}")
    monkeypatch.setenv("EDITBENCH_WEIGHTS", str(tmp_path))
    assert build_pipeline(PipelineSpec(name="sdedit")).describe()["weights_path"] == str(tmp_path / "sdedit")
    assert build_pipeline(PipelineSpec(name="sdedit", weights="random")).describe()["weights_path"] == "random"
