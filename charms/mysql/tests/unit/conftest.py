"""Fixtures of the mysql charm's tests."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import mariadb_server
import provisioning
import pytest
from charm import MysqlCharm
from kfcharm.testing.fake_k8s import FakeKubernetes
from kfcharm.testing.leaks import RecordingContext, find_leaks, juju_secret_values
from lightkube.models.apps_v1 import StatefulSetSpec
from lightkube.models.core_v1 import Container, PodSpec, PodTemplateSpec
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.apps_v1 import StatefulSet
from ops import testing


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[mariadb_server.RunningServer]:
    """A real MariaDB server for the whole session (skipped without the Debian package,
    except in CI, where a missing server fails the tests)."""
    binaries = mariadb_server.find_binaries()
    if binaries is None:
        if mariadb_server.in_ci():
            pytest.fail(mariadb_server.SKIP_REASON + " (CI must run the real-database tests)")
        pytest.skip(mariadb_server.SKIP_REASON)
    proc, server = mariadb_server.start(tmp_path_factory.mktemp("mariadb"), *binaries)
    try:
        yield server
    finally:
        mariadb_server.stop(proc)


# --------------------------------------------------------------------------------------------
# ops.testing (Scenario) support: a recording stand-in for the SQL layer, fake Kubernetes,
# contexts whose outputs are all scanned for leaked credentials.
# --------------------------------------------------------------------------------------------

MODEL = testing.Model(name="kubeflow", uuid=str(uuid.uuid4()))

# Places where a credential legitimately appears: the 0600 files the workloads read them from
# (the root password file also as seen through a test's mount of /etc/mysql-charm).
CREDENTIAL_FILES = (
    "file:mysql:/etc/mysql-charm/root-password",
    "file:mysql:/etc/mysql-charm/root-password (mount *)",
    "file:mysqld-exporter:/etc/mysqld-exporter/my.cnf",
)


@dataclasses.dataclass
class FakeDatabase:
    """Stands in for the server behind `provisioning.Provisioner.connect`: keeps state like
    the real one (databases, accounts, grants), records every call, fails on demand."""

    flavour: provisioning.Flavour = provisioning.Flavour.MYSQL
    version: str = "8.4.8"
    root_password: str | None = None  # None: accept whatever the charm sends
    connect_error: provisioning.ProvisioningError | None = None
    fail_on: dict[str, provisioning.ProvisioningError] = dataclasses.field(default_factory=dict)
    databases: set[str] = dataclasses.field(default_factory=set)
    users: dict[tuple[str, str], dict[str, Any]] = dataclasses.field(default_factory=dict)
    grants: set[tuple[str, str, str]] = dataclasses.field(default_factory=set)
    calls: list[tuple[str, tuple[Any, ...]]] = dataclasses.field(default_factory=list)
    connections: list[str] = dataclasses.field(default_factory=list)

    def writes(self) -> list[tuple[str, tuple[Any, ...]]]:
        """Calls that changed something."""
        return [c for c in self.calls if c[0] in _DB_WRITES]

    def passwords(self) -> list[str]:
        return [u["password"] for u in self.users.values()]

    @contextlib.contextmanager
    def connect(self, *, host: str, port: int, user: str, password: str, **_: Any):
        self.connections.append(f"{user}@{host}:{port}")
        if self.connect_error is not None:
            raise self.connect_error
        if self.root_password is not None and password != self.root_password:
            raise provisioning.AccessDeniedError("connecting failed (error 1045)", 1045)
        yield _FakeProvisioner(self)


_DB_WRITES = {"create_database", "create_user", "alter_user", "grant", "grant_global", "drop_user"}


class _FakeProvisioner:
    """Same interface and decisions as `provisioning.Provisioner`, on `FakeDatabase` state."""

    def __init__(self, db: FakeDatabase):
        self.db = db

    def _call(self, name: str, *args: Any) -> None:
        self.db.calls.append((name, args))
        if name in self.db.fail_on:
            raise self.db.fail_on[name]

    def server_info(self) -> provisioning.ServerInfo:
        self._call("server_info")
        return provisioning.detect_server(self.db.version, "")

    def databases(self) -> list[str]:
        self._call("databases")
        return sorted(self.db.databases)

    def accounts(self, user_like: str = "%") -> list[tuple[str, str]]:
        self._call("accounts", user_like)
        prefix = user_like.rstrip("%")
        return sorted(k for k in self.db.users if k[0].startswith(prefix))

    def user_exists(self, user: str, host: str) -> bool:
        return (user, host) in self.db.users

    def ensure_database(self, name: str) -> bool:
        provisioning.check_database_name(name)
        if name in self.db.databases:
            return False
        self._call("create_database", name)
        self.db.databases.add(name)
        return True

    def ensure_user(
        self,
        user: str,
        host: str,
        password: str,
        *,
        native_password: bool = False,
        reset_password: bool = False,
        max_user_connections: int | None = None,
    ) -> str:
        native = native_password and self.db.flavour is provisioning.Flavour.MYSQL
        plugin = "mysql_native_password" if native else "default"
        existing = self.db.users.get((user, host))
        if existing is None:
            self._call("create_user", user, host, plugin)
            self.db.users[(user, host)] = {"password": password, "plugin": plugin}
            return "created"
        if reset_password or (native and existing["plugin"] != plugin):
            self._call("alter_user", user, host, plugin)
            self.db.users[(user, host)] = {"password": password, "plugin": plugin}
            return "updated"
        return "unchanged"

    def ensure_exporter_user(self, user: str, host: str, password: str, *, reset_password=False):
        result = self.ensure_user(user, host, password, reset_password=reset_password)
        if (user, host, "*") not in self.db.grants:
            self._call("grant_global", user, host)
            self.db.grants.add((user, host, "*"))
        return result

    def set_password_all_hosts(self, user: str, password: str) -> list[str]:
        hosts = [h for (u, h) in self.db.users if u == user] or ["localhost", "127.0.0.1"]
        for host in hosts:
            self._call("alter_user", user, host, "keep")
            self.db.users[(user, host)] = {"password": password, "plugin": "keep"}
        if user == "root":
            self.db.root_password = password
        return hosts

    def grant_database(self, user: str, host: str, database: str) -> bool:
        if (user, host, database) in self.db.grants:
            return False
        self._call("grant", user, host, database)
        self.db.grants.add((user, host, database))
        return True

    def drop_user(self, user: str, host: str) -> bool:
        if (user, host) not in self.db.users:
            return False
        self._call("drop_user", user, host)
        del self.db.users[(user, host)]
        self.db.grants = {g for g in self.db.grants if g[:2] != (user, host)}
        return True


@pytest.fixture
def fake_db(monkeypatch: pytest.MonkeyPatch) -> FakeDatabase:
    """The SQL layer replaced by a stateful, recording fake."""
    db = FakeDatabase()
    monkeypatch.setattr(provisioning.Provisioner, "connect", db.connect)
    return db


@pytest.fixture
def fake_k8s(monkeypatch: pytest.MonkeyPatch) -> FakeKubernetes:
    """A fake Kubernetes API server holding the StatefulSet Juju made for the app."""
    fake = FakeKubernetes(namespace=MODEL.name)
    fake.install(monkeypatch)
    fake.add(juju_statefulset())
    fake.reset_log()
    return fake


def juju_statefulset(app: str = "mysql") -> StatefulSet:
    """The StatefulSet Juju creates for a sidecar charm (the parts the charm touches)."""
    labels = {"app.kubernetes.io/name": app}
    return StatefulSet(
        metadata=ObjectMeta(name=app, namespace=MODEL.name, labels=labels),
        spec=StatefulSetSpec(
            selector=LabelSelector(matchLabels=labels),
            serviceName=f"{app}-endpoints",
            template=PodTemplateSpec(
                metadata=ObjectMeta(labels=labels),
                spec=PodSpec(
                    containers=[
                        Container(name="charm", image="jujusolutions/charm-base:ubuntu-24.04"),
                        Container(name="mysql", image="mysql:8.4.8"),
                        Container(name="mysqld-exporter", image="prom/mysqld-exporter:v0.17.2"),
                    ]
                ),
            ),
        ),
    )


def secret_values(state: testing.State) -> set[str]:
    """Every password held in the state's Juju secrets."""
    return juju_secret_values([state], lambda key: "password" in key, min_length=1)


