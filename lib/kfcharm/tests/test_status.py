"""Tests of kfcharm.status: Kubernetes errors become actionable statuses."""

from __future__ import annotations

import ops
import pytest
from kfcharm.k8s import (
    K8sConflictError,
    K8sError,
    K8sForbiddenError,
    K8sInvalidError,
    K8sNotFoundError,
    K8sServerError,
    K8sThrottledError,
    K8sTimeoutError,
    ResourceManager,
    load_manifests,
)
from kfcharm.status import StatusError, status_for_k8s_error
from kfcharm.testing import FakeKubernetes

APP = "katib"


def error(cls: type[K8sError], status_code: int | None, message: str = "boom") -> K8sError:
    return cls(message, status_code=status_code, kind="Deployment", name="katib-ui", verb="apply")


def test_forbidden_asks_for_juju_trust():
    status = status_for_k8s_error(error(K8sForbiddenError, 403), APP)

    assert isinstance(status, ops.BlockedStatus)
    assert status.message.endswith("juju trust katib --scope=cluster")
    assert "Deployment/katib-ui" in status.message


@pytest.mark.parametrize(
    ("err", "words"),
    [
        (error(K8sThrottledError, 429), "throttling"),
        (error(K8sServerError, 503), "server error (503)"),
        (error(K8sTimeoutError, None), "unreachable or timed out"),
        (error(K8sConflictError, 409), "changed concurrently"),
        (K8sError("gone", status_code=410, transient=True), "retry"),
    ],
)
def test_transient_errors_wait(err: K8sError, words: str):
    status = status_for_k8s_error(err, APP)

    assert isinstance(status, ops.WaitingStatus)
    assert words in status.message
    assert "retry" in status.message


def test_invalid_object_is_blocked_with_kind_name_and_api_message():
    message = 'Deployment "katib-ui" is invalid: spec.replicas: Invalid value: -1'

    status = status_for_k8s_error(error(K8sInvalidError, 422, message), APP)

    assert isinstance(status, ops.BlockedStatus)
    assert status.message == f"Kubernetes rejected Deployment/katib-ui: {message}"


def test_not_found_is_blocked_and_hints_at_missing_crd():
    status = status_for_k8s_error(
        error(K8sNotFoundError, 404, "the server could not find it"), APP
    )

    assert isinstance(status, ops.BlockedStatus)
    assert "Deployment/katib-ui" in status.message
    assert "the server could not find it" in status.message


def test_other_client_errors_are_blocked_and_long_messages_shortened():
    status = status_for_k8s_error(error(K8sError, 400, "bad " * 100), APP)

    assert isinstance(status, ops.BlockedStatus)
    assert status.message.startswith("Kubernetes API error 400 on Deployment/katib-ui: bad bad")
    assert len(status.message) < 220
    assert status.message.endswith("…")


def test_status_for_real_fault_from_the_manager(fake_k8s: FakeKubernetes):
    rm = ResourceManager(fake_k8s, APP, "kubeflow")
    fake_k8s.inject_fault("apply", status=403)

    with pytest.raises(K8sError) as caught:
        rm.reconcile(load_manifests("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"))

    status = status_for_k8s_error(caught.value, APP)
    assert status == ops.BlockedStatus(
        "Kubernetes denied access to ConfigMap/c: juju trust katib --scope=cluster"
    )


def test_status_error_carries_the_status():
    status = ops.WaitingStatus("waiting for mysql relation data")

    err = StatusError(status)

    assert err.status is status
    assert str(err) == "waiting for mysql relation data"
