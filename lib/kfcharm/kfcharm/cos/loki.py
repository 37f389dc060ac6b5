"""`loki_push_api` requirer: forward workload logs to Loki with Pebble log targets.

The leader publishes ``metadata`` (JSON Juju topology) in the app databag; each Loki (or
collector) unit publishes ``endpoint`` = JSON ``{"url": ".../loki/api/v1/push"}`` in its unit
databag. The charm puts `LogForwarder.log_targets` under ``log-targets`` in its Pebble layer.

Removing a target. Pebble merges a layer into the plan by target name, and the charm's layer
keeps its label, so a target that simply disappears from the layer stays in the plan and keeps
pushing. Targets are therefore named from their URL (``juju-loki-<hash>``), and when the
charm passes its container, every ``juju-loki-*`` target in the current plan that is no longer
wanted is emitted again, with its old location, and ``services: ["-all"]``: it then forwards
nothing. Stale names stay in the plan as disabled entries (Pebble has no API to delete a
target) and are re-emitted identically, so the layer does not churn.

The charm observes the ``logging`` relation's joined, changed, departed and broken events and
re-renders its layer; `LogForwarder` itself only maintains ``metadata``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

import ops

from ._common import check_endpoint, observe_all, set_if_changed, topology_of

logger = logging.getLogger(__name__)

LOG_TARGET_PREFIX = "juju-loki-"


def log_target_name(url: str) -> str:
    """Stable Pebble log-target name for a push URL."""
    return LOG_TARGET_PREFIX + hashlib.sha256(url.encode()).hexdigest()[:12]


def parse_endpoint(raw: str | None) -> str | None:
    """Return the push URL of a unit's ``endpoint`` value, or None when it is not usable."""
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    url = data.get("url") if isinstance(data, dict) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    return url


class LogForwarder(ops.Object):
    """Forward workload logs to the Loki units related on ``relation_name``.

    Args:
        charm: the charm.
        relation_name: the ``loki_push_api`` requirer endpoint.

    Raises:
        CosError: the endpoint is missing from the charm metadata.
    """

    def __init__(self, charm: ops.CharmBase, relation_name: str = "logging"):
        super().__init__(charm, relation_name)
        check_endpoint(charm, relation_name, "loki_push_api")
        self._charm = charm
        self._relation_name = relation_name
        observe_all(
            self,
            [
                charm.on[relation_name].relation_joined,
                charm.on[relation_name].relation_changed,
                charm.on.leader_elected,
                charm.on.upgrade_charm,
            ],
            self._on_refresh,
        )

    def _on_refresh(self, _: ops.EventBase) -> None:
        self.update()

    def update(self) -> None:
        """Publish ``metadata`` on every relation (leader only; no write when unchanged)."""
        if not self.model.unit.is_leader():
            return
        metadata = json.dumps(topology_of(self._charm).as_dict())
        for relation in self.model.relations[self._relation_name]:
            set_if_changed(relation.data[self.model.app], {"metadata": metadata})

    def endpoints(self) -> list[str]:
        """Push URLs published by the remote units, deduplicated, in a stable order.

        A unit whose ``endpoint`` is missing or malformed is skipped (with a warning for
        malformed data); this never raises.
        """
        urls: set[str] = set()
        for relation in self.model.relations[self._relation_name]:
            for unit in relation.units:
                raw = relation.data[unit].get("endpoint")
                url = parse_endpoint(raw)
                if url is None:
                    if raw:
                        logger.warning("ignoring malformed Loki endpoint from %s", unit.name)
                    continue
                urls.add(url)
        return sorted(urls)

    def log_targets(
        self,
        services: Sequence[str] = ("all",),
        *,
        container: ops.Container | None = None,
    ) -> dict[str, Any]:
        """Pebble ``log-targets`` for the current endpoints.

        Args:
            services: Pebble services whose logs are forwarded (``"all"`` for every one).
            container: the workload container; when given, stale ``juju-loki-*`` targets of its
                current plan are disabled (see the module doc). Reading the plan may raise
                ``ops.pebble.ConnectionError``, which the charm handles as usual.

        Returns:
            ``{name: {"override": "replace", "type": "loki", "location", "services",
            "labels"}}``.
        """
        topology = topology_of(self._charm)
        labels = {
            "juju_model": topology.model,
            "juju_model_uuid": topology.model_uuid,
            "juju_application": topology.application,
            "juju_unit": topology.unit or "",
            "charm": topology.charm_name or "",
        }
        targets: dict[str, Any] = {
            log_target_name(url): {
                "override": "replace",
                "type": "loki",
                "location": url,
                "services": list(services),
                "labels": dict(labels),
            }
            for url in self.endpoints()
        }
        if container is not None:
            for name, target in container.get_plan().log_targets.items():
                if name.startswith(LOG_TARGET_PREFIX) and name not in targets:
                    targets[name] = {
                        "override": "replace",
                        "type": "loki",
                        "location": target.location,
                        "services": ["-all"],
                    }
        return targets
