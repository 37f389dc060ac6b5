"""Container resources: the minio-* options reach Juju's StatefulSet through kfcharm."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import MODEL, juju_statefulset, root_secret, state, workload_resources
from kfcharm.resources import resource_option_names
from lightkube.resources.apps_v1 import StatefulSet
from ops import testing

OPTIONS = resource_option_names("minio")
CHARMCRAFT = Path(__file__).parents[2] / "charmcraft.yaml"


def run(ctx, config=None, *, leader=True):
    return ctx.run(
        ctx.on.config_changed(), state(leader=leader, config=config, secrets=(root_secret(),))
    )


def test_options_are_declared_as_empty_strings():
    options = yaml.safe_load(CHARMCRAFT.read_text())["config"]["options"]
    assert OPTIONS == [
        "minio-cpu-request",
        "minio-cpu-limit",
        "minio-memory-request",
        "minio-memory-limit",
    ]
    for name in OPTIONS:
        assert options[name]["type"] == "string"
        assert options[name]["default"] == ""


def test_no_options_leave_the_statefulset_alone(ctx, fake_k8s):
    out = run(ctx)
    assert out.unit_status == testing.ActiveStatus()
    assert fake_k8s.writes() == []
    assert workload_resources(fake_k8s) == {}


def test_options_are_set_on_the_minio_container_only(ctx, fake_k8s):
    config = {
        "minio-cpu-request": "250m",
        "minio-cpu-limit": "2",
        "minio-memory-request": "1Gi",
        "minio-memory-limit": "4Gi",
    }
    out = run(ctx, config)
    assert out.unit_status == testing.ActiveStatus()
    assert workload_resources(fake_k8s) == {
        "requests": {"cpu": "250m", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }
    live = fake_k8s.find(StatefulSet, "minio", MODEL.name).to_dict()
    charm = live["spec"]["template"]["spec"]["containers"][0]
    assert charm["name"] == "charm"
    assert not charm.get("resources")
    assert [r.verb for r in fake_k8s.writes()] == ["patch"]


def test_unset_options_are_removed(ctx, fake_k8s):
    fake_k8s.add(juju_statefulset({"requests": {"cpu": "1"}, "limits": {"memory": "1Gi"}}))
    out = run(ctx, {"minio-memory-limit": "2Gi"})
    assert out.unit_status == testing.ActiveStatus()
    resources = workload_resources(fake_k8s)
    assert not resources.get("requests")
    assert resources["limits"] == {"memory": "2Gi"}


def test_equal_by_value_is_not_rewritten(ctx, fake_k8s):
    fake_k8s.add(juju_statefulset({"requests": {"cpu": "100m"}}))
    fake_k8s.reset_log()
    run(ctx, {"minio-cpu-request": "0.1"})
    assert fake_k8s.count("get", "StatefulSet") == 1
    assert fake_k8s.writes() == []


@pytest.mark.parametrize(
    ("config", "option", "needle"),
    [
        ({"minio-cpu-request": "lots"}, "minio-cpu-request", "not a Kubernetes quantity"),
        ({"minio-memory-limit": "2gb"}, "minio-memory-limit", "not a Kubernetes quantity"),
        (
            {"minio-memory-request": "2Gi", "minio-memory-limit": "1Gi"},
            "minio-memory-request",
            "above minio-memory-limit=1Gi",
        ),
    ],
)
def test_invalid_option_blocks_naming_it(ctx, fake_k8s, config, option, needle):
    out = run(ctx, config)
    assert out.unit_status.name == "blocked"
    assert needle in out.unit_status.message
    assert f"juju config minio {option}=" in out.unit_status.message
    assert out.app_status == out.unit_status
    assert fake_k8s.requests == []


def test_forbidden_without_options_is_ignored(ctx, fake_k8s):
    """The bundle deploys MinIO untrusted: with nothing to set, a 403 changes nothing."""
    fake_k8s.inject_fault(verb="get", kind="StatefulSet", status=403)
    out = run(ctx)
    assert out.unit_status == testing.ActiveStatus()
    assert out.get_container("minio").layers


def test_forbidden_with_options_asks_for_trust(ctx, fake_k8s):
    fake_k8s.inject_fault(verb="get", kind="StatefulSet", status=403)
    out = run(ctx, {"minio-cpu-limit": "1"})
    assert out.unit_status.name == "blocked"
    assert "juju trust minio --scope=cluster" in out.unit_status.message
    assert out.app_status == out.unit_status
    # MinIO itself keeps running.
    assert out.get_container("minio").layers


@pytest.mark.parametrize("fault", [500, 429, "timeout"])
def test_transient_api_errors_wait_and_retry(ctx, fake_k8s, fault):
    fake_k8s.inject_fault(verb="patch", kind="StatefulSet", status=fault)
    out = run(ctx, {"minio-cpu-limit": "1"})
    assert out.unit_status.name == "waiting"
    assert workload_resources(fake_k8s) == {}

    out = ctx.run(ctx.on.update_status(), out)
    assert out.unit_status == testing.ActiveStatus()
    assert workload_resources(fake_k8s) == {"limits": {"cpu": "1"}}


def test_missing_statefulset_is_not_an_error(ctx, fake_k8s):
    fake_k8s.delete(StatefulSet, "minio", namespace=MODEL.name)
    fake_k8s.reset_log()
    out = run(ctx, {"minio-cpu-limit": "1"})
    assert out.unit_status == testing.ActiveStatus()
    assert fake_k8s.writes() == []


def test_non_leader_does_not_patch(ctx, fake_k8s):
    out = run(ctx, {"minio-cpu-limit": "1"}, leader=False)
    assert out.unit_status == testing.ActiveStatus()
    assert fake_k8s.requests == []
    assert workload_resources(fake_k8s) == {}
