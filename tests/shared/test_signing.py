"""HmacSignedAuth: the vendor's worked example, and signatures over the bytes really sent."""

from __future__ import annotations

import hashlib
import hmac
import json

import requests

from human_sandbox.core import EmulatorServer, Request, Response, json_response
from taps_shared.auth import HmacSignedAuth

# The vendor page's example: JSON.stringify of this body, the placeholder secret, a
# Date.now() timestamp (fixed here).
VENDOR_BODY = json.dumps(
    {"contacts": ["+351912345678"], "processIds": ["64c8e5f7d5a4f9123b7c9a1e"]},
    separators=(",", ":"),
)
VENDOR_SECRET = "YOUR_SIGNATURE_SECRET"
TIMESTAMP = 1_717_171_717_171


def reference(secret: str, timestamp: int, body: str) -> str:
    """The vendor's generateSignature(), transcribed: `${ts}.${data}` or `ts` alone."""
    message = f"{timestamp}.{body}" if body else str(timestamp)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def test_post_signature_matches_the_vendor_example():
    auth = HmacSignedAuth("YOUR_API_KEY", VENDOR_SECRET, clock_ms=lambda: TIMESTAMP)
    request = requests.Request(
        "POST",
        "https://api.humanos.id/request",
        data=VENDOR_BODY,
        headers={"Content-Type": "application/json"},
    ).prepare()
    auth(request)
    assert VENDOR_BODY == '{"contacts":["+351912345678"],"processIds":["64c8e5f7d5a4f9123b7c9a1e"]}'
    assert request.headers["X-Timestamp"] == "1717171717171"
    assert request.headers["X-Signature"] == reference(VENDOR_SECRET, TIMESTAMP, VENDOR_BODY)
    assert request.headers["Authorization"] == "Bearer YOUR_API_KEY"


def test_get_signs_the_timestamp_alone_without_a_dot():
    auth = HmacSignedAuth("k", VENDOR_SECRET, clock_ms=lambda: TIMESTAMP)
    request = auth(requests.Request("GET", "https://api.humanos.id/request?pageSize=5").prepare())
    assert request.headers["X-Signature"] == reference(VENDOR_SECRET, TIMESTAMP, "")
    assert request.headers["X-Signature"] != reference(VENDOR_SECRET, TIMESTAMP, ".")


def test_every_attempt_is_signed_afresh_over_the_exact_bytes_sent():
    seen: list[tuple[str, str, bytes]] = []

    def app(request: Request) -> Response:
        seen.append((request.header("x-timestamp"), request.header("x-signature"), request.body))
        return json_response(200, {})

    ticks = iter([TIMESTAMP, TIMESTAMP + 5000])
    auth = HmacSignedAuth("k", "s3cr3t", clock_ms=lambda: next(ticks))
    body = '{"a": 1, "b": [1, 2]}'  # not compact: signed exactly as sent, not re-serialised
    with EmulatorServer(app) as server, requests.Session() as session:
        prepared = requests.Request("POST", f"{server.base_url}/x", data=body).prepare()
        for _ in range(2):  # what a retry does: the same prepared request, re-authenticated
            session.send(auth(prepared), timeout=5)
    (ts1, sig1, raw1), (ts2, sig2, raw2) = seen
    assert raw1 == raw2 == body.encode()
    assert (ts1, ts2) == (str(TIMESTAMP), str(TIMESTAMP + 5000))
    assert sig1 == reference("s3cr3t", TIMESTAMP, body)
    assert sig2 == reference("s3cr3t", TIMESTAMP + 5000, body)


def test_default_clock_is_milliseconds():
    auth = HmacSignedAuth("k", "s")
    request = auth(requests.Request("GET", "https://x.example/").prepare())
    assert len(request.headers["X-Timestamp"]) == 13
