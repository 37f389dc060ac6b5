"""State-transition tests of the generic SDI mechanism (kfcharm.relations.sdi)."""

from __future__ import annotations

from importlib import resources

import jsonschema
import ops
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kfcharm.relations import (
    RelationConflictError,
    RelationDataError,
    RelationMissingError,
    RelationNotReadyError,
)
from kfcharm.relations.sdi import (
    RelationResults,
    SdiProvider,
    SdiRequirer,
    SdiSchemaError,
    load_schemas,
    schema_errors,
)
from ops import testing
from relations_testlib import (
    WriteSpy,
    call,
    databags,
    iter_files,
    only_relation_errors,
    raises_in_hook,
    shared_sdi_schema,
    versions,
)

SCHEMAS = {
    "v1": {
        "provides": {
            "type": "object",
            "properties": {"host": {"type": "string"}, "port": {"type": "integer"}},
            "required": ["host", "port"],
        },
    },
    "v2": {
        "provides": {
            "type": "object",
            "properties": {
                "host": {"type": "string"},
                "port": {"type": "integer"},
                "tls": {"type": "boolean"},
            },
            "required": ["host", "port", "tls"],
        },
        "requires": {
            "type": "object",
            "properties": {"client": {"type": "string"}},
            "required": ["client"],
        },
    },
}
V1 = {"host": "db", "port": 5}
V2 = {"host": "db", "port": 5, "tls": True}


class ProviderCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.sdi = SdiProvider(self, "thing", SCHEMAS)


class RequirerCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.sdi = SdiRequirer(self, "thing", SCHEMAS)


class AutoProviderCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.sdi = SdiProvider(self, "thing", SCHEMAS, versions=["v1"], auto_data=V1)


PROVIDER_META = {"name": "prov", "provides": {"thing": {"interface": "thing"}}}
REQUIRER_META = {"name": "req", "requires": {"thing": {"interface": "thing"}}}


def provider_ctx(charm: type[ops.CharmBase] = ProviderCharm) -> testing.Context:
    return testing.Context(charm, meta=PROVIDER_META)


def requirer_ctx() -> testing.Context:
    return testing.Context(RequirerCharm, meta=REQUIRER_META)


def rel(remote: dict[str, str] | None = None, **kwargs) -> testing.Relation:
    return testing.Relation(
        "thing", interface="thing", remote_app_name="other", remote_app_data=remote or {}, **kwargs
    )


# -- packaged schemas --------------------------------------------------------------------------


def test_packaged_schemas_equal_the_shared_ones():
    packaged = resources.files("kfcharm.relations") / "schemas"
    names = [p.name for p in iter_files(packaged, ".yaml")]  # type: ignore[arg-type]
    assert names, "no packaged schemas"
    for name in names:
        interface = name.removesuffix(".yaml")
        assert load_schemas(interface) == shared_sdi_schema(interface), name


def test_packaged_schemas_have_an_attribution_readme():
    readme = resources.files("kfcharm.relations") / "schemas" / "README.md"
    text = readme.read_text()
    assert "Apache-2.0" in text
    assert "canonical/operator-schemas" in text


def test_load_schemas_returns_a_copy():
    first = load_schemas("ingress")
    first["v1"]["requires"]["required"].append("extra")
    assert "extra" not in load_schemas("ingress")["v1"]["requires"]["required"]


@pytest.mark.parametrize("name", ["no-such-interface", "../etc/passwd", "Bad Name"])
def test_load_schemas_rejects_unknown_or_unsafe_names(name):
    with pytest.raises(SdiSchemaError):
        load_schemas(name)


