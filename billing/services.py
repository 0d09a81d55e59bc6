"""Billing writes: charging generations against quota or credits.

STUB INTERFACE (foundation): the billing issue replaces the bodies; the signatures are the
contract the generation engine codes against.

- ``charge_reserve`` is called inside the transaction that creates a generation, before it
  is queued. It returns how the generation is paid for, or raises ``PaymentRequired``
  (HTTP 402) / ``PlanNotAllowed`` (HTTP 403).
- ``charge_commit`` is called once when the generation succeeds.
- ``charge_release`` is called when it fails; it gives back exactly what was reserved and
  is safe to call more than once (idempotent per generation).
"""

from __future__ import annotations

from dataclasses import dataclass


class BillingError(Exception):
    code = "billing_error"
    status = 400


class PaymentRequired(BillingError):
    """No plan quota and no credit left (402)."""

    code = "payment_required"
    status = 402


class PlanNotAllowed(BillingError):
    """The plan does not include this (e.g. an advanced model on Basic) (403)."""

    code = "plan_not_allowed"
    status = 403


@dataclass(frozen=True)
class Charge:
    charged_as: str  # "quota" | "credit" | "own_key" | "none"


OWN_KEY_SOURCES = {"one_time", "user", "organization"}


def charge_reserve(
    *, organization, generation_id, key_source: str, model_class: str = "standard"
) -> Charge:
    """Reserve payment for one generation. ``key_source`` is the resolved key's source:
    ``one_time``/``user``/``organization`` (own key, free), ``platform`` (CrewBuilder AI)
    or ``fallback`` (no LLM used)."""
    if key_source in OWN_KEY_SOURCES:
        return Charge("own_key")
    if key_source == "fallback":
        return Charge("none")
    return Charge("quota")


def charge_commit(*, organization, generation_id, charged_as: str) -> None:
    return None


def charge_release(*, organization, generation_id, charged_as: str) -> None:
    return None
