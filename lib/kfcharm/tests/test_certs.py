"""WebhookCertificates: creation, rotation with a frozen clock, SAN changes, non-leaders."""

from __future__ import annotations

import base64
import dataclasses
import datetime
from collections.abc import Callable
from typing import Any

import ops
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from kfcharm.certs import (
    CertificateBundle,
    CertificatesNotReadyError,
    WebhookCertificates,
    generate,
    utcnow,
)
from kfcharm.testing.leaks import find_leaks
from ops import testing
from ops.testing import Context, Secret, State

T0 = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
DNS = [
    "katib-controller",
    "katib-controller.kubeflow",
    "katib-controller.kubeflow.svc",
    "katib-controller.kubeflow.svc.cluster.local",
]
META = {"name": "katib"}


class Clock:
    """A frozen, movable clock."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, days: float) -> None:
        self.now = T0 + datetime.timedelta(days=days)


def charm_type(clock: Callable[[], datetime.datetime], dns: list[str]) -> type[ops.CharmBase]:
    class CertCharm(ops.CharmBase):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            self.certs = WebhookCertificates(
                self, secret_label="webhook-certs", service_dns_names=dns, now=clock
            )

    return CertCharm


@pytest.fixture
def clock() -> Clock:
    return Clock()


def ensure(ctx: Context[ops.CharmBase], state: State) -> tuple[CertificateBundle, State]:
    with ctx(ctx.on.update_status(), state) as mgr:
        bundle = mgr.charm.certs.ensure()  # type: ignore[attr-defined]
        out = mgr.run()
    return bundle, out


def secret_of(state: State) -> Secret:
    (secret,) = [s for s in state.secrets if s.label == "webhook-certs"]
    return secret


def latest(state: State) -> dict[str, str]:
    """Latest content of the certificates secret."""
    content: dict[str, str] = dict(secret_of(state).latest_content or {})
    return content


def test_leader_creates_ca_and_serving_certificate(clock: Clock) -> None:
    ctx = Context(charm_type(clock, DNS), meta=META)
    bundle, out = ensure(ctx, State(leader=True))

    assert bundle.rotated
    ca = x509.load_pem_x509_certificate(bundle.ca_pem.encode())
    cert = x509.load_pem_x509_certificate(bundle.cert_pem.encode())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == DNS
    cert.verify_directly_issued_by(ca)
    key = serialization.load_pem_private_key(bundle.key_pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()  # type: ignore[union-attr]
    assert bundle.not_after == T0 + datetime.timedelta(days=365)
    assert cert.not_valid_before_utc <= T0
    assert base64.b64decode(bundle.ca_bundle_b64).decode() == bundle.ca_pem

    secret = secret_of(out)
    assert secret.owner == "app"
    tracked: dict[str, str] = dict(secret.tracked_content)
    assert tracked["tls-key"] == bundle.key_pem
    assert secret.expire == T0 + datetime.timedelta(days=335, hours=1)
    # The private key is only in the secret: not logged, not in any databag.
    assert find_leaks(out, [bundle.key_pem.splitlines()[1]], ctx=ctx) == []
    assert "PRIVATE KEY" not in repr(bundle)


def test_no_rotation_31_days_before_expiry(clock: Clock) -> None:
    ctx = Context(charm_type(clock, DNS), meta=META)
    first, out = ensure(ctx, State(leader=True))
    clock.advance(365 - 31)
    again, out2 = ensure(ctx, out)
    assert not again.rotated
    assert again.cert_pem == first.cert_pem
    assert latest(out2) == latest(out)


def test_rotation_29_days_before_expiry_keeps_previous_ca_in_bundle(clock: Clock) -> None:
    ctx = Context(charm_type(clock, DNS), meta=META)
    first, out = ensure(ctx, State(leader=True))
    clock.advance(365 - 29)
    rotated, out2 = ensure(ctx, out)
    assert rotated.rotated
    assert rotated.cert_pem != first.cert_pem
    assert rotated.ca_pem != first.ca_pem
    assert rotated.not_after == clock.now + datetime.timedelta(days=365)
    assert base64.b64decode(rotated.ca_bundle_b64).decode() == rotated.ca_pem + first.ca_pem
    assert latest(out2)["tls-cert"] == rotated.cert_pem
    assert secret_of(out2).expire == clock.now + datetime.timedelta(days=335, hours=1)

    # Once the previous CA has expired it leaves the bundle.
    clock.advance(366)
    later, _ = ensure(ctx, out2)
    assert not later.rotated
    assert base64.b64decode(later.ca_bundle_b64).decode() == later.ca_pem


def test_dns_name_change_triggers_rotation(clock: Clock) -> None:
    _, out = ensure(Context(charm_type(clock, DNS), meta=META), State(leader=True))
    same_set = Context(charm_type(clock, list(reversed(DNS))), meta=META)
    assert not ensure(same_set, out)[0].rotated
    changed = Context(charm_type(clock, [*DNS, "katib-webhook.kubeflow.svc"]), meta=META)
    bundle, _ = ensure(changed, out)
    assert bundle.rotated
    cert = x509.load_pem_x509_certificate(bundle.cert_pem.encode())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "katib-webhook.kubeflow.svc" in san.get_values_for_type(x509.DNSName)


def test_clock_moved_back_triggers_rotation(clock: Clock) -> None:
    ctx = Context(charm_type(clock, DNS), meta=META)
    _, out = ensure(ctx, State(leader=True))
    clock.advance(-2)
    assert ensure(ctx, out)[0].rotated


def test_non_leader_reads_the_leaders_certificates(clock: Clock) -> None:
    ctx = Context(charm_type(clock, DNS), meta=META)
    bundle, out = ensure(ctx, State(leader=True))
    follower = State(leader=False, secrets=out.secrets)
    with ctx(ctx.on.update_status(), follower) as mgr:
        got = mgr.charm.certs.get()  # type: ignore[attr-defined]
        ensured = mgr.charm.certs.ensure()  # type: ignore[attr-defined]
        mgr.run()
    assert got == dataclass_without_rotated(bundle)
    assert ensured == got


def dataclass_without_rotated(bundle: CertificateBundle) -> CertificateBundle:
    return dataclasses.replace(bundle, rotated=False)


def test_non_leader_before_the_leader_is_not_ready(clock: Clock) -> None:
    ctx = Context(charm_type(clock, DNS), meta=META)
    with ctx(ctx.on.update_status(), State(leader=False)) as mgr:
        assert mgr.charm.certs.get() is None  # type: ignore[attr-defined]
        with pytest.raises(CertificatesNotReadyError, match="not created by the leader"):
            mgr.charm.certs.ensure()  # type: ignore[attr-defined]
        mgr.run()


@pytest.mark.parametrize(
    "content",
    [
        {"ca-cert": "garbage", "tls-cert": "garbage", "tls-key": "garbage"},
        {"tls-cert": "only"},
    ],
)
def test_malformed_secret_is_replaced_by_the_leader(clock: Clock, content: dict[str, str]) -> None:
    ctx = Context(charm_type(clock, DNS), meta=META)
    broken = Secret(content, label="webhook-certs", owner="app")
    with ctx(ctx.on.update_status(), State(leader=False, secrets={broken})) as mgr:
        assert mgr.charm.certs.get() is None  # type: ignore[attr-defined]
        mgr.run()
    bundle, out = ensure(ctx, State(leader=True, secrets={broken}))
    assert bundle.rotated
    assert "previous-ca-cert" not in latest(out)


def test_unreadable_previous_ca_is_ignored(clock: Clock) -> None:
    ctx = Context(charm_type(clock, DNS), meta=META)
    _, out = ensure(ctx, State(leader=True))
    content = {**latest(out), "previous-ca-cert": "garbage"}
    secret = Secret(content, label="webhook-certs", owner="app")
    bundle, _ = ensure(ctx, State(leader=True, secrets={secret}))
    assert not bundle.rotated
    assert base64.b64decode(bundle.ca_bundle_b64).decode() == bundle.ca_pem


def test_secret_expired_rotates_then_removes_the_expired_revision(clock: Clock) -> None:
    ctx = Context(charm_type(clock, DNS), meta=META)
    first, out = ensure(ctx, State(leader=True))
    clock.advance(335 + 1 / 24)  # Juju fires secret-expired at the secret's expiry
    secret = secret_of(out)
    expired = secret._latest_revision
    out2 = ctx.run(ctx.on.secret_expired(secret, revision=expired), out)
    assert latest(out2)["tls-cert"] != first.cert_pem
    assert ctx.removed_secret_revisions == []  # still tracked in the rotating hook
    # Juju fires again for the expired revision: now it is removed, nothing rotates.
    out3 = ctx.run(ctx.on.secret_expired(secret_of(out2), revision=expired), out2)
    assert ctx.removed_secret_revisions == [expired]
    assert latest(out3) == latest(out2)


def test_secret_expired_without_rotation_keeps_the_current_revision(clock: Clock) -> None:
    ctx = Context(charm_type(clock, DNS), meta=META)
    _, out = ensure(ctx, State(leader=True))
    secret = secret_of(out)
    # Fired early (clock skew): no rotation, and the live revision must not be removed.
    ctx.run(ctx.on.secret_expired(secret, revision=secret._latest_revision), out)
    assert ctx.removed_secret_revisions == []


def test_secret_events_for_other_secrets_are_ignored(clock: Clock) -> None:
    ctx = Context(charm_type(clock, DNS), meta=META)
    other = Secret({"password": "x"}, label="other", owner="app")
    state = State(leader=True, secrets={other})
    ctx.run(ctx.on.secret_expired(other, revision=1), state)
    ctx.run(ctx.on.secret_remove(other, revision=1), state)
    assert ctx.removed_secret_revisions == []


def test_secret_remove_removes_obsolete_revisions(clock: Clock) -> None:
    ctx = Context(charm_type(clock, DNS), meta=META)
    _, out = ensure(ctx, State(leader=True))
    clock.advance(340)
    _, out2 = ensure(ctx, out)
    secret = secret_of(out2)
    ctx.run(ctx.on.secret_remove(secret, revision=secret._latest_revision - 1), out2)
    assert ctx.removed_secret_revisions == [secret._latest_revision - 1]


def test_invalid_arguments() -> None:
    cases: list[dict[str, Any]] = [
        {"service_dns_names": []},
        {"service_dns_names": DNS, "margin_days": 400},
    ]
    for kwargs in cases:

        class Bad(ops.CharmBase):
            def __init__(self, framework: ops.Framework, kwargs: dict[str, Any] = kwargs):
                super().__init__(framework)
                WebhookCertificates(self, **kwargs)

        ctx = Context(Bad, meta=META)
        with pytest.raises(testing.errors.UncaughtCharmError) as info:
            ctx.run(ctx.on.start(), State())
        assert isinstance(info.value.__cause__, ValueError)


def test_generate_and_utcnow() -> None:
    now = utcnow()
    assert now.tzinfo is not None
    ca_pem, cert_pem, key_pem = generate(
        ["svc"], now=now, validity=datetime.timedelta(days=1), ca_name="ca"
    )
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_pem.encode()))
    assert cert.subject.rfc4514_string() == "CN=svc"
    assert key_pem.startswith("-----BEGIN PRIVATE KEY-----")
