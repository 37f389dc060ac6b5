"""State-transition tests of the kserve charm over its event paths."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json

import kserve as ks
import pytest
from conftest import (
    ACCESS_KEY,
    LOKI_URL,
    SECRET_KEY,
    certs_secret,
    container_resources,
    controller_container,
    cos_relations,
    gateway_relations,
    manifest_relation,
    object_storage_relation,
    s3_relation,
    state,
    web_app_container,
)
from kfcharm import certs
from ops import testing


def webhook_ca_bundles(fake) -> set[str]:
    bundles = set()
    for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        for obj in fake.objects(kind):
            bundles |= {w.clientConfig.caBundle for w in obj.webhooks}
    return bundles


def isvc_config(fake) -> dict:
    cm = fake.find("ConfigMap", "inferenceservice-config", "kubeflow")
    return {key: json.loads(value) for key, value in cm.data.items()}


def manifests_sent(out: testing.State, endpoint: str) -> list[dict]:
    relation = out.get_relations(endpoint)[0]
    uri = relation.local_app_data["kubernetes_manifests"]
    assert relation.local_app_data["is_secret"] == "true"
    secret = next(s for s in out.secrets if s.id == uri)
    return json.loads(secret.latest_content["manifests"])


# --- install / leader --------------------------------------------------------------------


def test_install_on_leader_installs_everything_and_runs_the_controller(ctx, fake_k8s):
    out = ctx.run(ctx.on.install(), state())

    assert len(fake_k8s.objects("CustomResourceDefinition")) == 9
    assert len(fake_k8s.objects("ClusterServingRuntime")) == 11
    assert fake_k8s.find("ClusterStorageContainer", "default") is not None
    assert {r.metadata.name for r in fake_k8s.objects("ClusterRole")} == {
        "kubeflow-kserve-admin",
        "kubeflow-kserve-edit",
        "kubeflow-kserve-view",
    }
    secret = certs_secret(out)
    ca = base64.b64encode(secret.latest_content["ca-cert"].encode()).decode()
    assert webhook_ca_bundles(fake_k8s) == {ca}
    assert isvc_config(fake_k8s)["deploy"] == {"defaultDeploymentMode": "Serverless"}
    assert (
        isvc_config(fake_k8s)["ingress"]["localGateway"] == "knative-serving/knative-local-gateway"
    )
    svc = fake_k8s.find("Service", "kserve-webhook-server-service", "kubeflow")
    assert svc.spec.ports[0].targetPort == 9443

    controller = out.get_container("kserve-controller")
    assert controller.service_statuses["kserve-controller"].value == "active"
    plan = controller.plan.to_dict()
    assert plan["services"]["kserve-controller"]["environment"]["POD_NAMESPACE"] == "kubeflow"
    fs = controller.get_filesystem(ctx)
    cert = (fs / ks.CERT_FILE.lstrip("/")).read_text()
    assert cert == secret.latest_content["tls-cert"]
    assert out.get_container("models-web-app").service_statuses["models-web-app"].value == "active"
    assert {p.port for p in out.opened_ports} == {5000}
    assert out.unit_status.name == "active"
    assert "juju integrate kserve:s3 minio:s3" in out.unit_status.message
    assert out.get_relations("kserve-peers")[0].local_app_data["webhook-cert-not-after"]


def test_serverless_without_gateways_is_blocked_with_the_commands(ctx, fake_k8s):
    out = ctx.run(ctx.on.install(), state(with_gateways=False))
    assert out.unit_status.name == "blocked"
    assert (
        "juju integrate kserve:ingress-gateway istio-pilot:gateway-info" in out.unit_status.message
    )
    assert (
        "juju integrate kserve:local-gateway knative-serving:local-gateway"
        in out.unit_status.message
    )
    assert "deployment-mode=raw" in out.unit_status.message
    assert fake_k8s.writes() == []


def test_serverless_missing_only_local_gateway_names_it(ctx, fake_k8s):
    rels = [gateway_relations()[0]]
    out = ctx.run(ctx.on.config_changed(), state(with_gateways=False, relations=rels))
    assert "local-gateway" in out.unit_status.message
    assert "istio-pilot" not in out.unit_status.message


def test_raw_mode_needs_no_gateway(ctx, fake_k8s):
    out = ctx.run(
        ctx.on.config_changed(), state(with_gateways=False, config={"deployment-mode": "raw"})
    )
    assert out.unit_status.name == "active"
    assert isvc_config(fake_k8s)["deploy"] == {"defaultDeploymentMode": "RawDeployment"}


def test_gateway_not_up_waits(ctx, fake_k8s):
    rels = gateway_relations()
    rels[0] = testing.Relation(
        "ingress-gateway",
        remote_app_name="istio-pilot",
        remote_app_data={"gateway_name": "g", "gateway_namespace": "n", "gateway_up": "false"},
    )
    out = ctx.run(ctx.on.update_status(), state(with_gateways=False, relations=rels))
    assert out.unit_status == testing.WaitingStatus(
        "waiting for the istio ingress gateway to be up"
    )


def test_gateway_without_data_waits(ctx, fake_k8s):
    rels = [testing.Relation("ingress-gateway"), gateway_relations()[1]]
    out = ctx.run(ctx.on.update_status(), state(with_gateways=False, relations=rels))
    assert out.unit_status.name == "waiting"
    assert "ingress-gateway" in out.unit_status.message


def test_malformed_gateway_data_is_blocked(ctx, fake_k8s):
    rels = [
        testing.Relation(
            "ingress-gateway",
            remote_app_data={"gateway_name": "g", "gateway_namespace": "n", "gateway_up": "maybe"},
        ),
        gateway_relations()[1],
    ]
    out = ctx.run(ctx.on.update_status(), state(with_gateways=False, relations=rels))
    assert out.unit_status.name == "blocked"
    assert "gateway_up" in out.unit_status.message


def test_invalid_config_is_blocked_naming_the_option(ctx, fake_k8s):
    out = ctx.run(ctx.on.config_changed(), state(config={"deployment-mode": "turbo"}))
    assert out.unit_status == testing.BlockedStatus(
        "invalid config option deployment-mode: must be serverless or raw: "
        "juju config kserve deployment-mode=..."
    )
    assert fake_k8s.writes() == []


def test_config_change_updates_only_the_configmap(ctx, fake_k8s):
    installed = ctx.run(ctx.on.install(), state())
    fake_k8s.reset_log()
    st = dataclasses.replace(installed, config={"domain": "models.example.org"})
    out = ctx.run(ctx.on.config_changed(), st)
    assert [(w.verb, w.kind, w.name) for w in fake_k8s.writes()] == [
        ("apply", "ConfigMap", "inferenceservice-config")
    ]
    assert isvc_config(fake_k8s)["ingress"]["ingressDomain"] == "models.example.org"
    assert out.unit_status.name == "active"


def test_disabling_a_runtime_keeps_it_with_disabled_true(ctx, fake_k8s):
    ctx.run(ctx.on.install(), state(config={"disabled-serving-runtimes": "tritonserver"}))
    triton = fake_k8s.find("ClusterServingRuntime", "kserve-tritonserver")
    assert triton.spec["disabled"] is True
    assert fake_k8s.find("ClusterServingRuntime", "kserve-sklearnserver").spec["disabled"] is False


def test_custom_images_reach_runtimes_and_configmap(ctx, fake_k8s):
    images = "{sklearnserver: reg.local/sk:1, storage-initializer: reg.local/si:2}"
    ctx.run(ctx.on.install(), state(config={"custom-images": images}))
    sk = fake_k8s.find("ClusterServingRuntime", "kserve-sklearnserver")
    assert sk.spec["containers"][0]["image"] == "reg.local/sk:1"
    assert isvc_config(fake_k8s)["storageInitializer"]["image"] == "reg.local/si:2"
    csc = fake_k8s.find("ClusterStorageContainer", "default")
    assert csc.spec["container"]["image"] == "reg.local/si:2"


def test_on_s390x_runtimes_without_images_are_disabled(ctx, fake_k8s, monkeypatch):
    monkeypatch.setattr("kserve.unit_architecture", lambda: "s390x")
    ctx.run(ctx.on.install(), state())
    disabled = {
        r.metadata.name for r in fake_k8s.objects("ClusterServingRuntime") if r.spec["disabled"]
    }
    assert disabled == set(ks.RUNTIMES.values())


# --- workload container resources --------------------------------------------------------


def test_install_sets_container_resources_on_jujus_statefulset(ctx, fake_k8s):
    out = ctx.run(ctx.on.install(), state())
    resources = container_resources(fake_k8s)
    assert resources["kserve-controller"] == {
        "requests": {"cpu": "100m", "memory": "200Mi"},
        "limits": {"memory": "1Gi"},
    }
    assert resources["models-web-app"] == {
        "requests": {"cpu": "50m", "memory": "128Mi"},
        "limits": {"memory": "512Mi"},
    }
    assert resources["charm"] == {}
    assert out.unit_status.name == "active"


def test_resource_config_change_patches_only_the_statefulset(ctx, fake_k8s):
    installed = ctx.run(ctx.on.install(), state())
    fake_k8s.reset_log()
    config = {"kserve-controller-cpu-limit": "2", "models-web-app-memory-limit": ""}
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(installed, config=config))
    assert [(w.verb, w.kind, w.name) for w in fake_k8s.writes()] == [
        ("patch", "StatefulSet", "kserve")
    ]
    resources = container_resources(fake_k8s)
    assert resources["kserve-controller"]["limits"] == {"cpu": "2", "memory": "1Gi"}
    assert resources["models-web-app"]["requests"] == {"cpu": "50m", "memory": "128Mi"}
    assert not resources["models-web-app"].get("limits")
    assert out.unit_status.name == "active"
    fake_k8s.reset_log()
    ctx.run(ctx.on.update_status(), out)
    assert fake_k8s.writes() == []


def test_invalid_resource_option_is_blocked_naming_it(ctx, fake_k8s):
    config = {"kserve-controller-memory-request": "2Gi", "kserve-controller-memory-limit": "1Gi"}
    out = ctx.run(ctx.on.config_changed(), state(config=config))
    assert out.unit_status == testing.BlockedStatus(
        "invalid config option kserve-controller-memory-request: 2Gi is above "
        "kserve-controller-memory-limit=1Gi: "
        "juju config kserve kserve-controller-memory-request=..."
    )
    assert fake_k8s.writes() == []


def test_forbidden_statefulset_patch_is_blocked_with_juju_trust(ctx, fake_k8s):
    fake_k8s.inject_fault(verb="patch", kind="StatefulSet", status=403, times=None)
    out = ctx.run(ctx.on.install(), state())
    assert out.unit_status.name == "blocked"
    assert "juju trust kserve --scope=cluster" in out.unit_status.message
    assert len(fake_k8s.objects("ClusterServingRuntime")) == 11


# --- followers, Pebble -------------------------------------------------------------------


def test_follower_waits_for_the_certificates_without_touching_kubernetes(ctx, fake_k8s):
    out = ctx.run(ctx.on.install(), state(leader=False))
    assert out.unit_status == testing.WaitingStatus(
        "waiting for the leader to create the webhook certificates"
    )
    assert fake_k8s.requests == []
    assert not out.get_container("kserve-controller").layers


def test_follower_runs_the_controller_with_the_leader_certificates(ctx, fake_k8s):
    leader_out = ctx.run(ctx.on.install(), state())
    secret = certs_secret(leader_out)
    fake_k8s.reset_log()
    out = ctx.run(ctx.on.leader_elected(), state(leader=False, secrets=[secret]))
    assert (
        out.get_container("kserve-controller").service_statuses["kserve-controller"].value
        == "active"
    )
    assert fake_k8s.requests == []
    assert out.unit_status.name == "active"


@pytest.mark.parametrize("container", ["kserve-controller", "models-web-app"])
def test_pebble_not_ready_waits_naming_the_container(ctx, fake_k8s, container):
    containers = [
        controller_container(can_connect=container != "kserve-controller"),
        web_app_container(can_connect=container != "models-web-app"),
    ]
    out = ctx.run(ctx.on.install(), state(containers=containers))
    assert out.unit_status == testing.WaitingStatus(f"waiting for Pebble in {container}")


@pytest.mark.parametrize(
    "order", [("kserve-controller", "models-web-app"), ("models-web-app", "kserve-controller")]
)
def test_pebble_ready_in_any_order_ends_active(ctx, fake_k8s, order):
    first, second = order
    containers = {
        "kserve-controller": controller_container(can_connect=first == "kserve-controller"),
        "models-web-app": web_app_container(can_connect=first == "models-web-app"),
    }
    out = ctx.run(
        ctx.on.pebble_ready(containers[first]), state(containers=list(containers.values()))
    )
    assert out.unit_status.name == "waiting"
    ready = [dataclasses.replace(c, can_connect=True) for c in out.containers]
    st = testing.State(
        leader=True,
        relations=out.relations,
        secrets=out.secrets,
        containers=ready,
        model=out.model,
    )
    out = ctx.run(ctx.on.pebble_ready(next(c for c in ready if c.name == second)), st)
    assert out.unit_status.name == "active"


def test_models_web_app_can_be_disabled(ctx, fake_k8s):
    links = testing.Relation("dashboard-links", remote_app_name="kubeflow-dashboard")
    out = ctx.run(ctx.on.install(), state(config={"models-web-app": False}, relations=[links]))
    assert not out.get_container("models-web-app").layers
    assert out.opened_ports == frozenset()
    assert (
        json.loads(out.get_relations("dashboard-links")[0].local_app_data["dashboard_links"]) == []
    )


def test_web_app_publishes_ingress_route_and_dashboard_link(ctx, fake_k8s):
    ingress = testing.Relation(
        "ingress", remote_app_name="istio-pilot", remote_app_data={"_supported_versions": "- v1\n"}
    )
    links = testing.Relation("dashboard-links", remote_app_name="kubeflow-dashboard")
    out = ctx.run(ctx.on.install(), state(relations=[ingress, links]))
    import yaml

    route = yaml.safe_load(out.get_relations("ingress")[0].local_app_data["data"])
    assert route == {
        "service": "kserve",
        "port": 5000,
        "prefix": "/kserve-endpoints/",
        "rewrite": "/",
        "namespace": "kubeflow",
    }
    link = json.loads(out.get_relations("dashboard-links")[0].local_app_data["dashboard_links"])
    assert link[0]["link"] == "/kserve-endpoints/"
    assert link[0]["location"] == "menu"


# --- Kubernetes errors -------------------------------------------------------------------


def test_forbidden_is_blocked_with_juju_trust(ctx, fake_k8s):
    fake_k8s.inject_fault(verb="apply", status=403, times=None)
    out = ctx.run(ctx.on.install(), state())
    assert out.unit_status.name == "blocked"
    assert "juju trust kserve --scope=cluster" in out.unit_status.message


def test_transient_api_error_waits_and_next_event_recovers(ctx, fake_k8s):
    fake_k8s.inject_fault(verb="list", status=500, times=1)
    out = ctx.run(ctx.on.install(), state())
    assert out.unit_status.name == "waiting"
    out = ctx.run(ctx.on.update_status(), out)
    assert out.unit_status.name == "active"
    assert len(fake_k8s.objects("ClusterServingRuntime")) == 11


def test_runtime_webhook_not_ready_waits(ctx, fake_k8s):
    fake_k8s.inject_fault(verb="apply", kind="ClusterServingRuntime", status=500, times=None)
    out = ctx.run(ctx.on.install(), state())
    assert out.unit_status == testing.WaitingStatus(
        "waiting for the KServe webhook to accept serving runtimes"
    )
    assert len(fake_k8s.objects("CustomResourceDefinition")) == 9


def test_timeout_waits(ctx, fake_k8s):
    fake_k8s.inject_fault(verb="apply", status="timeout", times=None)
    out = ctx.run(ctx.on.install(), state())
    assert out.unit_status.name == "waiting"
    assert "will retry" in out.unit_status.message


# --- object storage ----------------------------------------------------------------------


def test_s3_credentials_become_secret_and_service_account_for_the_dispatcher(ctx, fake_k8s):
    rel, creds = s3_relation()
    relations = [rel, manifest_relation("secrets"), manifest_relation("service-accounts")]
    out = ctx.run(ctx.on.relation_changed(rel), state(relations=relations, secrets=[creds]))

    [secret] = manifests_sent(out, "secrets")
    assert secret["kind"] == "Secret"
    assert secret["metadata"]["name"] == "kserve-controller-s3"
    assert secret["metadata"]["annotations"]["serving.kserve.io/s3-endpoint"] == (
        "minio.kubeflow.svc.cluster.local:9000"
    )
    assert secret["metadata"]["annotations"]["serving.kserve.io/s3-usehttps"] == "0"
    assert secret["metadata"]["annotations"]["serving.kserve.io/s3-region"] == "eu-west-1"
    assert secret["stringData"] == {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    }
    [sa] = manifests_sent(out, "service-accounts")
    assert sa["secrets"] == [{"name": "kserve-controller-s3"}]
    s3_request = out.get_relations("s3")[0].local_app_data
    assert json.loads(s3_request["requested-secrets"]) == ["access-key", "secret-key"]
    assert out.unit_status.name == "active"
    assert out.unit_status.message == ""


def test_object_storage_is_used_when_no_s3_relation(ctx, fake_k8s):
    relations = [object_storage_relation(secure=True), manifest_relation("secrets")]
    out = ctx.run(ctx.on.relation_changed(relations[0]), state(relations=relations))
    [secret] = manifests_sent(out, "secrets")
    annotations = secret["metadata"]["annotations"]
    assert annotations["serving.kserve.io/s3-endpoint"] == "minio.kubeflow:9000"
    assert annotations["serving.kserve.io/s3-usehttps"] == "1"
    assert annotations["serving.kserve.io/s3-verifyssl"] == "1"


def test_s3_tls_ca_goes_to_a_configmap_the_storage_initializer_mounts(ctx, fake_k8s):
    ca = certs.generate(
        ["ca.test"],
        now=datetime.datetime.now(datetime.timezone.utc),
        validity=datetime.timedelta(days=30),
        ca_name="s3-ca",
    )[0]
    rel, creds = s3_relation(
        endpoint="https://minio.kubeflow:9000", **{"tls-ca-chain": json.dumps([ca])}
    )
    relations = [rel, manifest_relation("secrets")]
    out = ctx.run(ctx.on.relation_changed(rel), state(relations=relations, secrets=[creds]))
    cm = fake_k8s.find("ConfigMap", "kserve-s3-ca-bundle", "kubeflow")
    assert cm.data["cabundle.crt"].strip() == ca.strip()
    assert (
        isvc_config(fake_k8s)["storageInitializer"]["caBundleConfigMapName"]
        == "kserve-s3-ca-bundle"
    )
    [secret] = manifests_sent(out, "secrets")
    assert secret["metadata"]["annotations"]["serving.kserve.io/s3-cabundle"] == (
        "/etc/ssl/custom-certs/cabundle.crt"
    )


def test_s3_without_credentials_yet_waits(ctx, fake_k8s):
    rel = testing.Relation("s3", remote_app_name="minio", remote_app_data={"lib-version": "1.0"})
    out = ctx.run(
        ctx.on.relation_changed(rel), state(relations=[rel, manifest_relation("secrets")])
    )
    assert out.unit_status.name == "waiting"
    assert "object storage credentials" in out.unit_status.message
    assert manifests_sent(out, "secrets") == []


def test_malformed_s3_endpoint_is_blocked_naming_the_field(ctx, fake_k8s):
    rel, creds = s3_relation(endpoint="minio:9000")
    out = ctx.run(ctx.on.relation_changed(rel), state(relations=[rel], secrets=[creds]))
    assert out.unit_status.name == "blocked"
    assert "'endpoint'" in out.unit_status.message
    assert "juju remove-relation kserve:s3" in out.unit_status.message


def test_s3_relation_broken_withdraws_the_manifests(ctx, fake_k8s):
    rel, creds = s3_relation()
    relations = [rel, manifest_relation("secrets"), manifest_relation("service-accounts")]
    out = ctx.run(ctx.on.relation_changed(rel), state(relations=relations, secrets=[creds]))
    assert manifests_sent(out, "secrets")
    st = testing.State(
        leader=True,
        relations=out.relations,
        secrets=out.secrets,
        containers=out.containers,
        model=out.model,
    )
    out = ctx.run(ctx.on.relation_broken(out.get_relations("s3")[0]), st)
    assert manifests_sent(out, "secrets") == []
    assert manifests_sent(out, "service-accounts") == []


def test_dispatcher_relation_created_publishes_in_a_juju_secret(ctx, fake_k8s):
    rel, creds = s3_relation()
    secrets_rel = manifest_relation("secrets")
    out = ctx.run(
        ctx.on.relation_created(secrets_rel), state(relations=[rel, secrets_rel], secrets=[creds])
    )
    data = out.get_relations("secrets")[0].local_app_data
    assert data["kubernetes_manifests"].startswith("secret:")
    assert SECRET_KEY not in json.dumps(dict(data))
    assert manifests_sent(out, "secrets")[0]["kind"] == "Secret"


def test_secret_changed_rotates_the_credentials_sent(ctx, fake_k8s):
    rel, creds = s3_relation()
    rotated = testing.Secret(
        {"access-key": ACCESS_KEY, "secret-key": SECRET_KEY + "-v2"}, id=creds.id
    )
    out = ctx.run(
        ctx.on.secret_changed(rotated),
        state(relations=[rel, manifest_relation("secrets")], secrets=[rotated]),
    )
    [secret] = manifests_sent(out, "secrets")
    assert secret["stringData"]["AWS_SECRET_ACCESS_KEY"] == SECRET_KEY + "-v2"


# --- certificates ------------------------------------------------------------------------


def test_expiring_certificate_is_rotated_and_pushed_and_cabundle_reapplied(
    ctx, fake_k8s, tmp_path
):
    old_now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=350)
    names = ks.webhook_dns_names("kserve", "kubeflow")
    ca, cert, key = certs.generate(
        names, now=old_now, validity=datetime.timedelta(days=365), ca_name="x"
    )
    old = testing.Secret(
        {"ca-cert": ca, "tls-cert": cert, "tls-key": key},
        owner="app",
        label="kserve-webhook-certs",
    )
    mount = testing.Mount(location=ks.CERT_DIR, source=tmp_path)
    (tmp_path / "tls.crt").write_text(cert)
    (tmp_path / "tls.key").write_text(key)
    containers = [controller_container(mounts={"certs": mount}), web_app_container()]
    out = ctx.run(ctx.on.update_status(), state(secrets=[old], containers=containers))
    new = certs_secret(out).latest_content
    assert new["tls-cert"] != cert
    assert (tmp_path / "tls.crt").read_text() == new["tls-cert"]
    bundle = base64.b64decode(next(iter(webhook_ca_bundles(fake_k8s)))).decode()
    assert new["ca-cert"] in bundle
    assert ca in bundle  # the previous CA stays while valid


# --- removal, purge ----------------------------------------------------------------------


def _seed_isvc(fake):
    fake.add(
        {
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {"name": "sklearn-iris", "namespace": "user1"},
            "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}}}},
        }
    )


def test_removing_the_application_deletes_webhooks_but_keeps_crds_and_users_objects(ctx, fake_k8s):
    out = ctx.run(ctx.on.install(), state())
    _seed_isvc(fake_k8s)
    st = testing.State(
        leader=True,
        relations=out.relations,
        secrets=out.secrets,
        containers=out.containers,
        model=out.model,
        planned_units=0,
    )
    ctx.run(ctx.on.remove(), st)
    assert fake_k8s.objects("ValidatingWebhookConfiguration") == []
    assert fake_k8s.objects("MutatingWebhookConfiguration") == []
    assert len(fake_k8s.objects("CustomResourceDefinition")) == 9
    assert len(fake_k8s.objects("ClusterServingRuntime")) == 11
    assert fake_k8s.find("InferenceService", "sklearn-iris", "user1") is not None


def test_removing_one_unit_deletes_nothing(ctx, fake_k8s):
    out = ctx.run(ctx.on.install(), state())
    fake_k8s.reset_log()
    st = testing.State(
        leader=True,
        relations=out.relations,
        secrets=out.secrets,
        containers=out.containers,
        model=out.model,
        planned_units=2,
    )
    ctx.run(ctx.on.remove(), st)
    assert fake_k8s.writes() == []


def test_purge_requires_confirmation(ctx, fake_k8s):
    ctx.run(ctx.on.install(), state())
    with pytest.raises(testing.ActionFailed, match="confirm=kserve"):
        ctx.run(ctx.on.action("purge", params={"confirm": "yes"}), state())
    assert len(fake_k8s.objects("ClusterServingRuntime")) == 11


def test_purge_without_crds_keeps_them_and_stays_purged(ctx, fake_k8s):
    out = ctx.run(ctx.on.install(), state())
    _seed_isvc(fake_k8s)
    out = ctx.run(ctx.on.action("purge", params={"confirm": "kserve"}), out)
    assert out.unit_status == testing.BlockedStatus(
        "cluster objects purged: juju remove-application kserve"
    )
    fake_k8s.reset_log()
    out = ctx.run(ctx.on.update_status(), out)
    assert fake_k8s.writes() == []
    assert out.unit_status.name == "blocked"
    assert fake_k8s.objects("ClusterServingRuntime") == []
    assert fake_k8s.objects("ValidatingWebhookConfiguration") == []
    assert len(fake_k8s.objects("CustomResourceDefinition")) == 9
    assert fake_k8s.find("InferenceService", "sklearn-iris", "user1") is not None
    assert ctx.action_results["crds-deleted"] is False


def test_purge_with_crds_deletes_them(ctx, fake_k8s):
    ctx.run(ctx.on.install(), state())
    ctx.run(ctx.on.action("purge", params={"confirm": "kserve", "include-crds": True}), state())
    assert fake_k8s.objects("CustomResourceDefinition") == []


def test_purge_on_a_follower_fails(ctx, fake_k8s):
    with pytest.raises(testing.ActionFailed, match="leader"):
        ctx.run(ctx.on.action("purge", params={"confirm": "kserve"}), state(leader=False))


# --- COS ---------------------------------------------------------------------------------


def test_cos_scrape_job_dashboard_and_log_forwarding(ctx, fake_k8s):
    relations = cos_relations()
    st = state(relations=relations)
    out = ctx.run(ctx.on.relation_joined(relations[0], remote_unit=0), st)
    jobs = json.loads(out.get_relations("metrics-endpoint")[0].local_app_data["scrape_jobs"])
    assert jobs[0]["static_configs"][0]["targets"] == ["*:8080"]
    rules = json.loads(out.get_relations("metrics-endpoint")[0].local_app_data["alert_rules"])
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert {"KServeReconcileErrors", "KServeWebhookFailures"} <= alerts
    dashboards = json.loads(out.get_relations("grafana-dashboard")[0].local_app_data["dashboards"])
    assert "file:kserve" in dashboards["templates"]
    targets = out.get_container("kserve-controller").plan.to_dict()["log-targets"]
    assert [t["location"] for t in targets.values()] == [LOKI_URL]


@pytest.mark.parametrize(
    "event",
    ["upgrade_charm", "leader_elected", "start", "config_changed", "update_status"],
)
def test_lifecycle_events_end_active(ctx, fake_k8s, event):
    out = ctx.run(getattr(ctx.on, event)(), state())
    assert out.unit_status.name == "active"
    assert len(fake_k8s.objects("CustomResourceDefinition")) == 9


def test_peer_relation_changed_on_follower_picks_up_new_certificates(ctx, fake_k8s):
    leader_out = ctx.run(ctx.on.install(), state())
    peers = testing.PeerRelation(
        "kserve-peers", local_app_data={"webhook-cert-not-after": "x"}, peers_data={1: {}}
    )
    st = state(
        leader=False, secrets=[certs_secret(leader_out)], with_peers=False, relations=[peers]
    )
    out = ctx.run(ctx.on.relation_changed(peers, remote_unit=1), st)
    assert out.unit_status.name == "active"
