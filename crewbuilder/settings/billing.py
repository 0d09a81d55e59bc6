"""Stripe (switched on when ``STRIPE_SECRET_KEY`` is set), cost control and the "Try it"
pass."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from crewbuilder.settings.env import DEBUG, TESTING, env

STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="") or None
BILLING_ENABLED = bool(STRIPE_SECRET_KEY)
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)
if BILLING_ENABLED and not STRIPE_WEBHOOK_SECRET and not (DEBUG or TESTING):
    raise ImproperlyConfigured("STRIPE_WEBHOOK_SECRET is required when Stripe is configured.")
if STRIPE_WEBHOOK_SECRET and not BILLING_ENABLED and not (DEBUG or TESTING):
    # Webhook events are applied only after their object is re-fetched from Stripe.
    raise ImproperlyConfigured("STRIPE_SECRET_KEY is required when STRIPE_WEBHOOK_SECRET is set.")

# Cost control: platform generations per organisation per day, and the anomaly flag raised
# when a day exceeds BILLING_ANOMALY_FACTOR x the trailing 7-day average.
BILLING_DAILY_CAP = env.int("BILLING_DAILY_CAP", default=200)
BILLING_ANOMALY_FACTOR = env.int("BILLING_ANOMALY_FACTOR", default=5)
BILLING_ANOMALY_MIN_COUNT = env.int("BILLING_ANOMALY_MIN_COUNT", default=10)
# "Try it" without registration: starts per IP per hour (one-time key or $5 Checkout).
BILLING_GUEST_PER_HOUR = env.int("BILLING_GUEST_PER_HOUR", default=5)
BILLING_GUEST_KEEP_DAYS = env.int("BILLING_GUEST_KEEP_DAYS", default=30)
