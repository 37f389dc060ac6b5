"""MinIO workload logic, free of ops: config, credentials, TLS, topology and Pebble layer.

Everything here is a pure function of its inputs, so it is unit-tested without a charm.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import secrets
import string
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

CONTAINER = "minio"
SERVICE = "minio"
DATA_DIR = "/data"
CERTS_DIR = "/etc/minio/certs"
MINIO_BINARY = "/usr/bin/minio"
CURL_BINARY = "/usr/bin/curl"
DISTRIBUTED_MIN_UNITS = 4

ACCESS_KEY_MIN, ACCESS_KEY_MAX = 3, 20
SECRET_KEY_MIN, SECRET_KEY_MAX = 8, 40

_REGION_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
# Printable ASCII without whitespace: what MinIO accepts and what survives env and YAML.
_KEY_CHARS = frozenset(string.ascii_letters + string.digits + string.punctuation)
# Characters of generated keys: unambiguous and safe in URLs, shells and YAML.
_ACCESS_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits


class ConfigError(ValueError):
    """A config option has an invalid value."""

    def __init__(self, option: str, reason: str):
        self.option = option
        self.reason = reason
        super().__init__(f"config option '{option}' {reason}")


class SecretContentError(ValueError):
    """A Juju secret referenced by config has unusable content."""

    def __init__(self, option: str, reason: str):
        self.option = option
        self.reason = reason
        super().__init__(f"secret in '{option}' {reason}")


def _port(option: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(option, f"must be an integer, got {value!r}")
    if not 1024 <= value <= 65535:
        raise ConfigError(option, f"must be between 1024 and 65535, got {value}")
    return value


@dataclass(frozen=True)
class MinioConfig:
    """Validated charm config.

    Attributes:
        port: S3 API port.
        console_port: web console port.
        console: whether the console is served.
        region: S3 region reported to clients.
        root_credentials_secret: Juju secret ID with operator-supplied root credentials.
        tls_secret: Juju secret ID with TLS material.
    """

    port: int = 9000
    console_port: int = 9001
    console: bool = True
    region: str = "us-east-1"
    root_credentials_secret: str = ""
    tls_secret: str = ""

    def __post_init__(self) -> None:
        """Validate every option; raise ConfigError naming the first bad one."""
        _port("port", self.port)
        _port("console-port", self.console_port)
        if self.console_port == self.port:
            raise ConfigError("console-port", f"must differ from port ({self.port})")
        if not isinstance(self.console, bool):
            raise ConfigError("console", f"must be true or false, got {self.console!r}")
        if not isinstance(self.region, str) or not _REGION_RE.fullmatch(self.region):
            raise ConfigError(
                "region", "must be lowercase letters, digits and hyphens (e.g. us-east-1)"
            )
        for option, value in (
            ("root-credentials-secret", self.root_credentials_secret),
            ("tls-secret", self.tls_secret),
        ):
            if not isinstance(value, str):
                raise ConfigError(option, "must be a Juju secret ID")
            if value and not value.startswith("secret:"):
                raise ConfigError(option, "must be a Juju secret ID (secret:...)")

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> MinioConfig:
        """Build from Juju config (hyphenated option names); unknown options are ignored.

        Raises:
            ConfigError: an option has an invalid value.
        """
        known = {
            "port",
            "console-port",
            "console",
            "region",
            "root-credentials-secret",
            "tls-secret",
        }
        kwargs = {k.replace("-", "_"): v for k, v in options.items() if k in known}
        for key in ("root_credentials_secret", "tls_secret"):
            if kwargs.get(key) is None:
                kwargs[key] = ""
        return cls(**kwargs)


@dataclass(frozen=True)
class RootCredentials:
    """MinIO root user and password (MINIO_ROOT_USER / MINIO_ROOT_PASSWORD)."""

    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)

    def __repr__(self) -> str:
        return "RootCredentials(<redacted>)"

    @classmethod
    def generate(cls) -> RootCredentials:
        """New random credentials (20-character key id, 40-character secret)."""
        access = "".join(secrets.choice(_ACCESS_ALPHABET) for _ in range(ACCESS_KEY_MAX))
        secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_KEY_MAX))
        return cls(access, secret)

    @classmethod
    def from_content(
        cls, content: dict[str, str], option: str = "root-credentials-secret"
    ) -> RootCredentials:
        """Validate secret content with keys `access-key` and `secret-key`.

        Raises:
            SecretContentError: a key is missing or its value is unusable by MinIO.
        """
        access = content.get("access-key")
        secret = content.get("secret-key")
        if not isinstance(access, str) or not isinstance(secret, str):
            raise SecretContentError(option, "must have keys 'access-key' and 'secret-key'")
        if not ACCESS_KEY_MIN <= len(access) <= ACCESS_KEY_MAX:
            raise SecretContentError(
                option, f"'access-key' must be {ACCESS_KEY_MIN}-{ACCESS_KEY_MAX} characters"
            )
        if not SECRET_KEY_MIN <= len(secret) <= SECRET_KEY_MAX:
            raise SecretContentError(
                option, f"'secret-key' must be {SECRET_KEY_MIN}-{SECRET_KEY_MAX} characters"
            )
        if not set(access) <= _KEY_CHARS or not set(secret) <= _KEY_CHARS:
            raise SecretContentError(
                option, "keys must be printable ASCII without spaces or control characters"
            )
        return cls(access, secret)

    def content(self) -> dict[str, str]:
        """The Juju secret content form."""
        return {"access-key": self.access_key, "secret-key": self.secret_key}

    def fingerprint(self) -> str:
        """A short digest that changes when the credentials change (safe to publish)."""
        digest = hashlib.sha256(f"{self.access_key}\0{self.secret_key}".encode())
        return digest.hexdigest()[:16]


@dataclass(frozen=True)
class TlsMaterial:
    """Validated PEM certificate (chain), private key and optional CA."""

    certificate: str
    private_key: str = field(repr=False)
    ca_certificate: str = ""

    def __repr__(self) -> str:
        return "TlsMaterial(<redacted key>)"

    @classmethod
    def from_content(
        cls,
        content: dict[str, str],
        option: str = "tls-secret",
        now: datetime.datetime | None = None,
    ) -> TlsMaterial:
        """Parse and check secret content with `certificate`, `private-key`, `ca-certificate`.

        Checks: each PEM parses, the key matches the certificate, the certificate is within
        its validity period, and (when a CA is given) it was issued by that CA.

        Raises:
            SecretContentError: with the reason.
        """
        cert_pem = content.get("certificate")
        key_pem = content.get("private-key")
        ca_pem = content.get("ca-certificate", "") or ""
        if not isinstance(cert_pem, str) or not isinstance(key_pem, str):
            raise SecretContentError(option, "must have keys 'certificate' and 'private-key'")
        if not isinstance(ca_pem, str):
            raise SecretContentError(option, "'ca-certificate' must be PEM text")
        try:
            chain = x509.load_pem_x509_certificates(cert_pem.encode())
        except ValueError:
            raise SecretContentError(option, "'certificate' is not a PEM certificate") from None
        try:
            key = serialization.load_pem_private_key(key_pem.encode(), password=None)
        except (ValueError, TypeError):
            raise SecretContentError(
                option, "'private-key' is not an unencrypted PEM private key"
            ) from None
        if not isinstance(
            key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)
        ):
            raise SecretContentError(option, "'private-key' must be an RSA, ECDSA or Ed25519 key")
        leaf = chain[0]
        if _public_der(key.public_key()) != _public_der(leaf.public_key()):
            raise SecretContentError(option, "'private-key' does not match 'certificate'")
        moment = now or datetime.datetime.now(datetime.timezone.utc)
        if moment < leaf.not_valid_before_utc:
            raise SecretContentError(option, "'certificate' is not valid yet")
        if moment > leaf.not_valid_after_utc:
            raise SecretContentError(option, "'certificate' has expired")
        ca_pem = ca_pem.strip()
        if ca_pem:
            try:
                cas = x509.load_pem_x509_certificates(ca_pem.encode())
            except ValueError:
                raise SecretContentError(
                    option, "'ca-certificate' is not a PEM certificate"
                ) from None
            issuers = [*chain[1:], *cas]
            if not any(_issued_by(leaf, issuer) for issuer in issuers):
                raise SecretContentError(
                    option, "'certificate' was not issued by 'ca-certificate'"
                )
        ca_text = ca_pem + "\n" if ca_pem else ""
        return cls(cert_pem.strip() + "\n", key_pem.strip() + "\n", ca_text)

    def dns_names(self) -> list[str]:
        """DNS subject alternative names of the leaf certificate."""
        leaf = x509.load_pem_x509_certificates(self.certificate.encode())[0]
        try:
            ext = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except x509.ExtensionNotFound:
            return []
        return list(ext.value.get_values_for_type(x509.DNSName))


def _public_der(public_key: Any) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def service_host(app: str, model: str) -> str:
    """DNS name of the application's Kubernetes Service (created by Juju)."""
    return f"{app}.{model}.svc.cluster.local"


