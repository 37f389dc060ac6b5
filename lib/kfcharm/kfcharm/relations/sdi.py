r"""Serialized-data-interface (SDI): versioned, schema-validated relation data.

This is the mechanism behind `object-storage`, `k8s-service` (SDI form), istio `ingress` and
`ingress-auth`. The wire format matches the `serialized-data-interface` charms byte for byte:

- each side's leader writes ``_supported_versions`` in its application databag, a YAML list
  such as ``"- v1\n- v2\n"``;
- both sides use the highest version both list;
- the sending side writes ``data``, the YAML dump (``yaml.safe_dump``) of a dict that is valid
  against that version's schema for its role (``provides`` or ``requires``).

A remote application that has not written ``_supported_versions`` (or ``data``) yet is not ready
(`RelationNotReadyError`); one that wrote something unparsable, incompatible or off-schema is
wrong (`RelationDataError`). Schemas are package data (``kfcharm/relations/schemas/``), so packed
charms do not depend on the repository.

The module also holds the small helpers the other interface modules share: reading the single
relation of an endpoint, writing an application databag idempotently, and turning pydantic
validation errors into `RelationDataError` without echoing (possibly secret) values.

Example:
    ```python
    self.storage = SdiRequirer(self, "object-storage", "object-storage")
    ...
    data = self.storage.get_data()  # {relation_id: {"access-key": ..., ...}}
    ```
"""

from __future__ import annotations

import copy
import functools
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

import ops
import pydantic
import yaml

from .errors import (
    RelationConflictError,
    RelationDataError,
    RelationError,
    RelationMissingError,
    RelationNotReadyError,
)

logger = logging.getLogger(__name__)

VERSIONS_FIELD = "_supported_versions"
"""App databag key holding the YAML list of schema versions a side supports."""
DATA_FIELD = "data"
"""App databag key holding the YAML-serialized payload."""

Role = Literal["provides", "requires"]
SchemaSet = Mapping[str, Mapping[str, Mapping[str, Any]]]
"""Schemas keyed by version (``"v1"``), then role (``"provides"``/``"requires"``)."""

T = TypeVar("T")
M = TypeVar("M", bound=pydantic.BaseModel)

_OTHER_ROLE: dict[str, Role] = {"provides": "requires", "requires": "provides"}
_INTERFACE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\Z")
_VERSION = re.compile(r"^v([0-9]+)\Z")


class SdiSchemaError(ValueError):
    """Local data or a schema is invalid: a bug in the charm or library, not in the remote."""


# ---------------------------------------------------------------------------------------------
# Schemas and the validator
# ---------------------------------------------------------------------------------------------

# A deliberately small JSON-schema subset: the SDI schemas use nothing else, and avoiding the
# `jsonschema` package keeps compiled dependencies (rpds-py) out of charms built for four
# architectures. Unknown keywords are rejected when a schema is loaded, never ignored.
_KEYWORDS = frozenset(
    {"type", "properties", "required", "items", "additionalProperties", "title", "description"}
)


def _is_integer(value: object) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


_TYPE_CHECKS: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": _is_integer,
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _type_name(value: object) -> str:
    for name in ("boolean", "null", "integer", "number", "string", "array", "object"):
        if _TYPE_CHECKS[name](value):
            return name
    return type(value).__name__


