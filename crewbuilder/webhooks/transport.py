"""Outgoing HTTP for webhooks, with the SSRF guard.

Before connecting, the host name is resolved once and *every* address is checked: private,
loopback, link-local, multicast, reserved and unspecified addresses (IPv4, IPv6 and
IPv4-mapped IPv6) are refused. The connection then goes to the checked address (the host
name is still sent as ``Host`` and used for TLS SNI and certificate verification), so a
DNS answer that changes between check and connect (rebinding) cannot send the request
elsewhere. Redirects are never followed (http.client does not follow them; a 3xx is a
failed attempt). ``https://`` is required unless ``CREWBUILDER_WEBHOOK_ALLOW_HTTP``;
loopback is allowed only with ``CREWBUILDER_WEBHOOK_ALLOW_LOOPBACK`` (tests and the
embedded default), never other private ranges.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError


class Blocked(Exception):  # noqa: N818 - an outcome, shown in the delivery log
    """The URL may not be called (scheme, or an address the guard refuses)."""


@dataclass(frozen=True)
class Reply:
    status: int
    body_excerpt: str
    seconds: float


def url_validate(url: str) -> str:
    """Static checks at registration (the address check runs again at every delivery).
    Raises ValidationError({"url": [...]})."""
    url = (url or "").strip()
    parts = urlsplit(url)
    allowed = {"https", "http"} if settings.CREWBUILDER_WEBHOOK_ALLOW_HTTP else {"https"}
    if parts.scheme not in allowed:
        raise ValidationError({"url": ["Use an https:// URL."]})
    if not parts.hostname:
        raise ValidationError({"url": ["Enter a full URL with a host name."]})
    if parts.username or parts.password:
        raise ValidationError({"url": ["Put no user name or password in the URL."]})
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ValidationError({"url": ["The port is not valid."]}) from None
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        literal = None
    if literal is not None and _refused(literal):
        raise ValidationError({"url": ["This address is not reachable from CrewBuilder."]})
    return url


def _refused(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return not settings.CREWBUILDER_WEBHOOK_ALLOW_LOOPBACK
    return (
        address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def resolve_checked(host: str, port: int) -> str:
    """One address of ``host`` after checking all of them; raises ``Blocked``."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Blocked(f"could not resolve {host}") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise Blocked(f"could not resolve {host}")
    for address in addresses:
        if _refused(address):
            raise Blocked(f"{host} resolves to a refused address ({address})")
    return str(addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.pinned_address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.pinned_address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, *, address: str, timeout: float, context) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self.pinned_address = address
        self.tls_context = context

    def connect(self) -> None:
        sock = socket.create_connection((self.pinned_address, self.port), self.timeout)
        # SNI and certificate verification use the host name, not the pinned address.
        self.sock = self.tls_context.wrap_socket(sock, server_hostname=self.host)


def _tls_context() -> ssl.SSLContext:
    cafile = settings.CREWBUILDER_WEBHOOK_CA_FILE or None
    return ssl.create_default_context(cafile=cafile)


def post(*, url: str, body: bytes, headers: dict[str, str]) -> Reply:
    """POST once. Raises ``Blocked`` (never connected) or ``OSError``/``HTTPException``
    (connection, TLS, timeout); otherwise returns the reply, whatever its status."""
    try:
        url_validate(url)
    except ValidationError as exc:
        raise Blocked(exc.message_dict["url"][0]) from None
    parts = urlsplit(url)
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    host = parts.hostname
    if not host:  # url_validate accepts no URL without one
        raise Blocked("the URL has no host")
    address = resolve_checked(host, port)
    timeout = settings.CREWBUILDER_WEBHOOK_TIMEOUT_SECONDS
    conn: http.client.HTTPConnection
    if https:
        conn = _PinnedHTTPSConnection(
            host, port, address=address, timeout=timeout, context=_tls_context()
        )
    else:
        conn = _PinnedHTTPConnection(host, port, address=address, timeout=timeout)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    started = time.monotonic()
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        excerpt = response.read(200).decode("utf-8", "replace")
        return Reply(response.status, excerpt, time.monotonic() - started)
    finally:
        conn.close()
