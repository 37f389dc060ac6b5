"""The pack step stages each charm completely.

For every charm: the staged tree has a parseable charmcraft.yaml, src/charm.py and
lib/kfcharm, ships no tests, and in a fresh virtual environment holding only that charm's
requirements.txt both `kfcharm` and the charm module import (so requirements.txt is complete).
Fresh environments are built once per distinct requirements file and reused.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import pack  # noqa: E402  (tools/ is not a package; path set just above)

CHARMS = pack.charm_names()


@pytest.fixture(scope="session")
def staged_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build")
    for name in CHARMS:
        pack.stage(name, out)
    return out


@pytest.fixture(scope="session")
def fresh_venvs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Cache: requirements digest -> venv python."""
    return {"__root__": tmp_path_factory.mktemp("venvs")}


def _venv_for(requirements: Path, cache: dict[str, Path]) -> Path:
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    if digest not in cache:
        where = cache["__root__"] / digest
        venv.EnvBuilder(with_pip=True, clear=True).create(where)
        python = where / "bin" / "python"
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "-r",
                str(requirements),
            ],
            check=True,
        )
        cache[digest] = python
    return cache[digest]


def test_there_are_charms_to_stage():
    assert CHARMS, "no charm with a charmcraft.yaml under charms/"


@pytest.mark.parametrize("name", CHARMS)
def test_staged_tree_is_complete(name: str, staged_root: Path):
    tree = staged_root / name
    meta = yaml.safe_load((tree / "charmcraft.yaml").read_text())
    assert meta["name"] == name
    assert meta["type"] == "charm"
    assert set(meta["platforms"]) >= {"amd64", "arm64", "ppc64le", "s390x"}
    assert (tree / "src" / "charm.py").is_file()
    assert (tree / "requirements.txt").is_file()
    assert (tree / "lib" / "kfcharm" / "__init__.py").is_file()
    assert (tree / "lib" / "kfcharm" / "k8s.py").is_file()
    assert not (tree / "tests").exists(), "tests must not be shipped"
    assert not (tree / "bench").exists(), "benchmarks must not be shipped"
    assert not (tree / "lib" / "kfcharm" / "testing").exists(), "test helpers must not ship"
    assert not list(tree.rglob("__pycache__"))


@pytest.mark.parametrize("name", CHARMS)
def test_staged_charm_imports_with_only_its_requirements(
    name: str, staged_root: Path, fresh_venvs: dict[str, Path]
):
    tree = staged_root / name
    python = _venv_for(tree / "requirements.txt", fresh_venvs)
    code = (
        "import kfcharm, kfcharm.k8s, kfcharm.relations, kfcharm.cos; "
        "import charm; print(charm.__file__)"
    )
    proc = subprocess.run(
        [str(python), "-I", "-c", f"import sys; sys.path[:0] = ['lib', 'src']; {code}"],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("src/charm.py")
