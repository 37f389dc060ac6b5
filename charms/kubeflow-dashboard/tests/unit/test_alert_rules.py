"""The alert rules pass `promtool check rules` and their `promtool test rules` tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from kfcharm.testing.promtool import promtool_test

CHARM = Path(__file__).resolve().parents[2]


@pytest.mark.promtool
def test_alert_rules_pass_promtool_tests():
    promtool_test(
        CHARM / "src" / "prometheus_alert_rules", CHARM / "tests" / "unit" / "alert_rules"
    )
