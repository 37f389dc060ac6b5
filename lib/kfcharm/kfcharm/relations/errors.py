"""Typed errors raised by the relation libraries.

Libraries never set status. A charm catches these and turns them into one status:
`RelationMissingError` -> Blocked with the `juju integrate` command,
`RelationNotReadyError` -> Waiting, `RelationDataError` and `RelationConflictError` -> Blocked.
"""

from __future__ import annotations


class RelationError(Exception):
    """Base class: something about a relation prevents the charm from using it."""

    def __init__(self, endpoint: str, message: str, relation_id: int | None = None):
        self.endpoint = endpoint
        self.relation_id = relation_id
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        where = (
            self.endpoint if self.relation_id is None else f"{self.endpoint}:{self.relation_id}"
        )
        return f"{where}: {self.message}"


class RelationMissingError(RelationError):
    """The endpoint has no relation, but the charm needs one."""

    def __init__(self, endpoint: str, message: str = "relation missing"):
        super().__init__(endpoint, message)


class RelationNotReadyError(RelationError):
    """The relation exists but the remote side has not published (all) its data yet."""


class RelationDataError(RelationError):
    """The remote side published data that is malformed or fails its schema."""


class RelationConflictError(RelationError):
    """Two sources publish data that cannot both be honoured (e.g. same object twice)."""
