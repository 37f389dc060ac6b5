"""State-transition tests of the katib charm (ops.testing) against the validating fake API."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import itertools
import json
import uuid
from pathlib import Path

import charm
import katib
import kfcharm.certs
import ops
import pytest
import yaml
from conftest import (
    APP,
    DB_PASSWORD,
    DB_USER,
    MODEL,
    FrozenClock,
    containers,
    db_relation,
    make_context,
    ready_state,
    state,
)
from cryptography import x509
from kfcharm.testing.leaks import find_leaks
from lightkube.generic_resource import create_namespaced_resource
from ops import testing

Experiment = create_namespaced_resource("kubeflow.org", "v1beta1", "Experiment", "experiments")


def service_env(out: testing.State, container: str) -> dict[str, str]:
    plan = out.get_container(container).plan
    return dict(plan.services[container].environment)


def cert_secret(out: testing.State) -> testing.Secret:
    return next(s for s in out.secrets if s.label == charm.CERTS_LABEL)


def pushed(ctx: testing.Context, out: testing.State, container: str, path: str) -> str:
    for mount in out.get_container(container).mounts.values():
        if path.startswith(mount.location + "/"):
            return (Path(mount.source) / path[len(mount.location) + 1 :]).read_text()
    root = out.get_container(container).get_filesystem(ctx)
    return (root / path.lstrip("/")).read_text()


# -- install / leader / relation paths ------------------------------------------------------


def test_blocked_when_database_relation_missing(ctx, k8s):
    out = ctx.run(ctx.on.install(), state())
    assert out.unit_status == ops.BlockedStatus(
        "relation to mysql missing: juju integrate katib:relational-db mysql:database"
    )
    # The controller and UI still start; the db-manager waits for credentials.
    assert katib.CONTROLLER in out.get_container(katib.CONTROLLER).plan.services
    assert katib.UI in out.get_container(katib.UI).plan.services
    assert out.get_container(katib.DB_MANAGER).plan.services == {}


def test_waiting_when_database_relation_has_no_data_yet(ctx, k8s):
    relation, _ = db_relation(with_data=False)
    out = ctx.run(ctx.on.relation_created(relation), state(relations=[relation]))
    assert isinstance(out.unit_status, ops.WaitingStatus)
    assert "relational-db" in out.unit_status.message
    local = out.get_relation(relation.id).local_app_data
    assert local["database"] == "katib"
    assert json.loads(local["requested-secrets"])[:2] == ["username", "password"]


def test_active_with_database_and_everything_applied(ctx, k8s):
    out = ctx.run(ctx.on.install(), ready_state())
    assert out.unit_status == ops.ActiveStatus()
    env = service_env(out, katib.DB_MANAGER)
    assert env["DB_USER"] == DB_USER
    assert env["DB_PASSWORD"] == DB_PASSWORD
    assert env["KATIB_MYSQL_DB_HOST"] == "mysql-0.mysql-endpoints"
    assert env["KATIB_MYSQL_DB_PORT"] == "3306"
    assert env["KATIB_MYSQL_DB_DATABASE"] == "katib"
    for name in ("experiments", "trials", "suggestions"):
        assert k8s.find("CustomResourceDefinition", f"{name}.kubeflow.org") is not None
    for role in ("kubeflow-katib-admin", "kubeflow-katib-edit", "kubeflow-katib-view"):
        assert k8s.find("ClusterRole", role) is not None
    assert k8s.find("ConfigMap", "katib-config", MODEL) is not None
    assert k8s.find("ConfigMap", "trial-templates", MODEL) is not None


def test_webhook_ca_bundle_and_controller_files_come_from_the_cert_secret(ctx, k8s):
    out = ctx.run(ctx.on.install(), ready_state())
    content = cert_secret(out).tracked_content
    mutating = k8s.find("MutatingWebhookConfiguration", f"{MODEL}-{APP}.katib.kubeflow.org")
    validating = k8s.find("ValidatingWebhookConfiguration", f"{MODEL}-{APP}.katib.kubeflow.org")
    for config in (mutating, validating):
        for hook in config.webhooks:
            assert base64.b64decode(hook.clientConfig.caBundle).decode() == content["ca-cert"]
    assert pushed(ctx, out, katib.CONTROLLER, katib.CERT_FILE) == content["tls-cert"]
    assert pushed(ctx, out, katib.CONTROLLER, katib.KEY_FILE) == content["tls-key"]
    cert = x509.load_pem_x509_certificate(content["tls-cert"].encode())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert f"katib-controller.{MODEL}.svc" in names.get_values_for_type(x509.DNSName)
    config_file = pushed(ctx, out, katib.CONTROLLER, katib.KATIB_CONFIG_PATH)
    assert yaml.safe_load(config_file)["init"]["controller"]["webhookPort"] == 8443


@pytest.mark.parametrize("order", list(itertools.permutations(katib.CONTAINERS)))
def test_pebble_ready_in_any_order_ends_active(ctx, k8s, order):
    relation, secret = db_relation()
    current = state(relations=[relation], secrets=[secret], can_connect=False)
    out = ctx.run(ctx.on.install(), current)
    assert isinstance(out.unit_status, ops.WaitingStatus)
    assert "waiting for Pebble" in out.unit_status.message
    connected: set[str] = set()
    for name in order:
        connected.add(name)
        out = dataclasses.replace(
            out,
            containers={
                dataclasses.replace(c, can_connect=c.name in connected) for c in out.containers
            },
        )
        out = ctx.run(ctx.on.pebble_ready(out.get_container(name)), out)
        assert out.get_container(name).plan.services, f"{name} has no service after pebble-ready"
    assert out.unit_status == ops.ActiveStatus()


def test_failing_ready_check_is_reported(ctx, k8s):
    out = ctx.run(ctx.on.install(), ready_state())
    container = out.get_container(katib.DB_MANAGER)
    check = testing.CheckInfo(
        "db-manager-ready", level=ops.pebble.CheckLevel.READY, status=ops.pebble.CheckStatus.DOWN
    )
    container = dataclasses.replace(container, check_infos={check})
    out = dataclasses.replace(
        out, containers={c for c in out.containers if c.name != container.name} | {container}
    )
    out = ctx.run(ctx.on.pebble_check_failed(container, check), out)
    assert out.unit_status == ops.WaitingStatus(
        "katib-db-manager not ready yet (failing: db-manager-ready)"
    )


def test_relation_broken_blocks_and_keeps_running_the_rest(ctx, k8s):
    out = ctx.run(ctx.on.install(), ready_state())
    relation = out.get_relations("relational-db")[0]
    out = ctx.run(ctx.on.relation_broken(relation), out)
    assert isinstance(out.unit_status, ops.BlockedStatus)
    assert "juju integrate katib:relational-db" in out.unit_status.message


def test_password_rotation_reaches_the_db_manager(ctx, k8s):
    out = ctx.run(ctx.on.install(), ready_state())
    old = next(s for s in out.secrets if s.tracked_content.get("username") == DB_USER)
    rotated = dataclasses.replace(
        old, latest_content={"username": DB_USER, "password": "n3w-pass"}
    )
    out = dataclasses.replace(out, secrets=(out.secrets - {old}) | {rotated})
    out = ctx.run(ctx.on.secret_changed(rotated), out)
    assert service_env(out, katib.DB_MANAGER)["DB_PASSWORD"] == "n3w-pass"


def test_malformed_database_data_blocks_with_the_field(ctx, k8s):
    relation = testing.Relation(
        "relational-db",
        remote_app_data={"database": "katib", "endpoints": "no-port", "secret-user": "x"},
    )
    out = ctx.run(ctx.on.relation_changed(relation), state(relations=[relation]))
    assert isinstance(out.unit_status, ops.BlockedStatus)
    assert "relational-db" in out.unit_status.message


# -- config ------------------------------------------------------------------------------------


def test_invalid_config_blocks_naming_the_option_and_writes_nothing(ctx, k8s):
    out = ctx.run(ctx.on.config_changed(), ready_state(config={"pbt-access-mode": "RWX"}))
    assert isinstance(out.unit_status, ops.BlockedStatus)
    assert out.unit_status.message.startswith("invalid config option pbt-access-mode:")
    assert "juju config katib pbt-access-mode=" in out.unit_status.message
    assert k8s.writes() == []
    assert out.app_status == out.unit_status


def test_config_change_updates_configmap_file_layer_and_restarts_nothing_needlessly(
    ctx, k8s, monkeypatch
):
    restarts: list[tuple[str, ...]] = []
    monkeypatch.setattr(ops.Container, "restart", lambda self, *names: restarts.append(names))
    out = ctx.run(ctx.on.install(), ready_state())
    out = ctx.run(
        ctx.on.config_changed(),
        dataclasses.replace(
            out, config={"metrics-port": 9090, "pbt-access-mode": "ReadWriteOnce"}
        ),
    )
    config_map = k8s.find("ConfigMap", "katib-config", MODEL)
    doc = yaml.safe_load(config_map.data["katib-config.yaml"])
    assert doc["init"]["controller"]["metricsAddr"] == ":9090"
    pbt = next(s for s in doc["runtime"]["suggestions"] if s["algorithmName"] == "pbt")
    assert pbt["persistentVolumeClaimSpec"]["accessModes"] == ["ReadWriteOnce"]
    assert yaml.safe_load(pushed(ctx, out, katib.CONTROLLER, katib.KATIB_CONFIG_PATH)) == doc
    # Only the file changed (the layer did not): the controller is restarted to read it.
    assert restarts == [(katib.CONTROLLER,)]
    service = k8s.find("Service", "katib-controller", MODEL)
    assert {p.port for p in service.spec.ports} == {443, 9090}


def test_ui_port_change_updates_ingress_and_layer(ctx, k8s):
    ingress = testing.Relation(
        "ingress", remote_app_name="istio-pilot", remote_app_data={"_supported_versions": "- v1\n"}
    )
    out = ctx.run(
        ctx.on.config_changed(), ready_state(config={"ui-port": 9000}, relations=[ingress])
    )
    data = yaml.safe_load(out.get_relation(ingress.id).local_app_data["data"])
    assert data == {
        "service": "katib-ui",
        "port": 9000,
        "prefix": "/katib/",
        "rewrite": "/katib/",
        "namespace": MODEL,
    }
    assert out.get_container(katib.UI).plan.services[katib.UI].command.endswith("--port=9000")


def test_container_resources_are_patched_onto_the_statefulset_once(ctx, k8s):
    config = {
        "katib-controller-cpu-request": "200m",
        "katib-controller-memory-limit": "1Gi",
        "katib-ui-memory-request": "64Mi",
    }
    out = ctx.run(ctx.on.config_changed(), ready_state(config=config))
    assert out.unit_status == ops.ActiveStatus()
    patches = [r for r in k8s.requests if r.verb == "patch" and r.kind == "StatefulSet"]
    assert len(patches) == 1
    sts = k8s.find("StatefulSet", APP, MODEL)
    by_name = {c.name: c for c in sts.spec.template.spec.containers}
    assert by_name[katib.CONTROLLER].resources.requests == {"cpu": "200m"}
    assert by_name[katib.CONTROLLER].resources.limits == {"memory": "1Gi"}
    assert by_name[katib.UI].resources.requests == {"memory": "64Mi"}
    assert not by_name[katib.DB_MANAGER].resources
    assert by_name["charm"].image == "registry.jujucharms.com/charm"
    assert [c.name for c in sts.spec.template.spec.containers] == ["charm", *katib.CONTAINERS]
    k8s.reset_log()
    ctx.run(ctx.on.update_status(), out)
    assert k8s.writes() == []
    # Unsetting the option removes them again.
    ctx.run(ctx.on.config_changed(), dataclasses.replace(out, config={}))
    sts = k8s.find("StatefulSet", APP, MODEL)
    resources = {c.name: c for c in sts.spec.template.spec.containers}[katib.CONTROLLER].resources
    assert resources is None or (not resources.requests and not resources.limits)


@pytest.mark.parametrize(
    ("config", "option", "reason"),
    [
        ({"katib-db-manager-cpu-limit": "two"}, "katib-db-manager-cpu-limit", "'two'"),
        (
            {"katib-ui-cpu-request": "2", "katib-ui-cpu-limit": "500m"},
            "katib-ui-cpu-request",
            "above katib-ui-cpu-limit=500m",
        ),
    ],
)
def test_invalid_resource_option_blocks_naming_it_and_writes_nothing(
    ctx, k8s, config, option, reason
):
    out = ctx.run(ctx.on.config_changed(), ready_state(config=config))
    assert isinstance(out.unit_status, ops.BlockedStatus)
    assert out.unit_status.message.startswith(f"invalid config option {option}: ")
    assert reason in out.unit_status.message
    assert f"(fix with: juju config katib {option}=...)" in out.unit_status.message
    assert k8s.writes() == []


def test_non_leader_leaves_the_statefulset_alone(ctx, k8s):
    config = {"katib-controller-cpu-request": "200m"}
    ctx.run(ctx.on.config_changed(), ready_state(leader=False, config=config))
    assert not any(r.kind == "StatefulSet" for r in k8s.requests)


def test_statefulset_forbidden_blocks_but_workloads_still_run(ctx, k8s):
    k8s.inject_fault("get", "StatefulSet", status=403, times=None)
    out = ctx.run(ctx.on.install(), ready_state())
    assert isinstance(out.unit_status, ops.BlockedStatus)
    assert "juju trust katib --scope=cluster" in out.unit_status.message
    assert katib.DB_MANAGER in out.get_container(katib.DB_MANAGER).plan.services


# -- Kubernetes failures --------------------------------------------------------------------


def test_forbidden_blocks_with_juju_trust(ctx, k8s):
    k8s.inject_fault("apply", "CustomResourceDefinition", status=403, times=None)
    out = ctx.run(ctx.on.install(), ready_state())
    assert isinstance(out.unit_status, ops.BlockedStatus)
    assert "juju trust katib --scope=cluster" in out.unit_status.message


@pytest.mark.parametrize("fault", [500, 429, "timeout", "connection"])
def test_transient_api_errors_wait_and_the_next_event_recovers(ctx, k8s, fault):
    k8s.inject_fault("list", "ConfigMap", status=fault, times=1)
    out = ctx.run(ctx.on.install(), ready_state())
    assert isinstance(out.unit_status, ops.WaitingStatus)
    out = ctx.run(ctx.on.update_status(), out)
    assert out.unit_status == ops.ActiveStatus()
    assert k8s.find("ConfigMap", "katib-config", MODEL) is not None


# -- leadership ------------------------------------------------------------------------------


def test_non_leader_waits_for_certificates_and_writes_nothing(ctx, k8s):
    out = ctx.run(ctx.on.install(), ready_state(leader=False))
    assert out.unit_status == ops.WaitingStatus(
        "waiting for the leader to create the webhook certificates"
    )
    assert k8s.writes() == []
    assert out.get_container(katib.CONTROLLER).plan.services == {}


def test_non_leader_runs_workloads_once_the_leader_stored_certificates(ctx, k8s):
    leader_out = ctx.run(ctx.on.install(), ready_state())
    k8s.reset_log()
    follower = dataclasses.replace(
        leader_out,
        leader=False,
        containers=containers(),
    )
    out = ctx.run(ctx.on.leader_elected(), follower)
    assert out.unit_status == ops.ActiveStatus()
    assert k8s.writes() == []
    assert (
        pushed(ctx, out, katib.CONTROLLER, katib.CERT_FILE)
        == (cert_secret(leader_out).tracked_content["tls-cert"])
    )


# -- certificates ------------------------------------------------------------------------------


def test_certificates_rotate_before_expiry_and_restart_the_controller(ctx, k8s, monkeypatch):
    clock = FrozenClock(datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc))
    monkeypatch.setattr(kfcharm.certs, "utcnow", clock)
    restarts: list[tuple[str, ...]] = []
    monkeypatch.setattr(ops.Container, "restart", lambda self, *names: restarts.append(names))
    out = ctx.run(ctx.on.install(), ready_state())
    first = dict(cert_secret(out).tracked_content)

    clock.now += datetime.timedelta(days=300)  # well within validity: nothing happens
    out = ctx.run(ctx.on.update_status(), out)
    assert cert_secret(out).tracked_content["tls-cert"] == first["tls-cert"]
    assert restarts == []

    clock.now += datetime.timedelta(days=40)  # 25 days left, inside the 30-day margin
    out = ctx.run(ctx.on.update_status(), out)
    secret = cert_secret(out)
    content = secret.latest_content or secret.tracked_content
    assert content["tls-cert"] != first["tls-cert"]
    assert pushed(ctx, out, katib.CONTROLLER, katib.CERT_FILE) == content["tls-cert"]
    assert restarts == [(katib.CONTROLLER,)]
    hook = k8s.find("ValidatingWebhookConfiguration", f"{MODEL}-{APP}.katib.kubeflow.org")
    bundle = base64.b64decode(hook.webhooks[0].clientConfig.caBundle).decode()
    # New CA first, the previous one kept while it is valid (no verification gap).
    assert bundle.startswith(content["ca-cert"])
    assert first["ca-cert"] in bundle


# -- relations we provide --------------------------------------------------------------------


def test_k8s_service_info_dashboard_links_and_scrape_jobs(ctx, k8s):
    info = testing.Relation("k8s-service-info", remote_app_name="kfp")
    links = testing.Relation("dashboard-links", remote_app_name="kubeflow-dashboard")
    metrics = testing.Relation("metrics-endpoint", remote_app_name="prometheus")
    out = ctx.run(ctx.on.relation_created(info), ready_state(relations=[info, links, metrics]))
    assert dict(out.get_relation(info.id).local_app_data) == {
        "name": "katib-db-manager",
        "port": "6789",
    }
    out = ctx.run(ctx.on.relation_joined(links), out)
    published = json.loads(out.get_relation(links.id).local_app_data["dashboard_links"])
    assert published == [
        {
            "text": "Experiments (AutoML)",
            "link": "/katib/",
            "location": "menu",
            "icon": "kubeflow:katib",
            "type": "item",
            "desc": "",
        }
    ]
    out = ctx.run(ctx.on.relation_joined(metrics), out)
    data = out.get_relation(metrics.id).local_app_data
    jobs = json.loads(data["scrape_jobs"])
    assert jobs[0]["static_configs"][0]["targets"] == ["*:8081"]
    rules = json.loads(data["alert_rules"])
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert {"KatibControllerDown", "KatibReconcileErrors"} <= alerts


def test_grafana_dashboard_is_published(ctx, k8s):
    grafana = testing.Relation("grafana-dashboard", remote_app_name="grafana")
    out = ctx.run(ctx.on.relation_joined(grafana), ready_state(relations=[grafana]))
    templates = json.loads(out.get_relation(grafana.id).local_app_data["dashboards"])["templates"]
    assert list(templates) == ["file:katib"]


def test_logs_of_all_three_workloads_are_forwarded(ctx, k8s):
    loki = testing.Relation(
        "logging",
        remote_app_name="loki",
        remote_units_data={
            0: {"endpoint": json.dumps({"url": "http://loki-0:3100/loki/api/v1/push"})}
        },
    )
    out = ctx.run(ctx.on.relation_changed(loki, remote_unit=0), ready_state(relations=[loki]))
    for name in katib.CONTAINERS:
        targets = out.get_container(name).plan.log_targets
        assert [t.location for t in targets.values()] == ["http://loki-0:3100/loki/api/v1/push"]


# -- steady state, removal, purge ------------------------------------------------------------


def test_steady_state_update_status_makes_no_kubernetes_writes(ctx, k8s):
    out = ctx.run(ctx.on.install(), ready_state())
    install_requests, install_bytes = len(k8s.requests), k8s.bytes()
    k8s.reset_log()
    out = ctx.run(ctx.on.update_status(), out)
    assert out.unit_status == ops.ActiveStatus()
    assert k8s.writes() == []
    assert {r.verb for r in k8s.requests} <= {"list", "get"}
    print(
        f"\nK8s install: {install_requests} requests, {install_bytes} bytes; "
        f"steady update-status: {len(k8s.requests)} requests, {k8s.bytes()} bytes"
    )


def test_upgrade_charm_reapplies_nothing_unchanged(ctx, k8s):
    out = ctx.run(ctx.on.install(), ready_state())
    k8s.reset_log()
    out = ctx.run(ctx.on.upgrade_charm(), out)
    assert out.unit_status == ops.ActiveStatus()
    assert k8s.writes() == []


def test_removal_keeps_crds_and_experiments(ctx, k8s):
    out = ctx.run(ctx.on.install(), ready_state())
    k8s.create(
        Experiment(
            metadata={"name": "tune", "namespace": "alice"},
            spec={"algorithm": {"algorithmName": "random"}},
        )
    )
    ctx.run(ctx.on.remove(), dataclasses.replace(out, planned_units=0))
    assert k8s.find("Experiment", "tune", "alice") is not None
    for name in ("experiments", "trials", "suggestions"):
        assert k8s.find("CustomResourceDefinition", f"{name}.kubeflow.org") is not None
    assert k8s.find("MutatingWebhookConfiguration", f"{MODEL}-{APP}.katib.kubeflow.org") is None
    assert k8s.find("Service", "katib-controller", MODEL) is None


def test_removing_one_unit_of_several_deletes_nothing(ctx, k8s):
    out = ctx.run(ctx.on.install(), ready_state(planned_units=2))
    k8s.reset_log()
    ctx.run(ctx.on.remove(), dataclasses.replace(out, planned_units=1))
    assert k8s.writes() == []


def test_purge_crds_requires_confirmation(ctx, k8s):
    out = ctx.run(ctx.on.install(), ready_state())
    with pytest.raises(testing.ActionFailed) as excinfo:
        ctx.run(ctx.on.action("purge-crds"), out)
    assert "confirm=true" in excinfo.value.message
    assert k8s.find("CustomResourceDefinition", "experiments.kubeflow.org") is not None


def test_purge_crds_deletes_only_the_crds(ctx, k8s):
    out = ctx.run(ctx.on.install(), ready_state())
    after = ctx.run(ctx.on.action("purge-crds", params={"confirm": True}), out)
    assert "experiments.kubeflow.org" in ctx.action_results["deleted"]
    # Nothing reconciled in the action's hook: the CRDs stay deleted, the status as it was.
    assert k8s.find("CustomResourceDefinition", "experiments.kubeflow.org") is None
    assert k8s.find("ConfigMap", "katib-config", MODEL) is not None
    assert after.unit_status == out.unit_status == ops.ActiveStatus()
    assert after.app_status == out.app_status


def test_remove_hook_does_not_reconcile_or_change_the_status(ctx, k8s):
    out = ctx.run(ctx.on.install(), ready_state(config={"pbt-access-mode": "RWX"}))
    k8s.reset_log()
    after = ctx.run(ctx.on.remove(), dataclasses.replace(out, planned_units=1))
    assert after.unit_status == out.unit_status
    assert isinstance(after.unit_status, ops.BlockedStatus)
    assert k8s.requests == []


# -- leaks -------------------------------------------------------------------------------------


def test_no_credential_leaks_anywhere(k8s):
    ctx = make_context()
    out = ctx.run(ctx.on.install(), ready_state())
    out = ctx.run(ctx.on.update_status(), out)
    key = cert_secret(out).tracked_content["tls-key"]
    # The serving key belongs in the controller's /tmp/cert (upstream reads it there).
    allowed = [f"file:katib-controller:{katib.KEY_FILE}*"]
    assert find_leaks(out, [DB_PASSWORD, key], ctx=ctx, k8s=k8s, allow=allowed) == []
    assert find_leaks(out, [key], ctx=ctx), "the key file was not scanned"
    # The password does reach the db-manager, through its service environment only.
    leaks = find_leaks(out, [DB_PASSWORD], ctx=ctx, include_pebble_environment=True)
    assert leaks
    assert all("environment" in leak.place for leak in leaks)


def test_collect_status_without_a_handled_event_still_reports(ctx, k8s):
    out = ctx.run(ctx.on.install(), ready_state())
    out = ctx.run(ctx.on.stop(), dataclasses.replace(out, unit_status=ops.UnknownStatus()))
    assert out.unit_status == ops.ActiveStatus()


def test_model_uuid_is_real_in_scrape_metadata(ctx, k8s):
    metrics = testing.Relation("metrics-endpoint", remote_app_name="prometheus")
    out = ctx.run(ctx.on.relation_joined(metrics), ready_state(relations=[metrics]))
    meta = json.loads(out.get_relation(metrics.id).local_app_data["scrape_metadata"])
    assert str(uuid.UUID(meta["model_uuid"])) == meta["model_uuid"]


def test_secret_expired_rotates_and_reapplies_the_ca_bundle(ctx, k8s, monkeypatch):
    clock = FrozenClock(datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc))
    monkeypatch.setattr(kfcharm.certs, "utcnow", clock)
    out = ctx.run(ctx.on.install(), ready_state())
    secret = cert_secret(out)
    first_ca = secret.tracked_content["ca-cert"]
    clock.now += datetime.timedelta(days=336)  # the secret's expiry: rotation is due
    out = ctx.run(ctx.on.secret_expired(secret, revision=secret._tracked_revision), out)
    content = cert_secret(out).latest_content
    assert content["ca-cert"] != first_ca
    hook = k8s.find("MutatingWebhookConfiguration", f"{MODEL}-{APP}.katib.kubeflow.org")
    bundle = base64.b64decode(hook.webhooks[0].clientConfig.caBundle).decode()
    assert bundle.startswith(content["ca-cert"])
    assert pushed(ctx, out, katib.CONTROLLER, katib.CERT_FILE) == content["tls-cert"]
