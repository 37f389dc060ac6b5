"""KServe workload logic without ops: configuration, Pebble layers, manifests and storage.

Everything here is pure: the charm gathers config, relation data and certificates, and this
module turns them into the Pebble layers, the template contexts of the Kubernetes manifests,
and the storage Secret/ServiceAccount handed to resource-dispatcher.
"""

from __future__ import annotations

import base64
import binascii
import json
import platform
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import yaml
from kfcharm.resources import (
    ContainerResources,
    ResourceConfigError,
    is_quantity,
    resource_option_names,
)
from lightkube.utils.quantity import parse_quantity

KSERVE_VERSION = "v0.15.2"

CONTROLLER_CONTAINER = "kserve-controller"
CONTROLLER_SERVICE = "kserve-controller"
WEB_APP_CONTAINER = "models-web-app"
WEB_APP_SERVICE = "models-web-app"

WEBHOOK_PORT = 9443
METRICS_PORT = 8080
PROBE_PORT = 8081
WEB_APP_PORT = 5000
WEB_APP_PREFIX = "/kserve-endpoints"

CERT_DIR = "/tmp/k8s-webhook-server/serving-certs"  # noqa: S108 - where the controller reads them
CERT_FILE = f"{CERT_DIR}/tls.crt"
KEY_FILE = f"{CERT_DIR}/tls.key"

INFERENCESERVICE_CONFIG = "inferenceservice-config"
CA_BUNDLE_KEY = "cabundle.crt"
CA_BUNDLE_MOUNT = "/etc/ssl/custom-certs"  # where KServe mounts the copied CA bundle

USERID_HEADER = "kubeflow-userid"

# Default images of KServe v0.15.2 (keys are those of the `custom-images` option).
DEFAULT_IMAGES: dict[str, str] = {
    "storage-initializer": f"kserve/storage-initializer:{KSERVE_VERSION}",
    "agent": f"kserve/agent:{KSERVE_VERSION}",
    "router": f"kserve/router:{KSERVE_VERSION}",
    "art-explainer": "kserve/art-explainer:latest",
    "huggingfaceserver": f"kserve/huggingfaceserver:{KSERVE_VERSION}",
    "huggingfaceserver-multinode": f"kserve/huggingfaceserver:{KSERVE_VERSION}-gpu",
    "lgbserver": f"kserve/lgbserver:{KSERVE_VERSION}",
    "mlserver": "docker.io/seldonio/mlserver:1.5.0",
    "paddleserver": f"kserve/paddleserver:{KSERVE_VERSION}",
    "pmmlserver": f"kserve/pmmlserver:{KSERVE_VERSION}",
    "sklearnserver": f"kserve/sklearnserver:{KSERVE_VERSION}",
    "tensorflow-serving": "tensorflow/serving:2.6.2",
    "torchserve": "pytorch/torchserve-kfs:0.9.0",
    "tritonserver": "nvcr.io/nvidia/tritonserver:23.05-py3",
    "xgbserver": f"kserve/xgbserver:{KSERVE_VERSION}",
}

# ClusterServingRuntime keys -> object names.
RUNTIMES: dict[str, str] = {
    "huggingfaceserver": "kserve-huggingfaceserver",
    "huggingfaceserver-multinode": "kserve-huggingfaceserver-multinode",
    "lgbserver": "kserve-lgbserver",
    "mlserver": "kserve-mlserver",
    "paddleserver": "kserve-paddleserver",
    "pmmlserver": "kserve-pmmlserver",
    "sklearnserver": "kserve-sklearnserver",
    "tensorflow-serving": "kserve-tensorflow-serving",
    "torchserve": "kserve-torchserve",
    "tritonserver": "kserve-tritonserver",
    "xgbserver": "kserve-xgbserver",
}

