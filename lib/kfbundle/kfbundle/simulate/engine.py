"""The simulated model: drives the Juju event sequence over our charms under ops.testing.

Each of our units is an `ops.testing.Context` plus the `State` it returned last. Relation
databags and Juju secrets live here, in one place, and each unit's State is rebuilt from them
before every hook, as the Juju controller would show it to that unit. Whatever a hook changes
(an app or unit databag, a secret's content or grants) is stored and the events Juju would
send follow (relation-changed on the other side, secret-changed on consumers), until nothing
changes any more. Charmhub applications are stand-ins (standins.py); all charms share one
fake Kubernetes API.
"""

from __future__ import annotations

import collections
import dataclasses
import secrets as pysecrets
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..sources import CharmInfo, Endpoint, Sources, charm_name_of
from .loader import CharmLoader, CharmLoadError
from .schemas import schemas_dir
from .standins import RelationView, SecretBroker, StandIn
from .workloads import USER_NAMESPACE, WorkloadFakes, dispatcher_controller

MODEL = "kubeflow"
JUJU_UNIT_KEYS = ("egress-subnets", "ingress-address", "private-address")
# Common top-level directories of a workload's filesystem, kept from one hook to the next
# (ops.testing wipes a container's filesystem between runs except for mounts).
PERSISTED_DIRS = (
    "/etc",
    "/tmp",  # noqa: S108 - a path inside the simulated container, not on this host
    "/var",
    "/opt",
    "/srv",
    "/data",
    "/app",
    "/usr",
    "/home",
    "/root",
    "/run",
    "/config",
    "/certs",
    "/lib",
    "/resource-dispatcher",
)

EventSpec = tuple[Any, ...]


@dataclasses.dataclass
class SimRelation:
    """A relation of the model with both sides' databags."""

    id: int
    sides: list[tuple[str, Endpoint]]
    app_data: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    unit_data: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)

    @property
    def peer(self) -> bool:
        """Whether this is a peer relation."""
        return len(self.sides) == 1

    def side(self, app: str) -> Endpoint:
        """The endpoint of `app` in this relation."""
        return next(ep for a, ep in self.sides if a == app)

    def other(self, app: str) -> tuple[str, Endpoint]:
        """The other side's app and endpoint."""
        return next((a, ep) for a, ep in self.sides if a != app)


@dataclasses.dataclass
class SecretView:
    """A consumer unit's view of a secret."""

    tracked: int
    label: str | None = None
    notified: int = 0


@dataclasses.dataclass
class SecretRecord:
    """A Juju secret as the controller holds it."""

    id: str
    owner_app: str
    owner_unit: str | None
    revisions: list[dict[str, str]]
    label: str | None = None
    description: str | None = None
    grants: dict[int, set[str]] = dataclasses.field(default_factory=dict)
    views: dict[str, SecretView] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class SimUnit:
    """One unit of one of our applications."""

    app: SimApp
    id: int
    state: Any
    ctx: Any = None
    error: str | None = None
    hooks: int = 0

    @property
    def name(self) -> str:
        """Unit name, e.g. katib/0."""
        return f"{self.app.name}/{self.id}"


@dataclasses.dataclass
class SimApp:
    """One of our applications."""

    name: str
    charm: CharmInfo
    spec: dict[str, Any]
    units: list[SimUnit] = dataclasses.field(default_factory=list)
    missing: str | None = None
    charm_root: Path | None = None


@dataclasses.dataclass
class HookError:
    """A hook that raised: which unit, which event, and the traceback."""

    unit: str
    event: str
    summary: str
    traceback: str


@dataclasses.dataclass
class SimulationResult:
    """What the simulated deploy produced."""

    statuses: list[tuple[str, str, str, str]]  # app, charm, status, message
    ours: dict[str, str]  # app -> status
    hook_runs: int
    cap_hit: bool
    k8s_requests: int
    k8s_writes: int
    k8s_objects: dict[str, int]
    steady_state_writes: int
    errors: list[HookError]
    standin_problems: list[str]
    validated_relations: int
    wall_time: float
    workload_notes: list[str]

    @property
    def all_active(self) -> bool:
        """Whether every one of our applications is active."""
        return bool(self.ours) and all(s == "active" for s in self.ours.values())


