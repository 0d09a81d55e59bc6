"""Row snapshots shared by the fixture maker (run by the *previous* release's code) and the
upgrade test (run by HEAD): the same serialisation on both sides, so "unchanged" means the
same values, column by column, after the database was migrated.

Only the standard library and the ORM's public API are used, so the module works with
whichever CrewBuilder version imports it. Binary columns (ciphertexts, zips, wrapped keys)
are compared by SHA-256 and length.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import uuid
from typing import Any

# Every table whose rows an upgrade must keep as they were. The LLM model catalogue is
# left out on purpose: data migrations refresh it (retired models, new prices).
SNAPSHOT_MODELS = (
    "accounts.User",
    "account.EmailAddress",
    "accounts.Organization",
    "accounts.Membership",
    "accounts.Invitation",
    "accounts.AuditEvent",
    "accounts.ApiToken",
    "accounts.OrganizationBranding",
    "keys.OrganizationDataKey",
    "keys.ProviderKey",
    "billing.Plan",
    "billing.BillingAccount",
    "billing.UsageCounter",
    "billing.DailyUsage",
    "billing.CreditPurchase",
    "billing.CreditEntry",
    "billing.GenerationCharge",
    "billing.StripeEvent",
    "billing.GuestPass",
    "generation.CrewTemplate",
    "generation.Generation",
)


def serialise(value: Any) -> Any:
    """A JSON-safe, comparable form of one column value."""
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        return {"sha256": hashlib.sha256(value).hexdigest(), "bytes": len(value)}
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return value


def snapshot_model(model) -> dict[str, dict[str, Any]]:
    """Every row of ``model`` as ``{pk: {column attname: serialised value}}``."""
    rows = model._default_manager.order_by("pk").values()
    return {
        str(serialise(row["id"])): {name: serialise(value) for name, value in row.items()}
        for row in rows
    }


def snapshot(apps, labels=SNAPSHOT_MODELS) -> dict[str, dict[str, dict[str, Any]]]:
    return {label: snapshot_model(apps.get_model(label)) for label in labels}


def compare(expected: dict, actual: dict) -> list[str]:
    """Differences between two snapshots, as readable lines. Columns and rows that exist
    only in ``actual`` (added by a newer release) are not differences; a missing row or
    column, or a changed value, is."""
    problems: list[str] = []
    for label, rows in expected.items():
        now = actual.get(label)
        if now is None:
            problems.append(f"{label}: table missing")
            continue
        for pk, columns in rows.items():
            row = now.get(pk)
            if row is None:
                problems.append(f"{label} #{pk}: row missing")
                continue
            for column, value in columns.items():
                if column not in row:
                    problems.append(f"{label} #{pk}.{column}: column missing")
                elif row[column] != value:
                    problems.append(f"{label} #{pk}.{column}: was {value!r}, now {row[column]!r}")
    return problems
