#!/usr/bin/env python3
"""Charm of the Kubeflow profile controller and KFAM (wiring only; logic in `profiles`)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import ops
import profiles
from kfcharm.cos import GrafanaDashboardProvider, LogForwarder, MetricsEndpointProvider
from kfcharm.k8s import (
    K8sError,
    K8sNotFoundError,
    ResourceManager,
    get_client,
    k8s_errors,
    load_templates,
)
from kfcharm.pebble import ensure_layer, push_if_changed
from kfcharm.relations.k8s_service import KubernetesServiceProvider
from kfcharm.status import status_for_k8s_error
from lightkube import operators
from lightkube.generic_resource import create_global_resource
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.core_v1 import Namespace
from lightkube.resources.rbac_authorization_v1 import (
    ClusterRole,
    ClusterRoleBinding,
    Role,
    RoleBinding,
)
from lightkube.types import PatchType
from profiles import (
    CONTROLLER_CONTAINER,
    CONTROLLER_SERVICE,
    KFAM_CONTAINER,
    KFAM_PORT,
    KFAM_SERVICE,
    ActionParamError,
    ConfigError,
    ProfileRequest,
    ProfilesConfig,
)

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
MANAGED_KINDS = (CustomResourceDefinition, ClusterRole, ClusterRoleBinding, Role, RoleBinding)
ISTIO_AUTHZ_CRD = "authorizationpolicies.security.istio.io"

Profile = create_global_resource("kubeflow.org", "v1", "Profile", "profiles")


class KubeflowProfilesCharm(ops.CharmBase):
    """Run the profile controller and KFAM; own the Profile CRD and their RBAC."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._unit_statuses: list[ops.StatusBase] = []
        self._app_statuses: list[ops.StatusBase] = []
        self._reconciled = False

        self._logging = LogForwarder(self, relation_name="logging")
        self._metrics = MetricsEndpointProvider(
            self,
            jobs=profiles.metrics_jobs(),
            refresh_event=[
                self.on[CONTROLLER_CONTAINER].pebble_ready,
                self.on[KFAM_CONTAINER].pebble_ready,
            ],
        )
        self._dashboards = GrafanaDashboardProvider(self)
        self._kfam = KubernetesServiceProvider(
            self, "kubeflow-profiles", service_name=self.app.name, service_port=KFAM_PORT
        )

        for event in (
            self.on.install,
            self.on.leader_elected,
            self.on.config_changed,
            self.on.upgrade_charm,
            self.on.update_status,
            self.on[CONTROLLER_CONTAINER].pebble_ready,
            self.on[KFAM_CONTAINER].pebble_ready,
            self.on["kubeflow-profiles"].relation_joined,
            self.on["logging"].relation_joined,
            self.on["logging"].relation_changed,
            self.on["logging"].relation_departed,
            self.on["logging"].relation_broken,
        ):
            framework.observe(event, self._on_event)
        framework.observe(self.on.remove, self._on_remove)
        framework.observe(self.on.collect_unit_status, self._on_collect_unit_status)
        framework.observe(self.on.collect_app_status, self._on_collect_app_status)
        framework.observe(self.on.create_profile_action, self._on_create_profile)
        framework.observe(self.on.list_profiles_action, self._on_list_profiles)

    # -- events ------------------------------------------------------------------------------

    def _on_event(self, _: ops.EventBase) -> None:
        self._reconcile()

    def _on_remove(self, _: ops.RemoveEvent) -> None:
        """On application removal, delete our RBAC; never the CRD, Profiles or namespaces."""
        if not self.unit.is_leader() or self.app.planned_units() > 0:
            return
        try:
            deleted = self._resource_manager().purge(include_crds=False)
        except K8sError as err:
            logger.warning("could not clean up RBAC on removal: %s", err)
            return
        logger.info(
            "removed %d objects; kept the Profile CRD, profiles and namespaces", len(deleted)
        )

    def _on_collect_unit_status(self, event: ops.CollectStatusEvent) -> None:
        if not self._reconciled:
            return  # actions and removal leave the status as it was
        for status in self._unit_statuses or [ops.ActiveStatus()]:
            event.add_status(status)

    def _on_collect_app_status(self, event: ops.CollectStatusEvent) -> None:
        if not self._reconciled:
            return
        for status in self._app_statuses or [ops.ActiveStatus()]:
            event.add_status(status)

    def _on_create_profile(self, event: ops.ActionEvent) -> None:
        reserved = profiles.RESERVED_NAMESPACES | {self.model.name}
        try:
            request = ProfileRequest.from_params(event.params, reserved=reserved)
        except ActionParamError as err:
            event.fail(str(err))
            return
        profile = Profile.from_dict(request.to_profile())
        try:
            with k8s_errors("create", "Profile", request.name):
                get_client(self.app.name).create(profile)
        except K8sError as err:
            event.fail(self._action_error(err, f"profile {request.name!r}"))
            return
        event.set_results(
            {
                "name": request.name,
                "namespace": request.name,
                "message": f"profile {request.name} created for {request.owner_kind} "
                f"{request.owner}; the controller creates its namespace",
            }
        )

    def _on_list_profiles(self, event: ops.ActionEvent) -> None:
        try:
            with k8s_errors("list", "Profile"):
                items = list(get_client(self.app.name).list(Profile))
        except K8sError as err:
            event.fail(self._action_error(err, "profiles"))
            return
        summaries = sorted(
            (profiles.summarize_profile(_as_dict(item)) for item in items),
            key=lambda s: s["name"],
        )
        event.set_results({"count": len(summaries), "profiles": json.dumps(summaries)})

    # -- reconcile ---------------------------------------------------------------------------

    def _reconcile(self) -> None:
        """Bring Kubernetes objects (leader) and this unit's workloads to the desired state."""
        self._reconciled = True
        try:
            config = ProfilesConfig.from_options(self.config)
        except ConfigError as err:
            status = ops.BlockedStatus(
                f"{err}: fix with juju config {self.app.name} {err.option}=<value>"
            )
            self._unit_statuses.append(status)
            self._app_statuses.append(status)
            return

        self.unit.set_ports(KFAM_PORT)
        if self.unit.is_leader():
            self._reconcile_cluster(config)
        self._reconcile_workloads(config)

    def _reconcile_cluster(self, config: ProfilesConfig) -> None:
        client = get_client(self.app.name)
        try:
            self._resource_manager().reconcile(
                load_templates(
                    TEMPLATES, profiles.manifest_context(self.app.name, self.model.name)
                )
            )
            self._sync_pod_security_level(config)
            self._sync_container_resources(config)
            istio_present = self._istio_present(client)
        except K8sError as err:
            status = status_for_k8s_error(err, self.app.name)
            self._app_statuses.append(status)
            self._unit_statuses.append(status)
            return
        if not istio_present:
            status = ops.BlockedStatus(
                "Istio is missing (no AuthorizationPolicy CRD), profiles cannot be set up: "
                "juju deploy istio-pilot --trust"
            )
            self._app_statuses.append(status)
            self._unit_statuses.append(status)
        self._kfam.publish(self.app.name, KFAM_PORT)

    @staticmethod
    def _istio_present(client: Any) -> bool:
        """Whether the Istio AuthorizationPolicy CRD (needed by the controller) exists."""
        try:
            with k8s_errors("get", "CustomResourceDefinition", ISTIO_AUTHZ_CRD):
                client.get(CustomResourceDefinition, ISTIO_AUTHZ_CRD)
        except K8sNotFoundError:
            return False
        return True

    def _sync_pod_security_level(self, config: ProfilesConfig) -> None:
        """Set the PSS label on profile namespaces whose level differs from the config.

        The controller adds labels but never overwrites one, so a changed `security-policy`
        reaches existing namespaces only through this patch. The label selector makes the
        API server return only namespaces that need it: none in the steady state.
        """
        client = get_client(self.app.name)
        level = config.security_policy.value
        selector: dict[str, Any] = {
            profiles.PART_OF_LABEL: profiles.PART_OF_VALUE,
            profiles.POD_SECURITY_LABEL: operators.not_equal(level),
        }
        with k8s_errors("list", "Namespace"):
            namespaces = list(client.list(Namespace, labels=selector))
        for namespace in namespaces:
            metadata = namespace.metadata
            owned = any(
                ref.kind == "Profile" and ref.apiVersion.startswith("kubeflow.org/")
                for ref in (metadata.ownerReferences or [])
            )
            if not owned or (metadata.labels or {}).get(profiles.POD_SECURITY_LABEL) == level:
                continue
            patch = {"metadata": {"labels": {profiles.POD_SECURITY_LABEL: level}}}
            with k8s_errors("patch", "Namespace", metadata.name):
                client.patch(Namespace, metadata.name, patch, patch_type=PatchType.MERGE)
            logger.info("namespace %s: Pod Security level set to %s", metadata.name, level)

    def _sync_container_resources(self, config: ProfilesConfig) -> None:
        """Patch the pod template's container requests/limits when they differ from config.

        Changing them restarts the pod (Kubernetes rolls the StatefulSet Juju created).
        """
        desired = {
            CONTROLLER_CONTAINER: config.controller_resources.to_k8s(),
            KFAM_CONTAINER: config.kfam_resources.to_k8s(),
        }
        client = get_client(self.app.name)
        try:
            with k8s_errors("get", "StatefulSet", self.app.name, self.model.name):
                statefulset = client.get(StatefulSet, self.app.name, namespace=self.model.name)
        except K8sNotFoundError:
            logger.warning("StatefulSet %s not found: resource limits not applied", self.app.name)
            return
        containers = _as_dict(statefulset).get("spec", {}).get("template", {}).get("spec", {})
        containers = containers.get("containers", [])
        patched, changed = profiles_containers_with_resources(containers, desired)
        if not changed:
            return
        patch = {"spec": {"template": {"spec": {"containers": patched}}}}
        with k8s_errors("patch", "StatefulSet", self.app.name, self.model.name):
            client.patch(
                StatefulSet,
                self.app.name,
                patch,
                namespace=self.model.name,
                patch_type=PatchType.STRATEGIC,
            )
        logger.info("container resources updated: the pod restarts with them")

    def _reconcile_workloads(self, config: ProfilesConfig) -> None:
        controller = self.unit.get_container(CONTROLLER_CONTAINER)
        kfam = self.unit.get_container(KFAM_CONTAINER)
        try:
            # The controller exits at start when the labels file is missing: push it first.
            labels_changed = push_if_changed(
                controller,
                profiles.NAMESPACE_LABELS_PATH,
                profiles.namespace_labels_file(config),
                permissions=0o644,
            )
            targets = self._logging.log_targets(container=controller)
            layer_changed = ensure_layer(
                controller, CONTROLLER_SERVICE, profiles.controller_layer(config, targets)
            )
            if (
                labels_changed
                and not layer_changed
                and _is_running(controller, CONTROLLER_SERVICE)
            ):
                controller.restart(CONTROLLER_SERVICE)  # re-read the labels at once
        except ops.pebble.ConnectionError:
            self._unit_statuses.append(
                ops.WaitingStatus(f"waiting for Pebble in the {CONTROLLER_CONTAINER} container")
            )
        try:
            targets = self._logging.log_targets(container=kfam)
            ensure_layer(kfam, KFAM_SERVICE, profiles.kfam_layer(config, targets))
        except ops.pebble.ConnectionError:
            self._unit_statuses.append(
                ops.WaitingStatus(f"waiting for Pebble in the {KFAM_CONTAINER} container")
            )
        for container, service in ((controller, CONTROLLER_SERVICE), (kfam, KFAM_SERVICE)):
            status = _check_status(container, service)
            if status is not None:
                self._unit_statuses.append(status)

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

    def _action_error(self, err: K8sError, what: str) -> str:
        if err.status_code == 409:
            return f"{what} already exists"
        if err.status_code == 403:
            return f"permission denied: run juju trust {self.app.name} --scope=cluster"
        if err.status_code == 404:
            return "the Profile CRD is not installed yet: wait until the charm is active"
        if err.status_code == 422:
            return f"{what} rejected by Kubernetes: {err.message}"
        return f"Kubernetes API error ({err}); try again"


