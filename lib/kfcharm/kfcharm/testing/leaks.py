"""Secret-leak scanner for ops.testing (Scenario) runs.

`find_leaks` looks for known secret values (and their base64 forms) everywhere a charm could
expose them by mistake: juju-log, statuses, the databags it wrote, stored state, Pebble layers
(commands, checks, log targets; service environments only on request, since per DESIGN.md
credentials legitimately reach workloads through them), files pushed into containers, exec
command lines, action output, and non-Secret Kubernetes objects. Juju secrets and Kubernetes
Secrets are where secrets belong and are not scanned.

Example::

    ctx = Context(MyCharm)
    out = ctx.run(ctx.on.config_changed(), state)
    assert find_leaks(out, [password], ctx=ctx, k8s=fake) == []
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import fnmatch
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ops.testing import Context, State

_BASE64ISH = re.compile(r"^[A-Za-z0-9+/_\-=\s]{8,}$")
_URLSAFE = str.maketrans("+/", "-_")
# A leak scanner should not choke on a huge pushed file; charms push small configs.
_MAX_FILE_BYTES = 16 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Leak:
    """One place where a secret was found.

    Attributes:
        place: where, e.g. ``juju-log[3]``, ``relation:db:1:app:password``,
            ``pebble:katib:layer:katib:services.katib.command``, ``file:katib:/etc/x.cnf``,
            ``k8s:ConfigMap/kubeflow/cfg:data.settings``. `find_leaks`'s ``allow`` matches it.
        detail: which secret (index in ``secrets``) and in which form (plain, base64,
            base64-decoded); never the secret itself.
    """

    place: str
    detail: str


class _Matcher:
    """Finds any of several secrets, as text or in base64 form, in strings or bytes."""

    def __init__(self, secrets: Iterable[str]):
        self.secrets = list(secrets)
        if not all(isinstance(s, str) and s for s in self.secrets):
            raise ValueError("secrets must be non-empty strings")
        self._needles = [self._base64_needles(s.encode()) for s in self.secrets]

    @staticmethod
    def _base64_needles(secret: bytes) -> set[str]:
        """Base64 text the secret produces wherever it sits in a larger encoded blob.

        Base64 encodes 3 bytes as 4 characters, so the secret's encoding depends on its offset
        modulo 3; for each offset keep only the characters computed from the secret's bits.
        """
        needles: set[str] = set()
        for offset in range(3):
            encoded = base64.b64encode(b"\0" * offset + secret).decode()
            start = -(-8 * offset // 6)
            end = 8 * (offset + len(secret)) // 6
            core = encoded[start:end]
            if len(core) >= 4:
                needles.update({core, core.translate(_URLSAFE)})
        return needles

    def find(self, text: str) -> Iterator[tuple[int, str]]:
        """Yield ``(secret index, form)`` for each secret in ``text``."""
        decoded = _try_b64decode(text)
        for i, secret in enumerate(self.secrets):
            if secret in text:
                yield i, "plain"
            elif any(n in text for n in self._needles[i]):
                yield i, "base64"
            elif decoded is not None and secret.encode() in decoded:
                yield i, "base64-decoded"


def _try_b64decode(text: str) -> bytes | None:
    if not _BASE64ISH.match(text):
        return None
    compact = "".join(text.split())
    compact += "=" * (-len(compact) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            return decode(compact)
        except (binascii.Error, ValueError):
            continue
    return None


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Yield ``(dotted path, string)`` for every string (keys too) in nested data."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, bytes):
        yield path, value.decode("latin-1")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            yield from _walk(str(key), f"{sub}<key>")
            yield from _walk(item, sub)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")


def _k8s_objects(k8s: Any) -> Iterator[dict[str, Any]]:
    objects = k8s.objects() if callable(getattr(k8s, "objects", None)) else k8s
    if isinstance(objects, Mapping):
        objects = objects.values()
    for obj in objects:
        if isinstance(obj, Mapping):
            yield dict(obj)
        elif callable(getattr(obj, "to_dict", None)):
            data = dict(obj.to_dict())
            data.setdefault("kind", type(obj).__name__)
            yield data
        else:
            raise TypeError(f"cannot scan Kubernetes object of type {type(obj).__name__}")


def _k8s_place(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or "-"
    return f"k8s:{obj.get('kind', '?')}/{ns}/{meta.get('name', '?')}"


def _files(root: Path) -> Iterator[tuple[str, str]]:
    if not root.exists():
        return
    paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for path in paths:
        if path.stat().st_size > _MAX_FILE_BYTES:
            continue
        rel = "/" + str(path.relative_to(root)) if path != root else ""
        yield rel, path.read_bytes().decode("latin-1")


def _layer_strings(layer_dict: Mapping[str, Any], include_env: bool) -> Iterator[tuple[str, str]]:
    for path, text in _walk(layer_dict):
        is_env = re.match(r"^(services|checks)\.[^.]+\.(exec\.)?environment\b", path)
        if include_env or not is_env:
            yield path, text


def find_leaks(
    state: State,
    secrets: Iterable[str],
    *,
    ctx: Context[Any] | None = None,
    k8s: Any = None,
    juju_log: Iterable[Any] | None = None,
    allow: Iterable[str] = (),
    include_pebble_environment: bool = False,
) -> list[Leak]:
    """Find every place of a Scenario output where one of ``secrets`` appears.

    Args:
        state: the output state of ``ctx.run``.
        secrets: the secret values to look for (passwords, keys, tokens); non-empty strings.
        ctx: the Context that ran; adds juju-log (unless ``juju_log`` is given), status and
            workload-version history, files pushed into containers, exec commands and action
            output.
        k8s: a fake Kubernetes (anything with ``objects()``) or an iterable of objects (dicts
            or lightkube objects); Secrets are skipped, every other kind is scanned, including
            base64 forms (``binaryData``, encoded blobs).
        juju_log: juju-log lines (``JujuLogLine`` or ``str``); defaults to ``ctx.juju_log``.
        allow: glob patterns of `Leak.place` values to accept, for documented legacy fields
            (e.g. ``"relation:object-storage:*:app:data"``).
        include_pebble_environment: also scan service/check environments in Pebble layers and
            exec environments (off: they are where workload credentials legitimately go).

    Returns:
        The leaks, in a stable order; ``[]`` when clean.

    Raises:
        ValueError: a secret is empty or not a string.
    """
    matcher = _Matcher(secrets)
    allowed = list(allow)
    leaks: list[Leak] = []
    seen: set[tuple[str, int]] = set()

    def scan(place: str, text: str) -> None:
        for index, form in matcher.find(text):
            if (place, index) in seen or any(fnmatch.fnmatchcase(place, p) for p in allowed):
                continue
            seen.add((place, index))
            leaks.append(Leak(place, f"secret #{index} ({form})"))

    def scan_tree(prefix: str, value: Any) -> None:
        for path, text in _walk(value):
            sep = "" if not path or path.startswith("[") else ":"
            scan(f"{prefix}{sep}{path}", text)

    if juju_log is None and ctx is not None:
        juju_log = ctx.juju_log
    for i, line in enumerate(juju_log or ()):
        scan(f"juju-log[{i}]", line if isinstance(line, str) else str(line.message))

    scan("status:unit", state.unit_status.message)
    scan("status:app", state.app_status.message)
    scan("workload-version", state.workload_version)
    for relation in sorted(state.relations, key=lambda r: r.id):
        where = f"relation:{relation.endpoint}:{relation.id}"
        scan_tree(f"{where}:app", dict(relation.local_app_data))
        scan_tree(f"{where}:unit", dict(relation.local_unit_data))
    for stored in state.stored_states:
        scan_tree(f"stored:{stored.owner_path}.{stored.name}", dict(stored.content))

    for container in sorted(state.containers, key=lambda c: c.name):
        for label, layer in container.layers.items():
            prefix = f"pebble:{container.name}:layer:{label}"
            for path, text in _layer_strings(layer.to_dict(), include_pebble_environment):
                scan(f"{prefix}:{path}", text)
        for mount_name, mount in sorted(container.mounts.items()):
            for rel, text in _files(Path(mount.source)):
                scan(f"file:{container.name}:{mount.location}{rel} (mount {mount_name})", text)
        if ctx is not None:
            for rel, text in _files(container.get_filesystem(ctx)):
                scan(f"file:{container.name}:{rel}", text)

    if ctx is not None:
        _scan_context(ctx, scan, scan_tree, include_pebble_environment)

    if k8s is not None:
        for obj in _k8s_objects(k8s):
            if obj.get("kind") != "Secret":
                scan_tree(_k8s_place(obj), obj)
    return leaks


def _scan_context(
    ctx: Context[Any],
    scan: Callable[[str, str], None],
    scan_tree: Callable[[str, Any], None],
    include_env: bool,
) -> None:
    for kind, history in (("unit", ctx.unit_status_history), ("app", ctx.app_status_history)):
        for i, status in enumerate(history):
            scan(f"status-history:{kind}[{i}]", status.message)
    for i, version in enumerate(ctx.workload_version_history):
        scan(f"workload-version-history[{i}]", version)
    for container_name, calls in sorted(ctx.exec_history.items()):
        for i, call in enumerate(calls):
            scan_tree(f"exec:{container_name}[{i}]:command", list(call.command))
            if include_env:
                scan_tree(f"exec:{container_name}[{i}]:environment", dict(call.environment))
    for i, line in enumerate(ctx.action_logs):
        scan(f"action-log[{i}]", line)
    if ctx.action_results:
        scan_tree("action-results", ctx.action_results)


class RecordingContext(Context):
    """An ops.testing `Context` that keeps every state a test produced, for a leak scan.

    `outputs` holds each run's output state, or the input state of a run that raised (so a
    failing hook's inputs are still scanned). Use it in a fixture and scan after the test::

        context = RecordingContext(MyCharm)
        yield context
        for out in context.outputs:
            assert find_leaks(out, secrets, ctx=context, k8s=fake) == []
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.outputs: list[State] = []

    def run(self, event: Any, state: State) -> State:  # type: ignore[override]
        """Run like `Context.run` and remember the resulting state."""
        try:
            out = super().run(event, state)
        except Exception:
            self.outputs.append(state)
            raise
        self.outputs.append(out)
        return out


def juju_secret_values(
    states: Iterable[State],
    keys: Callable[[str], bool] | Iterable[str] | None = None,
    *,
    min_length: int = 8,
) -> set[str]:
    """Values held in the Juju secrets of `states` (tracked and latest revisions).

    Args:
        states: the states to read.
        keys: which content keys count (a predicate or a collection; None: every key).
        min_length: shorter values are skipped (they would match by accident).
    """
    if keys is None:
        wanted: Callable[[str], bool] = lambda _key: True  # noqa: E731
    elif callable(keys):
        wanted = keys
    else:
        chosen = set(keys)
        wanted = chosen.__contains__
    values: set[str] = set()
    for state in states:
        for secret in state.secrets:
            for content in (secret.tracked_content, secret.latest_content):
                pairs: dict[str, Any] = dict(content or {})
                for key, value in pairs.items():
                    if wanted(key) and isinstance(value, str) and len(value) >= min_length:
                        values.add(value)
    return values
