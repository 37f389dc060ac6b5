"""Property tests: no config or relation data makes a hook raise; nothing leaks."""

from __future__ import annotations

import json
import secrets

from conftest import base_state, ingress_relation, links_relation, profiles_relation
from hypothesis import given
from hypothesis import strategies as st
from kfcharm.testing.leaks import find_leaks
from ops import testing

TEXT_OPTIONS = [
    "userid-header",
    "userid-prefix",
    "logout-url",
    "dashboard-configmap",
    "additional-menu-links",
    "additional-external-links",
    "additional-quick-links",
    "additional-documentation-links",
    "menu-link-order",
    "external-link-order",
    "quick-link-order",
    "documentation-link-order",
    "kubeflow-dashboard-cpu-request",
    "kubeflow-dashboard-cpu-limit",
    "kubeflow-dashboard-memory-request",
    "kubeflow-dashboard-memory-limit",
]

link_maps = st.fixed_dictionaries(
    {},
    optional={
        "text": st.one_of(st.text(max_size=15), st.integers()),
        "link": st.one_of(st.text(max_size=15), st.none()),
        "location": st.one_of(
            st.sampled_from(["menu", "external", "quick", "documentation"]), st.text(max_size=8)
        ),
        "icon": st.text(max_size=8),
        "desc": st.one_of(st.text(max_size=8), st.lists(st.integers(), max_size=2)),
    },
)
yamlish = st.one_of(
    st.text(max_size=40),
    st.lists(link_maps, max_size=3).map(json.dumps),
    st.lists(st.text(max_size=10), max_size=3).map(json.dumps),
    st.sampled_from(["{}", "[]", "~", "a: [b", "- 1\n- 2"]),
)
configs = st.dictionaries(st.sampled_from(TEXT_OPTIONS), yamlish, max_size=5)


@given(
    config=configs,
    flags=st.fixed_dictionaries(
        {"registration-flow": st.booleans(), "force-iframe": st.booleans()}
    ),
)
def test_random_config_never_raises(ctx, fake_k8s, config, flags):
    out = ctx.run(ctx.on.config_changed(), base_state(config={**config, **flags}))
    assert out.unit_status.name in ("active", "blocked", "waiting")
    if out.unit_status.name == "active":
        assert fake_k8s.objects("ConfigMap")  # valid config always publishes the links


@given(
    links=st.one_of(st.text(max_size=30), st.lists(link_maps, max_size=4).map(json.dumps)),
    profiles_data=st.dictionaries(
        st.sampled_from(["_supported_versions", "data", "other"]), st.text(max_size=40), max_size=3
    ),
    ingress_data=st.dictionaries(
        st.sampled_from(["_supported_versions", "data"]), st.text(max_size=20), max_size=2
    ),
)
def test_random_relation_data_never_raises(ctx, fake_k8s, links, profiles_data, ingress_data):
    relations = [
        links_relation("someapp", links),
        testing.Relation("kubeflow-profiles", remote_app_data=profiles_data),
        testing.Relation("ingress", remote_app_data=ingress_data),
    ]
    state = base_state(*relations)
    for relation in relations:
        out = ctx.run(ctx.on.relation_changed(relation, remote_unit=0), state)
        assert out.unit_status.name in ("active", "blocked", "waiting")


def test_remote_secrets_never_leak_into_configmap_logs_or_layers(ctx, fake_k8s):
    """Credentials a related app holds (or wrongly puts in its databag) stay out of our outputs."""
    canaries = [secrets.token_urlsafe(24) for _ in range(3)]
    links = [{"text": "Notebooks", "link": "/jupyter/", "location": "menu", "token": canaries[0]}]
    profiles = profiles_relation()
    profiles = testing.Relation(
        "kubeflow-profiles",
        remote_app_data={**profiles.remote_app_data, "password": canaries[1]},
    )
    juju_secret = testing.Secret({"password": canaries[2]}, owner=None)
    state = base_state(
        profiles, ingress_relation(), links_relation("jupyter-ui", links), secrets={juju_secret}
    )
    for event in (ctx.on.install(), ctx.on.config_changed(), ctx.on.update_status()):
        state = ctx.run(event, state)
        assert (
            find_leaks(state, canaries, ctx=ctx, k8s=fake_k8s, include_pebble_environment=True)
            == []
        )
    assert [
        x["text"] for x in json.loads(fake_k8s.objects("ConfigMap")[0].data["links"])["menuLinks"]
    ] == ["Notebooks"]
