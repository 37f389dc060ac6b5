"""State-transition tests of `kfcharm.relations.kubernetes_manifest` (both wire forms)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import ops
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kfcharm.relations.errors import (
    RelationConflictError,
    RelationDataError,
    RelationError,
    RelationNotReadyError,
)
from kfcharm.relations.kubernetes_manifest import (
    MAX_MANIFESTS,
    KubernetesManifestProvider,
    KubernetesManifestRequirer,
    ManifestEntry,
    manifest_problem,
)
from kfcharm.testing.leaks import find_leaks
from ops import testing

T = TypeVar("T")


def secret_manifest(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}


def service_account(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}


class RequirerCharm(ops.CharmBase):
    """Sends a Secret whose content comes from config (to test re-publishing)."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.secrets = KubernetesManifestRequirer(self, "secrets", self._manifests)
        self.service_accounts = KubernetesManifestRequirer(
            self, "service-accounts", [service_account("kserve-sa")]
        )
        framework.observe(self.on.config_changed, self._on_config_changed)

    def _manifests(self) -> list[dict[str, Any]]:
        return [secret_manifest("mlpipeline-minio-artifact", key=str(self.config["key"]))]

    def _on_config_changed(self, _: ops.EventBase) -> None:
        self.secrets.publish()


class ProviderCharm(ops.CharmBase):
    """A tiny resource-dispatcher: records what it read on every relevant event."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.manifests = KubernetesManifestProvider(self, "secrets")
        self.seen: tuple[list[ManifestEntry], list[RelationError]] | None = None
        for event in (
            self.on["secrets"].relation_changed,
            self.on["secrets"].relation_broken,
            self.on.secret_changed,
        ):
            framework.observe(event, self._reconcile)

    def _reconcile(self, _: ops.EventBase) -> None:
        self.seen = self.manifests.collect()


REQUIRER_META = {
    "name": "kserve",
    "requires": {
        "secrets": {"interface": "kubernetes_manifest"},
        "service-accounts": {"interface": "kubernetes_manifest"},
    },
}
REQUIRER_CONFIG = {"options": {"key": {"type": "string", "default": "one"}}}
PROVIDER_META = {
    "name": "resource-dispatcher",
    "provides": {"secrets": {"interface": "kubernetes_manifest"}},
}


@pytest.fixture
def requirer_ctx() -> testing.Context[RequirerCharm]:
    return testing.Context(RequirerCharm, meta=REQUIRER_META, config=REQUIRER_CONFIG)


@pytest.fixture
def provider_ctx() -> testing.Context[ProviderCharm]:
    return testing.Context(ProviderCharm, meta=PROVIDER_META)


def call(ctx: testing.Context, state: testing.State, fn: Callable[[Any], T]) -> T:
    """Run `fn(charm)` inside a hook (update-status) and return its result."""
    with ctx(ctx.on.update_status(), state) as manager:
        return fn(manager.charm)


def requirer_relation(**kwargs: Any) -> testing.Relation:
    return testing.Relation("secrets", remote_app_name="resource-dispatcher", id=4, **kwargs)


def from_app(app: str, relation_id: int, **kwargs: Any) -> testing.Relation:
    return testing.Relation("secrets", remote_app_name=app, id=relation_id, **kwargs)


def send(ctx: testing.Context, **state: Any) -> tuple[dict[str, str], testing.State]:
    """What the requirer publishes on relation-created (databag, output state)."""
    relation = requirer_relation(**state.pop("relation", {}))
    state.setdefault("leader", True)
    out = ctx.run(ctx.on.relation_created(relation), testing.State(relations={relation}, **state))
    return dict(out.get_relation(relation.id).local_app_data), out


def collect(ctx: testing.Context, *relations: testing.Relation, secrets: Any = ()) -> Any:
    state = testing.State(relations=set(relations), secrets=set(secrets))
    return call(ctx, state, lambda charm: charm.manifests.collect())


# Requirer


def test_requirer_sends_manifests_in_a_granted_secret(requirer_ctx):
    databag, out = send(requirer_ctx)

    (secret,) = out.secrets
    assert secret.owner == "app"
    assert secret.label == "manifest.secrets.4"
    assert secret.remote_grants == {4: frozenset({"resource-dispatcher"})}
    content: dict[str, str] = dict(secret.tracked_content)
    manifests = json.loads(content["manifests"])
    assert manifests == [secret_manifest("mlpipeline-minio-artifact", key="one")]
    assert databag == {"kubernetes_manifests": secret.id, "is_secret": "true"}
    assert find_leaks(out, ["mlpipeline-minio-artifact"], ctx=requirer_ctx) == []


def test_requirer_republishes_changes_in_place(requirer_ctx):
    databag, out = send(requirer_ctx)
    (secret,) = out.secrets
    relation = requirer_relation(local_app_data=databag)
    state = testing.State(
        leader=True, relations={relation}, secrets=out.secrets, config={"key": "two"}
    )

    out2 = requirer_ctx.run(requirer_ctx.on.config_changed(), state)

    (updated,) = out2.secrets
    assert updated.id == secret.id
    assert json.loads(updated.latest_content["manifests"])[0]["stringData"] == {"key": "two"}
    assert out2.get_relation(4).local_app_data == databag


def test_requirer_makes_no_new_revision_when_unchanged(requirer_ctx):
    databag, out = send(requirer_ctx)
    state = testing.State(
        leader=True, relations={requirer_relation(local_app_data=databag)}, secrets=out.secrets
    )

    def publish_and_get_revision(charm: RequirerCharm) -> int:
        charm.secrets.publish()
        return charm.model.get_secret(label="manifest.secrets.4").get_info().revision

    assert call(requirer_ctx, state, publish_and_get_revision) == 1


def test_requirer_static_manifests_on_other_endpoint(requirer_ctx):
    relation = testing.Relation("service-accounts", remote_app_name="resource-dispatcher", id=9)

    out = requirer_ctx.run(
        requirer_ctx.on.relation_created(relation),
        testing.State(leader=True, relations={relation}),
    )

    (secret,) = out.secrets
    assert secret.label == "manifest.service-accounts.9"
    assert json.loads(secret.latest_content["manifests"]) == [service_account("kserve-sa")]


def test_requirer_non_leader_sends_nothing(requirer_ctx):
    databag, out = send(requirer_ctx, leader=False)

    assert databag == {}
    assert not out.secrets


def test_requirer_without_relations_does_nothing(requirer_ctx):
    out = requirer_ctx.run(requirer_ctx.on.leader_elected(), testing.State(leader=True))

    assert not out.secrets


def test_requirer_refuses_undispatchable_manifests():
    class Bad(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            namespaced = {**service_account("sa"), "metadata": {"name": "sa", "namespace": "x"}}
            self.requirer = KubernetesManifestRequirer(self, "secrets", [namespaced])

    ctx = testing.Context(Bad, meta=REQUIRER_META)
    relation = requirer_relation()

    with pytest.raises(testing.errors.UncaughtCharmError) as raised:
        ctx.run(
            ctx.on.relation_created(relation), testing.State(leader=True, relations={relation})
        )
    assert "namespace" in str(raised.value.__cause__)


def test_requirer_removes_its_secret_on_relation_broken(requirer_ctx):
    databag, out = send(requirer_ctx)
    relation = requirer_relation(local_app_data=databag)

    out2 = requirer_ctx.run(
        requirer_ctx.on.relation_broken(relation),
        testing.State(leader=True, relations={relation}, secrets=out.secrets),
    )

    assert not out2.secrets


def test_requirer_drops_unused_revisions_of_its_secrets(requirer_ctx):
    databag, out = send(requirer_ctx)
    for key in ("two", "three"):
        relation = requirer_relation(local_app_data=databag)
        state = testing.State(
            leader=True, relations={relation}, secrets=out.secrets, config={"key": key}
        )
        out = requirer_ctx.run(requirer_ctx.on.config_changed(), state)
    (ours,) = out.secrets
    other = testing.Secret({"a": "b"}, owner="app", label="manifest.elsewhere.4")

    requirer_ctx.run(
        requirer_ctx.on.secret_remove(other, revision=1),
        testing.State(leader=True, secrets={other}),
    )
    assert requirer_ctx.removed_secret_revisions == []
    requirer_ctx.run(
        requirer_ctx.on.secret_remove(ours, revision=2), testing.State(leader=True, secrets={ours})
    )
    assert requirer_ctx.removed_secret_revisions == [2]


# Provider: both forms


def test_round_trip_secret_form(requirer_ctx, provider_ctx):
    databag, out = send(requirer_ctx)
    (secret,) = out.secrets
    observer = testing.Secret(secret.latest_content, id=secret.id)

    entries, errors = collect(
        provider_ctx, from_app("kserve", 4, remote_app_data=databag), secrets=[observer]
    )

    assert errors == []
    assert entries == [
        ManifestEntry("kserve", 4, secret_manifest("mlpipeline-minio-artifact", key="one"))
    ]
    assert (entries[0].kind, entries[0].name) == ("Secret", "mlpipeline-minio-artifact")


def test_old_plain_form(provider_ctx):
    manifests = [service_account("a"), secret_manifest("b")]
    relation = from_app(
        "mlflow", 3, remote_app_data={"kubernetes_manifests": json.dumps(manifests)}
    )

    entries = call(
        provider_ctx, testing.State(relations={relation}), lambda c: c.manifests.get_manifests()
    )

    assert [(e.source_app, e.relation_id, e.manifest) for e in entries] == [
        ("mlflow", 3, manifests[0]),
        ("mlflow", 3, manifests[1]),
    ]


def test_reading_picks_up_a_new_secret_revision(requirer_ctx, provider_ctx):
    databag, out = send(requirer_ctx)
    (secret,) = out.secrets
    new_content = {"manifests": json.dumps([secret_manifest("renamed")])}
    observer = testing.Secret(secret.latest_content, latest_content=new_content, id=secret.id)
    relation = from_app("kserve", 4, remote_app_data=databag)

    with provider_ctx(
        provider_ctx.on.secret_changed(observer),
        testing.State(relations={relation}, secrets={observer}),
    ) as manager:
        manager.run()
        entries, errors = manager.charm.seen

    assert [entry.name for entry in entries] == ["renamed"]
    assert errors == []


def test_relation_broken_leaves_the_departing_app_out(provider_ctx):
    leaving = from_app(
        "kserve", 4, remote_app_data={"kubernetes_manifests": json.dumps([service_account("a")])}
    )
    staying = from_app(
        "mlflow", 5, remote_app_data={"kubernetes_manifests": json.dumps([service_account("b")])}
    )

    with provider_ctx(
        provider_ctx.on.relation_broken(leaving), testing.State(relations={leaving, staying})
    ) as manager:
        manager.run()
        entries, errors = manager.charm.seen

    assert [entry.source_app for entry in entries] == ["mlflow"]
    assert errors == []


def test_nothing_sent_yet_is_not_an_error(provider_ctx):
    entries, errors = collect(
        provider_ctx,
        from_app("kserve", 4),
        from_app("x", 5, remote_app_data={"is_secret": "true"}),
    )

    assert (entries, errors) == ([], [])


def test_secret_not_granted_yet_is_not_ready(provider_ctx):
    databag = {"kubernetes_manifests": "secret:aaaaaaaaaaaaaaaaaaaa", "is_secret": "true"}

    entries, errors = collect(provider_ctx, from_app("kserve", 4, remote_app_data=databag))

    assert entries == []
    assert isinstance(errors[0], RelationNotReadyError)
    assert errors[0].relation_id == 4


# Provider: malformed data and conflicts

NS = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "kubeflow"}}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("not json", "not valid JSON"),
        ('{"kind": "Secret"}', "not a JSON list"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
        (json.dumps(["text"]), "not an object"),
        (json.dumps([{"kind": "Secret", "metadata": {"name": "s"}}]), "no apiVersion"),
        (json.dumps([{"apiVersion": "v1", "metadata": {"name": "s"}}]), "no kind"),
        (json.dumps([{"apiVersion": "v1", "kind": "Secret"}]), "without metadata"),
        (json.dumps([{"apiVersion": "v1", "kind": "Secret", "metadata": {}}]), "metadata.name"),
        (json.dumps([{**NS, "metadata": {"name": "Bad_Name"}}]), "metadata.name"),
        (json.dumps([NS]), "sets metadata.namespace"),
        (json.dumps([service_account("x" * 60)] * (MAX_MANIFESTS + 1)), "more than"),
        (json.dumps([secret_manifest("big", blob="x" * (1024 * 1024))]), "larger than 1 MiB"),
    ],
)
def test_malformed_relation_is_reported_and_skipped(provider_ctx, raw, reason):
    bad = from_app("bad", 4, remote_app_data={"kubernetes_manifests": raw})
    good = from_app(
        "good", 5, remote_app_data={"kubernetes_manifests": json.dumps([service_account("g")])}
    )

    entries, errors = collect(provider_ctx, bad, good)

    assert [entry.source_app for entry in entries] == ["good"]
    (error,) = errors
    assert isinstance(error, RelationDataError)
    assert (error.endpoint, error.relation_id) == ("secrets", 4)
    assert "kubernetes_manifests" in str(error)
    assert reason in str(error)


def test_secret_without_manifests_key_is_malformed(provider_ctx):
    secret = testing.Secret({"other": "x"})
    databag = {"kubernetes_manifests": secret.id, "is_secret": "true"}

    _, errors = collect(
        provider_ctx, from_app("kserve", 4, remote_app_data=databag), secrets=[secret]
    )

    assert isinstance(errors[0], RelationDataError)
    assert "manifests" in str(errors[0])


def test_secret_manifest_data_never_appears_in_errors(provider_ctx):
    manifest = {
        **secret_manifest("s", password="hunter2"),
        "metadata": {"name": "s", "namespace": "n"},
    }
    relation = from_app(
        "kserve", 4, remote_app_data={"kubernetes_manifests": json.dumps([manifest])}
    )

    _, errors = collect(provider_ctx, relation)

    assert "hunter2" not in str(errors[0])


def test_conflicting_manifests_keep_the_oldest_and_report_both_apps(provider_ctx):
    shared = secret_manifest("mlpipeline-minio-artifact")
    first = from_app("mlflow", 3, remote_app_data={"kubernetes_manifests": json.dumps([shared])})
    second = from_app(
        "kserve",
        6,
        remote_app_data={"kubernetes_manifests": json.dumps([service_account("x"), shared])},
    )
    state = testing.State(relations={first, second})

    entries, errors = call(provider_ctx, state, lambda c: c.manifests.collect())
    with pytest.raises(RelationConflictError) as raised:
        call(provider_ctx, state, lambda c: c.manifests.get_manifests())

    assert [(e.source_app, e.kind, e.name) for e in entries] == [
        ("mlflow", "Secret", "mlpipeline-minio-artifact"),
        ("kserve", "ServiceAccount", "x"),
    ]
    (error,) = errors
    assert error is not None
    assert "mlflow" in str(raised.value)
    assert "kserve" in str(raised.value)
    assert raised.value.relation_id == 6


def test_same_name_different_kind_is_no_conflict(provider_ctx):
    relation = from_app(
        "kserve",
        4,
        remote_app_data={
            "kubernetes_manifests": json.dumps([secret_manifest("a"), service_account("a")])
        },
    )

    entries, errors = collect(provider_ctx, relation)

    assert len(entries) == 2
    assert errors == []


def test_duplicate_within_one_app_is_a_conflict(provider_ctx):
    relation = from_app(
        "kserve",
        4,
        remote_app_data={"kubernetes_manifests": json.dumps([service_account("a")] * 2)},
    )

    entries, errors = collect(provider_ctx, relation)

    assert len(entries) == 1
    assert isinstance(errors[0], RelationConflictError)


def test_manifest_problem_accepts_a_valid_manifest():
    assert manifest_problem(service_account("default-editor")) is None


# Property tests: reading never raises; get_manifests raises only RelationErrors

manifest_like = st.fixed_dictionaries(
    {},
    optional={
        "apiVersion": st.sampled_from(["v1", "", 1]),
        "kind": st.sampled_from(["Secret", "ServiceAccount", None]),
        "metadata": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "name": st.sampled_from(["a", "b", "Bad", ""]),
                    "namespace": st.just("x"),
                },
            ),
            st.text(max_size=3),
        ),
    },
)
raw_values = st.one_of(
    st.text(max_size=30),
    st.builds(json.dumps, st.lists(manifest_like | st.integers() | st.none(), max_size=4)),
    st.builds(json.dumps, manifest_like),
)
databags = st.dictionaries(
    st.sampled_from(["kubernetes_manifests", "is_secret", "other"]),
    raw_values | st.sampled_from(["true", "false"]),
    max_size=3,
)


@given(
    bags=st.lists(databags, min_size=1, max_size=3),
    content=st.dictionaries(
        st.sampled_from(["manifests", "x"]), raw_values.filter(bool), max_size=2
    ),
    use_secret=st.booleans(),
)
def test_provider_never_raises_while_collecting(bags, content, use_secret):
    ctx = testing.Context(ProviderCharm, meta=PROVIDER_META)
    secret = testing.Secret(content or {"x": "y"})
    relations = []
    for index, bag in enumerate(bags):
        if use_secret and index == 0:
            bag = {**bag, "kubernetes_manifests": secret.id, "is_secret": "true"}
        relations.append(from_app(f"app{index}", index + 1, remote_app_data=bag))
    state = testing.State(relations=set(relations), secrets={secret})

    entries, errors = call(ctx, state, lambda c: c.manifests.collect())

    assert all(isinstance(error, RelationError) for error in errors)
    assert all(manifest_problem(entry.manifest) is None for entry in entries)
    keys = [(entry.kind, entry.name) for entry in entries]
    assert len(keys) == len(set(keys))
    try:
        call(ctx, state, lambda c: c.manifests.get_manifests())
    except RelationError:
        assert errors


def test_get_manifests_raises_bad_data_before_not_ready(provider_ctx):
    waiting = from_app(
        "kserve",
        3,
        remote_app_data={
            "kubernetes_manifests": "secret:aaaaaaaaaaaaaaaaaaaa",
            "is_secret": "true",
        },
    )
    broken = from_app("mlflow", 4, remote_app_data={"kubernetes_manifests": "{"})
    state = testing.State(relations={waiting, broken})

    with pytest.raises(RelationDataError) as raised:
        call(provider_ctx, state, lambda c: c.manifests.get_manifests())
    assert raised.value.relation_id == 4
