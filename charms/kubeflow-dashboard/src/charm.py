#!/usr/bin/env python3
"""Charm of the Kubeflow central dashboard (wiring only; logic in `dashboard`)."""

from __future__ import annotations

import logging
from pathlib import Path

import dashboard
import ops
from dashboard import CONTAINER, PORT, SERVICE, ConfigError, DashboardConfig, Kfam, Link
from kfcharm.cos import GrafanaDashboardProvider, LogForwarder, MetricsEndpointProvider
from kfcharm.k8s import K8sError, ResourceManager, get_client, load_templates
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
from kfcharm.resources import apply_container_resources
from kfcharm.status import Outcome, Reconciler, StatusError, status_for_k8s_error
from lightkube.resources.core_v1 import ConfigMap
from lightkube.resources.rbac_authorization_v1 import (
    ClusterRole,
    ClusterRoleBinding,
    Role,
    RoleBinding,
)

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
MANAGED_KINDS = (ConfigMap, ClusterRole, ClusterRoleBinding, Role, RoleBinding)
# The remote charm each required endpoint is integrated with (for the `juju integrate` hints).
REMOTES = {
    "kubeflow-profiles": "kubeflow-profiles:kubeflow-profiles",
    "ingress": "istio-pilot:ingress",
}


class KubeflowDashboardCharm(ops.CharmBase):
    """Run the central dashboard and publish its links ConfigMap."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
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
        self._integrate = {
            endpoint: f"juju integrate {self.app.name}:{endpoint} {remote}"
            for endpoint, remote in REMOTES.items()
        }
        self.reconciler = Reconciler(self, self._reconcile, events, integrate=self._integrate)
        framework.observe(self.on.remove, self._on_remove)

    # -- events ------------------------------------------------------------------------------

    def _on_remove(self, _: ops.RemoveEvent) -> None:
        """On application removal, delete the ConfigMap and RBAC this app created."""
        # No reconcile in this hook: it would re-create what the purge deletes.
        self.reconciler.set_outcome(Outcome())
        if not self.unit.is_leader() or self.app.planned_units() > 0:
            return
        try:
            deleted = self._resource_manager().purge(include_crds=False)
        except K8sError as err:
            logger.warning("could not clean up on removal: %s", err)
            return
        logger.info("removed %d objects", len(deleted))

    # -- reconcile ---------------------------------------------------------------------------

    def _reconcile(self, outcome: Outcome) -> None:
        """Bring the ConfigMap, RBAC and resources (leader) and the workload to the desired state.

        Problems that leave the rest workable (bad related links, Kubernetes errors, ingress
        not ready) are added to `outcome` and reconciling goes on; those that stop it raise.
        """
        try:
            config = DashboardConfig.from_options(self.config)
        except ConfigError as err:
            # Keep what is published: links are never dropped because of a config typo.
            raise StatusError(
                ops.BlockedStatus(f"{err}: fix with juju config {self.app.name} {err.option}=...")
            ) from None
        self.unit.set_ports(PORT)
        links = self._collect_links(outcome)
        if self.unit.is_leader():
            self._reconcile_cluster(config, links, outcome)
        self._check_ingress(outcome)
        kfam = self._get_kfam()
        self._reconcile_workload(config, kfam, outcome)

    def _collect_links(self, outcome: Outcome) -> list[Link]:
        result = self._links.collect_links()
        for error in result.errors:
            outcome.add(
                ops.BlockedStatus(
                    f"bad dashboard links: {error.message}; "
                    "that app's valid links are shown, fix or update its charm"
                )
            )
        return [
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

    def _reconcile_cluster(
        self, config: DashboardConfig, links: list[Link], outcome: Outcome
    ) -> None:
        """Apply the ConfigMap, RBAC and container resources; errors do not stop the workload."""
        data = dashboard.configmap_data([*links, *config.extra_links], config)
        context = dashboard.manifest_context(
            self.app.name, self.model.name, data, config.configmap_name
        )
        try:
            self._resource_manager().reconcile(load_templates(TEMPLATES, context))
            apply_container_resources(
                get_client(self.app.name),
                self.app.name,
                self.model.name,
                {CONTAINER: config.resources},
            )
        except K8sError as err:
            logger.warning("Kubernetes API error: %s", err)
            outcome.add(status_for_k8s_error(err, self.app.name))

    def _check_ingress(self, outcome: Outcome) -> None:
        if not self.model.relations["ingress"]:
            outcome.add(
                ops.BlockedStatus(f"relation to istio-pilot missing: {self._integrate['ingress']}")
            )
            return
        for error in self._ingress.collect_errors().values():
            if isinstance(error, RelationNotReadyError):
                outcome.add(ops.WaitingStatus(f"waiting for istio-pilot: {error}"))
            else:
                outcome.add(ops.BlockedStatus(f"ingress relation: {error}"))

    def _get_kfam(self) -> Kfam:
        """Where KFAM is; without it the dashboard cannot run, so problems stop reconciling."""
        try:
            data = self._kfam.get_data()
        except RelationMissingError:
            command = self._integrate["kubeflow-profiles"]
            raise StatusError(
                ops.BlockedStatus(f"relation to kubeflow-profiles missing: {command}")
            ) from None
        except RelationNotReadyError as err:
            raise StatusError(ops.WaitingStatus(f"waiting for kubeflow-profiles: {err}")) from None
        except (RelationDataError, RelationError) as err:
            raise StatusError(ops.BlockedStatus(f"kubeflow-profiles relation: {err}")) from None
        return dashboard.kfam_from_relation(data.service_name, data.port, self.model.name)

    def _reconcile_workload(self, config: DashboardConfig, kfam: Kfam, outcome: Outcome) -> None:
        container = self.unit.get_container(CONTAINER)
        try:
            targets = self._logging.log_targets(container=container)
            layer = dashboard.dashboard_layer(config, kfam, self.model.name, targets)
            ensure_layer(container, SERVICE, layer)
            checks = container.get_checks(level=ops.pebble.CheckLevel.READY)
        except ops.pebble.ConnectionError:
            raise StatusError(
                ops.WaitingStatus(f"waiting for Pebble in the {CONTAINER} container")
            ) from None
        failing = sorted(
            name for name, check in checks.items() if check.status == ops.pebble.CheckStatus.DOWN
        )
        if failing:
            outcome.add(
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


if __name__ == "__main__":  # pragma: nocover
    ops.main(KubeflowDashboardCharm)
