"""Tests of the ops-free workload module: config validation, katib-config, layers, manifests."""

from __future__ import annotations

from pathlib import Path

import katib
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from kfcharm.k8s import ResourceManager, load_templates
from kfcharm.resources import resource_option_names

TEMPLATES = Path(__file__).parents[2] / "src" / "templates"


def message_for(**options: object) -> str:
    with pytest.raises(ValueError, match=r".") as excinfo:
        katib.KatibCharmConfig(**options)
    return katib.config_error_message(excinfo.value)


# -- config validation ------------------------------------------------------------------------


def test_defaults_are_valid_and_match_upstream_ports():
    config = katib.KatibCharmConfig()
    assert (config.webhook_port, config.ui_port) == (8443, 8080)
    assert config.metrics_port not in (config.ui_port, katib.DB_MANAGER_PORT, katib.HEALTH_PORT)


@pytest.mark.parametrize(
    ("options", "option", "reason"),
    [
        ({"webhook_port": 80}, "webhook-port", "between 1024 and 65535"),
        ({"metrics_port": 70000}, "metrics-port", "between 1024 and 65535"),
        ({"ui_port": 6789}, "ui-port", "db-manager gRPC port"),
        ({"metrics_port": 18080}, "metrics-port", "health port"),
        ({"ui_port": 8443}, "ui-port", "already used by webhook-port"),
        ({"trial_resources": ""}, "trial-resources", "at least one"),
        ({"trial_resources": "Job.v1.batch,Pod.v1"}, "trial-resources", "'Pod.v1'"),
        ({"suggestion_images": "{nope: img}"}, "suggestion-images", "unknown key 'nope'"),
        ({"suggestion_images": "[a, b]"}, "suggestion-images", "must be a YAML map"),
        ({"suggestion_images": "{random: 'has space'}"}, "suggestion-images", "not an image"),
        ({"metrics_collector_images": "{Prometheus: x}"}, "metrics-collector-images", "StdOut"),
        ({"early_stopping_images": "{random: x}"}, "early-stopping-images", "medianstop"),
        ({"trial_template_images": "{a: [}"}, "trial-template-images", "not valid YAML"),
        ({"pbt_access_mode": "RWX"}, "pbt-access-mode", "ReadWriteOnce"),
        ({"pbt_storage_size": "lots"}, "pbt-storage-size", "quantity"),
        ({"pbt_storage_size": "0"}, "pbt-storage-size", "positive"),
        ({"pbt_storage_class": "Fast_SSD"}, "pbt-storage-class", "storage class name"),
        (
            {"katib_controller_cpu_request": "1 core"},
            "katib-controller-cpu-request",
            "not a Kubernetes quantity",
        ),
        ({"katib_ui_memory_limit": "huge"}, "katib-ui-memory-limit", "'huge'"),
        ({"katib_ui_cpu_limit": "1e99999"}, "katib-ui-cpu-limit", "Kubernetes can use"),
        ({"pbt_storage_size": "1e99999"}, "pbt-storage-size", "positive"),
        (
            {"katib_db_manager_memory_request": "2Gi", "katib_db_manager_memory_limit": "1Gi"},
            "katib-db-manager-memory-request",
            "above katib-db-manager-memory-limit=1Gi",
        ),
        ({"user_id_header": "bad header"}, "user-id-header", "HTTP header"),
        ({"user_id_prefix": "a\nb"}, "user-id-prefix", "single line"),
    ],
)
def test_invalid_option_is_named_with_reason(options, option, reason):
    message = message_for(**options)
    assert f"invalid config option {option}:" in message
    assert reason in message
    assert f"juju config <app> {option}=" in message


