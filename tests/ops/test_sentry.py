"""Sentry is optional and never receives a secret or a local variable."""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sentry_sdk

from crewbuilder.sentry import before_send, init_sentry

CANARY_KEY = "sk-proj-CANARYcanaryCANARY1234567890abcd"
CANARY_ANTHROPIC = "sk-ant-api03-CANARYcanary0987654321"


def test_before_send_scrubs_a_canary_everywhere_in_an_event():
    event = {
        "message": f"provider said no to {CANARY_KEY}",
        "request": {
            "url": "https://crewbuilder.example.com/generate/",
            "headers": {"Authorization": "Bearer cb_abcdefabcdefabcdef12", "User-Agent": "pytest"},
            "cookies": {"sessionid": "s3ss10n"},
            "data": {"api_key": CANARY_KEY},
        },
        "extra": {"api_key": CANARY_ANTHROPIC, "note": f"key was {CANARY_ANTHROPIC}"},
        "breadcrumbs": {"values": [{"message": f"calling with {CANARY_KEY}"}]},
        "exception": {
            "values": [
                {
                    "type": "ProviderAuthError",
                    "value": f"401 for {CANARY_KEY}",
                    "stacktrace": {"frames": [{"function": "f", "vars": {"k": CANARY_KEY}}]},
                }
            ]
        },
    }
    scrubbed = before_send(event, {})
    text = json.dumps(scrubbed)
    assert CANARY_KEY not in text
    assert CANARY_ANTHROPIC not in text
    assert "s3ss10n" not in text
    assert "cb_abcdef" not in text
    assert "vars" not in scrubbed["exception"]["values"][0]["stacktrace"]["frames"][0]
    # useful context survives
    assert scrubbed["exception"]["values"][0]["type"] == "ProviderAuthError"
    assert scrubbed["request"]["headers"]["User-Agent"] == "pytest"
    assert scrubbed["request"]["url"].endswith("/generate/")


class _Collector(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        type(self).bodies.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry_server():
    _Collector.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _fail_with_secret_in_locals():
    api_key = CANARY_KEY  # a local variable Sentry must not capture
    raise RuntimeError(f"upstream rejected {api_key}")


def test_events_sent_to_a_real_sentry_endpoint_carry_no_secret_or_locals(sentry_server):
    port = sentry_server.server_address[1]
    init_sentry(dsn=f"http://publickey@127.0.0.1:{port}/1", environment="test")
    try:
        options = sentry_sdk.get_client().options
        assert options["include_local_variables"] is False
        assert options["data_collection"]["stack_frame_variables"] is False
        assert options["data_collection"]["user_info"] is False
        try:
            _fail_with_secret_in_locals()
        except RuntimeError:
            sentry_sdk.capture_exception()
        sentry_sdk.flush(timeout=5)
    finally:
        sentry_sdk.get_client().close(timeout=0.5)
        sentry_sdk.init()  # back to a disabled client for the rest of the suite
    payload = b"".join(_Collector.bodies)
    assert b"RuntimeError" in payload  # the event did arrive
    assert CANARY_KEY.encode() not in payload
    assert b'"vars"' not in payload
