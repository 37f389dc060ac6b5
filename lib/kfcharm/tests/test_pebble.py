"""Tests of kfcharm.pebble with ops.testing (a tiny charm defined here)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import ops
import pytest
from kfcharm.pebble import _seconds, ensure_layer, push_if_changed
from ops import pebble, testing

META = {"name": "pebble-test", "containers": {"workload": {"resource": "image"}}}


class PebbleTestCharm(ops.CharmBase):
    """A charm that does nothing by itself: tests drive the helpers through `ctx(...)`."""


def layer(command: str = "/bin/server --port 80", period: str = "10s") -> dict[str, Any]:
    return {
        "summary": "workload",
        "services": {
            "server": {
                "override": "replace",
                "command": command,
                "startup": "enabled",
                "environment": {"LEVEL": "info"},
            }
        },
        "checks": {
            "ready": {
                "override": "replace",
                "level": "ready",
                "period": period,
                "http": {"url": "http://localhost:80/ready"},
            }
        },
        "log-targets": {
            "loki": {
                "override": "replace",
                "type": "loki",
                "location": "http://loki",
                "services": ["all"],
            }
        },
    }


def run_with_container(
    container: testing.Container, action: Callable[[ops.Container], Any]
) -> tuple[Any, testing.State]:
    """Run `action` on the charm's container during an update-status hook."""
    ctx = testing.Context(PebbleTestCharm, meta=META)
    with ctx(ctx.on.update_status(), testing.State(containers={container})) as manager:
        result = action(manager.charm.unit.get_container("workload"))
        state = manager.run()
    return result, state


def test_ensure_layer_adds_layer_and_replans_when_plan_is_empty():
    container = testing.Container("workload", can_connect=True)

    changed, state = run_with_container(container, lambda c: ensure_layer(c, "workload", layer()))

    assert changed is True
    out = state.get_container("workload")
    assert out.plan.services["server"].command == "/bin/server --port 80"
    assert out.plan.log_targets["loki"].type == "loki"
    assert out.service_statuses["server"] == pebble.ServiceStatus.ACTIVE


def test_ensure_layer_does_nothing_when_plan_matches():
    container = testing.Container(
        "workload",
        can_connect=True,
        layers={"workload": pebble.Layer(layer())},  # type: ignore[arg-type]
        service_statuses={"server": pebble.ServiceStatus.INACTIVE},
    )

    changed, state = run_with_container(
        container,
        lambda c: ensure_layer(c, "workload", pebble.Layer(layer())),  # type: ignore[arg-type]
    )

    assert changed is False
    # Not replanned: the (stopped) service was not started.
    assert (
        state.get_container("workload").service_statuses["server"] == pebble.ServiceStatus.INACTIVE
    )


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["services"]["server"].update(command="/bin/server --port 81"),
        lambda d: d["services"]["server"]["environment"].update(LEVEL="debug"),
        lambda d: d["checks"]["ready"].update(threshold=5),
        lambda d: d["log-targets"]["loki"].update(location="http://other"),
        lambda d: d["services"].update(extra={"override": "replace", "command": "sleep 1"}),
    ],
)
def test_ensure_layer_replans_when_anything_changed(edit: Callable[[dict], None]):
    container = testing.Container(
        "workload",
        can_connect=True,
        layers={"workload": pebble.Layer(layer())},  # type: ignore[arg-type]
    )
    desired = layer()
    edit(desired)

    changed, state = run_with_container(container, lambda c: ensure_layer(c, "workload", desired))

    assert changed is True
    assert state.get_container("workload").plan.to_dict()["services"] == desired["services"]


def test_ensure_layer_compares_durations_by_value():
    # Pebble reports "1m" back as "1m0s".
    container = testing.Container(
        "workload",
        can_connect=True,
        layers={"workload": pebble.Layer(layer(period="1m0s"))},  # type: ignore[arg-type]
    )

    changed, _ = run_with_container(
        container, lambda c: ensure_layer(c, "workload", layer(period="1m"))
    )

    assert changed is False


