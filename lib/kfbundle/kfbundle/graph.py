"""Draw the bundle: applications as boxes in layers, relations as lines (ours highlighted)."""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from .sources import Sources, charm_name_of

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN, PER_ROW = 170, 44, 22, 90, 30, 9
LAYERS = [
    ("edge and auth", {"istio-pilot", "istio-gateway", "dex-auth", "oidc-gatekeeper", "envoy"}),
    (
        "user interfaces",
        {
            "kubeflow-dashboard",
            "jupyter-ui",
            "kfp-ui",
            "kubeflow-volumes",
            "tensorboards-web-app",
            "mlflow-server",
        },
    ),
    (
        "controllers",
        {
            "kubeflow-profiles",
            "katib",
            "kserve",
            "jupyter-controller",
            "kfp-api",
            "kfp-persistence",
            "kfp-profile-controller",
            "kfp-schedwf",
            "kfp-viewer",
            "kfp-viz",
            "kfp-metadata-writer",
            "tensorboard-controller",
            "training-operator",
            "admission-webhook",
            "pvcviewer-operator",
            "argo-controller",
            "knative-serving",
            "knative-eventing",
            "knative-operator",
            "metacontroller-operator",
            "kubeflow-roles",
            "resource-dispatcher",
        },
    ),
    ("data", {"mysql", "minio", "mlmd"}),
    ("observability", {"opentelemetry-collector-k8s", "grafana-agent-k8s", "saas"}),
]
INTERFACE_COLOURS = {
    "ingress": "#1f77b4",
    "mysql_client": "#d62728",
    "object-storage": "#8c564b",
    "s3": "#8c564b",
    "kubeflow_dashboard_links": "#2ca02c",
    "kubernetes_manifest": "#9467bd",
    "prometheus_scrape": "#ff7f0e",
    "grafana_dashboard": "#ff7f0e",
    "loki_push_api": "#ff7f0e",
}


def _layer_of(charm: str, is_saas: bool) -> int:
    if is_saas:
        return len(LAYERS) - 1
    for i, (_, charms) in enumerate(LAYERS):
        if charm in charms:
            return i
    return 2


def layout(bundle: dict[str, Any]) -> dict[str, tuple[float, float, int]]:
    """Box positions (x, y of the top-left corner, layer) for every application."""
    apps = bundle.get("applications") or {}
    nodes = [(a, charm_name_of(s or {}), False) for a, s in apps.items()]
    nodes += [(a, "saas", True) for a in bundle.get("saas") or {}]
    rows: list[list[str]] = []
    layer_of_row: list[int] = []
    for i in range(len(LAYERS)):
        members = sorted(a for a, c, saas in nodes if _layer_of(c, saas) == i)
        for start in range(0, len(members), PER_ROW):
            rows.append(members[start : start + PER_ROW])
            layer_of_row.append(i)
    positions: dict[str, tuple[float, float, int]] = {}
    width = PER_ROW * (BOX_W + GAP_X)
    for r, row in enumerate(rows):
        row_w = len(row) * (BOX_W + GAP_X) - GAP_X
        x0 = MARGIN + 140 + (width - row_w) / 2
        for k, app in enumerate(row):
            positions[app] = (
                x0 + k * (BOX_W + GAP_X),
                MARGIN + r * (BOX_H + GAP_Y),
                layer_of_row[r],
            )
    return positions


