from __future__ import annotations

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "crewbuilder.api"
    label = "api"
    verbose_name = "Public API"

    def ready(self) -> None:
        # Registers the member_left hook that revokes a leaving member's API tokens, and
        # the OpenAPI description of Bearer token auth.
        from accounts import tokens  # noqa: F401
        from crewbuilder.api import authentication  # noqa: F401
