"""The controller's loop: manifests file polling, status file, and live watches (threads)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path

import pytest
from dispatcher.handoff import ControllerStatus, LabelSelector, encode_manifests
from dispatcher.kube import Owner
from dispatcher.reconciler import Backoff, Dispatcher
from dispatcher.runner import Runner, Watcher
from kfcharm.testing import FakeKubernetes
from lightkube.resources.core_v1 import Namespace, Secret

from tests.unit.cluster import (
    LABEL,
    PODDEFAULT_CRD,
    S3_SECRET_KEY,
    config_map,
    entry,
    namespace,
    s3_secret,
    ten_manifests,
)

OWNER = Owner("resource-dispatcher", "kubeflow")


@pytest.fixture
def fake() -> FakeKubernetes:
    cluster = FakeKubernetes(namespace="kubeflow")
    cluster.add(PODDEFAULT_CRD, namespace("alice", LABEL), namespace("kube-system"))
    return cluster


def make_runner(fake: FakeKubernetes, tmp_path: Path, **kwargs) -> Runner:
    d = Dispatcher(
        fake,
        OWNER,
        LabelSelector.parse("user.kubeflow.org/enabled=true"),
        backoff=Backoff(base=0.01, cap=0.05, jitter=False),
    )
    return Runner(d, tmp_path / "manifests.json", tmp_path / "status" / "status.json", **kwargs)


def write(path: Path, entries) -> None:
    path.write_text(encode_manifests(entries))
    # A new mtime even within the filesystem's timestamp granularity.
    stamp = time.time_ns() + 1_000_000_000 * (int(time.time()) % 7 + 1)
    import os

    os.utime(path, ns=(stamp, stamp))


def status_of(runner: Runner) -> ControllerStatus:
    return ControllerStatus.decode(runner.status_path.read_text())


def test_waits_for_the_manifests_file_then_dispatches_it(fake, tmp_path):
    runner = make_runner(fake, tmp_path)
    runner.step()
    assert runner.dispatcher.synced
    assert fake.writes() == []

    write(runner.manifests_path, ten_manifests())
    runner.step()

    assert len(fake.objects(None, "alice")) == 10
    status = status_of(runner)
    assert status.state == "ready"
    assert (status.namespaces, status.manifests) == (1, 10)


def test_unchanged_file_is_not_read_again(fake, tmp_path, monkeypatch):
    runner = make_runner(fake, tmp_path)
    write(runner.manifests_path, ten_manifests())
    runner.step()
    reads = []
    original = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self) or original(self))
    fake.reset_log()

    for _ in range(5):
        runner.step()

    assert reads == []
    assert fake.requests == []


def test_malformed_file_keeps_the_previous_manifests(fake, tmp_path):
    runner = make_runner(fake, tmp_path)
    write(runner.manifests_path, ten_manifests())
    runner.step()
    fake.reset_log()

    runner.manifests_path.write_text('{"format": 1, "manifests": [{"oops": 1}]}')
    runner.step()

    assert fake.writes() == []
    status = status_of(runner)
    assert status.state == "degraded"
    assert "rejected" in status.message


def test_status_file_never_holds_manifest_content(fake, tmp_path):
    runner = make_runner(fake, tmp_path)
    write(runner.manifests_path, [entry(s3_secret())])
    runner.step()

    text = runner.status_path.read_text()
    assert S3_SECRET_KEY not in text
    assert "AWS_SECRET_ACCESS_KEY" not in text
    assert json.loads(text)["manifests"] == 1


def test_forbidden_initial_sync_is_reported_then_recovers(fake, tmp_path):
    runner = make_runner(fake, tmp_path)
    fake.inject_fault("list", "Namespace", status=403, times=1)

    runner.step()
    assert status_of(runner).state == "forbidden"
    assert not runner.dispatcher.synced

    time.sleep(1.1)  # the resync backoff (1s) expires
    runner.step()
    assert runner.dispatcher.synced
    assert status_of(runner).state in ("ready", "starting")


def test_watch_events_drive_the_dispatcher_live(fake, tmp_path):
    """Threads: a watch per kind; namespaces appear, get labelled and lose the label."""
    fake.watch_timeout = None  # watches block until stopped, as on a real API server
    runner = make_runner(fake, tmp_path, poll_interval=0.02)
    write(runner.manifests_path, ten_manifests())
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()

    def eventually(check, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return True
            time.sleep(0.02)
        return False

    try:
        assert eventually(lambda: len(fake.objects(None, "alice")) == 10)
        fake.create(Namespace.from_dict(namespace("carol", LABEL)))
        assert eventually(lambda: len(fake.objects(None, "carol")) == 10)
        fake.create(Namespace.from_dict(namespace("dave")))
        fake.set(Namespace, "dave", labels=LABEL)
        assert eventually(lambda: len(fake.objects(None, "dave")) == 10)
        # Someone deletes a dispatched Secret: the owned-object watch restores it.
        fake.delete(Secret, "mlflow-s3", namespace="carol")
        assert eventually(lambda: fake.find(Secret, "mlflow-s3", "carol") is not None)
        # A changed manifest reaches every namespace.
        changed = ten_manifests()
        changed[4] = entry(config_map("mlflow-settings", "2"))
        write(runner.manifests_path, changed)
        assert eventually(
            lambda: all(
                fake.find("ConfigMap", "mlflow-settings", ns).data == {"v": "2"}
                for ns in ("alice", "carol", "dave")
            )
        )
        fake.set(Namespace, "dave", labels={"user.kubeflow.org/enabled": None})
        assert eventually(lambda: fake.objects(None, "dave") == [])
        assert fake.objects(None, "kube-system") == []
        assert eventually(lambda: status_of(runner).namespaces == 2)
    finally:
        runner.stop.set()
        fake.stop_watches()
        thread.join(timeout=5)
    assert not thread.is_alive()


def test_watcher_restarts_after_errors_and_resyncs_on_gone(fake):
    import queue

    out: queue.Queue = queue.Queue()
    stop = threading.Event()
    fake.inject_fault("watch", "Namespace", status=500, times=1)
    fake.inject_fault("watch", "Namespace", status=410, times=1)
    watcher = Watcher(
        fake, "namespace", Namespace, out, stop, backoff=Backoff(base=0.01, cap=0.01)
    )
    watcher.start()
    items = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(i.source == "namespace" for i in items):
        with contextlib.suppress(queue.Empty):
            items.append(out.get(timeout=0.1))
    stop.set()
    fake.stop_watches()
    watcher.join(timeout=5)

    assert watcher.restarts == 2
    assert next(i.source for i in items) == "resync"
    assert any(i.source == "namespace" and i.event == "ADDED" for i in items)
