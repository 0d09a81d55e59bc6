from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.http import UserRequest
from billing import selectors, services
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


class AdjustmentForm(forms.Form):
    """N generations given back, or N credits granted, and why (kept in the audit log)."""

    quantity = forms.IntegerField(min_value=1, max_value=10_000, initial=1)
    reason = forms.CharField(
        max_length=200,
        widget=forms.TextInput(attrs={"size": 60}),
        help_text="Recorded in the organisation's audit log, e.g. “charged twice on 3 May”.",
    )


# An operator's change to one account: (account, quantity, reason) → what was done.
Adjustment = Callable[[BillingAccount, int, str], str]


def _count(quantity: int, noun: str) -> str:
    return f"{quantity} {noun}{'s' if quantity != 1 else ''}"


@admin.register(BillingAccount)
class BillingAccountAdmin(admin.ModelAdmin):
    """Operators assign plans, overrides (custom Enterprise limits, comped generations,
    daily cap), give back generations and grant credits here, and see the anomaly flag.
    Every organisation has its account from birth, so there is nothing to add; every page
    is a plain form (no JavaScript needed)."""

    list_display = [
        "organization",
        "plan",
        "plan_source",
        "subscription_status",
        "credit_balance",
        "daily_cap",
        "anomaly_flagged_at",
    ]
    list_select_related = ["organization", "plan"]
    list_filter = ["plan", "plan_source", "subscription_status", AnomalyFilter]
    search_fields = ["organization__name", "=organization__uuid", "=stripe_customer_id"]
    readonly_fields = [
        "organization",
        "usage_this_period",
        "credit_balance",
        "operator_tools",
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
        (
            None,
            {
                "fields": [
                    "organization",
                    "plan",
                    "plan_source",
                    "usage_this_period",
                    "credit_balance",
                    "operator_tools",
                ]
            },
        ),
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
    actions = ["grant_credits", "clear_anomaly_flag", "scan_anomalies_today"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # opened with the organisation (billing/receivers.py)

    def save_model(self, request, obj: BillingAccount, form, change) -> None:
        plan_changed = not change or "plan" in form.changed_data
        super().save_model(request, obj, form, change)
        if plan_changed and obj.plan_source != BillingAccount.PlanSource.STRIPE:
            # Through the service so the assignment is audited and the source is right.
            services.billing_plan_assign(
                organization=obj.organization, plan=obj.plan, actor=request.user
            )

    # --- read-only panels on the change page ----------------------------------------------

    @admin.display(description="Usage this period")
    def usage_this_period(self, obj: BillingAccount) -> str:
        usage = selectors.usage_for(obj.organization)
        limit = "unlimited" if usage["limit"] is None else usage["limit"]
        return (
            f"{usage['used']} of {limit} CrewBuilder AI generations "
            f"({usage['period_start']:%Y-%m-%d} – {usage['period_end']:%Y-%m-%d})"
        )

    @admin.display(description="Adjust")
    def operator_tools(self, obj: BillingAccount) -> str:
        if obj.pk is None:
            return "—"
        return format_html(
            '<a class="button" href="{}">Give back generations</a> '
            '<a class="button" href="{}">Grant credits</a>',
            reverse("admin:billing_billingaccount_give_back", args=[obj.pk]),
            reverse("admin:billing_billingaccount_grant_credits", args=[obj.pk]),
        )

    # --- give back generations / grant credits (one account, N at once) --------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/give-back/",
                view(self.give_back_view),
                name="billing_billingaccount_give_back",
            ),
            path(
                "<int:pk>/grant-credits/",
                view(self.grant_credits_view),
                name="billing_billingaccount_grant_credits",
            ),
            *super().get_urls(),
        ]

    def _account_for_change(self, request: HttpRequest, pk: int) -> BillingAccount:
        account = get_object_or_404(BillingAccount.objects.select_related("organization"), pk=pk)
        if not self.has_change_permission(request, account):
            raise PermissionDenied
        return account

    def _adjust_page(self, request, account, form, *, title: str, submit: str, status=200):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": account,
            "title": title,
            "form": form,
            "submit_label": submit,
            "usage": self.usage_this_period(account),
            "credit_balance": account.credit_balance,
        }
        return TemplateResponse(
            request, "admin/billing/billingaccount/adjust.html", context, status=status
        )

    def _back_to(self, account: BillingAccount) -> HttpResponseRedirect:
        return HttpResponseRedirect(
            reverse("admin:billing_billingaccount_change", args=[account.pk])
        )

    def _adjust_view(
        self, request: HttpRequest, pk: int, *, action: str, submit: str, apply: Adjustment
    ) -> HttpResponse:
        """One account's adjustment page: on a valid POST ``apply`` makes the change and
        says what it did, and the browser goes back to the account; a ``BillingError`` is
        shown on the quantity (400)."""
        account = self._account_for_change(request, pk)
        form = AdjustmentForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                done = apply(account, form.cleaned_data["quantity"], form.cleaned_data["reason"])
            except services.BillingError as exc:
                form.add_error("quantity", exc.message)
            else:
                messages.success(request, done)
                return self._back_to(account)
        status = 400 if request.method == "POST" else 200
        title = f"{action} to {account.organization}"
        return self._adjust_page(request, account, form, title=title, submit=submit, status=status)

    def give_back_view(self, request: UserRequest, pk: int) -> HttpResponse:
        def give_back(account: BillingAccount, quantity: int, reason: str) -> str:
            used = services.usage_give_back(
                organization=account.organization,
                quantity=quantity,
                reason=reason,
                actor=request.user,
            )
            return (
                f"Gave back {_count(quantity, 'generation')} to {account.organization}; "
                f"{used} used this period."
            )

        return self._adjust_view(
            request, pk, action="Give back generations", submit="Give back", apply=give_back
        )

    def grant_credits_view(self, request: UserRequest, pk: int) -> HttpResponse:
        def grant(account: BillingAccount, quantity: int, reason: str) -> str:
            entry = services.credits_grant(
                organization=account.organization,
                actor=request.user,
                quantity=quantity,
                note=reason,
            )
            return (
                f"Granted {_count(quantity, 'credit')} to {account.organization}; "
                f"balance {entry.balance_after}."
            )

        return self._adjust_view(
            request,
            pk,
            action="Grant generation credits",
            submit="Grant credits",
            apply=grant,
        )

    # --- list actions ----------------------------------------------------------------------

    @admin.action(description="Grant generation credits…", permissions=["change"])
    def grant_credits(self, request: UserRequest, queryset: QuerySet) -> HttpResponse | None:
        """Several organisations at once: asks for N and the reason, then grants N to each."""
        form = AdjustmentForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            quantity = form.cleaned_data["quantity"]
            accounts = list(queryset.select_related("organization"))
            for account in accounts:
                services.credits_grant(
                    organization=account.organization,
                    actor=request.user,
                    quantity=quantity,
                    note=form.cleaned_data["reason"],
                )
            messages.success(
                request,
                f"Granted {_count(quantity, 'credit')} to each of {len(accounts)} organisation(s).",
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Grant generation credits",
            "form": form,
            "submit_label": "Grant credits",
            "accounts": queryset.select_related("organization"),
            "action": "grant_credits",
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/billing/billingaccount/grant_many.html", context)

    @admin.action(description="Clear the anomaly flag", permissions=["change"])
    def clear_anomaly_flag(self, request: HttpRequest, queryset: QuerySet) -> None:
        queryset.update(anomaly_flagged_at=None, anomaly_note="", updated_at=timezone.now())

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
