"""The ``k8s-service`` interface, flat form ("k8s_service_info"): a Service name and port.

The provider (e.g. the katib db-manager side, or mlmd) writes ``name`` and ``port`` (strings)
directly in its application databag, without SDI wrapping; the requirer reads them.

Example:
    ```python
    # provider: static data, published automatically by the leader
    self.db_manager = KubernetesServiceInfoProvider(self, name="katib-db-manager", port=6789)
    # requirer
    info = self.db_manager.get_data()  # KubernetesServiceInfo(name=..., port="6789")
    ```
"""

from __future__ import annotations

import ops
from pydantic import BaseModel, ConfigDict, Field

from .errors import RelationNotReadyError
from .sdi import (
    PortString,
    get_single_relation,
    remote_app_data,
    remote_name,
    validate_model,
    write_app_data,
)

DEFAULT_RELATION_NAME = "k8s-service-info"
_FIELDS = ("name", "port")


class KubernetesServiceInfo(BaseModel):
    """A Kubernetes Service as published on the wire.

    Attributes:
        name: Service name.
        port: Service port as a decimal string.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str = Field(min_length=1)
    port: PortString

    @property
    def port_number(self) -> int:
        """The port as an integer."""
        return int(self.port)


class KubernetesServiceInfoProvider(ops.Object):
    """Provider side: writes ``name`` and ``port`` on every relation."""

    def __init__(
        self,
        charm: ops.CharmBase,
        relation_name: str = DEFAULT_RELATION_NAME,
        *,
        name: str | None = None,
        port: str | int | None = None,
    ):
        """Bind to the endpoint.

        Args:
            charm: the charm.
            relation_name: endpoint name (interface ``k8s-service``).
            name: if given with `port`, published automatically by the leader on
                relation-created, leader-elected and upgrade-charm.
            port: see `name`.
        """
        super().__init__(charm, relation_name)
        self.relation_name = relation_name
        self._static = (
            KubernetesServiceInfo(name=name, port=str(port))
            if name is not None and port is not None
            else None
        )
        if self._static is not None:
            self.framework.observe(charm.on[relation_name].relation_created, self._on_event)
            self.framework.observe(charm.on.leader_elected, self._on_event)
            self.framework.observe(charm.on.upgrade_charm, self._on_event)

    def _on_event(self, _: ops.EventBase) -> None:
        if self._static is not None:
            self._write(self._static)

    def publish(self, name: str, port: str | int) -> None:
        """Write the Service to every relation (leader only; unchanged values are kept).

        Args:
            name: the Service name.
            port: the Service port.

        Raises:
            pydantic.ValidationError: empty name or invalid port.
        """
        self._write(KubernetesServiceInfo(name=name, port=str(port)))

    def _write(self, info: KubernetesServiceInfo) -> None:
        if not self.model.unit.is_leader():
            return
        for relation in self.model.relations[self.relation_name]:
            write_app_data(self.model.app, relation, info.model_dump())


class KubernetesServiceInfoRequirer(ops.Object):
    """Requirer side: reads the single provider's ``name`` and ``port``."""

    def __init__(self, charm: ops.CharmBase, relation_name: str = DEFAULT_RELATION_NAME):
        """Bind to the endpoint.

        Args:
            charm: the charm.
            relation_name: endpoint name (interface ``k8s-service``).
        """
        super().__init__(charm, relation_name)
        self.relation_name = relation_name

    def get_data(self) -> KubernetesServiceInfo:
        """The Service published by the related provider.

        Returns:
            The validated data.

        Raises:
            RelationMissingError: no relation.
            RelationConflictError: more than one relation.
            RelationNotReadyError: ``name`` or ``port`` not published yet.
            RelationDataError: an empty name or an invalid port.
        """
        relation = get_single_relation(self.model, self.relation_name)
        databag = remote_app_data(relation)
        missing = [key for key in _FIELDS if not databag.get(key)]
        if missing:
            raise RelationNotReadyError(
                relation.name,
                f"app {remote_name(relation)} has not published {', '.join(missing)} yet",
                relation.id,
            )
        return validate_model(
            KubernetesServiceInfo,
            {key: databag[key] for key in _FIELDS},
            relation,
            f"data from app {remote_name(relation)}",
        )
