"""The ops-free workload module: config validation, server options, layers, names."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import mysql_server as ms
import pytest
from kfcharm.resources import ContainerResources


def test_defaults_are_valid_and_size_a_production_pool():
    config = ms.MysqlConfig()
    assert config.buffer_pool_bytes == 512 * 2**20
    assert config.resources() == {
        "mysql": ContainerResources(),
        "mysqld-exporter": ContainerResources(),
    }


@pytest.mark.parametrize(
    ("kwargs", "pool"),
    [
        ({"memory_profile": "testing"}, 32 * 2**20),
        ({"mysql_memory_limit": "2Gi"}, 1228 * 2**20),
        ({"mysql_memory_limit": "1G"}, 572 * 2**20),
        ({"mysql_memory_limit": "2Gi", "innodb_buffer_pool_size": "1G"}, 2**30),
        ({"innodb_buffer_pool_size": "300M"}, 300 * 2**20),
        ({"innodb_buffer_pool_size": "65536k"}, 64 * 2**20),
    ],
)
def test_buffer_pool_sizing(kwargs, pool):
    assert ms.MysqlConfig(**kwargs).buffer_pool_bytes == pool


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"memory_profile": "big"}, "memory-profile"),
        ({"max_connections": 9}, "max-connections"),
        ({"max_connections": 10001}, "max-connections"),
        ({"max_connections": True}, "max-connections"),
        ({"long_query_time": 0.0}, "long-query-time"),
        ({"long_query_time": 3601.0}, "long-query-time"),
        ({"innodb_buffer_pool_size": "7M"}, "innodb-buffer-pool-size"),
        ({"innodb_buffer_pool_size": "1T"}, "innodb-buffer-pool-size"),
        (
            {"innodb_buffer_pool_size": "2G", "mysql_memory_limit": "2Gi"},
            "innodb-buffer-pool-size",
        ),
        ({"mysql_cpu_request": "-1"}, "mysql-cpu-request"),
        ({"mysql_cpu_request": "2", "mysql_cpu_limit": "1"}, "mysql-cpu-request"),
        ({"mysql_memory_limit": "255Mi"}, "mysql-memory-limit"),
        ({"mysql_memory_request": "1 Gi"}, "mysql-memory-request"),
        ({"mysqld_exporter_cpu_limit": "lots"}, "mysqld-exporter-cpu-limit"),
        # Quantities kfcharm's check accepts but lightkube cannot compare.
        ({"mysql_cpu_request": "1E3", "mysql_cpu_limit": "2"}, "mysql-cpu-request"),
        ({"mysql_memory_limit": "9" * 30}, "mysql-memory-limit"),
        (
            {"mysqld_exporter_memory_request": "1Gi", "mysqld_exporter_memory_limit": "64Mi"},
            "mysqld-exporter-memory-request",
        ),
        ({"mysqld_exporter_memory_limit": 128}, "mysqld-exporter-memory-limit"),
        ({"mysql_native_password": "yes"}, "mysql-native-password"),
    ],
)
def test_invalid_values_name_the_option(kwargs, option):
    with pytest.raises(ms.ConfigError) as err:
        ms.MysqlConfig(**kwargs)
    assert err.value.option == option
    assert str(err.value).startswith(f"{option}: ")


def test_int_is_accepted_for_a_float_option():
    assert ms.MysqlConfig(long_query_time=3).long_query_time == 3.0


def test_resources_per_container_only_list_what_is_set():
    config = ms.MysqlConfig(
        mysql_cpu_request="250m", mysql_memory_limit="1Gi", mysqld_exporter_memory_limit="64Mi"
    )
    resources = config.resources()
    assert resources["mysql"].to_k8s() == {
        "requests": {"cpu": "250m"},
        "limits": {"memory": "1Gi"},
    }
    assert resources["mysqld-exporter"].to_k8s() == {"limits": {"memory": "64Mi"}}


def test_buffer_pool_follows_only_the_database_containers_limit():
    config = ms.MysqlConfig(mysqld_exporter_memory_limit="2Gi")
    assert config.buffer_pool_bytes == 512 * 2**20


def test_server_args_follow_the_config():
    args = ms.server_args(
        ms.MysqlConfig(
            memory_profile="testing",
            max_connections=42,
            long_query_time=0.25,
            mysql_native_password=False,
        )
    )
    assert "--max-connections=42" in args
    assert "--long-query-time=0.25" in args
    assert f"--innodb-buffer-pool-size={32 * 2**20}" in args
    assert "--performance-schema=OFF" in args
    assert "--loose-mysql-native-password=ON" not in args
    assert args[0] == "--datadir=/var/lib/mysql/data"
    assert "--loose-mysql-native-password=ON" in ms.server_args(ms.MysqlConfig())


def test_layers_have_ready_and_alive_checks_and_replace_override():
    mysql = ms.mysql_layer(ms.MysqlConfig(), {"juju-loki-x": {"override": "replace"}})
    exporter = ms.exporter_layer({})
    for layer, service in ((mysql, "mysql"), (exporter, "mysqld-exporter")):
        assert layer["services"][service]["override"] == "replace"
        levels = {check["level"] for check in layer["checks"].values()}
        assert levels == {"ready", "alive"}
        assert all(check["override"] == "replace" for check in layer["checks"].values())
        failure = layer["services"][service]["on-check-failure"]
        assert all(layer["checks"][name]["level"] == "alive" for name in failure)
    assert mysql["log-targets"] == {"juju-loki-x": {"override": "replace"}}
    assert exporter["services"]["mysqld-exporter"]["user-id"] == 65534


def test_standby_layer_runs_nothing_and_is_never_ready():
    layer = ms.standby_layer()
    assert layer["services"] == {}
    assert [c["level"] for c in layer["checks"].values()] == ["ready"]


def test_client_cnf_quotes_the_password():
    cnf = ms.client_cnf("exporter", "abc#;def")
    assert 'password="abc#;def"' in cnf
    assert "host=127.0.0.1" in cnf
    for bad in ('a"b', "a\\b", "a\nb"):
        with pytest.raises(ValueError, match="option file"):
            ms.client_cnf("root", bad)


def test_generated_passwords_are_long_random_alphanumerics():
    passwords = {ms.generate_password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(len(p) == 32 and p.isalnum() and p.isascii() for p in passwords)


@pytest.mark.parametrize("password", ["Aa1_.~!@%^*+=,:/-Zz", "x" * 16, "y" * 128])
def test_operator_passwords_accepted(password):
    assert ms.check_user_password(password) == password


@pytest.mark.parametrize(
    "password", ["x" * 15, "x" * 129, "with space x12345", 'quote"x123456789', "é" * 16]
)
def test_operator_passwords_rejected_without_echoing_them(password):
    with pytest.raises(ValueError, match="password must be 16-128 characters") as err:
        ms.check_user_password(password)
    assert password not in str(err.value)


def test_relation_user_names_round_trip():
    assert ms.relation_user(12) == "relation-12"
    assert ms.relation_id_of_user("relation-12") == 12
    assert ms.relation_id_of_user("relation-x") is None
    assert ms.relation_id_of_user("root") is None


@pytest.mark.parametrize(
    ("fqdn", "domain"),
    [
        ("mysql-0.mysql-endpoints.kubeflow.svc.cluster.local", "cluster.local"),
        ("mysql-0.mysql-endpoints.kf.svc.k8s.example.org", "k8s.example.org"),
        ("laptop.lan", "cluster.local"),
        ("x.svc.", "cluster.local"),
    ],
)
def test_cluster_domain(fqdn, domain):
    assert ms.cluster_domain(fqdn) == domain


def test_service_endpoint():
    fqdn = "mysql-0.mysql-endpoints.kubeflow.svc.cluster.local"
    assert (
        ms.service_endpoint("mysql", "kubeflow", fqdn) == "mysql.kubeflow.svc.cluster.local:3306"
    )


@pytest.mark.parametrize(
    ("hostname", "ordinal"),
    [("mysql-0", 0), ("mysql-12", 12), ("mysql-db-0", None), ("other-0", None), ("mysql-", None)],
)
def test_pod_ordinal(hostname, ordinal):
    assert ms.pod_ordinal(hostname, "mysql") == ordinal


def test_backup_ids_and_paths():
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert ms.backup_id(when) == "backup-20260102T010405Z"
    assert ms.backup_id(when, "weekly_1") == "backup-20260102T010405Z-weekly_1"
    assert ms.backup_path("backup-20260102T010405Z") == (
        "/var/lib/mysql/backups/backup-20260102T010405Z.sql"
    )
    for bad in ("../x", "backup-20260102T010405Z/../../etc", "backup-1", ""):
        with pytest.raises(ValueError, match="not a backup id"):
            ms.backup_path(bad)
    with pytest.raises(ValueError, match="label must be"):
        ms.backup_id(when, "bad label")


def test_dump_and_restore_commands_per_flavour():
    dump = ms.dump_command("mysql", ["a", "b"], "/x.sql")
    assert dump[0] == "mysqldump"
    assert dump[1] == f"--defaults-extra-file={ms.CLIENT_DEFAULTS_FILE}"
    assert "--single-transaction" in dump
    assert dump[-3:] == ["--databases", "a", "b"]
    assert ms.dump_command("mariadb", ["a"], "/x.sql")[0] == "mariadb-dump"
    assert ms.restore_command("mysql", "/x.sql")[0] == "mysql"
    assert ms.restore_command("mariadb", "/x.sql")[-1] == "--execute=source /x.sql"


@pytest.mark.parametrize(
    "value",
    [
        "9" * 5000,  # int() refuses > 4300 digits; the message named no fix
        "99999999999999999999999999G",  # beyond what the server accepts
        "\u0663\u0662M",  # Arabic-Indic digits: \d matches them without re.ASCII
    ],
)
def test_unusable_buffer_pool_sizes_are_config_errors(value):
    with pytest.raises(ms.ConfigError) as err:
        ms.MysqlConfig(innodb_buffer_pool_size=value)
    assert err.value.option == "innodb-buffer-pool-size"
