"""Render a Juju bundle from the sources: release, architecture, overlays, local charms."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import yaml

from .sources import ARCHES, COS_COLLECTORS, SourceError, Sources, charm_name_of

COLLECTOR_ENDPOINTS = {
    # our endpoint name -> the collector's endpoint it relates to
    "metrics-endpoint": "metrics-endpoint",
    "grafana-dashboard": "grafana-dashboards-consumer",
    "logging": "receive-loki-logs",
}


class RenderError(Exception):
    """The bundle cannot be rendered as asked (message in plain words)."""


@dataclasses.dataclass
class Rendered:
    """A rendered bundle and what was changed or left out to get it."""

    bundle: dict[str, Any]
    release: str
    arch: str
    overlays: list[str]
    warnings: list[str] = dataclasses.field(default_factory=list)
    omitted: dict[str, str] = dataclasses.field(default_factory=dict)

    def to_yaml(self) -> str:
        """The bundle as YAML, with a header saying how it was rendered."""
        header = [
            f"# Kubeflow {self.release} for {self.arch}, rendered by `kfbundle render`"
            + (f" with overlays {', '.join(self.overlays)}" if self.overlays else "")
            + ".",
            "# Deploy: juju deploy ./THIS_FILE --trust   (edit bundle/ sources, not this file)",
        ]
        header += [f"# omitted: {app}: {why}" for app, why in self.omitted.items()]
        body = yaml.safe_dump(self.bundle, sort_keys=False, width=99)
        return "\n".join(header) + "\n" + body


def relation_apps(relation: list[str]) -> tuple[str, str]:
    """The two application names of a relation pair."""
    return relation[0].split(":", 1)[0], relation[1].split(":", 1)[0]


def _merge_overlay(bundle: dict[str, Any], overlay: dict[str, Any], track: str, name: str) -> None:
    apps = bundle.setdefault("applications", {})
    for app, spec in (overlay.get("applications") or {}).items():
        spec = copy.deepcopy(spec)
        if isinstance(spec.get("channel"), str):
            spec["channel"] = spec["channel"].replace("{track}", track)
        if app in apps and spec is not None:
            apps[app].update(spec)
        else:
            apps[app] = spec
    for saas, spec in (overlay.get("saas") or {}).items():
        bundle.setdefault("saas", {})[saas] = copy.deepcopy(spec)
    rels = bundle.setdefault("relations", [])
    for rel in overlay.get("relations") or []:
        if [*rel] not in rels and [rel[1], rel[0]] not in rels:
            rels.append([*rel])
    if not overlay.get("applications") and not overlay.get("relations"):
        raise SourceError(f"overlay {name} has no applications or relations")


def related_endpoints(bundle: dict[str, Any]) -> set[tuple[str, str]]:
    """(application, endpoint) pairs used by explicit relations."""
    used: set[tuple[str, str]] = set()
    for rel in bundle.get("relations") or []:
        for side in rel:
            if ":" in side:
                app, ep = side.split(":", 1)
                used.add((app, ep))
    return used


def wire_cos(bundle: dict[str, Any], sources: Sources) -> list[list[str]]:
    """Relate every COS endpoint left unrelated to the bundle's collector; return the added."""
    apps = bundle.get("applications") or {}
    collectors = [a for a, s in apps.items() if charm_name_of(s) in COS_COLLECTORS]
    if not collectors:
        return []
    collector = collectors[0]
    used = related_endpoints(bundle)
    added: list[list[str]] = []
    for app, spec in apps.items():
        info = sources.charm(charm_name_of(spec))
        if info is None or app == collector:
            continue
        for ep in info.cos_endpoints():
            if (app, ep.name) not in used:
                rel = [f"{app}:{ep.name}", f"{collector}:{COLLECTOR_ENDPOINTS[ep.name]}"]
                bundle["relations"].append(rel)
                added.append(rel)
    return added


def arch_problems(sources: Sources, charm: str, arch: str) -> tuple[list[str], dict[str, str]]:
    """Why a charm cannot run on `arch` (empty if it can) and resource overrides it needs.

    Returns:
        (reasons, resources): reasons name each missing image; resources maps a resource to
        an alternative image that exists for the architecture.
    """
    reasons: list[str] = []
    resources: dict[str, str] = {}
    if sources.is_ours(charm):
        for resource, spec in (sources.images.get(charm) or {}).items():
            if arch in spec.get("arches", []):
                continue
            alt = (spec.get("alternatives") or {}).get(arch)
            if alt:
                resources[resource] = alt
            elif not spec.get("optional"):
                reasons.append(
                    f"image {spec['image']} exists for {', '.join(spec['arches'])} only"
                )
    else:
        arches = sources.external_arches.get(charm)
        if arches is not None and arch not in arches:
            reasons.append(f"Charmhub publishes {charm} for {', '.join(arches)} only")
    return reasons, resources


def optional_image_warnings(sources: Sources, charm: str, arch: str) -> list[str]:
    """Warnings for optional images missing on `arch`."""
    return [
        f"{charm}: optional image {spec['image']} does not exist for {arch}: switch it off"
        for spec in (sources.images.get(charm) or {}).values()
        if spec.get("optional") and arch not in spec.get("arches", [])
    ]