def test_image_overrides_replace_only_the_given_keys():
    config = katib.KatibCharmConfig(
        suggestion_images="{pbt: registry.local:5000/katib/pbt@sha256:abc}",
        metrics_collector_images="File: registry.local/fmc:1",
    )
    images = config.images()
    assert images["suggestions"]["pbt"] == "registry.local:5000/katib/pbt@sha256:abc"
    assert images["suggestions"]["random"] == katib.DEFAULT_SUGGESTION_IMAGES["random"]
    assert images["metrics_collectors"]["File"] == "registry.local/fmc:1"
    assert (
        images["metrics_collectors"]["StdOut"] == katib.DEFAULT_METRICS_COLLECTOR_IMAGES["StdOut"]
    )


def test_resources_are_read_per_container_from_the_four_options():
    config = katib.KatibCharmConfig(
        katib_controller_cpu_request="100m",
        katib_controller_memory_request="128Mi",
        katib_controller_memory_limit="1Gi",
        katib_ui_cpu_request="0.5",
    )
    resources = config.resources()
    assert resources[katib.CONTROLLER].to_k8s() == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"memory": "1Gi"},
    }
    assert resources[katib.UI].to_k8s() == {"requests": {"cpu": "0.5"}}
    assert resources[katib.DB_MANAGER].to_k8s() == {}


def test_resource_options_follow_the_shared_naming_for_every_container():
    declared = yaml.safe_load((Path(__file__).parents[2] / "charmcraft.yaml").read_text())
    options = set(declared["config"]["options"])
    for container in katib.CONTAINERS:
        assert set(resource_option_names(container)) <= options
        for name in resource_option_names(container):
            assert name.replace("-", "_") in katib.KatibCharmConfig.model_fields


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "webhook_port",
                "metrics_port",
                "ui_port",
                "trial_resources",
                "suggestion_images",
                "metrics_collector_images",
                "pbt_access_mode",
                "pbt_storage_size",
                "katib_controller_cpu_request",
                "katib_controller_cpu_limit",
                "katib_ui_memory_limit",
                "user_id_header",
            ]
        ),
        st.one_of(st.integers(-5, 70000), st.text(max_size=40)),
    )
)
def test_any_config_is_either_valid_or_a_named_error(options):
    try:
        config = katib.KatibCharmConfig(**options)
    except ValueError as err:
        message = katib.config_error_message(err)
        assert message.startswith("invalid config option ")
        assert "Traceback" not in message
    else:
        # Anything accepted must render a loadable katib-config.
        assert yaml.safe_load(katib.katib_config_yaml(config))["kind"] == "KatibConfig"


# -- katib-config ------------------------------------------------------------------------------


def test_katib_config_has_every_algorithm_and_the_charm_ports():
    config = katib.KatibCharmConfig(metrics_port=9090, webhook_port=9443)
    doc = katib.katib_config(config)
    controller = doc["init"]["controller"]
    assert controller["webhookPort"] == 9443
    assert controller["metricsAddr"] == ":9090"
    assert controller["healthzAddr"] == f":{katib.HEALTH_PORT}"
    assert doc["init"]["certGenerator"] == {"enable": False}
    algorithms = {s["algorithmName"] for s in doc["runtime"]["suggestions"]}
    assert algorithms == set(katib.DEFAULT_SUGGESTION_IMAGES)
    assert {c["kind"] for c in doc["runtime"]["metricsCollectors"]} == {
        "StdOut",
        "File",
        "TensorFlowEvent",
    }
    assert doc["runtime"]["earlyStoppings"][0]["algorithmName"] == "medianstop"


@pytest.mark.parametrize("mode", ["ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod"])
def test_pbt_volume_uses_the_configured_access_mode_and_class(mode):
    config = katib.KatibCharmConfig(
        pbt_access_mode=mode, pbt_storage_class="vsphere-csi", pbt_storage_size="2Gi"
    )
    pbt = next(
        s
        for s in katib.katib_config(config)["runtime"]["suggestions"]
        if s["algorithmName"] == "pbt"
    )
    assert pbt["persistentVolumeClaimSpec"] == {
        "accessModes": [mode],
        "resources": {"requests": {"storage": "2Gi"}},
        "storageClassName": "vsphere-csi",
    }