# Architectures the default runtime images are published for (upstream CI and registries;
# see UPSTREAM.md). A runtime whose default image is missing for the unit's architecture is
# installed disabled unless the operator overrides its image.
_AMD64_ARM64 = frozenset({"amd64", "arm64"})
_AMD64 = frozenset({"amd64"})
RUNTIME_IMAGE_ARCHES: dict[str, frozenset[str]] = {
    "huggingfaceserver": _AMD64,
    "huggingfaceserver-multinode": _AMD64,
    "lgbserver": _AMD64_ARM64,
    "mlserver": _AMD64,
    "paddleserver": _AMD64_ARM64,
    "pmmlserver": _AMD64_ARM64,
    "sklearnserver": _AMD64_ARM64,
    "tensorflow-serving": _AMD64,
    "torchserve": _AMD64,
    "tritonserver": _AMD64_ARM64,
    "xgbserver": _AMD64_ARM64,
}

_MACHINE_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/:@+]*$")

# Defaults of the config options (charmcraft.yaml; a unit test keeps both in step).
DEFAULT_OPTIONS: dict[str, Any] = {
    "deployment-mode": "serverless",
    "domain": "example.com",
    "domain-template": "{{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}",
    "url-scheme": "http",
    "ingress-class": "istio",
    "local-gateway-service": "",
    "http-proxy": "",
    "https-proxy": "",
    "no-proxy": "",
    "custom-images": "",
    "disabled-serving-runtimes": "",
    "inferenceservice-cpu-request": "1",
    "inferenceservice-cpu-limit": "1",
    "inferenceservice-memory-request": "2Gi",
    "inferenceservice-memory-limit": "2Gi",
    "storage-initializer-cpu-request": "100m",
    "storage-initializer-cpu-limit": "1",
    "storage-initializer-memory-request": "100Mi",
    "storage-initializer-memory-limit": "1Gi",
    "kserve-controller-cpu-request": "100m",
    "kserve-controller-cpu-limit": "",
    "kserve-controller-memory-request": "200Mi",
    "kserve-controller-memory-limit": "1Gi",
    "models-web-app-cpu-request": "50m",
    "models-web-app-cpu-limit": "",
    "models-web-app-memory-request": "128Mi",
    "models-web-app-memory-limit": "512Mi",
    "storage-service-account": "kserve-controller-s3",
    "storage-tls-verify": True,
    "models-web-app": True,
    "secure-cookies": False,
}


class ConfigError(ValueError):
    """A config option has an invalid value.

    Attributes:
        option: the option name.
        reason: what is wrong (never the value of a credential).
    """

    def __init__(self, option: str, reason: str):
        super().__init__(f"invalid config option {option}: {reason}")
        self.option = option
        self.reason = reason


class StorageDataError(ValueError):
    """Object storage data from a relation cannot be used.

    Attributes:
        endpoint: the relation endpoint.
        field: the offending field.
    """

    def __init__(self, endpoint: str, field_name: str, reason: str):
        super().__init__(f"{endpoint}: invalid '{field_name}': {reason}")
        self.endpoint = endpoint
        self.field = field_name


def unit_architecture() -> str:
    """The unit's architecture in Juju/OCI terms (amd64, arm64, ppc64le, s390x)."""
    machine = platform.machine().lower()
    return _MACHINE_ARCH.get(machine, machine)


def _controller_resources(options: Mapping[str, Any], prefix: str) -> ContainerResources:
    """Requests and limits of one of our workload containers (empty options are unset)."""
    try:
        return ContainerResources.from_config(options, prefix)
    except ResourceConfigError as err:
        raise ConfigError(err.option, err.reason) from None


def _pod_defaults(options: Mapping[str, Any], prefix: str) -> ContainerResources:
    """Requests and limits KServe writes into the pods it creates: all four must be set."""
    for option in resource_option_names(prefix):
        value = str(options.get(option, "") or "").strip()
        if not value:
            raise ConfigError(option, "must be set (KServe puts it in every pod it creates)")
        try:
            quantity = parse_quantity(value) if is_quantity(value) else None
        except (ValueError, ArithmeticError):  # e.g. 1e999999999: out of Decimal's range
            reason = f"{value[:40]!r} is not a quantity Kubernetes can use"
            raise ConfigError(option, reason) from None
        if quantity is not None and quantity <= 0:
            raise ConfigError(option, "must be greater than zero")
    return _controller_resources(options, prefix)


def _dns_name(options: Mapping[str, Any], option: str, *, allow_empty: bool = False) -> str:
    value = str(options.get(option, "")).strip()
    if not value and allow_empty:
        return ""
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise ConfigError(option, "must be a lowercase DNS name (letters, digits, '-', '.')")
    return value


