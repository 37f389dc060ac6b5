"""State-transition tests of `kfcharm.relations.s3` (v1 secrets form, v0 compatibility)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import ops
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kfcharm.relations.errors import (
    RelationConflictError,
    RelationDataError,
    RelationError,
    RelationMissingError,
    RelationNotReadyError,
)
from kfcharm.relations.s3 import (
    LIB_VERSION,
    S3Connection,
    S3Credentials,
    S3Provider,
    S3Requirer,
)
from kfcharm.testing.leaks import find_leaks
from ops import testing

T = TypeVar("T")

SCHEMAS = Path(__file__).resolve().parents[3].parent / "shared" / "schemas" / "interfaces"
REQUESTED_SECRETS_BYTES = '["access-key", "secret-key"]'
CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"


class RequirerCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        bucket = str(self.config.get("bucket", "")) or None
        self.s3 = S3Requirer(self, bucket=bucket)


class ProviderCharm(ops.CharmBase):
    """A tiny object store: same keys for everyone, the bucket each requirer asks for."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.s3 = S3Provider(self)
        framework.observe(self.on["s3"].relation_changed, self._reconcile)
        framework.observe(self.on.config_changed, self._reconcile)

    def _reconcile(self, _: ops.EventBase) -> None:
        for request in self.s3.requests():
            self.s3.publish(
                request.relation_id,
                S3Connection(
                    access_key="minio",
                    secret_key=str(self.config["secret-key"]),
                    bucket=request.bucket or "default",
                    endpoint="http://minio.kubeflow.svc:9000",
                    region="us-east-1",
                    path=request.path,
                    s3_uri_style="path",
                    tls_ca_chain=[CA] if self.config["tls"] else None,
                    s3_api_version=4,
                    attributes=["Cache-Control=max-age=90000"],
                ),
                allow_plaintext=bool(self.config["allow-plaintext"]),
            )


REQUIRER_META = {"name": "kserve", "requires": {"s3-credentials": {"interface": "s3", "limit": 1}}}
REQUIRER_CONFIG = {"options": {"bucket": {"type": "string", "default": ""}}}
PROVIDER_META = {"name": "minio", "provides": {"s3": {"interface": "s3"}}}
PROVIDER_CONFIG = {
    "options": {
        "secret-key": {"type": "string", "default": "minio123"},
        "tls": {"type": "boolean", "default": True},
        "allow-plaintext": {"type": "boolean", "default": True},
    }
}


@pytest.fixture
def requirer_ctx() -> testing.Context[RequirerCharm]:
    return testing.Context(RequirerCharm, meta=REQUIRER_META, config=REQUIRER_CONFIG)


@pytest.fixture
def provider_ctx() -> testing.Context[ProviderCharm]:
    return testing.Context(ProviderCharm, meta=PROVIDER_META, config=PROVIDER_CONFIG)


def call(ctx: testing.Context, state: testing.State, fn: Callable[[Any], T]) -> T:
    """Run `fn(charm)` inside a hook (update-status) and return its result."""
    with ctx(ctx.on.update_status(), state) as manager:
        return fn(manager.charm)


def requirer_relation(**kwargs: Any) -> testing.Relation:
    return testing.Relation("s3-credentials", remote_app_name="minio", id=5, **kwargs)


def provider_relation(**kwargs: Any) -> testing.Relation:
    return testing.Relation("s3", remote_app_name="kserve", id=2, **kwargs)


def requirer_request(ctx: testing.Context, **config: str) -> dict[str, str]:
    """The databag the requirer writes on relation-created."""
    relation = requirer_relation()
    state = testing.State(leader=True, relations={relation}, config=config)
    out = ctx.run(ctx.on.relation_created(relation), state)
    return dict(out.get_relation(relation.id).local_app_data)


def provide(
    ctx: testing.Context, request: dict[str, str], **state: Any
) -> tuple[dict[str, str], testing.State]:
    """The provider's answer (databag, output state) to `request`."""
    relation = provider_relation(remote_app_data=request, **state.pop("relation", {}))
    state.setdefault("leader", True)
    out = ctx.run(ctx.on.relation_changed(relation), testing.State(relations={relation}, **state))
    return dict(out.get_relation(relation.id).local_app_data), out


