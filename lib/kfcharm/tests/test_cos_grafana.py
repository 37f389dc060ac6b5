"""GrafanaDashboardProvider: wire format, compression round-trip, no churn."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import ops
import pytest
from cosl import DashboardPath40UID, LZMABase64
from kfcharm.cos import DashboardError, GrafanaDashboardProvider
from ops import testing
from ops.testing import Context, Model, Relation, State

META = {"name": "katib", "provides": {"grafana-dashboard": {"interface": "grafana_dashboard"}}}
DASHBOARD = json.dumps({"title": "Katib", "panels": [{"type": "graph", "id": 1}]}, indent=2)


def charm_type(dashboards_dir: str | Path) -> type[ops.CharmBase]:
    class DashboardCharm(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.dashboards = GrafanaDashboardProvider(self, dashboards_dir=dashboards_dir)

    return DashboardCharm


@pytest.fixture
def dashboards_dir(tmp_path: Path) -> Path:
    path = tmp_path / "dashboards"
    path.mkdir()
    (path / "katib.json").write_text(DASHBOARD)
    (path / "katib-db.json.tmpl").write_text('{"title": "db"}')
    (path / "notes.txt").write_text("ignored")
    return path


def leader_state(relation: Relation) -> State:
    return State(
        leader=True, relations={relation}, model=Model(name="kubeflow", uuid=str(uuid.uuid4()))
    )


def published(out: State, relation: Relation) -> dict[str, Any]:
    app: dict[str, str] = dict(out.get_relation(relation.id).local_app_data)
    data: dict[str, Any] = json.loads(app["dashboards"])
    return data


def test_leader_publishes_dashboards_on_joined(dashboards_dir: Path) -> None:
    ctx = Context(charm_type(dashboards_dir), meta=META)
    relation = Relation("grafana-dashboard")
    state = leader_state(relation)
    out = ctx.run(ctx.on.relation_joined(relation, remote_unit=0), state)

    data = published(out, relation)
    assert uuid.UUID(data["uuid"]).version == 4
    assert set(data["templates"]) == {"file:katib", "file:katib-db"}
    template = data["templates"]["file:katib"]
    assert template["charm"] == "katib"
    assert template["inject_dropdowns"] is True
    assert template["juju_topology"] == {
        "model": "kubeflow",
        "model_uuid": state.model.uuid,
        "application": "katib",
        "unit": "katib/0",
        "charm_name": "katib",
    }
    # outside the charm root: the directory name and file name identify the dashboard
    assert template["dashboard_alt_uid"] == DashboardPath40UID.generate(
        "katib", "dashboards/katib.json"
    )
    assert DashboardPath40UID.is_valid(template["dashboard_alt_uid"])
    assert template["dashboard_alt_uid"] != data["templates"]["file:katib-db"]["dashboard_alt_uid"]


def test_content_round_trips_to_the_file(dashboards_dir: Path) -> None:
    ctx = Context(charm_type(dashboards_dir), meta=META)
    relation = Relation("grafana-dashboard")
    out = ctx.run(ctx.on.relation_created(relation), leader_state(relation))
    content = published(out, relation)["templates"]["file:katib"]["content"]
    assert LZMABase64.decompress(content) == (dashboards_dir / "katib.json").read_text()


def test_unchanged_dashboards_keep_uuid(dashboards_dir: Path) -> None:
    ctx = Context(charm_type(dashboards_dir), meta=META)
    relation = Relation("grafana-dashboard")
    state = leader_state(relation)
    first = ctx.run(ctx.on.leader_elected(), state)
    again = ctx.run(ctx.on.upgrade_charm(), first)
    assert published(again, relation) == published(first, relation)


def test_changed_dashboard_gets_new_uuid(dashboards_dir: Path) -> None:
    ctx = Context(charm_type(dashboards_dir), meta=META)
    relation = Relation("grafana-dashboard")
    first = ctx.run(ctx.on.leader_elected(), leader_state(relation))
    (dashboards_dir / "katib.json").write_text('{"title": "Katib v2"}')
    again = ctx.run(ctx.on.upgrade_charm(), first)
    before, after = published(first, relation), published(again, relation)
    assert after["uuid"] != before["uuid"]
    content = after["templates"]["file:katib"]["content"]
    assert json.loads(LZMABase64.decompress(content)) == {"title": "Katib v2"}


@pytest.mark.parametrize(
    "existing",
    [
        "not json",
        json.dumps(["a list"]),
        json.dumps({"templates": {"file:katib": "x", "file:katib-db": {}}}),
        json.dumps({"templates": {"file:katib": {"content": 1}, "file:katib-db": {}}}),
    ],
)
def test_malformed_published_data_is_replaced(dashboards_dir: Path, existing: str) -> None:
    ctx = Context(charm_type(dashboards_dir), meta=META)
    relation = Relation("grafana-dashboard", local_app_data={"dashboards": existing})
    out = ctx.run(ctx.on.leader_elected(), leader_state(relation))
    assert set(published(out, relation)["templates"]) == {"file:katib", "file:katib-db"}


def test_corrupt_content_is_replaced(dashboards_dir: Path) -> None:
    ctx = Context(charm_type(dashboards_dir), meta=META)
    relation = Relation("grafana-dashboard")
    first = ctx.run(ctx.on.leader_elected(), leader_state(relation))
    data = published(first, relation)
    data["templates"]["file:katib"]["content"] = "!!not base64!!"
    corrupted = State(
        leader=True,
        model=first.model,
        relations={
            Relation(
                "grafana-dashboard",
                id=relation.id,
                local_app_data={"dashboards": json.dumps(data)},
            )
        },
    )
    out = ctx.run(ctx.on.upgrade_charm(), corrupted)
    assert published(out, relation)["uuid"] != data["uuid"]


def test_non_leader_publishes_nothing(dashboards_dir: Path) -> None:
    ctx = Context(charm_type(dashboards_dir), meta=META)
    relation = Relation("grafana-dashboard")
    out = ctx.run(ctx.on.relation_joined(relation, remote_unit=0), State(relations={relation}))
    assert dict(out.get_relation(relation.id).local_app_data) == {}


def test_relative_dir_and_alt_uid_use_the_charm_relative_path(tmp_path: Path) -> None:
    (tmp_path / "src" / "grafana_dashboards").mkdir(parents=True)
    (tmp_path / "src" / "grafana_dashboards" / "katib.json").write_text(DASHBOARD)
    ctx = Context(charm_type("src/grafana_dashboards"), meta=META, charm_root=tmp_path)
    relation = Relation("grafana-dashboard")
    out = ctx.run(ctx.on.leader_elected(), leader_state(relation))
    template = published(out, relation)["templates"]["file:katib"]
    expected = DashboardPath40UID.generate("katib", "src/grafana_dashboards/katib.json")
    assert template["dashboard_alt_uid"] == expected


def test_absolute_dir_under_charm_root_gives_same_alt_uid(tmp_path: Path) -> None:
    (tmp_path / "src" / "grafana_dashboards").mkdir(parents=True)
    (tmp_path / "src" / "grafana_dashboards" / "katib.json").write_text(DASHBOARD)
    ctx = Context(
        charm_type(tmp_path / "src" / "grafana_dashboards"), meta=META, charm_root=tmp_path
    )
    relation = Relation("grafana-dashboard")
    out = ctx.run(ctx.on.leader_elected(), leader_state(relation))
    template = published(out, relation)["templates"]["file:katib"]
    expected = DashboardPath40UID.generate("katib", "src/grafana_dashboards/katib.json")
    assert template["dashboard_alt_uid"] == expected


def test_missing_dir_publishes_no_templates(tmp_path: Path) -> None:
    ctx = Context(charm_type(tmp_path / "absent"), meta=META)
    relation = Relation("grafana-dashboard")
    out = ctx.run(ctx.on.leader_elected(), leader_state(relation))
    assert published(out, relation)["templates"] == {}


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"bad.json": "{"}, "not valid JSON"),
        ({"bad.json": b"\xff\xfe"}, "not valid JSON"),
        ({"bad.json": "[1, 2]"}, "JSON object"),
        ({"a.json": "{}", "a.json.tmpl": "{}"}, "same name"),
    ],
)
def test_invalid_dashboards_raise_at_construction(
    tmp_path: Path, files: dict[str, str | bytes], message: str
) -> None:
    for name, content in files.items():
        if isinstance(content, bytes):
            (tmp_path / name).write_bytes(content)
        else:
            (tmp_path / name).write_text(content)
    ctx = Context(charm_type(tmp_path), meta=META)
    with pytest.raises(testing.errors.UncaughtCharmError) as info:
        ctx.run(ctx.on.start(), State())
    assert isinstance(info.value.__cause__, DashboardError)
    assert message in str(info.value.__cause__)
