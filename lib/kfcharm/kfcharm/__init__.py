"""Shared runtime library of the Kubeflow-on-Juju charms.

Modules: `k8s` (resource manager), `relations` (one module per interface), `cos`
(Prometheus, Grafana, Loki), `certs` (webhook certificates), `pebble` and `status`
(workload and status helpers). `testing` is for tests only.
"""

__version__ = "0.1.0"
