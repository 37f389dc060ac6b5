"""`provisioning` against a real MariaDB server started for the session (see conftest)."""

from __future__ import annotations

import provisioning
import pymysql
import pytest
from mysql_server import generate_password
from provisioning import Flavour, Provisioner

pytestmark = pytest.mark.mariadb


@pytest.fixture
def root(mariadb):
    with Provisioner.connect(
        host=mariadb.host, port=mariadb.port, user="root", password=mariadb.root_password
    ) as p:
        yield p


def login(server, user, password, database=None):
    return pymysql.connect(
        host=server.host,
        port=server.port,
        user=user,
        password=password,
        database=database,
        autocommit=True,
        connect_timeout=5,
    )


def test_detects_mariadb_flavour(root):
    info = root.server_info()
    assert info.flavour is Flavour.MARIADB
    assert info.version_tuple >= (10, 11, 0)
    assert "MariaDB" in info.version


def test_charm_server_options_are_in_effect(root):
    # The fixture started mariadbd with the charm's server_args (testing profile).
    rows = root._run(
        "SELECT @@max_connections, @@innodb_buffer_pool_size, @@skip_name_resolve,"
        " @@character_set_server, @@performance_schema",
        what="reading variables",
    )
    assert rows[0] == (50, 32 * 2**20, 1, "utf8mb4", 0)


def test_full_relation_lifecycle(mariadb, root):
    password = generate_password()
    # Create the database and the user; the user logs in and creates a table.
    assert root.ensure_database("katib") is True
    assert root.ensure_user("relation-7", "%", password) == "created"
    assert root.grant_database("relation-7", "%", "katib") is True
    conn = login(mariadb, "relation-7", password, "katib")
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE observation_logs (id INT PRIMARY KEY, metric VARCHAR(64))")
        cur.execute("INSERT INTO observation_logs VALUES (1, 'accuracy')")
    conn.close()

    # Re-running everything is a no-op: nothing created, nothing granted, password kept.
    assert root.ensure_database("katib") is False
    assert root.ensure_user("relation-7", "%", generate_password()) == "unchanged"
    assert root.grant_database("relation-7", "%", "katib") is False
    login(mariadb, "relation-7", password, "katib").close()

    # Rotate the password: the old one stops working, the new one works.
    rotated = generate_password()
    assert root.ensure_user("relation-7", "%", rotated, reset_password=True) == "updated"
    with pytest.raises(pymysql.err.OperationalError) as denied:
        login(mariadb, "relation-7", password, "katib")
    assert denied.value.args[0] == 1045
    login(mariadb, "relation-7", rotated, "katib").close()

    # Drop the user: it can no longer log in, its open session is ended, the data stays.
    session = login(mariadb, "relation-7", rotated, "katib")
    assert root.drop_user("relation-7", "%") is True
    assert root.drop_user("relation-7", "%") is False
    assert root.user_exists("relation-7", "%") is False
    with pytest.raises(pymysql.err.OperationalError):
        login(mariadb, "relation-7", rotated, "katib")
    with pytest.raises(pymysql.err.MySQLError), session.cursor() as cur:
        cur.execute("SELECT 1")
    assert "katib" in root.databases()
    rows = root._run("SELECT id, metric FROM katib.observation_logs", what="reading data")
    assert rows == [(1, "accuracy")]


def test_grant_is_limited_to_the_requested_database(mariadb, root):
    password = generate_password()
    root.ensure_database("ml_pipeline")
    root.ensure_database("mlXpipeline")  # would match an unescaped `ml_pipeline` grant
    root.ensure_database("other")
    root.ensure_user("relation-8", "%", password)
    root.grant_database("relation-8", "%", "ml_pipeline")
    conn = login(mariadb, "relation-8", password)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE ml_pipeline.t (x INT)")
        for forbidden in ("mlXpipeline", "other", "mysql"):
            with pytest.raises(pymysql.err.OperationalError) as denied:
                cur.execute(f"CREATE TABLE {forbidden}.t (x INT)")
            assert denied.value.args[0] in (1044, 1142)
        cur.execute("SHOW DATABASES")
        visible = {row[0] for row in cur.fetchall()}
    conn.close()
    assert "ml_pipeline" in visible
    assert not visible & {"mlXpipeline", "other", "mysql"}
    root.drop_user("relation-8", "%")


def test_database_names_with_dash_and_dollar(mariadb, root):
    password = generate_password()
    assert root.ensure_database("kf-db$1") is True
    root.ensure_user("relation-9", "%", password)
    root.grant_database("relation-9", "%", "kf-db$1")
    conn = login(mariadb, "relation-9", password, "kf-db$1")
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE t (x INT)")
    conn.close()
    root.drop_user("relation-9", "%")


@pytest.mark.parametrize("name", ["mysql", "sys", "bad name", "x`y", "", "a" * 65, "db;drop"])
def test_invalid_database_names_are_rejected_before_any_sql(root, name):
    with pytest.raises(provisioning.InvalidNameError):
        root.ensure_database(name)


def test_exporter_user_gets_monitoring_privileges_only(mariadb, root):
    password = generate_password()
    assert root.ensure_exporter_user("exporter", "127.0.0.1", password) == "created"
    assert root.ensure_exporter_user("exporter", "127.0.0.1", password) == "unchanged"
    conn = login(mariadb, "exporter", password)
    with conn.cursor() as cur:
        cur.execute("SHOW GLOBAL STATUS LIKE 'Slow_queries'")
        assert cur.fetchall()
        cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST")
        with pytest.raises(pymysql.err.OperationalError):
            cur.execute("CREATE DATABASE exporter_may_not")
    conn.close()


def test_root_password_rotation_on_all_root_accounts(mariadb, root):
    new = generate_password()
    hosts = root.set_password_all_hosts("root", new)
    assert set(hosts) >= {"localhost", "127.0.0.1"}
    try:
        with (
            pytest.raises(provisioning.AccessDeniedError) as denied,
            Provisioner.connect(
                host=mariadb.host, port=mariadb.port, user="root", password=mariadb.root_password
            ),
        ):
            pass
        assert mariadb.root_password not in str(denied.value)
        with Provisioner.connect(
            host=mariadb.host, port=mariadb.port, user="root", password=new
        ) as again:
            assert again.server_info().flavour is Flavour.MARIADB
    finally:
        with Provisioner.connect(
            host=mariadb.host, port=mariadb.port, user="root", password=new
        ) as again:
            again.set_password_all_hosts("root", mariadb.root_password)


def test_unreachable_server_is_transient(mariadb):
    with (
        pytest.raises(provisioning.ServerUnavailableError) as err,
        Provisioner.connect(host="127.0.0.1", port=1, user="root", password=mariadb.root_password),
    ):
        pass
    assert err.value.transient is True


def test_failed_statement_with_password_does_not_reveal_it(root):
    secret = "Sekr1t-" + generate_password(20)
    # A syntax error right before the password: the server quotes the text from there on.
    bad = "ALTER USER %s@%s IDENTIFIED BYE %s"
    with pytest.raises(provisioning.ProvisioningError) as plain:
        root._run(bad, ("x", "%", secret), what="probe")
    assert secret in str(plain.value)  # what an unguarded error would carry
    with pytest.raises(provisioning.ProvisioningError) as guarded:
        root._run(bad, ("x", "%", secret), what="probe", sensitive=True)
    assert secret not in str(guarded.value)
    assert guarded.value.code == 1064


def test_set_password_of_missing_user_fails_clearly(root):
    with pytest.raises(provisioning.ProvisioningError, match="does not exist"):
        root.set_password("nobody-here", "%", generate_password())
