"""Deploy the whole bundle to a real model and reach the dashboard through the gateway.

Needs a Juju controller on Kubernetes and packed charms in build/ (`tox -e pack`), or
`<CHARM>_CHARM_PATH` variables. Skips, saying what is missing, otherwise.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from kfbundle.render import render
from kfbundle.sources import load_sources

ROOT = Path(__file__).resolve().parents[2]


def gateway_address(model: str) -> str | None:
    """The istio ingress gateway's external address, from kubectl if available."""
    kubectl = shutil.which("kubectl") or shutil.which("microk8s.kubectl")
    if kubectl is None:
        return None
    proc = subprocess.run(
        [
            kubectl,
            "-n",
            model,
            "get",
            "svc",
            "istio-ingressgateway-workload",
            "-o",
            "jsonpath={.status.loadBalancer.ingress[0].ip}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.stdout.strip() or None


def test_bundle_deploys_and_dashboard_answers(juju, local_charms):
    sources = load_sources(ROOT)
    bundle = render(sources, "latest", local_charms=local_charms).bundle
    path = local_charms / "bundle.yaml"
    path.write_text(yaml.safe_dump(bundle, sort_keys=False))
    juju.deploy(path, trust=True)
    import jubilant

    juju.wait(jubilant.all_active, timeout=juju.wait_timeout, delay=10, successes=3)
    juju.wait(jubilant.all_agents_idle, timeout=600)

    address = gateway_address(juju.model)
    if address is None:
        pytest.skip("deployed and active; no kubectl or LoadBalancer address to reach the gateway")
    deadline = time.monotonic() + 300
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{address}/", timeout=10) as response:
                body = response.read().decode(errors="replace")
            # Unauthenticated requests land on Dex's login page (oidc-gatekeeper); both that
            # and the dashboard itself prove the gateway routes to the bundle.
            assert response.status == 200
            assert "Kubeflow" in body or "dex" in body.lower()
            return
        except (urllib.error.URLError, OSError) as err:
            last = err
            time.sleep(10)
    pytest.fail(f"the dashboard did not answer through the gateway at {address}: {last}")
