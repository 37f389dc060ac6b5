"""The ``ingress-auth`` interface (SDI, v1): register an external authorization service.

The requirer (an auth proxy such as oidc-gatekeeper) sends ``service``, ``port`` (int),
``allowed-request-headers`` and ``allowed-response-headers`` (lists of header names);
istio-pilot (the provider) installs the matching ext-authz filter and sends nothing back but its
versions. `IngressAuthProvider` is a minimal reader, for stand-ins and tests.

Example:
    ```python
    self.auth = IngressAuthRequirer(self)
    self.auth.publish(port=8080, allowed_request_headers=["cookie"],
                      allowed_response_headers=["kubeflow-userid"])
    ```
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import ops
from pydantic import BaseModel, ConfigDict, Field

from .errors import RelationError
from .sdi import RelationResults, SdiProvider, SdiRequirer

INTERFACE = "ingress-auth"
DEFAULT_RELATION_NAME = "ingress-auth"


class IngressAuthRequest(BaseModel):
    """An external-authorization registration, as sent by the requirer.

    Attributes:
        service: Kubernetes Service of the auth server.
        port: its port.
        allowed_request_headers: request headers forwarded to the auth server
            (wire key ``allowed-request-headers``).
        allowed_response_headers: auth-server response headers forwarded upstream
            (wire key ``allowed-response-headers``).
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    service: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    allowed_request_headers: list[str] = Field(
        default=[],
        validation_alias="allowed-request-headers",
        serialization_alias="allowed-request-headers",
    )
    allowed_response_headers: list[str] = Field(
        default=[],
        validation_alias="allowed-response-headers",
        serialization_alias="allowed-response-headers",
    )

    def to_databag(self) -> dict[str, object]:
        """The dict sent as SDI ``data`` (wire keys)."""
        return self.model_dump(by_alias=True)


class IngressAuthRequirer(ops.Object):
    """Requirer side: sends an `IngressAuthRequest` to istio-pilot."""

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
            relation_name: endpoint name (interface ``ingress-auth``).
            versions: schema versions to support (default: all packaged).
        """
        super().__init__(charm, relation_name)
        self.relation_name = relation_name
        self.sdi = SdiRequirer(
            charm, relation_name, INTERFACE, versions=versions, key=f"{relation_name}-sdi"
        )

    def publish(
        self,
        *,
        port: int,
        service: str | None = None,
        allowed_request_headers: Sequence[str] = (),
        allowed_response_headers: Sequence[str] = (),
    ) -> IngressAuthRequest:
        """Send the registration to every related provider (leader only; idempotent).

        Args:
            port: the auth server's port.
            service: its Service name (default: the app name).
            allowed_request_headers: request headers the auth server needs.
            allowed_response_headers: response headers to pass on.

        Returns:
            The request that was (or, on a non-leader, would have been) sent.

        Raises:
            pydantic.ValidationError: invalid port.
        """
        request = IngressAuthRequest(
            service=service or self.model.app.name,
            port=port,
            allowed_request_headers=list(allowed_request_headers),
            allowed_response_headers=list(allowed_response_headers),
        )
        self.sdi.send_data(request.to_databag())
        return request

    def collect_errors(self) -> dict[int, RelationError]:
        """Relations where the request cannot be delivered (versions missing/incompatible).

        Returns:
            The error of each such relation, by relation id.
        """
        return dict(self.sdi.collect_data().errors)


class IngressAuthProvider(ops.Object):
    """Provider side (istio-pilot's role): reads registrations; for stand-ins and tests."""

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
            relation_name: endpoint name (interface ``ingress-auth``).
            versions: schema versions to support (default: all packaged).
        """
        super().__init__(charm, relation_name)
        self.relation_name = relation_name
        self.sdi = SdiProvider(
            charm, relation_name, INTERFACE, versions=versions, key=f"{relation_name}-sdi"
        )

    def collect_requests(self) -> RelationResults[IngressAuthRequest]:
        """Every relation's registration or error, by relation id (never raises them)."""
        return self.sdi.collect_as(IngressAuthRequest)

    def get_requests(self) -> list[IngressAuthRequest]:
        """The registrations of every relation that has sent a valid one, in relation order.

        Returns:
            The registrations.

        Raises:
            RelationDataError: some relation sent a malformed one.
        """
        results = self.collect_requests()
        results.raise_first(include_not_ready=False)
        return [results.values[rid] for rid in sorted(results.values)]
