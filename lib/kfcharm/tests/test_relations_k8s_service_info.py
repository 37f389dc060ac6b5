"""State-transition tests of kfcharm.relations.k8s_service_info (flat k8s-service)."""

from __future__ import annotations

import ops
import pytest
from hypothesis import HealthCheck, given, settings
from kfcharm.relations import (
    RelationConflictError,
    RelationDataError,
    RelationMissingError,
    RelationNotReadyError,
)
from kfcharm.relations.k8s_service_info import (
    KubernetesServiceInfo,
    KubernetesServiceInfoProvider,
    KubernetesServiceInfoRequirer,
)
from ops import testing
from relations_testlib import WriteSpy, call, databags, only_relation_errors, raises_in_hook


class DbManagerCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.info = KubernetesServiceInfoProvider(self, name="katib-db-manager", port=6789)


class ManualProviderCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.info = KubernetesServiceInfoProvider(self)


class ControllerCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.info = KubernetesServiceInfoRequirer(self)


PROVIDES = {"provides": {"k8s-service-info": {"interface": "k8s-service"}}}
PROVIDER = testing.Context(DbManagerCharm, meta={"name": "katib-db-manager", **PROVIDES})
MANUAL = testing.Context(ManualProviderCharm, meta={"name": "mlmd", **PROVIDES})
REQUIRER = testing.Context(
    ControllerCharm,
    meta={
        "name": "katib-controller",
        "requires": {"k8s-service-info": {"interface": "k8s-service"}},
    },
)


def rel(remote: dict[str, str] | None = None, **kwargs) -> testing.Relation:
    return testing.Relation(
        "k8s-service-info", interface="k8s-service", remote_app_data=remote or {}, **kwargs
    )


@pytest.mark.parametrize("event", ["relation_created", "leader_elected", "upgrade_charm"])
def test_static_info_is_published_by_the_leader(event):
    relation = rel()
    ctx = PROVIDER
    trigger = (
        ctx.on.relation_created(relation)
        if event == "relation_created"
        else getattr(ctx.on, event)()
    )
    out = ctx.run(trigger, testing.State(leader=True, relations={relation}))
    assert out.get_relation(relation.id).local_app_data == {
        "name": "katib-db-manager",
        "port": "6789",
    }


def test_round_trip_provider_to_requirer():
    relation = rel()
    _, out = call(
        MANUAL,
        testing.State(leader=True, relations={relation}),
        lambda c: c.info.publish("mlmd", 8080),
    )
    req = rel(dict(out.get_relation(relation.id).local_app_data))
    data, _ = call(REQUIRER, testing.State(relations={req}), lambda c: c.info.get_data())
    assert data == KubernetesServiceInfo(name="mlmd", port="8080")
    assert data.port_number == 8080


def test_non_leader_publishes_nothing():
    relation = rel()
    state = testing.State(leader=False, relations={relation})
    out = PROVIDER.run(PROVIDER.on.relation_created(relation), state)
    _, out = call(MANUAL, out, lambda c: c.info.publish("mlmd", 8080))
    assert out.get_relation(relation.id).local_app_data == {}


def test_publish_is_idempotent(monkeypatch):
    relation = rel()
    out = PROVIDER.run(
        PROVIDER.on.relation_created(relation), testing.State(leader=True, relations={relation})
    )
    spy = WriteSpy(monkeypatch)
    PROVIDER.run(PROVIDER.on.leader_elected(), out)
    call(MANUAL, out, lambda c: c.info.publish("katib-db-manager", "6789"))
    assert spy.writes == []


def test_publish_changes_only_what_changed(monkeypatch):
    relation = rel()
    out = PROVIDER.run(
        PROVIDER.on.relation_created(relation), testing.State(leader=True, relations={relation})
    )
    spy = WriteSpy(monkeypatch)
    call(MANUAL, out, lambda c: c.info.publish("katib-db-manager", 7000))
    assert spy.writes == [{"port": "7000"}]


def test_requirer_errors():
    raises_in_hook(REQUIRER, testing.State(), lambda c: c.info.get_data(), RelationMissingError)
    two = testing.State(relations={rel(), rel()})
    raises_in_hook(REQUIRER, two, lambda c: c.info.get_data(), RelationConflictError)
    partial = testing.State(relations={rel({"name": "x"})})
    err = raises_in_hook(REQUIRER, partial, lambda c: c.info.get_data(), RelationNotReadyError)
    assert "has not published port yet" in str(err)


@pytest.mark.parametrize("port", ["0", "http", "65536", "80 ", "٨٠"])
def test_invalid_port_is_a_data_error(port):
    relation = rel({"name": "svc", "port": port})
    err = raises_in_hook(
        REQUIRER,
        testing.State(relations={relation}),
        lambda c: c.info.get_data(),
        RelationDataError,
    )
    assert str(err).startswith(f"k8s-service-info:{relation.id}: invalid data from app")
    assert "port:" in str(err)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(remote=databags(["name", "port"]))
def test_random_remote_data_only_raises_relation_errors(remote):
    only_relation_errors(
        REQUIRER, testing.State(relations={rel(remote)}), lambda c: c.info.get_data()
    )
