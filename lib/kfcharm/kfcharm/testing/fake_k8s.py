"""An in-memory, validating Kubernetes API server with lightkube's `Client` interface.

`FakeKubernetes` stores objects keyed by (API group, kind, namespace, name), validates built-in
kinds against the Kubernetes OpenAPI schemas shipped with `kubernetes-validate` (version
`KUBERNETES_VERSION`, strict: unknown fields are rejected) and custom resources against the
`openAPIV3Schema` of their CRD (which must have been applied first, as on a real cluster),
records every request with its size, replays writes to watchers, and injects faults.

Approximations: server-side apply merges maps recursively, merges the common keyed lists
(containers, volumes, env, ports...) by their key and replaces other lists whole, removes
fields a manager applied before but no longer applies, and never reports field conflicts;
strategic merge patches are JSON merge patches that merge those keyed lists by key too;
writes to a main resource never change its `status` (use the `Status` subresource or `add`);
no admission, defaulting, finalizers or owner-reference garbage collection (deleting a
Namespace or a CRD does remove its objects).
"""

from __future__ import annotations

import bisect
import builtins
import contextlib
import functools
import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, cast

from lightkube import ApiError, Client
from lightkube import operators as lk_operators
from lightkube.core import resource as lk_resource
from lightkube.core.generic_client import ALL_NS, ListIterable
from lightkube.generic_resource import Generic
from lightkube.types import PatchType

from kfcharm import k8s as kfk8s

try:
    import httpx2 as httpx
except ImportError:  # pragma: no cover - lightkube < 1.0 is built on httpx
    import httpx  # type: ignore[no-redef]

if TYPE_CHECKING:
    import pytest

logger = logging.getLogger(__name__)

__all__ = ["KUBERNETES_VERSION", "FakeKubernetes", "RequestRecord"]

#: Kubernetes version whose OpenAPI schemas validate built-in kinds (shipped by
#: kubernetes-validate 1.37.0).
KUBERNETES_VERSION = "1.33"

WRITE_VERBS = frozenset({"apply", "create", "replace", "patch", "delete", "deletecollection"})

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Gone",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
_HTTP_METHODS = {
    "get": "GET",
    "list": "GET",
    "watch": "GET",
    "create": "POST",
    "replace": "PUT",
    "apply": "PATCH",
    "patch": "PATCH",
    "delete": "DELETE",
    "deletecollection": "DELETE",
}

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?\Z")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\Z")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?\Z")


@dataclass(frozen=True)
class RequestRecord:
    """One API request the fake served (or failed).

    Attributes:
        verb: get, list, watch, create, replace, apply, patch, delete or deletecollection.
        kind: the resource kind, e.g. "Deployment".
        namespace: the namespace of the request ("*" for all namespaces, None if cluster-wide).
        name: the object name, if the request named one.
        bytes_sent: size of the JSON request body.
        bytes_received: size of the JSON response body.
        error: the HTTP status (or "timeout"/"connection") when the request failed.
    """

    verb: str
    kind: str
    namespace: str | None
    name: str | None
    bytes_sent: int
    bytes_received: int
    error: int | str | None = None


@dataclass
class _Fault:
    verb: str | None
    kind: str | None
    name: str | None
    namespace: str | None
    status: int | str
    times: int | None
    message: str | None

    def matches(self, verb: str, kind: str, name: str | None, namespace: str | None) -> bool:
        return (
            (self.verb is None or self.verb == verb)
            and (self.kind is None or self.kind == kind)
            and (self.name is None or self.name == name)
            and (self.namespace is None or self.namespace == namespace)
        )


@dataclass(frozen=True)
class _Kind:
    """What the fake needs to know about a resource class."""

    cls: type
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    custom: bool
    status_only: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @classmethod
    def of(cls, res: type) -> _Kind:
        info = lk_resource.api_info(res)
        if info.action not in (None, "status"):
            raise NotImplementedError(
                f"FakeKubernetes does not serve the {info.action} subresource"
            )
        main = info.parent or info.resource
        return cls(
            cls=res,
            group=main.group,
            version=main.version,
            kind=main.kind,
            plural=info.plural,
            namespaced=issubclass(
                res, (lk_resource.NamespacedResource, lk_resource.NamespacedSubResource)
            ),
            custom=issubclass(res, Generic),
            status_only=info.action == "status",
        )


_Key = tuple[str, str, str, str]  # group, kind, namespace ("" if cluster-scoped), name


@dataclass
class _Stored:
    cls: type
    data: dict


@dataclass
class _Event:
    rv: int
    type: str
    group: str
    kind: str
    data: dict
    previous: dict | None = None  # the object before a MODIFIED event


@dataclass
class _Store:
    """State (and settings) shared by a FakeKubernetes and its per-field-manager views."""

    namespace: str
    strict: bool
    require_crds: bool
    watch_timeout: float | None
    objects: dict[_Key, _Stored] = field(default_factory=dict)
    applied: dict[tuple[_Key, str], dict] = field(default_factory=dict)
    events: list[_Event] = field(default_factory=list)
    requests: list[RequestRecord] = field(default_factory=list)
    faults: list[_Fault] = field(default_factory=list)
    resource_version: int = 0
    watch_generation: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)
    changed: threading.Condition = field(init=False)
    views: dict[str, FakeKubernetes] = field(default_factory=dict)
    validators: dict[tuple, Any] = field(default_factory=dict)
    valid: set[tuple] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)


_UNSET: Any = object()


