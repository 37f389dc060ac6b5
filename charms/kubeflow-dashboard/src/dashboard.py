"""Workload logic of the kubeflow-dashboard charm, free of ops.

- `DashboardConfig`: the charm options, validated; errors name the option (and link entry).
  Container requests/limits: the shared `kubeflow-dashboard-{cpu,memory}-{request,limit}`
  options, validated by `kfcharm.resources`.
- `Link`, `render_links`: links from relations and config, ordered, as the ConfigMap JSON.
- `dashboard_layer`: the Pebble layer; `manifest_context`: template variables.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from kfcharm.resources import ContainerResources, ResourceConfigError

CONTAINER = "kubeflow-dashboard"
SERVICE = "kubeflow-dashboard"
PORT = 8082
METRICS_PATH = "/prometheus/metrics"
APP_DIR = "/usr/src/app"
WORKLOAD_UID = 1000  # the image's "node" user

LOCATIONS = ("menu", "external", "quick", "documentation")
# Key of each location in the ConfigMap's `links` JSON.
LOCATION_KEYS = {
    "menu": "menuLinks",
    "external": "externalLinks",
    "quick": "quickLinks",
    "documentation": "documentationItems",
}

# Used with fullmatch: `$` would also match before a trailing newline.
_HEADER = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_MAX_TEXT = 200
_MAX_LINK = 2048


class ConfigError(ValueError):
    """A charm option is invalid.

    Attributes:
        option: the option name.
        reason: what is wrong (naming the entry for link lists).
    """

    def __init__(self, option: str, reason: str):
        self.option = option
        self.reason = reason
        super().__init__(f"invalid config '{option}': {reason}")


@dataclass(frozen=True)
class Link:
    """One dashboard link, whatever its source.

    Attributes:
        text: label shown.
        link: relative path or URL.
        location: menu, external, quick or documentation.
        icon: iron-icons name.
        type: entry type ("item").
        desc: description (quick and documentation links).
    """

    text: str
    link: str
    location: str
    icon: str = "icons:link"
    type: str = "item"
    desc: str = ""

    def to_configmap(self) -> dict[str, str]:
        """The entry as the dashboard reads it for this link's location."""
        if self.location in ("quick", "documentation"):
            return {"text": self.text, "desc": self.desc, "link": self.link}
        return {"type": self.type, "link": self.link, "text": self.text, "icon": self.icon}


def parse_yaml_text(text: str) -> Any:
    """Parse YAML (or JSON) text; any failure is a ValueError without the input in it."""
    try:
        return yaml.safe_load(text)
    except Exception:  # YAMLError, but also ValueError/RecursionError from odd input
        raise ValueError("not valid YAML or JSON") from None


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_link_option(option: str, text: str, location: str) -> list[Link]:
    """Parse an `additional-<location>-links` option.

    Args:
        option: the option name (for messages).
        text: its value: a YAML/JSON list of link maps; empty means none.
        location: the location the option is for.

    Returns:
        The links, in the given order.

    Raises:
        ConfigError: invalid YAML, not a list, or an entry with a missing/invalid field or the
            wrong location; the message names the entry by index and text.
    """
    if not text.strip():
        return []
    try:
        data = parse_yaml_text(text)
    except ValueError as err:
        raise ConfigError(option, str(err)) from None
    if data is None:
        return []
    if not isinstance(data, list):
        raise ConfigError(option, "must be a YAML or JSON list of links")
    links = []
    for index, entry in enumerate(data):
        where = f"entry {index}"
        if isinstance(entry, dict) and isinstance(entry.get("text"), str):
            where += f" ({_short(entry['text'])!r})"
        if not isinstance(entry, dict):
            raise ConfigError(option, f"{where}: must be a map with text and link")
        unknown = sorted(str(k) for k in entry if k not in {*Link.__dataclass_fields__})
        if unknown:
            raise ConfigError(option, f"{where}: unknown field(s) {', '.join(unknown)}")
        for key in ("text", "link"):
            value = entry.get(key)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(option, f"{where}: missing '{key}'")
        given = entry.get("location", location)
        if given != location:
            raise ConfigError(
                option,
                f"{where}: location {_short(given)!r} does not belong here (use "
                f"additional-{given}-links for it)"
                if given in LOCATIONS
                else f"{where}: location must be {location!r}",
            )
        for key in ("icon", "type", "desc"):
            if key in entry and not isinstance(entry[key], str):
                raise ConfigError(option, f"{where}: '{key}' must be a string")
        link = Link(
            text=entry["text"].strip(),
            link=entry["link"].strip(),
            location=location,
            icon=entry.get("icon") or "icons:link",
            type=entry.get("type") or "item",
            desc=entry.get("desc") or "",
        )
        if len(link.text) > _MAX_TEXT or len(link.link) > _MAX_LINK:
            raise ConfigError(option, f"{where}: text or link too long")
        links.append(link)
    return links


