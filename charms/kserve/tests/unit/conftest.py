"""Fixtures and builders for the kserve charm's ops.testing tests."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from charm import KServeCharm
from kfcharm.testing.fake_k8s import FakeKubernetes
from kfcharm.testing.leaks import RecordingContext, find_leaks
from lightkube.models.apps_v1 import StatefulSetSpec
from lightkube.models.core_v1 import Container, PodSpec, PodTemplateSpec
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.apps_v1 import StatefulSet
from ops import testing

APP = "kserve"
MODEL = testing.Model(name="kubeflow", uuid=str(uuid.uuid4()))
ACCESS_KEY = "AKIAKSERVETESTKEY01"
SECRET_KEY = "kserve-test-secret-key-Zq8vW2xL"
LOKI_URL = "http://loki-0.loki-endpoints.cos:3100/loki/api/v1/push"


def juju_statefulset() -> StatefulSet:
    """The StatefulSet Juju creates for the application: charm and workload containers."""
    labels = {"app.kubernetes.io/name": APP}
    names = ["charm", "kserve-controller", "models-web-app"]
    return StatefulSet(
        metadata=ObjectMeta(name=APP, namespace=MODEL.name, labels=labels),
        spec=StatefulSetSpec(
            selector=LabelSelector(matchLabels=labels),
            serviceName=f"{APP}-endpoints",
            template=PodTemplateSpec(
                metadata=ObjectMeta(labels=labels),
                spec=PodSpec(containers=[Container(name=n, image=f"{n}:1") for n in names]),
            ),
        ),
    )


def new_fake() -> FakeKubernetes:
    """A fake Kubernetes API server holding Juju's StatefulSet of the application."""
    fake = FakeKubernetes(namespace=MODEL.name)
    fake.add(juju_statefulset())
    return fake


def container_resources(fake: FakeKubernetes) -> dict[str, dict]:
    """Container name -> `resources` of the application's StatefulSet, as stored."""
    live = fake.find("StatefulSet", APP, MODEL.name).to_dict()
    return {
        c["name"]: c.get("resources") or {} for c in live["spec"]["template"]["spec"]["containers"]
    }


@pytest.fixture
def fake_k8s(monkeypatch: pytest.MonkeyPatch) -> FakeKubernetes:
    """A fresh fake Kubernetes API server installed as kfcharm's client."""
    fake = new_fake()
    fake.install(monkeypatch)
    return fake


@pytest.fixture(autouse=True)
def amd64(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run as on amd64 unless a test says otherwise."""
    monkeypatch.setattr("kserve.unit_architecture", lambda: "amd64")


@pytest.fixture
def ctx(fake_k8s: FakeKubernetes) -> Iterator[RecordingContext]:
    """A Scenario context; after the test every output is scanned for the S3 credentials.

    The legacy object-storage databag carries the credentials by definition; nothing else may
    (statuses, logs, our databags, Pebble layers, files, non-Secret Kubernetes objects).
    """
    context = RecordingContext(KServeCharm, app_name=APP)
    yield context
    for out in context.outputs:
        leaks = find_leaks(out, [ACCESS_KEY, SECRET_KEY], ctx=context, k8s=fake_k8s)
        assert leaks == [], leaks


def controller_container(**kwargs: Any) -> testing.Container:
    """The controller workload container (Pebble reachable unless told otherwise)."""
    return testing.Container(
        "kserve-controller", can_connect=kwargs.pop("can_connect", True), **kwargs
    )


def web_app_container(**kwargs: Any) -> testing.Container:
    """The models web app container."""
    return testing.Container(
        "models-web-app", can_connect=kwargs.pop("can_connect", True), **kwargs
    )


def gateway_relations() -> list[testing.Relation]:
    """istio ingress gateway and knative local gateway, both published."""
    return [
        testing.Relation(
            "ingress-gateway",
            remote_app_name="istio-pilot",
            remote_app_data={
                "gateway_name": "kubeflow-gateway",
                "gateway_namespace": "kubeflow",
                "gateway_up": "true",
            },
        ),
        testing.Relation(
            "local-gateway",
            remote_app_name="knative-serving",
            remote_app_data={
                "gateway_name": "knative-local-gateway",
                "gateway_namespace": "knative-serving",
                "gateway_up": "true",
            },
        ),
    ]


def s3_relation(
    endpoint: str = "http://minio.kubeflow.svc.cluster.local:9000", **extra: str
) -> tuple[testing.Relation, testing.Secret]:
    """An s3 relation whose provider published its credentials in a Juju secret."""
    secret = testing.Secret({"access-key": ACCESS_KEY, "secret-key": SECRET_KEY})
    data = {
        "bucket": "models",
        "endpoint": endpoint,
        "region": "eu-west-1",
        "s3-uri-style": "path",
        "lib-version": "1.0",
        "secret-extra": secret.id,
        **extra,
    }
    return testing.Relation("s3", remote_app_name="minio", remote_app_data=data), secret


def object_storage_relation(secure: bool = False) -> testing.Relation:
    """A legacy object-storage relation (credentials in plain relation data, by definition)."""
    import yaml

    data = {
        "access-key": ACCESS_KEY,
        "secret-key": SECRET_KEY,
        "service": "minio",
        "port": 9000,
        "secure": secure,
        "namespace": "kubeflow",
    }
    return testing.Relation(
        "object-storage",
        remote_app_name="minio",
        remote_app_data={"_supported_versions": "- v1\n", "data": yaml.safe_dump(data)},
    )


def manifest_relation(endpoint: str) -> testing.Relation:
    """A relation to resource-dispatcher on `secrets` or `service-accounts`."""
    return testing.Relation(endpoint, remote_app_name="resource-dispatcher")


def cos_relations() -> list[testing.Relation]:
    """Prometheus, Grafana and Loki."""
    return [
        testing.Relation("metrics-endpoint", remote_app_name="prometheus"),
        testing.Relation("grafana-dashboard", remote_app_name="grafana"),
        testing.Relation(
            "logging",
            remote_app_name="loki",
            remote_units_data={0: {"endpoint": json.dumps({"url": LOKI_URL})}},
        ),
    ]


def state(
    *,
    leader: bool = True,
    config: dict[str, Any] | None = None,
    relations: Iterable[Any] = (),
    secrets: Iterable[testing.Secret] = (),
    containers: Iterable[testing.Container] | None = None,
    with_gateways: bool = True,
    with_peers: bool = True,
    planned_units: int = 1,
) -> testing.State:
    """A base state: leader, both containers reachable, gateways related (serverless)."""
    rels = list(relations)
    if with_gateways:
        rels += gateway_relations()
    if with_peers:
        rels.append(testing.PeerRelation("kserve-peers"))
    return testing.State(
        leader=leader,
        config=config or {},
        relations=rels,
        secrets=list(secrets),
        containers=list(containers)
        if containers is not None
        else [controller_container(), web_app_container()],
        model=MODEL,
        planned_units=planned_units,
    )


def certs_secret(out: testing.State) -> testing.Secret:
    """The webhook certificates secret of an output state."""
    matches = [s for s in out.secrets if s.label == "kserve-webhook-certs"]
    assert len(matches) == 1, [s.label for s in out.secrets]
    return matches[0]
