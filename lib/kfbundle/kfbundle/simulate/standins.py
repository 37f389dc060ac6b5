"""Stand-ins for the Charmhub applications.

They publish the relation data INTERFACES.md documents and accept (and validate) what our
charms send.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import lzma
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..sources import Endpoint
from .schemas import validate_databags

DASHBOARD_LINKS: dict[str, list[dict[str, str]]] = {
    "jupyter-ui": [{"text": "Notebooks", "link": "/jupyter/", "location": "menu", "icon": "book"}],
    "kfp-ui": [
        {
            "text": "Pipelines",
            "link": "/pipeline/#/pipelines",
            "location": "menu",
            "icon": "kubeflow:pipeline-centered",
        },
        {
            "text": "Runs",
            "link": "/pipeline/#/runs",
            "location": "menu",
            "icon": "maps:directions-run",
        },
    ],
    "kubeflow-volumes": [
        {"text": "Volumes", "link": "/volumes/", "location": "menu", "icon": "device:storage"}
    ],
    "tensorboards-web-app": [
        {
            "text": "TensorBoards",
            "link": "/tensorboards/",
            "location": "menu",
            "icon": "assessment",
        }
    ],
    "training-operator": [
        {
            "text": "Training Operator",
            "link": "https://www.kubeflow.org/docs/components/trainer/",
            "location": "documentation",
            "icon": "icons:link",
            "desc": "Distributed training of ML models",
        }
    ],
    "mlflow-server": [
        {"text": "MLflow", "link": "/mlflow/", "location": "menu", "icon": "launch"}
    ],
}
DATABASES = {"kfp-api": "mlpipeline", "mlflow-server": "mlflow"}
SDI_VERSIONS = {
    ("ingress", "provides"): ["v1", "v2"],
    ("ingress-auth", "provides"): ["v1"],
    ("object-storage", "requires"): ["v1"],
    ("k8s-service", "requires"): ["v1"],
    ("k8s-service", "provides"): ["v1"],
    ("grpc", "requires"): ["v1"],
}


@dataclasses.dataclass
class RelationView:
    """One relation as a stand-in sees it."""

    id: int
    endpoint: Endpoint
    remote_app: str
    remote_app_data: dict[str, str]
    remote_units_data: dict[str, dict[str, str]]


class SecretBroker:
    """What a stand-in may do with Juju secrets (implemented by the engine)."""

    def create(self, owner: str, label: str, content: dict[str, str], relation_id: int) -> str:
        """Create (or update) an app-owned secret and grant it to a relation; return its id."""
        raise NotImplementedError

    def read(self, reader: str, secret_id: str) -> dict[str, str] | None:
        """Latest content of a secret granted to `reader`, or None."""
        raise NotImplementedError


class StandIn:
    """A Charmhub application represented by a small Python object.

    Args:
        app: application name in the bundle.
        charm: charm name.
        model: model (namespace) name.
        secrets: the engine's secret broker.
        schemas: shared schemas directory (None: validate SDI data only).
    """

    def __init__(
        self, app: str, charm: str, model: str, secrets: SecretBroker, schemas: Path | None
    ):
        self.app = app
        self.charm = charm
        self.model = model
        self.secrets = secrets
        self.schemas = schemas
        self.problems: dict[int, list[str]] = {}
        self.validated: set[int] = set()
        self.received: dict[int, RelationView] = {}
        self.relations: dict[int, RelationView] = {}

    @property
    def unit(self) -> str:
        """Its single unit's name."""
        return f"{self.app}/0"

    # -- what it publishes -------------------------------------------------------------------

    def publish(self, rel: RelationView) -> tuple[dict[str, str], dict[str, str]]:
        """The stand-in's app and unit databags for one relation."""
        self.relations[rel.id] = rel
        ep = rel.endpoint
        app: dict[str, str] = {}
        unit: dict[str, str] = {}
        versions = SDI_VERSIONS.get((ep.interface, ep.role))
        if versions:
            app["_supported_versions"] = "".join(f"- {v}\n" for v in versions)
        handler: Callable[[RelationView], dict[str, str]] | None = getattr(
            self, f"_publish_{ep.interface.replace('-', '_')}_{ep.role}", None
        )
        if handler is not None:
            app.update(handler(rel))
        if (ep.interface, ep.role) == ("loki_push_api", "provides"):
            url = f"http://{self.app}-0.{self.app}-endpoints.{self.model}.svc.cluster.local:3500"
            unit["endpoint"] = json.dumps({"url": f"{url}/loki/api/v1/push"})
        return app, unit

    def _publish_istio_gateway_info_provides(self, rel: RelationView) -> dict[str, str]:
        return {
            "gateway_name": "kubeflow-gateway",
            "gateway_namespace": self.model,
            "gateway_up": "true",
        }

    def _publish_serving_local_gateway_provides(self, rel: RelationView) -> dict[str, str]:
        return {"gateway_name": "knative-local-gateway", "gateway_namespace": "knative-serving"}

    def _publish_kubeflow_dashboard_links_requires(self, rel: RelationView) -> dict[str, str]:
        links = DASHBOARD_LINKS.get(
            self.charm, [{"text": self.app, "link": f"/{self.app}/", "location": "menu"}]
        )
        full = [{"icon": "icons:link", "type": "item", "desc": "", **link} for link in links]
        return {"dashboard_links": json.dumps(full)}

    def _publish_mysql_client_requires(self, rel: RelationView) -> dict[str, str]:
        return {
            "database": DATABASES.get(self.charm, self.app.replace("-", "_")),
            "requested-secrets": json.dumps(["username", "password", "tls", "tls-ca", "uris"]),
        }

    def _publish_s3_requires(self, rel: RelationView) -> dict[str, str]:
        return {
            "bucket": self.app,
            "path": "",
            "lib-version": "1.0",
            "requested-secrets": json.dumps(["access-key", "secret-key"]),
        }

    def _publish_k8s_service_provides(self, rel: RelationView) -> dict[str, str]:
        return {"data": f"service-name: {self.app}\nservice-port: '8080'\n"}

    def _publish_kubernetes_manifest_requires(self, rel: RelationView) -> dict[str, str]:
        manifests = self._manifests(rel.endpoint.name)
        if manifests is None:
            return {}
        label = f"manifest.{rel.endpoint.name}.{rel.id}"
        secret_id = self.secrets.create(
            self.app, label, {"manifests": json.dumps(manifests)}, rel.id
        )
        return {"kubernetes_manifests": secret_id, "is_secret": "true"}

    def _object_storage(self) -> dict[str, Any] | None:
        import yaml

        for rel in self.received.values():
            if rel.endpoint.interface == "object-storage" and "data" in rel.remote_app_data:
                data = yaml.safe_load(rel.remote_app_data["data"])
                return data if isinstance(data, dict) else None
        return None

    def _manifests(self, endpoint: str) -> list[dict[str, Any]] | None:
        """What mlflow-server sends resource-dispatcher (None until it has the store)."""
        if self.charm != "mlflow-server":
            return []
        store = self._object_storage()
        if store is None:
            return None
        url = f"http://{store['service']}.{store.get('namespace') or self.model}:{store['port']}"
        if endpoint == "secrets":
            return [
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": f"{self.app}-minio-artifact"},
                    "stringData": {
                        "AWS_ACCESS_KEY_ID": str(store["access-key"]),
                        "AWS_SECRET_ACCESS_KEY": str(store["secret-key"]),
                        "MLFLOW_S3_ENDPOINT_URL": url,
                        "MLFLOW_TRACKING_URI": f"http://{self.app}.{self.model}.svc:5000",
                    },
                }
            ]
        if endpoint == "pod-defaults":
            return [
                {
                    "apiVersion": "kubeflow.org/v1alpha1",
                    "kind": "PodDefault",
                    "metadata": {"name": "access-mlflow"},
                    "spec": {
                        "desc": "Allow access to MLflow",
                        "selector": {"matchLabels": {"access-mlflow": "true"}},
                        "envFrom": [{"secretRef": {"name": f"{self.app}-minio-artifact"}}],
                    },
                }
            ]
        return []

    # -- what it receives --------------------------------------------------------------------

    def receive(self, rel: RelationView) -> None:
        """Take the remote side's data and validate it where a schema exists."""
        self.received[rel.id] = rel
        ep = rel.endpoint
        remote_side = "provider" if ep.role == "requires" else "requirer"
        app = dict(rel.remote_app_data)
        problems: list[str] = []
        interface = ep.interface
        version = 1 if interface == "s3" else 0
        if interface == "mysql_client" and "secret-user" in app:
            content = self.secrets.read(self.app, app["secret-user"])
            if content is None:
                problems.append(f"secret-user {app['secret-user']} was not granted to {self.app}")
            else:
                app.update({k: v for k, v in content.items() if k in ("username", "password")})
        if (
            interface == "s3"
            and "secret-extra" in app
            and self.secrets.read(self.app, app["secret-extra"]) is None
        ):
            problems.append(f"secret-extra was not granted to {self.app}")
        if interface == "grafana_dashboard" and "dashboards" in app:
            problems += _check_dashboards(app["dashboards"])
        units = dict(rel.remote_units_data)
        if _has_payload(app, units):
            applied, found = validate_databags(
                self.schemas, interface, remote_side, app, units, version
            )
            if applied:
                self.validated.add(rel.id)
            problems += found
        if problems:
            self.problems[rel.id] = [f"{rel.remote_app} ({ep.name}): {p}" for p in problems]
        else:
            self.problems.pop(rel.id, None)

    def status(self) -> tuple[str, str]:
        """(status, message) for the status table."""
        issues = [p for ps in self.problems.values() for p in ps]
        if issues:
            return "blocked", f"stand-in: invalid data: {issues[0]}"
        return "active", f"stand-in, {len(self.relations)} relations simulated"


def _has_payload(app: dict[str, str], units: dict[str, dict[str, str]]) -> bool:
    keys = set(app) - {"_supported_versions"}
    unit_keys = {k for bag in units.values() for k in bag} - {
        "egress-subnets",
        "ingress-address",
        "private-address",
    }
    return bool(keys or unit_keys)


def _check_dashboards(raw: str) -> list[str]:
    """The grafana_dashboard app data: templates whose content decodes to dashboard JSON."""
    try:
        doc = json.loads(raw)
        templates = doc["templates"]
    except (ValueError, KeyError, TypeError):
        return ["dashboards: not JSON with `templates`"]
    problems = []
    for name, template in templates.items():
        try:
            content = lzma.decompress(base64.b64decode(template["content"]))
            json.loads(content)
        except (KeyError, ValueError, lzma.LZMAError, TypeError):
            problems.append(f"dashboards: template {name} content is not LZMA+base64 JSON")
    return problems
