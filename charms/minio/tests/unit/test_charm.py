"""State-transition tests of the charm over every event path."""

from __future__ import annotations

import json

import ops
import pytest
import yaml
from charm import ROOT_SECRET_LABEL, MinioCharm
from conftest import MODEL, container, peers, root_secret, state
from kfcharm.testing.leaks import RecordingContext
from ops import pebble, testing
from s3_client import S3ConnectionError, S3Error
from tls_fixtures import make_pki

ROOT_ACCESS = "GENERATEDACCESSKEY01"
ROOT_SECRET = "s" * 39 + "1"


def secret_by_label(out: testing.State, label: str) -> testing.Secret:
    matches = [s for s in out.secrets if s.label == label]
    assert len(matches) == 1, [s.label for s in out.secrets]
    return matches[0]


def minio_service(out: testing.State) -> dict:
    layer = out.get_container("minio").plan.to_dict()
    return layer["services"]["minio"]


def object_storage_relation() -> testing.Relation:
    return testing.Relation(
        "object-storage",
        remote_app_name="kfp-api",
        remote_app_data={"_supported_versions": "- v1\n"},
    )


def s3_relation(bucket: str | None = "mlflow", **extra: str) -> testing.Relation:
    data = {"requested-secrets": json.dumps(["access-key", "secret-key"]), "lib-version": "1.0"}
    if bucket:
        data["bucket"] = bucket
    data.update(extra)
    return testing.Relation("s3", remote_app_name="mlflow-server", remote_app_data=data)


# --- install / leader / credentials ------------------------------------------------------


def test_install_on_leader_generates_credentials_and_starts_single_node(ctx):
    out = ctx.run(ctx.on.install(), state(pool=None))
    secret = secret_by_label(out, ROOT_SECRET_LABEL)
    content = secret.latest_content
    assert len(content["access-key"]) == 20
    assert len(content["secret-key"]) == 40
    assert out.get_relations("minio-peers")[0].local_app_data["pool-size"] == "1"
    service = minio_service(out)
    assert service["command"].endswith(" /data")
    assert service["environment"]["MINIO_ROOT_USER"] == content["access-key"]
    assert service["environment"]["MINIO_ROOT_PASSWORD"] == content["secret-key"]
    assert content["secret-key"] not in service["command"]
    assert out.get_container("minio").service_statuses["minio"] == pebble.ServiceStatus.ACTIVE
    assert out.unit_status == testing.ActiveStatus()
    assert out.app_status == testing.ActiveStatus()
    assert {p.port for p in out.opened_ports} == {9000, 9001}


def test_credentials_survive_a_leader_change(ctx):
    existing = root_secret()
    out = ctx.run(ctx.on.leader_elected(), state(secrets=(existing,)))
    assert secret_by_label(out, ROOT_SECRET_LABEL).latest_content == existing.tracked_content
    assert minio_service(out)["environment"]["MINIO_ROOT_USER"] == ROOT_ACCESS
    assert out.get_relations("minio-peers")[0].local_app_data["pool-size"] == "1"


def test_follower_waits_for_the_leader_credentials(ctx):
    out = ctx.run(ctx.on.install(), state(leader=False))
    assert out.unit_status == testing.WaitingStatus(
        "waiting for the leader to generate root credentials"
    )
    assert not out.get_container("minio").layers
    assert not [s for s in out.secrets if s.label == ROOT_SECRET_LABEL]


def test_follower_runs_with_the_app_secret(ctx):
    out = ctx.run(ctx.on.pebble_ready(container()), state(leader=False, secrets=(root_secret(),)))
    assert minio_service(out)["environment"]["MINIO_ROOT_PASSWORD"] == ROOT_SECRET
    assert out.unit_status == testing.ActiveStatus()


