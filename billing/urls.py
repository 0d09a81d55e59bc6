from __future__ import annotations

from django.urls import path

from billing import guest_views, views

app_name = "billing"
urlpatterns = [
    path("pricing/", views.pricing, name="pricing"),
    path("settings/billing/", views.billing_settings, name="settings"),
    path("settings/billing/checkout/", views.checkout_subscription, name="checkout"),
    path("settings/billing/credits/", views.checkout_credits, name="credits"),
    path("settings/billing/portal/", views.portal, name="portal"),
    path("billing/webhook/", views.webhook, name="webhook"),
    path("try/", guest_views.guest_start, name="guest_start"),
    path("try/<str:token>/", guest_views.guest_result, name="guest_result"),
    path("try/<str:token>/download/", guest_views.guest_download, name="guest_download"),
    path("try/<str:token>/keep/", guest_views.guest_keep, name="guest_keep"),
]
