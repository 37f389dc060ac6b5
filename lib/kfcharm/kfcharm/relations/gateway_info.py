"""Gateway information: istio ``gateway-info`` and knative ``local-gateway``.

Both are flat: the provider writes strings directly in its application databag.

- ``istio-gateway-info`` (istio-pilot ``gateway-info`` -> e.g. kserve ``ingress-gateway``):
  ``gateway_name``, ``gateway_namespace`` and ``gateway_up`` (``"true"``/``"false"``; providers
  older than that key mean ``true``).
- ``serving-local-gateway`` (knative-serving ``local-gateway`` -> kserve ``local-gateway``): the
  cluster-local gateway as ``gateway_name`` and ``gateway_namespace`` (knative-serving writes
  ``gateway_up`` too, with the same library; the local requirer ignores it).

The providers here exist for stand-ins in the bundle simulator and for tests.

Example:
    ```python
    self.ingress_gateway = GatewayInfoRequirer(self)          # endpoint "ingress-gateway"
    self.local_gateway = LocalGatewayRequirer(self)           # endpoint "local-gateway"
    gw = self.ingress_gateway.get_data()
    if not gw.gateway_up: ...
    config["ingressGateway"] = gw.ref                         # "kubeflow/kubeflow-gateway"
    ```
"""

from __future__ import annotations

import ops
from pydantic import BaseModel, ConfigDict, Field

from .errors import RelationDataError, RelationNotReadyError
from .sdi import (
    get_single_relation,
    remote_app_data,
    remote_name,
    validate_model,
    write_app_data,
)

DEFAULT_GATEWAY_INFO_REQUIRER = "ingress-gateway"
DEFAULT_GATEWAY_INFO_PROVIDER = "gateway-info"
DEFAULT_LOCAL_GATEWAY = "local-gateway"
_REQUIRED = ("gateway_name", "gateway_namespace")


class LocalGatewayInfo(BaseModel):
    """A gateway's name and namespace.

    Attributes:
        gateway_name: ``metadata.name`` of the Gateway.
        gateway_namespace: its namespace.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    gateway_name: str = Field(min_length=1)
    gateway_namespace: str = Field(min_length=1)

    @property
    def ref(self) -> str:
        """``<namespace>/<name>``, the form Knative and KServe configuration use."""
        return f"{self.gateway_namespace}/{self.gateway_name}"


class GatewayInfo(LocalGatewayInfo):
    """The istio ingress gateway.

    Attributes:
        gateway_up: whether the gateway is established and accepting traffic.
    """

    gateway_up: bool = True


def _read(relation_name: str, model: ops.Model) -> tuple[ops.Relation, dict[str, str]]:
    relation = get_single_relation(model, relation_name)
    databag = remote_app_data(relation)
    missing = [key for key in _REQUIRED if not databag.get(key)]
    if missing:
        raise RelationNotReadyError(
            relation.name,
            f"app {remote_name(relation)} has not published {', '.join(missing)} yet",
            relation.id,
        )
    return relation, {key: databag[key] for key in (*_REQUIRED, "gateway_up") if key in databag}


class GatewayInfoRequirer(ops.Object):
    """Reads the istio ingress gateway from istio-pilot's ``gateway-info``."""

    def __init__(self, charm: ops.CharmBase, relation_name: str = DEFAULT_GATEWAY_INFO_REQUIRER):
        """Bind to the endpoint.

        Args:
            charm: the charm.
            relation_name: endpoint name (interface ``istio-gateway-info``).
        """
        super().__init__(charm, relation_name)
        self.relation_name = relation_name

    def get_data(self) -> GatewayInfo:
        """The gateway published by istio-pilot.

        Returns:
            The gateway; ``gateway_up`` is True when the provider does not send it.

        Raises:
            RelationMissingError: no relation.
            RelationConflictError: more than one relation.
            RelationNotReadyError: name or namespace not published yet.
            RelationDataError: ``gateway_up`` is neither ``true`` nor ``false``.
        """
        relation, data = _read(self.relation_name, self.model)
        up = data.pop("gateway_up", "true").lower()
        if up not in ("true", "false"):
            raise RelationDataError(
                relation.name,
                f"field gateway_up from app {remote_name(relation)}: expected true or false",
                relation.id,
            )
        source = f"data from app {remote_name(relation)}"
        return validate_model(GatewayInfo, {**data, "gateway_up": up == "true"}, relation, source)