@pytest.fixture
def ctx(request: pytest.FixtureRequest, fake_db: FakeDatabase, fake_k8s: FakeKubernetes):
    """The charm's Context; after the test, every output is scanned for leaked credentials."""
    context = RecordingContext(MysqlCharm)
    yield context
    allow = list(CREDENTIAL_FILES)
    marker = request.node.get_closest_marker("leak_allow")
    if marker is not None:
        allow.extend(marker.args)
    secrets = set(fake_db.passwords())
    for out in context.outputs:
        secrets.update(secret_values(out))
    secrets.discard("")
    if not secrets or not context.outputs:
        return
    for out in context.outputs:
        leaks = find_leaks(out, sorted(secrets), ctx=context, k8s=fake_k8s, allow=allow)
        assert leaks == [], f"credentials leaked: {leaks}"


def database_relation(
    database: str | None = "katib", *, secrets: bool = True, app: str = "katib", **kwargs: Any
) -> testing.Relation:
    """A `database` relation from a requirer asking for `database`."""
    data: dict[str, str] = {}
    if database is not None:
        data["database"] = database
    if secrets:
        data["requested-secrets"] = json.dumps(["username", "password", "tls", "tls-ca", "uris"])
    return testing.Relation("database", remote_app_name=app, remote_app_data=data, **kwargs)


def base_state(
    *,
    leader: bool = True,
    config: dict[str, Any] | None = None,
    relations: Iterable[Any] = (),
    secrets: Iterable[Any] = (),
    can_connect: bool = True,
    exporter_can_connect: bool = True,
    storage: bool = True,
    mounts: dict[str, testing.Mount] | None = None,
    execs: Iterable[testing.Exec] = (),
    **kwargs: Any,
) -> testing.State:
    """A one-unit deployment with both containers up and the storage attached."""
    return testing.State(
        leader=leader,
        model=MODEL,
        config=config or {},
        relations=set(relations),
        secrets=set(secrets),
        containers={
            testing.Container(
                "mysql", can_connect=can_connect, mounts=mounts or {}, execs=set(execs)
            ),
            testing.Container("mysqld-exporter", can_connect=exporter_can_connect),
        },
        storages={testing.Storage("database")} if storage else set(),
        **kwargs,
    )


def system_secret(root: str = "R" * 32, exporter: str = "E" * 32) -> testing.Secret:
    """The app secret the leader generates on install."""
    return testing.Secret(
        {"root-password": root, "exporter-password": exporter},
        label="system-users",
        owner="app",
    )
