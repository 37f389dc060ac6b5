"""The `mysql_client` interface, byte-compatible with the data-platform `data_interfaces` library.

Requirer (e.g. `katib:relational-db`) app databag:
    database            the database name it wants
    requested-secrets   '["username", "password", "tls", "tls-ca", "uris"]'
    extra-user-roles    optional
    data                JSON snapshot of the fields above (kept like the common library
                        keeps a `data` key; nobody on the other side reads it)

Provider (`mysql:database`) app databag:
    database, endpoints ("host:port[,host:port]"), read-only-endpoints (optional), version,
    and the credentials: `secret-user` = URI of an app-owned Juju secret with `username`,
    `password` and `uris`, granted to the relation, when the requirer listed them in
    `requested-secrets`; otherwise (old requirers) plain `username` and `password`.

The provider's secret is labelled `<endpoint>.<relation-id>.user.secret` (as the common
library does), gets a new revision only when its content changes (password rotation), and is
removed on relation-broken. Dropping the SQL user is the charm's job.
"""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import quote

import ops
from pydantic import BaseModel, ConfigDict, Field, field_validator

from . import _wire
from .errors import RelationNotReadyError
from .sdi import remote_app_data, remote_name, validate_model, write_app_data

logger = logging.getLogger(__name__)

REQUESTED_SECRETS = ["username", "password", "tls", "tls-ca", "uris"]
"""The secret fields a requirer asks for, in the order the common library writes them."""

_USER_SECRET_FIELDS = frozenset({"username", "password", "uris"})
_SECRET_USER = "secret-user"  # noqa: S105  # a databag key, not a password
_SECRET_TLS = "secret-tls"  # noqa: S105  # a databag key, not a password
# MySQL identifiers the provider will quote with backticks: no quotes, spaces or controls.
_DATABASE_NAME = re.compile(r"[A-Za-z0-9_$-]{1,64}")


def _parse_endpoints(value: str) -> list[str]:
    """Split "host:port[,host:port...]" and check every entry."""
    endpoints = [item.strip() for item in value.split(",") if item.strip()]
    if not endpoints:
        raise ValueError("no endpoint given")
    for endpoint in endpoints:
        _split_endpoint(endpoint)
    return endpoints


def _split_endpoint(endpoint: str) -> tuple[str, int]:
    """Split "host:port" ("[v6]:port" too) into host and port."""
    host, sep, port = endpoint.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected host:port[,host:port...]")
    return host, int(port)


class DatabaseCredentials(BaseModel):
    """What a requirer needs to connect to its database.

    Attributes:
        username: the SQL user.
        password: its password (hidden from repr).
        endpoints: "host:port" strings, primary first.
        host: the host of the first endpoint.
        port: the port of the first endpoint.
        database: the database name the provider created (may differ from the request).
        version: the server version, if published.
        uris: connection URI(s), if published (hidden from repr).
        read_only_endpoints: "host:port" strings of read-only replicas, if any.
        tls_ca: the CA certificate to trust, if the provider enabled TLS.
    """

    model_config = ConfigDict(frozen=True)

    username: str
    password: str = Field(repr=False)
    endpoints: list[str]
    host: str
    port: int
    database: str
    version: str | None = None
    uris: str | None = Field(default=None, repr=False)
    read_only_endpoints: list[str] = Field(default_factory=list)
    tls_ca: str | None = Field(default=None, repr=False)


class DatabaseRequest(BaseModel):
    """One requirer's request, as seen by the provider.

    Attributes:
        relation_id: the relation it came on.
        app_name: the requiring application.
        database: the database name it wants.
        extra_user_roles: extra roles it asked for (comma separated), if any.
        wants_secrets: whether credentials go in a Juju secret (else plain databag text).
    """

    model_config = ConfigDict(frozen=True)

    relation_id: int
    app_name: str
    database: str
    extra_user_roles: str | None = None
    wants_secrets: bool = False


