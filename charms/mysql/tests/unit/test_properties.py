"""Hypothesis: random config and relation data never make a hook raise."""

from __future__ import annotations

import json

import pytest
from conftest import base_state, system_secret
from hypothesis import given
from hypothesis import strategies as st
from kfcharm.resources import resource_option_names
from ops import testing

TEXT = st.text(max_size=40)
SIZES = st.one_of(TEXT, st.from_regex(r"[0-9]{1,6}[KMGkmg]?", fullmatch=True))
QUANTITIES = st.one_of(
    TEXT, st.from_regex(r"[0-9]{1,4}(\.[0-9]{1,2})?(m|Mi|Gi|G|k)?", fullmatch=True)
)

CONFIG = st.fixed_dictionaries(
    {},
    optional={
        "memory-profile": st.one_of(st.sampled_from(["production", "testing"]), TEXT),
        "innodb-buffer-pool-size": SIZES,
        "max-connections": st.integers(min_value=-(2**31), max_value=2**31),
        "long-query-time": st.floats(allow_nan=False, allow_infinity=False, width=32),
        "mysql-native-password": st.booleans(),
        **{
            option: QUANTITIES
            for container in ("mysql", "mysqld-exporter")
            for option in resource_option_names(container)
        },
    },
)

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=6,
)
DATABAG_VALUE = st.one_of(TEXT, JSONISH.map(json.dumps))
REQUIRER_DATA = st.dictionaries(
    st.sampled_from(["database", "requested-secrets", "extra-user-roles", "data", "other"]),
    DATABAG_VALUE,
    max_size=5,
)
KNOWN_STATUSES = (
    testing.ActiveStatus,
    testing.BlockedStatus,
    testing.WaitingStatus,
    testing.MaintenanceStatus,
)


@given(config=CONFIG)
def test_random_config_never_raises(ctx, config):
    out = ctx.run(ctx.on.config_changed(), base_state(config=config, secrets=[system_secret()]))
    assert isinstance(out.unit_status, KNOWN_STATUSES)
    if isinstance(out.unit_status, testing.BlockedStatus) and "config" in out.unit_status.message:
        option = out.unit_status.message.split()[2].rstrip(":")
        assert option in config


# A requirer that does not ask for secrets gets the legacy plain-text credentials.
@pytest.mark.leak_allow("relation:database:*:app:password")
@given(data=REQUIRER_DATA, event=st.sampled_from(["created", "joined", "changed", "broken"]))
def test_random_requirer_data_never_raises(ctx, data, event):
    rel = testing.Relation("database", remote_app_name="random", remote_app_data=data)
    state = base_state(relations=[rel], secrets=[system_secret()])
    out = ctx.run(getattr(ctx.on, f"relation_{event}")(rel), state)
    assert isinstance(out.unit_status, KNOWN_STATUSES)
    if isinstance(out.app_status, testing.BlockedStatus):
        assert out.app_status.message.startswith(f"relation database:{rel.id}")


@given(unit_data=st.dictionaries(st.sampled_from(["endpoint", "x"]), DATABAG_VALUE, max_size=2))
def test_random_loki_data_never_raises(ctx, unit_data):
    rel = testing.Relation("logging", remote_app_name="loki", remote_units_data={0: unit_data})
    out = ctx.run(ctx.on.relation_changed(rel), base_state(relations=[rel]))
    assert isinstance(out.unit_status, KNOWN_STATUSES)


@given(backup_id=TEXT)
def test_random_restore_ids_fail_cleanly(ctx, backup_id):
    # No backup exists on this unit, so every id fails, with a message and without a run.
    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(
            ctx.on.action("restore", params={"backup-id": backup_id}),
            base_state(secrets=[system_secret()]),
        )
    assert failure.value.message
    assert ctx.exec_history.get("mysql", []) == []


@given(label=TEXT)
def test_random_backup_labels_fail_cleanly(ctx, label):
    # No application database exists, so the action fails either way, never raises.
    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(
            ctx.on.action("create-backup", params={"label": label}),
            base_state(secrets=[system_secret()]),
        )
    assert failure.value.message
