"""State-transition tests of the charm over every event path."""

from __future__ import annotations

import json

import pytest
import resource_dispatcher as rd
from dispatcher.handoff import file_hash
from lightkube.resources.apps_v1 import StatefulSet
from ops import testing

from tests.unit.cluster import (
    config_map,
    pod_default,
    role,
    role_binding,
    s3_secret,
    service_account,
)
from tests.unit.conftest import (
    APP,
    MODEL,
    container,
    dispatcher_resources,
    juju_statefulset,
    manifest_relation,
    pushed_manifests,
    secret_relation,
    state,
    write_status,
)


def ready_status(fs, manifests_text: str | None = None, **fields):
    """Pretend the controller loaded the current manifests file and is ready."""
    text = manifests_text
    if text is None:
        text = (fs["etc"] / "manifests.json").read_text()
    write_status(fs, state="ready", manifests_hash=file_hash(text), **fields)


@pytest.mark.parametrize(
    "event",
    [
        "install",
        "leader_elected",
        "config_changed",
        "upgrade_charm",
        "update_status",
        "pebble_ready",
    ],
)
def test_every_lifecycle_event_sets_up_the_controller(ctx, fs, event):
    rel = manifest_relation("secrets", [s3_secret()])
    st = state(relations=(rel,), fs=fs)
    trigger = (
        ctx.on.pebble_ready(st.get_container("dispatcher"))
        if event == "pebble_ready"
        else getattr(ctx.on, event)()
    )

    out = ctx.run(trigger, st)

    plan = out.get_container("dispatcher").plan
    assert "dispatcher" in plan.services
    assert plan.services["dispatcher"].startup == "enabled"
    assert (fs["opt"] / "FINGERPRINT").read_text().strip() == rd.CodeBundle.current().fingerprint
    assert (fs["opt"] / "app" / "dispatcher" / "reconciler.py").is_file()
    assert [m["manifest"]["metadata"]["name"] for m in pushed_manifests(ctx, out)] == [
        "mlpipeline-minio-artifact"
    ]
    assert (fs["etc"] / "manifests.json").stat().st_mode & 0o777 == 0o600
    assert out.unit_status == testing.WaitingStatus("controller starting")


def test_active_with_counts_once_the_controller_reports_ready(ctx, fs):
    rel = manifest_relation("secrets", [s3_secret()])
    ctx.run(ctx.on.install(), state(relations=(rel,), fs=fs))
    ready_status(fs, namespaces=12, manifests=1)

    out = ctx.run(ctx.on.update_status(), state(relations=(rel,), fs=fs))

    assert out.unit_status == testing.ActiveStatus("dispatching 1 manifests to 12 namespaces")


def test_maintenance_while_the_controller_has_not_loaded_new_manifests(ctx, fs):
    rel = manifest_relation("secrets", [s3_secret()])
    write_status(fs, state="ready", manifests_hash="old")

    out = ctx.run(ctx.on.config_changed(), state(relations=(rel,), fs=fs))

    assert out.unit_status == testing.MaintenanceStatus("controller is loading the new manifests")


def test_both_wire_forms_from_all_endpoints_reach_the_controller(ctx, fs):
    old = manifest_relation("pod-defaults", [pod_default()], app="mlflow-server")
    new, secret = secret_relation("secrets", [s3_secret("kserve-s3")], app="kserve")
    sa = manifest_relation("service-accounts", [service_account()], app="kserve")
    cms = manifest_relation("config-maps", [config_map()], app="other")
    roles = manifest_relation("roles", [role()], app="other")
    bindings = manifest_relation("role-bindings", [role_binding()], app="other")

    out = ctx.run(
        ctx.on.relation_changed(new),
        state(relations=(old, new, sa, cms, roles, bindings), secrets=(secret,), fs=fs),
    )

    pushed = {(m["manifest"]["kind"], m["source"]) for m in pushed_manifests(ctx, out)}
    assert pushed == {
        ("PodDefault", "mlflow-server"),
        ("Secret", "kserve"),
        ("ServiceAccount", "kserve"),
        ("ConfigMap", "other"),
        ("Role", "other"),
        ("RoleBinding", "other"),
    }


