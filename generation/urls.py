from __future__ import annotations

from django.urls import path

from generation import views

app_name = "generation"
urlpatterns = [
    path("generate/", views.generate, name="generate"),
]
