"""Relation libraries: one module per interface, Provider and Requirer objects.

Wire formats are byte-compatible with the Charmhub charms (see INTERFACES.md).
"""

from .errors import (
    RelationConflictError,
    RelationDataError,
    RelationError,
    RelationMissingError,
    RelationNotReadyError,
)

__all__ = [
    "RelationConflictError",
    "RelationDataError",
    "RelationError",
    "RelationMissingError",
    "RelationNotReadyError",
]
