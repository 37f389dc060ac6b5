"""Fixtures of the kubeflow-dashboard unit tests: a fake Kubernetes, a Context, base states."""

from __future__ import annotations

import json

import pytest
import yaml
from charm import KubeflowDashboardCharm
from kfcharm.testing.fake_k8s import FakeKubernetes
from lightkube.resources.apps_v1 import StatefulSet
from ops import testing

MODEL = "kubeflow"
APP = "kubeflow-dashboard"


def juju_statefulset(app: str = APP) -> StatefulSet:
    """The StatefulSet Juju creates for the application."""
    containers = [
        {"name": "charm", "image": "jujusolutions/charm-base:ubuntu-24.04"},
        {
            "name": "kubeflow-dashboard",
            "image": "ghcr.io/kubeflow/kubeflow/central-dashboard:v1.10.0",
        },
    ]
    return StatefulSet.from_dict(
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": app, "namespace": MODEL},
            "spec": {
                "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
                "serviceName": f"{app}-endpoints",
                "template": {
                    "metadata": {"labels": {"app.kubernetes.io/name": app}},
                    "spec": {"containers": containers},
                },
            },
        }
    )


@pytest.fixture
def fake_k8s(monkeypatch: pytest.MonkeyPatch) -> FakeKubernetes:
    """A fake cluster with the app's StatefulSet, installed for kfcharm."""
    fake = FakeKubernetes(namespace=MODEL)
    fake.add(juju_statefulset())
    return fake.install(monkeypatch)


@pytest.fixture
def ctx() -> testing.Context:
    """The charm's Scenario context (metadata from charmcraft.yaml)."""
    return testing.Context(KubeflowDashboardCharm, app_name=APP)


def profiles_relation(
    service: str = "kubeflow-profiles", port: str = "8081", **kwargs
) -> testing.Relation:
    """The kubeflow-profiles relation as the profiles charm fills it."""
    data = {
        "_supported_versions": "- v1\n",
        "data": yaml.safe_dump({"service-name": service, "service-port": port}),
    }
    kwargs.setdefault("remote_app_data", data)
    return testing.Relation("kubeflow-profiles", remote_app_name="kubeflow-profiles", **kwargs)


def ingress_relation() -> testing.Relation:
    """The ingress relation as istio-pilot fills it (versions only)."""
    return testing.Relation(
        "ingress",
        remote_app_name="istio-pilot",
        remote_app_data={"_supported_versions": "- v1\n- v2\n"},
    )


def links_relation(app: str, links: list[dict] | str) -> testing.Relation:
    """A `links` relation from `app` publishing `links`."""
    raw = links if isinstance(links, str) else json.dumps(links)
    return testing.Relation("links", remote_app_name=app, remote_app_data={"dashboard_links": raw})


def base_state(*relations: testing.Relation, **kwargs) -> testing.State:
    """A leader unit with its container up and the two required relations."""
    kwargs.setdefault("leader", True)
    kwargs.setdefault("containers", [testing.Container("kubeflow-dashboard", can_connect=True)])
    kwargs.setdefault("model", testing.Model(name=MODEL))
    if not relations:
        relations = (profiles_relation(), ingress_relation())
    return testing.State(relations=set(relations), **kwargs)