def as_observer(secret: testing.Secret) -> testing.Secret:
    """The secret as the requirer sees it once granted."""
    return testing.Secret(secret.latest_content, id=secret.id)


def schema_instance(schema: dict[str, Any], databag: dict[str, str]) -> dict[str, Any]:
    """The databag as the registry schema sees it.

    JSON-encoded fields the schema types as non-strings are decoded; absent nullable fields
    become null (a databag cannot hold null).
    """
    defs = schema["$defs"]
    app = defs[schema["properties"]["app"]["$ref"].rsplit("/", 1)[-1]]

    def types(prop: dict[str, Any]) -> set[str]:
        options = prop.get("anyOf", [prop])
        resolved = [defs[o["$ref"].rsplit("/", 1)[-1]] if "$ref" in o else o for o in options]
        return {str(option.get("type")) for option in resolved}

    instance: dict[str, Any] = {}
    for key, value in databag.items():
        prop = app["properties"].get(key)
        instance[key] = json.loads(value) if prop and "string" not in types(prop) else value
    for key in app.get("required", []):
        if key not in instance and "null" in types(app["properties"][key]):
            instance[key] = None
    return {"app": instance}


def load_schema(name: str) -> dict[str, Any]:
    path = SCHEMAS / name
    if not path.exists():
        pytest.skip(f"shared interface schemas not found at {SCHEMAS}")
    return json.loads(path.read_text())


# Requirer: the request


def test_requirer_writes_v1_request(requirer_ctx):
    databag = requirer_request(requirer_ctx)

    assert databag == {"requested-secrets": REQUESTED_SECRETS_BYTES, "lib-version": LIB_VERSION}
    schema = load_schema("s3_v1_requirer.json")
    jsonschema.validate(schema_instance(schema, databag), schema)
    assert json.loads(databag["requested-secrets"]) == ["access-key", "secret-key"]


def test_requirer_asks_for_its_bucket(requirer_ctx):
    databag = requirer_request(requirer_ctx, bucket="mlpipeline")

    assert databag["bucket"] == "mlpipeline"
    schema = load_schema("s3_v1_requirer.json")
    jsonschema.validate(schema_instance(schema, databag), schema)


def test_requirer_non_leader_writes_nothing(requirer_ctx):
    relation = requirer_relation()

    out = requirer_ctx.run(
        requirer_ctx.on.relation_created(relation), testing.State(relations={relation})
    )

    assert out.get_relation(5).local_app_data == {}


def test_requirer_names_a_bucket_for_v0_providers(requirer_ctx):
    v0_answer = {"endpoint": "http://s3", "access-key": "a", "secret-key": "s"}
    relation = requirer_relation(remote_app_data=v0_answer)

    out = requirer_ctx.run(
        requirer_ctx.on.relation_changed(relation),
        testing.State(leader=True, relations={relation}),
    )

    assert out.get_relation(5).local_app_data["bucket"] == "relation-5"
    state = testing.State(relations={relation})
    credentials = call(requirer_ctx, state, lambda charm: charm.s3.get_credentials())
    assert (credentials.access_key, credentials.secret_key) == ("a", "s")


def test_requirer_does_not_name_a_bucket_for_v1_providers(requirer_ctx):
    relation = requirer_relation(remote_app_data={"lib-version": "1.10", "endpoint": "x"})

    out = requirer_ctx.run(
        requirer_ctx.on.relation_changed(relation),
        testing.State(leader=True, relations={relation}),
    )

    assert "bucket" not in out.get_relation(5).local_app_data


# Round trips


