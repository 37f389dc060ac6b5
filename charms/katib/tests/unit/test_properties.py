"""Property tests: no config or relation data makes a hook raise."""

from __future__ import annotations

import ops
import pytest
from conftest import MODEL, juju_statefulset, make_context, state
from hypothesis import given
from hypothesis import strategies as st
from kfcharm.testing.fake_k8s import FakeKubernetes
from ops import testing

OPTIONS = [
    "webhook-port",
    "metrics-port",
    "ui-port",
    "trial-resources",
    "metrics-collector-images",
    "suggestion-images",
    "early-stopping-images",
    "trial-template-images",
    "pbt-storage-class",
    "pbt-access-mode",
    "pbt-storage-size",
    "katib-controller-cpu-request",
    "katib-controller-cpu-limit",
    "katib-controller-memory-request",
    "katib-controller-memory-limit",
    "katib-db-manager-cpu-request",
    "katib-ui-memory-limit",
    "user-id-header",
    "user-id-prefix",
]
PORT_OPTIONS = {"webhook-port", "metrics-port", "ui-port"}

text = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "{random: img}",
            "[1, 2]",
            "{: }",
            "ReadWriteOnce",
            "5Gi",
            "100m",
            "0.5",
            "1e3",
            "1e99999",
        ]
    ),
)


@st.composite
def configs(draw: st.DrawFn) -> dict[str, object]:
    chosen = draw(st.lists(st.sampled_from(OPTIONS), unique=True, max_size=6))
    return {
        name: draw(st.integers(-1, 70000)) if name in PORT_OPTIONS else draw(text)
        for name in chosen
    }


def _fake() -> FakeKubernetes:
    fake = FakeKubernetes(MODEL)
    fake.add(juju_statefulset())
    return fake


@given(config=configs())
def test_random_config_never_raises(config):
    ctx = make_context()
    with _fake().installed():
        out = ctx.run(ctx.on.config_changed(), state(config=config))
    assert isinstance(out.unit_status, (ops.ActiveStatus, ops.BlockedStatus, ops.WaitingStatus))
    if (
        isinstance(out.unit_status, ops.BlockedStatus)
        and "config option" in out.unit_status.message
    ):
        assert "juju config katib " in out.unit_status.message


databag_values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["katib", "mysql:3306", "host:notaport", "h1:1,h2:2", "secret:abc", '["x"]', "{}", ""]
    ),
)


@given(
    data=st.dictionaries(
        st.sampled_from(
            ["database", "endpoints", "secret-user", "username", "password", "version", "tls-ca"]
        ),
        databag_values,
        max_size=7,
    ),
    ingress_versions=st.sampled_from(["- v1\n", "- v2\n", "garbage: [", "", "- v9\n"]),
)
def test_random_relation_data_never_raises(data, ingress_versions):
    ctx = make_context()
    db = testing.Relation("relational-db", remote_app_name="mysql", remote_app_data=data)
    ingress = testing.Relation(
        "ingress", remote_app_data={"_supported_versions": ingress_versions}
    )
    with _fake().installed():
        out = ctx.run(ctx.on.relation_changed(db, remote_unit=0), state(relations=[db, ingress]))
        out = ctx.run(ctx.on.relation_changed(out.get_relation(ingress.id)), out)
    assert out.unit_status.name in ("active", "blocked", "waiting")
    assert out.unit_status != ops.ActiveStatus() or data.get("endpoints")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("suggestion-images", "[" * 5000),
        ("trial-template-images", "{pytorch-mnist: 'a" + "." * 80 + "!'}"),
        ("user-id-header", "kubeflow-userid\n"),
    ],
)
def test_hostile_config_blocks_naming_the_option(option, value):
    ctx = make_context()
    with _fake().installed():
        out = ctx.run(ctx.on.config_changed(), state(config={option: value}))
    assert isinstance(out.unit_status, ops.BlockedStatus)
    assert f"juju config katib {option}=" in out.unit_status.message
