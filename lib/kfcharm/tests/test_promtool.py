"""promtool helpers: cosl-style rules converted, passing and failing unit tests, missing tool."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from kfcharm.testing import promtool as promtool_mod
from kfcharm.testing.promtool import (
    PromtoolError,
    PromtoolNotFoundError,
    convert_rules,
    fill_topology_placeholder,
    find_promtool,
    promtool_check_rules,
    promtool_test,
)

GROUPS_FILE = """\
groups:
  - name: katib
    rules:
      - alert: KatibControllerDown
        expr: up{%%juju_topology%%,job="katib"} < 1
        for: 5m
        labels:
          severity: critical
        annotations:
          summary: katib controller {{ $labels.instance }} is down
"""
SINGLE_RULE = """\
alert: KatibUiDown
expr: up{%%juju_topology%%} == 0
for: 1m
labels:
  severity: warning
"""
PASSING_TEST = """\
rule_files:
  - ../rules/katib.rules
  - ../rules/ui/*.rule
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{job="katib", instance="katib-0"}'
        values: '0x10'
      - series: 'up{job="ui", instance="ui-0"}'
        values: '1 0 0 0'
    alert_rule_test:
      - eval_time: 6m
        alertname: KatibControllerDown
        exp_alerts:
          - exp_labels:
              severity: critical
              job: katib
              instance: katib-0
            exp_annotations:
              summary: katib controller katib-0 is down
      - eval_time: 3m
        alertname: KatibUiDown
        exp_alerts:
          - exp_labels: {severity: warning, job: katib, instance: katib-0}
          - exp_labels: {severity: warning, job: ui, instance: ui-0}
"""


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    rules = tmp_path / "rules"
    (rules / "ui").mkdir(parents=True)
    (rules / "katib.rules").write_text(GROUPS_FILE)
    (rules / "ui" / "ui.rule").write_text(SINGLE_RULE)
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_katib.yaml").write_text(PASSING_TEST)
    return rules, tests


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("up{%%juju_topology%%} < 1", "up{} < 1"),
        ('up{%%juju_topology%%,job="x"} < 1', 'up{job="x"} < 1'),
        ("sum(rate({%%juju_topology%%}[5m]))", 'sum(rate({__name__=~".+"}[5m]))'),
        ("{%%juju_topology%%}", '{__name__=~".+"}'),
        ("rate(x[5m]) > 0", "rate(x[5m]) > 0"),
    ],
)
def test_fill_topology_placeholder(expr: str, expected: str) -> None:
    assert fill_topology_placeholder(expr) == expected


def test_convert_rules_wraps_single_rules(layout: tuple[Path, Path], tmp_path: Path) -> None:
    rules, _ = layout
    converted = convert_rules(rules, tmp_path / "out")
    single = yaml.safe_load(converted[(rules / "ui" / "ui.rule").resolve()].read_text())
    assert single == {
        "groups": [
            {
                "name": "ui",
                "rules": [
                    {
                        "alert": "KatibUiDown",
                        "expr": "up{} == 0",
                        "for": "1m",
                        "labels": {"severity": "warning"},
                    }
                ],
            }
        ]
    }
    one = convert_rules(rules / "katib.rules", tmp_path / "one")
    assert list(one) == [(rules / "katib.rules").resolve()]


@pytest.mark.parametrize(
    ("text", "message"), [("groups: [", "not valid YAML"), ("foo: bar", "neither")]
)
def test_convert_rules_rejects_non_rule_files(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "bad.rules").write_text(text)
    with pytest.raises(PromtoolError, match=message):
        convert_rules(tmp_path, tmp_path / "out")


@pytest.mark.promtool
def test_promtool_test_passes(layout: tuple[Path, Path]) -> None:
    rules, tests = layout
    result = promtool_test(rules, tests)
    assert isinstance(result, subprocess.CompletedProcess)
    assert result.returncode == 0
    assert "SUCCESS" in result.stdout


@pytest.mark.promtool
def test_promtool_test_reports_a_wrong_expectation(layout: tuple[Path, Path]) -> None:
    rules, tests = layout
    wrong = PASSING_TEST.replace("severity: critical", "severity: info")
    (tests / "test_wrong.yml").write_text(wrong)
    with pytest.raises(PromtoolError, match="test rules failed") as info:
        promtool_test(rules, tests)
    assert "FAILED" in str(info.value)
    result = promtool_test(rules, tests, check=False)
    assert result.returncode != 0
    assert "severity" in result.stdout + result.stderr


@pytest.mark.promtool
def test_promtool_test_single_test_file(layout: tuple[Path, Path]) -> None:
    rules, tests = layout
    assert promtool_test(rules, tests / "test_katib.yaml").returncode == 0


@pytest.mark.promtool
def test_promtool_test_needs_test_files(layout: tuple[Path, Path], tmp_path: Path) -> None:
    rules, _ = layout
    (tmp_path / "empty").mkdir()
    with pytest.raises(PromtoolError, match="no promtool test files"):
        promtool_test(rules, tmp_path / "empty")


@pytest.mark.promtool
def test_promtool_test_rejects_bad_test_files(layout: tuple[Path, Path]) -> None:
    rules, tests = layout
    (tests / "test_katib.yaml").write_text("tests: [")
    with pytest.raises(PromtoolError, match="not valid YAML"):
        promtool_test(rules, tests)
    (tests / "test_katib.yaml").write_text("- a list")
    with pytest.raises(PromtoolError, match="must be a mapping"):
        promtool_test(rules, tests)


@pytest.mark.promtool
def test_promtool_check_rules(layout: tuple[Path, Path], tmp_path: Path) -> None:
    rules, _ = layout
    assert promtool_check_rules(rules).returncode == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.rule").write_text("alert: X\nexpr: up{{\n")
    with pytest.raises(PromtoolError, match="check rules failed"):
        promtool_check_rules(bad)
    assert promtool_check_rules(bad, check=False).returncode != 0
    (tmp_path / "none").mkdir()
    with pytest.raises(PromtoolError, match="no rule files"):
        promtool_check_rules(tmp_path / "none")


@pytest.fixture
def no_promtool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMTOOL", raising=False)
    monkeypatch.setattr(promtool_mod.shutil, "which", lambda _: None)


@pytest.mark.usefixtures("no_promtool")
@pytest.mark.parametrize("ci", [None, "", "false", "0"])
def test_missing_promtool_skips_outside_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str | None
) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="Debian 'prometheus' package"):
        find_promtool()


@pytest.mark.usefixtures("no_promtool")
@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_missing_promtool_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch, layout: tuple[Path, Path], ci: str
) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(PromtoolNotFoundError, match="apt-get install -y prometheus"):
        promtool_test(*layout)


def test_promtool_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMTOOL", "/opt/bin/promtool")
    assert find_promtool() == "/opt/bin/promtool"
