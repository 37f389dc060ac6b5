"""Shared fixtures: a leak-scanning Scenario context, relation and container builders."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import resource_dispatcher as rd
from charm import ResourceDispatcherCharm
from kfcharm.testing import FakeKubernetes
from kfcharm.testing.leaks import RecordingContext, find_leaks
from lightkube.models.apps_v1 import StatefulSetSpec
from lightkube.models.core_v1 import Container as K8sContainer
from lightkube.models.core_v1 import PodSpec, PodTemplateSpec, ResourceRequirements
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.apps_v1 import StatefulSet
from ops import testing

from tests.unit.cluster import S3_ACCESS_KEY, S3_SECRET_KEY

MODEL = testing.Model(name="kubeflow", uuid=str(uuid.uuid4()))
APP = "resource-dispatcher"

# The manifests file is where the credentials must go: the controller reads them there
# (root-only 0600 file in the workload container). Nothing else may hold them.
ALWAYS_ALLOWED = (f"file:dispatcher:{rd.MANIFESTS_PATH}*",)
SECRETS = (S3_ACCESS_KEY, S3_SECRET_KEY)


def juju_statefulset(resources: dict[str, Any] | None = None) -> StatefulSet:
    """The StatefulSet Juju creates for the app: the charm container and the workload's."""
    labels = {"app.kubernetes.io/name": APP}
    return StatefulSet(
        metadata=ObjectMeta(name=APP, namespace=MODEL.name, labels=labels),
        spec=StatefulSetSpec(
            selector=LabelSelector(matchLabels=labels),
            serviceName=f"{APP}-endpoints",
            template=PodTemplateSpec(
                metadata=ObjectMeta(labels=labels),
                spec=PodSpec(
                    containers=[
                        K8sContainer(name="charm", image="charm-base"),
                        K8sContainer(
                            name="dispatcher",
                            image="python:3.12-slim",
                            resources=ResourceRequirements(**resources) if resources else None,
                        ),
                    ]
                ),
            ),
        ),
    )


def dispatcher_resources(fake: FakeKubernetes) -> dict[str, Any]:
    """The live `resources` of the dispatcher container in the app's StatefulSet."""
    live = fake.get(StatefulSet, APP, namespace=MODEL.name).to_dict()
    containers = {c["name"]: c for c in live["spec"]["template"]["spec"]["containers"]}
    return containers["dispatcher"].get("resources") or {}


@pytest.fixture
def fake_k8s(monkeypatch: pytest.MonkeyPatch) -> FakeKubernetes:
    """A fake Kubernetes API holding the app's StatefulSet, as Juju created it."""
    fake = FakeKubernetes(namespace=MODEL.name)
    fake.add(juju_statefulset())
    fake.reset_log()
    fake.install(monkeypatch)
    return fake


@pytest.fixture
def ctx(request: pytest.FixtureRequest, fake_k8s: FakeKubernetes) -> Iterator[RecordingContext]:
    """A Scenario context; after the test every output is scanned for the S3 credentials.

    Mark a test `@pytest.mark.leak_allow("place-glob", ...)` to accept a deliberate exposure.
    """
    context = RecordingContext(ResourceDispatcherCharm, app_name=APP)
    yield context
    marker = request.node.get_closest_marker("leak_allow")
    allow = [*ALWAYS_ALLOWED, *(marker.args if marker else ())]
    for out in context.outputs:
        leaks = find_leaks(out, SECRETS, ctx=context, k8s=fake_k8s, allow=allow)
        assert leaks == [], leaks
    # The charm itself only sizes its own pod; the controller does the dispatching.
    touched = {(r.verb, r.kind, r.name) for r in fake_k8s.requests}
    assert touched <= {("get", "StatefulSet", APP), ("patch", "StatefulSet", APP)}, touched


@pytest.fixture
def fs(tmp_path: Path) -> dict[str, Path]:
    """Host directories standing in for the container's persistent paths."""
    dirs = {name: tmp_path / name for name in ("opt", "etc", "var")}
    for path in dirs.values():
        path.mkdir()
    return dirs


def container(fs: dict[str, Path] | None = None, **kwargs: Any) -> testing.Container:
    """The dispatcher container; with `fs`, its files persist across runs."""
    mounts = {}
    if fs is not None:
        mounts = {
            "opt": testing.Mount(location="/opt/dispatcher", source=fs["opt"]),
            "etc": testing.Mount(location="/etc/dispatcher", source=fs["etc"]),
            "var": testing.Mount(location="/var/lib/dispatcher", source=fs["var"]),
        }
    return testing.Container(
        "dispatcher", can_connect=kwargs.pop("can_connect", True), mounts=mounts, **kwargs
    )


def manifest_relation(
    endpoint: str,
    manifests: list[dict] | None,
    app: str = "mlflow-server",
    *,
    raw: str | None = None,
    **kwargs: Any,
) -> testing.Relation:
    """A relation in the old form: the JSON list in the remote app databag."""
    data = {}
    if raw is not None:
        data["kubernetes_manifests"] = raw
    elif manifests is not None:
        data["kubernetes_manifests"] = json.dumps(manifests)
    return testing.Relation(endpoint, remote_app_name=app, remote_app_data=data, **kwargs)


def secret_relation(
    endpoint: str, manifests: list[dict], app: str = "kserve", **kwargs: Any
) -> tuple[testing.Relation, testing.Secret]:
    """A relation in the current form: the list in a secret granted to us."""
    secret = testing.Secret(tracked_content={"manifests": json.dumps(manifests)})
    relation = testing.Relation(
        endpoint,
        remote_app_name=app,
        remote_app_data={"kubernetes_manifests": secret.id, "is_secret": "true"},
        **kwargs,
    )
    return relation, secret


def state(
    *,
    leader: bool = True,
    config: dict[str, Any] | None = None,
    relations: tuple[Any, ...] = (),
    secrets: tuple[testing.Secret, ...] = (),
    containers: tuple[testing.Container, ...] | None = None,
    fs: dict[str, Path] | None = None,
) -> testing.State:
    """A base state for this charm."""
    return testing.State(
        leader=leader,
        config=config or {},
        relations=list(relations),
        secrets=list(secrets),
        containers=[container(fs)] if containers is None else list(containers),
        model=MODEL,
    )


def pushed_manifests(ctx: testing.Context, out: testing.State) -> list[dict] | None:
    """The manifests file the charm pushed (decoded), or None."""
    root = out.get_container("dispatcher").get_filesystem(ctx)
    path = root / rd.MANIFESTS_PATH.lstrip("/")
    mounted = [
        m
        for m in out.get_container("dispatcher").mounts.values()
        if rd.MANIFESTS_PATH.startswith(m.location)
    ]
    if mounted:
        path = Path(mounted[0].source) / rd.MANIFESTS_PATH[len(mounted[0].location) :].lstrip("/")
    if not path.exists():
        return None
    return json.loads(path.read_text())["manifests"]


def write_status(fs: dict[str, Path], **fields: Any) -> None:
    """Pretend the controller wrote its status file."""
    from dispatcher.handoff import ControllerStatus

    (fs["var"] / "status.json").write_text(ControllerStatus(**fields).encode())
