"""Shared fixtures and builders for the katib charm's ops.testing tests."""

from __future__ import annotations

import datetime
import tempfile
import uuid
from collections.abc import Iterable
from typing import Any

import katib
import pytest
from charm import KatibCharm
from lightkube.models.apps_v1 import StatefulSetSpec
from lightkube.models.core_v1 import Container as K8sContainer
from lightkube.models.core_v1 import PodSpec, PodTemplateSpec
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.apps_v1 import StatefulSet
from ops import testing

MODEL = "kubeflow"
APP = "katib"
DB_PASSWORD = "s3cr3t-Pa55w0rd-for-katib"
DB_USER = "relation-7"


def make_context() -> testing.Context[KatibCharm]:
    """A Context for the charm (metadata, config and actions from charmcraft.yaml)."""
    return testing.Context(KatibCharm, app_name=APP)


def containers(can_connect: bool = True, names: Iterable[str] = katib.CONTAINERS) -> set:
    """The three workload containers.

    The controller's certificate and config directories are mounts, so that their files
    persist from one run to the next as on a real unit (Scenario wipes the rest).
    """
    result = set()
    for name in names:
        mounts = {}
        if name == katib.CONTROLLER:
            mounts = {
                "certs": testing.Mount(location=katib.CERT_DIR, source=tempfile.mkdtemp()),
                "config": testing.Mount(
                    location=katib.KATIB_CONFIG_DIR, source=tempfile.mkdtemp()
                ),
            }
        result.add(testing.Container(name, can_connect=can_connect, mounts=mounts))
    return result


def db_relation(password: str = DB_PASSWORD, *, with_data: bool = True) -> tuple[Any, Any]:
    """A relational-db relation whose provider published a secret-user, and that secret."""
    secret = testing.Secret({"username": DB_USER, "password": password})
    data = (
        {
            "database": "katib",
            "endpoints": "mysql-0.mysql-endpoints:3306",
            "version": "8.0.36",
            "secret-user": secret.id,
        }
        if with_data
        else {}
    )
    relation = testing.Relation("relational-db", remote_app_name="mysql", remote_app_data=data)
    return relation, secret


def state(
    *,
    leader: bool = True,
    config: dict[str, Any] | None = None,
    relations: Iterable[Any] = (),
    secrets: Iterable[Any] = (),
    can_connect: bool = True,
    planned_units: int = 1,
    **kwargs: Any,
) -> testing.State:
    """A State with the three containers, the model and the given extras."""
    return testing.State(
        leader=leader,
        config=config or {},
        relations=set(relations),
        secrets=set(secrets),
        containers=containers(can_connect),
        model=testing.Model(name=MODEL, uuid=str(uuid.uuid4())),
        planned_units=planned_units,
        **kwargs,
    )


def ready_state(**kwargs: Any) -> testing.State:
    """A leader with the database relation ready."""
    relation, secret = db_relation()
    extra_rel = list(kwargs.pop("relations", ()))
    extra_sec = list(kwargs.pop("secrets", ()))
    return state(relations=[relation, *extra_rel], secrets=[secret, *extra_sec], **kwargs)


def juju_statefulset() -> StatefulSet:
    """The StatefulSet Juju creates for the app (charm container plus the three workloads)."""
    names = ["charm", *katib.CONTAINERS]
    return StatefulSet(
        metadata=ObjectMeta(name=APP, namespace=MODEL),
        spec=StatefulSetSpec(
            selector=LabelSelector(matchLabels={"app.kubernetes.io/name": APP}),
            serviceName=f"{APP}-endpoints",
            template=PodTemplateSpec(
                metadata=ObjectMeta(labels={"app.kubernetes.io/name": APP}),
                spec=PodSpec(
                    containers=[
                        K8sContainer(name=n, image=f"registry.jujucharms.com/{n}") for n in names
                    ]
                ),
            ),
        ),
    )


@pytest.fixture
def k8s(fake_k8s: Any) -> Any:
    """The fake Kubernetes API with the model's StatefulSet in place."""
    fake_k8s.namespace = MODEL
    fake_k8s.add(juju_statefulset())
    return fake_k8s


@pytest.fixture
def ctx() -> testing.Context[KatibCharm]:
    """A fresh Context."""
    return make_context()


class FrozenClock:
    """A settable clock, patched over `kfcharm.certs.utcnow` to exercise certificate rotation."""

    def __init__(self, start: datetime.datetime):
        self.now = start

    def __call__(self) -> datetime.datetime:
        return self.now