def _proxy(options: Mapping[str, Any], option: str) -> str:
    value = str(options.get(option, "")).strip()
    if not value:
        return ""
    if any(ch.isspace() for ch in value):
        raise ConfigError(option, "must not contain whitespace")
    if not value.isascii():
        raise ConfigError(option, "must be ASCII (write international host names in punycode)")
    not_a_url = "must be a proxy URL such as http://proxy.example:3128"
    try:
        parts = urlsplit(value if "://" in value else f"http://{value}")
        hostname = parts.hostname
    except ValueError:  # e.g. an unbalanced or invalid [IPv6] literal
        raise ConfigError(option, not_a_url) from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise ConfigError(option, not_a_url)
    if parts.username or parts.password:
        # The value lands in a ClusterStorageContainer, readable cluster-wide.
        raise ConfigError(option, "must not embed credentials (user:password@)")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError(option, "has an invalid port") from None
    return value


def _no_proxy(options: Mapping[str, Any]) -> str:
    value = str(options.get("no-proxy", "")).strip()
    items = [item.strip() for item in value.split(",") if item.strip()]
    for item in items:
        if any(ch.isspace() for ch in item) or not re.match(r"^[A-Za-z0-9.*:/_\-\[\]]+$", item):
            raise ConfigError("no-proxy", "must be a comma-separated list of hosts or CIDRs")
    return ",".join(items)


def _custom_images(options: Mapping[str, Any]) -> dict[str, str]:
    raw = str(options.get("custom-images", "") or "").strip()
    if not raw:
        return {}
    try:
        loaded = yaml.safe_load(raw)
    except (yaml.YAMLError, RecursionError):  # RecursionError: absurdly deep nesting
        raise ConfigError("custom-images", "not valid YAML or JSON") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError("custom-images", "must be a mapping of image key to image reference")
    images: dict[str, str] = {}
    for key, value in loaded.items():
        if key not in DEFAULT_IMAGES:
            raise ConfigError(
                "custom-images",
                f"unknown key {str(key)[:40]!r} (known: {', '.join(sorted(DEFAULT_IMAGES))})",
            )
        if not isinstance(value, str) or len(value) > 512 or not _IMAGE.match(value.strip()):
            raise ConfigError("custom-images", f"{key}: not an image reference")
        images[key] = value.strip()
    return images


def _disabled_runtimes(options: Mapping[str, Any]) -> frozenset[str]:
    raw = str(options.get("disabled-serving-runtimes", "") or "")
    keys = [key.strip() for key in raw.split(",") if key.strip()]
    for key in keys:
        name = key.removeprefix("kserve-") if key not in RUNTIMES else key
        if name not in RUNTIMES:
            raise ConfigError(
                "disabled-serving-runtimes",
                f"unknown runtime {key[:40]!r} (known: {', '.join(RUNTIMES)})",
            )
    return frozenset(key if key in RUNTIMES else key.removeprefix("kserve-") for key in keys)


def _domain_template(options: Mapping[str, Any]) -> str:
    value = str(options.get("domain-template", "")).strip()
    if not value or value.count("{{") != value.count("}}"):
        raise ConfigError("domain-template", "must be a Go template with balanced {{ }}")
    if ".Name" not in value or ".Namespace" not in value:
        raise ConfigError("domain-template", "must use {{ .Name }} and {{ .Namespace }}")
    if "\n" in value or '"' in value:
        raise ConfigError("domain-template", "must be a single line without quotes")
    return value


# Resources as in DEFAULT_OPTIONS (ContainerResources is frozen: safe to share as defaults).
_ISVC_RESOURCES = ContainerResources("1", "1", "2Gi", "2Gi")
_STORAGE_INITIALIZER_RESOURCES = ContainerResources("100m", "1", "100Mi", "1Gi")
_CONTROLLER_RESOURCES = ContainerResources("100m", "", "200Mi", "1Gi")
_WEB_APP_RESOURCES = ContainerResources("50m", "", "128Mi", "512Mi")


