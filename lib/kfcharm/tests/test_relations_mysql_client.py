"""State-transition tests of `kfcharm.relations.mysql_client` (both sides, both wire forms)."""

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
    RelationDataError,
    RelationError,
    RelationMissingError,
    RelationNotReadyError,
)
from kfcharm.relations.mysql_client import (
    REQUESTED_SECRETS,
    DatabaseCredentials,
    MysqlClientProvider,
    MysqlClientRequirer,
)
from kfcharm.testing.leaks import find_leaks
from ops import testing

T = TypeVar("T")

SCHEMAS = Path(__file__).resolve().parents[3].parent / "shared" / "schemas" / "interfaces"
REQUESTED_SECRETS_BYTES = '["username", "password", "tls", "tls-ca", "uris"]'


class RequirerCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        roles = str(self.config.get("extra-user-roles", "")) or None
        self.db = MysqlClientRequirer(self, database="katib", extra_user_roles=roles)


class ProviderCharm(ops.CharmBase):
    """A tiny mysql: one user per relation, password from config (to test rotation)."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.db = MysqlClientProvider(self)
        framework.observe(self.on["database"].relation_changed, self._reconcile)
        framework.observe(self.on.config_changed, self._reconcile)

    def _reconcile(self, _: ops.EventBase) -> None:
        for request in self.db.requests():
            self.db.publish(
                request.relation_id,
                username=f"relation-{request.relation_id}",
                password=str(self.config["password"]),
                endpoints=["mysql-0.mysql-endpoints:3306", "mysql-1.mysql-endpoints:3306"],
                database=request.database,
                version="8.0.36",
            )


REQUIRER_META = {
    "name": "katib",
    "requires": {"relational-db": {"interface": "mysql_client", "limit": 1}},
}
REQUIRER_CONFIG = {"options": {"extra-user-roles": {"type": "string", "default": ""}}}
PROVIDER_META = {"name": "mysql", "provides": {"database": {"interface": "mysql_client"}}}
PROVIDER_CONFIG = {"options": {"password": {"type": "string", "default": "pw-one"}}}


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
    return testing.Relation("relational-db", remote_app_name="mysql", id=7, **kwargs)


def provider_relation(**kwargs: Any) -> testing.Relation:
    return testing.Relation("database", remote_app_name="katib", id=3, **kwargs)


def requirer_request(ctx: testing.Context, **config: str) -> dict[str, str]:
    """The databag the requirer writes on relation-created."""
    relation = requirer_relation()
    out = ctx.run(
        ctx.on.relation_created(relation),
        testing.State(leader=True, relations={relation}, config=config),
    )
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
    """The databag as the registry schema sees it: JSON-encoded non-string fields decoded,
    absent nullable fields as null (a databag cannot hold null)."""
    defs = schema["$defs"]
    app = defs[schema["properties"]["app"]["$ref"].rsplit("/", 1)[-1]]

    def types(prop: dict[str, Any]) -> set[str]:
        options = [
            defs[o["$ref"].rsplit("/", 1)[-1]] if "$ref" in o else o
            for o in prop.get("anyOf", [prop])
        ]
        return {str(option.get("type")) for option in options}

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


def test_requirer_writes_request_with_library_bytes(requirer_ctx):
    databag = requirer_request(requirer_ctx)

    assert databag["database"] == "katib"
    assert databag["requested-secrets"] == REQUESTED_SECRETS_BYTES
    assert json.loads(databag["requested-secrets"]) == REQUESTED_SECRETS
    assert json.loads(databag["data"]) == {
        "database": "katib",
        "requested-secrets": REQUESTED_SECRETS_BYTES,
    }
    assert "extra-user-roles" not in databag


def test_requirer_request_matches_registry_schema(requirer_ctx):
    schema = load_schema("mysql_client_v0_requirer.json")
    databag = requirer_request(requirer_ctx, **{"extra-user-roles": "admin"})

    jsonschema.validate(schema_instance(schema, databag), schema)
    assert databag["extra-user-roles"] == "admin"


def test_requirer_removes_extra_user_roles_no_longer_configured(requirer_ctx):
    relation = requirer_relation(local_app_data={"extra-user-roles": "admin", "database": "katib"})
    state = testing.State(leader=True, relations={relation})

    out = requirer_ctx.run(requirer_ctx.on.leader_elected(), state)

    assert "extra-user-roles" not in out.get_relation(7).local_app_data


def test_requirer_non_leader_writes_nothing(requirer_ctx):
    relation = requirer_relation()

    out = requirer_ctx.run(
        requirer_ctx.on.relation_created(relation), testing.State(relations={relation})
    )

    assert out.get_relation(7).local_app_data == {}


# Round trips: requirer -> provider -> requirer


def test_round_trip_secrets_form(requirer_ctx, provider_ctx):
    provider_bag, out = provide(provider_ctx, requirer_request(requirer_ctx))

    (secret,) = out.secrets
    assert secret.owner == "app"
    assert secret.label == "database.3.user.secret"
    assert secret.remote_grants == {3: frozenset({"katib"})}
    assert secret.latest_content == {
        "username": "relation-3",
        "password": "pw-one",
        "uris": "mysql://relation-3:pw-one@mysql-0.mysql-endpoints:3306/katib",
    }
    assert provider_bag == {
        "database": "katib",
        "endpoints": "mysql-0.mysql-endpoints:3306,mysql-1.mysql-endpoints:3306",
        "version": "8.0.36",
        "secret-user": secret.id,
    }
    assert find_leaks(out, ["pw-one"], ctx=provider_ctx) == []  # nowhere but in the secret

    state = testing.State(
        relations={requirer_relation(remote_app_data=provider_bag)}, secrets={as_observer(secret)}
    )
    with requirer_ctx(requirer_ctx.on.update_status(), state) as manager:
        credentials = manager.charm.db.get_credentials()
        requirer_out = manager.run()

    assert find_leaks(requirer_out, ["pw-one"], ctx=requirer_ctx) == []
    assert credentials == DatabaseCredentials(
        username="relation-3",
        password="pw-one",
        endpoints=["mysql-0.mysql-endpoints:3306", "mysql-1.mysql-endpoints:3306"],
        host="mysql-0.mysql-endpoints",
        port=3306,
        database="katib",
        version="8.0.36",
        uris="mysql://relation-3:pw-one@mysql-0.mysql-endpoints:3306/katib",
    )
    assert "pw-one" not in repr(credentials)


def test_round_trip_plain_form_for_old_requirers(requirer_ctx, provider_ctx):
    provider_bag, out = provide(provider_ctx, {"database": "mlpipeline"})

    assert not out.secrets
    assert provider_bag["username"] == "relation-3"
    assert provider_bag["password"] == "pw-one"
    assert "secret-user" not in provider_bag
    jsonschema.validate(
        schema_instance(schema := load_schema("mysql_client_v0_provider.json"), provider_bag),
        schema,
    )

    state = testing.State(relations={requirer_relation(remote_app_data=provider_bag)})
    credentials = call(requirer_ctx, state, lambda charm: charm.db.get_credentials())

    assert (credentials.username, credentials.password) == ("relation-3", "pw-one")
    assert credentials.database == "mlpipeline"
    assert credentials.uris is None


def test_provider_secrets_form_matches_schema_apart_from_credentials(requirer_ctx, provider_ctx):
    schema = load_schema("mysql_client_v0_provider.json")
    provider_bag, _ = provide(provider_ctx, requirer_request(requirer_ctx))
    # The registry schema models the plain fallback only: credentials live in the secret.
    app = schema["$defs"]["MySQLProviderData"]
    app["required"] = [key for key in app["required"] if key not in ("username", "password")]

    jsonschema.validate(schema_instance(schema, provider_bag), schema)


def test_uris_quote_special_characters(provider_ctx):
    _, out = provide(
        provider_ctx,
        {"database": "katib", "requested-secrets": REQUESTED_SECRETS_BYTES},
        config={"password": "p@ss:w/rd"},
    )

    (secret,) = out.secrets
    content: dict[str, str] = dict(secret.tracked_content)
    assert content["uris"] == (
        "mysql://relation-3:p%40ss%3Aw%2Frd@mysql-0.mysql-endpoints:3306/katib"
    )


# Provider: idempotency, rotation, cleanup


def test_publish_is_idempotent(requirer_ctx, provider_ctx):
    request = requirer_request(requirer_ctx)
    provider_bag, out = provide(provider_ctx, request)
    (secret,) = out.secrets
    relation = provider_relation(remote_app_data=request, local_app_data=provider_bag)
    state = testing.State(leader=True, relations={relation}, secrets={secret})

    def publish_again(charm: ProviderCharm) -> int:
        charm._reconcile(None)  # type: ignore[arg-type]  # the handler ignores its event
        return charm.model.get_secret(label="database.3.user.secret").get_info().revision

    revision_before = call(
        provider_ctx, state, lambda c: c.model.get_secret(id=secret.id).get_info().revision
    )
    assert call(provider_ctx, state, publish_again) == revision_before

    out2 = provider_ctx.run(provider_ctx.on.relation_changed(relation), state)
    assert out2.get_relation(3).local_app_data == provider_bag
    assert {s.id for s in out2.secrets} == {secret.id}


def test_password_rotation_updates_the_secret(requirer_ctx, provider_ctx):
    request = requirer_request(requirer_ctx)
    provider_bag, out = provide(provider_ctx, request)
    (secret,) = out.secrets
    relation = provider_relation(remote_app_data=request, local_app_data=provider_bag)
    state = testing.State(
        leader=True, relations={relation}, secrets={secret}, config={"password": "pw-two"}
    )

    out2 = provider_ctx.run(provider_ctx.on.config_changed(), state)

    (rotated,) = out2.secrets
    assert rotated.id == secret.id
    assert rotated.latest_content["password"] == "pw-two"
    assert out2.get_relation(3).local_app_data == provider_bag  # same URI, nothing rewritten

    observer = testing.Secret(
        secret.latest_content, latest_content=rotated.latest_content, id=secret.id
    )
    requirer_state = testing.State(
        relations={requirer_relation(remote_app_data=provider_bag)}, secrets={observer}
    )
    credentials = call(requirer_ctx, requirer_state, lambda charm: charm.db.get_credentials())
    assert credentials.password == "pw-two"


def test_switching_between_forms_cleans_up(provider_ctx):
    secrets_request = {"database": "katib", "requested-secrets": REQUESTED_SECRETS_BYTES}
    provider_bag, out = provide(provider_ctx, secrets_request)
    (secret,) = out.secrets

    plain_bag, out2 = provide(
        provider_ctx,
        {"database": "katib", "requested-secrets": '["tls"]'},
        relation={"local_app_data": provider_bag},
        secrets={secret},
    )

    assert not out2.secrets
    assert "secret-user" not in plain_bag
    assert plain_bag["password"] == "pw-one"

    again_bag, _ = provide(provider_ctx, secrets_request, relation={"local_app_data": plain_bag})
    assert "password" not in again_bag
    assert "username" not in again_bag
    assert again_bag["secret-user"].startswith("secret:")


def test_relation_broken_removes_the_secret(provider_ctx, requirer_ctx):
    request = requirer_request(requirer_ctx)
    provider_bag, out = provide(provider_ctx, request)
    relation = provider_relation(remote_app_data=request, local_app_data=provider_bag)

    out2 = provider_ctx.run(
        provider_ctx.on.relation_broken(relation),
        testing.State(leader=True, relations={relation}, secrets=out.secrets),
    )

    assert not out2.secrets


def test_forget_is_idempotent_and_leader_only(provider_ctx):
    secret = testing.Secret({"password": "x"}, owner="app", label="database.3.user.secret")
    state = testing.State(relations={provider_relation()}, secrets={secret})

    out = provider_ctx.run(provider_ctx.on.relation_broken(provider_relation()), state)
    assert out.secrets == {secret}  # not the leader: untouched

    call(provider_ctx, testing.State(leader=True), lambda charm: charm.db.forget(3))


def test_secret_remove_drops_unused_revisions_of_our_secrets_only(provider_ctx):
    request = {"database": "katib", "requested-secrets": REQUESTED_SECRETS_BYTES}
    bag, out = provide(provider_ctx, request)
    for password in ("pw-two", "pw-three"):  # two rotations: revisions 1, 2 and 3
        bag, out = provide(
            provider_ctx,
            request,
            relation={"local_app_data": bag},
            secrets=out.secrets,
            config={"password": password},
        )
    (ours,) = out.secrets
    other = testing.Secret({"password": "x"}, owner="app", label="something-else")
    state = testing.State(leader=True, secrets={ours, other})

    provider_ctx.run(provider_ctx.on.secret_remove(other, revision=2), state)
    assert provider_ctx.removed_secret_revisions == []

    provider_ctx.run(provider_ctx.on.secret_remove(ours, revision=2), state)
    assert provider_ctx.removed_secret_revisions == [2]


def test_publish_non_leader_is_a_no_op(provider_ctx):
    relation = provider_relation(remote_app_data={"database": "katib"})

    out = provider_ctx.run(
        provider_ctx.on.relation_changed(relation), testing.State(relations={relation})
    )

    assert out.get_relation(3).local_app_data == {}
    assert not out.secrets


def test_publish_rejects_bad_endpoints_and_unknown_relations(provider_ctx):
    state = testing.State(leader=True, relations={provider_relation()})

    def publish(relation_id: int, endpoints: list[str]) -> Callable[[ProviderCharm], None]:
        return lambda charm: charm.db.publish(
            relation_id, username="u", password="p", endpoints=endpoints, database="d", version="8"
        )

    with pytest.raises(ValueError, match="endpoints"):
        call(provider_ctx, state, publish(3, []))
    with pytest.raises(ValueError, match="host:port"):
        call(provider_ctx, state, publish(3, ["no-port"]))
    with pytest.raises(RelationMissingError):
        call(provider_ctx, state, publish(99, ["h:1"]))


def test_publish_writes_read_only_endpoints(requirer_ctx, provider_ctx):
    state = testing.State(
        leader=True, relations={provider_relation(remote_app_data={"database": "katib"})}
    )

    def publish(charm: ProviderCharm) -> None:
        charm.db.publish(
            3,
            username="u",
            password="p",
            endpoints=["[fd00::1]:3306"],
            database="katib",
            version="8",
            read_only_endpoints=["r1:3306", "r2:3306"],
        )

    with provider_ctx(provider_ctx.on.update_status(), state) as manager:
        publish(manager.charm)
        out = manager.run()
    bag = dict(out.get_relation(3).local_app_data)
    assert bag["read-only-endpoints"] == "r1:3306,r2:3306"

    credentials = call(
        requirer_ctx,
        testing.State(relations={requirer_relation(remote_app_data=bag)}),
        lambda charm: charm.db.get_credentials(),
    )
    assert (credentials.host, credentials.port) == ("fd00::1", 3306)
    assert credentials.read_only_endpoints == ["r1:3306", "r2:3306"]


# Provider: reading requests


def test_requests_lists_only_apps_that_asked(provider_ctx):
    relations = {
        provider_relation(
            remote_app_data={"database": "katib", "requested-secrets": REQUESTED_SECRETS_BYTES}
        ),
        testing.Relation(
            "database",
            remote_app_name="kfp-api",
            id=4,
            remote_app_data={"database": "mlpipeline", "extra-user-roles": "admin"},
        ),
        testing.Relation("database", remote_app_name="silent", id=5),
    }

    requests = call(provider_ctx, testing.State(relations=relations), lambda c: c.db.requests())

    assert [
        (r.relation_id, r.app_name, r.database, r.wants_secrets, r.extra_user_roles)
        for r in requests
    ] == [
        (3, "katib", "katib", True, None),
        (4, "kfp-api", "mlpipeline", False, "admin"),
    ]


@pytest.mark.parametrize(
    ("databag", "field"),
    [
        ({"database": "katib; DROP TABLE x"}, "database"),
        ({"database": ""}, "database"),
        ({"database": "katib", "requested-secrets": "username"}, "requested-secrets"),
        ({"database": "katib", "requested-secrets": '{"a": 1}'}, "requested-secrets"),
        ({"database": "katib", "requested-secrets": "[1, 2]"}, "requested-secrets"),
    ],
)
def test_malformed_requests_are_reported_not_served(provider_ctx, databag, field):
    relations = {
        provider_relation(remote_app_data=databag),
        testing.Relation(
            "database", remote_app_name="ok", id=4, remote_app_data={"database": "ok"}
        ),
    }
    state = testing.State(relations=relations)

    results = call(provider_ctx, state, lambda c: c.db.collect_requests())
    with pytest.raises(RelationDataError) as raised:
        call(provider_ctx, state, lambda c: c.db.requests())

    assert [r.app_name for r in results.values.values()] == ["ok"]
    assert list(results.errors) == [3]
    assert raised.value.relation_id == 3
    assert raised.value.endpoint == "database"
    assert field in str(raised.value)


# Requirer: reading credentials, errors


def test_get_credentials_without_relation_is_missing(requirer_ctx):
    with pytest.raises(RelationMissingError) as raised:
        call(requirer_ctx, testing.State(), lambda c: c.db.get_credentials())
    assert raised.value.endpoint == "relational-db"


@pytest.mark.parametrize(
    "databag",
    [
        {},
        {"database": "katib", "endpoints": "h:3306"},
        {"username": "u", "password": "p", "endpoints": "h:3306"},
        {"username": "u", "password": "p", "database": "katib"},
        {"secret-user": "secret:aaaaaaaaaaaaaaaaaaaa", "database": "katib", "endpoints": "h:1"},
    ],
)
def test_get_credentials_not_ready(requirer_ctx, databag):
    state = testing.State(relations={requirer_relation(remote_app_data=databag)})

    with pytest.raises(RelationNotReadyError) as raised:
        call(requirer_ctx, state, lambda c: c.db.get_credentials())
    assert raised.value.relation_id == 7


@pytest.mark.parametrize(
    ("databag", "field"),
    [
        ({"endpoints": "host-without-port"}, "endpoints"),
        ({"endpoints": "h:99999"}, "endpoints"),
        ({"endpoints": ","}, "endpoints"),
        ({"read-only-endpoints": "h:x"}, "read-only-endpoints"),
        ({"secret-user": "not-a-secret-uri"}, "secret-user"),
    ],
)
def test_get_credentials_malformed(requirer_ctx, databag, field):
    base = {"database": "katib", "endpoints": "h:3306", "username": "u", "password": "p"}
    state = testing.State(relations={requirer_relation(remote_app_data={**base, **databag})})

    with pytest.raises(RelationDataError) as raised:
        call(requirer_ctx, state, lambda c: c.db.get_credentials())
    assert field in str(raised.value)
    assert raised.value.relation_id == 7
    assert "host-without-port" not in str(raised.value)


def test_get_credentials_secret_without_password_is_malformed(requirer_ctx):
    secret = testing.Secret({"username": "u"})
    databag = {"database": "katib", "endpoints": "h:3306", "secret-user": secret.id}
    state = testing.State(relations={requirer_relation(remote_app_data=databag)}, secrets={secret})

    with pytest.raises(RelationDataError, match="secret-user"):
        call(requirer_ctx, state, lambda c: c.db.get_credentials())


def test_get_credentials_reads_tls_ca_from_secret_tls(requirer_ctx):
    user = testing.Secret({"username": "u", "password": "p"})
    tls = testing.Secret({"tls": "True", "tls-ca": "-----BEGIN CERTIFICATE-----"})
    databag = {
        "database": "katib",
        "endpoints": "h:3306",
        "secret-user": user.id,
        "secret-tls": tls.id,
    }
    state = testing.State(
        relations={requirer_relation(remote_app_data=databag)}, secrets={user, tls}
    )

    credentials = call(requirer_ctx, state, lambda c: c.db.get_credentials())

    assert credentials.tls_ca == "-----BEGIN CERTIFICATE-----"


def test_get_credentials_by_relation_id(requirer_ctx):
    with pytest.raises(RelationMissingError):
        call(
            requirer_ctx,
            testing.State(relations={requirer_relation()}),
            lambda c: c.db.get_credentials(8),
        )


# Property tests: no databag makes the library raise anything but a RelationError

FIELDS = [
    "database",
    "endpoints",
    "read-only-endpoints",
    "version",
    "username",
    "password",
    "uris",
    "secret-user",
    "secret-tls",
    "tls-ca",
    "requested-secrets",
    "extra-user-roles",
    "data",
]
values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["h:3306", "a:1,b:2", "[::1]:3306", "[]", '["username"]', "secret:"]),
    st.builds(
        json.dumps,
        st.recursive(
            st.none() | st.integers() | st.text(max_size=5),
            lambda c: st.lists(c, max_size=3),
            max_leaves=5,
        ),
    ),
)
databags = st.dictionaries(
    st.sampled_from(FIELDS) | st.text(min_size=1, max_size=8), values, max_size=8
)


@given(
    databag=databags,
    granted=st.booleans(),
    content=st.dictionaries(
        st.sampled_from(["username", "password", "uris", "tls-ca"]),
        st.text(min_size=1, max_size=8),
    ),
)
def test_requirer_never_raises_anything_but_relation_errors(databag, granted, content):
    ctx = testing.Context(RequirerCharm, meta=REQUIRER_META, config=REQUIRER_CONFIG)
    secret = testing.Secret(content or {"other": "x"})
    if granted:
        databag = {**databag, "secret-user": secret.id}
    state = testing.State(relations={requirer_relation(remote_app_data=databag)}, secrets={secret})

    try:
        credentials = call(ctx, state, lambda c: c.db.get_credentials())
    except RelationError:
        return
    assert credentials.username
    assert credentials.password


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
