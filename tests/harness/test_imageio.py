"""Image/mask reading and the runner's input prefetch."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from harness.core.errors import EditbenchError
from harness.core.imageio import load_image, load_mask, prefetch_task_inputs, prefetched
from tasks.schema import Task


def test_prefetched_inputs_are_served_without_the_files(tmp_path):
    img = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    mask = np.zeros((4, 5), dtype=np.uint8)
    mask[1:3, 2:4] = 255
    Image.fromarray(img).save(tmp_path / "a.png")
    Image.fromarray(mask).save(tmp_path / "m.png")
    task = Task(task_id="t", kind="inpaint", image=str(tmp_path / "a.png"), mask=str(tmp_path / "m.png"))
    arrays = prefetch_task_inputs(task)  # in the runner: a Ray task while the previous job runs
    (tmp_path / "a.png").unlink()
    (tmp_path / "m.png").unlink()
    with prefetched(arrays):
        assert np.array_equal(load_image(task.image), img)
        assert np.array_equal(load_mask(task.mask, shape=(4, 5)), mask > 127)
    with pytest.raises(EditbenchError, match="does not exist"):  # the cache is gone after the block
        load_image(task.image)


def test_unreadable_files_are_left_to_the_pipeline(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not a png")
    task = Task(task_id="t", kind="inpaint", image=str(tmp_path / "bad.png"), mask={"box": [0, 0, 1, 1]})
    assert prefetch_task_inputs(task) == {}
    with pytest.raises(EditbenchError, match=r"bad.png cannot be read as an image"):
        load_image(task.image)
