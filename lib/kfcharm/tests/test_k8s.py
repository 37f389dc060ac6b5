"""Tests of kfcharm.k8s: templates, the resource manager and typed errors (on FakeKubernetes)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import httpx2
import lightkube
import pydantic
import pytest
from kfcharm import k8s
from kfcharm.k8s import (
    HASH_ANNOTATION,
    K8sConflictError,
    K8sError,
    K8sForbiddenError,
    K8sInvalidError,
    K8sNotFoundError,
    K8sServerError,
    K8sThrottledError,
    K8sTimeoutError,
    ManifestError,
    ResourceManager,
    get_client,
    load_manifests,
    load_templates,
)
from kfcharm.testing import FakeKubernetes
from lightkube.generic_resource import GenericGlobalResource, GenericNamespacedResource
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap, Namespace, Service, ServiceAccount
from lightkube.resources.rbac_authorization_v1 import ClusterRole

APP = "katib"
MODEL = "kubeflow"

CONFIGMAP = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ app }}-config
data:
  level: "{{ level }}"
"""

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ app }}-web
spec:
  replicas: {{ replicas }}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: "{{ image }}"
          ports: [{containerPort: 8080}]
"""

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: experiments.kubeflow.org
spec:
  group: kubeflow.org
  scope: Namespaced
  names: {kind: Experiment, plural: experiments, singular: experiment, listKind: ExperimentList}
  versions:
    - name: v1beta1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                maxTrialCount: {type: integer}
"""

EXPERIMENT = """
apiVersion: kubeflow.org/v1beta1
kind: Experiment
metadata:
  name: demo
spec:
  maxTrialCount: 3
"""

CONTEXT = {"app": APP, "level": "info", "replicas": 1, "image": "nginx:1"}


