#!/usr/bin/env python3
"""resource-dispatcher charm: hands related apps' manifests to its namespace controller."""

from __future__ import annotations

import logging

import ops
import resource_dispatcher as rd
from dispatcher.handoff import ControllerStatus, encode_manifests, file_hash
from kfcharm.cos import GrafanaDashboardProvider, LogForwarder, MetricsEndpointProvider
from kfcharm.k8s import K8sError, get_client
from kfcharm.pebble import ensure_layer
from kfcharm.relations import RelationError
from kfcharm.relations.errors import RelationConflictError, RelationNotReadyError
from kfcharm.relations.kubernetes_manifest import KubernetesManifestProvider
from kfcharm.resources import ContainerResources, ResourceConfigError, apply_container_resources
from kfcharm.status import Outcome, Reconciler, StatusError, status_for_k8s_error
from ops import pebble

logger = logging.getLogger(__name__)

LAYER = "dispatcher"
DEFAULT_METRICS_PORT = 9090


class ResourceDispatcherCharm(ops.CharmBase):
    """Runs the dispatcher controller and feeds it the manifests of every relation."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.metrics = MetricsEndpointProvider(
            self, jobs=self._scrape_jobs, refresh_event=self.on.dispatcher_pebble_ready
        )
        self.dashboards = GrafanaDashboardProvider(self)
        self.logging = LogForwarder(self)
        self.manifests = {
            endpoint: KubernetesManifestProvider(self, endpoint) for endpoint in rd.ENDPOINTS
        }

        on = self.on
        events: list[ops.BoundEvent] = [
            on.install,
            on.leader_elected,
            on.config_changed,
            on.upgrade_charm,
            on.update_status,
            on.dispatcher_pebble_ready,
            on.secret_changed,
            on["logging"].relation_changed,
            on["logging"].relation_broken,
        ]
        for endpoint in rd.ENDPOINTS:
            events += [on[endpoint].relation_changed, on[endpoint].relation_broken]
        # The leader's controller is the one dispatching: its status is the app's too.
        self.reconciler = Reconciler(self, self._reconcile, events)
        framework.observe(on.stop, self._on_stop)
        framework.observe(on.remove, self._on_stop)
        framework.observe(on.dispatch_status_action, self._on_dispatch_status)

    # -- events -------------------------------------------------------------------------

    def _on_stop(self, _: ops.EventBase) -> None:
        # Dispatched objects stay: users' pods may rely on them. Removing a relation first
        # withdraws (deletes) that relation's copies. Nothing to reconcile on the way out.
        self.reconciler.set_outcome(
            Outcome(unit=[ops.MaintenanceStatus("stopping; dispatched objects kept")])
        )

    def _on_dispatch_status(self, event: ops.ActionEvent) -> None:
        container = self.unit.get_container(rd.CONTAINER)
        try:
            status_text = self._pull(container, rd.STATUS_PATH)
            entries = rd.read_previous(self._pull(container, rd.MANIFESTS_PATH))
        except pebble.ConnectionError:
            event.fail("the dispatcher container is not reachable yet; retry later")
            return
        status = ControllerStatus.decode(status_text) if status_text else None
        results: dict[str, str] = {
            "leader": str(self.unit.is_leader()).lower(),
            "state": status.state if status else "not started",
            "message": status.message if status else "",
            "namespaces": str(status.namespaces if status else 0),
            "manifests": str(len(entries)),
        }
        if event.params.get("verbose"):
            results["manifest-list"] = "\n".join(rd.manifest_summary(entries)) or "(none)"
        event.set_results(results)

    # -- reconcile ----------------------------------------------------------------------

    def _reconcile(self, outcome: Outcome) -> None:
        """Size the workload, hand the manifests to the controller, keep it running."""
        try:
            config = rd.DispatcherConfig.from_options(dict(self.config))
            resources = ContainerResources.from_config(self.config, rd.CONTAINER)
        except (rd.ConfigError, ResourceConfigError) as err:
            raise StatusError(
                ops.BlockedStatus(f"{err}: juju config {self.app.name} {err.option}=...")
            ) from None
        if self.unit.is_leader():
            self._apply_resources(resources, outcome)
        sources, relation_statuses = self._sources()
        for status in relation_statuses:
            outcome.add(status)
        container = self.unit.get_container(rd.CONTAINER)
        try:
            pushed = self._pull(container, rd.MANIFESTS_PATH)
            previous = rd.read_previous(pushed)
            merged = rd.merge_manifests(sources, previous)
            for problem in merged.problems:
                outcome.add(ops.BlockedStatus(problem))
            for where in merged.kept:
                logger.warning("%s sends nothing usable: keeping what it sent before", where)
            code_changed = self._ensure_code(container)
            text = encode_manifests(merged.entries)
            if pushed != text.encode():
                self._push_manifests(container, text)
            layer = rd.pebble_layer(
                config,
                self.app.name,
                self.model.name,
                standby=not self.unit.is_leader(),
                log_targets=self.logging.log_targets(container=container),
            )
            replanned = ensure_layer(container, LAYER, layer)
            if code_changed and not replanned:
                container.restart(rd.SERVICE)
            status_text = self._pull(container, rd.STATUS_PATH)
        except pebble.ConnectionError:
            raise StatusError(
                ops.WaitingStatus("waiting for Pebble in the dispatcher container")
            ) from None
        controller = ControllerStatus.decode(status_text) if status_text else None
        outcome.add(self._controller_status(controller, file_hash(text)))

    def _apply_resources(self, resources: ContainerResources, outcome: Outcome) -> None:
        """Set the controller container's requests/limits on Juju's StatefulSet (leader)."""
        client = get_client(field_manager=self.app.name)
        try:
            apply_container_resources(
                client, self.app.name, self.model.name, {rd.CONTAINER: resources}
            )
        except K8sError as err:
            # The controller keeps running with its current resources; the next hook retries.
            logger.warning("container resources not applied: %s", err)
            outcome.add(status_for_k8s_error(err, self.app.name))

    def _sources(self) -> tuple[list[rd.Source], list[ops.StatusBase]]:
        """Each relation's manifests, and a status per relation problem."""
        sources: list[rd.Source] = []
        statuses: list[ops.StatusBase] = []
        for endpoint, provider in self.manifests.items():
            entries, errors = provider.collect()
            unusable: set[int] = set()
            for err in errors:
                statuses.append(self._relation_status(err))
                if not isinstance(err, RelationConflictError) and err.relation_id is not None:
                    unusable.add(err.relation_id)
            by_relation: dict[int, list[dict]] = {}
            for entry in entries:
                by_relation.setdefault(entry.relation_id, []).append(entry.manifest)
            for relation in self.model.relations[endpoint]:
                if relation.app is None:
                    continue
                sources.append(
                    rd.Source(
                        endpoint,
                        relation.app.name,
                        relation.id,
                        tuple(by_relation.get(relation.id, ())),
                        usable=relation.id not in unusable,
                    )
                )
        return sources, statuses

    def _relation_status(self, err: RelationError) -> ops.StatusBase:
        if isinstance(err, RelationNotReadyError):
            return ops.WaitingStatus(str(err))
        if isinstance(err, RelationConflictError):
            return ops.BlockedStatus(f"{err}: stop sending it from one of them")
        remote = self._remote_app(err.endpoint, err.relation_id)
        return ops.BlockedStatus(
            f"{err}; fix {remote} or juju remove-relation {self.app.name}:{err.endpoint} {remote}"
        )

    def _remote_app(self, endpoint: str, relation_id: int | None) -> str:
        for relation in self.model.relations[endpoint]:
            if relation.id == relation_id and relation.app is not None:
                return relation.app.name
        return "the related app"

    def _controller_status(
        self, controller: ControllerStatus | None, pushed_hash: str
    ) -> ops.StatusBase:
        if not self.unit.is_leader():
            return ops.ActiveStatus("standby; the leader unit dispatches")
        if controller is None:
            return ops.WaitingStatus("controller starting")
        if controller.state == "forbidden":
            return ops.BlockedStatus(
                f"{controller.message}: juju trust {self.app.name} --scope=cluster"
            )
        if controller.state == "failed":
            return ops.BlockedStatus(f"controller failed: {controller.message}")
        if controller.state == "starting":
            return ops.WaitingStatus(f"controller starting: {controller.message}")
        if controller.manifests_hash != pushed_hash:
            return ops.MaintenanceStatus("controller is loading the new manifests")
        if controller.state == "degraded":
            return ops.WaitingStatus(f"controller: {controller.message}; retrying")
        return ops.ActiveStatus(
            f"dispatching {controller.manifests} manifests to {controller.namespaces} namespaces"
        )

    # -- workload files -----------------------------------------------------------------

    def _ensure_code(self, container: ops.Container) -> bool:
        """Push the controller and its dependencies when their fingerprint changed."""
        bundle = rd.CodeBundle.current()
        current = self._pull(container, rd.FINGERPRINT_PATH)
        if current is not None and current.decode(errors="replace").strip() == bundle.fingerprint:
            return False
        logger.info("pushing the dispatcher controller (%s)", ", ".join(bundle.distributions))
        for name, data in bundle.sources.items():
            container.push(f"{rd.APP_DIR}/dispatcher/{name}", data, make_dirs=True)
        container.push(rd.BUNDLE_PATH, bundle.archive(), make_dirs=True)
        container.push(rd.FINGERPRINT_PATH, bundle.fingerprint + "\n", make_dirs=True)
        return True

    def _push_manifests(self, container: ops.Container, text: str) -> None:
        # Holds Secrets: readable by root only, and never logged.
        container.push(rd.MANIFESTS_PATH, text, permissions=0o600, make_dirs=True)
        logger.info("handed the controller a new manifests file")

    @staticmethod
    def _pull(container: ops.Container, path: str) -> bytes | None:
        try:
            with container.pull(path, encoding=None) as source:
                return source.read()
        except pebble.PathError:
            return None

    def _scrape_jobs(self) -> list[dict]:
        try:
            port = rd.DispatcherConfig.from_options(dict(self.config)).metrics_port
        except rd.ConfigError:
            port = DEFAULT_METRICS_PORT
        return [{"metrics_path": "/metrics", "static_configs": [{"targets": [f"*:{port}"]}]}]


if __name__ == "__main__":  # pragma: nocover
    ops.main(ResourceDispatcherCharm)
