from __future__ import annotations

from django.contrib import admin

from generation.models import CrewTemplate, Generation, LlmModel


@admin.register(LlmModel)
class LlmModelAdmin(admin.ModelAdmin):
    """The model catalogue: operators keep prices (US cents per million tokens) current."""

    list_display = (
        "name",
        "provider",
        "label",
        "model_class",
        "input_cents_per_million",
        "output_cents_per_million",
        "is_default",
        "active",
    )
    list_editable = (
        "model_class",
        "input_cents_per_million",
        "output_cents_per_million",
        "active",
    )
    list_filter = ("provider", "model_class", "active")
    search_fields = ("name", "label")


@admin.register(CrewTemplate)
class CrewTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "organization", "active", "created_at")
    list_filter = ("active",)
    search_fields = ("name", "slug", "organization__name")
    raw_id_fields = ("organization", "created_by")


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    """Read-only support view. The zip and the one-time key reference are not shown."""

    list_display = (
        "id",
        "organization",
        "user",
        "status",
        "stage",
        "provider",
        "model",
        "charged_as",
        "cost_cents",
        "created_at",
    )
    list_filter = ("status", "stage", "provider", "charged_as")
    search_fields = ("id", "organization__name", "user__email")
    fields = (
        "id",
        "organization",
        "user",
        "template",
        "status",
        "stage",
        "progress",
        "requirement",
        "provider",
        "model",
        "key_source",
        "resolved_key_source",
        "charged_as",
        "created_at",
        "started_at",
        "finished_at",
        "input_tokens",
        "output_tokens",
        "cost_cents",
        "error_code",
        "error_message",
        "questions",
        "answers",
        "checks",
        "files",
        "runs",
        "retries",
        "idempotency_key",
    )
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
