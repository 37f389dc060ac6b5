"""Benchmarks (numbers reported, never asserted): `tox -e bench`.

1. The simulated deploy of the full bundle (with and without the overlays): wall time, hook
   runs, Kubernetes requests and writes, and hook runs per second.
2. charms/resource-dispatcher/bench/bench_dispatch.py, when that charm ships one.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bench_simulated_deploy(release: str, overlays: list[str]) -> dict[str, float]:
    """One simulated deploy; its numbers."""
    from kfbundle.render import render
    from kfbundle.simulate import SimulatedModel
    from kfbundle.sources import load_sources

    sources = load_sources(ROOT)
    bundle = render(sources, release, overlays=overlays).bundle
    start = time.perf_counter()
    result = SimulatedModel(sources, bundle).deploy()
    wall = time.perf_counter() - start
    return {
        "wall_s": wall,
        "hook_runs": result.hook_runs,
        "hooks_per_s": result.hook_runs / wall if wall else 0.0,
        "k8s_requests": result.k8s_requests,
        "k8s_writes": result.k8s_writes,
        "all_active": float(result.all_active),
    }


def main() -> int:
    """Run the benchmarks and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", default="latest")
    parser.add_argument("--repeat", type=int, default=1, help="runs per scenario (best is shown)")
    args = parser.parse_args()
    out = sys.stdout
    out.write("scenario                     wall_s  hooks  hooks/s  k8s_req  k8s_writes  active\n")
    for overlays in ([], ["cos", "mlflow"]):
        runs = [bench_simulated_deploy(args.release, overlays) for _ in range(args.repeat)]
        best = min(runs, key=lambda r: r["wall_s"])
        name = f"deploy {args.release}" + ("+" + "+".join(overlays) if overlays else "")
        cells = [
            f"{name:28}",
            f"{best['wall_s']:6.1f}",
            f"{best['hook_runs']:5.0f}",
            f"{best['hooks_per_s']:7.1f}",
            f"{best['k8s_requests']:7.0f}",
            f"{best['k8s_writes']:10.0f}",
            str(bool(best["all_active"])),
        ]
        out.write("  ".join(cells) + "\n")
    dispatch = ROOT / "charms" / "resource-dispatcher" / "bench" / "bench_dispatch.py"
    if dispatch.is_file():
        out.write(f"\n{dispatch.relative_to(ROOT)}:\n")
        out.flush()
        return subprocess.run([sys.executable, str(dispatch)], check=False).returncode
    out.write(f"\n({dispatch.relative_to(ROOT)} not present: skipped)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