@dataclass(frozen=True)
class KServeConfig:
    """The validated charm configuration."""

    deployment_mode: str = "Serverless"
    domain: str = "example.com"
    domain_template: str = "{{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}"
    url_scheme: str = "http"
    ingress_class: str = "istio"
    local_gateway_service: str = ""
    http_proxy: str = ""
    https_proxy: str = ""
    no_proxy: str = ""
    custom_images: dict[str, str] = field(default_factory=dict)
    disabled_runtimes: frozenset[str] = frozenset()
    inferenceservice_resources: ContainerResources = _ISVC_RESOURCES
    storage_initializer_resources: ContainerResources = _STORAGE_INITIALIZER_RESOURCES
    controller_resources: ContainerResources = _CONTROLLER_RESOURCES
    web_app_resources: ContainerResources = _WEB_APP_RESOURCES
    storage_service_account: str = "kserve-controller-s3"
    storage_tls_verify: bool = True
    models_web_app: bool = True
    secure_cookies: bool = False

    @property
    def serverless(self) -> bool:
        """Whether InferenceServices default to Knative (serverless) mode."""
        return self.deployment_mode == "Serverless"

    @property
    def images(self) -> dict[str, str]:
        """Every image, defaults overridden by `custom-images`."""
        return {**DEFAULT_IMAGES, **self.custom_images}

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> KServeConfig:
        """Validate the charm's config options.

        Args:
            options: the charm config (`self.config`).

        Raises:
            ConfigError: the first invalid option, with the reason.
        """
        options = {**DEFAULT_OPTIONS, **dict(options)}
        mode = str(options.get("deployment-mode", "serverless")).strip().lower()
        modes = {"serverless": "Serverless", "raw": "RawDeployment", "standard": "RawDeployment"}
        if mode not in modes:
            raise ConfigError("deployment-mode", "must be serverless or raw")
        scheme = str(options.get("url-scheme", "http")).strip().lower()
        if scheme not in ("http", "https"):
            raise ConfigError("url-scheme", "must be http or https")
        for option in ("storage-tls-verify", "models-web-app", "secure-cookies"):
            if option in options and not isinstance(options[option], bool):
                raise ConfigError(option, "must be true or false")
        account = _dns_name(options, "storage-service-account")
        return cls(
            deployment_mode=modes[mode],
            domain=_dns_name(options, "domain"),
            domain_template=_domain_template(options),
            url_scheme=scheme,
            ingress_class=_dns_name(options, "ingress-class"),
            local_gateway_service=_dns_name(options, "local-gateway-service", allow_empty=True),
            http_proxy=_proxy(options, "http-proxy"),
            https_proxy=_proxy(options, "https-proxy"),
            no_proxy=_no_proxy(options),
            custom_images=_custom_images(options),
            disabled_runtimes=_disabled_runtimes(options),
            inferenceservice_resources=_pod_defaults(options, "inferenceservice"),
            storage_initializer_resources=_pod_defaults(options, "storage-initializer"),
            controller_resources=_controller_resources(options, CONTROLLER_CONTAINER),
            web_app_resources=_controller_resources(options, WEB_APP_CONTAINER),
            storage_service_account=account,
            storage_tls_verify=bool(options.get("storage-tls-verify", True)),
            models_web_app=bool(options.get("models-web-app", True)),
            secure_cookies=bool(options.get("secure-cookies", False)),
        )

    def runtime_disabled(self, key: str, arch: str) -> bool:
        """Whether a ClusterServingRuntime is installed disabled on this architecture."""
        if key in self.disabled_runtimes:
            return True
        return key not in self.custom_images and arch not in RUNTIME_IMAGE_ARCHES[key]


# --------------------------------------------------------------------------------------------
# Pebble
# --------------------------------------------------------------------------------------------


