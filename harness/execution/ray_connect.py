"""Joining a Ray cluster (or starting the private local one) without a silent hang.

Every step says what it is doing on stderr, has a time limit and gives way to Ctrl-C:

- :func:`check_address` parses ``HOST:PORT`` and opens one TCP connection to it (a few seconds at most), so a
  wrong port or a host that does not answer is one sentence instead of Ray's retry loop;
- :func:`call_with_timeout` runs a blocking call (``ray.init``) on a daemon thread while the main thread
  waits in short steps: Ray's C++ retry loop never sees SIGINT, the main thread does, so Ctrl-C interrupts
  the wait at once; a call over its limit raises an :class:`EditbenchError` naming what to check.

Loopback clusters: Ray 2.60 replaces ``127.0.0.1`` in a cluster address by the machine's routable address
unless ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` is set (``ray._private.services.resolve_ip_for_localhost``),
and then connects to a GCS that listens on 127.0.0.1 only, forever. :func:`is_loopback` tells the runner to
set it (:func:`harness.execution.ray_local.loopback_only`) for such an address.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import threading
import time
from typing import Callable, TypeVar

from harness.core.errors import EditbenchError

PROBE_TIMEOUT_S = 5.0        # one TCP connection to the cluster's GCS port
CONNECT_TIMEOUT_S = 60.0     # ray.init against a cluster (its GCS answered the probe)
LOCAL_START_TIMEOUT_S = 120.0  # ray.init of the private local Ray (slow on a loaded 2-core machine)
WAIT_STEP_S = 0.1

T = TypeVar("T")


class CallTimedOut(EditbenchError):
    """A blocking call ran past its limit (its thread may still be blocked: see :func:`exit_if_abandoned`)."""


class InterruptedCall(KeyboardInterrupt):
    """Ctrl-C while a blocking call ran on its thread (see :func:`exit_if_abandoned`)."""


def say(line: str) -> None:
    """One progress line on stderr (never the progress bar's line)."""
    print(f"editbench: {line}", file=sys.stderr, flush=True)


def split_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (a ``ray://`` prefix is refused: the Ray client is not supported) -> (host, port)."""
    if "://" in address:
        raise EditbenchError(f"Ray address {address!r} is not HOST:PORT (the Ray client's ray:// is not supported; "
                             "give the head's GCS address, e.g. 127.0.0.1:6379).")
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise EditbenchError(f"Ray address {address!r} is not HOST:PORT (e.g. 127.0.0.1:6379).")
    return host.strip("[]"), int(port)


def is_loopback(address: str) -> bool:
    """Whether a ``HOST:PORT`` address names this machine's loopback interface (127.0.0.0/8, ::1, localhost)."""
    host, _ = split_address(address)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_address(address: str, *, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """One TCP connection to the cluster's GCS port; an EditbenchError when nothing answers in ``timeout_s``."""
    host, port = split_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except socket.timeout:
        raise EditbenchError(f"nothing answered at Ray address {address} within {timeout_s:g} s; check the host "
                             "and port of the cluster's head (`ray status` on the head prints them).") from None
    except OSError as e:
        raise EditbenchError(f"no Ray cluster at {address} ({e.strerror or e}); start one (docs/cluster.md) or drop "
                             "--address to run on a private local Ray.") from None


def call_with_timeout(fn: Callable[[], T], *, timeout_s: float, what: str, hint: str) -> T:
    """Run ``fn`` on a daemon thread and wait for it in short steps (Ctrl-C raises KeyboardInterrupt here at
    once); past ``timeout_s`` raise EditbenchError "``what`` did not finish within N s; ``hint``". An
    exception of ``fn`` is re-raised here. The thread of a call that timed out or was interrupted is left to
    die with the process.

    The thread never ends: a local ``ray.init`` starts Ray's GCS and raylet with ``PR_SET_PDEATHSIG``, which
    Linux fires when the *thread* that started them ends, so they must live as long as the process does."""
    box: dict = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = e
        done.set()
        threading.Event().wait()   # parked for good: see the docstring (PR_SET_PDEATHSIG)

    t = threading.Thread(target=target, name=f"editbench: {what}", daemon=True)
    t.start()
    deadline = time.monotonic() + timeout_s
    try:
        while not done.wait(WAIT_STEP_S):
            if time.monotonic() > deadline:
                raise CallTimedOut(f"{what} did not finish within {timeout_s:g} s; {hint}")
    except KeyboardInterrupt:
        raise InterruptedCall(what) from None
    if "error" in box:
        raise box["error"]
    return box["value"]


def connect_hint(address: str, ray_version: str) -> str:
    """What to check when ``ray.init(address=...)`` does not come back."""
    return (f"check that a Ray {ray_version} head runs at {address} and that its token is readable here "
            "(a cluster started by `ray start` uses token authentication: ~/.ray/auth_token or $RAY_AUTH_TOKEN); "
            "for a cluster whose nodes listen on 127.0.0.1 only, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 must be set in "
            "this shell (editbench sets it itself for a loopback address).")


def exit_if_abandoned(error: BaseException, code: int) -> None:
    """End the process now (``os._exit``, after flushing) when ``error`` left a Ray call behind (it timed
    out or was interrupted): Ray's half-initialised client aborts the interpreter's normal shutdown
    (``std::bad_alloc``, exit -6). Returns for any other error."""
    if isinstance(error, (CallTimedOut, InterruptedCall)):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
