"""Tests of the ops-free workload module `dashboard`."""

from __future__ import annotations

import json

import dashboard
import pytest
from dashboard import ConfigError, DashboardConfig, Link
from kfcharm.resources import ContainerResources

DEFAULTS = {
    "userid-header": "kubeflow-userid",
    "userid-prefix": "",
    "registration-flow": True,
    "logout-url": "/oauth2/sign_out",
    "dashboard-configmap": "centraldashboard-config",
    "force-iframe": True,
    "additional-menu-links": "",
    "additional-external-links": "",
    "additional-quick-links": "",
    "additional-documentation-links": "",
    "menu-link-order": "[]",
    "external-link-order": "[]",
    "quick-link-order": "[]",
    "documentation-link-order": "[]",
    "kubeflow-dashboard-cpu-request": "100m",
    "kubeflow-dashboard-memory-request": "128Mi",
    "kubeflow-dashboard-cpu-limit": "",
    "kubeflow-dashboard-memory-limit": "1Gi",
}


def config(**changes) -> DashboardConfig:
    options = dict(DEFAULTS)
    options.update({k.replace("_", "-"): v for k, v in changes.items()})
    return DashboardConfig.from_options(options)


def link(text: str, location: str = "menu", **kw) -> Link:
    return Link(text=text, link=f"/{text.lower()}/", location=location, **kw)


def test_order_puts_listed_names_first_then_the_rest_alphabetically():
    links = [link("Volumes"), link("katib"), link("Notebooks"), link("Alpha"), link("Pipelines")]
    ordered = dashboard.order_links(links, ["Pipelines", "Notebooks", "Absent"])
    assert [x.text for x in ordered] == ["Pipelines", "Notebooks", "Alpha", "katib", "Volumes"]


def test_render_links_groups_locations_with_upstream_item_forms():
    links = [
        link("Notebooks", icon="book"),
        Link("MLflow", "https://mlflow.example.com", "external", icon="launch"),
        Link("New notebook", "/jupyter/new", "quick", desc="Create one"),
        Link("Docs", "https://kubeflow.org/docs", "documentation", desc="Read"),
    ]
    rendered = dashboard.render_links(links, {})
    assert rendered == {
        "menuLinks": [
            {"type": "item", "link": "/notebooks/", "text": "Notebooks", "icon": "book"}
        ],
        "externalLinks": [
            {
                "type": "item",
                "link": "https://mlflow.example.com",
                "text": "MLflow",
                "icon": "launch",
            }
        ],
        "quickLinks": [{"text": "New notebook", "desc": "Create one", "link": "/jupyter/new"}],
        "documentationItems": [
            {"text": "Docs", "desc": "Read", "link": "https://kubeflow.org/docs"}
        ],
    }


def test_configmap_settings_is_valid_json():
    data = dashboard.configmap_data([], config(force_iframe=False))
    assert json.loads(data["settings"]) == {"DASHBOARD_FORCE_IFRAME": False}
    assert set(json.loads(data["links"])) == {
        "menuLinks",
        "externalLinks",
        "quickLinks",
        "documentationItems",
    }


def test_link_options_accept_yaml_and_json():
    cfg = config(
        additional_menu_links="- text: Grafana\n  link: /grafana/\n  icon: assessment\n",
        additional_external_links=json.dumps(
            [{"text": "MLflow", "link": "https://m", "location": "external"}]
        ),
    )
    assert [(x.text, x.location, x.icon) for x in cfg.extra_links] == [
        ("Grafana", "menu", "assessment"),
        ("MLflow", "external", "icons:link"),
    ]


