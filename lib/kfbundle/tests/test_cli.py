import subprocess
import sys

import pytest
import yaml
from kfbundle import cli


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for command in ("render", "check", "graph", "deploy", "status"):
        assert command in text


@pytest.mark.parametrize("command", ["render", "check", "graph", "deploy", "status"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    assert "usage" in capsys.readouterr().out


def test_console_script_help_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "kfbundle.cli", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert "kfbundle" in proc.stdout


def test_render_writes_a_bundle_file(tmp_path):
    out = tmp_path / "bundle.yaml"
    assert cli.main(["-q", "render", "--release", "1.10", "-o", str(out)]) == 0
    doc = yaml.safe_load(out.read_text())
    assert doc["applications"]["katib-controller" if False else "katib"]["charm"] == "katib"
    assert doc["applications"]["kfp-api"]["channel"] == "2.5/stable"


def test_check_of_rendered_file_passes(tmp_path, capsys):
    out = tmp_path / "bundle.yaml"
    cli.main(["-q", "render", "--overlay", "cos,mlflow", "-o", str(out)])
    assert cli.main(["check", str(out)]) == 0
    assert "OK" in capsys.readouterr().out


def test_unknown_release_is_a_plain_error(capsys):
    assert cli.main(["render", "--release", "0.9"]) == 2
    err = capsys.readouterr().err
    assert "unknown release '0.9'" in err
    assert "Traceback" not in err


def test_arm64_refusal_lists_applications(capsys):
    assert cli.main(["render", "--arch", "arm64"]) == 2
    err = capsys.readouterr().err
    assert "cannot run on arm64" in err
    assert "istio-pilot" in err
    assert "--allow-partial" in err


def test_missing_bundle_file_is_a_plain_error(capsys, tmp_path):
    assert cli.main(["check", str(tmp_path / "nope.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_graph_writes_svg(tmp_path):
    out = tmp_path / "bundle.svg"
    assert cli.main(["-q", "graph", "--overlay", "mlflow", "-o", str(out)]) == 0
    assert out.read_text().startswith("<svg")
