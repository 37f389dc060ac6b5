"""The ``object-storage`` interface (SDI, v1): MinIO publishes where and how to reach it.

The provider (our ``minio`` charm) sends ``access-key``, ``secret-key``, ``service``, ``port``,
``secure`` and ``namespace``; the requirer (kfp-api, kfp-ui, argo, kserve, ...) sends only its
supported versions.

Warning:
    This is the legacy protocol: the credentials travel as **plain text** in the application
    databag, readable by anyone who can read the relation data. It is kept because the Charmhub
    Kubeflow charms read it; consumers that can should use the secrets-based ``s3`` interface.

Example:
    ```python
    self.object_storage = ObjectStorageRequirer(self)
    ...
    store = self.object_storage.get_data()  # ObjectStorageData
    url = store.url
    ```
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import ops
from pydantic import BaseModel, ConfigDict, Field

from .sdi import SdiProvider, SdiRequirer

INTERFACE = "object-storage"
DEFAULT_RELATION_NAME = "object-storage"


class ObjectStorageData(BaseModel):
    """What the provider publishes: an S3-compatible endpoint and its credentials.

    Attributes:
        access_key: S3 access key (wire key ``access-key``).
        secret_key: S3 secret key (wire key ``secret-key``); hidden from ``repr``.
        service: Kubernetes Service name of the store (usually the provider app name).
        port: TCP port of the Service.
        secure: whether to use TLS.
        namespace: namespace of the Service (the provider's model), if given.
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    access_key: str = Field(
        validation_alias="access-key", serialization_alias="access-key", repr=False
    )
    secret_key: str = Field(
        validation_alias="secret-key", serialization_alias="secret-key", repr=False
    )
    service: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    secure: bool = False
    namespace: str | None = None

    @property
    def host(self) -> str:
        """In-cluster host name: ``<service>.<namespace>`` (or the bare service name)."""
        return f"{self.service}.{self.namespace}" if self.namespace else self.service

    @property
    def url(self) -> str:
        """Endpoint URL, e.g. ``http://minio.kubeflow:9000``."""
        return f"{'https' if self.secure else 'http'}://{self.host}:{self.port}"

    def to_databag(self) -> dict[str, Any]:
        """The dict sent as SDI ``data`` (wire keys; ``namespace`` omitted when None)."""
        return self.model_dump(by_alias=True, exclude_none=True)


class ObjectStorageProvider(ops.Object):
    """Provider side (MinIO): publishes `ObjectStorageData` on every relation."""

    def __init__(
        self,
        charm: ops.CharmBase,
        relation_name: str = DEFAULT_RELATION_NAME,
        *,
        versions: Iterable[str] | None = None,
    ):
        """Bind to the endpoint.

        Args:
            charm: the charm.
            relation_name: endpoint name (interface ``object-storage``).
            versions: schema versions to support (default: all packaged).
        """
        super().__init__(charm, relation_name)
        self.relation_name = relation_name
        self.sdi = SdiProvider(
            charm, relation_name, INTERFACE, versions=versions, key=f"{relation_name}-sdi"
        )

    def publish(self, data: ObjectStorageData) -> None:
        """Send `data` to every related app (leader only; unchanged data is not rewritten).

        Args:
            data: endpoint and credentials.
        """
        self.sdi.send_data(data.to_databag())


class ObjectStorageRequirer(ops.Object):
    """Requirer side: reads the single provider's `ObjectStorageData`."""

    def __init__(
        self,
        charm: ops.CharmBase,
        relation_name: str = DEFAULT_RELATION_NAME,
        *,
        versions: Iterable[str] | None = None,
    ):
        """Bind to the endpoint.

        Args:
            charm: the charm.
            relation_name: endpoint name (interface ``object-storage``).
            versions: schema versions to support (default: all packaged).
        """
        super().__init__(charm, relation_name)
        self.relation_name = relation_name
        self.sdi = SdiRequirer(
            charm, relation_name, INTERFACE, versions=versions, key=f"{relation_name}-sdi"
        )

    def get_data(self) -> ObjectStorageData:
        """The object store published by the related provider.

        Returns:
            The validated data.

        Raises:
            RelationMissingError: no relation.
            RelationConflictError: more than one relation.
            RelationNotReadyError: the provider has not published yet.
            RelationDataError: the provider's data is malformed.
        """
        return self.sdi.get_single_as(ObjectStorageData)
