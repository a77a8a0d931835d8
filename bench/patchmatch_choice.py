"""Why ``patchmatch`` uses pypatchmatch: time, hole PSNR and determinism against patchmatch-cython.

    pip install patchmatch-cython        # not a dependency of editbench; only this comparison needs it
    python bench/patchmatch_choice.py

Input: scikit-image's 512x512 astronaut with a 150x140 box hole (the true pixels are known, so the
hole PSNR says how close each fill is). Prints figures; asserts nothing.
"""

from __future__ import annotations

import time

import numpy as np
from skimage import data


def main() -> None:
    img = data.astronaut()
    mask = np.zeros(img.shape[:2], bool)
    mask[60:200, 180:330] = True

    def report(name, fn, repeats=3):
        times, outs = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            outs.append(fn())
            times.append(time.perf_counter() - t0)
        out = outs[-1]
        mse = ((out.astype(float) - img)[mask] ** 2).mean()
        print(f"{name:34s} best {min(times):6.2f} s  median {np.median(times):6.2f} s  "
              f"hole PSNR {10 * np.log10(255 ** 2 / mse):5.2f} dB  outside changed: {bool((out != img)[~mask].any())}  "
              f"deterministic: {all(np.array_equal(o, out) for o in outs)}")

    import patchmatch

    def pypm():
        patchmatch.set_random_seed(0)
        return patchmatch.inpaint(img, mask, patch_size=3)

    report("pypatchmatch inpaint(patch_size=3)", pypm)
    try:
        import patchmatch_cython
    except ImportError:
        print("patchmatch-cython not installed: pip install patchmatch-cython to compare")
        return
    report("patchmatch-cython inpaint_pyramid", lambda: patchmatch_cython.inpaint_pyramid(img, mask, seed=0))


if __name__ == "__main__":
    main()
