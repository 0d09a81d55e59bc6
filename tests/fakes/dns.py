"""A small authoritative DNS server over real UDP for tests (built with dnspython).

It answers TXT queries from a dict the test fills (``publish``/``unpublish``), NXDOMAIN for
names it does not know, NOERROR with no answer for other record types of known names, and
SERVFAIL for names marked ``broken`` (a resolver failure). The app's resolver is pointed
at it through ``CREWBUILDER_DNS_RESOLVER=127.0.0.1:<port>``.

    with FakeDNS() as dns_server:
        dns_server.publish("_crewbuilder-challenge.crews.acme.test", "crewbuilder-verify=…")
"""

from __future__ import annotations

import socket
import threading

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset


class FakeDNS:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._txt: dict[str, list[str]] = {}
        self.broken: set[str] = set()
        self.queries: list[tuple[str, str]] = []
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # --- records ---------------------------------------------------------------------------

    @staticmethod
    def _key(name: str) -> str:
        return name.lower().rstrip(".") + "."

    def publish(self, name: str, *values: str) -> None:
        with self._lock:
            self._txt.setdefault(self._key(name), []).extend(values)

    def unpublish(self, name: str) -> None:
        with self._lock:
            self._txt.pop(self._key(name), None)

    # --- server ----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._sock is not None, "not started"
        return self._sock.getsockname()[1]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> FakeDNS:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()

    def __enter__(self) -> FakeDNS:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                wire, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(wire)
            except dns.exception.DNSException:
                continue
            self._sock.sendto(self._answer(query).to_wire(), peer)

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        with self._lock:
            self.queries.append((name, rdtype))
            values = list(self._txt.get(name, []))
            known = name in self._txt
            broken = name in self.broken
        if broken:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif not known:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.TXT:
            quoted = [
                '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values
            ]
            response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", "TXT", quoted))
        return response
