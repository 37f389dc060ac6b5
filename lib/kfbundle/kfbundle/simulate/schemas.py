"""Validate relation databags against the shared interface schemas (where one exists).

Schemas are read from `shared/schemas/` beside the checkout (or `KFBUNDLE_SCHEMAS`):
`interfaces/<interface>_v<N>_<side>.json` (JSON-encoded fields carry a `contentSchema`) and
`sdi/<interface>.yaml` (the decoded SDI `data` per version and side). SDI schemas fall back to
the copies shipped inside kfcharm.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SDI_INTERFACES = {"ingress", "ingress-auth", "k8s-service", "object-storage", "grpc"}
_JSON_TYPES = {"array", "object", "integer", "number", "boolean"}


def schemas_dir(root: Path | None) -> Path | None:
    """Where the shared schemas are, or None."""
    env = os.environ.get("KFBUNDLE_SCHEMAS")
    candidates = [Path(env)] if env else []
    if root is not None:
        candidates.append(root.parent / "shared" / "schemas")
    return next((c for c in candidates if c.is_dir()), None)


@functools.lru_cache(maxsize=64)
def _load_json_schema(path: str) -> dict[str, Any]:
    return dict(json.loads(Path(path).read_text()))


@functools.lru_cache(maxsize=16)
def _load_sdi(path: str) -> dict[str, Any]:
    return dict(yaml.safe_load(Path(path).read_text()) or {})


def _sdi_file(directory: Path | None, interface: str) -> Path | None:
    paths = []
    if directory is not None:
        paths.append(directory / "sdi" / f"{interface}.yaml")
    try:
        import kfcharm.relations

        paths.append(Path(kfcharm.relations.__file__).parent / "schemas" / f"{interface}.yaml")
    except ImportError:  # pragma: no cover - kfcharm is installed with [simulate]
        pass
    return next((p for p in paths if p.is_file()), None)


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return dict(root["$defs"][ref.split("/")[-1]])
    return schema


def _types(schema: dict[str, Any], root: dict[str, Any]) -> set[str]:
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        return set().union(*(_types(s, root) for s in schema["anyOf"]))
    t = schema.get("type")
    return {t} if isinstance(t, str) else set(t or [])


def _decode_bag(
    bag: dict[str, str], part: dict[str, Any], root: dict[str, Any], where: str
) -> tuple[dict[str, Any], list[str]]:
    """Decode JSON-encoded fields as the schema says; validate contentSchema fields."""
    problems: list[str] = []
    part = _resolve(part, root)
    if "anyOf" in part:
        part = next((_resolve(s, root) for s in part["anyOf"] if "$ref" in s), part)
    props = part.get("properties") or {}
    decoded: dict[str, Any] = {}
    for key, value in bag.items():
        prop = props.get(key)
        if prop is None:
            decoded[key] = value
            continue
        prop = _resolve(prop, root)
        if "contentSchema" in prop:
            try:
                content = json.loads(value)
            except ValueError:
                problems.append(f"{where}.{key}: not valid JSON")
                content = None
            if content is not None:
                sub = {**prop["contentSchema"], "$defs": root.get("$defs", {})}
                problems += [
                    f"{where}.{key}: {e.message}"
                    for e in jsonschema.Draft202012Validator(sub).iter_errors(content)
                ]
            decoded[key] = value
        elif _types(prop, root) & _JSON_TYPES and "string" not in _types(prop, root):
            try:
                decoded[key] = json.loads(value)
            except ValueError:
                decoded[key] = value
        else:
            decoded[key] = value
    return decoded, problems


def validate_databags(
    directory: Path | None,
    interface: str,
    side: str,
    app: dict[str, str],
    units: dict[str, dict[str, str]] | None = None,
    version: int = 0,
) -> tuple[bool, list[str]]:
    """Validate one side's databags of a relation.

    Args:
        directory: the shared schemas directory (None: only kfcharm's SDI copies).
        interface: interface name, e.g. "mysql_client" or "ingress".
        side: "provider" or "requirer" (the side that wrote the data).
        app: its application databag.
        units: its unit databags by unit name.
        version: interface version of the JSON schema (e.g. 1 for s3).

    Returns:
        (validated, problems): whether a schema applied, and what violates it.
    """
    if interface in SDI_INTERFACES:
        path = _sdi_file(directory, interface)
        if path is None or "data" not in app:
            return False, []
        schemas = _load_sdi(str(path))
        key = "provides" if side == "provider" else "requires"
        try:
            data = yaml.safe_load(app["data"])
        except yaml.YAMLError:
            return True, [f"{interface} {side}: data is not YAML"]
        problems: list[str] = []
        matched = False
        for ver, spec in sorted(schemas.items(), reverse=True):
            if key not in (spec or {}):
                continue
            matched = True
            errors = list(jsonschema.Draft7Validator(spec[key]).iter_errors(data))
            if not errors:
                return True, []
            problems = [f"{interface} {ver} {side} data: {e.message}" for e in errors]
        return matched, problems
    if directory is None:
        return False, []
    path = directory / "interfaces" / f"{interface}_v{version}_{side}.json"
    if not path.is_file():
        return False, []
    root = _load_json_schema(str(path))
    problems = []
    props = root.get("properties") or {}
    if interface == "kubeflow_dashboard_links":
        # The schema models the app databag as the bare list; on the wire it is JSON under
        # `dashboard_links` (shared/schemas/README.md).
        try:
            links = json.loads(app.get("dashboard_links", "[]"))
        except ValueError:
            return True, ["kubeflow_dashboard_links: dashboard_links is not JSON"]
        return True, [
            f"{interface} {side}: {e.message}"
            for e in jsonschema.Draft202012Validator(root).iter_errors({"app": links})
        ]
    app_decoded, found = _decode_bag(app, props.get("app", {}), root, f"{interface}.app")
    problems += found
    instance: dict[str, Any] = {"app": app_decoded}
    unit_schema = props.get("unit")
    if units and unit_schema is not None and "unit" in root.get("required", []):
        for name, bag in units.items():
            clean = {k: v for k, v in bag.items() if k not in _JUJU_UNIT_KEYS}
            if interface == "prometheus_scrape" and "prometheus_scrape_unit_name" in clean:
                # Juju drops a key set to "" (the libraries write an empty path that way).
                clean.setdefault("prometheus_scrape_unit_path", "")
            decoded, found = _decode_bag(clean, unit_schema, root, f"{interface}.{name}")
            problems += found
            instance["unit"] = decoded
            problems += [
                f"{interface} {side} {name}: {e.message}"
                for e in jsonschema.Draft202012Validator(root).iter_errors(instance)
            ]
    else:
        problems += [
            f"{interface} {side}: {e.message}"
            for e in jsonschema.Draft202012Validator(root).iter_errors(instance)
        ]
    return True, sorted(set(problems))


_JUJU_UNIT_KEYS = {"egress-subnets", "ingress-address", "private-address"}