@pytest.mark.parametrize(
    "schemas",
    [
        {},
        {"1": {"provides": {"type": "object"}}},
        {"v1": {"both": {"type": "object"}}},
        {"v1": {"provides": {"type": "object", "pattern": "x"}}},
        {"v1": {"provides": {"type": "thing"}}},
        {"v1": {"provides": {"type": "object", "properties": []}}},
        {"v1": {"provides": {"type": "object", "required": "host"}}},
        {"v1": {"provides": {"type": "array", "items": {"enum": [1]}}}},
        {"v1": {"provides": {"additionalProperties": {"minimum": 1}}}},
        {"v1": {"provides": []}},
    ],
)
def test_invalid_or_unsupported_schemas_fail_loudly(schemas):
    class Charm(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            SdiProvider(self, "thing", schemas)

    ctx = testing.Context(Charm, meta=PROVIDER_META)
    with pytest.raises(testing.errors.UncaughtCharmError) as info:
        ctx.run(ctx.on.update_status(), testing.State())
    assert isinstance(info.value.__cause__, SdiSchemaError)


@pytest.mark.parametrize(
    ("kwargs", "meta"),
    [
        ({"versions": ["v7"]}, PROVIDER_META),
        ({"versions": []}, PROVIDER_META),
        ({}, REQUIRER_META),
        ({}, {"name": "x", "provides": {"other": {"interface": "thing"}}}),
    ],
)
def test_bad_construction_raises(kwargs, meta):
    class Charm(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            SdiProvider(self, "thing", SCHEMAS, **kwargs)

    ctx = testing.Context(Charm, meta=meta)
    with pytest.raises(testing.errors.UncaughtCharmError) as info:
        ctx.run(ctx.on.update_status(), testing.State())
    assert isinstance(info.value.__cause__, ValueError)


# -- versions ----------------------------------------------------------------------------------


def test_leader_publishes_supported_versions_on_relation_created():
    relation = rel()
    out = provider_ctx().run(
        provider_ctx().on.relation_created(relation),
        testing.State(leader=True, relations={relation}),
    )
    assert out.get_relation(relation.id).local_app_data == {"_supported_versions": "- v1\n- v2\n"}


@pytest.mark.parametrize("event", ["leader_elected", "upgrade_charm"])
def test_leader_publishes_versions_on_leadership_and_upgrade(event):
    relation = rel()
    ctx = provider_ctx()
    out = ctx.run(getattr(ctx.on, event)(), testing.State(leader=True, relations={relation}))
    assert out.get_relation(relation.id).local_app_data["_supported_versions"] == "- v1\n- v2\n"


def test_non_leader_writes_nothing():
    relation = rel({"_supported_versions": versions("v1")})
    ctx = provider_ctx()
    state = testing.State(leader=False, relations={relation})
    out = ctx.run(ctx.on.relation_created(relation), state)

    def act(charm):
        charm.sdi.send_data(V1)
        charm.sdi.publish_versions()

    _, out2 = call(ctx, out, act)
    assert out2.get_relation(relation.id).local_app_data == {}


@pytest.mark.parametrize(
    ("remote", "expected"),
    [("- v1\n", "v1"), ("- v1\n- v2\n", "v2"), ("- v2\n- v3\n", "v2"), ("[1, 2]", "v2")],
)
def test_highest_common_version_is_negotiated(remote, expected):
    relation = rel({"_supported_versions": remote})
    version, _ = call(
        provider_ctx(),
        testing.State(relations={relation}),
        lambda c: c.sdi.get_version(c.model.get_relation("thing")),
    )
    assert version == expected


def test_unversioned_peer_is_not_ready():
    relation = rel({"data": yaml.safe_dump(V1)})
    err = raises_in_hook(
        requirer_ctx(),
        testing.State(relations={relation}),
        lambda c: c.sdi.get_data(),
        RelationNotReadyError,
    )
    assert err.relation_id == relation.id
    assert "_supported_versions" in str(err)


@pytest.mark.parametrize("remote", ["{", "v1", "- [v1]\n", "- 1.5\n", "- true\n", "- x1\n"])
def test_malformed_versions_are_a_data_error(remote):
    relation = rel({"_supported_versions": remote})
    err = raises_in_hook(
        requirer_ctx(),
        testing.State(relations={relation}),
        lambda c: c.sdi.get_data(),
        RelationDataError,
    )
    assert str(err).startswith(f"thing:{relation.id}: field _supported_versions from app other")


def test_incompatible_versions_are_a_data_error_naming_both_sides():
    relation = rel({"_supported_versions": versions("v3"), "data": yaml.safe_dump(V1)})
    err = raises_in_hook(
        requirer_ctx(),
        testing.State(relations={relation}),
        lambda c: c.sdi.get_data(),
        RelationDataError,
    )
    assert "we support v1, v2; other supports v3" in str(err)


# -- sending -----------------------------------------------------------------------------------


def test_send_data_writes_yaml_for_the_negotiated_version():
    relation = rel({"_supported_versions": versions("v1")})
    _, out = call(
        provider_ctx(),
        testing.State(leader=True, relations={relation}),
        lambda c: c.sdi.send_data(V1),
    )
    local = out.get_relation(relation.id).local_app_data
    assert local == {"_supported_versions": "- v1\n- v2\n", "data": "host: db\nport: 5\n"}


def test_send_data_validates_against_the_negotiated_version():
    relation = rel({"_supported_versions": versions("v1", "v2")})
    err = raises_in_hook(
        provider_ctx(),
        testing.State(leader=True, relations={relation}),
        lambda c: c.sdi.send_data(V1),
        SdiSchemaError,
    )
    assert "tls: required field missing" in str(err)


def test_send_data_skips_unversioned_and_incompatible_relations():
    unversioned = rel()
    incompatible = rel({"_supported_versions": versions("v9")})
    good = rel({"_supported_versions": versions("v2")})
    state = testing.State(leader=True, relations={unversioned, incompatible, good})
    _, out = call(provider_ctx(), state, lambda c: c.sdi.send_data(V2))
    assert "data" not in out.get_relation(unversioned.id).local_app_data
    assert "data" not in out.get_relation(incompatible.id).local_app_data
    assert yaml.safe_load(out.get_relation(good.id).local_app_data["data"]) == V2


def test_send_data_to_one_relation_only():
    first = rel({"_supported_versions": versions("v1")})
    second = rel({"_supported_versions": versions("v1")})
    state = testing.State(leader=True, relations={first, second})

    def act(charm):
        charm.sdi.send_data(V1, relation=charm.model.get_relation("thing", first.id))

    _, out = call(provider_ctx(), state, act)
    assert "data" in out.get_relation(first.id).local_app_data
    assert "data" not in out.get_relation(second.id).local_app_data


def test_send_data_refuses_a_role_without_schema():
    relation = testing.Relation(
        "thing", interface="thing", remote_app_data={"_supported_versions": versions("v1")}
    )
    ctx = requirer_ctx()
    err = raises_in_hook(
        ctx,
        testing.State(leader=True, relations={relation}),
        lambda c: c.sdi.send_data({"client": "x"}),
        SdiSchemaError,
    )
    assert "defines no data for requires" in str(err)


def test_send_data_is_idempotent(monkeypatch):
    relation = rel({"_supported_versions": versions("v1")})
    ctx = provider_ctx()
    _, out = call(
        ctx, testing.State(leader=True, relations={relation}), lambda c: c.sdi.send_data(V1)
    )
    spy = WriteSpy(monkeypatch)
    _, out2 = call(ctx, out, lambda c: c.sdi.send_data(V1))
    assert spy.writes == []
    assert (
        out2.get_relation(relation.id).local_app_data
        == out.get_relation(relation.id).local_app_data
    )


def test_auto_data_is_sent_once_the_remote_publishes_versions():
    relation = rel()
    ctx = provider_ctx(AutoProviderCharm)
    out = ctx.run(
        ctx.on.relation_created(relation), testing.State(leader=True, relations={relation})
    )
    assert out.get_relation(relation.id).local_app_data == {"_supported_versions": "- v1\n"}
    relation = out.get_relation(relation.id)
    changed = testing.Relation(
        "thing",
        interface="thing",
        id=relation.id,
        remote_app_name="other",
        local_app_data=dict(relation.local_app_data),
        remote_app_data={"_supported_versions": versions("v1", "v2")},
    )
    out2 = ctx.run(
        ctx.on.relation_changed(changed), testing.State(leader=True, relations={changed})
    )
    assert out2.get_relation(changed.id).local_app_data["data"] == "host: db\nport: 5\n"


# -- receiving ---------------------------------------------------------------------------------


def test_round_trip_provider_to_requirer():
    prov_rel = rel({"_supported_versions": versions("v2")})
    _, out = call(
        provider_ctx(),
        testing.State(leader=True, relations={prov_rel}),
        lambda c: c.sdi.send_data(V2),
    )
    sent = out.get_relation(prov_rel.id).local_app_data
    req_rel = rel(dict(sent))
    data, _ = call(requirer_ctx(), testing.State(relations={req_rel}), lambda c: c.sdi.get_data())
    assert data == {req_rel.id: V2}


def test_requirer_data_round_trips_to_provider():
    req_rel = rel({"_supported_versions": versions("v1", "v2")})
    _, out = call(
        requirer_ctx(),
        testing.State(leader=True, relations={req_rel}),
        lambda c: c.sdi.send_data({"client": "me"}),
    )
    prov_rel = rel(dict(out.get_relation(req_rel.id).local_app_data))
    data, _ = call(
        provider_ctx(), testing.State(relations={prov_rel}), lambda c: c.sdi.get_single_data()
    )
    assert data == {"client": "me"}


@pytest.mark.parametrize("raw", [None, "", "{}\n", "null\n"])
def test_versioned_peer_without_data_is_not_ready(raw):
    remote = {"_supported_versions": versions("v1")}
    if raw is not None:
        remote["data"] = raw
    relation = rel(remote)
    err = raises_in_hook(
        requirer_ctx(),
        testing.State(relations={relation}),
        lambda c: c.sdi.get_data(),
        RelationNotReadyError,
    )
    assert "has not published data yet" in str(err)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{", "not valid YAML"),
        ("a: 2001-13-45", "not valid YAML"),
        ("- 1\n", "expected a mapping, got array"),
        ("host: db\nport: x\n", "port: expected integer, got string"),
        ("host: db\n", "port: required field missing"),
    ],
)
def test_malformed_data_is_a_data_error_naming_relation_and_field(raw, message):
    relation = rel({"_supported_versions": versions("v1"), "data": raw})
    err = raises_in_hook(
        requirer_ctx(),
        testing.State(relations={relation}),
        lambda c: c.sdi.get_data(),
        RelationDataError,
    )
    assert err.endpoint == "thing"
    assert err.relation_id == relation.id
    assert str(err).startswith(f"thing:{relation.id}: field data from app other")
    assert message in str(err)


def test_remote_role_without_schema_sends_nothing():
    # v1 defines no 'requires' data: a provider gets {} once versions are agreed...
    relation = rel({"_supported_versions": versions("v1")})
    data, _ = call(provider_ctx(), testing.State(relations={relation}), lambda c: c.sdi.get_data())
    assert data == {relation.id: {}}
    # ... and data it should not have received is an error.
    relation = rel({"_supported_versions": versions("v1"), "data": "client: x\n"})
    err = raises_in_hook(
        provider_ctx(),
        testing.State(relations={relation}),
        lambda c: c.sdi.get_data(),
        RelationDataError,
    )
    assert "defines no data for the requires side" in str(err)


def test_collect_data_keeps_good_relations_and_ranks_errors():
    good = rel({"_supported_versions": versions("v1"), "data": "host: a\nport: 1\n"})
    waiting = rel({})
    bad = rel({"_supported_versions": versions("v1"), "data": "host: a\n"})
    state = testing.State(relations={good, waiting, bad})
    results, _ = call(requirer_ctx(), state, lambda c: c.sdi.collect_data())
    assert results.values == {good.id: {"host": "a", "port": 1}}
    assert set(results.errors) == {waiting.id, bad.id}
    assert isinstance(results.first_error(), RelationDataError)
    err = raises_in_hook(requirer_ctx(), state, lambda c: c.sdi.get_data(), RelationDataError)
    assert err.relation_id == bad.id


def test_relation_results_ordering():
    results: RelationResults[int] = RelationResults(
        values={1: 1},
        errors={3: RelationNotReadyError("x", "wait", 3), 2: RelationNotReadyError("x", "w", 2)},
    )
    assert results.first_error().relation_id == 2
    assert results.first_error(include_not_ready=False) is None
    results.raise_first(include_not_ready=False)
    with pytest.raises(RelationNotReadyError):
        results.raise_first()


def test_no_relations_gives_empty_data():
    data, _ = call(requirer_ctx(), testing.State(), lambda c: c.sdi.get_data())
    assert data == {}


def test_single_data_requires_exactly_one_relation():
    ctx = requirer_ctx()
    raises_in_hook(ctx, testing.State(), lambda c: c.sdi.get_single_data(), RelationMissingError)
    two = testing.State(relations={rel(), rel()})
    err = raises_in_hook(ctx, two, lambda c: c.sdi.get_single_data(), RelationConflictError)
    assert "expected one relation, found 2" in str(err)


def test_validator_reports_nested_paths_and_extra_fields():
    schemas = {
        "v1": {
            "provides": {
                "type": "object",
                "properties": {
                    "items": {"type": "array", "items": {"type": ["string", "null"]}},
                    "meta": {"type": "object", "additionalProperties": {"type": "number"}},
                },
                "additionalProperties": False,
            }
        }
    }

    class Charm(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.sdi = SdiRequirer(self, "thing", schemas)

    ctx = testing.Context(Charm, meta=REQUIRER_META)
    raw = yaml.safe_dump({"items": ["a", None, 3], "meta": {"x": True}, "zzz": 1})
    relation = rel({"_supported_versions": versions("v1"), "data": raw})
    err = raises_in_hook(
        ctx, testing.State(relations={relation}), lambda c: c.sdi.get_data(), RelationDataError
    )
    text = str(err)
    assert "items[2]: expected string or null, got integer" in text
    assert "meta.x: expected number, got boolean" in text
    assert "zzz: unexpected field" in text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(remote=databags(["_supported_versions", "data"]))
def test_random_remote_data_only_raises_relation_errors(remote):
    relation = rel(remote)
    state = testing.State(relations={relation})
    only_relation_errors(requirer_ctx(), state, lambda c: c.sdi.get_data())
    only_relation_errors(provider_ctx(), state, lambda c: c.sdi.get_data())


_JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "service",
                    "port",
                    "prefix",
                    "namespace",
                    "rewrite",
                    "access-key",
                    "secure",
                    "allowed-request-headers",
                    "service-name",
                    "x",
                ]
            ),
            inner,
            max_size=6,
        ),
    ),
    max_leaves=12,
)
_ALL_SCHEMAS = [
    schema
    for interface in ("object-storage", "k8s-service", "ingress", "ingress-auth")
    for roles in load_schemas(interface).values()
    for schema in roles.values()
] + [s for roles in SCHEMAS.values() for s in roles.values()]


@settings(max_examples=400, deadline=None)
@given(instance=_JSON_VALUES, schema=st.sampled_from(_ALL_SCHEMAS))
def test_validator_agrees_with_jsonschema(instance, schema):
    expected_valid = jsonschema.Draft202012Validator(schema).is_valid(instance)
    assert (not list(schema_errors(instance, schema))) == expected_valid


def test_publish_versions_writes_every_relation_on_the_leader():
    first, second = rel(), rel()
    state = testing.State(leader=True, relations={first, second})
    _, out = call(provider_ctx(), state, lambda c: c.sdi.publish_versions())
    for relation in (first, second):
        assert out.get_relation(relation.id).local_app_data == {
            "_supported_versions": "- v1\n- v2\n"
        }


def test_yaml_only_types_are_named_in_errors():
    relation = rel({"_supported_versions": versions("v1"), "data": "host: 2001-01-01\nport: 1\n"})
    err = raises_in_hook(
        requirer_ctx(),
        testing.State(relations={relation}),
        lambda c: c.sdi.get_data(),
        RelationDataError,
    )
    assert "host: expected string, got date" in str(err)