def test_round_trip_secrets_form(requirer_ctx, provider_ctx):
    provider_bag, out = provide(provider_ctx, requirer_request(requirer_ctx, bucket="models"))

    (secret,) = out.secrets
    assert secret.owner == "app"
    assert secret.label == "s3.2.extra.secret"
    assert secret.remote_grants == {2: frozenset({"kserve"})}
    assert secret.latest_content == {"access-key": "minio", "secret-key": "minio123"}
    assert provider_bag == {
        "bucket": "models",
        "endpoint": "http://minio.kubeflow.svc:9000",
        "region": "us-east-1",
        "s3-uri-style": "path",
        "tls-ca-chain": json.dumps([CA]),
        "s3-api-version": "4",
        "attributes": '["Cache-Control=max-age=90000"]',
        "lib-version": LIB_VERSION,
        "secret-extra": secret.id,
    }
    schema = load_schema("s3_v1_provider.json")
    jsonschema.validate(schema_instance(schema, provider_bag), schema)
    assert find_leaks(out, ["minio123"], ctx=provider_ctx) == []  # nowhere but in the secret

    state = testing.State(
        relations={requirer_relation(remote_app_data=provider_bag)}, secrets={as_observer(secret)}
    )
    credentials = call(requirer_ctx, state, lambda charm: charm.s3.get_credentials())

    assert credentials == S3Credentials(
        access_key="minio",
        secret_key="minio123",
        bucket="models",
        endpoint="http://minio.kubeflow.svc:9000",
        region="us-east-1",
        s3_uri_style="path",
        tls_ca_chain=[CA],
        s3_api_version=4,
        attributes=["Cache-Control=max-age=90000"],
    )
    assert "minio123" not in repr(credentials)


def test_round_trip_plain_form_for_v0_requirers(requirer_ctx, provider_ctx):
    provider_bag, out = provide(
        provider_ctx, {"bucket": "relation-2"}, config={"secret-key": "k", "tls": False}
    )

    assert not out.secrets
    assert (provider_bag["access-key"], provider_bag["secret-key"]) == ("minio", "k")
    assert "secret-extra" not in provider_bag
    assert "tls-ca-chain" not in provider_bag

    state = testing.State(relations={requirer_relation(remote_app_data=provider_bag)})
    credentials = call(requirer_ctx, state, lambda charm: charm.s3.get_credentials())
    assert credentials.bucket == "relation-2"
    assert credentials.tls_ca_chain is None


def test_provider_requests(provider_ctx):
    relations = {
        provider_relation(
            remote_app_data={"lib-version": "1.0", "requested-secrets": REQUESTED_SECRETS_BYTES}
        ),
        testing.Relation("s3", remote_app_name="old", id=3, remote_app_data={"bucket": "b-b"}),
        testing.Relation("s3", remote_app_name="silent", id=4),
    }

    requests = call(provider_ctx, testing.State(relations=relations), lambda c: c.s3.requests())

    assert [(r.relation_id, r.app_name, r.bucket, r.wants_secrets) for r in requests] == [
        (2, "kserve", None, True),
        (3, "old", "b-b", False),
    ]


# Idempotency, rotation, cleanup


def test_publish_is_idempotent(requirer_ctx, provider_ctx):
    request = requirer_request(requirer_ctx)
    provider_bag, out = provide(provider_ctx, request)
    (secret,) = out.secrets

    again_bag, out2 = provide(
        provider_ctx, request, relation={"local_app_data": provider_bag}, secrets=out.secrets
    )

    assert again_bag == provider_bag
    (same,) = out2.secrets
    assert same.id == secret.id
    state = testing.State(leader=True, secrets=out2.secrets)
    assert (
        call(provider_ctx, state, lambda c: c.model.get_secret(id=secret.id).get_info()).revision
        == 1
    )


def test_key_rotation_updates_the_secret_only(requirer_ctx, provider_ctx):
    request = requirer_request(requirer_ctx)
    provider_bag, out = provide(provider_ctx, request)
    (secret,) = out.secrets

    rotated_bag, out2 = provide(
        provider_ctx,
        request,
        relation={"local_app_data": provider_bag},
        secrets=out.secrets,
        config={"secret-key": "rotated"},
    )

    (rotated,) = out2.secrets
    assert rotated.id == secret.id
    content: dict[str, str] = dict(rotated.latest_content)
    assert content["secret-key"] == "rotated"
    assert rotated_bag == provider_bag
    observer = testing.Secret(
        secret.latest_content, latest_content=rotated.latest_content, id=secret.id
    )
    state = testing.State(
        relations={requirer_relation(remote_app_data=rotated_bag)}, secrets={observer}
    )
    assert call(requirer_ctx, state, lambda c: c.s3.get_credentials()).secret_key == "rotated"


