"""COS integration on `ops` and `cosl` only: metrics, dashboards and log forwarding.

- `MetricsEndpointProvider`: ``prometheus_scrape`` (scrape jobs, alert rules).
- `GrafanaDashboardProvider`: ``grafana_dashboard``.
- `LogForwarder`: ``loki_push_api`` requirer producing Pebble ``log-targets``.

Invalid assets shipped with the charm (alert rules, dashboards, static scrape jobs) raise a
`CosError` subclass at construction; malformed remote data never raises.
"""

from ._common import AlertRulesError, CosError, DashboardError, ScrapeJobError
from .grafana import GrafanaDashboardProvider
from .loki import LogForwarder
from .prometheus import MetricsEndpointProvider

__all__ = [
    "AlertRulesError",
    "CosError",
    "DashboardError",
    "GrafanaDashboardProvider",
    "LogForwarder",
    "MetricsEndpointProvider",
    "ScrapeJobError",
]
