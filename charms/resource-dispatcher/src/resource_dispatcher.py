"""resource-dispatcher workload logic, without ops: config, manifests, Pebble layer, code bundle.

- `DispatcherConfig.from_options`: validated charm config (errors name the option).
- `merge_manifests`: the manifests of all endpoints, checked for the endpoint's kind and for
  the same object sent twice (across endpoints too), with what to keep for relations that
  currently send nothing usable.
- `pebble_layer`: the controller service, its checks and log targets.
- `CodeBundle`: the controller package and its dependencies (lightkube and what it needs,
  taken from the charm's own environment), fingerprinted cheaply (names, versions, source
  bytes) so a hook only pushes when something changed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import io
import json
import platform
import re
import sys
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from dispatcher.handoff import (
    ENDPOINTS,
    HandoffEntry,
    HandoffError,
    LabelSelector,
    decode_manifests,
    entry_problem,
)

CONTAINER = "dispatcher"
SERVICE = "dispatcher"
APP_DIR = "/opt/dispatcher/app"
BUNDLE_PATH = "/opt/dispatcher/vendor.zip"
FINGERPRINT_PATH = "/opt/dispatcher/FINGERPRINT"
MANIFESTS_PATH = "/etc/dispatcher/manifests.json"
STATUS_PATH = "/var/lib/dispatcher/status.json"
PACKAGE_DIR = Path(__file__).parent / "dispatcher"
DEPENDENCY_ROOTS = ("lightkube",)
LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(ValueError):
    """A config option is invalid.

    Attributes:
        option: the option name.
        reason: why it is invalid.
    """

    def __init__(self, option: str, reason: str):
        super().__init__(f"invalid config {option}: {reason}")
        self.option = option
        self.reason = reason


@dataclass(frozen=True)
class DispatcherConfig:
    """The validated charm config.

    Attributes:
        selector: the target namespace label (`target-namespace-label`).
        metrics_port: port of /metrics, /healthz and /readyz (`metrics-port`).
        log_level: controller log level (`log-level`).
    """

    selector: LabelSelector
    metrics_port: int
    log_level: str

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> DispatcherConfig:
        """Validate the charm config.

        Raises:
            ConfigError: an option is invalid (names the option and the reason).
        """
        raw_label = options.get("target-namespace-label", "user.kubeflow.org/enabled=true")
        if not isinstance(raw_label, str) or not raw_label.strip():
            raise ConfigError("target-namespace-label", "must be key=value (or key)")
        try:
            selector = LabelSelector.parse(raw_label)
        except HandoffError as err:
            raise ConfigError("target-namespace-label", str(err)) from None
        port = options.get("metrics-port", 9090)
        if isinstance(port, bool) or not isinstance(port, int) or not 1024 <= port <= 65535:
            raise ConfigError("metrics-port", "must be a port number from 1024 to 65535")
        level = options.get("log-level", "info")
        if not isinstance(level, str) or level.strip().lower() not in LOG_LEVELS:
            raise ConfigError("log-level", f"must be one of {', '.join(LOG_LEVELS)}")
        return cls(selector, port, level.strip().lower())


# --- manifests -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One relation's manifests as read by the relation library.

    Attributes:
        endpoint: the charm endpoint.
        app: the remote application.
        relation_id: the relation id.
        manifests: its manifests, in order (empty when it sent none).
        usable: False when its data could not be read (malformed or not yet accessible):
            then what it sent before is kept.
    """

    endpoint: str
    app: str
    relation_id: int
    manifests: tuple[dict[str, Any], ...] = ()
    usable: bool = True


