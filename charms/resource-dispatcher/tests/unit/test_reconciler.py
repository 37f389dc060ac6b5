"""The controller's core against the kfcharm fake Kubernetes (validating, request-counting)."""

from __future__ import annotations

import pytest
from dispatcher.handoff import LabelSelector
from dispatcher.kube import DISPATCHED_BY, HASH_ANNOTATION, Owner
from dispatcher.reconciler import Backoff, Dispatcher
from kfcharm.testing import FakeKubernetes
from lightkube.resources.core_v1 import ConfigMap, Namespace, Secret

from tests.unit.cluster import (
    LABEL,
    PODDEFAULT_CRD,
    config_map,
    entry,
    namespace,
    pod_default,
    s3_secret,
    ten_manifests,
)

OWNER = Owner("resource-dispatcher", "kubeflow")
KINDS = 6


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake() -> FakeKubernetes:
    cluster = FakeKubernetes(namespace="kubeflow")
    cluster.add(PODDEFAULT_CRD)
    cluster.add(namespace("kubeflow"))
    cluster.add(namespace("alice", LABEL), namespace("bob", LABEL))
    cluster.add(namespace("kube-system"), namespace("ops", {"user.kubeflow.org/enabled": "no"}))
    return cluster


@pytest.fixture
def clock() -> Clock:
    return Clock()


def dispatcher(fake: FakeKubernetes, clock: Clock, manifests=None) -> Dispatcher:
    d = Dispatcher(
        fake,
        OWNER,
        LabelSelector.parse("user.kubeflow.org/enabled=true"),
        clock=clock,
        backoff=Backoff(base=0.5, cap=8.0, jitter=False),
    )
    d.set_manifests(manifests if manifests is not None else ten_manifests())
    d.resync()
    return d


def names(fake: FakeKubernetes, kind, ns: str) -> set[str]:
    return {o.metadata.name for o in fake.objects(kind, ns)}


def test_initial_sync_dispatches_every_manifest_into_labelled_namespaces_only(fake, clock):
    d = dispatcher(fake, clock)

    for ns in ("alice", "bob"):
        assert len(fake.objects(None, ns)) == 10
        secret = fake.find(Secret, "mlflow-s3", ns)
        assert secret.metadata.labels[DISPATCHED_BY] == "resource-dispatcher"
        assert secret.metadata.annotations[HASH_ANNOTATION]
        assert fake.find("PodDefault", "access-minio", ns) is not None
    for ns in ("kube-system", "ops", "kubeflow"):
        assert fake.objects(None, ns) == []
    assert len(fake.writes()) == 20  # one create per (namespace, manifest)
    assert fake.count("list") == 1 + KINDS
    assert d.metrics.namespaces.value() == 2
    assert d.metrics.applied.value(operation="create") == 20


def test_resync_in_steady_state_only_lists(fake, clock):
    d = dispatcher(fake, clock)
    fake.reset_log()

    d.resync()

    assert fake.writes() == []
    assert fake.count() == 1 + KINDS


def test_new_labelled_namespace_receives_every_manifest_with_one_write_each(fake, clock):
    d = dispatcher(fake, clock)
    fake.reset_log()

    writes = d.namespace_event("ADDED", "carol", LABEL)

    assert writes == 10
    assert [r.verb for r in fake.requests] == ["create"] * 10
    assert {r.namespace for r in fake.requests} == {"carol"}
    assert d.metrics.latency.count >= 2


def test_namespace_gaining_the_label_is_served_and_losing_it_is_cleaned(fake, clock):
    d = dispatcher(fake, clock)
    fake.add(config_map("users-own-config"))  # in the default namespace "kubeflow"
    fake.add(
        {**config_map("team-config"), "metadata": {"name": "team-config", "namespace": "ops"}}
    )

    assert d.namespace_event("MODIFIED", "ops", {"user.kubeflow.org/enabled": "no"}) == 0
    assert d.namespace_event("MODIFIED", "ops", LABEL) == 10
    assert names(fake, ConfigMap, "ops") == {"team-config", "mlflow-settings", "kserve-settings"}

    fake.reset_log()
    assert d.namespace_event("MODIFIED", "ops", {}) == 10
    assert {r.verb for r in fake.requests} == {"delete"}
    assert names(fake, ConfigMap, "ops") == {"team-config"}  # the foreign object stays


