"""The controller's loop: watches and the manifests file feed one thread driving the core.

Threads:
- one watcher per watched kind (namespaces, and each dispatched kind with the owner label
  selector) turns watch events into queue items; when a watch ends or fails it restarts
  from the last resourceVersion after a backoff, or asks for a full resync when the server
  answers 410 Gone;
- the main thread takes queue items, polls the manifests file (a `stat` per second, the
  content is read and hashed only when size or mtime changed), runs due retries, and writes
  the status file when it changes.

`Runner.step()` runs one iteration, so tests drive the loop without threads of their own.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .handoff import ControllerStatus, HandoffError, decode_manifests, file_hash
from .kube import RESOURCES, Namespace, failure_of
from .reconciler import Backoff, Dispatcher

logger = logging.getLogger(__name__)


@dataclass
class _Item:
    source: str  # "namespace", a kind, or "resync"
    event: str
    obj: Any
    at: float


class Watcher(threading.Thread):
    """Feeds the events of one watch into a queue, forever (until `stop` is set).

    Args:
        client: lightkube client.
        source: "namespace" or the kind name.
        resource: the lightkube class to watch.
        out: the queue of `_Item`s.
        stop: ends the thread.
        labels: label selector of the watch.
        backoff: delay between restarts after errors.
        clock: monotonic time for the items.
    """

    def __init__(
        self,
        client: Any,
        source: str,
        resource: type,
        out: queue.Queue[_Item],
        stop: threading.Event,
        labels: dict[str, str] | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        watch_kwargs: dict[str, Any] | None = None,
    ):
        super().__init__(name=f"watch-{source}", daemon=True)
        self.client = client
        self.source = source
        self.resource = resource
        self.out = out
        self.stop = stop
        self.labels = labels
        self.backoff = backoff or Backoff(base=1.0, cap=30.0)
        self.clock = clock
        self.resource_version: str | None = None
        self.watch_kwargs = watch_kwargs or {}
        self.restarts = 0

    def run(self) -> None:
        """Watch until stopped, restarting on errors."""
        failures = 0
        while not self.stop.is_set():
            try:
                self._watch_once()
                failures = 0
            except Exception as exc:
                failure = failure_of(exc)
                failures += 1
                self.restarts += 1
                reason = failure.reason if failure else type(exc).__name__
                if failure is not None and failure.code == 410:
                    self.resource_version = None
                    self.out.put(_Item("resync", "GONE", None, self.clock()))
                if failure is None or failure.code != 404:
                    logger.warning("watch of %s ended (%s); restarting", self.source, reason)
                self.stop.wait(self.backoff.delay(failures))

    def _watch_once(self) -> None:
        kwargs: dict[str, Any] = dict(self.watch_kwargs)
        if self.labels:
            kwargs["labels"] = self.labels
        if self.source != "namespace":
            kwargs["namespace"] = "*"
        stream = self.client.watch(self.resource, resource_version=self.resource_version, **kwargs)
        for event, obj in stream:
            rv = getattr(obj.metadata, "resourceVersion", None)
            if rv:
                self.resource_version = rv
            self.out.put(_Item(self.source, event, obj, self.clock()))
            if self.stop.is_set():
                return


class Runner:
    """Runs a `Dispatcher` from watches and the manifests file.

    Args:
        dispatcher: the core.
        manifests_path: the file the charm pushes.
        status_path: where to write the `ControllerStatus` (None: nowhere).
        poll_interval: seconds between checks of the manifests file.
        watch_kwargs: extra arguments for every `client.watch` call (tests).
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        manifests_path: Path,
        status_path: Path | None = None,
        poll_interval: float = 1.0,
        watch_kwargs: dict[str, Any] | None = None,
    ):
        self.dispatcher = dispatcher
        self.manifests_path = Path(manifests_path)
        self.status_path = status_path
        self.poll_interval = poll_interval
        self.queue: queue.Queue[_Item] = queue.Queue()
        self.stop = threading.Event()
        self.watchers: list[Watcher] = []
        self.watch_kwargs = watch_kwargs or {}
        self._file_sig: tuple[int, int] | None = None
        self._file_hash = ""
        self._file_error: str | None = None
        self._needs_resync = True
        self._resync_backoff = Backoff(base=1.0, cap=60.0)
        self._resync_failures = 0
        self._resync_due = 0.0
        self._status_text = ""

    # -- lifecycle -----------------------------------------------------------------------

    def start_watchers(self) -> None:
        """Start the namespace watcher and one watcher per dispatched kind."""
        d = self.dispatcher
        specs: list[tuple[str, type, dict[str, str] | None]] = [("namespace", Namespace, None)]
        specs += [(kind, cls, d.owner.labels) for kind, cls in RESOURCES.items()]
        for source, cls, labels in specs:
            watcher = Watcher(
                d.client,
                source,
                cls,
                self.queue,
                self.stop,
                labels=labels,
                clock=d.clock,
                watch_kwargs=self.watch_kwargs,
            )
            watcher.start()
            self.watchers.append(watcher)

    def run(self) -> None:
        """Serve until `stop` is set."""
        self.step()
        self.start_watchers()
        while not self.stop.is_set():
            self.step(wait=True)
        for watcher in self.watchers:
            watcher.join(timeout=2)

    # -- one iteration -------------------------------------------------------------------

    def step(self, wait: bool = False) -> None:
        """Poll the file, resync if needed, handle queued events, run due retries."""
        d = self.dispatcher
        self.poll_manifests()
        if self._needs_resync and d.clock() >= self._resync_due:
            self._resync()
        timeout = self.poll_interval
        next_retry = d.process_retries()
        if next_retry is not None:
            timeout = min(timeout, next_retry)
        try:
            item = self.queue.get(timeout=timeout) if wait else self.queue.get_nowait()
        except queue.Empty:
            item = None
        while item is not None:
            self._handle(item)
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                item = None
        d.process_retries()
        self.write_status()

    def poll_manifests(self) -> bool:
        """Load the manifests file if it changed; returns whether desired state changed."""
        try:
            stat = os.stat(self.manifests_path)
        except FileNotFoundError:
            return False
        signature = (stat.st_mtime_ns, stat.st_size)
        if signature == self._file_sig:
            return False
        self._file_sig = signature
        since = self.dispatcher.clock()
        data = self.manifests_path.read_bytes()
        digest = file_hash(data)
        if digest == self._file_hash:
            return False
        try:
            entries = decode_manifests(data)
        except HandoffError as err:
            # Keep dispatching what we had: a bad file must not withdraw everything.
            self._file_error = f"manifests file rejected: {err}"
            logger.error("%s; keeping the previous manifests", self._file_error)
            return False
        self._file_error = None
        self._file_hash = digest
        logger.info("manifests file changed: %d manifests", len(entries))
        self.dispatcher.set_manifests(entries, since=since)
        return True

    def _resync(self) -> None:
        try:
            self.dispatcher.resync()
        except Exception as exc:
            failure = failure_of(exc)
            if failure is None:
                raise
            self._resync_failures += 1
            delay = self._resync_backoff.delay(self._resync_failures)
            self._resync_due = self.dispatcher.clock() + delay
            self.dispatcher.last_failure = failure
            self.dispatcher.metrics.errors.inc(reason=failure.reason)
            if failure.code == 403:
                self.dispatcher.forbidden = "listing namespaces and dispatched objects"
            logger.warning("full sync failed (%s); retry in %.1fs", failure.reason, delay)
            return
        self._resync_failures = 0
        self._needs_resync = False
        self.dispatcher.metrics.ready.set(1)

    def _handle(self, item: _Item) -> None:
        d = self.dispatcher
        if item.source == "resync":
            self._needs_resync = True
            return
        if not d.synced:
            return  # the resync will see it
        if item.source == "namespace":
            ns = item.obj
            phase = getattr(getattr(ns, "status", None), "phase", None)
            d.namespace_event(
                item.event,
                ns.metadata.name,
                ns.metadata.labels,
                terminating=phase == "Terminating",
                since=item.at,
            )
        else:
            d.owned_event(item.event, item.source, item.obj)

    # -- status --------------------------------------------------------------------------

    def status(self) -> ControllerStatus:
        """The current `ControllerStatus`."""
        d = self.dispatcher
        status = ControllerStatus(
            namespaces=len(d.namespaces),
            manifests=len(d.desired),
            manifests_hash=self._file_hash,
            pending=d.pending,
        )
        if d.forbidden:
            status.state = "forbidden"
            status.message = f"Kubernetes denied access ({d.forbidden})"
        elif not d.synced:
            status.state = "starting"
            status.message = "first sync not done yet"
        elif self._file_sig is None:
            status.state = "starting"
            status.message = "waiting for the charm to push the manifests file"
        elif self._file_error:
            status.state = "degraded"
            status.message = self._file_error
        elif d.pending:
            status.state = "degraded"
            reason = d.last_failure.reason if d.last_failure else "errors"
            status.message = f"{d.pending} writes waiting for a retry ({reason})"
        else:
            status.state = "ready"
            status.message = f"{len(d.desired)} manifests in {len(d.namespaces)} namespaces"
        return status

    def write_status(self) -> None:
        """Write the status file when its content changed (atomically)."""
        if self.status_path is None:
            return
        text = self.status().encode()
        if text == self._status_text:
            return
        tmp = self.status_path.with_name(self.status_path.name + ".tmp")
        try:
            self.status_path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(text)
            os.replace(tmp, self.status_path)
        except OSError as err:
            logger.warning("cannot write %s: %s", self.status_path, err)
            return
        self._status_text = text