class FakeKubernetes:
    """In-memory Kubernetes API server exposing the `lightkube.Client` methods charms use.

    Args:
        namespace: default namespace of namespaced requests without one (as a real client's
            kubeconfig/in-cluster namespace).
        field_manager: default field manager of writes (as `Client(field_manager=...)`).
        strict: reject fields unknown to the schema (built-ins and CRDs), like
            `kubectl --validate=strict`; when False unknown fields are accepted.
        require_crds: custom resources need their CRD in the fake (404 otherwise), for reads
            as well as writes, like a real API server.
        watch_timeout: how long `watch` waits for a new event before ending: 0 (default) ends
            once the backlog is delivered, None waits until `stop_watches()` is called.
    """

    def __init__(
        self,
        namespace: str = "default",
        *,
        field_manager: str | None = None,
        strict: bool = True,
        require_crds: bool = True,
        watch_timeout: float | None = 0.0,
        _store: _Store | None = None,
    ):
        self.field_manager = field_manager
        self._s = _store or _Store(namespace, strict, require_crds, watch_timeout)

    # Settings live in the shared store, so that changing them on the fake also affects the
    # views handed to charms by `get_client(field_manager)`.

    @property
    def namespace(self) -> str:
        """Default namespace of namespaced requests without one."""
        return self._s.namespace

    @namespace.setter
    def namespace(self, value: str) -> None:
        self._s.namespace = value

    @property
    def strict(self) -> bool:
        """Whether fields unknown to the schema are rejected."""
        return self._s.strict

    @strict.setter
    def strict(self, value: bool) -> None:
        self._s.strict = value

    @property
    def require_crds(self) -> bool:
        """Whether custom resources need their CRD in the fake."""
        return self._s.require_crds

    @require_crds.setter
    def require_crds(self, value: bool) -> None:
        self._s.require_crds = value

    @property
    def watch_timeout(self) -> float | None:
        """Default idle timeout of `watch` (0: end after the backlog; None: until stopped)."""
        return self._s.watch_timeout

    @watch_timeout.setter
    def watch_timeout(self, value: float | None) -> None:
        self._s.watch_timeout = value

    # -- test helpers ------------------------------------------------------------------------

    @property
    def requests(self) -> builtins.list[RequestRecord]:
        """Every request served so far (a copy)."""
        with self._s.lock:
            return list(self._s.requests)

    def count(
        self, verb: str | None = None, kind: str | type | None = None, name: str | None = None
    ) -> int:
        """Number of requests with this verb, kind and name (None matches any)."""
        return len(self._select(verb, kind, name))

    def writes(self, kind: str | type | None = None) -> builtins.list[RequestRecord]:
        """Requests that write (apply, create, replace, patch, delete, deletecollection)."""
        return [r for r in self._select(None, kind, None) if r.verb in WRITE_VERBS]

    def bytes(
        self,
        verb: str | None = None,
        kind: str | type | None = None,
        direction: str = "both",
    ) -> int:
        """Bytes of request and/or response bodies ("sent", "received" or "both")."""
        if direction not in ("sent", "received", "both"):
            raise ValueError(f"direction must be sent, received or both: {direction!r}")
        total = 0
        for record in self._select(verb, kind, None):
            if direction in ("sent", "both"):
                total += record.bytes_sent
            if direction in ("received", "both"):
                total += record.bytes_received
        return total

    def reset_log(self) -> None:
        """Forget the requests recorded so far (objects stay)."""
        with self._s.lock:
            self._s.requests.clear()

    def inject_fault(
        self,
        verb: str | None = None,
        kind: str | type | None = None,
        name: str | None = None,
        status: int | str = 500,
        times: int | None = 1,
        *,
        namespace: str | None = None,
        message: str | None = None,
    ) -> None:
        """Make matching requests fail.

        Args:
            verb: request verb to fail (None: any). "apply" also matches apply patches.
            kind: kind name or resource class (None: any).
            name: object name (None: any).
            status: HTTP status of the `lightkube.ApiError` to raise, or "timeout" (an
                `httpx.ReadTimeout`) or "connection" (an `httpx.ConnectError`).
            times: how many requests fail; None for every one until `clear_faults()`.
            namespace: namespace of the request (None: any).
            message: the Status message (a realistic default otherwise).
        """
        if not (isinstance(status, int) or status in ("timeout", "connection")):
            raise ValueError(f"status must be an HTTP code, 'timeout' or 'connection': {status!r}")
        fault = _Fault(verb, _kind_name(kind), name, namespace, status, times, message)
        with self._s.lock:
            self._s.faults.append(fault)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self._s.lock:
            self._s.faults.clear()

    def add(self, *objs: Any) -> None:
        """Seed objects (lightkube objects or dicts) without validation or request records.

        Their `status` is kept, so tests can seed e.g. ready Deployments. Watchers see ADDED
        (or MODIFIED) events.
        """
        with self._s.lock:
            for obj in objs:
                if isinstance(obj, Mapping):
                    cls: type = kfk8s.load_manifests(json.dumps(dict(obj)))[0].__class__
                    data = kfk8s._to_plain(obj)
                else:
                    cls, data = type(obj), kfk8s._to_plain(obj)
                kind = _Kind.of(cls)
                metadata = data.setdefault("metadata", {})
                namespace = (
                    (metadata.get("namespace") or self.namespace) if kind.namespaced else ""
                )
                if kind.namespaced:
                    metadata["namespace"] = namespace
                key = (kind.group, kind.kind, namespace, metadata["name"])
                live = self._s.objects.get(key)
                self._stamp(kind, data, live.data if live else None, keep_status=True)
                self._store(key, cls, kind, data, "MODIFIED" if live else "ADDED")

    def objects(
        self, kind: str | type | None = None, namespace: str | None = None
    ) -> builtins.list:
        """Stored objects (as lightkube objects), optionally of one kind and namespace."""
        wanted = _kind_name(kind)
        with self._s.lock:
            items = sorted(self._s.objects.items())
            return [
                _decode(stored.cls, _clone(stored.data))
                for key, stored in items
                if (wanted is None or key[1] == wanted)
                and (namespace is None or key[2] == namespace)
            ]

    def find(self, kind: str | type, name: str, namespace: str | None = None) -> Any | None:
        """The stored object of this kind and name (and namespace), or None. Not logged."""
        for obj in self.objects(kind, namespace):
            if obj.metadata.name == name:
                return obj
        return None

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeKubernetes:
        """Make `kfcharm.k8s.get_client()` return this fake until the test ends."""
        monkeypatch.setattr(kfk8s, "_client_factory", self._client_for)
        return self

    @contextlib.contextmanager
    def installed(self) -> Iterator[FakeKubernetes]:
        """Context manager making `kfcharm.k8s.get_client()` return this fake."""
        previous = kfk8s._client_factory
        kfk8s.set_client_factory(self._client_for)
        try:
            yield self
        finally:
            kfk8s._client_factory = previous

    def with_field_manager(self, field_manager: str | None) -> FakeKubernetes:
        """A view of the same store whose writes default to another field manager."""
        if field_manager is None or field_manager == self.field_manager:
            return self
        with self._s.lock:
            view = self._s.views.get(field_manager)
            if view is None:
                view = FakeKubernetes(field_manager=field_manager, _store=self._s)
                self._s.views[field_manager] = view
            return view

    def stop_watches(self) -> None:
        """End every watch in progress (after it delivered what is pending)."""
        with self._s.changed:
            self._s.watch_generation += 1
            self._s.changed.notify_all()

    # -- lightkube.Client interface ------------------------------------------------------------

    def close(self) -> None:
        """Nothing to release (for parity with `lightkube.Client`)."""

    def __enter__(self) -> FakeKubernetes:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()

    def get(self, res: type, name: str, *, namespace: str | None = None) -> Any:
        """Return an object; `ApiError` 404 if it does not exist."""
        kind = _Kind.of(res)
        ns = self._request_namespace(kind, namespace)

        def handler() -> dict:
            self._require_kind(kind, "get", name)
            stored = self._s.objects.get(self._key(kind, ns, name))
            if stored is None:
                raise self._not_found(kind, "get", name, ns)
            return self._output(kind, stored.data)

        return _decode(res, self._request("get", kind, name, ns, None, handler))

    def list(
        self,
        res: type,
        *,
        namespace: str | None = None,
        chunk_size: int | None = None,
        labels: Any = None,
        fields: Any = None,
    ) -> ListIterable:
        """List objects (lazily, like lightkube: the request happens on iteration)."""
        kind = _Kind.of(res)
        ns = self._request_namespace(kind, namespace, allow_all=True)

        def chunks() -> Iterator[tuple[str | None, list]]:
            def handler() -> dict:
                self._require_kind(kind, "list", None)
                items = [
                    self._output(kind, s.data) for s in self._matching(kind, ns, labels, fields)
                ]
                return {
                    "metadata": {"resourceVersion": str(self._s.resource_version)},
                    "items": items,
                }

            body = self._request("list", kind, None, ns, None, handler)
            yield body["metadata"]["resourceVersion"], [_decode(res, d) for d in body["items"]]

        return ListIterable(chunks())

    def create(
        self,
        obj: Any,
        name: str | None = None,
        *,
        namespace: str | None = None,
        field_manager: str | None = None,
        dry_run: bool = False,
    ) -> Any:
        """Create an object; `ApiError` 409 if it exists."""
        kind = _Kind.of(type(obj))
        body = kfk8s._to_plain(obj)
        metadata = body.setdefault("metadata", {})
        ns = self._write_namespace(kind, namespace, metadata)
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = f"{metadata['generateName']}{uuid.uuid4().hex[:5]}"
        obj_name = metadata.get("name")

        def compute(live: dict | None) -> dict:
            if live is not None:
                raise self._error(
                    409,
                    f'{kind.plural} "{obj_name}" already exists',
                    kind,
                    "create",
                    obj_name,
                    ns,
                    reason="AlreadyExists",
                )
            return body

        return self._write("create", kind, obj_name, ns, body, compute, dry_run)

    def replace(
        self,
        obj: Any,
        name: str | None = None,
        *,
        namespace: str | None = None,
        field_manager: str | None = None,
        dry_run: bool = False,
    ) -> Any:
        """Replace an existing object; 404 if missing, 409 on a stale resourceVersion."""
        kind = _Kind.of(type(obj))
        body = kfk8s._to_plain(obj)
        metadata = body.setdefault("metadata", {})
        ns = self._write_namespace(kind, namespace, metadata)
        obj_name = name or metadata.get("name")

        def compute(live: dict | None) -> dict:
            live = self._existing(live, kind, "replace", obj_name, ns)
            self._check_resource_version(metadata, live, kind, "replace", obj_name, ns)
            if kind.status_only:
                return {**live, "status": body.get("status")}
            return body

        return self._write("replace", kind, obj_name, ns, body, compute, dry_run)

    def apply(
        self,
        obj: Any,
        name: str | None = None,
        *,
        namespace: str | None = None,
        field_manager: str | None = None,
        force: bool = False,
        dry_run: bool = False,
    ) -> Any:
        """Server-side apply: create the object or merge the applied fields into it."""
        metadata = getattr(obj, "metadata", None)
        if kfk8s._is_namespaced(type(obj)) and namespace is None and metadata is not None:
            namespace = metadata.namespace
        if name is None and metadata is not None:
            name = metadata.name
        return self.patch(
            type(obj),
            cast(str, name),
            obj,
            namespace=namespace,
            patch_type=PatchType.APPLY,
            field_manager=field_manager,
            force=force,
            dry_run=dry_run,
        )

    def patch(
        self,
        res: type,
        name: str,
        obj: Any,
        *,
        namespace: str | None = None,
        patch_type: PatchType = PatchType.STRATEGIC,
        field_manager: str | None = None,
        force: bool = False,
        dry_run: bool = False,
    ) -> Any:
        """Patch an object (merge, strategic ~ merge, or apply); 404 if missing (not apply)."""
        kind = _Kind.of(res)
        ns = self._request_namespace(kind, namespace)
        if patch_type == PatchType.JSON:
            raise NotImplementedError("FakeKubernetes does not implement JSON patches")
        if patch_type == PatchType.APPLY:
            manager = field_manager or self.field_manager
            if manager is None:
                raise ValueError('Parameter "field_manager" is required for PatchType.APPLY')
            return self._apply(kind, name, ns, obj, manager, dry_run)
        body = obj if isinstance(obj, Mapping) else kfk8s._to_plain(obj)
        body = json.loads(json.dumps(body, default=kfk8s._json_default))

        def compute(live: dict | None) -> dict:
            live = self._existing(live, kind, "patch", name, ns)
            if patch_type == PatchType.STRATEGIC:
                patched = _strategic_merge_patch(live, body)
            else:
                patched = _merge_patch(live, body)
            if kind.status_only:
                return {**live, "status": patched.get("status")}
            return patched

        return self._write("patch", kind, name, ns, body, compute, dry_run)

    def set(
        self,
        res: type,
        name: str,
        *,
        namespace: str | None = None,
        labels: dict[str, str | None] | None = None,
        annotations: dict[str, str | None] | None = None,
        field_manager: str | None = None,
        dry_run: bool = False,
    ) -> Any:
        """Set (or, with None values, remove) labels and annotations with a merge patch."""
        metadata = {k: v for k, v in (("labels", labels), ("annotations", annotations)) if v}
        return self.patch(
            res,
            name,
            {"metadata": metadata},
            namespace=namespace,
            patch_type=PatchType.MERGE,
            field_manager=field_manager,
            dry_run=dry_run,
        )

    def delete(
        self,
        res: type,
        name: str,
        *,
        namespace: str | None = None,
        grace_period: int | None = None,
        cascade: Any = None,
        dry_run: bool = False,
    ) -> None:
        """Delete an object; 404 if missing. Namespaces and CRDs take their objects along."""
        kind = _Kind.of(res)
        ns = self._request_namespace(kind, namespace)

        def handler() -> None:
            self._require_kind(kind, "delete", name)
            key = self._key(kind, ns, name)
            if key not in self._s.objects:
                raise self._not_found(kind, "delete", name, ns)
            if not dry_run:
                self._remove(key)

        self._request("delete", kind, name, ns, None, handler)

    def deletecollection(
        self,
        res: type,
        *,
        namespace: str | None = None,
        grace_period: int | None = None,
        cascade: Any = None,
        dry_run: bool = False,
    ) -> None:
        """Delete every object of a kind (in a namespace, for namespaced kinds)."""
        kind = _Kind.of(res)
        ns = self._request_namespace(kind, namespace)

        def handler() -> None:
            self._require_kind(kind, "deletecollection", None)
            for stored in list(self._matching(kind, ns, None, None)):
                if not dry_run:
                    meta = stored.data["metadata"]
                    self._remove(self._key(kind, meta.get("namespace"), meta["name"]))

        self._request("deletecollection", kind, None, ns, None, handler)

    def watch(
        self,
        res: type,
        *,
        namespace: str | None = None,
        labels: Any = None,
        fields: Any = None,
        server_timeout: int | None = None,
        resource_version: str | None = None,
        on_error: Any = None,
        timeout: float | None = _UNSET,
        limit: int | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[tuple[str, Any]]:
        """Yield `(type, object)` events: ADDED/MODIFIED/DELETED.

        Without `resource_version`, the current objects come first as ADDED events (as from a
        real API server); with one, every recorded event after that version is replayed. Then
        new events are delivered as they happen, from any thread.

        Args:
            res: resource kind.
            namespace: namespace to watch ("*" for all; default namespace when None).
            labels: label selector, as for `list`.
            fields: field selector, as for `list`.
            server_timeout: accepted for compatibility; ignored.
            resource_version: replay events after this version.
            on_error: accepted for compatibility; errors are raised.
            timeout: seconds to wait for the next event before ending (fake only; default
                `watch_timeout`; 0 ends after the backlog; None waits until stopped).
            limit: end after this many events (fake only).
            stop: end when this event is set (fake only).
        """
        kind = _Kind.of(res)
        ns = self._request_namespace(kind, namespace, allow_all=True)
        wait = self.watch_timeout if timeout is _UNSET else timeout
        return self._watch(res, kind, ns, labels, fields, resource_version, wait, limit, stop)

    # -- request plumbing ----------------------------------------------------------------------

    def _client_for(self, field_manager: str | None = None) -> Client:
        return cast(Client, self.with_field_manager(field_manager))

    def _select(
        self, verb: str | None, kind: str | type | None, name: str | None
    ) -> builtins.list:
        wanted = _kind_name(kind)
        with self._s.lock:
            return [
                r
                for r in self._s.requests
                if (verb is None or r.verb == verb)
                and (wanted is None or r.kind == wanted)
                and (name is None or r.name == name)
            ]

    def _request(
        self,
        verb: str,
        kind: _Kind,
        name: str | None,
        namespace: str | None,
        body: Any,
        handler: Callable[[], Any],
    ) -> Any:
        sent = _size(body) if body is not None else 0
        with self._s.lock:
            try:
                self._raise_fault(verb, kind, name, namespace)
                result = handler()
            except ApiError as exc:
                received = len(exc.response.content) if exc.response is not None else 0
                record = RequestRecord(
                    verb, kind.kind, namespace, name, sent, received, exc.status.code
                )
                self._s.requests.append(record)
                raise
            except httpx.TransportError as exc:
                error = "timeout" if isinstance(exc, httpx.TimeoutException) else "connection"
                record = RequestRecord(verb, kind.kind, namespace, name, sent, 0, error)
                self._s.requests.append(record)
                raise
            if result is None:
                self._s.requests.append(RequestRecord(verb, kind.kind, namespace, name, sent, 0))
                return None
            # One serialisation gives both the response size and a copy the caller owns.
            text = json.dumps(result, separators=(",", ":"))
            received = len(text.encode())
            self._s.requests.append(
                RequestRecord(verb, kind.kind, namespace, name, sent, received)
            )
            return json.loads(text)

    def _raise_fault(
        self, verb: str, kind: _Kind, name: str | None, namespace: str | None
    ) -> None:
        for fault in self._s.faults:
            if not fault.matches(verb, kind.kind, name, namespace):
                continue
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._s.faults.remove(fault)
            request = self._http_request(verb, kind, name, namespace)
            if fault.status == "timeout":
                raise httpx.ReadTimeout("timed out (injected)", request=request)
            if fault.status == "connection":
                raise httpx.ConnectError("connection refused (injected)", request=request)
            code = int(fault.status)
            message = fault.message or _default_message(code, verb, kind, name, namespace)
            raise self._error(code, message, kind, verb, name, namespace)

    def _http_request(
        self, verb: str, kind: _Kind, name: str | None, namespace: str | None
    ) -> httpx.Request:
        path = ["api", kind.version] if not kind.group else ["apis", kind.group, kind.version]
        if kind.namespaced and namespace and namespace != ALL_NS:
            path += ["namespaces", namespace]
        path.append(kind.plural)
        if name:
            path.append(name)
        return httpx.Request(_HTTP_METHODS[verb], "https://fake-kubernetes/" + "/".join(path))

    def _error(
        self,
        code: int,
        message: str,
        kind: _Kind,
        verb: str,
        name: str | None,
        namespace: str | None,
        *,
        reason: str | None = None,
        causes: builtins.list[dict] | None = None,
    ) -> ApiError:
        details: dict[str, Any] = {"group": kind.group, "kind": kind.plural}
        if name:
            details["name"] = name
        if causes:
            details["causes"] = causes
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason or _REASONS.get(code, "Unknown"),
            "details": details,
            "code": code,
        }
        request = self._http_request(verb, kind, name, namespace)
        response = httpx.Response(code, json=status, request=request)
        return ApiError(request=request, response=response)

    def _not_found(self, kind: _Kind, verb: str, name: str | None, ns: str | None) -> ApiError:
        return self._error(404, f'{kind.plural} "{name}" not found', kind, verb, name, ns)

    def _existing(
        self, live: dict | None, kind: _Kind, verb: str, name: str | None, ns: str | None
    ) -> dict:
        if live is None:
            raise self._not_found(kind, verb, name, ns)
        return live

    def _check_resource_version(
        self,
        metadata: Mapping,
        live: dict,
        kind: _Kind,
        verb: str,
        name: str | None,
        ns: str | None,
    ) -> None:
        wanted = metadata.get("resourceVersion")
        if wanted and wanted != live["metadata"].get("resourceVersion"):
            message = (
                f'Operation cannot be fulfilled on {kind.plural} "{name}": the object has been '
                "modified; please apply your changes to the latest version and try again"
            )
            raise self._error(409, message, kind, verb, name, ns)

    def _request_namespace(
        self, kind: _Kind, namespace: str | None, allow_all: bool = False
    ) -> str | None:
        if not kind.namespaced:
            return None
        if namespace == ALL_NS and not allow_all:
            raise ValueError("Only methods 'list' and 'watch' can be called for all namespaces")
        return namespace or self.namespace

    def _write_namespace(self, kind: _Kind, namespace: str | None, metadata: dict) -> str | None:
        if not kind.namespaced:
            return None
        if namespace and metadata.get("namespace") and namespace != metadata["namespace"]:
            raise ValueError(
                f"The namespace value '{namespace}' differ from the namespace in the object "
                f"metadata '{metadata['namespace']}'"
            )
        return namespace or metadata.get("namespace") or self.namespace

    @staticmethod
    def _key(kind: _Kind, namespace: str | None, name: str) -> _Key:
        return (kind.group, kind.kind, namespace or "", name)

    def _crd_version(self, kind: _Kind) -> tuple[dict, tuple] | None:
        """The CRD version serving a custom kind and a cache key for its schema, or None."""
        crd = self._s.objects.get(
            ("apiextensions.k8s.io", "CustomResourceDefinition", "", f"{kind.plural}.{kind.group}")
        )
        if crd is None:
            return None
        spec = crd.data.get("spec") or {}
        scope_ok = (spec.get("scope") == "Namespaced") == kind.namespaced
        if (spec.get("names") or {}).get("kind") != kind.kind or not scope_ok:
            return None
        for version in spec.get("versions") or []:
            if version.get("name") == kind.version and version.get("served", True):
                metadata = crd.data["metadata"]
                return version, (metadata["uid"], metadata["resourceVersion"], kind.version)
        return None

    def _require_kind(self, kind: _Kind, verb: str, name: str | None) -> None:
        """Raise 404 for a custom kind whose CRD (version) is not in the fake."""
        if kind.custom and self.require_crds and self._crd_version(kind) is None:
            raise self._error(
                404, "the server could not find the requested resource", kind, verb, name, None
            )

    @staticmethod
    def _output(kind: _Kind, data: dict) -> dict:
        """Stored data as served for `kind`'s version (shallow: callers copy)."""
        return {**data, "apiVersion": kind.api_version}

    # -- writes --------------------------------------------------------------------------------

    def _apply(
        self, kind: _Kind, name: str, ns: str | None, obj: Any, manager: str, dry_run: bool
    ) -> Any:
        body = kfk8s._to_plain(obj)
        metadata = body.setdefault("metadata", {})
        if kind.namespaced:
            if metadata.get("namespace") not in (None, ns):
                message = (
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
                raise self._error(400, message, kind, "apply", name, ns)
            metadata["namespace"] = ns
        key = self._key(kind, ns, name)

        def compute(live: dict | None) -> dict:
            if live is None:
                if kind.status_only:
                    raise self._not_found(kind, "apply", name, ns)
                return _clone(body)
            self._check_resource_version(metadata, live, kind, "apply", name, ns)
            previous = self._s.applied.get((key, manager))
            if previous is not None:
                _remove_unapplied(live, previous, body)
            merged = _merge_applied(live, _clone(body))
            if kind.status_only:
                return {**live, "status": merged.get("status")}
            return merged

        result = self._write("apply", kind, name, ns, body, compute, dry_run)
        if not dry_run:
            with self._s.lock:
                self._s.applied[(key, manager)] = body
        return result

    def _write(
        self,
        verb: str,
        kind: _Kind,
        name: str | None,
        ns: str | None,
        body: Any,
        compute: Callable[[dict | None], dict],
        dry_run: bool,
    ) -> Any:
        if not name:
            raise ValueError("resource name not defined")

        def handler() -> dict:
            self._require_kind(kind, verb, name)
            named = (body.get("metadata") or {}).get("name") if isinstance(body, Mapping) else None
            if named and named != name and not kind.status_only:
                message = (
                    f"the name of the object ({named}) does not match the name on the URL ({name})"
                )
                raise self._error(400, message, kind, verb, name, ns)
            key = self._key(kind, ns, name)
            stored = self._s.objects.get(key)
            live = stored.data if stored else None
            # Stored data is never changed in place (events share it): work on a copy.
            new = compute(_clone(live) if live else None)
            new.setdefault("metadata", {})["name"] = name
            if kind.namespaced:
                new["metadata"]["namespace"] = ns
            else:
                new["metadata"].pop("namespace", None)
            self._stamp(kind, new, live, keep_status=kind.status_only)
            self._validate(kind, new, verb)
            if not dry_run:
                cls = stored.cls if stored else kind.cls
                self._store(key, cls, kind, new, "MODIFIED" if live else "ADDED")
            return self._output(kind, new)

        return _decode(kind.cls, self._request(verb, kind, name, ns, body, handler))

    def _stamp(self, kind: _Kind, new: dict, live: dict | None, keep_status: bool) -> None:
        """Set server-owned fields: apiVersion/kind, uid, timestamps, generation, status."""
        new["apiVersion"] = kind.api_version
        new["kind"] = kind.kind
        metadata = new.setdefault("metadata", {})
        metadata.pop("managedFields", None)
        if live is None:
            metadata["uid"] = str(uuid.uuid4())
            metadata["creationTimestamp"] = _now()
            metadata["generation"] = 1
            if not keep_status:
                new.pop("status", None)
            return
        live_meta = live.get("metadata", {})
        metadata["uid"] = live_meta.get("uid")
        metadata["creationTimestamp"] = live_meta.get("creationTimestamp")
        if not keep_status:
            new.pop("status", None)
            if "status" in live:
                new["status"] = live["status"]
        generation = live_meta.get("generation", 1)
        if _spec_of(new) != _spec_of(live):
            generation += 1
        metadata["generation"] = generation

    def _store(self, key: _Key, cls: type, kind: _Kind, data: dict, event: str) -> None:
        self._s.resource_version += 1
        data["metadata"]["resourceVersion"] = str(self._s.resource_version)
        before = self._s.objects.get(key)
        self._s.objects[key] = _Stored(cls, data)
        previous = before.data if before is not None and event == "MODIFIED" else None
        self._record(event, kind.group, kind.kind, data, previous)

    def _record(
        self, event: str, group: str, kind: str, data: dict, previous: dict | None = None
    ) -> None:
        rv = int(data["metadata"]["resourceVersion"])
        self._s.events.append(_Event(rv, event, group, kind, data, previous))
        self._s.changed.notify_all()

    def _remove(self, key: _Key) -> None:
        stored = self._s.objects.pop(key)
        self._s.applied = {k: v for k, v in self._s.applied.items() if k[0] != key}
        self._s.resource_version += 1
        metadata = {**stored.data["metadata"], "resourceVersion": str(self._s.resource_version)}
        self._record("DELETED", key[0], key[1], {**stored.data, "metadata": metadata})
        dependent_keys: builtins.list[_Key] = []
        if key[:2] == ("", "Namespace"):
            dependent_keys = [k for k in self._s.objects if k[2] == key[3]]
        elif key[:2] == ("apiextensions.k8s.io", "CustomResourceDefinition"):
            spec = stored.data.get("spec") or {}
            custom = (spec.get("group"), (spec.get("names") or {}).get("kind"))
            dependent_keys = [k for k in self._s.objects if k[:2] == custom]
        for dependent_key in dependent_keys:
            if dependent_key in self._s.objects:
                self._remove(dependent_key)

    # -- reads -------------------------------------------------------------------------------

    def _matching(
        self, kind: _Kind, namespace: str | None, labels: Any, fields: Any
    ) -> builtins.list[_Stored]:
        found = []
        for key, stored in sorted(self._s.objects.items()):
            if key[:2] != (kind.group, kind.kind):
                continue
            if kind.namespaced and namespace not in (None, ALL_NS) and key[2] != namespace:
                continue
            if _selected(stored.data, labels, fields):
                found.append(stored)
        return found

    def _watch(
        self,
        res: type,
        kind: _Kind,
        namespace: str | None,
        labels: Any,
        fields: Any,
        resource_version: str | None,
        wait: float | None,
        limit: int | None,
        stop: threading.Event | None,
    ) -> Iterator[tuple[str, Any]]:
        def handler() -> dict:
            self._require_kind(kind, "watch", None)
            return {}

        def seen_as(event: _Event) -> str | None:
            """The event type this watch reports, or None when it reports nothing.

            As on a real API server, an object modified into the selector arrives as ADDED
            and one modified out of it as DELETED.
            """
            if (event.group, event.kind) != (kind.group, kind.kind):
                return None
            event_ns = event.data["metadata"].get("namespace")
            if kind.namespaced and namespace not in (None, ALL_NS) and event_ns != namespace:
                return None
            now = _selected(event.data, labels, fields)
            if event.type != "MODIFIED" or event.previous is None:
                return event.type if now else None
            before = _selected(event.previous, labels, fields)
            if now:
                return "MODIFIED" if before else "ADDED"
            return "DELETED" if before else None

        with self._s.lock:
            self._request("watch", kind, None, namespace, None, handler)
            generation = self._s.watch_generation
            if resource_version is None:
                backlog = [
                    ("ADDED", self._output(kind, s.data))
                    for s in self._matching(kind, namespace, labels, fields)
                ]
                cursor = len(self._s.events)
            else:
                backlog = []
                rvs = [e.rv for e in self._s.events]
                cursor = bisect.bisect_right(rvs, int(resource_version))
        delivered = 0
        for event_type, data in backlog:
            yield event_type, _decode(res, _clone(data))
            delivered += 1
            if limit is not None and delivered >= limit:
                return
        while True:
            with self._s.changed:
                pending = self._s.events[cursor:]
                cursor = len(self._s.events)
                if not pending:
                    if self._watch_over(generation, stop) or wait == 0:
                        return
                    if not self._wait_for_event(cursor, generation, wait, stop):
                        return
                    continue
            for event in pending:
                seen = seen_as(event)
                if seen is not None:
                    yield seen, _decode(res, _clone(self._output(kind, event.data)))
                    delivered += 1
                    if limit is not None and delivered >= limit:
                        return

    def _watch_over(self, generation: int, stop: threading.Event | None) -> bool:
        return self._s.watch_generation != generation or (stop is not None and stop.is_set())

    def _wait_for_event(
        self, cursor: int, generation: int, wait: float | None, stop: threading.Event | None
    ) -> bool:
        """Wait (lock held) until an event arrives; False when the wait ended without one."""
        deadline = None if wait is None else time.monotonic() + wait
        while len(self._s.events) == cursor:
            if self._watch_over(generation, stop):
                return False
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            # Wake up regularly to notice `stop` being set from another thread.
            self._s.changed.wait(0.05 if remaining is None else min(remaining, 0.05))
        return True

    # -- validation ----------------------------------------------------------------------------

    def _validate(self, kind: _Kind, data: dict, verb: str) -> None:
        name = data["metadata"].get("name")
        served = self._crd_version(kind) if kind.custom else None
        # Schema validation of big objects (CRDs) is slow: remember what was valid.
        memo_key = (kind.api_version, kind.kind, self.strict, served and served[1], _digest(data))
        if memo_key in self._s.valid:
            return
        problems = _metadata_problems(kind, data["metadata"])
        if not problems:
            if served is not None:
                problems = self._custom_problems(served[0], served[1], data)
            elif not kind.custom:
                problems = _builtin_problems(kind, data, self.strict)
                if not problems and kind.kind == "CustomResourceDefinition":
                    problems = _crd_problems(data)
        if not problems:
            self._s.valid.add(memo_key)
        if problems:
            causes = [{"field": path, "message": message} for path, message in problems]
            text = "; ".join(
                f"{path}: {message}" if path else message for path, message in problems
            )
            raise self._error(
                422,
                f'{kind.kind} "{name}" is invalid: {text}',
                kind,
                verb,
                name,
                None,
                causes=causes,
            )

    def _custom_problems(
        self, version: dict, cache_key: tuple, data: dict
    ) -> builtins.list[tuple[str, str]]:
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if not schema:
            return []
        key = (*cache_key, self.strict)
        validator = self._s.validators.get(key)
        if validator is None:
            import jsonschema

            converted = _structural_to_jsonschema(schema, self.strict, root=True)
            validator = self._s.validators[key] = jsonschema.Draft4Validator(converted)
        return _schema_problems(validator, data)


# ------------------------------------------------------------------------------------------------
# Module helpers
# ------------------------------------------------------------------------------------------------


def _kind_name(kind: str | type | None) -> str | None:
    if kind is None or isinstance(kind, str):
        return kind
    return _Kind.of(kind).kind


def _decode(cls: type, data: dict) -> Any:
    """A lightkube object of class `cls` from (fresh, not shared) plain data."""
    return cls.from_dict(data)  # type: ignore[attr-defined]


def _clone(data: Any) -> Any:
    """Deep copy of JSON data (much faster than copy.deepcopy)."""
    return json.loads(json.dumps(data))


def _size(body: Any) -> int:
    text = json.dumps(body, separators=(",", ":"), default=kfk8s._json_default)
    return len(text.encode())


_SERVER_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp")


def _digest(data: dict) -> str:
    """Hash of an object's content, ignoring server-set metadata."""
    metadata = {k: v for k, v in data["metadata"].items() if k not in _SERVER_METADATA}
    text = json.dumps({**data, "metadata": metadata}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _spec_of(data: dict) -> dict:
    return {k: v for k, v in data.items() if k not in ("metadata", "status")}


def _default_message(
    code: int, verb: str, kind: _Kind, name: str | None, namespace: str | None
) -> str:
    target = f'{kind.plural} "{name}"' if name else kind.plural
    if code == 403:
        where = f' in the namespace "{namespace}"' if namespace and namespace != ALL_NS else ""
        return (
            f'{target} is forbidden: User "system:serviceaccount:fake:fake" cannot {verb} '
            f'resource "{kind.plural}" in API group "{kind.group}"{where}'
        )
    if code == 404:
        return f"{target} not found"
    if code == 409:
        return f"Operation cannot be fulfilled on {target}: the object has been modified"
    if code == 422:
        return f"{kind.kind} {target} is invalid (injected fault)"
    if code == 429:
        return "Too many requests, please try again later."
    return f"Internal error occurred (injected fault {code})"


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


# The patch merge keys of the built-in lists charms patch most (x-kubernetes-patch-merge-key
# in the Kubernetes OpenAPI). Other lists are replaced whole, as by a JSON merge patch.
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "imagePullSecrets": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
}


def _merge_list_by_key(live: Any, patch: list, key: str, merge: Any) -> list | None:
    """Merge list items by `key` with `merge(live_item, patch_item)`; None if not applicable."""
    if not isinstance(live, list) or not all(
        isinstance(item, dict) and key in item for item in [*live, *patch]
    ):
        return None
    merged = list(live)
    index = {item[key]: i for i, item in enumerate(merged)}
    for item in patch:
        if item[key] in index:
            merged[index[item[key]]] = merge(merged[index[item[key]]], item)
        else:
            merged.append(item)
    return merged


def _strategic_merge_patch(target: Any, patch: Any, field: str = "") -> Any:
    """A strategic merge patch: a JSON merge patch whose known keyed lists merge by key."""
    if isinstance(patch, list) and field in _MERGE_KEYS:
        merged = _merge_list_by_key(target, patch, _MERGE_KEYS[field], _strategic_merge_patch)
        return patch if merged is None else merged
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _strategic_merge_patch(result.get(key), value, key)
    return result


def _merge_applied(live: Any, applied: Any, field: str = "") -> Any:
    """Merge applied configuration into the live object.

    Maps merge recursively, keyed lists (containers by name...) by key; other lists are
    replaced.
    """
    if isinstance(applied, list) and field in _MERGE_KEYS:
        merged = _merge_list_by_key(live, applied, _MERGE_KEYS[field], _merge_applied)
        return applied if merged is None else merged
    if isinstance(live, dict) and isinstance(applied, dict):
        merged_map = dict(live)
        for key, value in applied.items():
            merged_map[key] = _merge_applied(live.get(key), value, key)
        return merged_map
    return applied


def _remove_unapplied(live: dict, previous: dict, applied: dict) -> None:
    """Drop from `live` the fields a manager applied before and no longer applies."""
    for key, old in previous.items():
        if key not in live:
            continue
        if key not in applied:
            del live[key]
        elif (
            isinstance(old, dict)
            and isinstance(applied[key], dict)
            and isinstance(live[key], dict)
        ):
            _remove_unapplied(live[key], old, applied[key])


def _selected(data: dict, labels: Any, fields: Any) -> bool:
    metadata = data.get("metadata") or {}
    if labels and not _matches(metadata.get("labels") or {}, labels):
        return False
    if fields:
        flat = {}
        pairs = fields.items() if isinstance(fields, Mapping) else fields
        for path, _ in pairs:
            value: Any = data
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value is not None:
                flat[path] = str(value)
        if not _matches(flat, fields):
            return False
    return True


def _matches(values: Mapping[str, str], selector: Any) -> bool:
    """Evaluate a lightkube label/field selector (dict or list of pairs) against values."""
    pairs: Iterable[tuple[str, Any]] = (
        selector.items() if isinstance(selector, Mapping) else selector
    )
    for key, wanted in pairs:
        present = key in values
        value = values.get(key)
        if wanted is None:
            wanted = lk_operators.exists()
        elif isinstance(wanted, str):
            wanted = lk_operators.equal(wanted)
        elif not isinstance(wanted, lk_operators.Operator):
            wanted = lk_operators.in_(wanted)
        op, operand = wanted.op_name, wanted.value
        ok = {
            "exists": present,
            "not_exists": not present,
            "equal": present and value == operand,
            "not_equal": value != operand,
            "in_": present and value in list(operand or ()),
            "not_in": value not in list(operand or ()),
        }.get(op)
        if ok is None:
            raise ValueError(f"unsupported selector operator {op!r}")
        if not ok:
            return False
    return True


def _metadata_problems(kind: _Kind, metadata: dict) -> list[tuple[str, str]]:
    problems = []
    name = metadata["name"]  # always set by the request
    if kind.kind in ("Namespace", "Service"):
        pattern = _DNS_LABEL if kind.kind == "Namespace" else _DNS_1035_LABEL
        if len(name) > 63 or not pattern.match(name):
            problems.append(("metadata.name", f"Invalid value: {name!r}: must be a DNS label"))
    elif len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        problems.append(("metadata.name", f"Invalid value: {name!r}: must be a DNS subdomain"))
    for key, value in (metadata.get("labels") or {}).items():
        if not _qualified_name_ok(key):
            problems.append((f"metadata.labels[{key}]", "Invalid value: not a qualified name"))
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            problems.append((f"metadata.labels[{key}]", f"Invalid value: {value!r}"))
    for key in metadata.get("annotations") or {}:
        if not _qualified_name_ok(key):
            problems.append(
                (f"metadata.annotations[{key}]", "Invalid value: not a qualified name")
            )
    return problems


def _qualified_name_ok(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return False
    return 0 < len(name) <= 63 and bool(_QUALIFIED_NAME.match(name))


def _crd_problems(data: dict) -> list[tuple[str, str]]:
    spec = data.get("spec") or {}
    expected = f"{(spec.get('names') or {}).get('plural')}.{spec.get('group')}"
    if data["metadata"]["name"] != expected:
        return [
            (
                "metadata.name",
                f"Invalid value: must be spec.names.plural+'.'+spec.group: {expected}",
            )
        ]
    return []


def _schema_problems(validator: Any, data: dict) -> list[tuple[str, str]]:
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    return [(".".join(str(p) for p in e.absolute_path), e.message) for e in errors[:5]]


def _builtin_problems(kind: _Kind, data: dict, strict: bool) -> list[tuple[str, str]]:
    validator = _builtin_validator(kind.api_version, kind.kind, strict)
    if validator is None:
        logger.debug("no schema for %s %s; not validated", kind.api_version, kind.kind)
        return []
    return _schema_problems(validator, data)


@functools.lru_cache(maxsize=2)
def _definitions(strict: bool) -> Any:
    from referencing import Resource

    path = _schema_dir(strict) / "_definitions.json"
    return Resource.from_contents(json.loads(path.read_text()))


def _schema_dir(strict: bool) -> Any:
    from importlib import resources

    suffix = "-strict" if strict else ""
    base = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    return base / f"v{KUBERNETES_VERSION}.0-local{suffix}"


@functools.cache
def _builtin_validator(api_version: str, kind: str, strict: bool) -> Any:
    """A cached Draft 2020-12 validator for a built-in kind (None if no schema is shipped)."""
    import jsonschema
    from referencing import Registry, Resource

    # kubernetes-validate names schemas <kind>-<group prefix>-<version>.json
    # (e.g. rbac.authorization.k8s.io/v1 -> rbac-v1).
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = _schema_dir(strict) / f"{kind.lower()}-{group_version}.json"
    if not path.is_file():
        return None
    schema = json.loads(path.read_text())
    registry: Registry = Resource.from_contents(schema) @ Registry()
    registry = _definitions(strict) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


_SCHEMA_MAPS = ("properties", "patternProperties", "definitions")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SCHEMA_ONE = ("items", "additionalProperties", "not")
_SCHEMA_IGNORED = ("nullable", "default", "example", "externalDocs", "description")


def _structural_to_jsonschema(node: Any, strict: bool, root: bool = False) -> Any:
    """Translate a CRD structural schema (OpenAPI v3 + x-kubernetes-*) to JSON Schema draft 4."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: _structural_to_jsonschema(v, strict) for k, v in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_structural_to_jsonschema(v, strict) for v in value]
        elif key in _SCHEMA_ONE and isinstance(value, dict):
            out[key] = _structural_to_jsonschema(value, strict)
        elif key in _SCHEMA_IGNORED or key.startswith("x-kubernetes-"):
            continue
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    if node.get("nullable") and "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
    embedded = root or node.get("x-kubernetes-embedded-resource")
    if embedded and "properties" in out:
        properties = out["properties"]
        properties.setdefault("apiVersion", {"type": "string"})
        properties.setdefault("kind", {"type": "string"})
        properties.setdefault("metadata", {"type": "object"})
        if root:
            properties.setdefault("status", {})
    closed = strict and "properties" in out and "additionalProperties" not in out
    if closed and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out
