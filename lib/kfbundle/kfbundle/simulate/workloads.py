"""Stand-ins for the workloads our charms talk to over the network (no pods run here).

Pebble is simulated by ops.testing; what a charm reaches over TCP is not. These fakes
replace exactly those calls, keeping the charm's own logic: the MySQL charm's SQL
provisioner and the MinIO charm's bucket creation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


@dataclasses.dataclass
class FakeMysqlServer:
    """What a MySQL server would hold: databases, accounts, grants."""

    databases: set[str] = dataclasses.field(default_factory=set)
    users: dict[tuple[str, str], dict[str, Any]] = dataclasses.field(default_factory=dict)
    grants: set[tuple[str, str, str]] = dataclasses.field(default_factory=set)
    statements: int = 0


class FakeProvisioner:
    """Implements the MySQL charm's `Provisioner` operations in memory."""

    def __init__(self, server: FakeMysqlServer, provisioning: Any):
        self._server = server
        self._provisioning = provisioning

    def server_info(self) -> Any:
        """MySQL 8.4 Community."""
        return self._provisioning.detect_server("8.4.8", "MySQL Community Server - GPL")

    def databases(self) -> list[str]:
        """Application databases."""
        return sorted(self._server.databases)

    def accounts(self, user_like: str = "%") -> list[tuple[str, str]]:
        """Accounts matching a LIKE pattern (only `%` wildcards)."""
        prefix = user_like.split("%", 1)[0]
        return sorted(k for k in self._server.users if k[0].startswith(prefix))

    def user_exists(self, user: str, host: str) -> bool:
        """Whether the account exists."""
        return (user, host) in self._server.users

    def ensure_database(self, name: str) -> bool:
        """Create the database if missing."""
        self._server.statements += 1
        if name in self._server.databases:
            return False
        self._server.databases.add(name)
        return True

    def ensure_user(self, user: str, host: str, password: str, *args: Any, **kwargs: Any) -> str:
        """Create the account or update its password."""
        self._server.statements += 1
        current = self._server.users.get((user, host))
        if current is None:
            self._server.users[(user, host)] = {"password": password}
            return "created"
        if current.get("password") != password:
            current["password"] = password
            return "updated"
        return "unchanged"

    def set_password(self, user: str, host: str, password: str) -> None:
        """Change a password."""
        self._server.users.setdefault((user, host), {})["password"] = password

    def set_password_all_hosts(self, user: str, password: str) -> list[str]:
        """Change a user's password on every host."""
        hosts = [h for (u, h) in self._server.users if u == user]
        for host in hosts:
            self.set_password(user, host, password)
        return hosts

    def grant_database(self, user: str, host: str, database: str) -> bool:
        """Grant all on a database."""
        key = (user, host, database)
        if key in self._server.grants:
            return False
        self._server.grants.add(key)
        return True

    def grant_global(self, user: str, host: str, privileges: Any) -> None:
        """Grant global privileges (recorded only)."""
        self._server.grants.add((user, host, "*"))

    def ensure_exporter_user(self, user: str, host: str, password: str, *a: Any, **k: Any) -> str:
        """Create the metrics exporter's account."""
        return self.ensure_user(user, host, password)

    def drop_user(self, user: str, host: str) -> bool:
        """Drop an account."""
        return self._server.users.pop((user, host), None) is not None

    def __getattr__(self, name: str) -> Callable[..., None]:
        # An operation this fake does not know yet: accept it, do nothing.
        def _noop(*args: Any, **kwargs: Any) -> None:
            return None

        return _noop


@dataclasses.dataclass
class WorkloadFakes:
    """Every workload fake of one simulated model, by application."""

    mysql: dict[str, FakeMysqlServer] = dataclasses.field(default_factory=dict)
    buckets: dict[str, set[str]] = dataclasses.field(default_factory=dict)
    patched: list[str] = dataclasses.field(default_factory=list)
    current_app: str = ""

    def install(self, charm: str, module_of: Callable[[str], Any]) -> None:
        """Patch the network-facing calls of `charm`'s modules (once per charm)."""
        if charm == "mysql":
            provisioning = module_of("provisioning")
            if provisioning is not None and hasattr(provisioning, "Provisioner"):
                fakes = self

                @contextlib.contextmanager
                def connect(cls: Any, **kwargs: Any) -> Iterator[FakeProvisioner]:
                    server = fakes.mysql.setdefault(fakes.current_app, FakeMysqlServer())
                    yield FakeProvisioner(server, provisioning)

                provisioning.Provisioner.connect = classmethod(connect)
                self.patched.append("mysql: provisioning.Provisioner.connect (in-memory SQL)")
        elif charm == "minio":
            s3_client = module_of("s3_client")
            if s3_client is not None and hasattr(s3_client, "S3Client"):
                fakes = self

                def ensure_bucket(client: Any, bucket: str) -> bool:
                    existing = fakes.buckets.setdefault(fakes.current_app, set())
                    if bucket in existing:
                        return False
                    existing.add(bucket)
                    return True

                s3_client.S3Client.ensure_bucket = ensure_bucket
                self.patched.append("minio: s3_client.S3Client.ensure_bucket (in-memory)")


USER_NAMESPACE = "kubeflow-user-example-com"
DISPATCHER_LABEL = ("user.kubeflow.org/enabled", "true")


def dispatcher_controller(fs: Path, app: str, k8s: Any) -> str | None:
    """Play resource-dispatcher's namespace watcher once.

    It reads the manifests file the charm pushed, applies each manifest into every labelled
    namespace and writes the status file, as the real watcher does.

    Args:
        fs: the unit's `dispatcher` container filesystem root (persisted directories).
        app: application name (field manager).
        k8s: the shared FakeKubernetes.

    Returns:
        A note on what it did, or None when there is no manifests file yet.
    """
    import hashlib

    from kfcharm.k8s import K8sError, load_manifests

    manifests_file = fs / "etc" / "dispatcher" / "manifests.json"
    if not manifests_file.is_file():
        return None
    raw = manifests_file.read_bytes()
    target = fs / "var" / "lib" / "dispatcher" / "status.json"
    digest = hashlib.sha256(raw).hexdigest()
    if target.is_file() and json.loads(target.read_text()).get("manifests_hash") == digest:
        return None  # nothing new to load: a watcher does no writes
    try:
        doc = json.loads(raw)
        items = [entry["manifest"] for entry in doc.get("manifests", [])]
    except (ValueError, KeyError, TypeError, AttributeError):
        items = []
    namespaces = [
        ns.metadata.name
        for ns in k8s.objects("Namespace")
        if (ns.metadata.labels or {}).get(DISPATCHER_LABEL[0]) == DISPATCHER_LABEL[1]
    ]
    state, message = "ready", f"{len(items)} manifests in {len(namespaces)} namespaces"
    client = k8s.with_field_manager(f"{app}-controller")
    for namespace in namespaces:
        for manifest in items:
            body = {
                **manifest,
                "metadata": {**manifest.get("metadata", {}), "namespace": namespace},
            }
            try:
                for obj in load_manifests(json.dumps(body)):
                    client.apply(obj, namespace=namespace, force=True)
            except (K8sError, Exception) as err:  # the watcher reports, never crashes
                state, message = "degraded", f"{manifest.get('kind')}: {err}"[:200]
    status = {
        "manifests": len(items),
        "manifests_hash": digest,
        "message": message,
        "namespaces": len(namespaces),
        "pending": 0,
        "state": state,
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(status, sort_keys=True, separators=(",", ":")) + "\n"
    if not target.is_file() or target.read_text() != text:
        target.write_text(text)
    return message
