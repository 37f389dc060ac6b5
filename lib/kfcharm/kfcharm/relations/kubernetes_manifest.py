"""The `kubernetes_manifest` interface: apps hand namespaced manifests to resource-dispatcher.

Wire format (requirer app databag), as the Charmhub `kubernetes_manifests` library:
- current form (library patch 2): an app-owned Juju secret labelled
  `manifest.<endpoint>.<relation-id>` with content `{"manifests": "<JSON list>"}`, granted to
  the relation; `kubernetes_manifests` = the secret URI and `is_secret` = "true";
- old form (patch 1): `kubernetes_manifests` = the JSON list itself.
The provider (resource-dispatcher) sends nothing; it reads both forms.

Every manifest is a dict with `apiVersion`, `kind` and `metadata.name`, and no
`metadata.namespace`: the dispatcher copies it into every user namespace. Two manifests with
the same kind and name on one endpoint conflict: the provider keeps the one from the oldest
relation, reports the other, and keeps serving everything else.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ops

from . import _wire
from .errors import RelationConflictError, RelationError, RelationNotReadyError
from .sdi import write_app_data

logger = logging.getLogger(__name__)

KUBERNETES_MANIFESTS_FIELD = "kubernetes_manifests"
IS_SECRET_FIELD = "is_secret"  # noqa: S105  # a databag key, not a password
MANIFESTS_SECRET_KEY = "manifests"  # noqa: S105  # a secret content key
MAX_MANIFESTS_BYTES = 1024 * 1024
"""Largest JSON list of manifests accepted from one relation."""
MAX_MANIFESTS = 500
"""Most manifests accepted from one relation."""

_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")  # RFC 1123 subdomain


def secret_label(relation_name: str, relation_id: int) -> str:
    """The label of the requirer's secret for one relation."""
    return f"manifest.{relation_name}.{relation_id}"


def manifest_problem(manifest: object) -> str | None:
    """Why `manifest` cannot be dispatched, or None if it can."""
    if not isinstance(manifest, dict):
        return "not an object"
    for key in ("apiVersion", "kind"):
        value = manifest.get(key)
        if not isinstance(value, str) or not value:
            return f"no {key}"
    kind = manifest["kind"][:63]  # remote text in a status message: keep it short
    metadata = manifest.get("metadata")
    if not isinstance(metadata, dict):
        return f"{kind} without metadata"
    name = metadata.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        return f"{kind} without a valid metadata.name"
    if "namespace" in metadata:
        return f"{kind} '{name}' sets metadata.namespace (it must not)"
    return None


@dataclass(frozen=True)
class ManifestEntry:
    """One manifest and where it came from.

    Attributes:
        source_app: the application that sent it.
        relation_id: the relation it came on.
        manifest: the manifest (a Kubernetes object without namespace).
    """

    source_app: str
    relation_id: int
    manifest: dict[str, Any]

    @property
    def kind(self) -> str:
        """The manifest's kind."""
        return str(self.manifest["kind"])

    @property
    def name(self) -> str:
        """The manifest's metadata.name."""
        return str(self.manifest["metadata"]["name"])


Manifests = list[dict[str, Any]]


class KubernetesManifestRequirer(ops.Object):
    """Requirer side: sends manifests in a Juju secret (current form).

    Publishes (leader only) on relation-created, leader-elected and upgrade-charm, and
    whenever the charm calls `publish()` (for manifests computed from changing inputs).
    Removes a relation's secret on relation-broken.
    """

    def __init__(
        self,
        charm: ops.CharmBase,
        relation_name: str,
        manifests: Manifests | Callable[[], Manifests],
    ):
        """Set up the requirer.

        Args:
            charm: the charm.
            relation_name: the requires endpoint (interface `kubernetes_manifest`).
            manifests: the manifests, or a callable returning them at publish time.
        """
        super().__init__(charm, f"kubernetes-manifest-requirer-{relation_name}")
        self._charm = charm
        self._relation_name = relation_name
        self._manifests = manifests
        charm.framework.observe(charm.on[relation_name].relation_created, self._on_publish)
        charm.framework.observe(charm.on.leader_elected, self._on_publish)
        charm.framework.observe(charm.on.upgrade_charm, self._on_publish)
        charm.framework.observe(charm.on[relation_name].relation_broken, self._on_broken)
        charm.framework.observe(charm.on.secret_remove, self._on_secret_remove)

    def _on_publish(self, _: ops.EventBase) -> None:
        self.publish()

    def publish(self) -> None:
        """Send the manifests on every relation of the endpoint (leader only; idempotent).

        Raises:
            ValueError: a manifest is not dispatchable (see `manifest_problem`).
        """
        if not self._charm.unit.is_leader():
            return
        relations = self._charm.model.relations[self._relation_name]
        if not relations:
            return
        manifests = self._manifests() if callable(self._manifests) else self._manifests
        for index, manifest in enumerate(manifests):
            problem = manifest_problem(manifest)
            if problem:
                raise ValueError(f"{self._relation_name} manifest [{index}]: {problem}")
        content = {MANIFESTS_SECRET_KEY: json.dumps(manifests, sort_keys=True)}
        for relation in relations:
            databag = relation.data[self._charm.app]
            uri = _wire.ensure_app_secret(
                self._charm,
                secret_label(self._relation_name, relation.id),
                content,
                relation,
                databag.get(KUBERNETES_MANIFESTS_FIELD),
            )
            write_app_data(
                self._charm.app,
                relation,
                {KUBERNETES_MANIFESTS_FIELD: uri, IS_SECRET_FIELD: "true"},
            )

    def _on_broken(self, event: ops.RelationBrokenEvent) -> None:
        if self._charm.unit.is_leader():
            label = secret_label(self._relation_name, event.relation.id)
            _wire.remove_app_secret(self._charm.model, label)

    def _on_secret_remove(self, event: ops.SecretRemoveEvent) -> None:
        labels = re.compile(rf"manifest\.{re.escape(self._relation_name)}\.\d+")
        _wire.remove_unused_revision(event, labels)


