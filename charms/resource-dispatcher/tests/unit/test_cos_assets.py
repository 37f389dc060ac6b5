"""COS assets: alert rules pass promtool's tests (which can fail); the dashboard is sound."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from kfcharm.testing.promtool import promtool_test

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "src" / "prometheus_alert_rules"
RULE_TESTS = Path(__file__).parent / "alert_rules"
DASHBOARD = ROOT / "src" / "grafana_dashboards" / "resource-dispatcher.json"
METRICS = ROOT / "src" / "dispatcher" / "metrics.py"


def test_alert_rules_pass_their_promtool_tests():
    result = promtool_test(RULES, RULE_TESTS)
    assert result.returncode == 0
    assert "SUCCESS" in result.stdout


def test_promtool_tests_can_fail(tmp_path):
    rules = yaml.safe_load((RULES / "dispatcher.rules").read_text())
    for rule in rules["groups"][0]["rules"]:
        rule["expr"] = rule["expr"].replace("> 5", "> 500").replace("== 0", "== 2")
    broken = tmp_path / "rules"
    broken.mkdir()
    (broken / "dispatcher.rules").write_text(yaml.safe_dump(rules))
    tests = tmp_path / "tests"
    tests.mkdir()
    test = yaml.safe_load((RULE_TESTS / "dispatcher_test.yaml").read_text())
    test["rule_files"] = [str(broken / "dispatcher.rules")]
    (tests / "dispatcher_test.yaml").write_text(yaml.safe_dump(test))
    result = promtool_test(broken, tests, check=False)
    assert result.returncode != 0


def test_every_alert_has_severity_summary_and_a_test():
    groups = yaml.safe_load((RULES / "dispatcher.rules").read_text())["groups"]
    alerts = [rule for group in groups for rule in group["rules"]]
    tested = set(
        re.findall(r"alertname: (\w+)", (RULE_TESTS / "dispatcher_test.yaml").read_text())
    )
    for rule in alerts:
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        assert rule["alert"] in tested


def test_rules_and_dashboard_use_only_metrics_the_controller_exports():
    exported = set(re.findall(r'"(dispatcher_\w+)"', METRICS.read_text()))
    used = set(
        re.findall(
            r"\b(dispatcher_\w+?)(?:_bucket|_count|_sum)?\b",
            (RULES / "dispatcher.rules").read_text(),
        )
    )
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used |= set(
                re.findall(r"\b(dispatcher_\w+?)(?:_bucket|_count|_sum)?\b", target["expr"])
            )
    assert used
    assert used <= exported, used - exported


def test_dashboard_panels_are_well_formed():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["templating"]["list"][0]["name"] == "prometheusds"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) >= 8
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${prometheusds}"
        assert panel["targets"], panel["title"]