def test_follower_finds_the_secret_by_the_id_the_leader_published(ctx):
    unlabelled = testing.Secret(
        tracked_content={"access-key": ROOT_ACCESS, "secret-key": ROOT_SECRET}, owner="app"
    )
    rel = testing.PeerRelation(
        "minio-peers", local_app_data={"pool-size": "1", "root-secret-id": unlabelled.id}
    )
    st = state(leader=False, secrets=(unlabelled,), with_peers=False, relations=(rel,))
    out = ctx.run(ctx.on.update_status(), st)
    assert minio_service(out)["environment"]["MINIO_ROOT_PASSWORD"] == ROOT_SECRET
    assert out.unit_status == testing.ActiveStatus()


def test_leader_publishes_the_secret_id_and_a_fingerprint_to_peers(ctx):
    out = ctx.run(ctx.on.install(), state(pool=None))
    peer_data = out.get_relations("minio-peers")[0].local_app_data
    secret = secret_by_label(out, ROOT_SECRET_LABEL)
    assert peer_data["root-secret-id"] == secret.id
    assert len(peer_data["credentials-fingerprint"]) == 16
    assert secret.latest_content["secret-key"] not in str(dict(peer_data))


def test_follower_waits_for_the_pool_size(ctx):
    out = ctx.run(ctx.on.install(), state(leader=False, secrets=(root_secret(),), pool=None))
    assert out.unit_status == testing.WaitingStatus("waiting for the leader to size the pool")


def test_missing_peer_relation_waits(ctx):
    out = ctx.run(ctx.on.install(), state(with_peers=False))
    assert out.unit_status == testing.WaitingStatus("waiting for the peer relation")


def test_pebble_not_ready_waits(ctx):
    out = ctx.run(ctx.on.install(), state(containers=(container(can_connect=False),)))
    assert out.unit_status == testing.WaitingStatus("waiting for the minio container's Pebble")


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({"port": 80}, "config option 'port' must be between 1024 and 65535"),
        ({"console-port": 9000}, "config option 'console-port' must differ from port"),
        ({"region": "Not Valid"}, "config option 'region'"),
    ],
)
def test_invalid_config_blocks_naming_the_option(ctx, config, needle):
    out = ctx.run(ctx.on.config_changed(), state(config=config, secrets=(root_secret(),)))
    assert out.unit_status.name == "blocked"
    assert needle in out.unit_status.message
    assert "juju config minio" in out.unit_status.message
    assert not out.get_container("minio").layers


# --- operator-supplied credentials -------------------------------------------------------


def user_secret(content: dict[str, str]) -> testing.Secret:
    return testing.Secret(tracked_content=content)


def test_operator_credentials_from_a_user_secret(ctx):
    user = user_secret({"access-key": "operator", "secret-key": "operator-secret-1"})
    out = ctx.run(
        ctx.on.config_changed(),
        state(config={"root-credentials-secret": user.id}, secrets=(user, root_secret())),
    )
    env = minio_service(out)["environment"]
    assert (env["MINIO_ROOT_USER"], env["MINIO_ROOT_PASSWORD"]) == (
        "operator",
        "operator-secret-1",
    )
    assert out.unit_status == testing.ActiveStatus()


def test_unknown_user_secret_blocks(ctx):
    out = ctx.run(
        ctx.on.config_changed(),
        state(config={"root-credentials-secret": "secret:" + "a" * 20}),
    )
    assert out.unit_status == testing.BlockedStatus(
        "secret in 'root-credentials-secret' not found: check juju secrets"
    )


def test_unreadable_user_secret_says_how_to_grant(ctx, monkeypatch):
    user = user_secret({"access-key": "operator", "secret-key": "operator-secret-1"})

    def denied(self, *args, **kwargs):
        raise ops.ModelError("permission denied")

    monkeypatch.setattr(ops.Secret, "get_content", denied)
    out = ctx.run(
        ctx.on.config_changed(),
        state(config={"root-credentials-secret": user.id}, secrets=(user,)),
    )
    assert out.unit_status.name == "blocked"
    assert f"juju grant-secret {user.id.removeprefix('secret:')} minio" in out.unit_status.message