def _check_schema(schema: object, where: str) -> None:
    """Raise `SdiSchemaError` unless `schema` uses only the supported subset, correctly."""
    if not isinstance(schema, Mapping):
        raise SdiSchemaError(f"{where}: a schema must be a mapping")
    unknown = set(schema) - _KEYWORDS
    if unknown:
        raise SdiSchemaError(f"{where}: unsupported schema keywords {sorted(unknown)}")
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else types
        if not isinstance(names, list) or not all(n in _TYPE_CHECKS for n in names):
            raise SdiSchemaError(f"{where}: invalid 'type' {types!r}")
    properties = schema.get("properties", {})
    if not isinstance(properties, Mapping):
        raise SdiSchemaError(f"{where}: 'properties' must be a mapping")
    for name, sub in properties.items():
        _check_schema(sub, f"{where}.properties.{name}")
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise SdiSchemaError(f"{where}: 'required' must be a list of strings")
    if "items" in schema:
        _check_schema(schema["items"], f"{where}.items")
    extra = schema.get("additionalProperties", True)
    if not isinstance(extra, bool):
        _check_schema(extra, f"{where}.additionalProperties")


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def schema_errors(instance: object, schema: Mapping[str, Any], path: str = "") -> Iterator[str]:
    """Yield one message per violation of `schema` by `instance`; values are never echoed.

    Args:
        instance: the decoded data.
        schema: a schema in the supported subset (see the module notes).
        path: prefix for field paths in messages.

    Yields:
        Messages such as ``"port: expected integer, got string"``.
    """
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_TYPE_CHECKS[name](instance) for name in names):
            where = path or "data"
            yield f"{where}: expected {' or '.join(names)}, got {_type_name(instance)}"
            return
    if isinstance(instance, dict):
        for key in schema.get("required", ()):
            if key not in instance:
                yield f"{_join(path, key)}: required field missing"
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, value in instance.items():
            if isinstance(key, str) and key in properties:
                yield from schema_errors(value, properties[key], _join(path, key))
            elif extra is False:
                yield f"{_join(path, key)}: unexpected field"
            elif isinstance(extra, Mapping):
                yield from schema_errors(value, extra, _join(path, key))
    if isinstance(instance, list) and "items" in schema:
        for index, item in enumerate(instance):
            yield from schema_errors(item, schema["items"], f"{path}[{index}]")


def _version_number(version: object) -> int | None:
    if isinstance(version, bool):
        return None
    if isinstance(version, int):
        return version
    if isinstance(version, str):
        match = _VERSION.match(version)
        if match:
            return int(match.group(1))
    return None


def _check_schema_set(schemas: object, where: str) -> dict[str, dict[str, dict[str, Any]]]:
    if not isinstance(schemas, Mapping) or not schemas:
        raise SdiSchemaError(f"{where}: expected a non-empty mapping of versions")
    for version, roles in schemas.items():
        if not isinstance(version, str) or _version_number(version) is None:
            raise SdiSchemaError(f"{where}: invalid version {version!r} (expected 'v<N>')")
        if not isinstance(roles, Mapping) or not set(roles) <= {"provides", "requires"}:
            raise SdiSchemaError(f"{where}.{version}: expected 'provides' and/or 'requires'")
        for role, schema in roles.items():
            _check_schema(schema, f"{where}.{version}.{role}")
    return copy.deepcopy({str(v): dict(r) for v, r in schemas.items()})


@functools.cache
def _packaged_schemas(interface: str) -> dict[str, dict[str, dict[str, Any]]]:
    if not _INTERFACE_NAME.match(interface):
        raise SdiSchemaError(f"invalid interface name {interface!r}")
    path = resources.files(__package__) / "schemas" / f"{interface}.yaml"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SdiSchemaError(f"no SDI schema packaged for interface {interface!r}") from None
    return _check_schema_set(yaml.safe_load(text), interface)


