"""`prometheus_scrape` provider: scrape jobs, scrape metadata and alert rules.

Wire format (app databag, leader only): ``scrape_metadata`` (JSON Juju topology),
``scrape_jobs`` (JSON list of Prometheus scrape configs whose targets are ``*:PORT``, where
``*`` stands for every unit's address) and ``alert_rules`` (JSON ``{"groups": [...]}``).
Unit databag: ``prometheus_scrape_unit_address``, ``prometheus_scrape_unit_name`` and
``prometheus_scrape_unit_path``.

Write timing: nothing is written on relation-created or relation-changed (the first
relation-changed may arrive before anything is known about the remote side); data is
published on relation-joined, leader-elected, upgrade-charm, config-changed and any
``refresh_event``, or when the charm calls `MetricsEndpointProvider.update`.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import ops
import yaml
from cosl import AlertRules, JujuTopology

from ._common import (
    AlertRulesError,
    ScrapeJobError,
    check_endpoint,
    observe_all,
    resolve_charm_path,
    set_if_changed,
    topology_of,
)

logger = logging.getLogger(__name__)

ScrapeJobs: TypeAlias = Sequence[Mapping[str, Any]]

RULE_FILE_SUFFIXES = (".rule", ".rules", ".yml", ".yaml")

# The scrape_config keys Prometheus documents and the scrape consumers pass on. Credentials
# (basic_auth, authorization, oauth2) are deliberately absent: they would travel in plain
# relation data.
ALLOWED_JOB_KEYS = frozenset(
    {
        "job_name",
        "metrics_path",
        "static_configs",
        "scheme",
        "params",
        "scrape_interval",
        "scrape_timeout",
        "honor_labels",
        "honor_timestamps",
        "relabel_configs",
        "metric_relabel_configs",
        "sample_limit",
        "label_limit",
        "label_name_length_limit",
        "label_value_length_limit",
        "tls_config",
        "proxy_url",
    }
)

_JOB_NAME = re.compile(r"^[A-Za-z0-9_.:-]+\Z")
_TARGET = re.compile(r"^(?:\*|[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})\Z")

# Name of the group every provider sends, so `alert_rules` is never empty.
_HOST_HEALTH_GROUP = "HostHealth"
_HOST_HEALTH_RULES: dict[str, Any] = {
    "groups": [
        {
            "name": _HOST_HEALTH_GROUP,
            "rules": [
                {
                    "alert": "HostDown",
                    "expr": "up < 1",
                    "for": "5m",
                    "labels": {"severity": "critical"},
                    "annotations": {
                        "summary": "Target {{ $labels.instance }} is down.",
                        "description": (
                            "Application {{ $labels.juju_application }} in model "
                            "{{ $labels.juju_model }} could not be scraped for 5 minutes."
                        ),
                    },
                }
            ],
        }
    ]
}


def find_rule_files(rules_dir: Path) -> list[Path]:
    """Rule files under ``rules_dir`` (recursive, sorted), as cosl reads them."""
    if not rules_dir.is_dir():
        return []
    return sorted(
        p for p in rules_dir.rglob("*") if p.is_file() and p.suffix in RULE_FILE_SUFFIXES
    )


def _check_rule(rule: Any, where: str) -> None:
    if not isinstance(rule, Mapping):
        raise AlertRulesError(f"{where}: a rule must be a mapping, got {type(rule).__name__}")
    if "record" in rule:
        raise AlertRulesError(f"{where}: recording rules do not belong in the alert rules dir")
    for key in ("alert", "expr"):
        if not isinstance(rule.get(key), str) or not rule[key].strip():
            raise AlertRulesError(f"{where}: rule needs a non-empty string {key!r}")
    if "for" in rule and not isinstance(rule["for"], str):
        raise AlertRulesError(f"{where}: 'for' must be a duration string such as '5m'")
    for key in ("labels", "annotations"):
        value = rule.get(key, {})
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise AlertRulesError(f"{where}: {key!r} must map strings to strings (quote values)")


def validate_alert_rule_files(rules_dir: Path) -> list[str]:
    """Check every rule file under ``rules_dir`` the way Prometheus will need it.

    Accepts the official format (``groups: [{name, rules}]``) and cosl's single-rule format
    (one alerting rule per file, the group being named after the file stem).

    Args:
        rules_dir: directory of rule files; a missing directory has no rules.

    Returns:
        The group names before topology prefixing (sub-directory and name, joined by ``_``).

    Raises:
        AlertRulesError: a file is not valid YAML, has an unknown shape, an invalid rule, or two
            groups would get the same name.
    """
    names: list[str] = [_HOST_HEALTH_GROUP]
    for path in find_rule_files(rules_dir):
        where = str(path)
        try:
            data = yaml.safe_load(path.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise AlertRulesError(f"{where}: not valid YAML: {e}") from e
        if not isinstance(data, Mapping) or not data:
            raise AlertRulesError(f"{where}: expected a mapping with 'groups' or one rule")
        subdir = path.parent.relative_to(rules_dir)
        prefix = "" if subdir == Path(".") else f"{subdir}_"
        if "groups" in data:
            groups = data["groups"]
            if not isinstance(groups, list) or not groups:
                raise AlertRulesError(f"{where}: 'groups' must be a non-empty list")
            for i, group in enumerate(groups):
                gwhere = f"{where}: groups[{i}]"
                if not isinstance(group, Mapping) or not isinstance(group.get("name"), str):
                    raise AlertRulesError(f"{gwhere}: a group needs a string 'name'")
                rules = group.get("rules")
                if not isinstance(rules, list) or not rules:
                    raise AlertRulesError(f"{gwhere}: 'rules' must be a non-empty list")
                for j, rule in enumerate(rules):
                    _check_rule(rule, f"{gwhere}.rules[{j}]")
                names.append(prefix + group["name"])
        else:
            _check_rule(data, where)
            names.append(prefix + path.stem)
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise AlertRulesError(
            f"{rules_dir}: alert rule group names must be unique, repeated: {duplicates}"
            f" ({_HOST_HEALTH_GROUP!r} is reserved)"
        )
    return names


def build_alert_rules(rules_dir: Path, topology: JujuTopology) -> dict[str, Any]:
    """Load the alert rules with cosl, topology injected, plus the generic HostHealth group.

    Group names become ``<model>_<uuid8>_<app>_<name>_rules`` and every rule gets the
    ``juju_model``, ``juju_model_uuid``, ``juju_application`` and ``juju_charm`` labels.
    Every alerting rule is completed with ``for`` ("0m") and ``annotations`` ({}) when absent,
    which Prometheus treats the same, so the payload always matches the interface schema.

    Args:
        rules_dir: directory of rule files (checked with `validate_alert_rule_files`).
        topology: this charm's topology.

    Returns:
        ``{"groups": [...]}`` with at least one group.
    """
    rules = AlertRules(query_type="promql", topology=topology)
    rules.add(copy.deepcopy(_HOST_HEALTH_RULES), group_name_prefix=topology.identifier)
    rules.add_path(rules_dir, recursive=True)
    result = rules.as_dict()
    for group in result["groups"]:
        for rule in group["rules"]:
            rule.setdefault("for", "0m")
            rule.setdefault("annotations", {})
    return result


def build_scrape_jobs(
    jobs: ScrapeJobs, *, app_name: str, labels: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Validate scrape jobs and complete them for the wire.

    Each job gets a name (the one given, or the app name, suffixed with its index when there
    are several jobs), ``metrics_path`` (default ``/metrics``) and ``labels`` on every static
    config (they win over a same-named label of the job).

    Args:
        jobs: scrape configs whose targets are ``*:PORT`` (or ``host:PORT``).
        app_name: this application's name.
        labels: labels added to every static config (the topology's ``juju_*`` labels).

    Returns:
        JSON-serialisable jobs.

    Raises:
        ScrapeJobError: unknown key, missing/invalid targets, duplicate job names, or a value
            that is not JSON-serialisable.
    """
    if isinstance(jobs, Mapping) or not isinstance(jobs, Sequence):
        raise ScrapeJobError("jobs must be a list of scrape configs")
    result: list[dict[str, Any]] = []
    for i, job in enumerate(jobs):
        if not isinstance(job, Mapping):
            raise ScrapeJobError(f"jobs[{i}] must be a mapping")
        unknown = sorted(set(job) - ALLOWED_JOB_KEYS)
        if unknown:
            raise ScrapeJobError(f"jobs[{i}]: unsupported keys {unknown}")
        out = copy.deepcopy(dict(job))
        default_name = app_name if len(jobs) == 1 else f"{app_name}_{i}"
        name = out.setdefault("job_name", default_name)
        if not isinstance(name, str) or not _JOB_NAME.match(name):
            raise ScrapeJobError(f"jobs[{i}]: job_name {name!r} must match {_JOB_NAME.pattern}")
        out.setdefault("metrics_path", "/metrics")
        static_configs = out.get("static_configs")
        if not isinstance(static_configs, list) or not static_configs:
            raise ScrapeJobError(f"job {name!r}: static_configs must be a non-empty list")
        for config in static_configs:
            _check_static_config(config, name)
            config["labels"] = {**config.get("labels", {}), **labels}
        result.append(out)
    names = [job["job_name"] for job in result]
    if len(set(names)) != len(names):
        raise ScrapeJobError(f"job names must be unique: {names}")
    try:
        json.dumps(result)
    except (TypeError, ValueError) as e:
        raise ScrapeJobError(f"jobs must be JSON-serialisable: {e}") from e
    return result