def test_bad_user_secret_content_blocks(ctx):
    user = user_secret({"access-key": "op", "secret-key": "short"})
    out = ctx.run(
        ctx.on.config_changed(),
        state(config={"root-credentials-secret": user.id}, secrets=(user,)),
    )
    assert out.unit_status == testing.BlockedStatus(
        "secret in 'root-credentials-secret' 'access-key' must be 3-20 characters: "
        "update it with juju update-secret"
    )


def test_rotating_the_user_secret_reaches_every_consumer_in_one_hook(ctx, buckets):
    user = testing.Secret(
        tracked_content={"access-key": "operator", "secret-key": "old-secret-123"},
        latest_content={"access-key": "operator", "secret-key": "new-secret-456"},
    )
    obj, s3 = object_storage_relation(), s3_relation()
    before = state(
        config={"root-credentials-secret": user.id},
        secrets=(user,),
        relations=(obj, s3),
    )
    out = ctx.run(ctx.on.secret_changed(user), before)
    data = yaml.safe_load(out.get_relation(obj.id).local_app_data["data"])
    assert data["secret-key"] == "new-secret-456"
    extra = out.get_relation(s3.id).local_app_data["secret-extra"]
    s3_secret = next(s for s in out.secrets if s.id == extra)
    assert s3_secret.latest_content["secret-key"] == "new-secret-456"
    assert minio_service(out)["environment"]["MINIO_ROOT_PASSWORD"] == "new-secret-456"
    peer = out.get_relations("minio-peers")[0].local_app_data
    assert len(peer["credentials-fingerprint"]) == 16


# --- object-storage ----------------------------------------------------------------------


def test_object_storage_publishes_sdi_v1(ctx):
    rel = object_storage_relation()
    out = ctx.run(ctx.on.relation_changed(rel), state(relations=(rel,), secrets=(root_secret(),)))
    app_data = out.get_relation(rel.id).local_app_data
    assert app_data["_supported_versions"] == "- v1\n"
    assert yaml.safe_load(app_data["data"]) == {
        "access-key": ROOT_ACCESS,
        "secret-key": ROOT_SECRET,
        "service": "minio",
        "port": 9000,
        "secure": False,
        "namespace": MODEL.name,
    }


def test_object_storage_waits_for_an_unversioned_requirer(ctx):
    rel = testing.Relation("object-storage", remote_app_name="kfp-ui")
    out = ctx.run(ctx.on.relation_created(rel), state(relations=(rel,), secrets=(root_secret(),)))
    app_data = out.get_relation(rel.id).local_app_data
    assert "data" not in app_data
    assert app_data["_supported_versions"] == "- v1\n"
    assert out.app_status == testing.ActiveStatus()


def test_object_storage_incompatible_version_blocks(ctx):
    rel = testing.Relation(
        "object-storage", remote_app_name="odd", remote_app_data={"_supported_versions": "- v9\n"}
    )
    out = ctx.run(ctx.on.relation_changed(rel), state(relations=(rel,), secrets=(root_secret(),)))
    assert out.app_status.name == "blocked"
    assert "no compatible object-storage version" in out.app_status.message


def test_non_leader_writes_no_relation_data(ctx):
    rel = object_storage_relation()
    out = ctx.run(
        ctx.on.relation_changed(rel),
        state(leader=False, relations=(rel,), secrets=(root_secret(),)),
    )
    assert dict(out.get_relation(rel.id).local_app_data) == {}


# --- s3 ----------------------------------------------------------------------------------


