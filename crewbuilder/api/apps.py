from __future__ import annotations

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "crewbuilder.api"
    label = "api"
    verbose_name = "Public API"

    def ready(self) -> None:
        # A leaving member's API tokens are revoked (accounts.signals.member_left), and the
        # OpenAPI description of Bearer token auth is registered.
        from crewbuilder.api import authentication, receivers  # noqa: F401
