"""Unpack the dependency bundle the charm pushed, and put it on `sys.path` (stdlib only).

The charm zips the Python packages the controller needs (lightkube and its dependencies)
from its own environment, with a ``BUNDLE.json`` naming the Python version they were
installed for. Compiled modules in it (msgspec, PyYAML's optional C loader) only load on that
Python version and on the charm's own architecture, which is the workload's (same pod).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

BUNDLE_INFO = "BUNDLE.json"


class VendorError(RuntimeError):
    """The bundle is missing, corrupt, or for another Python version."""


def activate(bundle: Path, target_root: Path | None = None) -> Path:
    """Unpack `bundle` (once per content) and prepend it to `sys.path`.

    Args:
        bundle: the zip pushed by the charm.
        target_root: where to unpack (default: beside the zip).

    Returns:
        The directory added to `sys.path`.

    Raises:
        VendorError: the bundle cannot be used by this interpreter.
    """
    try:
        archive = zipfile.ZipFile(bundle)
    except (OSError, zipfile.BadZipFile) as err:
        raise VendorError(f"cannot open dependency bundle {bundle}: {err}") from None
    with archive:
        try:
            info = json.loads(archive.read(BUNDLE_INFO))
        except (KeyError, ValueError):
            raise VendorError(f"{bundle} has no valid {BUNDLE_INFO}") from None
        wanted = str(info.get("python", ""))
        running = f"{sys.version_info[0]}.{sys.version_info[1]}"
        if wanted != running:
            raise VendorError(
                f"dependency bundle was built for Python {wanted} but this image runs "
                f"Python {running}: use a python:{wanted} image"
            )
        fingerprint = str(info.get("fingerprint", ""))[:16] or "unknown"
        root = target_root or bundle.parent
        target = root / f"vendor-{fingerprint}"
        if not (target / BUNDLE_INFO).is_file():
            root.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".vendor-", dir=root))
            try:
                archive.extractall(staging)
                if not target.exists():
                    os.replace(staging, target)
            finally:
                if staging.exists():
                    shutil.rmtree(staging, ignore_errors=True)
            for old in root.glob("vendor-*"):
                if old != target:
                    shutil.rmtree(old, ignore_errors=True)
    if str(target) not in sys.path:
        sys.path.insert(0, str(target))
    return target