def test_s3_creates_the_bucket_and_shares_credentials_in_a_secret(ctx, buckets):
    rel = s3_relation(path="runs/")
    out = ctx.run(ctx.on.relation_changed(rel), state(relations=(rel,), secrets=(root_secret(),)))
    data = out.get_relation(rel.id).local_app_data
    assert buckets.calls == [
        {
            "bucket": "mlflow",
            "host": "minio.kubeflow.svc.cluster.local",
            "port": 9000,
            "tls": False,
            "access_key": ROOT_ACCESS,
            "secret_key": ROOT_SECRET,
        }
    ]
    assert data["bucket"] == "mlflow"
    assert data["endpoint"] == "http://minio.kubeflow.svc.cluster.local:9000"
    assert data["region"] == "us-east-1"
    assert data["path"] == "runs/"
    assert data["s3-uri-style"] == "path"
    assert data["lib-version"] == "1.0"
    assert "access-key" not in data
    assert "secret-key" not in data
    secret = next(s for s in out.secrets if s.id == data["secret-extra"])
    assert secret.latest_content == {"access-key": ROOT_ACCESS, "secret-key": ROOT_SECRET}
    assert rel.id in secret.remote_grants


def test_s3_bucket_is_created_once(ctx, buckets):
    rel = s3_relation()
    first = ctx.run(
        ctx.on.relation_changed(rel), state(relations=(rel,), secrets=(root_secret(),))
    )
    ctx.run(ctx.on.update_status(), first)
    assert [c["bucket"] for c in buckets.calls] == ["mlflow"]


def test_s3_without_bucket_request_publishes_without_creating(ctx, buckets):
    rel = s3_relation(bucket=None)
    out = ctx.run(ctx.on.relation_changed(rel), state(relations=(rel,), secrets=(root_secret(),)))
    assert buckets.calls == []
    data = out.get_relation(rel.id).local_app_data
    assert "bucket" not in data
    assert data["secret-extra"].startswith("secret:")


def test_s3_unreachable_minio_waits_and_publishes_nothing(ctx, buckets):
    buckets.fail_with = S3ConnectionError("refused")
    rel = s3_relation()
    out = ctx.run(ctx.on.relation_changed(rel), state(relations=(rel,), secrets=(root_secret(),)))
    assert out.app_status.name == "waiting"
    assert "bucket mlflow for mlflow-server not created yet" in out.app_status.message
    assert "secret-extra" not in out.get_relation(rel.id).local_app_data


def test_s3_refused_bucket_blocks_with_the_fix(ctx, buckets):
    buckets.fail_with = S3Error(409, "BucketAlreadyExists")
    rel = s3_relation()
    out = ctx.run(ctx.on.relation_changed(rel), state(relations=(rel,), secrets=(root_secret(),)))
    assert out.app_status.name == "blocked"
    assert "BucketAlreadyExists" in out.app_status.message
    assert "juju remove-relation minio:s3 mlflow-server" in out.app_status.message


def test_s3_malformed_request_blocks_naming_the_relation(ctx, buckets):
    rel = s3_relation(bucket="Not_A_Bucket")
    out = ctx.run(ctx.on.relation_changed(rel), state(relations=(rel,), secrets=(root_secret(),)))
    assert out.app_status.name == "blocked"
    assert f"s3:{rel.id}" in out.app_status.message
    assert "bucket" in out.app_status.message
    assert buckets.calls == []


def test_s3_relation_broken_removes_its_secret(ctx, buckets):
    rel = s3_relation()
    first = ctx.run(
        ctx.on.relation_changed(rel), state(relations=(rel,), secrets=(root_secret(),))
    )
    extra = first.get_relation(rel.id).local_app_data["secret-extra"]
    out = ctx.run(ctx.on.relation_broken(first.get_relation(rel.id)), first)
    assert not [s for s in out.secrets if s.id == extra]
    assert secret_by_label(out, ROOT_SECRET_LABEL)


def test_s3_v0_requirer_gets_no_plain_credentials(ctx, buckets):
    rel = testing.Relation("s3", remote_app_name="old", remote_app_data={"bucket": "legacy"})
    out = ctx.run(ctx.on.relation_changed(rel), state(relations=(rel,), secrets=(root_secret(),)))
    assert dict(out.get_relation(rel.id).local_app_data) == {}
    assert out.app_status == testing.BlockedStatus(
        "old speaks s3 v0 (plain-text credentials), refused: upgrade it, "
        "or juju remove-relation minio:s3 old"
    )
    assert buckets.calls == []


