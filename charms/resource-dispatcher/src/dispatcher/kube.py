"""lightkube classes of the dispatched kinds, and the marks on every dispatched object.

Every object the controller creates carries the labels `DISPATCHED_BY` (the app) and
`DISPATCHER_NAMESPACE` (the app's model), and the annotations `HASH_ANNOTATION` (sha256 of the
manifest it was made from) and `SOURCE_ANNOTATION` (which app sent it). Objects without both
labels are foreign: they are never changed or deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lightkube import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.core_v1 import ConfigMap, Namespace, Secret, ServiceAccount
from lightkube.resources.rbac_authorization_v1 import Role, RoleBinding

try:
    import httpx2 as httpx
except ImportError:  # pragma: no cover - lightkube < 1.0 is built on httpx
    import httpx  # type: ignore[no-redef]

from .handoff import KIND_ORDER

DISPATCHED_BY = "kfcharm.io/dispatched-by"
DISPATCHER_NAMESPACE = "kfcharm.io/dispatcher-namespace"
HASH_ANNOTATION = "kfcharm.io/dispatch-hash"
SOURCE_ANNOTATION = "kfcharm.io/dispatch-source"

PodDefault = create_namespaced_resource(
    "kubeflow.org", "v1alpha1", "PodDefault", "poddefaults", verbs=None
)

RESOURCES: dict[str, type] = {
    "Secret": Secret,
    "ServiceAccount": ServiceAccount,
    "ConfigMap": ConfigMap,
    "Role": Role,
    "RoleBinding": RoleBinding,
    "PodDefault": PodDefault,
}
assert set(RESOURCES) == set(KIND_ORDER)  # noqa: S101 - a module invariant

__all__ = [
    "DISPATCHED_BY",
    "DISPATCHER_NAMESPACE",
    "HASH_ANNOTATION",
    "RESOURCES",
    "SOURCE_ANNOTATION",
    "ApiFailure",
    "Namespace",
    "Owner",
    "PodDefault",
    "failure_of",
]


@dataclass(frozen=True)
class Owner:
    """Who dispatches: the app and its model (both label values).

    Attributes:
        app: the application name.
        namespace: the model (namespace) of the application.
    """

    app: str
    namespace: str

    @property
    def labels(self) -> dict[str, str]:
        """The labels on (and selecting) every dispatched object."""
        return {DISPATCHED_BY: self.app, DISPATCHER_NAMESPACE: self.namespace}

    def owns(self, labels: dict[str, str] | None) -> bool:
        """Whether an object with `labels` was dispatched by this owner."""
        labels = labels or {}
        return all(labels.get(k) == v for k, v in self.labels.items())

    def build(self, manifest: dict[str, Any], namespace: str, digest: str, source: str) -> Any:
        """The lightkube object to write for `manifest` in `namespace`."""
        data = dict(manifest)
        metadata = dict(data.get("metadata") or {})
        metadata["namespace"] = namespace
        metadata["labels"] = {**(metadata.get("labels") or {}), **self.labels}
        metadata["annotations"] = {
            **(metadata.get("annotations") or {}),
            HASH_ANNOTATION: digest,
            SOURCE_ANNOTATION: source,
        }
        data["metadata"] = metadata
        return RESOURCES[data["kind"]].from_dict(data)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ApiFailure:
    """A failed request, classified.

    Attributes:
        code: HTTP status, or 0 when no response arrived.
        retry: whether retrying may help.
        reason: short machine-readable reason ("forbidden", "invalid", "server"...).
        message: the API server's message (never object content).
    """

    code: int
    retry: bool
    reason: str
    message: str


_REASONS = {
    400: ("bad-request", False),
    403: ("forbidden", True),  # `juju trust` may come later
    404: ("not-found", True),  # the namespace or the CRD may appear later
    409: ("conflict", True),
    410: ("gone", True),
    422: ("invalid", False),
    429: ("throttled", True),
}


def failure_of(exc: Exception) -> ApiFailure | None:
    """Classify an API/transport error; None for anything else (a bug: let it raise)."""
    if isinstance(exc, ApiError):
        code = exc.status.code or 0
        reason, retry = _REASONS.get(code, ("server" if code >= 500 else "client", code >= 500))
        return ApiFailure(code, retry, reason, (exc.status.message or "")[:300])
    if isinstance(exc, httpx.TransportError):
        return ApiFailure(0, True, "unreachable", str(exc)[:300])
    return None
