"""State-transition tests of kfcharm.relations.ingress (istio SDI ingress v1/v2)."""

from __future__ import annotations

import ops
import pydantic
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from kfcharm.relations import RelationDataError, RelationNotReadyError
from kfcharm.relations.ingress import IngressProvider, IngressRequest, IngressRequirer
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

EXPECTED = (
    "namespace: kubeflow\nport: 8080\nprefix: /katib/\nrewrite: /katib/\nservice: katib-ui\n"
)


class KatibUiCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.ingress = IngressRequirer(self, port=8080, prefix="/katib/", rewrite="/katib/")


class ManualCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.ingress = IngressRequirer(self)


class IstioCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.ingress = IngressProvider(self)


REQUIRES = {"requires": {"ingress": {"interface": "ingress"}}}
REQUIRER = testing.Context(KatibUiCharm, meta={"name": "katib-ui", **REQUIRES})
MANUAL = testing.Context(ManualCharm, meta={"name": "katib-ui", **REQUIRES})
PROVIDER = testing.Context(
    IstioCharm, meta={"name": "istio-pilot", "provides": {"ingress": {"interface": "ingress"}}}
)
MODEL = testing.Model(name="kubeflow")


def rel(remote: dict[str, str] | None = None, **kwargs) -> testing.Relation:
    return testing.Relation("ingress", interface="ingress", remote_app_data=remote or {}, **kwargs)


@pytest.mark.parametrize(("istio", "version"), [("- v1\n- v2\n", "v2"), ("- v1\n", "v1")])
def test_request_is_sent_with_the_negotiated_schema(istio, version):
    relation = rel({"_supported_versions": istio}, remote_app_name="istio-pilot")
    out = REQUIRER.run(
        REQUIRER.on.relation_changed(relation),
        testing.State(leader=True, relations={relation}, model=MODEL),
    )
    databag = dict(out.get_relation(relation.id).local_app_data)
    assert databag == {"_supported_versions": "- v1\n- v2\n", "data": EXPECTED}
    assert_sdi_data_valid(databag, "ingress", version, "requires")


def test_nothing_but_versions_before_istio_publishes_its_versions():
    relation = rel()
    out = REQUIRER.run(
        REQUIRER.on.relation_created(relation),
        testing.State(leader=True, relations={relation}, model=MODEL),
    )
    assert out.get_relation(relation.id).local_app_data == {"_supported_versions": "- v1\n- v2\n"}
    errors, _ = call(REQUIRER, out, lambda c: c.ingress.collect_errors())
    assert isinstance(errors[relation.id], RelationNotReadyError)


def test_publish_without_rewrite_and_defaults():
    relation = rel({"_supported_versions": versions("v2")})
    request, out = call(
        MANUAL,
        testing.State(leader=True, relations={relation}, model=MODEL),
        lambda c: c.ingress.publish(port=5000, prefix="/models/"),
    )
    assert request == IngressRequest(
        service="katib-ui", port=5000, prefix="/models/", namespace="kubeflow"
    )
    assert yaml.safe_load(out.get_relation(relation.id).local_app_data["data"]) == {
        "namespace": "kubeflow",
        "port": 5000,
        "prefix": "/models/",
        "service": "katib-ui",
    }


def test_publish_rejects_invalid_port():
    raises_in_hook(
        MANUAL,
        testing.State(leader=True),
        lambda c: c.ingress.publish(port=0, prefix="/x/"),
        pydantic.ValidationError,
    )


def test_non_leader_writes_nothing():
    relation = rel({"_supported_versions": versions("v2")})
    state = testing.State(leader=False, relations={relation})
    out = REQUIRER.run(REQUIRER.on.relation_changed(relation), state)
    _, out = call(MANUAL, out, lambda c: c.ingress.publish(port=1, prefix="/"))
    assert out.get_relation(relation.id).local_app_data == {}


def test_publish_is_idempotent(monkeypatch):
    relation = rel({"_supported_versions": versions("v1", "v2")})
    state = testing.State(leader=True, relations={relation}, model=MODEL)
    out = REQUIRER.run(REQUIRER.on.relation_changed(relation), state)
    spy = WriteSpy(monkeypatch)
    out = REQUIRER.run(REQUIRER.on.leader_elected(), out)
    call(MANUAL, out, lambda c: c.ingress.publish(port=8080, prefix="/katib/", rewrite="/katib/"))
    assert spy.writes == []


def test_round_trip_requirer_to_provider():
    relation = rel({"_supported_versions": versions("v1", "v2")})
    out = REQUIRER.run(
        REQUIRER.on.relation_changed(relation),
        testing.State(leader=True, relations={relation}, model=MODEL),
    )
    to_istio = rel(dict(out.get_relation(relation.id).local_app_data), remote_app_name="katib-ui")
    routes, _ = call(
        PROVIDER, testing.State(relations={to_istio}), lambda c: c.ingress.get_routes()
    )
    assert routes == [
        IngressRequest(
            service="katib-ui",
            port=8080,
            prefix="/katib/",
            rewrite="/katib/",
            namespace="kubeflow",
        )
    ]


def test_provider_skips_waiting_relations_and_reports_bad_ones():
    good = rel(
        {"_supported_versions": versions("v1"), "data": "service: a\nport: 1\nprefix: /a\n"}
    )
    waiting = rel({"_supported_versions": versions("v2")})
    v2_without_namespace = rel(
        {"_supported_versions": versions("v2"), "data": "service: b\nport: 1\nprefix: /b\n"}
    )
    state = testing.State(relations={good, waiting})
    routes, _ = call(PROVIDER, state, lambda c: c.ingress.get_routes())
    assert [r.service for r in routes] == ["a"]
    bad_state = testing.State(relations={good, waiting, v2_without_namespace})
    err = raises_in_hook(PROVIDER, bad_state, lambda c: c.ingress.get_routes(), RelationDataError)
    assert err.relation_id == v2_without_namespace.id
    assert "namespace: required field missing" in str(err)
    results, _ = call(PROVIDER, bad_state, lambda c: c.ingress.collect_routes())
    assert list(results.values) == [good.id]
    assert set(results.errors) == {waiting.id, v2_without_namespace.id}


def test_provider_reports_model_violations_as_data_errors():
    relation = rel(
        {"_supported_versions": versions("v1"), "data": "service: a\nport: 0\nprefix: /\n"}
    )
    results, _ = call(
        PROVIDER, testing.State(relations={relation}), lambda c: c.ingress.collect_routes()
    )
    assert isinstance(results.errors[relation.id], RelationDataError)
    assert "port: Input should be greater than or equal to 1" in str(results.errors[relation.id])


GOOD = {"service": "a", "port": 80, "prefix": "/a", "namespace": "m", "rewrite": "/"}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(remote=databags(["_supported_versions", "data"]) | sdi_databags(list(GOOD), GOOD))
def test_random_remote_data_only_raises_relation_errors(remote):
    only_relation_errors(
        PROVIDER, testing.State(relations={rel(remote)}), lambda c: c.ingress.get_routes()
    )
    only_relation_errors(
        REQUIRER,
        testing.State(leader=True, relations={rel(remote)}),
        lambda c: c.ingress.collect_errors(),
    )