def test_switching_to_plain_form_removes_the_secret(requirer_ctx, provider_ctx):
    provider_bag, out = provide(provider_ctx, requirer_request(requirer_ctx))

    plain_bag, out2 = provide(
        provider_ctx,
        {"bucket": "relation-2"},
        relation={"local_app_data": provider_bag},
        secrets=out.secrets,
    )

    assert not out2.secrets
    assert "secret-extra" not in plain_bag
    assert plain_bag["access-key"] == "minio"


def test_relation_broken_removes_the_secret(requirer_ctx, provider_ctx):
    request = requirer_request(requirer_ctx)
    provider_bag, out = provide(provider_ctx, request)
    relation = provider_relation(remote_app_data=request, local_app_data=provider_bag)

    out2 = provider_ctx.run(
        provider_ctx.on.relation_broken(relation),
        testing.State(leader=True, relations={relation}, secrets=out.secrets),
    )

    assert not out2.secrets


def test_secret_remove_drops_unused_revisions(requirer_ctx, provider_ctx):
    request = requirer_request(requirer_ctx)
    bag, out = provide(provider_ctx, request)
    for key in ("two", "three"):
        bag, out = provide(
            provider_ctx,
            request,
            relation={"local_app_data": bag},
            secrets=out.secrets,
            config={"secret-key": key},
        )
    (ours,) = out.secrets

    provider_ctx.run(
        provider_ctx.on.secret_remove(ours, revision=2), testing.State(leader=True, secrets={ours})
    )

    assert provider_ctx.removed_secret_revisions == [2]


def test_publish_non_leader_is_a_no_op(provider_ctx):
    provider_bag, out = provide(provider_ctx, {"lib-version": "1.0"}, leader=False)

    assert provider_bag == {}
    assert not out.secrets


def test_publish_to_unknown_relation_is_missing(provider_ctx):
    credentials = S3Credentials(access_key="a", secret_key="s")

    with pytest.raises(RelationMissingError):
        call(provider_ctx, testing.State(leader=True), lambda c: c.s3.publish(9, credentials))


# Errors


@pytest.mark.parametrize(
    ("databag", "field"),
    [
        ({"bucket": "Not_A_Bucket"}, "bucket"),
        ({"bucket": "ab"}, "bucket"),
        ({"lib-version": "1.0", "requested-secrets": "access-key"}, "requested-secrets"),
    ],
)
def test_malformed_requests_are_reported_not_served(provider_ctx, databag, field):
    relations = {
        provider_relation(remote_app_data=databag),
        testing.Relation("s3", remote_app_name="ok", id=3, remote_app_data={"lib-version": "1.0"}),
    }
    state = testing.State(relations=relations)

    results = call(provider_ctx, state, lambda c: c.s3.collect_requests())
    with pytest.raises(RelationDataError) as raised:
        call(provider_ctx, state, lambda c: c.s3.requests())

    assert [r.app_name for r in results.values.values()] == ["ok"]
    assert (raised.value.endpoint, raised.value.relation_id) == ("s3", 2)
    assert field in str(raised.value)


def test_get_credentials_without_relation_is_missing(requirer_ctx):
    with pytest.raises(RelationMissingError):
        call(requirer_ctx, testing.State(), lambda c: c.s3.get_credentials())


def test_get_credentials_with_two_relations_needs_an_id(requirer_ctx):
    relations = {requirer_relation(), testing.Relation("s3-credentials", id=6)}

    with pytest.raises(RelationConflictError):
        call(requirer_ctx, testing.State(relations=relations), lambda c: c.s3.get_credentials())
    with pytest.raises(RelationNotReadyError):
        call(requirer_ctx, testing.State(relations=relations), lambda c: c.s3.get_credentials(6))


@pytest.mark.parametrize(
    "databag",
    [
        {},
        {"lib-version": "1.0", "bucket": "b"},
        {"secret-extra": "secret:aaaaaaaaaaaaaaaaaaaa"},
        {"access-key": "only-one-half"},
    ],
)
def test_get_credentials_not_ready(requirer_ctx, databag):
    state = testing.State(relations={requirer_relation(remote_app_data=databag)})

    with pytest.raises(RelationNotReadyError) as raised:
        call(requirer_ctx, state, lambda c: c.s3.get_credentials())
    assert raised.value.relation_id == 5


