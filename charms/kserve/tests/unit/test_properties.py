"""Property tests: random config and relation data never make a hook raise."""

from __future__ import annotations

import json

import pytest
from charm import KServeCharm
from conftest import APP, MODEL, gateway_relations, manifest_relation, new_fake
from hypothesis import given
from hypothesis import strategies as st
from ops import testing

QUANTITIES = st.one_of(
    st.sampled_from(["", "0", "100m", "1", "2Gi", "512Mi", "1e3", "-1", "1 Gi", "lots"]),
    st.text(max_size=8),
)

OPTIONS = {
    "deployment-mode": st.sampled_from(["serverless", "raw", "standard", "RAW", "", "x"]),
    "domain": st.text(max_size=30),
    "domain-template": st.text(max_size=40),
    "url-scheme": st.text(max_size=6),
    "ingress-class": st.text(max_size=20),
    "local-gateway-service": st.text(max_size=30),
    "http-proxy": st.text(max_size=40),
    "https-proxy": st.sampled_from(["", "http://p:3128", "https://u:p@x", "::", "http://[::1]:1"]),
    "no-proxy": st.text(max_size=30),
    "custom-images": st.one_of(
        st.text(max_size=60),
        st.dictionaries(
            st.sampled_from(["agent", "sklearnserver", "bogus", "router"]),
            st.text(max_size=30),
            max_size=3,
        ).map(json.dumps),
    ),
    "disabled-serving-runtimes": st.text(max_size=40),
    "inferenceservice-cpu-request": st.sampled_from(["1", "0", "100m", "-1", "abc", "1e3", ""]),
    "inferenceservice-memory-limit": st.sampled_from(["2Gi", "1", "x", "0.5Gi", "99Ei"]),
    "storage-initializer-memory-request": st.sampled_from(["100Mi", "", "0", "2Gi"]),
    "kserve-controller-cpu-request": QUANTITIES,
    "kserve-controller-cpu-limit": QUANTITIES,
    "kserve-controller-memory-limit": QUANTITIES,
    "models-web-app-memory-request": QUANTITIES,
    "models-web-app-memory-limit": QUANTITIES,
    "storage-service-account": st.text(max_size=30),
    "storage-tls-verify": st.booleans(),
    "models-web-app": st.booleans(),
    "secure-cookies": st.booleans(),
}

databag = st.dictionaries(st.text(max_size=20), st.text(max_size=60), max_size=6)


def _run(event_name: str, st_: testing.State, relation=None) -> testing.State:
    fake = new_fake()
    with fake.installed():
        ctx = testing.Context(KServeCharm, app_name=APP)
        event = getattr(ctx.on, event_name)
        out = ctx.run(event(relation) if relation is not None else event(), st_)
    return out


@given(config=st.fixed_dictionaries({}, optional=OPTIONS))
def test_random_config_never_raises(config):
    out = _run(
        "config_changed",
        testing.State(
            leader=True,
            config=config,
            relations=[*gateway_relations(), testing.PeerRelation("kserve-peers")],
            containers=[
                testing.Container("kserve-controller", can_connect=True),
                testing.Container("models-web-app", can_connect=True),
            ],
            model=MODEL,
        ),
    )
    assert out.unit_status.name in {"active", "blocked", "waiting", "maintenance"}


@pytest.mark.parametrize(
    "endpoint", ["s3", "object-storage", "ingress-gateway", "local-gateway", "ingress"]
)
@given(
    remote=databag,
    extra=st.fixed_dictionaries(
        {},
        optional={
            "endpoint": st.sampled_from(
                ["http://m:9000", "https://m", "m:9", "http://u:p@m", "", "ftp://x"]
            ),
            "region": st.text(max_size=10),
            "s3-uri-style": st.sampled_from(["path", "host", "other"]),
            "tls-ca-chain": st.sampled_from(
                ["[]", '["x"]', "not json", '["-----BEGIN CERTIFICATE-----"]']
            ),
            "access-key": st.text(max_size=10),
            "secret-key": st.text(max_size=10),
            "lib-version": st.sampled_from(["1.0", "0.1", "x"]),
            "_supported_versions": st.sampled_from(["- v1\n", "- v9\n", "[[", ""]),
            "data": st.sampled_from(
                ["{}", "access-key: a\nsecret-key: b\nservice: m\nport: 1\n", "[", "port: x"]
            ),
            "gateway_name": st.text(max_size=10),
            "gateway_namespace": st.text(max_size=10),
            "gateway_up": st.sampled_from(["true", "false", "yes"]),
        },
    ),
)
def test_random_relation_data_never_raises(endpoint, remote, extra):
    data = {**remote, **extra}
    relation = testing.Relation(endpoint, remote_app_name="remote", remote_app_data=data)
    relations = [r for r in gateway_relations() if r.endpoint != endpoint]
    relations += [relation, manifest_relation("secrets"), testing.PeerRelation("kserve-peers")]
    out = _run(
        "relation_changed",
        testing.State(
            leader=True,
            relations=relations,
            containers=[
                testing.Container("kserve-controller", can_connect=True),
                testing.Container("models-web-app", can_connect=True),
            ],
            model=MODEL,
        ),
        relation,
    )
    assert out.unit_status.name in {"active", "blocked", "waiting", "maintenance"}


@given(manifest_data=databag)
def test_random_dispatcher_relation_data_never_raises(manifest_data):
    relation = testing.Relation(
        "secrets", remote_app_name="resource-dispatcher", remote_app_data=manifest_data
    )
    out = _run(
        "relation_changed",
        testing.State(
            leader=True,
            relations=[*gateway_relations(), relation, testing.PeerRelation("kserve-peers")],
            containers=[
                testing.Container("kserve-controller", can_connect=True),
                testing.Container("models-web-app", can_connect=True),
            ],
            model=MODEL,
        ),
        relation,
    )
    assert out.unit_status.name in {"active", "blocked", "waiting", "maintenance"}


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("http-proxy", "http://[::1"),
        ("https-proxy", "[x]"),
        ("inferenceservice-cpu-request", "1e999999999"),
        ("custom-images", "[" * 5000),
    ],
)
def test_hostile_config_blocks_naming_the_option(option, value):
    out = _run(
        "config_changed",
        testing.State(
            leader=True,
            config={option: value},
            relations=[*gateway_relations(), testing.PeerRelation("kserve-peers")],
            containers=[
                testing.Container("kserve-controller", can_connect=True),
                testing.Container("models-web-app", can_connect=True),
            ],
            model=MODEL,
        ),
    )
    assert out.unit_status.name == "blocked"
    assert option in out.unit_status.message


@pytest.mark.parametrize("endpoint", ["http://[", "https://[x]:9000"])
def test_unparsable_s3_endpoint_blocks(endpoint):
    relation = testing.Relation(
        "s3",
        remote_app_name="minio",
        remote_app_data={"access-key": "a", "secret-key": "b", "endpoint": endpoint},
    )
    out = _run(
        "relation_changed",
        testing.State(
            leader=True,
            relations=[*gateway_relations(), relation, testing.PeerRelation("kserve-peers")],
            containers=[
                testing.Container("kserve-controller", can_connect=True),
                testing.Container("models-web-app", can_connect=True),
            ],
            model=MODEL,
        ),
        relation,
    )
    assert out.unit_status.name in {"active", "blocked", "waiting", "maintenance"}
    if out.unit_status.name == "blocked":
        assert "endpoint" in out.unit_status.message
