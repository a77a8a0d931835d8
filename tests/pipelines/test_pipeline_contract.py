"""One contract over every registered image pipeline (tiny random weights for the diffusers ones, the
loopback images-edit server for the hosted ones):
output size = input (or outpainted canvas), finite uint8 RGB, same seed -> same output, and with
paste_back the pixels outside the mask equal the input exactly."""

from __future__ import annotations

import numpy as np
import pytest

from harness.contract.spec import PipelineSpec
from harness.core.imageio import load_image
from harness.pipelines.base import PIPELINES, build_pipeline, pipeline_names
from harness.pipelines.diffusers_common import DiffusersPipeline
from harness.pipelines.editing import EditPipeline
from harness.pipelines.hosted import HostedEditPipeline
from tasks.schema import Task
from tests.pipelines.conftest import HOSTED_KEY_ENV

IMAGE_PIPELINES = [n for n in pipeline_names() if issubclass(PIPELINES[n], EditPipeline)]  # not toy/synthetic
BOX = [12, 10, 40, 30]          # x0, y0, x1, y1 in the 64x48 test image


def make_task(kind: str, image_file, **extra) -> Task:
    return Task(task_id=f"t-{kind}", kind=kind, image=str(image_file), mask={"box": BOX}, prompt="a red hat",
                instruction="make the sky green", control=str(image_file), **extra)


def first_kind(cls) -> str:
    for k in ("inpaint", "sdedit", "instruct"):
        if k in cls.kinds:
            return k
    raise AssertionError(f"{cls.name} runs no image kind")


_LOADED: dict = {}
_HOSTED: dict = {}     # options that point hosted adapters at the loopback server


@pytest.fixture(autouse=True)
def _hosted_endpoint(request):
    """Hosted adapters talk to the loopback images-edit server (started only for their tests)."""
    name = request.node.callspec.params.get("name") if hasattr(request.node, "callspec") else None
    if name and issubclass(PIPELINES[name], HostedEditPipeline):
        _HOSTED.update(base_url=request.getfixturevalue("hosted_server").base_url, api_key_env=HOSTED_KEY_ENV)


def loaded(name: str, tiny_weights, **options):
    """A loaded adapter (cached per session); options change afterwards need no reload."""
    if name not in _LOADED:
        cls = PIPELINES[name]
        opts = {"steps": 2, "resolution": 64} if issubclass(cls, DiffusersPipeline) else {}
        if issubclass(cls, HostedEditPipeline):
            opts = dict(_HOSTED)
        spec = PipelineSpec(name=name, weights=str(tiny_weights[name]) if name in tiny_weights else None, options=opts)
        p = build_pipeline(spec)
        p.check()
        p.load()
        _LOADED[name] = p
    p = _LOADED[name]
    p.options = p.options.model_copy(update={"paste_back": False, **options})
    return p


def test_every_issue_pipeline_is_registered():
    expected = {"sd-inpaint", "sdxl-inpaint", "sd-inpaint-openpose", "flux-fill", "flux-kontext", "sdedit",
                "instruct-pix2pix", "repaint", "cv2-telea", "cv2-ns", "patchmatch"}
    assert expected <= set(IMAGE_PIPELINES)


@pytest.mark.parametrize("name", IMAGE_PIPELINES)
def test_pipeline_contract(name, tiny_weights, image_file):
    p = loaded(name, tiny_weights)
    task = make_task(first_kind(PIPELINES[name]), image_file)
    src = load_image(image_file)

    a = p.run(task, seed=0)
    a.check_finite()
    assert a.image.dtype == np.uint8 and a.image.shape == src.shape
    assert a.weights == "real"
    assert {"prepare", "finish"} <= set(a.latencies_ms) and all(v >= 0 for v in a.latencies_ms.values())
    if isinstance(p, DiffusersPipeline):
        assert {"encode", "denoise", "decode"} <= set(a.latencies_ms)
    assert a.latency_ms == pytest.approx(sum(a.latencies_ms.values()))

    b = p.run(task, seed=0)
    np.testing.assert_array_equal(a.image, b.image)
    if isinstance(p, DiffusersPipeline):
        assert not np.array_equal(a.image, p.run(task, seed=1).image), "the seed does not reach the sampler"

    p.options = p.options.model_copy(update={"paste_back": True})
    c = p.run(task, seed=0)
    outside = np.ones(src.shape[:2], bool)
    outside[BOX[1]:BOX[3], BOX[0]:BOX[2]] = False
    np.testing.assert_array_equal(c.image[outside], src[outside])
    assert not np.array_equal(c.image, src), "the masked region was not edited at all"


