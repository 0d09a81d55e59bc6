"""Queue again the generations that were abandoned (see
``generation.services.generations_requeue_stale``); also run hourly by Celery beat."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand

from generation.services import generations_requeue_stale


class Command(BaseCommand):
    help = "Queue again unfinished generations nobody has touched for a while."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=None,
            help="seconds without progress (default: twice the hard time limit)",
        )

    def handle(self, *args, older_than=None, **options):
        ids = generations_requeue_stale(
            older_than=timedelta(seconds=older_than) if older_than else None
        )
        self.stdout.write(f"requeued {len(ids)} generation(s)")
