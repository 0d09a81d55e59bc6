from __future__ import annotations

from urllib.parse import quote, urlparse

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.urls import reverse
from django.utils.encoding import force_str
from django.utils.http import url_has_allowed_host_and_scheme


def _canonical_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _canonical_hosts() -> set[str]:
    """CrewBuilder's own hosts. White-label custom domains are accepted as request hosts
    but are never trusted for emailed links or redirects (a tenant does not prove it owns
    the domain, so it must not receive other people's reset links)."""
    configured = getattr(settings.ALLOWED_HOSTS, "static", settings.ALLOWED_HOSTS)
    hosts = {h for h in configured if h != "*" and not h.startswith(".")}
    hosts.add(urlparse(settings.SITE_URL).netloc)
    return hosts


class _CanonicalSite:
    """What account emails call "the site": CrewBuilder at SITE_URL, never the request's
    Host (a tenant's custom domain must not greet another tenant's users)."""

    name = "CrewBuilder"

    @property
    def domain(self) -> str:
        return urlparse(settings.SITE_URL).netloc

    def __str__(self) -> str:
        return self.domain


class AccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        # allauth puts get_current_site(request) — the request's Host without
        # django.contrib.sites — into every account email; use our own name and host.
        super().send_mail(template_prefix, email, {**context, "current_site": _CanonicalSite()})

    def format_email_subject(self, subject: str) -> str:
        return f"[{_CanonicalSite.name}] {force_str(subject)}"

    def get_login_redirect_url(self, request):
        pending = request.session.pop("pending_invitation_token", None)
        if pending:
            return reverse("accounts:invitation_accept", args=[pending])
        return super().get_login_redirect_url(request)

    # Links in account emails are built from SITE_URL, never from the request's Host header.
    def get_reset_password_from_key_url(self, key: str) -> str:
        path = reverse("account_reset_password_from_key", kwargs={"uidb36": "UID", "key": "KEY"})
        return _canonical_url(path.replace("UID-KEY", quote(key)))

    def get_email_confirmation_url(self, request, emailconfirmation) -> str:
        return _canonical_url(reverse("account_confirm_email", args=[emailconfirmation.key]))

    def is_safe_url(self, url: str) -> bool:
        return url_has_allowed_host_and_scheme(url, allowed_hosts=_canonical_hosts())