def controller_layer(namespace: str, log_targets: Mapping[str, Any]) -> dict[str, Any]:
    """The Pebble layer of the KServe controller manager.

    Metrics listen on all interfaces so Prometheus scrapes them directly (no RBAC proxy
    sidecar); webhooks on 9443 with the certificates in `CERT_DIR`; health probes on 8081.

    Args:
        namespace: the controller's namespace (the model), where it reads its ConfigMap.
        log_targets: Pebble log targets (from `LogForwarder.log_targets`).
    """
    return {
        "summary": "KServe controller",
        "services": {
            CONTROLLER_SERVICE: {
                "override": "replace",
                "summary": "KServe controller manager",
                "command": f"/manager --metrics-addr=:{METRICS_PORT} --leader-elect",
                "startup": "enabled",
                "environment": {"POD_NAMESPACE": namespace},
                "on-check-failure": {"kserve-controller-alive": "restart"},
            }
        },
        "checks": {
            "kserve-controller-ready": {
                "override": "replace",
                "level": "ready",
                "period": "10s",
                "threshold": 3,
                "http": {"url": f"http://localhost:{PROBE_PORT}/readyz"},
            },
            "kserve-controller-alive": {
                "override": "replace",
                "level": "alive",
                "period": "30s",
                "threshold": 5,
                "http": {"url": f"http://localhost:{PROBE_PORT}/healthz"},
            },
        },
        "log-targets": dict(log_targets),
    }


def web_app_layer(config: KServeConfig, log_targets: Mapping[str, Any]) -> dict[str, Any]:
    """The Pebble layer of the models web app (served under `WEB_APP_PREFIX`).

    Args:
        config: the validated configuration.
        log_targets: Pebble log targets.
    """
    return {
        "summary": "KServe models web app",
        "services": {
            WEB_APP_SERVICE: {
                "override": "replace",
                "summary": "models web app (gunicorn)",
                "command": (
                    f"gunicorn -w 3 --bind 0.0.0.0:{WEB_APP_PORT} --access-logfile - "
                    "entrypoint:app"
                ),
                "working-dir": "/src",
                "startup": "enabled",
                "environment": {
                    "USERID_HEADER": USERID_HEADER,
                    "USERID_PREFIX": "",
                    "APP_PREFIX": WEB_APP_PREFIX,
                    "APP_SECURE_COOKIES": "true" if config.secure_cookies else "false",
                },
                "on-check-failure": {"models-web-app-alive": "restart"},
            }
        },
        "checks": {
            "models-web-app-ready": {
                "override": "replace",
                "level": "ready",
                "period": "10s",
                "threshold": 3,
                "http": {"url": f"http://localhost:{WEB_APP_PORT}/healthz/readiness"},
            },
            "models-web-app-alive": {
                "override": "replace",
                "level": "alive",
                "period": "30s",
                "threshold": 5,
                "http": {"url": f"http://localhost:{WEB_APP_PORT}/healthz/liveness"},
            },
        },
        "log-targets": dict(log_targets),
    }


# --------------------------------------------------------------------------------------------
# Object storage
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StorageEndpoint:
    """Where and how InferenceServices pull models from S3-compatible storage.

    Attributes:
        host: `host[:port]` of the endpoint, or "" for AWS' default endpoint.
        use_https: whether to use TLS.
        region: the region to sign requests for.
        virtual_bucket: host-style (True) or path-style (False) bucket addressing, if known.
        ca_bundle: PEM certificates to trust for the endpoint, if any.
        access_key: the access key (hidden from repr).
        secret_key: the secret key (hidden from repr).
        source: the relation endpoint it came from.
    """

    host: str
    use_https: bool
    region: str
    virtual_bucket: bool | None
    ca_bundle: str | None
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    source: str = "s3"


DEFAULT_REGION = "us-east-1"
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.\-]*[A-Za-z0-9])?$|^\[[0-9A-Fa-f:.]+\]$")


def _pem_bundle(chain: list[str], endpoint: str) -> str:
    pems: list[str] = []
    for index, item in enumerate(chain):
        text = item.strip()
        if "-----BEGIN CERTIFICATE-----" not in text:
            try:
                text = base64.b64decode(text, validate=True).decode().strip()
            except (binascii.Error, UnicodeDecodeError):
                text = ""
        if "-----BEGIN CERTIFICATE-----" not in text or "-----END CERTIFICATE-----" not in text:
            raise StorageDataError(
                endpoint, "tls-ca-chain", f"entry {index} is not a PEM certificate"
            )
        pems.append(text)
    return "\n".join(pems) + "\n"


