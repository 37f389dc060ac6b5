"""The `s3` interface, v1 (credentials in a Juju secret), as the data-platform `s3` library.

Requirer (e.g. `kserve:s3-credentials`) app databag:
    bucket              optional: the bucket it asks for
    path                optional: the path in the bucket it asks for
    requested-secrets   '["access-key", "secret-key"]'
    lib-version         "1.0"

Provider (e.g. `minio:s3`) app databag:
    bucket, endpoint, region, path, s3-uri-style ("path"/"host"), storage-class,
    tls-ca-chain (JSON list of strings), s3-api-version ("2"/"4"), attributes (JSON list of
    strings) -- all optional --, lib-version, and `secret-extra` = URI of an app-owned Juju
    secret with `access-key` and `secret-key`, granted to the relation and labelled
    `<endpoint>.<relation-id>.extra.secret`.

Compatibility with v0 (plain text credentials): a requirer that sent no `requested-secrets`
gets `access-key`/`secret-key` in the databag; the requirer reads them from a v0 provider and,
like the v1 library, asks such a provider for bucket `relation-<id>` when it asked for none.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Literal

import ops
from pydantic import BaseModel, ConfigDict, Field, field_validator

from . import _wire
from .errors import RelationDataError, RelationNotReadyError
from .sdi import remote_app_data, remote_name, validate_model, write_app_data

logger = logging.getLogger(__name__)

LIB_VERSION = "1.0"
"""The `lib-version` both sides publish: `{LIBAPI}.{LIBPATCH}` of the s3 v1 library."""

REQUESTED_SECRETS = ["access-key", "secret-key"]

_SECRET_EXTRA = "secret-extra"  # noqa: S105  # a databag key, not a password
_LIB_VERSION = "lib-version"
# S3 bucket naming rules: 3-63 of lowercase letters, digits, dots and hyphens.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def _is_v0(lib_version: str | None) -> bool:
    """Whether a peer's `lib-version` says it speaks v0 (plain text credentials)."""
    if lib_version is None:
        return True
    major = lib_version.split(".", 1)[0]
    return not major.isdigit() or int(major) < 1


class S3Credentials(BaseModel):
    """Everything needed to use the object storage.

    Attributes:
        access_key: the access key (hidden from repr).
        secret_key: the secret key (hidden from repr).
        bucket: the bucket to use.
        endpoint: the endpoint URL.
        region: the region.
        path: the path (prefix) inside the bucket.
        s3_uri_style: "path" or "host" bucket lookup.
        tls_ca_chain: PEM (or base64) certificates to trust for the endpoint.
        storage_class: storage class of uploaded objects.
        s3_api_version: signature version, 2 or 4.
        attributes: custom metadata headers ("Header=value").
    """

    model_config = ConfigDict(frozen=True)

    access_key: str = Field(min_length=1, repr=False)
    secret_key: str = Field(min_length=1, repr=False)
    bucket: str | None = None
    endpoint: str | None = None
    region: str | None = None
    path: str | None = None
    s3_uri_style: Literal["path", "host"] | None = None
    tls_ca_chain: list[str] | None = None
    storage_class: str | None = None
    s3_api_version: Literal[2, 4] | None = None
    attributes: list[str] | None = None


S3Connection = S3Credentials
"""Alias: what the provider publishes is the same model the requirer reads."""


class S3Request(BaseModel):
    """One requirer's request, as seen by the provider.

    Attributes:
        relation_id: the relation it came on.
        app_name: the requiring application.
        bucket: the bucket it asked for, if any.
        path: the path it asked for, if any.
        wants_secrets: whether credentials go in a Juju secret (v1) or plain text (v0).
        lib_version: its `lib-version`, if it sent one.
    """

    model_config = ConfigDict(frozen=True)

    relation_id: int
    app_name: str
    bucket: str | None = None
    path: str | None = None
    wants_secrets: bool = True
    lib_version: str | None = None