def find_local_charm(directory: Path, charm: str, arch: str) -> Path | None:
    """The packed .charm of `charm` in `directory`, preferring one built for `arch`."""
    candidates = sorted(directory.glob(f"{charm}_*.charm")) + sorted(
        directory.glob(f"{charm}.charm")
    )
    for path in candidates:
        if arch in path.name:
            return path.resolve()
    return candidates[0].resolve() if candidates else None


def local_resources(sources: Sources, charm: str) -> dict[str, str]:
    """OCI image of every resource of a local charm (Juju needs them for local charms)."""
    info = sources.charm(charm)
    result: dict[str, str] = {}
    if info is not None and info.path is not None:
        meta = yaml.safe_load((info.path / "charmcraft.yaml").read_text()) or {}
        for name, spec in (meta.get("resources") or {}).items():
            if (spec or {}).get("type") == "oci-image" and spec.get("upstream-source"):
                result[name] = str(spec["upstream-source"])
    for name, spec in (sources.images.get(charm) or {}).items():
        result.setdefault(name, str(spec["image"]))
    return result


def render(
    sources: Sources,
    release: str = "latest",
    *,
    arch: str = "amd64",
    overlays: list[str] | None = None,
    local_charms: Path | None = None,
    allow_partial: bool = False,
) -> Rendered:
    """Render the bundle.

    Args:
        sources: the loaded bundle sources.
        release: a track (e.g. "1.11") or "latest".
        arch: target architecture; non-amd64 adds `constraints: arch=...` everywhere.
        overlays: overlay names (files in bundle/overlays/).
        local_charms: a directory of packed .charm files for our charms; Charmhub otherwise.
        allow_partial: omit applications unavailable on `arch` (with their relations) instead
            of refusing.

    Returns:
        The rendered bundle with its warnings and omissions.

    Raises:
        RenderError: an unknown arch or overlay, applications unavailable on the arch (without
            allow_partial), or local charms missing.
    """
    if arch not in ARCHES:
        raise RenderError(f"unknown architecture {arch!r}: choose one of {', '.join(ARCHES)}")
    try:
        track = sources.resolve_release(release)
    except SourceError as err:
        raise RenderError(str(err)) from None
    bundle = copy.deepcopy(sources.releases[track])
    bundle.setdefault("relations", [])
    overlays = [o for o in (overlays or []) if o]
    for name in overlays:
        if name not in sources.overlays:
            known = ", ".join(sorted(sources.overlays)) or "none"
            raise RenderError(f"unknown overlay {name!r}: choose from {known}")
        _merge_overlay(bundle, sources.overlays[name], track, name)
    result = Rendered(bundle=bundle, release=track, arch=arch, overlays=overlays)
    if "cos" in overlays:
        wire_cos(bundle, sources)

    apps: dict[str, Any] = bundle["applications"]
    refused: dict[str, str] = {}
    for app, spec in apps.items():
        charm = charm_name_of(spec)
        reasons, resources = arch_problems(sources, charm, arch)
        result.warnings += optional_image_warnings(sources, charm, arch)
        if reasons:
            refused[app] = "; ".join(reasons)
        if resources:
            spec.setdefault("resources", {}).update(resources)
            result.warnings += [
                f"{app}: {res} set to {img} (the default image lacks {arch})"
                for res, img in resources.items()
            ]
    if refused and not allow_partial:
        lines = "\n".join(f"  {app}: {why}" for app, why in sorted(refused.items()))
        raise RenderError(
            f"{len(refused)} application(s) cannot run on {arch}:\n{lines}\n"
            "Use --allow-partial to omit them (and their relations), or attach images built "
            "for this architecture."
        )
    for app, why in sorted(refused.items()):
        del apps[app]
        result.omitted[app] = why
        result.warnings.append(f"omitted {app}: {why}")
    if refused:
        kept = []
        for rel in bundle["relations"]:
            a, b = relation_apps(rel)
            if a in refused or b in refused:
                result.warnings.append(f"dropped relation {rel[0]} - {rel[1]}")
            else:
                kept.append(rel)
        bundle["relations"] = kept

    if local_charms is not None:
        missing = []
        for spec in apps.values():
            charm = charm_name_of(spec)
            if not sources.is_ours(charm):
                continue
            path = find_local_charm(local_charms, charm, arch)
            if path is None:
                missing.append(charm)
                continue
            spec["charm"] = str(path)
            spec.pop("channel", None)
            resources = local_resources(sources, charm)
            resources.update(spec.get("resources") or {})
            spec["resources"] = resources
        if missing:
            raise RenderError(
                f"no packed charm in {local_charms} for: {', '.join(sorted(set(missing)))}"
                " (run `tox -e pack` first; files are named <charm>_<base>-<arch>.charm)"
            )
    if arch != "amd64":
        for spec in apps.values():
            spec["constraints"] = f"arch={arch}"
    return result
