"""The event-driven core: turns namespace and manifest changes into the fewest writes.

State kept in memory (rebuilt by `Dispatcher.resync` from two kinds of list):
- the desired manifests, by (kind, name), with their hashes;
- the labelled namespaces;
- the objects this owner dispatched, by namespace and (kind, name), with the manifest hash
  each was made from (the `HASH_ANNOTATION`) and its resourceVersion.

From that, a change costs exactly the writes it needs: a new labelled namespace gets one
create per manifest; a changed manifest one apply per namespace; a withdrawn manifest or an
unlabelled namespace one delete per dispatched object. An object of the same name that is
not ours (no owner labels) is never changed: the create answers 409, one get confirms it is
foreign, and it is left alone. Failed writes are retried with exponential backoff (jittered)
when a retry may help (403, 404, 409, 429, 5xx, transport errors), not when the API server
rejected the object (400, 422): those wait for the manifest to change.

Not thread-safe: one thread (the runner's main loop, or a test) drives it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from lightkube.core.generic_client import ALL_NS

from .handoff import KIND_ORDER, HandoffEntry, LabelSelector
from .kube import HASH_ANNOTATION, RESOURCES, ApiFailure, Namespace, Owner, failure_of
from .metrics import Metrics

logger = logging.getLogger(__name__)

Key = tuple[str, str]  # (kind, name)

_RANK = {kind: index for index, kind in enumerate(KIND_ORDER)}


def _order(keys: Iterable[Key]) -> list[Key]:
    return sorted(keys, key=lambda key: (_RANK.get(key[0], 99), key[1]))


def _rv(obj: Any) -> int | None:
    """The resourceVersion as a number, when it is one (it is, on etcd-backed servers)."""
    try:
        return int(obj.metadata.resourceVersion)
    except (AttributeError, TypeError, ValueError):
        return None


@dataclass
class _Have:
    hash: str | None
    rv: int | None


@dataclass
class _Retry:
    due: float
    attempt: int


@dataclass
class Backoff:
    """Exponential backoff with full jitter.

    Attributes:
        base: delay of the first retry (seconds).
        cap: the longest delay.
        jitter: randomise each delay in [delay/2, delay] (off for deterministic tests).
    """

    base: float = 0.5
    cap: float = 60.0
    jitter: bool = True

    def delay(self, attempt: int) -> float:
        """Delay before retry number `attempt` (1-based)."""
        delay = min(self.cap, self.base * (2 ** (attempt - 1)))
        if self.jitter:
            delay = random.uniform(delay / 2, delay)  # noqa: S311 - not cryptographic
        return delay


class Dispatcher:
    """Dispatch manifests into labelled namespaces.

    Args:
        client: a lightkube `Client` (or the kfcharm fake).
        owner: the app and model whose labels mark dispatched objects.
        selector: the label that marks target namespaces.
        metrics: where to count (a fresh `Metrics` when None).
        clock: monotonic seconds (tests pass a fake).
        backoff: retry delays.
    """

    def __init__(
        self,
        client: Any,
        owner: Owner,
        selector: LabelSelector,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        backoff: Backoff | None = None,
    ):
        self.client = client
        self.owner = owner
        self.selector = selector
        self.metrics = metrics or Metrics()
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.desired: dict[Key, HandoffEntry] = {}
        self._hashes: dict[Key, str] = {}
        self.namespaces: set[str] = set()
        self.owned: dict[str, dict[Key, _Have]] = {}
        self.foreign: set[tuple[str, Key]] = set()
        self._retries: dict[tuple[str, Key], _Retry] = {}
        self.synced = False
        self.last_failure: ApiFailure | None = None
        self.forbidden: str | None = None

    # -- inputs --------------------------------------------------------------------------

    def resync(self) -> None:
        """Rebuild the state from the API server and converge every namespace.

        Costs one list of namespaces and one list per kind (owner label selector, all
        namespaces), then only the writes needed.

        Raises:
            lightkube.ApiError, httpx.TransportError: a list failed (the caller retries).
        """
        since = self.clock()
        namespaces = {
            ns.metadata.name
            for ns in self.client.list(Namespace)
            if self._is_target(ns.metadata.labels, ns)
        }
        owned: dict[str, dict[Key, _Have]] = {}
        for kind, cls in RESOURCES.items():
            try:
                items = list(self.client.list(cls, namespace=ALL_NS, labels=self.owner.labels))
            except Exception as exc:
                failure = failure_of(exc)
                if failure is not None and failure.code == 404:
                    continue  # the kind is not installed (PodDefault without its CRD)
                raise
            for obj in items:
                if not self.owner.owns(obj.metadata.labels):
                    continue
                annotations = obj.metadata.annotations or {}
                owned.setdefault(obj.metadata.namespace, {})[(kind, obj.metadata.name)] = _Have(
                    annotations.get(HASH_ANNOTATION), _rv(obj)
                )
        self.namespaces = namespaces
        self.owned = owned
        self.forbidden = None  # the lists went through; writes below report their own
        self.foreign.clear()
        self._retries.clear()
        writes = 0
        for namespace in sorted(set(namespaces) | set(owned)):
            writes += self._converge(namespace, self._keys_in(namespace))
        self.synced = True
        self._done(since, writes)
        logger.info(
            "synced: %d labelled namespaces, %d manifests, %d writes",
            len(self.namespaces),
            len(self.desired),
            writes,
        )

    def set_manifests(self, entries: Iterable[HandoffEntry], since: float | None = None) -> int:
        """Make `entries` the desired manifests and apply what changed everywhere.

        Args:
            entries: the manifests (from the manifests file).
            since: when the change was noticed (for the latency metric); now when None.

        Returns:
            The number of writes made.
        """
        since = self.clock() if since is None else since
        desired = {(e.kind, e.name): e for e in entries}
        hashes = {key: entry.hash for key, entry in desired.items()}
        changed = {
            key
            for key in desired.keys() | self._hashes.keys()
            if hashes.get(key) != self._hashes.get(key)
        }
        self.desired, self._hashes = desired, hashes
        self.metrics.manifests.set(len(desired))
        if not changed:
            return 0
        for key in changed:
            kind, name = key
            state = "withdrawn" if key not in desired else "changed"
            logger.info(
                "manifest %s/%s %s (from %s)",
                kind,
                name,
                state,
                desired[key].source if key in desired else "-",
            )
        self.foreign = {item for item in self.foreign if item[1] not in changed}
        writes = 0
        if self.synced:
            for namespace in sorted(self.namespaces | set(self.owned)):
                writes += self._converge(namespace, changed)
            self._done(since, writes)
        return writes

    def namespace_event(
        self,
        event: str,
        name: str,
        labels: dict[str, str] | None,
        terminating: bool = False,
        since: float | None = None,
    ) -> int:
        """React to an ADDED/MODIFIED/DELETED event of a namespace.

        Returns:
            The number of writes made.
        """
        since = self.clock() if since is None else since
        if event == "DELETED" or terminating:
            # Its objects go with it: forget them without a request.
            self.namespaces.discard(name)
            self._forget_namespace(name)
            return 0
        target = self.selector.matches(labels)
        writes = 0
        if target and name not in self.namespaces:
            logger.info(
                "namespace %s is a target: dispatching %d manifests", name, len(self.desired)
            )
            self.namespaces.add(name)
            self.foreign = {item for item in self.foreign if item[0] != name}
            writes = self._converge(name, self._keys_in(name))
        elif not target and (name in self.namespaces or self.owned.get(name)):
            logger.info(
                "namespace %s lost label %s: removing dispatched objects", name, self.selector
            )
            self.namespaces.discard(name)
            writes = self._converge(name, self._keys_in(name))
        if writes:
            self._done(since, writes)
        return writes

    def owned_event(self, event: str, kind: str, obj: Any) -> int:
        """React to a watch event of an object carrying the owner labels (drift repair).

        Events older than what this dispatcher wrote itself are ignored. A dispatched object
        deleted, or edited to another hash, by someone else is restored.

        Returns:
            The number of writes made.
        """
        namespace, name = obj.metadata.namespace, obj.metadata.name
        key = (kind, name)
        have = self.owned.get(namespace, {}).get(key)
        rv = _rv(obj)
        if have is not None and have.rv is not None and rv is not None and rv <= have.rv:
            return 0
        if event == "DELETED":
            if have is None:
                return 0
            self.owned[namespace].pop(key, None)
        else:
            if not self.owner.owns(obj.metadata.labels):
                return 0
            digest = (obj.metadata.annotations or {}).get(HASH_ANNOTATION)
            self.owned.setdefault(namespace, {})[key] = _Have(digest, rv)
            if have is not None and have.hash == digest:
                return 0
        if namespace in self.namespaces and key in self.desired:
            logger.info(
                "%s %s/%s changed outside the dispatcher: restoring", kind, namespace, name
            )
            return self._converge(namespace, [key])
        return 0

    def process_retries(self) -> float | None:
        """Retry the writes that are due.

        Returns:
            Seconds until the next retry is due, or None when none is pending.
        """
        now = self.clock()
        due = [item for item, retry in self._retries.items() if retry.due <= now]
        for namespace, key in sorted(due):
            if (namespace, key) in self._retries:
                self._converge(namespace, [key], retrying=True)
        self.metrics.pending.set(len(self._retries))
        if not self._retries:
            return None
        return max(0.0, min(r.due for r in self._retries.values()) - self.clock())

    @property
    def pending(self) -> int:
        """Writes waiting for a retry."""
        return len(self._retries)

    @property
    def object_count(self) -> int:
        """Objects this dispatcher owns (in its cache)."""
        return sum(len(keys) for keys in self.owned.values())

    # -- convergence ---------------------------------------------------------------------

    def _is_target(self, labels: dict[str, str] | None, ns: Any) -> bool:
        phase = getattr(getattr(ns, "status", None), "phase", None)
        return phase != "Terminating" and self.selector.matches(labels)

    def _keys_in(self, namespace: str) -> set[Key]:
        return set(self.desired) | set(self.owned.get(namespace, {}))

    def _forget_namespace(self, namespace: str) -> None:
        self.owned.pop(namespace, None)
        self.foreign = {item for item in self.foreign if item[0] != namespace}
        self._retries = {k: v for k, v in self._retries.items() if k[0] != namespace}
        self._update_gauges()

    def _converge(self, namespace: str, keys: Iterable[Key], retrying: bool = False) -> int:
        """Write what `keys` need in `namespace`; returns the number of writes made."""
        writes = 0
        for key in _order(keys):
            want = self.desired.get(key) if namespace in self.namespaces else None
            have = self.owned.get(namespace, {}).get(key)
            item = (namespace, key)
            if want is not None and item in self.foreign:
                continue
            try:
                if want is not None and have is None:
                    writes += self._create(namespace, key, want)
                elif want is not None and have is not None and have.hash != want.hash:
                    writes += self._apply(namespace, key, want)
                elif want is None and have is not None:
                    writes += self._delete(namespace, key)
                self._retries.pop(item, None)
            except Exception as exc:
                failure = failure_of(exc)
                if failure is None:
                    raise
                writes += 1
                self._failed(item, failure, retrying)
        self._update_gauges()
        return writes

    def _create(self, namespace: str, key: Key, want: HandoffEntry) -> int:
        obj = self.owner.build(want.manifest, namespace, want.hash, want.source)
        try:
            created = self.client.create(obj, namespace=namespace)
        except Exception as exc:
            failure = failure_of(exc)
            if failure is None or failure.code != 409:
                raise
            return 1 + self._adopt_or_skip(namespace, key, want)
        self._record(namespace, key, want.hash, created)
        self.metrics.applied.inc(operation="create")
        logger.debug("created %s %s/%s", key[0], namespace, key[1])
        return 1

    def _adopt_or_skip(self, namespace: str, key: Key, want: HandoffEntry) -> int:
        """After a 409 on create: take over our own object, or leave a foreign one alone."""
        live = self.client.get(RESOURCES[key[0]], key[1], namespace=namespace)
        if not self.owner.owns(live.metadata.labels):
            self.foreign.add((namespace, key))
            self.metrics.skipped.inc()
            logger.warning(
                "not dispatching %s %s/%s: an object of that name exists and was not created "
                "by %s",
                key[0],
                namespace,
                key[1],
                self.owner.app,
            )
            return 1
        digest = (live.metadata.annotations or {}).get(HASH_ANNOTATION)
        self.owned.setdefault(namespace, {})[key] = _Have(digest, _rv(live))
        if digest == want.hash:
            return 1
        return 1 + self._apply(namespace, key, want)

    def _apply(self, namespace: str, key: Key, want: HandoffEntry) -> int:
        obj = self.owner.build(want.manifest, namespace, want.hash, want.source)
        applied = self.client.apply(obj, field_manager=self.owner.app, force=True)
        self._record(namespace, key, want.hash, applied)
        self.metrics.applied.inc(operation="update")
        logger.debug("updated %s %s/%s", key[0], namespace, key[1])
        return 1

    def _delete(self, namespace: str, key: Key) -> int:
        try:
            self.client.delete(RESOURCES[key[0]], key[1], namespace=namespace)
        except Exception as exc:
            failure = failure_of(exc)
            if failure is None or failure.code != 404:
                raise
        self.owned.get(namespace, {}).pop(key, None)
        if not self.owned.get(namespace):
            self.owned.pop(namespace, None)
        self.metrics.deleted.inc()
        logger.debug("deleted %s %s/%s", key[0], namespace, key[1])
        return 1

    def _record(self, namespace: str, key: Key, digest: str, result: Any) -> None:
        self.owned.setdefault(namespace, {})[key] = _Have(digest, _rv(result))
        if self.forbidden:
            self.forbidden = None

    def _failed(self, item: tuple[str, Key], failure: ApiFailure, retrying: bool) -> None:
        namespace, (kind, name) = item
        self.metrics.errors.inc(reason=failure.reason)
        self.last_failure = failure
        if failure.code == 403:
            self.forbidden = f"{kind} in namespace {namespace}"
        if not failure.retry:
            self._retries.pop(item, None)
            logger.error(
                "Kubernetes rejected %s %s/%s (%s): %s; not retrying until it changes",
                kind,
                namespace,
                name,
                failure.code,
                failure.message,
            )
            return
        previous = self._retries.get(item)
        attempt = previous.attempt + 1 if previous else 1
        delay = self.backoff.delay(attempt)
        self._retries[item] = _Retry(self.clock() + delay, attempt)
        logger.warning(
            "writing %s %s/%s failed (%s %s); retry %d in %.1fs",
            kind,
            namespace,
            name,
            failure.code or "",
            failure.reason,
            attempt,
            delay,
        )

    def _update_gauges(self) -> None:
        self.metrics.namespaces.set(len(self.namespaces))
        self.metrics.objects.set(self.object_count)
        self.metrics.pending.set(len(self._retries))

    def _done(self, since: float, writes: int) -> None:
        if writes:
            self.metrics.latency.observe(max(0.0, self.clock() - since))
        if not self._retries:
            self.metrics.last_success.set(time.time())
