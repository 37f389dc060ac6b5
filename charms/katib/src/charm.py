#!/usr/bin/env python3
"""Katib charm: controller, db-manager and UI of Kubeflow's AutoML component in one pod."""

from __future__ import annotations

import datetime
import logging
from pathlib import Path
from typing import Any

import katib
import ops
from kfcharm.certs import CertificateBundle, CertificatesNotReadyError, WebhookCertificates
from kfcharm.cos import GrafanaDashboardProvider, LogForwarder, MetricsEndpointProvider
from kfcharm.k8s import K8sError, ResourceManager, get_client, k8s_errors, load_templates
from kfcharm.pebble import ensure_layer, push_if_changed
from kfcharm.relations.dashboard_links import DashboardLink, DashboardLinksRequirer
from kfcharm.relations.errors import (
    RelationDataError,
    RelationError,
    RelationMissingError,
    RelationNotReadyError,
)
from kfcharm.relations.ingress import IngressRequirer
from kfcharm.relations.k8s_service_info import KubernetesServiceInfoProvider
from kfcharm.relations.mysql_client import MysqlClientRequirer
from kfcharm.status import status_for_k8s_error
from lightkube.resources.admissionregistration_v1 import (
    MutatingWebhookConfiguration,
    ValidatingWebhookConfiguration,
)
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.core_v1 import ConfigMap, Service
from lightkube.resources.rbac_authorization_v1 import ClusterRole, ClusterRoleBinding
from lightkube.types import PatchType

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
CERTS_LABEL = "katib-webhook-certs"


def clock() -> datetime.datetime:
    """Current time (aware UTC); tests replace it to exercise certificate rotation."""
    return datetime.datetime.now(datetime.timezone.utc)


MAIN_KINDS = (
    ClusterRole,
    ClusterRoleBinding,
    ConfigMap,
    Service,
    MutatingWebhookConfiguration,
    ValidatingWebhookConfiguration,
)


