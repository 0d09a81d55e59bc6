"""``/api/v1/``: every route of the public API (mounted by ``crewbuilder/urls.py``)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from crewbuilder.api import generations, keys, usage
from crewbuilder.webhooks import api as webhooks_api

app_name = "api"
urlpatterns = [
    path("generations/", generations.GenerationListCreateView.as_view(), name="generations"),
    path(
        "generations/<uuid:pk>/",
        generations.GenerationDetailView.as_view(),
        name="generation_detail",
    ),
    path(
        "generations/<uuid:pk>/download/",
        generations.GenerationDownloadView.as_view(),
        name="generation_download",
    ),
    path("usage/", usage.UsageView.as_view(), name="usage"),
    path("keys/", keys.KeyListCreateView.as_view(), name="keys"),
    path("keys/<int:pk>/", keys.KeyDetailView.as_view(), name="key_detail"),
    path("keys/<int:pk>/test/", keys.KeyTestView.as_view(), name="key_test"),
    path("webhooks/", webhooks_api.EndpointListCreateView.as_view(), name="webhooks"),
    path("webhooks/<int:pk>/", webhooks_api.EndpointDetailView.as_view(), name="webhook_detail"),
    path(
        "webhooks/<int:pk>/rotate-secret/",
        webhooks_api.EndpointRotateView.as_view(),
        name="webhook_rotate_secret",
    ),
    path(
        "webhooks/<int:pk>/deliveries/",
        webhooks_api.DeliveryListView.as_view(),
        name="webhook_deliveries",
    ),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery_pk>/resend/",
        webhooks_api.DeliveryResendView.as_view(),
        name="webhook_delivery_resend",
    ),
    # Public, unauthenticated: the OpenAPI 3 schema, and Swagger UI served from the sidecar
    # assets with its bootstrap as a script file (the CSP allows no inline script). No
    # ReDoc: its page loads Google Fonts and runs an inline script.
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]

# Routes that are public by design; every other route here requires a token (tested).
PUBLIC_ROUTE_NAMES = {"schema", "docs"}
