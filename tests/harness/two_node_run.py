"""Two Ray nodes on 127.0.0.1 (ray.cluster_utils.Cluster), one run with --out s3://...; argv: URI."""
import os
import sys

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"   # before `import ray`: every Ray process on loopback
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
from ray.cluster_utils import Cluster  # noqa: E402

uri = sys.argv[1]
cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "node_ip_address": "127.0.0.1",
                                                         "include_dashboard": False})
cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
cluster.wait_for_nodes()
try:
    from harness.contract.spec import RunSpec
    from harness.workflow import run

    print("NODES", len(cluster.list_all_nodes()))
    run(RunSpec(suite="toy-5d", seeds=[0], pipelines=["toy-naive", "toy-repaint"], address=cluster.address,
                actors_per_pipeline=1), out=uri, progress=False)
finally:
    import ray

    ray.shutdown()
    cluster.shutdown()
