"""find_leaks: a secret planted in each scanned place is found; a clean run has no findings."""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any

import ops
import pytest
from kfcharm.testing.leaks import Leak, find_leaks
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap
from lightkube.resources.core_v1 import Secret as K8sSecret
from ops import pebble
from ops.testing import (
    Container,
    Context,
    Exec,
    JujuLogLine,
    Mount,
    PeerRelation,
    Relation,
    State,
)

SECRET = "s3cr3t-Pa55w0rd!"
OTHER = "another-token-123"
logger = logging.getLogger(__name__)

META = {
    "name": "leaky",
    "requires": {"db": {"interface": "mysql_client"}},
    "peers": {"peers": {"interface": "leaky-peers"}},
    "containers": {"workload": {}},
}
ACTIONS: dict[str, Any] = {"show": {}}


class LeakyCharm(ops.CharmBase):
    """Puts ``plant`` (from config) where ``where`` (from config) says."""

    _stored = ops.StoredState()

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored.set_default(value="")
        framework.observe(self.on.config_changed, self._on_config_changed)
        framework.observe(self.on.show_action, self._on_show)

    def _on_config_changed(self, _: ops.EventBase) -> None:
        where, plant = str(self.config["where"]), str(self.config["plant"])
        container = self.unit.get_container("workload")
        env = {"DB_PASSWORD": plant} if where == "env" else {}
        command = f"/bin/svc --password={plant}" if where == "command" else "/bin/svc"
        container.add_layer(
            "workload",
            pebble.Layer(
                {
                    "services": {
                        "svc": {"override": "replace", "command": command, "environment": env}
                    }
                }
            ),
            combine=True,
        )
        actions = {
            "log": lambda: logger.info("connecting with %s", plant),
            "status": lambda: setattr(self.unit, "status", ops.ActiveStatus(f"pw {plant}")),
            "app-status": lambda: setattr(self.app, "status", ops.BlockedStatus(plant)),
            "version": lambda: self.unit.set_workload_version(plant),
            "app-data": lambda: self._db().data[self.app].update({"password": plant}),
            "unit-data": lambda: self._db().data[self.unit].update({"dsn": f"u:{plant}@db"}),
            "peer-data": lambda: self._peers().data[self.app].update({"creds": plant}),
            "stored": lambda: setattr(self._stored, "value", plant),
            "file": lambda: container.push(
                "/etc/svc/config.ini", f"[db]\npassword={plant}\n", make_dirs=True
            ),
            "mount-file": lambda: container.push("/data/dump.txt", plant),
            "exec": lambda: container.exec(["mysql", f"-p{plant}"]).wait(),
            "exec-env": lambda: container.exec(["mysql"], environment={"MYSQL_PWD": plant}).wait(),
            "status-history": lambda: self._flap_status(plant),
        }
        if where in actions:
            actions[where]()

    def _db(self) -> ops.Relation:
        relation = self.model.get_relation("db")
        assert relation is not None
        return relation

    def _peers(self) -> ops.Relation:
        relation = self.model.get_relation("peers")
        assert relation is not None
        return relation

    def _flap_status(self, plant: str) -> None:
        self.unit.status = ops.MaintenanceStatus(plant)
        self.unit.status = ops.ActiveStatus()

    def _on_show(self, event: ops.ActionEvent) -> None:
        plant = str(self.config["plant"])
        if self.config["where"] == "action-log":
            event.log(f"password is {plant}")
        elif self.config["where"] == "action-result":
            event.set_results({"conn": {"password": plant}})


@pytest.fixture
def ctx() -> Context[LeakyCharm]:
    config = {"options": {"where": {"type": "string", "default": ""}, "plant": {"type": "string"}}}
    return Context(LeakyCharm, meta=META, config=config, actions=ACTIONS)


def run(ctx: Context[LeakyCharm], where: str, tmp_path: Path, plant: str = SECRET) -> State:
    mount_dir = tmp_path / "mount"
    mount_dir.mkdir(exist_ok=True)
    container = Container(
        "workload",
        can_connect=True,
        mounts={"data": Mount(location="/data", source=mount_dir)},
        execs={Exec(["mysql"])},
    )
    state = State(
        leader=True,
        config={"where": where, "plant": plant},
        relations={
            Relation("db", remote_app_data={"note": "remote input is not scanned"}),
            PeerRelation("peers"),
        },
        containers={container},
    )
    return ctx.run(ctx.on.config_changed(), state)


def test_clean_run_has_no_findings(ctx: Context[LeakyCharm], tmp_path: Path) -> None:
    out = run(ctx, "nowhere", tmp_path)
    assert find_leaks(out, [OTHER], ctx=ctx) == []


