"""Kubernetes resource manager on lightkube.

Charms render their manifests from jinja2 templates (`load_templates`) and hand the resulting
lightkube objects to a `ResourceManager`, which:

- labels every object with its owner (app, model namespace, scope) and annotates it with a
  hash of its desired state;
- lists each managed kind once with the owner label selector, applies (server-side, as the app)
  only objects whose hash changed or that are missing, and prunes owned objects that are no
  longer desired; CustomResourceDefinitions are never pruned implicitly, only by
  `purge(include_crds=True)`;
- raises every API or transport failure as a typed `K8sError`.

A steady-state reconcile therefore costs one list per kind and no writes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeAlias

import jinja2
import yaml
from lightkube import ApiError, Client
from lightkube.core import resource as lk_resource
from lightkube.core.exceptions import LoadResourceError
from lightkube.core.generic_client import ALL_NS
from lightkube.core.resource_registry import resource_registry
from lightkube.generic_resource import (
    GenericGlobalResource,
    GenericNamespacedResource,
    create_global_resource,
    create_namespaced_resource,
)
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition

try:
    import httpx2 as httpx
except ImportError:  # pragma: no cover - lightkube < 1.0 is built on httpx
    import httpx  # type: ignore[no-redef]

logger = logging.getLogger(__name__)

__all__ = [
    "HASH_ANNOTATION",
    "MANAGED_BY_LABEL",
    "MANAGED_BY_VALUE",
    "OWNER_LABEL",
    "OWNER_NAMESPACE_LABEL",
    "SCOPE_LABEL",
    "K8sConflictError",
    "K8sError",
    "K8sForbiddenError",
    "K8sInvalidError",
    "K8sNotFoundError",
    "K8sServerError",
    "K8sThrottledError",
    "K8sTimeoutError",
    "ManifestError",
    "ReconcileResult",
    "ResourceManager",
    "get_client",
    "k8s_errors",
    "load_manifests",
    "load_templates",
    "reset_client_factory",
    "set_client_factory",
    "translate_error",
]

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "kfcharm"
OWNER_LABEL = "kfcharm.io/owner"
OWNER_NAMESPACE_LABEL = "kfcharm.io/owner-namespace"
SCOPE_LABEL = "kfcharm.io/scope"
HASH_ANNOTATION = "kfcharm.io/desired-hash"

# Any lightkube resource instance (typed model or generic dict-based resource).
Resource = Any
#: A `lightkube.Client`, or a test double with the same methods (`FakeKubernetes`).
ClientLike: TypeAlias = "Client | Any"

# --------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------

ClientFactory = Callable[[str | None], Client]

_client_factory: ClientFactory | None = None
_clients: dict[str | None, Client] = {}


def set_client_factory(factory: ClientFactory) -> None:
    """Make `get_client` return `factory(field_manager)` (for tests and the simulator).

    Args:
        factory: called with the requested field manager; returns a lightkube-compatible client.
    """
    global _client_factory
    _client_factory = factory


def reset_client_factory() -> None:
    """Undo `set_client_factory` and forget cached real clients."""
    global _client_factory
    _client_factory = None
    _clients.clear()


def get_client(field_manager: str | None = None) -> Client:
    """Return the Kubernetes client for this process.

    A client installed with `set_client_factory` (e.g. `FakeKubernetes.install`) wins;
    otherwise a real `lightkube.Client` is created once per field manager and reused.

    Args:
        field_manager: name recorded as the field manager of writes (usually the app name).
    """
    if _client_factory is not None:
        return _client_factory(field_manager)
    client = _clients.get(field_manager)
    if client is None:
        client = _clients[field_manager] = Client(field_manager=field_manager)
    return client


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class K8sError(Exception):
    """A Kubernetes API request failed.

    Attributes:
        status_code: HTTP status code, or None when no response arrived (timeouts).
        transient: whether retrying later may succeed.
        kind: kind of the object concerned (if known).
        name: name of the object concerned (if known).
        namespace: namespace of the object concerned (if known).
        verb: the operation that failed (apply, list, delete...).
        message: the API server's message (or the transport error).
        reason: the API server's machine-readable reason (e.g. "Forbidden"), if any.
    """

    default_transient = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        kind: str | None = None,
        name: str | None = None,
        namespace: str | None = None,
        verb: str | None = None,
        reason: str | None = None,
        transient: bool | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.verb = verb
        self.reason = reason
        self.transient = self.default_transient if transient is None else transient

    @property
    def target(self) -> str:
        """`Kind/name` (or whatever part of it is known) of the object concerned."""
        parts = [p for p in (self.kind, self.name) if p]
        return "/".join(parts) if parts else "Kubernetes API"

    def __str__(self) -> str:
        code = f" (HTTP {self.status_code})" if self.status_code else ""
        verb = f"{self.verb} " if self.verb else ""
        return f"{verb}{self.target}: {self.message}{code}"


class K8sForbiddenError(K8sError):
    """403: the charm's service account lacks the permission (usually `juju trust` missing)."""


