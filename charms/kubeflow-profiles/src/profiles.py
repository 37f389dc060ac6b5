"""Workload logic of the kubeflow-profiles charm, free of ops.

- `ProfilesConfig`: the charm options, validated; errors name the option and the fix. The
  container resource options (`<container>-{cpu,memory}-{request,limit}`) are read with
  `kfcharm.resources`.
- `namespace_labels`: the labels file the profile controller applies to profile namespaces.
- `controller_layer` / `kfam_layer`: the Pebble layers of the two workloads.
- `manifest_context`: variables of the Kubernetes templates (CRD, RBAC).
- `ProfileRequest`: validated parameters of the `create-profile` action, and the Profile
  object built from them; `summarize_profile` for `list-profiles`.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import yaml
from kfcharm.resources import ContainerResources, ResourceConfigError, is_quantity
from lightkube.utils.quantity import parse_quantity
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

CONTROLLER_CONTAINER = "profile-controller"
KFAM_CONTAINER = "kfam"
CONTROLLER_SERVICE = "profile-controller"
KFAM_SERVICE = "kfam"
# Containers whose requests/limits the charm sets; each name is its options' prefix.
WORKLOAD_CONTAINERS = (CONTROLLER_CONTAINER, KFAM_CONTAINER)

KFAM_PORT = 8081
CONTROLLER_METRICS_PORT = 8080
CONTROLLER_HEALTH_PORT = 9876

NAMESPACE_LABELS_PATH = "/etc/profile-controller/namespace-labels.yaml"
# The upstream images are distroless "nonroot" images; run as that user, not as root.
WORKLOAD_UID = 65532

POD_SECURITY_LABEL = "pod-security.kubernetes.io/enforce"
PART_OF_LABEL = "app.kubernetes.io/part-of"
PART_OF_VALUE = "kubeflow-profile"

# Labels every profile namespace gets (upstream v1.11 namespace-labels.yaml, plus the
# label the resource-dispatcher charm selects user namespaces by).
KUBEFLOW_NAMESPACE_LABELS: dict[str, str] = {
    "user.kubeflow.org/enabled": "true",
    PART_OF_LABEL: PART_OF_VALUE,
    "katib.kubeflow.org/metrics-collector-injection": "enabled",
    "serving.kubeflow.org/inferenceservice": "enabled",
    "pipelines.kubeflow.org/enabled": "true",
}

# Kubernetes label syntax: optional DNS-subdomain prefix, then a name of at most 63 chars.
_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# Istio principal: <trust domain>/ns/<namespace>/sa/<service account>.
_PRINCIPAL = re.compile(
    r"^[A-Za-z0-9.-]+/ns/[a-z0-9]([-a-z0-9]*[a-z0-9])?/sa/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
)
# HTTP header field name (RFC 9110 token).
_HEADER = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class ConfigError(ValueError):
    """A charm option is invalid.

    Attributes:
        option: the option name.
        reason: what is wrong with it.
    """

    def __init__(self, option: str, reason: str):
        self.option = option
        self.reason = reason
        super().__init__(f"invalid config '{option}': {reason}")


class SecurityPolicy(str, Enum):
    """Pod Security Standards levels."""

    PRIVILEGED = "privileged"
    BASELINE = "baseline"
    RESTRICTED = "restricted"


def is_label_key(key: str) -> bool:
    """Whether `key` is a valid Kubernetes label key (``[prefix/]name``)."""
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return False
    return bool(name) and len(name) <= 63 and bool(_LABEL_NAME.fullmatch(name))


def is_label_value(value: str) -> bool:
    """Whether `value` is a valid Kubernetes label value (empty allowed)."""
    return value == "" or (len(value) <= 63 and bool(_LABEL_NAME.fullmatch(value)))


def parse_yaml_text(text: str) -> Any:
    """Parse YAML (or JSON) text; any failure is a ValueError without the input in it."""
    try:
        return yaml.safe_load(text)
    except Exception:  # YAMLError, but also ValueError/RecursionError from odd input
        raise ValueError("not valid YAML or JSON") from None


def parse_label_map(text: str) -> dict[str, str]:
    """Parse a YAML/JSON map of label keys to values (the `namespace-labels` option).

    Args:
        text: the option value; empty means no labels.

    Returns:
        The labels (values converted to strings when they are YAML scalars).

    Raises:
        ValueError: not a map, or an invalid key or value (the message names it).
    """
    if not text.strip():
        return {}
    data = parse_yaml_text(text)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError("must be a YAML or JSON map of label keys to values")
    labels: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not is_label_key(key):
            raise ValueError(f"invalid label key {str(key)[:80]!r}")
        if value is None:
            value = ""
        if isinstance(value, bool):
            value = "true" if value else "false"
        if isinstance(value, (dict, list)):
            raise ValueError(f"label {key!r}: value must be a string")
        value = str(value)
        if not is_label_value(value):
            raise ValueError(f"label {key!r}: invalid value {value[:80]!r}")
        labels[key] = value
    return labels


class ProfilesConfig(BaseModel):
    """The validated charm options (field aliases are the option names)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    security_policy: SecurityPolicy = Field(alias="security-policy")
    namespace_labels: dict[str, str] = Field(alias="namespace-labels", default_factory=dict)
    userid_header: str = Field(alias="userid-header")
    userid_prefix: str = Field(alias="userid-prefix", default="")
    cluster_admin: str = Field(alias="cluster-admin", default="")
    workload_identity: str = Field(alias="workload-identity", default="")
    istio_ingress_gateway_principal: str = Field(alias="istio-ingress-gateway-principal")
    kfp_ui_principal: str = Field(alias="kfp-ui-principal")
    notebook_controller_principal: str = Field(alias="notebook-controller-principal")
    # Requests and limits per workload container (WORKLOAD_CONTAINERS), set by from_options.
    resources: dict[str, ContainerResources] = Field(default_factory=dict, exclude=True)

    @field_validator("security_policy", mode="before")
    @classmethod
    def _policy(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
        if value not in {p.value for p in SecurityPolicy}:
            raise ValueError("must be one of privileged, baseline, restricted")
        return value

    @field_validator("namespace_labels", mode="before")
    @classmethod
    def _labels(cls, value: Any) -> Any:
        if isinstance(value, str):
            labels = parse_label_map(value)
        elif isinstance(value, dict):
            labels = parse_label_map(json.dumps(value))
        else:
            raise ValueError("must be a YAML or JSON map of label keys to values")
        if POD_SECURITY_LABEL in labels:
            raise ValueError(f"set {POD_SECURITY_LABEL} with the 'security-policy' option")
        return labels

    @field_validator("userid_header")
    @classmethod
    def _header(cls, value: str) -> str:
        if not _HEADER.fullmatch(value):
            raise ValueError("must be an HTTP header name such as kubeflow-userid")
        return value

    @field_validator("userid_prefix", "cluster_admin", "workload_identity")
    @classmethod
    def _single_line(cls, value: str) -> str:
        if any(ch in value for ch in "\r\n\t\0") or len(value) > 253:
            raise ValueError("must be one line of at most 253 characters")
        return value

    @field_validator(
        "istio_ingress_gateway_principal", "kfp_ui_principal", "notebook_controller_principal"
    )
    @classmethod
    def _principal(cls, value: str) -> str:
        value = value.strip()
        if not _PRINCIPAL.fullmatch(value):
            raise ValueError(
                "must be an Istio principal <trust-domain>/ns/<namespace>/sa/<service-account>"
            )
        return value

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> ProfilesConfig:
        """Validate the charm options, then the container resource options.

        Args:
            options: the Juju config (option name -> value).

        Raises:
            ConfigError: naming the first invalid option and why.
        """
        try:
            config = cls.model_validate(dict(options))
        except ValidationError as err:
            first = err.errors(include_input=False, include_url=False)[0]
            field = str(first["loc"][0]) if first["loc"] else "config"
            reason = str(first["msg"]).removeprefix("Value error, ")
            raise ConfigError(_option_name(cls, field), reason) from None
        try:
            resources = {
                name: ContainerResources.from_config(options, name) for name in WORKLOAD_CONTAINERS
            }
        except ResourceConfigError as err:
            raise ConfigError(err.option, err.reason) from None
        return config.model_copy(update={"resources": resources})


def _option_name(model: type[BaseModel], field: str) -> str:
    info = model.model_fields.get(field)
    if info is not None and info.alias:
        return info.alias
    return field.replace("_", "-")


def namespace_labels(config: ProfilesConfig) -> dict[str, str]:
    """The labels of every profile namespace: Kubeflow defaults, extras, then the PSS level.

    An extra label with an empty value makes the controller remove that label.
    """
    labels = dict(KUBEFLOW_NAMESPACE_LABELS)
    labels.update(config.namespace_labels)
    labels[POD_SECURITY_LABEL] = config.security_policy.value
    return labels


def namespace_labels_file(config: ProfilesConfig) -> str:
    """Content of the controller's namespace-labels file (a flat YAML map, sorted keys)."""
    return yaml.safe_dump(namespace_labels(config), default_flow_style=False, sort_keys=True)


def workload_environment(config: ProfilesConfig) -> dict[str, str]:
    """Environment shared by both workloads (upstream's `profiles-config` ConfigMap)."""
    return {
        "ADMIN": config.cluster_admin,
        "USERID_HEADER": config.userid_header,
        "USERID_PREFIX": config.userid_prefix,
        "WORKLOAD_IDENTITY": config.workload_identity,
        "ISTIO_INGRESS_GATEWAY_PRINCIPAL": config.istio_ingress_gateway_principal,
        "KFP_UI_PRINCIPAL": config.kfp_ui_principal,
        "NOTEBOOK_CONTROLLER_PRINCIPAL": config.notebook_controller_principal,
    }


def controller_command(config: ProfilesConfig) -> str:
    """The profile controller's command line (quoted for Pebble)."""
    return shlex.join(
        [
            "/manager",
            "-userid-header",
            config.userid_header,
            "-userid-prefix",
            config.userid_prefix,
            "-workload-identity",
            config.workload_identity,
            "-leader-elect",
            "-namespace-labels-path",
            NAMESPACE_LABELS_PATH,
            "-metrics-bind-address",
            f":{CONTROLLER_METRICS_PORT}",
            "-health-probe-bind-address",
            f":{CONTROLLER_HEALTH_PORT}",
        ]
    )


def kfam_command(config: ProfilesConfig) -> str:
    """KFAM's command line (quoted for Pebble)."""
    return shlex.join(
        [
            "/access-management",
            "-cluster-admin",
            config.cluster_admin,
            "-userid-header",
            config.userid_header,
            "-userid-prefix",
            config.userid_prefix,
        ]
    )


def controller_layer(config: ProfilesConfig, log_targets: Mapping[str, Any]) -> dict[str, Any]:
    """Pebble layer of the profile controller, with liveness/readiness on port 9876."""
    health = f"http://localhost:{CONTROLLER_HEALTH_PORT}"
    layer: dict[str, Any] = {
        "summary": "Kubeflow profile controller",
        "services": {
            CONTROLLER_SERVICE: {
                "override": "replace",
                "summary": "Kubeflow profile controller",
                "command": controller_command(config),
                "startup": "enabled",
                "user-id": WORKLOAD_UID,
                "group-id": WORKLOAD_UID,
                "environment": workload_environment(config),
                "on-check-failure": {f"{CONTROLLER_SERVICE}-alive": "restart"},
            }
        },
        "checks": {
            f"{CONTROLLER_SERVICE}-ready": {
                "override": "replace",
                "level": "ready",
                "period": "10s",
                "threshold": 3,
                "http": {"url": f"{health}/readyz"},
            },
            f"{CONTROLLER_SERVICE}-alive": {
                "override": "replace",
                "level": "alive",
                "period": "20s",
                "threshold": 3,
                "http": {"url": f"{health}/healthz"},
            },
        },
    }
    if log_targets:
        layer["log-targets"] = dict(log_targets)
    return layer


def kfam_layer(config: ProfilesConfig, log_targets: Mapping[str, Any]) -> dict[str, Any]:
    """Pebble layer of KFAM, with liveness/readiness on its metrics endpoint."""
    url = f"http://localhost:{KFAM_PORT}/metrics"
    layer: dict[str, Any] = {
        "summary": "Kubeflow access management API",
        "services": {
            KFAM_SERVICE: {
                "override": "replace",
                "summary": "Kubeflow access management API (KFAM)",
                "command": kfam_command(config),
                "startup": "enabled",
                "user-id": WORKLOAD_UID,
                "group-id": WORKLOAD_UID,
                "environment": workload_environment(config),
                "on-check-failure": {f"{KFAM_SERVICE}-alive": "restart"},
            }
        },
        "checks": {
            f"{KFAM_SERVICE}-ready": {
                "override": "replace",
                "level": "ready",
                "period": "10s",
                "threshold": 3,
                "http": {"url": url},
            },
            f"{KFAM_SERVICE}-alive": {
                "override": "replace",
                "level": "alive",
                "period": "30s",
                "threshold": 3,
                "http": {"url": url},
            },
        },
    }
    if log_targets:
        layer["log-targets"] = dict(log_targets)
    return layer


def manifest_context(app: str, namespace: str) -> dict[str, str]:
    """Variables of the templates in ``src/templates``.

    Args:
        app: the application name (also its Kubernetes ServiceAccount, created by Juju).
        namespace: the model namespace.
    """
    return {
        "app_name": app,
        "namespace": namespace,
        # Cluster-scoped names carry model and app, so two deployments do not collide.
        "cluster_name": f"{namespace}-{app}",
    }


def metrics_jobs() -> list[dict[str, Any]]:
    """Scrape jobs of both workloads (``*`` is each unit's address)."""
    return [
        {
            "job_name": "profile-controller",
            "metrics_path": "/metrics",
            "static_configs": [{"targets": [f"*:{CONTROLLER_METRICS_PORT}"]}],
        },
        {
            "job_name": "kfam",
            "metrics_path": "/metrics",
            "static_configs": [{"targets": [f"*:{KFAM_PORT}"]}],
        },
    ]


# --------------------------------------------------------------------------------------------
# Profiles (actions)
# --------------------------------------------------------------------------------------------


class ActionParamError(ValueError):
    """An action parameter is invalid.

    Attributes:
        param: the parameter name.
        reason: what is wrong with it.
    """

    def __init__(self, param: str, reason: str):
        self.param = param
        self.reason = reason
        super().__init__(f"invalid parameter '{param}': {reason}")


# Namespaces Kubernetes and Kubeflow reserve: a profile of that name would take them over.
RESERVED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})


