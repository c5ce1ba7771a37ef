"""costreport: Kubernetes cost allocation with an OpenCost-compatible API."""

__version__ = "0.1.0"