def unit_host(app: str, ordinal: int, model: str) -> str:
    """Stable DNS name of one unit's pod, through Juju's headless `<app>-endpoints` Service."""
    return f"{app}-{ordinal}.{app}-endpoints.{model}.svc.cluster.local"


@dataclass(frozen=True)
class Topology:
    """What this unit runs.

    Attributes:
        mode: `single` (one-node server), `distributed` (member of an erasure-coded pool)
            or `idle` (this unit must not run MinIO; `reason` says why).
        pool_size: number of nodes in the pool (0 when none is decided yet).
        reason: why the unit is idle, or a warning about the pool (empty when all is well).
        fatal: whether `reason` needs the operator (Blocked) rather than patience (Waiting).
    """

    mode: Literal["single", "distributed", "idle"]
    pool_size: int
    reason: str = ""
    fatal: bool = False


def choose_pool_size(planned_units: int) -> int | None:
    """The pool size a fresh deployment of this many units gets, or None if unsupported."""
    if planned_units == 1 or planned_units >= DISTRIBUTED_MIN_UNITS:
        return planned_units
    return None


def plan_topology(
    app: str, unit_ordinal: int, planned_units: int, recorded_pool: int | None
) -> Topology:
    """Decide what this unit runs.

    The pool size is recorded by the leader when first decided and then kept, because MinIO
    formats each drive for one erasure layout and cannot re-stripe existing data.

    Args:
        app: application name (for commands in messages).
        unit_ordinal: this unit's number (pod ordinal).
        planned_units: the number of units Juju plans for the application.
        recorded_pool: the pool size already in use, if any.

    Returns:
        The topology of this unit.
    """
    pool = recorded_pool or choose_pool_size(planned_units)
    if pool is None:
        return Topology(
            "idle",
            0,
            f"{planned_units} units: MinIO runs on 1 unit, or distributed on "
            f"{DISTRIBUTED_MIN_UNITS} or more: juju scale-application {app} "
            f"{DISTRIBUTED_MIN_UNITS} (or 1)",
            fatal=True,
        )
    if unit_ordinal >= pool:
        return Topology(
            "idle",
            pool,
            f"unit outside the {pool}-node MinIO pool: MinIO cannot re-stripe existing data; "
            f"juju scale-application {app} {pool}",
            fatal=True,
        )
    mode: Literal["single", "distributed"] = "single" if pool == 1 else "distributed"
    reason = ""
    if planned_units > pool:
        reason = (
            f"{planned_units} units but the data is laid out for {pool}: extra units stay "
            f"idle; juju scale-application {app} {pool}"
        )
    elif planned_units < pool:
        reason = (
            f"distributed pool of {pool} has {planned_units} units: "
            f"juju scale-application {app} {pool}"
        )
    return Topology(mode, pool, reason, fatal=bool(reason))


