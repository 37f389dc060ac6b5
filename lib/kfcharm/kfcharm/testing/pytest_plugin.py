"""Pytest plugin loaded automatically where `kfcharm[testing]` is installed.

It sets a Hypothesis profile suited to state-transition tests (no per-example deadline:
an ops.testing run may take longer than Hypothesis' default 200 ms on a loaded CI machine)
and provides the `fake_k8s` fixture: a FakeKubernetes installed as the client that
`kfcharm.k8s.get_client()` returns for the duration of one test.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from kfcharm.testing.fake_k8s import FakeKubernetes


def pytest_configure(config: pytest.Config) -> None:
    """Register and load the Hypothesis profiles."""
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:  # hypothesis is optional for users of the fake client alone
        return
    slow = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
    settings.register_profile("ci", deadline=None, max_examples=40, suppress_health_check=slow)
    settings.register_profile("dev", deadline=None, max_examples=15, suppress_health_check=slow)
    settings.register_profile(
        "thorough", deadline=None, max_examples=400, suppress_health_check=slow
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def fake_k8s(monkeypatch: pytest.MonkeyPatch) -> FakeKubernetes:
    """A fresh fake Kubernetes API server, installed as kfcharm's client."""
    from kfcharm.testing.fake_k8s import FakeKubernetes

    fake = FakeKubernetes()
    fake.install(monkeypatch)  # undone by monkeypatch at teardown
    return fake