def test_secret_changed_hands_over_the_new_content(ctx, fs):
    rel, secret = secret_relation("secrets", [s3_secret("kserve-s3")])
    ctx.run(ctx.on.install(), state(relations=(rel,), secrets=(secret,), fs=fs))
    rotated = testing.Secret(
        id=secret.id,
        tracked_content=secret.tracked_content,
        latest_content={"manifests": json.dumps([s3_secret("kserve-s3"), s3_secret("extra")])},
    )

    out = ctx.run(
        ctx.on.secret_changed(rotated), state(relations=(rel,), secrets=(rotated,), fs=fs)
    )

    assert {m["manifest"]["metadata"]["name"] for m in pushed_manifests(ctx, out)} == {
        "kserve-s3",
        "extra",
    }


def test_relation_broken_withdraws_its_manifests(ctx, fs):
    keep = manifest_relation("pod-defaults", [pod_default()])
    gone = manifest_relation("secrets", [s3_secret()])
    ctx.run(ctx.on.install(), state(relations=(keep, gone), fs=fs))

    out = ctx.run(ctx.on.relation_broken(gone), state(relations=(keep, gone), fs=fs))

    assert [m["manifest"]["kind"] for m in pushed_manifests(ctx, out)] == ["PodDefault"]


@pytest.mark.parametrize("hook", ["relation_created", "relation_joined", "relation_departed"])
def test_other_relation_events_are_harmless(ctx, fs, hook):
    rel = manifest_relation("secrets", [s3_secret()])
    out = ctx.run(getattr(ctx.on, hook)(rel), state(relations=(rel,), fs=fs))
    assert out.unit_status.name != "error"


def test_conflict_across_apps_is_blocked_naming_both(ctx, fs):
    first = manifest_relation("secrets", [s3_secret("creds")], app="mlflow-server", id=3)
    second = manifest_relation("secrets", [s3_secret("creds")], app="kserve", id=9)

    out = ctx.run(ctx.on.relation_changed(second), state(relations=(first, second), fs=fs))

    assert out.unit_status.name == "blocked"
    assert "mlflow-server" in out.unit_status.message
    assert "kserve" in out.unit_status.message
    assert out.app_status.name == "blocked"
    assert [m["source"] for m in pushed_manifests(ctx, out)] == ["mlflow-server"]


def test_conflict_across_endpoints_is_blocked_naming_both(ctx, fs):
    a = manifest_relation("secrets", [s3_secret("creds")], app="mlflow-server", id=1)
    b, secret = secret_relation("secrets", [s3_secret("creds")], app="kserve", id=2)
    out = ctx.run(ctx.on.relation_changed(b), state(relations=(a, b), secrets=(secret,), fs=fs))
    assert out.unit_status.name == "blocked"
    assert "mlflow-server" in out.unit_status.message
    assert "kserve" in out.unit_status.message


def test_wrong_kind_is_blocked_but_the_rest_is_dispatched(ctx, fs):
    rel = manifest_relation("secrets", [config_map("cm"), s3_secret("ok")], app="weird")

    out = ctx.run(ctx.on.relation_changed(rel), state(relations=(rel,), fs=fs))

    assert out.unit_status.name == "blocked"
    assert "ConfigMap is not a Secret" in out.unit_status.message
    assert [m["manifest"]["metadata"]["name"] for m in pushed_manifests(ctx, out)] == ["ok"]


def test_malformed_data_is_blocked_and_keeps_what_was_dispatched(ctx, fs):
    good = manifest_relation("secrets", [s3_secret("creds")], app="mlflow-server")
    ctx.run(ctx.on.install(), state(relations=(good,), fs=fs))
    broken = manifest_relation("secrets", None, app="mlflow-server", id=good.id, raw="{not json")

    out = ctx.run(ctx.on.relation_changed(broken), state(relations=(broken,), fs=fs))

    assert out.unit_status.name == "blocked"
    assert "not valid JSON" in out.unit_status.message
    assert (
        "juju remove-relation resource-dispatcher:secrets mlflow-server" in out.unit_status.message
    )
    assert [m["manifest"]["metadata"]["name"] for m in pushed_manifests(ctx, out)] == ["creds"]


