"""Webhook serving certificates: a private CA and a serving certificate in a Juju secret.

The leader creates a self-signed CA and a serving certificate for the webhook Service's DNS
names, stores them in an application-owned Juju secret (the only place the private key is
kept; the CA key is discarded once the serving certificate is signed) and rotates both when less
than ``margin_days`` of validity remain or the DNS names changed. The charm then pushes
``cert_pem``/``key_pem`` to its workload and puts ``ca_bundle_b64`` into the webhook
configurations' ``caBundle``. After a rotation the bundle also carries the previous CA until it
expires, so API-server calls keep verifying while the new certificate is rolled out.

The secret's expiry is set shortly after the rotation threshold, so Juju fires
``secret-expired`` on the leader when rotation is due: `WebhookCertificates` handles it by
rotating and removing the expired revision, and the charm should observe the same event to
reconcile (push the files, re-apply ``caBundle``). Obsolete revisions are removed on
``secret-remove``. Non-leader units read with `WebhookCertificates.get`; Juju does not notify
them of a new revision, so they pick it up on their next hook (a peer-relation write by the
leader, e.g. of ``not_after``, makes that immediate).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import logging
from collections.abc import Callable, Sequence

import ops
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

logger = logging.getLogger(__name__)

# Secret content keys (Juju: lowercase letters, digits and dashes).
_CA = "ca-cert"
_CERT = "tls-cert"
_KEY = "tls-key"
_PREVIOUS_CA = "previous-ca-cert"

# Backdate certificates against small clock skews between the unit and the API server.
_BACKDATE = datetime.timedelta(hours=1)
# Juju's secret-expired fires this long after the rotation threshold, so that `ensure` run
# from that hook is past the threshold despite clock differences.
_EXPIRY_GRACE = datetime.timedelta(hours=1)


def utcnow() -> datetime.datetime:
    """Current time, timezone-aware UTC."""
    return datetime.datetime.now(datetime.timezone.utc)


class CertificatesError(Exception):
    """Base class of the errors raised by `kfcharm.certs`."""


class CertificatesNotReadyError(CertificatesError):
    """The leader has not stored the certificates yet (Waiting)."""


@dataclasses.dataclass(frozen=True)
class CertificateBundle:
    """Webhook certificate material.

    Attributes:
        ca_pem: the current CA certificate (PEM).
        cert_pem: the serving certificate (PEM).
        key_pem: the serving key (PKCS#8 PEM). Push it to the workload; never log it.
        not_after: expiry of the serving certificate (aware UTC).
        ca_bundle_b64: base64 of the PEM CA bundle for ``caBundle`` fields: the current CA,
            then the previous one while it is valid.
        rotated: whether this call created new certificates.
    """

    ca_pem: str
    cert_pem: str
    key_pem: str = dataclasses.field(repr=False)
    not_after: datetime.datetime
    ca_bundle_b64: str
    rotated: bool = False


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def generate(
    dns_names: Sequence[str], *, now: datetime.datetime, validity: datetime.timedelta, ca_name: str
) -> tuple[str, str, str]:
    """Create a CA and a serving certificate signed by it.

    Args:
        dns_names: the serving certificate's SANs (the first is also its common name).
        now: issue time.
        validity: lifetime of both certificates.
        ca_name: CA common name.

    Returns:
        ``(ca_pem, cert_pem, key_pem)``.
    """
    not_before = now - _BACKDATE
    not_after = now + validity
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(ca_name))
        .issuer_name(_name(ca_name))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(dns_names[0]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return _pem(ca), _pem(cert), key_pem


def _dns_names(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return set()
    return set(san.value.get_values_for_type(x509.DNSName))


def _bundle_from_content(
    content: dict[str, str], now: datetime.datetime
) -> tuple[CertificateBundle, x509.Certificate] | None:
    """Parse the secret content; None when anything is missing or unreadable."""
    try:
        ca_pem, cert_pem, key_pem = content[_CA], content[_CERT], content[_KEY]
        x509.load_pem_x509_certificate(ca_pem.encode())
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
        serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (KeyError, ValueError, TypeError):
        return None
    bundle_pem = ca_pem
    previous = content.get(_PREVIOUS_CA)
    if previous:
        try:
            previous_ca = x509.load_pem_x509_certificate(previous.encode())
        except ValueError:
            previous_ca = None
        if previous_ca is not None and previous_ca.not_valid_after_utc > now:
            bundle_pem += previous
    bundle = CertificateBundle(
        ca_pem=ca_pem,
        cert_pem=cert_pem,
        key_pem=key_pem,
        not_after=cert.not_valid_after_utc,
        ca_bundle_b64=base64.b64encode(bundle_pem.encode()).decode(),
    )
    return bundle, cert


class WebhookCertificates(ops.Object):
    """Create, store, rotate and read webhook certificates.

    Args:
        charm: the charm.
        secret_label: label of the app-owned Juju secret holding the certificates.
        service_dns_names: SANs, e.g. ``["svc", "svc.ns", "svc.ns.svc",
            "svc.ns.svc.cluster.local"]``; the first is also the common name.
        margin_days: rotate when fewer days of validity remain.
        validity_days: lifetime of new certificates.
        now: clock (aware UTC); tests pass a frozen one. Without it the module's `utcnow`
            is looked up at each call, so tests may also patch `kfcharm.certs.utcnow`.

    Raises:
        ValueError: no DNS names, or ``validity_days <= margin_days``.
    """

    def __init__(
        self,
        charm: ops.CharmBase,
        secret_label: str = "webhook-certs",  # noqa: S107 - a secret's label, not a password
        service_dns_names: Sequence[str] = (),
        margin_days: int = 30,
        validity_days: int = 365,
        now: Callable[[], datetime.datetime] | None = None,
    ):
        super().__init__(charm, f"webhook-certificates-{secret_label}")
        if not service_dns_names:
            raise ValueError("service_dns_names must name at least one DNS name")
        if validity_days <= margin_days:
            raise ValueError("validity_days must be larger than margin_days")
        self._charm = charm
        self._label = secret_label
        self._dns_names = list(dict.fromkeys(service_dns_names))
        self._margin = datetime.timedelta(days=margin_days)
        self._validity = datetime.timedelta(days=validity_days)
        self._clock = now
        self.framework.observe(charm.on.secret_expired, self._on_secret_expired)
        self.framework.observe(charm.on.secret_remove, self._on_secret_remove)

    def _now(self) -> datetime.datetime:
        return self._clock() if self._clock is not None else utcnow()

    def _read(self) -> tuple[ops.Secret, dict[str, str]] | None:
        try:
            secret = self.model.get_secret(label=self._label)
            return secret, secret.get_content(refresh=True)
        except ops.SecretNotFoundError:
            return None

    def get(self) -> CertificateBundle | None:
        """Read the stored certificates (any unit); None if the leader has not stored them."""
        found = self._read()
        if found is None:
            return None
        parsed = _bundle_from_content(found[1], self._now())
        return parsed[0] if parsed else None

    def ensure(self) -> CertificateBundle:
        """Return valid certificates, creating or rotating them on the leader.

        On a non-leader this is `get` that raises when nothing is stored yet, so a charm can
        call ``ensure()`` on every unit.

        Returns:
            The bundle; ``rotated`` tells whether this call created it (re-apply ``caBundle``).

        Raises:
            CertificatesNotReadyError: non-leader, and the leader has not stored them yet.
        """
        if not self.model.unit.is_leader():
            bundle = self.get()
            if bundle is None:
                raise CertificatesNotReadyError(
                    f"webhook certificates ({self._label}) not created by the leader yet"
                )
            return bundle
        now = self._now()
        found = self._read()
        secret, content = found if found else (None, {})
        parsed = _bundle_from_content(content, now) if content else None
        reason = self._rotation_reason(parsed, now)
        if parsed is not None and reason is None:
            return parsed[0]

        ca_pem, cert_pem, key_pem = generate(
            self._dns_names,
            now=now,
            validity=self._validity,
            ca_name=f"{self.model.app.name}-webhook-ca",
        )
        new_content = {_CA: ca_pem, _CERT: cert_pem, _KEY: key_pem}
        if parsed is not None:
            new_content[_PREVIOUS_CA] = parsed[0].ca_pem
        not_after = now + self._validity
        expire = not_after - self._margin + _EXPIRY_GRACE
        if secret is None:
            self.model.app.add_secret(
                new_content,
                label=self._label,
                description=f"{self.model.app.name} webhook CA and serving certificate",
                expire=expire,
            )
        else:
            secret.set_content(new_content)
            secret.set_info(expire=expire)
        logger.info("webhook certificates %s: %s", "rotated" if secret else "created", reason)
        result = _bundle_from_content(new_content, now)
        if result is None:  # pragma: no cover - freshly generated material always parses
            raise CertificatesError("generated certificates could not be read back")
        return dataclasses.replace(result[0], rotated=True)

    def _rotation_reason(
        self, parsed: tuple[CertificateBundle, x509.Certificate] | None, now: datetime.datetime
    ) -> str | None:
        if parsed is None:
            return "no valid certificates stored"
        bundle, cert = parsed
        if bundle.not_after - now <= self._margin:
            return f"expires {bundle.not_after.isoformat()}, within the rotation margin"
        if cert.not_valid_before_utc > now:
            return "certificate not yet valid (clock moved back)"
        if _dns_names(cert) != set(self._dns_names):
            return "service DNS names changed"
        return None

    def _on_secret_expired(self, event: ops.SecretExpiredEvent) -> None:
        if event.secret.label != self._label or not self.model.unit.is_leader():
            return
        # Juju fires this until the expired revision is removed. The hook that rotates still
        # tracks that revision (the new one exists only once the hook commits), so it is
        # removed on the next firing, once it is no longer the current revision.
        if self.ensure().rotated:
            return
        if event.revision != event.secret.get_info().revision:
            event.remove_revision()

    def _on_secret_remove(self, event: ops.SecretRemoveEvent) -> None:
        if event.secret.label == self._label and self.model.unit.is_leader():
            event.remove_revision()