def write_templates(directory: Path, **templates: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in templates.items():
        (directory / f"{name}.yaml.j2").write_text(text)
    return directory


@pytest.fixture
def manager(fake_k8s: FakeKubernetes) -> ResourceManager:
    return ResourceManager(
        get_client(field_manager=APP),
        app=APP,
        namespace=MODEL,
        resource_types={ConfigMap, Deployment, Service},
    )


def stored(fake: FakeKubernetes, kind: type, name: str, namespace: str | None = None) -> Any:
    obj = fake.find(kind, name, namespace)
    assert obj is not None, f"{kind.__name__} {name} not stored"
    return obj


def desired(**overrides: object) -> list:
    return load_manifests(CONFIGMAP + "---" + DEPLOYMENT, {**CONTEXT, **overrides})


# ---------------------------------------------------------------------------------------------
# get_client
# ---------------------------------------------------------------------------------------------


def test_get_client_returns_installed_fake(fake_k8s: FakeKubernetes):
    client: Any = get_client(field_manager=APP)

    assert isinstance(client, FakeKubernetes)
    assert client.field_manager == APP
    client.create(ConfigMap(metadata=lightkube.models.meta_v1.ObjectMeta(name="x")))
    assert fake_k8s.find(ConfigMap, "x", "default") is not None


def test_get_client_creates_real_client_once_per_field_manager(monkeypatch: pytest.MonkeyPatch):
    created = []

    class StubClient:
        def __init__(self, field_manager: str | None = None):
            created.append(field_manager)

    monkeypatch.setattr(k8s, "Client", StubClient)
    k8s.reset_client_factory()
    try:
        first = get_client("a")
        assert get_client("a") is first
        assert get_client("b") is not first
        assert created == ["a", "b"]
    finally:
        k8s.reset_client_factory()


def test_set_client_factory_is_used_until_reset():
    sentinel = object()
    k8s.set_client_factory(lambda field_manager: sentinel)  # type: ignore[arg-type,return-value]
    try:
        assert get_client("x") is sentinel
    finally:
        k8s.reset_client_factory()
    assert k8s._client_factory is None


def test_installed_context_manager_restores_previous_factory():
    fake = FakeKubernetes()
    with fake.installed():
        assert isinstance(get_client(), FakeKubernetes)
    assert k8s._client_factory is None


# ---------------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------------


def test_load_templates_renders_sorted_templates(tmp_path: Path):
    templates = write_templates(tmp_path / "t", b_deployment=DEPLOYMENT, a_config=CONFIGMAP)

    objs = load_templates(templates, CONTEXT)

    assert [type(o) for o in objs] == [ConfigMap, Deployment]
    assert objs[0].metadata.name == "katib-config"
    assert objs[1].spec.template.spec.containers[0].image == "nginx:1"


def test_load_templates_missing_variable_is_an_error(tmp_path: Path):
    templates = write_templates(tmp_path / "t", config=CONFIGMAP)

    with pytest.raises(ManifestError, match=r"config\.yaml\.j2.*'level' is undefined"):
        load_templates(templates, {"app": APP})


def test_load_templates_ignores_other_files_and_supports_includes(tmp_path: Path):
    templates = write_templates(tmp_path / "t", config=CONFIGMAP)
    (templates / "README.md").write_text("not a template")
    (templates / "_team.j2").write_text("ml")
    (templates / "sa.yaml.j2").write_text(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa\n  labels:\n"
        "    team: {% include '_team.j2' %}\n"
    )

    objs = load_templates(templates, CONTEXT)

    assert [type(o) for o in objs] == [ConfigMap, ServiceAccount]
    assert objs[1].metadata.labels == {"team": "ml"}


def test_load_templates_accepts_dataclass_and_pydantic_contexts(tmp_path: Path):
    templates = write_templates(tmp_path / "t", config=CONFIGMAP)

    @dataclasses.dataclass
    class Context:
        app: str
        level: str

    class Model(pydantic.BaseModel):
        app: str
        level: str

    from_dataclass = load_templates(templates, Context(app="a", level="debug"))
    from_model = load_templates(templates, Model(app="b", level="warn"))

    assert from_dataclass[0].data == {"level": "debug"}
    assert from_model[0].metadata.name == "b-config"
    with pytest.raises(TypeError, match="template context"):
        load_templates(templates, 42)


def test_load_templates_missing_directory(tmp_path: Path):
    with pytest.raises(ManifestError, match="not found"):
        load_templates(tmp_path / "nope", {})


def test_load_manifests_without_context_is_not_templated():
    objs = load_manifests("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: '{{ x }}'}\n")

    assert objs[0].metadata.name == "{{ x }}"


def test_load_manifests_render_error():
    with pytest.raises(ManifestError, match="cannot render"):
        load_manifests("{{ missing }}", {})


def test_custom_kind_uses_crd_from_the_same_set():
    crd, experiment = load_manifests(CRD + "---" + EXPERIMENT)

    assert isinstance(crd, CustomResourceDefinition)
    assert isinstance(experiment, GenericNamespacedResource)
    info = experiment._api_info
    assert (info.resource.group, info.resource.version, info.plural) == (
        "kubeflow.org",
        "v1beta1",
        "experiments",
    )


def test_unknown_custom_kind_scope_is_inferred_or_hinted():
    namespaced = load_manifests(
        "apiVersion: example.com/v1\nkind: Policy\nmetadata: {name: p, namespace: ns}\n"
    )[0]
    cluster = load_manifests("apiVersion: example.com/v1\nkind: Box\nmetadata: {name: b}\n")[0]
    hinted = load_manifests(
        "apiVersion: example.com/v1\nkind: Index\nmetadata: {name: i}\n",
        scopes={"Index": "Namespaced"},
    )[0]

    assert isinstance(namespaced, GenericNamespacedResource)
    assert namespaced._api_info.plural == "policies"
    assert isinstance(cluster, GenericGlobalResource)
    assert cluster._api_info.plural == "boxes"
    assert isinstance(hinted, GenericNamespacedResource)
    assert hinted._api_info.plural == "indexes"


def test_scope_hint_must_be_valid():
    with pytest.raises(ManifestError, match="scope hint"):
        load_manifests(
            "apiVersion: example.com/v1\nkind: Gizmo\nmetadata: {name: g}\n",
            scopes={"Gizmo": "Global"},
        )


def test_unknown_field_of_builtin_kind_is_an_error():
    text = DEPLOYMENT.replace("image:", "imagePullPolice: Always\n          image:")

    with pytest.raises(ManifestError, match=r"unknown field.*containers\[0\].imagePullPolice"):
        load_manifests(text, CONTEXT)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [", "invalid YAML"),
        ("- just a list\n", "not a Kubernetes object"),
        ("kind: ConfigMap\nmetadata: {name: x}\n", "not a Kubernetes object"),
        ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n", "invalid Deployment"),
    ],
)
def test_invalid_manifests_raise_manifest_error(text: str, message: str):
    with pytest.raises(ManifestError, match=message):
        load_manifests(text)


