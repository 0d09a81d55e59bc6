"""``ALLOWED_HOSTS`` that also accepts organisations' white-label custom domains."""

from __future__ import annotations

from django.core.exceptions import AppRegistryNotReady
from django.db import DatabaseError

# Imported by the settings module: accounts.branding reads models and the cache only when
# called, so importing it here loads no app.
from accounts.branding import custom_domains


class AllowedHosts(list):
    """The configured hosts, then every custom domain an organisation has registered.

    Django validates the Host header by iterating ``ALLOWED_HOSTS``; the configured hosts
    come first, so requests to them never touch the cache or the database. A custom domain
    is accepted only when an organisation registered exactly that host name (no wildcards),
    and it shows that organisation's branding only while its plan includes white-label.
    """

    @property
    def static(self) -> list[str]:
        return list(super().__iter__())

    def __iter__(self):
        yield from super().__iter__()
        try:
            domains = sorted(custom_domains())
        except (DatabaseError, AppRegistryNotReady, RuntimeError):
            # Before migrations, with the database down, or where database access is
            # blocked (test set-up copies this list): the configured hosts only.
            return
        yield from domains