class KubernetesManifestProvider(ops.Object):
    """Provider side (resource-dispatcher): reads the manifests of all related apps.

    The charm re-reads on relation-changed, relation-broken (ops already leaves the broken
    relation out) and secret-changed.
    """

    def __init__(self, charm: ops.CharmBase, relation_name: str):
        """Set up the provider.

        Args:
            charm: the charm.
            relation_name: the provides endpoint (interface `kubernetes_manifest`).
        """
        super().__init__(charm, f"kubernetes-manifest-provider-{relation_name}")
        self._charm = charm
        self._relation_name = relation_name

    def get_manifests(self) -> list[ManifestEntry]:
        """All manifests of the endpoint.

        Raises:
            RelationDataError: a relation sent malformed data.
            RelationNotReadyError: a relation's secret is not accessible (yet).
            RelationConflictError: two manifests share kind and name.
            (The first problem found, not-ready relations last; `collect()` returns all of
            them and what is usable.)
        """
        entries, errors = self.collect()
        if errors:
            raise min(errors, key=lambda error: isinstance(error, RelationNotReadyError))
        return entries

    def collect(self) -> tuple[list[ManifestEntry], list[RelationError]]:
        """The usable manifests of the endpoint, and every problem found; never raises.

        A relation with malformed data contributes nothing. Of two manifests with the same
        kind and name, the one from the oldest relation (first in its list) is kept.
        """
        entries: list[ManifestEntry] = []
        errors: list[RelationError] = []
        kept: dict[tuple[str, str], ManifestEntry] = {}
        for relation in _wire.oldest_first(self._charm.model, self._relation_name):
            if relation.app is None:
                continue
            try:
                manifests = self._read(relation, relation.app)
            except RelationError as err:
                errors.append(err)
                continue
            for manifest in manifests:
                entry = ManifestEntry(relation.app.name, relation.id, manifest)
                first = kept.setdefault((entry.kind, entry.name), entry)
                if first is entry:
                    entries.append(entry)
                    continue
                message = (
                    f"{entry.kind} '{entry.name}' is sent by both {first.source_app} "
                    f"(relation {first.relation_id}) and {entry.source_app}; "
                    f"keeping the one from {first.source_app}"
                )
                errors.append(RelationConflictError(self._relation_name, message, relation.id))
        return entries, errors

    def _read(self, relation: ops.Relation, app: ops.Application) -> Manifests:
        """The validated manifests of one relation (either form)."""
        data = relation.data[app]
        field = KUBERNETES_MANIFESTS_FIELD
        raw = data.get(field)
        if not raw:
            return []
        if data.get(IS_SECRET_FIELD) == "true":
            content = _wire.read_granted_secret(self._charm.model, raw, relation, field)
            raw = content.get(MANIFESTS_SECRET_KEY)
            if raw is None:
                raise _wire.data_error(relation, field, "its secret has no 'manifests'")
        if len(raw.encode()) > MAX_MANIFESTS_BYTES:
            raise _wire.data_error(relation, field, "larger than 1 MiB")
        manifests = _wire.decode_json(raw, relation, field)
        if not isinstance(manifests, list):
            raise _wire.data_error(relation, field, "not a JSON list")
        if len(manifests) > MAX_MANIFESTS:
            raise _wire.data_error(relation, field, f"more than {MAX_MANIFESTS} manifests")
        problems = [
            f"[{index}] {problem}"
            for index, manifest in enumerate(manifests)
            if (problem := manifest_problem(manifest))
        ]
        if problems:
            raise _wire.data_error(relation, field, "; ".join(problems))
        return manifests
