from __future__ import annotations

from django.urls import path

from accounts import audit_views, branding_views, views

app_name = "accounts"
urlpatterns = [
    path("settings/team/", views.team, name="team"),
    path("settings/team/members/<int:pk>/role/", views.member_role, name="member_role"),
    path("settings/team/members/<int:pk>/remove/", views.member_remove, name="member_remove"),
    path("settings/team/leave/", views.leave, name="leave"),
    path(
        "settings/team/invitations/<int:pk>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("organizations/switch/", views.organization_switch, name="organization_switch"),
    path("organizations/new/", views.organization_new, name="organization_new"),
    path("settings/audit/", audit_views.audit_log, name="audit"),
    path("settings/audit/export.csv", audit_views.audit_export, name="audit_export"),
    path("settings/branding/", branding_views.branding, name="branding"),
    path("branding/<uuid:org_uuid>/logo.png", branding_views.branding_logo, name="branding_logo"),
]