def to_svg(bundle: dict[str, Any], sources: Sources, title: str = "Kubeflow bundle") -> str:
    """The bundle as an SVG document."""
    pos = layout(bundle)
    apps = bundle.get("applications") or {}
    width = MARGIN * 2 + 140 + PER_ROW * (BOX_W + GAP_X)
    height = int(max((y for _, y, _ in pos.values()), default=0) + BOX_H + MARGIN * 2 + 60)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" font-family="sans-serif">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{MARGIN}" y="{height - 20}" font-size="13" fill="#333">'
        f"{html.escape(title)}: {len(apps)} applications, {len(bundle.get('relations') or [])}"
        " relations. Ours in orange; Charmhub charms in grey; COS offers dashed.</text>",
    ]
    seen_layers: set[int] = set()
    for _app, (_x, y, layer) in sorted(pos.items(), key=lambda kv: kv[1][1]):
        if layer not in seen_layers:
            seen_layers.add(layer)
            out.append(
                f'<text x="{MARGIN}" y="{y + BOX_H / 2 + 4}" font-size="13" font-weight="bold"'
                f' fill="#555">{html.escape(LAYERS[layer][0])}</text>'
            )
    for rel in bundle.get("relations") or []:
        a, b = (str(s).split(":", 1)[0] for s in rel)
        if a not in pos or b not in pos:
            continue
        interface = _interface(sources, bundle, rel)
        colour = INTERFACE_COLOURS.get(interface, "#999999")
        (xa, ya, _), (xb, yb, _) = pos[a], pos[b]
        x1, y1 = xa + BOX_W / 2, ya + (BOX_H if yb > ya else 0)
        x2, y2 = xb + BOX_W / 2, yb + (0 if yb > ya else BOX_H)
        if math.isclose(ya, yb):
            y1 = y2 = ya + BOX_H
            mid = ya + BOX_H + 30
            path = f"M{x1},{y1} C{x1},{mid} {x2},{mid} {x2},{y2}"
        else:
            mid = (y1 + y2) / 2
            path = f"M{x1},{y1} C{x1},{mid} {x2},{mid} {x2},{y2}"
        out.append(
            f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="1.3"'
            f' stroke-opacity="0.55"><title>{html.escape(rel[0])} - {html.escape(rel[1])}'
            f" ({html.escape(interface)})</title></path>"
        )
    for app, (x, y, _) in pos.items():
        spec = apps.get(app)
        charm = charm_name_of(spec or {}) if spec is not None else "COS offer"
        ours = spec is not None and sources.is_ours(charm)
        fill, stroke = ("#fde2c8", "#e95420") if ours else ("#f2f2f2", "#888888")
        dash = ' stroke-dasharray="5,3"' if spec is None else ""
        out.append(
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="7" fill="{fill}"'
            f' stroke="{stroke}" stroke-width="{2 if ours else 1}"{dash}/>'
        )
        weight = ' font-weight="bold"' if ours else ""
        out.append(
            f'<text x="{x + BOX_W / 2}" y="{y + 19}" font-size="12" text-anchor="middle"{weight}>'
            f"{html.escape(app)}</text>"
        )
        if charm != app:
            out.append(
                f'<text x="{x + BOX_W / 2}" y="{y + 35}" font-size="10" text-anchor="middle"'
                f' fill="#555">{html.escape(charm)}</text>'
            )
    legend_x = MARGIN
    legend_y = height - 45
    for k, (name, colour) in enumerate(
        [
            ("ingress", "#1f77b4"),
            ("database", "#d62728"),
            ("object storage", "#8c564b"),
            ("dashboard links", "#2ca02c"),
            ("manifests", "#9467bd"),
            ("COS", "#ff7f0e"),
            ("other", "#999999"),
        ]
    ):
        x = legend_x + k * 150
        out.append(
            f'<line x1="{x}" y1="{legend_y}" x2="{x + 30}" y2="{legend_y}" stroke="{colour}"'
            ' stroke-width="3"/>'
        )
        out.append(f'<text x="{x + 36}" y="{legend_y + 4}" font-size="12">{name}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _interface(sources: Sources, bundle: dict[str, Any], rel: list[str]) -> str:
    for side in rel:
        app, _, ep = str(side).partition(":")
        spec = (bundle.get("applications") or {}).get(app)
        info = sources.charm(charm_name_of(spec)) if spec else sources.saas.get(app)
        if info and ep in info.endpoints:
            return info.endpoints[ep].interface
    return "?"


def write_graph(svg: str, path: Path) -> str | None:
    """Write SVG, or PNG when `path` ends in .png and cairosvg is installed.

    Returns:
        None on success, or why a PNG could not be written.
    """
    if path.suffix.lower() == ".png":
        try:
            import cairosvg  # type: ignore[import-not-found]
        except ImportError:
            return (
                "PNG needs cairosvg (pip install cairosvg, which needs the Debian package"
                " libcairo2) or graphviz; write .svg instead"
            )
        cairosvg.svg2png(bytestring=svg.encode(), write_to=str(path))
        return None
    path.write_text(svg)
    return None