def test_list_documents_are_flattened():
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n"
        "  - {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n"
        "---\n"
    )

    assert [o.metadata.name for o in load_manifests(text)] == ["a", "b"]


# ---------------------------------------------------------------------------------------------
# ResourceManager
# ---------------------------------------------------------------------------------------------


def test_first_reconcile_applies_everything_with_owner_labels(
    manager: ResourceManager, fake_k8s: FakeKubernetes
):
    result = manager.reconcile(desired())

    assert result.applied == ["ConfigMap/kubeflow/katib-config", "Deployment/kubeflow/katib-web"]
    assert result.unchanged == []
    assert result.pruned == []
    assert result.changed
    deployment = stored(fake_k8s, Deployment, "katib-web", MODEL)
    assert deployment.metadata.labels == {
        "app.kubernetes.io/managed-by": "kfcharm",
        "kfcharm.io/owner": APP,
        "kfcharm.io/owner-namespace": MODEL,
        "kfcharm.io/scope": "main",
    }
    assert len(deployment.metadata.annotations[HASH_ANNOTATION]) == 64
    assert fake_k8s.count("apply") == 2


def test_steady_state_issues_no_writes_and_one_list_per_kind(
    manager: ResourceManager, fake_k8s: FakeKubernetes
):
    manager.reconcile(desired())
    fake_k8s.reset_log()

    result = manager.reconcile(desired())

    assert result.applied == []
    assert sorted(result.unchanged) == [
        "ConfigMap/kubeflow/katib-config",
        "Deployment/kubeflow/katib-web",
    ]
    assert not result.changed
    assert fake_k8s.writes() == []
    assert {r.verb for r in fake_k8s.requests} == {"list"}
    for kind in ("ConfigMap", "Deployment", "Service"):
        assert fake_k8s.count("list", kind) == 1


def test_only_changed_objects_are_applied(manager: ResourceManager, fake_k8s: FakeKubernetes):
    manager.reconcile(desired())
    fake_k8s.reset_log()

    result = manager.reconcile(desired(replicas=3))

    assert result.applied == ["Deployment/kubeflow/katib-web"]
    assert result.unchanged == ["ConfigMap/kubeflow/katib-config"]
    assert [(r.verb, r.kind) for r in fake_k8s.writes()] == [("apply", "Deployment")]
    assert stored(fake_k8s, Deployment, "katib-web", MODEL).spec.replicas == 3


def test_objects_no_longer_desired_are_pruned(manager: ResourceManager, fake_k8s: FakeKubernetes):
    manager.reconcile(desired())

    result = manager.reconcile(desired()[:1])

    assert result.pruned == ["Deployment/kubeflow/katib-web"]
    assert fake_k8s.find(Deployment, "katib-web", MODEL) is None
    assert fake_k8s.find(ConfigMap, "katib-config", MODEL) is not None


def test_deleted_object_is_recreated(manager: ResourceManager, fake_k8s: FakeKubernetes):
    manager.reconcile(desired())
    fake_k8s.delete(Deployment, "katib-web", namespace=MODEL)

    result = manager.reconcile(desired())

    assert result.applied == ["Deployment/kubeflow/katib-web"]


