"""Run ``promtool`` on a charm's alert rules (``promtool check rules`` / ``test rules``).

Charm rule files follow cosl: either Prometheus rule files (``groups:``) or one rule per file,
and expressions may hold the ``%%juju_topology%%`` placeholder that cosl fills in at runtime.
Before promtool sees them, single-rule files are wrapped into a group named after the file
stem and the placeholder is dropped (an empty matcher). Test files keep their own format;
their ``rule_files`` entries that point into the rules directory are redirected to the
converted copies.

promtool comes from the Debian ``prometheus`` package. When it is missing, the calling test is
skipped with that reason, except under CI (``CI`` set and not ``false``/``0``), where a missing
tool is an error.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

RULE_FILE_SUFFIXES = (".rule", ".rules", ".yml", ".yaml")
TEST_FILE_SUFFIXES = (".yml", ".yaml")
_PLACEHOLDER = re.compile(r"%%juju_topology%%,?")
# After dropping the placeholder, a bare `{}` selector (no metric name) matches nothing valid.
_BARE_SELECTOR = re.compile(r"(^|[^A-Za-z0-9_:\]})])\{\s*\}")


class PromtoolError(AssertionError):
    """promtool reported a failure (or could not run); the message carries its output."""


class PromtoolNotFoundError(PromtoolError):
    """promtool is not installed (under CI, where skipping is not allowed)."""


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def find_promtool() -> str:
    """Path of promtool (``$PROMTOOL`` or ``promtool`` on PATH).

    Returns:
        The executable path.

    Raises:
        PromtoolNotFoundError: promtool is missing and ``CI`` is set.
        pytest.skip.Exception: promtool is missing outside CI (the test is skipped).
    """
    path = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if path:
        return path
    reason = (
        "promtool not found: install the Debian 'prometheus' package "
        "(apt-get install -y prometheus)"
    )
    if _in_ci():
        raise PromtoolNotFoundError(reason + "; CI must not skip this test")
    import pytest  # imported here: only tests reach this, keep it off the module import

    pytest.skip(reason)


def fill_topology_placeholder(expr: str) -> str:
    """Replace cosl's ``%%juju_topology%%`` placeholder with an empty matcher."""
    expr = _PLACEHOLDER.sub("", expr)
    return _BARE_SELECTOR.sub(r'\1{__name__=~".+"}', expr)


def _as_groups_file(data: Any, stem: str, source: Path) -> dict[str, Any]:
    if isinstance(data, dict) and isinstance(data.get("groups"), list):
        groups = data["groups"]
    elif isinstance(data, dict) and "expr" in data and ("alert" in data or "record" in data):
        groups = [{"name": stem, "rules": [data]}]
    else:
        raise PromtoolError(f"{source}: neither a rule groups file nor a single rule")
    for group in groups:
        for rule in group.get("rules", []) if isinstance(group, dict) else []:
            if isinstance(rule, dict) and isinstance(rule.get("expr"), str):
                rule["expr"] = fill_topology_placeholder(rule["expr"])
    return {"groups": groups}


def convert_rules(rules_dir: str | Path, out_dir: str | Path) -> dict[Path, Path]:
    """Write promtool-ready copies of every rule file under ``rules_dir`` into ``out_dir``.

    Args:
        rules_dir: cosl-style rules directory (searched recursively), or a single rule file.
        out_dir: where the converted files go (same relative paths).

    Returns:
        Mapping of original (resolved) path to converted path.

    Raises:
        PromtoolError: a file is not YAML or not a rule file.
    """
    root = Path(rules_dir).resolve()
    if root.is_file():
        files, base = [root], root.parent
    else:
        files = sorted(p for p in root.rglob("*") if p.suffix in RULE_FILE_SUFFIXES)
        base = root
    converted: dict[Path, Path] = {}
    for path in files:
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as e:
            raise PromtoolError(f"{path}: not valid YAML: {e}") from e
        target = Path(out_dir) / path.relative_to(base)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(_as_groups_file(data, path.stem, path), sort_keys=False))
        converted[path] = target
    return converted


