"""COS assets: alert rules pass promtool (and the tests can fail); the dashboard is sound."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from kfcharm.testing.promtool import promtool_check_rules, promtool_test

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "src" / "prometheus_alert_rules"
RULE_TESTS = Path(__file__).parent / "alert_rules"
DASHBOARD = ROOT / "src" / "grafana_dashboards" / "kserve.json"


@pytest.mark.promtool
def test_alert_rules_are_valid():
    assert "SUCCESS" in promtool_check_rules(RULES).stdout


@pytest.mark.promtool
def test_alert_rules_pass_their_promtool_tests():
    result = promtool_test(RULES, RULE_TESTS)
    assert result.returncode == 0
    assert "SUCCESS" in result.stdout


@pytest.mark.promtool
def test_promtool_tests_can_fail(tmp_path):
    rules = yaml.safe_load((RULES / "kserve.rules").read_text())
    for rule in rules["groups"][0]["rules"]:
        rule["for"] = "2h"  # alerts would fire far later than the tests expect
    broken = tmp_path / "rules"
    broken.mkdir()
    (broken / "kserve.rules").write_text(yaml.safe_dump(rules))
    tests = tmp_path / "tests"
    tests.mkdir()
    test = yaml.safe_load((RULE_TESTS / "kserve_test.yaml").read_text())
    test["rule_files"] = [str(broken / "kserve.rules")]
    (tests / "kserve_test.yaml").write_text(yaml.safe_dump(test))
    assert promtool_test(broken, tests, check=False).returncode != 0


def test_every_alert_has_severity_summary_and_description():
    rules = yaml.safe_load((RULES / "kserve.rules").read_text())
    for rule in rules["groups"][0]["rules"]:
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]
        assert "%%juju_topology%%" in rule["expr"]


def test_dashboard_panels_query_prometheus_with_unique_ids():
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) >= 10
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${prometheusds}"
        assert panel["targets"]
        assert all(t["expr"] for t in panel["targets"])
        assert all("$juju_application" in t["expr"] for t in panel["targets"])