def test_modified_event_of_a_served_namespace_writes_nothing(fake, clock):
    d = dispatcher(fake, clock)
    fake.reset_log()

    assert d.namespace_event("MODIFIED", "alice", {**LABEL, "owner": "alice"}) == 0
    assert fake.requests == []


def test_changed_manifest_is_reapplied_once_per_namespace(fake, clock):
    d = dispatcher(fake, clock)
    fake.reset_log()
    changed = ten_manifests()
    changed[0] = entry(s3_secret("mlflow-s3", secret="rotated-secret-key-000000000000000"))

    writes = d.set_manifests(changed)

    assert writes == 2
    assert [(r.verb, r.kind) for r in fake.requests] == [("apply", "Secret")] * 2
    for ns in ("alice", "bob"):
        secret = fake.find(Secret, "mlflow-s3", ns)
        assert secret.metadata.annotations[HASH_ANNOTATION] == changed[0].hash


def test_same_manifests_again_write_nothing(fake, clock):
    d = dispatcher(fake, clock)
    fake.reset_log()

    assert d.set_manifests(ten_manifests()) == 0
    assert fake.requests == []


def test_withdrawn_manifest_is_removed_everywhere(fake, clock):
    d = dispatcher(fake, clock)
    fake.reset_log()

    d.set_manifests(ten_manifests()[1:])

    assert [(r.verb, r.name) for r in fake.requests] == [("delete", "mlflow-s3")] * 2
    for ns in ("alice", "bob"):
        assert "mlflow-s3" not in names(fake, Secret, ns)
        assert "kserve-s3" in names(fake, Secret, ns)


def test_foreign_object_with_the_same_name_is_never_touched(fake, clock):
    users = s3_secret("mlflow-s3", secret="the-users-own-secret-value-000000")
    fake.add({**users, "metadata": {"name": "mlflow-s3", "namespace": "alice"}})
    before = fake.find(Secret, "mlflow-s3", "alice")

    d = dispatcher(fake, clock)
    changed = ten_manifests()
    changed[0] = entry(s3_secret("mlflow-s3", secret="rotated-secret-key-000000000000000"))
    d.set_manifests(changed)
    d.set_manifests(ten_manifests()[1:])  # withdrawn: still not deleted

    after = fake.find(Secret, "mlflow-s3", "alice")
    assert after.to_dict() == before.to_dict()
    assert DISPATCHED_BY not in (after.metadata.labels or {})
    assert d.metrics.skipped.value() >= 1
    assert "mlflow-s3" not in names(fake, Secret, "bob")


def test_deleted_namespace_costs_no_request(fake, clock):
    d = dispatcher(fake, clock)
    fake.reset_log()

    assert d.namespace_event("DELETED", "alice", LABEL) == 0
    assert d.namespace_event("MODIFIED", "bob", LABEL, terminating=True) == 0
    assert fake.requests == []
    assert d.namespaces == set()


def test_transient_api_faults_are_retried_with_growing_backoff(fake, clock):
    d = dispatcher(fake, clock, manifests=[])
    fake.inject_fault("create", "Secret", status=500, times=2, namespace="alice")
    fake.inject_fault("create", "Secret", status="timeout", times=1, namespace="bob")

    d.set_manifests([entry(s3_secret("mlflow-s3"))])

    assert d.pending == 2
    assert d.metrics.errors.value(reason="server") == 1
    assert d.metrics.errors.value(reason="unreachable") == 1
    assert d.process_retries() == pytest.approx(0.5)
    clock.now += 0.5
    assert d.process_retries() == pytest.approx(1.0)  # alice failed again: 2nd delay is 1s
    assert "mlflow-s3" in names(fake, Secret, "bob")
    assert "mlflow-s3" not in names(fake, Secret, "alice")
    clock.now += 1.0
    assert d.process_retries() is None
    assert "mlflow-s3" in names(fake, Secret, "alice")
    assert d.pending == 0


