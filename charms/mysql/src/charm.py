#!/usr/bin/env python3
"""mysql charm: a MySQL-protocol database for Kubeflow, one database and user per relation."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timezone

import mysql_server as ms
import ops
import provisioning
from kfcharm.cos import GrafanaDashboardProvider, LogForwarder, MetricsEndpointProvider
from kfcharm.k8s import K8sError, get_client
from kfcharm.pebble import ensure_layer, push_if_changed
from kfcharm.relations.mysql_client import MysqlClientProvider
from kfcharm.resources import apply_container_resources
from kfcharm.status import Outcome, Reconciler, StatusError, status_for_k8s_error
from ops import pebble

logger = logging.getLogger(__name__)

DATABASE_ENDPOINT = "database"
ROOT_KEY = "root-password"
EXPORTER_KEY = "exporter-password"
_SECRET_KEYS = {ms.ROOT_USER: ROOT_KEY, ms.EXPORTER_USER: EXPORTER_KEY}


class MysqlCharm(ops.CharmBase):
    """Runs MySQL (or MariaDB) and serves one database per `database` relation."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        # Passwords written in this hook: Juju may serve the previous revision until the hook
        # ends, so fresh values are used directly rather than read back.
        self._fresh_passwords: dict[str, str] = {}
        self.database = MysqlClientProvider(self, DATABASE_ENDPOINT)
        self.metrics = MetricsEndpointProvider(
            self,
            jobs=[{"static_configs": [{"targets": [f"*:{ms.EXPORTER_PORT}"]}]}],
            refresh_event=self.on.mysqld_exporter_pebble_ready,
        )
        self.dashboards = GrafanaDashboardProvider(self)
        self.logging = LogForwarder(self)

        on = self.on
        # relation-broken is among them: ops leaves the broken relation out of
        # `model.relations`, so the reconcile drops its user.
        events = [
            on.install,
            on.leader_elected,
            on.config_changed,
            on.upgrade_charm,
            on.update_status,
            on.mysql_pebble_ready,
            on.mysqld_exporter_pebble_ready,
            on.database_storage_attached,
            on.secret_changed,
            on[DATABASE_ENDPOINT].relation_created,
            on[DATABASE_ENDPOINT].relation_joined,
            on[DATABASE_ENDPOINT].relation_changed,
            on[DATABASE_ENDPOINT].relation_broken,
            on["logging"].relation_joined,
            on["logging"].relation_changed,
            on["logging"].relation_departed,
            on["logging"].relation_broken,
        ]
        self.reconciler = Reconciler(self, self._reconcile, events)
        framework.observe(on.secret_remove, self._on_secret_remove)
        framework.observe(on.stop, self._on_teardown)
        framework.observe(on.remove, self._on_teardown)
        framework.observe(on.get_password_action, self._on_get_password)
        framework.observe(on.set_password_action, self._on_set_password)
        framework.observe(on.create_backup_action, self._on_create_backup)
        framework.observe(on.list_backups_action, self._on_list_backups)
        framework.observe(on.restore_action, self._on_restore)

    # -- events ---------------------------------------------------------------------------

    def _on_teardown(self, _: ops.EventBase) -> None:
        # Nothing to delete: Juju removes the pod; the `database` storage (the users' data)
        # stays unless the operator passes --destroy-storage.
        self.reconciler.set_outcome(Outcome(unit=[ops.MaintenanceStatus("stopping")]))

    def _on_secret_remove(self, event: ops.SecretRemoveEvent) -> None:
        # Old revisions of the system passwords, which nobody tracks after a rotation.
        if event.secret.label == ms.SYSTEM_SECRET_LABEL:
            event.remove_revision()

    def _on_get_password(self, event: ops.ActionEvent) -> None:
        username = str(event.params.get("username", ms.ROOT_USER))
        if username not in _SECRET_KEYS:
            event.fail(f"username must be one of {', '.join(ms.SYSTEM_USERS)}")
            return
        try:
            passwords = self._system_passwords()
        except StatusError as stop:
            event.fail(f"password unavailable: {stop.status.message}")
            return
        results = {
            "username": username,
            "password": passwords[_SECRET_KEYS[username]],
            "secret-label": ms.SYSTEM_SECRET_LABEL,
        }
        if self.unit.is_leader():  # only the owner's leader may read the secret's metadata
            secret = self.model.get_secret(label=ms.SYSTEM_SECRET_LABEL)
            results["secret-id"] = secret.id or secret.get_info().id or ""
        event.set_results(results)

    def _on_set_password(self, event: ops.ActionEvent) -> None:
        username = str(event.params.get("username", ms.ROOT_USER))
        if not self.unit.is_leader():
            event.fail(
                f"run this action on the leader: juju run {self.app.name}/leader set-password"
            )
            return
        if username not in _SECRET_KEYS:
            event.fail(f"username must be one of {', '.join(ms.SYSTEM_USERS)}")
            return
        given = event.params.get("password")
        try:
            new = ms.check_user_password(str(given)) if given else ms.generate_password()
        except ValueError as err:
            event.fail(str(err))
            return
        if not self._is_primary():
            event.fail(f"this unit serves no database: {self._standby_hint()}")
            return
        try:
            passwords = self._system_passwords()
            with self._connect(passwords) as db:
                if username == ms.ROOT_USER:
                    db.set_password_all_hosts(ms.ROOT_USER, new)
                else:
                    db.ensure_exporter_user(
                        ms.EXPORTER_USER, ms.LOCAL_HOST, new, reset_password=True
                    )
        except StatusError as stop:
            event.fail(f"password not changed: {stop.status.message}")
            return
        # The server has the new password: record it at once (a failure now would lock us out).
        self._store_system_passwords({**passwords, _SECRET_KEYS[username]: new})
        logger.info("password of %s rotated", username)
        self.reconciler.run(force=True)  # push the new password to the workloads now
        event.set_results({"username": username, "rotated": "true"})

    def _on_create_backup(self, event: ops.ActionEvent) -> None:
        label = event.params.get("label")
        try:
            backup = ms.backup_id(_now(), str(label) if label else None)
        except ValueError as err:
            event.fail(str(err))
            return
        try:
            info, databases = self._backup_preflight()
            if not databases:
                event.fail("there are no application databases to back up")
                return
            path = ms.backup_path(backup)
            container = self.unit.get_container(ms.MYSQL_CONTAINER)
            container.make_dir(ms.BACKUP_DIR, make_parents=True, permissions=0o700)
            event.log(f"dumping {len(databases)} database(s) to {path}")
            self._run_with_client_credentials(
                ms.dump_command(info.flavour.value, databases, path), timeout=3600
            )
            try:
                size = container.list_files(path, itself=True)[0].size
            except pebble.APIError:
                raise _ActionError(f"the dump finished but {path} is missing") from None
        except _ActionError as err:
            event.fail(str(err))
            return
        except pebble.ConnectionError:
            event.fail("cannot reach the mysql container (Pebble); try again later")
            return
        event.set_results(
            {"backup-id": backup, "size": str(size), "databases": ",".join(databases)}
        )

    def _on_list_backups(self, event: ops.ActionEvent) -> None:
        container = self.unit.get_container(ms.MYSQL_CONTAINER)
        try:
            files = container.list_files(ms.BACKUP_DIR, pattern="backup-*.sql")
        except pebble.APIError as err:
            if err.code == 404:
                files = []
            else:
                event.fail(f"cannot list {ms.BACKUP_DIR}: {err.message}")
                return
        except pebble.ConnectionError:
            event.fail("cannot reach the mysql container (Pebble); try again later")
            return
        rows = []
        for info in sorted(files, key=lambda f: f.name):
            backup = info.name.removesuffix(".sql")
            if ms.BACKUP_ID.fullmatch(backup):
                when = info.last_modified.isoformat() if info.last_modified else "?"
                rows.append(f"{backup} {info.size} {when}")
        event.set_results(
            {"count": str(len(rows)), "backups": "\n".join(rows) if rows else "(none)"}
        )

    def _on_restore(self, event: ops.ActionEvent) -> None:
        backup = str(event.params.get("backup-id", ""))
        try:
            path = ms.backup_path(backup)
        except ValueError as err:
            event.fail(f"backup-id: {err}")
            return
        container = self.unit.get_container(ms.MYSQL_CONTAINER)
        try:
            if not container.exists(path):
                event.fail(f"no backup {backup} on this unit (see list-backups)")
                return
            info, _ = self._backup_preflight()
            event.log(f"restoring {backup}")
            self._run_with_client_credentials(
                ms.restore_command(info.flavour.value, path), timeout=3600
            )
        except _ActionError as err:
            event.fail(str(err))
            return
        except pebble.ConnectionError:
            event.fail("cannot reach the mysql container (Pebble); try again later")
            return
        event.set_results({"restored": backup})

    # -- reconcile ------------------------------------------------------------------------

    def _reconcile(self, outcome: Outcome) -> None:
        """Bring the workload, the cluster and the relations to the desired state.

        The leader's application status mirrors the unit's (the Reconciler's default).
        """
        config = self._load_config()
        passwords = self._system_passwords()
        primary = self._is_primary()
        if self.unit.is_leader():
            try:
                self._reconcile_resources(config)
            except K8sError as err:  # reported, but the database runs all the same
                outcome.add(status_for_k8s_error(err, self.app.name))
            if self.app.planned_units() > 1:
                outcome.add(
                    ops.BlockedStatus(
                        f"{self.app.planned_units()} units but only one is supported: "
                        f"juju scale-application {self.app.name} 1"
                    ),
                    app=True,
                )
        if not primary:
            self._reconcile_standby()
            return
        self._reconcile_workload(outcome, config, passwords)
        self.unit.set_ports(ms.MYSQL_PORT)
        if not self.unit.is_leader():
            return
        with self._connect(passwords) as db:
            info = db.server_info()
            self.unit.set_workload_version(info.version)
            db.ensure_exporter_user(ms.EXPORTER_USER, ms.LOCAL_HOST, passwords[EXPORTER_KEY])
            self._reconcile_relations(outcome, db, info, config)

    def _load_config(self) -> ms.MysqlConfig:
        try:
            return self.load_config(ms.MysqlConfig)
        except ms.ConfigError as err:
            raise StatusError(
                ops.BlockedStatus(
                    f"invalid config {err.option}: {err.reason} "
                    f"(juju config {self.app.name} {err.option}=... or --reset {err.option})"
                )
            ) from None

    def _is_primary(self) -> bool:
        """Whether this unit serves the database: the StatefulSet's first pod (ordinal 0)."""
        ordinal = ms.pod_ordinal(socket.gethostname(), self.app.name)
        if ordinal is None:  # not in a StatefulSet pod (e.g. tests): use the unit number
            ordinal = int(self.unit.name.rsplit("/", 1)[1])
        return ordinal == 0

    def _standby_hint(self) -> str:
        return f"only one unit is supported: juju scale-application {self.app.name} 1"

    # -- credentials ----------------------------------------------------------------------

    def _system_passwords(self) -> dict[str, str]:
        """Root and exporter passwords from the app secret; the leader creates them first.

        Raises:
            StatusError: Waiting while a non-leader has no secret to read yet.
        """
        if self._fresh_passwords:
            return dict(self._fresh_passwords)
        try:
            secret = self.model.get_secret(label=ms.SYSTEM_SECRET_LABEL)
            content = secret.get_content(refresh=True)
        except ops.SecretNotFoundError:
            content = {}
        wanted = {ROOT_KEY, EXPORTER_KEY}
        if wanted <= content.keys():
            return {key: content[key] for key in wanted}
        if not self.unit.is_leader():
            raise StatusError(ops.WaitingStatus("waiting for the leader to generate credentials"))
        generated = {key: content.get(key) or ms.generate_password() for key in wanted}
        return self._store_system_passwords(generated)

    def _store_system_passwords(self, passwords: dict[str, str]) -> dict[str, str]:
        try:
            secret = self.model.get_secret(label=ms.SYSTEM_SECRET_LABEL)
        except ops.SecretNotFoundError:
            self.app.add_secret(
                passwords,
                label=ms.SYSTEM_SECRET_LABEL,
                description="mysql root and metrics-exporter passwords",
            )
        else:
            secret.set_content(passwords)
        self._fresh_passwords = dict(passwords)
        return dict(passwords)

    # -- workload -------------------------------------------------------------------------

    def _reconcile_workload(
        self, outcome: Outcome, config: ms.MysqlConfig, passwords: dict[str, str]
    ) -> None:
        if not self.model.storages["database"]:
            raise StatusError(ops.WaitingStatus("waiting for the database storage"))
        mysql = self.unit.get_container(ms.MYSQL_CONTAINER)
        exporter = self.unit.get_container(ms.EXPORTER_CONTAINER)
        try:
            push_if_changed(
                mysql,
                ms.ROOT_PASSWORD_FILE,
                passwords[ROOT_KEY],
                permissions=0o600,
                user_id=ms.MYSQL_UID,
                group_id=ms.MYSQL_UID,
            )
            layer = ms.mysql_layer(config, self.logging.log_targets(container=mysql))
            ensure_layer(mysql, ms.MYSQL_SERVICE, layer)
        except pebble.ConnectionError:
            raise StatusError(
                ops.WaitingStatus("waiting for the mysql container to start (Pebble)")
            ) from None
        try:
            cnf = ms.client_cnf(ms.EXPORTER_USER, passwords[EXPORTER_KEY])
            cnf_changed = push_if_changed(
                exporter,
                ms.EXPORTER_CNF,
                cnf,
                permissions=0o600,
                user_id=ms.EXPORTER_UID,
                group_id=ms.EXPORTER_UID,
            )
            layer = ms.exporter_layer(self.logging.log_targets(container=exporter))
            replanned = ensure_layer(exporter, ms.EXPORTER_SERVICE, layer)
            service = exporter.get_services(ms.EXPORTER_SERVICE).get(ms.EXPORTER_SERVICE)
            if cnf_changed and not replanned and service is not None and service.is_running():
                exporter.restart(ms.EXPORTER_SERVICE)  # it reads the credentials at start
        except pebble.ConnectionError:
            # Metrics are not worth holding the database back for: report and go on.
            outcome.add(
                ops.WaitingStatus("waiting for the mysqld-exporter container to start (Pebble)")
            )

    def _reconcile_standby(self) -> None:
        container = self.unit.get_container(ms.MYSQL_CONTAINER)
        try:
            ensure_layer(container, ms.MYSQL_SERVICE, ms.standby_layer())
        except pebble.ConnectionError:
            logger.debug("standby layer not added yet: Pebble not ready")
        self.unit.set_ports()
        raise StatusError(ops.BlockedStatus(f"standby, serves nothing: {self._standby_hint()}"))

    def _reconcile_resources(self, config: ms.MysqlConfig) -> None:
        """Set the containers' requests and limits on Juju's StatefulSet (leader only).

        One read per hook; a write only when the live resources differ from the options.
        Without any resource option, a cluster the app may not read (not trusted yet) is fine.
        """
        desired = config.resources()
        client = get_client(field_manager=self.app.name)
        try:
            apply_container_resources(client, self.app.name, self.model.name, desired)
        except K8sError as err:
            if err.transient or any(r.to_k8s() for r in desired.values()):
                raise
            logger.debug("container resources not checked: %s", err)

    # -- database -------------------------------------------------------------------------

    def _connect(
        self, passwords: dict[str, str]
    ) -> AbstractContextManager[provisioning.Provisioner]:
        return _root_connection(passwords[ROOT_KEY])

    def _reconcile_relations(
        self,
        outcome: Outcome,
        db: provisioning.Provisioner,
        info: provisioning.ServerInfo,
        config: ms.MysqlConfig,
    ) -> None:
        results = self.database.collect_requests()
        for relation_id, error in results.errors.items():
            # Drop pydantic's "Value error, " prefix that the library leaves in.
            message = error.message.replace("Value error, ", "")
            outcome.add(_relation_problem(relation_id, message))
        endpoint = ms.service_endpoint(self.app.name, self.model.name, socket.getfqdn())
        for request in results.values.values():
            relation = self.model.get_relation(DATABASE_ENDPOINT, request.relation_id)
            if relation is None:
                continue
            user = ms.relation_user(request.relation_id)
            try:
                provisioning.check_database_name(request.database)
                published = self._published_password(relation)
                password = published or ms.generate_password()
                db.ensure_database(request.database)
                db.ensure_user(
                    user,
                    "%",
                    password,
                    native_password=config.mysql_native_password,
                    reset_password=published is None,
                )
                db.grant_database(user, "%", request.database)
            except provisioning.ProvisioningError as err:
                if err.transient:
                    raise
                outcome.add(
                    _relation_problem(
                        request.relation_id,
                        f"database {request.database!r}: {err}",
                        request.app_name,
                    )
                )
                continue
            if request.extra_user_roles:
                logger.warning(
                    "relation %d asks for extra-user-roles; only privileges on its database "
                    "are granted",
                    request.relation_id,
                )
            self.database.publish(
                request.relation_id,
                username=user,
                password=password,
                endpoints=[endpoint],
                database=request.database,
                version=info.version,
            )
        live = {r.id for r in self.model.relations[DATABASE_ENDPOINT]}
        for name, host in db.accounts("relation-%"):
            relation_id = ms.relation_id_of_user(name)
            if relation_id is not None and host == "%" and relation_id not in live:
                db.drop_user(name, host)

    def _published_password(self, relation: ops.Relation) -> str | None:
        """The password already given to a relation (its secret, or the legacy databag)."""
        try:
            secret = self.model.get_secret(label=self.database.secret_label(relation.id))
            content = secret.peek_content()
        except ops.SecretNotFoundError:
            content = {}
        return content.get("password") or relation.data[self.app].get("password") or None

    # -- backups --------------------------------------------------------------------------

    def _backup_preflight(self) -> tuple[provisioning.ServerInfo, list[str]]:
        if not self._is_primary():
            raise _ActionError(f"this unit serves no database: {self._standby_hint()}")
        try:
            passwords = self._system_passwords()
            with self._connect(passwords) as db:
                return db.server_info(), db.databases()
        except StatusError as stop:
            raise _ActionError(f"database not available: {stop.status.message}") from None

    def _run_with_client_credentials(self, command: list[str], timeout: float) -> None:
        """Run a client command in the workload with root's credentials in a 0600 file."""
        container = self.unit.get_container(ms.MYSQL_CONTAINER)
        passwords = self._system_passwords()
        container.push(
            ms.CLIENT_DEFAULTS_FILE,
            ms.client_cnf(ms.ROOT_USER, passwords[ROOT_KEY]),
            make_dirs=True,
            permissions=0o600,
        )
        try:
            process = container.exec(command, timeout=timeout)
            process.wait_output()
        except pebble.ExecError as err:
            stderr = err.stderr if isinstance(err.stderr, str) else ""
            detail = " ".join(stderr.split())[-300:] or f"exit code {err.exit_code}"
            raise _ActionError(f"{command[0]} failed: {detail}") from None
        except pebble.TimeoutError:
            raise _ActionError(f"{command[0]} did not finish within {timeout:.0f} s") from None
        finally:
            try:
                container.remove_path(ms.CLIENT_DEFAULTS_FILE)
            except pebble.PathError:
                logger.debug("client defaults file already gone")


