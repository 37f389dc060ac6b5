"""The ``kubeflow_dashboard_links`` interface: apps add links to the Kubeflow dashboard.

Each requirer (``<app>:dashboard-links``) writes ``dashboard_links`` in its application databag:
a JSON list of ``{"text", "link", "location", "icon", "type", "desc"}`` objects, serialized
exactly as the Charmhub library does (``json.dumps`` defaults, keys in that order). The provider
(``kubeflow-dashboard:links``) aggregates the links of every relation.

Example:
    ```python
    # requirer, static links: published by the leader on relation and leadership events
    self.links = DashboardLinksRequirer(self, links=[
        DashboardLink(text="Katib", link="/katib/", location="menu", icon="kubeflow:katib"),
    ])
    # provider: use the good relations' links, report the bad ones
    result = self.links.collect_links()
    render(result.links)
    if result.errors: ...  # Blocked, naming the app (str(result.errors[0]))
    ```
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import ops
from pydantic import BaseModel, ConfigDict

from .errors import RelationDataError
from .sdi import remote_app_data, validate_model, write_app_data

LINKS_FIELD = "dashboard_links"
"""App databag key holding the JSON list of links."""
DEFAULT_REQUIRER_RELATION_NAME = "dashboard-links"
DEFAULT_PROVIDER_RELATION_NAME = "links"
LOCATIONS = ("menu", "external", "quick", "documentation")


class DashboardLink(BaseModel):
    """One dashboard link.

    Attributes:
        text: label shown.
        link: relative path (``/katib/``) for ``menu``/``quick``, or a full URL.
        location: ``menu``, ``external``, ``quick`` or ``documentation``.
        icon: iron-icons name.
        type: entry type (``item``).
        desc: description (quick links and documentation items).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    text: str
    link: str
    location: Literal["menu", "external", "quick", "documentation"]
    icon: str = "icons:link"
    type: str = "item"
    desc: str = ""


LinksSource = Sequence[DashboardLink] | Callable[[], Sequence[DashboardLink]]
"""Static links, or a callable computing them when they are published."""


def links_to_json(links: Sequence[DashboardLink]) -> str:
    """Serialize links as the wire JSON list (byte-compatible with the Charmhub library).

    Args:
        links: the links.

    Returns:
        The JSON text.
    """
    return json.dumps([link.model_dump() for link in links])


class DashboardLinksRequirer(ops.Object):
    """Requirer side: publishes this app's links to the dashboard."""

    def __init__(
        self,
        charm: ops.CharmBase,
        links: LinksSource | None = None,
        relation_name: str = DEFAULT_REQUIRER_RELATION_NAME,
    ):
        """Bind to the endpoint.

        Args:
            charm: the charm.
            links: links published automatically by the leader on relation-created,
                relation-joined, leader-elected and upgrade-charm: a list, or a callable
                returning one (for links computed from config). None: only `publish` writes.
            relation_name: endpoint name (interface ``kubeflow_dashboard_links``).
        """
        super().__init__(charm, relation_name)
        self.relation_name = relation_name
        self._links = links
        events = charm.on[relation_name]
        self.framework.observe(events.relation_created, self._on_event)
        self.framework.observe(events.relation_joined, self._on_event)
        self.framework.observe(charm.on.leader_elected, self._on_event)
        self.framework.observe(charm.on.upgrade_charm, self._on_event)

    def _on_event(self, _: ops.EventBase) -> None:
        if self._links is None or not self.model.unit.is_leader():
            return
        links = self._links() if callable(self._links) else self._links
        self._write(links)

    def publish(self, links: Sequence[DashboardLink]) -> None:
        """Publish `links` on every relation (leader only; unchanged bytes are not rewritten).

        They also replace the links given at construction for the rest of this hook.

        Args:
            links: the links.
        """
        self._links = list(links)
        if self.model.unit.is_leader():
            self._write(self._links)

    def _write(self, links: Sequence[DashboardLink]) -> None:
        payload = links_to_json(links)
        for relation in self.model.relations[self.relation_name]:
            write_app_data(self.model.app, relation, {LINKS_FIELD: payload})


@dataclass(frozen=True)
class DashboardLinksResult:
    """Links read from every relation, and the problems found.

    Attributes:
        by_app: valid links by remote app name (an app with bad entries keeps its good ones).
        errors: one `RelationDataError` per app whose data was malformed, naming the app.
    """

    by_app: dict[str, list[DashboardLink]] = field(default_factory=dict)
    errors: list[RelationDataError] = field(default_factory=list)

    @property
    def links(self) -> list[DashboardLink]:
        """All valid links, apps in name order, each app's links in its own order."""
        return [link for app in sorted(self.by_app) for link in self.by_app[app]]


class DashboardLinksProvider(ops.Object):
    """Provider side (the dashboard): reads the links of every related app."""

    def __init__(self, charm: ops.CharmBase, relation_name: str = DEFAULT_PROVIDER_RELATION_NAME):
        """Bind to the endpoint.

        Args:
            charm: the charm.
            relation_name: endpoint name (interface ``kubeflow_dashboard_links``).
        """
        super().__init__(charm, relation_name)
        self.relation_name = relation_name

    def collect_links(self) -> DashboardLinksResult:
        """Read every relation; never raises for remote data problems.

        Apps that have not written links yet contribute none. The relation being broken is
        not included (ops leaves it out of the model during relation-broken).

        Returns:
            Valid links by app, and the errors.
        """
        result = DashboardLinksResult()
        for relation in self.model.relations[self.relation_name]:
            if relation.app is None:
                continue
            app = relation.app.name
            links, problems = _parse_links(relation, remote_app_data(relation).get(LINKS_FIELD))
            result.by_app[app] = links
            if problems:
                result.errors.append(
                    RelationDataError(
                        relation.name,
                        f"field {LINKS_FIELD} from app {app}: {'; '.join(problems)}",
                        relation.id,
                    )
                )
        return result

    def links_by_app(self) -> dict[str, list[DashboardLink]]:
        """Valid links by remote app name.

        Returns:
            The links.

        Raises:
            RelationDataError: some app's data is malformed (see `collect_links` to carry on).
        """
        result = self.collect_links()
        if result.errors:
            raise result.errors[0]
        return result.by_app

    def get_links(self, location: str | None = None) -> list[DashboardLink]:
        """All links, apps in name order, optionally only those for one location.

        Args:
            location: ``menu``, ``external``, ``quick`` or ``documentation``; None for all.

        Returns:
            The links.

        Raises:
            RelationDataError: some app's data is malformed (see `collect_links` to carry on).
        """
        result = self.collect_links()
        if result.errors:
            raise result.errors[0]
        return [link for link in result.links if location is None or link.location == location]


def _parse_links(relation: ops.Relation, raw: str | None) -> tuple[list[DashboardLink], list[str]]:
    if not raw:
        return [], []
    try:
        decoded = json.loads(raw)
    except (ValueError, RecursionError):
        return [], ["not valid JSON"]
    if decoded == {}:  # what the Charmhub library reads when the key is absent
        return [], []
    if not isinstance(decoded, list):
        return [], ["expected a JSON list"]
    links: list[DashboardLink] = []
    problems: list[str] = []
    for index, item in enumerate(decoded):
        try:
            links.append(validate_model(DashboardLink, item, relation, f"entry {index}"))
        except RelationDataError as err:
            problems.append(err.message.removeprefix("invalid "))
    return links, problems
