"""State-transition tests of kfcharm.relations.dashboard_links (kubeflow_dashboard_links)."""

from __future__ import annotations

import dataclasses
import json

import ops
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kfcharm.relations import RelationDataError
from kfcharm.relations.dashboard_links import (
    DashboardLink,
    DashboardLinksProvider,
    DashboardLinksRequirer,
)
from ops import testing
from relations_testlib import (
    WriteSpy,
    assert_json_schema_valid,
    call,
    databags,
    only_relation_errors,
    raises_in_hook,
)

LINKS = [
    DashboardLink(text="Katib", link="/katib/", location="menu", icon="kubeflow:katib"),
    DashboardLink(
        text="Katib docs",
        link="https://www.kubeflow.org/docs/components/katib/",
        location="documentation",
        desc="Read",
    ),
]


@dataclasses.dataclass
class UpstreamShapedLink:
    """Field order and defaults of the Charmhub library's dataclass, to compare bytes."""

    text: str
    link: str
    location: str
    icon: str = "icons:link"
    type: str = "item"
    desc: str = ""


UPSTREAM_BYTES = json.dumps(
    [
        dataclasses.asdict(UpstreamShapedLink("Katib", "/katib/", "menu", icon="kubeflow:katib")),
        dataclasses.asdict(
            UpstreamShapedLink(
                "Katib docs",
                "https://www.kubeflow.org/docs/components/katib/",
                "documentation",
                desc="Read",
            )
        ),
    ]
)


class KatibCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.links = DashboardLinksRequirer(self, links=LINKS)


class DynamicCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.links = DashboardLinksRequirer(self, links=self._links)

    def _links(self) -> list[DashboardLink]:
        return [DashboardLink(text=self.app.name, link=f"/{self.app.name}/", location="quick")]


class ManualCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.links = DashboardLinksRequirer(self)


class DashboardCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.links = DashboardLinksProvider(self)
        self.seen: list[str] = []
        framework.observe(self.on.links_relation_broken, self._on_broken)

    def _on_broken(self, _: ops.EventBase) -> None:
        self.seen = [link.text for link in self.links.get_links()]


REQUIRES = {"requires": {"dashboard-links": {"interface": "kubeflow_dashboard_links"}}}
REQUIRER = testing.Context(KatibCharm, meta={"name": "katib-ui", **REQUIRES})
DYNAMIC = testing.Context(DynamicCharm, meta={"name": "mlflow", **REQUIRES})
MANUAL = testing.Context(ManualCharm, meta={"name": "katib-ui", **REQUIRES})
PROVIDER = testing.Context(
    DashboardCharm,
    meta={
        "name": "kubeflow-dashboard",
        "provides": {"links": {"interface": "kubeflow_dashboard_links"}},
    },
)


def req_rel() -> testing.Relation:
    return testing.Relation("dashboard-links", interface="kubeflow_dashboard_links")


def links_rel(app: str, raw: str | None) -> testing.Relation:
    remote = {} if raw is None else {"dashboard_links": raw}
    return testing.Relation(
        "links", interface="kubeflow_dashboard_links", remote_app_name=app, remote_app_data=remote
    )


@pytest.mark.parametrize(
    "event", ["relation_created", "relation_joined", "leader_elected", "upgrade_charm"]
)
def test_requirer_publishes_links_byte_compatibly(event):
    relation = req_rel()
    on = REQUIRER.on
    trigger = (
        getattr(on, event)(relation) if event.startswith("relation") else getattr(on, event)()
    )
    out = REQUIRER.run(trigger, testing.State(leader=True, relations={relation}))
    databag = out.get_relation(relation.id).local_app_data
    assert databag == {"dashboard_links": UPSTREAM_BYTES}
    # The shared schema models the app databag as the bare list (see schemas/README.md); the
    # library nests it, JSON-encoded, under `dashboard_links`: validate the decoded list.
    assert_json_schema_valid(
        {"app": json.loads(databag["dashboard_links"])},
        "kubeflow_dashboard_links_v0_requirer.json",
    )


def test_callable_links_are_computed_when_published():
    relation = req_rel()
    out = DYNAMIC.run(
        DYNAMIC.on.relation_created(relation), testing.State(leader=True, relations={relation})
    )
    links = json.loads(out.get_relation(relation.id).local_app_data["dashboard_links"])
    assert links == [
        {
            "text": "mlflow",
            "link": "/mlflow/",
            "location": "quick",
            "icon": "icons:link",
            "type": "item",
            "desc": "",
        }
    ]


def test_publish_writes_dynamic_links_and_replaces_static_ones():
    relation = req_rel()
    state = testing.State(leader=True, relations={relation})
    out = REQUIRER.run(REQUIRER.on.relation_created(relation), state)
    new = [DashboardLink(text="Only", link="/only/", location="menu")]
    _, out = call(REQUIRER, out, lambda c: c.links.publish(new))
    assert (
        json.loads(out.get_relation(relation.id).local_app_data["dashboard_links"])[0]["text"]
        == "Only"
    )


def test_no_links_given_means_nothing_is_published_automatically():
    relation = req_rel()
    out = MANUAL.run(
        MANUAL.on.relation_created(relation), testing.State(leader=True, relations={relation})
    )
    assert out.get_relation(relation.id).local_app_data == {}


def test_non_leader_publishes_nothing():
    relation = req_rel()
    state = testing.State(leader=False, relations={relation})
    out = REQUIRER.run(REQUIRER.on.relation_created(relation), state)
    _, out = call(REQUIRER, out, lambda c: c.links.publish(LINKS))
    assert out.get_relation(relation.id).local_app_data == {}


