from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from accounts import urls as accounts_urls
from billing import urls as billing_urls
from crewbuilder import metrics_views, views
from crewbuilder.api import token_views
from crewbuilder.privacy import urls as privacy_urls
from crewbuilder.reporting import urls as reporting_urls
from generation import guest_urls

urlpatterns = [
    path("", views.landing, name="landing"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics_views.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    # Pages that moved up a floor keep the URL names they were born with (``accounts:``,
    # ``billing:``): templates, emails and reverse() calls use them.
    path(
        "",
        include(
            (
                accounts_urls.urlpatterns + reporting_urls.urlpatterns + privacy_urls.urlpatterns,
                "accounts",
            )
        ),
    ),
    path("", include("keys.urls")),
    path("", include((billing_urls.urlpatterns + guest_urls.urlpatterns, "billing"))),
    path("", include("generation.urls")),
    path("", include("crewbuilder.webhooks.urls")),
    path("settings/api-tokens/", token_views.api_tokens, name="api_tokens"),
    path(
        "settings/api-tokens/<int:pk>/revoke/",
        token_views.api_token_revoke,
        name="api_token_revoke",
    ),
    path("api/v1/", include("crewbuilder.api.urls")),
]

# a dependency that is down (database, Redis) is a 503 page, not a 500 (crewbuilder.errors)
handler500 = "crewbuilder.error_pages.server_error"

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
