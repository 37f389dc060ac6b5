"""Workload container resource requests and limits, from config to Juju's StatefulSet.

Every charm exposes the same four options per workload container, named
`<prefix>-cpu-request`, `<prefix>-cpu-limit`, `<prefix>-memory-request` and
`<prefix>-memory-limit` (empty = unset). `ContainerResources.from_config()` validates them
(Kubernetes quantities; a request never above its limit) and names the option at fault;
`apply_container_resources()` sets them on the containers of the StatefulSet Juju created
for the application, writing only when they differ (compared numerically: the API server
turns "0.1" into "100m"). Kubernetes then restarts the pod with the new resources.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from lightkube import Client
from lightkube.resources.apps_v1 import StatefulSet
from lightkube.types import PatchType
from lightkube.utils.quantity import parse_quantity

from .k8s import K8sNotFoundError, k8s_errors

logger = logging.getLogger(__name__)

# A Kubernetes resource quantity: a decimal number with an optional SI/binary suffix or
# exponent (apimachinery's quantity grammar, without signs: resources are never negative).
_QUANTITY = re.compile(r"(\d+(\.\d*)?|\.\d+)([eE]\d+|Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?", re.ASCII)
_FIELDS = ("cpu-request", "cpu-limit", "memory-request", "memory-limit")


class ResourceConfigError(ValueError):
    """A resource option holds a bad value; `option` names it."""

    def __init__(self, option: str, reason: str):
        self.option = option
        self.reason = reason
        super().__init__(f"invalid config {option}: {reason}")


def is_quantity(value: str) -> bool:
    """Whether `value` is a Kubernetes resource quantity such as ``100m``, ``1`` or ``2Gi``."""
    return bool(_QUANTITY.fullmatch(value))  # fullmatch: `$` would accept a trailing newline


def resource_option_names(prefix: str) -> list[str]:
    """The four config option names for the container resources of `prefix`."""
    return [f"{prefix}-{field}" for field in _FIELDS]


@dataclasses.dataclass(frozen=True)
class ContainerResources:
    """Requests and limits of one container; empty strings are unset."""

    cpu_request: str = ""
    cpu_limit: str = ""
    memory_request: str = ""
    memory_limit: str = ""

    @classmethod
    def from_config(cls, config: Mapping[str, Any], prefix: str) -> ContainerResources:
        """Read and validate `<prefix>-{cpu,memory}-{request,limit}` from charm config.

        Raises:
            ResourceConfigError: a value is not a quantity, or a request exceeds its limit.
        """
        values: dict[str, str] = {}
        for field in _FIELDS:
            option = f"{prefix}-{field}"
            raw = config.get(option, "")
            value = "" if raw is None else str(raw).strip()
            if value and not is_quantity(value):
                raise ResourceConfigError(
                    option, f"{value!r} is not a Kubernetes quantity (e.g. 100m, 1, 512Mi, 2Gi)"
                )
            if value:
                try:
                    _value(value)
                except (ValueError, ArithmeticError):
                    raise ResourceConfigError(
                        option, f"{value!r} is not a quantity Kubernetes can use here"
                    ) from None
            values[field.replace("-", "_")] = value
        resources = cls(**values)
        for kind in ("cpu", "memory"):
            request, limit = values[f"{kind}_request"], values[f"{kind}_limit"]
            if request and limit and _value(request) > _value(limit):
                raise ResourceConfigError(
                    f"{prefix}-{kind}-request", f"{request} is above {prefix}-{kind}-limit={limit}"
                )
        return resources

    def to_k8s(self) -> dict[str, dict[str, str]]:
        """The `resources` field of a container spec (empty sections left out)."""
        requests = {"cpu": self.cpu_request, "memory": self.memory_request}
        limits = {"cpu": self.cpu_limit, "memory": self.memory_limit}
        result = {
            "requests": {k: v for k, v in requests.items() if v},
            "limits": {k: v for k, v in limits.items() if v},
        }
        return {k: v for k, v in result.items() if v}


def _value(quantity: str) -> Decimal:
    parsed = parse_quantity(quantity)
    if parsed is None:  # only for None input; validated strings always parse
        raise ValueError(f"not a quantity: {quantity!r}")
    return parsed


def same_resources(current: Mapping[str, Any], wanted: Mapping[str, Mapping[str, str]]) -> bool:
    """Whether a live container's `resources` equals `wanted`, comparing quantities by value."""
    for section in ("requests", "limits"):
        have = current.get(section) or {}
        want = wanted.get(section) or {}
        if set(have) != set(want):
            return False
        for name, value in want.items():
            try:
                if _value(str(have[name])) != _value(str(value)):
                    return False
            except ValueError:
                return False
    return True


def resources_patch(
    containers: list[Mapping[str, Any]], desired: Mapping[str, ContainerResources]
) -> dict[str, Any] | None:
    """The strategic merge patch that sets `desired` on a pod template, or None if in place.

    Containers merge by name; a request or limit set before and now unset is removed
    (null). Containers not named in `desired` are left alone.
    """
    patched: list[dict[str, Any]] = []
    for container in containers:
        name = container.get("name", "")
        if name not in desired:
            continue
        wanted = desired[name].to_k8s()
        current = container.get("resources") or {}
        if same_resources(current, wanted):
            continue
        resources: dict[str, Any] = {}
        for section in ("requests", "limits"):
            values: dict[str, Any] = dict(wanted.get(section, {}))
            for gone in set(current.get(section) or {}) - set(values):
                values[gone] = None
            if values:
                resources[section] = values
        patched.append({"name": name, "resources": resources})
    if not patched:
        return None
    return {"spec": {"template": {"spec": {"containers": patched}}}}


def apply_container_resources(
    client: Client, app: str, namespace: str, desired: Mapping[str, ContainerResources]
) -> bool:
    """Set `desired` (container name -> resources) on the app's StatefulSet; True if written.

    One GET in the steady state and no write. A missing StatefulSet (not on Kubernetes, or
    not created yet) is logged and skipped. Raises the `kfcharm.k8s` typed errors.
    """
    try:
        with k8s_errors("get", "StatefulSet", app, namespace):
            statefulset = client.get(StatefulSet, app, namespace=namespace)
    except K8sNotFoundError:
        logger.warning("StatefulSet %s not found: container resources not applied", app)
        return False
    data = statefulset.to_dict() if hasattr(statefulset, "to_dict") else statefulset
    data = json.loads(json.dumps(data, default=str))
    containers = data.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    patch = resources_patch(containers, desired)
    if patch is None:
        return False
    with k8s_errors("patch", "StatefulSet", app, namespace):
        client.patch(StatefulSet, app, patch, namespace=namespace, patch_type=PatchType.STRATEGIC)
    names = ", ".join(c["name"] for c in patch["spec"]["template"]["spec"]["containers"])
    logger.info("container resources of %s updated; the pod restarts with them", names)
    return True
