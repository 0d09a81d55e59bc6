"""Your data pages (mounted in the ``accounts`` namespace, see crewbuilder/urls.py)."""

from __future__ import annotations

from django.urls import path

from crewbuilder.privacy import views

urlpatterns = [
    path("settings/account/", views.account, name="account"),
    path("settings/account/export/", views.account_export, name="account_export"),
    path("settings/account/delete/", views.account_delete, name="account_delete"),
    path(
        "settings/organization/delete/",
        views.organization_delete,
        name="organization_delete",
    ),
]