def test_secret_not_granted_yet_is_waiting(ctx, fs):
    rel = testing.Relation(
        "secrets",
        remote_app_name="kserve",
        remote_app_data={
            "kubernetes_manifests": "secret:abcdefghij0123456789",
            "is_secret": "true",
        },
    )
    out = ctx.run(ctx.on.relation_changed(rel), state(relations=(rel,), fs=fs))
    assert out.unit_status.name == "waiting"
    assert "not accessible" in out.unit_status.message


def test_invalid_config_is_blocked_naming_the_option(ctx, fs):
    out = ctx.run(
        ctx.on.config_changed(), state(config={"target-namespace-label": "bad key"}, fs=fs)
    )
    assert out.unit_status.name == "blocked"
    assert "target-namespace-label" in out.unit_status.message
    assert "juju config resource-dispatcher target-namespace-label=" in out.unit_status.message


def test_label_change_reaches_the_controller_command(ctx, fs):
    out = ctx.run(
        ctx.on.config_changed(), state(config={"target-namespace-label": "team=ml"}, fs=fs)
    )
    command = out.get_container("dispatcher").plan.services["dispatcher"].command
    assert "--label team=ml" in command


def test_non_leader_runs_the_controller_in_standby(ctx, fs):
    out = ctx.run(ctx.on.install(), state(leader=False, fs=fs))
    command = out.get_container("dispatcher").plan.services["dispatcher"].command
    assert command.endswith("--standby")
    assert out.unit_status == testing.ActiveStatus("standby; the leader unit dispatches")


def test_leader_elected_switches_standby_to_active(ctx, fs):
    ctx.run(ctx.on.install(), state(leader=False, fs=fs))
    out = ctx.run(ctx.on.leader_elected(), state(leader=True, fs=fs))
    command = out.get_container("dispatcher").plan.services["dispatcher"].command
    assert "--standby" not in command


def test_pebble_not_reachable_is_waiting(ctx):
    out = ctx.run(ctx.on.install(), state(containers=(container(can_connect=False),)))
    assert out.unit_status == testing.WaitingStatus(
        "waiting for Pebble in the dispatcher container"
    )


def test_forbidden_controller_is_blocked_with_juju_trust(ctx, fs):
    write_status(fs, state="forbidden", message="Kubernetes denied access (Secret in namespace a)")
    out = ctx.run(ctx.on.update_status(), state(fs=fs))
    assert out.unit_status.name == "blocked"
    assert out.unit_status.message.endswith("juju trust resource-dispatcher --scope=cluster")


def test_failed_controller_is_blocked_with_its_reason(ctx, fs):
    write_status(fs, state="failed", message="dependency bundle was built for Python 3.12 ...")
    out = ctx.run(ctx.on.update_status(), state(fs=fs))
    assert out.unit_status == testing.BlockedStatus(
        "controller failed: dependency bundle was built for Python 3.12 ..."
    )


def test_degraded_controller_is_waiting(ctx, fs):
    ctx.run(ctx.on.install(), state(fs=fs))
    ready_status(fs)
    status = json.loads((fs["var"] / "status.json").read_text())
    status.update(state="degraded", message="3 writes waiting for a retry (server)")
    (fs["var"] / "status.json").write_text(json.dumps(status))
    out = ctx.run(ctx.on.update_status(), state(fs=fs))
    assert out.unit_status == testing.WaitingStatus(
        "controller: 3 writes waiting for a retry (server); retrying"
    )


def test_garbage_status_file_does_not_crash(ctx, fs):
    (fs["var"] / "status.json").write_text("\x00garbage")
    out = ctx.run(ctx.on.update_status(), state(fs=fs))
    assert out.unit_status.name == "blocked"
    assert "not JSON" in out.unit_status.message


def test_code_is_pushed_once_and_the_service_restarted_when_it_changes(ctx, fs):
    ctx.run(ctx.on.install(), state(fs=fs))
    (fs["opt"] / "FINGERPRINT").write_text("stale\n")
    (fs["opt"] / "app" / "dispatcher" / "runner.py").write_text("# old\n")

    ctx.run(ctx.on.upgrade_charm(), state(fs=fs))

    assert (fs["opt"] / "app" / "dispatcher" / "runner.py").read_text() != "# old\n"
    assert (fs["opt"] / "FINGERPRINT").read_text().strip() == rd.CodeBundle.current().fingerprint


