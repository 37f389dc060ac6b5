"""Stand-ins publish schema-valid data and reject what the schemas reject."""

from __future__ import annotations

import json

import pytest
from kfbundle.simulate.schemas import schemas_dir, validate_databags
from kfbundle.simulate.standins import RelationView, SecretBroker, StandIn
from kfbundle.sources import Endpoint


class Broker(SecretBroker):
    def __init__(self):
        self.secrets = {}

    def create(self, owner, label, content, relation_id):
        self.secrets[label] = content
        return f"secret:{label}"

    def read(self, reader, secret_id):
        return self.secrets.get(secret_id.removeprefix("secret:"))


@pytest.fixture(scope="module")
def schemas(sources):
    directory = schemas_dir(sources.root)
    if directory is None:
        pytest.skip("shared/schemas is not beside this checkout")
    return directory


def standin(charm, schemas, broker=None):
    return StandIn(charm, charm, "kubeflow", broker or Broker(), schemas)


def view(endpoint, interface, role, remote_app="ours", app=None, units=None):
    return RelationView(1, Endpoint(endpoint, interface, role), remote_app, app or {}, units or {})


@pytest.mark.parametrize("charm", ["jupyter-ui", "kfp-ui", "training-operator", "mlflow-server"])
def test_dashboard_links_validate(schemas, charm):
    app, _ = standin(charm, schemas).publish(
        view("dashboard-links", "kubeflow_dashboard_links", "requires")
    )
    applied, problems = validate_databags(schemas, "kubeflow_dashboard_links", "requirer", app)
    assert applied
    assert problems == []
    assert json.loads(app["dashboard_links"])[0]["location"] in {"menu", "documentation"}


def test_mysql_client_requirer_validates(schemas):
    app, _ = standin("kfp-api", schemas).publish(view("relational-db", "mysql_client", "requires"))
    assert app["database"] == "mlpipeline"
    applied, problems = validate_databags(schemas, "mysql_client", "requirer", app)
    assert applied
    assert problems == []


def test_s3_requirer_validates(schemas):
    app, _ = standin("some-app", schemas).publish(view("s3", "s3", "requires"))
    applied, problems = validate_databags(schemas, "s3", "requirer", app, version=1)
    assert applied
    assert problems == []


def test_k8s_service_provider_validates(schemas):
    app, _ = standin("kfp-viz", schemas).publish(view("kfp-viz", "k8s-service", "provides"))
    applied, problems = validate_databags(schemas, "k8s-service", "provider", app)
    assert applied
    assert problems == []
    assert app["_supported_versions"] == "- v1\n"


def test_gateway_info_and_loki_endpoint(schemas):
    s = standin("istio-pilot", schemas)
    app, _ = s.publish(view("gateway-info", "istio-gateway-info", "provides"))
    assert app == {
        "gateway_name": "kubeflow-gateway",
        "gateway_namespace": "kubeflow",
        "gateway_up": "true",
    }
    _, unit = standin("otel", schemas).publish(
        view("receive-loki-logs", "loki_push_api", "provides")
    )
    assert json.loads(unit["endpoint"])["url"].endswith("/loki/api/v1/push")


def test_mlflow_manifests_go_through_a_secret_after_object_storage(schemas):
    broker = Broker()
    s = standin("mlflow-server", schemas, broker)
    rel = view("secrets", "kubernetes_manifest", "requires")
    assert s.publish(rel)[0] == {}  # waits for the object store
    store = "access-key: minio\nsecret-key: minio123\nservice: minio\nport: 9000\nsecure: false\n"
    s.receive(
        RelationView(
            2,
            Endpoint("object-storage", "object-storage", "requires"),
            "minio",
            {"_supported_versions": "- v1\n", "data": store},
            {},
        )
    )
    app, _ = s.publish(rel)
    assert app["is_secret"] == "true"
    manifests = json.loads(broker.secrets["manifest.secrets.1"]["manifests"])
    assert manifests[0]["kind"] == "Secret"
    assert "namespace" not in manifests[0]["metadata"]


def test_invalid_provider_data_is_reported(schemas):
    s = standin("kfp-api", schemas)
    s.receive(
        view(
            "object-storage",
            "object-storage",
            "requires",
            "minio",
            {"_supported_versions": "- v1\n", "data": "service: minio\nport: '9000'\n"},
        )
    )
    problems = s.problems[1]
    assert any("access-key" in p for p in problems)
    assert s.status()[0] == "blocked"


def test_invalid_scrape_data_is_reported(schemas):
    s = standin("otel", schemas)
    s.receive(
        view(
            "metrics-endpoint",
            "prometheus_scrape",
            "requires",
            "katib",
            {"scrape_jobs": "[]", "scrape_metadata": json.dumps({"model": "kubeflow"})},
        )
    )
    assert any("alert_rules" in p or "model_uuid" in p for p in s.problems[1])
