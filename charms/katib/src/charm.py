#!/usr/bin/env python3
"""Katib charm: controller, db-manager and UI of Kubeflow's AutoML component in one pod."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import katib
import ops
from kfcharm.certs import CertificateBundle, CertificatesNotReadyError, WebhookCertificates
from kfcharm.cos import GrafanaDashboardProvider, LogForwarder, MetricsEndpointProvider
from kfcharm.k8s import K8sError, ResourceManager, get_client, load_templates
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
from kfcharm.resources import apply_container_resources
from kfcharm.status import (
    Outcome,
    Reconciler,
    StatusError,
    status_for_k8s_error,
    status_for_relation_error,
)
from lightkube.resources.admissionregistration_v1 import (
    MutatingWebhookConfiguration,
    ValidatingWebhookConfiguration,
)
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.core_v1 import ConfigMap, Service
from lightkube.resources.rbac_authorization_v1 import ClusterRole, ClusterRoleBinding

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
CERTS_LABEL = "katib-webhook-certs"


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
        self.database = MysqlClientRequirer(self, "relational-db", database=katib.DATABASE_NAME)
        self.certs = WebhookCertificates(
            self,
            secret_label=CERTS_LABEL,
            service_dns_names=katib.webhook_dns_names(app, namespace),
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
        self._integrate = {"relational-db": f"juju integrate {app}:relational-db mysql:database"}
        self.reconciler = Reconciler(self, self._reconcile, events, integrate=self._integrate)
        framework.observe(on.remove, self._on_remove)
        framework.observe(on.purge_crds_action, self._on_purge_crds_action)

    # -- event handlers ------------------------------------------------------------------------

    def _on_remove(self, _: ops.RemoveEvent) -> None:
        # Removing the application deletes what only Katib's pods need (webhooks, Services,
        # ConfigMaps, RBAC), never the CRDs, so every Experiment survives a reinstall.
        # The Reconciler holds in this hook (no reconcile re-creating them; status kept).
        if not self.unit.is_leader() or self.app.planned_units() > 0:
            return
        try:
            deleted = self._resource_manager("main").purge(include_crds=False)
            logger.info("removed %d Katib objects; CRDs and Experiments are kept", len(deleted))
        except K8sError as err:
            logger.warning("could not clean up Katib objects on removal: %s", err)

    def _on_purge_crds_action(self, event: ops.ActionEvent) -> None:
        # The Reconciler holds in action hooks: nothing re-creates the CRDs just deleted.
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

    # -- reconcile -----------------------------------------------------------------------------

    def _reconcile(self, outcome: Outcome) -> None:
        """Bring Kubernetes objects, relation data and the three workloads to the desired state.

        A problem with one part (a Kubernetes error, an unreachable container) is reported and
        the other parts still go ahead; the db-manager, last, waits for the database relation.
        """
        try:
            config = self.load_config(katib.KatibCharmConfig)
        except ValueError as err:
            message = katib.config_error_message(err).replace("<app>", self.app.name)
            raise StatusError(ops.BlockedStatus(message)) from None

        certs = self._certificates(outcome)
        if self.unit.is_leader():
            self._publish_relations(outcome, config)
            if certs is not None:
                self._reconcile_kubernetes(outcome, config, certs)
            self._reconcile_container_resources(outcome, config)

        self._workload(outcome, katib.UI, lambda c: self._configure_ui(c, config))
        if certs is not None:
            self._workload(
                outcome, katib.CONTROLLER, lambda c: self._configure_controller(c, config, certs)
            )
        database = self._database_settings()
        self._workload(
            outcome, katib.DB_MANAGER, lambda c: self._configure_db_manager(c, database)
        )

    def _certificates(self, outcome: Outcome) -> CertificateBundle | None:
        try:
            return self.certs.ensure()
        except CertificatesNotReadyError:
            outcome.add(
                ops.WaitingStatus("waiting for the leader to create the webhook certificates")
            )
            return None

    def _publish_relations(self, outcome: Outcome, config: katib.KatibCharmConfig) -> None:
        self.ingress.publish(
            port=config.ui_port,
            prefix=katib.INGRESS_PREFIX,
            rewrite=katib.INGRESS_PREFIX,
            service=katib.ui_service(self.app.name),
        )
        for error in self.ingress.collect_errors().values():
            outcome.add(self._relation_status(error))

    def _reconcile_kubernetes(
        self, outcome: Outcome, config: katib.KatibCharmConfig, certs: CertificateBundle
    ) -> None:
        context = katib.manifest_context(
            config, self.app.name, self.model.name, certs.ca_bundle_b64
        )
        try:
            self._resource_manager("crds").reconcile(load_templates(TEMPLATES / "crds", context))
            self._resource_manager("main").reconcile(load_templates(TEMPLATES, context))
        except K8sError as err:
            # Reported, and the workloads are still configured below.
            outcome.add(status_for_k8s_error(err, self.app.name))

    def _reconcile_container_resources(
        self, outcome: Outcome, config: katib.KatibCharmConfig
    ) -> None:
        """Set the configured requests/limits on the workload containers of Juju's StatefulSet."""
        try:
            apply_container_resources(
                get_client(field_manager=self.app.name),
                self.app.name,
                self.model.name,
                config.resources(),
            )
        except K8sError as err:
            outcome.add(status_for_k8s_error(err, self.app.name))

    def _database_settings(self) -> katib.DatabaseSettings:
        """The db-manager's database, or StatusError saying what the relation lacks."""
        try:
            credentials = self.database.get_credentials()
        except RelationError as err:
            raise StatusError(self._relation_status(err)) from None
        return katib.DatabaseSettings(
            host=credentials.host,
            port=credentials.port,
            database=credentials.database,
            username=credentials.username,
            password=credentials.password,
        )

    # -- workloads -----------------------------------------------------------------------------

    def _workload(
        self, outcome: Outcome, name: str, configure: Callable[[ops.Container], None]
    ) -> None:
        """Configure one workload; its Pebble problems are reported without stopping the rest."""
        container = self.unit.get_container(name)
        try:
            configure(container)
            failing = [
                check
                for check, info in container.get_checks(level=ops.pebble.CheckLevel.READY).items()
                if info.status != ops.pebble.CheckStatus.UP
            ]
        except ops.pebble.ConnectionError:
            outcome.add(ops.WaitingStatus(f"waiting for Pebble in the {name} container"))
        except (ops.pebble.APIError, ops.pebble.ChangeError) as err:
            outcome.add(ops.WaitingStatus(f"{name}: Pebble error, will retry: {err}"))
        else:
            if failing:
                outcome.add(
                    ops.WaitingStatus(
                        f"{name} not ready yet (failing: {', '.join(sorted(failing))})"
                    )
                )

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

    def _relation_status(self, err: RelationError) -> ops.StatusBase:
        """The status for a relation error, in the words this charm has always used."""
        if isinstance(err, RelationMissingError) and err.endpoint == "relational-db":
            return ops.BlockedStatus(f"relation to mysql missing: {self._integrate[err.endpoint]}")
        if isinstance(err, RelationNotReadyError):
            return ops.WaitingStatus(str(err))
        if isinstance(err, RelationDataError):
            return ops.BlockedStatus(f"{err} (check the related application)")
        return status_for_relation_error(err, self._integrate)


if __name__ == "__main__":  # pragma: nocover
    ops.main(KatibCharm)