# --- TLS ---------------------------------------------------------------------------------


def tls_secret(pki=None, **override: str) -> testing.Secret:
    pki = pki or make_pki(("minio.kubeflow.svc.cluster.local",))
    content = {
        "certificate": pki.cert_pem,
        "private-key": pki.key_pem,
        "ca-certificate": pki.ca_pem,
    }
    content.update(override)
    return testing.Secret(tracked_content=content)


def test_tls_pushes_certificates_and_switches_to_https(ctx, buckets):
    tls = tls_secret()
    obj, s3 = object_storage_relation(), s3_relation()
    out = ctx.run(
        ctx.on.config_changed(),
        state(config={"tls-secret": tls.id}, secrets=(tls, root_secret()), relations=(obj, s3)),
    )
    fs = out.get_container("minio").get_filesystem(ctx)
    assert (fs / "etc/minio/certs/public.crt").read_text() == tls.tracked_content["certificate"]
    assert (fs / "etc/minio/certs/private.key").read_text().startswith("-----BEGIN PRIVATE KEY")
    assert (fs / "etc/minio/certs/CAs/ca.crt").read_text() == tls.tracked_content["ca-certificate"]
    service = minio_service(out)
    assert "--certs-dir /etc/minio/certs" in service["command"]
    checks = out.get_container("minio").plan.to_dict()["checks"]
    assert "https://127.0.0.1:9000/minio/health/live" in checks["minio-alive"]["exec"]["command"]
    data = yaml.safe_load(out.get_relation(obj.id).local_app_data["data"])
    assert data["secure"] is True
    s3_data = out.get_relation(s3.id).local_app_data
    assert s3_data["endpoint"] == "https://minio.kubeflow.svc.cluster.local:9000"
    assert json.loads(s3_data["tls-ca-chain"]) == [tls.tracked_content["ca-certificate"]]
    assert buckets.calls[0]["tls"] is True
    assert out.unit_status == testing.ActiveStatus()


def test_switching_tls_off_removes_the_key(ctx):
    tls = tls_secret()
    on = ctx.run(
        ctx.on.config_changed(), state(config={"tls-secret": tls.id}, secrets=(tls, root_secret()))
    )
    off = ctx.run(ctx.on.config_changed(), dataclasses_replace(on, config={}))
    fs = off.get_container("minio").get_filesystem(ctx)
    assert not (fs / "etc/minio/certs/private.key").exists()
    assert "--certs-dir" not in minio_service(off)["command"]


def dataclasses_replace(st: testing.State, **changes):
    import dataclasses

    return dataclasses.replace(st, **changes)


def test_tls_key_not_matching_blocks(ctx):
    pki = make_pki()
    tls = tls_secret(pki, **{"private-key": pki.other_key_pem})
    out = ctx.run(
        ctx.on.config_changed(), state(config={"tls-secret": tls.id}, secrets=(tls, root_secret()))
    )
    assert out.unit_status == testing.BlockedStatus(
        "secret in 'tls-secret' 'private-key' does not match 'certificate': "
        "update it with juju update-secret"
    )
    assert not out.get_container("minio").layers


# --- topology ----------------------------------------------------------------------------


@pytest.mark.parametrize("units", [2, 3])
def test_two_or_three_units_block_and_run_nothing(ctx, units):
    out = ctx.run(
        ctx.on.install(), state(planned_units=units, pool=None, secrets=(root_secret(),))
    )
    assert out.unit_status.name == "blocked"
    assert f"{units} units: MinIO runs on 1 unit, or distributed on 4 or more" in (
        out.unit_status.message
    )
    assert out.app_status == out.unit_status
    assert "pool-size" not in out.get_relations("minio-peers")[0].local_app_data
    assert not out.get_container("minio").layers


