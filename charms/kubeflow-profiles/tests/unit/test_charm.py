"""State-transition tests of the kubeflow-profiles charm (ops.testing + FakeKubernetes)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import yaml
from charm import Profile
from conftest import APP, MODEL, base_state, containers
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.core_v1 import Namespace
from ops import pebble, testing

PSS = "pod-security.kubernetes.io/enforce"
LOKI_URL = "http://loki-0.loki-endpoints.cos.svc.cluster.local:3100/loki/api/v1/push"


def profile_namespace(name: str, level: str | None, *, owned: bool = True) -> Namespace:
    """A namespace as the profile controller creates it (owner reference to its Profile)."""
    labels = {"app.kubernetes.io/part-of": "kubeflow-profile", "istio-injection": "enabled"}
    if level is not None:
        labels[PSS] = level
    metadata: dict = {"name": name, "labels": labels, "annotations": {"owner": f"{name}@x"}}
    if owned:
        metadata["ownerReferences"] = [
            {
                "apiVersion": "kubeflow.org/v1",
                "kind": "Profile",
                "name": name,
                "uid": f"uid-{name}",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return Namespace.from_dict({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata})


def labels_of(fake, name: str) -> dict:
    return dict(fake.find(Namespace, name).metadata.labels or {})


def installed(ctx, fake_k8s, labels_dir, **kwargs) -> testing.State:
    """Run install then both pebble-ready events: the deployed, settled state."""
    state = base_state(labels_dir, **kwargs)
    state = ctx.run(ctx.on.install(), state)
    for name in ("profile-controller", "kfam"):
        state = ctx.run(ctx.on.pebble_ready(state.get_container(name)), state)
    return state


# -- install and workloads ------------------------------------------------------------------------


def test_install_applies_profile_crd_and_least_privilege_rbac(ctx, fake_k8s, labels_dir):
    out = ctx.run(ctx.on.install(), base_state(labels_dir))

    crd = fake_k8s.find("CustomResourceDefinition", "profiles.kubeflow.org")
    versions = {v.name: (v.served, v.storage) for v in crd.spec.versions}
    assert versions == {"v1": (True, True), "v1beta1": (True, False)}
    assert crd.spec.scope == "Cluster"
    role = fake_k8s.find("ClusterRole", f"{MODEL}-{APP}")
    assert not any("*" in (rule.verbs or []) for rule in role.rules)
    binding = fake_k8s.find("ClusterRoleBinding", f"{MODEL}-{APP}")
    assert binding.subjects[0].name == APP
    assert binding.subjects[0].namespace == MODEL
    assert fake_k8s.find("RoleBinding", f"{APP}-leader-election", MODEL) is not None
    assert out.opened_ports == {testing.TCPPort(8081)}  # KFAM on the app's Service
    assert out.unit_status == testing.ActiveStatus()
    assert out.app_status == testing.ActiveStatus()


def test_profile_crd_schema_validates_profiles(ctx, fake_k8s, labels_dir):
    ctx.run(ctx.on.install(), base_state(labels_dir))
    client = fake_k8s.with_field_manager("test")
    good = Profile.from_dict(
        {
            "apiVersion": "kubeflow.org/v1",
            "kind": "Profile",
            "metadata": {"name": "alice"},
            "spec": {
                "owner": {"kind": "User", "name": "alice@example.com"},
                "resourceQuotaSpec": {"hard": {"cpu": "2", "memory": "4Gi"}},
            },
        }
    )
    client.create(good)
    bad = Profile.from_dict(
        {
            "apiVersion": "kubeflow.org/v1",
            "kind": "Profile",
            "metadata": {"name": "bob"},
            "spec": {"owner": {"kind": "User"}},  # name is required
        }
    )
    with pytest.raises(Exception, match="name"):
        client.create(bad)


@pytest.mark.parametrize("first", ["profile-controller", "kfam"])
def test_pebble_ready_in_any_order_sets_up_each_workload(ctx, fake_k8s, labels_dir, first):
    state = base_state(labels_dir, containers=containers(labels_dir))
    out = ctx.run(ctx.on.pebble_ready(state.get_container(first)), state)
    plan = out.get_container(first).plan
    assert first in plan.services
    assert {c.level for c in plan.checks.values()} == {
        pebble.CheckLevel.READY,
        pebble.CheckLevel.ALIVE,
    }
    second = "kfam" if first == "profile-controller" else "profile-controller"
    out = ctx.run(ctx.on.pebble_ready(out.get_container(second)), out)
    assert second in out.get_container(second).plan.services
    assert out.unit_status == testing.ActiveStatus()


def test_labels_file_is_pushed_before_the_controller_starts(ctx, fake_k8s, labels_dir):
    installed(ctx, fake_k8s, labels_dir, config={"namespace-labels": "example.com/team: ml"})
    labels = yaml.safe_load((labels_dir / "namespace-labels.yaml").read_text())
    assert labels["example.com/team"] == "ml"
    assert labels[PSS] == "baseline"
    assert labels["user.kubeflow.org/enabled"] == "true"


def test_containers_not_ready_give_waiting(ctx, fake_k8s):
    state = base_state(containers=containers(can_connect=False))
    out = ctx.run(ctx.on.config_changed(), state)
    assert isinstance(out.unit_status, testing.WaitingStatus)
    assert "Pebble" in out.unit_status.message
    # Cluster objects are still applied by the leader.
    assert fake_k8s.find("CustomResourceDefinition", "profiles.kubeflow.org") is not None


def test_failing_ready_check_gives_waiting_with_where_to_look(ctx, fake_k8s, labels_dir):
    state = installed(ctx, fake_k8s, labels_dir)
    controller = state.get_container("profile-controller")
    down = testing.CheckInfo(
        "profile-controller-ready", level=pebble.CheckLevel.READY, status=pebble.CheckStatus.DOWN
    )
    state = dataclasses.replace(
        state,
        containers={
            dataclasses.replace(controller, check_infos={down}),
            state.get_container("kfam"),
        },
    )
    out = ctx.run(ctx.on.update_status(), state)
    assert isinstance(out.unit_status, testing.WaitingStatus)
    assert "profile-controller-ready" in out.unit_status.message
    assert "pebble logs" in out.unit_status.message


# -- config ---------------------------------------------------------------------------------------


def test_security_policy_change_updates_existing_profile_namespaces(ctx, fake_k8s, labels_dir):
    state = installed(ctx, fake_k8s, labels_dir)
    fake_k8s.add(
        profile_namespace("alice", "baseline"),
        profile_namespace("bob", None),
        profile_namespace("carol", "restricted"),
        profile_namespace("not-a-profile", "baseline", owned=False),
    )
    fake_k8s.reset_log()
    out = ctx.run(
        ctx.on.config_changed(),
        dataclasses.replace(state, config={"security-policy": "restricted"}),
    )
    assert labels_of(fake_k8s, "alice")[PSS] == "restricted"
    assert labels_of(fake_k8s, "bob")[PSS] == "restricted"
    assert labels_of(fake_k8s, "not-a-profile")[PSS] == "baseline"
    assert labels_of(fake_k8s, "alice")["istio-injection"] == "enabled"  # other labels kept
    patched = sorted(r.name for r in fake_k8s.writes("Namespace"))
    assert patched == ["alice", "bob"]  # carol already had the level
    assert yaml.safe_load((labels_dir / "namespace-labels.yaml").read_text())[PSS] == "restricted"
    assert out.unit_status == testing.ActiveStatus()


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("security-policy", "everything"),
        ("namespace-labels", "{broken"),
        ("namespace-labels", '{"pod-security.kubernetes.io/enforce": "privileged"}'),
        ("istio-ingress-gateway-principal", "not a principal"),
        ("profile-controller-memory-limit", "a lot"),
        ("kfam-cpu-request", "-1"),
        ("kfam-memory-request", "1Gi"),  # above the default kfam-memory-limit (512Mi)
        ("userid-header", "two words"),
    ],
)
def test_invalid_config_blocks_naming_the_option_and_changes_nothing(
    ctx, fake_k8s, labels_dir, option, value
):
    state = installed(ctx, fake_k8s, labels_dir)
    before = state.get_container("profile-controller").plan.to_dict()
    fake_k8s.reset_log()
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(state, config={option: value}))
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert f"'{option}'" in out.unit_status.message
    assert f"juju config {APP} {option}=" in out.unit_status.message
    assert out.app_status == out.unit_status
    assert fake_k8s.requests == []
    assert out.get_container("profile-controller").plan.to_dict() == before


def test_principals_and_user_header_reach_both_workloads(ctx, fake_k8s, labels_dir):
    config = {
        "istio-ingress-gateway-principal": "cluster.local/ns/istio-system/sa/gw",
        "notebook-controller-principal": "cluster.local/ns/kf/sa/nb",
        "userid-header": "x-user",
        "cluster-admin": "admin@example.com",
    }
    out = installed(ctx, fake_k8s, labels_dir, config=config)
    controller = out.get_container("profile-controller").plan.services["profile-controller"]
    kfam = out.get_container("kfam").plan.services["kfam"]
    for service in (controller, kfam):
        assert (
            service.environment["ISTIO_INGRESS_GATEWAY_PRINCIPAL"]
            == "cluster.local/ns/istio-system/sa/gw"
        )
        assert service.environment["NOTEBOOK_CONTROLLER_PRINCIPAL"] == "cluster.local/ns/kf/sa/nb"
        assert "-userid-header x-user" in service.command
    assert "-cluster-admin admin@example.com" in kfam.command


def test_resource_options_patch_the_statefulset_once(ctx, fake_k8s, labels_dir):
    state = installed(ctx, fake_k8s, labels_dir, config={"kfam-cpu-limit": "500m"})
    sts = fake_k8s.find(StatefulSet, APP, MODEL)
    by_name = {c.name: c for c in sts.spec.template.spec.containers}
    assert by_name["kfam"].resources.limits == {"cpu": "500m", "memory": "512Mi"}
    assert by_name["kfam"].resources.requests == {"cpu": "50m", "memory": "64Mi"}
    assert by_name["profile-controller"].resources.requests == {"cpu": "100m", "memory": "128Mi"}
    assert by_name["profile-controller"].resources.limits == {"memory": "512Mi"}
    assert by_name["charm"].resources is None  # Juju's container is left alone
    assert by_name["kfam"].image == "ghcr.io/kubeflow/kubeflow/kfam:v1.10.0"
    fake_k8s.reset_log()
    ctx.run(ctx.on.config_changed(), state)
    assert fake_k8s.writes(StatefulSet) == []


def test_unset_resource_option_removes_it_from_the_container(ctx, fake_k8s, labels_dir):
    state = installed(ctx, fake_k8s, labels_dir)
    fake_k8s.reset_log()
    config = {"kfam-memory-limit": "", "profile-controller-cpu-limit": "1"}
    ctx.run(ctx.on.config_changed(), dataclasses.replace(state, config=config))
    assert len(fake_k8s.writes(StatefulSet)) == 1
    sts = fake_k8s.find(StatefulSet, APP, MODEL)
    by_name = {c.name: c.resources for c in sts.spec.template.spec.containers}
    assert by_name["kfam"].limits is None or "memory" not in by_name["kfam"].limits
    assert by_name["profile-controller"].limits == {"cpu": "1", "memory": "512Mi"}


def test_resources_in_another_notation_are_not_rewritten(ctx, fake_k8s, labels_dir):
    """The API server turns "0.1" into "100m": equal quantities mean no patch (no restart)."""
    state = installed(ctx, fake_k8s, labels_dir)
    config = {"kfam-cpu-request": "0.05", "kfam-memory-limit": "0.5Gi"}
    fake_k8s.reset_log()
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(state, config=config))
    assert fake_k8s.writes(StatefulSet) == []
    assert out.unit_status == testing.ActiveStatus()


# -- leadership, upgrade, steady state ------------------------------------------------------------


def test_non_leader_manages_its_workloads_but_no_cluster_objects(ctx, fake_k8s, labels_dir):
    out = installed(ctx, fake_k8s, labels_dir, leader=False)
    assert fake_k8s.requests == []
    assert "kfam" in out.get_container("kfam").plan.services
    assert out.unit_status == testing.ActiveStatus()


def test_leader_elected_applies_cluster_objects(ctx, fake_k8s, labels_dir):
    state = installed(ctx, fake_k8s, labels_dir, leader=False)
    out = ctx.run(ctx.on.leader_elected(), dataclasses.replace(state, leader=True))
    assert fake_k8s.find("CustomResourceDefinition", "profiles.kubeflow.org") is not None
    assert out.app_status == testing.ActiveStatus()


def test_upgrade_charm_reapplies_only_what_changed(ctx, fake_k8s, labels_dir):
    state = installed(ctx, fake_k8s, labels_dir)
    fake_k8s.reset_log()
    out = ctx.run(ctx.on.upgrade_charm(), state)
    assert fake_k8s.writes() == []
    assert out.unit_status == testing.ActiveStatus()


def test_steady_state_update_status_makes_no_kubernetes_writes(ctx, fake_k8s, labels_dir):
    state = installed(ctx, fake_k8s, labels_dir)
    fake_k8s.add(profile_namespace("alice", "baseline"))
    fake_k8s.reset_log()
    out = ctx.run(ctx.on.update_status(), state)
    assert fake_k8s.writes() == []
    assert (
        out.get_container("profile-controller").plan
        == state.get_container("profile-controller").plan
    )
    assert out.unit_status == testing.ActiveStatus()


def test_measure_requests_for_install_and_steady_state(ctx, fake_k8s, labels_dir):
    """Prints the request counts and bytes (run with -s); bounds keep them honest."""
    state = ctx.run(ctx.on.install(), base_state(labels_dir))
    install = (len(fake_k8s.requests), fake_k8s.bytes(), len(fake_k8s.writes()))
    fake_k8s.reset_log()
    ctx.run(ctx.on.update_status(), state)
    steady = (len(fake_k8s.requests), fake_k8s.bytes(), len(fake_k8s.writes()))
    for label, (count, size, writes) in (("install", install), ("update-status", steady)):
        print(f"\nkubeflow-profiles {label}: {count} requests ({writes} writes), {size} bytes")
    assert steady[2] == 0
    assert steady[0] <= 8
    assert install[2] >= 5  # CRD, ClusterRole(Binding), Role(Binding)


# -- Kubernetes errors ----------------------------------------------------------------------------


def test_forbidden_blocks_with_juju_trust(ctx, fake_k8s, labels_dir):
    fake_k8s.inject_fault("apply", status=403, times=None)
    out = ctx.run(ctx.on.install(), base_state(labels_dir))
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert f"juju trust {APP} --scope=cluster" in out.unit_status.message
    # Workloads are still set up (they need no cluster writes from the charm).
    assert "kfam" in out.get_container("kfam").plan.services


@pytest.mark.parametrize("fault", [500, 429, "timeout"])
def test_transient_errors_wait_and_the_next_event_retries(ctx, fake_k8s, labels_dir, fault):
    fake_k8s.inject_fault("apply", status=fault, times=1)
    out = ctx.run(ctx.on.install(), base_state(labels_dir))
    assert isinstance(out.unit_status, testing.WaitingStatus)
    out = ctx.run(ctx.on.update_status(), out)
    assert fake_k8s.find("CustomResourceDefinition", "profiles.kubeflow.org") is not None
    assert out.unit_status == testing.ActiveStatus()


def test_missing_istio_blocks_with_the_command_to_fix(ctx, fake_k8s, labels_dir):
    fake_k8s.with_field_manager("istio").delete(
        CustomResourceDefinition, "authorizationpolicies.security.istio.io"
    )
    out = ctx.run(ctx.on.install(), base_state(labels_dir))
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert "juju deploy istio-pilot" in out.unit_status.message


# -- relations ------------------------------------------------------------------------------------


@pytest.mark.parametrize("event", ["created", "joined", "changed"])
def test_kfam_service_is_published_over_kubeflow_profiles(ctx, fake_k8s, labels_dir, event):
    relation = testing.Relation(
        "kubeflow-profiles",
        remote_app_name="kubeflow-dashboard",
        remote_app_data={"_supported_versions": "- v1\n"},
    )
    state = base_state(labels_dir, relations={relation})
    out = ctx.run(getattr(ctx.on, f"relation_{event}")(relation), state)
    data = out.get_relation(relation.id).local_app_data
    assert yaml.safe_load(data["_supported_versions"]) == ["v1"]
    assert yaml.safe_load(data["data"]) == {"service-name": APP, "service-port": "8081"}


def test_kfam_service_not_published_by_non_leader(ctx, fake_k8s, labels_dir):
    relation = testing.Relation(
        "kubeflow-profiles", remote_app_data={"_supported_versions": "- v1\n"}
    )
    out = ctx.run(
        ctx.on.relation_changed(relation),
        base_state(labels_dir, leader=False, relations={relation}),
    )
    assert dict(out.get_relation(relation.id).local_app_data) == {}


def test_kubeflow_profiles_relation_broken_is_harmless(ctx, fake_k8s, labels_dir):
    relation = testing.Relation(
        "kubeflow-profiles", remote_app_data={"_supported_versions": "- v1\n"}
    )
    state = installed(ctx, fake_k8s, labels_dir, relations={relation})
    fake_k8s.reset_log()
    out = ctx.run(ctx.on.relation_broken(state.get_relation(relation.id)), state)
    assert out.unit_status == state.unit_status
    assert fake_k8s.writes() == []


def test_logging_relation_adds_and_disables_loki_targets(ctx, fake_k8s, labels_dir):
    relation = testing.Relation(
        "logging", remote_units_data={0: {"endpoint": json.dumps({"url": LOKI_URL})}}
    )
    state = installed(ctx, fake_k8s, labels_dir, relations={relation})
    out = ctx.run(ctx.on.relation_changed(relation, remote_unit=0), state)
    for name in ("profile-controller", "kfam"):
        targets = out.get_container(name).plan.log_targets
        assert [t.location for t in targets.values()] == [LOKI_URL]
        assert next(iter(targets.values())).services == ["all"]
    out = ctx.run(ctx.on.relation_broken(out.get_relation(relation.id)), out)
    for name in ("profile-controller", "kfam"):
        targets = out.get_container(name).plan.log_targets
        assert [t.services for t in targets.values()] == [["-all"]]


def test_metrics_endpoint_publishes_both_jobs_and_alert_rules(ctx, fake_k8s, labels_dir):
    relation = testing.Relation("metrics-endpoint", remote_app_name="prometheus")
    out = ctx.run(
        ctx.on.relation_joined(relation, remote_unit=0),
        base_state(labels_dir, relations={relation}),
    )
    data = out.get_relation(relation.id).local_app_data
    jobs = json.loads(data["scrape_jobs"])
    assert sorted(t for job in jobs for c in job["static_configs"] for t in c["targets"]) == [
        "*:8080",
        "*:8081",
    ]
    groups = json.loads(data["alert_rules"])["groups"]
    alerts = {rule["alert"] for group in groups for rule in group["rules"]}
    assert "KubeflowProfileControllerReconcileErrors" in alerts


def test_grafana_dashboard_is_published(ctx, fake_k8s, labels_dir):
    relation = testing.Relation("grafana-dashboard", remote_app_name="grafana")
    out = ctx.run(
        ctx.on.relation_joined(relation, remote_unit=0),
        base_state(labels_dir, relations={relation}),
    )
    templates = json.loads(out.get_relation(relation.id).local_app_data["dashboards"])["templates"]
    assert list(templates) == ["file:kubeflow-profiles"]


# -- removal --------------------------------------------------------------------------------------


def test_application_removal_keeps_crd_profiles_and_namespaces(ctx, fake_k8s, labels_dir):
    state = installed(ctx, fake_k8s, labels_dir)
    ctx.run(ctx.on.action("create-profile", params={"name": "alice", "owner": "alice@x"}), state)
    fake_k8s.add(profile_namespace("alice", "baseline"))
    ctx.run(ctx.on.remove(), dataclasses.replace(state, planned_units=0))
    assert fake_k8s.find("CustomResourceDefinition", "profiles.kubeflow.org") is not None
    assert fake_k8s.find(Profile, "alice") is not None
    assert fake_k8s.find(Namespace, "alice") is not None
    assert fake_k8s.find("ClusterRoleBinding", f"{MODEL}-{APP}") is None
    assert fake_k8s.writes("CustomResourceDefinition")[-1:] == [] or all(
        r.verb != "delete" for r in fake_k8s.writes("CustomResourceDefinition")
    )


def test_unit_removal_on_scale_down_deletes_nothing(ctx, fake_k8s, labels_dir):
    state = installed(ctx, fake_k8s, labels_dir)
    fake_k8s.reset_log()
    ctx.run(ctx.on.remove(), dataclasses.replace(state, planned_units=2))
    assert fake_k8s.writes() == []


# -- actions --------------------------------------------------------------------------------------


def test_create_profile_creates_a_valid_profile(ctx, fake_k8s, labels_dir):
    state = installed(ctx, fake_k8s, labels_dir)
    params = {"name": "alice", "owner": "alice@example.com", "resource-quota": '{"cpu": "4"}'}
    ctx.run(ctx.on.action("create-profile", params=params), state)
    assert ctx.action_results["name"] == "alice"
    profile = fake_k8s.find(Profile, "alice")
    assert profile["spec"]["owner"]["name"] == "alice@example.com"
    assert profile["spec"]["resourceQuotaSpec"]["hard"] == {"cpu": "4"}
    assert "kfcharm.io/owner" not in (profile.metadata.labels or {})  # a user's object


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"name": "Not_A_Name", "owner": "a"}, "invalid parameter 'name'"),
        ({"name": MODEL, "owner": "a"}, "reserved"),
        ({"name": "x", "owner": "a", "resource-quota": "cpu: [1]"}, "resource-quota"),
    ],
)
def test_create_profile_rejects_bad_parameters(ctx, fake_k8s, labels_dir, params, message):
    state = installed(ctx, fake_k8s, labels_dir)
    with pytest.raises(testing.ActionFailed) as err:
        ctx.run(ctx.on.action("create-profile", params=params), state)
    assert message in err.value.message


def test_create_profile_twice_says_it_exists(ctx, fake_k8s, labels_dir):
    state = installed(ctx, fake_k8s, labels_dir)
    action = ctx.on.action("create-profile", params={"name": "alice", "owner": "a@x"})
    ctx.run(action, state)
    with pytest.raises(testing.ActionFailed, match="already exists"):
        ctx.run(action, state)


def test_create_profile_forbidden_says_juju_trust(ctx, fake_k8s, labels_dir):
    state = installed(ctx, fake_k8s, labels_dir)
    fake_k8s.inject_fault("create", "Profile", status=403)
    with pytest.raises(testing.ActionFailed, match="juju trust"):
        ctx.run(ctx.on.action("create-profile", params={"name": "alice", "owner": "a@x"}), state)


def test_list_profiles_reports_owners_and_quotas(ctx, fake_k8s, labels_dir):
    state = installed(ctx, fake_k8s, labels_dir)
    for name, quota in (("bob", ""), ("alice", "memory: 1Gi")):
        params = {"name": name, "owner": f"{name}@x", "resource-quota": quota}
        ctx.run(ctx.on.action("create-profile", params=params), state)
    out = ctx.run(ctx.on.action("list-profiles"), state)
    results = ctx.action_results
    assert results["count"] == 2
    listed = json.loads(results["profiles"])
    assert [p["name"] for p in listed] == ["alice", "bob"]
    assert listed[0]["resource-quota"] == {"memory": "1Gi"}
    assert out.unit_status == state.unit_status  # actions leave the status alone


def test_actions_keep_the_status_and_do_not_reconcile(ctx, fake_k8s, labels_dir):
    fake_k8s.with_field_manager("istio").delete(
        CustomResourceDefinition, "authorizationpolicies.security.istio.io"
    )
    state = installed(ctx, fake_k8s, labels_dir)
    assert "juju deploy istio-pilot" in state.unit_status.message
    fake_k8s.reset_log()
    out = ctx.run(ctx.on.action("list-profiles"), state)
    assert [(r.verb, r.kind) for r in fake_k8s.requests] == [("list", "Profile")]
    assert out.unit_status == state.unit_status
    assert out.app_status == state.app_status


def test_list_profiles_before_crd_fails_clearly(ctx, fake_k8s, labels_dir):
    state = base_state(labels_dir)
    with pytest.raises(testing.ActionFailed, match="CRD is not installed"):
        ctx.run(ctx.on.action("list-profiles"), state)