def test_forbidden_is_reported_and_retried_until_trusted(fake, clock):
    d = dispatcher(fake, clock, manifests=[])
    fake.inject_fault("create", status=403, times=None)

    d.set_manifests([entry(s3_secret("mlflow-s3"))])
    assert d.forbidden
    assert "Secret" in d.forbidden
    for _ in range(6):
        clock.now += 10
        d.process_retries()
    assert d.pending == 2

    fake.clear_faults()  # juju trust ran
    clock.now += 10
    d.process_retries()
    assert d.pending == 0
    assert d.forbidden is None
    assert "mlflow-s3" in names(fake, Secret, "alice")


def test_rejected_object_is_not_retried(fake, clock):
    d = dispatcher(fake, clock, manifests=[])
    fake.inject_fault("create", "ConfigMap", status=422, times=None)

    d.set_manifests([entry(config_map("settings"))])

    assert d.pending == 0
    assert d.metrics.errors.value(reason="invalid") == 2
    fake.reset_log()
    clock.now += 100
    assert d.process_retries() is None
    assert fake.requests == []


def test_object_deleted_by_someone_else_is_restored(fake, clock):
    d = dispatcher(fake, clock)
    stale = fake.find(Secret, "mlflow-s3", "alice")
    fake.delete(Secret, "mlflow-s3", namespace="alice")
    fake.reset_log()

    # The watch reports the deletion with a newer resourceVersion.
    event = [e for e in fake._s.events if e.type == "DELETED"][-1]
    gone = Secret.from_dict(event.data)
    assert d.owned_event("DELETED", "Secret", gone) == 1
    assert "mlflow-s3" in names(fake, Secret, "alice")
    # A late event about the old object (older resourceVersion) changes nothing.
    assert d.owned_event("DELETED", "Secret", stale) == 0
    assert d.owned_event("MODIFIED", "Secret", stale) == 0
    assert [r.verb for r in fake.requests] == ["create"]


def test_object_edited_to_another_hash_is_restored(fake, clock):
    d = dispatcher(fake, clock)
    edited = fake.set(Secret, "kserve-s3", namespace="bob", annotations={HASH_ANNOTATION: "x"})
    fake.reset_log()

    assert d.owned_event("MODIFIED", "Secret", edited) == 1
    assert fake.find(Secret, "kserve-s3", "bob").metadata.annotations[HASH_ANNOTATION] != "x"


def test_new_dispatcher_adopts_its_own_objects_without_rewriting(fake, clock):
    dispatcher(fake, clock)
    fresh = Dispatcher(fake, OWNER, LabelSelector.parse("user.kubeflow.org/enabled=true"))
    fresh.set_manifests(ten_manifests())
    fresh.synced = True  # as if its lists had missed alice's objects
    fake.reset_log()

    fresh.namespace_event("ADDED", "alice", LABEL)

    assert {r.verb for r in fake.requests} == {"create", "get"}
    assert fake.count("apply") == 0
    assert fresh.metrics.skipped.value() == 0


def test_resync_removes_objects_left_in_namespaces_that_lost_the_label(fake, clock):
    dispatcher(fake, clock)
    fake.set(Namespace, "bob", labels={"user.kubeflow.org/enabled": None})
    fake.reset_log()

    restarted = dispatcher(fake, clock)

    assert fake.objects(None, "bob") == []
    assert len(fake.objects(None, "alice")) == 10
    assert restarted.object_count == 10


def test_missing_poddefault_crd_is_retried_not_fatal(clock):
    cluster = FakeKubernetes(namespace="kubeflow")
    cluster.add(namespace("alice", LABEL))
    d = dispatcher(cluster, clock, manifests=[entry(pod_default()), entry(s3_secret())])

    assert names(cluster, Secret, "alice") == {"mlpipeline-minio-artifact"}
    assert d.pending == 1
    cluster.add(PODDEFAULT_CRD)
    clock.now += 1
    d.process_retries()
    assert cluster.find("PodDefault", "access-minio", "alice") is not None
