"""Run every charm's unit tests, each in its own pytest process.

Every charm's entry module is `charm`, so two charms cannot share one interpreter.
Extra arguments are passed to each pytest run. Exits non-zero when any charm fails.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def charm_dirs() -> list[Path]:
    """Charm directories that have unit tests."""
    return sorted(
        p
        for p in (ROOT / "charms").iterdir()
        if (p / "charmcraft.yaml").is_file() and (p / "tests").is_dir()
    )


def main(argv: list[str]) -> int:
    """Run the tests of each charm and summarise."""
    results: list[tuple[str, int, float]] = []
    for charm in charm_dirs():
        start = time.monotonic()
        sys.stdout.write(f"\n=== {charm.name} ===\n")
        sys.stdout.flush()
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", *argv], cwd=charm, check=False
        )
        results.append((charm.name, proc.returncode, time.monotonic() - start))
    sys.stdout.write("\n=== charm unit tests ===\n")
    for name, code, took in results:
        sys.stdout.write(
            f"{name:24} {'ok' if code == 0 else f'FAILED ({code})':12} {took:6.1f}s\n"
        )
    failed = [name for name, code, _ in results if code != 0]
    if not results:
        sys.stdout.write("no charm has tests\n")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