@dataclass
class MergeResult:
    """What to dispatch and what is wrong.

    Attributes:
        entries: the manifests to dispatch.
        problems: one line per problem (relation data, wrong kind, duplicate).
        kept: sources whose previously dispatched manifests were kept.
    """

    entries: list[HandoffEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def merge_manifests(
    sources: Iterable[Source], previous: Iterable[HandoffEntry] = ()
) -> MergeResult:
    """Merge the manifests of every relation into one list to dispatch.

    Oldest relation first: of two manifests with the same kind and name, the first is kept
    and the other reported naming both sources. A manifest of the wrong kind for its endpoint
    is reported and left out. A source that is not usable keeps its previous manifests
    (from the file the controller has now), so a transient or malformed publication never
    withdraws objects from every namespace.

    Args:
        sources: each relation's manifests.
        previous: the entries currently dispatched.
    """
    result = MergeResult()
    kept: dict[tuple[str, str], HandoffEntry] = {}
    previous = list(previous)
    for source in sorted(sources, key=lambda s: s.relation_id):
        if source.usable:
            candidates = [HandoffEntry(source.endpoint, source.app, m) for m in source.manifests]
        else:
            candidates = [
                e for e in previous if e.endpoint == source.endpoint and e.source == source.app
            ]
            if candidates:
                result.kept.append(f"{source.endpoint}:{source.relation_id}")
        for index, candidate in enumerate(candidates):
            problem = entry_problem(candidate.endpoint, candidate.manifest)
            if problem:
                where = f"{source.endpoint}:{source.relation_id} ({source.app})"
                result.problems.append(f"{where} manifest [{index}]: {problem}")
                continue
            first = kept.setdefault((candidate.kind, candidate.name), candidate)
            if first is not candidate:
                result.problems.append(
                    f"{candidate.kind} '{candidate.name}' is sent by both {first.source} "
                    f"({first.endpoint}) and {candidate.source} ({candidate.endpoint}); "
                    f"keeping {first.source}'s"
                )
                continue
            result.entries.append(candidate)
    return result


def read_previous(text: bytes | str | None) -> list[HandoffEntry]:
    """The entries of the manifests file now in the container ([] if absent or invalid)."""
    if not text:
        return []
    try:
        return decode_manifests(text)
    except HandoffError:
        return []


# --- Pebble ----------------------------------------------------------------------------------


def command(config: DispatcherConfig, app: str, model: str, standby: bool) -> str:
    """The controller's command line (no credentials: those are in the manifests file)."""
    parts = [
        "python3 -m dispatcher",
        f"--manifests {MANIFESTS_PATH}",
        f"--label {config.selector}",
        f"--owner {app}",
        f"--owner-namespace {model}",
        f"--metrics-port {config.metrics_port}",
        f"--status-file {STATUS_PATH}",
        f"--bundle {BUNDLE_PATH}",
        f"--log-level {config.log_level}",
    ]
    if standby:
        parts.append("--standby")
    return " ".join(parts)


def pebble_layer(
    config: DispatcherConfig,
    app: str,
    model: str,
    standby: bool,
    log_targets: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Pebble layer of the controller.

    Args:
        config: validated config.
        app: the app name (owner label of dispatched objects).
        model: the model name (the app's namespace).
        standby: run without touching Kubernetes (non-leader units).
        log_targets: Loki targets from `LogForwarder.log_targets()`.
    """
    base = f"http://localhost:{config.metrics_port}"
    return {
        "summary": "resource-dispatcher controller",
        "description": "Copies related apps' manifests into every labelled namespace.",
        "services": {
            SERVICE: {
                "override": "replace",
                "summary": "namespace watcher and manifest dispatcher",
                "command": command(config, app, model, standby),
                "startup": "enabled",
                "environment": {
                    "PYTHONPATH": APP_DIR,
                    "PYTHONUNBUFFERED": "1",
                    "PYTHONDONTWRITEBYTECODE": "1",
                },
                "on-check-failure": {"alive": "restart"},
            }
        },
        "checks": {
            "ready": {
                "override": "replace",
                "level": "ready",
                "period": "10s",
                "threshold": 3,
                "http": {"url": f"{base}/readyz"},
            },
            "alive": {
                "override": "replace",
                "level": "alive",
                "period": "30s",
                "threshold": 3,
                "http": {"url": f"{base}/healthz"},
            },
        },
        "log-targets": dict(log_targets or {}),
    }


# --- the code bundle -------------------------------------------------------------------------


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def dependency_closure(roots: Iterable[str] = DEPENDENCY_ROOTS) -> list[metadata.Distribution]:
    """The installed distributions `roots` need, without optional extras.

    A requirement behind an ``extra ==`` marker is skipped; one whose distribution is not
    installed is skipped too (it is for another Python version or platform).
    """
    found: dict[str, metadata.Distribution] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        key = _normalise(name)
        if key in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        found[key] = dist
        for requirement in dist.requires or []:
            _, _, marker = requirement.partition(";")
            if "extra" in marker:
                continue
            match = _REQUIREMENT_NAME.match(requirement)
            if match:
                todo.append(match.group(1))
    return sorted(found.values(), key=lambda d: _normalise(d.metadata["Name"]))


def _bundle_files(dist: metadata.Distribution) -> Iterable[tuple[str, Path]]:
    for record in dist.files or []:
        parts = PurePosixPath(str(record)).parts
        if not parts or parts[0] == ".." or "__pycache__" in parts:
            continue
        if str(record).endswith(".pyc"):
            continue  # .dist-info is kept: some packages read their own metadata
        path = Path(str(dist.locate_file(record)))
        if path.is_file():
            yield str(PurePosixPath(*parts)), path


def package_sources() -> dict[str, bytes]:
    """The controller package's files, by name (what goes to APP_DIR/dispatcher/)."""
    return {p.name: p.read_bytes() for p in sorted(PACKAGE_DIR.glob("*.py"))}


def python_version() -> str:
    """``major.minor`` of this interpreter (the bundle's compiled modules need it)."""
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


@dataclass(frozen=True)
class CodeBundle:
    """What the charm pushes for the controller, and its fingerprint.

    Attributes:
        fingerprint: sha256 over the Python version, the machine, the dependency
            distributions' names and versions and the package sources.
        sources: the controller package's files.
        distributions: ``name==version`` of each bundled distribution.
    """

    fingerprint: str
    sources: dict[str, bytes]
    distributions: tuple[str, ...]

    @classmethod
    def current(cls) -> CodeBundle:
        """The bundle of this charm's environment (cheap: no dependency file is read)."""
        sources = package_sources()
        dists = tuple(
            f"{_normalise(d.metadata['Name'])}=={d.version}" for d in dependency_closure()
        )
        digest = hashlib.sha256()
        for part in (python_version(), platform.machine(), *dists):
            digest.update(part.encode() + b"\0")
        for name, data in sources.items():
            digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
        return cls(digest.hexdigest(), sources, dists)

    def archive(self) -> bytes:
        """The dependency zip (built once per process and fingerprint)."""
        return _archive(self.fingerprint, self.distributions)


@lru_cache(maxsize=2)
def _archive(fingerprint: str, distributions: tuple[str, ...]) -> bytes:
    buffer = io.BytesIO()
    info = {
        "fingerprint": fingerprint,
        "python": python_version(),
        "machine": platform.machine(),
        "distributions": list(distributions),
    }
    stamp = (2020, 1, 1, 0, 0, 0)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("BUNDLE.json", stamp), json.dumps(info, indent=1))
        seen: set[str] = set()
        for dist in dependency_closure():
            for name, path in sorted(_bundle_files(dist)):
                if name in seen:
                    continue
                seen.add(name)
                entry = zipfile.ZipInfo(name, stamp)
                entry.compress_type = zipfile.ZIP_DEFLATED
                entry.external_attr = 0o644 << 16
                archive.writestr(entry, path.read_bytes())
    return buffer.getvalue()


def manifest_summary(entries: Iterable[HandoffEntry]) -> list[str]:
    """``Kind/name (from app via endpoint)`` for each entry: names only, never content."""
    return [f"{e.kind}/{e.name} (from {e.source} via {e.endpoint})" for e in entries]


__all__ = [
    "ENDPOINTS",
    "CodeBundle",
    "ConfigError",
    "DispatcherConfig",
    "MergeResult",
    "Source",
    "command",
    "merge_manifests",
    "pebble_layer",
    "read_previous",
]
