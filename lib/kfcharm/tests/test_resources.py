"""Container resources: config validation and the StatefulSet patch, on the fake API."""

from __future__ import annotations

import pytest
from kfcharm.k8s import K8sForbiddenError
from kfcharm.resources import (
    ContainerResources,
    ResourceConfigError,
    apply_container_resources,
    is_quantity,
    resource_option_names,
    resources_patch,
)
from lightkube.models.apps_v1 import StatefulSetSpec
from lightkube.models.core_v1 import Container, PodSpec, PodTemplateSpec, ResourceRequirements
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.apps_v1 import StatefulSet


def statefulset(resources: dict | None = None) -> StatefulSet:
    containers = [
        Container(name="charm", image="charm-base"),
        Container(
            name="workload",
            image="upstream:1",
            resources=ResourceRequirements(**resources) if resources else None,
        ),
    ]
    return StatefulSet(
        metadata=ObjectMeta(name="app", namespace="model"),
        spec=StatefulSetSpec(
            selector=LabelSelector(matchLabels={"app.kubernetes.io/name": "app"}),
            serviceName="app-endpoints",
            template=PodTemplateSpec(
                metadata=ObjectMeta(labels={"app.kubernetes.io/name": "app"}),
                spec=PodSpec(containers=containers),
            ),
        ),
    )


def containers_of(fake) -> dict[str, dict]:
    live = fake.get(StatefulSet, "app", namespace="model").to_dict()
    return {c["name"]: c for c in live["spec"]["template"]["spec"]["containers"]}


@pytest.mark.parametrize("value", ["100m", "1", "0.5", "512Mi", "2Gi", "1e3", "1.5G"])
def test_quantities_accepted(value):
    assert is_quantity(value)


@pytest.mark.parametrize("value", ["", "-1", "1 Gi", "lots", "2gb", "1.2.3", "1\n", "1Gi\n"])
def test_non_quantities_rejected(value):
    assert not is_quantity(value)


def test_option_names():
    assert resource_option_names("kfam") == [
        "kfam-cpu-request",
        "kfam-cpu-limit",
        "kfam-memory-request",
        "kfam-memory-limit",
    ]


def test_from_config_reads_and_converts():
    config = {"kfam-cpu-request": " 100m ", "kfam-memory-limit": "1Gi", "other": "x"}
    resources = ContainerResources.from_config(config, "kfam")
    assert resources.to_k8s() == {"requests": {"cpu": "100m"}, "limits": {"memory": "1Gi"}}
    assert ContainerResources.from_config({}, "kfam").to_k8s() == {}


def test_from_config_names_the_bad_option():
    with pytest.raises(ResourceConfigError) as err:
        ContainerResources.from_config({"ui-memory-request": "lots"}, "ui")
    assert err.value.option == "ui-memory-request"
    assert "not a Kubernetes quantity" in str(err.value)


def test_request_above_limit_is_rejected():
    with pytest.raises(ResourceConfigError) as err:
        ContainerResources.from_config({"ui-cpu-request": "2", "ui-cpu-limit": "500m"}, "ui")
    assert err.value.option == "ui-cpu-request"


def test_patch_is_none_when_equal_by_value():
    live = [{"name": "workload", "resources": {"requests": {"cpu": "100m"}}}]
    assert resources_patch(live, {"workload": ContainerResources(cpu_request="0.1")}) is None


def test_patch_removes_what_is_no_longer_wanted():
    live = [{"name": "workload", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]
    patch = resources_patch(live, {"workload": ContainerResources(memory_limit="2Gi")})
    assert patch == {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "workload",
                            "resources": {"limits": {"memory": "2Gi", "cpu": None}},
                        }
                    ]
                }
            }
        }
    }


def test_apply_sets_resources_and_leaves_other_containers(fake_k8s):
    fake_k8s.add(statefulset())
    wanted = {"workload": ContainerResources(cpu_request="250m", memory_limit="1Gi")}
    assert apply_container_resources(fake_k8s, "app", "model", wanted) is True
    containers = containers_of(fake_k8s)
    assert containers["workload"]["resources"] == {
        "requests": {"cpu": "250m"},
        "limits": {"memory": "1Gi"},
    }
    assert containers["workload"]["image"] == "upstream:1"
    assert containers["charm"]["image"] == "charm-base"


def test_steady_state_is_one_get_and_no_write(fake_k8s):
    fake_k8s.add(statefulset({"requests": {"cpu": "250m"}}))
    fake_k8s.reset_log()
    wanted = {"workload": ContainerResources(cpu_request="0.25")}
    assert apply_container_resources(fake_k8s, "app", "model", wanted) is False
    assert fake_k8s.count() == 1
    assert fake_k8s.writes() == []


def test_unsetting_removes_the_limit(fake_k8s):
    fake_k8s.add(statefulset({"limits": {"cpu": "1"}, "requests": {"cpu": "100m"}}))
    assert apply_container_resources(fake_k8s, "app", "model", {"workload": ContainerResources()})
    resources = containers_of(fake_k8s)["workload"].get("resources") or {}
    assert not resources.get("limits")
    assert not resources.get("requests")


def test_missing_statefulset_is_skipped(fake_k8s):
    assert (
        apply_container_resources(fake_k8s, "app", "model", {"w": ContainerResources()}) is False
    )


def test_forbidden_surfaces_as_typed_error(fake_k8s):
    fake_k8s.add(statefulset())
    fake_k8s.inject_fault(verb="get", kind="StatefulSet", status=403)
    with pytest.raises(K8sForbiddenError):
        apply_container_resources(
            fake_k8s, "app", "model", {"workload": ContainerResources(cpu_request="1")}
        )


@pytest.mark.parametrize("value", ["1e99999", "1E3", "1" * 40])
def test_unparsable_quantity_names_the_option(value):
    with pytest.raises(ResourceConfigError) as err:
        ContainerResources.from_config({"ui-cpu-request": "1", "ui-cpu-limit": value}, "ui")
    assert err.value.option == "ui-cpu-limit"