def _run(args: Sequence[str], check: bool) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(  # noqa: S603 - fixed executable, arguments are our own files
        list(args), capture_output=True, text=True, check=False, timeout=120
    )
    if check and result.returncode != 0:
        raise PromtoolError(
            f"{' '.join(args[1:3])} failed (exit {result.returncode}):\n"
            f"{result.stdout}{result.stderr}"
        )
    return result


def promtool_check_rules(
    rules_dir: str | Path, *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``promtool check rules`` on the converted rule files.

    Args:
        rules_dir: cosl-style rules directory (or one rule file).
        check: raise `PromtoolError` when promtool reports a problem.

    Returns:
        The completed process (``stdout``/``stderr`` as text).

    Raises:
        PromtoolError: no rule files, or promtool failed and ``check`` is true.
    """
    promtool = find_promtool()
    with tempfile.TemporaryDirectory(prefix="kfcharm-promtool-") as tmp:
        converted = convert_rules(rules_dir, tmp)
        if not converted:
            raise PromtoolError(f"no rule files ({', '.join(RULE_FILE_SUFFIXES)}) in {rules_dir}")
        return _run([promtool, "check", "rules", *map(str, converted.values())], check)


def _redirect_rule_files(test: Any, test_file: Path, converted: dict[Path, Path]) -> Any:
    if not isinstance(test, dict):
        raise PromtoolError(f"{test_file}: a promtool test file must be a mapping")
    redirected: list[str] = []
    for entry in test.get("rule_files") or []:
        pattern = str((test_file.parent / str(entry)).resolve())
        matches = [Path(m).resolve() for m in sorted(glob.glob(pattern))] or [Path(pattern)]
        for match in matches:
            redirected.append(str(converted.get(match, match)))
    test["rule_files"] = redirected
    return test


def promtool_test(
    rules_dir: str | Path, tests_dir: str | Path, *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``promtool test rules`` on every test file of ``tests_dir`` against ``rules_dir``.

    Test files (``*.yaml``/``*.yml``, recursively) are in promtool's unit-test format; their
    ``rule_files`` are relative to the test file, as promtool reads them.

    Args:
        rules_dir: cosl-style rules directory (or one rule file).
        tests_dir: directory of promtool test files (or one test file).
        check: raise `PromtoolError` when a test fails (default); with ``False`` inspect
            ``returncode`` and ``stdout`` yourself.

    Returns:
        The completed process.

    Raises:
        PromtoolError: no test files, unreadable test file, or failing tests with ``check``.
    """
    promtool = find_promtool()
    tests_root = Path(tests_dir).resolve()
    if tests_root.is_file():
        test_files = [tests_root]
    else:
        test_files = sorted(p for p in tests_root.rglob("*") if p.suffix in TEST_FILE_SUFFIXES)
    if not test_files:
        raise PromtoolError(f"no promtool test files (*.yaml, *.yml) in {tests_dir}")
    with tempfile.TemporaryDirectory(prefix="kfcharm-promtool-") as tmp:
        converted = convert_rules(rules_dir, Path(tmp) / "rules")
        written: list[str] = []
        for i, test_file in enumerate(test_files):
            try:
                test = yaml.safe_load(test_file.read_text())
            except yaml.YAMLError as e:
                raise PromtoolError(f"{test_file}: not valid YAML: {e}") from e
            out = Path(tmp) / "tests" / f"{i:03d}-{test_file.name}"
            out.parent.mkdir(parents=True, exist_ok=True)
            test = _redirect_rule_files(test, test_file, converted)
            out.write_text(yaml.safe_dump(test, sort_keys=False))
            written.append(str(out))
        return _run([promtool, "test", "rules", *written], check)