def profiles_containers_with_resources(
    containers: list[dict[str, Any]], desired: dict[str, dict[str, dict[str, str]]]
) -> tuple[list[dict[str, Any]], bool]:
    """The pod template's containers with the desired resources, and whether any changed.

    Every container is returned in full (name, image, ...): a strategic merge patch merges
    them by name, and the result is the same when containers are replaced as a list.
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


def _is_running(container: ops.Container, service: str) -> bool:
    info = container.get_services(service).get(service)
    return info is not None and info.is_running()


def _check_status(container: ops.Container, service: str) -> ops.StatusBase | None:
    """Waiting while the service's ready check is failing (Pebble restarts it when not alive)."""
    try:
        checks = container.get_checks(level=ops.pebble.CheckLevel.READY)
    except ops.pebble.ConnectionError:
        return None  # already reported
    failing = sorted(
        name for name, check in checks.items() if check.status == ops.pebble.CheckStatus.DOWN
    )
    if not failing:
        return None
    return ops.WaitingStatus(
        f"{service} not ready ({', '.join(failing)} failing); its logs: juju ssh "
        f"--container {container.name} <unit> /charm/bin/pebble logs {service}"
    )


if __name__ == "__main__":  # pragma: nocover
    ops.main(KubeflowProfilesCharm)