@pytest.mark.parametrize(
    ("where", "place"),
    [
        ("log", "juju-log["),
        ("status", "status:unit"),
        ("app-status", "status:app"),
        ("version", "workload-version"),
        ("app-data", "relation:db:"),
        ("unit-data", "relation:db:"),
        ("peer-data", "relation:peers:"),
        ("stored", "stored:LeakyCharm._stored:value"),
        ("command", "pebble:workload:layer:workload:services.svc.command"),
        ("file", "file:workload:/etc/svc/config.ini"),
        ("mount-file", "file:workload:/data/dump.txt (mount data)"),
        ("exec", "exec:workload[0]:command[1]"),
        ("status-history", "status-history:unit["),
    ],
)
def test_planted_secret_is_found(
    ctx: Context[LeakyCharm], tmp_path: Path, where: str, place: str
) -> None:
    out = run(ctx, where, tmp_path, plant=f"{SECRET}")
    leaks = find_leaks(out, [OTHER, SECRET], ctx=ctx)
    assert leaks, where
    assert all(leak.place.startswith(place) for leak in leaks), leaks
    assert leaks[0].detail == "secret #1 (plain)"
    assert SECRET not in repr(leaks)


def test_relation_places_name_endpoint_side_and_key(
    ctx: Context[LeakyCharm], tmp_path: Path
) -> None:
    out = run(ctx, "app-data", tmp_path)
    (relation,) = [r for r in out.relations if r.endpoint == "db"]
    assert find_leaks(out, [SECRET]) == [
        Leak(f"relation:db:{relation.id}:app:password", "secret #0 (plain)")
    ]


def test_pebble_environment_only_on_request(ctx: Context[LeakyCharm], tmp_path: Path) -> None:
    out = run(ctx, "env", tmp_path)
    assert find_leaks(out, [SECRET], ctx=ctx) == []
    assert [leak.place for leak in find_leaks(out, [SECRET], include_pebble_environment=True)] == [
        "pebble:workload:layer:workload:services.svc.environment.DB_PASSWORD"
    ]


def test_exec_environment_only_on_request(ctx: Context[LeakyCharm], tmp_path: Path) -> None:
    out = run(ctx, "exec-env", tmp_path)
    assert find_leaks(out, [SECRET], ctx=ctx) == []
    leaks = find_leaks(out, [SECRET], ctx=ctx, include_pebble_environment=True)
    assert [leak.place for leak in leaks] == ["exec:workload[0]:environment:MYSQL_PWD"]


@pytest.mark.parametrize(
    ("where", "place"),
    [("action-log", "action-log[0]"), ("action-result", "action-results:conn.password")],
)
def test_action_output_is_scanned(ctx: Context[LeakyCharm], where: str, place: str) -> None:
    state = State(config={"where": where, "plant": SECRET})
    out = ctx.run(ctx.on.action("show"), state)
    assert [leak.place for leak in find_leaks(out, [SECRET], ctx=ctx)] == [place]


def test_explicit_juju_log_lines() -> None:
    lines = [JujuLogLine("INFO", "fine"), f"DEBUG token={SECRET}"]
    assert find_leaks(State(), [SECRET], juju_log=lines) == [
        Leak("juju-log[1]", "secret #0 (plain)")
    ]


def test_allow_accepts_documented_legacy_fields(ctx: Context[LeakyCharm], tmp_path: Path) -> None:
    out = run(ctx, "app-data", tmp_path)
    assert find_leaks(out, [SECRET], allow=["relation:db:*:app:password"]) == []
    assert find_leaks(out, [SECRET], allow=["relation:db:*:unit:*"]) != []


def config_map(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "kubeflow"},
        **fields,
    }


class FakeStore:
    def __init__(self, objects: list[Any]):
        self._objects = objects

    def objects(self) -> list[Any]:
        return self._objects


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("obj", "place", "form"),
    [
        (
            config_map("plain", data={"settings": f'{{"password": "{SECRET}"}}'}),
            "k8s:ConfigMap/kubeflow/plain:data.settings",
            "plain",
        ),
        (
            config_map("bin", binaryData={"pw": b64(SECRET)}),
            "k8s:ConfigMap/kubeflow/bin:binaryData.pw",
            "base64",
        ),
        (
            config_map("blob", data={"x": "prefix " + b64(f"user:{SECRET}\nmore")}),
            "k8s:ConfigMap/kubeflow/blob:data.x",
            "base64",
        ),
        (
            config_map("blob1", data={"x": b64(f"a{SECRET}")}),
            "k8s:ConfigMap/kubeflow/blob1:data.x",
            "base64",
        ),
        (
            config_map("blob2", data={"x": b64(f"ab{SECRET}")}),
            "k8s:ConfigMap/kubeflow/blob2:data.x",
            "base64",
        ),
        (
            config_map(
                "urlsafe",
                data={"x": base64.urlsafe_b64encode(b"??>" + SECRET.encode() + b"?>").decode()},
            ),
            "k8s:ConfigMap/kubeflow/urlsafe:data.x",
            "base64",
        ),
        (
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": "d",
                    "namespace": "kubeflow",
                    "annotations": {"note": f"uses {SECRET}"},
                },
            },
            "k8s:Deployment/kubeflow/d:metadata.annotations.note",
            "plain",
        ),
        (
            {"kind": "ClusterRole", "metadata": {"name": "cr", "labels": {"k": SECRET}}},
            "k8s:ClusterRole/-/cr:metadata.labels.k",
            "plain",
        ),
    ],
)
def test_k8s_objects_are_scanned_with_base64_forms(obj: Any, place: str, form: str) -> None:
    leaks = find_leaks(State(), [SECRET], k8s=FakeStore([obj]))
    assert leaks == [Leak(place, f"secret #0 ({form})")]