class KatibCharm(ops.CharmBase):
    """Run Katib's three workloads and own its cluster objects."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        app, namespace = self.app.name, self.model.name
        self._statuses: list[ops.StatusBase] = []
        self._reconciled = False
        # Set by handlers that must not reconcile (removal, actions): status is left as is.
        self._keep_status = False
        self.database = MysqlClientRequirer(self, "relational-db", database=katib.DATABASE_NAME)
        self.certs = WebhookCertificates(
            self,
            secret_label=CERTS_LABEL,
            service_dns_names=katib.webhook_dns_names(app, namespace),
            now=lambda: clock(),
        )
        self.service_info = KubernetesServiceInfoProvider(
            self,
            "k8s-service-info",
            name=katib.db_manager_service(app),
            port=katib.DB_MANAGER_PORT,
        )
        self.ingress = IngressRequirer(self, "ingress")
        self.dashboard_links = DashboardLinksRequirer(
            self,
            links=[
                DashboardLink(
                    text="Experiments (AutoML)",
                    link=katib.INGRESS_PREFIX,
                    location="menu",
                    icon="kubeflow:katib",
                    type="item",
                )
            ],
            relation_name="dashboard-links",
        )
        self.metrics = MetricsEndpointProvider(self, jobs=self._scrape_jobs)
        self.dashboards = GrafanaDashboardProvider(self)
        self.logging = LogForwarder(self)

        on = self.on
        events: list[ops.BoundEvent] = [
            on.install,
            on.leader_elected,
            on.config_changed,
            on.upgrade_charm,
            on.update_status,
            on.secret_changed,
            on.secret_expired,
        ]
        for container in katib.CONTAINERS:
            events += [
                on[container].pebble_ready,
                on[container].pebble_check_failed,
                on[container].pebble_check_recovered,
            ]
        for endpoint in ("relational-db", "ingress", "logging"):
            events += [
                on[endpoint].relation_created,
                on[endpoint].relation_joined,
                on[endpoint].relation_changed,
                on[endpoint].relation_departed,
                on[endpoint].relation_broken,
            ]
        for event in events:
            framework.observe(event, self._on_event)
        framework.observe(on.remove, self._on_remove)
        framework.observe(on.purge_crds_action, self._on_purge_crds_action)
        framework.observe(on.collect_unit_status, self._on_collect_unit_status)
        framework.observe(on.collect_app_status, self._on_collect_app_status)

    # -- event handlers ------------------------------------------------------------------------

    def _on_event(self, _: ops.EventBase) -> None:
        self._reconcile()

    def _on_remove(self, _: ops.RemoveEvent) -> None:
        # Removing the application deletes what only Katib's pods need (webhooks, Services,
        # ConfigMaps, RBAC), never the CRDs, so every Experiment survives a reinstall.
        self._keep_status = True
        if not self.unit.is_leader() or self.app.planned_units() > 0:
            return
        try:
            deleted = self._resource_manager("main").purge(include_crds=False)
            logger.info("removed %d Katib objects; CRDs and Experiments are kept", len(deleted))
        except K8sError as err:
            logger.warning("could not clean up Katib objects on removal: %s", err)

    def _on_purge_crds_action(self, event: ops.ActionEvent) -> None:
        self._keep_status = True
        if not event.params.get("confirm"):
            event.fail(
                "refusing to delete every Experiment, Trial and Suggestion: pass confirm=true"
            )
            return
        if not self.unit.is_leader():
            event.fail("run this action on the leader unit (juju run katib/leader purge-crds)")
            return
        try:
            deleted = self._resource_manager("crds").purge(include_crds=True)
        except K8sError as err:
            event.fail(f"could not delete the CRDs: {err}")
            return
        event.set_results({"deleted": ", ".join(deleted) or "nothing"})

    def _on_collect_unit_status(self, event: ops.CollectStatusEvent) -> None:
        if self._keep_status:
            return
        if not self._reconciled:
            # A hook handled only by a library (e.g. secret-remove): still report the truth.
            self._reconcile()
        for status in self._statuses:
            event.add_status(status)
        event.add_status(ops.ActiveStatus())

    def _on_collect_app_status(self, event: ops.CollectStatusEvent) -> None:
        if self._keep_status:
            return
        for status in self._statuses:
            if isinstance(status, ops.BlockedStatus):
                event.add_status(status)
        event.add_status(ops.ActiveStatus())

    # -- reconcile -----------------------------------------------------------------------------

    def _reconcile(self) -> None:
        """Bring Kubernetes objects, relation data and the three workloads to the desired state."""
        self._statuses = []
        self._reconciled = True
        try:
            config = self.load_config(katib.KatibCharmConfig)
        except ValueError as err:
            self._block(katib.config_error_message(err).replace("<app>", self.app.name))
            return

        certs = self._certificates()
        if self.unit.is_leader():
            self._publish_relations(config)
            if certs is not None:
                self._reconcile_kubernetes(config, certs)
            self._reconcile_container_resources(config)

        self._workload(katib.UI, lambda c: self._configure_ui(c, config))
        if certs is not None:
            self._workload(
                katib.CONTROLLER, lambda c: self._configure_controller(c, config, certs)
            )
        database = self._database_settings()
        if database is not None:
            self._workload(katib.DB_MANAGER, lambda c: self._configure_db_manager(c, database))

    def _certificates(self) -> CertificateBundle | None:
        try:
            return self.certs.ensure()
        except CertificatesNotReadyError:
            self._wait("waiting for the leader to create the webhook certificates")
            return None

    def _publish_relations(self, config: katib.KatibCharmConfig) -> None:
        self.ingress.publish(
            port=config.ui_port,
            prefix=katib.INGRESS_PREFIX,
            rewrite=katib.INGRESS_PREFIX,
            service=katib.ui_service(self.app.name),
        )
        for error in self.ingress.collect_errors().values():
            self._relation_status(error)

    def _reconcile_kubernetes(
        self, config: katib.KatibCharmConfig, certs: CertificateBundle
    ) -> None:
        context = katib.manifest_context(
            config, self.app.name, self.model.name, certs.ca_bundle_b64
        )
        try:
            self._resource_manager("crds").reconcile(load_templates(TEMPLATES / "crds", context))
            self._resource_manager("main").reconcile(load_templates(TEMPLATES, context))
        except K8sError as err:
            self._statuses_add_k8s(err)

    def _reconcile_container_resources(self, config: katib.KatibCharmConfig) -> None:
        """Set the configured requests/limits on the workload containers of Juju's StatefulSet."""
        desired = config.resources()
        client = get_client(field_manager=self.app.name)
        name, namespace = self.app.name, self.model.name
        try:
            with k8s_errors("get", "StatefulSet", name, namespace):
                statefulset = client.get(StatefulSet, name, namespace=namespace)
            template = statefulset.spec.template.spec if statefulset.spec else None
            if template is None:
                return
            containers = [c.to_dict() for c in template.containers]
            changed = False
            for container in containers:
                if container["name"] not in desired:
                    continue
                current = {k: v for k, v in (container.get("resources") or {}).items() if v}
                if current != desired[container["name"]]:
                    container["resources"] = desired[container["name"]]
                    changed = True
            if not changed:
                return
            # A JSON merge patch replaces the containers list whole: send it complete, as read,
            # with the resourceVersion so a concurrent change by Juju fails instead of losing.
            patch = {
                "metadata": {"resourceVersion": statefulset.metadata.resourceVersion},
                "spec": {"template": {"spec": {"containers": containers}}},
            }
            with k8s_errors("patch", "StatefulSet", name, namespace):
                client.patch(
                    StatefulSet, name, patch, namespace=namespace, patch_type=PatchType.MERGE
                )
            logger.info("updated container resources of StatefulSet %s", name)
        except K8sError as err:
            if err.status_code == 404:
                logger.debug("StatefulSet %s not found; container resources not set", name)
                return
            self._statuses_add_k8s(err)

    def _database_settings(self) -> katib.DatabaseSettings | None:
        try:
            credentials = self.database.get_credentials()
        except RelationMissingError:
            self._block(
                "relation to mysql missing: "
                f"juju integrate {self.app.name}:relational-db mysql:database"
            )
            return None
        except RelationError as err:
            self._relation_status(err)
            return None
        return katib.DatabaseSettings(
            host=credentials.host,
            port=credentials.port,
            database=credentials.database,
            username=credentials.username,
            password=credentials.password,
        )

    # -- workloads -----------------------------------------------------------------------------

    def _workload(self, name: str, configure: Any) -> None:
        container = self.unit.get_container(name)
        try:
            configure(container)
        except ops.pebble.ConnectionError:
            self._wait(f"waiting for Pebble in the {name} container")
        except (ops.pebble.APIError, ops.pebble.ChangeError) as err:
            self._wait(f"{name}: Pebble error, will retry: {err}")
        else:
            self._check_readiness(container)

    def _configure_controller(
        self,
        container: ops.Container,
        config: katib.KatibCharmConfig,
        certs: CertificateBundle,
    ) -> None:
        files_changed = False
        files_changed |= push_if_changed(
            container, katib.KATIB_CONFIG_PATH, katib.katib_config_yaml(config)
        )
        files_changed |= push_if_changed(container, katib.CERT_FILE, certs.cert_pem)
        files_changed |= push_if_changed(
            container, katib.KEY_FILE, certs.key_pem, permissions=0o600
        )
        layer = katib.controller_layer(
            config, self.app.name, self.model.name, self._log_targets(container)
        )
        layer_changed = ensure_layer(container, katib.CONTROLLER, layer)
        if files_changed and not layer_changed:
            # New certificates or katib-config: the controller reads both only at start.
            container.restart(katib.CONTROLLER)
            logger.info("restarted %s to load new certificates/config", katib.CONTROLLER)

    def _configure_db_manager(
        self, container: ops.Container, database: katib.DatabaseSettings
    ) -> None:
        ensure_layer(
            container,
            katib.DB_MANAGER,
            katib.db_manager_layer(database, self._log_targets(container)),
        )

    def _configure_ui(self, container: ops.Container, config: katib.KatibCharmConfig) -> None:
        ensure_layer(
            container,
            katib.UI,
            katib.ui_layer(config, self.app.name, self.model.name, self._log_targets(container)),
        )

    def _log_targets(self, container: ops.Container) -> dict[str, Any]:
        return self.logging.log_targets(container=container)

    def _check_readiness(self, container: ops.Container) -> None:
        failing = [
            name
            for name, info in container.get_checks(level=ops.pebble.CheckLevel.READY).items()
            if info.status != ops.pebble.CheckStatus.UP
        ]
        if failing:
            self._wait(f"{container.name} not ready yet (failing: {', '.join(sorted(failing))})")

    # -- helpers -------------------------------------------------------------------------------

    def _scrape_jobs(self) -> list[dict[str, Any]]:
        try:
            port = self.load_config(katib.KatibCharmConfig).metrics_port
        except ValueError:
            port = katib.KatibCharmConfig().metrics_port
        return [
            {
                "job_name": "katib-controller",
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [f"*:{port}"]}],
            }
        ]

    def _resource_manager(self, scope: str) -> ResourceManager:
        kinds: tuple[type, ...] = (CustomResourceDefinition,) if scope == "crds" else MAIN_KINDS
        return ResourceManager(
            get_client(field_manager=self.app.name),
            app=self.app.name,
            namespace=self.model.name,
            scope=scope,
            resource_types=kinds,
        )

    def _block(self, message: str) -> None:
        self._statuses.append(ops.BlockedStatus(message))

    def _wait(self, message: str) -> None:
        self._statuses.append(ops.WaitingStatus(message))

    def _relation_status(self, err: RelationError) -> None:
        if isinstance(err, RelationNotReadyError):
            self._wait(str(err))
        elif isinstance(err, RelationDataError):
            self._block(f"{err} (check the related application)")
        else:
            self._block(str(err))

    def _statuses_add_k8s(self, err: K8sError) -> None:
        self._statuses.append(status_for_k8s_error(err, self.app.name))


if __name__ == "__main__":  # pragma: nocover
    ops.main(KatibCharm)