def load_schemas(interface: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Load the packaged SDI schemas of an interface.

    Args:
        interface: interface name, e.g. ``"object-storage"`` or ``"ingress"``.

    Returns:
        A fresh copy of ``{version: {role: json_schema}}``.

    Raises:
        SdiSchemaError: no schema is packaged for `interface`, or it is invalid.
    """
    return copy.deepcopy(_packaged_schemas(interface))


# ---------------------------------------------------------------------------------------------
# Helpers shared by the interface modules
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RelationResults(Generic[T]):
    """What reading one endpoint gave, relation by relation: good values and errors.

    Lets a charm use the relations that are fine while reporting the others.

    Attributes:
        values: usable data by relation id.
        errors: the error of each relation that is not usable, by relation id.
    """

    values: dict[int, T] = field(default_factory=dict)
    errors: dict[int, RelationError] = field(default_factory=dict)

    def first_error(self, include_not_ready: bool = True) -> RelationError | None:
        """The error to report first: bad or conflicting data before not-ready relations.

        Args:
            include_not_ready: whether a `RelationNotReadyError` counts at all.

        Returns:
            The most severe error with the lowest relation id, or None.
        """
        ranked = sorted(
            self.errors.items(),
            key=lambda item: (isinstance(item[1], RelationNotReadyError), item[0]),
        )
        for _, error in ranked:
            if include_not_ready or not isinstance(error, RelationNotReadyError):
                return error
        return None

    def raise_first(self, include_not_ready: bool = True) -> None:
        """Raise `first_error()` if there is one.

        Args:
            include_not_ready: whether relations that are not ready yet raise too.

        Raises:
            RelationError: the error chosen by `first_error`.
        """
        error = self.first_error(include_not_ready)
        if error is not None:
            raise error


def get_single_relation(model: ops.Model, relation_name: str) -> ops.Relation:
    """The one relation of an endpoint that the charm expects a single relation on.

    Args:
        model: the charm's model.
        relation_name: the endpoint.

    Returns:
        The relation.

    Raises:
        RelationMissingError: there is no relation.
        RelationConflictError: there is more than one.
    """
    relations = model.relations[relation_name]
    if not relations:
        raise RelationMissingError(relation_name)
    if len(relations) > 1:
        apps = ", ".join(sorted(r.app.name for r in relations if r.app is not None))
        raise RelationConflictError(
            relation_name, f"expected one relation, found {len(relations)} ({apps})"
        )
    return relations[0]


def remote_app_data(relation: ops.Relation) -> Mapping[str, str]:
    """The remote application's databag of `relation`.

    Args:
        relation: the relation.

    Returns:
        The databag (read only by convention).

    Raises:
        RelationNotReadyError: the remote application is not known yet.
    """
    if relation.app is None:
        raise RelationNotReadyError(relation.name, "remote application not known yet", relation.id)
    return relation.data[relation.app]


def write_app_data(
    app: ops.Application, relation: ops.Relation, values: Mapping[str, str | None]
) -> bool:
    """Write keys of our application databag, touching only those whose value changed.

    The caller must be the leader. A value of None removes the key.

    Args:
        app: our application.
        relation: the relation to write to.
        values: key -> new value (or None to delete).

    Returns:
        Whether anything was written.
    """
    databag = relation.data[app]
    changes = {
        key: "" if value is None else value
        for key, value in values.items()
        if databag.get(key) != value
    }
    if changes:
        databag.update(changes)
    return bool(changes)


def validate_model(model: type[M], data: object, relation: ops.Relation, source: str) -> M:
    """Validate remote data into a pydantic model, or raise `RelationDataError`.

    Messages name the fields and the problem but never the values, which may be secrets.

    Args:
        model: the pydantic model class.
        data: the decoded remote data.
        relation: the relation the data came from.
        source: what the data is, for the message (e.g. ``"data from app minio"``).

    Returns:
        The validated model.

    Raises:
        RelationDataError: the data does not fit the model.
    """
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or 'data'}: {e['msg']}"
            for e in err.errors(include_input=False, include_url=False)
        )
    # Raised outside the `except` so the pydantic error (which holds the input values) is not
    # chained into tracebacks or logs.
    raise RelationDataError(relation.name, f"invalid {source}: {problems}", relation.id)


def _check_port_string(value: str) -> str:
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= 65535):
        raise ValueError("must be a port number (1-65535) as a decimal string")
    return value


PortString = Annotated[str, pydantic.AfterValidator(_check_port_string)]
"""A TCP port carried as a decimal string (``"8081"``), as flat and SDI string fields do."""


def remote_name(relation: ops.Relation) -> str:
    """The remote application's name, or ``"?"`` when Juju has not told us yet."""
    return relation.app.name if relation.app is not None else "?"


def _parse_yaml(raw: str) -> object:
    # Any failure to decode untrusted remote text (YAMLError, but also ValueError from bad
    # timestamps, RecursionError from deep nesting...) means the same thing: malformed data.
    try:
        return yaml.safe_load(raw)
    except Exception:
        raise ValueError("not valid YAML") from None


# ---------------------------------------------------------------------------------------------
# Endpoints
# ---------------------------------------------------------------------------------------------


class SdiEndpoint(ops.Object):
    """One side of an SDI relation endpoint; use `SdiProvider` or `SdiRequirer`.

    Either side may send (`send_data`) and receive (`get_data`): which side sends what is
    defined by the schemas. The leader publishes ``_supported_versions`` on relation-created,
    relation-changed, leader-elected and upgrade-charm, and re-sends `auto_data` (if given) on
    those events, so static data needs no charm code.
    """

    role: ClassVar[Role]

    def __init__(
        self,
        charm: ops.CharmBase,
        relation_name: str,
        schemas: str | SchemaSet,
        *,
        versions: Iterable[str] | None = None,
        auto_data: Mapping[str, Any] | None = None,
        key: str | None = None,
    ):
        """Bind to an endpoint.

        Args:
            charm: the charm.
            relation_name: the endpoint name in the charm's metadata.
            schemas: a packaged interface name (e.g. ``"ingress"``) or a schema mapping.
            versions: versions to support (default: every version of the schemas).
            auto_data: data to send automatically on the events listed above.
            key: ops handle key (default: `relation_name`); needed only to bind two objects
                of the same class to one endpoint (wrappers use ``<endpoint>-sdi``).

        Raises:
            SdiSchemaError: unknown schema or version.
            ValueError: the endpoint is not in the metadata or has the other role.
        """
        super().__init__(charm, key or relation_name)
        self._charm = charm
        self.relation_name = relation_name
        if isinstance(schemas, str):
            self.interface = schemas
            self._schemas = _packaged_schemas(schemas)
        else:
            self.interface = relation_name
            self._schemas = _check_schema_set(schemas, relation_name)
        chosen = list(self._schemas) if versions is None else list(versions)
        unknown = [v for v in chosen if v not in self._schemas]
        if unknown or not chosen:
            raise SdiSchemaError(f"{relation_name}: unsupported versions {unknown or chosen}")
        self.versions: tuple[str, ...] = tuple(
            sorted(set(chosen), key=lambda v: _version_number(v) or 0)
        )
        self._auto_data = dict(auto_data) if auto_data is not None else None

        meta = charm.meta.relations.get(relation_name)
        if meta is None:
            raise ValueError(f"endpoint {relation_name!r} is not in the charm metadata")
        if meta.role.name != self.role:
            raise ValueError(f"endpoint {relation_name!r} is not a {self.role!r} endpoint")

        events = charm.on[relation_name]
        self.framework.observe(events.relation_created, self._on_relation_event)
        self.framework.observe(events.relation_changed, self._on_relation_event)
        self.framework.observe(charm.on.leader_elected, self._on_app_event)
        self.framework.observe(charm.on.upgrade_charm, self._on_app_event)

    @property
    def remote_role(self) -> Role:
        """The role of the other side."""
        return _OTHER_ROLE[self.role]

    @property
    def relations(self) -> list[ops.Relation]:
        """The endpoint's relations (the one being broken excluded)."""
        return list(self.model.relations[self.relation_name])

    # -- events ---------------------------------------------------------------------------

    def _on_relation_event(self, event: ops.RelationEvent) -> None:
        self._publish(event.relation)

    def _on_app_event(self, _: ops.EventBase) -> None:
        for relation in self.relations:
            self._publish(relation)

    def _publish(self, relation: ops.Relation) -> None:
        if not self.model.unit.is_leader():
            return
        self._write_versions(relation)
        if self._auto_data is not None:
            self._send(relation, self._auto_data)

    # -- versions -------------------------------------------------------------------------

    def _write_versions(self, relation: ops.Relation) -> None:
        serialized = yaml.safe_dump(list(self.versions))
        write_app_data(self.model.app, relation, {VERSIONS_FIELD: serialized})

    def publish_versions(self) -> None:
        """Write ``_supported_versions`` to every relation (leader only; idempotent)."""
        if not self.model.unit.is_leader():
            return
        for relation in self.relations:
            self._write_versions(relation)

    def get_version(self, relation: ops.Relation) -> str:
        """Negotiate the version to use on `relation`: the highest both sides support.

        Args:
            relation: a relation of this endpoint.

        Returns:
            The version, e.g. ``"v2"``.

        Raises:
            RelationNotReadyError: the remote has not published its versions yet.
            RelationDataError: its versions are malformed or none is compatible.
        """
        databag = remote_app_data(relation)
        raw = databag.get(VERSIONS_FIELD)
        app = remote_name(relation)
        if not raw:
            raise RelationNotReadyError(
                relation.name, f"app {app} has not published {VERSIONS_FIELD} yet", relation.id
            )
        try:
            parsed = _parse_yaml(raw)
        except ValueError:
            parsed = None
        if not isinstance(parsed, list):
            raise RelationDataError(
                relation.name,
                f"field {VERSIONS_FIELD} from app {app}: expected a YAML list of versions",
                relation.id,
            )
        remote: set[int] = set()
        for entry in parsed:
            number = _version_number(entry)
            if number is None:
                raise RelationDataError(
                    relation.name,
                    f"field {VERSIONS_FIELD} from app {app}: invalid version entry",
                    relation.id,
                )
            remote.add(number)
        local = {_version_number(v): v for v in self.versions}
        common = set(local) & remote
        if not common:
            theirs = ", ".join(f"v{n}" for n in sorted(remote)) or "none"
            raise RelationDataError(
                relation.name,
                f"field {VERSIONS_FIELD} from app {app}: no compatible {self.interface} version "
                f"(we support {', '.join(self.versions)}; {app} supports {theirs})",
                relation.id,
            )
        return local[max(n for n in common if n is not None)]

    # -- receiving ------------------------------------------------------------------------

    def get_relation_data(self, relation: ops.Relation) -> dict[str, Any]:
        """The remote side's validated data on one relation.

        When the negotiated version defines no data for the remote role (e.g. the requirer of
        ``object-storage``), this returns ``{}`` once versions are negotiated.

        Args:
            relation: a relation of this endpoint.

        Returns:
            The decoded dict.

        Raises:
            RelationNotReadyError: no versions or no data published yet.
            RelationDataError: malformed, incompatible or off-schema data.
        """
        version = self.get_version(relation)
        schema = self._schemas[version].get(self.remote_role)
        app = remote_name(relation)
        raw = remote_app_data(relation).get(DATA_FIELD)
        parsed: object = None
        if raw:
            try:
                parsed = _parse_yaml(raw)
            except ValueError:
                raise RelationDataError(
                    relation.name,
                    f"field {DATA_FIELD} from app {app}: not valid YAML",
                    relation.id,
                ) from None
        if parsed is None or parsed == {}:
            if schema is None:
                return {}
            raise RelationNotReadyError(
                relation.name, f"app {app} has not published {DATA_FIELD} yet", relation.id
            )
        if not isinstance(parsed, dict):
            raise RelationDataError(
                relation.name,
                f"field {DATA_FIELD} from app {app}: expected a mapping, got {_type_name(parsed)}",
                relation.id,
            )
        if schema is None:
            raise RelationDataError(
                relation.name,
                f"field {DATA_FIELD} from app {app}: {self.interface} {version} defines no data "
                f"for the {self.remote_role} side",
                relation.id,
            )
        problems = list(schema_errors(parsed, schema))
        if problems:
            raise RelationDataError(
                relation.name,
                f"field {DATA_FIELD} from app {app} does not match the {self.interface} "
                f"{version} schema: {'; '.join(problems)}",
                relation.id,
            )
        return parsed

    def collect_data(self) -> RelationResults[dict[str, Any]]:
        """Read every relation, keeping good data and errors apart (never raises them).

        Returns:
            Data and errors by relation id.
        """
        results: RelationResults[dict[str, Any]] = RelationResults()
        for relation in self.relations:
            try:
                results.values[relation.id] = self.get_relation_data(relation)
            except RelationError as err:
                results.errors[relation.id] = err
        return results

    def get_data(self) -> dict[int, dict[str, Any]]:
        """The remote data of every relation, by relation id.

        Returns:
            ``{relation_id: data}``; empty when there are no relations.

        Raises:
            RelationDataError: some relation has bad data (reported before not-ready ones).
            RelationNotReadyError: some relation's remote has not published yet.
        """
        results = self.collect_data()
        results.raise_first()
        return results.values

    def get_single_data(self) -> dict[str, Any]:
        """The remote data of the endpoint's only relation.

        Returns:
            The decoded dict.

        Raises:
            RelationMissingError: no relation.
            RelationConflictError: more than one relation.
            RelationNotReadyError: the remote has not published yet.
            RelationDataError: the remote data is bad.
        """
        return self.get_relation_data(get_single_relation(self.model, self.relation_name))

    def collect_as(self, model: type[M]) -> RelationResults[M]:
        """Like `collect_data`, with each relation's data validated into `model`.

        Args:
            model: pydantic model of the remote side's data.

        Returns:
            Models and errors by relation id.
        """
        raw = self.collect_data()
        results: RelationResults[M] = RelationResults(errors=dict(raw.errors))
        for relation in self.relations:
            if relation.id not in raw.values:
                continue
            try:
                results.values[relation.id] = validate_model(
                    model,
                    raw.values[relation.id],
                    relation,
                    f"data from app {remote_name(relation)}",
                )
            except RelationDataError as err:
                results.errors[relation.id] = err
        return results

    def get_single_as(self, model: type[M]) -> M:
        """Like `get_single_data`, validated into `model`.

        Args:
            model: pydantic model of the remote side's data.

        Returns:
            The validated model.

        Raises:
            RelationMissingError: no relation.
            RelationConflictError: more than one relation.
            RelationNotReadyError: the remote has not published yet.
            RelationDataError: the remote data is bad.
        """
        relation = get_single_relation(self.model, self.relation_name)
        raw = self.get_relation_data(relation)
        return validate_model(model, raw, relation, f"data from app {remote_name(relation)}")

    # -- sending --------------------------------------------------------------------------

    def send_data(self, data: Mapping[str, Any], relation: ops.Relation | None = None) -> None:
        """Validate and send `data` on every relation (or only `relation`).

        Leader only: on other units this returns without writing. Relations whose remote has
        not published versions yet, or has incompatible ones, are skipped (`collect_data`
        reports them); the charm's next reconcile sends again. Unchanged bytes are not
        rewritten.

        Args:
            data: the dict for this side's schema.
            relation: restrict to this relation.

        Raises:
            SdiSchemaError: `data` does not match this side's schema of a negotiated version.
        """
        if not self.model.unit.is_leader():
            return
        for rel in [relation] if relation is not None else self.relations:
            self._write_versions(rel)
            self._send(rel, data)

    def _send(self, relation: ops.Relation, data: Mapping[str, Any]) -> None:
        try:
            version = self.get_version(relation)
        except RelationError as err:
            logger.debug("not sending %s data on %s: %s", self.interface, relation.id, err)
            return
        schema = self._schemas[version].get(self.role)
        if schema is None:
            raise SdiSchemaError(f"{self.interface} {version} defines no data for {self.role}")
        payload = dict(data)
        problems = list(schema_errors(payload, schema))
        if problems:
            raise SdiSchemaError(
                f"{self.relation_name}: data does not match the {self.interface} {version} "
                f"{self.role} schema: {'; '.join(problems)}"
            )
        write_app_data(self.model.app, relation, {DATA_FIELD: yaml.safe_dump(payload)})


class SdiProvider(SdiEndpoint):
    """The ``provides`` side of an SDI endpoint (see `SdiEndpoint`)."""

    role = "provides"


class SdiRequirer(SdiEndpoint):
    """The ``requires`` side of an SDI endpoint (see `SdiEndpoint`)."""

    role = "requires"
