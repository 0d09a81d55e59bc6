"""Stripe-facing writes: the organisation as Stripe customer, Checkout (subscription and
payment mode), the Customer Portal and the Products/Prices catalogue (``billing_sync``).

Every call to Stripe goes through ``billing.stripe_gateway`` with a stored idempotency key.
Nothing here holds a database transaction open across a Stripe call."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.utils import timezone

from accounts.models import Organization, User
from accounts.permissions import Cap, can
from accounts.services import audit_record, role_of
from billing import selectors
from billing import stripe_gateway as gateway
from billing.models import BillingAccount, Plan, StripePrice
from billing.plans import CREDIT_LOOKUP_KEY
from billing.services import BillingError, BillingNotConfigured, billing_account_for, plans_seed

# --- Checkout and the Customer Portal -----------------------------------------------------


def require_billing_manager(*, actor: User, organization: Organization) -> None:
    if not can(role_of(user=actor, organization=organization), Cap.MANAGE_BILLING):
        raise PermissionDenied("Only an owner or a billing manager can change billing.")


def require_configured() -> None:
    if not gateway.is_configured():
        raise BillingNotConfigured(
            "Online billing is not configured on this installation. An operator can assign "
            "your plan in the admin."
        )


def billing_customer_ensure(*, organization: Organization, actor: User) -> BillingAccount:
    """The organisation is the Stripe customer; create it once (idempotency-keyed)."""
    account = billing_account_for(organization)
    if account.stripe_customer_id:
        return account
    customer = gateway.customer_create(organization=organization, email=actor.email)
    BillingAccount.objects.filter(pk=account.pk, stripe_customer_id__isnull=True).update(
        stripe_customer_id=customer["id"], updated_at=timezone.now()
    )
    account.refresh_from_db()
    return account


def price_id_for(lookup_key: str) -> str:
    price = StripePrice.objects.filter(lookup_key=lookup_key).first()
    if price is None:
        raise BillingNotConfigured(
            "Stripe prices are not synced yet. An operator must run `manage.py billing_sync`."
        )
    return price.price_id


def _has_live_subscription(account: BillingAccount) -> bool:
    return (
        account.plan_source == BillingAccount.PlanSource.STRIPE
        and bool(account.stripe_subscription_id)
        and account.subscription_status in selectors.LIVE_SUBSCRIPTION_STATUSES
    )


def checkout_subscription_start(
    *, organization: Organization, actor: User, plan_slug: str, success_url: str, cancel_url: str
) -> str:
    """Stripe Checkout (subscription mode) for a plan; returns the URL to redirect to.
    An organisation that already subscribes changes plan in the Customer Portal."""
    require_billing_manager(actor=actor, organization=organization)
    require_configured()
    plan = Plan.objects.filter(slug=plan_slug).exclude(stripe_lookup_key="").first()
    if plan is None:
        raise BillingError("That plan cannot be bought online.")
    account = billing_account_for(organization)
    if _has_live_subscription(account):
        raise BillingError("You already have a subscription; change plans in the billing portal.")
    price_id = price_id_for(plan.stripe_lookup_key)
    account = billing_customer_ensure(organization=organization, actor=actor)
    session = gateway.checkout_session_create(
        organization=organization,
        customer_id=account.stripe_customer_id,
        mode="subscription",
        price_id=price_id,
        quantity=1,
        success_url=success_url,
        cancel_url=cancel_url,
        metadata={"organization_uuid": str(organization.uuid), "plan": plan.slug},
    )
    audit_record(
        organization=organization,
        actor=actor,
        action="billing.checkout_started",
        metadata={"mode": "subscription", "plan": plan.slug},
    )
    return session["url"]


def checkout_credits_start(
    *, organization: Organization, actor: User, quantity: int, success_url: str, cancel_url: str
) -> str:
    """Stripe Checkout (payment mode) for generation credits ($5 each)."""
    require_billing_manager(actor=actor, organization=organization)
    require_configured()
    if not 1 <= quantity <= 100:
        raise BillingError("Buy between 1 and 100 credits.")
    price_id = price_id_for(CREDIT_LOOKUP_KEY)
    account = billing_customer_ensure(organization=organization, actor=actor)
    session = gateway.checkout_session_create(
        organization=organization,
        customer_id=account.stripe_customer_id,
        mode="payment",
        price_id=price_id,
        quantity=quantity,
        success_url=success_url,
        cancel_url=cancel_url,
        metadata={"organization_uuid": str(organization.uuid), "credits": str(quantity)},
    )
    audit_record(
        organization=organization,
        actor=actor,
        action="billing.checkout_started",
        metadata={"mode": "payment", "credits": quantity},
    )
    return session["url"]


def billing_portal_url(*, organization: Organization, actor: User, return_url: str) -> str:
    """Customer Portal (card, invoices, cancel, plan change)."""
    require_billing_manager(actor=actor, organization=organization)
    require_configured()
    account = billing_customer_ensure(organization=organization, actor=actor)
    session = gateway.portal_session_create(
        organization=organization, customer_id=account.stripe_customer_id, return_url=return_url
    )
    return session["url"]


# --- Stripe catalogue ---------------------------------------------------------------------


def stripe_prices_sync() -> list[str]:
    """Find or create the Products/Prices by lookup key (``billing_sync``); a changed amount
    creates a new Price that takes over the lookup key. Returns a line per price."""
    from billing.plans import CREDIT_PRICE_CENTS, CREDIT_PRODUCT_NAME

    plans_seed()
    require_configured()
    wanted = [
        (plan.stripe_lookup_key, f"CrewBuilder {plan.name}", plan.price_cents, plan.currency, True)
        for plan in Plan.objects.exclude(stripe_lookup_key="").exclude(price_cents=None)
    ]
    wanted.append((CREDIT_LOOKUP_KEY, CREDIT_PRODUCT_NAME, CREDIT_PRICE_CENTS, "usd", False))
    existing = gateway.prices_by_lookup_keys([w[0] for w in wanted])
    report = []
    for lookup_key, name, amount, currency, recurring in wanted:
        price = existing.get(lookup_key)
        same = (
            price is not None
            and price.get("unit_amount") == amount
            and price.get("currency") == currency
            and bool(price.get("recurring")) == recurring
        )
        if same:
            action = "found"
        else:
            product = price.get("product") if price else None
            product_id = product.get("id") if isinstance(product, dict) else product
            if not product_id:
                product_id = gateway.product_create(name=name, key=lookup_key)["id"]
            price = gateway.price_create(
                product_id=product_id,
                lookup_key=lookup_key,
                unit_amount=amount,
                currency=currency,
                recurring=recurring,
            )
            action = "created"
        product = price.get("product")
        StripePrice.objects.update_or_create(
            lookup_key=lookup_key,
            defaults={
                "price_id": price["id"],
                "product_id": (product.get("id") if isinstance(product, dict) else product) or "",
                "unit_amount": amount,
                "currency": currency,
                "recurring": recurring,
                "synced_at": timezone.now(),
            },
        )
        report.append(f"{action} {lookup_key} → {price['id']}")
    return report
