"""Render and check for every release x arch x overlay, and planted errors for each check."""

from __future__ import annotations

import copy
import itertools

import pytest
from kfbundle.check import check
from kfbundle.render import RenderError, render
from kfbundle.sources import ARCHES, OUR_CHARMS, charm_name_of

RELEASES = ["1.10", "1.11", "latest"]
OVERLAYS = [[], ["cos"], ["mlflow"], ["cos", "mlflow"]]
MATRIX = list(itertools.product(RELEASES, ARCHES, OVERLAYS))


def kinds(problems):
    return {p.kind for p in problems}


@pytest.mark.parametrize(("release", "arch", "overlays"), MATRIX)
def test_render_and_check_matrix(sources, release, arch, overlays):
    if arch == "amd64":
        rendered = render(sources, release, arch=arch, overlays=overlays)
        assert rendered.omitted == {}
    else:
        with pytest.raises(RenderError, match=f"cannot run on {arch}"):
            render(sources, release, arch=arch, overlays=overlays)
        rendered = render(sources, release, arch=arch, overlays=overlays, allow_partial=True)
        assert rendered.omitted
        for spec in rendered.bundle["applications"].values():
            assert spec["constraints"] == f"arch={arch}"
        for rel in rendered.bundle["relations"]:
            apps = {side.split(":")[0] for side in rel}
            assert not apps & set(rendered.omitted)
    problems = check(rendered.bundle, sources, arch=arch)
    assert problems == [], [str(p) for p in problems]
    apps = rendered.bundle["applications"]
    if arch == "amd64":
        charms = {charm_name_of(s) for s in apps.values()}
        assert set(OUR_CHARMS) <= charms
        assert len(apps) >= 36


def test_latest_is_the_newest(sources):
    assert render(sources, "latest").release == "1.11"


def test_channels_follow_the_reference_bundles(sources):
    apps_110 = render(sources, "1.10").bundle["applications"]
    apps_111 = render(sources, "1.11").bundle["applications"]
    assert apps_110["istio-pilot"]["channel"] == "1.24/stable"
    assert apps_111["istio-pilot"]["channel"] == "1.28/stable"
    assert apps_111["knative-serving"]["options"]["istio.gateway.name"] == "kubeflow-gateway"
    assert apps_111["kserve"]["options"] == {"deployment-mode": "serverless"}


def test_mysql_gets_mariadb_on_s390x(sources):
    rendered = render(sources, "1.11", arch="s390x", allow_partial=True)
    katib_db = rendered.bundle["applications"]["katib-db"]
    assert katib_db["resources"]["mysql-image"].startswith("docker.io/library/mariadb")


def test_arm64_keeps_our_charms_whose_images_exist(sources):
    rendered = render(sources, "1.11", arch="arm64", allow_partial=True)
    kept = {charm_name_of(s) for s in rendered.bundle["applications"].values()}
    assert {"katib", "kserve", "kubeflow-dashboard", "mysql", "minio"} <= kept
    assert "istio-pilot" in rendered.omitted


def test_s390x_omits_profiles_for_its_images(sources):
    rendered = render(sources, "1.11", arch="s390x", allow_partial=True)
    assert "kubeflow-profiles" in rendered.omitted
    assert "profile-controller" in rendered.omitted["kubeflow-profiles"]


def test_cos_overlay_relates_every_cos_endpoint(sources):
    bundle = render(sources, "1.11", overlays=["cos", "mlflow"]).bundle
    related = {side for rel in bundle["relations"] for side in rel}
    assert "mlflow-server:metrics-endpoint" in related
    assert "katib:logging" in related


def test_local_charms_become_paths_with_resources(sources, tmp_path):
    for charm in OUR_CHARMS:
        (tmp_path / f"{charm}_ubuntu@24.04-amd64.charm").write_bytes(b"")
    bundle = render(sources, "1.11", local_charms=tmp_path).bundle
    katib = bundle["applications"]["katib"]
    assert katib["charm"].endswith("katib_ubuntu@24.04-amd64.charm")
    assert "channel" not in katib
    assert katib["resources"]["katib-ui-image"] == "ghcr.io/kubeflow/katib/katib-ui:v0.19.0"


