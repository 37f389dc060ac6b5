"""The ``k8s-service`` interface, SDI form (v1): a provider names a Kubernetes Service.

Used between ``kubeflow-profiles`` (provider, endpoint ``kubeflow-profiles``, publishing the KFAM
service) and ``kubeflow-dashboard`` (requirer). The provider sends ``service-name`` and
``service-port``, both strings; the requirer sends only its supported versions. (The flat form
of the same interface name lives in `kfcharm.relations.k8s_service_info`.)

Example:
    ```python
    # provider: static data, published automatically by the leader
    self.kfam = KubernetesServiceProvider(self, service_name="kubeflow-profiles",
                                          service_port=8081)
    # requirer
    kfam = self.kfam.get_data()  # KubernetesServiceData
    ```
"""

from __future__ import annotations

from collections.abc import Iterable

import ops
from pydantic import BaseModel, ConfigDict, Field

from .sdi import PortString, SdiProvider, SdiRequirer

INTERFACE = "k8s-service"
DEFAULT_RELATION_NAME = "kubeflow-profiles"


class KubernetesServiceData(BaseModel):
    """A Kubernetes Service as published on the wire.

    Attributes:
        service_name: Service name (wire key ``service-name``).
        service_port: Service port as a decimal string (wire key ``service-port``).
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    service_name: str = Field(
        validation_alias="service-name", serialization_alias="service-name", min_length=1
    )
    service_port: PortString = Field(
        validation_alias="service-port", serialization_alias="service-port"
    )

    @property
    def port(self) -> int:
        """The port as an integer."""
        return int(self.service_port)


def _wire(service_name: str, service_port: str | int) -> dict[str, str]:
    data = KubernetesServiceData(service_name=service_name, service_port=str(service_port))
    return data.model_dump(by_alias=True)


class KubernetesServiceProvider(ops.Object):
    """Provider side: publishes a Service name and port on every relation."""

    def __init__(
        self,
        charm: ops.CharmBase,
        relation_name: str = DEFAULT_RELATION_NAME,
        *,
        service_name: str | None = None,
        service_port: str | int | None = None,
        versions: Iterable[str] | None = None,
    ):
        """Bind to the endpoint.

        Args:
            charm: the charm.
            relation_name: endpoint name (interface ``k8s-service``).
            service_name: if given with `service_port`, published automatically by the
                leader on relation and leadership events (no charm code needed).
            service_port: see `service_name`.
            versions: schema versions to support (default: all packaged).
        """
        super().__init__(charm, relation_name)
        self.relation_name = relation_name
        auto = None
        if service_name is not None and service_port is not None:
            auto = _wire(service_name, service_port)
        self.sdi = SdiProvider(
            charm,
            relation_name,
            INTERFACE,
            versions=versions,
            auto_data=auto,
            key=f"{relation_name}-sdi",
        )

    def publish(self, service_name: str, service_port: str | int) -> None:
        """Send the Service to every related app (leader only; idempotent).

        Args:
            service_name: the Service name.
            service_port: the Service port.

        Raises:
            pydantic.ValidationError: empty name or a port that is not a number.
        """
        self.sdi.send_data(_wire(service_name, service_port))


class KubernetesServiceRequirer(ops.Object):
    """Requirer side: reads the single provider's Service."""

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
            relation_name: endpoint name (interface ``k8s-service``).
            versions: schema versions to support (default: all packaged).
        """
        super().__init__(charm, relation_name)
        self.relation_name = relation_name
        self.sdi = SdiRequirer(
            charm, relation_name, INTERFACE, versions=versions, key=f"{relation_name}-sdi"
        )

    def get_data(self) -> KubernetesServiceData:
        """The Service published by the related provider.

        Returns:
            The validated data.

        Raises:
            RelationMissingError: no relation.
            RelationConflictError: more than one relation.
            RelationNotReadyError: the provider has not published yet.
            RelationDataError: the provider's data is malformed.
        """
        return self.sdi.get_single_as(KubernetesServiceData)
