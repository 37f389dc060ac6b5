"""Hypothesis: random config and relation data (including malformed manifests) never raise."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from dispatcher.handoff import HandoffError, decode_manifests
from hypothesis import given
from hypothesis import strategies as st
from kfcharm.resources import resource_option_names
from kfcharm.testing import FakeKubernetes
from ops import testing

from tests.unit.cluster import s3_secret
from tests.unit.conftest import (
    MODEL,
    container,
    juju_statefulset,
    manifest_relation,
    pushed_manifests,
    state,
)

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20))
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
kinds = st.sampled_from(["Secret", "ConfigMap", "PodDefault", "ServiceAccount", "Role", "X", ""])
names = st.one_of(st.text(max_size=30), st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True))
manifest = st.fixed_dictionaries(
    {
        "apiVersion": st.sampled_from(
            ["v1", "kubeflow.org/v1alpha1", "rbac.authorization.k8s.io/v1", "x"]
        ),
        "kind": kinds,
        "metadata": st.one_of(
            st.fixed_dictionaries(
                {"name": names},
                optional={
                    "namespace": st.text(max_size=5),
                    "labels": st.dictionaries(st.text(max_size=12), json_leaf, max_size=2),
                    "annotations": json_value,
                },
            ),
            json_value,
        ),
    },
    optional={"data": json_value, "spec": json_value},
)
payload = st.one_of(
    st.lists(manifest, max_size=4).map(json.dumps),
    json_value.map(json.dumps),
    st.text(max_size=40),
)
configs = st.fixed_dictionaries(
    {},
    optional={
        "target-namespace-label": st.text(max_size=40),
        "metrics-port": st.integers(-5, 70000),
        "log-level": st.sampled_from(["info", "debug", "LOUD", "", "warning"]),
        **{
            option: st.sampled_from(["", "1", "100m", "0.5", "2Gi", "64Mi", "lots", "-1", " "])
            for option in resource_option_names("dispatcher")
        },
    },
)
endpoints = st.sampled_from(
    ["secrets", "service-accounts", "pod-defaults", "config-maps", "roles", "role-bindings"]
)


@given(config=configs, endpoint=endpoints, data=payload, is_secret=st.booleans())
def test_random_config_and_relation_data_never_raise(
    tmp_path_factory, config, endpoint, data, is_secret
):
    from charm import ResourceDispatcherCharm

    ctx = testing.Context(ResourceDispatcherCharm, app_name="resource-dispatcher")
    remote = {"kubernetes_manifests": data}
    if is_secret:
        remote["is_secret"] = "true"
    rel = testing.Relation(endpoint, remote_app_name="random", remote_app_data=remote)
    good = manifest_relation("secrets", [s3_secret("stable")], app="mlflow-server")
    base = tmp_path_factory.mktemp("fs")
    fs = {name: base / name for name in ("opt", "etc", "var")}
    for path in fs.values():
        path.mkdir()

    fake = FakeKubernetes(namespace=MODEL.name)
    fake.add(juju_statefulset())
    with fake.installed():
        out = ctx.run(
            ctx.on.relation_changed(rel), state(config=config, relations=(good, rel), fs=fs)
        )

    assert out.unit_status.name in ("active", "blocked", "waiting", "maintenance")
    pushed = pushed_manifests(ctx, out)
    if pushed is not None:
        # Whatever came in, the file handed to the controller is one it accepts.
        text = (fs["etc"] / "manifests.json").read_text()
        assert len(decode_manifests(text)) == len(pushed)
        assert ("Secret", "stable") in {
            (m["manifest"]["kind"], m["manifest"]["metadata"]["name"]) for m in pushed
        }


@given(
    text=st.one_of(
        st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))
    )
)
def test_controller_file_parser_only_raises_handoff_errors(text):
    with contextlib.suppress(HandoffError):
        decode_manifests(text)


def test_property_helpers_build_a_container_without_mounts():
    assert container().mounts == {}
    assert Path("/").exists()
