import subprocess
import sys

import pytest

from kfbundle import cli


def test_help_lists_deploy(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    assert "deploy" in capsys.readouterr().out


def test_console_script_help_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "kfbundle.cli", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert "kfbundle" in proc.stdout
