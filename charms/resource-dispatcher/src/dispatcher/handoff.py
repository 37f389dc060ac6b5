"""What the charm and the controller exchange through files in the workload container.

Stdlib only: the charm imports this module as well as the controller.

- The manifests file (written by the charm, mode 0600, read by the controller): JSON
  ``{"format": 1, "manifests": [{"endpoint", "source", "manifest"}, ...]}``, sorted, so equal
  content gives equal bytes. It holds Secrets: it is never logged and never a ConfigMap.
- The status file (written by the controller, read by the charm): JSON with the controller's
  state, counts and a human message, never object content.
- The target label: ``key=value`` (or ``key`` alone: the label must exist).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

FORMAT = 1

# Endpoint of the charm -> the one (apiVersion, kind) it accepts.
KIND_BY_ENDPOINT: dict[str, tuple[str, str]] = {
    "secrets": ("v1", "Secret"),
    "service-accounts": ("v1", "ServiceAccount"),
    "config-maps": ("v1", "ConfigMap"),
    "roles": ("rbac.authorization.k8s.io/v1", "Role"),
    "role-bindings": ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    "pod-defaults": ("kubeflow.org/v1alpha1", "PodDefault"),
}
ENDPOINTS = tuple(KIND_BY_ENDPOINT)

# Order of creation in a namespace: what others refer to first.
KIND_ORDER = ("ServiceAccount", "Secret", "ConfigMap", "Role", "RoleBinding", "PodDefault")

_QUALIFIED = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?")


class HandoffError(ValueError):
    """A handoff file or value is malformed (the message never quotes manifest content)."""


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: equal data, equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def manifest_hash(manifest: dict[str, Any]) -> str:
    """The sha256 (hex) of a manifest's canonical JSON."""
    return hashlib.sha256(canonical_json(manifest).encode()).hexdigest()


@dataclass(frozen=True)
class HandoffEntry:
    """One manifest to dispatch, and where it came from.

    Attributes:
        endpoint: the charm endpoint it arrived on (e.g. ``secrets``).
        source: the application that sent it.
        manifest: the namespaced object without a namespace.
    """

    endpoint: str
    source: str
    manifest: dict[str, Any] = field(hash=False, compare=True)

    @property
    def kind(self) -> str:
        """The manifest's kind."""
        return str(self.manifest["kind"])

    @property
    def name(self) -> str:
        """The manifest's metadata.name."""
        return str(self.manifest["metadata"]["name"])

    @property
    def hash(self) -> str:
        """The sha256 of the manifest."""
        return manifest_hash(self.manifest)


def entry_problem(endpoint: str, manifest: Any) -> str | None:
    """Why a manifest may not be dispatched from `endpoint`, or None.

    Checks what the relation library does not: the kind the endpoint is for, and label and
    annotation keys (a bad key would be rejected by the API server in every namespace).
    """
    expected = KIND_BY_ENDPOINT.get(endpoint)
    if expected is None:
        return f"unknown endpoint {endpoint!r}"
    if not isinstance(manifest, dict):
        return "not an object"
    api_version, kind = expected
    if manifest.get("kind") != kind or manifest.get("apiVersion") != api_version:
        got = str(manifest.get("kind"))[:63]
        return f"{got} is not a {kind} ({api_version}); send it on the matching endpoint"
    metadata = manifest.get("metadata")
    if not isinstance(metadata, dict):
        return f"{kind} without metadata"
    name = metadata.get("name")
    if not isinstance(name, str) or len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
        return f"{kind} without a valid metadata.name"
    if "namespace" in metadata:
        return f"{kind} '{name}' sets metadata.namespace (it must not)"
    for key in ("labels", "annotations"):
        values = metadata.get(key)
        if values is None:
            continue
        if not isinstance(values, dict):
            return f"{kind} '{name}': metadata.{key} is not a map"
        for label, value in values.items():
            if not qualified_name_ok(label) or not isinstance(value, str):
                return f"{kind} '{name}': invalid metadata.{key} entry"
            if key == "labels" and not _LABEL_VALUE.fullmatch(value):
                return f"{kind} '{name}': invalid metadata.labels value"
    return None


def qualified_name_ok(key: Any) -> bool:
    """Whether `key` is a valid label/annotation key (optional DNS prefix, then a name)."""
    if not isinstance(key, str):
        return False
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return False
    return bool(_QUALIFIED.fullmatch(name))


