"""The Reconciler: one reconcile per hook, expected errors as statuses, collect-status."""

from __future__ import annotations

import ops
import pytest
from kfcharm.k8s import K8sForbiddenError
from kfcharm.relations.errors import (
    RelationDataError,
    RelationMissingError,
    RelationNotReadyError,
)
from kfcharm.status import Outcome, Reconciler, StatusError, status_for_relation_error
from ops import testing

ACTIONS = {"check": {}, "fix": {}}

META = {
    "name": "demo",
    "containers": {"workload": {}},
    "requires": {"db": {"interface": "mysql_client"}},
}


class DemoCharm(ops.CharmBase):
    """Reconciles by raising whatever `problem` config names."""

    runs = 0

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.reconciler = Reconciler(
            self,
            self._reconcile,
            events=[self.on.config_changed, self.on.update_status, self.on.workload_pebble_ready],
            integrate={"db": "juju integrate demo:db mysql:database"},
        )
        framework.observe(self.on.fix_action, self._on_fix)

    def _on_fix(self, event: ops.ActionEvent) -> None:
        self.reconciler.set_outcome(Outcome(unit=[ops.MaintenanceStatus("fixed by action")]))

    def _reconcile(self, outcome: Outcome) -> None:
        DemoCharm.runs += 1
        problem = self.config.get("problem", "")
        if problem == "status":
            raise StatusError(ops.BlockedStatus("told to block"))
        if problem == "forbidden":
            raise K8sForbiddenError("denied", status_code=403, kind="ConfigMap", name="x")
        if problem == "missing":
            raise RelationMissingError("db")
        if problem == "pebble":
            self.unit.get_container("workload").get_services()
        if problem == "crash":
            raise RuntimeError("unexpected")
        if problem == "app-only":
            outcome.add(ops.WaitingStatus("app-level wait"), app=True)
        if problem == "unit-maintenance":
            outcome.add(ops.MaintenanceStatus("rolling"))


CONFIG = {"options": {"problem": {"type": "string", "default": ""}}}


@pytest.fixture
def ctx() -> testing.Context:
    DemoCharm.runs = 0
    return testing.Context(DemoCharm, meta=META, config=CONFIG, actions=ACTIONS)


def run(ctx, problem: str, *, leader: bool = True, can_connect: bool = True) -> testing.State:
    state = testing.State(
        leader=leader,
        config={"problem": problem},
        containers={testing.Container("workload", can_connect=can_connect)},
    )
    return ctx.run(ctx.on.config_changed(), state)


def test_active_when_nothing_is_wrong_and_reconcile_ran_once(ctx):
    out = run(ctx, "")
    assert out.unit_status == testing.ActiveStatus()
    assert out.app_status == testing.ActiveStatus()
    assert DemoCharm.runs == 1


def test_status_error_becomes_the_status(ctx):
    out = run(ctx, "status")
    assert out.unit_status == testing.BlockedStatus("told to block")
    assert out.app_status == testing.BlockedStatus("told to block")


def test_forbidden_says_juju_trust(ctx):
    out = run(ctx, "forbidden")
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert "juju trust demo --scope=cluster" in out.unit_status.message


def test_missing_relation_names_the_command(ctx):
    out = run(ctx, "missing")
    assert out.unit_status == testing.BlockedStatus(
        "db relation missing: juju integrate demo:db mysql:database"
    )


def test_pebble_unreachable_is_waiting(ctx):
    out = run(ctx, "pebble", can_connect=False)
    assert isinstance(out.unit_status, testing.WaitingStatus)


def test_unexpected_errors_raise(ctx):
    with pytest.raises(testing.errors.UncaughtCharmError):
        run(ctx, "crash")


def test_app_only_status_does_not_touch_the_unit(ctx):
    out = run(ctx, "app-only")
    assert out.unit_status == testing.ActiveStatus()
    assert out.app_status == testing.WaitingStatus("app-level wait")


def test_non_leader_keeps_app_status(ctx):
    out = run(ctx, "unit-maintenance", leader=False)
    assert out.unit_status == testing.MaintenanceStatus("rolling")
    assert out.app_status == testing.UnknownStatus()


def test_unobserved_event_still_reports_status_from_one_reconcile(ctx):
    state = testing.State(config={"problem": "status"}, leader=True)
    out = ctx.run(ctx.on.start(), state)
    assert out.unit_status == testing.BlockedStatus("told to block")
    assert DemoCharm.runs == 1


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        (RelationMissingError("ingress"), testing.BlockedStatus("ingress relation missing")),
        (
            RelationNotReadyError("db", "no data yet", 3),
            testing.WaitingStatus("waiting for db:3: no data yet"),
        ),
        (RelationDataError("db", "bad port", 3), testing.BlockedStatus("db:3: bad port")),
    ],
)
def test_relation_error_statuses(err, expected):
    assert status_for_relation_error(err) == expected


def test_remove_hook_does_not_reconcile(ctx):
    state = testing.State(config={"problem": "status"}, leader=True)
    ctx.run(ctx.on.remove(), state)
    assert DemoCharm.runs == 0


def test_action_keeps_the_status_without_reconciling(ctx):
    state = testing.State(
        config={"problem": "status"},
        leader=True,
        unit_status=testing.WaitingStatus("as before"),
        app_status=testing.WaitingStatus("app as before"),
    )
    out = ctx.run(ctx.on.action("check"), state)
    assert DemoCharm.runs == 0
    assert out.unit_status == testing.WaitingStatus("as before")
    assert out.app_status == testing.WaitingStatus("app as before")


def test_action_may_set_the_outcome(ctx):
    out = ctx.run(ctx.on.action("fix"), testing.State(leader=True))
    assert DemoCharm.runs == 0
    assert out.unit_status == testing.MaintenanceStatus("fixed by action")