class K8sNotFoundError(K8sError):
    """404: the object, its namespace, or its kind (CRD not installed) does not exist."""


class K8sConflictError(K8sError):
    """409: the object already exists or was changed concurrently; retry with fresh state."""

    default_transient = True


class K8sInvalidError(K8sError):
    """422: the API server rejected the object as invalid."""


class K8sThrottledError(K8sError):
    """429: the API server is rate-limiting requests."""

    default_transient = True


class K8sServerError(K8sError):
    """5xx: the API server (or a webhook it called) failed."""

    default_transient = True


class K8sTimeoutError(K8sError):
    """The request timed out or the API server could not be reached."""

    default_transient = True


_ERRORS_BY_STATUS: dict[int, type[K8sError]] = {
    403: K8sForbiddenError,
    404: K8sNotFoundError,
    409: K8sConflictError,
    422: K8sInvalidError,
    429: K8sThrottledError,
}


def translate_error(
    exc: Exception,
    *,
    verb: str | None = None,
    kind: str | None = None,
    name: str | None = None,
    namespace: str | None = None,
) -> K8sError:
    """Convert a lightkube/httpx error into the matching `K8sError` subclass.

    Args:
        exc: the exception raised by a lightkube client call.
        verb: the operation that failed, for the message.
        kind: kind of the object concerned.
        name: name of the object concerned.
        namespace: namespace of the object concerned.

    Returns:
        The typed error (not raised).
    """
    where: dict[str, Any] = {"verb": verb, "kind": kind, "name": name, "namespace": namespace}
    if isinstance(exc, K8sError):
        return exc
    if isinstance(exc, httpx.TimeoutException):
        return K8sTimeoutError(f"request timed out: {exc}".rstrip(": "), **where)
    if isinstance(exc, httpx.TransportError):
        return K8sTimeoutError(f"cannot reach the API server: {exc}".rstrip(": "), **where)
    if isinstance(exc, ApiError):
        status = exc.status
        response = getattr(exc, "response", None)
        code = status.code or (response.status_code if response is not None else 0)
        message = status.message or str(exc)
        reason = status.reason
    elif isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        message = exc.response.reason_phrase or str(exc)
        reason = None
    else:
        return K8sError(str(exc) or type(exc).__name__, **where)
    if code in _ERRORS_BY_STATUS:
        cls = _ERRORS_BY_STATUS[code]
    elif code >= 500:
        cls = K8sServerError
    else:
        cls = K8sError
    return cls(message, status_code=code, reason=reason, **where)


