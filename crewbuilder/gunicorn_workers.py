"""gunicorn workers whose own error responses use the API's JSON envelope.

gunicorn answers requests it cannot parse (a header over ``limit_request_field_size``:
431; a bad ``Content-Length``: 400; a request line too long: 414 …) before Django sees
them, with a small HTML page. These workers keep gunicorn's decision (status, logging,
access log, ``Connection: close``) and only replace the page with
``{"error": {"code", "message"}}``. Nothing of the request is echoed back.

Self-contained on purpose: gunicorn imports the worker class in the master process,
before Django is set up, so nothing here may import the project's apps.
"""

from __future__ import annotations

import json
from typing import Any

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker
from gunicorn.workers.sync import SyncWorker

CODES = {
    400: ("invalid", "The request could not be parsed (malformed request line or headers)."),
    403: ("forbidden", "You are not allowed to do that."),
    413: ("payload_too_large", "The request body is too large."),
    414: ("uri_too_long", "The request line is too long."),
    417: ("expectation_failed", "The Expect header cannot be met."),
    431: ("request_header_fields_too_large", "A request header, or all of them, is too large."),
    500: ("server_error", "Something went wrong on our side. The error has been logged."),
    501: ("not_implemented", "That transfer coding is not supported."),
}


class _Capture:
    """Stands in for the client socket while gunicorn writes its error page, so the
    status it chose can be read back; everything else goes to the real socket."""

    def __init__(self, sock: Any):
        self._sock = sock
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0  # "non-blocking already": gunicorn then writes straight through

    def sendall(self, data: bytes) -> None:
        self.data += data

    def send(self, data: bytes) -> int:
        self.data += data
        return len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _status_of(raw: bytes) -> tuple[int, str]:
    line = raw.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ", 2)
    try:
        return int(parts[1]), (parts[2] if len(parts) > 2 else "")
    except (IndexError, ValueError):
        return 400, "Bad Request"


def json_error_bytes(status: int, reason: str) -> bytes:
    code, message = CODES.get(status, ("error", reason or "Error."))
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Cache-Control: no-store\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class JsonErrorsMixin:
    def handle_error(self, req, client, addr, exc):
        capture = _Capture(client)
        super().handle_error(req, capture, addr, exc)
        if not capture.data:
            return
        status, reason = _status_of(capture.data)
        try:
            util.write_nonblock(client, json_error_bytes(status, reason))
        except Exception:  # noqa: BLE001 - the client is gone; gunicorn does the same
            self.log.debug("Failed to send error message.")


class JsonErrorThreadWorker(JsonErrorsMixin, ThreadWorker):
    """``gthread`` with JSON error responses (the production worker)."""


class JsonErrorSyncWorker(JsonErrorsMixin, SyncWorker):
    """``sync`` with JSON error responses."""