@dataclass(frozen=True)
class ProfileRequest:
    """Validated parameters of `create-profile`."""

    name: str
    owner: str
    owner_kind: str
    resource_quota: dict[str, str]

    @classmethod
    def from_params(cls, params: Mapping[str, Any], *, reserved: frozenset[str]) -> ProfileRequest:
        """Validate action parameters.

        Args:
            params: the action's parameters.
            reserved: names that may not be used (system namespaces, the model's).

        Raises:
            ActionParamError: naming the parameter and the problem.
        """
        name = params.get("name")
        if not isinstance(name, str) or not _DNS_LABEL.fullmatch(name):
            raise ActionParamError(
                "name", "must be a DNS label: lowercase letters, digits and '-', at most 63"
            )
        if name in reserved or name.startswith("kube-"):
            raise ActionParamError("name", f"{name!r} is a reserved namespace")
        owner = params.get("owner")
        if not isinstance(owner, str) or not owner.strip():
            raise ActionParamError("owner", "must be a non-empty user id (e.g. an email)")
        owner = owner.strip()
        if len(owner) > 253 or any(ch.isspace() or not ch.isprintable() for ch in owner):
            raise ActionParamError("owner", "must be at most 253 printable characters, no spaces")
        kind = params.get("owner-kind", "User") or "User"
        if kind not in ("User", "Group", "ServiceAccount"):
            raise ActionParamError("owner-kind", "must be User, Group or ServiceAccount")
        quota = _parse_quota(params.get("resource-quota", "") or "")
        return cls(name=name, owner=owner, owner_kind=kind, resource_quota=quota)

    def to_profile(self) -> dict[str, Any]:
        """The Profile object (kubeflow.org/v1) to create."""
        owner: dict[str, str] = {"kind": self.owner_kind, "name": self.owner}
        if self.owner_kind != "ServiceAccount":
            owner["apiGroup"] = "rbac.authorization.k8s.io"
        spec: dict[str, Any] = {"owner": owner}
        if self.resource_quota:
            spec["resourceQuotaSpec"] = {"hard": dict(self.resource_quota)}
        return {
            "apiVersion": "kubeflow.org/v1",
            "kind": "Profile",
            "metadata": {"name": self.name},
            "spec": spec,
        }


