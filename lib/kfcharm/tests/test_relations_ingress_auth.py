"""State-transition tests of kfcharm.relations.ingress_auth (SDI ingress-auth v1)."""

from __future__ import annotations

import ops
import yaml
from hypothesis import HealthCheck, given, settings
from kfcharm.relations import RelationDataError, RelationNotReadyError
from kfcharm.relations.ingress_auth import (
    IngressAuthProvider,
    IngressAuthRequest,
    IngressAuthRequirer,
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

EXPECTED = (
    "allowed-request-headers:\n- cookie\n- x-auth-token\n"
    "allowed-response-headers:\n- kubeflow-userid\n"
    "port: 8080\nservice: oidc-gatekeeper\n"
)


class GatekeeperCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.auth = IngressAuthRequirer(self)
        framework.observe(self.on["ingress-auth"].relation_changed, self._reconcile)

    def _reconcile(self, _: ops.EventBase) -> None:
        self.auth.publish(
            port=8080,
            allowed_request_headers=["cookie", "x-auth-token"],
            allowed_response_headers=["kubeflow-userid"],
        )


class IstioCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.auth = IngressAuthProvider(self)


REQUIRER = testing.Context(
    GatekeeperCharm,
    meta={"name": "oidc-gatekeeper", "requires": {"ingress-auth": {"interface": "ingress-auth"}}},
)
PROVIDER = testing.Context(
    IstioCharm,
    meta={"name": "istio-pilot", "provides": {"ingress-auth": {"interface": "ingress-auth"}}},
)


def rel(remote: dict[str, str] | None = None, **kwargs) -> testing.Relation:
    return testing.Relation(
        "ingress-auth", interface="ingress-auth", remote_app_data=remote or {}, **kwargs
    )


def sent() -> dict[str, str]:
    relation = rel({"_supported_versions": versions("v1")})
    out = REQUIRER.run(
        REQUIRER.on.relation_changed(relation), testing.State(leader=True, relations={relation})
    )
    return dict(out.get_relation(relation.id).local_app_data)


def test_requirer_sends_the_wire_format():
    databag = sent()
    assert databag == {"_supported_versions": "- v1\n", "data": EXPECTED}
    assert_sdi_data_valid(databag, "ingress-auth", "v1", "requires")


def test_round_trip_requirer_to_provider():
    relation = rel(sent(), remote_app_name="oidc-gatekeeper")
    requests, _ = call(
        PROVIDER, testing.State(relations={relation}), lambda c: c.auth.get_requests()
    )
    assert requests == [
        IngressAuthRequest(
            service="oidc-gatekeeper",
            port=8080,
            allowed_request_headers=["cookie", "x-auth-token"],
            allowed_response_headers=["kubeflow-userid"],
        )
    ]


def test_headers_default_to_empty_lists():
    relation = rel({"_supported_versions": versions("v1"), "data": "service: a\nport: 1\n"})
    requests, _ = call(
        PROVIDER, testing.State(relations={relation}), lambda c: c.auth.get_requests()
    )
    assert requests[0].allowed_request_headers == []


def test_non_leader_writes_nothing():
    relation = rel({"_supported_versions": versions("v1")})
    out = REQUIRER.run(
        REQUIRER.on.relation_changed(relation), testing.State(leader=False, relations={relation})
    )
    assert out.get_relation(relation.id).local_app_data == {}


def test_publish_is_idempotent(monkeypatch):
    relation = rel({"_supported_versions": versions("v1")})
    out = REQUIRER.run(
        REQUIRER.on.relation_changed(relation), testing.State(leader=True, relations={relation})
    )
    spy = WriteSpy(monkeypatch)
    REQUIRER.run(REQUIRER.on.relation_changed(out.get_relation(relation.id)), out)
    assert spy.writes == []


def test_unversioned_istio_is_reported_not_ready():
    relation = rel()
    errors, _ = call(
        REQUIRER,
        testing.State(leader=True, relations={relation}),
        lambda c: c.auth.collect_errors(),
    )
    assert isinstance(errors[relation.id], RelationNotReadyError)


def test_malformed_request_is_a_data_error():
    bad = yaml.safe_dump({"service": "a", "port": 1, "allowed-request-headers": "cookie"})
    relation = rel({"_supported_versions": versions("v1"), "data": bad})
    err = raises_in_hook(
        PROVIDER,
        testing.State(relations={relation}),
        lambda c: c.auth.get_requests(),
        RelationDataError,
    )
    assert "allowed-request-headers: expected array, got string" in str(err)


GOOD = {"service": "a", "port": 1, "allowed-request-headers": [], "allowed-response-headers": []}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(remote=databags(["_supported_versions", "data"]) | sdi_databags(list(GOOD), GOOD))
def test_random_remote_data_only_raises_relation_errors(remote):
    only_relation_errors(
        PROVIDER, testing.State(relations={rel(remote)}), lambda c: c.auth.get_requests()
    )
