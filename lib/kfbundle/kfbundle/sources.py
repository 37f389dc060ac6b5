"""Bundle sources (bundle/) and charm metadata, loaded into typed objects."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from pathlib import Path
from typing import Any

import yaml

OUR_CHARMS = (
    "kubeflow-dashboard",
    "kubeflow-profiles",
    "katib",
    "kserve",
    "resource-dispatcher",
    "mysql",
    "minio",
)
ARCHES = ("amd64", "arm64", "ppc64le", "s390x")
COS_ENDPOINTS = {
    "metrics-endpoint": ("prometheus_scrape", "provides"),
    "grafana-dashboard": ("grafana_dashboard", "provides"),
    "logging": ("loki_push_api", "requires"),
}
COS_COLLECTORS = ("opentelemetry-collector-k8s", "grafana-agent-k8s")


class SourceError(Exception):
    """The bundle sources or a charm's metadata cannot be read."""


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One relation endpoint of a charm."""

    name: str
    interface: str
    role: str  # provides, requires or peers
    optional: bool = False


@dataclasses.dataclass
class CharmInfo:
    """What the checks and the simulator need to know about a charm."""

    name: str
    endpoints: dict[str, Endpoint]
    trust: bool
    ours: bool = False
    path: Path | None = None  # charms/<name> when in this checkout
    runnable: bool = False  # has src/charm.py
    source: str = "catalog"

    def cos_endpoints(self) -> list[Endpoint]:
        """Its metrics-endpoint, grafana-dashboard and logging endpoints."""
        return [
            ep
            for name, (interface, role) in COS_ENDPOINTS.items()
            if (ep := self.endpoints.get(name)) is not None
            and ep.interface == interface
            and ep.role == role
        ]


def find_repo_root(start: Path | None = None) -> Path | None:
    """The checkout holding charms/ and bundle/, searched upwards from `start` (or this file)."""
    candidates = [(start or Path.cwd()).resolve(), Path(__file__).resolve()]
    for base in candidates:
        for candidate in (base, *base.parents):
            if (candidate / "bundle" / "releases.yaml").is_file() and (
                candidate / "lib" / "kfbundle"
            ).is_dir():
                return candidate
    return None


def _endpoints_from_catalog(entry: dict[str, Any]) -> dict[str, Endpoint]:
    result: dict[str, Endpoint] = {}
    for role in ("provides", "requires", "peers"):
        for name, interface in (entry.get(role) or {}).items():
            result[name] = Endpoint(name, str(interface), role)
    return result


def endpoints_from_metadata(meta: dict[str, Any]) -> dict[str, Endpoint]:
    """Endpoints from a metadata.yaml / charmcraft.yaml document."""
    result: dict[str, Endpoint] = {}
    for role in ("provides", "requires", "peers"):
        for name, spec in (meta.get(role) or {}).items():
            spec = spec or {}
            result[name] = Endpoint(
                name, str(spec.get("interface", "")), role, bool(spec.get("optional", False))
            )
    return result


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SourceError(f"missing bundle source {path}") from None
    except yaml.YAMLError as err:
        raise SourceError(f"{path} is not valid YAML: {err}") from None


def metadata_from_charm_file(path: Path) -> dict[str, Any] | None:
    """metadata.yaml (or charmcraft.yaml) from a packed .charm, or None if unreadable."""
    try:
        with zipfile.ZipFile(path) as zf:
            for member in ("metadata.yaml", "charmcraft.yaml"):
                if member in zf.namelist():
                    doc = yaml.safe_load(io.TextIOWrapper(zf.open(member), encoding="utf-8"))
                    if isinstance(doc, dict) and (
                        "provides" in doc or "requires" in doc or "name" in doc
                    ):
                        return doc
    except (OSError, zipfile.BadZipFile, yaml.YAMLError):
        return None
    return None


@dataclasses.dataclass
class Sources:
    """Everything under bundle/ plus our charms' metadata."""

    root: Path
    latest: str
    releases: dict[str, dict[str, Any]]
    charms: dict[str, CharmInfo]
    saas: dict[str, CharmInfo]
    images: dict[str, dict[str, dict[str, Any]]]
    external_arches: dict[str, list[str]]
    overlays: dict[str, dict[str, Any]]

    @property
    def bundle_dir(self) -> Path:
        """The bundle/ directory."""
        return self.root / "bundle"

    def resolve_release(self, release: str) -> str:
        """`latest` or a track, checked; raises SourceError naming the known ones."""
        track = self.latest if release == "latest" else release
        if track not in self.releases:
            known = ", ".join([*sorted(self.releases), "latest"])
            raise SourceError(f"unknown release {release!r}: choose one of {known}")
        return track

    def release(self, release: str) -> dict[str, Any]:
        """The release's bundle source document."""
        track = self.resolve_release(release)
        return self.releases[track]

    def charm(self, name: str) -> CharmInfo | None:
        """Catalog entry of a charm by name (ours or external)."""
        return self.charms.get(name)

    def is_ours(self, charm: str) -> bool:
        """Whether a charm name is one of our seven."""
        return charm in OUR_CHARMS


