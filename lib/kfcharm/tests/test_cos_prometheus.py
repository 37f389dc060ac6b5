"""MetricsEndpointProvider: write timing, wire format against the shared schema, rules."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import ops
import pytest
from kfcharm.cos import AlertRulesError, CosError, MetricsEndpointProvider, ScrapeJobError
from kfcharm.cos._common import set_if_changed
from ops import testing
from ops.testing import Context, Model, Relation, State

# shared/ sits beside the repository (DESIGN.md), in a developer's tree and in CI's clone.
SCHEMA_PATH = (
    Path(__file__).resolve().parents[3].parent
    / "shared/schemas/interfaces/prometheus_scrape_v0_provider.json"
)
META = {
    "name": "katib",
    "provides": {"metrics-endpoint": {"interface": "prometheus_scrape"}},
    "containers": {"workload": {}},
}
CONFIG = {"options": {"port": {"type": "int", "default": 8080}}}
OFFICIAL_RULES = """\
groups:
  - name: katib-controller
    rules:
      - alert: KatibControllerDown
        expr: up{%%juju_topology%%} < 1
        for: 5m
        labels:
          severity: critical
        annotations:
          summary: katib controller is down
      - alert: KatibReconcileErrors
        expr: rate(controller_runtime_reconcile_errors_total[5m]) > 0
"""
SINGLE_RULE = """\
alert: KatibDbManagerDown
expr: up{job="db"} < 1
for: 10m
labels:
  severity: warning
annotations:
  summary: db-manager down
"""


def assert_schema_valid(app: dict[str, str], unit: dict[str, str]) -> None:
    """Validate the databags, including the JSON-encoded fields' contentSchema."""
    schema = json.loads(SCHEMA_PATH.read_text())
    # Juju deletes a key set to "" (ops does the same), so the empty path never reaches the
    # wire; consumers read it with .get(key, ""). Validate what they see.
    unit = {"prometheus_scrape_unit_path": "", **unit}
    jsonschema.validate({"app": app, "unit": unit}, schema)
    defs = schema["$defs"]
    for field, spec in defs["ApplicationDataModel"]["properties"].items():
        content_schema = {"$defs": defs, **spec["contentSchema"]}
        jsonschema.validate(json.loads(app[field]), content_schema)


def make_rules_dir(root: Path) -> Path:
    rules = root / "rules"
    (rules / "extra").mkdir(parents=True)
    (rules / "katib.rules").write_text(OFFICIAL_RULES)
    (rules / "db_manager.rule").write_text(SINGLE_RULE)
    (rules / "extra" / "ui.yaml").write_text(SINGLE_RULE.replace("DbManager", "Ui"))
    (rules / "README.md").write_text("not a rule file")
    return rules