@contextlib.contextmanager
def k8s_errors(
    verb: str | None = None,
    kind: str | None = None,
    name: str | None = None,
    namespace: str | None = None,
) -> Iterator[None]:
    """Context manager re-raising lightkube/httpx errors as `K8sError`.

    For charm code that calls the client directly::

        with k8s_errors("get", "Deployment", name):
            deployment = client.get(Deployment, name, namespace=ns)
    """
    try:
        yield
    except httpx.HTTPError as exc:
        raise translate_error(exc, verb=verb, kind=kind, name=name, namespace=namespace) from exc


# --------------------------------------------------------------------------------------------
# Templates and manifests
# --------------------------------------------------------------------------------------------


class ManifestError(ValueError):
    """A template or manifest cannot be rendered or parsed into Kubernetes objects."""


# Classes this module made up for kinds with no CRD at hand; kept out of lightkube's registry
# so that a CRD seen later can register the authoritative class.
_guessed_classes: dict[tuple[str, str], type] = {}


def load_templates(
    template_dir: Path,
    context: Mapping[str, Any] | Any,
    *,
    scopes: Mapping[str, str] | None = None,
) -> list[Resource]:
    """Render every `*.yaml.j2` in `template_dir` (sorted by name) into lightkube objects.

    Rendering uses jinja2 with `StrictUndefined`: a variable missing from the context is an
    error. Custom resources load as generic resources; see `load_manifests` for how their
    class is found.

    Args:
        template_dir: directory holding the templates (not searched recursively; templates may
            `{% include %}` others from it).
        context: template variables: a mapping, a dataclass or a pydantic model.
        scopes: optional `{kind: "Namespaced" | "Cluster"}` hints for custom kinds whose CRD
            is neither in the set nor registered with lightkube.

    Returns:
        The objects in template order.

    Raises:
        ManifestError: a template fails to render or a document is not a valid object.
    """
    template_dir = Path(template_dir)
    if not template_dir.is_dir():
        raise ManifestError(f"template directory not found: {template_dir}")
    env = _jinja_env(jinja2.FileSystemLoader(str(template_dir)))
    variables = _context_dict(context)
    sources = []
    for path in sorted(template_dir.glob("*.yaml.j2")):
        try:
            text = env.get_template(path.name).render(variables)
        except jinja2.TemplateError as exc:
            raise ManifestError(f"{path.name}: cannot render: {exc}") from exc
        sources.append((path.name, text))
    return _load_sources(sources, scopes)


def load_manifests(
    text: str,
    context: Mapping[str, Any] | Any | None = None,
    *,
    scopes: Mapping[str, str] | None = None,
) -> list[Resource]:
    """Parse a (multi-document) YAML string into lightkube objects.

    The class of each object is, in order: the generic resource defined by a
    CustomResourceDefinition in the same text; a class already registered with lightkube
    (built-in kinds, or generic resources created by the caller); otherwise a generic resource
    whose scope comes from `scopes` or, lacking a hint, from whether the object has
    `metadata.namespace`.

    Args:
        text: the YAML text, or a jinja2 template of it when `context` is given.
        context: template variables; when None the text is not templated.
        scopes: optional `{kind: "Namespaced" | "Cluster"}` hints for unknown custom kinds.

    Raises:
        ManifestError: the text fails to render or a document is not a valid object.
    """
    if context is not None:
        try:
            text = _jinja_env(None).from_string(text).render(_context_dict(context))
        except jinja2.TemplateError as exc:
            raise ManifestError(f"cannot render manifest: {exc}") from exc
    return _load_sources([("<manifest>", text)], scopes)


