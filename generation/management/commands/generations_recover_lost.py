"""Queue again the generations whose worker was lost (see
``generation.services.generations_recover_lost``); beat runs the same scan every
``CREWBUILDER_GENERATION_RECOVER_EVERY_SECONDS``. Useful where no beat runs (the embedded
default after a restart of its web process)."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand

from generation.services import generations_recover_lost


class Command(BaseCommand):
    help = "Queue again unfinished generations that show no sign of life."

    def add_arguments(self, parser):
        parser.add_argument(
            "--lost-after",
            type=int,
            default=None,
            help="seconds without a sign of life (default: CREWBUILDER_GENERATION_LOST_AFTER_SECONDS)",
        )

    def handle(self, *args, lost_after=None, **options):
        ids = generations_recover_lost(
            lost_after=timedelta(seconds=lost_after) if lost_after else None
        )
        self.stdout.write(f"requeued {len(ids)} generation(s)")
