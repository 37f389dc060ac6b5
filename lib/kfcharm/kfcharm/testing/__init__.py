"""Test helpers for charms built on kfcharm; never imported by a charm at runtime.

`FakeKubernetes` is an in-memory, validating Kubernetes API server with lightkube's client
interface; `find_leaks` scans for leaked secrets; `promtool_test` runs alert rule tests.

Names are imported on first use (PEP 562): this package is imported by kfcharm's pytest
plugin before pytest-cov starts measuring, and an eager import would hide the import-time
lines of `kfcharm.k8s` and `fake_k8s` from coverage reports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .fake_k8s import KUBERNETES_VERSION, FakeKubernetes, RequestRecord
    from .leaks import RecordingContext, find_leaks, juju_secret_values
    from .promtool import promtool_test

__all__ = [
    "KUBERNETES_VERSION",
    "FakeKubernetes",
    "RecordingContext",
    "RequestRecord",
    "find_leaks",
    "juju_secret_values",
    "promtool_test",
]

_LAZY = {
    "KUBERNETES_VERSION": ".fake_k8s",
    "FakeKubernetes": ".fake_k8s",
    "RequestRecord": ".fake_k8s",
    "find_leaks": ".leaks",
    "RecordingContext": ".leaks",
    "juju_secret_values": ".leaks",
    "promtool_test": ".promtool",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
