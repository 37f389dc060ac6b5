"""Helpers shared by the COS providers: typed errors, asset paths, topology, databag writes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Any

import ops
from cosl import JujuTopology


class CosError(Exception):
    """Base class of the errors raised by `kfcharm.cos`."""


class AlertRulesError(CosError, ValueError):
    """An alert rule file shipped with the charm is invalid (raised at construction)."""


class DashboardError(CosError, ValueError):
    """A Grafana dashboard shipped with the charm is invalid (raised at construction)."""


class ScrapeJobError(CosError, ValueError):
    """A scrape job given to `MetricsEndpointProvider` is invalid."""


def resolve_charm_path(charm: ops.CharmBase, path: str | Path) -> Path:
    """Resolve a charm asset directory such as ``src/prometheus_alert_rules``.

    Absolute paths are returned as they are. Relative paths are looked up under the charm
    directory (what Juju runs) and then under the directory above the charm module's package
    (``charms/<name>/`` when the charm module is ``charms/<name>/src/charm.py``), which is where
    unit tests find the assets when ops.testing runs the charm from a temporary root.

    Args:
        charm: the charm owning the assets.
        path: absolute path, or path relative to the charm root.

    Returns:
        The first existing candidate, or the charm-dir candidate when none exists.
    """
    given = Path(path)
    if given.is_absolute():
        return given
    candidates = [Path(charm.charm_dir) / given]
    module = sys.modules.get(type(charm).__module__)
    module_file = getattr(module, "__file__", None)
    if module_file:
        candidates.append(Path(module_file).resolve().parent.parent / given)
    for candidate in candidates:
        if candidate.exists():
            return candidate
    return candidates[0]


def topology_of(charm: ops.CharmBase) -> JujuTopology:
    """Return the Juju topology of this unit (model, model uuid, app, unit, charm name)."""
    return JujuTopology.from_charm(charm)


def set_if_changed(databag: MutableMapping[str, str], values: dict[str, str]) -> bool:
    """Write only the keys whose value differs, so a steady-state hook runs no relation-set.

    Args:
        databag: a relation databag this unit may write.
        values: keys and string values to publish.

    Returns:
        Whether anything was written.
    """
    changed = False
    for key, value in values.items():
        if databag.get(key) != value:
            databag[key] = value
            changed = True
    return changed


def check_endpoint(charm: ops.CharmBase, relation_name: str, interface: str) -> None:
    """Fail early (at construction) when the charm metadata lacks the endpoint.

    Args:
        charm: the charm.
        relation_name: endpoint name the provider was given.
        interface: interface the endpoint must speak.

    Raises:
        CosError: the endpoint is missing or speaks another interface.
    """
    meta = charm.meta.relations.get(relation_name)
    if meta is None:
        raise CosError(f"charm metadata has no endpoint {relation_name!r} ({interface})")
    if meta.interface_name != interface:
        raise CosError(
            f"endpoint {relation_name!r} uses interface {meta.interface_name!r}, "
            f"expected {interface!r}"
        )


def observe_all(
    obj: ops.Object, events: Iterable[ops.BoundEvent], handler: Callable[[Any], None]
) -> None:
    """Observe several events with one handler."""
    for event in events:
        obj.framework.observe(event, handler)
