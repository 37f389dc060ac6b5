"""State-transition tests of the mysql charm (ops.testing), every event path.

The SQL layer is the stateful `FakeDatabase` (conftest); the real SQL is tested against
MariaDB in test_provisioning_mariadb.py. Every output state is leak-scanned by the `ctx`
fixture with every password the test produced.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone

import charm
import provisioning
import pytest
from conftest import MODEL, base_state, database_relation, system_secret
from ops import pebble, testing

ROOT_FILE = "/etc/mysql-charm/root-password"
EXPORTER_CNF = "/etc/mysqld-exporter/my.cnf"
ENDPOINT = f"mysql.{MODEL.name}.svc.cluster.local:3306"


def secret_by_label(state: testing.State, label: str) -> testing.Secret:
    matches = [s for s in state.secrets if s.label == label]
    assert len(matches) == 1, f"no single secret labelled {label}: {state.secrets}"
    return matches[0]


def system_passwords(state: testing.State) -> dict[str, str]:
    return secret_by_label(state, "system-users").latest_content


def relation_credentials(state: testing.State, relation: testing.Relation) -> dict[str, str]:
    data = state.get_relation(relation.id).local_app_data
    secret = next(s for s in state.secrets if s.id == data["secret-user"])
    return secret.latest_content


def read_file(ctx, state: testing.State, container: str, path: str) -> str:
    return (state.get_container(container).get_filesystem(ctx) / path.lstrip("/")).read_text()


def file_mode(ctx, state: testing.State, container: str, path: str) -> int:
    return (state.get_container(container).get_filesystem(ctx) / path.lstrip("/")).stat().st_mode


# -- install, leader election, Pebble ---------------------------------------------------------


def test_install_generates_system_passwords_into_an_app_secret(ctx, fake_db):
    out = ctx.run(ctx.on.install(), base_state())

    passwords = system_passwords(out)
    assert set(passwords) == {"root-password", "exporter-password"}
    assert all(len(p) == 32 and p.isalnum() for p in passwords.values())
    assert passwords["root-password"] != passwords["exporter-password"]
    assert secret_by_label(out, "system-users").owner == "app"
    assert out.unit_status == testing.ActiveStatus()


def test_install_starts_the_server_with_the_root_password_in_a_0600_file(ctx):
    out = ctx.run(ctx.on.install(), base_state())

    root = system_passwords(out)["root-password"]
    assert read_file(ctx, out, "mysql", ROOT_FILE) == root
    assert file_mode(ctx, out, "mysql", ROOT_FILE) & 0o777 == 0o600
    service = out.get_container("mysql").plan.services["mysql"]
    assert service.command.startswith("/usr/local/bin/docker-entrypoint.sh --datadir=")
    assert service.environment == {
        "MYSQL_ROOT_PASSWORD_FILE": ROOT_FILE,
        "MYSQL_ROOT_HOST": "127.0.0.1",
    }
    assert root not in service.command
    checks = out.get_container("mysql").plan.checks
    assert checks["mysql-ready"].level == pebble.CheckLevel.READY
    assert checks["mysql-alive"].level == pebble.CheckLevel.ALIVE
    assert out.opened_ports == {testing.TCPPort(3306)}


def test_install_configures_the_exporter_with_a_0600_my_cnf(ctx, fake_db):
    out = ctx.run(ctx.on.install(), base_state())

    exporter_password = system_passwords(out)["exporter-password"]
    cnf = read_file(ctx, out, "mysqld-exporter", EXPORTER_CNF)
    assert "user=exporter\n" in cnf
    assert f'password="{exporter_password}"' in cnf
    assert file_mode(ctx, out, "mysqld-exporter", EXPORTER_CNF) & 0o777 == 0o600
    plan = out.get_container("mysqld-exporter").plan
    assert plan.services["mysqld-exporter"].command == (
        f"/bin/mysqld_exporter --config.my-cnf={EXPORTER_CNF} --web.listen-address=:9104"
    )
    assert set(plan.checks) == {"exporter-ready", "exporter-alive"}
    assert fake_db.users[("exporter", "127.0.0.1")]["password"] == exporter_password
    assert ("exporter", "127.0.0.1", "*") in fake_db.grants


def test_leader_elected_keeps_existing_passwords(ctx, fake_db):
    state = base_state(secrets=[system_secret()])
    out = ctx.run(ctx.on.leader_elected(), state)

    assert system_passwords(out) == {"root-password": "R" * 32, "exporter-password": "E" * 32}
    assert fake_db.connections == ["root@127.0.0.1:3306"]
    assert read_file(ctx, out, "mysql", ROOT_FILE) == "R" * 32


def test_non_leader_waits_for_the_leader_to_generate_credentials(ctx, fake_db):
    out = ctx.run(ctx.on.install(), base_state(leader=False))

    assert out.unit_status == testing.WaitingStatus(
        "waiting for the leader to generate credentials"
    )
    assert not [s for s in out.secrets if s.label == "system-users"]
    assert fake_db.connections == []


def test_non_leader_primary_runs_the_workload_without_touching_sql(ctx, fake_db, fake_k8s):
    state = base_state(leader=False, secrets=[system_secret()])
    out = ctx.run(ctx.on.config_changed(), state)

    assert out.unit_status == testing.ActiveStatus()
    assert "mysql" in out.get_container("mysql").plan.services
    assert fake_db.connections == []
    assert fake_k8s.requests == []


@pytest.mark.parametrize("first", ["mysql", "mysqld-exporter"])
def test_pebble_ready_in_either_order(ctx, first):
    other = "mysqld-exporter" if first == "mysql" else "mysql"
    state = base_state(
        can_connect=first == "mysql", exporter_can_connect=first == "mysqld-exporter"
    )
    out = ctx.run(ctx.on.pebble_ready(state.get_container(first)), state)
    if first == "mysql":
        assert out.unit_status == testing.WaitingStatus(
            "waiting for the mysqld-exporter container to start (Pebble)"
        )
        assert "mysql" in out.get_container("mysql").plan.services
    else:
        assert out.unit_status == testing.WaitingStatus(
            "waiting for the mysql container to start (Pebble)"
        )
    ready = testing.Container(other, can_connect=True)
    containers = {c for c in out.containers if c.name != other} | {ready}
    state2 = dataclasses.replace(out, containers=containers)
    out2 = ctx.run(ctx.on.pebble_ready(ready), state2)
    assert out2.unit_status == testing.ActiveStatus()
    assert "mysql" in out2.get_container("mysql").plan.services
    assert "mysqld-exporter" in out2.get_container("mysqld-exporter").plan.services


def test_storage_attached_and_missing_storage(ctx):
    out = ctx.run(ctx.on.install(), base_state(storage=False))
    assert out.unit_status == testing.WaitingStatus("waiting for the database storage")
    assert out.get_container("mysql").plan.services == {}

    state = base_state(secrets=out.secrets)
    out = ctx.run(ctx.on.storage_attached(next(iter(state.storages))), state)
    assert out.unit_status == testing.ActiveStatus()
    assert "mysql" in out.get_container("mysql").plan.services


def test_unchanged_layers_are_not_replanned_and_files_not_repushed(ctx, tmp_path, caplog):
    # A mount keeps the pushed file across runs (Scenario wipes container filesystems).
    mounts = {"conf": testing.Mount(location="/etc/mysql-charm", source=tmp_path)}
    out = ctx.run(ctx.on.install(), base_state(mounts=mounts))
    root_file = tmp_path / "root-password"
    assert root_file.read_text() == system_passwords(out)["root-password"]
    before = root_file.stat().st_mtime_ns
    caplog.clear()
    out2 = ctx.run(ctx.on.update_status(), out)

    assert out2.get_container("mysql").plan.to_dict() == out.get_container("mysql").plan.to_dict()
    assert root_file.stat().st_mtime_ns == before
    assert "pushed /etc/mysql-charm/root-password" not in caplog.text
    assert "replanned" not in caplog.text
    assert out2.unit_status == testing.ActiveStatus()


def test_server_unavailable_waits_and_publishes_nothing(ctx, fake_db):
    fake_db.connect_error = provisioning.ServerUnavailableError("connecting failed (error 2003)")
    rel = database_relation()
    out = ctx.run(ctx.on.relation_changed(rel), base_state(relations=[rel]))

    assert out.unit_status == testing.WaitingStatus(
        "waiting for the database server to accept connections"
    )
    assert out.get_relation(rel.id).local_app_data == {}


def test_wrong_root_password_is_blocked_with_a_reason(ctx, fake_db):
    fake_db.root_password = "something-else"
    out = ctx.run(ctx.on.update_status(), base_state(secrets=[system_secret()]))

    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert "rejects the root password" in out.unit_status.message
    assert isinstance(out.app_status, testing.BlockedStatus)


def test_unexpected_sql_error_is_blocked_not_raised(ctx, fake_db):
    fake_db.fail_on["create_user"] = provisioning.ProvisioningError(
        "create user exporter failed (error 1227)", 1227
    )
    out = ctx.run(ctx.on.config_changed(), base_state())

    assert out.unit_status == testing.BlockedStatus(
        "database error: create user exporter failed (error 1227)"
    )


# -- config ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "reason"),
    [
        ("max-connections", 5, "must be between 10 and 10000"),
        ("memory-profile", "huge", "must be one of production, testing"),
        ("innodb-buffer-pool-size", "lots", "expected a size such as 256M or 2G"),
        ("innodb-buffer-pool-size", "1M", "must be at least 8M"),
        ("long-query-time", 0.0, "must be between 0.001 and 3600 seconds"),
        ("mysql-cpu-limit", "two", "'two' is not a Kubernetes quantity"),
        ("mysql-memory-limit", "100Mi", "must be at least 256Mi"),
        ("mysqld-exporter-memory-request", "1 Gi", "'1 Gi' is not a Kubernetes quantity"),
    ],
)
def test_invalid_config_is_blocked_naming_the_option(ctx, fake_db, option, value, reason):
    out = ctx.run(ctx.on.config_changed(), base_state(config={option: value}))

    assert isinstance(out.unit_status, testing.BlockedStatus)
    message = out.unit_status.message
    assert message.startswith(f"invalid config {option}: {reason}")
    assert f"juju config mysql {option}=" in message
    assert out.get_container("mysql").plan.services == {}
    assert fake_db.calls == []


def test_request_above_limit_is_blocked(ctx):
    config = {"mysql-memory-request": "4Gi", "mysql-memory-limit": "2Gi"}
    out = ctx.run(ctx.on.config_changed(), base_state(config=config))
    assert out.unit_status == testing.BlockedStatus(
        "invalid config mysql-memory-request: 4Gi is above mysql-memory-limit=2Gi "
        "(juju config mysql mysql-memory-request=... or --reset mysql-memory-request)"
    )
    assert out.app_status == out.unit_status


def test_config_drives_server_options(ctx):
    config = {
        "max-connections": 300,
        "mysql-memory-limit": "2Gi",
        "long-query-time": 0.5,
        "mysql-native-password": False,
    }
    out = ctx.run(ctx.on.config_changed(), base_state(config=config))

    command = out.get_container("mysql").plan.services["mysql"].command
    assert "--max-connections=300" in command
    assert f"--innodb-buffer-pool-size={int(2 * 2**30 * 0.6) // 2**20 * 2**20}" in command
    assert "--long-query-time=0.5" in command
    assert "native-password" not in command


# -- Kubernetes resources --------------------------------------------------------------------


def containers(fake_k8s) -> dict:
    sts = fake_k8s.find("StatefulSet", "mysql", MODEL.name)
    return {c.name: c for c in sts.spec.template.spec.containers}


def test_resources_are_patched_into_the_statefulset_once(ctx, fake_k8s):
    config = {
        "mysql-cpu-request": "500m",
        "mysql-memory-request": "1Gi",
        "mysql-memory-limit": "2Gi",
        "mysqld-exporter-cpu-limit": "200m",
    }
    out = ctx.run(ctx.on.config_changed(), base_state(config=config))

    assert [w.verb for w in fake_k8s.writes()] == ["patch"]
    live = containers(fake_k8s)
    assert live["mysql"].resources.requests == {"cpu": "500m", "memory": "1Gi"}
    assert live["mysql"].resources.limits == {"memory": "2Gi"}
    assert live["mysqld-exporter"].resources.limits == {"cpu": "200m"}
    assert live["charm"].resources is None  # Juju's container is left alone
    assert [c.image for c in live.values()] == [
        "jujusolutions/charm-base:ubuntu-24.04",
        "mysql:8.4.8",
        "prom/mysqld-exporter:v0.17.2",
    ]

    fake_k8s.reset_log()
    ctx.run(ctx.on.update_status(), out)
    assert fake_k8s.writes() == []


def test_removing_resource_options_removes_them_from_the_statefulset(ctx, fake_k8s):
    config = {"mysql-cpu-limit": "2", "mysqld-exporter-memory-limit": "64Mi"}
    out = ctx.run(ctx.on.config_changed(), base_state(config=config))
    state = base_state(secrets=out.secrets, config={"mysqld-exporter-memory-limit": "64Mi"})
    ctx.run(ctx.on.config_changed(), state)

    live = containers(fake_k8s)
    assert not (live["mysql"].resources and live["mysql"].resources.limits)
    assert live["mysqld-exporter"].resources.limits == {"memory": "64Mi"}


def test_forbidden_patch_asks_for_juju_trust(ctx, fake_k8s):
    fake_k8s.inject_fault("patch", "StatefulSet", status=403, times=None)
    out = ctx.run(ctx.on.config_changed(), base_state(config={"mysql-memory-limit": "2Gi"}))

    assert out.unit_status == testing.BlockedStatus(
        "Kubernetes denied access to StatefulSet/mysql: juju trust mysql --scope=cluster"
    )
    assert out.app_status == out.unit_status
    # The database itself still runs.
    assert "mysql" in out.get_container("mysql").plan.services


def test_no_resource_options_need_no_trust(ctx, fake_k8s):
    fake_k8s.inject_fault("get", "StatefulSet", status=403, times=None)
    out = ctx.run(ctx.on.config_changed(), base_state())
    assert out.unit_status == testing.ActiveStatus()


def test_transient_api_error_waits(ctx, fake_k8s):
    fake_k8s.inject_fault("get", "StatefulSet", status=500)
    out = ctx.run(ctx.on.config_changed(), base_state())
    assert isinstance(out.unit_status, testing.WaitingStatus)
    assert "will retry" in out.unit_status.message


# -- the database relation -------------------------------------------------------------------


def test_relation_gets_database_user_grants_and_secret_credentials(ctx, fake_db):
    rel = database_relation("katib")
    out = ctx.run(ctx.on.relation_changed(rel), base_state(relations=[rel]))

    data = out.get_relation(rel.id).local_app_data
    assert data["database"] == "katib"
    assert data["endpoints"] == ENDPOINT
    assert data["version"] == "8.4.8"
    assert "password" not in data
    assert "username" not in data
    creds = relation_credentials(out, rel)
    user = f"relation-{rel.id}"
    assert creds["username"] == user
    assert len(creds["password"]) == 32
    assert creds["uris"] == f"mysql://{user}:{creds['password']}@{ENDPOINT}/katib"
    assert "katib" in fake_db.databases
    assert fake_db.users[(user, "%")] == {
        "password": creds["password"],
        "plugin": "mysql_native_password",
    }
    assert (user, "%", "katib") in fake_db.grants
    assert out.app_status == testing.ActiveStatus()


def test_old_requirer_without_requested_secrets_gets_plain_credentials(ctx, fake_db):
    rel = database_relation("mlflow", secrets=False, app="mlflow-server")
    out = ctx.run(ctx.on.relation_changed(rel), base_state(relations=[rel]))

    data = out.get_relation(rel.id).local_app_data
    assert data["username"] == f"relation-{rel.id}"
    assert data["password"] == fake_db.users[(f"relation-{rel.id}", "%")]["password"]
    assert "secret-user" not in data


# The plain form is the documented protocol for requirers that do not ask for secrets.
test_old_requirer_without_requested_secrets_gets_plain_credentials = pytest.mark.leak_allow(
    "relation:database:*:app:password"
)(test_old_requirer_without_requested_secrets_gets_plain_credentials)


def test_repeated_events_change_nothing(ctx, fake_db):
    rel = database_relation()
    out = ctx.run(ctx.on.relation_changed(rel), base_state(relations=[rel]))
    writes_before = list(fake_db.writes())
    creds = relation_credentials(out, rel)
    secret_revision = secret_by_label(out, f"database.{rel.id}.user.secret").latest_content

    for event in (ctx.on.relation_changed, ctx.on.relation_joined):
        out = ctx.run(event(out.get_relation(rel.id)), out)
    out = ctx.run(ctx.on.update_status(), out)
    out = ctx.run(ctx.on.upgrade_charm(), out)

    assert fake_db.writes() == writes_before
    assert relation_credentials(out, rel) == creds
    assert secret_by_label(out, f"database.{rel.id}.user.secret").latest_content == (
        secret_revision
    )


def test_new_leader_reuses_published_credentials(ctx, fake_db):
    rel = database_relation()
    out = ctx.run(ctx.on.relation_changed(rel), base_state(relations=[rel]))
    password = relation_credentials(out, rel)["password"]

    # Another unit becomes leader; the server lost nothing, nor did Juju.
    fake_db.calls.clear()
    state = base_state(relations=out.relations, secrets=out.secrets)
    out2 = ctx.run(ctx.on.leader_elected(), state)

    assert relation_credentials(out2, rel)["password"] == password
    assert fake_db.writes() == []


def test_user_recreated_with_published_password_after_data_loss(ctx, fake_db):
    rel = database_relation()
    out = ctx.run(ctx.on.relation_changed(rel), base_state(relations=[rel]))
    password = relation_credentials(out, rel)["password"]
    fake_db.users.pop((f"relation-{rel.id}", "%"))
    fake_db.grants.clear()

    ctx.run(ctx.on.update_status(), out)

    assert fake_db.users[(f"relation-{rel.id}", "%")]["password"] == password
    assert (f"relation-{rel.id}", "%", "katib") in fake_db.grants


def test_unpublished_user_gets_its_password_reset(ctx, fake_db):
    rel = database_relation()
    fake_db.users[(f"relation-{rel.id}", "%")] = {"password": "stale", "plugin": "default"}
    out = ctx.run(ctx.on.relation_changed(rel), base_state(relations=[rel]))

    creds = relation_credentials(out, rel)
    assert fake_db.users[(f"relation-{rel.id}", "%")]["password"] == creds["password"]
    assert ("alter_user", (f"relation-{rel.id}", "%", "mysql_native_password")) in fake_db.calls


def test_relation_without_request_yet_gets_nothing(ctx, fake_db):
    rel = database_relation(None)
    out = ctx.run(ctx.on.relation_created(rel), base_state(relations=[rel]))

    assert out.get_relation(rel.id).local_app_data == {}
    assert fake_db.databases == set()
    assert list(fake_db.users) == [("exporter", "127.0.0.1")]
    assert out.unit_status == testing.ActiveStatus()


@pytest.mark.parametrize(
    ("database", "reason"),
    [
        ("mysql", "is a system schema"),
        ("bad name", "invalid request from rogue: database: expected 1-64 characters"),
        ("a" * 65, "invalid request from rogue: database: expected 1-64 characters"),
    ],
)
def test_invalid_database_name_blocks_naming_the_relation(ctx, fake_db, database, reason):
    bad = database_relation(database, app="rogue")
    good = database_relation("katib")
    out = ctx.run(ctx.on.relation_changed(bad), base_state(relations=[bad, good]))

    assert isinstance(out.app_status, testing.BlockedStatus)
    assert out.app_status.message.startswith(f"relation database:{bad.id}")
    assert reason in out.app_status.message
    assert out.get_relation(bad.id).local_app_data == {}
    # The well-formed relation is served all the same.
    assert out.get_relation(good.id).local_app_data["database"] == "katib"
    assert fake_db.databases == {"katib"}
    assert (f"relation-{bad.id}", "%") not in fake_db.users


def test_relation_broken_drops_the_user_and_keeps_the_database(ctx, fake_db):
    rel = database_relation()
    out = ctx.run(ctx.on.relation_changed(rel), base_state(relations=[rel]))
    assert (f"relation-{rel.id}", "%") in fake_db.users

    out = ctx.run(ctx.on.relation_broken(out.get_relation(rel.id)), out)

    assert (f"relation-{rel.id}", "%") not in fake_db.users
    assert "katib" in fake_db.databases
    assert not [s for s in out.secrets if s.label == f"database.{rel.id}.user.secret"]
    assert out.unit_status == testing.ActiveStatus()


def test_users_of_vanished_relations_are_dropped_later(ctx, fake_db):
    # The relation went away while the server was down: the next hook cleans up.
    fake_db.users[("relation-99", "%")] = {"password": "x" * 32, "plugin": "default"}
    fake_db.users[("someone-else", "%")] = {"password": "y" * 32, "plugin": "default"}
    ctx.run(ctx.on.update_status(), base_state())

    assert ("relation-99", "%") not in fake_db.users
    assert ("someone-else", "%") in fake_db.users


def test_two_relations_get_separate_users_on_a_shared_database(ctx, fake_db):
    a = database_relation("mlpipeline", app="kfp-api")
    b = database_relation("mlpipeline", app="kfp-profile-controller")
    out = ctx.run(ctx.on.relation_changed(a), base_state(relations=[a, b]))

    ca, cb = relation_credentials(out, a), relation_credentials(out, b)
    assert ca["username"] != cb["username"]
    assert ca["password"] != cb["password"]
    assert fake_db.databases == {"mlpipeline"}


def test_mariadb_flavour_users_use_the_server_default(ctx, fake_db):
    fake_db.flavour = provisioning.Flavour.MARIADB
    fake_db.version = "11.4.8-MariaDB-ubu2404"
    rel = database_relation()
    out = ctx.run(ctx.on.relation_changed(rel), base_state(relations=[rel]))

    assert out.get_relation(rel.id).local_app_data["version"] == "11.4.8-MariaDB-ubu2404"
    assert out.workload_version == "11.4.8-MariaDB-ubu2404"


def test_non_leader_does_not_provision(ctx, fake_db):
    rel = database_relation()
    state = base_state(leader=False, relations=[rel], secrets=[system_secret()])
    out = ctx.run(ctx.on.relation_changed(rel), state)

    assert out.get_relation(rel.id).local_app_data == {}
    assert fake_db.calls == []


# -- topology --------------------------------------------------------------------------------


def test_extra_unit_is_standby_and_says_so(ctx, fake_db):
    state = base_state(leader=False, secrets=[system_secret()])
    ctx_unit1 = testing.Context(charm.MysqlCharm, unit_id=1)
    out = ctx_unit1.run(ctx_unit1.on.config_changed(), state)

    assert out.unit_status == testing.BlockedStatus(
        "standby, serves nothing: only one unit is supported: juju scale-application mysql 1"
    )
    layer = out.get_container("mysql").plan
    assert layer.services == {}
    assert layer.checks["mysql-ready"].level == pebble.CheckLevel.READY
    assert out.opened_ports == set()
    assert fake_db.calls == []


def test_hostname_ordinal_decides_the_serving_unit(ctx, monkeypatch):
    monkeypatch.setattr(charm.socket, "gethostname", lambda: "mysql-1")
    out = ctx.run(ctx.on.config_changed(), base_state())
    assert out.unit_status.message.startswith("standby")


def test_leader_with_more_units_blocks_the_app(ctx):
    out = ctx.run(ctx.on.config_changed(), base_state(planned_units=3))

    assert out.app_status == testing.BlockedStatus(
        "3 units but only one is supported: juju scale-application mysql 1"
    )
    assert out.unit_status == testing.ActiveStatus()


# -- COS -------------------------------------------------------------------------------------


def test_metrics_endpoint_publishes_the_exporter_job_and_rules(ctx):
    rel = testing.Relation("metrics-endpoint", remote_app_name="prometheus")
    out = ctx.run(ctx.on.relation_joined(rel), base_state(relations=[rel]))

    data = out.get_relation(rel.id).local_app_data
    jobs = json.loads(data["scrape_jobs"])
    assert jobs[0]["static_configs"][0]["targets"] == ["*:9104"]
    groups = json.loads(data["alert_rules"])["groups"]
    alerts = {rule["alert"] for group in groups for rule in group["rules"]}
    assert {"MySQLDown", "MySQLTooManyConnections", "MySQLSlowQueries"} <= alerts


def test_grafana_dashboard_is_published(ctx):
    rel = testing.Relation("grafana-dashboard", remote_app_name="grafana")
    out = ctx.run(ctx.on.relation_joined(rel), base_state(relations=[rel]))

    templates = json.loads(out.get_relation(rel.id).local_app_data["dashboards"])["templates"]
    assert list(templates) == ["file:mysql"]


def test_logging_relation_adds_log_targets_to_both_layers(ctx):
    rel = testing.Relation(
        "logging",
        remote_app_name="loki",
        remote_units_data={
            0: {"endpoint": json.dumps({"url": "http://loki:3100/loki/api/v1/push"})}
        },
    )
    out = ctx.run(ctx.on.relation_changed(rel), base_state(relations=[rel]))

    for container in ("mysql", "mysqld-exporter"):
        targets = out.get_container(container).plan.log_targets
        assert [t.location for t in targets.values()] == ["http://loki:3100/loki/api/v1/push"]

    out = ctx.run(ctx.on.relation_broken(out.get_relation(rel.id)), out)
    for container in ("mysql", "mysqld-exporter"):
        targets = out.get_container(container).plan.log_targets
        assert all(t.services == ["-all"] for t in targets.values())


# -- other events ----------------------------------------------------------------------------


def test_secret_changed_and_upgrade_reconcile_quietly(ctx, fake_db):
    other = testing.Secret({"token": "x"}, owner=None, label="someone-elses")
    state = base_state(secrets=[system_secret(), other])
    out = ctx.run(ctx.on.secret_changed(other), state)
    assert out.unit_status == testing.ActiveStatus()
    out = ctx.run(ctx.on.upgrade_charm(), out)
    assert out.unit_status == testing.ActiveStatus()


def test_secret_remove_drops_old_system_revisions(ctx):
    secret = system_secret()
    # A rotation made revision 2; Scenario has no public way to say so.
    object.__setattr__(secret, "_latest_revision", 2)
    object.__setattr__(secret, "_tracked_revision", 2)
    out = ctx.run(ctx.on.secret_remove(secret, revision=1), base_state(secrets=[secret]))
    assert ctx.removed_secret_revisions == [1]
    assert out.unit_status == testing.ActiveStatus()


def test_secret_remove_of_other_secrets_is_ignored(ctx):
    other = testing.Secret({"key": "value"}, owner="app", label="database.7.user.secret-x")
    object.__setattr__(other, "_latest_revision", 2)
    ctx.run(ctx.on.secret_remove(other, revision=1), base_state(secrets=[system_secret(), other]))
    assert ctx.removed_secret_revisions == []


@pytest.mark.parametrize("event", ["stop", "remove"])
def test_stop_and_remove_delete_nothing(ctx, fake_db, fake_k8s, event):
    state = base_state(secrets=[system_secret()])
    out = ctx.run(getattr(ctx.on, event)(), state)

    assert out.unit_status == testing.MaintenanceStatus("stopping")
    assert fake_db.writes() == []
    assert fake_k8s.writes() == []


# -- actions ---------------------------------------------------------------------------------


@pytest.mark.leak_allow("action-results:password")  # the action exists to show it
@pytest.mark.parametrize(("username", "key"), [("root", "R"), ("exporter", "E")])
def test_get_password(ctx, username, key):
    secret = system_secret()
    for leader in (False, True):
        state = base_state(leader=leader, secrets=[secret])
        ctx.run(ctx.on.action("get-password", params={"username": username}), state)

        assert ctx.action_results["username"] == username
        assert ctx.action_results["password"] == key * 32
        assert ctx.action_results["secret-label"] == "system-users"
        assert ctx.action_results.get("secret-id") == (secret.id if leader else None)


def test_actions_leave_the_status_as_it_was(ctx, fake_db, tmp_path):
    blocked = testing.BlockedStatus("invalid config max-connections: must be between 10 and 10000")
    state = base_state(
        secrets=[system_secret()],
        mounts=storage_mount(tmp_path),
        unit_status=blocked,
        app_status=blocked,
    )
    out = ctx.run(ctx.on.action("list-backups"), state)

    assert out.unit_status == blocked
    assert out.app_status == blocked
    assert fake_db.calls == []


def test_set_password_must_run_on_the_leader(ctx):
    state = base_state(leader=False, secrets=[system_secret()])
    with pytest.raises(testing.ActionFailed, match="juju run mysql/leader set-password"):
        ctx.run(ctx.on.action("set-password"), state)


def test_set_password_rotates_root_on_the_server_then_in_the_secret(ctx, fake_db):
    out = ctx.run(
        ctx.on.action("set-password", params={"username": "root"}),
        base_state(secrets=[system_secret()]),
    )
    new = system_passwords(out)["root-password"]
    assert new != "R" * 32
    assert fake_db.root_password == new
    assert read_file(ctx, out, "mysql", ROOT_FILE) == new
    assert ctx.action_results == {"username": "root", "rotated": "true"}


def test_set_password_with_a_given_exporter_password(ctx, fake_db):
    given = "Given_Password-1234567"
    out = ctx.run(
        ctx.on.action("set-password", params={"username": "exporter", "password": given}),
        base_state(secrets=[system_secret()]),
    )
    assert system_passwords(out)["exporter-password"] == given
    assert fake_db.users[("exporter", "127.0.0.1")]["password"] == given
    assert f'password="{given}"' in read_file(ctx, out, "mysqld-exporter", EXPORTER_CNF)


@pytest.mark.parametrize("password", ["short", 'has"quote' * 3, "x" * 200, "sp ace" * 4])
def test_set_password_rejects_bad_passwords(ctx, fake_db, password):
    settled = ctx.run(ctx.on.update_status(), base_state(secrets=[system_secret()]))
    fake_db.calls.clear()
    with pytest.raises(testing.ActionFailed, match="password must be 16-128 characters"):
        ctx.run(ctx.on.action("set-password", params={"password": password}), settled)
    assert fake_db.writes() == []
    assert fake_db.root_password is None


def test_set_password_with_server_down_changes_nothing(ctx, fake_db):
    fake_db.connect_error = provisioning.ServerUnavailableError("down")
    with pytest.raises(testing.ActionFailed, match="password not changed"):
        ctx.run(ctx.on.action("set-password"), base_state(secrets=[system_secret()]))


FROZEN = datetime(2026, 5, 1, 12, 30, 0, tzinfo=timezone.utc)
BACKUP = "backup-20260501T123000Z"


@pytest.fixture
def frozen_time(monkeypatch):
    monkeypatch.setattr(charm, "_now", lambda: FROZEN)


def storage_mount(tmp_path):
    return {"database": testing.Mount(location="/var/lib/mysql", source=tmp_path)}


@pytest.mark.parametrize(
    ("flavour", "version", "binary"),
    [
        (provisioning.Flavour.MYSQL, "8.4.8", "mysqldump"),
        (provisioning.Flavour.MARIADB, "11.4.8-MariaDB", "mariadb-dump"),
    ],
)
def test_create_backup_dumps_with_the_flavours_tool(
    ctx, fake_db, frozen_time, tmp_path, flavour, version, binary
):
    fake_db.flavour, fake_db.version = flavour, version
    fake_db.databases = {"katib", "mlpipeline"}
    (tmp_path / "backups").mkdir()
    (tmp_path / "backups" / f"{BACKUP}.sql").write_text("-- dump\n")  # what the tool writes
    state = base_state(
        secrets=[system_secret()],
        mounts=storage_mount(tmp_path),
        execs=[testing.Exec([binary], return_code=0)],
    )
    out = ctx.run(ctx.on.action("create-backup"), state)

    assert ctx.action_results == {
        "backup-id": BACKUP,
        "size": "8",
        "databases": "katib,mlpipeline",
    }
    (call,) = ctx.exec_history["mysql"]
    assert call.command[0] == binary
    assert call.command[1] == "--defaults-extra-file=/etc/mysql-charm/client.cnf"
    assert f"--result-file=/var/lib/mysql/backups/{BACKUP}.sql" in call.command
    assert call.command[-3:] == ["--databases", "katib", "mlpipeline"]
    assert "R" * 32 not in " ".join(call.command)
    # The credentials file lived only for the dump.
    fs = out.get_container("mysql").get_filesystem(ctx)
    assert not (fs / "etc/mysql-charm/client.cnf").exists()


def test_create_backup_reports_the_tool_error(ctx, fake_db, frozen_time, tmp_path):
    fake_db.databases = {"katib"}
    state = base_state(
        secrets=[system_secret()],
        mounts=storage_mount(tmp_path),
        execs=[testing.Exec(["mysqldump"], return_code=2, stderr="mysqldump: Got error: 1045")],
    )
    with pytest.raises(testing.ActionFailed, match="mysqldump failed: mysqldump: Got error: 1045"):
        ctx.run(ctx.on.action("create-backup"), state)


def test_create_backup_without_databases_fails(ctx, fake_db, tmp_path):
    with pytest.raises(testing.ActionFailed, match="no application databases"):
        ctx.run(
            ctx.on.action("create-backup"),
            base_state(secrets=[system_secret()], mounts=storage_mount(tmp_path)),
        )


def test_create_backup_rejects_a_bad_label(ctx, frozen_time):
    with pytest.raises(testing.ActionFailed, match="label must be"):
        ctx.run(
            ctx.on.action("create-backup", params={"label": "no/slashes"}),
            base_state(secrets=[system_secret()]),
        )


def test_list_backups(ctx, tmp_path):
    (tmp_path / "backups").mkdir()
    for name in (f"{BACKUP}.sql", "backup-20260502T000000Z-weekly.sql", "notes.txt"):
        (tmp_path / "backups" / name).write_text("x" * 10)
    ctx.run(
        ctx.on.action("list-backups"),
        base_state(secrets=[system_secret()], mounts=storage_mount(tmp_path)),
    )
    assert ctx.action_results["count"] == "2"
    lines = ctx.action_results["backups"].splitlines()
    assert [line.split()[0] for line in lines] == [BACKUP, "backup-20260502T000000Z-weekly"]
    assert all(line.split()[1] == "10" for line in lines)


def test_list_backups_when_there_are_none(ctx, tmp_path):
    ctx.run(
        ctx.on.action("list-backups"),
        base_state(secrets=[system_secret()], mounts=storage_mount(tmp_path)),
    )
    assert ctx.action_results == {"count": "0", "backups": "(none)"}


def test_restore_replays_the_dump_with_the_flavours_client(ctx, fake_db, tmp_path):
    fake_db.flavour, fake_db.version = provisioning.Flavour.MARIADB, "11.4.8-MariaDB"
    (tmp_path / "backups").mkdir()
    (tmp_path / "backups" / f"{BACKUP}.sql").write_text("-- dump\n")
    state = base_state(
        secrets=[system_secret()],
        mounts=storage_mount(tmp_path),
        execs=[testing.Exec(["mariadb"], return_code=0)],
    )
    ctx.run(ctx.on.action("restore", params={"backup-id": BACKUP}), state)

    assert ctx.action_results == {"restored": BACKUP}
    (call,) = ctx.exec_history["mysql"]
    assert call.command == [
        "mariadb",
        "--defaults-extra-file=/etc/mysql-charm/client.cnf",
        "--protocol=tcp",
        "--batch",
        f"--execute=source /var/lib/mysql/backups/{BACKUP}.sql",
    ]


@pytest.mark.parametrize(
    ("backup_id", "message"),
    [
        ("../../etc/passwd", "not a backup id"),
        ("backup-20260501T123000Z; DROP", "not a backup id"),
        ("backup-20990101T000000Z", "no backup backup-20990101T000000Z"),
    ],
)
def test_restore_rejects_unknown_or_malformed_ids(ctx, tmp_path, backup_id, message):
    with pytest.raises(testing.ActionFailed, match=message):
        ctx.run(
            ctx.on.action("restore", params={"backup-id": backup_id}),
            base_state(secrets=[system_secret()], mounts=storage_mount(tmp_path)),
        )
    assert ctx.exec_history.get("mysql", []) == []


def test_backup_actions_on_a_standby_unit_fail_clearly(tmp_path):
    ctx1 = testing.Context(charm.MysqlCharm, unit_id=1)
    with pytest.raises(testing.ActionFailed, match="this unit serves no database"):
        ctx1.run(
            ctx1.on.action("create-backup"),
            base_state(leader=False, secrets=[system_secret()], mounts=storage_mount(tmp_path)),
        )


# -- the leak scan itself --------------------------------------------------------------------


def test_leak_scan_finds_exactly_the_0600_credential_files(ctx, fake_k8s):
    """The per-test scan (conftest) allows only the two credential files: prove it sees them."""
    from kfcharm.testing.leaks import find_leaks

    rel = database_relation()
    out = ctx.run(ctx.on.relation_changed(rel), base_state(relations=[rel]))
    passwords = [*system_passwords(out).values(), relation_credentials(out, rel)["password"]]

    leaks = find_leaks(out, passwords, ctx=ctx, k8s=fake_k8s)
    assert sorted(leak.place for leak in leaks) == [
        f"file:mysql:{ROOT_FILE}",
        f"file:mysqld-exporter:{EXPORTER_CNF}",
    ]
    assert file_mode(ctx, out, "mysql", ROOT_FILE) & 0o777 == 0o600
    assert file_mode(ctx, out, "mysqld-exporter", EXPORTER_CNF) & 0o777 == 0o600