def test_objects_of_other_owners_and_scopes_are_left_alone(fake_k8s: FakeKubernetes):
    mine = ResourceManager(fake_k8s, APP, MODEL, resource_types=[ConfigMap])
    other_app = ResourceManager(fake_k8s, "kserve", MODEL, resource_types=[ConfigMap])
    other_scope = ResourceManager(
        fake_k8s, APP, MODEL, scope="profiles", resource_types=[ConfigMap]
    )
    other_model = ResourceManager(fake_k8s, APP, "elsewhere", resource_types=[ConfigMap])
    for rm, name in [(other_app, "a"), (other_scope, "b"), (other_model, "c")]:
        rm.reconcile(
            load_manifests(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}")
        )
    fake_k8s.add(ConfigMap.from_dict({"metadata": {"name": "manual", "namespace": MODEL}}))

    result = mine.reconcile([])

    assert result.pruned == []
    assert len(fake_k8s.objects(ConfigMap)) == 4


def test_namespace_defaults_to_model_and_other_namespaces_are_managed(
    manager: ResourceManager, fake_k8s: FakeKubernetes
):
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: here}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: there, namespace: user-ns}\n"
    )
    manager.reconcile(load_manifests(text))
    fake_k8s.reset_log()

    steady = manager.reconcile(load_manifests(text))
    pruned = manager.reconcile(load_manifests(text)[:1])

    assert steady.unchanged == ["ConfigMap/kubeflow/here", "ConfigMap/user-ns/there"]
    assert pruned.pruned == ["ConfigMap/user-ns/there"]
    assert fake_k8s.requests[0].verb == "list"
    assert fake_k8s.requests[0].namespace == lightkube.ALL_NS


def test_namespace_local_listing_when_not_listing_all_namespaces(fake_k8s: FakeKubernetes):
    rm = ResourceManager(
        fake_k8s, APP, MODEL, resource_types=[ConfigMap], list_all_namespaces=False
    )
    local = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: here}\n"
    remote = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: there, namespace: other}\n"
    rm.reconcile(load_manifests(local))
    rm.reconcile(load_manifests(local + "---\n" + remote))
    fake_k8s.reset_log()

    local_only = rm.reconcile(load_manifests(local))
    both = rm.reconcile(load_manifests(local + "---\n" + remote))

    # Listing only the model namespace cannot see (so cannot prune) the remote object ...
    assert local_only.pruned == []
    assert fake_k8s.requests[0].namespace == MODEL
    # ... but a desired object elsewhere makes the kind listed everywhere, so it stays unchanged.
    assert both.unchanged == ["ConfigMap/kubeflow/here", "ConfigMap/other/there"]
    assert fake_k8s.writes() == []


def test_cluster_scoped_objects_have_no_namespace(
    manager: ResourceManager, fake_k8s: FakeKubernetes
):
    text = (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
        "metadata: {name: katib-view, namespace: ignored}\nrules: []\n"
    )

    result = manager.reconcile(load_manifests(text))

    assert result.applied == ["ClusterRole/katib-view"]
    assert stored(fake_k8s, ClusterRole, "katib-view").metadata.namespace is None


def test_crds_are_never_pruned_implicitly_but_purged_explicitly(fake_k8s: FakeKubernetes):
    crd, experiment = load_manifests(CRD + "---" + EXPERIMENT)
    rm = ResourceManager(
        fake_k8s,
        APP,
        MODEL,
        resource_types=[CustomResourceDefinition, type(experiment), ConfigMap],
    )
    rm.reconcile([crd, experiment, *desired()[:1]])

    dropped = rm.reconcile([])
    # Deletion runs in reverse apply order: custom resources before what they may use.
    assert dropped.pruned == ["Experiment/kubeflow/demo", "ConfigMap/kubeflow/katib-config"]
    assert fake_k8s.find(CustomResourceDefinition, "experiments.kubeflow.org") is not None

    rm.reconcile([crd, experiment])
    assert rm.purge() == ["Experiment/kubeflow/demo"]
    assert fake_k8s.find(CustomResourceDefinition, "experiments.kubeflow.org") is not None

    rm.reconcile([crd, experiment])
    purged = rm.purge(include_crds=True)
    assert purged == [
        "Experiment/kubeflow/demo",
        "CustomResourceDefinition/experiments.kubeflow.org",
    ]
    assert fake_k8s.objects(CustomResourceDefinition) == []


def test_purge_with_crds_when_crd_kind_is_not_a_resource_type(fake_k8s: FakeKubernetes):
    crd = load_manifests(CRD)[0]
    rm = ResourceManager(fake_k8s, APP, MODEL)
    rm.reconcile([crd])

    assert rm.purge() == []
    assert rm.purge(include_crds=True) == ["CustomResourceDefinition/experiments.kubeflow.org"]


