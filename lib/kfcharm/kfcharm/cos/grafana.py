"""`grafana_dashboard` provider: ship the charm's dashboards to Grafana.

Wire format (app databag, leader only): ``dashboards`` = JSON
``{"templates": {"file:<stem>": {"charm", "content", "juju_topology", "inject_dropdowns",
"dashboard_alt_uid"}}, "uuid": "<uuid4>"}`` where ``content`` is the dashboard JSON,
LZMA-compressed and base64-encoded (cosl ``LZMABase64``). The databag is rewritten (with a new
``uuid``) only when a template changed, so Grafana does not reload on every hook.
"""

from __future__ import annotations

import json
import logging
import lzma
import uuid
from pathlib import Path
from typing import Any

import ops
from cosl import DashboardPath40UID, LZMABase64

from ._common import (
    DashboardError,
    check_endpoint,
    observe_all,
    resolve_charm_path,
    topology_of,
)

logger = logging.getLogger(__name__)

DASHBOARD_SUFFIXES = (".json", ".json.tmpl")


def _stem(path: Path) -> str:
    return path.name.removesuffix(".tmpl").removesuffix(".json")


def load_dashboards(dashboards_dir: Path) -> dict[str, tuple[Path, str]]:
    """Read and check the dashboards (``*.json``, ``*.json.tmpl``) of a directory.

    Args:
        dashboards_dir: the directory; a missing directory has no dashboards.

    Returns:
        ``{"file:<stem>": (path, text)}``.

    Raises:
        DashboardError: a file is not a JSON object, or two files share a stem.
    """
    found: dict[str, tuple[Path, str]] = {}
    if not dashboards_dir.is_dir():
        return found
    for path in sorted(dashboards_dir.iterdir()):
        if not path.is_file() or not path.name.endswith(DASHBOARD_SUFFIXES):
            continue
        try:
            text = path.read_text()
            parsed = json.loads(text)
        except (UnicodeDecodeError, ValueError) as e:
            raise DashboardError(f"{path}: not valid JSON: {e}") from e
        if not isinstance(parsed, dict):
            raise DashboardError(f"{path}: a dashboard must be a JSON object")
        key = f"file:{_stem(path)}"
        if key in found:
            raise DashboardError(f"{path}: same name as {found[key][0].name}")
        found[key] = (path, text)
    return found


def _same_templates(old: Any, new: dict[str, dict[str, Any]]) -> bool:
    """Compare published templates with new ones, content compared decompressed."""
    if not isinstance(old, dict) or old.keys() != new.keys():
        return False
    for key, template in new.items():
        previous = old[key]
        if not isinstance(previous, dict):
            return False
        if {k: v for k, v in previous.items() if k != "content"} != {
            k: v for k, v in template.items() if k != "content"
        }:
            return False
        content = previous.get("content")
        if not isinstance(content, str):
            return False
        try:
            if LZMABase64.decompress(content) != LZMABase64.decompress(template["content"]):
                return False
        except (ValueError, lzma.LZMAError):
            return False
    return True


class GrafanaDashboardProvider(ops.Object):
    """Publish the charm's Grafana dashboards over ``grafana_dashboard``.

    Args:
        charm: the charm.
        relation_name: the ``grafana_dashboard`` endpoint.
        dashboards_dir: dashboard files, absolute or relative to the charm root.

    Raises:
        DashboardError: a dashboard file is invalid (raised at construction).
        CosError: the endpoint is missing from the charm metadata.
    """

    def __init__(
        self,
        charm: ops.CharmBase,
        relation_name: str = "grafana-dashboard",
        dashboards_dir: str | Path = "src/grafana_dashboards",
    ):
        super().__init__(charm, relation_name)
        check_endpoint(charm, relation_name, "grafana_dashboard")
        self._charm = charm
        self._relation_name = relation_name
        self._dir_given = Path(dashboards_dir)
        self._dir = resolve_charm_path(charm, dashboards_dir)
        self._dashboards = load_dashboards(self._dir)
        observe_all(
            self,
            [
                charm.on[relation_name].relation_created,
                charm.on[relation_name].relation_joined,
                charm.on.leader_elected,
                charm.on.upgrade_charm,
            ],
            self._on_refresh,
        )

    def _on_refresh(self, _: ops.EventBase) -> None:
        self.update()

    def _alt_uid_path(self, path: Path) -> str:
        """Dashboard path relative to the charm root, stable across deployments."""
        if self._dir_given.is_absolute():
            try:
                return str(path.relative_to(Path(self._charm.charm_dir)))
            except ValueError:
                return f"{self._dir.name}/{path.name}"
        return str(self._dir_given / path.name)

    def templates(self) -> dict[str, dict[str, Any]]:
        """The ``templates`` mapping this charm publishes."""
        topology = topology_of(self._charm)
        charm_name = self._charm.meta.name
        return {
            key: {
                "charm": charm_name,
                "content": LZMABase64.compress(text),
                "juju_topology": dict(topology.as_dict()),
                "inject_dropdowns": True,
                "dashboard_alt_uid": DashboardPath40UID.generate(
                    charm_name, self._alt_uid_path(path)
                ),
            }
            for key, (path, text) in self._dashboards.items()
        }

    def update(self) -> None:
        """Publish the dashboards on every relation (leader only), if they changed."""
        relations = self.model.relations[self._relation_name]
        if not relations or not self.model.unit.is_leader():
            return
        templates = self.templates()
        for relation in relations:
            databag = relation.data[self.model.app]
            try:
                published = json.loads(databag.get("dashboards", "{}"))
            except ValueError:
                published = {}
            if isinstance(published, dict) and _same_templates(
                published.get("templates"), templates
            ):
                continue
            databag["dashboards"] = json.dumps({"templates": templates, "uuid": str(uuid.uuid4())})
            logger.debug("published %d dashboards on relation %d", len(templates), relation.id)
