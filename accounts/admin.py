from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from accounts.models import (
    AuditEvent,
    Invitation,
    Membership,
    Organization,
    OrganizationBranding,
    User,
)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "is_personal", "member_count", "created_at"]
    list_filter = ["is_personal", "created_at"]
    search_fields = ["name", "uuid", "memberships__user__email"]
    readonly_fields = ["uuid", "created_at"]
    inlines = [MembershipInline]

    @admin.display(description="Members")
    def member_count(self, obj: Organization) -> int:
        return obj.memberships.count()


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "organization__name"]
    list_select_related = ["user", "organization"]
    autocomplete_fields = ["user", "organization"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "organization", "role", "status", "created_at", "expires_at"]
    list_filter = ["status", "role"]
    search_fields = ["email", "organization__name"]
    list_select_related = ["organization"]
    exclude = ["token_hash"]
    readonly_fields = [
        "organization",
        "email",
        "invited_by",
        "accepted_by",
        "created_at",
        "responded_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # invitations are sent from the team page so the email goes out


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "organization",
        "actor_label",
        "action",
        "target_type",
        "target_label",
    ]
    list_filter = ["action", "target_type", "created_at"]
    search_fields = ["actor_label", "action", "target_label", "organization__name"]
    list_select_related = ["organization"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class OrganizationBrandingForm(forms.ModelForm):
    """Operators may set or clear the *claimed* domain; serving it still needs the
    organisation's DNS TXT proof (accounts/domains.py). Clearing the claim of a served
    domain, or blanking ``custom_domain`` through "stop serving", is what an operator
    can do to the served one."""

    stop_serving = forms.BooleanField(
        required=False, help_text="Stop serving the verified custom domain now."
    )

    class Meta:
        model = OrganizationBranding
        fields = ["brand_name", "primary_color", "accent_color", "domain_claim"]

    def clean_domain_claim(self):
        from accounts.branding import validate_custom_domain

        try:
            return validate_custom_domain(self.cleaned_data.get("domain_claim") or "")
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["custom_domain"]) from None

    def save(self, commit=True):
        if self.cleaned_data.get("stop_serving"):
            self.instance.custom_domain = None
            self.instance.domain_verified_at = self.instance.domain_checked_at = None
        return super().save(commit=commit)


@admin.register(OrganizationBranding)
class OrganizationBrandingAdmin(admin.ModelAdmin):
    form = OrganizationBrandingForm
    list_display = [
        "organization",
        "brand_name",
        "custom_domain",
        "domain_verified_at",
        "domain_claim",
        "updated_at",
    ]
    search_fields = ["organization__name", "brand_name", "custom_domain", "domain_claim"]
    list_select_related = ["organization"]
    readonly_fields = [
        "organization",
        "logo_sha256",
        "logo",
        "custom_domain",
        "domain_verified_at",
        "domain_checked_at",
        "updated_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # set from /settings/branding/, where the logo is validated

    def save_model(self, request, obj, form, change):
        from accounts.branding import forget_custom_domains

        super().save_model(request, obj, form, change)
        forget_custom_domains()


def _admin_login(request: HttpRequest, extra_context=None) -> HttpResponse:
    """The admin has no password form of its own: every sign-in goes through allauth, so the
    same login throttling (per client IP and per email) protects operators' accounts.
    Only active staff get in; what a non-superuser sees is limited by model permissions."""
    if request.user.is_authenticated:
        if request.user.is_active and request.user.is_staff:
            return redirect("admin:index")
        return render(
            request,
            "403.html",
            {"message": "The operator console is for CrewBuilder staff only."},
            status=403,
        )
    return redirect_to_login(
        request.GET.get("next") or reverse("admin:index"), login_url=reverse("account_login")
    )


# The admin login goes through allauth's form (and its throttle).
admin.site.login = _admin_login  # type: ignore[method-assign]
admin.site.site_header = "CrewBuilder operations"
admin.site.site_title = "CrewBuilder operations"
