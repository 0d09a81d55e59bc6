from __future__ import annotations

from django.urls import path

from billing import views

app_name = "billing"
urlpatterns = [
    path("pricing/", views.pricing, name="pricing"),
    path("settings/billing/", views.billing_settings, name="settings"),
    path("settings/billing/checkout/", views.checkout_subscription, name="checkout"),
    path("settings/billing/credits/", views.checkout_credits, name="credits"),
    path("settings/billing/portal/", views.portal, name="portal"),
    path("billing/webhook/", views.webhook, name="webhook"),
]