def test_short_secret_found_by_decoding() -> None:
    cm = config_map("short", binaryData={"pw": b64("user=xy;")})  # "xy": no base64 needles
    assert find_leaks(State(), ["xy"], k8s=[cm]) == [
        Leak("k8s:ConfigMap/kubeflow/short:binaryData.pw", "secret #0 (base64-decoded)")
    ]


def test_k8s_secrets_are_allowed_and_lightkube_objects_accepted() -> None:
    objs = [
        K8sSecret(
            metadata=ObjectMeta(name="s", namespace="kubeflow"), stringData={"password": SECRET}
        ),
        ConfigMap(metadata=ObjectMeta(name="c", namespace="kubeflow"), data={"pw": SECRET}),
    ]
    assert find_leaks(State(), [SECRET], k8s=objs) == [
        Leak("k8s:ConfigMap/kubeflow/c:data.pw", "secret #0 (plain)")
    ]
    assert find_leaks(State(), [SECRET], k8s={"key": objs[0]}) == []


def test_fake_kubernetes_store_is_scanned() -> None:
    from kfcharm.testing.fake_k8s import FakeKubernetes

    fake = FakeKubernetes()
    fake.add(
        config_map("cfg", data={"dsn": f"mysql://katib:{SECRET}@mysql:3306/katib"}),
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds", "namespace": "kubeflow"},
            "data": {"password": b64(SECRET)},
        },
    )
    assert find_leaks(State(), [SECRET], k8s=fake) == [
        Leak("k8s:ConfigMap/kubeflow/cfg:data.dsn", "secret #0 (plain)")
    ]


def test_clean_k8s_store_has_no_findings() -> None:
    objs = [config_map("c", data={"a": "b", "blob": b64("nothing to see here")})]
    assert find_leaks(State(), [SECRET], k8s=FakeStore(objs)) == []


def test_unknown_k8s_object_type_is_an_error() -> None:
    with pytest.raises(TypeError, match="cannot scan"):
        find_leaks(State(), [SECRET], k8s=[object()])


@pytest.mark.parametrize("secrets", [[""], [None]])
def test_empty_secret_is_rejected(secrets: list[Any]) -> None:
    with pytest.raises(ValueError, match="non-empty strings"):
        find_leaks(State(), secrets)


def test_recording_context_keeps_outputs_and_finds_secret_values():
    import ops
    from kfcharm.testing import RecordingContext, juju_secret_values
    from ops import testing

    class Leaky(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            framework.observe(self.on.config_changed, self._on_config_changed)
            framework.observe(self.on.update_status, self._on_update_status)

        def _on_config_changed(self, _: ops.EventBase) -> None:
            content = self.model.get_secret(label="creds").get_content()
            self.unit.status = ops.ActiveStatus(f"password is {content['password']}")

        def _on_update_status(self, _: ops.EventBase) -> None:
            raise RuntimeError("boom")

    ctx = RecordingContext(Leaky, meta={"name": "leaky"})
    secret = testing.Secret({"password": "hunter2-hunter2", "user": "bob"}, label="creds")
    state = testing.State(secrets={secret})
    ctx.run(ctx.on.config_changed(), state)
    with pytest.raises(testing.errors.UncaughtCharmError):
        ctx.run(ctx.on.update_status(), state)
    assert len(ctx.outputs) == 2
    assert ctx.outputs[1] is state
    values = juju_secret_values(ctx.outputs, {"password"})
    assert values == {"hunter2-hunter2"}
    assert juju_secret_values(ctx.outputs, min_length=3) == {"hunter2-hunter2", "bob"}
    assert juju_secret_values(ctx.outputs, lambda key: key.startswith("u"), min_length=3) == {
        "bob"
    }
    leaks = find_leaks(ctx.outputs[0], values, ctx=ctx)
    assert [leak.place for leak in leaks] == ["status:unit"]
