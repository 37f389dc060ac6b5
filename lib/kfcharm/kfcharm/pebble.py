"""Pebble helpers: change the workload only when its configuration changed.

Both helpers let `ops.pebble.ConnectionError` propagate unchanged; the charm maps it to a
Waiting status and the next event retries.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import ops
from ops import pebble

logger = logging.getLogger(__name__)

__all__ = ["ensure_layer", "push_if_changed"]

# Pebble reports durations in Go's canonical form ("1m0s" for "1m"): compare them as seconds.
_DURATION_KEYS = frozenset({"period", "timeout", "backoff-delay", "backoff-limit", "kill-delay"})
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def ensure_layer(
    container: ops.Container,
    label: str,
    layer: pebble.Layer | pebble.LayerDict | Mapping[str, Any],
) -> bool:
    """Add `layer` (combined into the layer `label`) and replan, only if the plan differs.

    The current plan is compared with the layer's services, checks and log targets; items
    with `override: replace` must match exactly, items with `override: merge` only in the keys
    the layer sets.

    Args:
        container: the workload container.
        label: the layer label (one per workload).
        layer: the desired layer, as a dict or `ops.pebble.Layer`.

    Returns:
        True when the layer was added and the services replanned.
    """
    desired = layer if isinstance(layer, pebble.Layer) else pebble.Layer(dict(layer))  # type: ignore[arg-type]
    if _plan_has(container.get_plan(), desired):
        return False
    container.add_layer(label, desired, combine=True)
    container.replan()
    logger.info("pebble layer %r changed in %s: replanned", label, container.name)
    return True


def push_if_changed(
    container: ops.Container,
    path: str | PurePath,
    content: str | bytes,
    **push_kwargs: Any,
) -> bool:
    """Push `content` to `path` unless the file already holds exactly that.

    A missing (or unreadable) file counts as changed. Parent directories are created. When
    `permissions` is given, a file with the same content but other permissions is pushed again.

    Args:
        container: the workload container.
        path: absolute path of the file in the container.
        content: the desired content (str is encoded with `encoding`, default utf-8).
        push_kwargs: passed to `ops.Container.push` (permissions, user, group, encoding...).

    Returns:
        True when the file was written.
    """
    encoding = push_kwargs.pop("encoding", "utf-8")
    data = content.encode(encoding) if isinstance(content, str) else content
    push_kwargs.setdefault("make_dirs", True)
    if _content(container, path) == data and _permissions_match(
        container, path, push_kwargs.get("permissions")
    ):
        return False
    container.push(path, data, **push_kwargs)
    logger.debug("pushed %s to %s", path, container.name)
    return True


def _content(container: ops.Container, path: str | PurePath) -> bytes | None:
    try:
        with container.pull(path, encoding=None) as source:
            return source.read()
    except pebble.PathError as exc:
        if exc.kind != "not-found":
            logger.debug("cannot read %s (%s): pushing it", path, exc.message)
        return None


def _permissions_match(container: ops.Container, path: str | PurePath, wanted: int | None) -> bool:
    if wanted is None:
        return True
    info = container.list_files(path, itself=True)
    return bool(info) and info[0].permissions == wanted


def _plan_has(plan: pebble.Plan, layer: pebble.Layer) -> bool:
    sections = (
        (plan.services, layer.services),
        (plan.checks, layer.checks),
        (plan.log_targets, layer.log_targets),
    )
    for current_items, desired_items in sections:
        for name, desired in desired_items.items():
            current = current_items.get(name)
            if current is None:
                return False
            want = _normalised(desired.to_dict())
            have = _normalised(current.to_dict())
            if desired.override == "merge":
                if any(have.get(key) != value for key, value in want.items()):
                    return False
            elif want != have:
                return False
    return True


def _normalised(item: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in item.items():
        if key == "override":
            continue
        if key in _DURATION_KEYS and isinstance(value, str):
            value = _seconds(value)
        out[key] = value
    return out


def _seconds(duration: str) -> float | str:
    """Seconds in a Go duration string ("1m30s" -> 90.0); the string itself if unparsable."""
    text = duration.strip()
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return duration
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)