def test_publish_is_idempotent(monkeypatch):
    relation = req_rel()
    out = REQUIRER.run(
        REQUIRER.on.relation_created(relation), testing.State(leader=True, relations={relation})
    )
    spy = WriteSpy(monkeypatch)
    out = REQUIRER.run(REQUIRER.on.upgrade_charm(), out)
    call(REQUIRER, out, lambda c: c.links.publish(list(LINKS)))
    assert spy.writes == []


def test_round_trip_requirer_to_provider():
    relation = req_rel()
    out = REQUIRER.run(
        REQUIRER.on.relation_created(relation), testing.State(leader=True, relations={relation})
    )
    raw = out.get_relation(relation.id).local_app_data["dashboard_links"]
    state = testing.State(relations={links_rel("katib-ui", raw)})
    links, _ = call(PROVIDER, state, lambda c: c.links.get_links())
    assert links == LINKS
    menu, _ = call(PROVIDER, state, lambda c: c.links.get_links(location="menu"))
    assert menu == LINKS[:1]
    by_app, _ = call(PROVIDER, state, lambda c: c.links.links_by_app())
    assert by_app == {"katib-ui": LINKS}


def test_links_are_aggregated_in_app_name_order():
    zeta = json.dumps([{"text": "Z", "link": "/z/", "location": "menu"}])
    alpha = json.dumps([{"text": "A", "link": "/a/", "location": "menu", "extra": "ignored"}])
    state = testing.State(relations={links_rel("zeta", zeta), links_rel("alpha", alpha)})
    links, _ = call(PROVIDER, state, lambda c: c.links.get_links())
    assert [link.text for link in links] == ["A", "Z"]


@pytest.mark.parametrize("raw", [None, "", "{}", "[]"])
def test_apps_without_links_contribute_none(raw):
    state = testing.State(relations={links_rel("app", raw)})
    links, _ = call(PROVIDER, state, lambda c: c.links.get_links())
    assert links == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("[{", "not valid JSON"),
        ('{"text": "x"}', "expected a JSON list"),
        ('"menu"', "expected a JSON list"),
        (
            '[{"text": "x", "link": "/x/", "location": "sidebar"}]',
            "entry 0: location: Input should be",
        ),
        ('[{"text": "x", "location": "menu"}]', "entry 0: link: Field required"),
        (
            '[{"text": 1, "link": "/x/", "location": "menu"}]',
            "entry 0: text: Input should be a valid string",
        ),
        ("[42]", "entry 0: data: Input should be a valid dictionary"),
    ],
)
def test_malformed_links_are_reported_naming_the_app(raw, message):
    bad = links_rel("broken-app", raw)
    good = links_rel("good-app", json.dumps([{"text": "G", "link": "/g/", "location": "menu"}]))
    state = testing.State(relations={bad, good})
    result, _ = call(PROVIDER, state, lambda c: c.links.collect_links())
    assert [link.text for link in result.links] == ["G"]
    assert len(result.errors) == 1
    error = result.errors[0]
    assert error.relation_id == bad.id
    assert str(error).startswith(f"links:{bad.id}: field dashboard_links from app broken-app: ")
    assert message in str(error)
    err = raises_in_hook(PROVIDER, state, lambda c: c.links.get_links(), RelationDataError)
    assert "broken-app" in str(err)
    raises_in_hook(PROVIDER, state, lambda c: c.links.links_by_app(), RelationDataError)


def test_an_app_with_some_bad_entries_keeps_its_good_ones():
    raw = json.dumps(
        [
            {"text": "ok", "link": "/ok/", "location": "menu"},
            {"text": "bad", "link": "/b/", "location": "x"},
        ]
    )
    result, _ = call(
        PROVIDER,
        testing.State(relations={links_rel("app", raw)}),
        lambda c: c.links.collect_links(),
    )
    assert [link.text for link in result.by_app["app"]] == ["ok"]
    assert "entry 1: location" in str(result.errors[0])


def test_links_of_a_departing_app_are_dropped_on_relation_broken():
    leaving = links_rel("leaving", json.dumps([{"text": "L", "link": "/l/", "location": "menu"}]))
    staying = links_rel("staying", json.dumps([{"text": "S", "link": "/s/", "location": "menu"}]))
    state = testing.State(relations={leaving, staying})
    with PROVIDER(PROVIDER.on.relation_broken(leaving), state) as mgr:
        mgr.run()
        assert mgr.charm.seen == ["S"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    remote=databags(["dashboard_links"])
    | st.lists(
        st.dictionaries(
            st.sampled_from(["text", "link", "location", "icon", "type", "desc", "x"]),
            st.one_of(
                st.sampled_from(["menu", "quick", "/x/"]),
                st.integers(),
                st.none(),
                st.text(max_size=5),
            ),
        ),
        max_size=3,
    ).map(lambda items: {"dashboard_links": json.dumps(items)})
)
def test_random_remote_data_only_raises_relation_errors(remote):
    relation = testing.Relation(
        "links",
        interface="kubeflow_dashboard_links",
        remote_app_name="app",
        remote_app_data=remote,
    )
    state = testing.State(relations={relation})
    result, _ = call(PROVIDER, state, lambda c: c.links.collect_links())
    assert all(isinstance(link, DashboardLink) for link in result.links)
    only_relation_errors(PROVIDER, state, lambda c: c.links.get_links())
