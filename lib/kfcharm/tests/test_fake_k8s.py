"""Tests of kfcharm.testing.FakeKubernetes: validation, semantics, selectors, watch, faults."""

from __future__ import annotations

import threading
from typing import Any

import httpx2
import pytest
from kfcharm.k8s import load_manifests
from kfcharm.testing import KUBERNETES_VERSION, FakeKubernetes, RequestRecord
from lightkube import ALL_NS, ApiError, operators
from lightkube.generic_resource import create_global_resource, create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap, Namespace, Service
from lightkube.types import PatchType

NS = "kubeflow"

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": NS},
    "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx"}]},
        },
    },
}

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [size]
              properties:
                size: {type: integer, minimum: 1}
                colour: {type: string, enum: [red, blue]}
                port: {x-kubernetes-int-or-string: true}
                note: {type: string, nullable: true}
                extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
                parts:
                  type: array
                  items: {type: object, properties: {name: {type: string}}}
"""

Widget = create_namespaced_resource("example.com", "v1", "Widget", "widgets")


def widget(name: str = "w", **spec: object) -> Any:
    return Widget(  # type: ignore[call-overload]
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": name},
            "spec": spec,
        }
    )


def configmap(
    name: str, namespace: str = NS, labels: dict | None = None, **data: str
) -> ConfigMap:
    return ConfigMap(metadata=ObjectMeta(name=name, namespace=namespace, labels=labels), data=data)


@pytest.fixture
def fake() -> FakeKubernetes:
    return FakeKubernetes(namespace=NS, field_manager="tester")


@pytest.fixture
def crd_fake(fake: FakeKubernetes) -> FakeKubernetes:
    fake.apply(load_manifests(CRD)[0])
    fake.reset_log()
    return fake


def status_of(excinfo: pytest.ExceptionInfo[ApiError]) -> int | None:
    return excinfo.value.status.code


def message_of(excinfo: pytest.ExceptionInfo[ApiError]) -> str:
    return excinfo.value.status.message or ""


# ---------------------------------------------------------------------------------------------
# Validation of built-in kinds
# ---------------------------------------------------------------------------------------------


def test_kubernetes_version_is_shipped_by_kubernetes_validate():
    import kubernetes_validate

    assert kubernetes_validate.validate(DEPLOYMENT, KUBERNETES_VERSION, strict=True)


def test_valid_deployment_is_stored(fake: FakeKubernetes):
    created: Any = fake.apply(Deployment.from_dict(DEPLOYMENT))

    assert created.metadata.uid
    assert created.metadata.resourceVersion
    assert created.metadata.creationTimestamp is not None
    assert created.metadata.generation == 1
    assert isinstance(created, Deployment)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["spec"].pop("selector"), "'selector' is a required property"),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0].pop("name"),
            "'name' is a required property",
        ),
        (lambda d: d["spec"].update(replicas="three"), "'three' is not of type"),
        (lambda d: d["spec"].update(replica=1), "'replica' was unexpected"),
        (lambda d: d["metadata"].update(name="Web_1"), "must be a DNS subdomain"),
        (lambda d: d["metadata"].update(labels={"app": "x" * 64}), "metadata.labels"),
        (lambda d: d["metadata"].update(annotations={"bad key!": "v"}), "annotations"),
    ],
)
def test_invalid_deployment_is_rejected_with_422(fake: FakeKubernetes, mutate, message: str):
    body: dict[str, Any] = {
        **DEPLOYMENT,
        "spec": {**DEPLOYMENT["spec"]},
        "metadata": {**DEPLOYMENT["metadata"]},
    }
    body["spec"]["template"] = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]},
    }
    mutate(body)

    name = body["metadata"]["name"]
    with pytest.raises(ApiError) as caught:
        fake.patch(Deployment, name, body, namespace=NS, patch_type=PatchType.APPLY)

    assert status_of(caught) == 422
    assert caught.value.status.reason == "Invalid"
    assert message in message_of(caught)
    assert fake.objects(Deployment) == []
    assert fake.requests[-1].error == 422


def test_typed_object_made_invalid_after_construction_is_rejected(fake: FakeKubernetes):
    deployment: Any = Deployment.from_dict(DEPLOYMENT)
    deployment.spec.selector = None  # lightkube would send null: the server requires it

    with pytest.raises(ApiError, match="selector"):
        fake.create(deployment)


def test_non_strict_fake_accepts_unknown_fields():
    fake = FakeKubernetes(namespace=NS, field_manager="t", strict=False)
    body = {**DEPLOYMENT, "spec": {**DEPLOYMENT["spec"], "surprise": True}}

    fake.patch(Deployment, "web", body, namespace=NS, patch_type=PatchType.APPLY)

    assert fake.find(Deployment, "web", NS) is not None


@pytest.mark.parametrize(
    ("kind", "name", "ok"),
    [
        (Namespace, "team-a", True),
        (Namespace, "team.a", False),
        (Service, "9lives", False),
        (Service, "api", True),
        (ConfigMap, "a.b-c", True),
    ],
)
def test_object_names_follow_kubernetes_rules(fake: FakeKubernetes, kind, name: str, ok: bool):
    obj = kind.from_dict({"metadata": {"name": name}})
    if ok:
        fake.create(obj)
    else:
        with pytest.raises(ApiError, match=r"metadata\.name"):
            fake.create(obj)


def test_crd_name_must_match_plural_and_group(fake: FakeKubernetes):
    crd = load_manifests(CRD.replace("name: widgets.example.com", "name: gadgets.example.com"))[0]

    with pytest.raises(ApiError, match=r"widgets\.example\.com") as caught:
        fake.apply(crd)

    assert status_of(caught) == 422


# ---------------------------------------------------------------------------------------------
# Custom resources
# ---------------------------------------------------------------------------------------------


def test_custom_resource_without_crd_is_404(fake: FakeKubernetes):
    with pytest.raises(ApiError) as caught:
        fake.apply(widget(size=1))
    assert status_of(caught) == 404

    with pytest.raises(ApiError) as listed:
        list(fake.list(Widget))
    assert status_of(listed) == 404


def test_custom_resources_allowed_without_crd_when_not_required():
    fake = FakeKubernetes(namespace=NS, field_manager="t", require_crds=False)

    fake.apply(widget(size=0, anything="goes"))

    assert [w.metadata.name for w in fake.list(Widget)] == ["w"]


def test_valid_custom_resource_is_stored_as_generic_resource(crd_fake: FakeKubernetes):
    stored: Any = crd_fake.apply(
        widget(
            size=2,
            colour="red",
            port="http",
            note=None,
            extra={"x": {"y": 1}},
            parts=[{"name": "a"}],
        )
    )

    assert stored["spec"]["port"] == "http"
    assert stored.metadata.namespace == NS
    assert isinstance(stored, Widget)
    assert crd_fake.get(Widget, "w").spec["extra"] == {"x": {"y": 1}}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "'size' is a required property"),
        ({"size": "big"}, "'big' is not of type 'integer'"),
        ({"size": 0}, "less than the minimum"),
        ({"size": 1, "colour": "green"}, "'green' is not one of"),
        ({"size": 1, "port": 1.5}, "1.5 is not of type"),
        ({"size": 1, "shape": "round"}, "'shape' was unexpected"),
        ({"size": 1, "parts": [{"name": 1}]}, "1 is not of type 'string'"),
    ],
)
def test_custom_resource_violating_its_crd_schema_is_rejected(
    crd_fake: FakeKubernetes, spec: dict, message: str
):
    with pytest.raises(ApiError) as caught:
        crd_fake.apply(widget(**spec))

    assert status_of(caught) == 422
    assert message in message_of(caught)
    details: Any = caught.value.status.details
    assert details.causes


def test_unknown_top_level_field_of_custom_resource_is_rejected(crd_fake: FakeKubernetes):
    obj = widget(size=1)
    obj["specs"] = {}

    with pytest.raises(ApiError, match="'specs' was unexpected"):
        crd_fake.apply(obj)


def test_custom_resource_of_unserved_version_or_wrong_scope_is_404(crd_fake: FakeKubernetes):
    unserved = create_namespaced_resource("example.com", "v2", "Widget", "widgets")
    cluster_scoped = create_global_resource("example.com", "v3", "Widget", "widgets")

    for cls in (unserved, cluster_scoped):
        with pytest.raises(ApiError) as caught:
            crd_fake.create(cls({"metadata": {"name": "w"}, "spec": {"size": 1}}))  # type: ignore[call-overload]
        assert status_of(caught) == 404


def test_deleting_a_crd_deletes_its_resources(crd_fake: FakeKubernetes):
    crd_fake.apply(widget(size=1))

    crd_fake.delete(CustomResourceDefinition, "widgets.example.com")

    assert crd_fake.objects() == []


# ---------------------------------------------------------------------------------------------
# API semantics
# ---------------------------------------------------------------------------------------------


def test_get_missing_object_is_404(fake: FakeKubernetes):
    with pytest.raises(ApiError) as caught:
        fake.get(ConfigMap, "nope")

    assert status_of(caught) == 404
    assert caught.value.status.message == 'configmaps "nope" not found'
    assert caught.value.response.request.url.path == "/api/v1/namespaces/kubeflow/configmaps/nope"


def test_create_existing_object_is_409(fake: FakeKubernetes):
    fake.create(configmap("a"))

    with pytest.raises(ApiError) as caught:
        fake.create(configmap("a"))

    assert status_of(caught) == 409
    assert caught.value.status.reason == "AlreadyExists"


def test_create_with_generate_name(fake: FakeKubernetes):
    created = fake.create(ConfigMap(metadata=ObjectMeta(generateName="run-")))

    assert created.metadata.name.startswith("run-")
    assert len(created.metadata.name) == 9


def test_replace_requires_existing_object_and_current_resource_version(fake: FakeKubernetes):
    with pytest.raises(ApiError) as missing:
        fake.replace(configmap("a", x="1"))
    assert status_of(missing) == 404

    first = fake.create(configmap("a", x="1"))
    first.data = {"x": "2"}
    second = fake.replace(first)
    assert second.data == {"x": "2"}
    assert second.metadata.uid == first.metadata.uid
    assert second.metadata.generation == 2

    first.data = {"x": "3"}  # still carries the old resourceVersion
    with pytest.raises(ApiError) as stale:
        fake.replace(first)
    assert status_of(stale) == 409


def test_namespace_argument_must_match_object(fake: FakeKubernetes):
    with pytest.raises(ValueError, match="differ"):
        fake.create(configmap("a", namespace="one"), namespace="two")
    with pytest.raises(ApiError) as caught:
        fake.apply(configmap("a", namespace="one"), namespace="two")
    assert status_of(caught) == 400


def test_merge_patch_sets_and_removes_fields(fake: FakeKubernetes):
    fake.create(configmap("a", labels={"keep": "1", "drop": "2"}, x="1"))

    patched = fake.patch(
        ConfigMap, "a", {"metadata": {"labels": {"drop": None, "new": "3"}}, "data": {"y": "2"}}
    )

    assert patched.metadata.labels == {"keep": "1", "new": "3"}
    assert patched.data == {"x": "1", "y": "2"}
    assert patched.metadata.generation == 2


def test_set_labels_and_annotations(fake: FakeKubernetes):
    fake.create(configmap("a"))

    updated = fake.set(ConfigMap, "a", labels={"l": "1"}, annotations={"a": "2"})

    assert updated.metadata.labels == {"l": "1"}
    assert updated.metadata.annotations == {"a": "2"}
    assert updated.metadata.generation == 1  # metadata changes do not bump the generation


def test_patch_missing_object_is_404_and_json_patch_unsupported(fake: FakeKubernetes):
    with pytest.raises(ApiError) as caught:
        fake.patch(ConfigMap, "nope", {"data": {}})
    assert status_of(caught) == 404

    with pytest.raises(NotImplementedError):
        fake.patch(ConfigMap, "nope", [], patch_type=PatchType.JSON)


def test_server_side_apply_removes_fields_the_manager_stopped_applying(fake: FakeKubernetes):
    fake.apply(configmap("a", x="1", y="2"), field_manager="charm")
    fake.patch(ConfigMap, "a", {"data": {"z": "3"}}, field_manager="someone-else")

    result = fake.apply(configmap("a", x="1"), field_manager="charm")

    assert result.data == {"x": "1", "z": "3"}


def test_apply_without_field_manager_is_an_error():
    fake = FakeKubernetes()

    with pytest.raises(ValueError, match="field_manager"):
        fake.apply(configmap("a"))


def test_writes_to_main_resource_keep_status_and_status_subresource_sets_it(fake: FakeKubernetes):
    deployment = Deployment.from_dict({**DEPLOYMENT, "status": {"readyReplicas": 5}})
    created = fake.apply(deployment)
    assert created.status is None  # status in a main-resource write is ignored

    fake.patch(Deployment.Status, "web", {"status": {"readyReplicas": 1}})
    reapplied = fake.apply(deployment)
    assert reapplied.status.readyReplicas == 1

    current = fake.get(Deployment, "web")
    current.status.readyReplicas = 2
    replaced = fake.replace(current)
    assert replaced.status.readyReplicas == 1
    replaced.status.readyReplicas = 2
    status = Deployment.Status.from_dict(replaced.to_dict())
    assert fake.replace(status, "web").status.readyReplicas == 2


def test_name_in_body_must_match_name_in_request(fake: FakeKubernetes):
    with pytest.raises(ApiError) as caught:
        fake.patch(Deployment, "other", DEPLOYMENT, patch_type=PatchType.APPLY)

    assert status_of(caught) == 400
    assert "does not match the name on the URL" in message_of(caught)


def test_dry_run_does_not_persist(fake: FakeKubernetes):
    fake.apply(configmap("a"), dry_run=True)
    fake.create(configmap("b"), dry_run=True)

    assert fake.objects() == []


def test_delete_missing_is_404_and_namespace_deletion_cascades(fake: FakeKubernetes):
    with pytest.raises(ApiError) as caught:
        fake.delete(ConfigMap, "nope")
    assert status_of(caught) == 404

    fake.create(Namespace.from_dict({"metadata": {"name": "team"}}))
    fake.create(configmap("a", namespace="team"))
    fake.create(configmap("b"))
    fake.delete(Namespace, "team")

    assert [c.metadata.name for c in fake.objects(ConfigMap)] == ["b"]


def test_deletecollection_deletes_one_namespace(fake: FakeKubernetes):
    fake.create(configmap("a"))
    fake.create(configmap("b", namespace="other"))

    fake.deletecollection(ConfigMap)

    assert [c.metadata.namespace for c in fake.objects(ConfigMap)] == ["other"]
    assert fake.count("deletecollection") == 1


def test_all_namespaces_only_for_list_and_watch(fake: FakeKubernetes):
    with pytest.raises(ValueError, match="all namespaces"):
        fake.get(ConfigMap, "a", namespace=ALL_NS)


def test_status_subresource_is_supported_but_scale_is_not(fake: FakeKubernetes):
    with pytest.raises(NotImplementedError, match="scale"):
        fake.get(Deployment.Scale, "web")


# ---------------------------------------------------------------------------------------------
# Listing and selectors
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def labelled(fake: FakeKubernetes) -> FakeKubernetes:
    fake.add(
        configmap("a", labels={"tier": "web", "team": "x"}),
        configmap("b", labels={"tier": "db"}),
        configmap("c"),
        configmap("d", namespace="other", labels={"tier": "web"}),
    )
    return fake


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"tier": "web"}, ["a"]),
        ({"tier": operators.equal("db")}, ["b"]),
        ({"tier": operators.not_equal("web")}, ["b", "c"]),
        ({"tier": None}, ["a", "b"]),
        ({"tier": operators.exists()}, ["a", "b"]),
        ({"tier": operators.not_exists()}, ["c"]),
        ({"tier": ["web", "db"]}, ["a", "b"]),
        ({"tier": operators.in_(["db"])}, ["b"]),
        ({"tier": operators.not_in(["db"])}, ["a", "c"]),
        ({"tier": "web", "team": "x"}, ["a"]),
        ([("tier", "web"), ("team", "y")], []),
    ],
)
def test_label_selectors(labelled: FakeKubernetes, labels, expected: list[str]):
    assert [c.metadata.name for c in labelled.list(ConfigMap, labels=labels)] == expected


def test_list_namespaces_and_field_selectors(labelled: FakeKubernetes):
    everywhere = labelled.list(ConfigMap, namespace=ALL_NS, labels={"tier": "web"})
    by_name = labelled.list(ConfigMap, fields={"metadata.name": "b"})
    not_named = labelled.list(ConfigMap, fields={"metadata.name": operators.not_equal("b")})
    other = labelled.list(ConfigMap, namespace="other")

    assert [(c.metadata.namespace, c.metadata.name) for c in everywhere] == [
        (NS, "a"),
        ("other", "d"),
    ]
    assert [c.metadata.name for c in by_name] == ["b"]
    assert [c.metadata.name for c in not_named] == ["a", "c"]
    assert [c.metadata.name for c in other] == ["d"]


def test_list_is_lazy_and_reports_resource_version(labelled: FakeKubernetes):
    labelled.reset_log()
    listing = labelled.list(ConfigMap)
    assert labelled.requests == []

    items = list(listing)

    assert len(items) == 3
    assert int(listing.resourceVersion) >= 4
    assert labelled.count("list", ConfigMap) == 1


def test_returned_objects_do_not_alias_the_store(crd_fake: FakeKubernetes):
    crd_fake.apply(widget(size=1, parts=[{"name": "a"}]))

    got = crd_fake.get(Widget, "w")
    got["spec"]["parts"].append({"name": "b"})

    assert crd_fake.get(Widget, "w")["spec"]["parts"] == [{"name": "a"}]


# ---------------------------------------------------------------------------------------------
# Watch
# ---------------------------------------------------------------------------------------------


def test_watch_starts_with_current_objects(labelled: FakeKubernetes):
    events = list(labelled.watch(ConfigMap, labels={"tier": "web"}))

    assert [(t, o.metadata.name) for t, o in events] == [("ADDED", "a")]


def test_watch_replays_events_after_a_resource_version(fake: FakeKubernetes):
    start = fake.create(configmap("a", x="1")).metadata.resourceVersion
    fake.patch(ConfigMap, "a", {"data": {"x": "2"}})
    fake.create(configmap("b"))
    fake.create(configmap("c", namespace="other"))
    fake.delete(ConfigMap, "a")

    events = [(t, o.metadata.name) for t, o in fake.watch(ConfigMap, resource_version=start)]
    everywhere = list(fake.watch(ConfigMap, namespace=ALL_NS, resource_version="0", limit=2))

    assert events == [("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "a")]
    assert [(t, o.metadata.name) for t, o in everywhere] == [("ADDED", "a"), ("MODIFIED", "a")]


def test_watch_delivers_events_from_another_thread(fake: FakeKubernetes):
    received: list[tuple[str, str]] = []
    ready = threading.Event()

    def consume() -> None:
        stream = fake.watch(ConfigMap, timeout=None)
        ready.set()
        for event_type, obj in stream:
            received.append((event_type, obj.metadata.name))

    worker = threading.Thread(target=consume)
    worker.start()
    ready.wait(timeout=10)
    fake.create(configmap("a"))
    fake.delete(ConfigMap, "a")
    # Wait (bounded) for delivery, then end the watch.
    for _ in range(200):
        if len(received) == 2:
            break
        threading.Event().wait(0.01)
    fake.stop_watches()
    worker.join(timeout=10)

    assert not worker.is_alive()
    assert received == [("ADDED", "a"), ("DELETED", "a")]


def test_watch_ends_when_stop_event_is_set(fake: FakeKubernetes):
    stop = threading.Event()
    stop.set()

    assert list(fake.watch(ConfigMap, timeout=None, stop=stop)) == []


def test_watch_idle_timeout_and_instance_default(fake: FakeKubernetes):
    fake.create(configmap("a"))

    assert len(list(fake.watch(ConfigMap, timeout=0.01))) == 1
    blocking = FakeKubernetes(namespace=NS, watch_timeout=0.01)
    assert list(blocking.watch(ConfigMap)) == []


def test_watch_of_custom_kind_needs_its_crd(fake: FakeKubernetes):
    with pytest.raises(ApiError):
        next(iter(fake.watch(Widget)))


# ---------------------------------------------------------------------------------------------
# Request log and fault injection
# ---------------------------------------------------------------------------------------------


def test_requests_are_recorded_with_sizes(fake: FakeKubernetes):
    fake.create(configmap("a", x="1"))
    fake.get(ConfigMap, "a")
    list(fake.list(ConfigMap))
    fake.delete(ConfigMap, "a")

    assert [r.verb for r in fake.requests] == ["create", "get", "list", "delete"]
    create = fake.requests[0]
    assert create == RequestRecord(
        "create", "ConfigMap", NS, "a", create.bytes_sent, create.bytes_received
    )
    assert create.bytes_sent > 50
    assert create.bytes_received > create.bytes_sent  # the server adds uid, timestamps...
    assert fake.bytes() == sum(r.bytes_sent + r.bytes_received for r in fake.requests)
    assert fake.bytes(direction="sent") == create.bytes_sent
    assert fake.bytes("get", direction="received") == fake.requests[1].bytes_received
    assert [r.verb for r in fake.writes()] == ["create", "delete"]
    assert fake.count(kind=ConfigMap) == 4
    assert fake.count("get", name="a") == 1
    with pytest.raises(ValueError, match="direction"):
        fake.bytes(direction="up")

    fake.reset_log()
    assert fake.requests == []


def test_add_seeds_objects_without_requests_and_keeps_status(fake: FakeKubernetes):
    fake.add(
        Deployment.from_dict({**DEPLOYMENT, "status": {"readyReplicas": 1}}),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}},
    )

    deployment: Any = fake.find(Deployment, "web", NS)
    seeded: Any = fake.find("ConfigMap", "cm")
    assert fake.requests == []
    assert deployment.status.readyReplicas == 1
    assert seeded.metadata.namespace == NS
    assert fake.find("ConfigMap", "other") is None
    fake.add(configmap("cm", x="2"))
    replaced: Any = fake.find(ConfigMap, "cm")
    assert replaced.data == {"x": "2"}


@pytest.mark.parametrize("status", [403, 404, 409, 422, 429, 500])
def test_injected_api_errors_carry_a_status_body(fake: FakeKubernetes, status: int):
    fake.inject_fault("create", ConfigMap, status=status)

    with pytest.raises(ApiError) as caught:
        fake.create(configmap("a"))

    assert caught.value.status.code == status
    assert caught.value.response.status_code == status
    assert caught.value.status.message
    assert fake.requests[-1].error == status
    fake.create(configmap("a"))  # the single fault was used up


def test_injected_transport_errors(fake: FakeKubernetes):
    fake.inject_fault("get", status="timeout")
    fake.inject_fault("list", status="connection")

    with pytest.raises(httpx2.TimeoutException):
        fake.get(ConfigMap, "a")
    with pytest.raises(httpx2.ConnectError):
        list(fake.list(ConfigMap))
    assert [r.error for r in fake.requests] == ["timeout", "connection"]


def test_fault_matching_times_and_clearing(fake: FakeKubernetes):
    fake.inject_fault("create", "ConfigMap", name="b", namespace=NS, status=500, times=None)

    fake.create(configmap("a"))
    fake.create(configmap("b", namespace="other"))
    for _ in range(3):
        with pytest.raises(ApiError):
            fake.create(configmap("b"))
    fake.clear_faults()
    fake.create(configmap("b"))

    with pytest.raises(ValueError, match="status"):
        fake.inject_fault(status="teapot")


def test_views_per_field_manager_share_one_store(fake: FakeKubernetes):
    view = fake.with_field_manager("other")

    view.apply(configmap("a"))

    assert view is fake.with_field_manager("other")
    assert fake.with_field_manager(None) is fake
    fake.watch_timeout = None
    fake.strict = False
    fake.require_crds = False
    fake.namespace = "elsewhere"
    assert (view.watch_timeout, view.strict, view.require_crds) == (None, False, False)
    assert view.namespace == "elsewhere"
    assert fake.find(ConfigMap, "a") is not None
    assert fake.count("apply") == 1


def test_install_with_monkeypatch(monkeypatch: pytest.MonkeyPatch):
    from kfcharm.k8s import get_client

    fake = FakeKubernetes().install(monkeypatch)

    assert get_client() is fake
    view: Any = get_client("charm")
    assert view.field_manager == "charm"


def test_fake_is_usable_as_a_context_manager(fake: FakeKubernetes):
    with fake as client:
        assert client is fake


# ---------------------------------------------------------------------------------------------
# Edge cases
# ---------------------------------------------------------------------------------------------


def test_apply_to_status_subresource(fake: FakeKubernetes):
    status = Deployment.Status.from_dict({**DEPLOYMENT, "status": {"readyReplicas": 3}})
    with pytest.raises(ApiError) as caught:
        fake.apply(status)
    assert status_of(caught) == 404

    fake.apply(Deployment.from_dict(DEPLOYMENT))
    fake.apply(status)

    assert fake.get(Deployment, "web").status.readyReplicas == 3


def test_write_without_name_is_a_client_error(fake: FakeKubernetes):
    with pytest.raises(ValueError, match="name"):
        fake.create(ConfigMap(metadata=ObjectMeta()))


def test_watch_limit_applies_to_backlog_and_live_events(fake: FakeKubernetes):
    fake.create(configmap("a"))
    fake.create(configmap("b"))

    assert len(list(fake.watch(ConfigMap, limit=1))) == 1
    live = fake.watch(ConfigMap, resource_version="0", limit=1, timeout=None)
    assert [o.metadata.name for _, o in live] == ["a"]


def test_watch_waits_for_events_until_idle_timeout(fake: FakeKubernetes):
    fake.create(configmap("a"))
    stream = fake.watch(ConfigMap, timeout=5)
    assert next(stream)[0] == "ADDED"

    threading.Timer(0.05, lambda: fake.create(configmap("b"))).start()

    event_type, obj = next(stream)
    assert (event_type, obj.metadata.name) == ("ADDED", "b")
    fake.stop_watches()
    assert list(stream) == []


def test_crd_without_schema_accepts_any_custom_resource(fake: FakeKubernetes):
    crd = load_manifests(CRD.split("      schema:")[0])[0]
    fake.apply(crd)

    fake.apply(widget(anything="goes"))

    assert fake.find("Widget", "w", NS) is not None


def test_controller_gen_int_or_string_with_any_of(fake: FakeKubernetes):
    text = CRD.replace(
        "port: {x-kubernetes-int-or-string: true}",
        "port: {anyOf: [{type: integer}, {type: string}], x-kubernetes-int-or-string: true}",
    )
    fake.apply(load_manifests(text)[0])

    fake.apply(widget("a", size=1, port=80))
    fake.apply(widget("b", size=1, port="http"))
    with pytest.raises(ApiError, match="port"):
        fake.apply(widget("c", size=1, port=[80]))


def test_apply_after_field_was_removed_by_someone_else(fake: FakeKubernetes):
    fake.apply(configmap("a", x="1", y="2"), field_manager="charm")
    fake.patch(ConfigMap, "a", {"data": None})

    result = fake.apply(configmap("a", x="1"), field_manager="charm")

    assert result.data == {"x": "1"}


def test_unknown_selector_operator_is_rejected(labelled: FakeKubernetes):
    weird = operators.Operator("approximately", "~", "web")

    with pytest.raises(ValueError, match="unsupported selector operator"):
        list(labelled.list(ConfigMap, labels={"tier": weird}))


@pytest.mark.parametrize("key", ["bad key", "Bad_Prefix/x", "-x", "a/" + "b" * 64])
def test_invalid_label_keys_are_rejected(fake: FakeKubernetes, key: str):
    with pytest.raises(ApiError, match="qualified name"):
        fake.create(configmap("a", labels={key: "v"}))


def test_builtin_kind_without_shipped_schema_is_not_validated(fake: FakeKubernetes):
    from lightkube.resources.resource_v1 import DeviceClass

    # resource.k8s.io/v1 is newer than KUBERNETES_VERSION: no schema to validate against.
    fake.create(DeviceClass.from_dict({"metadata": {"name": "gpu"}, "spec": {}}))

    assert fake.find(DeviceClass, "gpu") is not None


def test_lazy_testing_exports():
    import kfcharm.testing as testing_module

    assert callable(testing_module.find_leaks)
    assert callable(testing_module.promtool_test)
    assert "FakeKubernetes" in dir(testing_module)
    with pytest.raises(AttributeError):
        testing_module.no_such_helper  # noqa: B018


def test_label_selected_watch_sees_objects_enter_and_leave_the_selector():
    from lightkube.models.meta_v1 import ObjectMeta as Meta
    from lightkube.resources.core_v1 import ConfigMap as ConfigMapResource

    fake = FakeKubernetes(namespace="ns")
    fake.create(ConfigMapResource(metadata=Meta(name="a", namespace="ns"), data={"k": "v"}))
    start = fake.list(ConfigMapResource, namespace="ns")
    version = max(int(o.metadata.resourceVersion) for o in start)
    fake.patch(ConfigMapResource, "a", {"metadata": {"labels": {"team": "x"}}}, namespace="ns")
    fake.patch(ConfigMapResource, "a", {"data": {"k": "w"}}, namespace="ns")
    fake.patch(ConfigMapResource, "a", {"metadata": {"labels": {"team": None}}}, namespace="ns")
    fake.patch(ConfigMapResource, "a", {"data": {"k": "z"}}, namespace="ns")
    events = fake.watch(
        ConfigMapResource,
        namespace="ns",
        labels={"team": "x"},
        resource_version=str(version),
        timeout=0,
    )
    assert [(kind, obj.metadata.name) for kind, obj in events] == [
        ("ADDED", "a"),
        ("MODIFIED", "a"),
        ("DELETED", "a"),
    ]


def test_label_values_with_a_trailing_newline_are_rejected():
    from lightkube.models.meta_v1 import ObjectMeta as Meta
    from lightkube.resources.core_v1 import ConfigMap as ConfigMapResource

    fake = FakeKubernetes(namespace="ns")
    with pytest.raises(ApiError) as err:
        fake.create(
            ConfigMapResource(metadata=Meta(name="x", namespace="ns", labels={"a": "b\n"}))
        )
    assert err.value.status.code == 422
