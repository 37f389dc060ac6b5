"""Stage every charm for packing, then pack where charmcraft can.

`charmcraft pack` only sees the charm's own directory, so the shared library must be
copied in: each charm is staged into build/<charm>/ with lib/kfcharm/kfcharm placed at
build/<charm>/lib/kfcharm (the charm's `lib/` is on PYTHONPATH at runtime). Where
charmcraft is installed and can build (an Ubuntu host with LXD, or `--destructive-mode`
on a matching Ubuntu), the staged tree is packed; elsewhere the tool says it staged only.

Usage: python tools/pack.py [--charm NAME ...] [--out DIR] [--stage-only]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "lib" / "kfcharm" / "kfcharm"
# Paths never shipped in a packed charm.
IGNORED = shutil.ignore_patterns(
    "tests",
    "bench",
    "__pycache__",
    "*.pyc",
    ".pytest_cache",
    ".hypothesis",
    ".venv",
    "build",
    "*.charm",
    ".coverage",
    "pyproject.toml",
    ".ruff_cache",
    ".mypy_cache",
)
LIBRARY_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "testing")


def charm_names() -> list[str]:
    """Names of all charms in the repository."""
    return sorted(p.name for p in (ROOT / "charms").iterdir() if (p / "charmcraft.yaml").is_file())


def stage(name: str, out: Path) -> Path:
    """Copy charm `name` and the shared library into `out/name`; return the staged dir."""
    source = ROOT / "charms" / name
    if not (source / "charmcraft.yaml").is_file():
        raise SystemExit(f"no charm named {name!r} under charms/")
    target = out / name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=IGNORED)
    shutil.copytree(LIBRARY, target / "lib" / "kfcharm", ignore=LIBRARY_IGNORED)
    return target


def can_pack() -> tuple[bool, str]:
    """Whether charmcraft can pack here, and why not when it cannot."""
    if shutil.which("charmcraft") is None:
        return False, "charmcraft is not installed"
    try:
        os_release = Path("/etc/os-release").read_text()
    except OSError:
        os_release = ""
    if "ID=ubuntu" not in os_release and shutil.which("lxc") is None:
        return False, "charmcraft needs LXD or an Ubuntu host, and this machine has neither"
    return True, ""


def main(argv: list[str]) -> int:
    """Stage the requested charms and pack them when possible."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charm", action="append", help="charm to stage (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "build", help="staging directory")
    parser.add_argument("--stage-only", action="store_true", help="never run charmcraft")
    args = parser.parse_args(argv)
    names = args.charm or charm_names()
    args.out.mkdir(parents=True, exist_ok=True)
    staged = [stage(name, args.out) for name in names]
    for path in staged:
        sys.stdout.write(
            f"staged {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}\n"
        )
    ok, why = (False, "--stage-only given") if args.stage_only else can_pack()
    if not ok:
        sys.stdout.write(
            f"\nStaged only: {why}.\nTo pack, on an Ubuntu host with LXD and charmcraft "
            "(`sudo snap install charmcraft --classic; sudo snap install lxd; lxd init --auto`):\n"
            "  tox -e pack   # or: cd build/<charm> && charmcraft pack\n"
        )
        return 0
    for path in staged:
        sys.stdout.write(f"packing {path.name} ...\n")
        subprocess.run(["charmcraft", "pack", "--verbose"], cwd=path, check=True)
        for charm_file in path.glob("*.charm"):
            shutil.move(str(charm_file), args.out / charm_file.name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
