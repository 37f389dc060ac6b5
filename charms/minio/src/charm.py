#!/usr/bin/env python3
"""MinIO charm: S3 object storage for Kubeflow, wired to `object-storage`, `s3` and COS."""

from __future__ import annotations

import logging

import minio_server as ms
import ops
from kfcharm.cos import GrafanaDashboardProvider, LogForwarder, MetricsEndpointProvider
from kfcharm.k8s import K8sError, K8sForbiddenError, get_client
from kfcharm.pebble import ensure_layer, push_if_changed
from kfcharm.relations import RelationError, RelationNotReadyError
from kfcharm.relations.object_storage import ObjectStorageData, ObjectStorageProvider
from kfcharm.relations.s3 import S3Credentials, S3Provider, S3Request
from kfcharm.resources import ContainerResources, ResourceConfigError, apply_container_resources
from kfcharm.status import Outcome, Reconciler, StatusError, status_for_k8s_error
from s3_client import S3Client, S3ConnectionError, S3Error

logger = logging.getLogger(__name__)

PEER = "minio-peers"
ROOT_SECRET_LABEL = "minio-root-credentials"  # noqa: S105 - a secret label, not a secret
POOL_KEY = "pool-size"
CREDENTIALS_KEY = "credentials-fingerprint"
SECRET_ID_KEY = "root-secret-id"  # noqa: S105 - the ID of a Juju secret, not its content
TLS_FILES = {
    "certificate": f"{ms.CERTS_DIR}/public.crt",
    "private_key": f"{ms.CERTS_DIR}/private.key",
    "ca_certificate": f"{ms.CERTS_DIR}/CAs/ca.crt",
}


