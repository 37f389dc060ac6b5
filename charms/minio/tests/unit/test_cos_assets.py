"""COS assets: alert rules pass promtool's unit tests; the dashboard is sound."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from kfcharm.testing.promtool import promtool_check_rules, promtool_test

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "src" / "prometheus_alert_rules"
RULE_TESTS = Path(__file__).parent / "alert_rules"
DASHBOARDS = ROOT / "src" / "grafana_dashboards"


@pytest.mark.promtool
def test_alert_rules_are_valid():
    result = promtool_check_rules(RULES)
    assert "SUCCESS" in result.stdout


@pytest.mark.promtool
def test_alert_rules_pass_their_promtool_tests():
    result = promtool_test(RULES, RULE_TESTS)
    assert result.returncode == 0
    assert "SUCCESS" in result.stdout


@pytest.mark.promtool
def test_promtool_tests_can_fail(tmp_path):
    # The same tests against a rule whose threshold is off must fail: the tests bite.
    rules = yaml.safe_load((RULES / "minio.rules").read_text())
    for rule in rules["groups"][0]["rules"]:
        rule["expr"] = rule["expr"].replace("< 0.10", "< 0.05")
    broken = tmp_path / "rules"
    broken.mkdir()
    (broken / "minio.rules").write_text(yaml.safe_dump(rules))
    tests = tmp_path / "tests"
    tests.mkdir()
    test = yaml.safe_load((RULE_TESTS / "minio_test.yaml").read_text())
    test["rule_files"] = [str(broken / "minio.rules")]
    (tests / "minio_test.yaml").write_text(yaml.safe_dump(test))
    result = promtool_test(broken, tests, check=False)
    assert result.returncode != 0


def test_every_alert_has_severity_and_summary():
    groups = yaml.safe_load((RULES / "minio.rules").read_text())["groups"]
    alerts = [rule for group in groups for rule in group["rules"]]
    assert {"MinioDown", "MinioDiskAlmostFull", "MinioHighErrorRatio"} <= {
        rule["alert"] for rule in alerts
    }
    for rule in alerts:
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]


def test_every_alert_has_a_promtool_test():
    groups = yaml.safe_load((RULES / "minio.rules").read_text())["groups"]
    tested = set(re.findall(r"alertname: (\w+)", (RULE_TESTS / "minio_test.yaml").read_text()))
    assert {rule["alert"] for group in groups for rule in group["rules"]} <= tested


def test_dashboard_queries_use_the_prometheus_datasource_variable():
    dashboard = json.loads((DASHBOARDS / "minio.json").read_text())
    assert dashboard["templating"]["list"][0]["name"] == "prometheusds"
    panels = dashboard["panels"]
    assert len(panels) >= 8
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        assert panel["datasource"]["uid"] == "${prometheusds}"
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert re.search(r"\b(minio_\w+|up)\b", target["expr"]), target["expr"]
