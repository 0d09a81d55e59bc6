"""A minimal OpenAI + Anthropic ``/v1/models`` server on 127.0.0.1:<free port>, enough for
the "Test" button: it accepts the keys it is told to accept, answers 401 otherwise and
500 when ``down``. It records which paths were called and a hash of each key seen (never
the key)."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeProvider:
    def __init__(self) -> None:
        self.accepted: set[str] = set()
        self.down = False
        self.calls: list[tuple[str, str, str]] = []  # (api, path, sha256 of key)
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeProvider:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                return

            def _reply(self, status: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                api = "anthropic" if self.headers.get("anthropic-version") else "openai"
                key = self.headers.get("x-api-key") or self.headers.get(
                    "Authorization", ""
                ).removeprefix("Bearer ")
                fake.calls.append(
                    (api, self.path.split("?")[0], hashlib.sha256(key.encode()).hexdigest())
                )
                if not self.path.startswith("/v1/models"):
                    return self._reply(404, {"error": {"message": "not found"}})
                if fake.down:
                    return self._reply(
                        500, {"error": {"message": "upstream down", "type": "server_error"}}
                    )
                if key not in fake.accepted:
                    if api == "anthropic":
                        return self._reply(
                            401,
                            {
                                "type": "error",
                                "error": {
                                    "type": "authentication_error",
                                    "message": "invalid x-api-key",
                                },
                            },
                        )
                    return self._reply(
                        401,
                        {
                            "error": {
                                "message": "Incorrect API key provided",
                                "type": "invalid_request_error",
                                "code": "invalid_api_key",
                            }
                        },
                    )
                if api == "anthropic":
                    return self._reply(
                        200,
                        {
                            "data": [
                                {
                                    "type": "model",
                                    "id": "claude-test",
                                    "display_name": "Claude Test",
                                    "created_at": "2025-01-01T00:00:00Z",
                                }
                            ],
                            "has_more": False,
                            "first_id": "claude-test",
                            "last_id": "claude-test",
                        },
                    )
                return self._reply(
                    200,
                    {
                        "object": "list",
                        "data": [
                            {"id": "gpt-test", "object": "model", "created": 0, "owned_by": "test"}
                        ],
                    },
                )

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