def _parse_quota(text: str) -> dict[str, str]:
    if not isinstance(text, str):
        raise ActionParamError("resource-quota", "must be a YAML or JSON map")
    if not text.strip():
        return {}
    try:
        data = parse_yaml_text(text)
    except ValueError as err:
        raise ActionParamError("resource-quota", str(err)) from None
    if not isinstance(data, dict) or not data:
        raise ActionParamError(
            "resource-quota", 'must be a map of resource to quantity, e.g. {"cpu": "8"}'
        )
    quota: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not is_label_key(key):
            raise ActionParamError("resource-quota", f"invalid resource name {str(key)[:80]!r}")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ActionParamError("resource-quota", f"{key}: quantity must be a string")
        # Stripped: is_quantity's `$` lets a trailing newline through to the API server.
        text_value = str(value).strip()
        if not is_quantity(text_value) or not _parsable_quantity(text_value):
            raise ActionParamError(
                "resource-quota", f"{key}: {text_value[:40]!r} is not a Kubernetes quantity"
            )
        quota[key] = text_value
    return quota


def _parsable_quantity(value: str) -> bool:
    """Whether lightkube (like the API server) can parse `value`: 1e999999999 it cannot."""
    try:
        parse_quantity(value)
    except (ValueError, ArithmeticError):
        return False
    return True


def summarize_profile(profile: Mapping[str, Any]) -> dict[str, Any]:
    """What `list-profiles` reports about one Profile (dict form of the object)."""
    metadata = profile.get("metadata") or {}
    spec = profile.get("spec") or {}
    owner = spec.get("owner") or {}
    quota = (spec.get("resourceQuotaSpec") or {}).get("hard") or {}
    conditions = (profile.get("status") or {}).get("conditions") or []
    failed = [c.get("message", "") for c in conditions if c.get("type") == "Failed"]
    return {
        "name": metadata.get("name", ""),
        "owner": owner.get("name", ""),
        "owner-kind": owner.get("kind", ""),
        "resource-quota": {str(k): str(v) for k, v in quota.items()},
        "problem": failed[-1] if failed else "",
    }
