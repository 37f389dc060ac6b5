"""Ops-free workload logic: config, credentials, TLS validation, topology, Pebble layer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from minio_server import (
    ConfigError,
    MinioConfig,
    RootCredentials,
    SecretContentError,
    TlsMaterial,
    Topology,
    endpoint_url,
    pebble_layer,
    plan_topology,
    server_command,
    unit_host,
    validate_bucket_name,
)
from tls_fixtures import make_pki

CREDS = RootCredentials("ROOTUSER", "root-password-123")


# --- config -----------------------------------------------------------------------------


def test_defaults_are_valid():
    config = MinioConfig.from_options({"port": 9000, "console-port": 9001})
    assert (config.port, config.console_port, config.region) == (9000, 9001, "us-east-1")
    assert config.root_credentials_secret == ""


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"port": 80}, "port"),
        ({"port": 70000}, "port"),
        ({"port": "9000"}, "port"),
        ({"port": True}, "port"),
        ({"console-port": 9000}, "console-port"),
        ({"region": "US East"}, "region"),
        ({"region": ""}, "region"),
        ({"root-credentials-secret": "not-a-secret"}, "root-credentials-secret"),
        ({"tls-secret": "abc"}, "tls-secret"),
        ({"console": "yes"}, "console"),
    ],
)
def test_invalid_option_is_named(options, option):
    with pytest.raises(ConfigError) as err:
        MinioConfig.from_options(options)
    assert err.value.option == option
    assert option in str(err.value)


def test_unknown_options_are_ignored():
    assert MinioConfig.from_options({"something-else": 1}).port == 9000


@given(
    st.dictionaries(
        st.sampled_from(["port", "console-port", "console", "region", "tls-secret"]),
        st.one_of(st.integers(), st.text(max_size=20), st.booleans(), st.none()),
    )
)
def test_random_config_validates_or_raises_config_error(options):
    config: MinioConfig | None = None
    error: ConfigError | None = None
    try:
        config = MinioConfig.from_options(options)
    except ConfigError as e:
        error = e
    if error is not None:
        assert error.option in {"port", "console-port", "console", "region", "tls-secret"}
    else:
        assert config is not None
        assert 1024 <= config.port <= 65535
        assert config.port != config.console_port


# --- credentials -------------------------------------------------------------------------


def test_generated_credentials_are_random_and_valid():
    one, two = RootCredentials.generate(), RootCredentials.generate()
    assert one != two
    assert RootCredentials.from_content(one.content()) == one
    assert len(one.access_key) == 20
    assert len(one.secret_key) == 40


def test_repr_hides_credentials():
    creds = RootCredentials.generate()
    assert creds.secret_key not in repr(creds)
    assert creds.access_key not in repr(creds)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ({}, "'access-key' and 'secret-key'"),
        ({"access-key": "ab", "secret-key": "12345678"}, "'access-key' must be 3-20"),
        ({"access-key": "abc", "secret-key": "1234567"}, "'secret-key' must be 8-40"),
        ({"access-key": "abc", "secret-key": "x" * 41}, "'secret-key' must be 8-40"),
        ({"access-key": "a c", "secret-key": "12345678"}, "printable ASCII"),
    ],
)
def test_bad_credentials_content_is_explained(content, needle):
    with pytest.raises(SecretContentError) as err:
        RootCredentials.from_content(content)
    assert needle in str(err.value)
    assert err.value.option == "root-credentials-secret"


def test_fingerprint_changes_with_credentials_and_hides_them():
    a = RootCredentials("abc", "12345678")
    b = RootCredentials("abc", "12345679")
    assert a.fingerprint() != b.fingerprint()
    assert a.fingerprint() == RootCredentials("abc", "12345678").fingerprint()
    assert "12345678" not in a.fingerprint()


# --- TLS ---------------------------------------------------------------------------------


def test_valid_tls_material_is_accepted():
    pki = make_pki(("minio.m.svc.cluster.local", "minio-0.minio-endpoints.m.svc.cluster.local"))
    tls = TlsMaterial.from_content(
        {"certificate": pki.cert_pem, "private-key": pki.key_pem, "ca-certificate": pki.ca_pem}
    )
    assert tls.dns_names() == [
        "minio.m.svc.cluster.local",
        "minio-0.minio-endpoints.m.svc.cluster.local",
    ]
    assert tls.ca_certificate.startswith("-----BEGIN CERTIFICATE-----")
    assert pki.key_pem.strip() not in repr(tls)


def test_tls_without_ca_is_accepted():
    pki = make_pki()
    tls = TlsMaterial.from_content({"certificate": pki.cert_pem, "private-key": pki.key_pem})
    assert tls.ca_certificate == ""


def test_tls_errors_are_explained():
    pki, other = make_pki(), make_pki()
    cases = [
        ({"certificate": pki.cert_pem}, "'certificate' and 'private-key'"),
        ({"certificate": "junk", "private-key": pki.key_pem}, "not a PEM certificate"),
        ({"certificate": pki.cert_pem, "private-key": "junk"}, "not an unencrypted PEM"),
        ({"certificate": pki.cert_pem, "private-key": pki.other_key_pem}, "does not match"),
        (
            {
                "certificate": pki.cert_pem,
                "private-key": pki.key_pem,
                "ca-certificate": other.ca_pem,
            },
            "not issued by",
        ),
        (
            {"certificate": pki.cert_pem, "private-key": pki.key_pem, "ca-certificate": "junk"},
            "'ca-certificate' is not a PEM",
        ),
    ]
    for content, needle in cases:
        with pytest.raises(SecretContentError) as err:
            TlsMaterial.from_content(content)
        assert needle in str(err.value), content.keys()


def test_expired_and_future_certificates_are_refused():
    expired = make_pki(days=1, not_before_days=-10)
    future = make_pki(days=10, not_before_days=5)
    for pki, needle in ((expired, "expired"), (future, "not valid yet")):
        with pytest.raises(SecretContentError, match=needle):
            TlsMaterial.from_content({"certificate": pki.cert_pem, "private-key": pki.key_pem})


# --- topology ----------------------------------------------------------------------------


def test_one_unit_runs_single_node():
    topo = plan_topology("minio", 0, 1, None)
    assert topo == Topology("single", 1)


@pytest.mark.parametrize("units", [4, 5, 8])
def test_four_or_more_units_run_distributed(units):
    for ordinal in range(units):
        topo = plan_topology("minio", ordinal, units, None)
        assert (topo.mode, topo.pool_size, topo.reason) == ("distributed", units, "")


@pytest.mark.parametrize("units", [2, 3])
def test_two_or_three_units_say_why(units):
    topo = plan_topology("minio", 0, units, None)
    assert topo.mode == "idle"
    assert topo.fatal
    assert f"{units} units" in topo.reason
    assert "juju scale-application minio 4" in topo.reason


def test_recorded_pool_is_kept_when_scaling_out():
    member = plan_topology("minio", 0, 4, recorded_pool=1)
    extra = plan_topology("minio", 2, 4, recorded_pool=1)
    assert member.mode == "single"
    assert "laid out for 1" in member.reason
    assert extra.mode == "idle"
    assert "juju scale-application minio 1" in extra.reason


def test_shrunk_distributed_pool_keeps_running_and_warns():
    topo = plan_topology("minio", 1, 3, recorded_pool=4)
    assert topo.mode == "distributed"
    assert "pool of 4 has 3 units" in topo.reason


# --- command and layer -------------------------------------------------------------------


def test_single_node_command():
    config = MinioConfig()
    cmd = server_command(Topology("single", 1), config, "minio", "kubeflow", tls=False)
    assert cmd == "/usr/bin/minio server --address :9000 --console-address :9001 /data"


def test_distributed_command_uses_stable_unit_names():
    config = MinioConfig(port=9100, console_port=9101)
    cmd = server_command(Topology("distributed", 4), config, "s3", "kf", tls=True)
    assert cmd.endswith(
        "--certs-dir /etc/minio/certs https://s3-{0...3}.s3-endpoints.kf.svc.cluster.local:9100/data"
    )
    assert unit_host("s3", 3, "kf") == "s3-3.s3-endpoints.kf.svc.cluster.local"


def test_layer_carries_credentials_in_environment_only():
    layer = pebble_layer(Topology("single", 1), MinioConfig(), CREDS, "minio", "kf", tls=False)
    service = layer["services"]["minio"]
    assert service["override"] == "replace"
    assert service["environment"]["MINIO_ROOT_USER"] == "ROOTUSER"
    assert service["environment"]["MINIO_ROOT_PASSWORD"] == "root-password-123"
    assert service["environment"]["MINIO_PROMETHEUS_AUTH_TYPE"] == "public"
    assert "root-password-123" not in service["command"]
    assert (
        layer["checks"]["minio-alive"]["http"]["url"] == "http://localhost:9000/minio/health/live"
    )
    assert layer["checks"]["minio-ready"]["level"] == "ready"
    assert "log-targets" not in layer


def test_tls_layer_probes_over_https_and_adds_log_targets():
    targets = {"loki-0": {"override": "replace", "type": "loki", "location": "http://l/x"}}
    layer = pebble_layer(
        Topology("single", 1), MinioConfig(console=False), CREDS, "minio", "kf", True, targets
    )
    ready = layer["checks"]["minio-ready"]["exec"]["command"]
    assert ready.startswith("/usr/bin/curl ")
    assert ready.endswith("https://127.0.0.1:9000/minio/health/ready")
    assert layer["services"]["minio"]["environment"]["MINIO_BROWSER"] == "off"
    assert layer["log-targets"] == targets


def test_endpoint_url():
    assert endpoint_url("minio", "kf", 9000, False) == "http://minio.kf.svc.cluster.local:9000"
    assert endpoint_url("minio", "kf", 443, True) == "https://minio.kf.svc.cluster.local:443"


@pytest.mark.parametrize("name", ["mlpipeline", "mlflow", "a.b-c", "abc"])
def test_valid_bucket_names(name):
    assert validate_bucket_name(name) == name


@pytest.mark.parametrize(
    "name", ["ab", "UPPER", "a..b", "192.168.1.1", "-abc", "abc-", "x" * 64, 5, None]
)
def test_invalid_bucket_names(name):
    with pytest.raises(ValueError, match="bucket names"):
        validate_bucket_name(name)


def test_region_and_bucket_with_trailing_newline_are_rejected():
    # `re.match(...$)` accepts a trailing newline.
    with pytest.raises(ConfigError) as err:
        MinioConfig.from_options({"region": "us-east-1\n"})
    assert err.value.option == "region"
    with pytest.raises(ValueError, match="bucket names are"):
        validate_bucket_name("models\n")