def storage_from_s3(
    *,
    access_key: str,
    secret_key: str,
    endpoint: str | None,
    region: str | None,
    s3_uri_style: str | None,
    tls_ca_chain: list[str] | None,
    relation: str = "s3",
) -> StorageEndpoint:
    """Build the storage endpoint from `s3` relation data.

    Raises:
        StorageDataError: the endpoint URL or CA chain is unusable.
    """
    host, use_https = "", True
    if endpoint:
        try:
            parts = urlsplit(endpoint.strip())
            hostname = parts.hostname
        except ValueError:  # e.g. an unbalanced or invalid [IPv6] literal
            raise StorageDataError(relation, "endpoint", "expected an http(s) URL") from None
        if parts.scheme not in ("http", "https") or not hostname:
            raise StorageDataError(relation, "endpoint", "expected an http(s) URL")
        if parts.username or parts.password:
            raise StorageDataError(relation, "endpoint", "must not embed credentials")
        try:
            port = parts.port
        except ValueError:
            raise StorageDataError(relation, "endpoint", "invalid port") from None
        if not _HOST.fullmatch(hostname):
            raise StorageDataError(relation, "endpoint", "invalid host name")
        host = f"{hostname}:{port}" if port else hostname
        use_https = parts.scheme == "https"
    if region is not None and not re.fullmatch(r"[a-z0-9][a-z0-9\-]{0,62}", region):
        raise StorageDataError(relation, "region", "expected a region name such as us-east-1")
    virtual = None if s3_uri_style is None else s3_uri_style == "host"
    ca = _pem_bundle(tls_ca_chain, relation) if tls_ca_chain else None
    return StorageEndpoint(
        host=host,
        use_https=use_https,
        region=region or DEFAULT_REGION,
        virtual_bucket=virtual,
        ca_bundle=ca if use_https else None,
        access_key=access_key,
        secret_key=secret_key,
        source=relation,
    )


def storage_from_object_storage(
    *,
    access_key: str,
    secret_key: str,
    host: str,
    port: int,
    secure: bool,
    relation: str = "object-storage",
) -> StorageEndpoint:
    """Build the storage endpoint from legacy `object-storage` (SDI) data.

    Raises:
        StorageDataError: the service name is not a host name.
    """
    if not _HOST.fullmatch(host):
        raise StorageDataError(relation, "service", "invalid host name")
    return StorageEndpoint(
        host=f"{host}:{port}",
        use_https=secure,
        region=DEFAULT_REGION,
        virtual_bucket=False,
        ca_bundle=None,
        access_key=access_key,
        secret_key=secret_key,
        source=relation,
    )


def storage_secret_manifest(
    storage: StorageEndpoint, name: str, *, verify_tls: bool
) -> dict[str, Any]:
    """The Secret (no namespace) with KServe's S3 annotations and AWS credential keys."""
    annotations = {
        "serving.kserve.io/s3-usehttps": "1" if storage.use_https else "0",
        "serving.kserve.io/s3-region": storage.region,
        "serving.kserve.io/s3-useanoncredential": "false",
    }
    if storage.host:
        annotations["serving.kserve.io/s3-endpoint"] = storage.host
    if storage.virtual_bucket is not None:
        annotations["serving.kserve.io/s3-usevirtualbucket"] = (
            "1" if storage.virtual_bucket else "0"
        )
    if storage.use_https:
        annotations["serving.kserve.io/s3-verifyssl"] = "1" if verify_tls else "0"
        if storage.ca_bundle and verify_tls:
            annotations["serving.kserve.io/s3-cabundle"] = f"{CA_BUNDLE_MOUNT}/{CA_BUNDLE_KEY}"
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/name": "kserve"},
            "annotations": annotations,
        },
        "type": "Opaque",
        "stringData": {
            "AWS_ACCESS_KEY_ID": storage.access_key,
            "AWS_SECRET_ACCESS_KEY": storage.secret_key,
        },
    }


