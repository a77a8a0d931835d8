"""A multi-node Ray cluster on this machine's loopback interface, for trying ``--address`` and placement
across nodes without a second machine (``editbench cluster``).

Why not ``ray start`` twice: with ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (needed so that every listener
stays on 127.0.0.1, docs/cluster.md) Ray 2.60's ``ray start --address`` aborts ("Multi-node Ray clusters are
not supported on Windows and OSX"); without it, Ray replaces 127.0.0.1 in the head's address by the
machine's routable address, where a loopback head does not listen, and waits forever. Ray's own test
helper :class:`ray.cluster_utils.Cluster` starts the nodes from one process instead, with the variable
set, every node on 127.0.0.1.

The process runs in the foreground until SIGINT or SIGTERM, then stops the nodes it started and nothing
else (``ray stop`` would stop every Ray of the user on the machine).
"""

from __future__ import annotations

import signal
import sys
import threading

from harness.core.errors import EditbenchError
from harness.execution.ray_local import loopback_only


def serve_loopback_cluster(*, nodes: int, num_cpus: int, port: int, ready: "threading.Event | None" = None,
                           stop: "threading.Event | None" = None) -> None:
    """Start ``nodes`` Ray nodes (the first is the head, GCS on 127.0.0.1:``port``) of ``num_cpus`` CPUs each,
    print the address, and block until SIGINT/SIGTERM (or ``stop`` is set); then shut them down."""
    if nodes < 1 or num_cpus < 1:
        raise EditbenchError(f"a cluster needs at least one node of one CPU (got {nodes} nodes of {num_cpus} CPUs).")
    loopback_only()   # before `import ray`: every process of every node listens on 127.0.0.1 only
    from ray.cluster_utils import Cluster

    stop = stop or threading.Event()
    try:
        cluster = Cluster(initialize_head=True, head_node_args={
            "num_cpus": num_cpus, "node_ip_address": "127.0.0.1", "include_dashboard": False, "gcs_server_port": port})
    except Exception as e:  # noqa: BLE001 - a port in use, a full /tmp: one sentence
        raise EditbenchError(f"could not start a Ray head on 127.0.0.1:{port} ({type(e).__name__}: {e}).") from None
    try:
        for _ in range(nodes - 1):
            cluster.add_node(num_cpus=num_cpus, node_ip_address="127.0.0.1")
        cluster.wait_for_nodes()
        for sig in (signal.SIGINT, signal.SIGTERM):   # after Ray's nodes, which install a SIGTERM handler of their own
            signal.signal(sig, lambda *_: stop.set())
        print(f"editbench: Ray cluster of {nodes} nodes x {num_cpus} CPUs at {cluster.address} (127.0.0.1 only); "
              f"run with --address {cluster.address}; Ctrl-C or SIGTERM stops it", file=sys.stderr, flush=True)
        if ready is not None:
            ready.set()
        while not stop.wait(0.5):
            pass
    finally:
        cluster.shutdown()
        print("editbench: Ray cluster stopped", file=sys.stderr, flush=True)