def test_logging_relation_adds_a_loki_target(ctx, fs):
    loki = testing.Relation(
        "logging",
        remote_units_data={
            0: {"endpoint": json.dumps({"url": "http://loki-0:3100/loki/api/v1/push"})}
        },
    )
    out = ctx.run(ctx.on.relation_changed(loki), state(relations=(loki,), fs=fs))
    targets = out.get_container("dispatcher").plan.log_targets
    assert [t.location for t in targets.values()] == ["http://loki-0:3100/loki/api/v1/push"]


def test_metrics_endpoint_publishes_the_scrape_job_and_rules(ctx, fs):
    prom = testing.Relation("metrics-endpoint")
    out = ctx.run(
        ctx.on.relation_joined(prom),
        state(relations=(prom,), config={"metrics-port": 9191}, fs=fs),
    )
    data = out.get_relation(prom.id).local_app_data
    jobs = json.loads(data["scrape_jobs"])
    assert jobs[0]["static_configs"][0]["targets"] == ["*:9191"]
    alerts = {r["alert"] for g in json.loads(data["alert_rules"])["groups"] for r in g["rules"]}
    assert "ResourceDispatcherForbidden" in alerts


def test_grafana_dashboard_is_published(ctx, fs):
    grafana = testing.Relation("grafana-dashboard")
    out = ctx.run(ctx.on.relation_created(grafana), state(relations=(grafana,), fs=fs))
    templates = json.loads(out.get_relation(grafana.id).local_app_data["dashboards"])["templates"]
    assert list(templates) == ["file:resource-dispatcher"]


@pytest.mark.parametrize("hook", ["stop", "remove"])
def test_stop_and_remove_keep_dispatched_objects(ctx, fs, fake_k8s, hook):
    out = ctx.run(getattr(ctx.on, hook)(), state(fs=fs))
    assert out.unit_status.name in ("maintenance", "active", "waiting")
    assert fake_k8s.writes() == []


def test_dispatch_status_action_lists_names_never_content(ctx, fs):
    rel = manifest_relation("secrets", [s3_secret("creds")])
    ctx.run(ctx.on.install(), state(relations=(rel,), fs=fs))
    ready_status(fs, namespaces=4, manifests=1)

    ctx.run(
        ctx.on.action("dispatch-status", params={"verbose": True}), state(relations=(rel,), fs=fs)
    )

    results = ctx.action_results
    assert results["state"] == "ready"
    assert results["namespaces"] == "4"
    assert results["manifest-list"] == "Secret/creds (from mlflow-server via secrets)"


def test_dispatch_status_action_fails_cleanly_without_pebble(ctx):
    with pytest.raises(testing.ActionFailed, match="not reachable"):
        ctx.run(
            ctx.on.action("dispatch-status"), state(containers=(container(can_connect=False),))
        )


def test_collect_status_without_a_prior_reconcile_still_reports(ctx, fs):
    # secret-remove is not observed by the charm: collect-status runs the reconcile itself.
    secret = testing.Secret(tracked_content={"a": "b"}, owner="app", label="other")
    out = ctx.run(ctx.on.secret_remove(secret, revision=1), state(secrets=(secret,), fs=fs))
    assert out.unit_status == testing.WaitingStatus("controller starting")
    # Only the leader's controller dispatches: the app shows how it is doing.
    assert out.app_status == testing.WaitingStatus("controller starting")


def test_app_status_follows_the_leaders_controller(ctx, fs):
    rel = manifest_relation("secrets", [s3_secret()])
    ctx.run(ctx.on.install(), state(relations=(rel,), fs=fs))
    ready_status(fs, namespaces=3, manifests=1)

    out = ctx.run(ctx.on.update_status(), state(relations=(rel,), fs=fs))

    assert out.app_status == testing.ActiveStatus("dispatching 1 manifests to 3 namespaces")


# -- workload container resources ------------------------------------------------------------


