"""Benchmark the dispatcher controller on the kfcharm fake Kubernetes (numbers, not asserts).

1000 labelled namespaces x 10 manifests: wall time, requests and bytes for
1. the initial fan-out (first full sync),
2. one new labelled namespace,
3. one changed manifest,
4. a steady-state resync (controller restart with nothing to do).

Run: python charms/resource-dispatcher/bench/bench_dispatch.py [--namespaces N] [--json]
(the root `tox -e bench` calls it). The fake validates every object against the Kubernetes
OpenAPI schemas, so wall times include that validation: a real API server's latency
differs, the request counts do not.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

CHARM = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(CHARM / "src"), str(CHARM)]

from dispatcher.handoff import LabelSelector  # noqa: E402
from dispatcher.kube import Owner  # noqa: E402
from dispatcher.reconciler import Dispatcher  # noqa: E402
from kfcharm.testing import FakeKubernetes  # noqa: E402
from tests.unit.cluster import (  # noqa: E402
    LABEL,
    PODDEFAULT_CRD,
    config_map,
    entry,
    namespace,
    ten_manifests,
)


def measure(fake: FakeKubernetes, label: str, action) -> dict:
    """Run `action` and return its wall time and the requests it made."""
    fake.reset_log()
    start = time.perf_counter()
    action()
    took = time.perf_counter() - start
    requests = fake.requests
    return {
        "step": label,
        "seconds": round(took, 4),
        "requests": len(requests),
        "writes": len(fake.writes()),
        "bytes": fake.bytes(),
        "by_verb": {
            verb: sum(1 for r in requests if r.verb == verb)
            for verb in sorted({r.verb for r in requests})
        },
    }


def main(argv: list[str]) -> int:
    """Run the benchmark and print a table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--namespaces", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    fake = FakeKubernetes(namespace="kubeflow")
    fake.add(PODDEFAULT_CRD, namespace("kubeflow"), namespace("kube-system"))
    fake.add(*(namespace(f"user-{i:04d}", LABEL) for i in range(args.namespaces)))
    manifests = ten_manifests()
    dispatcher = Dispatcher(
        fake,
        Owner("resource-dispatcher", "kubeflow"),
        LabelSelector.parse("user.kubeflow.org/enabled=true"),
    )
    dispatcher.set_manifests(manifests)

    results = [measure(fake, f"initial fan-out ({args.namespaces} ns x 10)", dispatcher.resync)]
    fake.add(namespace("newcomer", LABEL))
    results.append(
        measure(
            fake,
            "one new labelled namespace",
            lambda: dispatcher.namespace_event("ADDED", "newcomer", LABEL),
        )
    )
    changed = list(manifests)
    changed[4] = entry(config_map("mlflow-settings", "2"))
    results.append(
        measure(fake, "one changed manifest", lambda: dispatcher.set_manifests(changed))
    )
    restarted = Dispatcher(
        fake,
        Owner("resource-dispatcher", "kubeflow"),
        LabelSelector.parse("user.kubeflow.org/enabled=true"),
    )
    restarted.set_manifests(changed)
    results.append(measure(fake, "restart, nothing to do (full resync)", restarted.resync))

    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    print(f"{'step':42} {'seconds':>9} {'requests':>9} {'writes':>7} {'bytes':>11}  verbs")
    for r in results:
        verbs = ", ".join(f"{k} {v}" for k, v in r["by_verb"].items())
        print(
            f"{r['step']:42} {r['seconds']:9.3f} {r['requests']:9d} {r['writes']:7d} "
            f"{r['bytes']:11d}  {verbs}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