def _jinja_env(loader: jinja2.BaseLoader | None) -> jinja2.Environment:
    # Autoescaping is for HTML; these templates produce YAML.
    env = jinja2.Environment(  # noqa: S701
        loader=loader,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # `tojson` would write characters outside the BMP as surrogate-pair escapes, which YAML
    # parsers reject; JSON text (a YAML subset) may carry them as they are.
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
    return env


def _context_dict(context: Mapping[str, Any] | Any) -> dict[str, Any]:
    if isinstance(context, Mapping):
        return dict(context)
    if dataclasses.is_dataclass(context) and not isinstance(context, type):
        return {f.name: getattr(context, f.name) for f in dataclasses.fields(context)}
    model_fields = getattr(type(context), "model_fields", None)
    if isinstance(model_fields, dict):  # pydantic v2 model: keep nested objects as they are
        return {name: getattr(context, name) for name in model_fields}
    raise TypeError(
        f"template context must be a mapping, dataclass or pydantic model: {context!r}"
    )


# libyaml's safe loader parses the same documents about ten times faster than the pure-Python
# one; every hook renders every template, so use it wherever PyYAML was built with it.
_SAFE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_sources(sources: list[tuple[str, str]], scopes: Mapping[str, str] | None) -> list:
    docs: list[tuple[str, dict]] = []
    for source, text in sources:
        try:
            loaded = list(yaml.load_all(text, Loader=_SAFE_LOADER))
        except yaml.YAMLError as exc:
            raise ManifestError(f"{source}: invalid YAML: {exc}") from exc
        for index, doc in enumerate(_flatten_lists(loaded)):
            where = f"{source} (document {index + 1})"
            if not isinstance(doc, dict) or not doc.get("apiVersion") or not doc.get("kind"):
                raise ManifestError(f"{where}: not a Kubernetes object (apiVersion/kind missing)")
            docs.append((where, doc))
    crds = {}
    for _, doc in docs:
        if doc["kind"] == "CustomResourceDefinition":
            spec = doc.get("spec") or {}
            names = spec.get("names") or {}
            crds[(spec.get("group"), names.get("kind"))] = (
                spec.get("scope") == "Namespaced",
                names.get("plural"),
            )
    objects = []
    for where, doc in docs:
        cls = _resource_class(doc, crds, scopes or {})
        objects.append(_instantiate(cls, doc, where))
    return objects


def _flatten_lists(docs: Iterable[Any]) -> Iterator[Any]:
    for doc in docs:
        if doc is None:
            continue
        if isinstance(doc, dict) and str(doc.get("kind", "")).endswith("List"):
            yield from _flatten_lists(doc.get("items") or [])
        else:
            yield doc


def _resource_class(doc: dict, crds: Mapping, scopes: Mapping[str, str]) -> type:
    api_version, kind = doc["apiVersion"], doc["kind"]
    group, _, version = api_version.rpartition("/")
    if (group, kind) in crds:
        namespaced, plural = crds[(group, kind)]
        creator = create_namespaced_resource if namespaced else create_global_resource
        try:
            return creator(group, version, kind, plural)
        except ValueError:
            logger.warning(
                "%s %s is registered with a different scope or plural", api_version, kind
            )
    registered = resource_registry.get(api_version, kind)
    if registered is not None:
        return registered
    try:
        return resource_registry.load(api_version, kind)
    except (LoadResourceError, ImportError):
        pass
    cached = _guessed_classes.get((api_version, kind))
    if cached is not None:
        return cached
    hint = scopes.get(kind)
    if hint is not None and hint not in ("Namespaced", "Cluster"):
        raise ManifestError(f"scope hint for {kind} must be 'Namespaced' or 'Cluster': {hint!r}")
    if hint is None:
        namespaced = bool((doc.get("metadata") or {}).get("namespace"))
    else:
        namespaced = hint == "Namespaced"
    base: type = GenericNamespacedResource if namespaced else GenericGlobalResource
    info = lk_resource.ApiInfo(
        resource=lk_resource.ResourceDef(group, version, kind),
        plural=_plural(kind),
        verbs=[
            "delete",
            "deletecollection",
            "get",
            "global_list",
            "global_watch",
            "list",
            "patch",
            "post",
            "put",
            "watch",
        ],
    )
    guessed = type(kind, (base,), {"_api_info": info})
    logger.debug("no CRD known for %s %s; assuming %s", api_version, kind, base.__name__)
    _guessed_classes[(api_version, kind)] = guessed
    return guessed


def _plural(kind: str) -> str:
    word = kind.lower()
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", word):
        return word + "es"
    return word + "s"


def _instantiate(cls: type, doc: dict, where: str) -> Resource:
    try:
        obj = cls.from_dict(doc)  # type: ignore[attr-defined]
    except (ValueError, TypeError) as exc:
        raise ManifestError(f"{where}: invalid {doc['kind']}: {exc}") from exc
    if not isinstance(obj, dict):  # typed model: fields unknown to it would be dropped silently
        dropped = _missing_paths(_strip_none(doc), _to_plain(obj))
        if dropped:
            raise ManifestError(
                f"{where}: unknown field(s) in {doc['kind']}: {', '.join(dropped)}"
            )
    return obj


def _missing_paths(source: Any, loaded: Any, prefix: str = "") -> list[str]:
    if isinstance(source, dict) and isinstance(loaded, dict):
        missing = []
        for key, value in source.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in loaded:
                missing.append(path)
            else:
                missing += _missing_paths(value, loaded[key], path)
        return missing
    if isinstance(source, list) and isinstance(loaded, list):
        missing = []
        for index, (value, other) in enumerate(zip(source, loaded, strict=False)):
            missing += _missing_paths(value, other, f"{prefix}[{index}]")
        return missing
    return []


# --------------------------------------------------------------------------------------------
# Object helpers
# --------------------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _strip_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_none(v) for v in value]
    return value


def _to_plain(obj: Any) -> dict:
    """A lightkube object (or dict) as plain JSON data, without null fields."""
    data = obj.to_dict() if hasattr(obj, "to_dict") else obj
    return _strip_none(json.loads(json.dumps(data, default=_json_default)))


def _kind_of(cls: type) -> str:
    return lk_resource.api_info(cls).resource.kind


def _group_of(cls: type) -> str:
    return lk_resource.api_info(cls).resource.group


def _is_namespaced(cls: type) -> bool:
    return issubclass(cls, lk_resource.NamespacedResource)


def _lists_all_namespaces(cls: type) -> bool:
    info = lk_resource.api_info(cls)
    return issubclass(cls, lk_resource.NamespacedResourceG) and "global_list" in info.verbs


def _object_id(kind: str, namespace: str | None, name: str) -> str:
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


# Apply order: what others reference first, webhooks last (a webhook whose service is not yet
# running would block unrelated writes). Deletion runs in reverse.
_KIND_RANK = {
    "CustomResourceDefinition": 10,
    "Namespace": 20,
    "PriorityClass": 25,
    "ServiceAccount": 30,
    "Secret": 31,
    "ConfigMap": 32,
    "PersistentVolume": 33,
    "PersistentVolumeClaim": 34,
    "ClusterRole": 40,
    "Role": 41,
    "ClusterRoleBinding": 42,
    "RoleBinding": 43,
    "Service": 50,
    "MutatingWebhookConfiguration": 2000,
    "ValidatingWebhookConfiguration": 2000,
}


def _rank(kind: str) -> int:
    return _KIND_RANK.get(kind, 1000)


# --------------------------------------------------------------------------------------------
# Resource manager
# --------------------------------------------------------------------------------------------


@dataclass
class ReconcileResult:
    """What `ResourceManager.reconcile` did.

    Entries are `Kind/namespace/name`, or `Kind/name` for cluster-scoped objects.
    """

    applied: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything was written."""
        return bool(self.applied or self.pruned)


@dataclass(frozen=True)
class _Key:
    group: str
    kind: str
    namespace: str | None
    name: str

    @property
    def id(self) -> str:
        return _object_id(self.kind, self.namespace, self.name)


@dataclass
class _Owned:
    cls: type
    key: _Key
    desired_hash: str | None


class ResourceManager:
    """Apply, skip-unchanged and prune the Kubernetes objects one app (and scope) owns.

    Args:
        client: a lightkube client (see `get_client`).
        app: the app name: field manager of every write and value of the owner label.
        namespace: the model namespace: default for namespaced objects without one, and value
            of the owner-namespace label.
        scope: distinguishes independent object sets of one app; each is pruned separately.
        resource_types: every kind this set may contain, so that objects of a kind no longer
            rendered are still pruned. Kinds of the objects passed to `reconcile` are added.
        list_all_namespaces: list namespaced kinds across all namespaces (one request per kind,
            finds owned objects in any namespace; needs cluster-wide list permission). When
            False, kinds with every desired object in `namespace` are listed there only.
    """

    def __init__(
        self,
        client: ClientLike,
        app: str,
        namespace: str,
        scope: str = "main",
        resource_types: Iterable[type] = (),
        *,
        list_all_namespaces: bool = True,
    ):
        self.client = client
        self.app = app
        self.namespace = namespace
        self.scope = scope
        self.resource_types = list(dict.fromkeys(resource_types))
        self.list_all_namespaces = list_all_namespaces

    @property
    def owner_labels(self) -> dict[str, str]:
        """The labels put on (and selecting) every object of this set."""
        return {
            MANAGED_BY_LABEL: MANAGED_BY_VALUE,
            OWNER_LABEL: self.app,
            OWNER_NAMESPACE_LABEL: self.namespace,
            SCOPE_LABEL: self.scope,
        }

    def prepare(self, obj: Resource) -> Resource:
        """Return a copy of `obj` with namespace defaulted, owner labels and desired hash set.

        Args:
            obj: a lightkube resource object.
        """
        cls = type(obj)
        data = _to_plain(obj)
        metadata = data.setdefault("metadata", {})
        if not metadata.get("name"):
            raise ValueError(f"{_kind_of(cls)} without metadata.name cannot be managed")
        if _is_namespaced(cls):
            metadata.setdefault("namespace", self.namespace)
        else:
            metadata.pop("namespace", None)
        metadata.setdefault("labels", {}).update(self.owner_labels)
        annotations = metadata.setdefault("annotations", {})
        annotations.pop(HASH_ANNOTATION, None)
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        annotations[HASH_ANNOTATION] = hashlib.sha256(canonical.encode()).hexdigest()
        return cls.from_dict(data)  # type: ignore[attr-defined]

    def reconcile(self, objects: Iterable[Resource]) -> ReconcileResult:
        """Make the cluster hold exactly `objects` for this app and scope.

        Unchanged objects (same desired hash) are skipped, changed or missing ones are applied
        with server-side apply (forced, field manager = app), and owned objects of the managed
        kinds that are no longer desired are deleted, except CustomResourceDefinitions.

        Args:
            objects: the desired lightkube objects.

        Returns:
            What was applied, left unchanged and pruned.

        Raises:
            K8sError: a request failed (subclass tells why).
            ValueError: an object has no name, or two objects have the same identity.
        """
        desired: dict[_Key, Resource] = {}
        for obj in objects:
            prepared = self.prepare(obj)
            key = self._key(prepared)
            if key in desired:
                raise ValueError(f"{key.id} is desired twice")
            desired[key] = prepared

        elsewhere = {
            (k.group, k.kind) for k in desired if k.namespace not in (None, self.namespace)
        }
        existing = self._list_owned(self._managed_kinds(desired), elsewhere)
        result = ReconcileResult()
        for key, obj in sorted(desired.items(), key=lambda item: _rank(item[0].kind)):
            current = existing.get(key)
            if current is not None and current.desired_hash == self._hash(obj):
                result.unchanged.append(key.id)
                continue
            with k8s_errors("apply", key.kind, key.name, key.namespace):
                self.client.apply(obj, field_manager=self.app, force=True)
            result.applied.append(key.id)

        stale = [owned for key, owned in existing.items() if key not in desired]
        for owned in sorted(stale, key=lambda o: _rank(o.key.kind), reverse=True):
            if owned.key.kind == "CustomResourceDefinition":
                logger.info("not pruning %s (CRDs are only removed by purge)", owned.key.id)
                continue
            if self._delete(owned):
                result.pruned.append(owned.key.id)

        if result.changed:
            logger.info(
                "%s/%s: applied %d, pruned %d, unchanged %d",
                self.app,
                self.scope,
                len(result.applied),
                len(result.pruned),
                len(result.unchanged),
            )
        return result

    def purge(self, include_crds: bool = False) -> list[str]:
        """Delete every object of the managed kinds this app and scope own.

        Args:
            include_crds: also delete owned CustomResourceDefinitions, and with them every
                custom resource of those kinds in the cluster. Only for an explicit action.

        Returns:
            The deleted objects (`Kind/namespace/name` or `Kind/name`).
        """
        kinds = list(self.resource_types)
        if include_crds:
            kinds.append(CustomResourceDefinition)
        owned = self._list_owned(self._unique_kinds(kinds), elsewhere=None)
        deleted = []
        for item in sorted(owned.values(), key=lambda o: _rank(o.key.kind), reverse=True):
            if item.key.kind == "CustomResourceDefinition" and not include_crds:
                continue
            if self._delete(item):
                deleted.append(item.key.id)
        logger.info("%s/%s: purged %d objects", self.app, self.scope, len(deleted))
        return deleted

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _hash(obj: Resource) -> str | None:
        annotations = obj.metadata.annotations if obj.metadata else None
        return (annotations or {}).get(HASH_ANNOTATION)

    @staticmethod
    def _key(obj: Resource) -> _Key:
        cls = type(obj)
        namespace = obj.metadata.namespace if _is_namespaced(cls) else None
        return _Key(_group_of(cls), _kind_of(cls), namespace, obj.metadata.name)

    @staticmethod
    def _unique_kinds(classes: Iterable[type]) -> list[type]:
        unique: dict[tuple[str, str], type] = {}
        for cls in classes:
            unique.setdefault((_group_of(cls), _kind_of(cls)), cls)
        return list(unique.values())

    def _managed_kinds(self, desired: Mapping[_Key, Resource]) -> list[type]:
        return self._unique_kinds([*(type(o) for o in desired.values()), *self.resource_types])

    def _list_owned(
        self, kinds: list[type], elsewhere: set[tuple[str, str]] | None = None
    ) -> dict[_Key, _Owned]:
        owned: dict[_Key, _Owned] = {}
        for cls in kinds:
            everywhere = self.list_all_namespaces or (_group_of(cls), _kind_of(cls)) in (
                elsewhere or set()
            )
            for obj in self._list_kind(cls, everywhere):
                key = self._key(obj)
                owned[key] = _Owned(cls, key, self._hash(obj))
        return owned

    def _list_kind(self, cls: type, everywhere: bool) -> list[Resource]:
        kind = _kind_of(cls)
        kwargs: dict[str, Any] = {"labels": self.owner_labels}
        if _is_namespaced(cls):
            all_ns = everywhere and _lists_all_namespaces(cls)
            kwargs["namespace"] = ALL_NS if all_ns else self.namespace
        try:
            with k8s_errors("list", kind):
                return list(self.client.list(cls, **kwargs))
        except K8sNotFoundError:
            # The kind itself is unknown to the API server: its CRD is not installed (yet).
            logger.debug("cannot list %s (not installed); assuming none exist", kind)
            return []

    def _delete(self, owned: _Owned) -> bool:
        key = owned.key
        kwargs: dict[str, Any] = {"namespace": key.namespace} if key.namespace else {}
        cls: Any = owned.cls
        try:
            with k8s_errors("delete", key.kind, key.name, key.namespace):
                self.client.delete(cls, key.name, **kwargs)
        except K8sNotFoundError:
            logger.debug("%s was already gone", key.id)
            return False
        return True
