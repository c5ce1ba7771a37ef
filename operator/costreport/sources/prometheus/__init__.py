"""The Prometheus source (or Thanos, Mimir, VictoriaMetrics): kube-state-metrics, cAdvisor and
OpenCost exporter series read into `ClusterData`."""

from costreport.sources.prometheus.client import PrometheusClient, PrometheusConfig
from costreport.sources.prometheus.source import PrometheusSource

__all__ = ["PrometheusClient", "PrometheusConfig", "PrometheusSource"]
