"""bundle/images.yaml agrees with the charms: same resources, same default images."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
IMAGES = yaml.safe_load((ROOT / "bundle" / "images.yaml").read_text())["ours"]
CHARMS = sorted(p.parent.name for p in (ROOT / "charms").glob("*/charmcraft.yaml"))


def oci_resources(charm: str) -> dict[str, str]:
    meta = yaml.safe_load((ROOT / "charms" / charm / "charmcraft.yaml").read_text())
    return {
        name: spec.get("upstream-source", "")
        for name, spec in (meta.get("resources") or {}).items()
        if spec.get("type") == "oci-image"
    }


def test_every_charm_has_an_images_entry():
    assert sorted(IMAGES) == CHARMS


@pytest.mark.parametrize("charm", CHARMS)
def test_images_yaml_names_the_charm_resources_and_their_default_images(charm):
    recorded = {name: entry["image"] for name, entry in IMAGES[charm].items()}
    assert recorded == oci_resources(charm)


@pytest.mark.parametrize("charm", CHARMS)
def test_every_image_lists_known_architectures(charm):
    for name, entry in IMAGES[charm].items():
        arches = set(entry["arches"])
        assert arches, f"{charm}/{name} lists no architecture"
        assert arches <= {"amd64", "arm64", "ppc64le", "s390x"}, f"{charm}/{name}: {arches}"