@pytest.mark.parametrize(
    ("databag", "field"),
    [
        ({"s3-uri-style": "virtual"}, "s3-uri-style"),
        ({"s3-api-version": "3"}, "s3-api-version"),
        ({"tls-ca-chain": CA}, "tls-ca-chain"),
        ({"tls-ca-chain": '"one"'}, "tls-ca-chain"),
        ({"attributes": "[1]"}, "attributes"),
        ({"secret-extra": "s3cr3t"}, "secret-extra"),
    ],
)
def test_get_credentials_malformed(requirer_ctx, databag, field):
    base = {"access-key": "a", "secret-key": "s", "lib-version": "1.0"}
    state = testing.State(relations={requirer_relation(remote_app_data={**base, **databag})})

    with pytest.raises(RelationDataError) as raised:
        call(requirer_ctx, state, lambda c: c.s3.get_credentials())
    assert field in str(raised.value)
    assert "s3cr3t" not in str(raised.value)


def test_get_credentials_secret_without_keys_is_malformed(requirer_ctx):
    secret = testing.Secret({"access-key": "a"})
    state = testing.State(
        relations={requirer_relation(remote_app_data={"secret-extra": secret.id})},
        secrets={secret},
    )

    with pytest.raises(RelationDataError, match="secret-extra"):
        call(requirer_ctx, state, lambda c: c.s3.get_credentials())


# Property tests: no databag makes the library raise anything but a RelationError

FIELDS = [
    "bucket",
    "endpoint",
    "region",
    "path",
    "s3-uri-style",
    "storage-class",
    "tls-ca-chain",
    "s3-api-version",
    "attributes",
    "lib-version",
    "secret-extra",
    "access-key",
    "secret-key",
    "requested-secrets",
]
values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["path", "host", "2", "4", "[]", '["a"]', "1.0", "0.9", "x.y", "mlpipeline"]),
    st.builds(json.dumps, st.lists(st.text(max_size=5) | st.integers(), max_size=3)),
)
databags = st.dictionaries(
    st.sampled_from(FIELDS) | st.text(min_size=1, max_size=8), values, max_size=8
)


@given(
    databag=databags,
    granted=st.booleans(),
    content=st.dictionaries(
        st.sampled_from(["access-key", "secret-key"]), st.text(min_size=1, max_size=8)
    ),
)
def test_requirer_never_raises_anything_but_relation_errors(databag, granted, content):
    ctx = testing.Context(RequirerCharm, meta=REQUIRER_META, config=REQUIRER_CONFIG)
    secret = testing.Secret(content or {"other": "x"})
    if granted:
        databag = {**databag, "secret-extra": secret.id}
    relation = requirer_relation(remote_app_data=databag)
    state = testing.State(leader=True, relations={relation}, secrets={secret})

    ctx.run(ctx.on.relation_changed(relation), state)  # writing the request never fails
    try:
        credentials = call(ctx, state, lambda c: c.s3.get_credentials())
    except RelationError:
        return
    assert credentials.access_key
    assert credentials.secret_key


@given(databag=databags)
def test_provider_never_raises_anything_but_relation_errors(databag):
    ctx = testing.Context(ProviderCharm, meta=PROVIDER_META, config=PROVIDER_CONFIG)
    relation = provider_relation(remote_app_data=databag)

    try:
        ctx.run(
            ctx.on.relation_changed(relation), testing.State(leader=True, relations={relation})
        )
    except testing.errors.UncaughtCharmError as err:
        cause = err.__cause__
    else:
        cause = None
    assert cause is None or isinstance(cause, RelationError), cause


def test_plain_form_is_refused_unless_allowed(provider_ctx):
    relation = provider_relation(remote_app_data={"bucket": "relation-2"})
    state = testing.State(leader=True, relations={relation}, config={"allow-plaintext": False})
    with pytest.raises(testing.errors.UncaughtCharmError) as exc:
        provider_ctx.run(provider_ctx.on.relation_changed(relation), state)
    assert isinstance(exc.value.__cause__, RelationDataError)
    assert "plain-text" in str(exc.value.__cause__)
