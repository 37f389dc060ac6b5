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
from kfcharm.resources import apply_container_resources
from kfcharm.status import Outcome, Reconciler, StatusError, status_for_k8s_error
from lightkube import operators
from lightkube.generic_resource import create_global_resource
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
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
# Statuses a charm may set (what it reads back can also be unknown or error).
SETTABLE_STATUSES = frozenset({"active", "blocked", "maintenance", "waiting"})

Profile = create_global_resource("kubeflow.org", "v1", "Profile", "profiles")


class KubeflowProfilesCharm(ops.CharmBase):
    """Run the profile controller and KFAM; own the Profile CRD and their RBAC."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
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

        self.reconciler = Reconciler(
            self,
            self._reconcile,
            events=[
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
            ],
        )
        framework.observe(self.on.remove, self._on_remove)
        framework.observe(self.on.create_profile_action, self._on_create_profile)
        framework.observe(self.on.list_profiles_action, self._on_list_profiles)

    # -- events ------------------------------------------------------------------------------

    def _on_remove(self, _: ops.RemoveEvent) -> None:
        """On application removal, delete our RBAC; never the CRD, Profiles or namespaces."""
        self._keep_status()  # reconciling now would re-apply what removal deletes
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

    def _on_create_profile(self, event: ops.ActionEvent) -> None:
        self._keep_status()
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
        self._keep_status()
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

    def _reconcile(self, outcome: Outcome) -> None:
        """Bring Kubernetes objects (leader) and this unit's workloads to the desired state."""
        try:
            config = ProfilesConfig.from_options(self.config)
        except ConfigError as err:
            raise StatusError(
                ops.BlockedStatus(
                    f"{err}: fix with juju config {self.app.name} {err.option}=<value>"
                )
            ) from None

        self.unit.set_ports(KFAM_PORT)
        if self.unit.is_leader():
            self._reconcile_cluster(config, outcome)
        self._reconcile_workloads(config, outcome)

    def _reconcile_cluster(self, config: ProfilesConfig, outcome: Outcome) -> None:
        """Apply the CRD and RBAC, namespace PSS labels and container resources (leader).

        A Kubernetes error is reported without stopping the reconcile: the workloads need no
        cluster write from the charm, so they are still set up.
        """
        client = get_client(self.app.name)
        try:
            self._resource_manager().reconcile(
                load_templates(
                    TEMPLATES, profiles.manifest_context(self.app.name, self.model.name)
                )
            )
            self._sync_pod_security_level(config)
            # Changed requests/limits restart the pod (Kubernetes rolls Juju's StatefulSet).
            apply_container_resources(client, self.app.name, self.model.name, config.resources)
            istio_present = self._istio_present(client)
        except K8sError as err:
            logger.warning("Kubernetes API error: %s", err)
            outcome.add(status_for_k8s_error(err, self.app.name))
            return
        if not istio_present:
            outcome.add(
                ops.BlockedStatus(
                    "Istio is missing (no AuthorizationPolicy CRD), profiles cannot be set up: "
                    "juju deploy istio-pilot --trust"
                )
            )
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

    def _reconcile_workloads(self, config: ProfilesConfig, outcome: Outcome) -> None:
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
            outcome.add(
                ops.WaitingStatus(f"waiting for Pebble in the {CONTROLLER_CONTAINER} container")
            )
        try:
            targets = self._logging.log_targets(container=kfam)
            ensure_layer(kfam, KFAM_SERVICE, profiles.kfam_layer(config, targets))
        except ops.pebble.ConnectionError:
            outcome.add(ops.WaitingStatus(f"waiting for Pebble in the {KFAM_CONTAINER} container"))
        for container, service in ((controller, CONTROLLER_SERVICE), (kfam, KFAM_SERVICE)):
            status = _check_status(container, service)
            if status is not None:
                outcome.add(status)

    # -- helpers -----------------------------------------------------------------------------

    def _keep_status(self) -> None:
        """Report the current statuses again instead of reconciling in this hook."""
        outcome = Outcome()
        if self.unit.status.name in SETTABLE_STATUSES:
            outcome.add(self.unit.status)
        if self.unit.is_leader() and self.app.status.name in SETTABLE_STATUSES:
            outcome.add(self.app.status, app=True)
        self.reconciler.set_outcome(outcome)

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
