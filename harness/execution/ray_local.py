"""The private local Ray that ``editbench run`` starts when no cluster is named: loopback only, and gone
with its driver.

Loopback: Ray 2.60 replaces ``_node_ip_address="127.0.0.1"`` by the machine's routable address, and its
GCS, raylet, driver and workers listen on every interface, unless ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``
is set; Ray reads that variable into ``ray._private.ray_constants.ENABLE_RAY_CLUSTER`` when ``ray`` is
imported, and the processes it spawns read it from their environment. :func:`loopback_only` sets both.

Watchdog: when the driver is killed without shutting Ray down (SIGKILL, the OOM killer), Ray's GCS and
raylet go, but agent processes can stay alive, one still listening. :func:`start_ray_watchdog` starts a
small process (this file run as a script, in its own session so a signal to the driver's process group
spares it) that records the driver's Ray descendants every half second and, once the driver is gone,
terminates those still alive (matched by pid and start time, so a reused pid is never hit).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from harness.core.process import import_psutil

LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
POLL_S = 0.5


def loopback_only() -> None:
    """Make a Ray started from this process (and every process it spawns) bind to 127.0.0.1 only."""
    os.environ[LOOPBACK_ENV] = "0"
    if "ray" in sys.modules:  # imported before the variable was set: correct the constant it read
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False


def start_ray_watchdog() -> subprocess.Popen | None:
    """Start the watchdog of this driver's local Ray (see the module docstring); None without psutil."""
    if import_psutil() is None:
        return None
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))   # the project root
    return subprocess.Popen([sys.executable, "-m", "harness.execution.ray_local", str(os.getpid())], cwd=root,
                            start_new_session=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            close_fds=True)


def _is_ray(proc) -> bool:
    """A process of Ray: its GCS or raylet, a worker or agent (``ray::...``), or a script of the ray package."""
    try:
        cmd = proc.cmdline()
        return (proc.name() in ("raylet", "gcs_server") or bool(cmd) and cmd[0].startswith("ray::")
                or any(f"{os.sep}ray{os.sep}" in arg for arg in cmd[:3]))
    except Exception:  # noqa: BLE001 - gone or not ours
        return False


def _watch(driver_pid: int) -> None:
    psutil = import_psutil()
    me = os.getpid()
    seen: dict[int, float] = {}  # pid -> create_time of the driver's Ray descendants
    try:
        driver = psutil.Process(driver_pid)
        while driver.is_running() and driver.status() != psutil.STATUS_ZOMBIE:
            kids = [p for p in driver.children(recursive=True) if p.pid != me and _is_ray(p)]
            for p in kids:
                if p.pid not in seen:
                    try:
                        seen[p.pid] = p.create_time()
                    except psutil.Error:
                        pass
            if seen and not kids and not any(psutil.pid_exists(pid) for pid in seen):
                return  # the driver shut its Ray down and lives on: nothing left to watch
            time.sleep(POLL_S)
    except psutil.Error:
        pass
    left = []
    for pid, created in seen.items():
        try:
            p = psutil.Process(pid)
            if abs(p.create_time() - created) < 1e-3:
                p.terminate()
                left.append(p)
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(left, timeout=5)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass


if __name__ == "__main__":
    _watch(int(sys.argv[1]))
