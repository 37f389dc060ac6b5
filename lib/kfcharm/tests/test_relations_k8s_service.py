"""State-transition tests of kfcharm.relations.k8s_service (SDI k8s-service v1)."""

from __future__ import annotations

import ops
import pydantic
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from kfcharm.relations import RelationDataError, RelationMissingError, RelationNotReadyError
from kfcharm.relations.k8s_service import (
    KubernetesServiceData,
    KubernetesServiceProvider,
    KubernetesServiceRequirer,
)
from ops import testing
from relations_testlib import (
    WriteSpy,
    assert_sdi_data_valid,
    call,
    databags,
    only_relation_errors,
    raises_in_hook,
    sdi_databags,
    versions,
)

WIRE = {"service-name": "kubeflow-profiles", "service-port": "8081"}


class ProfilesCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.kfam = KubernetesServiceProvider(
            self, service_name="kubeflow-profiles", service_port=8081
        )


class ManualProviderCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.kfam = KubernetesServiceProvider(self)


class DashboardCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.kfam = KubernetesServiceRequirer(self)


PROVIDES = {"provides": {"kubeflow-profiles": {"interface": "k8s-service"}}}
PROVIDER = testing.Context(ProfilesCharm, meta={"name": "kubeflow-profiles", **PROVIDES})
MANUAL = testing.Context(ManualProviderCharm, meta={"name": "kubeflow-profiles", **PROVIDES})
REQUIRER = testing.Context(
    DashboardCharm,
    meta={
        "name": "kubeflow-dashboard",
        "requires": {"kubeflow-profiles": {"interface": "k8s-service"}},
    },
)


def rel(remote: dict[str, str] | None = None, **kwargs) -> testing.Relation:
    return testing.Relation(
        "kubeflow-profiles", interface="k8s-service", remote_app_data=remote or {}, **kwargs
    )


def test_static_service_is_published_when_the_requirer_publishes_versions():
    relation = rel({"_supported_versions": versions("v1")}, remote_app_name="kubeflow-dashboard")
    out = PROVIDER.run(
        PROVIDER.on.relation_changed(relation), testing.State(leader=True, relations={relation})
    )
    databag = out.get_relation(relation.id).local_app_data
    assert databag == {
        "_supported_versions": "- v1\n",
        "data": "service-name: kubeflow-profiles\nservice-port: '8081'\n",
    }
    assert_sdi_data_valid(dict(databag), "k8s-service", "v1", "provides")


def test_round_trip_provider_to_requirer():
    relation = rel({"_supported_versions": versions("v1")})
    _, out = call(
        MANUAL,
        testing.State(leader=True, relations={relation}),
        lambda c: c.kfam.publish("kubeflow-profiles", "8081"),
    )
    req = rel(dict(out.get_relation(relation.id).local_app_data))
    data, _ = call(REQUIRER, testing.State(relations={req}), lambda c: c.kfam.get_data())
    assert data == KubernetesServiceData(service_name="kubeflow-profiles", service_port="8081")
    assert data.port == 8081


def test_publish_rejects_an_invalid_port():
    relation = rel({"_supported_versions": versions("v1")})
    raises_in_hook(
        MANUAL,
        testing.State(leader=True, relations={relation}),
        lambda c: c.kfam.publish("svc", "http"),
        pydantic.ValidationError,
    )


def test_non_leader_publishes_nothing():
    relation = rel({"_supported_versions": versions("v1")})
    state = testing.State(leader=False, relations={relation})
    out = PROVIDER.run(PROVIDER.on.relation_changed(relation), state)
    _, out = call(MANUAL, out, lambda c: c.kfam.publish("kubeflow-profiles", 8081))
    assert out.get_relation(relation.id).local_app_data == {}


def test_publish_is_idempotent(monkeypatch):
    relation = rel({"_supported_versions": versions("v1")})
    out = PROVIDER.run(
        PROVIDER.on.relation_changed(relation), testing.State(leader=True, relations={relation})
    )
    spy = WriteSpy(monkeypatch)
    out2 = PROVIDER.run(PROVIDER.on.upgrade_charm(), out)
    _, out3 = call(MANUAL, out2, lambda c: c.kfam.publish("kubeflow-profiles", 8081))
    assert spy.writes == []
    assert (
        out3.get_relation(relation.id).local_app_data
        == out.get_relation(relation.id).local_app_data
    )


def test_requirer_errors():
    raises_in_hook(REQUIRER, testing.State(), lambda c: c.kfam.get_data(), RelationMissingError)
    unversioned = testing.State(relations={rel({"data": yaml.safe_dump(WIRE)})})
    raises_in_hook(REQUIRER, unversioned, lambda c: c.kfam.get_data(), RelationNotReadyError)


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ({**WIRE, "service-port": 8081}, "service-port: expected string, got integer"),
        ({**WIRE, "service-port": "99999"}, "service-port: Value error, must be a port number"),
        ({"service-name": "x"}, "service-port: required field missing"),
    ],
)
def test_malformed_provider_data_is_a_data_error(wire, message):
    relation = rel({"_supported_versions": versions("v1"), "data": yaml.safe_dump(wire)})
    err = raises_in_hook(
        REQUIRER,
        testing.State(relations={relation}),
        lambda c: c.kfam.get_data(),
        RelationDataError,
    )
    assert str(err).startswith(f"kubeflow-profiles:{relation.id}:")
    assert message in str(err)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(remote=databags(["_supported_versions", "data"]) | sdi_databags(list(WIRE), WIRE))
def test_random_remote_data_only_raises_relation_errors(remote):
    only_relation_errors(
        REQUIRER, testing.State(relations={rel(remote)}), lambda c: c.kfam.get_data()
    )
