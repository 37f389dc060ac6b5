"""Property tests: no config or relation data makes a hook raise; nothing leaks."""

from __future__ import annotations

import json
import secrets

from conftest import base_state
from hypothesis import given
from hypothesis import strategies as st
from kfcharm.testing.leaks import find_leaks
from ops import testing

OPTIONS = [
    "security-policy",
    "namespace-labels",
    "userid-header",
    "userid-prefix",
    "cluster-admin",
    "workload-identity",
    "istio-ingress-gateway-principal",
    "kfp-ui-principal",
    "notebook-controller-principal",
    "profile-controller-cpu-request",
    "profile-controller-memory-request",
    "profile-controller-cpu-limit",
    "profile-controller-memory-limit",
    "kfam-cpu-request",
    "kfam-memory-request",
    "kfam-cpu-limit",
    "kfam-memory-limit",
]

yamlish = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["privileged", "baseline", "restricted", "{}", "[]", "a: b", "{a: [1]}", "~"]),
    st.dictionaries(st.text(max_size=12), st.text(max_size=12), max_size=3).map(json.dumps),
)
configs = st.dictionaries(st.sampled_from(OPTIONS), yamlish, max_size=5)
databags = st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=60), max_size=4)


@given(config=configs)
def test_random_config_never_raises(ctx, fake_k8s, config):
    out = ctx.run(ctx.on.config_changed(), base_state(config=config))
    assert out.unit_status.name in ("active", "blocked", "waiting")
    if out.unit_status.name == "blocked" and "config" in out.unit_status.message:
        assert "juju config" in out.unit_status.message


@given(app_data=databags, unit_data=databags)
def test_random_relation_data_never_raises(ctx, fake_k8s, app_data, unit_data):
    relations = {
        testing.Relation("kubeflow-profiles", remote_app_data=app_data),
        testing.Relation("logging", remote_app_data=app_data, remote_units_data={0: unit_data}),
        testing.Relation("metrics-endpoint", remote_app_data=app_data),
        testing.Relation("grafana-dashboard", remote_app_data=app_data),
    }
    state = base_state(relations=relations)
    for relation in relations:
        out = ctx.run(ctx.on.relation_changed(relation, remote_unit=0), state)
        assert out.unit_status.name in ("unknown", "active", "blocked", "waiting")


def test_remote_credentials_and_tokens_never_leak(ctx, fake_k8s, labels_dir):
    """Secrets related apps hold (or wrongly put in their databags) stay where they are."""
    canaries = [secrets.token_urlsafe(24) for _ in range(3)]
    juju_secret = testing.Secret({"password": canaries[2]}, owner=None)
    relations = {
        testing.Relation(
            "kubeflow-profiles",
            remote_app_data={"_supported_versions": "- v1\n", "password": canaries[0]},
        ),
        testing.Relation(
            "logging",
            remote_units_data={
                0: {
                    "endpoint": json.dumps({"url": "http://loki:3100/loki/api/v1/push"}),
                    "token": canaries[1],
                }
            },
        ),
    }
    state = base_state(labels_dir, relations=relations, secrets={juju_secret})
    for event in (ctx.on.install(), ctx.on.config_changed(), ctx.on.update_status()):
        state = ctx.run(event, state)
        assert find_leaks(state, canaries, ctx=ctx, k8s=fake_k8s) == []
    ctx.run(ctx.on.action("create-profile", params={"name": "alice", "owner": "alice@x"}), state)
    out = ctx.run(ctx.on.action("list-profiles"), state)
    assert find_leaks(out, canaries, ctx=ctx, k8s=fake_k8s, include_pebble_environment=True) == []
