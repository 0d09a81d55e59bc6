from __future__ import annotations

from django.urls import path

from crewbuilder.webhooks import views

app_name = "webhooks"
urlpatterns = [
    path("settings/webhooks/", views.endpoints, name="list"),
    path("settings/webhooks/<int:pk>/", views.endpoint_detail, name="detail"),
    path("settings/webhooks/<int:pk>/rotate/", views.endpoint_rotate, name="rotate"),
    path("settings/webhooks/<int:pk>/toggle/", views.endpoint_toggle, name="toggle"),
    path("settings/webhooks/<int:pk>/delete/", views.endpoint_delete, name="delete"),
    path(
        "settings/webhooks/<int:pk>/deliveries/<int:delivery_pk>/resend/",
        views.delivery_resend,
        name="resend",
    ),
]
