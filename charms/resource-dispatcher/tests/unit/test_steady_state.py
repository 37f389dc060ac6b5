"""Steady state: update-status pushes nothing, replans nothing, and writes nothing to Kubernetes.

The leader's only request is one GET of its StatefulSet (are the container resources still
the configured ones?).

Run with `-s` to print the measured numbers.
"""

from __future__ import annotations

from dispatcher.handoff import file_hash

from tests.unit.cluster import pod_default, s3_secret
from tests.unit.conftest import manifest_relation, state, write_status


def snapshot(root):
    return {
        str(p): (p.stat().st_mtime_ns, p.stat().st_size)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "status.json"
    }


def test_update_status_in_steady_state_writes_nothing(ctx, fs, fake_k8s):
    rels = (
        manifest_relation("secrets", [s3_secret()]),
        manifest_relation("pod-defaults", [pod_default()]),
    )
    ctx.run(ctx.on.install(), state(relations=rels, fs=fs))
    install_requests, install_bytes = len(fake_k8s.requests), fake_k8s.bytes()
    write_status(
        fs,
        state="ready",
        manifests=2,
        namespaces=5,
        manifests_hash=file_hash((fs["etc"] / "manifests.json").read_bytes()),
    )
    first = ctx.run(ctx.on.update_status(), state(relations=rels, fs=fs))
    before = {name: snapshot(path) for name, path in fs.items()}
    fake_k8s.reset_log()

    out = ctx.run(
        ctx.on.update_status(),
        state(relations=rels, fs=fs, containers=(first.get_container("dispatcher"),)),
    )

    assert {name: snapshot(path) for name, path in fs.items()} == before
    assert [(r.verb, r.kind) for r in fake_k8s.requests] == [("get", "StatefulSet")]
    assert fake_k8s.writes() == []
    assert out.unit_status.name == "active"
    print(
        f"\ncharm K8s requests: install {install_requests} ({install_bytes} bytes), "
        f"steady update-status {len(fake_k8s.requests)} ({fake_k8s.bytes()} bytes)"
    )