def test_leader_sets_the_default_dispatcher_resources_on_the_statefulset(ctx, fs, fake_k8s):
    ctx.run(ctx.on.install(), state(fs=fs))

    assert dispatcher_resources(fake_k8s) == {
        "requests": {"cpu": "50m", "memory": "128Mi"},
        "limits": {"memory": "512Mi"},
    }
    sts = fake_k8s.get(StatefulSet, APP, namespace=MODEL.name).to_dict()
    charm_container = sts["spec"]["template"]["spec"]["containers"][0]
    assert (charm_container["name"], charm_container.get("resources")) == ("charm", None)
    assert [(r.verb, r.kind) for r in fake_k8s.writes()] == [("patch", "StatefulSet")]


def test_resource_options_reach_the_statefulset_and_unset_ones_are_removed(ctx, fs, fake_k8s):
    ctx.run(ctx.on.install(), state(fs=fs))
    config = {
        "dispatcher-cpu-request": "0.2",
        "dispatcher-cpu-limit": "1",
        "dispatcher-memory-request": "256Mi",
        "dispatcher-memory-limit": "",
    }

    out = ctx.run(ctx.on.config_changed(), state(config=config, fs=fs))

    assert dispatcher_resources(fake_k8s) == {
        "requests": {"cpu": "0.2", "memory": "256Mi"},
        "limits": {"cpu": "1"},
    }
    assert out.unit_status == testing.WaitingStatus("controller starting")


def test_resources_already_in_place_cost_one_get_and_no_write(ctx, fs, fake_k8s):
    fake_k8s.add(
        juju_statefulset(
            {"requests": {"cpu": "0.05", "memory": "128Mi"}, "limits": {"memory": "512Mi"}}
        )
    )
    fake_k8s.reset_log()

    ctx.run(ctx.on.config_changed(), state(fs=fs))

    assert [(r.verb, r.kind) for r in fake_k8s.requests] == [("get", "StatefulSet")]


def test_non_leader_never_touches_the_statefulset(ctx, fs, fake_k8s):
    ctx.run(
        ctx.on.config_changed(), state(leader=False, config={"dispatcher-cpu-limit": "2"}, fs=fs)
    )
    assert fake_k8s.requests == []
    assert dispatcher_resources(fake_k8s) == {}


@pytest.mark.parametrize(
    ("config", "option"),
    [
        ({"dispatcher-cpu-request": "lots"}, "dispatcher-cpu-request"),
        ({"dispatcher-memory-limit": "1 Gi"}, "dispatcher-memory-limit"),
        ({"dispatcher-memory-request": "1Gi"}, "dispatcher-memory-request"),  # above 512Mi
    ],
)
def test_invalid_resource_option_is_blocked_naming_it(ctx, fs, fake_k8s, config, option):
    out = ctx.run(ctx.on.config_changed(), state(config=config, fs=fs))
    assert out.unit_status.name == "blocked"
    assert out.unit_status.message.startswith(f"invalid config {option}: ")
    assert out.unit_status.message.endswith(f"juju config resource-dispatcher {option}=...")
    assert out.app_status == out.unit_status
    assert fake_k8s.requests == []


def test_statefulset_forbidden_is_blocked_with_juju_trust_but_dispatching_goes_on(
    ctx, fs, fake_k8s
):
    fake_k8s.inject_fault(verb="get", kind="StatefulSet", status=403)
    rel = manifest_relation("secrets", [s3_secret()])

    out = ctx.run(ctx.on.install(), state(relations=(rel,), fs=fs))

    assert out.unit_status.name == "blocked"
    assert out.unit_status.message.endswith("juju trust resource-dispatcher --scope=cluster")
    assert [m["manifest"]["metadata"]["name"] for m in pushed_manifests(ctx, out)] == [
        "mlpipeline-minio-artifact"
    ]


def test_statefulset_server_error_is_waiting(ctx, fs, fake_k8s):
    fake_k8s.inject_fault(verb="patch", kind="StatefulSet", status=500)
    out = ctx.run(ctx.on.config_changed(), state(fs=fs))
    assert out.unit_status.name == "waiting"
    assert "will retry" in out.unit_status.message


def test_missing_statefulset_is_skipped(ctx, fs, fake_k8s):
    fake_k8s.delete(StatefulSet, APP, namespace=MODEL.name)
    fake_k8s.reset_log()
    out = ctx.run(ctx.on.install(), state(fs=fs))
    assert out.unit_status == testing.WaitingStatus("controller starting")
