"""The simulated deploy of the full bundle, with and without overlays."""

from __future__ import annotations

import pytest
from kfbundle import cli
from kfbundle.render import render
from kfbundle.simulate import SimulatedModel


def runnable_ours(sources, bundle):
    result = {}
    for app, spec in bundle["applications"].items():
        info = sources.charm(spec["charm"])
        if info is not None and info.ours and info.runnable:
            result[app] = info.name
    return result


@pytest.mark.parametrize(
    ("release", "overlays"),
    [("1.11", []), ("1.11", ["cos", "mlflow"]), ("1.10", [])],
    ids=["1.11", "1.11+cos+mlflow", "1.10"],
)
def test_full_bundle_settles_with_our_charms_active(sources, release, overlays, capsys):
    bundle = render(sources, release, overlays=overlays).bundle
    result = SimulatedModel(sources, bundle).deploy()
    with capsys.disabled():
        print(
            f"\n[simulated deploy {release}{'+' + '+'.join(overlays) if overlays else ''}]"
            f" hook runs: {result.hook_runs}, Kubernetes requests: {result.k8s_requests}"
            f" ({result.k8s_writes} writes), wall time {result.wall_time:.1f}s"
        )
    expected = runnable_ours(sources, bundle)
    assert expected, "no charm of ours is in this checkout"
    errors = [f"{e.unit} {e.event}: {e.summary}" for e in result.errors]
    statuses = {app: result.ours[app] for app in expected}
    assert statuses == dict.fromkeys(expected, "active"), (statuses, errors)
    assert not result.cap_hit
    assert result.standin_problems == []
    assert result.steady_state_writes == 0
    assert result.k8s_objects.get("CustomResourceDefinition", 0) > 0
    if "cos" in overlays:
        assert result.validated_relations >= len(expected)  # every metrics-endpoint validated
    if "mlflow" in overlays:
        assert result.k8s_objects.get("PodDefault") == 1  # dispatched into the user namespace


def test_deploy_command_prints_status_table_and_exits_zero(capsys):
    assert cli.main(["-q", "deploy", "--release", "1.11"]) == 0
    out = capsys.readouterr().out
    assert "katib" in out
    assert "Hook runs:" in out
    assert "Kubernetes objects created:" in out
    assert cli.main(["status"]) == 0
    assert "simulated model" in capsys.readouterr().out


def test_charm_that_raises_is_shown_as_error_and_deploy_continues(sources, monkeypatch):
    bundle = render(sources, "1.11").bundle
    model = SimulatedModel(sources, bundle, max_hooks=400)

    import kfbundle.simulate.engine as engine

    real_run = engine.SimulatedModel._event

    def failing_event(self, unit, spec, state):
        event = real_run(self, unit, spec, state)
        if unit.app.name == "minio" and spec[0] == "config_changed":
            raise_in_charm(unit)
        return event

    def raise_in_charm(unit):
        charm_type = model.loader.charm_types["minio"]

        def explode(self, *args, **kwargs):
            raise RuntimeError("planted failure")

        monkeypatch.setattr(charm_type, "_reconcile", explode)

    monkeypatch.setattr(engine.SimulatedModel, "_event", failing_event)
    result = model.deploy()
    assert result.ours["minio"] == "error"
    assert any("planted failure" in e.summary and e.unit == "minio/0" for e in result.errors)
    assert "planted failure" in result.errors[0].traceback
    others = {a: s for a, s in result.ours.items() if a != "minio"}
    assert "error" not in others.values()


def test_missing_charm_is_reported_not_raised(sources, monkeypatch):
    bundle = render(sources, "1.11").bundle
    info = sources.charm("kubeflow-profiles")
    monkeypatch.setattr(info, "runnable", False)
    result = SimulatedModel(sources, bundle).deploy()
    row = next(r for r in result.statuses if r[0] == "kubeflow-profiles")
    assert row[2] == "missing"
    assert "src/charm.py missing" in row[3]
    assert not result.all_active