def load_sources(root: Path | None = None) -> Sources:
    """Read bundle/ and charms/*/charmcraft.yaml of the checkout at `root`.

    Raises:
        SourceError: no checkout found, or a source is missing or malformed.
    """
    root = root or find_repo_root()
    if root is None:
        raise SourceError(
            "cannot find the checkout (a directory with bundle/releases.yaml and lib/kfbundle);"
            " run kfbundle from inside it"
        )
    bundle = root / "bundle"
    index = _read_yaml(bundle / "releases.yaml")
    releases = {
        str(track): _read_yaml(bundle / str(spec["file"]))
        for track, spec in (index.get("releases") or {}).items()
    }
    external = _read_yaml(bundle / "catalog" / "external.yaml")
    ours_catalog = _read_yaml(bundle / "catalog" / "ours.yaml")
    images = _read_yaml(bundle / "images.yaml")
    charms: dict[str, CharmInfo] = {}
    for name, entry in (external.get("charms") or {}).items():
        charms[name] = CharmInfo(
            name, _endpoints_from_catalog(entry), bool(entry.get("trust", False)), source="catalog"
        )
    for name, entry in (ours_catalog.get("charms") or {}).items():
        path = root / "charms" / name
        info = CharmInfo(
            name,
            _endpoints_from_catalog(entry),
            bool(entry.get("trust", False)),
            ours=True,
            source="bundle/catalog/ours.yaml (charm not in this checkout)",
        )
        meta_file = path / "charmcraft.yaml"
        if meta_file.is_file():
            meta = _read_yaml(meta_file) or {}
            info.endpoints = endpoints_from_metadata(meta)
            info.path = path
            info.source = f"charms/{name}/charmcraft.yaml"
            info.runnable = (path / "src" / "charm.py").is_file()
        charms[name] = info
    saas = {
        name: CharmInfo(
            str(entry.get("charm", name)), _endpoints_from_catalog(entry), False, source="saas"
        )
        for name, entry in (external.get("saas") or {}).items()
    }
    overlays = {p.stem: _read_yaml(p) for p in sorted((bundle / "overlays").glob("*.yaml"))}
    return Sources(
        root=root,
        latest=str(index.get("latest")),
        releases=releases,
        charms=charms,
        saas=saas,
        images={k: v or {} for k, v in (images.get("ours") or {}).items()},
        external_arches={k: list(v) for k, v in (images.get("external") or {}).items()},
        overlays=overlays,
    )


def charm_name_of(app: dict[str, Any]) -> str:
    """The charm name an application entry uses (a local path's charm name when a path)."""
    charm = str(app.get("charm", ""))
    if charm.startswith(("./", "/", "../", "local:")) or charm.endswith(".charm"):
        path = Path(charm.removeprefix("local:"))
        meta = metadata_from_charm_file(path) if path.suffix == ".charm" else None
        if meta and meta.get("name"):
            return str(meta["name"])
        stem = path.name
        return stem.split("_", 1)[0] if stem.endswith(".charm") else stem
    return charm.removeprefix("ch:")
