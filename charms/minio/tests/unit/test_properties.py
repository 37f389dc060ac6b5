"""Property tests: random config and relation data never make a hook raise."""

from __future__ import annotations

import json

from conftest import root_secret, state
from hypothesis import given
from hypothesis import strategies as st
from ops import testing

text = st.text(max_size=40)
databag = st.dictionaries(
    st.sampled_from(
        ["_supported_versions", "data", "bucket", "path", "requested-secrets", "lib-version", "x"]
    )
    | text,
    st.one_of(
        text,
        st.sampled_from(
            [
                "- v1\n",
                "- v9\n",
                "[",
                json.dumps(["access-key", "secret-key"]),
                "1.0",
                "0.5",
                "mlflow",
                "{}",
                "null",
            ]
        ),
    ),
    max_size=6,
)
config = st.fixed_dictionaries(
    {},
    optional={
        "port": st.integers(-10, 70000),
        "console-port": st.integers(-10, 70000),
        "console": st.booleans(),
        "region": st.one_of(text, st.just("eu-west-1")),
        "tls-secret": st.sampled_from(["secret:" + "b" * 20]),
        "root-credentials-secret": st.sampled_from(["secret:" + "c" * 20]),
        "minio-cpu-request": st.one_of(text, st.sampled_from(["100m", "2", "0.5"])),
        "minio-cpu-limit": st.one_of(text, st.sampled_from(["1", "500m"])),
        "minio-memory-request": st.one_of(text, st.sampled_from(["1Gi", "512Mi"])),
        "minio-memory-limit": st.one_of(text, st.sampled_from(["2Gi", "1e3"])),
    },
)
statuses = {"active", "blocked", "waiting", "maintenance"}


@given(config=config, leader=st.booleans(), planned=st.integers(1, 9))
def test_random_config_never_raises(ctx, buckets, config, leader, planned):
    out = ctx.run(
        ctx.on.config_changed(),
        state(config=config, leader=leader, planned_units=planned, secrets=(root_secret(),)),
    )
    assert out.unit_status.name in statuses


@given(remote=databag, endpoint=st.sampled_from(["object-storage", "s3"]), leader=st.booleans())
def test_random_relation_data_never_raises(ctx, buckets, remote, endpoint, leader):
    rel = testing.Relation(endpoint, remote_app_name="consumer", remote_app_data=remote)
    st_in = state(leader=leader, relations=(rel,), secrets=(root_secret(),))
    for event in (ctx.on.relation_created(rel), ctx.on.relation_changed(rel)):
        out = ctx.run(event, st_in)
        assert out.unit_status.name in statuses
        assert out.app_status.name in statuses | {"unknown"}


@given(content=st.dictionaries(st.sampled_from(["access-key", "secret-key", "x"]) | text, text))
def test_random_user_secret_content_never_raises(ctx, content):
    user = testing.Secret(tracked_content=content or {"x": "y"})
    out = ctx.run(
        ctx.on.secret_changed(user),
        state(config={"root-credentials-secret": user.id}, secrets=(user,)),
    )
    assert out.unit_status.name in {"active", "blocked"}


@given(
    content=st.dictionaries(
        st.sampled_from(["certificate", "private-key", "ca-certificate"]),
        st.one_of(text, st.just("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")),
    )
)
def test_random_tls_content_never_raises(ctx, content):
    tls = testing.Secret(tracked_content=content or {"x": "y"})
    out = ctx.run(
        ctx.on.config_changed(),
        state(config={"tls-secret": tls.id}, secrets=(tls, root_secret())),
    )
    assert out.unit_status.name == "blocked"
    assert "tls-secret" in out.unit_status.message
