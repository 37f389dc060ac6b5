"""Statuses for the problems a reconcile can run into.

Reconcile helpers raise `StatusError(status)` to stop with that status; the charm's
collect-status observer adds it. `status_for_k8s_error` turns a `kfcharm.k8s.K8sError` into an
actionable status: Blocked when a person must act, Waiting when a retry may succeed.
"""

from __future__ import annotations

import ops

from .k8s import (
    K8sConflictError,
    K8sError,
    K8sForbiddenError,
    K8sInvalidError,
    K8sNotFoundError,
    K8sServerError,
    K8sThrottledError,
    K8sTimeoutError,
)

__all__ = ["StatusError", "status_for_k8s_error"]

_MAX_DETAIL = 160


class StatusError(Exception):
    """Raised to end reconciling with `status` (Blocked, Waiting, Maintenance...).

    Attributes:
        status: the status the charm should report.
    """

    def __init__(self, status: ops.StatusBase):
        super().__init__(status.message)
        self.status = status


def status_for_k8s_error(err: K8sError, app_name: str) -> ops.StatusBase:
    """Map a Kubernetes API error to the status the charm should show.

    Args:
        err: the error raised by `kfcharm.k8s`.
        app_name: the charm's application name (for the `juju trust` hint).

    Returns:
        BlockedStatus for errors a person must fix (403, 404, 422 and other client errors),
        WaitingStatus for transient ones (409, 429, 5xx, timeouts).
    """
    target = err.target
    if isinstance(err, K8sForbiddenError):
        return ops.BlockedStatus(
            f"Kubernetes denied access to {target}: juju trust {app_name} --scope=cluster"
        )
    if isinstance(err, K8sThrottledError):
        return ops.WaitingStatus("Kubernetes API is throttling requests; will retry")
    if isinstance(err, K8sTimeoutError):
        return ops.WaitingStatus("Kubernetes API unreachable or timed out; will retry")
    if isinstance(err, K8sServerError):
        return ops.WaitingStatus(
            f"Kubernetes API server error ({err.status_code}) on {target}; will retry"
        )
    if isinstance(err, K8sConflictError):
        return ops.WaitingStatus(f"{target} was changed concurrently; will retry")
    detail = _shorten(err.message)
    if isinstance(err, K8sInvalidError):
        return ops.BlockedStatus(f"Kubernetes rejected {target}: {detail}")
    if isinstance(err, K8sNotFoundError):
        return ops.BlockedStatus(f"{target} not found (CRD or namespace missing?): {detail}")
    if err.transient:
        return ops.WaitingStatus(f"Kubernetes API error on {target}; will retry")
    code = f" {err.status_code}" if err.status_code else ""
    return ops.BlockedStatus(f"Kubernetes API error{code} on {target}: {detail}")


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"