def _now() -> datetime:
    """The current time in UTC (a function, so tests can freeze it)."""
    return datetime.now(timezone.utc)


def _relation_problem(relation_id: int | None, message: str, app: str = "") -> ops.StatusBase:
    where = f"{DATABASE_ENDPOINT}:{relation_id}" if relation_id is not None else DATABASE_ENDPOINT
    by = f" ({app})" if app else ""
    return ops.BlockedStatus(f"relation {where}{by}: {message}")


class _ActionError(Exception):
    """An action cannot complete; the message is shown to the operator."""


@contextmanager
def _root_connection(root_password: str) -> Iterator[provisioning.Provisioner]:
    """`Provisioner.connect` to the local server as root; failures become `StatusError`."""
    try:
        with provisioning.Provisioner.connect(
            host=ms.LOCAL_HOST, port=ms.MYSQL_PORT, user=ms.ROOT_USER, password=root_password
        ) as db:
            yield db
    except provisioning.ProvisioningError as err:
        raise _status_error(err) from None


def _status_error(err: provisioning.ProvisioningError) -> StatusError:
    if isinstance(err, provisioning.AccessDeniedError):
        return StatusError(
            ops.BlockedStatus(
                "the server rejects the root password from the Juju secret "
                f"'{ms.SYSTEM_SECRET_LABEL}' (data volume from another deployment?)"
            )
        )
    if err.transient:
        return StatusError(
            ops.WaitingStatus("waiting for the database server to accept connections")
        )
    return StatusError(ops.BlockedStatus(f"database error: {err}"))


if __name__ == "__main__":  # pragma: no cover
    ops.main(MysqlCharm)
