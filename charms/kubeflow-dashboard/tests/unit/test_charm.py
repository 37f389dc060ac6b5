"""State-transition tests of the kubeflow-dashboard charm (ops.testing + FakeKubernetes)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import yaml
from conftest import (
    APP,
    MODEL,
    base_state,
    ingress_relation,
    juju_statefulset,
    links_relation,
    profiles_relation,
)
from kfcharm.testing.fake_k8s import FakeKubernetes
from lightkube.models.core_v1 import ResourceRequirements
from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.core_v1 import ConfigMap
from ops import pebble, testing

CONFIGMAP = "centraldashboard-config"
LOKI_URL = "http://loki-0.loki-endpoints.cos.svc.cluster.local:3100/loki/api/v1/push"
JUPYTER_LINKS = [
    {
        "text": "Notebooks",
        "link": "/jupyter/",
        "location": "menu",
        "icon": "book",
        "type": "item",
        "desc": "",
    },
    {
        "text": "New notebook",
        "link": "/jupyter/new",
        "location": "quick",
        "icon": "",
        "type": "item",
        "desc": "Create",
    },
]
KATIB_LINKS = [
    {
        "text": "Experiments (AutoML)",
        "link": "/katib/",
        "location": "menu",
        "icon": "kubeflow:katib",
    },
]


def published_links(fake) -> dict:
    configmap = fake.find(ConfigMap, CONFIGMAP, MODEL)
    assert configmap is not None
    json.loads(configmap.data["settings"])  # must stay valid JSON
    return json.loads(configmap.data["links"])


def menu_texts(fake) -> list[str]:
    return [item["text"] for item in published_links(fake)["menuLinks"]]


def settled(ctx, *relations, **kwargs) -> testing.State:
    state = base_state(*relations, **kwargs)
    state = ctx.run(ctx.on.install(), state)
    return ctx.run(ctx.on.pebble_ready(state.get_container("kubeflow-dashboard")), state)


# -- install, workload, config --------------------------------------------------------------------


def test_install_writes_configmap_and_rbac_and_starts_the_dashboard(ctx, fake_k8s):
    out = settled(ctx)
    links = published_links(fake_k8s)
    assert links["documentationItems"][0]["text"] == "Kubeflow documentation"
    assert fake_k8s.find("ClusterRoleBinding", f"{MODEL}-{APP}").subjects[0].name == APP
    role = fake_k8s.find("Role", APP, MODEL)
    assert all("secrets" not in (rule.resources or []) for rule in role.rules)
    service = out.get_container("kubeflow-dashboard").plan.services["kubeflow-dashboard"]
    assert service.environment["PROFILES_KFAM_SERVICE_HOST"] == f"kubeflow-profiles.{MODEL}.svc"
    assert service.environment["PROFILES_KFAM_SERVICE_PORT"] == "8081"
    assert out.opened_ports == {testing.TCPPort(8082)}
    assert out.unit_status == testing.ActiveStatus()
    assert out.app_status == testing.ActiveStatus()


def test_kfam_host_and_port_come_from_the_relation(ctx, fake_k8s):
    out = settled(ctx, profiles_relation("kfam-svc", "9090"), ingress_relation())
    env = out.get_container("kubeflow-dashboard").plan.services["kubeflow-dashboard"].environment
    assert env["PROFILES_KFAM_SERVICE_HOST"] == f"kfam-svc.{MODEL}.svc"
    assert env["PROFILES_KFAM_SERVICE_PORT"] == "9090"


def test_missing_profiles_relation_blocks_with_integrate_command(ctx, fake_k8s):
    out = settled(ctx, ingress_relation())
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert (
        f"juju integrate {APP}:kubeflow-profiles kubeflow-profiles:kubeflow-profiles"
        in out.unit_status.message
    )
    assert out.get_container("kubeflow-dashboard").plan.services == {}
    assert fake_k8s.find(ConfigMap, CONFIGMAP, MODEL) is not None  # links are still served


def test_profiles_relation_without_data_waits(ctx, fake_k8s):
    relation = profiles_relation(remote_app_data={"_supported_versions": "- v1\n"})
    out = settled(ctx, relation, ingress_relation())
    assert isinstance(out.unit_status, testing.WaitingStatus)
    assert "kubeflow-profiles" in out.unit_status.message


def test_bad_profiles_data_blocks_naming_the_field(ctx, fake_k8s):
    relation = profiles_relation(port="http")
    out = settled(ctx, relation, ingress_relation())
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert "service-port" in out.unit_status.message


def test_missing_ingress_blocks_with_integrate_command(ctx, fake_k8s):
    out = settled(ctx, profiles_relation())
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert f"juju integrate {APP}:ingress istio-pilot:ingress" in out.unit_status.message
    assert "kubeflow-dashboard" in out.get_container("kubeflow-dashboard").plan.services


@pytest.mark.parametrize("event", ["created", "changed"])
def test_ingress_route_is_requested_at_root(ctx, fake_k8s, event):
    relation = ingress_relation()
    state = base_state(profiles_relation(), relation)
    out = ctx.run(getattr(ctx.on, f"relation_{event}")(relation), state)
    data = out.get_relation(relation.id).local_app_data
    request = yaml.safe_load(data["data"])
    assert request == {
        "service": APP,
        "port": 8082,
        "prefix": "/",
        "rewrite": "/",
        "namespace": MODEL,
    }


def test_container_not_ready_waits(ctx, fake_k8s):
    state = base_state(containers=[testing.Container("kubeflow-dashboard", can_connect=False)])
    out = ctx.run(ctx.on.config_changed(), state)
    assert isinstance(out.unit_status, testing.WaitingStatus)
    assert "Pebble" in out.unit_status.message


def test_failing_ready_check_waits_with_where_to_look(ctx, fake_k8s):
    state = settled(ctx)
    down = testing.CheckInfo(
        "kubeflow-dashboard-ready", level=pebble.CheckLevel.READY, status=pebble.CheckStatus.DOWN
    )
    container = dataclasses.replace(state.get_container("kubeflow-dashboard"), check_infos={down})
    out = ctx.run(ctx.on.update_status(), dataclasses.replace(state, containers={container}))
    assert isinstance(out.unit_status, testing.WaitingStatus)
    assert "pebble logs" in out.unit_status.message


def test_config_changes_reach_environment(ctx, fake_k8s):
    state = settled(ctx)
    config = {"registration-flow": False, "userid-header": "x-user", "logout-url": "/logout"}
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(state, config=config))
    env = out.get_container("kubeflow-dashboard").plan.services["kubeflow-dashboard"].environment
    assert (env["REGISTRATION_FLOW"], env["USERID_HEADER"], env["LOGOUT_URL"]) == (
        "false",
        "x-user",
        "/logout",
    )


def test_configmap_rename_prunes_the_old_one(ctx, fake_k8s):
    state = settled(ctx)
    ctx.run(
        ctx.on.config_changed(), dataclasses.replace(state, config={"dashboard-configmap": "cd2"})
    )
    assert fake_k8s.find(ConfigMap, CONFIGMAP, MODEL) is None
    assert fake_k8s.find(ConfigMap, "cd2", MODEL) is not None


# -- links ----------------------------------------------------------------------------------------


def test_related_links_appear_after_changed_and_disappear_after_broken(ctx, fake_k8s):
    state = settled(ctx)
    jupyter = links_relation("jupyter-ui", JUPYTER_LINKS)
    katib = links_relation("katib", KATIB_LINKS)
    state = dataclasses.replace(state, relations=state.relations | {jupyter, katib})
    state = ctx.run(ctx.on.relation_changed(jupyter, remote_unit=0), state)
    assert menu_texts(fake_k8s) == ["Notebooks", "Experiments (AutoML)"]  # menu-link-order
    assert published_links(fake_k8s)["quickLinks"][0]["text"] == "New notebook"
    state = ctx.run(ctx.on.relation_broken(state.get_relation(jupyter.id)), state)
    assert menu_texts(fake_k8s) == ["Experiments (AutoML)"]
    assert published_links(fake_k8s)["quickLinks"] == []
    assert state.unit_status == testing.ActiveStatus()


def test_config_links_and_order_options_merge_with_related_links(ctx, fake_k8s):
    config = {
        "additional-menu-links": "- {text: Grafana, link: /grafana/, icon: assessment}\n"
        "- {text: Admin, link: /admin/}",
        "menu-link-order": '["Grafana", "Notebooks"]',
    }
    settled(
        ctx,
        profiles_relation(),
        ingress_relation(),
        links_relation("jupyter-ui", JUPYTER_LINKS),
        config=config,
    )
    # Listed first in the given order, then the rest alphabetically.
    assert menu_texts(fake_k8s) == ["Grafana", "Notebooks", "Admin"]


def test_bad_link_config_blocks_and_keeps_published_links(ctx, fake_k8s):
    state = settled(
        ctx, profiles_relation(), ingress_relation(), links_relation("jupyter-ui", JUPYTER_LINKS)
    )
    before = published_links(fake_k8s)
    bad = '[{"text": "MLflow", "link": "https://m", "location": "external"}]'
    fake_k8s.reset_log()
    out = ctx.run(
        ctx.on.config_changed(), dataclasses.replace(state, config={"additional-menu-links": bad})
    )
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert "'additional-menu-links'" in out.unit_status.message
    assert "entry 0 ('MLflow')" in out.unit_status.message
    assert f"juju config {APP} additional-menu-links=" in out.unit_status.message
    assert published_links(fake_k8s) == before
    assert fake_k8s.writes() == []


def test_bad_related_links_block_naming_the_app_but_keep_its_valid_links(ctx, fake_k8s):
    links = [
        *KATIB_LINKS,
        {"text": "no link", "location": "menu"},
        {"text": "x", "link": "/x", "location": "moon"},
    ]
    out = settled(ctx, profiles_relation(), ingress_relation(), links_relation("katib", links))
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert "katib" in out.unit_status.message
    assert "entry 1" in out.unit_status.message
    assert menu_texts(fake_k8s) == ["Experiments (AutoML)"]


def test_links_relation_with_invalid_json_blocks_and_others_still_show(ctx, fake_k8s):
    out = settled(
        ctx,
        profiles_relation(),
        ingress_relation(),
        links_relation("broken", "{not json"),
        links_relation("katib", KATIB_LINKS),
    )
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert "not valid JSON" in out.unit_status.message
    assert menu_texts(fake_k8s) == ["Experiments (AutoML)"]


# -- leadership, upgrade, steady state ------------------------------------------------------------


def test_non_leader_runs_the_dashboard_but_writes_nothing_to_kubernetes(ctx, fake_k8s):
    out = settled(ctx, leader=False)
    assert fake_k8s.requests == []
    assert "kubeflow-dashboard" in out.get_container("kubeflow-dashboard").plan.services
    assert out.unit_status == testing.ActiveStatus()


def test_leader_elected_publishes_configmap(ctx, fake_k8s):
    state = settled(ctx, leader=False)
    ctx.run(ctx.on.leader_elected(), dataclasses.replace(state, leader=True))
    assert fake_k8s.find(ConfigMap, CONFIGMAP, MODEL) is not None


def test_unobserved_hook_reports_the_reconciled_status_without_writes(ctx, fake_k8s):
    state = settled(ctx, profiles_relation())
    fake_k8s.reset_log()
    out = ctx.run(ctx.on.start(), state)
    assert out.unit_status == state.unit_status
    assert f"juju integrate {APP}:ingress istio-pilot:ingress" in out.unit_status.message
    assert fake_k8s.writes() == []


def test_upgrade_charm_writes_nothing_when_unchanged(ctx, fake_k8s):
    state = settled(ctx)
    fake_k8s.reset_log()
    out = ctx.run(ctx.on.upgrade_charm(), state)
    assert fake_k8s.writes() == []
    assert out.unit_status == testing.ActiveStatus()


def test_steady_state_update_status_makes_no_kubernetes_writes(ctx, fake_k8s):
    state = settled(
        ctx, profiles_relation(), ingress_relation(), links_relation("katib", KATIB_LINKS)
    )
    fake_k8s.reset_log()
    out = ctx.run(ctx.on.update_status(), state)
    assert fake_k8s.writes() == []
    plan = out.get_container("kubeflow-dashboard").plan
    assert plan == state.get_container("kubeflow-dashboard").plan


def test_measure_requests_for_install_and_steady_state(ctx, fake_k8s):
    """Prints the request counts and bytes (run with -s); bounds keep them honest."""
    state = ctx.run(ctx.on.install(), base_state())
    install = (len(fake_k8s.requests), fake_k8s.bytes(), len(fake_k8s.writes()))
    fake_k8s.reset_log()
    ctx.run(ctx.on.update_status(), state)
    steady = (len(fake_k8s.requests), fake_k8s.bytes(), len(fake_k8s.writes()))
    for label, (count, size, writes) in (("install", install), ("update-status", steady)):
        print(f"\nkubeflow-dashboard {label}: {count} requests ({writes} writes), {size} bytes")
    assert steady[2] == 0
    assert steady[0] <= 6
    assert install[2] >= 5  # ConfigMap, ClusterRole(Binding), Role(Binding)


def container_resources(fake) -> dict:
    sts = fake.find(StatefulSet, APP, MODEL)
    return {c.name: c.resources for c in sts.spec.template.spec.containers}


def test_default_resources_are_set_on_the_dashboard_container_only(ctx, fake_k8s):
    settled(ctx)
    resources = container_resources(fake_k8s)
    assert resources["kubeflow-dashboard"].requests == {"cpu": "100m", "memory": "128Mi"}
    assert resources["kubeflow-dashboard"].limits == {"memory": "1Gi"}
    assert resources["charm"] is None


def test_resources_patch_the_statefulset_once(ctx, fake_k8s):
    state = settled(ctx, config={"kubeflow-dashboard-cpu-limit": "2"})
    resources = container_resources(fake_k8s)
    assert resources["kubeflow-dashboard"].limits == {"cpu": "2", "memory": "1Gi"}
    fake_k8s.reset_log()
    ctx.run(ctx.on.config_changed(), state)
    assert fake_k8s.writes(StatefulSet) == []


def test_unsetting_a_limit_removes_it(ctx, fake_k8s):
    state = settled(ctx)
    config = {"kubeflow-dashboard-memory-limit": ""}
    ctx.run(ctx.on.config_changed(), dataclasses.replace(state, config=config))
    assert not container_resources(fake_k8s)["kubeflow-dashboard"].limits


def test_resources_equal_by_value_are_not_rewritten(ctx, monkeypatch):
    fake = FakeKubernetes(namespace=MODEL)
    sts = juju_statefulset()
    sts.spec.template.spec.containers[1].resources = ResourceRequirements(
        requests={"cpu": "0.1", "memory": "131072Ki"}, limits={"memory": "1024Mi"}
    )
    fake.add(sts)
    fake.install(monkeypatch)
    settled(ctx)
    assert fake.writes(StatefulSet) == []


@pytest.mark.parametrize(
    ("option", "value", "reason"),
    [
        ("kubeflow-dashboard-cpu-limit", "two", "not a Kubernetes quantity"),
        ("kubeflow-dashboard-memory-request", "4Gi", "above kubeflow-dashboard-memory-limit=1Gi"),
    ],
)
def test_bad_resource_option_blocks_naming_it_and_writes_nothing(
    ctx, fake_k8s, option, value, reason
):
    state = settled(ctx)
    fake_k8s.reset_log()
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(state, config={option: value}))
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert f"'{option}'" in out.unit_status.message
    assert reason in out.unit_status.message
    assert f"juju config {APP} {option}=" in out.unit_status.message
    assert out.app_status == out.unit_status
    assert fake_k8s.writes() == []


def test_missing_statefulset_still_settles(ctx, monkeypatch):
    FakeKubernetes(namespace=MODEL).install(monkeypatch)
    assert settled(ctx).unit_status == testing.ActiveStatus()


# -- Kubernetes errors ----------------------------------------------------------------------------


def test_forbidden_blocks_with_juju_trust(ctx, fake_k8s):
    fake_k8s.inject_fault("apply", status=403, times=None)
    out = settled(ctx)
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert f"juju trust {APP} --scope=cluster" in out.unit_status.message


@pytest.mark.parametrize("fault", [500, "connection"])
def test_transient_errors_wait_then_recover(ctx, fake_k8s, fault):
    fake_k8s.inject_fault("list", status=fault, times=1)
    out = ctx.run(ctx.on.install(), base_state())
    assert isinstance(out.unit_status, testing.WaitingStatus)
    out = ctx.run(ctx.on.update_status(), out)
    assert fake_k8s.find(ConfigMap, CONFIGMAP, MODEL) is not None
    assert out.unit_status == testing.ActiveStatus()


# -- COS ------------------------------------------------------------------------------------------


def test_logging_relation_adds_and_disables_loki_target(ctx, fake_k8s):
    relation = testing.Relation(
        "logging", remote_units_data={0: {"endpoint": json.dumps({"url": LOKI_URL})}}
    )
    state = settled(ctx, profiles_relation(), ingress_relation(), relation)
    out = ctx.run(ctx.on.relation_changed(relation, remote_unit=0), state)
    targets = out.get_container("kubeflow-dashboard").plan.log_targets
    assert [t.location for t in targets.values()] == [LOKI_URL]
    out = ctx.run(ctx.on.relation_broken(out.get_relation(relation.id)), out)
    targets = out.get_container("kubeflow-dashboard").plan.log_targets
    assert [t.services for t in targets.values()] == [["-all"]]


def test_metrics_endpoint_scrapes_the_prometheus_path(ctx, fake_k8s):
    relation = testing.Relation("metrics-endpoint", remote_app_name="prometheus")
    out = ctx.run(
        ctx.on.relation_joined(relation, remote_unit=0),
        base_state(profiles_relation(), ingress_relation(), relation),
    )
    data = out.get_relation(relation.id).local_app_data
    (job,) = json.loads(data["scrape_jobs"])
    assert job["metrics_path"] == "/prometheus/metrics"
    assert job["static_configs"][0]["targets"] == ["*:8082"]
    alerts = {r["alert"] for g in json.loads(data["alert_rules"])["groups"] for r in g["rules"]}
    assert "KubeflowDashboardHighErrorRate" in alerts


def test_grafana_dashboard_is_published(ctx, fake_k8s):
    relation = testing.Relation("grafana-dashboard", remote_app_name="grafana")
    out = ctx.run(
        ctx.on.relation_created(relation),
        base_state(profiles_relation(), ingress_relation(), relation),
    )
    templates = json.loads(out.get_relation(relation.id).local_app_data["dashboards"])["templates"]
    assert list(templates) == ["file:kubeflow-dashboard"]


# -- removal --------------------------------------------------------------------------------------


def test_application_removal_cleans_up_its_objects(ctx, fake_k8s):
    state = settled(ctx)
    ctx.run(ctx.on.remove(), dataclasses.replace(state, planned_units=0))
    assert fake_k8s.find(ConfigMap, CONFIGMAP, MODEL) is None
    assert fake_k8s.find("ClusterRole", f"{MODEL}-{APP}") is None


def test_scale_down_removal_deletes_nothing(ctx, fake_k8s):
    state = settled(ctx)
    fake_k8s.reset_log()
    ctx.run(ctx.on.remove(), dataclasses.replace(state, planned_units=1))
    assert fake_k8s.writes() == []