def test_pbt_volume_without_storage_class_uses_the_cluster_default():
    doc = katib.katib_config(katib.KatibCharmConfig())
    pbt = next(s for s in doc["runtime"]["suggestions"] if s["algorithmName"] == "pbt")
    assert "storageClassName" not in pbt["persistentVolumeClaimSpec"]


# -- Pebble layers ---------------------------------------------------------------------------


def test_db_manager_credentials_only_in_environment():
    db = katib.DatabaseSettings("mysql-0.mysql", 3306, "katib", "u1", "p@ss")
    layer = katib.db_manager_layer(db, {})
    service = layer["services"][katib.DB_MANAGER]
    assert service["environment"] == {
        "DB_NAME": "mysql",
        "DB_USER": "u1",
        "DB_PASSWORD": "p@ss",
        "KATIB_MYSQL_DB_HOST": "mysql-0.mysql",
        "KATIB_MYSQL_DB_PORT": "3306",
        "KATIB_MYSQL_DB_DATABASE": "katib",
    }
    assert "p@ss" not in service["command"]
    assert "p@ss" not in repr(db)
    assert {c["level"] for c in layer["checks"].values()} == {"ready", "alive"}


def test_controller_layer_points_at_the_db_manager_service_and_health_port():
    layer = katib.controller_layer(katib.KatibCharmConfig(), "katib", "kubeflow", {"t": {}})
    service = layer["services"][katib.CONTROLLER]
    assert service["override"] == "replace"
    assert service["environment"]["KATIB_DB_MANAGER_SERVICE_IP"] == "katib-db-manager"
    assert service["environment"]["KATIB_DB_MANAGER_SERVICE_NAMESPACE"] == "kubeflow"
    assert service["environment"]["KATIB_CORE_NAMESPACE"] == "kubeflow"
    checks = layer["checks"]
    assert checks["controller-ready"]["http"]["url"].endswith(f":{katib.HEALTH_PORT}/readyz")
    assert checks["controller-alive"]["http"]["url"].endswith(f":{katib.HEALTH_PORT}/healthz")
    assert layer["log-targets"] == {"t": {}}


def test_ui_layer_carries_user_id_settings_and_port():
    config = katib.KatibCharmConfig(ui_port=9000, user_id_header="x-user", user_id_prefix="p:")
    service = katib.ui_layer(config, "katib", "kubeflow", {})["services"][katib.UI]
    assert service["command"] == "/app/katib-ui --port=9000"
    assert service["environment"]["USERID_HEADER"] == "x-user"
    assert service["environment"]["USERID_PREFIX"] == "p:"
    assert service["environment"]["APP_DISABLE_AUTH"] == "false"


# -- manifests ---------------------------------------------------------------------------------


def _context(**options: object) -> katib.ManifestContext:
    return katib.manifest_context(katib.KatibCharmConfig(**options), "katib", "kubeflow", "Q0E=")


def test_templates_are_accepted_by_the_validating_fake(fake_k8s):
    context = _context(trial_template_images="{pytorch-mnist: registry.local/mnist:1}")
    manager = ResourceManager(fake_k8s, app="katib", namespace="kubeflow")
    crds = load_templates(TEMPLATES / "crds", context)
    main = load_templates(TEMPLATES, context)
    result = manager.reconcile([*crds, *main])
    assert not fake_k8s.requests[-1].error
    assert len(result.applied) == len(crds) + len(main)
    templates = fake_k8s.find("ConfigMap", "trial-templates", "kubeflow")
    assert "registry.local/mnist:1" in templates.data["defaultTrialTemplate.yaml"]
    assert templates.metadata.labels["katib.kubeflow.org/component"] == "trial-templates"
    config_map = fake_k8s.find("ConfigMap", "katib-config", "kubeflow")
    assert yaml.safe_load(config_map.data["katib-config.yaml"]) == katib.katib_config(
        katib.KatibCharmConfig()
    )


