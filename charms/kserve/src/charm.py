#!/usr/bin/env python3
"""KServe charm: the KServe controller (and models web app), wired by relations to Kubeflow."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import kserve as ks
import ops
from kfcharm.certs import CertificateBundle, CertificatesNotReadyError, WebhookCertificates
from kfcharm.cos import GrafanaDashboardProvider, LogForwarder, MetricsEndpointProvider
from kfcharm.k8s import K8sError, K8sNotFoundError, ResourceManager, get_client, load_templates
from kfcharm.pebble import ensure_layer, push_if_changed
from kfcharm.relations import (
    RelationError,
    RelationMissingError,
    RelationNotReadyError,
)
from kfcharm.relations.dashboard_links import DashboardLink, DashboardLinksRequirer
from kfcharm.relations.gateway_info import GatewayInfoRequirer, LocalGatewayRequirer
from kfcharm.relations.ingress import IngressRequirer
from kfcharm.relations.kubernetes_manifest import KubernetesManifestRequirer
from kfcharm.relations.object_storage import ObjectStorageRequirer
from kfcharm.relations.s3 import S3Requirer
from kfcharm.resources import apply_container_resources
from kfcharm.status import Outcome, Reconciler, StatusError, status_for_k8s_error
from lightkube.generic_resource import create_global_resource
from lightkube.resources.admissionregistration_v1 import (
    MutatingWebhookConfiguration,
    ValidatingWebhookConfiguration,
)
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.core_v1 import ConfigMap, Service
from lightkube.resources.rbac_authorization_v1 import ClusterRole

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
PEER = "kserve-peers"
CERTS_SECRET_LABEL = "kserve-webhook-certs"  # noqa: S105 - a secret's label, not a secret
CERT_EXPIRY_KEY = "webhook-cert-not-after"
PURGED_KEY = "purged"

ClusterServingRuntime = create_global_resource(
    "serving.kserve.io", "v1alpha1", "ClusterServingRuntime", "clusterservingruntimes"
)
ClusterStorageContainer = create_global_resource(
    "serving.kserve.io", "v1alpha1", "ClusterStorageContainer", "clusterstoragecontainers"
)
MAIN_KINDS = (
    ConfigMap,
    ClusterRole,
    Service,
    MutatingWebhookConfiguration,
    ValidatingWebhookConfiguration,
)
RUNTIME_KINDS = (ClusterServingRuntime, ClusterStorageContainer)

INTEGRATE = {
    "ingress-gateway": "juju integrate {app}:ingress-gateway istio-pilot:gateway-info",
    "local-gateway": "juju integrate {app}:local-gateway knative-serving:local-gateway",
}


class KServeCharm(ops.CharmBase):
    """Runs the KServe controller and models web app; installs KServe's cluster objects."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._storage_cache: tuple[ks.StorageEndpoint | None, ops.StatusBase | None] | None = None
        self.metrics = MetricsEndpointProvider(
            self,
            jobs=[
                {
                    "job_name": "kserve-controller",
                    "static_configs": [{"targets": [f"*:{ks.METRICS_PORT}"]}],
                }
            ],
        )
        self.dashboards = GrafanaDashboardProvider(self)
        self.logging = LogForwarder(self)
        self.certs = WebhookCertificates(
            self,
            secret_label=CERTS_SECRET_LABEL,
            service_dns_names=ks.webhook_dns_names(self.app.name, self.model.name),
        )
        self.ingress_gateway = GatewayInfoRequirer(self, "ingress-gateway")
        self.local_gateway = LocalGatewayRequirer(self, "local-gateway")
        self.object_storage = ObjectStorageRequirer(self, "object-storage")
        self.s3 = S3Requirer(self, "s3")
        self.secret_manifests = KubernetesManifestRequirer(
            self, "secrets", self._storage_secret_manifests
        )
        self.service_account_manifests = KubernetesManifestRequirer(
            self, "service-accounts", self._storage_service_account_manifests
        )
        self.ingress = IngressRequirer(self, "ingress")
        self.dashboard_links = DashboardLinksRequirer(self, links=self._links)

        on = self.on
        events = [
            on.install,
            on.leader_elected,
            on.config_changed,
            on.upgrade_charm,
            on.update_status,
            on.kserve_controller_pebble_ready,
            on.models_web_app_pebble_ready,
            on.secret_changed,
            on.secret_expired,
            on[PEER].relation_changed,
        ]
        for endpoint in (
            "ingress-gateway",
            "local-gateway",
            "object-storage",
            "s3",
            "secrets",
            "service-accounts",
            "ingress",
            "dashboard-links",
            "logging",
        ):
            events += [on[endpoint].relation_changed, on[endpoint].relation_broken]
        self.reconciler = Reconciler(
            self,
            self._reconcile,
            events=events,
            integrate={name: cmd.format(app=self.app.name) for name, cmd in INTEGRATE.items()},
        )
        framework.observe(on.remove, self._on_remove)
        framework.observe(on.purge_action, self._on_purge)

    # -- events -------------------------------------------------------------------------

    def _on_remove(self, _: ops.RemoveEvent) -> None:
        """On removal of the application, delete the webhooks, keep CRDs and user objects.

        Admission webhooks with failurePolicy Fail pointing at a controller that is gone would
        block every InferenceService change, so the main set (webhooks, ConfigMap, roles,
        Service) goes; CRDs, ClusterServingRuntimes and InferenceServices stay.
        """
        outcome = Outcome()
        outcome.add(ops.MaintenanceStatus("removing"))
        self.reconciler.set_outcome(outcome)
        if not self.unit.is_leader() or self.app.planned_units() > 0:
            return
        try:
            deleted = self._resource_manager("main", MAIN_KINDS).purge()
        except K8sError as err:
            logger.warning("could not remove the webhook configurations: %s", err)
            return
        logger.info("application removed: deleted %d objects, kept CRDs", len(deleted))

    def _on_purge(self, event: ops.ActionEvent) -> None:
        if not self.unit.is_leader():
            event.fail(f"run this action on the leader: juju run {self.app.name}/leader purge")
            return
        if event.params.get("confirm") != self.app.name:
            event.fail(f"set confirm={self.app.name} to confirm the deletion")
            return
        include_crds = bool(event.params.get("include-crds", False))
        deleted: list[str] = []
        try:
            deleted += self._resource_manager("runtimes", RUNTIME_KINDS).purge()
            deleted += self._resource_manager("main", MAIN_KINDS).purge()
            if include_crds:
                crds = self._resource_manager("crds", (CustomResourceDefinition,))
                deleted += crds.purge(include_crds=True)
        except K8sError as err:
            event.fail(f"purge stopped: {status_for_k8s_error(err, self.app.name).message}")
            return
        peers = self.model.get_relation(PEER)
        if peers is not None:
            # Without this, the next hook would install everything again.
            peers.data[self.app][PURGED_KEY] = "true"
        outcome = Outcome()
        outcome.add(self._purged_status())
        self.reconciler.set_outcome(outcome)
        event.set_results({"deleted": len(deleted), "crds-deleted": include_crds})

    def _purged_status(self) -> ops.StatusBase:
        return ops.BlockedStatus(
            f"cluster objects purged: juju remove-application {self.app.name}"
        )

    # -- reconcile ----------------------------------------------------------------------

    def _reconcile(self, outcome: Outcome) -> None:
        """Bring workloads, relations and cluster objects to the desired state.

        Run by `self.reconciler` once per hook; statuses go to `outcome`.
        """
        peers = self.model.get_relation(PEER)
        if peers is not None and peers.data[self.app].get(PURGED_KEY) == "true":
            raise StatusError(self._purged_status())
        config = self._config()
        gateways = self._gateways(config)
        storage = self._storage(outcome)
        bundle = self._certificates()
        leader = self.unit.is_leader()
        cluster_ready = False
        if leader:
            self._publish(config, outcome)
            cluster_ready = self._apply_cluster(config, gateways, storage, bundle, outcome)
            self._apply_container_resources(config, outcome)
        controller_running = self._configure_controller(bundle, outcome)
        self._configure_web_app(config, outcome)
        if leader and cluster_ready and controller_running:
            self._apply_runtimes(config, outcome)
        if storage is None and not any(
            self.model.relations[name] for name in ("s3", "object-storage")
        ):
            outcome.add(
                ops.ActiveStatus(
                    f"no object storage: for s3:// models juju integrate {self.app.name}:s3 "
                    "minio:s3"
                )
            )

    def _config(self) -> ks.KServeConfig:
        try:
            return ks.KServeConfig.from_options(dict(self.config))
        except ks.ConfigError as err:
            raise StatusError(
                ops.BlockedStatus(f"{err}: juju config {self.app.name} {err.option}=...")
            ) from None

    def _gateways(self, config: ks.KServeConfig) -> ks.Gateways:
        """The gateways; missing ones are Blocked only where the deployment mode needs them."""
        missing: list[str] = []
        waiting: list[str] = []
        ingress = ingress_namespace = local = None
        try:
            gateway = self.ingress_gateway.get_data()
        except RelationMissingError:
            if config.serverless:
                missing.append("ingress-gateway")
        except RelationNotReadyError:
            if config.serverless:
                waiting.append("istio-pilot to publish its gateway (ingress-gateway)")
        except RelationError as err:
            raise StatusError(
                ops.BlockedStatus(f"{err}: fix istio-pilot or juju remove-relation it")
            ) from None
        else:
            if not gateway.gateway_up and config.serverless:
                waiting.append("the istio ingress gateway to be up")
            ingress, ingress_namespace = gateway.ref, gateway.gateway_namespace
        try:
            local = self.local_gateway.get_data().ref
        except RelationMissingError:
            if config.serverless:
                missing.append("local-gateway")
        except RelationNotReadyError:
            if config.serverless:
                waiting.append("knative-serving to publish its local gateway (local-gateway)")
        except RelationError as err:
            raise StatusError(
                ops.BlockedStatus(f"{err}: fix knative-serving or juju remove-relation it")
            ) from None
        if missing:
            commands = "; ".join(INTEGRATE[name].format(app=self.app.name) for name in missing)
            raise StatusError(
                ops.BlockedStatus(
                    f"serverless mode needs {' and '.join(missing)}: {commands} "
                    f"(or juju config {self.app.name} deployment-mode=raw)"
                )
            )
        if waiting:
            raise StatusError(ops.WaitingStatus(f"waiting for {'; '.join(waiting)}"))
        return ks.Gateways(ingress=ingress, ingress_namespace=ingress_namespace, local=local)

    def _storage(self, outcome: Outcome | None = None) -> ks.StorageEndpoint | None:
        """Object storage from `s3` (preferred) or `object-storage`; problems become statuses.

        Computed once per hook; without `outcome` problems are only logged.
        """
        if self._storage_cache is not None:
            cached, cached_status = self._storage_cache
            if cached_status is not None and outcome is not None:
                outcome.add(cached_status)
            return cached
        storage: ks.StorageEndpoint | None = None
        status: ops.StatusBase | None = None
        try:
            if self.model.get_relation("s3") is not None:
                creds = self.s3.get_credentials()
                storage = ks.storage_from_s3(
                    access_key=creds.access_key,
                    secret_key=creds.secret_key,
                    endpoint=creds.endpoint,
                    region=creds.region,
                    s3_uri_style=creds.s3_uri_style,
                    tls_ca_chain=creds.tls_ca_chain,
                )
            elif self.model.get_relation("object-storage") is not None:
                data = self.object_storage.get_data()
                storage = ks.storage_from_object_storage(
                    access_key=data.access_key,
                    secret_key=data.secret_key,
                    host=data.host,
                    port=data.port,
                    secure=data.secure,
                )
        except RelationNotReadyError as err:
            status = ops.WaitingStatus(f"waiting for object storage credentials ({err})")
        except (RelationError, ks.StorageDataError) as err:
            endpoint = getattr(err, "endpoint", "s3")
            status = ops.BlockedStatus(
                f"{err}: fix the provider or juju remove-relation {self.app.name}:{endpoint}"
            )
        if status is not None:
            logger.info("object storage unusable: %s", status.message)
            if outcome is not None:
                outcome.add(status)
        self._storage_cache = (storage, status)
        return storage

    def _certificates(self) -> CertificateBundle:
        try:
            bundle = self.certs.ensure()
        except CertificatesNotReadyError:
            raise StatusError(
                ops.WaitingStatus("waiting for the leader to create the webhook certificates")
            ) from None
        if self.unit.is_leader():
            peers = self.model.get_relation(PEER)
            expiry = bundle.not_after.isoformat()
            if peers is not None and peers.data[self.app].get(CERT_EXPIRY_KEY) != expiry:
                # Wakes the other units up (relation-changed) to push the new certificate.
                peers.data[self.app][CERT_EXPIRY_KEY] = expiry
        return bundle

    # -- relations (leader) -------------------------------------------------------------

    def _publish(self, config: ks.KServeConfig, outcome: Outcome) -> None:
        self.metrics.update()
        self.dashboards.update()
        self.logging.update()
        self.s3.update_request()
        self.secret_manifests.publish()
        self.service_account_manifests.publish()
        self.dashboard_links.publish(self._links())
        if config.models_web_app and self.model.get_relation("ingress") is not None:
            self.ingress.publish(port=ks.WEB_APP_PORT, prefix=f"{ks.WEB_APP_PREFIX}/", rewrite="/")
            for err in self.ingress.collect_errors().values():
                if not isinstance(err, RelationNotReadyError):
                    outcome.add(
                        ops.BlockedStatus(f"{err}: juju remove-relation {self.app.name}:ingress")
                    )

    def _storage_config(self) -> ks.KServeConfig:
        try:
            return ks.KServeConfig.from_options(dict(self.config))
        except ks.ConfigError:
            return ks.KServeConfig()

    def _storage_secret_manifests(self) -> list[dict[str, Any]]:
        storage = self._storage()
        if storage is None:
            return []
        config = self._storage_config()
        return [
            ks.storage_secret_manifest(
                storage, config.storage_service_account, verify_tls=config.storage_tls_verify
            )
        ]

    def _storage_service_account_manifests(self) -> list[dict[str, Any]]:
        if self._storage() is None:
            return []
        return [
            ks.storage_service_account_manifest(self._storage_config().storage_service_account)
        ]

    def _links(self) -> list[DashboardLink]:
        try:
            enabled = ks.KServeConfig.from_options(dict(self.config)).models_web_app
        except ks.ConfigError:
            enabled = False
        if not enabled:
            return []
        return [
            DashboardLink(
                text="KServe Endpoints",
                link=f"{ks.WEB_APP_PREFIX}/",
                location="menu",
                icon="kubeflow:models",
                desc="Serve models with KServe",
            )
        ]

    # -- Kubernetes (leader) ------------------------------------------------------------

    def _resource_manager(self, scope: str, kinds: tuple[type, ...]) -> ResourceManager:
        return ResourceManager(
            get_client(field_manager=self.app.name),
            app=self.app.name,
            namespace=self.model.name,
            scope=scope,
            resource_types=kinds,
        )

    def _apply_cluster(
        self,
        config: ks.KServeConfig,
        gateways: ks.Gateways,
        storage: ks.StorageEndpoint | None,
        bundle: CertificateBundle,
        outcome: Outcome,
    ) -> bool:
        """Apply the CRDs (own scope: never pruned) and the main objects; True on success."""
        context = ks.main_context(
            app=self.app.name,
            namespace=self.model.name,
            config=config,
            gateways=gateways,
            ca_bundle_b64=bundle.ca_bundle_b64,
            storage=storage,
        )
        try:
            crds = self._resource_manager("crds", (CustomResourceDefinition,))
            crds.reconcile(load_templates(TEMPLATES / "crds", {}))
            self._resource_manager("main", MAIN_KINDS).reconcile(
                load_templates(TEMPLATES, context)
            )
        except K8sError as err:
            logger.warning("applying KServe's cluster objects failed: %s", err)
            outcome.add(status_for_k8s_error(err, self.app.name))
            return False
        return True

    def _apply_container_resources(self, config: ks.KServeConfig, outcome: Outcome) -> None:
        """Set the configured requests/limits on our containers in Juju's StatefulSet."""
        desired = {
            ks.CONTROLLER_CONTAINER: config.controller_resources,
            ks.WEB_APP_CONTAINER: config.web_app_resources,
        }
        client = get_client(field_manager=self.app.name)
        try:
            apply_container_resources(client, self.app.name, self.model.name, desired)
        except K8sError as err:
            logger.warning("setting the workload container resources failed: %s", err)
            outcome.add(status_for_k8s_error(err, self.app.name))

    def _apply_runtimes(self, config: ks.KServeConfig, outcome: Outcome) -> None:
        """Apply the ClusterServingRuntimes; their webhook needs the controller running."""
        context = ks.runtime_context(config, ks.unit_architecture())
        try:
            self._resource_manager("runtimes", RUNTIME_KINDS).reconcile(
                load_templates(TEMPLATES / "runtimes", context)
            )
        except K8sError as err:
            logger.info("serving runtimes not applied yet: %s", err)
            if err.transient or isinstance(err, K8sNotFoundError):
                outcome.add(
                    ops.WaitingStatus("waiting for the KServe webhook to accept serving runtimes")
                )
            else:
                outcome.add(status_for_k8s_error(err, self.app.name))

    # -- workloads (every unit) ---------------------------------------------------------

    def _configure_controller(self, bundle: CertificateBundle, outcome: Outcome) -> bool:
        """Push the webhook certificate, apply the layer; True when the service runs."""
        container = self.unit.get_container(ks.CONTROLLER_CONTAINER)
        try:
            files_changed = push_if_changed(
                container, ks.CERT_FILE, bundle.cert_pem, permissions=0o644
            )
            files_changed |= push_if_changed(
                container, ks.KEY_FILE, bundle.key_pem, permissions=0o600
            )
            layer = ks.controller_layer(
                self.model.name, self.logging.log_targets(container=container)
            )
            replanned = ensure_layer(container, ks.CONTROLLER_CONTAINER, layer)
            service = container.get_services(ks.CONTROLLER_SERVICE).get(ks.CONTROLLER_SERVICE)
            if files_changed and not replanned and service is not None and service.is_running():
                logger.info("webhook certificate changed: restarting the controller")
                container.restart(ks.CONTROLLER_SERVICE)
            elif service is not None and not service.is_running():
                # In the plan but stopped (e.g. given up after restarts): start it again.
                container.start(ks.CONTROLLER_SERVICE)
                service = container.get_services(ks.CONTROLLER_SERVICE)[ks.CONTROLLER_SERVICE]
        except ops.pebble.ConnectionError:
            outcome.add(ops.WaitingStatus(f"waiting for Pebble in {ks.CONTROLLER_CONTAINER}"))
            return False
        if service is None or not service.is_running():
            outcome.add(ops.MaintenanceStatus("starting the KServe controller"))
            return False
        return True

    def _configure_web_app(self, config: ks.KServeConfig, outcome: Outcome) -> None:
        container = self.unit.get_container(ks.WEB_APP_CONTAINER)
        try:
            if not config.models_web_app:
                self.unit.set_ports()
                services = container.get_services(ks.WEB_APP_SERVICE)
                service = services.get(ks.WEB_APP_SERVICE)
                if service is not None and service.is_running():
                    container.stop(ks.WEB_APP_SERVICE)
                    logger.info("models web app stopped (models-web-app=false)")
                return
            self.unit.set_ports(ks.WEB_APP_PORT)
            layer = ks.web_app_layer(config, self.logging.log_targets(container=container))
            ensure_layer(container, ks.WEB_APP_CONTAINER, layer)
            service = container.get_services(ks.WEB_APP_SERVICE).get(ks.WEB_APP_SERVICE)
            if service is not None and not service.is_running():
                container.start(ks.WEB_APP_SERVICE)
                service = container.get_services(ks.WEB_APP_SERVICE)[ks.WEB_APP_SERVICE]
        except ops.pebble.ConnectionError:
            outcome.add(ops.WaitingStatus(f"waiting for Pebble in {ks.WEB_APP_CONTAINER}"))
            return
        if service is None or not service.is_running():
            outcome.add(ops.MaintenanceStatus("starting the models web app"))


if __name__ == "__main__":  # pragma: nocover
    ops.main(KServeCharm)
