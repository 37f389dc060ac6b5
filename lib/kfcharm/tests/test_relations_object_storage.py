"""State-transition tests of kfcharm.relations.object_storage (SDI object-storage v1)."""

from __future__ import annotations

import ops
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from kfcharm.relations import RelationDataError, RelationMissingError, RelationNotReadyError
from kfcharm.relations.object_storage import (
    ObjectStorageData,
    ObjectStorageProvider,
    ObjectStorageRequirer,
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

SECRET = "s3cr3t-value-xyz"
DATA = ObjectStorageData(
    access_key="minio",
    secret_key=SECRET,
    service="minio",
    port=9000,
    secure=False,
    namespace="kubeflow",
)

FIELDS = ["access-key", "secret-key", "service", "port", "secure", "namespace"]


class MinioCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.object_storage = ObjectStorageProvider(self)


class ConsumerCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.object_storage = ObjectStorageRequirer(self)


PROVIDER = testing.Context(
    MinioCharm,
    meta={"name": "minio", "provides": {"object-storage": {"interface": "object-storage"}}},
)
REQUIRER = testing.Context(
    ConsumerCharm,
    meta={"name": "kfp-api", "requires": {"object-storage": {"interface": "object-storage"}}},
)


def rel(remote: dict[str, str] | None = None, app: str = "other") -> testing.Relation:
    return testing.Relation(
        "object-storage",
        interface="object-storage",
        remote_app_name=app,
        remote_app_data=remote or {},
    )


def published() -> dict[str, str]:
    relation = rel({"_supported_versions": versions("v1")}, app="kfp-api")
    state = testing.State(leader=True, relations={relation})
    _, out = call(PROVIDER, state, lambda c: c.object_storage.publish(DATA))
    return dict(out.get_relation(relation.id).local_app_data)


def test_provider_writes_the_legacy_wire_format():
    databag = published()
    assert databag == {
        "_supported_versions": "- v1\n",
        "data": (
            "access-key: minio\nnamespace: kubeflow\nport: 9000\n"
            f"secret-key: {SECRET}\nsecure: false\nservice: minio\n"
        ),
    }
    assert_sdi_data_valid(databag, "object-storage", "v1", "provides")


def test_round_trip_provider_to_requirer():
    relation = rel(published(), app="minio")
    data, _ = call(
        REQUIRER, testing.State(relations={relation}), lambda c: c.object_storage.get_data()
    )
    assert data == DATA
    assert data.url == "http://minio.kubeflow:9000"
    assert data.host == "minio.kubeflow"


def test_url_without_namespace_and_with_tls():
    data = DATA.model_copy(update={"namespace": None, "secure": True})
    assert data.url == "https://minio:9000"
    assert "namespace" not in data.to_databag()


def test_requirer_sends_only_versions():
    relation = rel()
    out = REQUIRER.run(
        REQUIRER.on.relation_created(relation), testing.State(leader=True, relations={relation})
    )
    assert out.get_relation(relation.id).local_app_data == {"_supported_versions": "- v1\n"}


def test_secret_key_is_not_in_repr():
    assert SECRET not in repr(DATA)
    assert SECRET not in str(DATA)


def test_non_leader_publishes_nothing():
    relation = rel({"_supported_versions": versions("v1")})
    _, out = call(
        PROVIDER,
        testing.State(leader=False, relations={relation}),
        lambda c: c.object_storage.publish(DATA),
    )
    assert out.get_relation(relation.id).local_app_data == {}


def test_publish_is_idempotent(monkeypatch):
    relation = rel({"_supported_versions": versions("v1")})
    _, out = call(
        PROVIDER,
        testing.State(leader=True, relations={relation}),
        lambda c: c.object_storage.publish(DATA),
    )
    spy = WriteSpy(monkeypatch)
    call(PROVIDER, out, lambda c: c.object_storage.publish(DATA))
    assert spy.writes == []


def test_missing_relation():
    raises_in_hook(
        REQUIRER, testing.State(), lambda c: c.object_storage.get_data(), RelationMissingError
    )


def test_unversioned_provider_is_not_ready():
    relation = rel({"data": yaml.safe_dump(DATA.to_databag())})
    raises_in_hook(
        REQUIRER,
        testing.State(relations={relation}),
        lambda c: c.object_storage.get_data(),
        RelationNotReadyError,
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"port": "9000"}, "port: expected number, got string"),
        ({"port": 70000}, "port: Input should be less than or equal to 65535"),
        ({"port": 9000.5}, "port: Input should be a valid integer"),
        ({"secure": "yes"}, "secure: expected boolean, got string"),
        ({"secret-key": None}, "secret-key: expected string, got null"),
        ({"service": ""}, "service: String should have at least 1 character"),
    ],
)
def test_malformed_provider_data_is_a_data_error(change, field):
    wire = {**DATA.to_databag(), **change}
    relation = rel({"_supported_versions": versions("v1"), "data": yaml.safe_dump(wire)})
    err = raises_in_hook(
        REQUIRER,
        testing.State(relations={relation}),
        lambda c: c.object_storage.get_data(),
        RelationDataError,
    )
    assert str(err).startswith(f"object-storage:{relation.id}:")
    assert field in str(err)
    assert SECRET not in str(err)
    assert err.__cause__ is None


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(remote=databags(["_supported_versions", "data"]) | sdi_databags(FIELDS, DATA.to_databag()))
def test_random_remote_data_only_raises_relation_errors(remote):
    state = testing.State(relations={rel(remote)})
    only_relation_errors(REQUIRER, state, lambda c: c.object_storage.get_data())
