"""The local Ray that editbench starts listens on loopback only, and goes away when its driver is killed."""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import time

from harness.execution.ray_local import import_psutil
from tests.hostile.helpers import ROOT

DRIVER = r"""
import json, os, sys, time
import ray                                  # imported first on purpose: init_ray must still get loopback
from harness.execution.runner import init_ray
from harness.execution.ray_local import import_psutil

ray, _ = init_ray(None)

@ray.remote(num_cpus=0)
class Probe:
    def pid(self):
        return os.getpid()

probe = Probe.remote()
ray.get(probe.pid.remote())
time.sleep(2.0)                             # agents and the watchdog are up
psutil = import_psutil()
me = psutil.Process()
procs = [me, *me.children(recursive=True)]
listeners, pids = [], []
for p in procs:
    try:
        pids.append([p.pid, p.create_time(), p.name()])
        for c in p.net_connections(kind="inet"):
            if c.status == psutil.CONN_LISTEN:
                listeners.append([p.name(), c.laddr.ip, c.laddr.port])
    except psutil.Error:
        pass
print(json.dumps({"listeners": listeners, "pids": pids, "node_ip": ray.util.get_node_ip_address()}), flush=True)
time.sleep(600)
"""


def _is_loopback(ip: str) -> bool:
    addr = ipaddress.ip_address(ip.split("%")[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


def test_local_ray_listens_on_loopback_only_and_dies_with_its_driver():
    psutil = import_psutil()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)
    driver = subprocess.Popen([sys.executable, "-c", DRIVER], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, cwd=ROOT, env=env, start_new_session=True)
    try:
        line = driver.stdout.readline()
        assert line, "the driver printed nothing"
        info = json.loads(line)
    finally:
        driver.send_signal(signal.SIGKILL)  # the driver alone, as the OOM killer does
        driver.wait()
    assert info["node_ip"] == "127.0.0.1"
    names = {n for n, _, _ in info["listeners"]}
    assert {"gcs_server", "raylet"} <= names, info["listeners"]
    exposed = [entry for entry in info["listeners"] if not _is_loopback(entry[1])]
    assert not exposed, f"listeners on non-loopback addresses: {exposed}"

    ray_procs = [(pid, created) for pid, created, _ in info["pids"] if pid != driver.pid]
    deadline = time.monotonic() + 30
    alive = ray_procs
    while alive and time.monotonic() < deadline:
        time.sleep(0.5)
        alive = [(pid, c) for pid, c in alive if psutil.pid_exists(pid) and _same(psutil, pid, c)]
    assert not alive, f"Ray processes outlived their SIGKILLed driver: {alive}"


def _same(psutil, pid: int, created: float) -> bool:
    try:
        p = psutil.Process(pid)
        return abs(p.create_time() - created) < 1e-3 and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