def test_local_charms_missing_are_listed(sources, tmp_path):
    with pytest.raises(RenderError, match=r"no packed charm .* katib"):
        render(sources, "1.11", local_charms=tmp_path)


# -- planted errors: each kind of problem is reported ----------------------------------------


@pytest.fixture
def bundle(sources):
    return copy.deepcopy(render(sources, "1.11", overlays=["cos"]).bundle)


def test_planted_missing_endpoint(sources, bundle):
    bundle["relations"].append(["katib:no-such-endpoint", "katib-db:database"])
    problems = check(bundle, sources)
    assert kinds(problems) == {"endpoint-missing"}
    assert "no-such-endpoint" in problems[0].message


def test_planted_missing_endpoint_on_external_side(sources, bundle):
    bundle["relations"].append(["kubeflow-dashboard:links", "kfp-api:dashboard-links"])
    assert kinds(check(bundle, sources)) == {"endpoint-missing"}


def test_planted_interface_mismatch(sources, bundle):
    bundle["relations"].append(["katib:relational-db", "minio:object-storage"])
    problems = check(bundle, sources)
    assert kinds(problems) == {"interface-mismatch"}
    assert "mysql_client vs object-storage" in problems[0].message


def test_planted_role_mismatch(sources, bundle):
    bundle["relations"].append(["jupyter-ui:dashboard-links", "katib:dashboard-links"])
    problems = check(bundle, sources)
    assert kinds(problems) == {"role-mismatch"}


def test_planted_missing_trust(sources, bundle):
    del bundle["applications"]["katib"]["trust"]
    problems = check(bundle, sources)
    assert kinds(problems) == {"trust-missing"}
    assert "juju trust katib" in problems[0].message


def test_planted_image_unavailable_on_arch(sources):
    bundle = render(sources, "1.11", arch="arm64", allow_partial=True).bundle
    bundle["applications"]["kubeflow-profiles"]["constraints"] = "arch=arm64"
    for spec in bundle["applications"].values():
        spec["constraints"] = "arch=s390x"
    problems = check(bundle, sources)
    assert "arch-unavailable" in kinds(problems)
    assert any("kubeflow-profiles" in p.message for p in problems)
    assert any("katib" in p.message and "amd64, arm64 only" in p.message for p in problems)


def test_planted_charm_unavailable_on_arch(sources):
    bundle = render(sources, "1.11").bundle
    problems = check(bundle, sources, arch="arm64")
    assert any(
        p.kind == "arch-unavailable" and "Charmhub publishes istio-pilot" in p.message
        for p in problems
    )


def test_planted_alternative_image_not_set(sources):
    bundle = render(sources, "1.11", arch="ppc64le", allow_partial=True).bundle
    del bundle["applications"]["katib-db"]["resources"]
    problems = check(bundle, sources)
    assert any(p.kind == "arch-unavailable" and "mariadb" in p.message for p in problems)


def test_planted_cos_endpoint_left_unrelated(sources, bundle):
    bundle["relations"] = [r for r in bundle["relations"] if r[0] != "katib:metrics-endpoint"]
    problems = check(bundle, sources)
    assert kinds(problems) == {"cos-unrelated"}
    assert "katib:metrics-endpoint" in problems[0].message


def test_planted_unknown_application_and_charm(sources, bundle):
    bundle["relations"].append(["ghost:db", "katib-db:database"])
    bundle["applications"]["mystery"] = {"charm": "no-such-charm", "channel": "latest/stable"}
    assert kinds(check(bundle, sources)) == {"unknown-application", "unknown-charm"}


def test_planted_ambiguous_relation(sources, bundle):
    bundle["relations"].append(["kserve", "resource-dispatcher"])
    assert kinds(check(bundle, sources)) == {"ambiguous-relation"}