def storage_service_account_manifest(name: str) -> dict[str, Any]:
    """The ServiceAccount (no namespace) whose Secret KServe's credential builder reads."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "kserve"}},
        "secrets": [{"name": name}],
    }


# --------------------------------------------------------------------------------------------
# Manifests
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gateways:
    """Gateways from the relations (references are `namespace/name`)."""

    ingress: str | None = None
    ingress_namespace: str | None = None
    local: str | None = None


def local_gateway_service(config: KServeConfig, gateways: Gateways) -> str:
    """Host of the Service behind the Knative local gateway."""
    if config.local_gateway_service:
        return config.local_gateway_service
    namespace = gateways.ingress_namespace or "istio-system"
    return f"knative-local-gateway.{namespace}.svc.cluster.local"


def inferenceservice_config(
    config: KServeConfig,
    namespace: str,
    gateways: Gateways,
    ca_bundle_configmap: str | None,
) -> dict[str, str]:
    """The data of the `inferenceservice-config` ConfigMap: one JSON document per key.

    Args:
        config: the validated configuration.
        namespace: the model namespace (fallback gateway namespace).
        gateways: the gateways known from relations.
        ca_bundle_configmap: name of the ConfigMap holding the object store's CA, if any.
    """
    images = config.images
    isvc = config.inferenceservice_resources
    si = config.storage_initializer_resources

    def repo_tag(image: str) -> tuple[str, str]:
        name, sep, tag = image.rpartition(":")
        if not sep or "/" in tag:
            return image, "latest"
        return name, tag

    art_image, art_tag = repo_tag(images["art-explainer"])
    sidecar = {
        "memoryRequest": "100Mi",
        "memoryLimit": "1Gi",
        "cpuRequest": "100m",
        "cpuLimit": "1",
    }
    data: dict[str, Any] = {
        "agent": {"image": images["agent"], **sidecar},
        "batcher": {
            "image": images["agent"],
            "memoryRequest": "1Gi",
            "memoryLimit": "1Gi",
            "cpuRequest": "1",
            "cpuLimit": "1",
            "maxBatchSize": "32",
            "maxLatency": "5000",
        },
        "credentials": {
            "storageSpecSecretName": "storage-config",
            "storageSecretNameAnnotation": "serving.kserve.io/storageSecretName",
            "gcs": {"gcsCredentialFileName": "gcloud-application-credentials.json"},
            "s3": {
                "s3AccessKeyIDName": "AWS_ACCESS_KEY_ID",
                "s3SecretAccessKeyName": "AWS_SECRET_ACCESS_KEY",
                "s3Endpoint": "",
                "s3UseHttps": "",
                "s3Region": "",
                "s3VerifySSL": "",
                "s3UseVirtualBucket": "",
                "s3UseAccelerate": "",
                "s3UseAnonymousCredential": "",
                "s3CABundle": "",
            },
        },
        "deploy": {"defaultDeploymentMode": config.deployment_mode},
        "explainers": {"art": {"image": art_image, "defaultImageVersion": art_tag}},
        "inferenceService": {
            "resource": {
                "cpuLimit": isvc.cpu_limit,
                "memoryLimit": isvc.memory_limit,
                "cpuRequest": isvc.cpu_request,
                "memoryRequest": isvc.memory_request,
            }
        },
        "ingress": {
            "enableGatewayApi": False,
            "kserveIngressGateway": "kserve/kserve-ingress-gateway",
            "ingressGateway": gateways.ingress or f"{namespace}/kubeflow-gateway",
            "localGateway": gateways.local or "knative-serving/knative-local-gateway",
            "localGatewayService": local_gateway_service(config, gateways),
            "ingressDomain": config.domain,
            "ingressClassName": config.ingress_class,
            "domainTemplate": config.domain_template,
            "urlScheme": config.url_scheme,
            "disableIstioVirtualHost": False,
            "disableIngressCreation": False,
        },
        "localModel": {
            "enabled": False,
            "jobNamespace": "kserve-localmodel-jobs",
            "defaultJobImage": images["storage-initializer"],
            "fsGroup": 1000,
        },
        "logger": {"image": images["agent"], **sidecar, "defaultUrl": "http://default-broker"},
        "metricsAggregator": {
            "enableMetricAggregation": "false",
            "enablePrometheusScraping": "false",
        },
        "opentelemetryCollector": {
            "scrapeInterval": "5s",
            "metricReceiverEndpoint": "keda-otel-scaler.keda.svc:4317",
            "metricScalerEndpoint": "keda-otel-scaler.keda.svc:4318",
        },
        "router": {"image": images["router"], **sidecar, "imagePullPolicy": "IfNotPresent"},
        "security": {"autoMountServiceAccountToken": True},
        "storageInitializer": {
            "image": images["storage-initializer"],
            "memoryRequest": si.memory_request,
            "memoryLimit": si.memory_limit,
            "cpuRequest": si.cpu_request,
            "cpuLimit": si.cpu_limit,
            "caBundleConfigMapName": ca_bundle_configmap or "",
            "caBundleVolumeMountPath": CA_BUNDLE_MOUNT,
            "enableDirectPvcVolumeMount": True,
            "enableModelcar": True,
            "cpuModelcar": "10m",
            "memoryModelcar": "15Mi",
            "uidModelcar": 1010,
        },
    }
    return {key: json.dumps(value, indent=2, sort_keys=True) for key, value in data.items()}


@dataclass(frozen=True)
class MainContext:
    """Template context of `templates/*.yaml.j2` (scope "main").

    Attributes:
        app: the application name.
        namespace: the model namespace.
        cluster_prefix: prefix of cluster-scoped names, unique per model and app.
        webhook_service: name of the webhook Service.
        ca_bundle: base64 PEM bundle for the webhook configurations' `caBundle`.
        isvc_config: data of the `inferenceservice-config` ConfigMap.
        storage_ca_configmap: name of the object store CA ConfigMap, or "" for none.
        storage_ca_bundle: its PEM content.
    """

    app: str
    namespace: str
    cluster_prefix: str
    webhook_service: str
    ca_bundle: str
    isvc_config: dict[str, str]
    storage_ca_configmap: str = ""
    storage_ca_bundle: str = ""


@dataclass(frozen=True)
class RuntimeContext:
    """Template context of `templates/runtimes/*.yaml.j2` (scope "runtimes").

    Attributes:
        images: image of every key.
        disabled: runtime keys installed with `spec.disabled: true`.
        storage_initializer: resources of the storage initializer.
        proxy_env: HTTP(S)_PROXY/NO_PROXY environment of the storage initializer.
    """

    images: dict[str, str]
    disabled: frozenset[str]
    storage_initializer: ContainerResources
    proxy_env: list[dict[str, str]]


def webhook_service_name(app: str) -> str:
    """Name of the Service in front of the controller's webhook server."""
    return f"{app}-webhook-server-service"


