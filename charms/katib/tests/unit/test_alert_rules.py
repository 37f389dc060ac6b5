"""Alert rules: promtool unit tests against the shipped rule files."""

from __future__ import annotations

from pathlib import Path

import pytest
from kfcharm.testing.promtool import promtool_check_rules, promtool_test

CHARM = Path(__file__).parents[2]
RULES = CHARM / "src" / "prometheus_alert_rules"


@pytest.mark.promtool
def test_alert_rules_pass_their_promtool_tests():
    result = promtool_test(RULES, CHARM / "tests" / "unit" / "alert_rules")
    assert "SUCCESS" in result.stdout


@pytest.mark.promtool
def test_alert_rules_are_valid_for_prometheus():
    result = promtool_check_rules(RULES)
    assert result.returncode == 0