def test_ensure_layer_merge_override_compares_only_keys_it_sets():
    container = testing.Container(
        "workload",
        can_connect=True,
        layers={"workload": pebble.Layer(layer())},  # type: ignore[arg-type]
    )
    same = {"services": {"server": {"override": "merge", "environment": {"LEVEL": "info"}}}}
    other = {"services": {"server": {"override": "merge", "command": "/bin/other"}}}

    unchanged, _ = run_with_container(container, lambda c: ensure_layer(c, "extra", same))
    changed, state = run_with_container(container, lambda c: ensure_layer(c, "extra", other))

    assert unchanged is False
    assert changed is True
    assert state.get_container("workload").plan.services["server"].command == "/bin/other"


def test_ensure_layer_lets_connection_errors_through():
    container = testing.Container("workload", can_connect=False)

    with pytest.raises(pebble.ConnectionError):
        run_with_container(container, lambda c: ensure_layer(c, "workload", layer()))


@pytest.fixture
def mounted(tmp_path: Path) -> tuple[testing.Container, Path]:
    root = tmp_path / "etc"
    root.mkdir()
    mount = testing.Mount(location="/etc/app", source=root)
    return testing.Container("workload", can_connect=True, mounts={"etc": mount}), root


def test_push_if_changed_writes_a_missing_file(mounted: tuple[testing.Container, Path]):
    container, root = mounted

    changed, _ = run_with_container(
        container, lambda c: push_if_changed(c, "/etc/app/conf/app.yaml", "a: 1\n")
    )

    assert changed is True
    assert (root / "conf" / "app.yaml").read_text() == "a: 1\n"


def test_push_if_changed_skips_identical_content(mounted: tuple[testing.Container, Path]):
    container, root = mounted
    (root / "app.yaml").write_bytes(b"a: 1\n")

    same, _ = run_with_container(
        container, lambda c: push_if_changed(c, "/etc/app/app.yaml", b"a: 1\n")
    )
    other, _ = run_with_container(
        container, lambda c: push_if_changed(c, "/etc/app/app.yaml", "a: 2\n")
    )

    assert same is False
    assert other is True
    assert (root / "app.yaml").read_text() == "a: 2\n"


def test_push_if_changed_pushes_again_when_permissions_differ(
    mounted: tuple[testing.Container, Path],
):
    container, root = mounted
    key = root / "tls.key"
    key.write_text("secret")
    key.chmod(0o644)

    relaxed, _ = run_with_container(
        container, lambda c: push_if_changed(c, "/etc/app/tls.key", "secret", permissions=0o644)
    )
    tightened, _ = run_with_container(
        container, lambda c: push_if_changed(c, "/etc/app/tls.key", "secret", permissions=0o600)
    )

    assert relaxed is False
    assert tightened is True
    assert key.stat().st_mode & 0o777 == 0o600


def test_push_if_changed_encodes_text_with_the_given_encoding(
    mounted: tuple[testing.Container, Path],
):
    container, root = mounted

    run_with_container(
        container, lambda c: push_if_changed(c, "/etc/app/x.txt", "na\u00efve", encoding="latin-1")
    )

    assert (root / "x.txt").read_bytes() == b"na\xefve"


def test_push_if_changed_pushes_when_the_file_cannot_be_read():
    pushed = []

    class UnreadableContainer:
        name = "workload"

        def pull(self, path: str, *, encoding: str | None = None):
            raise pebble.PathError("permission-denied", f"cannot read {path}")

        def push(self, path: str, source: bytes, **kwargs: Any) -> None:
            pushed.append((path, source, kwargs))

    changed = push_if_changed(UnreadableContainer(), "/etc/app/x", "x")  # type: ignore[arg-type]

    assert changed is True
    assert pushed == [("/etc/app/x", b"x", {"make_dirs": True})]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10.0), ("1m0s", 60.0), ("1h30m", 5400.0), ("500ms", 0.5), ("1.5s", 1.5)],
)
def test_go_durations_are_parsed(text: str, seconds: float):
    assert _seconds(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "ten", "10", "10s extra"])
def test_unparsable_durations_are_compared_as_text(text: str):
    assert _seconds(text) == text
