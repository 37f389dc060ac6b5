"""A minimal S3 client: AWS Signature Version 4 signing and bucket creation.

Standard library only (hmac, hashlib, http.client), so the charm carries no S3 SDK.
The signing follows the published SigV4 algorithm and is tested against AWS's example values.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.client
import re
import ssl
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_UNRESERVED = "-_.~"
_SPACES = re.compile(r"\s+")
_CODE_RE = re.compile(r"<Code>([^<]{1,128})</Code>")


class S3Error(Exception):
    """The S3 server refused a request.

    Attributes:
        status: HTTP status code.
        code: S3 error code (e.g. `AccessDenied`), or "" when the body had none.
    """

    def __init__(self, status: int, code: str):
        self.status = status
        self.code = code
        super().__init__(f"S3 request failed: HTTP {status} {code}".strip())


class S3ConnectionError(Exception):
    """The S3 server could not be reached (transient: retry later)."""


def _quote(value: str, safe: str = "") -> str:
    return urllib.parse.quote(value, safe=_UNRESERVED + safe)


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """Derive the SigV4 signing key for a date (YYYYMMDD), region and service."""
    k_date = _hmac(f"AWS4{secret_key}".encode(), date)
    k_region = _hmac(k_date, region)
    k_service = _hmac(k_region, service)
    return _hmac(k_service, "aws4_request")


def canonical_query(query: str) -> str:
    """Canonical query string: each name and value URI-encoded, sorted by name then value."""
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    encoded = sorted((_quote(k), _quote(v)) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    payload_hash: str,
    double_encode: bool = False,
) -> tuple[str, str]:
    """Build the canonical request and the signed-headers list.

    Args:
        method: HTTP method.
        path: request path, not yet encoded.
        query: raw query string (without `?`).
        headers: every header to sign (names in any case).
        payload_hash: hex SHA-256 of the body.
        double_encode: encode the path twice (every service but S3).

    Returns:
        (canonical request, signed headers).
    """
    canonical_path = _quote(path or "/", safe="/")
    if double_encode:
        canonical_path = _quote(canonical_path, safe="/")
    normalized = {
        name.lower().strip(): _SPACES.sub(" ", value.strip()) for name, value in headers.items()
    }
    names = sorted(normalized)
    canonical_headers = "".join(f"{n}:{normalized[n]}\n" for n in names)
    signed = ";".join(names)
    request = "\n".join(
        [method.upper(), canonical_path, canonical_query(query), canonical_headers, signed]
    )
    return f"{request}\n{payload_hash}", signed


def sign(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    payload_hash: str,
    access_key: str,
    secret_key: str,
    region: str,
    service: str,
    amz_date: str,
    double_encode: bool = False,
) -> str:
    """Return the `Authorization` header value for a request.

    `headers` must already contain `host` and `x-amz-date` (= `amz_date`, `YYYYMMDDTHHMMSSZ`).
    """
    request, signed = canonical_request(method, path, query, headers, payload_hash, double_encode)
    date = amz_date[:8]
    scope = f"{date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [ALGORITHM, amz_date, scope, hashlib.sha256(request.encode()).hexdigest()]
    )
    key = signing_key(secret_key, date, region, service)
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"{ALGORITHM} Credential={access_key}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}"
    )


@dataclass
class S3Client:
    """Signed path-style requests to one S3 endpoint.

    Attributes:
        host: address to connect to.
        port: TCP port.
        access_key: access key id.
        secret_key: secret access key.
        region: signing region.
        tls: use HTTPS.
        ca_pem: CA to verify the server with (HTTPS); the system store when empty.
        verify_hostname: check the certificate's names (off for loopback connections).
        timeout: seconds per request.
    """

    host: str
    port: int
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    region: str = "us-east-1"
    tls: bool = False
    ca_pem: str = ""
    verify_hostname: bool = True
    timeout: float = 10.0

    def _connection(self) -> http.client.HTTPConnection:
        if not self.tls:
            return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        context = ssl.create_default_context(cadata=self.ca_pem or None)
        context.check_hostname = self.verify_hostname
        return http.client.HTTPSConnection(
            self.host, self.port, timeout=self.timeout, context=context
        )

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        now: datetime.datetime | None = None,
    ) -> tuple[int, bytes]:
        """Send one signed request; return (status, body).

        Raises:
            S3ConnectionError: the server could not be reached.
        """
        moment = now or datetime.datetime.now(datetime.timezone.utc)
        amz_date = moment.strftime("%Y%m%dT%H%M%SZ")
        payload_hash = hashlib.sha256(body).hexdigest()
        default_port = 443 if self.tls else 80
        host = self.host if self.port == default_port else f"{self.host}:{self.port}"
        headers = {
            "host": host,
            "x-amz-content-sha256": payload_hash,
            "x-amz-date": amz_date,
        }
        headers["authorization"] = sign(
            method,
            path,
            "",
            headers,
            payload_hash,
            self.access_key,
            self.secret_key,
            self.region,
            "s3",
            amz_date,
        )
        connection = self._connection()
        try:
            connection.request(method, _quote(path, safe="/"), body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read(65536)
        except (OSError, http.client.HTTPException) as e:
            raise S3ConnectionError(f"{self.host}:{self.port}: {type(e).__name__}") from None
        finally:
            connection.close()

    def ensure_bucket(self, bucket: str) -> bool:
        """Create a bucket unless this account already owns it.

        Returns:
            True when created, False when it already existed.

        Raises:
            S3Error: the server refused (e.g. the name is taken by another account).
            S3ConnectionError: the server could not be reached.
        """
        status, body = self.request("PUT", f"/{bucket}")
        if 200 <= status < 300:
            return True
        match = _CODE_RE.search(body.decode("utf-8", "replace"))
        code = match.group(1) if match else ""
        if status == 409 and code == "BucketAlreadyOwnedByYou":
            return False
        raise S3Error(status, code)
