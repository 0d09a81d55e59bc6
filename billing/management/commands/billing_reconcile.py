from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from billing.webhooks import stripe_events_reconcile


class Command(BaseCommand):
    help = "Replay recent Stripe events safely (each event id takes effect once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--hours", type=int, default=72, help="How far back to look.")

    def handle(self, *args, hours: int, **options) -> None:
        counts = stripe_events_reconcile(since=timezone.now() - timedelta(hours=hours))
        self.stdout.write(" ".join(f"{k}={v}" for k, v in counts.items()))
