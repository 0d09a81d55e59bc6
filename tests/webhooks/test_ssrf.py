"""The SSRF guard: https only unless allowed, every resolved address checked (private,
loopback, link-local, reserved, IPv4-mapped), the checked address pinned for the
connection (TLS still verifies the host name), no redirects followed."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from crewbuilder.webhooks import services, transport
from crewbuilder.webhooks.models import WebhookDelivery
from tests.webhooks.receiver import Receiver


def _post(url: str):
    return transport.post(url=url, body=b"{}", headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.5/hook",
        "https://192.168.1.1/hook",
        "https://172.16.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
        "https://[fe80::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",  # IPv4-mapped private
        "https://[fc00::1]/hook",
        "https://0.0.0.0/hook",
        "https://240.0.0.1/hook",  # reserved
        "https://100.64.0.1/hook",  # shared address space
    ],
)
def test_private_link_local_and_reserved_addresses_are_refused(url, settings):
    with pytest.raises(ValidationError) as excinfo:
        transport.url_validate(url)
    assert "url" in excinfo.value.message_dict
    with pytest.raises(transport.Blocked):
        _post(url)


def test_https_is_required_unless_allowed(settings):
    settings.CREWBUILDER_WEBHOOK_ALLOW_HTTP = False
    with pytest.raises(ValidationError, match="https://"):
        transport.url_validate("http://example.com/hook")
    for bad in ("ftp://example.com/x", "https://", "https://user:pw@example.com/x", "hook"):
        with pytest.raises(ValidationError):
            transport.url_validate(bad)


def test_loopback_is_refused_in_production_even_by_host_name(settings, receiver):
    settings.CREWBUILDER_WEBHOOK_ALLOW_LOOPBACK = False
    for url in (receiver.url(), receiver.url(host="localhost"), receiver.url(host="[::1]")):
        with pytest.raises(transport.Blocked):
            _post(url)
    assert receiver.requests == []  # never connected


def test_a_host_name_resolving_to_a_private_address_is_refused_at_delivery(
    pro, monkeypatch, django_capture_on_commit_callbacks
):
    """DNS that points a public-looking name at the inside network (or changes its answer
    after registration) is checked at every delivery."""
    created = services.webhook_endpoint_create(
        organization=pro.org,
        actor=pro.owner,
        url="https://hooks.example.com/in",
        events=["generation.failed"],
    )
    real = transport.socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "hooks.example.com":
            return [(2, 1, 6, "", ("10.1.2.3", 443)), (2, 1, 6, "", ("93.184.216.34", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(transport.socket, "getaddrinfo", resolve)
    with django_capture_on_commit_callbacks(execute=True):
        services.webhook_event_publish(
            organization_id=pro.org.pk, event_type="generation.failed", data={}, dedup_key="x"
        )
    delivery = WebhookDelivery.objects.get(endpoint=created.endpoint)
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert delivery.last_error.startswith(
        "Blocked: hooks.example.com resolves to a refused address"
    )


def test_redirects_are_not_followed(receiver, settings):
    with Receiver() as elsewhere:
        receiver.statuses = [302]
        receiver.redirect_to = elsewhere.url()
        reply = _post(receiver.url())
        assert reply.status == 302
        assert len(receiver.wait_for(1)) == 1 and elsewhere.requests == []


def test_https_to_the_pinned_address_verifies_the_host_name(tmp_path, settings):
    with Receiver(tls_dir=tmp_path) as tls:
        settings.CREWBUILDER_WEBHOOK_CA_FILE = tls.ca_file
        # Connected to the pinned 127.0.0.1, TLS checked against "localhost": accepted.
        assert _post(tls.url(host="localhost")).status == 200
        tls.wait_for(1)
        # The certificate does not name 127.0.0.1: refused, nothing sent.
        with pytest.raises(OSError):
            _post(tls.url(host="127.0.0.1"))
        assert len(tls.requests) == 1
