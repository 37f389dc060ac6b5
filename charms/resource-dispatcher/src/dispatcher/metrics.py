"""Prometheus metrics in the text exposition format (0.0.4), and health endpoints.

Stdlib only (no prometheus_client): counters, gauges and one histogram, thread-safe, served
by `http.server` on ``/metrics``; ``/healthz`` answers 200 while the process lives and
``/readyz`` 200 once the first full sync is done.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LabelValues = tuple[tuple[str, str], ...]

LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels_text(labels: LabelValues, extra: tuple[tuple[str, str], ...] = ()) -> str:
    pairs = [*labels, *extra]
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help_text: str, lock: threading.Lock):
        self.name = name
        self.help = help_text
        self._lock = lock
        self._values: dict[LabelValues, float] = {}

    @staticmethod
    def _key(labels: dict[str, str] | None) -> LabelValues:
        return tuple(sorted((labels or {}).items()))

    def value(self, **labels: str) -> float:
        """Current value for these labels (0 when never set)."""
        with self._lock:
            return self._values.get(self._key(labels), 0.0)

    def lines(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} {self.kind}"
        for labels, value in sorted(self._values.items()):
            yield f"{self.name}{_labels_text(labels)} {_number(value)}"


class Counter(_Metric):
    """A monotonically increasing count."""

    kind = "counter"

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        """Add `amount` (>= 0)."""
        if amount < 0:
            raise ValueError("counters only go up")
        with self._lock:
            key = self._key(labels)
            self._values[key] = self._values.get(key, 0.0) + amount


class Gauge(_Metric):
    """A value that goes up and down."""

    kind = "gauge"

    def set(self, value: float, **labels: str) -> None:
        """Set the value."""
        with self._lock:
            self._values[self._key(labels)] = float(value)


class Histogram(_Metric):
    """Observations counted into cumulative buckets."""

    kind = "histogram"

    def __init__(self, name: str, help_text: str, lock: threading.Lock, buckets: Iterable[float]):
        super().__init__(name, help_text, lock)
        self.buckets = tuple(sorted(buckets))
        self._counts = [0] * (len(self.buckets) + 1)
        self._sum = 0.0

    def observe(self, value: float) -> None:
        """Record one observation."""
        with self._lock:
            self._sum += value
            for index, bound in enumerate(self.buckets):
                if value <= bound:
                    self._counts[index] += 1
            self._counts[-1] += 1

    @property
    def count(self) -> int:
        """Number of observations."""
        with self._lock:
            return self._counts[-1]

    def lines(self) -> Iterable[str]:
        """The exposition lines of the histogram."""
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        for bound, count in zip(self.buckets, self._counts, strict=False):
            yield f'{self.name}_bucket{{le="{_number(bound)}"}} {count}'
        yield f'{self.name}_bucket{{le="+Inf"}} {self._counts[-1]}'
        yield f"{self.name}_sum {_number(self._sum)}"
        yield f"{self.name}_count {self._counts[-1]}"


class Metrics:
    """The controller's metrics."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        lock = self._lock
        self.namespaces = Gauge(
            "dispatcher_namespaces_watched", "Labelled namespaces the controller serves.", lock
        )
        self.manifests = Gauge(
            "dispatcher_manifests",
            "Manifests the controller dispatches into each namespace.",
            lock,
        )
        self.objects = Gauge(
            "dispatcher_objects", "Objects the controller created and currently owns.", lock
        )
        self.applied = Counter(
            "dispatcher_objects_applied_total",
            "Objects written (operation: create or update).",
            lock,
        )
        self.deleted = Counter(
            "dispatcher_objects_deleted_total",
            "Dispatched objects deleted (manifest withdrawn or namespace unlabelled).",
            lock,
        )
        self.skipped = Counter(
            "dispatcher_foreign_objects_skipped_total",
            "Writes skipped because an object of the same name exists and is not ours.",
            lock,
        )
        self.errors = Counter(
            "dispatcher_errors_total", "Failed Kubernetes requests, by reason.", lock
        )
        self.pending = Gauge(
            "dispatcher_pending_retries", "Writes waiting for a retry with backoff.", lock
        )
        self.ready = Gauge(
            "dispatcher_ready", "1 once the first full sync has completed, else 0.", lock
        )
        self.standby = Gauge(
            "dispatcher_standby",
            "1 on a unit that waits while the leader unit dispatches, else 0.",
            lock,
        )
        self.last_success = Gauge(
            "dispatcher_last_sync_success_timestamp_seconds",
            "Unix time of the last change fully applied without errors.",
            lock,
        )
        self.latency = Histogram(
            "dispatcher_change_to_applied_seconds",
            "Time from a change (namespace labelled, manifests changed) to its writes done.",
            lock,
            LATENCY_BUCKETS,
        )
        self._all: list[_Metric] = [
            self.namespaces,
            self.manifests,
            self.objects,
            self.applied,
            self.deleted,
            self.skipped,
            self.errors,
            self.pending,
            self.ready,
            self.standby,
            self.last_success,
            self.latency,
        ]

    def exposition(self) -> str:
        """All metrics in the Prometheus text format."""
        with self._lock:
            lines = [line for metric in self._all for line in metric.lines()]
        return "\n".join(lines) + "\n"


def serve(
    metrics: Metrics,
    port: int,
    ready: Callable[[], bool],
    host: str = "0.0.0.0",  # noqa: S104
) -> ThreadingHTTPServer:
    """Serve ``/metrics``, ``/healthz`` and ``/readyz`` in a daemon thread.

    Args:
        metrics: what ``/metrics`` shows.
        port: TCP port (0 picks a free one; see ``server.server_address``).
        ready: whether ``/readyz`` answers 200.
        host: address to bind (all interfaces: Prometheus scrapes the pod IP).

    Returns:
        The running server (call ``shutdown()`` to stop it).
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._send(200, metrics.exposition(), "text/plain; version=0.0.4; charset=utf-8")
            elif self.path == "/healthz":
                self._send(200, "ok\n")
            elif self.path == "/readyz":
                ok = ready()
                self._send(200 if ok else 503, "ready\n" if ok else "not ready\n")
            else:
                self._send(404, "not found\n")

        def _send(self, code: int, body: str, content_type: str = "text/plain") -> None:
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass  # scrapes every few seconds would drown the log

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    return server