class MinioCharm(ops.CharmBase):
    """Runs MinIO and shares it over `object-storage` and `s3`."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        # Credentials written in this hook: Juju may serve the previous revision until the
        # hook ends, so they are used directly rather than read back.
        self._fresh_credentials: ms.RootCredentials | None = None
        self.metrics = MetricsEndpointProvider(self, jobs=self._scrape_jobs)
        self.dashboards = GrafanaDashboardProvider(self)
        self.logging = LogForwarder(self)
        self.object_storage = ObjectStorageProvider(self, "object-storage")
        self.s3 = S3Provider(self, "s3")

        on = self.on
        self.reconciler = Reconciler(
            self,
            self._reconcile,
            events=[
                on.install,
                on.leader_elected,
                on.config_changed,
                on.upgrade_charm,
                on.update_status,
                on.minio_pebble_ready,
                on.minio_data_storage_attached,
                on.secret_changed,
                on[PEER].relation_changed,
                on[PEER].relation_departed,
                on["object-storage"].relation_changed,
                on["s3"].relation_changed,
                on["s3"].relation_broken,
                on["logging"].relation_changed,
                on["logging"].relation_broken,
            ],
        )
        framework.observe(on.secret_remove, self._on_secret_remove)
        framework.observe(on.stop, self._on_teardown)
        framework.observe(on.remove, self._on_teardown)
        framework.observe(on.get_root_credentials_action, self._on_get_root_credentials)
        framework.observe(on.rotate_root_credentials_action, self._on_rotate_root_credentials)
        framework.observe(on.create_bucket_action, self._on_create_bucket)

    # -- events -------------------------------------------------------------------------

    def _on_teardown(self, _: ops.EventBase) -> None:
        # Nothing to delete: Juju removes the pod and its Services; the minio-data storage
        # (the users' objects) is kept unless the operator passes --destroy-storage.
        self.reconciler.set_outcome(Outcome(unit=[ops.MaintenanceStatus("stopping")]))

    def _on_secret_remove(self, event: ops.SecretRemoveEvent) -> None:
        # Old revisions of the root credentials nobody tracks any more.
        if event.secret.label == ROOT_SECRET_LABEL:
            event.remove_revision()

    def _on_get_root_credentials(self, event: ops.ActionEvent) -> None:
        try:
            config = ms.MinioConfig.from_options(dict(self.config))
            credentials = self._root_credentials(config)
        except ms.ConfigError as e:
            event.fail(f"{e}: fix it with juju config {self.app.name} {e.option}=...")
            return
        except StatusError as stop:
            event.fail(f"root credentials unavailable: {stop.status.message}")
            return
        secret_id = config.root_credentials_secret or self._root_secret_id() or ""
        results = {"access-key": credentials.access_key, "secret-id": secret_id}
        if event.params.get("reveal"):
            results["secret-key"] = credentials.secret_key
        else:
            results["note"] = "secret key not shown: run the action with reveal=true" + (
                f", or juju show-secret --reveal {secret_id}" if secret_id else ""
            )
        event.set_results(results)

    def _on_rotate_root_credentials(self, event: ops.ActionEvent) -> None:
        if not self.unit.is_leader():
            event.fail("run this action on the leader unit (juju run minio/leader ...)")
            return
        if self.config.get("root-credentials-secret"):
            event.fail(
                "root credentials come from the secret in 'root-credentials-secret': "
                "update that secret (juju update-secret) to rotate them"
            )
            return
        new = self._store_generated_credentials(ms.RootCredentials.generate())
        self.reconciler.run(force=True)
        event.set_results({"access-key": new.access_key, "fingerprint": new.fingerprint()})

    def _on_create_bucket(self, event: ops.ActionEvent) -> None:
        if not self.unit.is_leader():
            event.fail("run this action on the leader unit (juju run minio/leader ...)")
            return
        try:
            bucket = ms.validate_bucket_name(event.params.get("name"))
        except ValueError as e:
            event.fail(f"invalid bucket name: {e}")
            return
        try:
            config = ms.MinioConfig.from_options(dict(self.config))
            credentials = self._root_credentials(config)
            tls = self._tls(config)
            created = self._s3_client(config, credentials, tls).ensure_bucket(bucket)
        except ms.ConfigError as e:
            event.fail(str(e))
            return
        except StatusError as stop:
            event.fail(stop.status.message)
            return
        except S3ConnectionError:
            event.fail("MinIO is not reachable yet; retry when the unit is active")
            return
        except S3Error as e:
            event.fail(f"MinIO refused to create bucket {bucket}: {e}")
            return
        event.set_results({"bucket": bucket, "created": created})

    # -- reconcile ----------------------------------------------------------------------

    def _reconcile(self, outcome: Outcome) -> None:
        """Bring the workload and relations to the desired state; gather statuses."""
        try:
            config = ms.MinioConfig.from_options(dict(self.config))
            resources = ContainerResources.from_config(self.config, ms.CONTAINER)
        except (ms.ConfigError, ResourceConfigError) as e:
            raise StatusError(
                ops.BlockedStatus(f"{e}: fix with juju config {self.app.name} {e.option}=...")
            ) from None
        peers = self.model.get_relation(PEER)
        if peers is None:
            raise StatusError(ops.WaitingStatus("waiting for the peer relation"))
        credentials = self._root_credentials(config)
        tls = self._tls(config)
        topology = self._topology(peers)
        self._configure_workload(config, credentials, tls, topology, outcome)
        if self.unit.is_leader():
            self._write_peer_data(peers, credentials)
            self._publish(config, credentials, tls, topology, outcome)
            self._apply_resources(resources, outcome)
            if topology.reason:
                outcome.add(self._topology_status(topology), app=True)

    # -- credentials, TLS, topology ----------------------------------------------------

    def _root_credentials(self, config: ms.MinioConfig) -> ms.RootCredentials:
        """The root credentials: the operator's secret, else the app secret (leader creates)."""
        if config.root_credentials_secret:
            content = self._read_user_secret(
                "root-credentials-secret", config.root_credentials_secret
            )
            try:
                return ms.RootCredentials.from_content(content)
            except ms.SecretContentError as e:
                raise StatusError(
                    ops.BlockedStatus(f"{e}: update it with juju update-secret")
                ) from None
        if self._fresh_credentials is not None:
            return self._fresh_credentials
        stored = self._read_root_secret()
        if stored is None:
            if not self.unit.is_leader():
                raise StatusError(
                    ops.WaitingStatus("waiting for the leader to generate root credentials")
                )
            logger.info("generating root credentials into secret %s", ROOT_SECRET_LABEL)
            return self._store_generated_credentials(ms.RootCredentials.generate())
        try:
            return ms.RootCredentials.from_content(stored, option=ROOT_SECRET_LABEL)
        except ms.SecretContentError:
            # Our own secret was altered out of band: regenerate rather than serve garbage.
            if not self.unit.is_leader():
                raise StatusError(
                    ops.WaitingStatus("waiting for the leader to repair the root credentials")
                ) from None
            logger.warning("root credentials secret was malformed: regenerating")
            return self._store_generated_credentials(ms.RootCredentials.generate())

    def _read_root_secret(self) -> dict[str, str] | None:
        """Latest content of the app's root credentials secret, or None if there is none.

        Non-leaders fall back to the secret ID the leader publishes in the peer databag.
        """
        try:
            return self.model.get_secret(label=ROOT_SECRET_LABEL).get_content(refresh=True)
        except ops.SecretNotFoundError:
            pass
        peers = self.model.get_relation(PEER)
        secret_id = peers.data[self.app].get(SECRET_ID_KEY) if peers else None
        if self.unit.is_leader() or not secret_id:
            return None
        try:
            return self.model.get_secret(id=secret_id).get_content(refresh=True)
        except (ops.SecretNotFoundError, ops.ModelError):
            return None

    def _store_generated_credentials(self, new: ms.RootCredentials) -> ms.RootCredentials:
        """Write new credentials into the app secret (leader only) and use them this hook."""
        try:
            self.model.get_secret(label=ROOT_SECRET_LABEL).set_content(new.content())
        except ops.SecretNotFoundError:
            self.app.add_secret(new.content(), label=ROOT_SECRET_LABEL)
        self._fresh_credentials = new
        return new

    def _root_secret_id(self) -> str | None:
        try:
            secret = self.model.get_secret(label=ROOT_SECRET_LABEL)
        except ops.SecretNotFoundError:
            return None
        if secret.id:
            return secret.id
        if self.unit.is_leader():
            return secret.get_info().id
        peers = self.model.get_relation(PEER)
        return peers.data[self.app].get(SECRET_ID_KEY) if peers else None

    def _read_user_secret(self, option: str, secret_id: str) -> dict[str, str]:
        """Content of a user secret named by a config option; problems become Blocked."""
        try:
            return self.model.get_secret(id=secret_id).get_content(refresh=True)
        except ops.SecretNotFoundError:
            reason = f"secret in '{option}' not found: check juju secrets"
        except ops.ModelError:
            reason = (
                f"secret in '{option}' is not readable: "
                f"juju grant-secret {secret_id.removeprefix('secret:')} {self.app.name}"
            )
        raise StatusError(ops.BlockedStatus(reason))

    def _tls(self, config: ms.MinioConfig) -> ms.TlsMaterial | None:
        if not config.tls_secret:
            return None
        content = self._read_user_secret("tls-secret", config.tls_secret)
        try:
            return ms.TlsMaterial.from_content(content)
        except ms.SecretContentError as e:
            raise StatusError(
                ops.BlockedStatus(f"{e}: update it with juju update-secret")
            ) from None

    def _topology(self, peers: ops.Relation) -> ms.Topology:
        raw = peers.data[self.app].get(POOL_KEY, "")
        recorded = int(raw) if raw.isdigit() and int(raw) > 0 else None
        planned = self.app.planned_units()
        ordinal = int(self.unit.name.rsplit("/", 1)[1])
        if recorded is None and self.unit.is_leader():
            recorded = ms.choose_pool_size(planned)
            if recorded is not None:
                # The pool size is fixed from now on: MinIO cannot re-stripe formatted drives.
                peers.data[self.app][POOL_KEY] = str(recorded)
        elif recorded is None and ms.choose_pool_size(planned) is not None:
            raise StatusError(ops.WaitingStatus("waiting for the leader to size the pool"))
        return ms.plan_topology(self.app.name, ordinal, planned, recorded)

    def _topology_status(self, topology: ms.Topology) -> ops.StatusBase:
        if topology.fatal:
            return ops.BlockedStatus(topology.reason)
        return ops.WaitingStatus(topology.reason)

    def _write_peer_data(self, peers: ops.Relation, credentials: ms.RootCredentials) -> None:
        # A digest of the credentials: a change wakes the other units (relation-changed),
        # which cannot observe changes of an app-owned secret themselves. The secret's ID
        # (not its content) lets them find it.
        desired = {
            CREDENTIALS_KEY: credentials.fingerprint(),
            SECRET_ID_KEY: self._root_secret_id(),
        }
        for key, value in desired.items():
            if value and peers.data[self.app].get(key) != value:
                peers.data[self.app][key] = value

    # -- relations (leader) -----------------------------------------------------------

    def _publish(
        self,
        config: ms.MinioConfig,
        credentials: ms.RootCredentials,
        tls: ms.TlsMaterial | None,
        topology: ms.Topology,
        outcome: Outcome,
    ) -> None:
        self.metrics.update()
        self.dashboards.update()
        self.logging.update()
        self.object_storage.publish(
            ObjectStorageData(
                access_key=credentials.access_key,
                secret_key=credentials.secret_key,
                service=self.app.name,
                port=config.port,
                secure=tls is not None,
                namespace=self.model.name,
            )
        )
        for err in self.object_storage.sdi.collect_data().errors.values():
            if not isinstance(err, RelationNotReadyError):
                outcome.add(ops.BlockedStatus(f"object-storage: {err}"), app=True)
        requests = self.s3.collect_requests()
        for err in requests.errors.values():
            outcome.add(ops.BlockedStatus(f"{err}: fix or remove that relation"), app=True)
        for request in requests.values.values():
            self._serve_s3(request, config, credentials, tls, topology, outcome)

    def _serve_s3(
        self,
        request: S3Request,
        config: ms.MinioConfig,
        credentials: ms.RootCredentials,
        tls: ms.TlsMaterial | None,
        topology: ms.Topology,
        outcome: Outcome,
    ) -> None:
        relation = self.model.get_relation("s3", request.relation_id)
        if relation is None:
            return
        if not request.wants_secrets:
            # s3 v0 would carry the credentials in plain relation data: refuse.
            outcome.add(
                ops.BlockedStatus(
                    f"{request.app_name} speaks s3 v0 (plain-text credentials), refused: "
                    f"upgrade it, or juju remove-relation {self.app.name}:s3 {request.app_name}"
                ),
                app=True,
            )
            return
        published = relation.data[self.app].get("bucket")
        if request.bucket and request.bucket != published:
            if topology.mode == "idle" and topology.pool_size == 0:
                outcome.add(
                    ops.WaitingStatus(f"bucket {request.bucket} waits for MinIO to run"),
                    app=True,
                )
                return
            try:
                self._s3_client(config, credentials, tls).ensure_bucket(request.bucket)
            except S3ConnectionError:
                outcome.add(
                    ops.WaitingStatus(
                        f"bucket {request.bucket} for {request.app_name} not created yet: "
                        "MinIO not reachable, retrying on the next event"
                    ),
                    app=True,
                )
                return
            except S3Error as e:
                outcome.add(
                    ops.BlockedStatus(
                        f"cannot create bucket {request.bucket} for {request.app_name} ({e}): "
                        f"request another bucket or juju remove-relation {self.app.name}:s3 "
                        f"{request.app_name}"
                    ),
                    app=True,
                )
                return
            logger.info("bucket %s ready for relation %d", request.bucket, request.relation_id)
        ca_chain = [tls.ca_certificate] if tls and tls.ca_certificate else None
        try:
            self.s3.publish(
                request.relation_id,
                S3Credentials(
                    access_key=credentials.access_key,
                    secret_key=credentials.secret_key,
                    bucket=request.bucket,
                    endpoint=ms.endpoint_url(
                        self.app.name, self.model.name, config.port, bool(tls)
                    ),
                    region=config.region,
                    path=request.path or "",
                    s3_uri_style="path",
                    tls_ca_chain=ca_chain,
                ),
            )
        except RelationError as err:
            outcome.add(ops.BlockedStatus(f"{err}: fix or remove that relation"), app=True)

    def _s3_client(
        self,
        config: ms.MinioConfig,
        credentials: ms.RootCredentials,
        tls: ms.TlsMaterial | None,
    ) -> S3Client:
        """A client for the S3 API of the application's Service."""
        return S3Client(
            host=ms.service_host(self.app.name, self.model.name),
            port=config.port,
            access_key=credentials.access_key,
            secret_key=credentials.secret_key,
            region=config.region,
            tls=tls is not None,
            ca_pem=tls.ca_certificate if tls else "",
        )

    # -- Kubernetes (leader) ----------------------------------------------------------

    def _apply_resources(self, resources: ContainerResources, outcome: Outcome) -> None:
        """Set the minio container's requests and limits on Juju's StatefulSet.

        One GET per hook, a patch only when they differ. The bundle deploys MinIO without
        trust: a 403 then matters only when an option is set (nothing to enforce otherwise).
        """
        client = get_client(field_manager=self.app.name)
        desired = {ms.CONTAINER: resources}
        try:
            apply_container_resources(client, self.app.name, self.model.name, desired)
        except K8sForbiddenError as err:
            if resources.to_k8s():
                outcome.add(status_for_k8s_error(err, self.app.name))
            else:
                logger.debug("no access to the StatefulSet, no resources to set: %s", err)
        except K8sError as err:
            logger.warning("container resources not applied: %s", err)
            outcome.add(status_for_k8s_error(err, self.app.name))

    # -- workload (every unit) --------------------------------------------------------

    def _configure_workload(
        self,
        config: ms.MinioConfig,
        credentials: ms.RootCredentials,
        tls: ms.TlsMaterial | None,
        topology: ms.Topology,
        outcome: Outcome,
    ) -> None:
        container = self.unit.get_container(ms.CONTAINER)
        try:
            if topology.mode == "idle":
                self._stop_workload(container)
                outcome.add(self._topology_status(topology))
                return
            self.unit.set_ports(config.port, *([config.console_port] if config.console else []))
            self._sync_tls_files(container, tls)
            layer = ms.pebble_layer(
                topology,
                config,
                credentials,
                self.app.name,
                self.model.name,
                tls is not None,
                self.logging.log_targets(container=container),
            )
            if ensure_layer(container, ms.SERVICE, layer):
                logger.info("MinIO (re)started with a new plan (%s mode)", topology.mode)
            service = container.get_service(ms.SERVICE)
        except ops.pebble.ConnectionError:
            outcome.add(ops.WaitingStatus("waiting for the minio container's Pebble"))
            return
        except ops.ModelError as e:
            # The service may be missing in the plan while Pebble restarts.
            logger.debug("could not read the minio service: %s", e)
            outcome.add(ops.MaintenanceStatus("starting MinIO"))
            return
        if not service.is_running():
            outcome.add(ops.MaintenanceStatus("starting MinIO"))
        elif topology.reason:
            outcome.add(self._topology_status(topology))

    def _stop_workload(self, container: ops.Container) -> None:
        try:
            service = container.get_services(ms.SERVICE).get(ms.SERVICE)
            if service is not None and service.is_running():
                container.stop(ms.SERVICE)
                logger.info("stopped MinIO: this unit is outside the pool")
        except ops.pebble.ConnectionError:
            logger.debug("Pebble not reachable; nothing to stop yet")

    def _sync_tls_files(self, container: ops.Container, tls: ms.TlsMaterial | None) -> None:
        if tls is None:
            # Leave no private key behind when TLS is switched off.
            for path in TLS_FILES.values():
                if container.exists(path):
                    container.remove_path(path)
            return
        push_if_changed(container, TLS_FILES["certificate"], tls.certificate, permissions=0o644)
        push_if_changed(container, TLS_FILES["private_key"], tls.private_key, permissions=0o600)
        if tls.ca_certificate:
            push_if_changed(
                container, TLS_FILES["ca_certificate"], tls.ca_certificate, permissions=0o644
            )
        elif container.exists(TLS_FILES["ca_certificate"]):
            container.remove_path(TLS_FILES["ca_certificate"])

    # -- COS --------------------------------------------------------------------------

    def _scrape_jobs(self) -> list[dict]:
        try:
            config = ms.MinioConfig.from_options(dict(self.config))
        except ms.ConfigError:
            config = ms.MinioConfig()
        secure = bool(config.tls_secret)
        extra: dict = {}
        if secure:
            # Metrics carry no credentials either way; the unit addresses Prometheus uses
            # (pod IPs) are not in the certificate's names.
            extra = {"scheme": "https", "tls_config": {"insecure_skip_verify": True}}
        return [
            {
                "job_name": f"{self.app.name}-cluster",
                "metrics_path": "/minio/v2/metrics/cluster",
                "static_configs": [{"targets": [f"*:{config.port}"]}],
                **extra,
            },
            {
                "job_name": f"{self.app.name}-node",
                "metrics_path": "/minio/v2/metrics/node",
                "static_configs": [{"targets": [f"*:{config.port}"]}],
                **extra,
            },
        ]


if __name__ == "__main__":  # pragma: nocover
    ops.main(MinioCharm)
