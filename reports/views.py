"""How each task kind is shown in the HTML report, registered by kind like scorers by name.

A view gives a task's source and second cell (the mask, or what stands in for it), an output's cell, and
whether the kind's tasks get the sample grid and the crop pages. :class:`ImageView` serves every image
kind; a kind with its own data registers its view in :data:`VIEWS` (the toy's 5-D samples:
:class:`ToyView`, which draws the exact conditional the samples should match).
"""

from __future__ import annotations

import io
from html import escape
from pathlib import Path
from typing import Iterable

import numpy as np

from harness.core.errors import EditbenchError
from harness.core.imageio import load_image, load_mask
from harness.core.storage import confined
from reports import plots
from tasks.schema import Suite, Task

THUMB_PX = 160          # longest side of a thumbnail


def img(uri: str | None, alt: str, cls: str = "plot") -> str:
    """An ``<img>`` of a data URI, or a note that there is nothing to show."""
    if not uri:
        return f'<p class="missing">{escape(alt)}: nothing to plot</p>'
    return f'<img class="{cls}" alt="{escape(alt, quote=True)}" src="{uri}">'


def thumb_uri(arr: np.ndarray) -> str:
    """A PNG thumbnail (longest side :data:`THUMB_PX`) of an image array, as a data URI."""
    from PIL import Image

    im = Image.fromarray(np.asarray(arr))
    im.thumbnail((THUMB_PX, THUMB_PX))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return plots.png_uri(buf.getvalue())


def missing(text: str) -> str:
    return f'<span class="missing">{escape(text)}</span>'


class ImageView:
    """Image tasks: source and mask thumbnails; outputs are images; crop pages around each mask."""

    second_column = "mask"      # heading of the grid's second column
    sample_grid = False         # the leaderboard shows a grid of sample outputs
    edit_pages = True           # tasks get crop pages (reports.edits_html)

    def source_cells(self, suite: Suite | None, task: Task | None) -> tuple[str, str]:
        """(source, mask) cells of one task; placeholders where the suite or the file is missing."""
        if suite is None or task is None:
            return missing("suite not found"), missing("—")
        if not task.image:
            return missing("no image"), missing("—")
        try:
            image = load_image(suite.resolve_path(task.image, field=f"tasks[{task.task_id}].image"))
        except EditbenchError as e:
            return missing(str(e)), ""
        source = img(thumb_uri(image), "source", "thumb")
        if task.mask is None:
            return source, missing("no mask")
        try:
            m = task.mask if isinstance(task.mask, dict) else str(suite.resolve_path(task.mask, field="mask"))
            mask = load_mask(m, shape=image.shape[:2], where=f"task {task.task_id}")
            return source, img(thumb_uri((mask * 255).astype(np.uint8)), "mask", "thumb")
        except EditbenchError as e:
            return source, missing(str(e))

    def output_cell(self, out: Path, rel: str | None, task: Task | None) -> str:
        """The cell of one output file (read only inside the run ``out``)."""
        if not rel:
            return missing("no output")
        try:
            path = confined(out, rel)  # a row naming a file outside the run is never read
        except EditbenchError:
            return missing(f"{rel} lies outside the run directory")
        if not path.is_file():
            return missing(f"{rel} missing")
        try:
            return self.render_output(path, rel, task)
        except Exception as e:  # noqa: BLE001 - one broken output must not break the page
            return missing(f"{rel}: {e}")

    def render_output(self, path: Path, rel: str, task: Task | None) -> str:
        if path.suffix == ".npy":
            return img(plots.array_thumbnail(np.load(path)), rel, "thumb")
        return img(thumb_uri(load_image(path)), rel, "thumb")


class ToyView(ImageView):
    """The toy DDPM's 5-D samples: scatter thumbnails against the source's known dims, and the exact
    conditional distribution of the regenerated dims beside the source (harness.toy.task; torch)."""

    second_column = "true conditional"   # what a perfect sampler's scatter looks like
    sample_grid = True
    edit_pages = False

    def source_cells(self, suite: Suite | None, task: Task | None) -> tuple[str, str]:
        if suite is None or task is None:
            return missing("suite not found"), missing("—")
        try:
            import torch

            from harness.toy.task import exact_conditional, toy_source

            src = toy_source(task.params)
            truth = exact_conditional(src, generator=torch.Generator().manual_seed(0))
            dims = np.flatnonzero(src.mask.numpy()).tolist()
            return (img(plots.array_thumbnail(src.x0.numpy(), mask=src.mask.numpy(), title="source"), "source", "thumb"),
                    img(plots.array_thumbnail(truth.numpy(), mask=src.mask.numpy(), title=f"true conditional, dims {dims}"),
                        "the exact conditional distribution of the regenerated dims", "thumb"))
        except Exception as e:  # noqa: BLE001
            return missing(str(e)), ""

    def render_output(self, path: Path, rel: str, task: Task | None) -> str:
        if path.suffix != ".npy":
            return super().render_output(path, rel, task)
        return img(plots.array_thumbnail(np.load(path), mask=self._mask(task), known_from=self._known(task)), rel, "thumb")

    @staticmethod
    def _mask(task: Task | None) -> np.ndarray | None:
        if task is None:
            return None
        try:
            from harness.toy.task import toy_mask

            return toy_mask(float(task.params["mask_fraction"])).numpy()
        except Exception:  # noqa: BLE001 - a thumbnail without a mask is still a thumbnail
            return None

    @staticmethod
    def _known(task: Task | None) -> np.ndarray | None:
        """The toy task's source samples (their known dims are what an output must agree with)."""
        if task is None:
            return None
        try:
            from harness.toy.task import toy_source

            return toy_source(task.params).x0.numpy()
        except Exception:  # noqa: BLE001 - a thumbnail against its own dims is still a thumbnail
            return None


IMAGE_VIEW = ImageView()
VIEWS: dict[str, ImageView] = {"toy": ToyView()}   # task kind -> its view; every other kind: IMAGE_VIEW


def view_of(kind: str | None) -> ImageView:
    """The view of task ``kind`` (the image view for every kind without its own)."""
    return VIEWS.get(str(kind), IMAGE_VIEW)


def run_view(kinds: Iterable[str]) -> ImageView:
    """The view of a run's tasks: the kind's own when all its tasks are of one kind, else the image view."""
    ks = {str(k) for k in kinds}
    return view_of(ks.pop()) if len(ks) == 1 else IMAGE_VIEW


def has_edit_pages(kinds: Iterable[str]) -> bool:
    """Whether any of the run's task kinds gets crop pages."""
    return any(view_of(k).edit_pages for k in set(kinds))


def has_sample_grid(kinds: Iterable[str]) -> bool:
    """Whether any of the run's task kinds asks for the sample grid."""
    return any(view_of(k).sample_grid for k in set(kinds))
