"""The arena as a person uses it: `editbench arena` in its own process, driven by headless Chromium
(Debian's /usr/bin/chromium through Playwright; Playwright's own browser download is never used), with
votes cast by mouse and by keys, the server killed with SIGKILL mid-session and restarted.

Chromium is installed by .ci/run; where it is missing and the test runs as root, the fixture installs
the Debian package itself. The kill-restart test over plain HTTP needs no browser.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from harness.contract.votes import read_votes
from tests.reports.arena_helpers import PIPELINES, arena_run

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`editbench arena RUN --port P` in a child process (the process this test kills)."""

    def __init__(self, run: Path, port: int, log: Path):
        self.run, self.port, self.log = run, port, log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> "Server":
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "arena", str(self.run), "--port",
                                          str(self.port), "--seed", "0"], env=env, stdout=log, stderr=log, cwd=ROOT)
        import httpx

        for _ in range(600):
            if self.proc.poll() is not None:
                raise AssertionError(f"the arena server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"the arena server did not answer: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def server(tmp_path):
    s = Server(arena_run(tmp_path), _free_port(), tmp_path / "server.log")
    yield s
    s.stop()


def _on_disk(run: Path) -> list[dict]:
    return [json.loads(line) for f in sorted((run / "votes").glob("*.jsonl")) for line in f.read_text().splitlines()]


def test_every_answered_vote_survives_sigkill_and_the_restart_continues(server):
    import httpx

    server.start()
    seen = []
    for i in range(7):
        n = httpx.get(server.url + "api/next", params={"rater": "ann"}).json()
        r = httpx.post(server.url + "api/vote", json={"token": n["token"], "rater": "ann", "answer": "left"})
        assert r.json() == {"ok": True, "votes": i + 1}
        seen.append((n["task_id"], n["seed"]))
    open_pair = httpx.get(server.url + "api/next", params={"rater": "ann"}).json()
    server.kill()                                   # SIGKILL: no shutdown handler runs
    assert len(_on_disk(server.run)) == 7
    server.start()
    r = httpx.post(server.url + "api/vote", json={"token": open_pair["token"], "rater": "ann", "answer": "left"})
    assert r.status_code == 409                     # a pair shown before the kill is gone, not mis-recorded
    n = httpx.get(server.url + "api/next", params={"rater": "ann"}).json()
    assert n["votes"] == 7                          # the restarted server counts the votes on disk
    assert httpx.post(server.url + "api/vote", json={"token": n["token"], "rater": "ann",
                                                     "answer": "tie"}).json()["votes"] == 8
    votes = read_votes(server.run)
    assert len(votes) == 8 and len({v.item for v in votes}) == 8     # no repeats across the restart
    assert len(list((server.run / "votes").glob("*.jsonl"))) == 2   # one file per server session


@pytest.fixture(scope="module")
def chromium():
    if not Path(CHROMIUM).is_file():
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.skip(f"{CHROMIUM} is missing and cannot be installed here (not root or no apt-get); "
                        "`apt-get install chromium` enables this test")
        subprocess.run(["sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                                    "chromium"], check=True, timeout=900)
    sync_api = pytest.importorskip("playwright.sync_api")
    pw = sync_api.sync_playwright().start()
    browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()
    pw.stop()


def _wait_ready(page, votes: int) -> None:
    page.wait_for_function("([n]) => document.body.dataset.state === 'ready' && "
                           "document.getElementById('count').textContent === n + ' votes by you'", arg=[votes],
                           timeout=30_000)


def test_a_person_votes_with_mouse_and_keys_through_a_kill_and_restart(server, chromium, tmp_path):
    server.start()
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url)
    assert page.locator("#status").text_content() == "Type your name to start."
    page.fill("#rater", "ann")
    page.press("#rater", "Tab")                  # the change event starts the session
    _wait_ready(page, 0)
    assert page.evaluate("document.activeElement.id") != "reason"    # so the first key votes
    text = page.locator("#text").text_content()
    assert text.startswith("<img src=x onerror=alert(1)>")        # shown as text, not as markup
    assert page.locator("#text img").count() == 0
    assert page.evaluate("document.getElementById('left').naturalWidth") == 128
    page.screenshot(path=str(tmp_path / "arena.png"))
    assert (tmp_path / "arena.png").stat().st_size > 10_000

    actions = [("key", "2"), ("click", "#vote-left"), ("click", "#vote-tie"), ("key", "b"),
               ("key", "ArrowLeft"), ("click", "#vote-right"), ("key", "3"), ("click", "#vote-both_bad"),
               ("key", "ArrowRight"), ("key", "1")]

    def act(i: int) -> None:
        how, what = actions[i % len(actions)]
        if how == "click":
            page.click(what)
        else:
            page.keyboard.press(what)

    for i in range(12):
        if i == 3:
            page.fill("#reason", "left one has a <seam> & blur")
            page.locator("body").click(position={"x": 5, "y": 5})   # leave the text box: keys vote again
        act(i)
        _wait_ready(page, i + 1)
    assert len(_on_disk(server.run)) == 12

    server.kill()
    page.keyboard.press("1")                     # the vote cannot reach the killed server
    page.wait_for_function("document.getElementById('status').textContent.includes('did not reach')")
    assert len(_on_disk(server.run)) == 12
    server.start()
    page.keyboard.press("1")                     # the pair shown before the kill is gone: a new one loads
    _wait_ready(page, 12)
    for i in range(12, 20):
        act(i)
        _wait_ready(page, i + 1)
    assert errors == []

    votes = _on_disk(server.run)
    assert len(votes) == 20 and all(v["rater"] == "ann" for v in votes)
    assert Counter(v["answer"] for v in votes).keys() == {"left", "right", "tie", "both_bad"}
    assert len({(v["task_id"], v["seed"], *sorted((v["left"], v["right"]))) for v in votes}) == 20   # no repeats
    assert {v["left"] for v in votes} == set(PIPELINES) == {v["right"] for v in votes}   # both orders appear
    orders = Counter((v["left"], v["right"]) for v in votes)
    assert any(orders[(a, b)] and orders[(b, a)] for a in PIPELINES for b in PIPELINES if a < b)
    assert votes[3]["reason"] == "left one has a <seam> & blur" and votes[4]["reason"] == ""
