from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings

from crewbuilder.sentry import init_sentry


class CrewBuilderConfig(AppConfig):
    """The project itself: what every process does once Django is set up."""

    name = "crewbuilder"
    verbose_name = "CrewBuilder"

    def ready(self) -> None:
        # Sentry starts here, not in settings: web (wsgi/asgi), the Celery worker and beat
        # (Celery's Django fixup runs django.setup()) and management commands all pass
        # through ready(), and importing the settings stays free of side effects.
        if settings.SENTRY_DSN:
            init_sentry(
                dsn=settings.SENTRY_DSN,
                environment=settings.SENTRY_ENVIRONMENT,
                release=settings.SENTRY_RELEASE,
                traces_sample_rate=settings.SENTRY_TRACES_SAMPLE_RATE,
            )