def _check_static_config(config: Any, name: str) -> None:
    if not isinstance(config, dict):
        raise ScrapeJobError(f"job {name!r}: each static config must be a mapping")
    targets = config.get("targets")
    if not isinstance(targets, list) or not targets:
        raise ScrapeJobError(f"job {name!r}: static config needs a non-empty 'targets' list")
    for target in targets:
        match = _TARGET.match(target) if isinstance(target, str) else None
        if not match or not 0 < int(match.group(1)) < 65536:
            raise ScrapeJobError(f"job {name!r}: target {target!r} is not '*:PORT' or 'host:PORT'")
    config_labels = config.get("labels", {})
    if not isinstance(config_labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in config_labels.items()
    ):
        raise ScrapeJobError(f"job {name!r}: labels must map strings to strings")


class MetricsEndpointProvider(ops.Object):
    """Publish scrape jobs and alert rules over ``prometheus_scrape``.

    Example::

        self._metrics = MetricsEndpointProvider(
            self, jobs=lambda: [{"static_configs": [{"targets": [f"*:{self.config['port']}"]}]}]
        )

    Args:
        charm: the charm.
        jobs: scrape configs, or a callable returning them (evaluated at each write, so jobs
            may depend on config). Targets use ``*:PORT``.
        relation_name: the ``prometheus_scrape`` endpoint.
        alert_rules_dir: rule files, absolute or relative to the charm root.
        refresh_event: extra event(s) that republish (e.g. a ``pebble-ready``).

    Raises:
        AlertRulesError: an alert rule file is invalid (a charm bug: fails every hook and the
            charm's unit tests).
        ScrapeJobError: static ``jobs`` are invalid.
        CosError: the endpoint is missing from the charm metadata.
    """

    def __init__(
        self,
        charm: ops.CharmBase,
        jobs: ScrapeJobs | Callable[[], ScrapeJobs],
        relation_name: str = "metrics-endpoint",
        alert_rules_dir: str | Path = "src/prometheus_alert_rules",
        refresh_event: ops.BoundEvent | Iterable[ops.BoundEvent] | None = None,
    ):
        super().__init__(charm, relation_name)
        check_endpoint(charm, relation_name, "prometheus_scrape")
        self._charm = charm
        self._relation_name = relation_name
        self._jobs = jobs
        self._rules_dir = resolve_charm_path(charm, alert_rules_dir)
        validate_alert_rule_files(self._rules_dir)
        if not callable(jobs):
            build_scrape_jobs(jobs, app_name=charm.app.name, labels={})

        events = [
            charm.on[relation_name].relation_joined,
            charm.on.leader_elected,
            charm.on.upgrade_charm,
            charm.on.config_changed,
        ]
        if isinstance(refresh_event, ops.BoundEvent):
            events.append(refresh_event)
        elif refresh_event is not None:
            events.extend(refresh_event)
        observe_all(self, events, self._on_refresh)

    def _on_refresh(self, _: ops.EventBase) -> None:
        self.update()

    def update(self) -> None:
        """Publish unit data on every relation and, on the leader, the app data.

        Writes only keys whose value changed.
        """
        relations = self.model.relations[self._relation_name]
        if not relations:
            return
        unit_data = {
            "prometheus_scrape_unit_address": socket.getfqdn(),
            "prometheus_scrape_unit_name": self.model.unit.name,
            "prometheus_scrape_unit_path": "",
        }
        app_data: dict[str, str] = {}
        if self.model.unit.is_leader():
            topology = topology_of(self._charm)
            jobs = self._jobs() if callable(self._jobs) else self._jobs
            app_data = {
                "scrape_metadata": json.dumps(topology.as_dict()),
                "scrape_jobs": json.dumps(
                    build_scrape_jobs(
                        jobs, app_name=self.model.app.name, labels=topology.label_matcher_dict
                    )
                ),
                "alert_rules": json.dumps(build_alert_rules(self._rules_dir, topology)),
            }
        for relation in relations:
            set_if_changed(relation.data[self.model.unit], unit_data)
            if app_data:
                set_if_changed(relation.data[self.model.app], app_data)
