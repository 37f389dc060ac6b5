"""Steady state: a second pass changes nothing; the only Kubernetes request is the leader's
read of Juju's StatefulSet (for the container resources), and no hook writes without cause."""

from __future__ import annotations

import json

import lightkube
import pytest
from conftest import MODEL, root_secret, state
from kfcharm.testing.leaks import find_leaks
from ops import testing


@pytest.fixture
def no_direct_lightkube(monkeypatch):
    """Fail if the charm builds a lightkube client behind kfcharm's back."""
    built: list[object] = []

    def refuse(self, *args, **kwargs):
        built.append(self)
        raise AssertionError("the minio charm must talk to Kubernetes through kfcharm")

    monkeypatch.setattr(lightkube.Client, "__init__", refuse)
    return built


def related_state(**kwargs):
    obj = testing.Relation(
        "object-storage",
        remote_app_name="kfp-api",
        remote_app_data={"_supported_versions": "- v1\n"},
    )
    s3 = testing.Relation(
        "s3",
        remote_app_name="mlflow-server",
        remote_app_data={
            "bucket": "mlflow",
            "requested-secrets": json.dumps(["access-key", "secret-key"]),
            "lib-version": "1.0",
        },
    )
    metrics = testing.Relation("metrics-endpoint", remote_app_name="prometheus")
    dashboards = testing.Relation("grafana-dashboard", remote_app_name="grafana")
    logging = testing.Relation(
        "logging",
        remote_app_name="loki",
        remote_units_data={
            0: {"endpoint": json.dumps({"url": "http://loki:3100/loki/api/v1/push"})}
        },
    )
    return state(relations=(obj, s3, metrics, dashboards, logging), pool=None, **kwargs)


def snapshot(out: testing.State) -> dict:
    return {
        "relations": {
            r.id: (dict(r.local_app_data), dict(r.local_unit_data)) for r in out.relations
        },
        "secrets": {
            s.id: (s.label, dict(s.latest_content or {}), s._latest_revision) for s in out.secrets
        },
        "plan": out.get_container("minio").plan.to_dict(),
        "ports": out.opened_ports,
    }


def statefulset_gets(fake_k8s) -> list:
    return [
        r
        for r in fake_k8s.requests
        if (r.verb, r.kind, r.namespace, r.name) == ("get", "StatefulSet", MODEL.name, "minio")
    ]


def test_install_then_update_status_is_a_no_op(ctx, fake_k8s, buckets, no_direct_lightkube):
    installed = ctx.run(ctx.on.install(), related_state())
    ready = ctx.run(ctx.on.config_changed(), installed)
    for name in ("metrics-endpoint", "grafana-dashboard"):
        rel = ready.get_relations(name)[0]
        ready = ctx.run(ctx.on.relation_joined(rel, remote_unit=0), ready)
    install_requests = len(fake_k8s.requests)
    install_bytes = fake_k8s.bytes()
    # install, config-changed and two relation-joined: one StatefulSet read each, no write.
    assert install_requests == len(statefulset_gets(fake_k8s)) == 4
    assert fake_k8s.writes() == []
    fake_k8s.reset_log()
    buckets.calls.clear()

    steady = ctx.run(ctx.on.update_status(), ready)

    assert snapshot(steady) == snapshot(ready)
    assert steady.unit_status == testing.ActiveStatus()
    assert buckets.calls == []
    assert fake_k8s.requests == statefulset_gets(fake_k8s)
    assert len(fake_k8s.requests) == 1
    assert fake_k8s.writes() == []
    assert no_direct_lightkube == []
    print(  # reported with -s: the numbers the issue asks for
        f"\nK8s requests: install={install_requests} ({install_bytes} bytes), "
        f"steady update-status={len(fake_k8s.requests)} ({fake_k8s.bytes()} bytes)"
    )


def test_steady_state_with_resources_set_reads_once_and_writes_nothing(ctx, fake_k8s, buckets):
    config = {"minio-cpu-request": "500m", "minio-memory-limit": "2Gi"}
    ready = ctx.run(ctx.on.config_changed(), related_state(config=config))
    assert len(fake_k8s.writes("StatefulSet")) == 1
    fake_k8s.reset_log()

    steady = ctx.run(ctx.on.update_status(), ready)

    assert steady.unit_status == testing.ActiveStatus()
    assert len(fake_k8s.requests) == 1
    assert fake_k8s.writes() == []
    print(
        f"\nK8s requests with resources set: steady update-status={len(fake_k8s.requests)} "
        f"({fake_k8s.bytes()} bytes)"
    )


def test_every_event_path_only_reads_the_statefulset(ctx, fake_k8s, buckets, no_direct_lightkube):
    out = ctx.run(ctx.on.install(), related_state())
    s3 = out.get_relations("s3")[0]
    for event in (
        ctx.on.leader_elected(),
        ctx.on.config_changed(),
        ctx.on.upgrade_charm(),
        ctx.on.pebble_ready(out.get_container("minio")),
        ctx.on.update_status(),
        ctx.on.relation_broken(s3),
        ctx.on.stop(),
        ctx.on.remove(),
    ):
        out = ctx.run(event, out)
    assert fake_k8s.requests == statefulset_gets(fake_k8s)
    assert fake_k8s.writes() == []


def test_non_leader_never_calls_the_kubernetes_api(ctx, fake_k8s, buckets, no_direct_lightkube):
    config = {"minio-cpu-request": "500m", "minio-memory-limit": "2Gi"}
    out = state(leader=False, config=config, secrets=(root_secret(),))
    for event in (ctx.on.install(), ctx.on.config_changed(), ctx.on.update_status()):
        out = ctx.run(event, out)
    assert out.unit_status == testing.ActiveStatus()
    assert fake_k8s.requests == []


def test_leak_scanner_finds_the_only_plain_text_copy(ctx, buckets):
    """The scanner bites: without the legacy allowance it flags exactly object-storage v1."""
    out = ctx.run(ctx.on.install(), related_state(secrets=(root_secret(),)))
    secret_key = root_secret().tracked_content["secret-key"]
    leaks = find_leaks(out, [secret_key], ctx=ctx)
    obj_id = out.get_relations("object-storage")[0].id
    assert [leak.place for leak in leaks] == [f"relation:object-storage:{obj_id}:app:data"]
    assert MODEL.name in out.get_relations("object-storage")[0].local_app_data["data"]