@pytest.mark.parametrize(
    ("option", "value", "reason"),
    [
        ("additional-menu-links", "[{broken", "not valid YAML"),
        ("additional-menu-links", "text: x", "must be a YAML or JSON list"),
        ("additional-menu-links", '[{"link": "/x/"}]', "entry 0: missing 'text'"),
        (
            "additional-quick-links",
            '[{"text": "A"}, {"text": "B"}]',
            "entry 0 ('A'): missing 'link'",
        ),
        (
            "additional-menu-links",
            json.dumps(
                [
                    {"text": "ok", "link": "/ok/"},
                    {"text": "MLflow", "link": "https://m", "location": "external"},
                ]
            ),
            "entry 1 ('MLflow'): location 'external' does not belong here "
            "(use additional-external-links",
        ),
        (
            "additional-menu-links",
            '[{"text": "A", "link": "/a", "location": "moon"}]',
            "location must be 'menu'",
        ),
        (
            "additional-menu-links",
            '[{"text": "A", "link": "/a", "colour": "red"}]',
            "unknown field(s) colour",
        ),
        ("menu-link-order", '{"a": 1}', "list of link texts"),
        ("userid-header", "bad header", "HTTP header"),
        ("dashboard-configmap", "Bad_Name", "Kubernetes object name"),
        ("kubeflow-dashboard-memory-limit", "huge", "quantity"),
        ("kubeflow-dashboard-cpu-request", "-1", "quantity"),
        ("kubeflow-dashboard-memory-request", "2Gi", "above kubeflow-dashboard-memory-limit"),
        ("logout-url", "", "path or URL"),
    ],
)
def test_bad_options_name_the_option_and_entry(option, value, reason):
    with pytest.raises(ConfigError) as err:
        config(**{option: value})
    assert err.value.option == option
    assert reason in err.value.reason


def test_environment_sets_every_variable_explicitly():
    kfam = dashboard.kfam_from_relation("kubeflow-profiles", 8081, "kubeflow")
    env = dashboard.dashboard_environment(config(registration_flow=False), kfam, "kubeflow")
    assert env["PROFILES_KFAM_SERVICE_HOST"] == "kubeflow-profiles.kubeflow.svc"
    assert env["PROFILES_KFAM_SERVICE_PORT"] == "8081"
    assert env["REGISTRATION_FLOW"] == "false"
    assert env["COLLECT_METRICS"] == "true"
    assert env["USERID_HEADER"] == "kubeflow-userid"
    assert env["USERID_PREFIX"] == ""
    assert env["DASHBOARD_CONFIGMAP"] == "centraldashboard-config"
    assert env["LOGOUT_URL"] == "/oauth2/sign_out"
    assert env["POD_NAMESPACE"] == "kubeflow"
    qualified = dashboard.kfam_from_relation("kfam.other.svc.cluster.local", 9000, "kubeflow")
    assert qualified.host == "kfam.other.svc.cluster.local"


def test_layer_checks_healthz_and_runs_as_node_user():
    kfam = dashboard.Kfam("h", 8081)
    layer = dashboard.dashboard_layer(config(), kfam, "kubeflow", {})
    service = layer["services"]["kubeflow-dashboard"]
    assert service["command"] == "/sbin/tini -- npm start"
    assert service["working-dir"] == "/usr/src/app"
    assert service["user-id"] == 1000
    urls = {c["level"]: c["http"]["url"] for c in layer["checks"].values()}
    assert urls == {
        "ready": "http://localhost:8082/healthz",
        "alive": "http://localhost:8082/healthz",
    }


def test_resources_come_from_the_container_options_and_drop_unset_values():
    resources = config(kubeflow_dashboard_memory_limit="").resources
    assert resources == ContainerResources(cpu_request="100m", memory_request="128Mi")
    assert resources.to_k8s() == {"requests": {"cpu": "100m", "memory": "128Mi"}}


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("userid-header", "kubeflow-userid\n"),
        ("dashboard-configmap", "centraldashboard-config\n"),
    ],
)
def test_trailing_newline_is_rejected(option, value):
    # `re.match(...$)` accepts a trailing newline; it would reach the env / object name.
    with pytest.raises(ConfigError) as err:
        config(**{option.replace("-", "_"): value})
    assert err.value.option == option


@pytest.mark.parametrize("value", ["[" * 5000, "{" * 5000])
def test_absurdly_nested_link_yaml_is_a_config_error(value):
    with pytest.raises(ConfigError) as err:
        config(additional_menu_links=value)
    assert err.value.option == "additional-menu-links"