def encode_manifests(entries: list[HandoffEntry]) -> str:
    """The manifests file content for `entries` (stable order, trailing newline)."""
    ordered = sorted(entries, key=lambda e: (e.kind, e.name, e.endpoint, e.source))
    items = [{"endpoint": e.endpoint, "source": e.source, "manifest": e.manifest} for e in ordered]
    return canonical_json({"format": FORMAT, "manifests": items}) + "\n"


def decode_manifests(text: str | bytes) -> list[HandoffEntry]:
    """Parse and validate a manifests file.

    Raises:
        HandoffError: not valid JSON, wrong format, or an entry fails `entry_problem`.
    """
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise HandoffError("manifests file is not valid JSON") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise HandoffError(f"manifests file is not format {FORMAT}")
    items = data.get("manifests")
    if not isinstance(items, list):
        raise HandoffError("manifests file has no 'manifests' list")
    entries = []
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise HandoffError(f"manifests[{index}] is not an object")
        endpoint, source = item.get("endpoint"), item.get("source")
        if not isinstance(endpoint, str) or not isinstance(source, str):
            raise HandoffError(f"manifests[{index}] lacks endpoint or source")
        problem = entry_problem(endpoint, item.get("manifest"))
        if problem:
            raise HandoffError(f"manifests[{index}]: {problem}")
        entry = HandoffEntry(endpoint, source, item["manifest"])
        if (entry.kind, entry.name) in seen:
            raise HandoffError(f"manifests[{index}]: {entry.kind} '{entry.name}' twice")
        seen.add((entry.kind, entry.name))
        entries.append(entry)
    return entries


@dataclass(frozen=True)
class LabelSelector:
    """The label that marks target namespaces: ``key=value``, or ``key`` (any value).

    Attributes:
        key: the label key.
        value: the required value, or None when the label only has to exist.
    """

    key: str
    value: str | None

    @classmethod
    def parse(cls, text: str) -> LabelSelector:
        """Parse ``key=value`` or ``key``.

        Raises:
            HandoffError: the key or value is not a valid Kubernetes label key/value.
        """
        key, sep, value = text.strip().partition("=")
        key = key.strip()
        if not qualified_name_ok(key):
            raise HandoffError(f"{key!r} is not a valid label key")
        if not sep:
            return cls(key, None)
        value = value.strip()
        if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
            raise HandoffError(f"{value!r} is not a valid label value")
        return cls(key, value)

    def matches(self, labels: dict[str, str] | None) -> bool:
        """Whether a namespace with `labels` is a target."""
        labels = labels or {}
        if self.key not in labels:
            return False
        return self.value is None or labels[self.key] == self.value

    def __str__(self) -> str:
        return self.key if self.value is None else f"{self.key}={self.value}"


# --- status file -----------------------------------------------------------------------------

STATES = ("starting", "ready", "degraded", "forbidden", "failed")


@dataclass
class ControllerStatus:
    """What the controller reports to the charm (counts and a message, never content).

    Attributes:
        state: one of `STATES`.
        message: a short human-readable explanation.
        namespaces: labelled namespaces currently served.
        manifests: manifests currently dispatched.
        manifests_hash: sha256 of the manifests file the controller last loaded.
        pending: writes waiting for a retry.
    """

    state: str = "starting"
    message: str = ""
    namespaces: int = 0
    manifests: int = 0
    manifests_hash: str = ""
    pending: int = 0

    def encode(self) -> str:
        """JSON text of the status."""
        return canonical_json(self.__dict__) + "\n"

    @classmethod
    def decode(cls, text: str | bytes) -> ControllerStatus:
        """Parse a status file; anything malformed becomes a `failed` status saying so."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return cls(state="failed", message="controller status file is not JSON")
        if not isinstance(data, dict) or data.get("state") not in STATES:
            return cls(state="failed", message="controller status file is malformed")
        status = cls()
        for name, default in cls().__dict__.items():
            value = data.get(name, default)
            if isinstance(value, type(default)) and not isinstance(value, bool):
                setattr(status, name, value)
        status.message = status.message[:200]
        return status


def file_hash(data: str | bytes) -> str:
    """The sha256 (hex) of a file's content."""
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()
