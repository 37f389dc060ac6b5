"""Check a bundle: endpoints, interfaces and roles, trust, architectures, COS wiring."""

from __future__ import annotations

import dataclasses
from typing import Any

from .render import arch_problems
from .sources import COS_COLLECTORS, CharmInfo, Endpoint, Sources, charm_name_of

ROLE_PAIRS = {("provides", "requires"), ("requires", "provides")}


@dataclasses.dataclass(frozen=True)
class Problem:
    """One problem found in a bundle.

    Attributes:
        kind: endpoint-missing, interface-mismatch, role-mismatch, ambiguous-relation,
            unknown-application, unknown-charm, trust-missing, arch-unavailable, cos-unrelated.
        message: what is wrong and what to do, in plain words.
    """

    kind: str
    message: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.message}"


def bundle_arch(bundle: dict[str, Any]) -> str:
    """The architecture the bundle's constraints ask for (amd64 when none)."""
    for spec in (bundle.get("applications") or {}).values():
        for part in str((spec or {}).get("constraints", "")).split():
            if part.startswith("arch="):
                return part.split("=", 1)[1]
    return "amd64"


class _Resolver:
    def __init__(self, bundle: dict[str, Any], sources: Sources):
        self.apps: dict[str, Any] = bundle.get("applications") or {}
        self.saas: dict[str, Any] = bundle.get("saas") or {}
        self.sources = sources

    def info(self, app: str) -> CharmInfo | None:
        if app in self.apps:
            return self.sources.charm(charm_name_of(self.apps[app] or {}))
        if app in self.saas:
            return self.sources.saas.get(app)
        return None


def _split(side: str) -> tuple[str, str | None]:
    app, _, ep = str(side).partition(":")
    return app, (ep or None)


def _infer(
    a_info: CharmInfo, a_ep: str | None, b_info: CharmInfo, b_ep: str | None
) -> list[tuple[Endpoint, Endpoint]]:
    a_eps = [a_info.endpoints[a_ep]] if a_ep else list(a_info.endpoints.values())
    b_eps = [b_info.endpoints[b_ep]] if b_ep else list(b_info.endpoints.values())
    return [
        (x, y)
        for x in a_eps
        for y in b_eps
        if x.interface == y.interface and (x.role, y.role) in ROLE_PAIRS
    ]


def check(bundle: dict[str, Any], sources: Sources, *, arch: str | None = None) -> list[Problem]:
    """Every problem of the bundle; an empty list means it is sound.

    Args:
        bundle: a rendered Juju bundle (dict).
        sources: the loaded sources (catalogs, image matrix, our charms' metadata).
        arch: target architecture (default: from the bundle's constraints, else amd64).
    """
    problems: list[Problem] = []
    res = _Resolver(bundle, sources)
    arch = arch or bundle_arch(bundle)
    used: set[tuple[str, str]] = set()

    for app, spec in res.apps.items():
        charm = charm_name_of(spec or {})
        info = sources.charm(charm)
        if info is None:
            problems.append(
                Problem(
                    "unknown-charm", f"{app}: charm {charm!r} is in no catalog (bundle/catalog)"
                )
            )
            continue
        if info.trust and not (spec or {}).get("trust"):
            problems.append(
                Problem(
                    "trust-missing",
                    f"{app} ({charm}) manages cluster objects and needs `trust: true`"
                    f" (or `juju trust {app} --scope=cluster`)",
                )
            )
        reasons, resources = arch_problems(sources, charm, arch)
        overridden = (spec or {}).get("resources") or {}
        for resource, image in resources.items():
            if overridden.get(resource) is None:
                problems.append(
                    Problem(
                        "arch-unavailable",
                        f"{app}: the default {resource} does not exist for {arch}: set the"
                        f" resource to {image}",
                    )
                )
        for reason in reasons:
            problems.append(Problem("arch-unavailable", f"{app} on {arch}: {reason}"))

    for rel in bundle.get("relations") or []:
        if not isinstance(rel, list | tuple) or len(rel) != 2:
            problems.append(Problem("bad-relation", f"relation {rel!r} must name two endpoints"))
            continue
        (a, a_ep), (b, b_ep) = _split(rel[0]), _split(rel[1])
        label = f"{rel[0]} - {rel[1]}"
        a_info, b_info = res.info(a), res.info(b)
        missing_app = [x for x in (a, b) if x not in res.apps and x not in res.saas]
        if missing_app:
            problems.append(
                Problem(
                    "unknown-application",
                    f"{label}: no application {', '.join(missing_app)} in the bundle",
                )
            )
            continue
        if a_info is None or b_info is None:
            continue  # reported as unknown-charm above
        bad = False
        for ep, info in ((a_ep, a_info), (b_ep, b_info)):
            if ep and ep not in info.endpoints:
                problems.append(
                    Problem(
                        "endpoint-missing",
                        f"{label}: {info.name} has no endpoint {ep!r} (it has:"
                        f" {', '.join(sorted(info.endpoints)) or 'none'}; from {info.source})",
                    )
                )
                bad = True
        if bad:
            continue
        matches = _infer(a_info, a_ep, b_info, b_ep)
        if not matches:
            if a_ep and b_ep:
                x, y = a_info.endpoints[a_ep], b_info.endpoints[b_ep]
                if x.interface != y.interface:
                    problems.append(
                        Problem(
                            "interface-mismatch",
                            f"{label}: interfaces differ ({x.interface} vs {y.interface})",
                        )
                    )
                else:
                    problems.append(
                        Problem(
                            "role-mismatch",
                            f"{label}: both sides {x.role} {x.interface}; one must provide"
                            " and the other require",
                        )
                    )
            else:
                problems.append(
                    Problem("endpoint-missing", f"{label}: no matching endpoints on both sides")
                )
            continue
        if len(matches) > 1:
            options = ", ".join(f"{a}:{x.name} - {b}:{y.name}" for x, y in matches)
            problems.append(
                Problem("ambiguous-relation", f"{label}: name the endpoints ({options})")
            )
            continue
        x, y = matches[0]
        used.add((a, x.name))
        used.add((b, y.name))

    collectors = [
        app for app, spec in res.apps.items() if charm_name_of(spec or {}) in COS_COLLECTORS
    ]
    if collectors:
        for app, spec in res.apps.items():
            info = sources.charm(charm_name_of(spec or {}))
            if info is None or app in collectors:
                continue
            for cos_ep in info.cos_endpoints():
                if (app, cos_ep.name) not in used:
                    problems.append(
                        Problem(
                            "cos-unrelated",
                            f"{app}:{cos_ep.name} ({cos_ep.interface}) is not related"
                            f" to {collectors[0]}",
                        )
                    )
    return problems
