"""Tests of the ops-free workload module `profiles`."""

from __future__ import annotations

import shlex
from pathlib import Path

import profiles
import pytest
import yaml
from kfcharm.resources import resource_option_names
from profiles import ActionParamError, ConfigError, ProfileRequest, ProfilesConfig

CHARMCRAFT_YAML = Path(__file__).parents[2] / "charmcraft.yaml"
DEFAULTS = {
    "security-policy": "baseline",
    "namespace-labels": "",
    "userid-header": "kubeflow-userid",
    "userid-prefix": "",
    "cluster-admin": "",
    "workload-identity": "",
    "istio-ingress-gateway-principal": (
        "cluster.local/ns/kubeflow/sa/istio-ingressgateway-workload-service-account"
    ),
    "kfp-ui-principal": "cluster.local/ns/kubeflow/sa/kfp-ui",
    "notebook-controller-principal": "cluster.local/ns/kubeflow/sa/jupyter-controller",
    "profile-controller-cpu-request": "100m",
    "profile-controller-memory-request": "128Mi",
    "profile-controller-cpu-limit": "",
    "profile-controller-memory-limit": "512Mi",
    "kfam-cpu-request": "50m",
    "kfam-memory-request": "64Mi",
    "kfam-cpu-limit": "",
    "kfam-memory-limit": "512Mi",
}


def config(**changes: str) -> ProfilesConfig:
    options = dict(DEFAULTS)
    options.update({k.replace("_", "-"): v for k, v in changes.items()})
    return ProfilesConfig.from_options(options)


def test_labels_file_has_kubeflow_labels_and_the_security_level():
    labels = yaml.safe_load(profiles.namespace_labels_file(config(security_policy="restricted")))
    assert labels == {
        "user.kubeflow.org/enabled": "true",
        "app.kubernetes.io/part-of": "kubeflow-profile",
        "katib.kubeflow.org/metrics-collector-injection": "enabled",
        "serving.kubeflow.org/inferenceservice": "enabled",
        "pipelines.kubeflow.org/enabled": "true",
        "pod-security.kubernetes.io/enforce": "restricted",
    }


def test_extra_labels_are_added_and_empty_values_remove_a_default():
    cfg = config(
        namespace_labels='{"example.com/team": "ml", "serving.kubeflow.org/inferenceservice": ""}'
    )
    labels = profiles.namespace_labels(cfg)
    assert labels["example.com/team"] == "ml"
    assert labels["serving.kubeflow.org/inferenceservice"] == ""
    # YAML works as well as JSON, and booleans/numbers become label strings.
    cfg = config(namespace_labels="a.io/x: true\nb: 3\n")
    assert profiles.namespace_labels(cfg)["a.io/x"] == "true"
    assert profiles.namespace_labels(cfg)["b"] == "3"


@pytest.mark.parametrize(
    ("option", "value", "reason"),
    [
        ("security-policy", "strict", "privileged, baseline, restricted"),
        ("namespace-labels", "{not yaml", "not valid YAML"),
        ("namespace-labels", "[a, b]", "map of label keys"),
        ("namespace-labels", '{"bad key!": "x"}', "invalid label key"),
        ("namespace-labels", '{"ok": "spaces are bad"}', "invalid value"),
        (
            "namespace-labels",
            '{"pod-security.kubernetes.io/enforce": "privileged"}',
            "security-policy",
        ),
        ("userid-header", "bad header", "HTTP header"),
        ("kfp-ui-principal", "kfp-ui", "Istio principal"),
        ("kfam-memory-limit", "lots", "Kubernetes quantity"),
        ("kfam-memory-request", "1Gi", "above kfam-memory-limit=512Mi"),
        ("userid-prefix", "a\nb", "one line"),
    ],
)
def test_invalid_options_name_the_option_and_reason(option, value, reason):
    with pytest.raises(ConfigError) as err:
        config(**{option: value})
    assert err.value.option == option
    assert reason in err.value.reason


def test_security_policy_is_case_insensitive():
    assert config(security_policy=" Restricted ").security_policy.value == "restricted"


def test_controller_command_quotes_empty_prefix_and_enables_leader_election():
    cfg = config(userid_prefix="accounts.google.com:")
    args = shlex.split(profiles.controller_command(cfg))
    assert args[0] == "/manager"
    assert args[args.index("-userid-prefix") + 1] == "accounts.google.com:"
    assert "-leader-elect" in args
    assert args[args.index("-namespace-labels-path") + 1] == profiles.NAMESPACE_LABELS_PATH
    empty = shlex.split(profiles.controller_command(config()))
    assert empty[empty.index("-userid-prefix") + 1] == ""


def test_kfam_command_carries_cluster_admin():
    args = shlex.split(profiles.kfam_command(config(cluster_admin="admin@example.com")))
    assert args[:3] == ["/access-management", "-cluster-admin", "admin@example.com"]