def parse_order_option(option: str, text: str) -> list[str]:
    """Parse a `<location>-link-order` option (a YAML/JSON list of link texts)."""
    if not text.strip():
        return []
    try:
        data = parse_yaml_text(text)
    except ValueError as err:
        raise ConfigError(option, str(err)) from None
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
        raise ConfigError(option, "must be a YAML or JSON list of link texts")
    return [item.strip() for item in data]


@dataclass(frozen=True)
class DashboardConfig:
    """The validated charm options."""

    userid_header: str
    userid_prefix: str
    registration_flow: bool
    logout_url: str
    configmap_name: str
    force_iframe: bool
    extra_links: tuple[Link, ...]
    link_order: Mapping[str, tuple[str, ...]]
    resources: ContainerResources = field(default_factory=ContainerResources)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> DashboardConfig:
        """Validate the charm options.

        Args:
            options: the Juju config (option name -> value).

        Raises:
            ConfigError: naming the first invalid option and why.
        """
        header = str(options.get("userid-header", ""))
        if not _HEADER.fullmatch(header):
            raise ConfigError(
                "userid-header", "must be an HTTP header name such as kubeflow-userid"
            )
        prefix = str(options.get("userid-prefix", ""))
        if any(ch in prefix for ch in "\r\n\t\0") or len(prefix) > 253:
            raise ConfigError("userid-prefix", "must be one line of at most 253 characters")
        logout = str(options.get("logout-url", "")).strip()
        if not logout or any(ch.isspace() for ch in logout) or len(logout) > _MAX_LINK:
            raise ConfigError("logout-url", "must be a path or URL without spaces")
        configmap = str(options.get("dashboard-configmap", ""))
        if len(configmap) > 253 or not _DNS_SUBDOMAIN.fullmatch(configmap):
            raise ConfigError("dashboard-configmap", "must be a Kubernetes object name")
        registration = options.get("registration-flow", True)
        iframe = options.get("force-iframe", True)
        if not isinstance(registration, bool):
            raise ConfigError("registration-flow", "must be true or false")
        if not isinstance(iframe, bool):
            raise ConfigError("force-iframe", "must be true or false")
        links: list[Link] = []
        order: dict[str, tuple[str, ...]] = {}
        for location in LOCATIONS:
            option = f"additional-{location}-links"
            links += parse_link_option(option, str(options.get(option, "")), location)
            option = f"{location}-link-order"
            order[location] = tuple(parse_order_option(option, str(options.get(option, ""))))
        try:
            resources = ContainerResources.from_config(options, CONTAINER)
        except ResourceConfigError as err:
            raise ConfigError(err.option, err.reason) from None
        return cls(
            userid_header=header,
            userid_prefix=prefix,
            registration_flow=registration,
            logout_url=logout,
            configmap_name=configmap,
            force_iframe=iframe,
            extra_links=tuple(links),
            link_order=order,
            resources=resources,
        )


def order_links(links: Iterable[Link], order: Sequence[str]) -> list[Link]:
    """Links named in `order` first (in that order), then the rest by text (case-insensitive).

    Several links with the same text keep their relative order.
    """
    position = {text: index for index, text in reversed(list(enumerate(order)))}
    items = list(links)
    listed = sorted(
        (link for link in items if link.text in position), key=lambda link: position[link.text]
    )
    rest = sorted(
        (link for link in items if link.text not in position),
        key=lambda link: (link.text.casefold(), link.text),
    )
    return listed + rest