def test_four_units_run_distributed_over_stable_names(ctx):
    out = ctx.run(ctx.on.install(), state(planned_units=4, pool=None, secrets=(root_secret(),)))
    assert out.get_relations("minio-peers")[0].local_app_data["pool-size"] == "4"
    assert minio_service(out)["command"].endswith(
        "http://minio-{0...3}.minio-endpoints.kubeflow.svc.cluster.local:9000/data"
    )
    assert out.unit_status == testing.ActiveStatus()


def test_scaling_a_single_node_out_keeps_the_layout_and_says_why(ctx):
    extra_unit = RecordingContext(MinioCharm, unit_id=2)
    out = extra_unit.run(
        ctx.on.update_status(),
        state(leader=False, planned_units=4, pool="1", secrets=(root_secret(),)),
    )
    assert out.unit_status.name == "blocked"
    assert "outside the 1-node MinIO pool" in out.unit_status.message
    assert "juju scale-application minio 1" in out.unit_status.message
    assert not out.get_container("minio").layers


def test_idle_unit_stops_a_running_server(ctx):
    extra_unit = RecordingContext(MinioCharm, unit_id=1)
    running = container(
        layers={
            "minio": pebble.Layer(
                {
                    "services": {
                        "minio": {"override": "replace", "command": "x", "startup": "enabled"}
                    }
                }
            )
        },
        service_statuses={"minio": pebble.ServiceStatus.ACTIVE},
    )
    out = extra_unit.run(
        ctx.on.update_status(),
        state(
            leader=False,
            planned_units=2,
            pool="1",
            secrets=(root_secret(),),
            containers=(running,),
        ),
    )
    assert out.get_container("minio").service_statuses["minio"] == pebble.ServiceStatus.INACTIVE


# --- actions -----------------------------------------------------------------------------


def test_get_root_credentials_hides_the_secret_key_by_default(ctx):
    ctx.run(ctx.on.action("get-root-credentials"), state(secrets=(root_secret(),)))
    assert ctx.action_results["access-key"] == ROOT_ACCESS
    assert "secret-key" not in ctx.action_results
    assert ctx.action_results["secret-id"].startswith("secret:")


@pytest.mark.leak_allow("action-results:secret-key")
def test_get_root_credentials_reveals_on_request(ctx):
    ctx.run(
        ctx.on.action("get-root-credentials", params={"reveal": True}),
        state(secrets=(root_secret(),)),
    )
    assert ctx.action_results["secret-key"] == ROOT_SECRET


def test_rotate_root_credentials_updates_secret_server_and_consumers(ctx, buckets):
    obj, s3 = object_storage_relation(), s3_relation()
    before = state(secrets=(root_secret(),), relations=(obj, s3))
    out = ctx.run(ctx.on.action("rotate-root-credentials"), before)
    new = secret_by_label(out, ROOT_SECRET_LABEL).latest_content
    assert new["secret-key"] != ROOT_SECRET
    assert ctx.action_results["access-key"] == new["access-key"]
    assert minio_service(out)["environment"]["MINIO_ROOT_PASSWORD"] == new["secret-key"]
    data = yaml.safe_load(out.get_relation(obj.id).local_app_data["data"])
    assert data["secret-key"] == new["secret-key"]
    extra = out.get_relation(s3.id).local_app_data["secret-extra"]
    assert (
        next(s for s in out.secrets if s.id == extra).latest_content["secret-key"]
        == new["secret-key"]
    )


def test_rotate_refuses_with_operator_credentials(ctx):
    user = user_secret({"access-key": "operator", "secret-key": "operator-secret-1"})
    with pytest.raises(testing.ActionFailed, match="update that secret"):
        ctx.run(
            ctx.on.action("rotate-root-credentials"),
            state(config={"root-credentials-secret": user.id}, secrets=(user,)),
        )