def test_layers_have_ready_and_alive_checks_and_principals_in_environment():
    cfg = config(kfp_ui_principal="cluster.local/ns/other/sa/kfp-ui")
    for layer, service in (
        (profiles.controller_layer(cfg, {}), "profile-controller"),
        (profiles.kfam_layer(cfg, {}), "kfam"),
    ):
        levels = {check["level"] for check in layer["checks"].values()}
        assert levels == {"ready", "alive"}
        env = layer["services"][service]["environment"]
        assert env["KFP_UI_PRINCIPAL"] == "cluster.local/ns/other/sa/kfp-ui"
        assert layer["services"][service]["override"] == "replace"
        assert "log-targets" not in layer
    targets = {"t": {"override": "replace", "type": "loki", "location": "http://l/push"}}
    assert profiles.kfam_layer(cfg, targets)["log-targets"] == targets


def test_resources_are_read_per_container_and_omit_unset_values():
    cfg = config(kfam_cpu_limit="", kfam_memory_limit="1Gi", profile_controller_cpu_limit="2")
    assert cfg.resources["kfam"].to_k8s() == {
        "requests": {"cpu": "50m", "memory": "64Mi"},
        "limits": {"memory": "1Gi"},
    }
    assert cfg.resources["profile-controller"].to_k8s() == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "2", "memory": "512Mi"},
    }


def test_resource_options_are_named_after_the_workload_containers():
    meta = yaml.safe_load(CHARMCRAFT_YAML.read_text())
    assert set(profiles.WORKLOAD_CONTAINERS) == set(meta["containers"])
    expected = {o for name in meta["containers"] for o in resource_option_names(name)}
    declared = {o for o in meta["config"]["options"] if "-cpu-" in o or "-memory-" in o}
    assert declared == expected
    for option in expected:
        assert DEFAULTS[option] == meta["config"]["options"][option]["default"]


def test_profile_request_builds_a_v1_profile_with_quota():
    request = ProfileRequest.from_params(
        {"name": "alice", "owner": "alice@example.com", "resource-quota": "cpu: 4\nmemory: 8Gi"},
        reserved=frozenset({"kubeflow"}),
    )
    profile = request.to_profile()
    assert profile["apiVersion"] == "kubeflow.org/v1"
    assert profile["spec"]["owner"] == {
        "kind": "User",
        "name": "alice@example.com",
        "apiGroup": "rbac.authorization.k8s.io",
    }
    assert profile["spec"]["resourceQuotaSpec"] == {"hard": {"cpu": "4", "memory": "8Gi"}}


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"name": "Alice", "owner": "a"}, "name"),
        ({"name": "kubeflow", "owner": "a"}, "name"),
        ({"name": "kube-x", "owner": "a"}, "name"),
        ({"name": "ok", "owner": " "}, "owner"),
        ({"name": "ok", "owner": "a b"}, "owner"),
        ({"name": "ok", "owner": "a", "owner-kind": "Robot"}, "owner-kind"),
        ({"name": "ok", "owner": "a", "resource-quota": "[1]"}, "resource-quota"),
        ({"name": "ok", "owner": "a", "resource-quota": "cpu: lots"}, "resource-quota"),
        ({"name": "ok", "owner": "a", "resource-quota": "{"}, "resource-quota"),
    ],
)
def test_invalid_profile_requests_name_the_parameter(params, param):
    with pytest.raises(ActionParamError) as err:
        ProfileRequest.from_params(params, reserved=frozenset({"kubeflow"}))
    assert err.value.param == param


def test_summarize_profile_reports_owner_quota_and_failure():
    summary = profiles.summarize_profile(
        {
            "metadata": {"name": "bob"},
            "spec": {
                "owner": {"kind": "User", "name": "bob@x"},
                "resourceQuotaSpec": {"hard": {"cpu": 2}},
            },
            "status": {"conditions": [{"type": "Failed", "message": "namespace taken"}]},
        }
    )
    assert summary == {
        "name": "bob",
        "owner": "bob@x",
        "owner-kind": "User",
        "resource-quota": {"cpu": "2"},
        "problem": "namespace taken",
    }


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("userid-header", "kubeflow-userid\n"),
        ("namespace-labels", '{"team\\n": "a"}'),
        ("namespace-labels", '{"team": "a\\n"}'),
        ("namespace-labels", '{"example.com\\n/team": "a"}'),
    ],
)
def test_trailing_newline_is_rejected(option, value):
    # `re.match(...$)` accepts a trailing newline; it would reach labels / the env.
    with pytest.raises(ConfigError) as err:
        config(**{option.replace("-", "_"): value})
    assert err.value.option == option


def test_profile_name_with_trailing_newline_is_rejected():
    with pytest.raises(ActionParamError) as err:
        ProfileRequest.from_params({"name": "alice\n", "owner": "a"}, reserved=frozenset())
    assert err.value.param == "name"


def test_quota_quantities_are_stripped_and_must_parse():
    request = ProfileRequest.from_params(
        {"name": "a", "owner": "a", "resource-quota": '{"cpu": "4\\n"}'}, reserved=frozenset()
    )
    assert request.to_profile()["spec"]["resourceQuotaSpec"] == {"hard": {"cpu": "4"}}
    with pytest.raises(ActionParamError) as err:
        ProfileRequest.from_params(
            {"name": "a", "owner": "a", "resource-quota": "cpu: 1e999999999"},
            reserved=frozenset(),
        )
    assert err.value.param == "resource-quota"
