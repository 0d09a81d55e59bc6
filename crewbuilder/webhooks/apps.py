from __future__ import annotations

from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "crewbuilder.webhooks"
    label = "webhooks"
    verbose_name = "Outgoing webhooks"

    def ready(self) -> None:
        # Listens to generation's and billing's signals; adds its states to /metrics.
        from crewbuilder.webhooks import receivers  # noqa: F401