class _RequirerAppData(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    bucket: str | None = None
    path: str | None = None
    requested_secrets: list[str] | None = Field(default=None, alias="requested-secrets")
    lib_version: str | None = Field(default=None, alias="lib-version")

    @field_validator("bucket")
    @classmethod
    def _check_bucket(cls, value: str | None) -> str | None:
        if value is not None and not _BUCKET.fullmatch(value):
            raise ValueError("not a valid S3 bucket name")
        return value

    @field_validator("requested_secrets", mode="before")
    @classmethod
    def _decode(cls, value: object) -> object:
        return _wire.json_string_list(value)


class _ProviderAppData(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    bucket: str | None = None
    endpoint: str | None = None
    region: str | None = None
    path: str | None = None
    s3_uri_style: Literal["path", "host"] | None = Field(default=None, alias="s3-uri-style")
    storage_class: str | None = Field(default=None, alias="storage-class")
    tls_ca_chain: list[str] | None = Field(default=None, alias="tls-ca-chain")
    s3_api_version: Literal[2, 4] | None = Field(default=None, alias="s3-api-version")
    attributes: list[str] | None = None
    lib_version: str | None = Field(default=None, alias="lib-version")
    secret_extra: str | None = Field(default=None, alias="secret-extra")
    access_key: str | None = Field(default=None, alias="access-key", repr=False)
    secret_key: str | None = Field(default=None, alias="secret-key", repr=False)

    @field_validator("tls_ca_chain", "attributes", mode="before")
    @classmethod
    def _decode(cls, value: object) -> object:
        return _wire.json_string_list(value)

    @field_validator("s3_api_version", mode="before")
    @classmethod
    def _to_int(cls, value: object) -> object:
        if isinstance(value, str):
            if value not in ("2", "4"):
                raise ValueError("expected 2 or 4")
            return int(value)
        return value


class S3Requirer(ops.Object):
    """Requirer side: asks for S3 credentials and reads them.

    The request is written (leader only) on relation-created, relation-changed (to answer
    v0 providers), leader-elected and upgrade-charm, and whenever the charm calls
    `update_request()`.
    """

    def __init__(
        self,
        charm: ops.CharmBase,
        relation_name: str = "s3-credentials",
        bucket: str | None = None,
        path: str | None = None,
    ):
        """Set up the requirer.

        Args:
            charm: the charm.
            relation_name: the requires endpoint (interface `s3`).
            bucket: the bucket to ask for; by default the provider chooses.
            path: the path to ask for; by default the provider chooses.
        """
        super().__init__(charm, f"s3-requirer-{relation_name}")
        self._charm = charm
        self._relation_name = relation_name
        self._bucket = bucket
        self._path = path
        on_endpoint = charm.on[relation_name]
        for event in (
            on_endpoint.relation_created,
            on_endpoint.relation_changed,
            charm.on.leader_elected,
            charm.on.upgrade_charm,
        ):
            charm.framework.observe(event, self._on_request)

    def _on_request(self, _: ops.EventBase) -> None:
        self.update_request()

    def update_request(self) -> None:
        """Write the request on every relation of the endpoint (leader only; idempotent)."""
        if not self._charm.unit.is_leader():
            return
        for relation in self._charm.model.relations[self._relation_name]:
            bucket = self._bucket
            remote = relation.data[relation.app] if relation.app else {}
            if bucket is None and remote and _is_v0(remote.get(_LIB_VERSION)):
                # A v0 provider publishes nothing until it sees a bucket name.
                bucket = f"relation-{relation.id}"
            desired = {
                "bucket": bucket,
                "path": self._path,
                "requested-secrets": json.dumps(REQUESTED_SECRETS),
                _LIB_VERSION: LIB_VERSION,
            }
            write_app_data(self._charm.app, relation, desired)

    def get_credentials(self, relation_id: int | None = None) -> S3Credentials:
        """The credentials and connection details the provider published.

        Args:
            relation_id: which relation to read; by default the endpoint's only one.

        Raises:
            RelationMissingError: no relation on the endpoint (or not that one).
            RelationConflictError: no `relation_id` given and the endpoint has several.
            RelationNotReadyError: the provider has not published the credentials yet, or
                their secret is not accessible yet.
            RelationDataError: the provider published malformed data.
        """
        relation = _wire.relation_by_id(self._charm.model, self._relation_name, relation_id)
        source = f"data from {remote_name(relation)}"
        data = validate_model(_ProviderAppData, dict(remote_app_data(relation)), relation, source)
        access_key, secret_key = data.access_key, data.secret_key
        if data.secret_extra:
            content = _wire.read_granted_secret(
                self._charm.model, data.secret_extra, relation, _SECRET_EXTRA
            )
            access_key, secret_key = content.get("access-key"), content.get("secret-key")
            if not access_key or not secret_key:
                raise _wire.data_error(relation, _SECRET_EXTRA, "no access-key/secret-key")
        if not access_key or not secret_key:
            raise RelationNotReadyError(
                self._relation_name, "waiting for the S3 credentials", relation.id
            )
        return S3Credentials(
            access_key=access_key,
            secret_key=secret_key,
            bucket=data.bucket,
            endpoint=data.endpoint,
            region=data.region,
            path=data.path,
            s3_uri_style=data.s3_uri_style,
            tls_ca_chain=data.tls_ca_chain,
            storage_class=data.storage_class,
            s3_api_version=data.s3_api_version,
            attributes=data.attributes,
        )


class S3Provider(_wire.CredentialsProvider[S3Request]):
    """Provider side: lists requests, publishes credentials, cleans up secrets.

    `requests()` / `collect_requests()` list what related apps asked for; `publish()` answers
    one relation. On relation-broken the leader removes that relation's credentials secret
    by itself (`forget`). Secrets are labelled `<endpoint>.<relation-id>.extra.secret`.
    """

    _group = "extra"

    def __init__(self, charm: ops.CharmBase, relation_name: str = "s3"):
        """Set up the provider.

        Args:
            charm: the charm.
            relation_name: the provides endpoint (interface `s3`).
        """
        super().__init__(charm, relation_name)

    def _request(self, relation: ops.Relation) -> S3Request | None:
        if relation.app is None:
            return None
        source = f"request from {relation.app.name}"
        databag = dict(relation.data[relation.app])
        data = validate_model(_RequirerAppData, databag, relation, source)
        if data.lib_version is None and data.bucket is None and data.requested_secrets is None:
            return None
        return S3Request(
            relation_id=relation.id,
            app_name=relation.app.name,
            bucket=data.bucket,
            path=data.path,
            wants_secrets=bool(set(REQUESTED_SECRETS) & set(data.requested_secrets or [])),
            lib_version=data.lib_version,
        )

    def publish(
        self, relation_id: int, credentials: S3Credentials, *, allow_plaintext: bool = False
    ) -> None:
        """Publish the connection details of one relation (leader only; a no-op elsewhere).

        Idempotent: unchanged values are not rewritten and an unchanged secret gets no new
        revision; new keys update the secret (requirers get secret-changed).

        Args:
            relation_id: the relation to answer.
            credentials: what to publish.
            allow_plaintext: serve a v0 requirer (no `requested-secrets`) with credentials in
                plain databag text. Off by default: credentials belong in Juju secrets.

        Raises:
            RelationMissingError: the relation does not exist (any more).
            RelationDataError: the requirer's request is malformed, or it asks for plain-text
                credentials and `allow_plaintext` is false.
        """
        if not self._charm.unit.is_leader():
            logger.debug("not the leader: not publishing on %s", self._relation_name)
            return
        relation = _wire.relation_by_id(self._charm.model, self._relation_name, relation_id)
        request = self._request(relation)
        c = credentials
        desired: dict[str, str | None] = {
            "bucket": c.bucket,
            "endpoint": c.endpoint,
            "region": c.region,
            "path": c.path,
            "s3-uri-style": c.s3_uri_style,
            "storage-class": c.storage_class,
            "tls-ca-chain": json.dumps(c.tls_ca_chain) if c.tls_ca_chain else None,
            "s3-api-version": str(c.s3_api_version) if c.s3_api_version else None,
            "attributes": json.dumps(c.attributes) if c.attributes else None,
            _LIB_VERSION: LIB_VERSION,
        }
        keys = {"access-key": c.access_key, "secret-key": c.secret_key}
        in_secret = request is None or request.wants_secrets
        if not in_secret and not allow_plaintext:
            raise RelationDataError(
                self._relation_name,
                f"{relation.app.name if relation.app else 'the requirer'} asks for plain-text "
                "credentials (s3 v0); only the secrets form (v1) is served",
                relation_id,
            )
        self._publish_credentials(relation, desired, keys, in_secret)
