"""Request budgets: what install and a steady-state update-status cost (K8s and SQL)."""

from __future__ import annotations

import sys

from conftest import base_state, database_relation


def _report(label: str, fake_k8s) -> None:
    reads = len(fake_k8s.requests) - len(fake_k8s.writes())
    sys.stdout.write(
        f"\n[k8s] {label}: {len(fake_k8s.requests)} requests ({reads} reads, "
        f"{len(fake_k8s.writes())} writes), {fake_k8s.bytes()} bytes\n"
    )


def test_install_and_steady_state_update_status(ctx, fake_k8s, fake_db):
    rel = database_relation()
    out = ctx.run(ctx.on.install(), base_state(relations=[rel]))
    _report("install (leader)", fake_k8s)
    assert fake_k8s.writes() == []  # no resource options: nothing to apply
    assert fake_k8s.count("get", "StatefulSet") == 1

    out = ctx.run(ctx.on.relation_changed(out.get_relation(rel.id)), out)
    fake_k8s.reset_log()
    fake_db.calls.clear()

    out = ctx.run(ctx.on.update_status(), out)
    _report("steady-state update-status (leader)", fake_k8s)
    assert fake_k8s.writes() == []
    assert len(fake_k8s.requests) == 1
    assert fake_db.writes() == []
    sys.stdout.write(f"[sql] steady-state update-status: {len(fake_db.calls)} reads, 0 writes\n")


def test_install_with_resources_and_steady_state(ctx, fake_k8s):
    config = {
        "mysql-memory-limit": "2Gi",
        "mysql-cpu-request": "500m",
        "mysqld-exporter-memory-limit": "128Mi",
    }
    out = ctx.run(ctx.on.install(), base_state(config=config))
    _report("install with resource options (leader)", fake_k8s)
    assert [w.verb for w in fake_k8s.writes()] == ["patch"]

    fake_k8s.reset_log()
    ctx.run(ctx.on.update_status(), out)
    _report("steady-state update-status with resource options", fake_k8s)
    assert fake_k8s.writes() == []
    assert len(fake_k8s.requests) == 1


def test_non_leader_makes_no_kubernetes_requests(ctx, fake_k8s):
    from conftest import system_secret

    ctx.run(ctx.on.update_status(), base_state(leader=False, secrets=[system_secret()]))
    assert fake_k8s.requests == []
