"""Tests of the ops-free workload module: config validation, layers, manifests, storage."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import kserve as ks
import pytest
import yaml
from kfcharm.k8s import load_templates
from kfcharm.resources import resource_option_names

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "src" / "templates"
PEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----"


def test_default_options_match_charmcraft():
    options = yaml.safe_load((ROOT / "charmcraft.yaml").read_text())["config"]["options"]
    assert {k: v.get("default") for k, v in options.items()} == ks.DEFAULT_OPTIONS


def test_defaults_are_valid_and_serverless():
    config = ks.KServeConfig.from_options({})
    assert config.serverless
    assert config.images["sklearnserver"] == "kserve/sklearnserver:v0.15.2"


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"deployment-mode": "modelmesh"}, "deployment-mode"),
        ({"domain": "Not A Domain"}, "domain"),
        ({"domain-template": "{{ .Name }}.example.com"}, "domain-template"),
        ({"domain-template": "{{ .Name }-{{ .Namespace }}"}, "domain-template"),
        ({"url-scheme": "ftp"}, "url-scheme"),
        ({"http-proxy": "http://user:pass@proxy:3128"}, "http-proxy"),
        ({"https-proxy": "ftp://proxy"}, "https-proxy"),
        ({"https-proxy": "http://proxy:99999"}, "https-proxy"),
        ({"no-proxy": "a b"}, "no-proxy"),
        ({"custom-images": "[1, 2]"}, "custom-images"),
        ({"custom-images": "{nope: x/y:1}"}, "custom-images"),
        ({"custom-images": "{agent: 'bad image'}"}, "custom-images"),
        ({"custom-images": "{: :"}, "custom-images"),
        ({"disabled-serving-runtimes": "sklearnserver,bogus"}, "disabled-serving-runtimes"),
        ({"inferenceservice-cpu-request": "lots"}, "inferenceservice-cpu-request"),
        ({"inferenceservice-memory-request": "4Gi"}, "inferenceservice-memory-request"),
        ({"storage-initializer-cpu-limit": "0"}, "storage-initializer-cpu-limit"),
        ({"storage-initializer-memory-request": "-1"}, "storage-initializer-memory-request"),
        ({"https-proxy": "http://прокси:3128"}, "https-proxy"),
        ({"kserve-controller-cpu-request": "lots"}, "kserve-controller-cpu-request"),
        ({"kserve-controller-memory-request": "2Gi"}, "kserve-controller-memory-request"),
        ({"models-web-app-memory-limit": "1 Gi"}, "models-web-app-memory-limit"),
        (
            {"models-web-app-cpu-request": "2", "models-web-app-cpu-limit": "1"},
            "models-web-app-cpu-request",
        ),
        ({"storage-service-account": "Bad_Name"}, "storage-service-account"),
        ({"models-web-app": "yes"}, "models-web-app"),
    ],
)
def test_invalid_options_name_the_option(options, option):
    with pytest.raises(ks.ConfigError) as info:
        ks.KServeConfig.from_options(options)
    assert info.value.option == option
    assert option in str(info.value)


def test_proxy_credentials_are_not_echoed():
    with pytest.raises(ks.ConfigError) as info:
        ks.KServeConfig.from_options({"http-proxy": "http://me:hunter2@proxy:3128"})
    assert "hunter2" not in str(info.value)


def test_raw_and_standard_are_raw_deployment():
    assert (
        ks.KServeConfig.from_options({"deployment-mode": "raw"}).deployment_mode == "RawDeployment"
    )
    assert (
        ks.KServeConfig.from_options({"deployment-mode": "Standard"}).deployment_mode
        == "RawDeployment"
    )


def test_workload_container_resources_default_to_requests_and_memory_limits():
    config = ks.KServeConfig.from_options({})
    assert config.controller_resources.to_k8s() == {
        "requests": {"cpu": "100m", "memory": "200Mi"},
        "limits": {"memory": "1Gi"},
    }
    assert config.web_app_resources.to_k8s() == {
        "requests": {"cpu": "50m", "memory": "128Mi"},
        "limits": {"memory": "512Mi"},
    }


def test_workload_container_resources_may_be_unset():
    options = dict.fromkeys(resource_option_names("kserve-controller"), "")
    assert ks.KServeConfig.from_options(options).controller_resources.to_k8s() == {}


@pytest.mark.parametrize("prefix", ["inferenceservice", "storage-initializer"])
def test_pod_defaults_must_be_set(prefix):
    with pytest.raises(ks.ConfigError) as info:
        ks.KServeConfig.from_options({f"{prefix}-memory-limit": ""})
    assert info.value.option == f"{prefix}-memory-limit"
    assert "must be set" in str(info.value)


def test_runtimes_missing_on_the_architecture_are_disabled_unless_overridden():
    config = ks.KServeConfig.from_options({"custom-images": "{torchserve: reg.local/ts:1}"})
    context = ks.runtime_context(config, "s390x")
    assert "sklearnserver" in context.disabled
    assert "torchserve" not in context.disabled
    amd = ks.runtime_context(ks.KServeConfig.from_options({}), "amd64")
    assert amd.disabled == frozenset()


def test_explicitly_disabled_runtimes_accept_object_names():
    config = ks.KServeConfig.from_options(
        {"disabled-serving-runtimes": "kserve-tritonserver, mlserver"}
    )
    assert config.disabled_runtimes == {"tritonserver", "mlserver"}


def test_controller_layer_has_checks_and_namespace():
    layer = ks.controller_layer("kubeflow", {"t": {"override": "replace"}})
    service = layer["services"]["kserve-controller"]
    assert service["override"] == "replace"
    assert service["environment"] == {"POD_NAMESPACE": "kubeflow"}
    assert "--metrics-addr=:8080" in service["command"]
    assert {c["level"] for c in layer["checks"].values()} == {"ready", "alive"}
    assert layer["log-targets"] == {"t": {"override": "replace"}}


def test_web_app_layer_sets_prefix_and_cookie_security():
    config = ks.KServeConfig.from_options({"secure-cookies": True})
    layer = ks.web_app_layer(config, {})
    env = layer["services"]["models-web-app"]["environment"]
    assert env["APP_PREFIX"] == "/kserve-endpoints"
    assert env["APP_SECURE_COOKIES"] == "true"
    assert layer["services"]["models-web-app"]["working-dir"] == "/src"


def test_storage_from_s3_https_with_ca():
    chain = [base64.b64encode(PEM.encode()).decode()]
    storage = ks.storage_from_s3(
        access_key="a",
        secret_key="s",
        endpoint="https://s3.example.com:8443",
        region="eu-west-1",
        s3_uri_style="host",
        tls_ca_chain=chain,
    )
    assert storage.host == "s3.example.com:8443"
    assert storage.use_https
    assert storage.virtual_bucket
    assert storage.ca_bundle.startswith("-----BEGIN CERTIFICATE-----")
    secret = ks.storage_secret_manifest(storage, "sa", verify_tls=True)
    annotations = secret["metadata"]["annotations"]
    assert annotations["serving.kserve.io/s3-endpoint"] == "s3.example.com:8443"
    assert annotations["serving.kserve.io/s3-usehttps"] == "1"
    assert annotations["serving.kserve.io/s3-verifyssl"] == "1"
    assert annotations["serving.kserve.io/s3-region"] == "eu-west-1"
    assert annotations["serving.kserve.io/s3-usevirtualbucket"] == "1"
    assert annotations["serving.kserve.io/s3-cabundle"] == "/etc/ssl/custom-certs/cabundle.crt"
    assert secret["stringData"] == {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s"}
    assert "namespace" not in secret["metadata"]


def test_storage_without_verification_drops_the_ca_annotation():
    storage = ks.storage_from_s3(
        access_key="a",
        secret_key="s",
        endpoint="https://h",
        region=None,
        s3_uri_style=None,
        tls_ca_chain=[PEM],
    )
    annotations = ks.storage_secret_manifest(storage, "sa", verify_tls=False)["metadata"][
        "annotations"
    ]
    assert annotations["serving.kserve.io/s3-verifyssl"] == "0"
    assert "serving.kserve.io/s3-cabundle" not in annotations
    assert annotations["serving.kserve.io/s3-region"] == "us-east-1"


def test_plain_http_storage_sends_no_tls_annotations():
    storage = ks.storage_from_object_storage(
        access_key="a", secret_key="s", host="minio.kubeflow", port=9000, secure=False
    )
    annotations = ks.storage_secret_manifest(storage, "sa", verify_tls=True)["metadata"][
        "annotations"
    ]
    assert annotations["serving.kserve.io/s3-usehttps"] == "0"
    assert "serving.kserve.io/s3-verifyssl" not in annotations
    assert annotations["serving.kserve.io/s3-endpoint"] == "minio.kubeflow:9000"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"endpoint": "minio:9000"}, "endpoint"),
        ({"endpoint": "http://u:p@minio:9000"}, "endpoint"),
        ({"endpoint": "http://minio:port"}, "endpoint"),
        ({"region": "EU WEST"}, "region"),
        ({"tls_ca_chain": ["not a cert"], "endpoint": "https://h"}, "tls-ca-chain"),
    ],
)
def test_bad_s3_data_names_the_field(kwargs, field):
    args = {
        "access_key": "a",
        "secret_key": "s",
        "endpoint": None,
        "region": None,
        "s3_uri_style": None,
        "tls_ca_chain": None,
        **kwargs,
    }
    with pytest.raises(ks.StorageDataError) as info:
        ks.storage_from_s3(**args)
    assert info.value.field == field


def test_service_account_references_its_secret():
    sa = ks.storage_service_account_manifest("kserve-controller-s3")
    assert sa["secrets"] == [{"name": "kserve-controller-s3"}]
    assert sa["kind"] == "ServiceAccount"
    assert "namespace" not in sa["metadata"]


def test_inferenceservice_config_is_json_per_key_with_gateways_and_resources():
    config = ks.KServeConfig.from_options(
        {
            "deployment-mode": "raw",
            "domain": "models.example.org",
            "inferenceservice-cpu-limit": "2",
        }
    )
    gateways = ks.Gateways("istio/gw", "istio", "knative-serving/local")
    data = ks.inferenceservice_config(config, "kubeflow", gateways, "kserve-s3-ca-bundle")
    parsed = {key: json.loads(value) for key, value in data.items()}
    assert parsed["deploy"] == {"defaultDeploymentMode": "RawDeployment"}
    assert parsed["ingress"]["ingressGateway"] == "istio/gw"
    assert parsed["ingress"]["localGateway"] == "knative-serving/local"
    assert (
        parsed["ingress"]["localGatewayService"] == "knative-local-gateway.istio.svc.cluster.local"
    )
    assert parsed["ingress"]["ingressDomain"] == "models.example.org"
    assert parsed["inferenceService"]["resource"]["cpuLimit"] == "2"
    assert parsed["storageInitializer"]["caBundleConfigMapName"] == "kserve-s3-ca-bundle"
    assert parsed["explainers"]["art"] == {
        "image": "kserve/art-explainer",
        "defaultImageVersion": "latest",
    }
    assert set(parsed) >= {"agent", "batcher", "credentials", "logger", "router", "security"}


def test_templates_render_every_object_of_the_release():
    config = ks.KServeConfig.from_options({"http-proxy": "http://proxy:3128"})
    context = ks.main_context(
        app="kserve",
        namespace="kubeflow",
        config=config,
        gateways=ks.Gateways(),
        ca_bundle_b64="Q0E=",
        storage=None,
    )
    main = load_templates(TEMPLATES, context)
    kinds = sorted(type(o).__name__ for o in main)
    assert kinds.count("ValidatingWebhookConfiguration") == 6
    assert kinds.count("MutatingWebhookConfiguration") == 1
    assert kinds.count("ClusterRole") == 3
    crds = load_templates(TEMPLATES / "crds", {})
    assert len(crds) == 9
    runtimes = load_templates(TEMPLATES / "runtimes", ks.runtime_context(config, "amd64"))
    names = {o.metadata.name for o in runtimes}
    assert names == {*ks.RUNTIMES.values(), "default"}
    storage = next(o for o in runtimes if o.metadata.name == "default")
    assert {"name": "HTTP_PROXY", "value": "http://proxy:3128"} in storage.spec["container"]["env"]
    sklearn = next(o for o in runtimes if o.metadata.name == "kserve-sklearnserver")
    assert "--model_name={{.Name}}" in sklearn.spec["containers"][0]["args"]


# Inputs found by adversarial fuzzing that used to raise out of from_options/storage_from_s3
# (ValueError from urlsplit/parse_quantity, RecursionError from PyYAML) instead of naming
# the option.
@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("http-proxy", "["),
        ("http-proxy", "http://[::1"),
        ("https-proxy", "[x]"),
        ("https-proxy", "http://[not-an-ip]:3128"),
        ("inferenceservice-cpu-request", "1e999999999"),
        ("storage-initializer-memory-limit", "9" * 5000),
        ("custom-images", "[" * 5000),
        ("custom-images", "{" * 5000),
    ],
)
def test_hostile_options_become_config_errors(option, value):
    with pytest.raises(ks.ConfigError) as excinfo:
        ks.KServeConfig.from_options({option: value})
    assert excinfo.value.option == option


@pytest.mark.parametrize("endpoint", ["http://[", "http://[::1", "https://[x]:9000"])
def test_unparsable_s3_endpoint_is_a_storage_error(endpoint):
    with pytest.raises(ks.StorageDataError) as excinfo:
        ks.storage_from_s3(
            access_key="a",
            secret_key="b",
            endpoint=endpoint,
            region=None,
            s3_uri_style=None,
            tls_ca_chain=None,
        )
    assert excinfo.value.field == "endpoint"


def test_trailing_newlines_do_not_slip_into_annotations():
    # `$` matches before a final newline: the region and host checks must use fullmatch.
    with pytest.raises(ks.StorageDataError, match="region"):
        ks.storage_from_s3(
            access_key="a",
            secret_key="b",
            endpoint=None,
            region="us-east-1\n",
            s3_uri_style=None,
            tls_ca_chain=None,
        )
    with pytest.raises(ks.StorageDataError, match="service"):
        ks.storage_from_object_storage(
            access_key="a", secret_key="b", host="minio\n", port=9000, secure=False
        )