def test_rotate_refuses_on_a_follower(ctx):
    with pytest.raises(testing.ActionFailed, match="leader"):
        ctx.run(
            ctx.on.action("rotate-root-credentials"), state(leader=False, secrets=(root_secret(),))
        )


def test_create_bucket_action(ctx, buckets):
    ctx.run(
        ctx.on.action("create-bucket", params={"name": "datasets"}),
        state(secrets=(root_secret(),)),
    )
    assert ctx.action_results == {"bucket": "datasets", "created": True}
    assert buckets.calls[0]["bucket"] == "datasets"


def test_create_bucket_action_rejects_bad_names(ctx, buckets):
    with pytest.raises(testing.ActionFailed, match="invalid bucket name"):
        ctx.run(
            ctx.on.action("create-bucket", params={"name": "Bad_Name"}),
            state(secrets=(root_secret(),)),
        )
    assert buckets.calls == []


def test_create_bucket_action_reports_unreachable_server(ctx, buckets):
    buckets.fail_with = S3ConnectionError("x")
    with pytest.raises(testing.ActionFailed, match="not reachable"):
        ctx.run(
            ctx.on.action("create-bucket", params={"name": "datasets"}),
            state(secrets=(root_secret(),)),
        )


# --- COS ---------------------------------------------------------------------------------


def test_metrics_endpoint_publishes_cluster_and_node_jobs(ctx):
    rel = testing.Relation("metrics-endpoint", remote_app_name="prometheus")
    out = ctx.run(ctx.on.relation_joined(rel), state(relations=(rel,), secrets=(root_secret(),)))
    app_data = out.get_relation(rel.id).local_app_data
    jobs = json.loads(app_data["scrape_jobs"])
    assert [j["metrics_path"] for j in jobs] == [
        "/minio/v2/metrics/cluster",
        "/minio/v2/metrics/node",
    ]
    assert jobs[0]["static_configs"][0]["targets"] == ["*:9000"]
    groups = json.loads(app_data["alert_rules"])["groups"]
    alerts = {r["alert"] for g in groups for r in g["rules"]}
    assert {"MinioDown", "MinioDiskAlmostFull", "MinioHighErrorRatio"} <= alerts
    assert json.loads(app_data["scrape_metadata"])["model_uuid"] == MODEL.uuid


def test_metrics_jobs_use_https_with_tls(ctx):
    tls = tls_secret()
    rel = testing.Relation("metrics-endpoint", remote_app_name="prometheus")
    out = ctx.run(
        ctx.on.config_changed(),
        state(config={"tls-secret": tls.id}, relations=(rel,), secrets=(tls, root_secret())),
    )
    jobs = json.loads(out.get_relation(rel.id).local_app_data["scrape_jobs"])
    assert {j["scheme"] for j in jobs} == {"https"}


def test_grafana_dashboard_is_published(ctx):
    rel = testing.Relation("grafana-dashboard", remote_app_name="grafana")
    out = ctx.run(ctx.on.relation_joined(rel), state(relations=(rel,), secrets=(root_secret(),)))
    dashboards = json.loads(out.get_relation(rel.id).local_app_data["dashboards"])
    assert list(dashboards["templates"]) == ["file:minio"]


def test_logs_are_forwarded_to_loki(ctx):
    rel = testing.Relation(
        "logging",
        remote_app_name="loki",
        remote_units_data={
            0: {"endpoint": json.dumps({"url": "http://loki-0.loki:3100/loki/api/v1/push"})}
        },
    )
    out = ctx.run(ctx.on.relation_changed(rel), state(relations=(rel,), secrets=(root_secret(),)))
    targets = out.get_container("minio").plan.to_dict()["log-targets"]
    assert [t["location"] for t in targets.values()] == [
        "http://loki-0.loki:3100/loki/api/v1/push"
    ]


# --- lifecycle ---------------------------------------------------------------------------


