"""Models named by Hugging Face id from a local cache, LoRA adapters and scheduler choices in the spec.

The cache is built here in the layout huggingface_hub writes (``models--org--name/refs/<rev>`` holding a
commit, ``snapshots/<commit>/`` holding the files) with a tiny SD-inpaint pipeline inside; nothing is
downloaded (``HF_HUB_OFFLINE`` is unset, which editbench reads as offline).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from harness.contract.spec import PipelineSpec
from harness.core.errors import EditbenchError, WeightsNotFound
from harness.core.hub import hub_commit, resolve_hub
from harness.pipelines.base import build_pipeline
from reports.gate import gate
from tasks.schema import Task
from tests.tiny_models import build_sd_inpaint

REPO = "tiny-org/tiny-sd-inpaint"
MAIN, V1 = "a" * 40, "b" * 40


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory):
    """A Hugging Face cache holding REPO at two revisions (main and the tag v1), and a LoRA repository."""
    cache = tmp_path_factory.mktemp("hf") / "hub"
    repo = cache / ("models--" + REPO.replace("/", "--"))
    build_sd_inpaint(repo / "snapshots" / MAIN)
    shutil.copytree(repo / "snapshots" / MAIN, repo / "snapshots" / V1)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(MAIN)
    (repo / "refs" / "v1").write_text(V1)
    lora_repo = cache / "models--tiny-org--tiny-lora"
    write_lora(repo / "snapshots" / MAIN, lora_repo / "snapshots" / ("c" * 40))
    (lora_repo / "refs").mkdir()
    (lora_repo / "refs" / "main").write_text("c" * 40)
    return cache


def write_lora(pipeline_folder, out):
    """A random (non-zero) LoRA on the tiny UNet's attention projections, saved the way diffusers' training
    scripts save one (pytorch_lora_weights.safetensors)."""
    import torch
    from diffusers import StableDiffusionInpaintPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    torch.manual_seed(0)
    pipe = StableDiffusionInpaintPipeline.from_pretrained(pipeline_folder, local_files_only=True)
    pipe.unet.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights=False,
                                     target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(pipe.unet))
    StableDiffusionInpaintPipeline.save_lora_weights(out, unet_lora_layers=layers, safe_serialization=True)
    return out


@pytest.fixture
def offline_cache(hub_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(hub_cache))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return hub_cache


def test_an_id_resolves_offline_to_its_snapshot_and_run_json_records_it(offline_cache):
    p = build_pipeline(PipelineSpec(name="sd-inpaint", weights=REPO))
    p.check()
    d = p.describe()
    assert d["weights_path"] == str(offline_cache / "models--tiny-org--tiny-sd-inpaint" / "snapshots" / MAIN)
    assert d["weights_hub"] == {"id": REPO, "revision": None, "commit": MAIN, "subfolder": None, "variant": None}
    pinned = build_pipeline(PipelineSpec(name="sd-inpaint", weights=REPO, revision="v1")).describe()
    assert pinned["weights_hub"]["commit"] == V1 and pinned["weights_hub"]["revision"] == "v1"


def test_a_missing_id_offline_is_one_sentence_naming_the_id_the_cache_and_how_to_allow(offline_cache):
    with pytest.raises(WeightsNotFound) as e:
        build_pipeline(PipelineSpec(name="sd-inpaint", weights="tiny-org/not-cached")).check()
    msg = str(e.value)
    assert "tiny-org/not-cached" in msg and str(offline_cache) in msg and "HF_HUB_OFFLINE=0" in msg
    assert "\n" not in msg
    with pytest.raises(WeightsNotFound, match="at revision v9"):
        resolve_hub(REPO, revision="v9")


def test_a_local_folder_of_the_same_shape_wins_over_the_cache(offline_cache, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(offline_cache / "models--tiny-org--tiny-sd-inpaint" / "snapshots" / MAIN, tmp_path / REPO)
    d = build_pipeline(PipelineSpec(name="sd-inpaint", weights=REPO)).describe()
    assert "weights_hub" not in d and hub_commit(tmp_path / REPO) is None


def task_of(image_file) -> Task:
    return Task(task_id="t", kind="inpaint", image=str(image_file), mask={"box": [12, 10, 40, 30]}, prompt="a hat")


def loaded(**spec):
    p = build_pipeline(PipelineSpec(name="sd-inpaint", **{"options": {"steps": 2, "resolution": 64}, **spec}))
    p.check()
    p.load()
    return p


def test_scheduler_and_lora_change_the_pipeline_and_its_output(offline_cache, image_file):
    base = loaded(weights=REPO)
    unipc = loaded(weights=REPO, options={"steps": 2, "resolution": 64, "scheduler": "UniPCMultistepScheduler",
                                          "scheduler_config": {"solver_order": 1}})
    assert type(unipc.pipe.scheduler).__name__ == "UniPCMultistepScheduler"
    assert unipc.pipe.scheduler.config.solver_order == 1
    lora = {"steps": 2, "resolution": 64, "lora": [{"weights": "tiny-org/tiny-lora", "scale": 1.0}]}
    with_lora = loaded(weights=REPO, options=lora)
    fused = loaded(weights=REPO, options={**lora, "fuse_lora": True})
    task = task_of(image_file)
    a, b = base.run(task, seed=0).image, with_lora.run(task, seed=0).image
    assert not np.array_equal(a, b), "the LoRA did not reach the denoiser"
    assert np.abs(fused.run(task, seed=0).image.astype(int) - b.astype(int)).max() <= 2   # fused = unfused
    assert with_lora.describe()["options"]["lora"][0]["weights"] == "tiny-org/tiny-lora"


def test_unknown_scheduler_and_missing_lora_are_refused_before_any_work(offline_cache):
    with pytest.raises(EditbenchError, match="'NoSuchScheduler' is not a diffusers scheduler class"):
        build_pipeline(PipelineSpec(name="sd-inpaint", weights=REPO, options={"scheduler": "NoSuchScheduler"})).check()
    with pytest.raises(WeightsNotFound, match="tiny-org/no-lora"):
        build_pipeline(PipelineSpec(name="sd-inpaint", weights=REPO,
                                    options={"lora": [{"weights": "tiny-org/no-lora"}]})).check()


def test_base_and_lora_runs_by_id_gate_against_each_other(offline_cache, image_file, tmp_path):
    """Two `editbench run` processes (their own Ray, so their actors see this HF_HUB_CACHE), then the gate."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    suite = {"name": "hub-lora", "version": "1", "data_root": str(image_file.parent), "seeds": [0],
             "scorers": ["texture", "seam", "background"],
             "tasks": [{"task_id": f"t{i}", "kind": "inpaint", "image": image_file.name,
                        "mask": {"box": [8 + 4 * i, 10, 40, 30]}, "prompt": "a hat"} for i in range(2)]}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
    opts = {"steps": 2, "resolution": 64}
    lora = {**opts, "scheduler": "UniPCMultistepScheduler", "lora": [{"weights": "tiny-org/tiny-lora", "scale": 0.8}]}
    for name, options in (("base", opts), ("cand", lora)):
        spec = {"suite": str(tmp_path / "suite.yaml"),
                "pipelines": [{"name": "sd-inpaint", "label": "sd", "weights": REPO, "options": options}]}
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(tmp_path / f"{name}.yaml"), "--out",
                               str(tmp_path / name), "--no-progress"], cwd=root, capture_output=True, text=True,
                              timeout=600, env={**os.environ, "HF_HUB_CACHE": str(offline_cache)})
        assert proc.returncode == 0, proc.stderr
    result = gate(tmp_path / "base", tmp_path / "cand")
    assert result.exit_code in (0, 1) and not result.error, result.error   # compared, not refused
    recorded = json.loads((tmp_path / "cand" / "run.json").read_text())["pipelines"][0]
    assert recorded["weights_hub"]["commit"] == MAIN and recorded["options"]["scheduler"] == "UniPCMultistepScheduler"