def render_links(links: Iterable[Link], order: Mapping[str, Sequence[str]]) -> dict[str, list]:
    """The ConfigMap's `links` document: each location's links, ordered."""
    by_location: dict[str, list[Link]] = {location: [] for location in LOCATIONS}
    for link in links:
        by_location[link.location].append(link)
    return {
        LOCATION_KEYS[location]: [
            link.to_configmap()
            for link in order_links(by_location[location], order.get(location, ()))
        ]
        for location in LOCATIONS
    }


def configmap_data(links: Iterable[Link], config: DashboardConfig) -> dict[str, str]:
    """The `data` of the dashboard ConfigMap: `links` and `settings`, both JSON strings."""
    return {
        "links": json.dumps(render_links(links, config.link_order), indent=2, sort_keys=False),
        "settings": json.dumps({"DASHBOARD_FORCE_IFRAME": config.force_iframe}),
    }


@dataclass(frozen=True)
class Kfam:
    """Where KFAM is (from the kubeflow-profiles relation)."""

    host: str
    port: int


def kfam_from_relation(service_name: str, port: int, namespace: str) -> Kfam:
    """KFAM's address: a bare Service name is qualified with the model namespace."""
    host = service_name if "." in service_name else f"{service_name}.{namespace}.svc"
    return Kfam(host=host, port=port)


def dashboard_environment(config: DashboardConfig, kfam: Kfam, namespace: str) -> dict[str, str]:
    """Every environment variable the dashboard reads, set explicitly (code defaults are GCP's)."""
    return {
        "NODE_ENV": "production",
        "HOME": "/home/node",
        "PORT_1": str(PORT),
        "USERID_HEADER": config.userid_header,
        "USERID_PREFIX": config.userid_prefix,
        "PROFILES_KFAM_SERVICE_HOST": kfam.host,
        "PROFILES_KFAM_SERVICE_PORT": str(kfam.port),
        "REGISTRATION_FLOW": "true" if config.registration_flow else "false",
        "DASHBOARD_CONFIGMAP": config.configmap_name,
        "LOGOUT_URL": config.logout_url,
        "POD_NAMESPACE": namespace,
        "COLLECT_METRICS": "true",
        "DEBUG": "false",
    }


def dashboard_layer(
    config: DashboardConfig, kfam: Kfam, namespace: str, log_targets: Mapping[str, Any]
) -> dict[str, Any]:
    """Pebble layer of the dashboard, with ready/alive checks on /healthz."""
    url = f"http://localhost:{PORT}/healthz"
    layer: dict[str, Any] = {
        "summary": "Kubeflow central dashboard",
        "services": {
            SERVICE: {
                "override": "replace",
                "summary": "Kubeflow central dashboard",
                "command": shlex.join(["/sbin/tini", "--", "npm", "start"]),
                "working-dir": APP_DIR,
                "startup": "enabled",
                "user-id": WORKLOAD_UID,
                "group-id": WORKLOAD_UID,
                "environment": dashboard_environment(config, kfam, namespace),
                "on-check-failure": {f"{SERVICE}-alive": "restart"},
            }
        },
        "checks": {
            f"{SERVICE}-ready": {
                "override": "replace",
                "level": "ready",
                "period": "10s",
                "threshold": 3,
                "http": {"url": url},
            },
            f"{SERVICE}-alive": {
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


def manifest_context(app: str, namespace: str, configmap: Mapping[str, str], name: str) -> dict:
    """Variables of the templates in ``src/templates``.

    Args:
        app: the application name (its ServiceAccount, created by Juju, has the same name).
        namespace: the model namespace.
        configmap: the ConfigMap data (`configmap_data`).
        name: the ConfigMap name.
    """
    return {
        "app_name": app,
        "namespace": namespace,
        "cluster_name": f"{namespace}-{app}",
        "configmap_name": name,
        "configmap_data": dict(configmap),
    }


def metrics_jobs() -> list[dict[str, Any]]:
    """Scrape job of the dashboard (``*`` is each unit's address)."""
    return [
        {
            "job_name": "kubeflow-dashboard",
            "metrics_path": METRICS_PATH,
            "static_configs": [{"targets": [f"*:{PORT}"]}],
        }
    ]