def test_storage_attached_starts_the_server(ctx):
    st = state(secrets=(root_secret(),))
    (storage,) = st.storages
    out = ctx.run(ctx.on.storage_attached(storage), st)
    assert out.get_container("minio").service_statuses["minio"] == pebble.ServiceStatus.ACTIVE


def test_upgrade_charm_keeps_credentials_and_pool(ctx):
    out = ctx.run(ctx.on.upgrade_charm(), state(secrets=(root_secret(),), planned_units=1))
    assert minio_service(out)["environment"]["MINIO_ROOT_USER"] == ROOT_ACCESS
    assert len([s for s in out.secrets if s.label == ROOT_SECRET_LABEL]) == 1


@pytest.mark.parametrize("event", ["stop", "remove"])
def test_teardown_touches_nothing(ctx, event):
    before = state(secrets=(root_secret(),))
    out = ctx.run(getattr(ctx.on, event)(), before)
    assert out.secrets == before.secrets
    assert out.get_container("minio").layers == {}
    assert out.get_relations("minio-peers")[0].local_app_data == {"pool-size": "1"}


def test_peer_change_on_follower_picks_up_rotated_credentials(ctx):
    rotated = testing.Secret(
        tracked_content={"access-key": ROOT_ACCESS, "secret-key": ROOT_SECRET},
        latest_content={"access-key": ROOT_ACCESS, "secret-key": "rotated-secret-key-9"},
        owner="app",
        label=ROOT_SECRET_LABEL,
    )
    rel = peers("1", peers_data={1: {}})
    st = state(leader=False, secrets=(rotated,), with_peers=False, relations=(rel,))
    out = ctx.run(ctx.on.relation_changed(rel, remote_unit=1), st)
    assert minio_service(out)["environment"]["MINIO_ROOT_PASSWORD"] == "rotated-secret-key-9"


# --- every relation event of every endpoint ---------------------------------------------


def _remote_data(endpoint: str) -> dict[str, str]:
    return {
        "object-storage": {"_supported_versions": "- v1\n"},
        "s3": {
            "requested-secrets": json.dumps(["access-key", "secret-key"]),
            "lib-version": "1.0",
        },
        "metrics-endpoint": {},
        "grafana-dashboard": {},
        "logging": {},
    }[endpoint]


@pytest.mark.parametrize(
    "endpoint", ["object-storage", "s3", "metrics-endpoint", "grafana-dashboard", "logging"]
)
@pytest.mark.parametrize("hook", ["created", "joined", "changed", "departed", "broken"])
@pytest.mark.parametrize("leader", [True, False])
def test_every_relation_event_settles(ctx, buckets, endpoint, hook, leader):
    rel = testing.Relation(
        endpoint, remote_app_name="remote", remote_app_data=_remote_data(endpoint)
    )
    st = state(leader=leader, relations=(rel,), secrets=(root_secret(),))
    if hook in ("joined", "departed"):
        event = getattr(ctx.on, f"relation_{hook}")(rel, remote_unit=0)
    else:
        event = getattr(ctx.on, f"relation_{hook}")(rel)
    out = ctx.run(event, st)
    assert out.unit_status == testing.ActiveStatus()
    assert minio_service(out)["environment"]["MINIO_ROOT_USER"] == ROOT_ACCESS
    if not leader:
        assert dict(out.get_relation(rel.id).local_app_data) == {}


def test_tls_secret_change_rolls_the_new_certificate(ctx):
    old, new = make_pki(), make_pki()
    tls = testing.Secret(
        tracked_content={"certificate": old.cert_pem, "private-key": old.key_pem},
        latest_content={"certificate": new.cert_pem, "private-key": new.key_pem},
    )
    out = ctx.run(
        ctx.on.secret_changed(tls),
        state(config={"tls-secret": tls.id}, secrets=(tls, root_secret())),
    )
    fs = out.get_container("minio").get_filesystem(ctx)
    assert (fs / "etc/minio/certs/public.crt").read_text() == new.cert_pem
    assert not (fs / "etc/minio/certs/CAs/ca.crt").exists()
