"""Katib workload logic, free of ops: config model, katib-config, Pebble layers, manifests context.

Everything here is computed from plain values so it can be unit-tested without a charm.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Literal

import yaml
from kfcharm.resources import (
    ContainerResources,
    ResourceConfigError,
    is_quantity,
)
from lightkube.utils.quantity import parse_quantity
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

KATIB_VERSION = "v0.19.0"
REGISTRY = "ghcr.io/kubeflow/katib"

CONTROLLER = "katib-controller"
DB_MANAGER = "katib-db-manager"
UI = "katib-ui"
CONTAINERS = (CONTROLLER, DB_MANAGER, UI)

DB_MANAGER_PORT = 6789  # hard-coded in the db-manager binary
HEALTH_PORT = 18080  # controller healthz/readyz (katib-config init.controller.healthzAddr)
WEBHOOK_SERVICE_PORT = 443
KATIB_CONFIG_DIR = "/etc/katib"
KATIB_CONFIG_PATH = f"{KATIB_CONFIG_DIR}/katib-config.yaml"
CERT_DIR = "/tmp/cert"  # noqa: S108 - hard-coded in the upstream controller
CERT_FILE = f"{CERT_DIR}/tls.crt"
KEY_FILE = f"{CERT_DIR}/tls.key"
DATABASE_NAME = "katib"
INGRESS_PREFIX = "/katib/"

#: Images of the metrics collectors by collector kind.
DEFAULT_METRICS_COLLECTOR_IMAGES: dict[str, str] = {
    "StdOut": f"{REGISTRY}/file-metrics-collector:{KATIB_VERSION}",
    "File": f"{REGISTRY}/file-metrics-collector:{KATIB_VERSION}",
    "TensorFlowEvent": f"{REGISTRY}/tfevent-metrics-collector:{KATIB_VERSION}",
}
#: Images of the suggestion services by algorithm name.
DEFAULT_SUGGESTION_IMAGES: dict[str, str] = {
    "random": f"{REGISTRY}/suggestion-hyperopt:{KATIB_VERSION}",
    "tpe": f"{REGISTRY}/suggestion-hyperopt:{KATIB_VERSION}",
    "grid": f"{REGISTRY}/suggestion-optuna:{KATIB_VERSION}",
    "hyperband": f"{REGISTRY}/suggestion-hyperband:{KATIB_VERSION}",
    "bayesianoptimization": f"{REGISTRY}/suggestion-skopt:{KATIB_VERSION}",
    "cmaes": f"{REGISTRY}/suggestion-goptuna:{KATIB_VERSION}",
    "sobol": f"{REGISTRY}/suggestion-goptuna:{KATIB_VERSION}",
    "multivariate-tpe": f"{REGISTRY}/suggestion-optuna:{KATIB_VERSION}",
    "enas": f"{REGISTRY}/suggestion-enas:{KATIB_VERSION}",
    "darts": f"{REGISTRY}/suggestion-darts:{KATIB_VERSION}",
    "pbt": f"{REGISTRY}/suggestion-pbt:{KATIB_VERSION}",
}
#: Images of the early stopping services by algorithm name.
DEFAULT_EARLY_STOPPING_IMAGES: dict[str, str] = {
    "medianstop": f"{REGISTRY}/earlystopping-medianstop:{KATIB_VERSION}",
}
#: Images of the example trial templates (trial-templates ConfigMap).
DEFAULT_TRIAL_TEMPLATE_IMAGES: dict[str, str] = {
    "pytorch-mnist": f"{REGISTRY}/pytorch-mnist-cpu:{KATIB_VERSION}",
    "enas-cnn-cifar10": f"{REGISTRY}/enas-cnn-cifar10-cpu:{KATIB_VERSION}",
}

# [a-z0-9]+ then groups of a separator and 1+ name characters, written so that every
# character has one way to match: the obvious `(?:[._\-/:@][A-Za-z0-9_.\-]+)*` backtracks
# exponentially on e.g. "a" + "." * 60 + "!" and hangs the hook. Used with fullmatch.
_IMAGE = re.compile(
    r"[a-z0-9]+(?:[._\-/:@][A-Za-z0-9_.\-](?:[A-Za-z0-9_.\-]|[/:@](?=[A-Za-z0-9_.\-]))*)?"
)
_TRIAL_RESOURCE = re.compile(
    r"^[A-Z][A-Za-z0-9]*\.v[0-9]+[a-z0-9]*\.[a-z0-9]([a-z0-9.\-]*[a-z0-9])?$"
)
_HEADER = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")  # used with fullmatch
_RESERVED_PORTS = {DB_MANAGER_PORT: "the db-manager gRPC port", HEALTH_PORT: "the health port"}

AccessMode = Literal["ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]


class ConfigError(ValueError):
    """A config option has an invalid value.

    Attributes:
        option: the Juju option name (hyphenated).
        reason: what is wrong with it.
    """

    def __init__(self, option: str, reason: str):
        self.option = option
        self.reason = reason
        super().__init__(f"{option}: {reason}")


def _yaml_map(option: str, raw: str) -> dict[Any, Any]:
    """Parse an option holding a YAML mapping (empty means no entries)."""
    if not raw.strip():
        return {}
    try:
        data = yaml.safe_load(raw)
    except (yaml.YAMLError, RecursionError):  # RecursionError: absurdly deep nesting
        raise ConfigError(option, "not valid YAML") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(option, "must be a YAML map")
    return data


def parse_image_overrides(option: str, raw: str, known: Mapping[str, str]) -> dict[str, str]:
    """Merge a YAML map of image overrides onto the defaults.

    Args:
        option: option name, for error messages.
        raw: the option value, e.g. ``"{random: registry.local/hyperopt:v1}"``.
        known: default images by key; only these keys are accepted.

    Returns:
        The images by key, overrides applied.

    Raises:
        ConfigError: not a YAML map, an unknown key, or an invalid image reference.
    """
    overrides = _yaml_map(option, raw)
    images = dict(known)
    for key, image in overrides.items():
        if not isinstance(key, str) or key not in known:
            raise ConfigError(option, f"unknown key {str(key)[:40]!r}; known: {', '.join(known)}")
        if not isinstance(image, str) or len(image) > 512 or not _IMAGE.fullmatch(image):
            raise ConfigError(option, f"{key}: {str(image)[:60]!r} is not an image reference")
        images[key] = image
    return images


def _quantity(value: str) -> Decimal | None:
    """The value of a Kubernetes quantity, or None if it is not one or is too large to use."""
    if not is_quantity(value):
        return None
    try:
        return parse_quantity(value)
    except ValueError:  # beyond Decimal's precision, e.g. 1e99999
        return None


def _port(value: int) -> int:
    if not 1024 <= value <= 65535:
        raise ValueError("must be a port number between 1024 and 65535")
    return value


class KatibCharmConfig(BaseModel):
    """The charm's config options, validated (field names are the options with underscores)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    webhook_port: int = 8443
    metrics_port: int = 8081
    ui_port: int = 8080
    trial_resources: str = (
        "TrainJob.v1alpha1.trainer.kubeflow.org,Job.v1.batch,TFJob.v1.kubeflow.org,"
        "PyTorchJob.v1.kubeflow.org,MPIJob.v1.kubeflow.org,XGBoostJob.v1.kubeflow.org"
    )
    metrics_collector_images: str = ""
    suggestion_images: str = ""
    early_stopping_images: str = ""
    trial_template_images: str = ""
    pbt_storage_class: str = ""
    pbt_access_mode: AccessMode = "ReadWriteMany"
    pbt_storage_size: str = "5Gi"
    # Requests/limits of the workload containers (kfcharm.resources option naming).
    katib_controller_cpu_request: str = ""
    katib_controller_cpu_limit: str = ""
    katib_controller_memory_request: str = ""
    katib_controller_memory_limit: str = ""
    katib_db_manager_cpu_request: str = ""
    katib_db_manager_cpu_limit: str = ""
    katib_db_manager_memory_request: str = ""
    katib_db_manager_memory_limit: str = ""
    katib_ui_cpu_request: str = ""
    katib_ui_cpu_limit: str = ""
    katib_ui_memory_request: str = ""
    katib_ui_memory_limit: str = ""
    user_id_header: str = "kubeflow-userid"
    user_id_prefix: str = ""

    @field_validator("webhook_port", "metrics_port", "ui_port")
    @classmethod
    def _check_port(cls, value: int) -> int:
        return _port(value)

    @field_validator("trial_resources")
    @classmethod
    def _check_trial_resources(cls, value: str) -> str:
        items = [item.strip() for item in value.split(",") if item.strip()]
        if not items:
            raise ValueError("must list at least one Kind.version.group")
        for item in items:
            if not _TRIAL_RESOURCE.fullmatch(item):
                raise ValueError(f"{item[:60]!r} is not Kind.version.group (e.g. Job.v1.batch)")
        return ",".join(items)

    @field_validator("pbt_storage_class")
    @classmethod
    def _check_storage_class(cls, value: str) -> str:
        if value and not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", value):
            raise ValueError("must be a storage class name (lowercase DNS subdomain) or empty")
        return value

    @field_validator("pbt_storage_size")
    @classmethod
    def _check_size(cls, value: str) -> str:
        value = value.strip()
        quantity = _quantity(value)
        if quantity is None or quantity <= 0:
            raise ValueError("must be a positive Kubernetes quantity, e.g. 5Gi")
        return value

    @field_validator("user_id_header")
    @classmethod
    def _check_header(cls, value: str) -> str:
        if not _HEADER.fullmatch(value):
            raise ValueError("must be an HTTP header name")
        return value

    @field_validator("user_id_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        if any(c in value for c in "\r\n\0") or len(value) > 253:
            raise ValueError("must be a single line of at most 253 characters")
        return value

    @model_validator(mode="after")
    def _check_combined(self) -> KatibCharmConfig:
        ports = {"webhook-port": self.webhook_port, "metrics-port": self.metrics_port}
        ports["ui-port"] = self.ui_port
        seen: dict[int, str] = {}
        for option, port in ports.items():
            if port in _RESERVED_PORTS:
                raise ConfigError(option, f"{port} is {_RESERVED_PORTS[port]}")
            if port in seen:
                raise ConfigError(option, f"{port} is already used by {seen[port]}")
            seen[port] = option
        # Parse the structured options once here so that errors name the option.
        self.images()
        self.resources()
        return self

    def images(self) -> dict[str, dict[str, str]]:
        """Images of every runtime component, overrides applied."""
        return {
            "metrics_collectors": parse_image_overrides(
                "metrics-collector-images",
                self.metrics_collector_images,
                DEFAULT_METRICS_COLLECTOR_IMAGES,
            ),
            "suggestions": parse_image_overrides(
                "suggestion-images", self.suggestion_images, DEFAULT_SUGGESTION_IMAGES
            ),
            "early_stoppings": parse_image_overrides(
                "early-stopping-images", self.early_stopping_images, DEFAULT_EARLY_STOPPING_IMAGES
            ),
            "trial_templates": parse_image_overrides(
                "trial-template-images", self.trial_template_images, DEFAULT_TRIAL_TEMPLATE_IMAGES
            ),
        }

    def resources(self) -> dict[str, ContainerResources]:
        """Requests/limits by workload container, from the `<container>-{cpu,memory}-*` options.

        Raises:
            ResourceConfigError: an option is not a quantity, or a request exceeds its limit.
        """
        options = {name.replace("_", "-"): value for name, value in self.model_dump().items()}
        return {name: ContainerResources.from_config(options, name) for name in CONTAINERS}


def config_error_message(error: ValueError) -> str:
    """An operator-facing message for a config validation error, naming the option.

    Args:
        error: a `ConfigError`, a `ResourceConfigError` or a pydantic `ValidationError` from
            `KatibCharmConfig`.
    """
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        ctx_error = (first.get("ctx") or {}).get("error")
        if isinstance(ctx_error, (ConfigError, ResourceConfigError)):
            return _format(ctx_error.option, ctx_error.reason)
        loc = first.get("loc") or ()
        option = str(loc[0]).replace("_", "-") if loc else "config"
        reason = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        return _format(option, reason)
    if isinstance(error, (ConfigError, ResourceConfigError)):
        return _format(error.option, error.reason)
    return f"invalid config: {error}"


def _format(option: str, reason: str) -> str:
    return f"invalid config option {option}: {reason} (fix with: juju config <app> {option}=...)"


# --------------------------------------------------------------------------------------------
# katib-config
# --------------------------------------------------------------------------------------------


def katib_config(config: KatibCharmConfig) -> dict[str, Any]:
    """The KatibConfig document (config.kubeflow.org/v1beta1) for the controller.

    Args:
        config: the validated charm config.
    """
    images = config.images()
    collectors: list[dict[str, Any]] = []
    for kind, image in images["metrics_collectors"].items():
        entry: dict[str, Any] = {"kind": kind, "image": image}
        if kind == "TensorFlowEvent":
            entry["resources"] = {"limits": {"memory": "1Gi"}}
        collectors.append(entry)
    suggestions: list[dict[str, Any]] = []
    for algorithm, image in images["suggestions"].items():
        entry = {"algorithmName": algorithm, "image": image}
        if algorithm == "enas":
            entry["resources"] = {"limits": {"memory": "200Mi"}}
        if algorithm == "pbt":
            claim: dict[str, Any] = {
                "accessModes": [config.pbt_access_mode],
                "resources": {"requests": {"storage": config.pbt_storage_size}},
            }
            if config.pbt_storage_class:
                claim["storageClassName"] = config.pbt_storage_class
            entry["persistentVolumeClaimSpec"] = claim
        suggestions.append(entry)
    early = [
        {"algorithmName": name, "image": image}
        for name, image in images["early_stoppings"].items()
    ]
    return {
        "apiVersion": "config.kubeflow.org/v1beta1",
        "kind": "KatibConfig",
        "init": {
            "controller": {
                "webhookPort": config.webhook_port,
                "metricsAddr": f":{config.metrics_port}",
                "healthzAddr": f":{HEALTH_PORT}",
                "trialResources": config.trial_resources.split(","),
                # Several units may run: only the elected controller reconciles.
                "enableLeaderElection": True,
            },
            # The charm writes the certificates and caBundle itself.
            "certGenerator": {"enable": False},
        },
        "runtime": {
            "metricsCollectors": collectors,
            "suggestions": suggestions,
            "earlyStoppings": early,
        },
    }


def katib_config_yaml(config: KatibCharmConfig) -> str:
    """`katib_config` as YAML text (stable key order), for the file and the ConfigMap."""
    return yaml.safe_dump(katib_config(config), sort_keys=False)


# --------------------------------------------------------------------------------------------
# Pebble layers
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DatabaseSettings:
    """Where and how the db-manager connects (from the mysql_client relation).

    Attributes:
        host: MySQL host.
        port: MySQL port.
        database: database name.
        username: SQL user.
        password: its password (only ever placed in the service environment).
    """

    host: str
    port: int
    database: str
    username: str
    password: str = dataclasses.field(repr=False)


def _db_manager_address_env(app: str, namespace: str) -> dict[str, str]:
    # The controller hands this address to the metrics collectors it injects into trial pods
    # in users' namespaces, so it must be the Service's cluster DNS name, not localhost.
    return {
        "KATIB_DB_MANAGER_SERVICE_IP": db_manager_service(app),
        "KATIB_DB_MANAGER_SERVICE_NAMESPACE": namespace,
        "KATIB_DB_MANAGER_SERVICE_PORT": str(DB_MANAGER_PORT),
    }


def controller_layer(
    config: KatibCharmConfig, app: str, namespace: str, log_targets: Mapping[str, Any]
) -> dict[str, Any]:
    """Pebble layer of the controller container."""
    return {
        "summary": "Katib controller",
        "services": {
            CONTROLLER: {
                "override": "replace",
                "summary": "Katib experiment, trial and suggestion controller",
                "command": f"/app/katib-controller --katib-config={KATIB_CONFIG_PATH}",
                "startup": "enabled",
                "environment": {
                    "KATIB_CORE_NAMESPACE": namespace,
                    **_db_manager_address_env(app, namespace),
                },
                "on-check-failure": {"controller-alive": "restart"},
            }
        },
        "checks": {
            "controller-ready": {
                "override": "replace",
                "level": "ready",
                "period": "10s",
                "threshold": 3,
                "http": {"url": f"http://localhost:{HEALTH_PORT}/readyz"},
            },
            "controller-alive": {
                "override": "replace",
                "level": "alive",
                "period": "30s",
                "threshold": 5,
                "http": {"url": f"http://localhost:{HEALTH_PORT}/healthz"},
            },
        },
        "log-targets": dict(log_targets),
    }


def db_manager_layer(database: DatabaseSettings, log_targets: Mapping[str, Any]) -> dict[str, Any]:
    """Pebble layer of the db-manager container; credentials only in its environment."""
    return {
        "summary": "Katib db-manager",
        "services": {
            DB_MANAGER: {
                "override": "replace",
                "summary": "Katib db-manager (gRPC on 6789)",
                "command": "/app/katib-db-manager",
                "startup": "enabled",
                "environment": {
                    "DB_NAME": "mysql",
                    "DB_USER": database.username,
                    "DB_PASSWORD": database.password,
                    "KATIB_MYSQL_DB_HOST": database.host,
                    "KATIB_MYSQL_DB_PORT": str(database.port),
                    "KATIB_MYSQL_DB_DATABASE": database.database,
                },
                "on-check-failure": {"db-manager-alive": "restart"},
            }
        },
        "checks": {
            "db-manager-ready": {
                "override": "replace",
                "level": "ready",
                "period": "10s",
                "threshold": 3,
                "tcp": {"port": DB_MANAGER_PORT},
            },
            "db-manager-alive": {
                "override": "replace",
                "level": "alive",
                "period": "60s",
                "threshold": 5,
                "tcp": {"port": DB_MANAGER_PORT},
            },
        },
        "log-targets": dict(log_targets),
    }


def ui_layer(
    config: KatibCharmConfig, app: str, namespace: str, log_targets: Mapping[str, Any]
) -> dict[str, Any]:
    """Pebble layer of the UI container."""
    return {
        "summary": "Katib UI",
        "services": {
            UI: {
                "override": "replace",
                "summary": "Katib web UI",
                "command": f"/app/katib-ui --port={config.ui_port}",
                "startup": "enabled",
                "environment": {
                    "KATIB_CORE_NAMESPACE": namespace,
                    "APP_DISABLE_AUTH": "false",
                    "USERID_HEADER": config.user_id_header,
                    "USERID_PREFIX": config.user_id_prefix,
                    **_db_manager_address_env(app, namespace),
                },
                "on-check-failure": {"ui-alive": "restart"},
            }
        },
        "checks": {
            "ui-ready": {
                "override": "replace",
                "level": "ready",
                "period": "10s",
                "threshold": 3,
                "http": {"url": f"http://localhost:{config.ui_port}{INGRESS_PREFIX}"},
            },
            "ui-alive": {
                "override": "replace",
                "level": "alive",
                "period": "30s",
                "threshold": 5,
                "tcp": {"port": config.ui_port},
            },
        },
        "log-targets": dict(log_targets),
    }


# --------------------------------------------------------------------------------------------
# Kubernetes manifests
# --------------------------------------------------------------------------------------------


def controller_service(app: str) -> str:
    """Name of the Service in front of the controller's webhooks and metrics."""
    return f"{app}-controller"


def db_manager_service(app: str) -> str:
    """Name of the Service in front of the db-manager."""
    return f"{app}-db-manager"


def ui_service(app: str) -> str:
    """Name of the Service in front of the UI."""
    return f"{app}-ui"


def webhook_dns_names(app: str, namespace: str) -> list[str]:
    """DNS names the webhook serving certificate must carry."""
    svc = controller_service(app)
    return [
        svc,
        f"{svc}.{namespace}",
        f"{svc}.{namespace}.svc",
        f"{svc}.{namespace}.svc.cluster.local",
    ]


@dataclasses.dataclass(frozen=True)
class ManifestContext:
    """Variables of the templates in ``src/templates``.

    Attributes:
        app: application name.
        namespace: model namespace.
        ca_bundle: base64 PEM CA bundle for the webhook configurations.
        katib_config: the katib-config.yaml text.
        webhook_port: controller webhook port.
        metrics_port: controller metrics port.
        ui_port: UI port.
        db_manager_port: db-manager gRPC port.
        trial_images: example trial template images.
        controller_service: webhook/metrics Service name.
        db_manager_service: db-manager Service name.
        ui_service: UI Service name.
        service_account: the pod's ServiceAccount (Juju names it after the app).
        cluster_prefix: prefix of cluster-scoped names (unique per model and app).
    """

    app: str
    namespace: str
    ca_bundle: str
    katib_config: str
    webhook_port: int
    metrics_port: int
    ui_port: int
    db_manager_port: int
    trial_images: dict[str, str]
    controller_service: str
    db_manager_service: str
    ui_service: str
    service_account: str
    cluster_prefix: str


def manifest_context(
    config: KatibCharmConfig, app: str, namespace: str, ca_bundle: str
) -> ManifestContext:
    """Build the template context.

    Args:
        config: the validated charm config.
        app: application name.
        namespace: model namespace.
        ca_bundle: base64 CA bundle of the webhook certificate.
    """
    return ManifestContext(
        app=app,
        namespace=namespace,
        ca_bundle=ca_bundle,
        katib_config=katib_config_yaml(config),
        webhook_port=config.webhook_port,
        metrics_port=config.metrics_port,
        ui_port=config.ui_port,
        db_manager_port=DB_MANAGER_PORT,
        trial_images=config.images()["trial_templates"],
        controller_service=controller_service(app),
        db_manager_service=db_manager_service(app),
        ui_service=ui_service(app),
        service_account=app,
        cluster_prefix=f"{namespace}-{app}",
    )
