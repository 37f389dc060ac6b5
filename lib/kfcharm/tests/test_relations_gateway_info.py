"""State-transition tests of kfcharm.relations.gateway_info (istio gateway-info, local-gateway)."""

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
from kfcharm.relations.gateway_info import (
    GatewayInfo,
    GatewayInfoProvider,
    GatewayInfoRequirer,
    LocalGatewayInfo,
    LocalGatewayProvider,
    LocalGatewayRequirer,
)
from ops import testing
from relations_testlib import WriteSpy, call, databags, only_relation_errors, raises_in_hook


class KserveCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.ingress_gateway = GatewayInfoRequirer(self)
        self.local_gateway = LocalGatewayRequirer(self)


class IstioCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.gateway = GatewayInfoProvider(self)


class KnativeCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.local_gateway = LocalGatewayProvider(self)


REQUIRER = testing.Context(
    KserveCharm,
    meta={
        "name": "kserve-controller",
        "requires": {
            "ingress-gateway": {"interface": "istio-gateway-info"},
            "local-gateway": {"interface": "serving-local-gateway"},
        },
    },
)
ISTIO = testing.Context(
    IstioCharm,
    meta={
        "name": "istio-pilot",
        "provides": {"gateway-info": {"interface": "istio-gateway-info"}},
    },
)
KNATIVE = testing.Context(
    KnativeCharm,
    meta={
        "name": "knative-serving",
        "provides": {"local-gateway": {"interface": "serving-local-gateway"}},
    },
)


def gw_rel(endpoint: str, remote: dict[str, str] | None = None) -> testing.Relation:
    interface = "serving-local-gateway" if endpoint == "local-gateway" else "istio-gateway-info"
    return testing.Relation(endpoint, interface=interface, remote_app_data=remote or {})


def test_istio_gateway_round_trip():
    relation = gw_rel("gateway-info")
    _, out = call(
        ISTIO,
        testing.State(leader=True, relations={relation}),
        lambda c: c.gateway.publish("kubeflow-gateway", "kubeflow", gateway_up=False),
    )
    databag = dict(out.get_relation(relation.id).local_app_data)
    assert databag == {
        "gateway_name": "kubeflow-gateway",
        "gateway_namespace": "kubeflow",
        "gateway_up": "false",
    }
    state = testing.State(relations={gw_rel("ingress-gateway", databag)})
    data, _ = call(REQUIRER, state, lambda c: c.ingress_gateway.get_data())
    assert data == GatewayInfo(
        gateway_name="kubeflow-gateway", gateway_namespace="kubeflow", gateway_up=False
    )
    assert data.ref == "kubeflow/kubeflow-gateway"


def test_local_gateway_round_trip():
    relation = gw_rel("local-gateway")
    _, out = call(
        KNATIVE,
        testing.State(leader=True, relations={relation}),
        lambda c: c.local_gateway.publish("knative-local-gateway", "knative-serving"),
    )
    databag = dict(out.get_relation(relation.id).local_app_data)
    assert databag["gateway_name"] == "knative-local-gateway"
    state = testing.State(relations={gw_rel("local-gateway", databag)})
    data, _ = call(REQUIRER, state, lambda c: c.local_gateway.get_data())
    assert data == LocalGatewayInfo(
        gateway_name="knative-local-gateway", gateway_namespace="knative-serving"
    )
    assert data.ref == "knative-serving/knative-local-gateway"


def test_gateway_up_defaults_to_true_for_older_providers():
    remote = {"gateway_name": "g", "gateway_namespace": "ns"}
    state = testing.State(relations={gw_rel("ingress-gateway", remote)})
    data, _ = call(REQUIRER, state, lambda c: c.ingress_gateway.get_data())
    assert data.gateway_up is True


@pytest.mark.parametrize(("raw", "up"), [("true", True), ("False", False), ("TRUE", True)])
def test_gateway_up_is_parsed(raw, up):
    remote = {"gateway_name": "g", "gateway_namespace": "ns", "gateway_up": raw}
    state = testing.State(relations={gw_rel("ingress-gateway", remote)})
    data, _ = call(REQUIRER, state, lambda c: c.ingress_gateway.get_data())
    assert data.gateway_up is up


def test_malformed_gateway_up_is_a_data_error():
    remote = {"gateway_name": "g", "gateway_namespace": "ns", "gateway_up": "yes"}
    relation = gw_rel("ingress-gateway", remote)
    err = raises_in_hook(
        REQUIRER,
        testing.State(relations={relation}),
        lambda c: c.ingress_gateway.get_data(),
        RelationDataError,
    )
    assert str(err).startswith(f"ingress-gateway:{relation.id}: field gateway_up from app")


@pytest.mark.parametrize("attr", ["ingress_gateway", "local_gateway"])
def test_requirer_errors(attr):
    endpoint = attr.replace("_", "-")
    get = lambda c: getattr(c, attr).get_data()  # noqa: E731 - tiny accessor
    raises_in_hook(REQUIRER, testing.State(), get, RelationMissingError)
    partial = testing.State(relations={gw_rel(endpoint, {"gateway_name": "g"})})
    err = raises_in_hook(REQUIRER, partial, get, RelationNotReadyError)
    assert "gateway_namespace" in str(err)
    two = testing.State(relations={gw_rel(endpoint), gw_rel(endpoint)})
    raises_in_hook(REQUIRER, two, get, RelationConflictError)


def test_non_leader_publishes_nothing():
    relation = gw_rel("gateway-info")
    _, out = call(
        ISTIO,
        testing.State(leader=False, relations={relation}),
        lambda c: c.gateway.publish("g", "ns"),
    )
    assert out.get_relation(relation.id).local_app_data == {}


def test_publish_is_idempotent(monkeypatch):
    relation = gw_rel("gateway-info")
    state = testing.State(leader=True, relations={relation})
    _, out = call(ISTIO, state, lambda c: c.gateway.publish("g", "ns"))
    spy = WriteSpy(monkeypatch)
    call(ISTIO, out, lambda c: c.gateway.publish("g", "ns", gateway_up=True))
    assert spy.writes == []
    call(ISTIO, out, lambda c: c.gateway.publish("g", "ns", gateway_up=False))
    assert spy.writes == [{"gateway_up": "false"}]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(remote=databags(["gateway_name", "gateway_namespace", "gateway_up"]))
def test_random_remote_data_only_raises_relation_errors(remote):
    state = testing.State(
        relations={gw_rel("ingress-gateway", remote), gw_rel("local-gateway", remote)}
    )
    only_relation_errors(REQUIRER, state, lambda c: c.ingress_gateway.get_data())
    only_relation_errors(REQUIRER, state, lambda c: c.local_gateway.get_data())
