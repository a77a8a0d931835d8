"""Render a report page (leaderboard.html, history.html) to PNG with headless Chromium, offline.

    python bench/render_report.py runs/demo/leaderboard.html [out.png] [--width 1400]

Chromium runs with networking disabled (--proxy-server to an unroutable address, no first run) so the
screenshot proves the page needs nothing outside itself. Needs a chromium/chrome binary on PATH
(`apt-get install -y chromium`); the tests do not.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BINARIES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str:
    for b in BINARIES:
        if path := shutil.which(b):
            return path
    sys.exit(f"render_report: no Chromium binary found (tried {', '.join(BINARIES)}); apt-get install -y chromium")


def render(page: Path, png: Path, *, width: int = 1400, height: int = 4000) -> Path:
    exe = find_chromium()
    with tempfile.TemporaryDirectory() as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               "--proxy-server=http://0.0.0.0:9", "--proxy-bypass-list=<-loopback>", f"--user-data-dir={profile}",
               f"--window-size={width},{height}", f"--screenshot={png.resolve()}", page.resolve().as_uri()]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    if not png.is_file():
        sys.exit(f"render_report: Chromium wrote no screenshot to {png}")
    return png


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("page", type=Path)
    ap.add_argument("png", type=Path, nargs="?")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=4000)
    a = ap.parse_args()
    if not a.page.is_file():
        sys.exit(f"render_report: {a.page} does not exist")
    png = render(a.page, a.png or a.page.with_suffix(".png"), width=a.width, height=a.height)
    print(png)


if __name__ == "__main__":
    main()
