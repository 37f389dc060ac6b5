"""SigV4 signing against AWS's published example values, and the bucket client."""

from __future__ import annotations

import datetime
import hashlib
import http.server
import threading
from collections.abc import Iterator

import pytest
from s3_client import (
    EMPTY_SHA256,
    S3Client,
    S3ConnectionError,
    S3Error,
    canonical_request,
    sign,
    signing_key,
)

EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
S3_EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_signing_key_matches_aws_example():
    # AWS documentation: "Examples of how to derive a signing key for Signature Version 4".
    key = signing_key(EXAMPLE_SECRET, "20150830", "us-east-1", "iam")
    assert key.hex() == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"


def test_get_vanilla_from_the_sigv4_test_suite():
    headers = {"Host": "example.amazonaws.com", "X-Amz-Date": "20150830T123600Z"}
    auth = sign(
        "GET",
        "/",
        "",
        headers,
        EMPTY_SHA256,
        "AKIDEXAMPLE",
        EXAMPLE_SECRET,
        "us-east-1",
        "service",
        "20150830T123600Z",
        double_encode=True,
    )
    assert auth == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )


def test_iam_list_users_example():
    headers = {
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "Host": "iam.amazonaws.com",
        "X-Amz-Date": "20150830T123600Z",
    }
    request, signed = canonical_request(
        "GET", "/", "Action=ListUsers&Version=2010-05-08", headers, EMPTY_SHA256, True
    )
    assert signed == "content-type;host;x-amz-date"
    assert (
        hashlib.sha256(request.encode()).hexdigest()
        == "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
    )
    auth = sign(
        "GET",
        "/",
        "Version=2010-05-08&Action=ListUsers",  # order must not matter
        headers,
        EMPTY_SHA256,
        "AKIDEXAMPLE",
        EXAMPLE_SECRET,
        "us-east-1",
        "iam",
        "20150830T123600Z",
        double_encode=True,
    )
    assert auth.endswith(
        "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    )


def test_s3_get_object_example():
    # Amazon S3 API reference, "Signature calculation: GET object" example.
    headers = {
        "Host": "examplebucket.s3.amazonaws.com",
        "Range": "bytes=0-9",
        "x-amz-content-sha256": EMPTY_SHA256,
        "x-amz-date": "20130524T000000Z",
    }
    auth = sign(
        "GET",
        "/test.txt",
        "",
        headers,
        EMPTY_SHA256,
        "AKIAIOSFODNN7EXAMPLE",
        S3_EXAMPLE_SECRET,
        "us-east-1",
        "s3",
        "20130524T000000Z",
    )
    assert auth == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_s3_put_object_example_encodes_path():
    body = b"Welcome to Amazon S3."
    payload = hashlib.sha256(body).hexdigest()
    assert payload == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
    headers = {
        "Date": "Fri, 24 May 2013 00:00:00 GMT",
        "Host": "examplebucket.s3.amazonaws.com",
        "x-amz-content-sha256": payload,
        "x-amz-date": "20130524T000000Z",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
    }
    auth = sign(
        "PUT",
        "/test$file.text",
        "",
        headers,
        payload,
        "AKIAIOSFODNN7EXAMPLE",
        S3_EXAMPLE_SECRET,
        "us-east-1",
        "s3",
        "20130524T000000Z",
    )
    assert auth.endswith(
        "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
    )


def test_a_changed_secret_changes_the_signature():
    headers = {"Host": "h", "X-Amz-Date": "20150830T123600Z"}
    args = ("GET", "/", "", headers, EMPTY_SHA256, "AK")
    one = sign(*args, "secret-one", "us-east-1", "s3", "20150830T123600Z")
    two = sign(*args, "secret-two", "us-east-1", "s3", "20150830T123600Z")
    assert one != two


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers PUT /<bucket> like MinIO and records what it got."""

    existing: set[str] = set()
    requests: list[tuple[str, str, dict[str, str]]] = []

    def do_PUT(self):
        bucket = self.path.strip("/")
        self.requests.append(("PUT", self.path, {k.lower(): v for k, v in self.headers.items()}))
        if bucket == "forbidden":
            self._reply(403, "AccessDenied")
        elif bucket in self.existing:
            self._reply(409, "BucketAlreadyOwnedByYou")
        else:
            self.existing.add(bucket)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def _reply(self, status: int, code: str) -> None:
        body = f"<Error><Code>{code}</Code><Message>m</Message></Error>".encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        return


@pytest.fixture
def s3_server() -> Iterator[tuple[str, int]]:
    _Recorder.existing = set()
    _Recorder.requests = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "127.0.0.1", server.server_address[1]
    server.shutdown()
    server.server_close()


def test_ensure_bucket_creates_then_reports_existing(s3_server):
    host, port = s3_server
    client = S3Client(host, port, "AKEXAMPLE", "secret-key-123", region="eu-west-1")
    assert client.ensure_bucket("mlflow") is True
    assert client.ensure_bucket("mlflow") is False
    method, path, headers = _Recorder.requests[0]
    assert (method, path) == ("PUT", "/mlflow")
    auth = headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKEXAMPLE/")
    assert "/eu-west-1/s3/aws4_request" in auth
    assert "secret-key-123" not in str(headers)
    assert headers["x-amz-content-sha256"] == EMPTY_SHA256


def test_signature_of_a_sent_request_verifies(s3_server):
    host, port = s3_server
    client = S3Client(host, port, "AKEXAMPLE", "secret-key-123")
    fixed = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    client.request("PUT", "/bucket-a", now=fixed)
    _, path, headers = _Recorder.requests[0]
    signed = {k: headers[k] for k in ("host", "x-amz-date", "x-amz-content-sha256")}
    expected = sign(
        "PUT",
        path,
        "",
        signed,
        EMPTY_SHA256,
        "AKEXAMPLE",
        "secret-key-123",
        "us-east-1",
        "s3",
        "20240102T030405Z",
    )
    assert headers["authorization"] == expected


def test_ensure_bucket_raises_on_refusal(s3_server):
    host, port = s3_server
    client = S3Client(host, port, "AKEXAMPLE", "secret-key-123")
    with pytest.raises(S3Error) as err:
        client.ensure_bucket("forbidden")
    assert err.value.status == 403
    assert err.value.code == "AccessDenied"


def test_unreachable_server_is_a_connection_error():
    client = S3Client("127.0.0.1", 1, "AKEXAMPLE", "secret-key-123", timeout=1)
    with pytest.raises(S3ConnectionError):
        client.ensure_bucket("bucket")