def charm_type(
    rules_dir: str | Path,
    jobs: Any = None,
    refresh: bool = False,
) -> type[ops.CharmBase]:
    class MetricsCharm(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.metrics = MetricsEndpointProvider(
                self,
                jobs=jobs
                if jobs is not None
                else (lambda: [{"static_configs": [{"targets": [f"*:{self.config['port']}"]}]}]),
                alert_rules_dir=rules_dir,
                refresh_event=self.on.workload_pebble_ready if refresh else None,
            )

    return MetricsCharm


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    return make_rules_dir(tmp_path)


@pytest.fixture
def ctx(rules_dir: Path) -> Context[ops.CharmBase]:
    return Context(charm_type(rules_dir), meta=META, config=CONFIG)


def leader_state(relation: Relation, **kwargs: Any) -> State:
    return State(
        leader=True,
        relations={relation},
        model=Model(name="kubeflow", uuid=str(uuid.uuid4())),
        **kwargs,
    )


def app_data(state: State, relation: Relation) -> dict[str, str]:
    """The app databag the charm wrote (typed: ops.testing's alias is opaque to mypy)."""
    data: dict[str, str] = dict(state.get_relation(relation.id).local_app_data)
    return data


def unit_data(state: State, relation: Relation) -> dict[str, str]:
    data: dict[str, str] = dict(state.get_relation(relation.id).local_unit_data)
    return data


def test_nothing_written_on_relation_created(ctx: Context[ops.CharmBase]) -> None:
    relation = Relation("metrics-endpoint")
    out = ctx.run(ctx.on.relation_created(relation), leader_state(relation))
    assert app_data(out, relation) == {}
    assert unit_data(out, relation) == dict(relation.local_unit_data)


def test_nothing_written_on_first_changed_with_empty_remote_data(
    ctx: Context[ops.CharmBase],
) -> None:
    relation = Relation("metrics-endpoint", remote_app_data={}, remote_units_data={0: {}})
    out = ctx.run(ctx.on.relation_changed(relation), leader_state(relation))
    assert app_data(out, relation) == {}
    assert unit_data(out, relation) == dict(relation.local_unit_data)


def test_leader_publishes_schema_valid_data_on_joined(ctx: Context[ops.CharmBase]) -> None:
    relation = Relation("metrics-endpoint", remote_app_name="prometheus")
    state = leader_state(relation)
    out = ctx.run(ctx.on.relation_joined(relation, remote_unit=0), state)
    app, unit = app_data(out, relation), unit_data(out, relation)

    assert_schema_valid(app, unit)
    metadata = json.loads(app["scrape_metadata"])
    assert metadata == {
        "model": "kubeflow",
        "model_uuid": state.model.uuid,
        "application": "katib",
        "unit": "katib/0",
        "charm_name": "katib",
    }
    assert uuid.UUID(metadata["model_uuid"]).version == 4
    (job,) = json.loads(app["scrape_jobs"])
    assert job["job_name"] == "katib"
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["*:8080"]
    assert job["static_configs"][0]["labels"] == {
        "juju_model": "kubeflow",
        "juju_model_uuid": state.model.uuid,
        "juju_application": "katib",
        "juju_charm": "katib",
    }
    assert unit["prometheus_scrape_unit_name"] == "katib/0"
    assert unit.get("prometheus_scrape_unit_path", "") == ""
    assert unit["prometheus_scrape_unit_address"]


def test_alert_rule_groups_are_named_and_labelled_with_topology(
    ctx: Context[ops.CharmBase],
) -> None:
    relation = Relation("metrics-endpoint")
    state = leader_state(relation)
    out = ctx.run(ctx.on.relation_joined(relation, remote_unit=0), state)
    rules = json.loads(app_data(out, relation)["alert_rules"])
    prefix = f"kubeflow_{state.model.uuid[:8]}_katib"
    groups = {g["name"]: g for g in rules["groups"]}
    assert set(groups) == {
        f"{prefix}_HostHealth_rules",
        f"{prefix}_katib_controller_rules",  # '-' sanitised by cosl
        f"{prefix}_db_manager_rules",
        f"{prefix}_extra_ui_rules",
    }
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["juju_model"] == "kubeflow"
            assert rule["labels"]["juju_model_uuid"] == state.model.uuid
            assert rule["labels"]["juju_application"] == "katib"
            assert rule["labels"]["juju_charm"] == "katib"
            assert "for" in rule
            assert "annotations" in rule
    controller = groups[f"{prefix}_katib_controller_rules"]["rules"]
    assert controller[0]["labels"]["severity"] == "critical"
    assert "%%juju_topology%%" not in controller[0]["expr"]
    assert controller[1]["for"] == "0m"
    assert controller[1]["annotations"] == {}


def test_non_leader_publishes_only_unit_data(ctx: Context[ops.CharmBase]) -> None:
    relation = Relation("metrics-endpoint")
    out = ctx.run(ctx.on.relation_joined(relation, remote_unit=0), State(relations={relation}))
    assert app_data(out, relation) == {}
    assert unit_data(out, relation)["prometheus_scrape_unit_name"] == "katib/0"


@pytest.mark.parametrize("event", ["leader_elected", "upgrade_charm", "config_changed"])
def test_republishes_on_lifecycle_events(ctx: Context[ops.CharmBase], event: str) -> None:
    relation = Relation("metrics-endpoint")
    out = ctx.run(getattr(ctx.on, event)(), leader_state(relation))
    assert set(out.get_relation(relation.id).local_app_data) == {
        "scrape_metadata",
        "scrape_jobs",
        "alert_rules",
    }


def test_jobs_follow_config(ctx: Context[ops.CharmBase]) -> None:
    relation = Relation("metrics-endpoint")
    out = ctx.run(ctx.on.config_changed(), leader_state(relation, config={"port": 9090}))
    (job,) = json.loads(app_data(out, relation)["scrape_jobs"])
    assert job["static_configs"][0]["targets"] == ["*:9090"]


def test_refresh_event_republishes(rules_dir: Path) -> None:
    ctx = Context(charm_type(rules_dir, refresh=True), meta=META, config=CONFIG)
    relation = Relation("metrics-endpoint")
    container = testing.Container("workload", can_connect=True)
    out = ctx.run(ctx.on.pebble_ready(container), leader_state(relation, containers={container}))
    assert "scrape_jobs" in app_data(out, relation)


def test_refresh_events_may_be_a_list(rules_dir: Path) -> None:
    class Charm(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.metrics = MetricsEndpointProvider(
                self,
                jobs=[{"static_configs": [{"targets": ["*:8080"]}]}],
                alert_rules_dir=rules_dir,
                refresh_event=[self.on.update_status, self.on.workload_pebble_ready],
            )

    ctx = Context(Charm, meta=META, config=CONFIG)
    relation = Relation("metrics-endpoint")
    out = ctx.run(ctx.on.update_status(), leader_state(relation))
    assert "scrape_jobs" in app_data(out, relation)


def test_construction_needs_no_topology(rules_dir: Path) -> None:
    """Unrelated hooks work whatever the model uuid; topology is only read when publishing."""
    jobs = [{"static_configs": [{"targets": ["*:8080"]}]}]
    ctx = Context(charm_type(rules_dir, jobs=jobs), meta=META, config=CONFIG)
    ctx.run(ctx.on.start(), State(model=Model(uuid="00000000-0000-0000-0000-000000000000")))


def test_no_relation_is_a_no_op(ctx: Context[ops.CharmBase]) -> None:
    out = ctx.run(ctx.on.config_changed(), State(leader=True))
    assert not out.relations


def test_static_jobs_keep_names_and_labels(rules_dir: Path) -> None:
    jobs: list[dict[str, Any]] = [
        {
            "job_name": "controller",
            "metrics_path": "/custom",
            "scrape_interval": "30s",
            "static_configs": [{"targets": ["*:8080"], "labels": {"juju_model": "x", "a": "b"}}],
        },
        {"static_configs": [{"targets": ["*:9090", "katib-ui:80"]}]},
    ]
    ctx = Context(charm_type(rules_dir, jobs=jobs), meta=META, config=CONFIG)
    relation = Relation("metrics-endpoint")
    out = ctx.run(ctx.on.leader_elected(), leader_state(relation))
    published = json.loads(app_data(out, relation)["scrape_jobs"])
    assert [j["job_name"] for j in published] == ["controller", "katib_1"]
    assert published[0]["metrics_path"] == "/custom"
    labels = published[0]["static_configs"][0]["labels"]
    assert labels["a"] == "b"
    assert labels["juju_model"] == "kubeflow"  # topology wins
    assert jobs[0]["static_configs"][0]["labels"] == {"juju_model": "x", "a": "b"}  # not mutated


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        ({"static_configs": []}, "must be a list"),
        (["not a job"], "must be a mapping"),
        ([{"static_configs": [{"targets": ["*:80"]}], "basic_auth": {}}], "unsupported keys"),
        ([{"static_configs": []}], "non-empty list"),
        ([{"static_configs": ["x"]}], "must be a mapping"),
        ([{"static_configs": [{"targets": []}]}], "non-empty 'targets'"),
        ([{"static_configs": [{"targets": ["*"]}]}], "is not '*:PORT'"),
        ([{"static_configs": [{"targets": ["*:70000"]}]}], "is not '*:PORT'"),
        ([{"static_configs": [{"targets": [8080]}]}], "is not '*:PORT'"),
        ([{"static_configs": [{"targets": ["*:80"], "labels": {"a": 1}}]}], "labels must map"),
        ([{"job_name": "a b", "static_configs": [{"targets": ["*:80"]}]}], "must match"),
        (
            [
                {"job_name": "a", "static_configs": [{"targets": ["*:80"]}]},
                {"job_name": "a", "static_configs": [{"targets": ["*:81"]}]},
            ],
            "unique",
        ),
        (
            [{"static_configs": [{"targets": ["*:80"]}], "params": {"x": {1, 2}}}],
            "JSON-serialisable",
        ),
    ],
)
def test_invalid_static_jobs_raise_at_construction(
    rules_dir: Path, jobs: Any, message: str
) -> None:
    ctx = Context(charm_type(rules_dir, jobs=jobs), meta=META, config=CONFIG)
    with pytest.raises(testing.errors.UncaughtCharmError) as info:
        ctx.run(ctx.on.start(), State())
    assert isinstance(info.value.__cause__, ScrapeJobError)
    assert message in str(info.value.__cause__)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"bad.rules": "groups: [\n"}, "not valid YAML"),
        ({"bad.rules": "- a\n- b\n"}, "expected a mapping"),
        ({"bad.rules": ""}, "expected a mapping"),
        ({"bad.rules": "groups: []\n"}, "non-empty list"),
        ({"bad.rules": "groups: [{rules: []}]\n"}, "string 'name'"),
        ({"bad.rules": "groups: [{name: x, rules: []}]\n"}, "non-empty list"),
        ({"bad.rules": "groups: [{name: x, rules: [1]}]\n"}, "must be a mapping"),
        ({"bad.rule": "alert: X\n"}, "non-empty string 'expr'"),
        ({"bad.rule": "foo: bar\n"}, "non-empty string 'alert'"),
        ({"bad.rule": "record: x\nexpr: up\n"}, "recording rules"),
        ({"bad.rule": "alert: X\nexpr: up\nfor: 5\n"}, "duration string"),
        ({"bad.rule": "alert: X\nexpr: up\nlabels: {severity: 1}\n"}, "quote values"),
        (
            {
                "a.rule": SINGLE_RULE,
                "b.rules": "groups: [{name: a, rules: [{alert: X, expr: up}]}]",
            },
            "unique",
        ),
        ({"HostHealth.rule": SINGLE_RULE}, "reserved"),
    ],
)
def test_invalid_alert_rule_files_raise_at_construction(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    ctx = Context(charm_type(tmp_path), meta=META, config=CONFIG)
    with pytest.raises(testing.errors.UncaughtCharmError) as info:
        ctx.run(ctx.on.start(), State())
    assert isinstance(info.value.__cause__, AlertRulesError)
    assert message in str(info.value.__cause__)
    assert str(tmp_path) in str(info.value.__cause__)


def test_missing_rules_dir_still_sends_one_group(tmp_path: Path) -> None:
    ctx = Context(charm_type(tmp_path / "absent"), meta=META, config=CONFIG)
    relation = Relation("metrics-endpoint")
    out = ctx.run(ctx.on.relation_joined(relation, remote_unit=0), leader_state(relation))
    rules = json.loads(app_data(out, relation)["alert_rules"])
    assert [g["name"].rsplit("_", 2)[-2] for g in rules["groups"]] == ["HostHealth"]
    assert_schema_valid(app_data(out, relation), unit_data(out, relation))


def test_relative_rules_dir_resolves_against_charm_root(tmp_path: Path) -> None:
    make_rules_dir(tmp_path / "src")
    (tmp_path / "src" / "rules").rename(tmp_path / "src" / "prometheus_alert_rules")
    ctx = Context(
        charm_type("src/prometheus_alert_rules"), meta=META, config=CONFIG, charm_root=tmp_path
    )
    relation = Relation("metrics-endpoint")
    out = ctx.run(ctx.on.leader_elected(), leader_state(relation))
    rules = json.loads(app_data(out, relation)["alert_rules"])
    assert len(rules["groups"]) == 4


def test_missing_endpoint_is_reported(rules_dir: Path) -> None:
    meta = {"name": "katib", "provides": {"metrics-endpoint": {"interface": "http"}}}
    ctx = Context(charm_type(rules_dir), meta=meta, config=CONFIG)
    with pytest.raises(testing.errors.UncaughtCharmError) as info:
        ctx.run(ctx.on.start(), State())
    assert isinstance(info.value.__cause__, CosError)
    assert "expected 'prometheus_scrape'" in str(info.value.__cause__)
    ctx = Context(charm_type(rules_dir), meta={"name": "katib"}, config=CONFIG)
    with pytest.raises(testing.errors.UncaughtCharmError, match="no endpoint"):
        ctx.run(ctx.on.start(), State())


def test_set_if_changed_skips_equal_values() -> None:
    class Recorder(dict[str, str]):
        writes: list[str]

        def __setitem__(self, key: str, value: str) -> None:
            self.writes.append(key)
            super().__setitem__(key, value)

    bag = Recorder(a="1")
    bag.writes = []
    assert set_if_changed(bag, {"a": "1", "b": "2"}) is True
    assert bag.writes == ["b"]
    assert set_if_changed(bag, {"a": "1", "b": "2"}) is False
    assert bag.writes == ["b"]


@pytest.mark.promtool
@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian prometheus)")
def test_published_alert_rules_pass_promtool(ctx: Context[ops.CharmBase], tmp_path: Path) -> None:
    relation = Relation("metrics-endpoint")
    out = ctx.run(ctx.on.relation_joined(relation, remote_unit=0), leader_state(relation))
    rules_file = tmp_path / "published.rules.json"  # JSON is YAML
    rules_file.write_text(app_data(out, relation)["alert_rules"])
    result = subprocess.run(
        ["promtool", "check", "rules", str(rules_file)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