def test_an_experiment_validates_against_the_crd(fake_k8s):
    from lightkube.generic_resource import create_namespaced_resource

    manager = ResourceManager(fake_k8s, app="katib", namespace="kubeflow")
    manager.reconcile(load_templates(TEMPLATES / "crds", _context()))
    experiment_cls = create_namespaced_resource(
        "kubeflow.org", "v1beta1", "Experiment", "experiments"
    )
    fake_k8s.create(
        experiment_cls(
            metadata={"name": "random", "namespace": "user"},
            spec={"algorithm": {"algorithmName": "random"}, "maxTrialCount": 3},
        )
    )
    assert fake_k8s.find("Experiment", "random", "user").spec["maxTrialCount"] == 3


def test_webhooks_select_labelled_namespaces_and_exclude_the_controller():
    main = load_templates(TEMPLATES, _context())
    mutating = next(o for o in main if type(o).__name__ == "MutatingWebhookConfiguration")
    pod_hook = next(w for w in mutating.webhooks if w.name == "mutator.pod.katib.kubeflow.org")
    assert pod_hook.namespaceSelector.matchLabels == {
        "katib.kubeflow.org/metrics-collector-injection": "enabled"
    }
    assert "system:serviceaccount:kubeflow:katib" in pod_hook.matchConditions[0].expression
    for hook in mutating.webhooks:
        assert hook.clientConfig.service.name == "katib-controller"
        assert hook.clientConfig.caBundle == "Q0E="
    services = {o.metadata.name: o for o in main if type(o).__name__ == "Service"}
    webhook_port = services["katib-controller"].spec.ports[0]
    assert (webhook_port.port, webhook_port.targetPort) == (443, 8443)
    assert services["katib-db-manager"].spec.ports[0].port == katib.DB_MANAGER_PORT


def test_aggregated_roles_feed_the_kubeflow_profile_roles():
    roles = {
        o.metadata.name: o
        for o in load_templates(TEMPLATES, _context())
        if type(o).__name__ == "ClusterRole"
    }
    prefix = "rbac.authorization.kubeflow.org/aggregate-to-"
    assert roles["kubeflow-katib-admin"].metadata.labels == {f"{prefix}kubeflow-admin": "true"}
    assert roles["kubeflow-katib-edit"].metadata.labels[f"{prefix}kubeflow-edit"] == "true"
    assert roles["kubeflow-katib-view"].metadata.labels == {f"{prefix}kubeflow-view": "true"}
    view_verbs = {v for rule in roles["kubeflow-katib-view"].rules for v in rule.verbs}
    assert view_verbs == {"get", "list", "watch"}


@pytest.mark.parametrize("value", ["[" * 5000, "{" * 5000, "a: " * 3000 + "b"])
def test_absurdly_nested_yaml_is_a_config_error(value):
    # PyYAML raises RecursionError (not a YAMLError) on deep nesting; it used to escape.
    assert "suggestion-images" in message_for(suggestion_images=value)


def test_image_check_does_not_backtrack_exponentially():
    # The old pattern took minutes (and hung the hook) on a long run of separators.
    import time

    start = time.monotonic()
    message = message_for(suggestion_images="{random: 'a" + "." * 80 + "!'}")
    assert "not an image reference" in message
    assert time.monotonic() - start < 2


@pytest.mark.parametrize(
    "image",
    ["registry.local:5000/katib/pbt@sha256:abc", "a..b", "a/b_c-d.e:v1", "r/A_b"],
)
def test_image_pattern_still_accepts_references(image):
    assert katib.parse_image_overrides("o", f"{{random: {image!r}}}", {"random": "x"}) == {
        "random": image
    }


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"suggestion_images": '{random: "registry.local/hyperopt:v1\\n"}'}, "suggestion-images"),
        ({"user_id_header": "kubeflow-userid\n"}, "user-id-header"),
    ],
)
def test_trailing_newline_is_rejected(options, option):
    # `re.match(...$)` accepts a trailing newline, which would land in katib-config / env.
    assert option in message_for(**options)
