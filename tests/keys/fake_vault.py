"""A tiny HashiCorp Vault transit engine on 127.0.0.1:<free port>: the endpoints the vault
backend uses (``keys/<name>`` read, ``encrypt/<name>``, ``decrypt/<name>``) with
aes256-gcm96 semantics, versioned keys, associated data and token checking."""

from __future__ import annotations

import base64
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class FakeVault:
    def __init__(self, *, token: str = "s.test-token", mount: str = "transit") -> None:  # noqa: S107
        self.token = token
        self.mount = mount
        self.keys: dict[str, list[bytes]] = {}
        self.calls: list[tuple[str, str]] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def create_key(self, name: str) -> None:
        self.keys[name] = [AESGCM.generate_key(bit_length=256)]

    def rotate(self, name: str) -> None:
        self.keys[name].append(AESGCM.generate_key(bit_length=256))

    def _encrypt(self, name: str, body: dict) -> tuple[int, dict]:
        versions = self.keys[name]
        nonce = os.urandom(12)
        aad = base64.b64decode(body.get("associated_data") or "")
        ct = AESGCM(versions[-1]).encrypt(nonce, base64.b64decode(body["plaintext"]), aad)
        ciphertext = f"vault:v{len(versions)}:" + base64.b64encode(nonce + ct).decode()
        return 200, {"data": {"ciphertext": ciphertext, "key_version": len(versions)}}

    def _decrypt(self, name: str, body: dict) -> tuple[int, dict]:
        try:
            _, version, payload = body["ciphertext"].split(":", 2)
            key = self.keys[name][int(version.lstrip("v")) - 1]
            raw = base64.b64decode(payload)
            aad = base64.b64decode(body.get("associated_data") or "")
            plaintext = AESGCM(key).decrypt(raw[:12], raw[12:], aad)
        except (ValueError, IndexError, KeyError, InvalidTag):
            return 400, {"errors": ["cipher: message authentication failed"]}
        return 200, {"data": {"plaintext": base64.b64encode(plaintext).decode()}}

    def __enter__(self) -> FakeVault:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return

            def _reply(self, status: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _route(self, method: str) -> None:
                fake.calls.append((method, self.path))
                if self.headers.get("X-Vault-Token") != fake.token:
                    return self._reply(403, {"errors": ["permission denied"]})
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                parts = self.path.strip("/").split("/")  # v1/<mount>/<op>/<name>
                if len(parts) != 4 or parts[0] != "v1" or parts[1] != fake.mount:
                    return self._reply(404, {"errors": []})
                op, name = parts[2], parts[3]
                if name not in fake.keys:
                    return self._reply(400, {"errors": ["encryption key not found"]})
                if method == "GET" and op == "keys":
                    return self._reply(
                        200,
                        {
                            "data": {
                                "name": name,
                                "type": "aes256-gcm96",
                                "latest_version": len(fake.keys[name]),
                            }
                        },
                    )
                if method == "POST" and op == "encrypt":
                    return self._reply(*fake._encrypt(name, body))
                if method == "POST" and op == "decrypt":
                    return self._reply(*fake._decrypt(name, body))
                return self._reply(405, {"errors": []})

            def do_GET(self) -> None:  # noqa: N802
                self._route("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._route("POST")

            def do_PUT(self) -> None:  # noqa: N802
                self._route("POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