def test_crd_and_its_resources_apply_in_dependency_order(fake_k8s: FakeKubernetes):
    text = (
        EXPERIMENT
        + "---\n"
        + "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n---"
        + CRD
        + "---\n"
        + "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\n"
        "metadata: {name: katib}\nwebhooks: []\n"
    )
    objs = load_manifests(text)
    rm = ResourceManager(fake_k8s, APP, MODEL, resource_types=[type(o) for o in objs])

    result = rm.reconcile(objs)

    assert [i.split("/")[0] for i in result.applied] == [
        "CustomResourceDefinition",
        "Namespace",
        "Experiment",
        "ValidatingWebhookConfiguration",
    ]
    # The CRD was not installed when the Experiment kind was listed: treated as no objects.
    assert [r.error for r in fake_k8s.requests if r.kind == "Experiment"] == [404, None]


def test_reconcile_rejects_duplicates_and_nameless_objects(manager: ResourceManager):
    with pytest.raises(ValueError, match="desired twice"):
        manager.reconcile(desired() + desired())
    nameless = ConfigMap.from_dict({"metadata": {"labels": {"a": "b"}}})
    with pytest.raises(ValueError, match=r"without metadata\.name"):
        manager.reconcile([nameless])


def test_prepare_does_not_modify_the_callers_object(manager: ResourceManager):
    config = desired()[0]

    prepared = manager.prepare(config)

    assert config.metadata.labels is None
    assert prepared.metadata.namespace == MODEL
    assert prepared is not config


def test_hash_ignores_a_stale_hash_annotation(manager: ResourceManager):
    config = desired()[0]
    tampered = ConfigMap.from_dict(
        {
            **config.to_dict(),
            "metadata": {"name": "katib-config", "annotations": {HASH_ANNOTATION: "x"}},
        }
    )

    assert manager._hash(manager.prepare(config)) == manager._hash(manager.prepare(tampered))


def test_pruning_an_already_deleted_object_is_not_an_error(
    manager: ResourceManager, fake_k8s: FakeKubernetes
):
    manager.reconcile(desired())
    fake_k8s.inject_fault("delete", "Deployment", status=404)

    result = manager.reconcile(desired()[:1])

    assert result.pruned == []


def test_reconcile_with_objects_of_a_kind_not_in_resource_types(fake_k8s: FakeKubernetes):
    rm = ResourceManager(fake_k8s, APP, MODEL)

    rm.reconcile(desired())
    fake_k8s.reset_log()
    rm.reconcile(desired())

    assert fake_k8s.writes() == []
    assert fake_k8s.count("list") == 2


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "transient"),
    [
        (403, K8sForbiddenError, False),
        (404, K8sNotFoundError, False),
        (409, K8sConflictError, True),
        (422, K8sInvalidError, False),
        (429, K8sThrottledError, True),
        (500, K8sServerError, True),
        (503, K8sServerError, True),
        (400, K8sError, False),
        ("timeout", K8sTimeoutError, True),
        ("connection", K8sTimeoutError, True),
    ],
)
def test_apply_faults_surface_as_typed_errors(
    manager: ResourceManager,
    fake_k8s: FakeKubernetes,
    status: int | str,
    error: type[K8sError],
    transient: bool,
):
    fake_k8s.inject_fault(verb="apply", kind="Deployment", status=status)

    with pytest.raises(error) as caught:
        manager.reconcile(desired())

    err = caught.value
    assert type(err) is error
    assert err.transient is transient
    assert (err.kind, err.name, err.namespace, err.verb) == (
        "Deployment",
        "katib-web",
        MODEL,
        "apply",
    )
    assert err.status_code == (status if isinstance(status, int) else None)
    # The fault was used up: the next reconcile succeeds.
    assert manager.reconcile(desired()).applied == ["Deployment/kubeflow/katib-web"]


