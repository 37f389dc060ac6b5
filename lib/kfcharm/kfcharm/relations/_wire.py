"""Helpers of the secrets-based modules: mysql_client, s3, kubernetes_manifest.

Private to `kfcharm.relations`; the databag helpers all modules share live in `sdi`. Here:
- app-owned secrets managed idempotently (no new revision when the content is unchanged,
  no grant call in the steady state) and removed on relation-broken;
- secrets the remote app granted us, read at their latest revision;
- JSON-encoded databag fields decoded into `RelationDataError`s that name the field, never
  its value (databags may carry credentials).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, ClassVar, Generic, TypeVar

import ops

from .errors import RelationDataError, RelationMissingError, RelationNotReadyError
from .sdi import RelationResults, get_single_relation, write_app_data

logger = logging.getLogger(__name__)

# A Juju secret URI: "secret:<xid>" or "secret://<model-uuid>/<xid>" (xid: 20 base32 chars).
_SECRET_URI = re.compile(r"secret:(//[0-9A-Za-z-]{1,64}/)?[0-9a-z]{20}")


def oldest_first(model: ops.Model, endpoint: str) -> list[ops.Relation]:
    """The relations of `endpoint`, by relation id (the order conflicts are resolved in)."""
    return sorted(model.relations[endpoint], key=lambda relation: relation.id)


def relation_by_id(model: ops.Model, endpoint: str, relation_id: int | None) -> ops.Relation:
    """The relation `relation_id` of `endpoint`, or else the endpoint's single relation.

    Raises:
        RelationMissingError: no such relation.
        RelationConflictError: no id given and the endpoint has several relations.
    """
    if relation_id is None:
        return get_single_relation(model, endpoint)
    for relation in model.relations[endpoint]:
        if relation.id == relation_id:
            return relation
    raise RelationMissingError(endpoint, f"relation {relation_id} not found")


def data_error(relation: ops.Relation, field: str, reason: str) -> RelationDataError:
    """The error for a malformed field (the message names the field, not its value)."""
    return RelationDataError(relation.name, f"invalid '{field}': {reason}", relation.id)


def decode_json(text: str, relation: ops.Relation, field: str) -> Any:
    """Decode a JSON-encoded databag field; any failure is a `RelationDataError`."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        pass
    raise data_error(relation, field, "not valid JSON")


def json_string_list(value: Any) -> Any:
    """Pydantic `before` validator body: decode a JSON-encoded list of strings."""
    if not isinstance(value, str):
        return value
    try:
        decoded = json.loads(value)
    except (ValueError, RecursionError):
        raise ValueError("not a JSON list of strings") from None
    if not isinstance(decoded, list) or not all(isinstance(item, str) for item in decoded):
        raise ValueError("not a JSON list of strings")
    return decoded


def ensure_app_secret(
    charm: ops.CharmBase,
    label: str,
    content: dict[str, str],
    relation: ops.Relation,
    published_uri: str | None,
) -> str:
    """Make the app-owned secret `label` hold `content`, granted to `relation`; leader only.

    Creates the secret on first use; afterwards a new revision is created only when the
    content differs from the latest revision (observers get no spurious secret-changed).

    Args:
        charm: the charm (its app owns the secret).
        label: the secret's label, unique per relation.
        content: the desired content of the latest revision.
        relation: the relation whose remote app may read the secret.
        published_uri: the URI currently in our databag; the secret is granted when it
            differs (first publication), so the steady state makes no grant call.

    Returns:
        The secret URI, to be published in the databag.
    """
    try:
        secret = charm.model.get_secret(label=label)
    except ops.SecretNotFoundError:
        secret = charm.app.add_secret(content, label=label)
        logger.debug("created secret %s", label)
    else:
        if secret.peek_content() != content:
            secret.set_content(content)
            logger.debug("new revision of secret %s", label)
    secret_uri = secret.id or secret.get_info().id
    if secret_uri != published_uri:
        secret.grant(relation)
    return secret_uri


def remove_app_secret(model: ops.Model, label: str) -> bool:
    """Remove every revision of the app-owned secret `label` if it exists; leader only.

    Returns:
        Whether a secret was removed.
    """
    try:
        secret = model.get_secret(label=label)
    except ops.SecretNotFoundError:
        return False
    secret.remove_all_revisions()
    logger.debug("removed secret %s", label)
    return True


