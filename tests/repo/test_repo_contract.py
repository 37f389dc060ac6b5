"""The repository keeps its promises to users and CI.

The README's Quick start names exactly two commands (the main job and the test suite);
`.ci/run` must run that same test command; both must exist and be executable; and the
`kfbundle` wrapper must install what the simulated model needs (every charm's requirements).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the Quick start has no sh code block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_quick_start_has_the_main_job_and_the_test_command():
    assert quick_start_commands() == ["./kfbundle deploy", "./run-tests"]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [
        line.strip()
        for line in ci.splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "set ", "cd "))
    ]
    assert commands == ["exec ./run-tests"]


def test_commands_are_executable_scripts():
    for name in ("kfbundle", "run-tests", ".ci/run"):
        path = ROOT / name
        assert path.is_file(), name
        assert os.access(path, os.X_OK), f"{name} is not executable"
        assert path.read_text().startswith("#!/usr/bin/env bash"), name


def test_run_tests_installs_the_real_servers_it_needs():
    script = (ROOT / "run-tests").read_text()
    for package in ("mariadb-server", "prometheus", "python3-venv"):
        assert package in script, f"run-tests does not install {package}"


def test_kfbundle_wrapper_installs_every_charm_requirements():
    script = (ROOT / "kfbundle").read_text()
    assert "charms/*/requirements.txt" in script
    assert "lib/kfbundle[simulate" in script
