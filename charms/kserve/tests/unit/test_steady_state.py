"""Steady state: update-status after install issues no Kubernetes writes; cost is measured."""

from __future__ import annotations

import dataclasses

import kserve as ks
from conftest import (
    controller_container,
    cos_relations,
    manifest_relation,
    s3_relation,
    state,
    web_app_container,
)
from ops import testing


def _snapshot(out: testing.State) -> dict:
    return {
        "relations": {
            r.id: (dict(r.local_app_data), dict(r.local_unit_data)) for r in out.relations
        },
        "secrets": {s.id: (s.label, dict(s.latest_content or {})) for s in out.secrets},
        "plans": {c.name: c.plan.to_dict() for c in out.containers},
        "status": (out.unit_status, out.app_status),
    }


def _installed(ctx, tmp_path):
    rel, creds = s3_relation()
    relations = [rel, manifest_relation("secrets"), manifest_relation("service-accounts")]
    relations += cos_relations()
    mount = testing.Mount(location=ks.CERT_DIR, source=tmp_path)
    containers = [controller_container(mounts={"certs": mount}), web_app_container()]
    st = state(relations=relations, secrets=[creds], containers=containers)
    out = ctx.run(ctx.on.install(), st)
    ctx.install_cost = (len(ctx.fake.requests), ctx.fake.bytes())
    for name in ("metrics-endpoint", "grafana-dashboard"):
        rel = out.get_relations(name)[0]
        out = ctx.run(ctx.on.relation_joined(rel, remote_unit=0), out)
    return ctx.run(ctx.on.config_changed(), out)


def test_install_then_update_status_writes_nothing(ctx, fake_k8s, tmp_path):
    fake_k8s.reset_log()
    ctx.fake = fake_k8s
    ready = _installed(ctx, tmp_path)
    install_requests, install_bytes = len(fake_k8s.requests), fake_k8s.bytes()
    fake_k8s.reset_log()

    steady = ctx.run(ctx.on.update_status(), ready)

    assert fake_k8s.writes() == []
    assert {r.verb for r in fake_k8s.requests} == {"list", "get"}
    # One list per managed kind: CRD; ConfigMap, ClusterRole, Service, 2 webhook kinds;
    # ClusterServingRuntime, ClusterStorageContainer; one get of Juju's StatefulSet.
    assert len(fake_k8s.requests) == 9
    assert [(r.verb, r.kind) for r in fake_k8s.requests if r.verb == "get"] == [
        ("get", "StatefulSet")
    ]
    assert _snapshot(steady) == _snapshot(ready)
    restarts = [line for line in ctx.juju_log if "restarting" in line.message]
    assert restarts == []
    print(
        f"\nK8s cost: install {ctx.install_cost[0]} requests / {ctx.install_cost[1]} bytes; "
        f"install+relations {install_requests} requests / {install_bytes} bytes; "
        f"steady update-status {len(fake_k8s.requests)} requests / {fake_k8s.bytes()} bytes "
        f"(0 writes)"
    )


def test_follower_update_status_makes_no_kubernetes_request(ctx, fake_k8s, tmp_path):
    ctx.fake = fake_k8s
    ready = _installed(ctx, tmp_path)
    fake_k8s.reset_log()
    follower = dataclasses.replace(ready, leader=False)
    out = ctx.run(ctx.on.update_status(), follower)
    assert fake_k8s.requests == []
    assert out.unit_status.name == "active"