def read_granted_secret(
    model: ops.Model, secret_uri: str, relation: ops.Relation, field: str
) -> dict[str, str]:
    """Read the latest revision of a secret the remote app granted us.

    Raises:
        RelationDataError: the field does not hold a secret URI.
        RelationNotReadyError: the secret does not exist (yet) or is not granted (yet).
    """
    if not _SECRET_URI.fullmatch(secret_uri.strip()):
        raise data_error(relation, field, "not a Juju secret URI")
    try:
        return model.get_secret(id=secret_uri).get_content(refresh=True)
    except ops.ModelError:  # not found, or permission denied: the grant has not reached us
        pass
    raise RelationNotReadyError(
        relation.name, f"secret in '{field}' is not accessible (not granted yet?)", relation.id
    )


def remove_unused_revision(event: ops.SecretRemoveEvent, our_labels: re.Pattern[str]) -> None:
    """On secret-remove, drop the revision no observer tracks any more, if the secret is ours.

    Args:
        event: the secret-remove event.
        our_labels: matches (in full) the labels of the secrets this module manages.
    """
    if not our_labels.fullmatch(event.secret.label or ""):
        return
    try:
        event.secret.get_info()
    except ops.SecretNotFoundError:  # the secret itself is gone already
        return
    event.remove_revision()


RequestT = TypeVar("RequestT")


class CredentialsProvider(ops.Object, Generic[RequestT]):
    """Base of the providers that answer each relation with credentials in a Juju secret.

    Subclasses parse one relation's request (`_request`); this class lists them relation by
    relation, labels the per-relation secret `<endpoint>.<relation-id>.<group>.secret` (as
    the data-platform libraries do), removes it on relation-broken and drops its unused
    revisions on secret-remove.
    """

    _group: ClassVar[str]

    def __init__(self, charm: ops.CharmBase, relation_name: str):
        super().__init__(charm, f"{type(self).__name__}-{relation_name}")
        self._charm = charm
        self._relation_name = relation_name
        self._our_labels = re.compile(
            rf"{re.escape(relation_name)}\.\d+\.{re.escape(self._group)}\.secret"
        )
        charm.framework.observe(charm.on[relation_name].relation_broken, self._on_broken)
        charm.framework.observe(charm.on.secret_remove, self._on_secret_remove)

    def secret_label(self, relation_id: int) -> str:
        """The label of the credentials secret of one relation."""
        return f"{self._relation_name}.{relation_id}.{self._group}.secret"

    def requests(self) -> list[RequestT]:
        """The requests of all related apps that have asked, oldest relation first.

        Raises:
            RelationDataError: for the first relation whose request is malformed (use
                `collect_requests()` to serve the others anyway).
        """
        results = self.collect_requests()
        results.raise_first()
        return list(results.values.values())

    def collect_requests(self) -> RelationResults[RequestT]:
        """Like `requests()`, but reports malformed relations instead of raising.

        Returns:
            The requests by relation id (oldest first), and the errors by relation id.
        """
        results: RelationResults[RequestT] = RelationResults()
        for relation in oldest_first(self._charm.model, self._relation_name):
            try:
                request = self._request(relation)
            except RelationDataError as err:
                results.errors[relation.id] = err
                continue
            if request is not None:
                results.values[relation.id] = request
        return results

    def forget(self, relation_id: int) -> None:
        """Remove the credentials secret of a relation (leader only; idempotent)."""
        if self._charm.unit.is_leader():
            remove_app_secret(self._charm.model, self.secret_label(relation_id))

    def _request(self, relation: ops.Relation) -> RequestT | None:
        """The request of one relation, None if the remote app has not asked (yet).

        Raises:
            RelationDataError: the request is malformed.
        """
        raise NotImplementedError

    def _publish_credentials(
        self,
        relation: ops.Relation,
        desired: dict[str, str | None],
        credentials: dict[str, str],
        in_secret: bool,
    ) -> None:
        """Write `desired` plus the credentials, in a secret or (for old requirers) in plain text.

        Switching between the two forms removes the other one. Leader only.
        """
        databag = relation.data[self._charm.app]
        secret_field = f"secret-{self._group}"
        label = self.secret_label(relation.id)
        if in_secret:
            published = databag.get(secret_field)
            desired[secret_field] = ensure_app_secret(
                self._charm, label, credentials, relation, published
            )
            desired.update(dict.fromkeys(credentials))
        else:
            desired.update(credentials)
            if databag.get(secret_field):  # the requirer stopped asking for a secret
                desired[secret_field] = None
                remove_app_secret(self._charm.model, label)
        write_app_data(self._charm.app, relation, desired)

    def _on_broken(self, event: ops.RelationBrokenEvent) -> None:
        self.forget(event.relation.id)

    def _on_secret_remove(self, event: ops.SecretRemoveEvent) -> None:
        remove_unused_revision(event, self._our_labels)
