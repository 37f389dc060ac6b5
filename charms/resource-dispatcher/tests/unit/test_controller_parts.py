"""Controller parts without Kubernetes: handoff files, metrics exposition, the vendor bundle."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
import resource_dispatcher as rd
from dispatcher.handoff import (
    ControllerStatus,
    HandoffEntry,
    HandoffError,
    LabelSelector,
    decode_manifests,
    encode_manifests,
)
from dispatcher.metrics import Metrics, serve
from dispatcher.vendor import VendorError, activate

from tests.unit.cluster import config_map, entry, pod_default, s3_secret, ten_manifests

SRC = Path(__file__).resolve().parents[2] / "src"


def test_manifests_file_round_trips_in_a_stable_order():
    entries = ten_manifests()
    text = encode_manifests(entries)

    assert encode_manifests(list(reversed(entries))) == text
    assert sorted(decode_manifests(text), key=lambda e: e.name) == sorted(
        entries, key=lambda e: e.name
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json", "not valid JSON"),
        ('{"format": 2, "manifests": []}', "not format 1"),
        ('{"format": 1}', "no 'manifests' list"),
        ('{"format": 1, "manifests": [1]}', "is not an object"),
        (
            '{"format": 1, "manifests": [{"endpoint": "secrets", "source": "a", '
            '"manifest": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}}]}',
            "is not a Secret",
        ),
    ],
)
def test_malformed_manifests_files_are_rejected_with_a_reason(text, reason):
    with pytest.raises(HandoffError, match=reason):
        decode_manifests(text)


def test_duplicate_object_in_a_file_is_rejected():
    text = encode_manifests([entry(config_map("a")), entry(config_map("a"), source="other")])
    with pytest.raises(HandoffError, match="twice"):
        decode_manifests(text)


def test_error_messages_never_quote_secret_data():
    bad = s3_secret()
    bad["metadata"]["namespace"] = "elsewhere"
    text = encode_manifests([HandoffEntry("secrets", "mlflow", bad)])
    with pytest.raises(HandoffError) as err:
        decode_manifests(text)
    assert bad["data"]["AWS_SECRET_ACCESS_KEY"] not in str(err.value)


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("user.kubeflow.org/enabled=true", "user.kubeflow.org/enabled", "true"),
        (" team = ml ", "team", "ml"),
        ("kubeflow-user", "kubeflow-user", None),
        ("a/b=", "a/b", ""),
    ],
)
def test_label_selector_parses(text, key, value):
    selector = LabelSelector.parse(text)
    assert (selector.key, selector.value) == (key, value)


@pytest.mark.parametrize(
    "text", ["", "=x", "bad key=1", "k=" + "v" * 64, "Upper.Case/x=1", "k=a b"]
)
def test_label_selector_rejects_invalid_labels(text):
    with pytest.raises(HandoffError):
        LabelSelector.parse(text)


def test_label_selector_matching():
    exact, exists = LabelSelector.parse("a=1"), LabelSelector.parse("a")
    assert exact.matches({"a": "1"})
    assert not exact.matches({"a": "2"})
    assert not exact.matches(None)
    assert exists.matches({"a": "2"})
    assert not exists.matches({"b": "1"})


@pytest.mark.parametrize(
    "text", ["", "[]", '{"state": "weird"}', "{", '{"state": "ready", "namespaces": "x"}']
)
def test_controller_status_decodes_anything_without_raising(text):
    status = ControllerStatus.decode(text)
    assert status.state in ("failed", "ready")
    if status.state == "ready":
        assert status.namespaces == 0


def test_metrics_exposition_is_prometheus_text():
    metrics = Metrics()
    metrics.namespaces.set(3)
    metrics.applied.inc(2, operation="create")
    metrics.errors.inc(reason='quote"d')
    metrics.latency.observe(0.2)
    metrics.latency.observe(7)

    text = metrics.exposition()

    assert "# TYPE dispatcher_namespaces_watched gauge\ndispatcher_namespaces_watched 3\n" in text
    assert 'dispatcher_objects_applied_total{operation="create"} 2' in text
    assert 'dispatcher_errors_total{reason="quote\\"d"} 1' in text
    assert 'dispatcher_change_to_applied_seconds_bucket{le="0.25"} 1' in text
    assert 'dispatcher_change_to_applied_seconds_bucket{le="10"} 2' in text
    assert 'dispatcher_change_to_applied_seconds_bucket{le="+Inf"} 2' in text
    assert "dispatcher_change_to_applied_seconds_count 2" in text
    with pytest.raises(ValueError, match="only go up"):
        metrics.applied.inc(-1)


def test_metrics_server_serves_metrics_and_health():
    ready = {"value": False}
    metrics = Metrics()
    metrics.manifests.set(10)
    server = serve(metrics, 0, ready=lambda: ready["value"], host="127.0.0.1")
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        body = urllib.request.urlopen(f"{base}/metrics", timeout=5).read().decode()  # noqa: S310
        assert "dispatcher_manifests 10" in body
        assert urllib.request.urlopen(f"{base}/healthz", timeout=5).status == 200  # noqa: S310
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{base}/readyz", timeout=5)  # noqa: S310
        assert err.value.code == 503
        ready["value"] = True
        assert urllib.request.urlopen(f"{base}/readyz", timeout=5).status == 200  # noqa: S310
    finally:
        server.shutdown()


def test_dependency_bundle_makes_lightkube_importable_without_site_packages(tmp_path):
    bundle = rd.CodeBundle.current()
    assert any(d.startswith("lightkube==") for d in bundle.distributions)
    zip_path = tmp_path / "vendor.zip"
    zip_path.write_bytes(bundle.archive())
    app = tmp_path / "app" / "dispatcher"
    app.mkdir(parents=True)
    for name, data in bundle.sources.items():
        (app / name).write_bytes(data)
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from dispatcher.vendor import activate; from pathlib import Path;"
        "target = activate(Path(sys.argv[2]));"
        "import lightkube, dispatcher.kube, dispatcher.runner;"
        "assert lightkube.__file__.startswith(str(target)), lightkube.__file__;"
        "print('ok', target.name)"
    )
    # -S: no site-packages at all, as in a bare python image.
    result = subprocess.run(
        [sys.executable, "-S", "-c", script, str(app.parent), str(zip_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok vendor-")
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert "lightkube/__init__.py" in names


def test_bundle_for_another_python_is_refused_clearly(tmp_path):
    path = tmp_path / "vendor.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("BUNDLE.json", json.dumps({"python": "2.7", "fingerprint": "x"}))
    with pytest.raises(VendorError, match=r"built for Python 2\.7"):
        activate(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(VendorError, match="cannot open"):
        activate(path)


def test_bundle_fingerprint_is_stable_and_tracks_the_sources(monkeypatch):
    first, second = rd.CodeBundle.current(), rd.CodeBundle.current()
    assert first.fingerprint == second.fingerprint
    sources = {**first.sources, "extra.py": b"x = 1\n"}
    monkeypatch.setattr(rd, "package_sources", lambda: sources)
    assert rd.CodeBundle.current().fingerprint != first.fingerprint


def test_controller_standby_mode_serves_health_without_kubernetes(tmp_path):
    status = tmp_path / "status.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dispatcher",
            "--manifests",
            str(tmp_path / "m.json"),
            "--label",
            "a=b",
            "--owner",
            "rd",
            "--owner-namespace",
            "kf",
            "--standby",
            "--metrics-port",
            "0",
            "--status-file",
            str(status),
        ],
        cwd=SRC,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        import time

        deadline = time.monotonic() + 10
        while not status.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ControllerStatus.decode(status.read_text()).message.startswith("standby")
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, out


def test_controller_refuses_an_invalid_label_with_a_status(tmp_path):
    status = tmp_path / "status.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dispatcher",
            "--manifests",
            str(tmp_path / "m.json"),
            "--label",
            "bad key",
            "--owner",
            "rd",
            "--owner-namespace",
            "kf",
            "--status-file",
            str(status),
            "--bundle",
            str(tmp_path / "none.zip"),
        ],
        cwd=SRC,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert ControllerStatus.decode(status.read_text()).state == "failed"


def test_pod_default_fixture_is_valid_for_its_endpoint():
    assert entry(pod_default()).endpoint == "pod-defaults"
