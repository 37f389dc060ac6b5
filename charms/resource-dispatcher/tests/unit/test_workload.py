"""The ops-free workload module: config, merging manifests, the Pebble layer."""

from __future__ import annotations

import pytest
import resource_dispatcher as rd
from dispatcher.handoff import HandoffEntry

from tests.unit.cluster import S3_SECRET_KEY, config_map, pod_default, s3_secret, service_account


def test_default_config_is_valid():
    config = rd.DispatcherConfig.from_options({})
    assert str(config.selector) == "user.kubeflow.org/enabled=true"
    assert (config.metrics_port, config.log_level) == (9090, "info")


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"target-namespace-label": ""}, "target-namespace-label"),
        ({"target-namespace-label": "no spaces=1 2"}, "target-namespace-label"),
        ({"target-namespace-label": 5}, "target-namespace-label"),
        ({"metrics-port": 80}, "metrics-port"),
        ({"metrics-port": 70000}, "metrics-port"),
        ({"metrics-port": True}, "metrics-port"),
        ({"log-level": "loud"}, "log-level"),
    ],
)
def test_invalid_config_names_the_option(options, option):
    with pytest.raises(rd.ConfigError) as err:
        rd.DispatcherConfig.from_options(options)
    assert err.value.option == option
    assert option in str(err.value)


def source(endpoint, app, relation_id, *manifests, usable=True):
    return rd.Source(endpoint, app, relation_id, tuple(manifests), usable)


def test_merge_keeps_everything_valid():
    result = rd.merge_manifests(
        [
            source("secrets", "mlflow", 1, s3_secret("a")),
            source("pod-defaults", "mlflow", 2, pod_default()),
            source("service-accounts", "kserve", 3, service_account()),
        ]
    )
    assert result.problems == []
    assert {(e.kind, e.name, e.source) for e in result.entries} == {
        ("Secret", "a", "mlflow"),
        ("PodDefault", "access-minio", "mlflow"),
        ("ServiceAccount", "kserve-controller-s3", "kserve"),
    }


def test_same_object_from_two_apps_is_a_conflict_naming_both():
    result = rd.merge_manifests(
        [
            source("secrets", "kserve", 7, s3_secret("creds")),
            source("secrets", "mlflow", 3, s3_secret("creds")),
        ]
    )
    assert [e.source for e in result.entries] == ["mlflow"]  # the oldest relation wins
    assert len(result.problems) == 1
    assert "mlflow" in result.problems[0]
    assert "kserve" in result.problems[0]


def test_wrong_kind_for_the_endpoint_is_reported_and_left_out():
    result = rd.merge_manifests([source("secrets", "app", 1, config_map("x"), s3_secret("ok"))])
    assert [e.name for e in result.entries] == ["ok"]
    assert "secrets:1 (app)" in result.problems[0]
    assert "ConfigMap is not a Secret" in result.problems[0]


def test_unusable_source_keeps_what_it_sent_before():
    previous = [
        HandoffEntry("secrets", "mlflow", s3_secret("kept")),
        HandoffEntry("secrets", "gone", s3_secret("x")),
    ]
    result = rd.merge_manifests([source("secrets", "mlflow", 4, usable=False)], previous)
    assert [e.name for e in result.entries] == ["kept"]
    assert result.kept == ["secrets:4"]


def test_layer_runs_the_controller_with_checks_and_no_credentials():
    config = rd.DispatcherConfig.from_options({"metrics-port": 9100, "log-level": "debug"})
    targets = {
        "juju-loki-x": {
            "override": "replace",
            "type": "loki",
            "location": "http://l",
            "services": ["all"],
        }
    }
    layer = rd.pebble_layer(config, "rd", "kubeflow", standby=False, log_targets=targets)
    service = layer["services"]["dispatcher"]
    assert service["command"].startswith(
        "python3 -m dispatcher --manifests /etc/dispatcher/manifests.json"
    )
    assert "--label user.kubeflow.org/enabled=true" in service["command"]
    assert "--owner rd --owner-namespace kubeflow" in service["command"]
    assert "--standby" not in service["command"]
    assert service["environment"]["PYTHONPATH"] == rd.APP_DIR
    assert layer["checks"]["ready"]["http"]["url"] == "http://localhost:9100/readyz"
    assert layer["checks"]["alive"]["level"] == "alive"
    assert layer["log-targets"] == targets
    assert S3_SECRET_KEY not in str(layer)
    assert (
        "--standby"
        in rd.pebble_layer(config, "rd", "kf", standby=True)["services"]["dispatcher"]["command"]
    )


def test_read_previous_tolerates_garbage():
    assert rd.read_previous(None) == []
    assert rd.read_previous(b"{garbage") == []


def test_manifest_summary_names_objects_only():
    lines = rd.manifest_summary([HandoffEntry("secrets", "mlflow", s3_secret("creds"))])
    assert lines == ["Secret/creds (from mlflow via secrets)"]
