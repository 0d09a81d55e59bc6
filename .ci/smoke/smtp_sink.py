"""A local SMTP server that keeps every message as a file: the production email path
(Django's SMTP backend, the default with DJANGO_DEBUG=false) delivers here, and the smoke
walk reads the verification link out of the message like a person reading their inbox.

    python .ci/smoke/smtp_sink.py --port-file PATH --maildir DIR

Listens on a free port of 127.0.0.1, writes the port to PATH once listening, stores each
message as DIR/<n>.eml (written to a temporary name, then renamed). Plain SMTP without
TLS or AUTH: the smoke stage sets EMAIL_HOST/EMAIL_PORT and nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
from pathlib import Path

_counter = itertools.count(1)


async def _session(reader, writer, maildir: Path) -> None:
    def reply(line: str) -> None:
        writer.write(line.encode() + b"\r\n")

    reply("220 smoke-sink ESMTP")
    recipients: list[str] = []
    while True:
        raw = await reader.readline()
        if not raw:
            break
        command = raw.decode("utf-8", "replace").rstrip("\r\n")
        verb = command.split(" ", 1)[0].upper()
        if verb == "EHLO":
            reply("250-smoke-sink")
            reply("250 8BITMIME")
        elif verb in ("HELO", "NOOP"):
            reply("250 OK")
        elif verb in ("MAIL", "RSET"):
            recipients = []
            reply("250 OK")
        elif verb == "RCPT":
            recipients.append(command.split(":", 1)[1].strip().strip("<>"))
            reply("250 OK")
        elif verb == "DATA":
            reply("354 End data with <CR><LF>.<CR><LF>")
            await writer.drain()
            lines = []
            while True:
                line = await reader.readline()
                if not line or line in (b".\r\n", b".\n"):
                    break
                lines.append(line[1:] if line.startswith(b"..") else line)
            name = f"{next(_counter):04d}.eml"
            partial = maildir / f".{name}.tmp"
            partial.write_bytes(
                f"X-Smoke-Recipients: {', '.join(recipients)}\r\n".encode() + b"".join(lines)
            )
            os.replace(partial, maildir / name)
            reply("250 OK: queued")
        elif verb == "QUIT":
            reply("221 Bye")
            await writer.drain()
            break
        else:
            reply("502 Command not implemented")
        await writer.drain()
    writer.close()


async def _serve(port_file: Path, maildir: Path) -> None:
    maildir.mkdir(parents=True, exist_ok=True)
    server = await asyncio.start_server(
        lambda r, w: _session(r, w, maildir), host="127.0.0.1", port=0
    )
    port = server.sockets[0].getsockname()[1]
    partial = port_file.with_name(port_file.name + ".tmp")
    partial.write_text(str(port))
    os.replace(partial, port_file)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port-file", required=True, type=Path)
    parser.add_argument("--maildir", required=True, type=Path)
    args = parser.parse_args()
    asyncio.run(_serve(args.port_file, args.maildir))


if __name__ == "__main__":
    main()