def server_command(
    topology: Topology, config: MinioConfig, app: str, model: str, tls: bool
) -> str:
    """The `minio server` command line (no credentials: those go through the environment)."""
    args = [
        MINIO_BINARY,
        "server",
        "--address",
        f":{config.port}",
        "--console-address",
        f":{config.console_port}",
    ]
    if tls:
        args += ["--certs-dir", CERTS_DIR]
    if topology.mode == "distributed":
        scheme = "https" if tls else "http"
        host = f"{app}-{{0...{topology.pool_size - 1}}}.{app}-endpoints.{model}.svc.cluster.local"
        args.append(f"{scheme}://{host}:{config.port}{DATA_DIR}")
    else:
        args.append(DATA_DIR)
    return " ".join(args)


def pebble_layer(
    topology: Topology,
    config: MinioConfig,
    credentials: RootCredentials,
    app: str,
    model: str,
    tls: bool,
    log_targets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The Pebble layer of the MinIO container.

    Credentials reach the server through the service environment, never the command line.
    Metrics are served without authentication (MINIO_PROMETHEUS_AUTH_TYPE=public): the
    alternative, a bearer token, would have to be published in the scrape job's relation
    data in plain text, while the metrics expose no object data and stay inside the cluster.
    """
    env = {
        "MINIO_ROOT_USER": credentials.access_key,
        "MINIO_ROOT_PASSWORD": credentials.secret_key,
        "MINIO_PROMETHEUS_AUTH_TYPE": "public",
        "MINIO_SITE_REGION": config.region,
        "MINIO_BROWSER": "on" if config.console else "off",
        "MINIO_UPDATE": "off",
    }
    if tls:
        # Health probes go over loopback, where the certificate's names need not match;
        # the server's identity is checked by the clients that use the service names.
        def probe(path: str) -> dict[str, Any]:
            url = f"https://127.0.0.1:{config.port}{path}"
            return {"exec": {"command": f"{CURL_BINARY} -fsSk --max-time 3 {url}"}}
    else:

        def probe(path: str) -> dict[str, Any]:
            return {"http": {"url": f"http://localhost:{config.port}{path}"}}

    layer: dict[str, Any] = {
        "summary": "MinIO object storage",
        "description": "Pebble layer of the MinIO server, managed by the minio charm",
        "services": {
            SERVICE: {
                "override": "replace",
                "summary": "MinIO server",
                "command": server_command(topology, config, app, model, tls),
                "startup": "enabled",
                "environment": env,
            }
        },
        "checks": {
            "minio-alive": {
                "override": "replace",
                "level": "alive",
                "period": "10s",
                "timeout": "5s",
                "threshold": 3,
                **probe("/minio/health/live"),
            },
            "minio-ready": {
                "override": "replace",
                "level": "ready",
                "period": "10s",
                "timeout": "5s",
                "threshold": 3,
                **probe("/minio/health/ready"),
            },
        },
    }
    if log_targets:
        layer["log-targets"] = log_targets
    return layer


def validate_bucket_name(name: Any) -> str:
    """Check an S3 bucket name (3-63 chars, lowercase, digits, dots, hyphens; not an IP).

    Raises:
        ValueError: with the reason.
    """
    if not isinstance(name, str) or not _BUCKET_RE.fullmatch(name):
        raise ValueError(
            "bucket names are 3-63 lowercase letters, digits, dots and hyphens, "
            "starting and ending with a letter or digit"
        )
    if ".." in name or _IPV4_RE.match(name):
        raise ValueError("bucket names may not contain '..' or look like an IP address")
    return name


def endpoint_url(app: str, model: str, port: int, tls: bool) -> str:
    """The in-cluster S3 endpoint URL of the application."""
    return f"{'https' if tls else 'http'}://{service_host(app, model)}:{port}"