class LocalGatewayRequirer(ops.Object):
    """Reads knative-serving's cluster-local gateway from ``local-gateway``."""

    def __init__(self, charm: ops.CharmBase, relation_name: str = DEFAULT_LOCAL_GATEWAY):
        """Bind to the endpoint.

        Args:
            charm: the charm.
            relation_name: endpoint name (interface ``serving-local-gateway``).
        """
        super().__init__(charm, relation_name)
        self.relation_name = relation_name

    def get_data(self) -> LocalGatewayInfo:
        """The local gateway published by knative-serving.

        Returns:
            The gateway.

        Raises:
            RelationMissingError: no relation.
            RelationConflictError: more than one relation.
            RelationNotReadyError: name or namespace not published yet.
        """
        relation, data = _read(self.relation_name, self.model)
        data.pop("gateway_up", None)
        return validate_model(
            LocalGatewayInfo, data, relation, f"data from app {remote_name(relation)}"
        )


class _GatewayWriter(ops.Object):
    def __init__(self, charm: ops.CharmBase, relation_name: str):
        super().__init__(charm, relation_name)
        self.relation_name = relation_name

    def _write(self, values: dict[str, str | None]) -> None:
        if not self.model.unit.is_leader():
            return
        for relation in self.model.relations[self.relation_name]:
            write_app_data(self.model.app, relation, values)


class GatewayInfoProvider(_GatewayWriter):
    """Writes istio ``gateway-info`` data (istio-pilot's role; for stand-ins and tests)."""

    def __init__(self, charm: ops.CharmBase, relation_name: str = DEFAULT_GATEWAY_INFO_PROVIDER):
        """Bind to the endpoint.

        Args:
            charm: the charm.
            relation_name: endpoint name (interface ``istio-gateway-info``).
        """
        super().__init__(charm, relation_name)

    def publish(self, gateway_name: str, gateway_namespace: str, gateway_up: bool = True) -> None:
        """Write the gateway to every relation (leader only; unchanged values are kept).

        Args:
            gateway_name: Gateway name.
            gateway_namespace: Gateway namespace.
            gateway_up: whether it accepts traffic.
        """
        info = GatewayInfo(
            gateway_name=gateway_name, gateway_namespace=gateway_namespace, gateway_up=gateway_up
        )
        self._write(
            {
                "gateway_name": info.gateway_name,
                "gateway_namespace": info.gateway_namespace,
                "gateway_up": "true" if info.gateway_up else "false",
            }
        )


class LocalGatewayProvider(_GatewayWriter):
    """Writes ``local-gateway`` data (knative-serving's role; for stand-ins and tests)."""

    def __init__(self, charm: ops.CharmBase, relation_name: str = DEFAULT_LOCAL_GATEWAY):
        """Bind to the endpoint.

        Args:
            charm: the charm.
            relation_name: endpoint name (interface ``serving-local-gateway``).
        """
        super().__init__(charm, relation_name)

    def publish(self, gateway_name: str, gateway_namespace: str) -> None:
        """Write the local gateway to every relation (leader only; unchanged values are kept).

        Like knative-serving, this also writes ``gateway_up: "true"``.

        Args:
            gateway_name: Gateway name.
            gateway_namespace: Gateway namespace.
        """
        info = LocalGatewayInfo(gateway_name=gateway_name, gateway_namespace=gateway_namespace)
        self._write(
            {
                "gateway_name": info.gateway_name,
                "gateway_namespace": info.gateway_namespace,
                "gateway_up": "true",
            }
        )
