"""Statuses for the problems a reconcile can run into, and the one reconcile loop.

Reconcile helpers raise `StatusError(status)` to stop with that status; the charm's
collect-status observer adds it. `status_for_k8s_error` turns a `kfcharm.k8s.K8sError` into an
actionable status: Blocked when a person must act, Waiting when a retry may succeed;
`status_for_relation_error` does the same for `kfcharm.relations` errors.

`Reconciler` is the holistic loop every charm uses: it observes the given events, runs the
charm's reconcile function at most once per hook, turns the expected exceptions into
statuses, and reports them from the collect-unit-status and collect-app-status observers
(adding ActiveStatus, which the framework shows only when nothing worse was added).

    self.reconciler = Reconciler(self, self._reconcile, events=[self.on.config_changed, ...],
                                 integrate={"relational-db": "juju integrate katib:... mysql"})

    def _reconcile(self, outcome: Outcome) -> None:
        ...                     # raise StatusError/K8sError/RelationError to stop early,
        outcome.add(status)     # or add statuses and go on
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

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
from .relations.errors import (
    RelationError,
    RelationMissingError,
    RelationNotReadyError,
)

__all__ = [
    "Outcome",
    "Reconciler",
    "StatusError",
    "status_for_k8s_error",
    "status_for_relation_error",
]

logger = logging.getLogger(__name__)

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


def status_for_relation_error(
    err: RelationError, integrate: Mapping[str, str] | None = None
) -> ops.StatusBase:
    """Map a relation library error to a status.

    Args:
        err: the error raised by a `kfcharm.relations` module.
        integrate: endpoint -> the `juju integrate ...` command that creates it, used for a
            missing relation.

    Returns:
        Blocked for a missing relation (with the command when known) and for malformed or
        conflicting data; Waiting when the remote side has not published yet.
    """
    if isinstance(err, RelationMissingError):
        command = (integrate or {}).get(err.endpoint)
        hint = f": {command}" if command else ""
        return ops.BlockedStatus(f"{err.endpoint} relation missing{hint}")
    if isinstance(err, RelationNotReadyError):
        return ops.WaitingStatus(_shorten(f"waiting for {err}"))
    return ops.BlockedStatus(_shorten(str(err)))


@dataclasses.dataclass
class Outcome:
    """Statuses gathered by one reconcile: for this unit and, on the leader, the app."""

    unit: list[ops.StatusBase] = dataclasses.field(default_factory=list)
    app: list[ops.StatusBase] = dataclasses.field(default_factory=list)

    def add(self, status: ops.StatusBase, *, app: bool = False) -> None:
        """Record `status` for the unit (default) or for the application."""
        (self.app if app else self.unit).append(status)


class Reconciler(ops.Object):
    """Runs the charm's reconcile once per hook and reports its statuses.

    Expected problems become statuses: `StatusError` (its status), `K8sError`
    (`status_for_k8s_error`), `RelationError` (`status_for_relation_error`) and
    `ops.pebble.ConnectionError` (Waiting for the container). Anything else raises.

    Action hooks and the `remove` hook reconcile nothing and leave the status as it is
    (collect-status would otherwise re-create what a remove handler just cleaned up, and an
    action would pay for a full reconcile); an action that changes what the status should
    say calls `run(force=True)` or `set_outcome()`.
    """

    def __init__(
        self,
        charm: ops.CharmBase,
        reconcile: Callable[[Outcome], Any],
        events: Iterable[ops.BoundEvent] = (),
        *,
        integrate: Mapping[str, str] | None = None,
        app_mirrors_unit: bool = True,
    ):
        """Wire the loop.

        Args:
            charm: the charm.
            reconcile: the charm's reconcile; it receives the `Outcome` to add statuses to.
            events: the events that trigger a reconcile.
            integrate: endpoint -> `juju integrate` command, for missing-relation statuses.
            app_mirrors_unit: the leader's application status also shows the unit's
                statuses (the usual case); with False it shows only `outcome.app`.
        """
        super().__init__(charm, "reconciler")
        self._charm = charm
        self._reconcile = reconcile
        self._integrate = dict(integrate or {})
        self._mirror = app_mirrors_unit
        self._outcome: Outcome | None = None
        self._hold = False
        for event in events:
            self.framework.observe(event, self._on_event)
        self.framework.observe(charm.on.remove, self._on_hold)
        for name, source in charm.on.events().items():
            if issubclass(source.event_type, ops.ActionEvent):
                self.framework.observe(getattr(charm.on, name), self._on_hold)
        self.framework.observe(charm.on.collect_unit_status, self._on_collect_unit_status)
        self.framework.observe(charm.on.collect_app_status, self._on_collect_app_status)

    @property
    def outcome(self) -> Outcome | None:
        """The outcome of this hook's reconcile, if it ran."""
        return self._outcome

    def run(self, *, force: bool = False) -> Outcome:
        """Reconcile now (once per hook unless `force`) and return the outcome."""
        if self._outcome is not None and not force:
            return self._outcome
        outcome = Outcome()
        self._outcome = outcome
        try:
            self._reconcile(outcome)
        except StatusError as stop:
            outcome.add(stop.status)
        except K8sError as err:
            logger.warning("Kubernetes API error: %s", err)
            outcome.add(status_for_k8s_error(err, self._charm.app.name))
        except RelationError as err:
            logger.info("relation not usable: %s", err)
            outcome.add(status_for_relation_error(err, self._integrate))
        except ops.pebble.ConnectionError as err:
            logger.info("Pebble not reachable: %s", err)
            outcome.add(ops.WaitingStatus("waiting for the workload container to start"))
        return outcome

    def set_outcome(self, outcome: Outcome) -> None:
        """Replace this hook's outcome (e.g. an action that changed what the status says)."""
        self._outcome = outcome

    def _on_event(self, _: ops.EventBase) -> None:
        self.run(force=True)

    def _on_hold(self, _: ops.EventBase) -> None:
        self._hold = True

    def _on_collect_unit_status(self, event: ops.CollectStatusEvent) -> None:
        if self._hold and self._outcome is None:
            return  # adding nothing leaves the unit status as it was
        for status in self.run().unit:
            event.add_status(status)
        event.add_status(ops.ActiveStatus())

    def _on_collect_app_status(self, event: ops.CollectStatusEvent) -> None:
        if self._hold and self._outcome is None:
            return
        outcome = self.run()
        for status in [*outcome.app, *(outcome.unit if self._mirror else [])]:
            event.add_status(status)
        event.add_status(ops.ActiveStatus())
