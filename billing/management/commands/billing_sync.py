from __future__ import annotations

from django.core.management.base import BaseCommand

from billing import checkout, services
from billing import stripe_gateway as gateway


class Command(BaseCommand):
    help = "Seed the plans and find/create the Stripe Products and Prices by lookup key."

    def handle(self, *args, **options) -> None:
        services.plans_seed()
        if not gateway.is_configured():
            self.stdout.write("Plans seeded. Stripe is not configured (STRIPE_SECRET_KEY unset).")
            return
        for line in checkout.stripe_prices_sync():
            self.stdout.write(line)
