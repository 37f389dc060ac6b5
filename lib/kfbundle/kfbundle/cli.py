"""The `kfbundle` command line: render, check, graph and deploy the Kubeflow bundle."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

OUR_CHARMS = (
    "kubeflow-dashboard",
    "kubeflow-profiles",
    "katib",
    "kserve",
    "resource-dispatcher",
    "mysql",
    "minio",
)


def find_repo_root(start: Path | None = None) -> Path | None:
    """The checkout holding charms/ and bundle/, searched upwards from `start`."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "charms").is_dir() and (candidate / "lib" / "kfbundle").is_dir():
            return candidate
    return None


def _cmd_deploy(args: argparse.Namespace) -> int:
    root = find_repo_root()
    present = sorted(p.name for p in (root / "charms").iterdir()) if root else []
    sys.stdout.write("kfbundle deploy: would deploy these charms of ours:\n")
    for name in OUR_CHARMS:
        sys.stdout.write(f"  {name:22} {'(in this checkout)' if name in present else '(not yet built)'}\n")
    sys.stdout.write("The simulated and real deployments arrive with the bundle sources.\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="kfbundle",
        description="Render, check, draw and deploy the Kubeflow-on-Juju bundle.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    deploy = sub.add_parser("deploy", help="deploy the bundle (simulated model by default)")
    deploy.add_argument("--model", help="a real Juju model to deploy into")
    deploy.set_defaults(func=_cmd_deploy)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kfbundle` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