def test_list_fault_is_typed(manager: ResourceManager, fake_k8s: FakeKubernetes):
    fake_k8s.inject_fault("list", "Service", status=403)

    with pytest.raises(K8sForbiddenError, match="cannot list resource") as caught:
        manager.reconcile(desired())

    assert caught.value.kind == "Service"
    assert fake_k8s.writes() == []


def test_purge_delete_fault_is_typed(manager: ResourceManager, fake_k8s: FakeKubernetes):
    manager.reconcile(desired())
    fake_k8s.inject_fault("delete", status=500)

    with pytest.raises(K8sServerError) as caught:
        manager.purge()

    assert caught.value.status_code == 500


def test_error_message_and_target():
    err = K8sInvalidError(
        "spec.replicas: Invalid value",
        status_code=422,
        kind="Deployment",
        name="web",
        verb="apply",
    )

    assert str(err) == "apply Deployment/web: spec.replicas: Invalid value (HTTP 422)"
    assert err.target == "Deployment/web"
    assert K8sError("boom").target == "Kubernetes API"
    assert str(K8sError("boom")) == "Kubernetes API: boom"


def test_translate_error_of_non_json_http_error_and_other_exceptions():
    request = httpx2.Request("GET", "https://k8s/api/v1/pods")
    response = httpx2.Response(502, text="bad gateway", request=request)
    http_error = httpx2.HTTPStatusError("502", request=request, response=response)

    translated = k8s.translate_error(http_error, verb="get", kind="Pod")
    assert type(translated) is K8sServerError
    assert translated.status_code == 502
    assert translated.message == "Bad Gateway"

    other = k8s.translate_error(RuntimeError("odd"))
    assert type(other) is K8sError
    assert other.message == "odd"
    assert k8s.translate_error(other) is other


def test_k8s_errors_context_manager_wraps_direct_client_calls(fake_k8s: FakeKubernetes):
    with pytest.raises(K8sNotFoundError) as caught, k8s.k8s_errors("get", "Namespace", "nope"):
        fake_k8s.get(Namespace, "nope")

    assert caught.value.status_code == 404
    assert caught.value.reason == "NotFound"
    assert 'namespaces "nope" not found' in caught.value.message


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "plural"),
    [
        ("Profile", "profiles"),
        ("Policy", "policies"),
        ("Gateway", "gateways"),
        ("Ingress", "ingresses"),
        ("Mesh", "meshes"),
        ("Patch", "patches"),
        ("Box", "boxes"),
    ],
)
def test_plural_guess(kind: str, plural: str):
    assert k8s._plural(kind) == plural


def test_guessed_class_is_reused():
    text = "apiVersion: example.com/v1\nkind: Sprocket\nmetadata: {name: s, namespace: n}\n"

    first, second = load_manifests(text)[0], load_manifests(text)[0]

    assert type(first) is type(second)


def test_crd_conflicting_with_registered_class_keeps_the_registered_one(caplog):
    from lightkube.generic_resource import create_namespaced_resource

    registered = create_namespaced_resource("conflict.example.com", "v1", "Thing", "things")
    crd = (
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata: {name: things.conflict.example.com}\n"
        "spec: {group: conflict.example.com, scope: Cluster, names: {kind: Thing, plural: things},"
        " versions: [{name: v1, served: true, storage: true}]}\n---\n"
        "apiVersion: conflict.example.com/v1\nkind: Thing\nmetadata: {name: t}\n"
    )

    thing = load_manifests(crd)[1]

    assert type(thing) is registered
    assert "different scope or plural" in caplog.text


def test_plain_json_conversion_handles_datetimes_and_rejects_unknown_types():
    from datetime import datetime, timezone

    stamp = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

    assert k8s._to_plain({"at": stamp, "gone": None}) == {"at": "2024-01-02T03:04:05Z"}
    with pytest.raises(TypeError, match="cannot serialise"):
        k8s._to_plain({"x": object()})


def test_tojson_carries_characters_outside_the_bmp(tmp_path):
    (tmp_path / "cm.yaml.j2").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
        "data: {proxy: {{ value | tojson }}}\n"
    )
    [obj] = load_templates(tmp_path, {"value": "\U00010000 and \u00e9"})
    assert obj.data == {"proxy": "\U00010000 and \u00e9"}