def webhook_dns_names(app: str, namespace: str) -> list[str]:
    """SANs of the webhook serving certificate."""
    service = webhook_service_name(app)
    return [
        f"{service}.{namespace}.svc",
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc.cluster.local",
    ]


def storage_ca_configmap_name(app: str) -> str:
    """Name of the ConfigMap holding the object store's CA bundle."""
    return f"{app}-s3-ca-bundle"


def main_context(
    *,
    app: str,
    namespace: str,
    config: KServeConfig,
    gateways: Gateways,
    ca_bundle_b64: str,
    storage: StorageEndpoint | None,
) -> MainContext:
    """Build the context of the main manifests."""
    ca_name = storage_ca_configmap_name(app) if storage and storage.ca_bundle else ""
    return MainContext(
        app=app,
        namespace=namespace,
        cluster_prefix=f"{namespace}-{app}",
        webhook_service=webhook_service_name(app),
        ca_bundle=ca_bundle_b64,
        isvc_config=inferenceservice_config(config, namespace, gateways, ca_name or None),
        storage_ca_configmap=ca_name,
        storage_ca_bundle=storage.ca_bundle if storage and storage.ca_bundle else "",
    )


def runtime_context(config: KServeConfig, arch: str) -> RuntimeContext:
    """Build the context of the serving runtimes and storage container."""
    env = []
    for name, value in (
        ("HTTP_PROXY", config.http_proxy),
        ("HTTPS_PROXY", config.https_proxy),
        ("NO_PROXY", config.no_proxy),
    ):
        if value:
            env += [{"name": name, "value": value}, {"name": name.lower(), "value": value}]
    return RuntimeContext(
        images=config.images,
        disabled=frozenset(key for key in RUNTIMES if config.runtime_disabled(key, arch)),
        storage_initializer=config.storage_initializer_resources,
        proxy_env=env,
    )
