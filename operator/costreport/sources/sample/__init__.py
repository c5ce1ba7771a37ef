"""The embedded sample cluster: a seeded synthetic cluster that exercises the whole cost model.

No cluster and no Prometheus needed: `costreport demo` and the tests run on it. It has node
pools of four instance types (one spot node, one GPU node, one node that joins 3.5 days before
the end), `kube-system` and `monitoring` with DaemonSets on every node, team namespaces with
rolling Deployments, StatefulSets with volumes, CronJobs whose pods run 30 s, 5 min and 1 h,
a GPU training Job, a bare pod, containers without requests, pods missing the `team` label,
an unbound PV, a claim nobody mounts, a LoadBalancer, and network traffic.

Size: `scale` multiplies replicas, node pools and CronJob copies. A 7-day window holds about
136 distinct pods at scale 1, ≈1,000 at scale 8 and ≈10,000 at scale 80
(`benchmarks/engine.py` uses those two scales).
"""

from costreport.sources.sample.builder import SAMPLE_INSTANCE_PRICES
from costreport.sources.sample.source import (
    MIN_DAYS,
    SampleSource,
    generate_sample_cluster,
    pod_count,
    restrict,
)

__all__ = [
    "MIN_DAYS",
    "SAMPLE_INSTANCE_PRICES",
    "SampleSource",
    "generate_sample_cluster",
    "pod_count",
    "restrict",
]
