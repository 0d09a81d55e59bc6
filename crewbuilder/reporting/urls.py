"""``/settings/analytics/`` (mounted in the ``accounts`` namespace, see crewbuilder/urls.py)."""

from __future__ import annotations

from django.urls import path

from crewbuilder.reporting import views

urlpatterns = [
    path("settings/analytics/", views.usage, name="analytics"),
    path("settings/analytics/export.csv", views.usage_export, name="analytics_export"),
]
