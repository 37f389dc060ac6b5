#!/usr/bin/env python3
"""Charm of the Kubeflow central dashboard (wiring only; logic in `dashboard`)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import dashboard
import ops
from dashboard import CONTAINER, PORT, SERVICE, ConfigError, DashboardConfig, Kfam, Link
from kfcharm.cos import GrafanaDashboardProvider, LogForwarder, MetricsEndpointProvider
from kfcharm.k8s import (
    K8sError,
    K8sNotFoundError,
    ResourceManager,
    get_client,
    k8s_errors,
    load_templates,
)
from kfcharm.pebble import ensure_layer
from kfcharm.relations import (
    RelationDataError,
    RelationError,
    RelationMissingError,
    RelationNotReadyError,
)
from kfcharm.relations.dashboard_links import DashboardLinksProvider
from kfcharm.relations.ingress import IngressRequirer
from kfcharm.relations.k8s_service import KubernetesServiceRequirer
from kfcharm.status import status_for_k8s_error
from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.core_v1 import ConfigMap
from lightkube.resources.rbac_authorization_v1 import (
    ClusterRole,
    ClusterRoleBinding,
    Role,
    RoleBinding,
)
from lightkube.types import PatchType

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
MANAGED_KINDS = (ConfigMap, ClusterRole, ClusterRoleBinding, Role, RoleBinding)


class KubeflowDashboardCharm(ops.CharmBase):
    """Run the central dashboard and publish its links ConfigMap."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._statuses: list[ops.StatusBase] = []
        self._reconciled = False

        self._logging = LogForwarder(self, relation_name="logging")
        self._metrics = MetricsEndpointProvider(
            self, jobs=dashboard.metrics_jobs(), refresh_event=self.on[CONTAINER].pebble_ready
        )
        self._dashboards = GrafanaDashboardProvider(self)
        self._kfam = KubernetesServiceRequirer(self, "kubeflow-profiles")
        self._ingress = IngressRequirer(self, "ingress", port=PORT, prefix="/", rewrite="/")
        self._links = DashboardLinksProvider(self, "links")

        events: list[ops.BoundEvent] = [
            self.on.install,
            self.on.leader_elected,
            self.on.config_changed,
            self.on.upgrade_charm,
            self.on.update_status,
            self.on[CONTAINER].pebble_ready,
        ]
        for endpoint in ("kubeflow-profiles", "ingress", "links", "logging"):
            relation_events = self.on[endpoint]
            events += [
                relation_events.relation_created,
                relation_events.relation_joined,
                relation_events.relation_changed,
                relation_events.relation_departed,
                relation_events.relation_broken,
            ]
        for event in events:
            framework.observe(event, self._on_event)
        framework.observe(self.on.remove, self._on_remove)
        framework.observe(self.on.collect_unit_status, self._on_collect_unit_status)
        framework.observe(self.on.collect_app_status, self._on_collect_app_status)

    # -- events ------------------------------------------------------------------------------

    def _on_event(self, _: ops.EventBase) -> None:
        self._reconcile()

    def _on_remove(self, _: ops.RemoveEvent) -> None:
        """On application removal, delete the ConfigMap and RBAC this app created."""
        if not self.unit.is_leader() or self.app.planned_units() > 0:
            return
        try:
            deleted = self._resource_manager().purge(include_crds=False)
        except K8sError as err:
            logger.warning("could not clean up on removal: %s", err)
            return
        logger.info("removed %d objects", len(deleted))

    def _on_collect_unit_status(self, event: ops.CollectStatusEvent) -> None:
        if not self._reconciled:
            return
        for status in self._statuses or [ops.ActiveStatus()]:
            event.add_status(status)

    def _on_collect_app_status(self, event: ops.CollectStatusEvent) -> None:
        self._on_collect_unit_status(event)

    # -- reconcile ---------------------------------------------------------------------------

    def _reconcile(self) -> None:
        """Bring the ConfigMap and RBAC (leader) and the workload to the desired state."""
        self._reconciled = True
        try:
            config = DashboardConfig.from_options(self.config)
        except ConfigError as err:
            # Keep what is published: links are never dropped because of a config typo.
            self._statuses.append(
                ops.BlockedStatus(f"{err}: fix with juju config {self.app.name} {err.option}=...")
            )
            return
        self.unit.set_ports(PORT)
        links = self._collect_links()
        if self.unit.is_leader():
            self._reconcile_cluster(config, links)
        self._check_ingress()
        kfam = self._get_kfam()
        if kfam is not None:
            self._reconcile_workload(config, kfam)

    def _collect_links(self) -> list[Link]:
        result = self._links.collect_links()
        for error in result.errors:
            self._statuses.append(
                ops.BlockedStatus(
                    f"bad dashboard links: {error.message}; "
                    "that app's valid links are shown, fix or update its charm"
                )
            )
        from_relations = [
            Link(
                text=link.text,
                link=link.link,
                location=link.location,
                icon=link.icon,
                type=link.type,
                desc=link.desc,
            )
            for link in result.links
        ]
        return from_relations

    def _reconcile_cluster(self, config: DashboardConfig, links: list[Link]) -> None:
        data = dashboard.configmap_data([*links, *config.extra_links], config)
        context = dashboard.manifest_context(
            self.app.name, self.model.name, data, config.configmap_name
        )
        try:
            self._resource_manager().reconcile(load_templates(TEMPLATES, context))
            self._sync_container_resources(config)
        except K8sError as err:
            self._statuses.append(status_for_k8s_error(err, self.app.name))

    def _sync_container_resources(self, config: DashboardConfig) -> None:
        """Patch the dashboard container's requests/limits when they differ (restarts the pod)."""
        client = get_client(self.app.name)
        try:
            with k8s_errors("get", "StatefulSet", self.app.name, self.model.name):
                statefulset = client.get(StatefulSet, self.app.name, namespace=self.model.name)
        except K8sNotFoundError:
            logger.warning("StatefulSet %s not found: resource limits not applied", self.app.name)
            return
        spec = _as_dict(statefulset).get("spec", {}).get("template", {}).get("spec", {})
        wanted = {k: dict(v) for k, v in config.resources.items()}
        containers, changed = containers_with_resources(
            spec.get("containers", []), {CONTAINER: wanted}
        )
        if not changed:
            return
        with k8s_errors("patch", "StatefulSet", self.app.name, self.model.name):
            client.patch(
                StatefulSet,
                self.app.name,
                {"spec": {"template": {"spec": {"containers": containers}}}},
                namespace=self.model.name,
                patch_type=PatchType.STRATEGIC,
            )
        logger.info("container resources updated: the pod restarts with them")

    def _check_ingress(self) -> None:
        if not self.model.relations["ingress"]:
            self._statuses.append(
                ops.BlockedStatus(
                    "relation to istio-pilot missing: juju integrate "
                    f"{self.app.name}:ingress istio-pilot:ingress"
                )
            )
            return
        for error in self._ingress.collect_errors().values():
            if isinstance(error, RelationNotReadyError):
                self._statuses.append(ops.WaitingStatus(f"waiting for istio-pilot: {error}"))
            else:
                self._statuses.append(ops.BlockedStatus(f"ingress relation: {error}"))

    def _get_kfam(self) -> Kfam | None:
        try:
            data = self._kfam.get_data()
        except RelationMissingError:
            self._statuses.append(
                ops.BlockedStatus(
                    "relation to kubeflow-profiles missing: juju integrate "
                    f"{self.app.name}:kubeflow-profiles kubeflow-profiles:kubeflow-profiles"
                )
            )
            return None
        except RelationNotReadyError as err:
            self._statuses.append(ops.WaitingStatus(f"waiting for kubeflow-profiles: {err}"))
            return None
        except (RelationDataError, RelationError) as err:
            self._statuses.append(ops.BlockedStatus(f"kubeflow-profiles relation: {err}"))
            return None
        return dashboard.kfam_from_relation(data.service_name, data.port, self.model.name)

    def _reconcile_workload(self, config: DashboardConfig, kfam: Kfam) -> None:
        container = self.unit.get_container(CONTAINER)
        try:
            targets = self._logging.log_targets(container=container)
            layer = dashboard.dashboard_layer(config, kfam, self.model.name, targets)
            ensure_layer(container, SERVICE, layer)
            checks = container.get_checks(level=ops.pebble.CheckLevel.READY)
        except ops.pebble.ConnectionError:
            self._statuses.append(
                ops.WaitingStatus(f"waiting for Pebble in the {CONTAINER} container")
            )
            return
        failing = sorted(
            name for name, check in checks.items() if check.status == ops.pebble.CheckStatus.DOWN
        )
        if failing:
            self._statuses.append(
                ops.WaitingStatus(
                    f"dashboard not ready ({', '.join(failing)} failing); its logs: juju ssh "
                    f"--container {CONTAINER} <unit> /charm/bin/pebble logs {SERVICE}"
                )
            )

    # -- helpers -----------------------------------------------------------------------------

    def _resource_manager(self) -> ResourceManager:
        return ResourceManager(
            get_client(self.app.name),
            app=self.app.name,
            namespace=self.model.name,
            scope="main",
            resource_types=MANAGED_KINDS,
            list_all_namespaces=False,
        )


