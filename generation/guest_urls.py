"""``/try/``: generating without registration (``generation/guest_views.py``).

Mounted by ``crewbuilder/urls.py`` in the ``billing`` namespace, where these pages were
first: templates and links reverse ``billing:guest_start`` and friends.
"""

from __future__ import annotations

from django.urls import path

from generation import guest_views

urlpatterns = [
    path("try/", guest_views.guest_start, name="guest_start"),
    path("try/<str:token>/", guest_views.guest_result, name="guest_result"),
    path("try/<str:token>/download/", guest_views.guest_download, name="guest_download"),
    path("try/<str:token>/keep/", guest_views.guest_keep, name="guest_keep"),
]
