from __future__ import annotations

from django.urls import path

from keys import views

app_name = "keys"
urlpatterns = [
    path("settings/api-keys/", views.api_keys, name="api_keys"),
    path("settings/api-keys/<int:pk>/remove/", views.key_remove, name="key_remove"),
    path("settings/api-keys/<int:pk>/test/", views.key_test, name="key_test"),
]