def containers_with_resources(
    containers: list[dict[str, Any]], desired: dict[str, dict[str, dict[str, str]]]
) -> tuple[list[dict[str, Any]], bool]:
    """The pod template's containers with the desired resources, and whether any changed.

    Every container is returned in full: a strategic merge patch merges them by name, and the
    result is the same when the list is replaced whole.
    """
    result: list[dict[str, Any]] = []
    changed = False
    for container in containers:
        copy = dict(container)
        wanted = desired.get(copy.get("name", ""))
        if wanted is not None:
            if not _same_resources(copy.get("resources") or {}, wanted):
                changed = True
            copy["resources"] = {key: value for key, value in wanted.items() if value}
        result.append(copy)
    return result, changed


def _same_resources(current: dict[str, Any], wanted: dict[str, dict[str, str]]) -> bool:
    """Compare resources numerically (the API server normalises "0.1" to "100m")."""
    from lightkube.utils.quantity import parse_quantity

    for key in ("requests", "limits"):
        have = current.get(key) or {}
        want = wanted.get(key) or {}
        if set(have) != set(want):
            return False
        for name, value in want.items():
            try:
                if parse_quantity(str(have[name])) != parse_quantity(value):
                    return False
            except ValueError:
                return False
    return True


def _as_dict(obj: Any) -> dict[str, Any]:
    data = obj.to_dict() if hasattr(obj, "to_dict") else obj
    return json.loads(json.dumps(data, default=str))


if __name__ == "__main__":  # pragma: nocover
    ops.main(KubeflowDashboardCharm)
