"""Integration tests run against a real Juju controller on Kubernetes.

They skip, naming what is missing, when there is no `juju` client or no reachable
controller. Charms come from `<CHARM>_CHARM_PATH` environment variables (e.g.
`KATIB_CHARM_PATH=build/katib_ubuntu@24.04-amd64.charm`) or from build/*.charm.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

OUR_CHARMS = (
    "kubeflow-dashboard",
    "kubeflow-profiles",
    "katib",
    "kserve",
    "resource-dispatcher",
    "mysql",
    "minio",
)

ROOT = Path(__file__).resolve().parents[2]


def controller_problem() -> str | None:
    """Why no real controller can be used here, or None when one is reachable."""
    if shutil.which("juju") is None:
        return "no `juju` client on PATH (install the juju snap and bootstrap a controller on k8s)"
    try:
        proc = subprocess.run(
            ["juju", "show-controller", "--format", "json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"`juju show-controller` failed: {err}"
    if proc.returncode != 0:
        return (
            f"no reachable Juju controller: {proc.stderr.strip() or 'juju show-controller failed'}"
        )
    return None


def charm_path(name: str) -> Path | None:
    """The packed .charm for `name`, from <NAME>_CHARM_PATH or build/."""
    env = os.environ.get(f"{name.upper().replace('-', '_')}_CHARM_PATH")
    if env:
        return Path(env)
    found = sorted((ROOT / "build").glob(f"{name}_*.charm"))
    return found[0] if found else None


@pytest.fixture(scope="session")
def juju():
    """A temporary jubilant model, or a skip naming what is missing."""
    problem = controller_problem()
    if problem:
        pytest.skip(problem)
    jubilant = pytest.importorskip(
        "jubilant", reason="jubilant is not installed (tox -e integration)"
    )
    with jubilant.temp_model() as juju:
        juju.wait_timeout = 60 * 60
        yield juju


@pytest.fixture(scope="module")
def local_charms(tmp_path_factory) -> Path:
    """A directory with one packed .charm per charm of ours, or a skip naming the missing."""
    directory = tmp_path_factory.mktemp("charms")
    missing = []
    for name in OUR_CHARMS:
        path = charm_path(name)
        if path is None or not path.is_file():
            missing.append(name)
            continue
        (directory / f"{name}_{path.name.split('_', 1)[-1]}").symlink_to(path.resolve())
    if missing:
        pytest.skip(f"no packed charm for {', '.join(missing)}: run `tox -e pack` on Ubuntu")
    return directory
