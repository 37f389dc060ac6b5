"""Test helpers for charms built on kfcharm; never imported by a charm at runtime.

`FakeKubernetes` is an in-memory, validating Kubernetes API server with lightkube's client
interface. `find_leaks` (secret-leak scanner) and `promtool_test` (alert rule tests) are
loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from .fake_k8s import KUBERNETES_VERSION, FakeKubernetes, RequestRecord

__all__ = [
    "KUBERNETES_VERSION",
    "FakeKubernetes",
    "RequestRecord",
    "find_leaks",
    "promtool_test",
]

_LAZY = {"find_leaks": ".leaks", "promtool_test": ".promtool"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
