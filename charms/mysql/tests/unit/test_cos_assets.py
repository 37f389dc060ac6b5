"""Alert rules (promtool) and the Grafana dashboard shipped with the charm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from kfcharm.testing.promtool import promtool_check_rules, promtool_test

CHARM_DIR = Path(__file__).resolve().parents[2]
RULES = CHARM_DIR / "src" / "prometheus_alert_rules"
RULE_TESTS = Path(__file__).parent / "alert_rules"
DASHBOARDS = CHARM_DIR / "src" / "grafana_dashboards"


@pytest.mark.promtool
def test_alert_rules_are_valid():
    result = promtool_check_rules(RULES)
    assert "SUCCESS" in result.stdout


@pytest.mark.promtool
def test_alert_rules_pass_their_promtool_tests():
    result = promtool_test(RULES, RULE_TESTS)
    assert result.returncode == 0
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_promtool_test():
    rules = yaml.safe_load((RULES / "mysql.rules").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tested = set()
    for path in RULE_TESTS.glob("*.yaml"):
        for test in yaml.safe_load(path.read_text())["tests"]:
            tested |= {case["alertname"] for case in test.get("alert_rule_test", [])}
    assert alerts == tested


def test_every_alert_has_severity_and_summary():
    rules = yaml.safe_load((RULES / "mysql.rules").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule["alert"]
            assert rule["annotations"]["summary"], rule["alert"]
            assert "%%juju_topology%%" in rule["expr"], rule["alert"]


def test_dashboard_queries_use_exporter_metrics_and_topology():
    dashboards = sorted(DASHBOARDS.glob("*.json"))
    assert dashboards
    for path in dashboards:
        board = json.loads(path.read_text())
        assert board["title"]
        exprs = [
            target["expr"]
            for panel in board["panels"]
            for target in panel.get("targets", [])
            if "expr" in target
        ]
        assert len(exprs) >= 6
        for expr in exprs:
            assert "mysql_" in expr, expr
            assert 'juju_model=~"$juju_model"' in expr, expr
            assert 'juju_application=~"$juju_application"' in expr, expr
        datasources = {
            panel.get("datasource", {}).get("uid")
            for panel in board["panels"]
            if "targets" in panel
        }
        assert datasources == {"${prometheusds}"}
