"""Operators see that keys exist, their masked form, fingerprint and status; never the
key, the ciphertext or a wrapped data key. Nothing here can reveal or edit a key."""

from __future__ import annotations

from django.contrib import admin

from keys.models import OrganizationDataKey, ProviderKey, TransportKey


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting a key (or shredding a data key) goes through keys.services, which audits it.
        return False


@admin.register(ProviderKey)
class ProviderKeyAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "provider",
        "scope",
        "organization",
        "owner",
        "masked",
        "fingerprint",
        "status",
        "last_used_at",
        "updated_at",
    ]
    list_filter = ["provider", "scope", "status"]
    search_fields = ["organization__name", "owner__email", "fingerprint", "label"]
    list_select_related = ["organization", "owner"]
    fields = [
        "organization",
        "owner",
        "scope",
        "provider",
        "label",
        "masked",
        "fingerprint",
        "key_version",
        "status",
        "status_reason",
        "checked_at",
        "last_used_at",
        "created_by",
        "created_at",
        "updated_at",
    ]
    # every field is read-only (django-stubs types fields as possibly nested, these not)
    readonly_fields = fields  # type: ignore[assignment]


@admin.register(OrganizationDataKey)
class OrganizationDataKeyAdmin(ReadOnlyAdmin):
    list_display = ["organization", "master_key_id", "created_at", "rotated_at"]
    list_filter = ["master_key_id"]
    search_fields = ["organization__name"]
    list_select_related = ["organization"]
    fields = ["organization", "master_key_id", "created_at", "rotated_at"]
    # every field is read-only (django-stubs types fields as possibly nested, these not)
    readonly_fields = fields  # type: ignore[assignment]


@admin.register(TransportKey)
class TransportKeyAdmin(ReadOnlyAdmin):
    list_display = ["kid", "master_key_id", "created_at", "rotated_at"]
    fields = ["kid", "master_key_id", "public_jwk", "created_at", "rotated_at"]
    # every field is read-only (django-stubs types fields as possibly nested, these not)
    readonly_fields = fields  # type: ignore[assignment]
