"""Deploy the rendered bundle to a real Juju model with jubilant, showing live progress."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml


class JujuUnavailableError(Exception):
    """jubilant or the juju client is missing, or no controller answers."""


def _jubilant() -> Any:
    try:
        import jubilant
    except ImportError:
        raise JujuUnavailableError(
            "jubilant is not installed: pip install 'kfbundle[juju]' (./kfbundle installs it)"
        ) from None
    return jubilant


def status_rows(status: Any) -> list[tuple[str, str, str, str]]:
    """(application, charm, status, message) rows of a jubilant Status."""
    rows = []
    for name, app in sorted(status.apps.items()):
        units = list(app.units.values())
        if units:
            worst = max(units, key=lambda u: _rank(u.workload_status.current))
            current, message = worst.workload_status.current, worst.workload_status.message
        else:
            current, message = app.app_status.current, app.app_status.message
        rows.append((name, app.charm_name, current, message))
    return rows


def _rank(status: str) -> int:
    order = ["active", "maintenance", "waiting", "unknown", "blocked", "error"]
    return order.index(status) if status in order else 3


def deploy_real(
    bundle: dict[str, Any],
    model: str,
    *,
    timeout: float = 3600,
    on_progress: Callable[[str], None] | None = None,
) -> tuple[bool, list[tuple[str, str, str, str]]]:
    """Deploy `bundle` into `model` (created if missing) and wait for active/idle.

    Returns:
        (settled, rows): whether every app reached active/idle before the timeout, and the
        final status rows.

    Raises:
        JujuUnavailableError: no jubilant, no juju client or no controller.
    """
    jubilant = _jubilant()
    juju = jubilant.Juju(model=model)
    try:
        models = juju.cli("models", "--format", "json", include_model=False)
    except (OSError, jubilant.CLIError) as err:
        raise JujuUnavailableError(f"cannot reach a Juju controller: {err}") from None
    if f'"{model}"' not in models and f'/{model}"' not in models:
        juju.add_model(model)
    progress = on_progress or (lambda _m: None)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bundle.yaml"
        path.write_text(yaml.safe_dump(bundle, sort_keys=False))
        progress(f"juju deploy {path} --trust (model {model})")
        juju.deploy(path, trust=True)
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        status = juju.status()
        rows = status_rows(status)
        counts: dict[str, int] = {}
        for row in rows:
            counts[row[2]] = counts.get(row[2], 0) + 1
        line = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        if line != last:
            progress(line)
            last = line
        if jubilant.all_active(status) and jubilant.all_agents_idle(status):
            return True, rows
        time.sleep(10)
    return False, status_rows(juju.status())


def model_status(model: str) -> list[tuple[str, str, str, str]]:
    """Status rows of a real model."""
    jubilant = _jubilant()
    try:
        return status_rows(jubilant.Juju(model=model).status())
    except (OSError, jubilant.CLIError) as err:
        raise JujuUnavailableError(f"cannot read the status of model {model}: {err}") from None
