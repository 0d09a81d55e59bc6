from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from billing import services
from billing.models import (
    BillingAccount,
    CreditEntry,
    CreditPurchase,
    DailyUsage,
    GenerationCharge,
    Plan,
    StripeEvent,
    StripeOperation,
    StripePrice,
    UsageCounter,
)
from billing.webhooks import stripe_event_receive


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "price_cents",
        "generations_per_period",
        "max_members",
        "advanced_models",
        "api_access",
        "custom_templates",
        "white_label",
        "is_public",
        "sort_order",
    ]
    list_editable = ["sort_order", "is_public"]


class AnomalyFilter(admin.SimpleListFilter):
    title = "usage anomaly"
    parameter_name = "anomaly"

    def lookups(self, request, model_admin):
        return [("yes", "Flagged"), ("no", "Not flagged")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(anomaly_flagged_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(anomaly_flagged_at__isnull=True)
        return queryset


@admin.register(BillingAccount)
class BillingAccountAdmin(admin.ModelAdmin):
    """Operators assign plans, overrides (custom Enterprise limits, comped generations,
    daily cap) and see the anomaly flag here."""

    list_display = [
        "organization",
        "plan",
        "plan_source",
        "subscription_status",
        "credit_balance",
        "daily_cap",
        "anomaly_flagged_at",
    ]
    list_filter = ["plan", "plan_source", "subscription_status", AnomalyFilter]
    search_fields = ["organization__name", "organization__uuid", "stripe_customer_id"]
    autocomplete_fields = ["organization"]
    readonly_fields = [
        "credit_balance",
        "stripe_customer_id",
        "stripe_subscription_id",
        "subscription_status",
        "current_period_start",
        "current_period_end",
        "cancel_at_period_end",
        "subscription_synced_at",
        "anomaly_note",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["organization", "plan", "plan_source", "credit_balance"]}),
        (
            "Overrides",
            {
                "fields": [
                    "generations_override",
                    "comped_generations",
                    "max_members_override",
                    "daily_cap",
                ]
            },
        ),
        ("Cost control", {"fields": ["anomaly_flagged_at", "anomaly_note"]}),
        (
            "Stripe",
            {
                "fields": [
                    "stripe_customer_id",
                    "stripe_subscription_id",
                    "subscription_status",
                    "current_period_start",
                    "current_period_end",
                    "cancel_at_period_end",
                    "subscription_synced_at",
                ]
            },
        ),
    ]
    actions = ["grant_one_credit", "clear_anomaly_flag", "scan_anomalies_today"]

    def save_model(self, request, obj: BillingAccount, form, change) -> None:
        plan_changed = not change or "plan" in form.changed_data
        super().save_model(request, obj, form, change)
        if plan_changed and obj.plan_source != BillingAccount.PlanSource.STRIPE:
            # Through the service so the assignment is audited and the source is right.
            services.billing_plan_assign(
                organization=obj.organization, plan=obj.plan, actor=request.user
            )

    @admin.action(description="Grant one generation credit", permissions=["change"])
    def grant_one_credit(self, request: HttpRequest, queryset: QuerySet) -> None:
        for account in queryset.select_related("organization"):
            services.credits_grant(
                organization=account.organization, actor=request.user, quantity=1, note="admin"
            )
        messages.success(request, f"Granted a credit to {queryset.count()} organisation(s).")

    @admin.action(description="Clear the anomaly flag", permissions=["change"])
    def clear_anomaly_flag(self, request: HttpRequest, queryset: QuerySet) -> None:
        queryset.update(anomaly_flagged_at=None, anomaly_note="")

    @admin.action(description="Scan today's usage for anomalies", permissions=["change"])
    def scan_anomalies_today(self, request: HttpRequest, queryset: QuerySet) -> None:
        flagged = services.usage_anomaly_scan()
        messages.info(request, f"{len(flagged)} organisation(s) flagged.")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "type", "status", "attempts", "stripe_created", "processed_at"]
    list_filter = ["status", "type"]
    search_fields = ["event_id"]
    actions = ["reprocess"]

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        # The rows stay read-only; replaying needs the explicit change permission.
        return request.user.has_perm("billing.change_stripeevent")

    @admin.action(description="Reprocess failed events", permissions=["reprocess"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for event in queryset.filter(status=StripeEvent.Status.FAILED):
            try:
                stripe_event_receive(event=event.payload)
                done += 1
            except Exception:  # noqa: S112 - recorded on the event row by the service
                continue
        messages.info(request, f"{done} event(s) reprocessed.")


@admin.register(StripeOperation)
class StripeOperationAdmin(ReadOnlyAdmin):
    list_display = ["kind", "scope", "status", "attempts", "stripe_id", "created_at"]
    list_filter = ["kind", "status"]
    search_fields = ["scope", "stripe_id", "idempotency_key"]


@admin.register(CreditEntry)
class CreditEntryAdmin(ReadOnlyAdmin):
    list_display = ["organization", "kind", "delta", "balance_after", "generation_id", "created_at"]
    list_filter = ["kind"]
    search_fields = ["organization__name", "generation_id"]


@admin.register(CreditPurchase)
class CreditPurchaseAdmin(ReadOnlyAdmin):
    list_display = [
        "organization",
        "quantity",
        "amount_cents",
        "currency",
        "credits_refunded",
        "created_at",
    ]
    search_fields = ["organization__name", "checkout_session_id", "payment_intent_id"]


@admin.register(UsageCounter)
class UsageCounterAdmin(ReadOnlyAdmin):
    list_display = ["organization", "period_start", "period_end", "used"]
    search_fields = ["organization__name"]


@admin.register(DailyUsage)
class DailyUsageAdmin(ReadOnlyAdmin):
    list_display = ["organization", "day", "count"]
    date_hierarchy = "day"
    search_fields = ["organization__name"]


@admin.register(GenerationCharge)
class GenerationChargeAdmin(ReadOnlyAdmin):
    list_display = ["generation_id", "organization", "charged_as", "status", "created_at"]
    list_filter = ["charged_as", "status"]
    search_fields = ["generation_id", "organization__name"]


@admin.register(StripePrice)
class StripePriceAdmin(ReadOnlyAdmin):
    list_display = ["lookup_key", "price_id", "unit_amount", "currency", "recurring", "synced_at"]
