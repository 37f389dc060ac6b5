"""LogForwarder: metadata, endpoints, Pebble log targets and their removal."""

from __future__ import annotations

import json
import uuid
from typing import Any

import ops
import pytest
from kfcharm.cos import CosError, LogForwarder
from kfcharm.cos.loki import LOG_TARGET_PREFIX, log_target_name, parse_endpoint
from ops import pebble, testing
from ops.testing import Container, Context, Model, Relation, State

META = {
    "name": "katib",
    "requires": {"logging": {"interface": "loki_push_api"}},
    "containers": {"workload": {}},
}
URL_0 = "http://loki-0.loki-endpoints.cos.svc.cluster.local:3100/loki/api/v1/push"
URL_1 = "http://loki-1.loki-endpoints.cos.svc.cluster.local:3100/loki/api/v1/push"


class LoggingCharm(ops.CharmBase):
    """Re-renders its layer whenever the logging relation changes, as a real charm does."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.logs = LogForwarder(self)
        for event in (
            self.on["logging"].relation_changed,
            self.on["logging"].relation_departed,
            self.on["logging"].relation_broken,
            self.on.workload_pebble_ready,
        ):
            framework.observe(event, self._reconcile)

    def _reconcile(self, _: ops.EventBase) -> None:
        container = self.unit.get_container("workload")
        layer: dict[str, Any] = {
            "services": {"svc": {"override": "replace", "command": "/bin/svc"}},
            "log-targets": self.logs.log_targets(container=container),
        }
        container.add_layer("workload", pebble.Layer(layer), combine=True)  # type: ignore[arg-type]


def endpoint(url: str) -> dict[str, str]:
    return {"endpoint": json.dumps({"url": url})}


def state_with(relation: Relation, *, leader: bool = True, **kwargs: Any) -> State:
    return State(
        leader=leader,
        relations={relation},
        model=Model(name="kubeflow", uuid=str(uuid.uuid4())),
        containers={Container("workload", can_connect=True)},
        **kwargs,
    )


@pytest.fixture
def ctx() -> Context[LoggingCharm]:
    return Context(LoggingCharm, meta=META)


def test_leader_publishes_metadata(ctx: Context[LoggingCharm]) -> None:
    relation = Relation("logging")
    state = state_with(relation)
    out = ctx.run(ctx.on.relation_joined(relation, remote_unit=0), state)
    app: dict[str, str] = dict(out.get_relation(relation.id).local_app_data)
    metadata = json.loads(app["metadata"])
    assert metadata == {
        "model": "kubeflow",
        "model_uuid": state.model.uuid,
        "application": "katib",
        "unit": "katib/0",
        "charm_name": "katib",
    }


def test_non_leader_publishes_nothing(ctx: Context[LoggingCharm]) -> None:
    relation = Relation("logging")
    out = ctx.run(
        ctx.on.relation_joined(relation, remote_unit=0), state_with(relation, leader=False)
    )
    assert dict(out.get_relation(relation.id).local_app_data) == {}


def test_log_targets_one_per_endpoint_with_topology_labels(ctx: Context[LoggingCharm]) -> None:
    relation = Relation(
        "logging",
        remote_units_data={0: endpoint(URL_0), 1: endpoint(URL_1), 2: endpoint(URL_0)},
    )
    state = state_with(relation)
    out = ctx.run(ctx.on.relation_changed(relation, remote_unit=0), state)
    targets = out.get_container("workload").plan.log_targets
    assert set(targets) == {log_target_name(URL_0), log_target_name(URL_1)}
    target = targets[log_target_name(URL_0)]
    assert target.to_dict() == {
        "override": "replace",
        "type": "loki",
        "location": URL_0,
        "services": ["all"],
        "labels": {
            "juju_model": "kubeflow",
            "juju_model_uuid": state.model.uuid,
            "juju_application": "katib",
            "juju_unit": "katib/0",
            "charm": "katib",
        },
    }


def test_services_can_be_restricted(ctx: Context[LoggingCharm]) -> None:
    relation = Relation("logging", remote_units_data={0: endpoint(URL_0)})
    with ctx(ctx.on.update_status(), state_with(relation)) as mgr:
        targets = mgr.charm.logs.log_targets(services=["katib-controller"])
    assert targets[log_target_name(URL_0)]["services"] == ["katib-controller"]


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        json.dumps(["list"]),
        json.dumps({"uri": URL_0}),
        json.dumps({"url": 42}),
        json.dumps({"url": "ftp://loki/push"}),
    ],
)
def test_malformed_endpoints_are_skipped(ctx: Context[LoggingCharm], raw: str) -> None:
    relation = Relation("logging", remote_units_data={0: {"endpoint": raw}, 1: endpoint(URL_1)})
    out = ctx.run(ctx.on.relation_changed(relation, remote_unit=0), state_with(relation))
    assert set(out.get_container("workload").plan.log_targets) == {log_target_name(URL_1)}
    assert any("malformed Loki endpoint" in line.message for line in ctx.juju_log)


def test_endpoints_are_sorted_and_deduplicated(ctx: Context[LoggingCharm]) -> None:
    relation = Relation(
        "logging", remote_units_data={0: endpoint(URL_1), 1: endpoint(URL_0), 2: {}}
    )
    with ctx(ctx.on.update_status(), state_with(relation)) as mgr:
        assert mgr.charm.logs.endpoints() == [URL_0, URL_1]


def test_departed_endpoint_target_is_disabled(ctx: Context[LoggingCharm]) -> None:
    relation = Relation("logging", remote_units_data={0: endpoint(URL_0), 1: endpoint(URL_1)})
    first = ctx.run(ctx.on.relation_changed(relation, remote_unit=0), state_with(relation))

    remaining = Relation("logging", id=relation.id, remote_units_data={0: endpoint(URL_0)})
    state = State(
        leader=True,
        relations={remaining},
        model=first.model,
        containers=first.containers,
    )
    out = ctx.run(ctx.on.relation_departed(remaining, remote_unit=1, departing_unit=1), state)
    targets = out.get_container("workload").plan.log_targets
    assert targets[log_target_name(URL_0)].services == ["all"]
    stale = targets[log_target_name(URL_1)]
    assert stale.services == ["-all"]
    assert stale.location == URL_1


def test_broken_relation_disables_every_target_and_is_stable(ctx: Context[LoggingCharm]) -> None:
    relation = Relation("logging", remote_units_data={0: endpoint(URL_0)})
    first = ctx.run(ctx.on.relation_changed(relation, remote_unit=0), state_with(relation))
    out = ctx.run(ctx.on.relation_broken(first.get_relation(relation.id)), first)
    layer_once = out.get_container("workload").layers["workload"].to_dict()
    assert layer_once["log-targets"][log_target_name(URL_0)]["services"] == ["-all"]

    gone = State(leader=True, model=out.model, containers=out.containers)  # relation removed
    again = ctx.run(ctx.on.pebble_ready(out.get_container("workload")), gone)
    assert again.get_container("workload").layers["workload"].to_dict() == layer_once


def test_foreign_log_targets_are_left_alone(ctx: Context[LoggingCharm]) -> None:
    relation = Relation("logging")
    other = pebble.Layer(
        {
            "log-targets": {
                "ops-team": {
                    "type": "loki",
                    "location": URL_0,
                    "services": ["all"],
                    "override": "replace",
                }
            }
        }
    )
    state = State(
        leader=True,
        relations={relation},
        containers={Container("workload", can_connect=True, layers={"base": other})},
    )
    with ctx(ctx.on.update_status(), state) as mgr:
        targets = mgr.charm.logs.log_targets(container=mgr.charm.unit.get_container("workload"))
    assert targets == {}


def test_parse_endpoint() -> None:
    assert parse_endpoint(None) is None
    assert parse_endpoint("") is None
    assert parse_endpoint(json.dumps({"url": URL_0})) == URL_0
    assert log_target_name(URL_0).startswith(LOG_TARGET_PREFIX)
    assert log_target_name(URL_0) != log_target_name(URL_1)


def test_wrong_interface_is_reported() -> None:
    meta = {"name": "katib", "requires": {"logging": {"interface": "loki"}}}
    ctx = Context(LoggingCharm, meta=meta)
    with pytest.raises(testing.errors.UncaughtCharmError) as info:
        ctx.run(ctx.on.start(), State())
    assert isinstance(info.value.__cause__, CosError)