class _RequirerAppData(BaseModel):
    """The requirer's app databag, as the provider reads it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    database: str | None = None
    requested_secrets: list[str] | None = Field(default=None, alias="requested-secrets")
    extra_user_roles: str | None = Field(default=None, alias="extra-user-roles")

    @field_validator("database")
    @classmethod
    def _check_database(cls, value: str | None) -> str | None:
        if value is not None and not _DATABASE_NAME.fullmatch(value):
            raise ValueError("expected 1-64 characters out of A-Z a-z 0-9 _ $ -")
        return value

    @field_validator("requested_secrets", mode="before")
    @classmethod
    def _decode_requested_secrets(cls, value: object) -> object:
        return _wire.json_string_list(value)


class _ProviderAppData(BaseModel):
    """The provider's app databag, as the requirer reads it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    database: str | None = None
    endpoints: list[str] | None = None
    read_only_endpoints: list[str] | None = Field(default=None, alias="read-only-endpoints")
    version: str | None = None
    secret_user: str | None = Field(default=None, alias="secret-user")
    secret_tls: str | None = Field(default=None, alias="secret-tls")
    username: str | None = Field(default=None, repr=False)
    password: str | None = Field(default=None, repr=False)
    uris: str | None = Field(default=None, repr=False)
    tls_ca: str | None = Field(default=None, alias="tls-ca", repr=False)

    @field_validator("endpoints", "read_only_endpoints", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return _parse_endpoints(value) if isinstance(value, str) else value


class MysqlClientRequirer(ops.Object):
    """Requirer side: asks for a database and reads the credentials.

    The request is written (leader only) on relation-created, leader-elected and
    upgrade-charm, and whenever the charm calls `update_request()`.
    """

    def __init__(
        self,
        charm: ops.CharmBase,
        relation_name: str = "relational-db",
        database: str = "katib",
        extra_user_roles: str | None = None,
    ):
        """Set up the requirer.

        Args:
            charm: the charm.
            relation_name: the requires endpoint (interface `mysql_client`).
            database: the database name to ask for.
            extra_user_roles: extra roles to ask for (comma separated), if any.
        """
        super().__init__(charm, f"mysql-client-requirer-{relation_name}")
        self._charm = charm
        self._relation_name = relation_name
        self._database = database
        self._extra_user_roles = extra_user_roles
        charm.framework.observe(charm.on[relation_name].relation_created, self._on_request)
        charm.framework.observe(charm.on.leader_elected, self._on_request)
        charm.framework.observe(charm.on.upgrade_charm, self._on_request)

    def _on_request(self, _: ops.EventBase) -> None:
        self.update_request()

    def update_request(self) -> None:
        """Write the request on every relation of the endpoint (leader only; idempotent)."""
        if not self._charm.unit.is_leader():
            return
        request = {"database": self._database, "requested-secrets": json.dumps(REQUESTED_SECRETS)}
        if self._extra_user_roles:
            request["extra-user-roles"] = self._extra_user_roles
        desired: dict[str, str | None] = {
            "extra-user-roles": None,  # removed if no longer wanted
            **request,
            "data": json.dumps(request),
        }
        for relation in self._charm.model.relations[self._relation_name]:
            write_app_data(self._charm.app, relation, desired)

    def get_credentials(self, relation_id: int | None = None) -> DatabaseCredentials:
        """The credentials the provider published.

        Args:
            relation_id: which relation to read; by default the endpoint's only one.

        Raises:
            RelationMissingError: no relation on the endpoint (or not that one).
            RelationConflictError: no `relation_id` given and the endpoint has several.
            RelationNotReadyError: the provider has not published (everything) yet, or the
                credentials secret is not accessible yet.
            RelationDataError: the provider published malformed data.
        """
        relation = _wire.relation_by_id(self._charm.model, self._relation_name, relation_id)
        source = f"data from {remote_name(relation)}"
        data = validate_model(_ProviderAppData, dict(remote_app_data(relation)), relation, source)
        model = self._charm.model
        username, password, uris = data.username, data.password, data.uris
        if data.secret_user:
            content = _wire.read_granted_secret(model, data.secret_user, relation, _SECRET_USER)
            username = content.get("username")
            password = content.get("password")
            uris = content.get("uris", uris)
            if not username or not password:
                raise _wire.data_error(relation, _SECRET_USER, "no username/password in it")
        tls_ca = data.tls_ca
        if data.secret_tls:
            content = _wire.read_granted_secret(model, data.secret_tls, relation, _SECRET_TLS)
            tls_ca = content.get("tls-ca")
        if not username or not password or not data.endpoints or not data.database:
            raise RelationNotReadyError(
                self._relation_name, "waiting for the database credentials", relation.id
            )
        host, port = _split_endpoint(data.endpoints[0])
        return DatabaseCredentials(
            username=username,
            password=password,
            endpoints=data.endpoints,
            host=host,
            port=port,
            database=data.database,
            version=data.version,
            uris=uris,
            read_only_endpoints=data.read_only_endpoints or [],
            tls_ca=tls_ca,
        )


class MysqlClientProvider(_wire.CredentialsProvider[DatabaseRequest]):
    """Provider side: lists requests, publishes credentials, cleans up secrets.

    `requests()` / `collect_requests()` list what related apps asked for; `publish()` answers
    one relation. On relation-broken the leader removes that relation's credentials secret
    by itself (`forget`); the charm drops the SQL user. Secrets are labelled
    `<endpoint>.<relation-id>.user.secret`.
    """

    _group = "user"

    def __init__(self, charm: ops.CharmBase, relation_name: str = "database"):
        """Set up the provider.

        Args:
            charm: the charm.
            relation_name: the provides endpoint (interface `mysql_client`).
        """
        super().__init__(charm, relation_name)

    def _request(self, relation: ops.Relation) -> DatabaseRequest | None:
        if relation.app is None:
            return None
        source = f"request from {relation.app.name}"
        data = validate_model(
            _RequirerAppData, dict(relation.data[relation.app]), relation, source
        )
        if not data.database:
            return None
        return DatabaseRequest(
            relation_id=relation.id,
            app_name=relation.app.name,
            database=data.database,
            extra_user_roles=data.extra_user_roles,
            wants_secrets=bool(_USER_SECRET_FIELDS & set(data.requested_secrets or [])),
        )

    def publish(
        self,
        relation_id: int,
        *,
        username: str,
        password: str,
        endpoints: list[str],
        database: str,
        version: str,
        read_only_endpoints: list[str] | None = None,
    ) -> None:
        """Publish the credentials of one relation (leader only; a no-op elsewhere).

        Idempotent: unchanged values are not rewritten and an unchanged secret gets no new
        revision; a new password updates the secret (requirers get secret-changed).

        Args:
            relation_id: the relation to answer.
            username: the SQL user created for it.
            password: its password.
            endpoints: "host:port" strings, primary first.
            database: the database created for it.
            version: the server version.
            read_only_endpoints: "host:port" strings of read-only replicas, if any.

        Raises:
            RelationMissingError: the relation does not exist (any more).
            RelationDataError: the requirer's `requested-secrets` is malformed.
            ValueError: `endpoints` is empty or malformed.
        """
        if not self._charm.unit.is_leader():
            logger.debug("not the leader: not publishing on %s", self._relation_name)
            return
        relation = _wire.relation_by_id(self._charm.model, self._relation_name, relation_id)
        if not endpoints:
            raise ValueError("endpoints must not be empty")
        for endpoint in endpoints:
            _split_endpoint(endpoint)
        request = self._request(relation)
        in_secret = request is None or request.wants_secrets
        credentials = {"username": username, "password": password}
        if in_secret:
            user = f"{quote(username, safe='')}:{quote(password, safe='')}"
            credentials["uris"] = f"mysql://{user}@{endpoints[0]}/{database}"
        desired: dict[str, str | None] = {
            "database": database,
            "endpoints": ",".join(endpoints),
            "read-only-endpoints": ",".join(read_only_endpoints or []) or None,
            "version": version,
        }
        self._publish_credentials(relation, desired, credentials, in_secret)