@pytest.mark.parametrize("name", [n for n in IMAGE_PIPELINES if "outpaint" in PIPELINES[n].kinds])
def test_outpaint_canvas(name, tiny_weights, image_file):
    p = loaded(name, tiny_weights, paste_back=True)
    task = Task(task_id="o", kind="outpaint", image=str(image_file), prompt="a wide view",
                overrides={"outpaint": {"left": 8, "right": 4, "top": 0, "bottom": 6}})
    out = p.run(task, seed=1).image
    src = load_image(image_file)
    assert out.shape == (48 + 6, 64 + 12, 3)
    np.testing.assert_array_equal(out[0:48, 8:72], src)       # the original sits unchanged in the canvas


def test_paste_back_off_changes_the_background(tiny_weights, image_file):
    """What users must see: without paste_back the VAE round trip alters pixels outside the mask."""
    p = loaded("sd-inpaint", tiny_weights)
    src = load_image(image_file)
    out = p.run(make_task("inpaint", image_file), seed=0).image
    outside = np.ones(src.shape[:2], bool)
    outside[BOX[1]:BOX[3], BOX[0]:BOX[2]] = False
    assert np.abs(out[outside].astype(int) - src[outside]).mean() > 1.0


def test_task_params_override_options(tiny_weights, image_file):
    p = loaded("sdedit", tiny_weights)
    base = p.run(make_task("sdedit", image_file), seed=0).image
    stronger = p.run(make_task("sdedit", image_file, overrides={"strength": 1.0}), seed=0).image
    assert not np.array_equal(base, stronger)


def test_mask_dilate_and_feather_widen_the_edited_region(tiny_weights, image_file):
    """With paste_back on, only pixels under the dilated+feathered mask may change."""
    from harness.pipelines.imaging import dilate_mask, feather_mask

    p = loaded("sd-inpaint", tiny_weights, paste_back=True, mask_dilate=3, mask_feather=4)
    src = load_image(image_file)
    out = p.run(make_task("inpaint", image_file), seed=0).image
    box = np.zeros(src.shape[:2], bool)
    box[BOX[1]:BOX[3], BOX[0]:BOX[2]] = True
    soft = feather_mask(dilate_mask(box, 3), 4)
    changed = np.any(out != src, axis=-1)
    assert not changed[soft == 0].any()
    assert changed[(soft > 0) & ~box].any(), "dilation/feather did not reach the adapter"


def test_repaint_mask_polarity_reaches_diffusers(tiny_weights, image_file):
    """RePaint re-imposes the known region exactly at its last step: with our mask converted to
    diffusers' 1 = keep, the outside stays the input (up to the resize) and the hole is regenerated."""
    p = loaded("repaint", tiny_weights)
    src = load_image(image_file).astype(int)
    out = p.run(make_task("inpaint", image_file), seed=0).image.astype(int)
    hole = np.zeros(src.shape[:2], bool)
    hole[BOX[1]:BOX[3], BOX[0]:BOX[2]] = True
    ring = ~hole.copy()
    ring[max(BOX[1] - 3, 0):BOX[3] + 3, max(BOX[0] - 3, 0):BOX[2] + 3] = False   # skip resize blur at the edge
    assert np.abs(out - src)[ring].mean() < 4
    assert np.abs(out - src)[hole].mean() > 20
