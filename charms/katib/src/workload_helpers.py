"""Pebble and status helpers: kfcharm's when it has them, else minimal local equivalents.

`kfcharm.pebble` (ensure_layer, push_if_changed) and `kfcharm.status` (status_for_k8s_error)
are the shared implementations; this module falls back to equivalents with the same
signatures so the charm works with a kfcharm that does not ship them yet.
"""

from __future__ import annotations

from typing import Any

import ops

try:  # pragma: no cover - depends on the kfcharm version staged with the charm
    from kfcharm.pebble import ensure_layer, push_if_changed
except ImportError:  # pragma: no cover

    def ensure_layer(container: ops.Container, label: str, layer: dict[str, Any]) -> bool:
        """Add `layer` (override: replace) and replan only if the plan changes.

        Args:
            container: the workload container.
            label: layer label.
            layer: the layer as a dict.

        Returns:
            Whether the plan changed (and was replanned).
        """
        before = container.get_plan().to_dict()
        container.add_layer(label, layer, combine=True)
        if container.get_plan().to_dict() == before:
            return False
        container.replan()
        return True

    def push_if_changed(
        container: ops.Container, path: str, content: str, *, permissions: int = 0o644
    ) -> bool:
        """Push `content` to `path` unless the file already holds it.

        Returns:
            Whether the file was written.
        """
        try:
            with container.pull(path) as current:
                if current.read() == content:
                    return False
        except ops.pebble.PathError:
            pass
        container.push(path, content, make_dirs=True, permissions=permissions)
        return True


try:  # pragma: no cover - depends on the kfcharm version staged with the charm
    from kfcharm.status import status_for_k8s_error
except ImportError:  # pragma: no cover
    from kfcharm.k8s import K8sError, K8sForbiddenError

    def status_for_k8s_error(err: K8sError, app_name: str) -> ops.StatusBase:
        """Map a Kubernetes error to the status that tells the operator what to do."""
        if isinstance(err, K8sForbiddenError):
            return ops.BlockedStatus(
                f"not allowed to {err.verb or 'access'} {err.target}: "
                f"run juju trust {app_name} --scope=cluster"
            )
        if err.transient:
            return ops.WaitingStatus(f"Kubernetes API: {err}; retrying on the next event")
        return ops.BlockedStatus(f"Kubernetes API rejected {err.target}: {err.message}")


__all__ = ["ensure_layer", "push_if_changed", "status_for_k8s_error"]
