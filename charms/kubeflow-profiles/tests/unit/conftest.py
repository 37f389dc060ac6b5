"""Fixtures of the kubeflow-profiles unit tests: a fake Kubernetes, a Context, base states."""

from __future__ import annotations

import pytest
from charm import KubeflowProfilesCharm
from kfcharm.testing.fake_k8s import FakeKubernetes
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import StatefulSet
from ops import testing

MODEL = "kubeflow"
APP = "kubeflow-profiles"


def istio_authorization_policy_crd() -> CustomResourceDefinition:
    """A minimal AuthorizationPolicy CRD, as istio-pilot installs it."""
    return CustomResourceDefinition.from_dict(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "authorizationpolicies.security.istio.io"},
            "spec": {
                "group": "security.istio.io",
                "names": {
                    "kind": "AuthorizationPolicy",
                    "listKind": "AuthorizationPolicyList",
                    "plural": "authorizationpolicies",
                    "singular": "authorizationpolicy",
                },
                "scope": "Namespaced",
                "versions": [
                    {
                        "name": "v1beta1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                    }
                ],
            },
        }
    )


def juju_statefulset(app: str = APP) -> StatefulSet:
    """The StatefulSet Juju creates for the application (charm + workload containers)."""
    containers = [
        {"name": "charm", "image": "jujusolutions/charm-base:ubuntu-24.04"},
        {
            "name": "profile-controller",
            "image": "ghcr.io/kubeflow/kubeflow/profile-controller:v1.10.0",
        },
        {"name": "kfam", "image": "ghcr.io/kubeflow/kubeflow/kfam:v1.10.0"},
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
    """A fake cluster with Istio's CRD and the app's StatefulSet, installed for kfcharm."""
    fake = FakeKubernetes(namespace=MODEL)
    fake.add(istio_authorization_policy_crd(), juju_statefulset())
    return fake.install(monkeypatch)


@pytest.fixture
def ctx() -> testing.Context:
    """The charm's Scenario context (metadata from charmcraft.yaml)."""
    return testing.Context(KubeflowProfilesCharm, app_name=APP)


@pytest.fixture
def labels_dir(tmp_path):
    """Host directory standing for the controller's /etc/profile-controller (kept across runs)."""
    path = tmp_path / "profile-controller-etc"
    path.mkdir()
    return path


def containers(labels_dir=None, can_connect: bool = True, **controller) -> list[testing.Container]:
    """The two workload containers; the labels directory is a mount when given."""
    mounts = {}
    if labels_dir is not None:
        mounts["etc"] = testing.Mount(location="/etc/profile-controller", source=labels_dir)
    return [
        testing.Container(
            "profile-controller", can_connect=can_connect, mounts=mounts, **controller
        ),
        testing.Container("kfam", can_connect=can_connect),
    ]


def base_state(labels_dir=None, **kwargs) -> testing.State:
    """A leader unit with both containers up, in model `kubeflow`."""
    kwargs.setdefault("leader", True)
    kwargs.setdefault("containers", containers(labels_dir))
    kwargs.setdefault("model", testing.Model(name=MODEL))
    return testing.State(**kwargs)
