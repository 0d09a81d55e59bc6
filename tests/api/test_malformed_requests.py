"""Issue 12 item 5: malformed API requests get a 4xx in the error envelope.

- A deeply nested JSON body (``[`` × 1100) is a 400 ``parse_error``: no RecursionError,
  no 500, no traceback mailed to the admins.
- Types are strict: a numeric ``requirement`` is a 400 and nothing is charged.
- Over a real gunicorn started with the production config (``crewbuilder/gunicorn.conf.py``,
  production settings): after a 413 on a 1 MB body the next request on the same keep-alive
  connection is answered (ten times in a row); a body too large to drain gets its 413 with
  ``Connection: close`` and a clean close; gunicorn's own refusals — an oversized header
  (431) and a bad ``Content-Length`` (400) — come back in the JSON envelope.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core import mail

from billing import selectors as billing_selectors
from generation.models import Generation
from tests.api.conftest import error_of

ROOT = Path(__file__).resolve().parents[2]
GENERATIONS = "/api/v1/generations/"
KEYS = "/api/v1/keys/"
NESTED = "[" * 1100 + "]" * 1100


# --- in the application ---------------------------------------------------------------


def test_deeply_nested_json_is_a_400_without_a_traceback(api, caplog):
    caplog.set_level(logging.DEBUG)
    for path in (GENERATIONS, KEYS):
        response = api.owner.post(path, data=NESTED, content_type="application/json")
        assert response.status_code == 400
        assert error_of(response)["code"] == "parse_error"
    assert mail.outbox == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "RecursionError" not in caplog.text


@pytest.mark.parametrize(
    "field,value",
    [
        ("requirement", 12345678901234567890),
        ("requirement", ["Every Monday, research competitors and write a summary."]),
        ("key_source", 1),
        ("provider", True),
        ("model", 4),
        ("template", 7),
    ],
)
def test_wrong_types_are_a_400_and_nothing_is_charged(api, settings, fake_llm, field, value):
    settings.OPENAI_API_KEY = "sk-proj-platformKEY0123456789abcdefghij"
    before = billing_selectors.usage_for(api.tenant.org)
    body = {
        "requirement": "Every Monday, research our competitors and write a summary.",
        "key_source": "platform",
        "provider": "openai",
        field: value,
    }
    response = api.owner.post_json(GENERATIONS, body)
    assert response.status_code == 400
    assert field in error_of(response)["fields"]
    assert Generation.objects.count() == 0
    assert billing_selectors.usage_for(api.tenant.org) == before
    assert fake_llm.requests == []


# --- over a real gunicorn with the production config -----------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def gunicorn_url():
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CREWBUILDER_TESTING", "DJANGO_SETTINGS_MODULE", "CREWBUILDER_CACHE_PREFIX")
    }
    env.update(
        DJANGO_DEBUG="false",
        DJANGO_SETTINGS_MODULE="crewbuilder.settings",
        DJANGO_SECRET_KEY="test-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEF",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        CREWBUILDER_ENCRYPTION_KEYS="t1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        CREWBUILDER_SITE_URL="https://127.0.0.1",
        CREWBUILDER_ENV_FILE=os.devnull,
        STRIPE_SECRET_KEY="",
    )
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    proc = subprocess.Popen(
        [
            gunicorn,
            "-c",
            "crewbuilder/gunicorn.conf.py",
            "crewbuilder.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
            "--access-logfile",
            os.devnull,
            # gunicorn >= 27 opens a control socket at one fixed path per user: not ours
            "--no-control-socket",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"gunicorn exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    pass
                status, _, _ = _roundtrip(port, _get("/api/v1/usage/"))
                if status == 401:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("gunicorn did not answer within 120 s")
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _get(path: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n"
        "Accept: application/json\r\n\r\n"
    ).encode()


def _post(path: str, body: bytes, *, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


class _Conn:
    """One keep-alive client connection that reads exactly one response at a time."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError(f"closed before a response: {self.buffer[:200]!r}")
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self._take_line(), 16)
                body += self._take(size)
                self._take_line()
                if size == 0:
                    return status, headers, body
        return status, headers, self._take(int(headers.get("content-length", "0")))

    def _take(self, length: int) -> bytes:
        while len(self.buffer) < length:
            if not self._fill():
                raise ConnectionError("closed inside a response body")
        data, self.buffer = self.buffer[:length], self.buffer[length:]
        return data

    def _take_line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError("closed inside a chunked body")
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def closed_by_server(self) -> bool:
        self.sock.settimeout(10)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return False

    def close(self) -> None:
        self.sock.close()


def _roundtrip(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    conn = _Conn(port)
    try:
        conn.send(request)
        return conn.response()
    finally:
        conn.close()


def _envelope(body: bytes) -> dict:
    data = json.loads(body)
    assert set(data) == {"error"} and set(data["error"]) >= {"code", "message"}
    return data["error"]


def test_after_a_413_on_a_1_mb_body_the_same_connection_keeps_working(gunicorn_url):
    big = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    for attempt in range(10):
        conn = _Conn(gunicorn_url)
        try:
            conn.send(_post(KEYS, big))
            status, headers, body = conn.response()
            assert status == 413, attempt
            assert headers["content-type"].startswith("application/json")
            assert _envelope(body)["code"] == "payload_too_large"
            assert headers.get("connection", "").lower() == "keep-alive"
            conn.send(_get("/api/v1/usage/"))
            status, headers, body = conn.response()
            assert status == 401, attempt  # the next request on the same connection is served
            assert _envelope(body)["code"] == "unauthenticated"
        finally:
            conn.close()


def test_a_body_too_large_to_drain_gets_its_413_and_a_clean_close(gunicorn_url):
    size = 8 * 1024 * 1024  # above CREWBUILDER_API_DRAIN_MAX_BYTES (2 MiB)
    conn = _Conn(gunicorn_url)
    try:
        # headers first, then wait for the answer before sending any of the body
        head = _post(KEYS, b"", extra="").replace(
            b"Content-Length: 0", f"Content-Length: {size}".encode()
        )
        conn.send(head)
        status, headers, body = conn.response()
        assert status == 413
        assert headers["connection"].lower() == "close"
        assert _envelope(body)["code"] == "payload_too_large"
        assert conn.closed_by_server()
    finally:
        conn.close()


def test_gunicorn_refuses_an_oversized_header_with_a_json_431(gunicorn_url):
    request = (
        f"GET /api/v1/usage/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: {'a' * 9000}\r\n\r\n"
    ).encode()
    status, headers, body = _roundtrip(gunicorn_url, request)
    assert status == 431
    assert headers["content-type"] == "application/json"
    assert headers["connection"].lower() == "close"
    assert _envelope(body)["code"] == "request_header_fields_too_large"
    assert b"<html" not in body.lower() and b"aaaa" not in body


@pytest.mark.parametrize("length", ["abc", "-1", "1, 2", "99999999999999999999999"])
def test_gunicorn_refuses_a_bad_content_length_with_a_json_400(gunicorn_url, length):
    request = (
        f"POST /api/v1/keys/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\n"
        "X-Forwarded-Proto: https\r\nContent-Type: application/json\r\n\r\n{}"
    ).encode()
    status, headers, body = _roundtrip(gunicorn_url, request)
    assert 400 <= status < 500
    assert headers["content-type"].startswith("application/json")
    assert _envelope(body)["code"]
    assert b"<html" not in body.lower()
