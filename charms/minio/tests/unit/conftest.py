"""Shared fixtures: a Scenario context, base states, a fake S3 bucket API, fake Kubernetes."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import s3_client
from charm import ROOT_SECRET_LABEL, MinioCharm
from kfcharm.testing.fake_k8s import FakeKubernetes
from kfcharm.testing.leaks import RecordingContext, find_leaks, juju_secret_values
from lightkube.models.apps_v1 import StatefulSetSpec
from lightkube.models.core_v1 import Container, PodSpec, PodTemplateSpec, ResourceRequirements
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.apps_v1 import StatefulSet
from ops import testing

MODEL = testing.Model(name="kubeflow", uuid=str(uuid.uuid4()))


def juju_statefulset(resources: dict[str, Any] | None = None) -> StatefulSet:
    """The StatefulSet Juju creates for the app: the charm container and the workload."""
    labels = {"app.kubernetes.io/name": "minio"}
    workload = Container(
        name="minio",
        image="quay.io/minio/minio",
        resources=ResourceRequirements(**resources) if resources else None,
    )
    return StatefulSet(
        metadata=ObjectMeta(name="minio", namespace=MODEL.name, labels=labels),
        spec=StatefulSetSpec(
            selector=LabelSelector(matchLabels=labels),
            serviceName="minio-endpoints",
            template=PodTemplateSpec(
                metadata=ObjectMeta(labels=labels),
                spec=PodSpec(
                    containers=[Container(name="charm", image="jujusolutions"), workload]
                ),
            ),
        ),
    )


@pytest.fixture(autouse=True)
def fake_k8s(monkeypatch: pytest.MonkeyPatch) -> FakeKubernetes:
    """A fake Kubernetes API server holding Juju's StatefulSet (the only object MinIO reads)."""
    fake = FakeKubernetes(namespace=MODEL.name)
    fake.add(juju_statefulset())
    fake.reset_log()
    fake.install(monkeypatch)
    return fake


def workload_resources(fake: FakeKubernetes) -> dict[str, Any]:
    """The live `resources` of the minio container in Juju's StatefulSet."""
    live = fake.find(StatefulSet, "minio", MODEL.name).to_dict()
    containers = {c["name"]: c for c in live["spec"]["template"]["spec"]["containers"]}
    return containers["minio"].get("resources") or {}


@dataclasses.dataclass
class FakeBuckets:
    """Stands in for MinIO's S3 API: records calls, can fail like the real thing."""

    existing: set[str] = dataclasses.field(default_factory=set)
    calls: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    fail_with: Exception | None = None

    def ensure_bucket(self, client: s3_client.S3Client, bucket: str) -> bool:
        self.calls.append(
            {
                "bucket": bucket,
                "host": client.host,
                "port": client.port,
                "tls": client.tls,
                "access_key": client.access_key,
                "secret_key": client.secret_key,
            }
        )
        if self.fail_with is not None:
            raise self.fail_with
        if bucket in self.existing:
            return False
        self.existing.add(bucket)
        return True


@pytest.fixture
def buckets(monkeypatch: pytest.MonkeyPatch) -> FakeBuckets:
    """Patch the S3 client's bucket creation with a recording fake."""
    fake = FakeBuckets()
    monkeypatch.setattr(
        s3_client.S3Client, "ensure_bucket", lambda self, bucket: fake.ensure_bucket(self, bucket)
    )
    return fake


# Places where a credential legitimately appears in a test's output.
ALWAYS_ALLOWED = (
    # The documented legacy protocol: object-storage v1 carries credentials in plain text.
    "relation:object-storage:*:app:data",
    # The TLS private key, where MinIO reads it inside the workload container.
    "file:minio:*/etc/minio/certs/private.key",
)
SECRET_KEYS = ("secret-key", "private-key")


def secret_values(states: list[testing.State]) -> set[str]:
    """Every credential value held in the Juju secrets of these states."""
    return juju_secret_values(states, SECRET_KEYS)


@pytest.fixture
def ctx(request: pytest.FixtureRequest) -> Iterator[RecordingContext]:
    """A Scenario context; after the test, every output is scanned for leaked credentials.

    Mark a test `@pytest.mark.leak_allow("place-glob", ...)` to accept a deliberate exposure.
    """
    context = RecordingContext(MinioCharm)
    yield context
    marker = request.node.get_closest_marker("leak_allow")
    allow = [*ALWAYS_ALLOWED, *(marker.args if marker else ())]
    secrets = secret_values(context.outputs)
    for out in context.outputs:
        if secrets:
            leaks = find_leaks(out, sorted(secrets), ctx=context, allow=allow)
            assert leaks == [], leaks


def root_secret(
    access: str = "GENERATEDACCESSKEY01", secret: str = "s" * 39 + "1"
) -> testing.Secret:
    """The app-owned root credentials secret as the leader would have created it."""
    return testing.Secret(
        tracked_content={"access-key": access, "secret-key": secret},
        owner="app",
        label=ROOT_SECRET_LABEL,
    )


def container(**kwargs: Any) -> testing.Container:
    """The minio workload container, Pebble reachable by default."""
    return testing.Container("minio", can_connect=kwargs.pop("can_connect", True), **kwargs)


def peers(pool: str | None = "1", **kwargs: Any) -> testing.PeerRelation:
    """The peer relation, with a recorded pool size unless `pool` is None."""
    data = {"pool-size": pool} if pool else {}
    return testing.PeerRelation("minio-peers", local_app_data=data, **kwargs)


def state(
    *,
    leader: bool = True,
    config: dict[str, Any] | None = None,
    relations: tuple[Any, ...] = (),
    secrets: tuple[testing.Secret, ...] = (),
    containers: tuple[testing.Container, ...] | None = None,
    planned_units: int = 1,
    with_peers: bool = True,
    pool: str | None = "1",
) -> testing.State:
    """A base state for this charm."""
    rels = list(relations)
    if with_peers:
        rels.append(peers(pool))
    return testing.State(
        leader=leader,
        config=config or {},
        relations=rels,
        secrets=list(secrets),
        containers=[container()] if containers is None else list(containers),
        planned_units=planned_units,
        model=MODEL,
        storages=[testing.Storage("minio-data")],
    )