class _Broker(SecretBroker):
    def __init__(self, model: SimulatedModel):
        self.model = model

    def create(self, owner: str, label: str, content: dict[str, str], relation_id: int) -> str:
        for rec in self.model.secrets.values():
            if rec.owner_app == owner and rec.label == label:
                if rec.revisions[-1] != content:
                    rec.revisions.append(dict(content))
                    self.model._notify_secret(rec)
                rec.grants.setdefault(relation_id, set()).add(
                    self.model._remote_of(owner, relation_id)
                )
                return rec.id
        rec = SecretRecord(
            id=f"secret:{uuid.uuid4().hex[:20]}",
            owner_app=owner,
            owner_unit=None,
            revisions=[dict(content)],
            label=label,
        )
        rec.grants[relation_id] = {self.model._remote_of(owner, relation_id)}
        self.model.secrets[rec.id] = rec
        return rec.id

    def read(self, reader: str, secret_id: str) -> dict[str, str] | None:
        rec = self.model.secrets.get(secret_id)
        if rec is None or not self.model._granted(rec, reader, f"{reader}/0"):
            return None
        return dict(rec.revisions[-1])


class SimulatedModel:
    """A Juju model simulated in this process.

    Args:
        sources: bundle sources (catalogs and our charms' paths).
        bundle: the rendered bundle to deploy.
        max_hooks: cap on hook runs; reaching it is reported.
        progress: called with a progress line now and then.
    """

    def __init__(
        self,
        sources: Sources,
        bundle: dict[str, Any],
        *,
        max_hooks: int = 3000,
        progress: Callable[[str], None] | None = None,
    ):
        from kfcharm.testing import FakeKubernetes

        self.sources = sources
        self.bundle = bundle
        self.max_hooks = max_hooks
        self.progress = progress or (lambda _msg: None)
        self.model_uuid = str(uuid.uuid4())
        self.k8s = FakeKubernetes(namespace=MODEL)
        self.loader = CharmLoader()
        self.workloads = WorkloadFakes()
        self.schemas = schemas_dir(sources.root)
        self.apps: dict[str, SimApp] = {}
        self.standins: dict[str, StandIn] = {}
        self.relations: dict[int, SimRelation] = {}
        self.secrets: dict[str, SecretRecord] = {}
        self.queue: collections.deque[tuple[SimUnit, EventSpec]] = collections.deque()
        self._pending: set[tuple[str, EventSpec]] = set()
        self.errors: list[HookError] = []
        self.hook_runs = 0
        self._tmp = tempfile.TemporaryDirectory(prefix="kfbundle-sim-")
        self._seeded: set[tuple[str, str | None, str]] = set()

    # -- set-up ------------------------------------------------------------------------------

    def _build(self) -> None:
        from ops import testing

        broker = _Broker(self)
        for app, spec in (self.bundle.get("applications") or {}).items():
            charm = charm_name_of(spec or {})
            info = self.sources.charm(charm)
            if info is not None and info.ours:
                self.apps[app] = SimApp(app, info, spec or {})
            else:
                self.standins[app] = StandIn(app, charm, MODEL, broker, self.schemas)
        for app in self.bundle.get("saas") or {}:
            self.standins[app] = StandIn(app, app, MODEL, broker, self.schemas)

        next_id = 1
        for rel in self.bundle.get("relations") or []:
            sides: list[tuple[str, Endpoint]] = []
            for side in rel:
                app_name, _, ep_name = str(side).partition(":")
                info = self._info(app_name)
                endpoint = info.endpoints.get(ep_name) if info else None
                if endpoint is None:
                    endpoint = Endpoint(ep_name or "?", "?", "?")
                sides.append((app_name, endpoint))
            self.relations[next_id] = SimRelation(next_id, sides)
            next_id += 1

        for sim_app in self.apps.values():
            self._prepare_app(sim_app, testing)
            if sim_app.missing:
                continue
            for peer_ep in sim_app.charm.endpoints.values():
                if peer_ep.role == "peers":
                    self.relations[next_id] = SimRelation(next_id, [(sim_app.name, peer_ep)])
                    next_id += 1
        for sim_rel in self.relations.values():
            for side_app, _ in sim_rel.sides:
                sim_rel.app_data.setdefault(side_app, {})
                for unit_name in self._unit_names(side_app):
                    sim_rel.unit_data.setdefault(unit_name, self._juju_unit_keys(unit_name))
        for sim_app in self.apps.values():
            for sim_unit in sim_app.units:
                sim_unit.state = self._with_relations(sim_unit, sim_unit.state)

    def _info(self, app: str) -> CharmInfo | None:
        if app in self.apps:
            return self.apps[app].charm
        apps = self.bundle.get("applications") or {}
        if app in apps:
            return self.sources.charm(charm_name_of(apps[app] or {}))
        return self.sources.saas.get(app)

    def _unit_names(self, app: str) -> list[str]:
        if app in self.apps:
            return [u.name for u in self.apps[app].units] or [f"{app}/0"]
        return [f"{app}/0"]

    @staticmethod
    def _juju_unit_keys(unit: str) -> dict[str, str]:
        n = sum(ord(c) for c in unit) % 250 + 2
        address = f"10.1.{n}.{int(unit.rsplit('/', 1)[1]) + 10}"
        return {
            "egress-subnets": f"{address}/32",
            "ingress-address": address,
            "private-address": address,
        }

    def _prepare_app(self, app: SimApp, testing: Any) -> None:
        info = app.charm
        if info.path is None:
            app.missing = f"charm not in this checkout (charms/{info.name} missing)"
            return
        if not info.runnable:
            app.missing = f"charms/{info.name}/src/charm.py missing (charm not written yet)"
            return
        try:
            charm_type = self.loader.load(info.name, info.path)
        except CharmLoadError as err:
            app.missing = str(err)
            return
        self.workloads.install(info.name, lambda mod: self.loader.module(info.name, mod))
        root = Path(self._tmp.name) / app.name
        root.mkdir(parents=True, exist_ok=True)
        for child in ("src", "lib"):
            if (info.path / child).exists() and not (root / child).exists():
                (root / child).symlink_to((info.path / child).resolve())
        app.charm_root = root
        meta = _load_meta(info.path)
        scale = int(app.spec.get("scale", 1) or 1)
        for i in range(scale):
            ctx = testing.Context(
                charm_type,
                charm_root=root,
                app_name=app.name,
                unit_id=i,
                app_trusted=bool(app.spec.get("trust")),
            )
            containers = []
            for cname in meta.get("containers") or {}:
                mounts = {}
                for d in PERSISTED_DIRS:
                    src = root / "fs" / str(i) / cname / d.strip("/")
                    src.mkdir(parents=True, exist_ok=True)
                    mounts[d.strip("/")] = testing.Mount(location=d, source=src)
                containers.append(
                    testing.Container(
                        cname,
                        can_connect=True,
                        mounts=mounts,
                        execs={testing.Exec((), return_code=0, stdout="")},
                    )
                )
            storages = [testing.Storage(s, index=i) for s in (meta.get("storage") or {})]
            state = testing.State(
                leader=(i == 0),
                config=dict(app.spec.get("options") or {}),
                containers=containers,
                storages=storages,
                model=testing.Model(name=MODEL, uuid=self.model_uuid, type="kubernetes"),
                planned_units=scale,
            )
            app.units.append(SimUnit(app, i, state, ctx))
        self._seed_juju_objects(app, meta)

    def _seed_juju_objects(self, app: SimApp, meta: dict[str, Any]) -> None:
        from lightkube.models.apps_v1 import StatefulSetSpec
        from lightkube.models.core_v1 import Container, PodSpec, PodTemplateSpec, ServicePort
        from lightkube.models.core_v1 import ServiceSpec as CoreServiceSpec
        from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
        from lightkube.resources.apps_v1 import StatefulSet
        from lightkube.resources.core_v1 import Service

        labels = {"app.kubernetes.io/name": app.name}
        names = ["charm", *(meta.get("containers") or {})]
        sts = StatefulSet(
            metadata=ObjectMeta(name=app.name, namespace=MODEL, labels=labels),
            spec=StatefulSetSpec(
                selector=LabelSelector(matchLabels=labels),
                serviceName=f"{app.name}-endpoints",
                replicas=len(app.units),
                template=PodTemplateSpec(
                    metadata=ObjectMeta(labels=labels),
                    spec=PodSpec(
                        containers=[
                            Container(name=n, image=f"registry.jujucharms.com/{app.name}/{n}")
                            for n in names
                        ]
                    ),
                ),
            ),
        )
        svc = Service(
            metadata=ObjectMeta(name=app.name, namespace=MODEL, labels=labels),
            spec=CoreServiceSpec(
                selector=labels, ports=[ServicePort(port=65535, name="placeholder")]
            ),
        )
        self.k8s.add(sts, svc)

    def _seed_cluster(self) -> None:
        from lightkube.models.meta_v1 import ObjectMeta
        from lightkube.resources.core_v1 import Namespace

        self.k8s.add(Namespace(metadata=ObjectMeta(name=MODEL)))
        # A user's namespace, as kubeflow-profiles' controller creates for a Profile.
        self.k8s.add(
            Namespace(
                metadata=ObjectMeta(
                    name=USER_NAMESPACE,
                    labels={
                        "user.kubeflow.org/enabled": "true",
                        "app.kubernetes.io/part-of": "kubeflow-profile",
                    },
                )
            )
        )
        charms = {s.charm for s in self.standins.values()}
        crds = []
        if "istio-pilot" in charms:
            crds += [
                ("networking.istio.io", "Gateway", "gateways", ["v1beta1", "v1"]),
                ("networking.istio.io", "VirtualService", "virtualservices", ["v1beta1", "v1"]),
                ("networking.istio.io", "DestinationRule", "destinationrules", ["v1beta1", "v1"]),
                (
                    "security.istio.io",
                    "AuthorizationPolicy",
                    "authorizationpolicies",
                    ["v1beta1", "v1"],
                ),
                (
                    "security.istio.io",
                    "RequestAuthentication",
                    "requestauthentications",
                    ["v1beta1", "v1"],
                ),
            ]
            self.k8s.add(Namespace(metadata=ObjectMeta(name="istio-system")))
        if "knative-serving" in charms:
            crds.append(("serving.knative.dev", "Service", "services", ["v1"]))
            self.k8s.add(Namespace(metadata=ObjectMeta(name="knative-serving")))
        if "admission-webhook" in charms:
            crds.append(("kubeflow.org", "PodDefault", "poddefaults", ["v1alpha1"]))
        for group, kind, plural, versions in crds:
            self.k8s.add(_permissive_crd(group, kind, plural, versions))
        self._seeded = {
            (o.kind, o.metadata.namespace, o.metadata.name) for o in self.k8s.objects()
        }

    # -- state building ----------------------------------------------------------------------

    def _with_relations(self, unit: SimUnit, state: Any) -> Any:
        from ops import testing

        app = unit.app.name
        relations: list[Any] = []
        for rel in self.relations.values():
            if app not in [a for a, _ in rel.sides]:
                continue
            ep = rel.side(app)
            if rel.peer:
                relations.append(
                    testing.PeerRelation(
                        ep.name,
                        ep.interface,
                        id=rel.id,
                        local_app_data=dict(rel.app_data[app]),
                        local_unit_data=dict(rel.unit_data[unit.name]),
                        peers_data={
                            u.id: dict(rel.unit_data[u.name])
                            for u in unit.app.units
                            if u.id != unit.id
                        },
                    )
                )
                continue
            other, _ = rel.other(app)
            relations.append(
                testing.Relation(
                    ep.name,
                    ep.interface,
                    id=rel.id,
                    remote_app_name=other,
                    local_app_data=dict(rel.app_data[app]),
                    local_unit_data=dict(rel.unit_data[unit.name]),
                    remote_app_data=dict(rel.app_data[other]),
                    remote_units_data={
                        int(u.rsplit("/", 1)[1]): dict(rel.unit_data[u])
                        for u in self._unit_names(other)
                    },
                )
            )
        secrets = []
        for rec in self.secrets.values():
            if rec.owner_app == app and rec.owner_unit in (None, unit.name):
                secrets.append(
                    testing.Secret(
                        dict(rec.revisions[-1]),
                        id=rec.id,
                        owner="unit" if rec.owner_unit else "app",
                        remote_grants={k: set(v) for k, v in rec.grants.items()},
                        label=rec.label,
                        description=rec.description,
                    )
                )
            elif self._granted(rec, app, unit.name):
                view = rec.views.setdefault(
                    unit.name, SecretView(tracked=len(rec.revisions), notified=len(rec.revisions))
                )
                secrets.append(
                    testing.Secret(
                        dict(rec.revisions[view.tracked - 1]),
                        latest_content=dict(rec.revisions[-1]),
                        id=rec.id,
                        owner=None,
                        label=view.label,
                    )
                )
        return dataclasses.replace(state, relations=relations, secrets=secrets)

    def _granted(self, rec: SecretRecord, app: str, unit: str) -> bool:
        for rel_id, grantees in rec.grants.items():
            rel = self.relations.get(rel_id)
            if rel is None or app not in [a for a, _ in rel.sides]:
                continue
            if app in grantees or unit in grantees:
                return True
        return False

    def _remote_of(self, app: str, relation_id: int) -> str:
        return self.relations[relation_id].other(app)[0]

    # -- events ------------------------------------------------------------------------------

    def _enqueue(self, unit: SimUnit, spec: EventSpec) -> None:
        key = (unit.name, spec)
        if key in self._pending:
            return
        self._pending.add(key)
        self.queue.append((unit, spec))

    def _event(self, unit: SimUnit, spec: EventSpec, state: Any) -> Any:
        on = unit.ctx.on
        kind = spec[0]
        if kind in ("install", "leader_elected", "config_changed", "start", "update_status"):
            return getattr(on, kind)()
        if kind == "pebble_ready":
            return on.pebble_ready(state.get_container(spec[1]))
        if kind == "storage_attached":
            return on.storage_attached(next(s for s in state.storages if s.name == spec[1]))
        if kind == "secret_changed":
            return on.secret_changed(next(s for s in state.secrets if s.id == spec[1]))
        relation = next(r for r in state.relations if r.id == spec[1])
        if kind == "relation_created":
            return on.relation_created(relation)
        if kind == "relation_joined":
            return on.relation_joined(relation, remote_unit=spec[2])
        if kind == "relation_changed":
            return on.relation_changed(relation, remote_unit=spec[2])
        raise ValueError(f"unknown event {spec!r}")

    @staticmethod
    def _describe(spec: EventSpec, unit: SimUnit) -> str:
        kind = spec[0].replace("_", "-")
        if kind in ("pebble-ready", "storage-attached"):
            return f"{spec[1]}-{kind}"
        if kind.startswith("relation-"):
            return f"{kind} (relation {spec[1]})"
        if kind == "secret-changed":
            return f"secret-changed ({spec[1]})"
        return kind

    def _run(self, unit: SimUnit, spec: EventSpec) -> None:
        self._pending.discard((unit.name, spec))
        state_in = self._with_relations(unit, unit.state)
        try:
            event = self._event(unit, spec, state_in)
        except StopIteration:
            return  # the relation or secret went away meanwhile
        self.hook_runs += 1
        unit.hooks += 1
        self.workloads.current_app = unit.app.name
        try:
            with self.loader.activated(unit.app.charm.name):
                out = unit.ctx.run(event, state_in)
        except Exception as err:  # a charm bug: show it as error, keep going
            cause = err.__cause__ or err
            tb = "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))
            summary = f"{type(cause).__name__}: {cause}".splitlines()[0][:200]
            unit.error = f"hook failed: {self._describe(spec, unit)}: {summary}"
            self.errors.append(HookError(unit.name, self._describe(spec, unit), summary, tb))
            return
        unit.error = None
        self._absorb(unit, state_in, out)
        unit.state = out
        self._after_hook(unit)

    def _after_hook(self, unit: SimUnit) -> None:
        """Let the workload fakes react to what the hook pushed (as running pods would)."""
        if unit.app.charm.name == "resource-dispatcher" and unit.app.charm_root is not None:
            fs = unit.app.charm_root / "fs" / str(unit.id) / "dispatcher"
            dispatcher_controller(fs, unit.app.name, self.k8s)

    def _absorb(self, unit: SimUnit, state_in: Any, out: Any) -> None:
        app = unit.app.name
        # Secrets first: a databag written in the same hook may point at a new secret.
        self._absorb_secrets(unit, state_in, out)
        for relation in out.relations:
            rel = self.relations.get(relation.id)
            if rel is None:
                continue
            changed = False
            if unit.state.leader and dict(relation.local_app_data) != rel.app_data[app]:
                rel.app_data[app] = dict(relation.local_app_data)
                changed = True
            if dict(relation.local_unit_data) != rel.unit_data[unit.name]:
                rel.unit_data[unit.name] = dict(relation.local_unit_data)
                changed = True
            if changed:
                self._data_changed(rel, unit)

    def _data_changed(self, rel: SimRelation, writer: SimUnit) -> None:
        app = writer.app.name
        if rel.peer:
            for peer in writer.app.units:
                if peer.id != writer.id:
                    self._enqueue(peer, ("relation_changed", rel.id, writer.id))
            return
        other, _ = rel.other(app)
        if other in self.apps:
            for unit in self.apps[other].units:
                self._enqueue(unit, ("relation_changed", rel.id, writer.id))
        elif other in self.standins:
            self._standin_receive(self.standins[other], rel)

    def _view(self, standin: StandIn, rel: SimRelation) -> RelationView:
        other, _ = rel.other(standin.app)
        return RelationView(
            rel.id,
            rel.side(standin.app),
            other,
            dict(rel.app_data[other]),
            {u: dict(rel.unit_data[u]) for u in self._unit_names(other)},
        )

    def _standin_receive(self, standin: StandIn, rel: SimRelation) -> None:
        standin.receive(self._view(standin, rel))
        self._standin_publish(standin)

    def _standin_publish(self, standin: StandIn) -> None:
        for rel in self.relations.values():
            apps = [a for a, _ in rel.sides]
            if standin.app not in apps or rel.peer:
                continue
            other, _ = rel.other(standin.app)
            if other not in self.apps:
                continue  # between two stand-ins: nothing to simulate
            app_bag, unit_bag = standin.publish(self._view(standin, rel))
            unit_name = standin.unit
            new_unit = {**self._juju_unit_keys(unit_name), **unit_bag}
            if app_bag != rel.app_data[standin.app] or new_unit != rel.unit_data.get(unit_name):
                rel.app_data[standin.app] = app_bag
                rel.unit_data[unit_name] = new_unit
                for unit in self.apps[other].units:
                    self._enqueue(unit, ("relation_changed", rel.id, 0))

    def _absorb_secrets(self, unit: SimUnit, state_in: Any, out: Any) -> None:
        app = unit.app.name
        before = {s.id for s in state_in.secrets if s.owner is not None}
        seen = set()
        for s in out.secrets:
            seen.add(s.id)
            rec = self.secrets.get(s.id)
            if rec is None:
                if s.owner in ("app", "unit"):
                    self.secrets[s.id] = SecretRecord(
                        id=s.id,
                        owner_app=app,
                        owner_unit=unit.name if s.owner == "unit" else None,
                        revisions=[dict(s.latest_content)],
                        label=s.label,
                        description=s.description,
                        grants={k: set(v) for k, v in s.remote_grants.items()},
                    )
                continue
            if s.owner is not None:
                if dict(s.latest_content) != rec.revisions[-1]:
                    rec.revisions.append(dict(s.latest_content))
                    self._notify_secret(rec)
                rec.grants = {k: set(v) for k, v in s.remote_grants.items()}
                rec.label = s.label
                rec.description = s.description
            else:
                view = rec.views.setdefault(unit.name, SecretView(tracked=len(rec.revisions)))
                if dict(s.tracked_content) == rec.revisions[-1]:
                    view.tracked = len(rec.revisions)
                view.label = s.label
        for removed in before - seen:
            self.secrets.pop(removed, None)

    def _notify_secret(self, rec: SecretRecord) -> None:
        latest = len(rec.revisions)
        for app in self.apps.values():
            for unit in app.units:
                if app.name == rec.owner_app or not self._granted(rec, app.name, unit.name):
                    continue
                view = rec.views.get(unit.name)
                if view is not None and view.notified < latest:
                    view.notified = latest
                    self._enqueue(unit, ("secret_changed", rec.id))
        for standin in self.standins.values():
            if self._granted(rec, standin.app, standin.unit):
                for rel_id in rec.grants:
                    rel = self.relations.get(rel_id)
                    if rel and standin.app in [a for a, _ in rel.sides] and not rel.peer:
                        standin.receive(self._view(standin, rel))

    # -- the deploy --------------------------------------------------------------------------

    def deploy(self) -> SimulationResult:
        """Deploy the bundle and drive events until nothing changes (or the cap)."""
        start = time.monotonic()
        self._build()
        self._seed_cluster()
        units = [u for a in self.apps.values() for u in a.units]
        self.progress(
            f"simulated model {MODEL!r}: {len(self.apps)} of our applications"
            f" ({len(units)} units), {len(self.standins)} stand-ins,"
            f" {len(self.relations)} relations"
        )
        for standin in self.standins.values():
            self._standin_publish(standin)
        self.queue.clear()
        self._pending.clear()
        with self.k8s.installed():
            try:
                self._initial_events(units)
                cap_hit = self._drain(start)
                writes_before = len(self.k8s.writes())
                for unit in units:
                    self._run(unit, ("update_status",))
                steady = len(self.k8s.writes()) - writes_before
                cap_hit = self._drain(start) or cap_hit
            finally:
                self.loader.release()
        return self._result(start, cap_hit, steady)

    def _initial_events(self, units: list[SimUnit]) -> None:
        phases: list[Callable[[SimUnit], list[EventSpec]]] = [
            lambda u: [("storage_attached", s.name) for s in u.state.storages],
            lambda u: [("install",)],
            lambda u: [
                ("relation_created", r.id)
                for r in self.relations.values()
                if u.app.name in [a for a, _ in r.sides]
            ],
            lambda u: [("leader_elected",)] if u.state.leader else [],
            lambda u: [("config_changed",), ("start",)],
            lambda u: [("pebble_ready", c.name) for c in u.state.containers],
            lambda u: [
                spec
                for r in self.relations.values()
                if u.app.name in [a for a, _ in r.sides]
                for remote in self._remote_unit_ids(r, u)
                for spec in (("relation_joined", r.id, remote), ("relation_changed", r.id, remote))
            ],
        ]
        for phase in phases:
            for unit in units:
                for spec in phase(unit):
                    self._enqueue(unit, spec)

    def _remote_unit_ids(self, rel: SimRelation, unit: SimUnit) -> list[int]:
        if rel.peer:
            return [u.id for u in unit.app.units if u.id != unit.id]
        other, _ = rel.other(unit.app.name)
        return [int(u.rsplit("/", 1)[1]) for u in self._unit_names(other)]

    def _drain(self, start: float) -> bool:
        last = time.monotonic()
        while self.queue:
            if self.hook_runs >= self.max_hooks:
                return True
            unit, spec = self.queue.popleft()
            self._run(unit, spec)
            if time.monotonic() - last > 2.0:
                last = time.monotonic()
                self.progress(
                    f"{self.hook_runs} hooks run, {len(self.queue)} pending,"
                    f" {len(self.k8s.requests)} Kubernetes requests"
                )
        return False

    def _result(self, start: float, cap_hit: bool, steady: int) -> SimulationResult:
        statuses: list[tuple[str, str, str, str]] = []
        ours: dict[str, str] = {}
        for app in self.apps.values():
            status, message = self._app_status(app)
            ours[app.name] = status
            statuses.append((app.name, app.charm.name, status, message))
        for standin in self.standins.values():
            status, message = standin.status()
            statuses.append((standin.app, standin.charm, status, message))
        kinds: dict[str, int] = collections.Counter()
        for obj in self.k8s.objects():
            key = (obj.kind, obj.metadata.namespace, obj.metadata.name)
            if key not in self._seeded:
                kinds[obj.kind] += 1
        problems = [p for s in self.standins.values() for ps in s.problems.values() for p in ps]
        validated = sum(len(s.validated) for s in self.standins.values())
        return SimulationResult(
            statuses=statuses,
            ours=ours,
            hook_runs=self.hook_runs,
            cap_hit=cap_hit,
            k8s_requests=len(self.k8s.requests),
            k8s_writes=len(self.k8s.writes()),
            k8s_objects=dict(sorted(kinds.items())),
            steady_state_writes=steady,
            errors=self.errors,
            standin_problems=problems,
            validated_relations=validated,
            wall_time=time.monotonic() - start,
            workload_notes=list(self.workloads.patched),
        )

    @staticmethod
    def _app_status(app: SimApp) -> tuple[str, str]:
        if app.missing:
            return "missing", app.missing
        worst = ("active", "")
        order = ["active", "maintenance", "waiting", "unknown", "blocked", "error"]
        for unit in app.units:
            if unit.error:
                candidate = ("error", f"{unit.name}: {unit.error}")
            else:
                st = unit.state.unit_status
                candidate = (st.name, st.message)
                if unit.state.leader and unit.state.app_status.name not in ("unknown", "active"):
                    app_st = unit.state.app_status
                    if order.index(app_st.name) > order.index(candidate[0]):
                        candidate = (app_st.name, app_st.message)
            if order.index(candidate[0]) > order.index(worst[0]) or (
                worst == ("active", "") and candidate[0] == "active"
            ):
                worst = candidate
        return worst


def _load_meta(charm_dir: Path) -> dict[str, Any]:
    import yaml

    for name in ("charmcraft.yaml", "metadata.yaml"):
        path = charm_dir / name
        if path.is_file():
            return dict(yaml.safe_load(path.read_text()) or {})
    return {}


def _permissive_crd(group: str, kind: str, plural: str, versions: list[str]) -> dict[str, Any]:
    """A CRD accepting any spec, standing in for one a Charmhub charm installs."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "names": {
                "kind": kind,
                "plural": plural,
                "singular": kind.lower(),
                "listKind": f"{kind}List",
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": v,
                    "served": True,
                    "storage": i == len(versions) - 1,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
                for i, v in enumerate(versions)
            ],
        },
    }


def new_secret_id() -> str:
    """A Juju-like secret id."""
    return f"secret:{pysecrets.token_hex(10)}"
