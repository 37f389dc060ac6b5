"""The istio ``ingress`` interface (SDI, v1 and v2): ask istio-pilot for a route.

Our charms are requirers: they send ``service``, ``port`` (int), ``prefix``, optional ``rewrite``
and ``namespace`` (required from v2; sent on v1 too, which the v1 schema allows). istio-pilot
(the provider) supports v1 and v2 and sends nothing back but its versions. `IngressProvider` is
a minimal reader of requests, for stand-ins and tests.

Example:
    ```python
    # static route, published automatically by the leader
    self.ingress = IngressRequirer(self, port=8080, prefix="/katib/", rewrite="/katib/")
    # or from the reconcile, e.g. when the port is configurable
    self.ingress.publish(port=config.port, prefix="/katib/", rewrite="/katib/")
    ```
"""

from __future__ import annotations

from collections.abc import Iterable

import ops
from pydantic import BaseModel, ConfigDict, Field

from .errors import RelationError
from .sdi import RelationResults, SdiProvider, SdiRequirer

INTERFACE = "ingress"
DEFAULT_RELATION_NAME = "ingress"


class IngressRequest(BaseModel):
    """A route request, as sent by the requirer.

    Attributes:
        service: Kubernetes Service to route to (usually the app name).
        port: Service port.
        prefix: URL path prefix matched at the gateway, e.g. ``/katib/``.
        rewrite: what `prefix` is rewritten to before forwarding, if anything.
        namespace: namespace of the Service (the requirer's model).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    service: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    prefix: str = Field(min_length=1)
    rewrite: str | None = None
    namespace: str | None = None

    def to_databag(self) -> dict[str, str | int]:
        """The dict sent as SDI ``data`` (None fields omitted)."""
        return self.model_dump(exclude_none=True)


class IngressRequirer(ops.Object):
    """Requirer side: sends an `IngressRequest` to the ingress provider(s)."""

    def __init__(
        self,
        charm: ops.CharmBase,
        relation_name: str = DEFAULT_RELATION_NAME,
        *,
        port: int | None = None,
        prefix: str | None = None,
        rewrite: str | None = None,
        service: str | None = None,
        versions: Iterable[str] | None = None,
    ):
        """Bind to the endpoint.

        Args:
            charm: the charm.
            relation_name: endpoint name (interface ``ingress``).
            port: if given with `prefix`, the request is published automatically by the
                leader on relation and leadership events.
            prefix: see `port`.
            rewrite: see `port`.
            service: see `port` (default: the app name).
            versions: schema versions to support (default: v1 and v2).
        """
        super().__init__(charm, relation_name)
        self.relation_name = relation_name
        auto = None
        if port is not None and prefix is not None:
            auto = self._request(port, prefix, rewrite, service, None).to_databag()
        self.sdi = SdiRequirer(
            charm,
            relation_name,
            INTERFACE,
            versions=versions,
            auto_data=auto,
            key=f"{relation_name}-sdi",
        )

    def _request(
        self,
        port: int,
        prefix: str,
        rewrite: str | None,
        service: str | None,
        namespace: str | None,
    ) -> IngressRequest:
        return IngressRequest(
            service=service or self.model.app.name,
            port=port,
            prefix=prefix,
            rewrite=rewrite,
            namespace=namespace or self.model.name,
        )

    def publish(
        self,
        *,
        port: int,
        prefix: str,
        rewrite: str | None = None,
        service: str | None = None,
        namespace: str | None = None,
    ) -> IngressRequest:
        """Send the route request to every related provider (leader only; idempotent).

        Args:
            port: Service port.
            prefix: URL path prefix, e.g. ``/katib/``.
            rewrite: rewrite target for `prefix`, if any.
            service: Service name (default: the app name).
            namespace: Service namespace (default: the model name).

        Returns:
            The request that was (or, on a non-leader, would have been) sent.

        Raises:
            pydantic.ValidationError: invalid port or empty prefix.
        """
        request = self._request(port, prefix, rewrite, service, namespace)
        self.sdi.send_data(request.to_databag())
        return request

    def collect_errors(self) -> dict[int, RelationError]:
        """Relations where the request cannot be delivered (versions missing/incompatible).

        Returns:
            The error of each such relation, by relation id.
        """
        return dict(self.sdi.collect_data().errors)


class IngressProvider(ops.Object):
    """Provider side (istio-pilot's role): reads route requests; for stand-ins and tests."""

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
            relation_name: endpoint name (interface ``ingress``).
            versions: schema versions to support (default: v1 and v2).
        """
        super().__init__(charm, relation_name)
        self.relation_name = relation_name
        self.sdi = SdiProvider(
            charm, relation_name, INTERFACE, versions=versions, key=f"{relation_name}-sdi"
        )

    def collect_routes(self) -> RelationResults[IngressRequest]:
        """Every relation's request or error, by relation id (never raises them)."""
        return self.sdi.collect_as(IngressRequest)

    def get_routes(self) -> list[IngressRequest]:
        """The requests of every relation that has sent a valid one, in relation order.

        Relations that have not sent a request yet are skipped.

        Returns:
            The requests.

        Raises:
            RelationDataError: some relation sent a malformed request.
        """
        results = self.collect_routes()
        results.raise_first(include_not_ready=False)
        return [results.values[rid] for rid in sorted(results.values)]
